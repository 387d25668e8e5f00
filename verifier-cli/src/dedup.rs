//! Duplicate submission ids in `replay`, in memory that does not grow with the
//! log (spec/registry.md §4.1, the sort-based duplicate pass).
//!
//! The registry's rule that an agency uses each submission id once needs every
//! id used so far; in memory that is about 40 bytes per entry (36 GB at 1B
//! entries). Instead, [`SortedIds`] records each entry's 16-byte submission key
//! ([`submission_key`]) and index, and answers nothing during the walk: a buffer
//! of at most `limit` records (24 bytes each) is sorted and written to a
//! temporary file as a run when it fills, and [`SortedIds::finish`] merges the
//! sorted runs, where a reused id shows up as two equal adjacent keys. Memory is
//! one buffer plus one record per run at the merge; disk is 24 bytes per entry,
//! in a temporary directory (`TMPDIR`) removed afterwards.
//!
//! The duplicate found is the one whose second use has the lowest index; the
//! other registry rules do not depend on it, so finding it after the walk
//! rather than at the entry changes only when it is reported, not what.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ledger_core::LeafIndex;
use ledger_core::registry::{SubmissionIds, SubmissionIdsError, submission_key};
use ledger_core::statement::AgencyId;

/// Records held in memory before a run is written: 1 Mi records, 24 MiB.
pub const DEFAULT_LIMIT: usize = 1 << 20;

/// The records held in memory: `LEDGER_VERIFY_DEDUP_RECORDS` if set to a
/// number (at least 1), else [`DEFAULT_LIMIT`].
pub fn limit_from_env() -> usize {
    std::env::var("LEDGER_VERIFY_DEDUP_RECORDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_LIMIT)
}

/// A submission key and the index of the entry that used it.
type Record = ([u8; 16], u64);

/// Two entries with the same agency and submission id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The first use.
    pub first: u64,
    /// The reuse.
    pub second: u64,
}

#[derive(Debug)]
struct Runs {
    limit: usize,
    buffer: Vec<Record>,
    dir: Option<tempfile::TempDir>,
    files: Vec<PathBuf>,
}

/// The deferred submission-id set (module doc). Clones share one set.
#[derive(Clone, Debug)]
pub struct SortedIds(Arc<Mutex<Runs>>);

fn io_error(e: std::io::Error) -> SubmissionIdsError {
    SubmissionIdsError(format!("the duplicate pass's temporary files: {e}"))
}

impl SortedIds {
    /// A set that keeps at most `limit` records in memory.
    pub fn new(limit: usize) -> SortedIds {
        SortedIds(Arc::new(Mutex::new(Runs {
            limit: limit.max(1),
            buffer: Vec::new(),
            dir: None,
            files: Vec::new(),
        })))
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Merges every recorded use and returns the duplicate whose reuse has the
    /// lowest index, if any.
    ///
    /// # Errors
    /// A [`SubmissionIdsError`] if a temporary file cannot be read.
    pub fn finish(&self) -> Result<Option<Duplicate>, SubmissionIdsError> {
        let mut runs = self.runs();
        let mut buffer = std::mem::take(&mut runs.buffer);
        buffer.sort_unstable();
        let mut sources: Vec<Box<dyn Iterator<Item = std::io::Result<Record>>>> = Vec::new();
        for f in &runs.files {
            sources.push(Box::new(RunReader(BufReader::new(
                File::open(f).map_err(io_error)?,
            ))));
        }
        sources.push(Box::new(buffer.into_iter().map(Ok)));
        let mut heap = BinaryHeap::new();
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(r) = s.next() {
                heap.push(Reverse((r.map_err(io_error)?, i)));
            }
        }
        let mut last: Option<Record> = None;
        let mut found: Option<Duplicate> = None;
        while let Some(Reverse((record, i))) = heap.pop() {
            if let Some(prev) = last
                && prev.0 == record.0
                && found.is_none_or(|d| record.1 < d.second)
            {
                // Equal keys come out in index order: `prev` is the first use
                // (or an earlier reuse, which would have been found first).
                found = Some(Duplicate {
                    first: prev.1,
                    second: record.1,
                });
            }
            if last.is_none_or(|p| p.0 != record.0) {
                last = Some(record);
            }
            if let Some(r) = sources[i].next() {
                heap.push(Reverse((r.map_err(io_error)?, i)));
            }
        }
        Ok(found)
    }
}

impl Runs {
    /// Sorts the buffer and writes it as a run.
    fn spill(&mut self) -> Result<(), SubmissionIdsError> {
        self.buffer.sort_unstable();
        if self.dir.is_none() {
            self.dir = Some(
                tempfile::Builder::new()
                    .prefix("ledger-verify-dedup")
                    .tempdir()
                    .map_err(io_error)?,
            );
        }
        let dir = self
            .dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default();
        let path = dir.join(format!("run-{}", self.files.len()));
        let mut w = BufWriter::new(File::create(&path).map_err(io_error)?);
        for (key, index) in self.buffer.drain(..) {
            w.write_all(&key).map_err(io_error)?;
            w.write_all(&index.to_be_bytes()).map_err(io_error)?;
        }
        w.flush().map_err(io_error)?;
        self.files.push(path);
        Ok(())
    }
}

/// Reads a run's 24-byte records.
struct RunReader(BufReader<File>);

impl Iterator for RunReader {
    type Item = std::io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut b = [0u8; 24];
        match self.0.read_exact(&mut b) {
            Ok(()) => {
                let key: [u8; 16] = b[..16].try_into().expect("16 bytes");
                let index = u64::from_be_bytes(b[16..].try_into().expect("8 bytes"));
                Some(Ok((key, index)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl SubmissionIds for SortedIds {
    /// Always `None`: the answer comes from [`SortedIds::finish`].
    fn used_at(&self, _: &AgencyId, _: &str) -> Result<Option<LeafIndex>, SubmissionIdsError> {
        Ok(None)
    }

    fn record(
        &mut self,
        agency: &AgencyId,
        submission_id: &str,
        at: LeafIndex,
    ) -> Result<(), SubmissionIdsError> {
        let mut runs = self.runs();
        runs.buffer
            .push((submission_key(agency, submission_id), at.0));
        if runs.buffer.len() >= runs.limit {
            runs.spill()?;
        }
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn SubmissionIds> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ids: &mut SortedIds, agency: &str, sub: &str, at: u64) {
        ids.record(&AgencyId::new(agency).unwrap(), sub, LeafIndex(at))
            .unwrap();
    }

    #[test]
    fn a_duplicate_past_the_memory_bound_is_found() {
        // 4 records in memory: 1000 entries make 250 runs on disk.
        let mut ids = SortedIds::new(4);
        for i in 0..1000 {
            record(&mut ids, "city", &format!("s{i}"), i);
        }
        assert_eq!(ids.finish().unwrap(), None);

        let mut ids = SortedIds::new(4);
        for i in 0..1000 {
            let sub = match i {
                // Entry 3's id again at 901 and 700; another pair later.
                700 | 901 => "s3".to_owned(),
                950 => "s10".to_owned(),
                _ => format!("s{i}"),
            };
            record(&mut ids, "city", &sub, i);
        }
        // The same id of another agency is not a reuse.
        record(&mut ids, "court", "s5", 1000);
        assert_eq!(ids.0.lock().unwrap().files.len(), 250);
        assert_eq!(
            ids.finish().unwrap(),
            Some(Duplicate {
                first: 3,
                second: 700
            })
        );
    }

    #[test]
    fn in_memory_only_when_the_log_is_small() {
        let mut ids = SortedIds::new(DEFAULT_LIMIT);
        record(&mut ids, "city", "a", 0);
        record(&mut ids, "city", "a", 1);
        assert!(ids.0.lock().unwrap().dir.is_none());
        assert_eq!(
            ids.finish().unwrap(),
            Some(Duplicate {
                first: 0,
                second: 1
            })
        );
    }
}
