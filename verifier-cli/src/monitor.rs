//! `monitor` and `evidence verify` (spec/evidence.md): remember the last verified
//! checkpoint, check that each new one extends it, and on a fork or rollback write
//! portable evidence that anyone can recheck with only the log's verifier key.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ledger_core::checkpoint::{Origin, SignedCheckpoint, open_checkpoint};
use ledger_core::hash::Hash;
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use ledger_core::proof::{consistency_roots, prove_consistency};
use ledger_core::tile::TileHashReader;
use ledger_core::tree::{HashReader, stored_hash_index};
use serde_json::{Value, json};

use crate::check::{Outcome, Problem, Verified, extends, latest, log_key, open_source};
use crate::source::Source;
use crate::{KeyArgs, LogArgs};

/// The evidence format's name and version (spec/evidence.md).
pub const EVIDENCE_FORMAT: &str = "egov-ledger/evidence/v1";
/// The largest evidence file read.
const MAX_EVIDENCE: u64 = 1 << 20;

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

/// The path that proves the two checkpoints inconsistent, from the larger tree's
/// tiles (authenticated against its root): the consistency path, with the node
/// over the first `small` leaves prepended when `small` is a power of two.
fn fork_path(
    src: &Source,
    small: &SignedCheckpoint,
    large: &SignedCheckpoint,
) -> Option<Vec<Hash>> {
    let (a, b) = (small.checkpoint.size.0, large.checkpoint.size.0);
    if a == 0 || a >= b {
        return None;
    }
    let reader = TileHashReader::new(large.checkpoint.size, large.checkpoint.root, src).ok()?;
    let proof = prove_consistency(small.checkpoint.size, large.checkpoint.size, &reader).ok()?;
    let mut path = Vec::new();
    if a.is_power_of_two() {
        let node = stored_hash_index(a.trailing_zeros() as u8, 0);
        path.push(*reader.read_hashes(&[node]).ok()?.first()?);
    }
    path.extend(proof.path);
    Some(path)
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
            let kind = if new.checkpoint.size < old.checkpoint.size {
                "rollback"
            } else {
                "fork"
            };
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
            let evidence = json!({
                "format": EVIDENCE_FORMAT,
                "kind": kind,
                "origin": origin.as_str(),
                "vkey": vkey.to_vkey(),
                "observed_at_unix": now,
                "earlier": String::from_utf8_lossy(&old.raw),
                "later": String::from_utf8_lossy(&new.raw),
                "proof": path.map(|p| json!({
                    "old_size": small.checkpoint.size.0,
                    "new_size": large.checkpoint.size.0,
                    "path": p.iter().map(Hash::to_base64).collect::<Vec<_>>(),
                })),
                "problem": problem,
            });
            let out: PathBuf = match evidence_out {
                Some(p) => p.to_path_buf(),
                None => state.with_file_name(format!("evidence-{now}.json")),
            };
            write_atomic(&out, format!("{evidence:#}\n").as_bytes())?;
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
/// checkpoints that do not extend each other, 1 if it does not prove it.
pub fn verify_evidence(file: &Path, key: &KeyArgs) -> Outcome {
    let (vkey, origin) = log_key(key)?;
    let meta = std::fs::metadata(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    if meta.len() > MAX_EVIDENCE {
        return Err(failed(format!(
            "{} is too large for evidence",
            file.display()
        )));
    }
    let text = std::fs::read(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    let ev: Value =
        serde_json::from_slice(&text).map_err(|e| failed(format!("not evidence (JSON): {e}")))?;
    if ev["format"] != EVIDENCE_FORMAT {
        return Err(failed(format!(
            "not evidence: format is not {EVIDENCE_FORMAT:?}"
        )));
    }
    let note = |field: &str| -> Result<SignedCheckpoint, Problem> {
        let s = ev[field]
            .as_str()
            .ok_or_else(|| failed(format!("not evidence: no {field:?} checkpoint")))?;
        open(s.as_bytes(), &origin, &vkey).map_err(|e| {
            failed(format!(
                "the {field:?} checkpoint is not signed by this log's key: {e}"
            ))
        })
    };
    let (earlier, later) = (note("earlier")?, note("later")?);
    let (small, large) = if later.checkpoint.size < earlier.checkpoint.size {
        (&later, &earlier)
    } else {
        (&earlier, &later)
    };
    let (a, b) = (small.checkpoint.size, large.checkpoint.size);
    let mut v = Verified::default();
    v.add("origin", "origin", json!(origin.as_str()));
    v.add("smaller size", "smaller_size", json!(a.0));
    v.add("larger size", "larger_size", json!(b.0));
    if a == b {
        if small.checkpoint.root == large.checkpoint.root {
            return Err(failed(
                "both checkpoints are the same tree: nothing is proven",
            ));
        }
        v.add(
            "proven",
            "proven",
            json!(format!(
                "the log signed two different roots for size {}",
                a.0
            )),
        );
        return Ok(v);
    }
    if a.0 == 0 {
        return Err(failed(
            "every tree extends the empty tree: nothing is proven",
        ));
    }
    let proof = &ev["proof"];
    if proof.is_null() {
        return Err(failed(
            "the evidence has no consistency path; without the larger tree's hashes nothing is proven",
        ));
    }
    if proof["old_size"] != json!(a.0) || proof["new_size"] != json!(b.0) {
        return Err(failed("the path is not between the two checkpoints' sizes"));
    }
    let path: Vec<Hash> = proof["path"]
        .as_array()
        .ok_or_else(|| failed("the path is not a list"))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| Hash::from_base64(s).ok())
                .ok_or_else(|| failed("a path hash is not base64 of 32 bytes"))
        })
        .collect::<Result<_, _>>()?;
    let (old_root, new_root) =
        consistency_roots(a, b, &path).map_err(|e| failed(format!("the path: {e}")))?;
    if new_root != large.checkpoint.root {
        return Err(failed(
            "the path does not lead to the larger checkpoint's root: it proves nothing",
        ));
    }
    if old_root == small.checkpoint.root {
        return Err(failed(
            "the larger tree does extend the smaller one: this is not evidence of a fork",
        ));
    }
    v.add(
        "proven",
        "proven",
        json!(format!(
            "the log's tree of size {} has root {} at size {}, but the log also signed root {} for size {}",
            b.0,
            b64(&old_root),
            a.0,
            b64(&small.checkpoint.root),
            a.0
        )),
    );
    Ok(v)
}

fn b64(h: &Hash) -> String {
    STANDARD.encode(h.0)
}
