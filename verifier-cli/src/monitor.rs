//! `monitor` and `evidence verify` (spec/evidence.md): remember the last verified
//! checkpoint, check that each new one extends it, and on a fork or rollback write
//! portable evidence that anyone can recheck with only the log's verifier key.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ledger_core::checkpoint::{Origin, SignedCheckpoint, open_checkpoint};
use ledger_core::evidence::{
    Evidence, EvidenceError, MAX_EVIDENCE_BYTES, Verdict, full_consistency_path,
};
use ledger_core::hash::Hash;
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use ledger_core::tile::TileHashReader;
use serde_json::json;

use crate::check::{Outcome, Problem, Verified, extends, latest, log_key, open_source};
use crate::source::Source;
use crate::{KeyArgs, LogArgs};

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

fn open(bytes: &[u8], origin: &Origin, key: &Ed25519Verifier) -> Result<SignedCheckpoint, String> {
    let none: [&dyn NoteVerifier; 0] = [];
    open_checkpoint(bytes, origin, key, &none).map_err(|e| e.to_string())
}

/// Writes `data` to `path` atomically (a temporary file, then a rename).
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Problem> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| unable(format!("{}: {e}", path.display())))
}

/// The full consistency path (spec/evidence.md §2) from the larger tree's tiles,
/// authenticated against its root; `None` if they cannot be read.
fn fork_path(
    src: &Source,
    small: &SignedCheckpoint,
    large: &SignedCheckpoint,
) -> Option<Vec<Hash>> {
    let reader = TileHashReader::new(large.checkpoint.size, large.checkpoint.root, src).ok()?;
    full_consistency_path(small.checkpoint.size, large.checkpoint.size, &reader).ok()
}

/// `monitor --state FILE`.
pub fn monitor(log: &LogArgs, key: &KeyArgs, state: &Path, evidence_out: Option<&Path>) -> Outcome {
    let (vkey, origin) = log_key(key)?;
    let src = open_source(&log.log)?;
    let new = latest(&src, &vkey, &origin)?;
    let mut v = Verified::default();
    if !state.exists() {
        write_atomic(state, &new.raw)?;
        v.add("first run", "first_run", json!(true));
        v.add("remembered size", "size", json!(new.checkpoint.size.0));
        v.add(
            "remembered root",
            "root",
            json!(new.checkpoint.root.to_base64()),
        );
        return Ok(v);
    }
    let old_bytes =
        std::fs::read(state).map_err(|e| unable(format!("{}: {e}", state.display())))?;
    let old = open(&old_bytes, &origin, &vkey).map_err(|e| {
        unable(format!(
            "the state file {} does not hold a checkpoint of this log: {e}",
            state.display()
        ))
    })?;
    match extends(&src, &old, &new) {
        Ok(_) => {
            write_atomic(state, &new.raw)?;
            v.add(
                "previous size",
                "previous_size",
                json!(old.checkpoint.size.0),
            );
            v.add("size", "size", json!(new.checkpoint.size.0));
            v.add("root", "root", json!(new.checkpoint.root.to_base64()));
            v.add("consistent", "consistent", json!(true));
            Ok(v)
        }
        Err(Problem::Failed(problem)) => {
            let (small, large) = if new.checkpoint.size < old.checkpoint.size {
                (&new, &old)
            } else {
                (&old, &new)
            };
            let path = fork_path(&src, small, large);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let evidence = Evidence::new(&old, &new, &vkey, now, path, problem.as_str());
            let kind = evidence.kind.as_str();
            let out: PathBuf = match evidence_out {
                Some(p) => p.to_path_buf(),
                None => state.with_file_name(format!("evidence-{now}.json")),
            };
            write_atomic(&out, evidence.to_json().as_bytes())?;
            Err(failed(format!(
                "{}: {problem}; evidence written to {} (check it with `ledger-verify evidence verify`); the state file is unchanged",
                kind.to_uppercase(),
                out.display()
            )))
        }
        Err(e) => Err(e),
    }
}

/// `evidence verify FILE`: 0 if the evidence proves that the log signed two
/// checkpoints that do not extend each other, 1 if it does not prove it
/// (ledger-core `evidence`, spec/evidence.md §3).
pub fn verify_evidence(file: &Path, key: &KeyArgs) -> Outcome {
    let (vkey, origin) = log_key(key)?;
    let meta = std::fs::metadata(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    if meta.len() > MAX_EVIDENCE_BYTES as u64 {
        return Err(failed(format!(
            "{} is too large for evidence",
            file.display()
        )));
    }
    let text = std::fs::read(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    let checked = Evidence::parse(&text)
        .and_then(|ev| ev.verify(&origin, &vkey))
        .map_err(|e: EvidenceError| failed(e.to_string()))?;
    let mut v = Verified::default();
    v.add("origin", "origin", json!(origin.as_str()));
    v.add(
        "smaller size",
        "smaller_size",
        json!(checked.smaller.size.0),
    );
    v.add("larger size", "larger_size", json!(checked.larger.size.0));
    match checked.verdict {
        Verdict::Proven(m) => {
            v.add("proven", "proven", json!(m.to_string()));
            Ok(v)
        }
        Verdict::NotProven(why) => Err(failed(why.to_string())),
    }
}
