//! Evidence of a log's misbehaviour (spec/evidence.md): two checkpoints signed by
//! the log that do not extend each other, with the hashes that show it, checkable
//! by anyone with only the log's verifier key.
//!
//! ```text
//! {
//!   "format": "egov-ledger/evidence/v1",
//!   "kind": "fork" | "rollback",
//!   "origin": "<the log's origin>",                 (for people)
//!   "vkey": "<the log's verifier key>",             (for people)
//!   "observed_at_unix": <seconds>,                  (for people)
//!   "earlier": "<signed checkpoint, verbatim>",
//!   "later": "<signed checkpoint, verbatim>",
//!   "proof": null | {"old_size": <u64>, "new_size": <u64>, "path": ["<base64 hash>", ...]},
//!   "problem": "<what the monitor found>"           (for people)
//! }
//! ```
//!
//! [`Evidence::parse`] reads a file strictly (§1); [`Evidence::verify`] applies the
//! checking rules of §3 and returns a typed [`Verdict`]; [`Evidence::new`] and
//! [`full_consistency_path`] build evidence for a monitor (§2).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::json;

use crate::checkpoint::{Checkpoint, CheckpointError, Origin, SignedCheckpoint, open_checkpoint};
use crate::hash::Hash;
use crate::index::TreeSize;
use crate::note::{Ed25519Verifier, NoteVerifier};
use crate::proof::{MAX_PROOF_HASHES, ProofError, consistency_roots, prove_consistency};
use crate::statement::{JsonValue, parse_strict_json};
use crate::tree::{HashReader, TreeError, stored_hash_index};

/// The format's name and version, the value of the `format` field
/// (spec/evidence.md §1).
pub const EVIDENCE_FORMAT: &str = "egov-ledger/evidence/v1";

/// The largest evidence file accepted: two checkpoint notes of at most 64 KiB
/// each and a path of at most [`MAX_PROOF_HASHES`] hashes fit many times over.
pub const MAX_EVIDENCE_BYTES: usize = 1 << 20;

/// The fields of an evidence object (spec/evidence.md §1), in the spec's order.
const FIELDS: &[&str] = &[
    "format",
    "kind",
    "origin",
    "vkey",
    "observed_at_unix",
    "earlier",
    "later",
    "proof",
    "problem",
];

/// The fields of the `proof` object (spec/evidence.md §1).
const PROOF_FIELDS: &[&str] = &["old_size", "new_size", "path"];

/// Why bytes are not evidence, or why its checkpoints are not the log's. Every
/// variant means "this does not prove misbehaviour" (`ledger-verify` exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The input is larger than [`MAX_EVIDENCE_BYTES`].
    #[error("evidence is {size} bytes; the limit is {MAX_EVIDENCE_BYTES}")]
    TooLarge {
        /// The input's size.
        size: usize,
    },
    /// The input is not one strict JSON value (invalid UTF-8 or JSON, duplicate
    /// keys, trailing data, too deep nesting).
    #[error("not evidence (JSON): {0}")]
    Json(String),
    /// The input is not a JSON object whose `format` is [`EVIDENCE_FORMAT`].
    #[error("not evidence: format is not {EVIDENCE_FORMAT:?}")]
    Format,
    /// The `earlier` or `later` checkpoint is missing or not a string.
    #[error("not evidence: no {which:?} checkpoint")]
    MissingCheckpoint {
        /// `"earlier"` or `"later"`.
        which: &'static str,
    },
    /// A field the format does not define (spec/evidence.md §1).
    #[error("not evidence: unknown field {0:?}")]
    UnknownField(String),
    /// A field is missing or has the wrong type or value (spec/evidence.md §1).
    #[error("not evidence: field {field:?} {reason}")]
    Field {
        /// The field's name (`proof.` prefixed inside the proof object).
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `proof.path` is not a list.
    #[error("the path is not a list")]
    PathNotList,
    /// `proof.path` has more than [`MAX_PROOF_HASHES`] hashes.
    #[error("the path has {0} hashes; a full consistency path has at most {MAX_PROOF_HASHES}")]
    PathTooLong(usize),
    /// An element of `proof.path` is not canonical base64 of 32 bytes.
    #[error("a path hash is not base64 of 32 bytes")]
    PathHash,
    /// A checkpoint does not open with the log's key and origin
    /// (spec/evidence.md §3 step 1).
    #[error("the {which:?} checkpoint is not signed by this log's key: {error}")]
    NotSigned {
        /// `"earlier"` or `"later"`.
        which: &'static str,
        /// Why it does not open.
        error: CheckpointError,
    },
}

fn field_err(field: &'static str, reason: &'static str) -> EvidenceError {
    EvidenceError::Field { field, reason }
}

/// What the monitor saw (spec/evidence.md §1, `kind`). For people: a checker
/// derives its verdict from the checkpoints, not from this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// The two checkpoints do not extend each other: what every new evidence
    /// file says, whichever was seen first (#14 item 3).
    Fork,
    /// Written by earlier versions when the later checkpoint was the smaller
    /// one; still read, and proven or not exactly like `fork`. A smaller
    /// checkpoint that is a prefix of the larger tree is stale, not evidence.
    Rollback,
}

impl EvidenceKind {
    /// The wire name: `fork` or `rollback`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Fork => "fork",
            EvidenceKind::Rollback => "rollback",
        }
    }
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `proof` of evidence: the full consistency path of spec/evidence.md §2
/// between the smaller and the larger checkpoint's sizes. Nothing in it is
/// trusted until [`Evidence::verify`] has checked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullConsistencyPath {
    /// The smaller size.
    pub old_size: TreeSize,
    /// The larger size.
    pub new_size: TreeSize,
    /// The RFC 9162 §2.1.4 consistency path from the larger tree, with the node
    /// over the first `old_size` leaves prepended when `old_size` is a power of 2.
    pub path: Vec<Hash>,
}

/// Evidence as written by a monitor (spec/evidence.md §1). Parsing checks its
/// form only; [`Evidence::verify`] says what it proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// What the monitor saw.
    pub kind: EvidenceKind,
    /// The log's origin, for people.
    pub origin: String,
    /// The log's verifier key, for people: a checker uses the key it trusts.
    pub vkey: String,
    /// When the monitor saw the later checkpoint (Unix seconds), for people.
    pub observed_at_unix: u64,
    /// The checkpoint the monitor saw first, verbatim.
    pub earlier: String,
    /// The checkpoint the monitor saw next, verbatim.
    pub later: String,
    /// The full consistency path between the two sizes, if the monitor could
    /// read the larger tree.
    pub proof: Option<FullConsistencyPath>,
    /// What the monitor found, for people.
    pub problem: String,
}

/// What evidence that verified proves: the log signed two trees that do not
/// extend each other (spec/evidence.md §3, steps 3 and 5).
///
/// There is no separate "rollback" misbehaviour: checkpoints carry no time, so a
/// smaller checkpoint seen later proves nothing unless it is also inconsistent
/// with the larger one, and then it is this fork.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Two different roots signed for one size (§3 step 3).
    TwoRootsForOneSize {
        /// The size.
        size: TreeSize,
        /// The earlier checkpoint's root.
        earlier_root: Hash,
        /// The later checkpoint's root.
        later_root: Hash,
    },
    /// The larger signed tree has, at the smaller size, a root other than the one
    /// the log signed for that size (§3 step 5).
    Fork {
        /// The smaller checkpoint's size.
        smaller_size: TreeSize,
        /// The root the log signed for the smaller size.
        smaller_root: Hash,
        /// The larger checkpoint's size.
        larger_size: TreeSize,
        /// The root of the larger tree's first `smaller_size` leaves.
        larger_prefix_root: Hash,
    },
}

impl fmt::Display for Misbehaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misbehaviour::TwoRootsForOneSize { size, .. } => {
                write!(f, "the log signed two different roots for size {size}")
            }
            Misbehaviour::Fork {
                smaller_size,
                smaller_root,
                larger_size,
                larger_prefix_root,
            } => write!(
                f,
                "the log's tree of size {larger_size} has root {} at size {smaller_size}, but the log also signed root {} for size {smaller_size}",
                larger_prefix_root.to_base64(),
                smaller_root.to_base64(),
            ),
        }
    }
}

/// Why evidence whose checkpoints are both the log's proves nothing
/// (spec/evidence.md §3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotProven {
    /// Same size, same root (§3 step 3).
    #[error("both checkpoints are the same tree: nothing is proven")]
    SameTree,
    /// The smaller checkpoint is the empty tree (§3 step 4).
    #[error("every tree extends the empty tree: nothing is proven")]
    EmptyTree,
    /// No `proof` (§3 step 5; a rollback whose larger tree was unreadable).
    #[error(
        "the evidence has no consistency path; without the larger tree's hashes nothing is proven"
    )]
    NoPath,
    /// `proof.old_size` and `proof.new_size` are not the checkpoints' sizes.
    #[error("the path is not between the two checkpoints' sizes")]
    PathSizes,
    /// The path has the wrong length for its sizes.
    #[error("the path: {0}")]
    Path(ProofError),
    /// The path does not lead to the larger checkpoint's root, so its hashes
    /// are not that tree's nodes.
    #[error("the path does not lead to the larger checkpoint's root: it proves nothing")]
    PathMissesRoot,
    /// The larger tree extends the smaller one: no misbehaviour.
    #[error("the larger tree does extend the smaller one: this is not evidence of a fork")]
    Consistent,
}

/// What [`Evidence::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The evidence proves that the log misbehaved.
    Proven(Misbehaviour),
    /// Both checkpoints are the log's, but they do not prove misbehaviour.
    NotProven(NotProven),
}

/// The result of [`Evidence::verify`]: the two opened checkpoints, ordered by
/// size (§3 step 2; for equal sizes, `smaller` is the earlier one), and the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedEvidence {
    /// The checkpoint with the smaller size.
    pub smaller: Checkpoint,
    /// The other checkpoint.
    pub larger: Checkpoint,
    /// What the evidence proves.
    pub verdict: Verdict,
}

impl Evidence {
    /// Builds evidence from two checkpoints of one log that a monitor saw in this
    /// order (spec/evidence.md §1), and the full consistency path between their
    /// sizes if it could read it (see [`full_consistency_path`]). The kind is
    /// [`EvidenceKind::Fork`]; `proof` gets the smaller size as `old_size`.
    pub fn new(
        earlier: &SignedCheckpoint,
        later: &SignedCheckpoint,
        log_key: &Ed25519Verifier,
        observed_at_unix: u64,
        full_path: Option<Vec<Hash>>,
        problem: impl Into<String>,
    ) -> Evidence {
        let (a, b) = (earlier.checkpoint.size, later.checkpoint.size);
        Evidence {
            kind: EvidenceKind::Fork,
            origin: earlier.checkpoint.origin.as_str().to_owned(),
            vkey: log_key.to_vkey(),
            observed_at_unix,
            earlier: String::from_utf8_lossy(&earlier.raw).into_owned(),
            later: String::from_utf8_lossy(&later.raw).into_owned(),
            proof: full_path.map(|path| FullConsistencyPath {
                old_size: a.min(b),
                new_size: a.max(b),
                path,
            }),
            problem: problem.into(),
        }
    }

    /// The evidence as pretty-printed JSON ending in a newline:
    /// the file a monitor writes. [`Evidence::parse`] reads it back to an equal
    /// value, and this printing of that value is the same bytes.
    pub fn to_json(&self) -> String {
        let v = json!({
            "format": EVIDENCE_FORMAT,
            "kind": self.kind.as_str(),
            "origin": self.origin,
            "vkey": self.vkey,
            "observed_at_unix": self.observed_at_unix,
            "earlier": self.earlier,
            "later": self.later,
            "proof": self.proof.as_ref().map(|p| json!({
                "old_size": p.old_size.0,
                "new_size": p.new_size.0,
                "path": p.path.iter().map(Hash::to_base64).collect::<Vec<_>>(),
            })),
            "problem": self.problem,
        });
        format!("{v:#}\n")
    }

    /// Parses evidence strictly (spec/evidence.md §1): at most
    /// [`MAX_EVIDENCE_BYTES`] of one JSON object without duplicate keys, `format`
    /// exactly [`EVIDENCE_FORMAT`], every field of the format present with its
    /// type and no other field, `proof` null or an object whose `path` has at
    /// most [`MAX_PROOF_HASHES`] canonical base64 hashes. JSON whitespace and key
    /// order are free; the checkpoints are not opened here.
    ///
    /// # Errors
    /// The first [`EvidenceError`] found, checking the size, the JSON, the
    /// format, the checkpoints' presence, then the other fields.
    pub fn parse(bytes: &[u8]) -> Result<Evidence, EvidenceError> {
        if bytes.len() > MAX_EVIDENCE_BYTES {
            return Err(EvidenceError::TooLarge { size: bytes.len() });
        }
        let value = parse_strict_json(bytes).map_err(|e| match e {
            crate::statement::StatementError::Json(m) => EvidenceError::Json(m),
            other => EvidenceError::Json(other.to_string()),
        })?;
        let JsonValue::Object(mut top) = value else {
            return Err(EvidenceError::Format);
        };
        if top.get("format").and_then(JsonValue::as_str) != Some(EVIDENCE_FORMAT) {
            return Err(EvidenceError::Format);
        }
        let mut checkpoint = |which: &'static str| match top.remove(which) {
            Some(JsonValue::String(s)) => Ok(s),
            _ => Err(EvidenceError::MissingCheckpoint { which }),
        };
        let earlier = checkpoint("earlier")?;
        let later = checkpoint("later")?;
        if let Some(unknown) = top.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(EvidenceError::UnknownField(unknown.clone()));
        }
        let kind = match take_str(&mut top, "kind")?.as_str() {
            "fork" => EvidenceKind::Fork,
            "rollback" => EvidenceKind::Rollback,
            _ => return Err(field_err("kind", "must be \"fork\" or \"rollback\"")),
        };
        let origin = take_str(&mut top, "origin")?;
        let vkey = take_str(&mut top, "vkey")?;
        let observed_at_unix = take_u64(&mut top, "observed_at_unix")?;
        let problem = take_str(&mut top, "problem")?;
        let proof = match top.remove("proof") {
            None => return Err(field_err("proof", "is missing (write null for none)")),
            Some(JsonValue::Null) => None,
            Some(JsonValue::Object(p)) => Some(parse_proof(p)?),
            Some(_) => return Err(field_err("proof", "must be null or an object")),
        };
        Ok(Evidence {
            kind,
            origin,
            vkey,
            observed_at_unix,
            earlier,
            later,
            proof,
            problem,
        })
    }

    /// Checks the evidence with the log's key and origin (spec/evidence.md §3):
    /// both checkpoints must open; then the verdict follows from their sizes,
    /// roots and the full consistency path. Only `earlier`, `later` and `proof`
    /// are used: `kind`, `origin`, `vkey`, `observed_at_unix` and `problem` are
    /// for people.
    ///
    /// # Errors
    /// [`EvidenceError::NotSigned`] if a checkpoint does not open (the file is
    /// then not evidence about this log). Everything else is a [`Verdict`].
    pub fn verify(
        &self,
        origin: &Origin,
        log_key: &dyn NoteVerifier,
    ) -> Result<CheckedEvidence, EvidenceError> {
        let open = |which: &'static str, text: &str| {
            open_checkpoint(text.as_bytes(), origin, log_key, &[])
                .map(|s| s.checkpoint)
                .map_err(|error| EvidenceError::NotSigned { which, error })
        };
        let earlier = open("earlier", &self.earlier)?;
        let later = open("later", &self.later)?;
        let (smaller, larger) = if later.size < earlier.size {
            (later, earlier)
        } else {
            (earlier, later)
        };
        let verdict = match self.judge(&smaller, &larger) {
            Ok(m) => Verdict::Proven(m),
            Err(n) => Verdict::NotProven(n),
        };
        Ok(CheckedEvidence {
            smaller,
            larger,
            verdict,
        })
    }

    /// Steps 3–5 of spec/evidence.md §3 for checkpoints ordered by size.
    fn judge(&self, small: &Checkpoint, large: &Checkpoint) -> Result<Misbehaviour, NotProven> {
        let (a, b) = (small.size, large.size);
        if a == b {
            if small.root == large.root {
                return Err(NotProven::SameTree);
            }
            return Ok(Misbehaviour::TwoRootsForOneSize {
                size: a,
                earlier_root: small.root,
                later_root: large.root,
            });
        }
        if a.0 == 0 {
            return Err(NotProven::EmptyTree);
        }
        let proof = self.proof.as_ref().ok_or(NotProven::NoPath)?;
        if proof.old_size != a || proof.new_size != b {
            return Err(NotProven::PathSizes);
        }
        let (prefix_root, root) = consistency_roots(a, b, &proof.path).map_err(NotProven::Path)?;
        if root != large.root {
            return Err(NotProven::PathMissesRoot);
        }
        if prefix_root == small.root {
            return Err(NotProven::Consistent);
        }
        Ok(Misbehaviour::Fork {
            smaller_size: a,
            smaller_root: small.root,
            larger_size: b,
            larger_prefix_root: prefix_root,
        })
    }
}

fn take_str(
    top: &mut BTreeMap<String, JsonValue>,
    field: &'static str,
) -> Result<String, EvidenceError> {
    match top.remove(field) {
        Some(JsonValue::String(s)) => Ok(s),
        Some(_) => Err(field_err(field, "must be a string")),
        None => Err(field_err(field, "is missing")),
    }
}

fn take_u64(
    top: &mut BTreeMap<String, JsonValue>,
    field: &'static str,
) -> Result<u64, EvidenceError> {
    match top.remove(field) {
        Some(JsonValue::Number(n)) => n
            .as_u64()
            .ok_or_else(|| field_err(field, "must be an integer from 0 to 2^64-1")),
        Some(_) => Err(field_err(field, "must be a number")),
        None => Err(field_err(field, "is missing")),
    }
}

/// The `proof` object (spec/evidence.md §1).
fn parse_proof(mut p: BTreeMap<String, JsonValue>) -> Result<FullConsistencyPath, EvidenceError> {
    if let Some(unknown) = p.keys().find(|k| !PROOF_FIELDS.contains(&k.as_str())) {
        return Err(EvidenceError::UnknownField(format!("proof.{unknown}")));
    }
    let old_size = take_u64(&mut p, "old_size")
        .map_err(|_| field_err("proof.old_size", "must be an integer from 0 to 2^64-1"))?;
    let new_size = take_u64(&mut p, "new_size")
        .map_err(|_| field_err("proof.new_size", "must be an integer from 0 to 2^64-1"))?;
    let Some(JsonValue::Array(items)) = p.remove("path") else {
        return Err(EvidenceError::PathNotList);
    };
    if items.len() > MAX_PROOF_HASHES {
        return Err(EvidenceError::PathTooLong(items.len()));
    }
    let path = items
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| Hash::from_base64(s).ok())
                .ok_or(EvidenceError::PathHash)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FullConsistencyPath {
        old_size: TreeSize(old_size),
        new_size: TreeSize(new_size),
        path,
    })
}

/// The full consistency path of spec/evidence.md §2 from `old` to `new` leaves,
/// read from the larger tree: the RFC 9162 §2.1.4 consistency proof, with the
/// node over the first `old` leaves prepended when `old` is a power of two.
/// With a reader that authenticates against a signed root (such as
/// [`crate::tile::TileHashReader`]), this is the `proof.path` of evidence.
///
/// # Errors
/// [`TreeError::Invalid`] unless `0 < old < new`; a read error from `reader`.
pub fn full_consistency_path(
    old: TreeSize,
    new: TreeSize,
    reader: &impl HashReader,
) -> Result<Vec<Hash>, TreeError> {
    if old.0 == 0 || old >= new {
        return Err(TreeError::Invalid(
            "a full consistency path needs 0 < old size < new size",
        ));
    }
    let proof = prove_consistency(old, new, reader)?;
    let mut path = Vec::with_capacity(proof.path.len() + 1);
    if old.0.is_power_of_two() {
        let node = stored_hash_index(old.0.trailing_zeros() as u8, 0);
        path.extend(reader.read_hashes(&[node])?);
    }
    path.extend(proof.path);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, sign_checkpoint};
    use crate::note::Ed25519Signer;
    use crate::tree::MemoryTree;

    fn origin() -> Origin {
        Origin::new("ledger.example.gov/egov").unwrap()
    }

    fn signer() -> Ed25519Signer {
        Ed25519Signer::new(
            origin().key_name(),
            ed25519_dalek::SigningKey::from_bytes(&[0x4c; 32]),
        )
    }

    fn tree(prefix: &str, n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.append(format!("{prefix} {i}").as_bytes());
        }
        t
    }

    /// A tree of `n` leaves that shares its first `shared` leaves with `tree("a", _)`.
    fn forked(shared: u64, n: u64) -> MemoryTree {
        let mut t = tree("a", shared);
        for i in shared..n {
            t.append(format!("b {i}").as_bytes());
        }
        t
    }

    fn signed(t: &MemoryTree) -> SignedCheckpoint {
        let note = sign_checkpoint(&Checkpoint::new(origin(), t.size(), t.root()), &signer());
        open_checkpoint(&note, &origin(), &signer().verifier(), &[]).unwrap()
    }

    fn evidence(earlier: &MemoryTree, later: &MemoryTree, reader: Option<&MemoryTree>) -> Evidence {
        let (a, b) = (
            earlier.size().min(later.size()),
            earlier.size().max(later.size()),
        );
        let path = reader.map(|r| full_consistency_path(a, b, r).unwrap());
        Evidence::new(
            &signed(earlier),
            &signed(later),
            &signer().verifier(),
            1_795_852_800,
            path,
            "seen",
        )
    }

    fn verdict(e: &Evidence) -> Verdict {
        e.verify(&origin(), &signer().verifier()).unwrap().verdict
    }

    #[test]
    fn forks_of_every_shape_are_proven_and_consistent_trees_are_not() {
        // Every smaller size 1..=20 against every larger size up to 24, forked at
        // every point before the smaller size (including powers of two, where
        // the full path has the extra node).
        for small in 1..=20u64 {
            for large in small + 1..=24 {
                let honest_small = tree("a", small);
                let honest_large = tree("a", large);
                let e = evidence(&honest_small, &honest_large, Some(&honest_large));
                assert_eq!(verdict(&e), Verdict::NotProven(NotProven::Consistent));
                for shared in [0, small / 2, small - 1] {
                    let fork = forked(shared, large);
                    for (earlier, later) in [(&honest_small, &fork), (&fork, &honest_small)] {
                        let e = evidence(earlier, later, Some(&fork));
                        let Verdict::Proven(Misbehaviour::Fork {
                            smaller_size,
                            larger_prefix_root,
                            ..
                        }) = verdict(&e)
                        else {
                            panic!("{small}->{large} forked at {shared}: not proven");
                        };
                        assert_eq!(smaller_size, TreeSize(small));
                        assert_eq!(larger_prefix_root, fork.root_at(TreeSize(small)).unwrap());
                        assert_eq!(e.kind, EvidenceKind::Fork, "{small}->{large}");
                    }
                }
            }
        }
    }

    #[test]
    fn same_size_and_degenerate_cases() {
        let a = tree("a", 5);
        let b = forked(2, 5);
        let e = evidence(&a, &b, None);
        assert!(matches!(
            verdict(&e),
            Verdict::Proven(Misbehaviour::TwoRootsForOneSize {
                size: TreeSize(5),
                ..
            })
        ));
        assert_eq!(
            verdict(&evidence(&a, &a, None)),
            Verdict::NotProven(NotProven::SameTree)
        );
        assert_eq!(
            verdict(&evidence(&tree("a", 0), &b, None)),
            Verdict::NotProven(NotProven::EmptyTree)
        );
        let big = forked(2, 9);
        assert_eq!(
            verdict(&evidence(&big, &a, None)),
            Verdict::NotProven(NotProven::NoPath)
        );
        // A path from a tree other than the larger checkpoint's proves nothing.
        let other = forked(1, 9);
        let mut e = evidence(&a, &big, Some(&other));
        assert_eq!(verdict(&e), Verdict::NotProven(NotProven::PathMissesRoot));
        // Sizes that are not the checkpoints', or a path of the wrong length.
        e = evidence(&a, &big, Some(&big));
        assert!(matches!(verdict(&e), Verdict::Proven(_)));
        let mut wrong = e.clone();
        wrong.proof.as_mut().unwrap().old_size = TreeSize(4);
        assert_eq!(verdict(&wrong), Verdict::NotProven(NotProven::PathSizes));
        let mut short = e.clone();
        short.proof.as_mut().unwrap().path.pop();
        assert!(matches!(
            verdict(&short),
            Verdict::NotProven(NotProven::Path(ProofError::WrongLength { .. }))
        ));
        // Any flipped path hash makes the path miss the larger root.
        for i in 0..e.proof.as_ref().unwrap().path.len() {
            let mut bad = e.clone();
            bad.proof.as_mut().unwrap().path[i].0[0] ^= 1;
            assert_ne!(verdict(&bad), verdict(&e), "hash {i}");
        }
    }

    #[test]
    fn checkpoints_must_be_the_logs() {
        let e = evidence(&tree("a", 3), &forked(1, 3), None);
        let other = Ed25519Signer::new(
            origin().key_name(),
            ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
        );
        assert!(matches!(
            e.verify(&origin(), &other.verifier()),
            Err(EvidenceError::NotSigned {
                which: "earlier",
                ..
            })
        ));
        let mut e2 = e.clone();
        e2.later = e2.later.replacen("ledger", "Ledger", 1);
        assert!(matches!(
            e2.verify(&origin(), &signer().verifier()),
            Err(EvidenceError::NotSigned { which: "later", .. })
        ));
    }

    #[test]
    fn printing_and_parsing_round_trip() {
        let big = forked(2, 9);
        for e in [
            evidence(&tree("a", 4), &big, Some(&big)),
            evidence(&big, &tree("a", 4), None),
        ] {
            let text = e.to_json();
            let parsed = Evidence::parse(text.as_bytes()).unwrap();
            assert_eq!(parsed, e);
            assert_eq!(parsed.to_json(), text);
            // Whitespace and key order are free.
            let compact =
                serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&text).unwrap())
                    .unwrap();
            assert_eq!(Evidence::parse(&compact).unwrap(), e);
        }
    }

    #[test]
    fn malformed_evidence_is_refused() {
        use EvidenceError as E;
        let big = forked(2, 9);
        let good: serde_json::Value =
            serde_json::from_str(&evidence(&tree("a", 4), &big, Some(&big)).to_json()).unwrap();
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            Evidence::parse(v.to_string().as_bytes())
        };
        let remove = |field: &'static str| {
            with(&move |v: &mut serde_json::Value| {
                v.as_object_mut().unwrap().remove(field);
            })
        };
        let field = |f: &'static str| E::Field {
            field: f,
            reason: "",
        };
        // (case, result, the expected error; a `Field`'s reason is not compared)
        let cases: Vec<(&str, Result<Evidence, EvidenceError>, EvidenceError)> = vec![
            ("array", Evidence::parse(b"[]"), E::Format),
            (
                "not json",
                Evidence::parse(b"{\"format\":"),
                E::Json(String::new()),
            ),
            (
                "trailing",
                Evidence::parse(format!("{good} x").as_bytes()),
                E::Json(String::new()),
            ),
            (
                "format",
                with(&|v| v["format"] = json!("egov-ledger/evidence/v2")),
                E::Format,
            ),
            ("no format", remove("format"), E::Format),
            (
                "no earlier",
                remove("earlier"),
                E::MissingCheckpoint { which: "earlier" },
            ),
            (
                "later not a string",
                with(&|v| v["later"] = json!(7)),
                E::MissingCheckpoint { which: "later" },
            ),
            (
                "unknown",
                with(&|v| v["extra"] = json!(1)),
                E::UnknownField("extra".into()),
            ),
            ("kind", with(&|v| v["kind"] = json!("split")), field("kind")),
            ("no kind", remove("kind"), field("kind")),
            ("no problem", remove("problem"), field("problem")),
            ("vkey", with(&|v| v["vkey"] = json!(null)), field("vkey")),
            (
                "time",
                with(&|v| v["observed_at_unix"] = json!(-1)),
                field("observed_at_unix"),
            ),
            (
                "time float",
                with(&|v| v["observed_at_unix"] = json!(1.5)),
                field("observed_at_unix"),
            ),
            ("no proof", remove("proof"), field("proof")),
            (
                "proof list",
                with(&|v| v["proof"] = json!([])),
                field("proof"),
            ),
            (
                "proof unknown",
                with(&|v| v["proof"]["x"] = json!(1)),
                E::UnknownField("proof.x".into()),
            ),
            (
                "old size",
                with(&|v| v["proof"]["old_size"] = json!("4")),
                field("proof.old_size"),
            ),
            (
                "no new size",
                with(&|v| {
                    v["proof"].as_object_mut().unwrap().remove("new_size");
                }),
                field("proof.new_size"),
            ),
            (
                "path",
                with(&|v| v["proof"]["path"] = json!("abc")),
                E::PathNotList,
            ),
            (
                "path hash",
                with(&|v| v["proof"]["path"][0] = json!("AAAA")),
                E::PathHash,
            ),
            (
                "path hash not canonical",
                with(&|v| {
                    let h = v["proof"]["path"][0].as_str().unwrap().to_owned();
                    v["proof"]["path"][0] = json!(h.replace('=', "A"));
                }),
                E::PathHash,
            ),
            (
                "path long",
                with(&|v| {
                    v["proof"]["path"] =
                        json!(vec![Hash::default().to_base64(); MAX_PROOF_HASHES + 1]);
                }),
                E::PathTooLong(MAX_PROOF_HASHES + 1),
            ),
        ];
        for (name, result, want) in cases {
            let got = result.expect_err(name);
            let same = match (&got, &want) {
                (E::Json(_), E::Json(_)) => true,
                (E::Field { field: a, .. }, E::Field { field: b, .. }) => a == b,
                (a, b) => a == b,
            };
            assert!(same, "{name}: got {got:?}, want {want:?}");
        }
        // Duplicate keys would let two checkers read different checkpoints.
        let text = good.to_string();
        let dup = text.replacen('{', "{\"later\":\"x\",", 1);
        assert!(matches!(
            Evidence::parse(dup.as_bytes()),
            Err(EvidenceError::Json(m)) if m.contains("duplicate")
        ));
        let huge = vec![b' '; MAX_EVIDENCE_BYTES + 1];
        assert_eq!(
            Evidence::parse(&huge),
            Err(EvidenceError::TooLarge {
                size: MAX_EVIDENCE_BYTES + 1
            })
        );
    }

    #[test]
    fn full_path_needs_a_proper_prefix() {
        let t = tree("a", 8);
        for (old, new) in [(0, 8), (8, 8), (9, 8)] {
            assert!(full_consistency_path(TreeSize(old), TreeSize(new), &t).is_err());
        }
        // Power-of-two sizes carry the prefix node first.
        let p = full_consistency_path(TreeSize(4), TreeSize(8), &t).unwrap();
        assert_eq!(p[0], t.root_at(TreeSize(4)).unwrap());
        assert_eq!(
            consistency_roots(TreeSize(4), TreeSize(8), &p).unwrap(),
            (t.root_at(TreeSize(4)).unwrap(), t.root())
        );
    }
}
