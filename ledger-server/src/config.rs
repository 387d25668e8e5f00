//! Settings for `serve` and `demo`: command-line flags, then `LEDGER_*`
//! environment variables, then a TOML config file (`--config`), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::api::Limits;
use crate::node::NodeConfig;
use crate::sequencer::SequencerConfig;

/// Server settings. Every field can be a flag, a `LEDGER_*` variable or a key of
/// the config file (same name, with `_` for `-`).
#[derive(clap::Args, Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServeOptions {
    /// A TOML file with any of these settings (flags and variables override it).
    #[arg(long, env = "LEDGER_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The data directory (made by `init`).
    #[arg(long, env = "LEDGER_DATA")]
    pub data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LEDGER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Shortest time between two checkpoints, in ms [default: 250].
    #[arg(long, env = "LEDGER_CHECKPOINT_INTERVAL_MS")]
    pub checkpoint_interval_ms: Option<u64>,
    /// Most submissions per sequencer batch (one synced commit) [default: 4096].
    #[arg(long, env = "LEDGER_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Most queued submissions before answering 429 [default: 100000].
    #[arg(long, env = "LEDGER_MAX_QUEUE")]
    pub max_queue: Option<usize>,
    /// Largest statement in bytes [default: 16384].
    #[arg(long, env = "LEDGER_MAX_STATEMENT_BYTES")]
    pub max_statement_bytes: Option<usize>,
    /// Largest private payload in bytes [default: 65536].
    #[arg(long, env = "LEDGER_MAX_PAYLOAD_BYTES")]
    pub max_payload_bytes: Option<usize>,
    /// Most entries per batch request [default: 1000].
    #[arg(long, env = "LEDGER_MAX_BATCH_ENTRIES")]
    pub max_batch_entries: Option<usize>,
    /// Whether to serve private payloads at /v1/payloads [default: true].
    #[arg(long, env = "LEDGER_SERVE_PAYLOADS")]
    pub serve_payloads: Option<bool>,
    /// Time limit for one request, in seconds [default: 30].
    #[arg(long, env = "LEDGER_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The data directory.
    pub data: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The node's settings.
    pub node: NodeConfig,
    /// Time limit for one request.
    pub request_timeout: Duration,
}

impl ServeOptions {
    /// Resolves flags and variables over the config file over the defaults.
    /// `default_data` is used when no data directory is given (demo).
    ///
    /// # Errors
    /// If the config file cannot be read or parsed, or a setting is out of range.
    pub fn resolve(self, default_data: Option<&Path>) -> Result<Settings> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str::<ServeOptions>(&text)
                    .with_context(|| format!("parsing {}", path.display()))?
            }
            None => ServeOptions::default(),
        };
        macro_rules! pick {
            ($f:ident, $d:expr) => {
                self.$f.or(file.$f).unwrap_or($d)
            };
        }
        let data = match self
            .data
            .or(file.data)
            .or(default_data.map(Path::to_path_buf))
        {
            Some(d) => d,
            None => {
                bail!("no data directory: pass --data DIR (or LEDGER_DATA, or data in --config)")
            }
        };
        let limits = Limits {
            max_statement: pick!(max_statement_bytes, 16 * 1024),
            max_payload: pick!(max_payload_bytes, 64 * 1024),
            max_batch_entries: pick!(max_batch_entries, 1000),
            ..Limits::default()
        };
        if limits.max_statement == 0
            || limits.max_statement > ledger_core::statement::MAX_STATEMENT_BYTES
        {
            bail!(
                "max_statement_bytes must be 1 to {}",
                ledger_core::statement::MAX_STATEMENT_BYTES
            );
        }
        if limits.max_batch_entries == 0 || limits.max_batch_entries > 100_000 {
            bail!("max_batch_entries must be 1 to 100000");
        }
        let limits = Limits {
            // Room for base64 (4/3) and JSON around the statement and payload.
            // (spec/api.md §1.2: 256 KiB and 32 MiB, raised with the limits.)
            max_body: ((limits.max_statement + limits.max_payload) * 4 / 3 + 4096).max(256 * 1024),
            max_batch_body: ((limits.max_statement + 4096) * 4 / 3)
                .saturating_mul(limits.max_batch_entries)
                .clamp(32 * 1024 * 1024, 256 * 1024 * 1024),
            ..limits
        };
        let sequencer = SequencerConfig {
            max_batch: pick!(max_batch, 4096).max(1),
            max_queue: pick!(max_queue, 100_000).max(1),
        };
        Ok(Settings {
            data,
            listen: pick!(listen, SocketAddr::from(([127, 0, 0, 1], 8080))),
            request_timeout: Duration::from_secs(pick!(request_timeout_secs, 30).max(1)),
            node: NodeConfig {
                sequencer,
                limits,
                checkpoint_interval: Duration::from_millis(pick!(checkpoint_interval_ms, 250)),
                serve_payloads: pick!(serve_payloads, true),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.toml");
        std::fs::write(
            &path,
            "data = \"/srv/ledger\"\nlisten = \"127.0.0.1:9000\"\nmax_batch = 10\n",
        )
        .unwrap();
        let opts = ServeOptions {
            config: Some(path.clone()),
            max_batch: Some(20),
            ..ServeOptions::default()
        };
        let s = opts.resolve(None).unwrap();
        assert_eq!(s.data, PathBuf::from("/srv/ledger"));
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.node.sequencer.max_batch, 20);
        assert_eq!(s.node.checkpoint_interval, Duration::from_millis(250));
        // The documented default body limits (spec/api.md §1.2).
        assert_eq!(s.node.limits.max_body, 262_144);
        assert_eq!(s.node.limits.max_batch_body, 33_554_432);

        std::fs::write(&path, "no_such_setting = 1\n").unwrap();
        let opts = ServeOptions {
            config: Some(path),
            ..ServeOptions::default()
        };
        assert!(opts.resolve(None).is_err());
        assert!(ServeOptions::default().resolve(None).is_err());
    }
}
