//! Where a log is read from: an HTTP(S) URL or a directory, both with the C2SP
//! tlog-tiles layout (`checkpoint`, `tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`). Everything read is untrusted until checked
//! against a verified checkpoint.

use std::path::PathBuf;
use std::time::Duration;

use ledger_core::tile::{EntryBundle, Tile, TileReader, parse_entry_bundle};

use crate::check::Problem;

/// The largest checkpoint accepted (c2sp.org/signed-note limit used by ledger-core).
pub const MAX_CHECKPOINT: usize = ledger_core::note::MAX_NOTE_SIZE;
/// The largest tile: 256 hashes.
pub const MAX_TILE: usize = 256 * 32;
/// The largest entry bundle: 256 entries of at most 65,535 bytes, with lengths.
pub const MAX_BUNDLE: usize = 256 * (2 + 65_535);

/// Reads all of `r`, but refuses it once it holds more than `max` bytes
/// (reading no more than one byte past the limit).
fn read_capped(r: impl std::io::Read, max: usize) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read as _;
    let mut out = Vec::new();
    r.take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(Some(out))
}

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
                // Read at most one byte past the limit, whatever the framing
                // (chunked, no length) or encoding (gzip is decoded as it is
                // read, so the limit is on decoded bytes).
                read_capped(resp, max).map_err(|e| format!("GET {url}: {e}"))
            }
            Source::Dir(dir) => {
                let file = dir.join(path);
                match std::fs::File::open(&file) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(format!("{}: {e}", file.display())),
                    Ok(f) => read_capped(f, max).map_err(|e| format!("{}: {e}", file.display())),
                }
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

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

/// Opens `--log`: "could not check" if it is neither a URL nor a directory.
pub fn open_source(log: &str) -> Result<Source, Problem> {
    Source::open(log).map_err(unable)
}

/// Data served by `source` that contradicts a signed checkpoint (or is
/// malformed): a bad server, mirror or cache, not evidence against the log.
pub fn bad_source(source: &str, what: &str) -> Problem {
    unable(format!(
        "bad source {source}: {what} (the log's signed history is not shown to be wrong; try another mirror)"
    ))
}

/// The entries of bundle `n` of a tree of `size` entries (its width is
/// `min(256, size - 256n)`), exactly that many. For a partial bundle that the log
/// no longer keeps, the first entries of the full one (c2sp.org/tlog-tiles).
/// A bundle served at its own path must hold exactly its width in entries, and a
/// full one exactly 256 (spec/checkpoints-and-tiles.md §5): a partial bundle with
/// more entries than its `W` is refused, not cut short.
///
/// # Errors
/// [`Problem::Unable`] if it cannot be read, is malformed or holds the wrong
/// number of entries (a bad source, [`bad_source`]).
pub fn read_bundle(src: &Source, n: u64, size: u64) -> Result<(String, Vec<Vec<u8>>), Problem> {
    let width = (size - n * 256).min(256) as u16;
    let path = EntryBundle::new(n, width)
        .map_err(|e| failed(e.to_string()))?
        .path();
    let (read_from, expected, data) = match src.fetch(&path, MAX_BUNDLE).map_err(unable)? {
        Some(d) => (path.clone(), width, d),
        None if width < 256 => {
            let full = EntryBundle::new(n, 256)
                .map_err(|e| failed(e.to_string()))?
                .path();
            let d = src
                .fetch(&full, MAX_BUNDLE)
                .map_err(unable)?
                .ok_or_else(|| unable(format!("{path}: not found")))?;
            (full, 256, d)
        }
        None => return Err(unable(format!("{path}: not found"))),
    };
    let source = src.name();
    let entries =
        parse_entry_bundle(&data).map_err(|e| bad_source(&source, &format!("{read_from}: {e}")))?;
    if entries.len() != usize::from(expected) {
        return Err(bad_source(
            &source,
            &format!(
                "{read_from}: holds {} entries, expected {expected}",
                entries.len()
            ),
        ));
    }
    let entries = entries
        .into_iter()
        .take(usize::from(width))
        .map(<[u8]>::to_vec)
        .collect();
    Ok((path, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::tile::encode_entry_bundle;

    /// A directory mirror holding `files` (path, number of entries).
    fn mirror(files: &[(&str, usize)]) -> (tempfile::TempDir, Source) {
        let dir = tempfile::tempdir().unwrap();
        for (path, count) in files {
            let entries: Vec<Vec<u8>> = (0..*count).map(|i| format!("e{i}").into_bytes()).collect();
            let to = dir.path().join(path);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, encode_entry_bundle(&entries).unwrap()).unwrap();
        }
        let src = Source::open(dir.path().to_str().unwrap()).unwrap();
        (dir, src)
    }

    #[test]
    fn reads_are_capped_while_reading() {
        let data = [7u8; 100];
        assert_eq!(read_capped(&data[..], 100).unwrap().unwrap().len(), 100);
        let err = read_capped(&data[..], 99).unwrap_err();
        assert!(err.contains("larger than 99 bytes"), "{err}");
        // An endless body (no length, as with chunked encoding) is refused
        // after max + 1 bytes, not read to the end.
        let err = read_capped(std::io::repeat(1), 1 << 20).unwrap_err();
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn a_partial_bundle_must_hold_exactly_its_width() {
        let (_d, src) = mirror(&[("tile/entries/000.p/2", 2)]);
        let (_, entries) = read_bundle(&src, 0, 2).unwrap();
        assert_eq!(entries, [b"e0".to_vec(), b"e1".to_vec()]);
        for count in [1, 3, 256] {
            let (_d, src) = mirror(&[("tile/entries/000.p/2", count)]);
            match read_bundle(&src, 0, 2) {
                Err(Problem::Failed(m) | Problem::Unable(m)) => {
                    assert!(
                        m.contains(&format!("holds {count} entries, expected 2")),
                        "{m}"
                    );
                }
                Ok(_) => panic!("a partial bundle of width 2 with {count} entries was accepted"),
            }
        }
    }

    #[test]
    fn a_full_bundle_stands_in_for_a_partial_one_only_if_it_is_full() {
        let (_d, src) = mirror(&[("tile/entries/001", 256)]);
        let (path, entries) = read_bundle(&src, 1, 256 + 5).unwrap();
        assert_eq!(path, "tile/entries/001.p/5");
        assert_eq!(entries.len(), 5);
        let (_d, src) = mirror(&[("tile/entries/001", 200)]);
        assert!(read_bundle(&src, 1, 256 + 5).is_err());
        let (_d, src) = mirror(&[("tile/entries/001", 255)]);
        assert!(read_bundle(&src, 1, 512).is_err());
    }
}
