//! Receipts (spec/receipts.md): an entry together with a c2sp.org/tlog-proof@v1
//! proof of its inclusion under a signed checkpoint, verifiable offline with only
//! the log's verifier key.
//!
//! A receipt is a standard `tlog-proof@v1` whose `extra` line carries the entry
//! envelope, alone (form 1) or after a tag and the signer's public key (form 2,
//! spec/receipts.md §1), so that the agency's signature can be checked offline:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of: envelope | 0x02 ‖ signer public key (32) ‖ envelope>
//! index <decimal, no leading zeros>
//! <base64 hash>            (zero or more: the RFC 9162 inclusion path)
//!
//! <signed checkpoint, verbatim>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::{Checkpoint, CheckpointError, Origin, SignedCheckpoint, open_checkpoint};
use ed25519_dalek::VerifyingKey;

use crate::entry::{
    Entry, EntryError, KeyHash, MAX_ENTRY_BYTES, strict_public_key, verify_statement_signature,
};
use crate::hash::{Hash, leaf_hash};
use crate::index::{LeafIndex, parse_canonical_u64};
use crate::lines::{self, Lines};
use crate::note::NoteVerifier;
use crate::proof::{InclusionProof, MAX_PROOF_HASHES, ProofError};
use crate::statement::{Statement, StatementError};

/// The first line of every tlog-proof (c2sp.org/tlog-proof).
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The first byte of a form-2 `extra` (spec/receipts.md §1): the signer's
/// public key follows, then the envelope. An envelope (form 1) starts with its
/// version, `0x01`, so the two never overlap.
pub const SIGNED_EXTRA_TAG: u8 = 0x02;

/// The largest proof or receipt accepted: a maximal entry in base64, a full
/// proof path and a large checkpoint note.
pub const MAX_RECEIPT_BYTES: usize = 256 * 1024;

/// Why a proof or receipt was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The text breaks the tlog-proof format (line named).
    #[error("malformed tlog-proof: {0}")]
    Format(String),
    /// The input is larger than [`MAX_RECEIPT_BYTES`].
    #[error("receipt is {0} bytes; the limit is {MAX_RECEIPT_BYTES}")]
    TooLarge(usize),
    /// A receipt must carry the entry in its `extra` line.
    #[error("the receipt has no extra line carrying the entry")]
    MissingEntry,
    /// The checkpoint does not open.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The entry does not decode.
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
    /// The statement in the entry does not parse.
    #[error("statement: {0}")]
    Statement(#[from] StatementError),
    /// The entry's own index differs from the proof's index.
    #[error("the entry says index {entry}, the proof says {proof}")]
    IndexMismatch {
        /// The entry's index.
        entry: u64,
        /// The proof's index.
        proof: u64,
    },
    /// The statement is for another log.
    #[error("the statement is for origin {found:?}, not {expected:?}")]
    Origin {
        /// The trusted origin.
        expected: String,
        /// The statement's origin.
        found: String,
    },
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion proof: {0}")]
    Proof(#[from] ProofError),
    /// The signer key (carried by the receipt, or given) is not a valid
    /// Ed25519 key by the rule of spec/entry.md §3.2.
    #[error("the signer key is not a valid Ed25519 public key: {0}")]
    SignerKey(String),
    /// The signer key does not hash to the entry's key hash.
    #[error("the signer key hashes to {found}, but the entry names key {expected}")]
    SignerMismatch {
        /// The entry's key hash.
        expected: Hash,
        /// The key's hash.
        found: Hash,
    },
    /// The agency's signature does not verify with the signer key.
    #[error("the entry's signature does not verify with the signer key")]
    BadSignature,
}

fn format_err(s: impl Into<String>) -> ReceiptError {
    ReceiptError::Format(s.into())
}

/// A parsed c2sp.org/tlog-proof@v1. Nothing in it is trusted until verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// The opaque extra data, if present (for receipts: the entry envelope).
    pub extra: Option<Vec<u8>>,
    /// The entry's index.
    pub index: LeafIndex,
    /// The inclusion path.
    pub path: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

impl TlogProof {
    /// Formats the proof (c2sp.org/tlog-proof §Format).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", STANDARD.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        lines::encode(out, &self.path, &self.checkpoint)
    }

    /// Parses a proof strictly: the exact header, an optional canonical-base64
    /// `extra` line, a canonical `index` line, at most [`MAX_PROOF_HASHES`]
    /// canonical base64 hashes, an empty line, then the checkpoint.
    ///
    /// # Errors
    /// [`ReceiptError::Format`] or [`ReceiptError::TooLarge`].
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, ReceiptError> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::TooLarge(bytes.len()));
        }
        let mut lines = Lines::new(bytes);
        let mut next_line = |what: &str| lines.next(what).map_err(format_err);
        if next_line("the header")? != TLOG_PROOF_HEADER {
            return Err(format_err(format!(
                "the first line must be {TLOG_PROOF_HEADER}"
            )));
        }
        let mut line = next_line("the index line")?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            if b64.len() > (MAX_ENTRY_BYTES + 1 + 32).div_ceil(3) * 4 {
                return Err(format_err("the extra line is too long"));
            }
            extra = Some(
                STANDARD
                    .decode(b64)
                    .map_err(|_| format_err("the extra line is not canonical base64"))?,
            );
            line = next_line("the index line")?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_u64)
            .ok_or_else(|| {
                format_err("expected `index N` with N a decimal without leading zeros")
            })?;
        let path = lines
            .hashes(MAX_PROOF_HASHES, "proof hashes")
            .map_err(format_err)?;
        let checkpoint = lines.checkpoint().map_err(format_err)?;
        Ok(TlogProof {
            extra,
            index: LeafIndex(index),
            path,
            checkpoint,
        })
    }

    /// Verifies that the leaf with `leaf` hash is at this proof's index under
    /// the checkpoint, which must be signed by `log_key` for `origin`.
    ///
    /// # Errors
    /// [`ReceiptError::Checkpoint`] or [`ReceiptError::Proof`].
    pub fn verify_leaf(
        &self,
        leaf: &Hash,
        origin: &Origin,
        log_key: &dyn NoteVerifier,
    ) -> Result<SignedCheckpoint, ReceiptError> {
        let signed = open_checkpoint(&self.checkpoint, origin, log_key, &[])?;
        let proof = InclusionProof {
            index: self.index,
            size: signed.checkpoint.size,
            path: self.path.clone(),
        };
        proof.verify(leaf, &signed.checkpoint.root)?;
        Ok(signed)
    }
}

/// A receipt: what an agency gets back for an entry, and can hand to a citizen
/// or business (spec/receipts.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The entry envelope, exactly as logged.
    pub entry: Vec<u8>,
    /// The signer's public key, if the receipt carries it (form 2). Untrusted
    /// until [`Receipt::verify`] checks it against the entry.
    pub signer: Option<VerifyingKey>,
    /// The proof of its inclusion.
    pub proof: TlogProof,
}

/// A receipt that verified: what it proves.
#[derive(Clone, Debug)]
pub struct VerifiedReceipt {
    /// The decoded entry.
    pub entry: Entry,
    /// Its statement.
    pub statement: Statement,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The checkpoint that includes it.
    pub checkpoint: Checkpoint,
    /// The signer key the receipt carries, checked: it hashes to the entry's key
    /// hash and verifies the entry's signature. Whose key it is, is not checked.
    pub signer: Option<VerifyingKey>,
}

impl VerifiedReceipt {
    /// Checks that `key` signed the entry: it hashes to the entry's key hash
    /// and verifies its signature with the strict rule (spec/entry.md §3.2).
    ///
    /// # Errors
    /// [`ReceiptError::SignerMismatch`] or [`ReceiptError::BadSignature`].
    pub fn check_signer(&self, key: &VerifyingKey) -> Result<(), ReceiptError> {
        check_signer(&self.entry, key)
    }
}

/// Checks that `key` signed `entry`: it hashes to the entry's key hash and
/// verifies its signature with the strict rule (spec/entry.md §3.2). Whose key
/// it is, is not checked here.
///
/// # Errors
/// [`ReceiptError::SignerMismatch`] or [`ReceiptError::BadSignature`].
pub fn check_signer(entry: &Entry, key: &VerifyingKey) -> Result<(), ReceiptError> {
    let found = KeyHash::of(key).0;
    if found != entry.key_hash.0 {
        return Err(ReceiptError::SignerMismatch {
            expected: entry.key_hash.0,
            found,
        });
    }
    if !verify_statement_signature(key, &entry.statement, &entry.signature) {
        return Err(ReceiptError::BadSignature);
    }
    Ok(())
}

impl Receipt {
    /// Builds a form-1 receipt (the envelope alone in `extra`) from an entry,
    /// its inclusion path and a signed checkpoint.
    pub fn new(entry: Vec<u8>, index: LeafIndex, path: Vec<Hash>, checkpoint: Vec<u8>) -> Receipt {
        Receipt {
            proof: TlogProof {
                extra: Some(entry.clone()),
                index,
                path,
                checkpoint,
            },
            signer: None,
            entry,
        }
    }

    /// Builds a form-2 receipt, which also carries the signer's public key
    /// (spec/receipts.md §1).
    pub fn new_signed(
        entry: Vec<u8>,
        signer: VerifyingKey,
        index: LeafIndex,
        path: Vec<Hash>,
        checkpoint: Vec<u8>,
    ) -> Receipt {
        let mut extra = Vec::with_capacity(1 + 32 + entry.len());
        extra.push(SIGNED_EXTRA_TAG);
        extra.extend_from_slice(signer.as_bytes());
        extra.extend_from_slice(&entry);
        Receipt {
            proof: TlogProof {
                extra: Some(extra),
                index,
                path,
                checkpoint,
            },
            signer: Some(signer),
            entry,
        }
    }

    /// The receipt as text (a `.tlog-proof` file).
    pub fn encode(&self) -> Vec<u8> {
        self.proof.encode()
    }

    /// Parses a receipt: a tlog-proof whose `extra` line is present, holding an
    /// envelope (form 1) or [`SIGNED_EXTRA_TAG`], a strict Ed25519 public key and
    /// an envelope (form 2).
    ///
    /// # Errors
    /// As [`TlogProof::parse`], [`ReceiptError::MissingEntry`], or
    /// [`ReceiptError::SignerKey`] / [`ReceiptError::Format`] for a form-2
    /// `extra` that is cut short or carries no valid key.
    pub fn parse(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        let proof = TlogProof::parse(bytes)?;
        let extra = proof.extra.as_deref().ok_or(ReceiptError::MissingEntry)?;
        let (signer, entry) = match extra.split_first() {
            Some((&SIGNED_EXTRA_TAG, rest)) => {
                let (key, entry) = rest
                    .split_first_chunk::<32>()
                    .ok_or_else(|| format_err("the extra data is cut short in the signer key"))?;
                let key =
                    strict_public_key(key).map_err(|e| ReceiptError::SignerKey(e.to_string()))?;
                (Some(key), entry.to_vec())
            }
            _ => (None, extra.to_vec()),
        };
        Ok(Receipt {
            entry,
            signer,
            proof,
        })
    }

    /// Verifies the receipt offline (spec/receipts.md §3): the checkpoint's
    /// signature and origin, the entry's encoding and index, the statement's
    /// origin, the inclusion of the entry's leaf hash under the checkpoint and,
    /// for a form-2 receipt, that the signer key it carries hashes to the
    /// entry's key hash and verifies the entry's signature.
    ///
    /// # Errors
    /// The first [`ReceiptError`] found.
    pub fn verify(
        &self,
        origin: &Origin,
        log_key: &dyn NoteVerifier,
    ) -> Result<VerifiedReceipt, ReceiptError> {
        let entry = Entry::decode(&self.entry)?;
        if entry.index != self.proof.index {
            return Err(ReceiptError::IndexMismatch {
                entry: entry.index.0,
                proof: self.proof.index.0,
            });
        }
        let statement = Statement::parse(&entry.statement)?;
        if statement.origin != origin.as_str() {
            return Err(ReceiptError::Origin {
                expected: origin.as_str().to_owned(),
                found: statement.origin.clone(),
            });
        }
        let leaf = leaf_hash(&self.entry);
        let signed = self.proof.verify_leaf(&leaf, origin, log_key)?;
        if let Some(key) = &self.signer {
            check_signer(&entry, key)?;
        }
        Ok(VerifiedReceipt {
            entry,
            statement,
            leaf_hash: leaf,
            checkpoint: signed.checkpoint,
            signer: self.signer,
        })
    }
}
