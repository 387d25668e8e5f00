//! The entry envelope: the binary Merkle leaf that the sequencer builds around an
//! agency's signed statement (spec/entry.md §2).
//!
//! ```text
//! offset  size  field
//! 0       1     version            0x01
//! 1       8     index              u64 big-endian, the entry's own leaf index
//! 9       8     sequenced_at_ms    u64 big-endian, Unix milliseconds
//! 17      32    prev               leaf hash of entry index-1 (32 zero bytes for 0)
//! 49      1     agency_prev tag    0x00 = none, 0x01 = present
//! 50      0|8   agency_prev        u64 big-endian, only when the tag is 0x01
//! ..      2     statement length   u16 big-endian, 1..=MAX_STATEMENT_BYTES
//! ..      n     statement          the exact bytes the agency signed
//! ..      32    key hash           SHA-256 of the signer's 32-byte Ed25519 key
//! ..      64    signature          Ed25519 over STATEMENT_SIGNATURE_LABEL || statement
//! ```
//!
//! The leaf hash is `SHA-256(0x00 || envelope)` (RFC 9162 §2.1.1). The encoding is
//! canonical: decoding rejects any other version, tag byte, length, or trailing
//! bytes, so that one entry has exactly one encoding.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::hash::{Hash, leaf_hash};
use crate::index::LeafIndex;
use crate::statement::MAX_STATEMENT_BYTES;

/// The envelope version this code writes and reads.
pub const ENTRY_VERSION: u8 = 1;

/// The envelope's size without the statement, with `agency_prev` present:
/// 1 + 8 + 8 + 32 + 1 + 8 + 2 + 32 + 64.
pub const ENVELOPE_OVERHEAD_MAX: usize = 156;

/// The largest entry: the c2sp.org/tlog-tiles bundle limit (u16 length).
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// The domain-separation label an agency signs before its statement bytes
/// (spec/entry.md §3): `message = STATEMENT_SIGNATURE_LABEL || statement`.
pub const STATEMENT_SIGNATURE_LABEL: &[u8] = b"egov-ledger/v1/statement\0";

/// Why an envelope could not be decoded or built. All are client errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The input ended before the field named.
    #[error("entry is truncated in field {0}")]
    Truncated(&'static str),
    /// The version byte is not 1.
    #[error("unsupported entry version {0}")]
    Version(u8),
    /// The agency_prev tag byte is not 0 or 1.
    #[error("agency_prev tag must be 0 or 1, got {0}")]
    Tag(u8),
    /// The statement length is zero or over the limit.
    #[error("statement length {0} is not in 1..={MAX_STATEMENT_BYTES}")]
    StatementLength(usize),
    /// Bytes follow the signature.
    #[error("{0} trailing bytes after the entry")]
    TrailingBytes(usize),
    /// The entry is larger than a tile bundle allows.
    #[error("entry is {0} bytes; the limit is {MAX_ENTRY_BYTES}")]
    TooLarge(usize),
    /// Index 0 must have an all-zero prev, and agency_prev must precede index.
    #[error("inconsistent links: {0}")]
    Links(&'static str),
}

/// The SHA-256 of an Ed25519 public key's 32 bytes: how an entry names the key
/// that signed its statement (spec/entry.md §2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyHash(pub Hash);

impl KeyHash {
    /// The key hash of `key`.
    pub fn of(key: &VerifyingKey) -> KeyHash {
        KeyHash(Hash(Sha256::digest(key.as_bytes()).into()))
    }
}

/// Signs a statement for submission (spec/entry.md §3).
pub fn sign_statement(key: &SigningKey, statement: &[u8]) -> [u8; 64] {
    key.sign(&signed_message(statement)).to_bytes()
}

/// The message an agency signs: the label, then the statement bytes.
pub fn signed_message(statement: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(STATEMENT_SIGNATURE_LABEL.len() + statement.len());
    m.extend_from_slice(STATEMENT_SIGNATURE_LABEL);
    m.extend_from_slice(statement);
    m
}

/// Why a public key is refused by [`strict_public_key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRejection {
    /// The 32 bytes do not decode to a curve point.
    #[error("not a valid Ed25519 point")]
    NotAPoint,
    /// The point decodes, but these are not its canonical encoding (a `y` of
    /// `p` or more, or a sign bit set on `x = 0`); verifiers differ on such
    /// keys, so none is accepted (spec/entry.md §3.2).
    #[error("not the canonical encoding of its point")]
    NonCanonical,
    /// The point has small order: signatures under it prove nothing.
    #[error("a weak (small-order) key")]
    Weak,
}

/// Decodes a 32-byte Ed25519 public key (RFC 8032 §5.1.3) and refuses the
/// keys that strict verifiers disagree on or that prove nothing: non-canonical
/// encodings and points of small order (spec/entry.md §3.2). Agency, authority,
/// log and witness keys all pass through it.
///
/// # Errors
/// A [`KeyRejection`].
pub fn strict_public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyRejection> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyRejection::NotAPoint)?;
    if key.to_edwards().compress().to_bytes() != *bytes {
        return Err(KeyRejection::NonCanonical);
    }
    if key.is_weak() {
        return Err(KeyRejection::Weak);
    }
    Ok(key)
}

/// Verifies an agency's signature on a statement with RFC 8032 strict
/// verification (`verify_strict`: canonical S, no small-order R or key).
pub fn verify_statement_signature(
    key: &VerifyingKey,
    statement: &[u8],
    signature: &[u8; 64],
) -> bool {
    statement_rule(key, &signed_message(statement), signature)
}

/// The statement rule of spec/entry.md §3.2 over any message: RFC 8032
/// verification with canonical `S`, and no small-order `R` or key
/// (`verify_strict`). [`verify_statement_signature`] applies it to a
/// statement's labelled message; the CCTV vectors pin it (tests/cctv.rs).
pub fn statement_rule(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    key.verify_strict(message, &Signature::from_bytes(signature))
        .is_ok()
}

/// A decoded entry envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry's leaf index.
    pub index: LeafIndex,
    /// When the sequencer sequenced it, in Unix milliseconds.
    pub sequenced_at_ms: u64,
    /// The leaf hash of the previous entry (all zeros for entry 0): the hash chain.
    pub prev: Hash,
    /// The index of the same agency's previous entry, if any.
    pub agency_prev: Option<LeafIndex>,
    /// The statement, exactly as signed.
    pub statement: Vec<u8>,
    /// The hash of the key that signed the statement.
    pub key_hash: KeyHash,
    /// The agency's Ed25519 signature.
    pub signature: [u8; 64],
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], EntryError> {
        if self.rest.len() < n {
            return Err(EntryError::Truncated(field));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], EntryError> {
        Ok(self.take(N, field)?.try_into().expect("took N bytes"))
    }
    fn u64(&mut self, field: &'static str) -> Result<u64, EntryError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
}

impl Entry {
    /// Encodes the envelope (spec/entry.md §2).
    ///
    /// # Errors
    /// [`EntryError`] if the statement length is out of range or the links are
    /// inconsistent, so that only decodable entries are ever produced.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        self.check()?;
        let mut out = Vec::with_capacity(ENVELOPE_OVERHEAD_MAX + self.statement.len());
        out.push(ENTRY_VERSION);
        out.extend_from_slice(&self.index.0.to_be_bytes());
        out.extend_from_slice(&self.sequenced_at_ms.to_be_bytes());
        out.extend_from_slice(&self.prev.0);
        match self.agency_prev {
            None => out.push(0),
            Some(p) => {
                out.push(1);
                out.extend_from_slice(&p.0.to_be_bytes());
            }
        }
        out.extend_from_slice(&(self.statement.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.statement);
        out.extend_from_slice(&self.key_hash.0.0);
        out.extend_from_slice(&self.signature);
        Ok(out)
    }

    fn check(&self) -> Result<(), EntryError> {
        if self.statement.is_empty() || self.statement.len() > MAX_STATEMENT_BYTES {
            return Err(EntryError::StatementLength(self.statement.len()));
        }
        if self.index.0 == 0 && self.prev != Hash::default() {
            return Err(EntryError::Links("entry 0 must have an all-zero prev"));
        }
        if self.agency_prev.is_some_and(|p| p >= self.index) {
            return Err(EntryError::Links("agency_prev must be smaller than index"));
        }
        Ok(())
    }

    /// Decodes an envelope, rejecting anything non-canonical (spec/entry.md §2).
    ///
    /// # Errors
    /// An [`EntryError`] naming the field at fault.
    pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let mut r = Reader { rest: bytes };
        let version = r.array::<1>("version")?[0];
        if version != ENTRY_VERSION {
            return Err(EntryError::Version(version));
        }
        let index = LeafIndex(r.u64("index")?);
        let sequenced_at_ms = r.u64("sequenced_at_ms")?;
        let prev = Hash(r.array("prev")?);
        let agency_prev = match r.array::<1>("agency_prev tag")?[0] {
            0 => None,
            1 => Some(LeafIndex(r.u64("agency_prev")?)),
            t => return Err(EntryError::Tag(t)),
        };
        let len = usize::from(u16::from_be_bytes(r.array("statement length")?));
        if len == 0 || len > MAX_STATEMENT_BYTES {
            return Err(EntryError::StatementLength(len));
        }
        let statement = r.take(len, "statement")?.to_vec();
        let key_hash = KeyHash(Hash(r.array("key hash")?));
        let signature = r.array("signature")?;
        if !r.rest.is_empty() {
            return Err(EntryError::TrailingBytes(r.rest.len()));
        }
        let entry = Entry {
            index,
            sequenced_at_ms,
            prev,
            agency_prev,
            statement,
            key_hash,
            signature,
        };
        entry.check()?;
        Ok(entry)
    }

    /// The entry's leaf hash: SHA-256(0x00 || envelope) (RFC 9162 §2.1.1).
    ///
    /// # Errors
    /// As [`Entry::encode`].
    pub fn leaf_hash(&self) -> Result<Hash, EntryError> {
        Ok(leaf_hash(&self.encode()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Issue #14 item 12: weak keys and non-canonical encodings are refused.
    #[test]
    fn strict_public_keys() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(strict_public_key(&identity), Err(KeyRejection::Weak));
        // y = 1 + p: the identity again, written with a y of p or more.
        let mut big_y = [0xffu8; 32];
        big_y[0] = 0xee;
        big_y[31] = 0x7f;
        assert!(VerifyingKey::from_bytes(&big_y).is_ok(), "dalek decodes it");
        assert_eq!(strict_public_key(&big_y), Err(KeyRejection::NonCanonical));
        // x = 0 with the sign bit set.
        let mut signed_zero = identity;
        signed_zero[31] = 0x80;
        assert_eq!(
            strict_public_key(&signed_zero),
            Err(KeyRejection::NonCanonical)
        );
        let good = SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        assert_eq!(strict_public_key(good.as_bytes()), Ok(good));
    }

    fn sample(index: u64, agency_prev: Option<u64>) -> Entry {
        Entry {
            index: LeafIndex(index),
            sequenced_at_ms: 1_795_852_800_123,
            prev: if index == 0 {
                Hash::default()
            } else {
                Hash([9; 32])
            },
            agency_prev: agency_prev.map(LeafIndex),
            statement: br#"{"v":1}"#.to_vec(),
            key_hash: KeyHash(Hash([7; 32])),
            signature: [5; 64],
        }
    }

    #[test]
    fn round_trip_and_layout() {
        for e in [sample(0, None), sample(12, Some(3))] {
            let bytes = e.encode().unwrap();
            let overhead = ENVELOPE_OVERHEAD_MAX - if e.agency_prev.is_none() { 8 } else { 0 };
            assert_eq!(bytes.len(), overhead + e.statement.len());
            assert_eq!(Entry::decode(&bytes).unwrap(), e);
            assert_eq!(e.leaf_hash().unwrap(), leaf_hash(&bytes));
        }
    }

    #[test]
    fn malformed_envelopes_are_rejected() {
        let good = sample(12, Some(3)).encode().unwrap();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (good[..good.len() - 1].to_vec(), "truncated signature"),
            ([good.as_slice(), &[0]].concat(), "trailing byte"),
        ];
        let mut v = good.clone();
        v[0] = 2;
        cases.push((v, "version 2"));
        let mut v = good.clone();
        v[49] = 2;
        cases.push((v, "tag 2"));
        let mut v = good.clone();
        v[58..60].copy_from_slice(&0u16.to_be_bytes());
        cases.push((v, "zero statement length"));
        let mut v = good.clone();
        v[58..60].copy_from_slice(&100u16.to_be_bytes());
        cases.push((v, "length past the end"));
        let mut v = good.clone();
        v[50..58].copy_from_slice(&12u64.to_be_bytes());
        cases.push((v, "agency_prev == index"));
        let mut v = sample(0, None).encode().unwrap();
        v[17] = 1;
        cases.push((v, "entry 0 with non-zero prev"));
        cases.push((vec![1; MAX_ENTRY_BYTES + 1], "too large"));
        for (bytes, why) in cases {
            assert!(Entry::decode(&bytes).is_err(), "accepted: {why}");
        }
    }

    #[test]
    fn statement_signatures() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let sig = sign_statement(&key, b"hello");
        assert!(verify_statement_signature(
            &key.verifying_key(),
            b"hello",
            &sig
        ));
        assert!(!verify_statement_signature(
            &key.verifying_key(),
            b"hellp",
            &sig
        ));
        // Without the label the signature is not valid: domain separation.
        let bare = key.sign(b"hello").to_bytes();
        assert!(!verify_statement_signature(
            &key.verifying_key(),
            b"hello",
            &bare
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Entry::decode(&bytes);
        }

        #[test]
        fn decode_encode_is_identity(
            index in 1u64..u64::MAX, prev_gap in proptest::option::of(1u64..1000),
            ms in any::<u64>(), stmt in proptest::collection::vec(any::<u8>(), 1..300),
            flip in any::<usize>(),
        ) {
            let e = Entry {
                index: LeafIndex(index),
                sequenced_at_ms: ms,
                prev: Hash([1; 32]),
                agency_prev: prev_gap.map(|g| LeafIndex(index.saturating_sub(g))),
                statement: stmt,
                key_hash: KeyHash(Hash([2; 32])),
                signature: [3; 64],
            };
            let bytes = e.encode().unwrap();
            prop_assert_eq!(Entry::decode(&bytes).unwrap(), e.clone());
            // Any single-byte change either fails to decode or decodes to a
            // different entry: the encoding is canonical.
            let mut m = bytes.clone();
            let i = flip % m.len();
            m[i] ^= 0x01;
            if let Ok(d) = Entry::decode(&m) {
                prop_assert_ne!(d, e);
            }
        }
    }
}
