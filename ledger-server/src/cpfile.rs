//! A copy of the latest published checkpoint kept outside the store, in
//! `DATA/checkpoint` (spec/durability.md §2, §3).
//!
//! The store keeps its own latest checkpoint, but a store that loses its newest
//! writes (a damaged write-ahead log, an older copy restored from a backup, a
//! disk that dropped writes) loses that checkpoint with them, and would then
//! happily serve a smaller tree: a rollback that clients who saw the newer
//! checkpoint can prove, but that the operator should never make. The
//! checkpointer writes this file (atomically, synced) after the store has the
//! checkpoint and before anyone can see it, so at startup the file is at least
//! as new as every published checkpoint (it may be one step newer, if the
//! process stopped between writing it and publishing, and one step older than
//! the store's own checkpoint, if it stopped between the two writes), and
//! [`crate::ledger::load`] refuses a store that does not reach it.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The largest checkpoint file read (a signed note with many cosignatures is a
/// few kilobytes).
const MAX_LEN: u64 = 64 * 1024;

/// `DATA/checkpoint`: the latest published checkpoint's signed note.
#[derive(Clone, Debug)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// The file in the data directory `data`.
    pub fn new(data: &Path) -> CheckpointFile {
        CheckpointFile {
            path: data.join("checkpoint"),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The note, or `None` if there is no file yet.
    ///
    /// # Errors
    /// If the file cannot be read, or is larger than any checkpoint.
    pub fn read(&self) -> io::Result<Option<Vec<u8>>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        file.take(MAX_LEN + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is larger than {MAX_LEN} bytes", self.path.display()),
            ));
        }
        Ok(Some(bytes))
    }

    /// Replaces the file with `note`, durably: the note goes to a temporary file
    /// that is synced, renamed over the old one, and the directory is synced, so
    /// after a crash the file holds either the old note or the new one, whole.
    ///
    /// # Errors
    /// If any step fails (the disk is full, the directory is read-only). The
    /// file then holds the old note, or the new one if only the final directory
    /// sync failed.
    pub fn write(&self, note: &[u8]) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let tmp = self.path.with_extension("tmp");
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(note)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &self.path)?;
            File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let f = CheckpointFile::new(dir.path());
        assert_eq!(f.read().unwrap(), None);
        f.write(b"first\n").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some(&b"first\n"[..]));
        f.write(b"second\n").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some(&b"second\n"[..]));
        assert!(!dir.path().join("checkpoint.tmp").exists());
    }

    #[test]
    fn refuses_an_oversized_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = CheckpointFile::new(dir.path());
        fs::write(f.path(), vec![b'x'; MAX_LEN as usize + 1]).unwrap();
        assert_eq!(f.read().unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = CheckpointFile::new(dir.path());
        f.write(b"old\n").unwrap();
        // A directory where the temporary file should go makes the write fail.
        fs::create_dir(dir.path().join("checkpoint.tmp")).unwrap();
        assert!(f.write(b"new\n").is_err());
        assert_eq!(f.read().unwrap().as_deref(), Some(&b"old\n"[..]));
    }
}
