//! c2sp.org/tlog-checkpoint: the signed tree head of a log, as a signed note
//! ([`crate::note`]) whose text is
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, base64>
//! [<extension line>...]
//! ```
//!
//! each line ending in a newline. [`open_checkpoint`] is the one entry point that
//! checks a signed checkpoint: the log's signature, the origin, and witness
//! cosignatures (c2sp.org/tlog-cosignature) together.

use std::fmt;

use crate::hash::Hash;
use crate::index::{TreeSize, parse_canonical_u64};
use crate::note::{
    self, Ed25519Signer, KeyId, KeyName, MAX_NOTE_SIZE, NoteError, NoteVerifier, VerifiedNote,
};

/// The longest origin, in bytes.
pub const MAX_ORIGIN_LEN: usize = 255;

/// Everything that can be wrong with a checkpoint. Apart from
/// [`CheckpointError::LogKeyNameMismatch`], every variant is a client error (HTTP
/// 400-like): the data offered is malformed or not signed as required.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note is malformed or its signatures did not verify (client error).
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The checkpoint text is larger than [`MAX_NOTE_SIZE`] (client error).
    #[error("the checkpoint text is {size} bytes, more than {max}")]
    BodyTooLarge {
        /// The size of the text.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The checkpoint text does not end in a newline (client error).
    #[error("the checkpoint text does not end in a newline")]
    BodyMissingNewline,
    /// The checkpoint text has fewer than three lines (client error).
    #[error("the checkpoint text has {got} lines, fewer than 3")]
    TooFewLines {
        /// The number of lines.
        got: usize,
    },
    /// The origin is empty (client error).
    #[error("the origin is empty")]
    OriginEmpty,
    /// The origin is longer than [`MAX_ORIGIN_LEN`] bytes (client error).
    #[error("the origin is {len} bytes, more than {MAX_ORIGIN_LEN}")]
    OriginTooLong {
        /// The length of the origin.
        len: usize,
    },
    /// The origin contains Unicode whitespace (client error).
    #[error("the origin contains whitespace")]
    OriginWhitespace,
    /// The origin contains a '+' (client error).
    #[error("the origin contains '+'")]
    OriginPlus,
    /// The origin contains a control character (category Cc; client error).
    #[error("the origin contains a control character")]
    OriginControl,
    /// The size line is not a canonical decimal u64 (client error).
    #[error("the tree size is not a decimal number without leading zeros")]
    InvalidSize,
    /// The root line is not canonical base64 of 32 bytes (client error).
    #[error("the root hash is not canonical base64 of 32 bytes")]
    InvalidRoot,
    /// An extension line is empty (client error).
    #[error("extension line {line} is empty")]
    EmptyExtension {
        /// The zero-based number of the extension line.
        line: usize,
    },
    /// An extension line contains a control character, such as a newline (client
    /// error).
    #[error("extension line {line} contains a control character")]
    ExtensionControl {
        /// The zero-based number of the extension line.
        line: usize,
    },
    /// The checkpoint is for another log (client error).
    #[error("the checkpoint is for origin {got}, not {expected}")]
    OriginMismatch {
        /// The origin the caller expected.
        expected: Origin,
        /// The origin in the checkpoint.
        got: Origin,
    },
    /// The note verified, but not with the log's key: witness signatures alone are
    /// not enough (client error).
    #[error("the checkpoint is not signed by the log key")]
    MissingLogSignature,
    /// A checkpoint of size 0 whose root is not the empty tree's root,
    /// SHA-256 of no bytes (RFC 9162 §2.1.1): a signed impossibility (client error).
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    EmptyTreeRoot,
    /// The log key's name is not the origin. This is a mistake in the caller's
    /// configuration (HTTP 500-like), not in the checkpoint.
    #[error("the log key is named {key}, but the origin is {origin}")]
    LogKeyNameMismatch {
        /// The log key's name.
        key: KeyName,
        /// The origin.
        origin: Origin,
    },
}

/// A log's origin line (c2sp.org/tlog-checkpoint, "Note text"): non-empty UTF-8 of
/// at most [`MAX_ORIGIN_LEN`] bytes, with no Unicode whitespace, no '+' and no
/// control character (category Cc: U+0000–U+001F, U+007F–U+009F, as statements
/// require, spec/entry.md §1.4). The spec only recommends the last three rules; we
/// require them so that the origin is also the log's key name, and so that a log
/// can always accept its own genesis statement.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Origin(String);

impl Origin {
    /// Checks and wraps an origin.
    ///
    /// # Errors
    /// [`CheckpointError::OriginEmpty`], [`CheckpointError::OriginTooLong`],
    /// [`CheckpointError::OriginWhitespace`], [`CheckpointError::OriginPlus`] or
    /// [`CheckpointError::OriginControl`].
    pub fn new(origin: &str) -> Result<Origin, CheckpointError> {
        if origin.is_empty() {
            return Err(CheckpointError::OriginEmpty);
        }
        if origin.len() > MAX_ORIGIN_LEN {
            return Err(CheckpointError::OriginTooLong { len: origin.len() });
        }
        for c in origin.chars() {
            if c.is_whitespace() {
                return Err(CheckpointError::OriginWhitespace);
            }
            if c == '+' {
                return Err(CheckpointError::OriginPlus);
            }
            if c.is_control() {
                return Err(CheckpointError::OriginControl);
            }
        }
        Ok(Origin(origin.to_owned()))
    }

    /// The origin as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin as a key name: the name the log's key must have.
    pub fn key_name(&self) -> KeyName {
        // Every origin satisfies the (weaker) key name rules.
        KeyName::from_checked(&self.0)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A checkpoint's text (c2sp.org/tlog-checkpoint, "Note text").
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    /// The log's origin.
    pub origin: Origin,
    /// The tree size.
    pub size: TreeSize,
    /// The RFC 9162 root hash of the tree of that size.
    pub root: Hash,
    /// Extension lines, without their newlines: each non-empty, with no control
    /// character. Not recommended by the spec; our log writes none.
    pub extensions: Vec<String>,
}

/// Checks one extension line.
fn check_extension(line: usize, text: &str) -> Result<(), CheckpointError> {
    if text.is_empty() {
        return Err(CheckpointError::EmptyExtension { line });
    }
    if text.bytes().any(|b| b < 0x20) {
        return Err(CheckpointError::ExtensionControl { line });
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: Origin, size: TreeSize, root: Hash) -> Checkpoint {
        Checkpoint {
            origin,
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: origin, size, base64 root and extension lines, each ending in
    /// a newline. Extension lines are not checked here; [`sign_checkpoint`] does.
    pub fn to_body(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Parses a checkpoint text: at least three lines, each ending in a newline;
    /// the size without leading zeros; the root as canonical base64; non-empty
    /// extension lines.
    ///
    /// # Errors
    /// [`CheckpointError::BodyTooLarge`], [`CheckpointError::BodyMissingNewline`],
    /// [`CheckpointError::TooFewLines`], an origin error,
    /// [`CheckpointError::InvalidSize`], [`CheckpointError::InvalidRoot`],
    /// [`CheckpointError::EmptyExtension`] or [`CheckpointError::ExtensionControl`].
    pub fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        if body.len() > MAX_NOTE_SIZE {
            return Err(CheckpointError::BodyTooLarge {
                size: body.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::BodyMissingNewline)?
            .split('\n')
            .collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines { got: lines.len() });
        };
        let origin = Origin::new(origin)?;
        let size = parse_canonical_u64(size).ok_or(CheckpointError::InvalidSize)?;
        let root = Hash::from_base64(root).map_err(|_| CheckpointError::InvalidRoot)?;
        for (i, ext) in extensions.iter().enumerate() {
            check_extension(i, ext)?;
        }
        Ok(Checkpoint {
            origin,
            size: TreeSize(size),
            root,
            extensions: extensions.iter().map(|s| (*s).to_owned()).collect(),
        })
    }
}

/// A witness cosignature found on a checkpoint and verified.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WitnessSignature {
    /// The witness's key name.
    pub name: KeyName,
    /// The witness's key ID.
    pub id: KeyId,
    /// The cosignature's timestamp (POSIX seconds), for c2sp.org/tlog-cosignature
    /// keys; `None` for a witness that signs with a plain Ed25519 note key.
    pub timestamp: Option<u64>,
}

/// A checkpoint whose log signature (and any known witness cosignatures) verified,
/// as returned by [`open_checkpoint`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The verified note, with its signatures by known and unknown keys.
    pub note: VerifiedNote,
    /// The witnesses whose cosignatures verified, in note order.
    pub witnesses: Vec<WitnessSignature>,
    /// The signed note exactly as received.
    pub raw: Vec<u8>,
}

/// Opens a signed checkpoint of the log `origin`, whose key is `log_key`, and checks
/// the cosignatures of the `witnesses` it knows (c2sp.org/tlog-checkpoint,
/// "Signatures"; c2sp.org/tlog-cosignature). A valid signature by `log_key` is
/// required; witness signatures alone are not enough. Signatures by unknown keys
/// are ignored; a signature by a known key (log or witness) that fails rejects the
/// checkpoint, as in [`note::open`].
///
/// # Errors
/// [`CheckpointError::LogKeyNameMismatch`] if `log_key` is not named `origin`;
/// [`CheckpointError::Note`] if the note is malformed or a known key's signature
/// fails; [`CheckpointError::MissingLogSignature`]; any
/// [`Checkpoint::parse_body`] error; [`CheckpointError::EmptyTreeRoot`];
/// [`CheckpointError::OriginMismatch`].
pub fn open_checkpoint(
    bytes: &[u8],
    origin: &Origin,
    log_key: &dyn NoteVerifier,
    witnesses: &[&dyn NoteVerifier],
) -> Result<SignedCheckpoint, CheckpointError> {
    if log_key.name().as_str() != origin.as_str() {
        return Err(CheckpointError::LogKeyNameMismatch {
            key: log_key.name().clone(),
            origin: origin.clone(),
        });
    }
    let mut verifiers: Vec<&dyn NoteVerifier> = Vec::with_capacity(1 + witnesses.len());
    verifiers.push(log_key);
    verifiers.extend_from_slice(witnesses);
    let note = note::open(bytes, &verifiers)?;
    if !note.is_signed_by(log_key.name(), log_key.key_id()) {
        return Err(CheckpointError::MissingLogSignature);
    }
    let checkpoint = Checkpoint::parse_body(note.text())?;
    if checkpoint.size.0 == 0 && checkpoint.root != Hash::empty_tree() {
        return Err(CheckpointError::EmptyTreeRoot);
    }
    if &checkpoint.origin != origin {
        return Err(CheckpointError::OriginMismatch {
            expected: origin.clone(),
            got: checkpoint.origin,
        });
    }
    let witnesses = note
        .verified_signatures()
        .iter()
        .filter_map(|sig| {
            let w = witnesses
                .iter()
                .find(|w| w.name() == &sig.name && w.key_id() == sig.id)?;
            Some(WitnessSignature {
                name: sig.name.clone(),
                id: sig.id,
                timestamp: w.signed_timestamp(&sig.signature),
            })
        })
        .collect();
    Ok(SignedCheckpoint {
        checkpoint,
        note,
        witnesses,
        raw: bytes.to_vec(),
    })
}

/// Signs a checkpoint with the log's key, which must be named after the origin.
///
/// # Errors
/// [`CheckpointError::LogKeyNameMismatch`], [`CheckpointError::EmptyExtension`] or
/// [`CheckpointError::ExtensionControl`] for a bad extension line, or
/// [`CheckpointError::Note`] if the note would be too large.
pub fn try_sign_checkpoint(
    cp: &Checkpoint,
    signer: &Ed25519Signer,
) -> Result<Vec<u8>, CheckpointError> {
    if signer.name().as_str() != cp.origin.as_str() {
        return Err(CheckpointError::LogKeyNameMismatch {
            key: signer.name().clone(),
            origin: cp.origin.clone(),
        });
    }
    for (i, ext) in cp.extensions.iter().enumerate() {
        check_extension(i, ext)?;
    }
    Ok(note::sign(&cp.to_body(), &[signer])?)
}

/// Signs a checkpoint with the log's key, which must be named after the origin.
///
/// # Panics
/// If [`try_sign_checkpoint`] fails: the signer is not named after the origin, or an
/// extension line is empty, contains a control character or is huge. These are
/// mistakes of the caller, never of received data; a checkpoint without extension
/// lines signed by a key named after its origin always signs.
pub fn sign_checkpoint(cp: &Checkpoint, signer: &Ed25519Signer) -> Vec<u8> {
    match try_sign_checkpoint(cp, signer) {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot sign checkpoint: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{CosignatureSigner, Note};
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    const ORIGIN: &str = "example.com/log";

    fn origin() -> Origin {
        Origin::new(ORIGIN).unwrap()
    }

    fn log_signer() -> Ed25519Signer {
        Ed25519Signer::new(origin().key_name(), SigningKey::from_bytes(&[1; 32]))
    }

    fn witness() -> CosignatureSigner {
        CosignatureSigner::new(
            KeyName::new("witness.example/w1").unwrap(),
            SigningKey::from_bytes(&[2; 32]),
        )
    }

    fn checkpoint(size: u64) -> Checkpoint {
        Checkpoint::new(
            origin(),
            TreeSize(size),
            crate::hash::leaf_hash(&size.to_be_bytes()),
        )
    }

    #[test]
    fn origins() {
        assert_eq!(origin().as_str(), ORIGIN);
        assert_eq!(origin().key_name().as_str(), ORIGIN);
        assert!(Origin::new(&"a".repeat(MAX_ORIGIN_LEN)).is_ok());
        let long = "a".repeat(MAX_ORIGIN_LEN + 1);
        let table: &[(&str, CheckpointError)] = &[
            ("", CheckpointError::OriginEmpty),
            (
                &long,
                CheckpointError::OriginTooLong {
                    len: MAX_ORIGIN_LEN + 1,
                },
            ),
            ("a b", CheckpointError::OriginWhitespace),
            ("a\u{3000}b", CheckpointError::OriginWhitespace),
            ("a+b", CheckpointError::OriginPlus),
            ("a\u{0}b", CheckpointError::OriginControl),
            ("a\u{7f}b", CheckpointError::OriginControl),
            // C1 controls too, as statements refuse them (spec/entry.md §1.4).
            ("a\u{85}b", CheckpointError::OriginWhitespace),
            ("a\u{80}b", CheckpointError::OriginControl),
            ("a\u{9f}b", CheckpointError::OriginControl),
        ];
        for (input, want) in table {
            assert_eq!(Origin::new(input).as_ref(), Err(want), "{input:?}");
        }
    }

    #[test]
    fn body_round_trip() {
        let mut cp = checkpoint(15);
        let body = cp.to_body();
        assert_eq!(body, format!("{ORIGIN}\n15\n{}\n", cp.root.to_base64()));
        assert_eq!(Checkpoint::parse_body(&body), Ok(cp.clone()));
        cp.extensions = vec!["ext one".into(), "\u{2014}two".into()];
        assert_eq!(Checkpoint::parse_body(&cp.to_body()), Ok(cp.clone()));
        let zero = Checkpoint::new(origin(), TreeSize(0), Hash::empty_tree());
        assert_eq!(
            zero.to_body(),
            "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
    }

    #[test]
    fn malformed_bodies() {
        let root = Hash::empty_tree().to_base64();
        let big = format!("{ORIGIN}\n1\n{root}\n{}\n", "x".repeat(MAX_NOTE_SIZE));
        // "…=" with non-zero trailing bits in the last symbol.
        let mut bad_bits = root.clone().into_bytes();
        bad_bits[42] = b'V';
        let bad_bits = String::from_utf8(bad_bits).unwrap();
        let table: Vec<(String, CheckpointError)> = vec![
            (String::new(), CheckpointError::BodyMissingNewline),
            (
                format!("{ORIGIN}\n1\n{root}"),
                CheckpointError::BodyMissingNewline,
            ),
            ("\n".into(), CheckpointError::TooFewLines { got: 1 }),
            (
                format!("{ORIGIN}\n1\n"),
                CheckpointError::TooFewLines { got: 2 },
            ),
            (format!("\n1\n{root}\n"), CheckpointError::OriginEmpty),
            (
                format!("a b\n1\n{root}\n"),
                CheckpointError::OriginWhitespace,
            ),
            (format!("a+b\n1\n{root}\n"), CheckpointError::OriginPlus),
            (
                format!("{ORIGIN}\n01\n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n\n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n+1\n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n-1\n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n 1\n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n1 \n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n0x1\n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
                CheckpointError::InvalidSize,
            ),
            (
                format!("{ORIGIN}\n1\n{}\n", &root[..43]),
                CheckpointError::InvalidRoot,
            ),
            (
                format!("{ORIGIN}\n1\n{root}=\n"),
                CheckpointError::InvalidRoot,
            ),
            (
                format!("{ORIGIN}\n1\n{root} \n"),
                CheckpointError::InvalidRoot,
            ),
            (
                format!("{ORIGIN}\n1\n{bad_bits}\n"),
                CheckpointError::InvalidRoot,
            ),
            (
                format!("{ORIGIN}\n1\n{}\n", Hash::empty_tree().to_hex()),
                CheckpointError::InvalidRoot,
            ),
            (format!("{ORIGIN}\n1\n\n"), CheckpointError::InvalidRoot),
            (
                format!("{ORIGIN}\n1\n{root}\n\n"),
                CheckpointError::EmptyExtension { line: 0 },
            ),
            (
                format!("{ORIGIN}\n1\n{root}\na\n\nb\n"),
                CheckpointError::EmptyExtension { line: 1 },
            ),
            (
                format!("{ORIGIN}\n1\n{root}\na\tb\n"),
                CheckpointError::ExtensionControl { line: 0 },
            ),
            (
                big.clone(),
                CheckpointError::BodyTooLarge {
                    size: big.len(),
                    max: MAX_NOTE_SIZE,
                },
            ),
        ];
        for (input, want) in &table {
            assert_eq!(
                Checkpoint::parse_body(input).as_ref(),
                Err(want),
                "{:?}",
                &input[..input.len().min(100)]
            );
        }
    }

    #[test]
    fn sign_and_open() {
        let signer = log_signer();
        let cp = checkpoint(7);
        let bytes = sign_checkpoint(&cp, &signer);
        let v = signer.verifier();
        let opened = open_checkpoint(&bytes, &origin(), &v, &[]).unwrap();
        assert_eq!(opened.checkpoint, cp);
        assert_eq!(opened.raw, bytes);
        assert!(opened.witnesses.is_empty());

        // Wrong expected origin, or a log key not named after the origin.
        let other = Origin::new("example.com/other").unwrap();
        let other_signer = Ed25519Signer::new(other.key_name(), SigningKey::from_bytes(&[1; 32]));
        assert!(matches!(
            open_checkpoint(&bytes, &other, &other_signer.verifier(), &[]),
            Err(CheckpointError::Note(NoteError::NoVerifiedSignature))
        ));
        assert!(matches!(
            open_checkpoint(&bytes, &other, &v, &[]),
            Err(CheckpointError::LogKeyNameMismatch { .. })
        ));
        assert!(matches!(
            try_sign_checkpoint(&cp, &other_signer),
            Err(CheckpointError::LogKeyNameMismatch { .. })
        ));
        // A checkpoint for another origin, signed by a key named like ours.
        let mut foreign = Checkpoint::new(other.clone(), cp.size, cp.root);
        foreign.extensions.clear();
        let foreign_bytes = note::sign(&foreign.to_body(), &[&signer]).unwrap();
        assert_eq!(
            open_checkpoint(&foreign_bytes, &origin(), &v, &[]),
            Err(CheckpointError::OriginMismatch {
                expected: origin(),
                got: other
            })
        );

        // Bad extension lines are not signed.
        let mut bad = cp.clone();
        bad.extensions.push("a\nb".into());
        assert_eq!(
            try_sign_checkpoint(&bad, &signer),
            Err(CheckpointError::ExtensionControl { line: 0 })
        );
        bad.extensions = vec![String::new()];
        assert_eq!(
            try_sign_checkpoint(&bad, &signer),
            Err(CheckpointError::EmptyExtension { line: 0 })
        );
    }

    #[test]
    fn witnesses() {
        let signer = log_signer();
        let w = witness();
        let cp = checkpoint(3);
        let mut note = Note::parse(&sign_checkpoint(&cp, &signer)).unwrap();
        note.signatures
            .push(w.sign(note.text.as_bytes(), 1_700_000_000).unwrap());
        let bytes = note.to_bytes();
        let (v, wv) = (signer.verifier(), w.verifier());

        let opened = open_checkpoint(&bytes, &origin(), &v, &[&wv]).unwrap();
        assert_eq!(
            opened.witnesses,
            &[WitnessSignature {
                name: w.name().clone(),
                id: w.key_id(),
                timestamp: Some(1_700_000_000)
            }]
        );
        let opened = open_checkpoint(&bytes, &origin(), &v, &[]).unwrap();
        assert!(opened.witnesses.is_empty());
        assert_eq!(opened.note.unverified_signatures().len(), 1);

        // A witness alone is not enough.
        let only_witness = Note {
            text: note.text.clone(),
            signatures: vec![note.signatures[1].clone()],
        }
        .to_bytes();
        assert_eq!(
            open_checkpoint(&only_witness, &origin(), &v, &[&wv]),
            Err(CheckpointError::MissingLogSignature)
        );

        // A tampered cosignature rejects when the witness is known.
        let mut tampered = note.clone();
        tampered.signatures[1].signature[20] ^= 1;
        let tampered = tampered.to_bytes();
        assert!(matches!(
            open_checkpoint(&tampered, &origin(), &v, &[&wv]),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
        assert!(open_checkpoint(&tampered, &origin(), &v, &[]).is_ok());
    }

    #[test]
    fn every_single_byte_flip_fails() {
        let signer = log_signer();
        let v = signer.verifier();
        let bytes = sign_checkpoint(&checkpoint(5), &signer);
        assert!(open_checkpoint(&bytes, &origin(), &v, &[]).is_ok());
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x02, 0x20, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= mask;
                assert!(
                    open_checkpoint(&b, &origin(), &v, &[]).is_err(),
                    "byte {i} ^ {mask:#x}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn parse_body_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Checkpoint::parse_body(&String::from_utf8_lossy(&bytes));
            let signer = log_signer();
            let _ = open_checkpoint(&bytes, &origin(), &signer.verifier(), &[]);
        }

        #[test]
        fn any_flip_fails(size in any::<u64>(), pos in any::<prop::sample::Index>(), mask in 1u8..=255) {
            let signer = log_signer();
            let v = signer.verifier();
            let cp = checkpoint(size);
            let mut bytes = sign_checkpoint(&cp, &signer);
            let opened = open_checkpoint(&bytes, &origin(), &v, &[]).unwrap();
            prop_assert_eq!(&opened.checkpoint, &cp);
            let i = pos.index(bytes.len());
            bytes[i] ^= mask;
            prop_assert!(open_checkpoint(&bytes, &origin(), &v, &[]).is_err());
        }
    }
}

#[cfg(test)]
mod empty_tree_tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn size_zero_needs_the_empty_root() {
        let origin = Origin::new("example.com/log").unwrap();
        let signer = Ed25519Signer::new(origin.key_name(), SigningKey::from_bytes(&[1; 32]));
        let good = Checkpoint::new(origin.clone(), TreeSize(0), Hash::empty_tree());
        let note = sign_checkpoint(&good, &signer);
        assert!(open_checkpoint(&note, &origin, &signer.verifier(), &[]).is_ok());
        let bad = Checkpoint::new(origin.clone(), TreeSize(0), Hash([7; 32]));
        let note = sign_checkpoint(&bad, &signer);
        assert!(matches!(
            open_checkpoint(&note, &origin, &signer.verifier(), &[]),
            Err(CheckpointError::EmptyTreeRoot)
        ));
    }
}
