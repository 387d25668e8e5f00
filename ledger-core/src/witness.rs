//! The witness protocol's formats and decision (c2sp.org/tlog-witness,
//! `add-checkpoint`; spec/witness.md): the request body, the `409` size body, and
//! the checks a witness makes once the checkpoint's log signature has verified.
//! No I/O: the witness service (verifier-cli) and the log's client (the server)
//! both use this module.

use crate::TreeSize;
use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::index::parse_canonical_u64;
use crate::lines::{self, Lines};
use crate::proof::{ConsistencyProof, ProofError, prove_consistency};
use crate::tree::{HashReader, TreeError};

/// The most consistency proof lines a request may carry (c2sp.org/tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// The largest request body accepted: an `old` line, 63 proof lines and the
/// largest signed note (c2sp.org/signed-note limit used by ledger-core).
pub const MAX_REQUEST_BYTES: usize = 32 + MAX_PROOF_LINES * 45 + 1 + crate::note::MAX_NOTE_SIZE;

/// The `Content-Type` of a `409 Conflict` answer that carries the witness's
/// latest cosigned size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why a request body or size body is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessFormatError {
    /// Larger than [`MAX_REQUEST_BYTES`].
    #[error("the request is {0} bytes; the limit is {MAX_REQUEST_BYTES}")]
    TooLarge(usize),
    /// The body breaks the format (what is named).
    #[error("malformed add-checkpoint request: {0}")]
    Format(String),
}

fn format_err(s: impl Into<String>) -> WitnessFormatError {
    WitnessFormatError::Format(s.into())
}

/// An `add-checkpoint` request body (c2sp.org/tlog-witness): the size the client
/// believes the witness last cosigned, a consistency proof from it, and the
/// signed checkpoint. Nothing in it is trusted until checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The `old` size.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpointRequest {
    /// The body: `old N\n`, one base64 hash per line, an empty line, the note.
    pub fn encode(&self) -> Vec<u8> {
        lines::encode(
            format!("old {}\n", self.old_size),
            &self.proof,
            &self.checkpoint,
        )
    }

    /// Parses a body strictly: the size limit first, `old` and one space and a
    /// canonical decimal, at most [`MAX_PROOF_LINES`] canonical base64 hashes of
    /// 32 bytes, an empty line, and a non-empty checkpoint (parsed as a note by
    /// the caller). Every line ends in `\n`.
    ///
    /// # Errors
    /// [`WitnessFormatError`].
    pub fn parse(body: &[u8]) -> Result<AddCheckpointRequest, WitnessFormatError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(WitnessFormatError::TooLarge(body.len()));
        }
        let mut lines = Lines::new(body);
        let old_size = lines
            .next("the old size line")
            .map_err(format_err)?
            .strip_prefix("old ")
            .and_then(parse_canonical_u64)
            .ok_or_else(|| {
                format_err("the first line must be `old N`, N a decimal without leading zeros")
            })?;
        let proof = lines
            .hashes(MAX_PROOF_LINES, "proof lines")
            .map_err(format_err)?;
        let checkpoint = lines.checkpoint().map_err(format_err)?;
        Ok(AddCheckpointRequest {
            old_size,
            proof,
            checkpoint,
        })
    }
}

/// The proof lines a log sends with a checkpoint of `size` to a witness that
/// last cosigned `old` (c2sp.org/tlog-witness): empty from 0 and to the same
/// size, empty from a larger size too (the witness answers that with 400), and
/// otherwise the RFC 9162 consistency proof, read from `reader`.
///
/// # Errors
/// A [`TreeError`] from reading the hashes.
pub fn proof_lines(old: u64, size: u64, reader: &impl HashReader) -> Result<Vec<Hash>, TreeError> {
    if old == 0 || old >= size {
        return Ok(Vec::new());
    }
    prove_consistency(TreeSize(old), TreeSize(size), reader).map(|p| p.path)
}

/// The body of a `409 Conflict` with [`SIZE_CONTENT_TYPE`]: the size, `\n`.
pub fn encode_size(size: u64) -> String {
    format!("{size}\n")
}

/// Parses a [`SIZE_CONTENT_TYPE`] body: a canonical decimal and one `\n`.
///
/// # Errors
/// [`WitnessFormatError::Format`].
pub fn parse_size(body: &[u8]) -> Result<u64, WitnessFormatError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .and_then(parse_canonical_u64)
        .ok_or_else(|| format_err("a size body is a decimal without leading zeros and one newline"))
}

/// Why a witness refuses a checkpoint whose log signature verified, in the
/// order c2sp.org/tlog-witness checks them, with the HTTP status of each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `old` is larger than the checkpoint's size: 400.
    #[error("old size {old} is larger than the checkpoint's size {size}")]
    OldSizeTooLarge {
        /// The request's `old`.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// `old` is not the size the witness last cosigned: 409 with that size.
    #[error("old size {old} is not the latest cosigned size {latest}")]
    StaleOldSize {
        /// The request's `old`.
        old: u64,
        /// The witness's latest cosigned size (0 if none).
        latest: u64,
    },
    /// A size-0 checkpoint whose root is not the empty tree's: 422.
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    EmptyTreeRoot,
    /// The consistency proof does not verify: 422. With a valid log signature,
    /// this may be evidence of a fork.
    #[error("the consistency proof from {old} to {size} does not verify: {source}")]
    BadProof {
        /// The cosigned size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// Why.
        source: ProofError,
    },
    /// The checkpoint has the latest cosigned size but another root: 409 without
    /// a size body (c2sp.org/tlog-witness). Two signed roots for one size: a fork.
    #[error("size {size} was cosigned with root {cosigned}, this checkpoint has {root}")]
    RootMismatch {
        /// The size.
        size: u64,
        /// The root cosigned before.
        cosigned: Hash,
        /// The checkpoint's root.
        root: Hash,
    },
}

impl Refusal {
    /// The HTTP status c2sp.org/tlog-witness requires.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::OldSizeTooLarge { .. } => 400,
            Refusal::StaleOldSize { .. } | Refusal::RootMismatch { .. } => 409,
            Refusal::EmptyTreeRoot | Refusal::BadProof { .. } => 422,
        }
    }

    /// Whether the log signed something inconsistent with what was cosigned: a
    /// refusal worth keeping as evidence.
    pub fn is_inconsistency(&self) -> bool {
        matches!(
            self,
            Refusal::BadProof { .. } | Refusal::RootMismatch { .. }
        )
    }
}

/// The checks a witness makes on a checkpoint whose log signature verified
/// (c2sp.org/tlog-witness, "add-checkpoint"), against `latest`, the checkpoint it
/// last cosigned for that origin (`None` if it never did). `Ok` means cosign it
/// and record it as the latest, atomically with this check.
///
/// # Errors
/// The first [`Refusal`], in the spec's order.
pub fn check_add(
    latest: Option<&Checkpoint>,
    req: &AddCheckpointRequest,
    new: &Checkpoint,
) -> Result<(), Refusal> {
    let size = new.size.0;
    if req.old_size > size {
        return Err(Refusal::OldSizeTooLarge {
            old: req.old_size,
            size,
        });
    }
    let latest_size = latest.map_or(0, |c| c.size.0);
    if req.old_size != latest_size {
        return Err(Refusal::StaleOldSize {
            old: req.old_size,
            latest: latest_size,
        });
    }
    if size == 0 && new.root != Hash::empty_tree() {
        return Err(Refusal::EmptyTreeRoot);
    }
    let old_root = latest.map_or_else(Hash::empty_tree, |c| c.root);
    if req.old_size == size && old_root != new.root {
        return Err(Refusal::RootMismatch {
            size,
            cosigned: old_root,
            root: new.root,
        });
    }
    // From size 0, or to the same size, the proof is empty (c2sp.org/tlog-witness).
    if req.old_size == 0 || req.old_size == size {
        if !req.proof.is_empty() {
            return Err(Refusal::BadProof {
                old: req.old_size,
                size,
                source: ProofError::WrongLength {
                    want: 0,
                    got: req.proof.len(),
                },
            });
        }
        return Ok(());
    }
    let proof = ConsistencyProof {
        old: TreeSize(req.old_size),
        new: TreeSize(size),
        path: req.proof.clone(),
    };
    proof
        .verify(&old_root, &new.root)
        .map_err(|source| Refusal::BadProof {
            old: req.old_size,
            size,
            source,
        })
}

/// The path under a witness's monitoring prefix where it serves its latest
/// cosigned checkpoint of `origin`: the hex SHA-256 of the origin, then
/// `/checkpoint` (spec/witness.md).
pub fn monitoring_path(origin: &str) -> String {
    use sha2::Digest as _;
    format!(
        "{}/checkpoint",
        hex::encode(sha2::Sha256::digest(origin.as_bytes()))
    )
}
