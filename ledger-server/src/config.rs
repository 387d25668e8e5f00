//! Settings for `serve` and `demo`: command-line flags, then `LEDGER_*`
//! environment variables, then a TOML config file (`--config`), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::api::Limits;
use crate::listener::HttpLimits;
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
    /// A witness policy (c2sp.org/tlog-policy; spec/witness-policy.md): the
    /// witnesses to ask, with their URLs, and the quorum a checkpoint needs
    /// before it is published [default: none, checkpoints are not cosigned].
    #[arg(long, env = "LEDGER_WITNESS_POLICY")]
    pub witness_policy: Option<PathBuf>,
    /// How long one request to a witness may take, in ms [default: 3000].
    #[arg(long, env = "LEDGER_WITNESS_TIMEOUT_MS")]
    pub witness_timeout_ms: Option<u64>,
    /// Publish checkpoints even without the witness quorum: for a rollout only,
    /// counted in ledger_unwitnessed_checkpoints [default: false].
    #[arg(long, env = "LEDGER_WITNESS_FAIL_OPEN")]
    pub witness_fail_open: Option<bool>,
    /// Serve the explorer (the web app that verifies the log in the browser,
    /// built into this directory by `npm run build` in ledger-server/explorer)
    /// at `/` (spec/api.md §7) [default: none].
    #[arg(long, env = "LEDGER_EXPLORER_DIR")]
    pub explorer_dir: Option<PathBuf>,
    /// With a witness policy: how often, in seconds, a checkpoint that has not
    /// grown is signed and cosigned again, so that its cosignatures stay fresh
    /// for verifiers with a maximum age (spec/witness.md §4.3) [default: 60].
    #[arg(long, env = "LEDGER_WITNESS_REFRESH_SECS")]
    pub witness_refresh_secs: Option<u64>,
    /// Most submissions per sequencer batch (one synced commit) [default: 4096].
    #[arg(long, env = "LEDGER_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Most queued submissions before answering 429 [default: 100000].
    #[arg(long, env = "LEDGER_MAX_QUEUE")]
    pub max_queue: Option<usize>,
    /// Most queued submissions of one agency before answering it 429
    /// [default: a quarter of max_queue].
    #[arg(long, env = "LEDGER_MAX_QUEUE_PER_AGENCY")]
    pub max_queue_per_agency: Option<usize>,
    /// How far, in seconds, the clock may be behind the last entry's time
    /// before appends are refused (503); 0: never refuse, sequence at the last
    /// entry's time [default: 60].
    #[arg(long, env = "LEDGER_CLOCK_SKEW_LIMIT_SECS")]
    pub clock_skew_limit_secs: Option<u64>,
    /// Largest statement in bytes [default: 16384].
    #[arg(long, env = "LEDGER_MAX_STATEMENT_BYTES")]
    pub max_statement_bytes: Option<usize>,
    /// Largest private payload in bytes [default: 65536].
    #[arg(long, env = "LEDGER_MAX_PAYLOAD_BYTES")]
    pub max_payload_bytes: Option<usize>,
    /// Most entries per batch request [default: 1000].
    #[arg(long, env = "LEDGER_MAX_BATCH_ENTRIES")]
    pub max_batch_entries: Option<usize>,
    /// Time limit for one request, in seconds [default: 30].
    #[arg(long, env = "LEDGER_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Time limit for receiving a request's headers, and for an idle kept-alive
    /// connection, in seconds [default: 10].
    #[arg(long, env = "LEDGER_HEADER_TIMEOUT_SECS")]
    pub header_timeout_secs: Option<u64>,
    /// Time limit for a response write that makes no progress (the client stopped
    /// reading), in seconds [default: 30].
    #[arg(long, env = "LEDGER_WRITE_TIMEOUT_SECS")]
    pub write_timeout_secs: Option<u64>,
    /// Largest request line plus headers, in bytes; more is answered 431
    /// [default: 16384].
    #[arg(long, env = "LEDGER_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Most connections served at once; more wait to be accepted [default: 1024].
    #[arg(long, env = "LEDGER_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    // Publishing to an S3-compatible bucket (spec/checkpoints-and-tiles.md §9;
    // resolved in `crate::publish::settings`).
    /// The S3 endpoint to publish the log to, e.g. `https://s3.eu-central-1.amazonaws.com`
    /// [default: none, the log is not published to a bucket].
    #[arg(long, env = "LEDGER_PUBLISH_ENDPOINT")]
    pub publish_endpoint: Option<String>,
    /// The bucket to publish to.
    #[arg(long, env = "LEDGER_PUBLISH_BUCKET")]
    pub publish_bucket: Option<String>,
    /// The region requests are signed for [default: us-east-1].
    #[arg(long, env = "LEDGER_PUBLISH_REGION")]
    pub publish_region: Option<String>,
    /// A key prefix inside the bucket, e.g. `logs/egov` [default: none].
    #[arg(long, env = "LEDGER_PUBLISH_PREFIX")]
    pub publish_prefix: Option<String>,
    /// Virtual-hosted-style URLs (`https://BUCKET.ENDPOINT/KEY`) instead of
    /// path style (`https://ENDPOINT/BUCKET/KEY`) [default: false].
    #[arg(long, env = "LEDGER_PUBLISH_VIRTUAL_HOST")]
    pub publish_virtual_host: Option<bool>,
    /// The access key id (with publish_secret_access_key; else
    /// publish_credentials, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "LEDGER_PUBLISH_ACCESS_KEY_ID")]
    pub publish_access_key_id: Option<String>,
    /// The secret access key (prefer the variable or a file to the flag).
    #[arg(long, env = "LEDGER_PUBLISH_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub publish_secret_access_key: Option<String>,
    /// A TOML file with `access_key_id` and `secret_access_key`.
    #[arg(long, env = "LEDGER_PUBLISH_CREDENTIALS")]
    pub publish_credentials: Option<PathBuf>,
    /// Entries the bucket may lag behind the log before the publisher reports
    /// an error [default: 1000000].
    #[arg(long, env = "LEDGER_PUBLISH_MAX_BACKLOG")]
    pub publish_max_backlog: Option<u64>,
    /// Most uploads in flight at once [default: 8].
    #[arg(long, env = "LEDGER_PUBLISH_CONCURRENCY")]
    pub publish_concurrency: Option<usize>,
    /// Time limit of one request to the bucket, in ms [default: 10000].
    #[arg(long, env = "LEDGER_PUBLISH_TIMEOUT_MS")]
    pub publish_timeout_ms: Option<u64>,
    /// The store's block cache in MiB, shared by every column family and
    /// holding their index and bloom filter blocks too: with the memtables
    /// (64 MiB), what the store's memory is bounded by, whatever the log's
    /// size (spec/durability.md §6) [default: 128].
    #[arg(long, env = "LEDGER_BLOCK_CACHE_MB")]
    pub block_cache_mb: Option<usize>,
}

/// How long one request to a witness may take, unless set.
pub const DEFAULT_WITNESS_TIMEOUT: Duration = Duration::from_secs(3);
/// How often an unchanged checkpoint is cosigned again, unless set.
pub const DEFAULT_WITNESS_REFRESH: Duration = Duration::from_secs(60);

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
    /// Connection limits.
    pub http: HttpLimits,
    /// The witness settings, if a policy is set; `main` reads the policy with
    /// the log key into `node.witnesses`.
    pub witness_policy: Option<WitnessSettings>,
    /// The explorer's built files, served at `/`.
    pub explorer_dir: Option<PathBuf>,
    /// The bucket to publish to, if one is set (spec/checkpoints-and-tiles.md §9).
    pub publish: Option<crate::publish::PublishSettings>,
}

/// The witness settings (spec/witness.md §4).
#[derive(Debug, Clone)]
pub struct WitnessSettings {
    /// The policy file.
    pub policy: PathBuf,
    /// How long one request to a witness may take.
    pub timeout: Duration,
    /// Publish without the quorum (rollout only).
    pub fail_open: bool,
    /// How often an unchanged checkpoint is cosigned again.
    pub refresh: Duration,
}

impl WitnessSettings {
    /// The defaults for the policy file `policy`.
    pub fn new(policy: PathBuf) -> WitnessSettings {
        WitnessSettings {
            policy,
            timeout: DEFAULT_WITNESS_TIMEOUT,
            fail_open: false,
            refresh: DEFAULT_WITNESS_REFRESH,
        }
    }
}

/// The longest header or write timeout accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The range of `max_header_bytes`: room for a request line and the usual
/// headers, and at most hyper's default read buffer.
const MIN_HEADER_BYTES: usize = 1024;
const MAX_HEADER_BYTES: usize = 256 * 1024;
/// The most `max_connections` accepted.
const MAX_CONNECTIONS: usize = 100_000;
/// The largest block cache accepted, in MiB (1 TiB).
const MAX_BLOCK_CACHE_MB: usize = 1 << 20;

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
        let publish = crate::publish::settings::resolve(&self, &file)?;
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
            max_queue_per_agency: pick!(
                max_queue_per_agency,
                (pick!(max_queue, 100_000) / 4).max(1)
            )
            .max(1),
            clock_skew_limit: match pick!(clock_skew_limit_secs, 60) {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
        };
        let http = HttpLimits {
            header_timeout: Duration::from_secs(pick!(header_timeout_secs, 10)),
            write_timeout: Duration::from_secs(pick!(write_timeout_secs, 30)),
            max_header_bytes: pick!(max_header_bytes, 16 * 1024),
            max_connections: pick!(max_connections, 1024),
        };
        for (name, t) in [
            ("header_timeout_secs", http.header_timeout),
            ("write_timeout_secs", http.write_timeout),
        ] {
            if t.is_zero() || t > MAX_TIMEOUT {
                bail!("{name} must be 1 to {}", MAX_TIMEOUT.as_secs());
            }
        }
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&http.max_header_bytes) {
            bail!("max_header_bytes must be {MIN_HEADER_BYTES} to {MAX_HEADER_BYTES}");
        }
        if !(1..=MAX_CONNECTIONS).contains(&http.max_connections) {
            bail!("max_connections must be 1 to {MAX_CONNECTIONS}");
        }
        let block_cache_mb = pick!(
            block_cache_mb,
            crate::store::StoreOptions::DEFAULT_BLOCK_CACHE >> 20
        );
        if !(8..=MAX_BLOCK_CACHE_MB).contains(&block_cache_mb) {
            bail!("block_cache_mb must be 8 to {MAX_BLOCK_CACHE_MB}");
        }
        let store = crate::store::StoreOptions {
            block_cache_bytes: block_cache_mb << 20,
        };
        Ok(Settings {
            publish,
            http,
            data,
            listen: pick!(listen, SocketAddr::from(([127, 0, 0, 1], 8080))),
            request_timeout: Duration::from_secs(pick!(request_timeout_secs, 30).max(1)),
            node: NodeConfig {
                sequencer,
                limits,
                checkpoint_interval: Duration::from_millis(pick!(checkpoint_interval_ms, 250)),
                witnesses: None,
                store,
            },
            explorer_dir: self.explorer_dir.or(file.explorer_dir),
            witness_policy: self.witness_policy.or(file.witness_policy).map(|p| {
                let ms = |v: Option<u64>| v.map(|ms| Duration::from_millis(ms.max(1)));
                let secs = |v: Option<u64>| v.map(|s| Duration::from_secs(s.max(1)));
                let d = WitnessSettings::new(p);
                WitnessSettings {
                    timeout: ms(self.witness_timeout_ms.or(file.witness_timeout_ms))
                        .unwrap_or(d.timeout),
                    fail_open: self
                        .witness_fail_open
                        .or(file.witness_fail_open)
                        .unwrap_or(d.fail_open),
                    refresh: secs(self.witness_refresh_secs.or(file.witness_refresh_secs))
                        .unwrap_or(d.refresh),
                    ..d
                }
            }),
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

    #[test]
    fn connection_limits_layer_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.toml");
        let opts = |config: Option<PathBuf>, max_connections: Option<usize>| ServeOptions {
            config,
            data: Some(PathBuf::from("/srv/ledger")),
            max_connections,
            ..ServeOptions::default()
        };
        // The defaults of spec/api.md §1.3.
        let s = opts(None, None).resolve(None).unwrap();
        assert_eq!(s.http, HttpLimits::default());
        assert_eq!(s.http.header_timeout, Duration::from_secs(10));
        assert_eq!(s.http.write_timeout, Duration::from_secs(30));
        assert_eq!(s.http.max_header_bytes, 16_384);
        assert_eq!(s.http.max_connections, 1024);

        std::fs::write(
            &path,
            "header_timeout_secs = 3\nwrite_timeout_secs = 4\nmax_header_bytes = 8192\nmax_connections = 50\n",
        )
        .unwrap();
        let s = opts(Some(path.clone()), Some(7)).resolve(None).unwrap();
        assert_eq!(s.http.header_timeout, Duration::from_secs(3));
        assert_eq!(s.http.write_timeout, Duration::from_secs(4));
        assert_eq!(s.http.max_header_bytes, 8192);
        assert_eq!(s.http.max_connections, 7, "the flag wins over the file");
    }

    #[test]
    fn connection_limits_out_of_range_are_refused() {
        let bad = [
            ServeOptions {
                header_timeout_secs: Some(0),
                ..ServeOptions::default()
            },
            ServeOptions {
                write_timeout_secs: Some(3601),
                ..ServeOptions::default()
            },
            ServeOptions {
                max_header_bytes: Some(1023),
                ..ServeOptions::default()
            },
            ServeOptions {
                max_header_bytes: Some(256 * 1024 + 1),
                ..ServeOptions::default()
            },
            ServeOptions {
                max_connections: Some(0),
                ..ServeOptions::default()
            },
            ServeOptions {
                max_connections: Some(100_001),
                ..ServeOptions::default()
            },
        ];
        for opts in bad {
            let opts = ServeOptions {
                data: Some(PathBuf::from("/srv/ledger")),
                ..opts
            };
            let shown = format!("{opts:?}");
            assert!(opts.resolve(None).is_err(), "accepted {shown}");
        }
    }

    #[test]
    fn the_block_cache_is_a_flag_a_variable_and_a_key() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            opts: ServeOptions,
        }
        let parse = |args: &[&str]| {
            <Cli as clap::Parser>::try_parse_from(
                ["ledger-server", "--data", "/srv/ledger"]
                    .iter()
                    .chain(args),
            )
            .unwrap()
            .opts
        };
        let s = parse(&[]).resolve(None).unwrap();
        assert_eq!(s.node.store.block_cache_bytes, 128 << 20);
        let s = parse(&["--block-cache-mb", "512"]).resolve(None).unwrap();
        assert_eq!(s.node.store.block_cache_bytes, 512 << 20);
        assert!(parse(&["--block-cache-mb", "1"]).resolve(None).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.toml");
        std::fs::write(&path, "block_cache_mb = 64\n").unwrap();
        let s = ServeOptions {
            config: Some(path),
            data: Some(PathBuf::from("/srv/ledger")),
            ..ServeOptions::default()
        }
        .resolve(None)
        .unwrap();
        assert_eq!(s.node.store.block_cache_bytes, 64 << 20);
        // LEDGER_BLOCK_CACHE_MB is the flag's variable (clap `env`).
        let cmd = <Cli as clap::CommandFactory>::command();
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == "block_cache_mb")
            .unwrap();
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some("LEDGER_BLOCK_CACHE_MB")
        );
    }

    #[test]
    fn connection_limits_are_flags() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            opts: ServeOptions,
        }
        let cli = <Cli as clap::Parser>::try_parse_from([
            "ledger-server",
            "--data",
            "/srv/ledger",
            "--header-timeout-secs",
            "2",
            "--write-timeout-secs",
            "5",
            "--max-header-bytes",
            "4096",
            "--max-connections",
            "9",
        ])
        .unwrap();
        let s = cli.opts.resolve(None).unwrap();
        assert_eq!(
            s.http,
            HttpLimits {
                header_timeout: Duration::from_secs(2),
                write_timeout: Duration::from_secs(5),
                max_header_bytes: 4096,
                max_connections: 9,
            }
        );
    }
}
