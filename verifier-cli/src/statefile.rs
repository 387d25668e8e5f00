//! Durable replacement of the verifier's own files (the monitor's remembered
//! checkpoint, evidence, the replay's resume state): write a temporary file in the
//! same directory, sync it, rename it over the target, sync the directory
//! (like the server's `cpfile.rs`). After a crash the file holds either the old
//! or the new bytes, never a mix and never nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// The temporary file next to `path`: hidden, named after the target and this
/// process, so that it never collides with a file the user keeps there.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(tmp))
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `data` atomically and durably: temporary file in the
/// same directory, `fsync`, rename, `fsync` of the directory. On failure the
/// temporary file is removed and `path` is left as it was (unless only the final
/// directory sync failed, after the rename).
///
/// # Errors
/// Any I/O error of those steps.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(parent_dir(path))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("monitor.state");
        write_atomic(&state, b"first").unwrap();
        assert_eq!(std::fs::read(&state).unwrap(), b"first");
        write_atomic(&state, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&state).unwrap(), b"second, longer");
        assert_eq!(names(dir.path()), ["monitor.state"]);
    }

    #[test]
    fn never_touches_a_neighbouring_file() {
        // The old helper wrote to `path.with_extension("tmp")`: `monitor.tmp`,
        // which may be the user's own file.
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join("monitor.tmp");
        std::fs::write(&mine, b"the user's file").unwrap();
        write_atomic(&dir.path().join("monitor.state"), b"cp").unwrap();
        assert_eq!(std::fs::read(&mine).unwrap(), b"the user's file");
        assert_eq!(names(dir.path()), ["monitor.state", "monitor.tmp"]);
    }

    #[test]
    fn a_failed_replacement_leaves_the_target_and_no_temporary_file() {
        // A rename over a non-empty directory fails after the data is written.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), b"x").unwrap();
        assert!(write_atomic(&target, b"new").is_err());
        assert_eq!(names(dir.path()), ["state"]);
        assert_eq!(names(&target), ["keep"]);
    }

    #[test]
    fn a_bare_file_name_syncs_the_current_directory() {
        assert_eq!(parent_dir(Path::new("state")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/state")), Path::new("a"));
    }
}
