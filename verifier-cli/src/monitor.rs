//! `monitor` and `evidence verify` (spec/evidence.md): remember the last verified
//! checkpoint, check that each new one extends it, and on a proven fork write
//! portable evidence that anyone can recheck with only the log's verifier key.

use std::path::{Path, PathBuf};

use ledger_core::checkpoint::{Origin, SignedCheckpoint, open_checkpoint};
use ledger_core::evidence::{Evidence, EvidenceError, MAX_EVIDENCE_BYTES, Verdict};
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use serde_json::json;

use crate::check::{
    Divergence, Outcome, Problem, Relation, Verified, latest, log_key, relate, stale,
};
use crate::source::open_source;
use crate::statefile;
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

/// Replaces `path` with `data` atomically and durably ([`statefile::write_atomic`]).
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Problem> {
    statefile::write_atomic(path, data).map_err(|e| unable(format!("{}: {e}", path.display())))
}

/// With a policy: fetches each witness's latest cosigned checkpoint of this log
/// from its monitoring path (spec/witness.md §3) and relates it to the log's
/// `new` one. A witness that has cosigned a tree the log's does not extend (or
/// the other way round) is a fork, proven by evidence written as for the log's
/// own checkpoints; a witness that cannot be read is noted, not a failure.
fn compare_with_witnesses(
    src: &crate::source::Source,
    trust: &crate::check::Trust,
    new: &ledger_core::checkpoint::SignedCheckpoint,
    state: &Path,
    evidence_out: Option<&Path>,
    v: &mut Verified,
) -> Result<(), Problem> {
    let mut seen = Vec::new();
    for (name, url) in trust.witness_urls() {
        let path = ledger_core::witness::monitoring_path(trust.origin.as_str());
        let fetched = crate::source::Source::open(&url)
            .and_then(|w| w.fetch(&path, crate::source::MAX_CHECKPOINT));
        let bytes = match fetched {
            Ok(Some(b)) => b,
            Ok(None) => {
                seen.push(format!("{name}: has cosigned nothing of this log yet"));
                continue;
            }
            Err(e) => {
                seen.push(format!("{name}: could not be read ({e})"));
                continue;
            }
        };
        let Ok(theirs) = open(&bytes, &trust.origin, &trust.key) else {
            seen.push(format!("{name}: serves a checkpoint not signed by the log"));
            continue;
        };
        match relate(src, &trust.key, &trust.origin, &theirs, new) {
            Ok(Relation::Extends(_)) => seen.push(format!(
                "{name}: its size {} is consistent with the log's",
                theirs.checkpoint.size.0
            )),
            Ok(Relation::Stale) => seen.push(format!(
                "{name}: has cosigned size {}, larger than the {} the log serves here (consistent: this view of the log is behind)",
                theirs.checkpoint.size.0, new.checkpoint.size.0
            )),
            Err(Divergence::Fork(fork)) => {
                let (evidence, proven) = *fork;
                let out: PathBuf = match evidence_out {
                    Some(p) => p.to_path_buf(),
                    None => state.with_file_name(format!(
                        "evidence-witness-{}.json",
                        evidence.observed_at_unix
                    )),
                };
                write_atomic(&out, evidence.to_json().as_bytes())?;
                return Err(failed(format!(
                    "FORK: witness {name} has cosigned another tree of this log: {proven}; evidence written to {}; the state file is unchanged",
                    out.display()
                )));
            }
            Err(Divergence::Unchecked(p)) => {
                let m = match p {
                    Problem::Unable(m) | Problem::Failed(m) => m,
                };
                seen.push(format!("{name}: could not be compared ({m})"));
            }
        }
    }
    if !seen.is_empty() {
        v.add("witnesses' views", "witness_views", json!(seen));
    }
    Ok(())
}

/// `monitor --state FILE`.
pub fn monitor(log: &LogArgs, key: &KeyArgs, state: &Path, evidence_out: Option<&Path>) -> Outcome {
    let trust = log_key(key)?;
    let (vkey, origin) = (&trust.key, &trust.origin);
    let src = open_source(&log.log)?;
    let new = latest(&src, &trust)?;
    let mut v = Verified::default();
    if !state.exists() {
        compare_with_witnesses(&src, &trust, &new, state, evidence_out, &mut v)?;
        write_atomic(state, &new.raw)?;
        v.add("first run", "first_run", json!(true));
        v.add("remembered size", "size", json!(new.checkpoint.size.0));
        v.add(
            "remembered root",
            "root",
            json!(new.checkpoint.root.to_base64()),
        );
        trust.describe(&mut v);
        return Ok(v);
    }
    let old_bytes =
        std::fs::read(state).map_err(|e| unable(format!("{}: {e}", state.display())))?;
    let old = open(&old_bytes, origin, vkey).map_err(|e| {
        unable(format!(
            "the state file {} does not hold a checkpoint of this log: {e}",
            state.display()
        ))
    })?;
    match relate(&src, vkey, origin, &old, &new) {
        Ok(Relation::Extends(_)) => {
            compare_with_witnesses(&src, &trust, &new, state, evidence_out, &mut v)?;
            write_atomic(state, &new.raw)?;
            v.add(
                "previous size",
                "previous_size",
                json!(old.checkpoint.size.0),
            );
            v.add("size", "size", json!(new.checkpoint.size.0));
            v.add("root", "root", json!(new.checkpoint.root.to_base64()));
            v.add("consistent", "consistent", json!(true));
            trust.describe(&mut v);
            Ok(v)
        }
        Ok(Relation::Stale) => Err(unable(format!(
            "{}; the state file is unchanged",
            match stale(&src, &old, &new) {
                Problem::Unable(m) | Problem::Failed(m) => m,
            }
        ))),
        Err(Divergence::Fork(fork)) => {
            // `relate` has verified this evidence: it proves the fork.
            let (evidence, proven) = *fork;
            let out: PathBuf = match evidence_out {
                Some(p) => p.to_path_buf(),
                None => {
                    state.with_file_name(format!("evidence-{}.json", evidence.observed_at_unix))
                }
            };
            write_atomic(&out, evidence.to_json().as_bytes())?;
            Err(failed(format!(
                "FORK: {proven}; evidence written to {} (check it with `ledger-verify evidence verify`); the state file is unchanged",
                out.display()
            )))
        }
        Err(Divergence::Unchecked(p)) => Err(p),
    }
}

/// `evidence verify FILE`: 0 if the evidence proves that the log signed two
/// checkpoints that do not extend each other, 1 if it does not prove it
/// (ledger-core `evidence`, spec/evidence.md §3).
pub fn verify_evidence(file: &Path, key: &KeyArgs) -> Outcome {
    let trust = log_key(key)?;
    let (vkey, origin) = (&trust.key, &trust.origin);
    let meta = std::fs::metadata(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    if meta.len() > MAX_EVIDENCE_BYTES as u64 {
        return Err(failed(format!(
            "{} is too large for evidence",
            file.display()
        )));
    }
    let text = std::fs::read(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    let checked = Evidence::parse(&text)
        .and_then(|ev| ev.verify(origin, vkey))
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
