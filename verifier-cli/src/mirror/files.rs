//! The mirror's files (spec/mirror.md §2): where a tile or bundle is read from
//! (the mirror itself, files staged by an earlier run that stopped, or the
//! log), how it is staged (temporary file, fsync, rename) and how a run is
//! published (staged files moved into place, directories synced, then the
//! checkpoint).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ledger_core::checkpoint::SignedCheckpoint;
use ledger_core::tile::{EntryBundle, Tile, parse_entry_bundle};

use crate::check::Problem;
use crate::source::{MAX_BUNDLE, MAX_TILE, Source, read_bundle};
use crate::statefile;

use super::copy::work;

/// Where a run stages what it fetched, inside the mirror.
pub const STAGING: &str = ".mirror-staging";

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

/// The log being mirrored and the mirror's directory.
pub struct Files<'a> {
    src: &'a Source,
    dir: PathBuf,
    staging: PathBuf,
    /// The staging directory and the mirror, read as candidates (staging first,
    /// so that a staged file is never moved over one authenticated in the
    /// mirror): whatever is read from them is authenticated like what the log
    /// serves.
    local: [Source; 2],
}

impl<'a> Files<'a> {
    pub fn new(src: &'a Source, dir: &Path) -> Files<'a> {
        let staging = dir.join(STAGING);
        Files {
            src,
            dir: dir.to_path_buf(),
            staging: staging.clone(),
            local: [Source::Dir(staging), Source::Dir(dir.to_path_buf())],
        }
    }

    /// The log, to name it in messages.
    pub fn source_name(&self) -> String {
        self.src.name()
    }

    /// The data of `tile`, from the mirror or its staging directory when
    /// `use_local` and it is there (`true`), else from the log (`false`).
    ///
    /// # Errors
    /// If the log cannot serve it.
    pub fn read_tile(&self, tile: Tile, use_local: bool) -> Result<(Vec<u8>, bool), String> {
        let path = tile.path();
        if use_local {
            for l in &self.local {
                if let Ok(Some(d)) = l.fetch(&path, MAX_TILE) {
                    return Ok((d, true));
                }
            }
        }
        let full = tile
            .is_partial()
            .then(|| Tile::new(tile.level(), tile.index(), 256).map(|f| f.path()))
            .transpose()
            .map_err(|e| e.to_string())?;
        self.src
            .tile_like(&path, full, tile.data_len(), MAX_TILE)
            .map(|d| (d, false))
    }

    /// Bundle `bundle`'s entries from the mirror or its staging directory, if
    /// a well-formed bundle of its width is there.
    pub fn local_bundle(&self, bundle: EntryBundle) -> Option<Vec<Vec<u8>>> {
        let path = bundle.path();
        self.local.iter().find_map(|l| {
            let data = l.fetch(&path, MAX_BUNDLE).ok()??;
            let entries = parse_entry_bundle(&data).ok()?;
            (entries.len() == usize::from(bundle.width()))
                .then(|| entries.into_iter().map(<[u8]>::to_vec).collect())
        })
    }

    /// Bundle `n` of a tree of `size` from the log (a partial bundle it no
    /// longer keeps is cut from the full one).
    ///
    /// # Errors
    /// As [`read_bundle`].
    pub fn remote_bundle(&self, n: u64, size: u64) -> Result<Vec<Vec<u8>>, Problem> {
        read_bundle(self.src, n, size).map(|(_, e)| e)
    }

    /// Stages `data` at `path` (relative, tlog-tiles layout): a temporary file,
    /// synced, renamed into the staging directory.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn stage(&self, path: &str, data: &[u8]) -> Result<(), Problem> {
        let to = self.staging.join(path);
        let io = |e: std::io::Error| unable(format!("{}: {e}", to.display()));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut tmp = to.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(data).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &to).map_err(io)
    }

    /// Removes the staging directory (after a failed run: nothing it fetched
    /// reaches the mirror).
    pub fn discard_staging(&self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }

    /// Publishes the run that brought the mirror from `old_size` to `cp`
    /// (spec/mirror.md §2): every file of the growth is moved from staging into
    /// place (or is already there), the directories are synced, then the
    /// checkpoint is replaced atomically; last, the staging directory and the
    /// partial tiles that full ones now replace are removed. Returns whether
    /// the checkpoint changed.
    ///
    /// # Errors
    /// Any I/O error, or a file of the growth that is nowhere (a bug).
    pub fn publish(&self, cp: &SignedCheckpoint, old_size: u64) -> Result<bool, Problem> {
        let size = cp.checkpoint.size.0;
        let mut dirs = BTreeSet::new();
        for tile in work(old_size, size) {
            self.place(&tile.path(), &mut dirs)?;
            if let Some(b) = tile.entry_bundle() {
                self.place(&b.path(), &mut dirs)?;
            }
        }
        for d in &dirs {
            File::open(d)
                .and_then(|f| f.sync_all())
                .map_err(|e| unable(format!("{}: {e}", d.display())))?;
        }
        let path = self.dir.join("checkpoint");
        let changed = std::fs::read(&path).ok().as_deref() != Some(&cp.raw[..]);
        if changed {
            statefile::write_atomic(&path, &cp.raw)
                .map_err(|e| unable(format!("{}: {e}", path.display())))?;
        }
        self.discard_staging();
        // Partial tiles a full tile replaces (spec/checkpoints-and-tiles.md §4.2:
        // they may go once the full tile exists; readers fall back to it).
        for tile in work(old_size, size).filter(|t| !t.is_partial()) {
            let mut paths = vec![tile.path()];
            paths.extend(tile.entry_bundle().map(|b| b.path()));
            for p in paths {
                let _ = std::fs::remove_dir_all(self.dir.join(format!("{p}.p")));
            }
        }
        Ok(changed)
    }

    /// Moves `path` from staging into the mirror, unless the mirror has it
    /// already (read from there and authenticated in this run).
    fn place(&self, path: &str, dirs: &mut BTreeSet<PathBuf>) -> Result<(), Problem> {
        let from = self.staging.join(path);
        let to = self.dir.join(path);
        let io = |e: std::io::Error| unable(format!("{}: {e}", to.display()));
        if from.exists() {
            let parent = to.parent().unwrap_or(&self.dir).to_path_buf();
            std::fs::create_dir_all(&parent).map_err(io)?;
            std::fs::rename(&from, &to).map_err(io)?;
            // The new name, and any directory made for it, must be durable.
            let mut d = parent.as_path();
            while d.starts_with(&self.dir) && dirs.insert(d.to_path_buf()) && d != self.dir {
                d = d.parent().unwrap_or(&self.dir);
            }
        } else if !to.exists() {
            return Err(unable(format!(
                "{path} was neither staged nor in the mirror (internal error)"
            )));
        }
        Ok(())
    }
}
