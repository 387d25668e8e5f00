//! Where a log is read from: an HTTP(S) URL or a directory, both with the C2SP
//! tlog-tiles layout (`checkpoint`, `tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`). Everything read is untrusted until checked
//! against a verified checkpoint.

use std::path::PathBuf;
use std::time::Duration;

use ledger_core::tile::{Tile, TileReader};

/// The largest checkpoint accepted (c2sp.org/signed-note limit used by ledger-core).
pub const MAX_CHECKPOINT: usize = ledger_core::note::MAX_NOTE_SIZE;
/// The largest tile: 256 hashes.
pub const MAX_TILE: usize = 256 * 32;
/// The largest entry bundle: 256 entries of at most 65,535 bytes, with lengths.
pub const MAX_BUNDLE: usize = 256 * (2 + 65_535);

/// A log to read.
pub enum Source {
    /// A server or static mirror over HTTP(S).
    Http {
        /// The base URL, ending in `/`.
        base: String,
        /// The client.
        client: reqwest::blocking::Client,
    },
    /// A directory mirror.
    Dir(PathBuf),
}

impl Source {
    /// The log as given: its base URL or its directory, to name it in messages.
    pub fn name(&self) -> String {
        match self {
            Source::Http { base, .. } => base.clone(),
            Source::Dir(dir) => dir.display().to_string(),
        }
    }

    /// `URL` (http:// or https://) or a directory.
    ///
    /// # Errors
    /// If it is neither.
    pub fn open(log: &str) -> Result<Source, String> {
        if log.starts_with("http://") || log.starts_with("https://") {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .user_agent(concat!("ledger-verify/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
            let base = if log.ends_with('/') {
                log.to_owned()
            } else {
                format!("{log}/")
            };
            Ok(Source::Http { base, client })
        } else {
            let dir = PathBuf::from(log);
            if !dir.is_dir() {
                return Err(format!("{log} is neither an http(s) URL nor a directory"));
            }
            Ok(Source::Dir(dir))
        }
    }

    /// Reads `path` (relative, tlog-tiles layout): `Ok(None)` if the log does not
    /// have it (HTTP 404, no such file).
    ///
    /// # Errors
    /// A message naming the path, for anything else (network, I/O, too large).
    pub fn fetch(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, String> {
        match self {
            Source::Http { base, client } => {
                let url = format!("{base}{path}");
                let resp = client
                    .get(&url)
                    .send()
                    .map_err(|e| format!("GET {url}: {e}"))?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !resp.status().is_success() {
                    return Err(format!("GET {url}: HTTP {}", resp.status()));
                }
                if resp.content_length().is_some_and(|n| n > max as u64) {
                    return Err(format!("GET {url}: larger than {max} bytes"));
                }
                let body = resp.bytes().map_err(|e| format!("GET {url}: {e}"))?;
                if body.len() > max {
                    return Err(format!("GET {url}: larger than {max} bytes"));
                }
                Ok(Some(body.to_vec()))
            }
            Source::Dir(dir) => {
                let file = dir.join(path);
                match std::fs::metadata(&file) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(format!("{}: {e}", file.display())),
                    Ok(m) if m.len() > max as u64 => {
                        return Err(format!("{}: larger than {max} bytes", file.display()));
                    }
                    Ok(_) => {}
                }
                std::fs::read(&file)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", file.display()))
            }
        }
    }

    /// The latest checkpoint, as bytes.
    ///
    /// # Errors
    /// If it cannot be read or the log has none.
    pub fn checkpoint(&self) -> Result<Vec<u8>, String> {
        self.fetch("checkpoint", MAX_CHECKPOINT)?
            .ok_or_else(|| "the log has no checkpoint".to_owned())
    }

    /// A tile or bundle: the exact one, or, for a partial one a log no longer
    /// keeps, the prefix of the full one (c2sp.org/tlog-tiles, "Partial Tiles").
    ///
    /// # Errors
    /// If neither can be read.
    pub fn tile_like(
        &self,
        path: &str,
        full_path: Option<String>,
        keep: usize,
        max: usize,
    ) -> Result<Vec<u8>, String> {
        if let Some(data) = self.fetch(path, max)? {
            return Ok(data);
        }
        if let Some(full) = full_path
            && let Some(mut data) = self.fetch(&full, max)?
        {
            data.truncate(keep);
            return Ok(data);
        }
        Err(format!("{path}: not found"))
    }
}

impl TileReader for Source {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
        tiles
            .iter()
            .map(|t| {
                let full = t
                    .is_partial()
                    .then(|| Tile::new(t.level(), t.index(), 256).map(|f| f.path()))
                    .transpose()
                    .map_err(|e| e.to_string())?;
                self.tile_like(&t.path(), full, t.data_len(), MAX_TILE)
            })
            .collect()
    }
}
