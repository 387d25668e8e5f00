//! c2sp.org/signed-note: text signed by one or more keys, with Ed25519 note keys
//! (signature type 0x01) and Ed25519 witness cosignatures (c2sp.org/tlog-cosignature,
//! signature type 0x04).
//!
//! ```text
//! <text: one or more lines, each ending in "\n">
//! <one empty line>
//! — <key name> base64(key ID, 4 bytes big-endian || signature)
//! — <key name> base64(...)
//! ```
//!
//! `key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]`.
//! A verifier key is written `name+hexid+base64(type || public key)`.
//!
//! The semantics follow Go's `golang.org/x/mod/sumdb/note` ([`open`] is `note.Open`),
//! with stricter limits: at most [`MAX_SIGNATURES`] signature lines, at most
//! [`MAX_NOTE_SIZE`] bytes, key names of at most [`MAX_KEY_NAME_LEN`] bytes, and only
//! canonical base64.
//!
//! Signing and verifying Go's own test vector:
//!
//! ```
//! use ledger_core::note::{self, Ed25519Signer, Ed25519Verifier};
//!
//! let signer = Ed25519Signer::from_skey(
//!     "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
//! )?;
//! let text = "If you think cryptography is the answer to your problem,\n\
//!             then you don't know what your problem is.\n";
//! let signed = note::sign(text, &[&signer])?;
//! assert!(signed.ends_with(
//!     "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
//!         .as_bytes()
//! ));
//!
//! let verifier = Ed25519Verifier::from_vkey(
//!     "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
//! )?;
//! let opened = note::open(&signed, &[&verifier])?;
//! assert_eq!(opened.text(), text);
//! assert_eq!(opened.verified_signatures().len(), 1);
//! # Ok::<(), note::NoteError>(())
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

/// The largest note, in bytes, that [`Note::parse`] accepts. Checked before
/// anything else is done with the input.
pub const MAX_NOTE_SIZE: usize = 64 * 1024;

/// The most signature lines a note may carry. c2sp.org/signed-note requires
/// verifiers to accept at least 16; more are rejected.
pub const MAX_SIGNATURES: usize = 16;

/// The longest key name, in bytes.
pub const MAX_KEY_NAME_LEN: usize = 256;

/// Signature type of Ed25519 note signatures (c2sp.org/signed-note, "Ed25519 signatures").
pub const SIG_ED25519: u8 = 0x01;

/// Signature type of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature).
pub const SIG_COSIGNATURE_V1: u8 = 0x04;

/// The size of an Ed25519 cosignature: a u64 timestamp and a 64-byte signature.
pub const COSIGNATURE_SIZE: usize = 8 + 64;

/// The prefix of every signature line: an em dash (U+2014) and a space.
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// The prefix of a signer key string (Go's `note.NewSigner` format).
const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// The longest verifier or signer key string we look at: a maximal name, the
/// punctuation, the hex ID and the base64 of 33 bytes, with room to spare.
const MAX_KEY_STRING_LEN: usize = MAX_KEY_NAME_LEN + 128;

/// Everything that can be wrong with a note, a key name or a key string, and the
/// two ways opening a note can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("the note is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// The size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("the note is not valid UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// The offset of the first invalid byte.
        offset: usize,
    },
    /// The note contains an ASCII control character other than newline.
    #[error("the note contains a control character at byte {offset}")]
    ControlCharacter {
        /// The offset of the character.
        offset: usize,
    },
    /// There is no empty line separating the text from the signatures.
    #[error("the note has no empty line before its signatures")]
    MissingBlankLine,
    /// There are no signature lines after the last empty line.
    #[error("the note has no signature lines")]
    NoSignatures,
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("the note has more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// The last signature line does not end in a newline.
    #[error("the last signature line does not end in a newline")]
    UnterminatedSignatureLine,
    /// A signature line is not "— name signature".
    #[error("signature line {line} is not of the form \"— <name> <base64>\"")]
    MalformedSignatureLine {
        /// The zero-based number of the signature line.
        line: usize,
    },
    /// A signature is not canonical standard padded base64 (RFC 4648 §4).
    #[error("the signature on signature line {line} is not canonical base64")]
    SignatureBase64 {
        /// The zero-based number of the signature line.
        line: usize,
    },
    /// A signature is shorter than a key ID plus one byte.
    #[error("the signature on signature line {line} has {len} bytes, fewer than 5")]
    SignatureTooShort {
        /// The zero-based number of the signature line.
        line: usize,
        /// The decoded length.
        len: usize,
    },
    /// A key name is empty.
    #[error("the key name is empty")]
    KeyNameEmpty,
    /// A key name is longer than [`MAX_KEY_NAME_LEN`] bytes.
    #[error("the key name is {len} bytes, more than {MAX_KEY_NAME_LEN}")]
    KeyNameTooLong {
        /// The length of the name.
        len: usize,
    },
    /// A key name contains Unicode whitespace.
    #[error("the key name contains whitespace")]
    KeyNameWhitespace,
    /// A key name contains a '+'.
    #[error("the key name contains '+'")]
    KeyNamePlus,
    /// A key name contains an ASCII control character.
    #[error("the key name contains a control character")]
    KeyNameControl,
    /// The text to sign is empty.
    #[error("the note text is empty")]
    TextEmpty,
    /// The text to sign does not end in a newline.
    #[error("the note text does not end in a newline")]
    TextMissingNewline,
    /// A key string is not `name+hexid+base64`, or is too long.
    #[error("a key string must be <name>+<8 hex digits>+<base64>")]
    KeyFormat,
    /// A signer key string does not start with `PRIVATE+KEY+`.
    #[error("a signer key must start with PRIVATE+KEY+")]
    SignerKeyPrefix,
    /// The key ID in a key string is not exactly 8 hex digits.
    #[error("the key ID of a key string must be exactly 8 hex digits")]
    KeyIdHex,
    /// The key material in a key string is not canonical base64.
    #[error("the key material of a key string is not canonical base64")]
    KeyBase64,
    /// The key material has a signature type this key kind does not support.
    #[error("unsupported signature type 0x{0:02x} for this kind of key")]
    UnsupportedKeyType(u8),
    /// The key material (after the type byte) has the wrong length.
    #[error("the key is {got} bytes, expected 32")]
    KeyLength {
        /// The length after the type byte.
        got: usize,
    },
    /// The key ID in a key string differs from the one computed from the key.
    #[error("key ID {claimed} does not match the key, whose ID is {computed}")]
    KeyIdMismatch {
        /// The key ID written in the key string.
        claimed: KeyId,
        /// The key ID computed from the name and key.
        computed: KeyId,
    },
    /// The public key is not a valid Ed25519 point encoding.
    #[error("the public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    /// The public key is a weak (small-order) point or a non-canonical
    /// encoding: refused for log and witness keys (issue #14 item 12).
    #[error("the public key is refused: {0}")]
    RefusedPublicKey(crate::entry::KeyRejection),
    /// A cosignature timestamp is larger than 2^63 - 1 (c2sp.org/tlog-cosignature).
    #[error("cosignature timestamp {0} exceeds 2^63 - 1")]
    TimestampTooLarge(u64),
    /// Two configured verifiers have the same name and key ID.
    #[error("more than one verifier for key {name} ({id})")]
    AmbiguousVerifier {
        /// The key name.
        name: KeyName,
        /// The key ID.
        id: KeyId,
    },
    /// A signature by a known key did not verify: the whole note is rejected.
    #[error("invalid signature by known key {name} ({id})")]
    InvalidSignature {
        /// The key name.
        name: KeyName,
        /// The key ID.
        id: KeyId,
    },
    /// No signature by a known key is on the note.
    #[error("the note has no signature by a known key")]
    NoVerifiedSignature,
}

/// A key name: non-empty UTF-8 of at most [`MAX_KEY_NAME_LEN`] bytes, with no
/// Unicode whitespace, no '+' and no ASCII control character (c2sp.org/signed-note,
/// "Format"). The last rule is ours: such a name could never appear in a valid note.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyName(String);

impl KeyName {
    /// Checks and wraps a key name.
    ///
    /// # Errors
    /// [`NoteError::KeyNameEmpty`], [`NoteError::KeyNameTooLong`],
    /// [`NoteError::KeyNameWhitespace`], [`NoteError::KeyNamePlus`] or
    /// [`NoteError::KeyNameControl`].
    pub fn new(name: &str) -> Result<KeyName, NoteError> {
        if name.is_empty() {
            return Err(NoteError::KeyNameEmpty);
        }
        if name.len() > MAX_KEY_NAME_LEN {
            return Err(NoteError::KeyNameTooLong { len: name.len() });
        }
        for c in name.chars() {
            if c.is_whitespace() {
                return Err(NoteError::KeyNameWhitespace);
            }
            if c == '+' {
                return Err(NoteError::KeyNamePlus);
            }
            if c.is_ascii_control() {
                return Err(NoteError::KeyNameControl);
            }
        }
        Ok(KeyName(name.to_owned()))
    }

    /// Wraps a name the caller has already checked against the same rules (used
    /// by [`crate::checkpoint::Origin`], whose rules are stricter).
    pub(crate) fn from_checked(name: &str) -> KeyName {
        debug_assert!(KeyName::new(name).is_ok(), "unchecked key name {name:?}");
        KeyName(name.to_owned())
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key ID: the first four bytes of the signature, big-endian (c2sp.org/signed-note,
/// "Signatures"). It identifies a key together with the key name; it is not a
/// cryptographic commitment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyId(pub u32);

impl KeyId {
    /// The recommended key ID: `SHA-256(name || 0x0A || type || public key)[:4]`,
    /// read big-endian (c2sp.org/signed-note, "Signatures").
    pub fn compute(name: &KeyName, sig_type: u8, public_key: &[u8]) -> KeyId {
        let mut h = Sha256::new();
        h.update(name.as_str().as_bytes());
        h.update([b'\n', sig_type]);
        h.update(public_key);
        let digest = h.finalize();
        KeyId(u32::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3],
        ]))
    }

    /// The four bytes as they appear on the wire.
    pub fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

/// Eight lowercase hex digits, as in key strings.
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// One signature line of a note.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteSignature {
    /// The key name.
    pub name: KeyName,
    /// The key ID, the first four bytes of the encoded signature.
    pub id: KeyId,
    /// The signature proper: the bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line: `— <name> base64(id || signature)` and a newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.id.to_bytes());
        raw.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(raw)
        )
    }

    /// Parses one signature line without its newline. `line` numbers errors.
    fn parse_line(text: &str, line: usize) -> Result<NoteSignature, NoteError> {
        let rest = text
            .strip_prefix(SIGNATURE_LINE_PREFIX)
            .ok_or(NoteError::MalformedSignatureLine { line })?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::MalformedSignatureLine { line })?;
        let name = KeyName::new(name)?;
        // The STANDARD engine requires canonical padding and zero trailing bits.
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::SignatureBase64 { line })?;
        if raw.len() < 5 {
            return Err(NoteError::SignatureTooShort {
                line,
                len: raw.len(),
            });
        }
        let id = KeyId(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]));
        Ok(NoteSignature {
            name,
            id,
            signature: raw[4..].to_vec(),
        })
    }
}

/// A parsed, unverified note. Its text must be ignored until [`open`] has verified
/// it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Note {
    /// The text, including its final newline but not the empty line after it.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note (c2sp.org/signed-note, "Format"), checking its structure
    /// but no signature.
    ///
    /// # Errors
    /// [`NoteError::TooLarge`] first, then [`NoteError::NotUtf8`],
    /// [`NoteError::ControlCharacter`], [`NoteError::MissingBlankLine`],
    /// [`NoteError::NoSignatures`], [`NoteError::TooManySignatures`],
    /// [`NoteError::UnterminatedSignatureLine`], or an error from a signature line.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size: bytes.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        if let Some(offset) = s.bytes().position(|b| b < 0x20 && b != b'\n') {
            return Err(NoteError::ControlCharacter { offset });
        }
        // The text is separated from the signatures by the last empty line. The
        // signature block therefore contains no empty line.
        let split = s.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (text, sigs) = (&s[..=split], &s[split + 2..]);
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let lines =
            sigs.bytes().filter(|&b| b == b'\n').count() + usize::from(!sigs.ends_with('\n'));
        if lines > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        if !sigs.ends_with('\n') {
            return Err(NoteError::UnterminatedSignatureLine);
        }
        let signatures = sigs
            .split_terminator('\n')
            .enumerate()
            .map(|(i, line)| NoteSignature::parse_line(line, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The encoded note: the text, an empty line and the signature lines. This does
    /// not check the note; [`sign`] produces only valid notes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.text.len() + 1 + 128 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for sig in &self.signatures {
            out.push_str(&sig.to_line());
        }
        out.into_bytes()
    }
}

/// A key that verifies note signatures. Object safe, so that a note can be opened
/// with a mixed list of keys.
pub trait NoteVerifier {
    /// The key name.
    fn name(&self) -> &KeyName;

    /// The key ID.
    fn key_id(&self) -> KeyId;

    /// Whether `signature` (the bytes after the key ID) is a valid signature of
    /// the note `text` by this key.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;

    /// The timestamp a signature of this key carries, if its type has one (only
    /// cosignatures do). Meaningful only for a signature that verified.
    fn signed_timestamp(&self, signature: &[u8]) -> Option<u64> {
        let _ = signature;
        None
    }
}

/// A key that signs note text.
pub trait NoteSigner {
    /// The key name.
    fn name(&self) -> &KeyName;

    /// The key ID.
    fn key_id(&self) -> KeyId;

    /// Signs the note text.
    fn sign(&self, text: &[u8]) -> NoteSignature;
}

/// Splits and checks a key string `name+hexid+base64(type || 32 bytes)` whose type
/// must be one of `types`. Returns the name, the claimed ID, the type and the key
/// material; the caller checks the ID, which depends on the key kind.
fn parse_key_string(s: &str, types: &[u8]) -> Result<(KeyName, KeyId, u8, [u8; 32]), NoteError> {
    if s.len() > MAX_KEY_STRING_LEN {
        return Err(NoteError::KeyFormat);
    }
    let (name, rest) = s.split_once('+').ok_or(NoteError::KeyFormat)?;
    // A key name has no '+', but base64 may: split on the first two only.
    let (hex_id, b64) = rest.split_once('+').ok_or(NoteError::KeyFormat)?;
    let name = KeyName::new(name)?;
    // Go's parser accepts upper and lower case; we do too, but only 8 digits.
    if hex_id.len() != 8 || !hex_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::KeyIdHex);
    }
    let claimed = u32::from_str_radix(hex_id, 16).map_err(|_| NoteError::KeyIdHex)?;
    let raw = STANDARD.decode(b64).map_err(|_| NoteError::KeyBase64)?;
    let (&sig_type, key) = raw.split_first().ok_or(NoteError::KeyLength { got: 0 })?;
    if !types.contains(&sig_type) {
        return Err(NoteError::UnsupportedKeyType(sig_type));
    }
    let key = <[u8; 32]>::try_from(key).map_err(|_| NoteError::KeyLength { got: key.len() })?;
    Ok((name, KeyId(claimed), sig_type, key))
}

/// Checks a claimed key ID against the computed one.
fn check_key_id(claimed: KeyId, computed: KeyId) -> Result<(), NoteError> {
    if claimed == computed {
        Ok(())
    } else {
        Err(NoteError::KeyIdMismatch { claimed, computed })
    }
}

/// Formats a verifier key string `name+hexid+base64(type || key)`.
fn format_vkey(name: &KeyName, id: KeyId, sig_type: u8, key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(33);
    raw.push(sig_type);
    raw.extend_from_slice(key);
    format!("{name}+{id}+{}", STANDARD.encode(raw))
}

/// Parses a verifier key string and checks its ID and point: a canonical
/// encoding of a point that is not of small order
/// ([`crate::entry::strict_public_key`]).
fn parse_vkey(vkey: &str, sig_type: u8) -> Result<(KeyName, KeyId, VerifyingKey), NoteError> {
    let (name, claimed, _, key) = parse_key_string(vkey, &[sig_type])?;
    check_key_id(claimed, KeyId::compute(&name, sig_type, &key))?;
    let key = crate::entry::strict_public_key(&key).map_err(|e| match e {
        crate::entry::KeyRejection::NotAPoint => NoteError::InvalidPublicKey,
        other => NoteError::RefusedPublicKey(other),
    })?;
    Ok((name, claimed, key))
}

/// An Ed25519 note verifier key (signature type 0x01).
///
/// Verification is RFC 8032 cofactorless Ed25519 with canonical S, as Go's
/// `crypto/ed25519` does (ed25519-dalek's `Verifier::verify`), not dalek's stricter
/// `verify_strict`: a note that Go accepts must verify here too, and the other way
/// round.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ed25519Verifier {
    name: KeyName,
    id: KeyId,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// A verifier for `key` under `name`, with the standard key ID.
    pub fn new(name: KeyName, key: VerifyingKey) -> Ed25519Verifier {
        let id = KeyId::compute(&name, SIG_ED25519, key.as_bytes());
        Ed25519Verifier { name, id, key }
    }

    /// Parses a verifier key string `name+hexid+base64(0x01 || 32-byte key)`.
    ///
    /// # Errors
    /// [`NoteError::KeyFormat`], a key name error, [`NoteError::KeyIdHex`],
    /// [`NoteError::KeyBase64`], [`NoteError::UnsupportedKeyType`],
    /// [`NoteError::KeyLength`], [`NoteError::KeyIdMismatch`] or
    /// [`NoteError::InvalidPublicKey`].
    pub fn from_vkey(vkey: &str) -> Result<Ed25519Verifier, NoteError> {
        let (name, id, key) = parse_vkey(vkey, SIG_ED25519)?;
        Ok(Ed25519Verifier { name, id, key })
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, self.id, SIG_ED25519, self.key.as_bytes())
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &KeyName {
        &self.name
    }

    fn key_id(&self) -> KeyId {
        self.id
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        match Signature::from_slice(signature) {
            Ok(sig) => self.key.verify(text, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

/// An Ed25519 note signer (signature type 0x01). Its `Debug` output shows the name
/// and key ID only.
#[derive(Clone)]
pub struct Ed25519Signer {
    name: KeyName,
    id: KeyId,
    key: SigningKey,
}

impl Ed25519Signer {
    /// A signer for `key` under `name`, with the standard key ID.
    pub fn new(name: KeyName, key: SigningKey) -> Ed25519Signer {
        let id = KeyId::compute(&name, SIG_ED25519, key.verifying_key().as_bytes());
        Ed25519Signer { name, id, key }
    }

    /// A signer with a fresh key.
    pub fn generate(name: KeyName, rng: &mut impl CryptoRng) -> Ed25519Signer {
        Ed25519Signer::new(name, SigningKey::generate(rng))
    }

    /// Parses Go's signer key string `PRIVATE+KEY+name+hexid+base64(0x01 || 32-byte seed)`.
    ///
    /// # Errors
    /// [`NoteError::SignerKeyPrefix`], [`NoteError::KeyFormat`], a key name error,
    /// [`NoteError::KeyIdHex`], [`NoteError::KeyBase64`],
    /// [`NoteError::UnsupportedKeyType`], [`NoteError::KeyLength`] or
    /// [`NoteError::KeyIdMismatch`]. No error contains the secret.
    pub fn from_skey(skey: &str) -> Result<Ed25519Signer, NoteError> {
        let rest = skey
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(NoteError::SignerKeyPrefix)?;
        let (name, claimed, _, seed) = parse_key_string(rest, &[SIG_ED25519])?;
        let signer = Ed25519Signer::new(name, SigningKey::from_bytes(&seed));
        check_key_id(claimed, signer.id)?;
        Ok(signer)
    }

    /// The signer key string. It contains the secret seed.
    pub fn to_skey(&self) -> String {
        format!(
            "{SIGNER_KEY_PREFIX}{}",
            format_vkey(&self.name, self.id, SIG_ED25519, self.key.as_bytes())
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// Signs the note text (RFC 8032 Ed25519, deterministic).
    pub fn sign(&self, text: &[u8]) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            id: self.id,
            signature: self.key.sign(text).to_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("name", &self.name)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &KeyName {
        &self.name
    }

    fn key_id(&self) -> KeyId {
        self.id
    }

    fn sign(&self, text: &[u8]) -> NoteSignature {
        Ed25519Signer::sign(self, text)
    }
}

/// The message an Ed25519 cosignature signs (c2sp.org/tlog-cosignature, "Ed25519
/// signed message"): `cosignature/v1\ntime <timestamp>\n` and the note text.
fn cosigned_message(text: &[u8], timestamp: u64) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(text);
    msg
}

/// The timestamp of an Ed25519 cosignature (the bytes after the key ID): `None`
/// unless it is [`COSIGNATURE_SIZE`] bytes with a timestamp of at most 2^63 - 1.
/// This reads the timestamp; it does not verify the signature.
pub fn cosignature_timestamp(signature: &[u8]) -> Option<u64> {
    let (ts, _) = signature.split_first_chunk::<8>()?;
    let ts = u64::from_be_bytes(*ts);
    (signature.len() == COSIGNATURE_SIZE && ts <= i64::MAX as u64).then_some(ts)
}

/// A witness's Ed25519 cosignature verifier key (c2sp.org/tlog-cosignature,
/// signature type 0x04). It verifies a 72-byte `timestamped_signature`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CosignatureVerifier {
    name: KeyName,
    id: KeyId,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A cosignature verifier for `key` under `name`; the key ID uses type 0x04.
    pub fn new(name: KeyName, key: VerifyingKey) -> CosignatureVerifier {
        let id = KeyId::compute(&name, SIG_COSIGNATURE_V1, key.as_bytes());
        CosignatureVerifier { name, id, key }
    }

    /// Parses a verifier key string `name+hexid+base64(0x04 || 32-byte key)`.
    ///
    /// # Errors
    /// As [`Ed25519Verifier::from_vkey`], with type 0x04 required.
    pub fn from_vkey(vkey: &str) -> Result<CosignatureVerifier, NoteError> {
        let (name, id, key) = parse_vkey(vkey, SIG_COSIGNATURE_V1)?;
        Ok(CosignatureVerifier { name, id, key })
    }

    /// The verifier key string, with type byte 0x04.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, self.id, SIG_COSIGNATURE_V1, self.key.as_bytes())
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &KeyName {
        &self.name
    }

    fn key_id(&self) -> KeyId {
        self.id
    }

    /// Verifies `timestamp (u64 BE) || Ed25519 signature` over the cosigned message;
    /// rejects timestamps above 2^63 - 1.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Some(ts) = cosignature_timestamp(signature) else {
            return false;
        };
        match Signature::from_slice(&signature[8..]) {
            Ok(sig) => self.key.verify(&cosigned_message(text, ts), &sig).is_ok(),
            Err(_) => false,
        }
    }

    fn signed_timestamp(&self, signature: &[u8]) -> Option<u64> {
        cosignature_timestamp(signature)
    }
}

/// Parses a verifier key string of either supported type (0x01 note key or 0x04
/// cosignature key).
///
/// # Errors
/// As [`Ed25519Verifier::from_vkey`].
pub fn verifier_from_vkey(vkey: &str) -> Result<Box<dyn NoteVerifier + Send + Sync>, NoteError> {
    let (_, _, sig_type, _) = parse_key_string(vkey, &[SIG_ED25519, SIG_COSIGNATURE_V1])?;
    if sig_type == SIG_COSIGNATURE_V1 {
        Ok(Box::new(CosignatureVerifier::from_vkey(vkey)?))
    } else {
        Ok(Box::new(Ed25519Verifier::from_vkey(vkey)?))
    }
}

/// A witness's Ed25519 cosigner (c2sp.org/tlog-cosignature, type 0x04). Its `Debug`
/// output shows the name and key ID only.
#[derive(Clone)]
pub struct CosignatureSigner {
    name: KeyName,
    id: KeyId,
    key: SigningKey,
}

impl CosignatureSigner {
    /// A cosigner for `key` under `name`; the key ID uses type 0x04.
    pub fn new(name: KeyName, key: SigningKey) -> CosignatureSigner {
        let id = KeyId::compute(&name, SIG_COSIGNATURE_V1, key.verifying_key().as_bytes());
        CosignatureSigner { name, id, key }
    }

    /// A cosigner with a fresh key.
    pub fn generate(name: KeyName, rng: &mut impl CryptoRng) -> CosignatureSigner {
        CosignatureSigner::new(name, SigningKey::generate(rng))
    }

    /// Parses a signer key string `PRIVATE+KEY+name+hexid+base64(0x04 || 32-byte
    /// seed)`: Go's signer key format with the cosignature type (spec/witness.md).
    ///
    /// # Errors
    /// As [`Ed25519Signer::from_skey`], with type 0x04 required. No error
    /// contains the secret.
    pub fn from_skey(skey: &str) -> Result<CosignatureSigner, NoteError> {
        let rest = skey
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(NoteError::SignerKeyPrefix)?;
        let (name, claimed, _, seed) = parse_key_string(rest, &[SIG_COSIGNATURE_V1])?;
        let signer = CosignatureSigner::new(name, SigningKey::from_bytes(&seed));
        check_key_id(claimed, signer.id)?;
        Ok(signer)
    }

    /// The signer key string. It contains the secret seed.
    pub fn to_skey(&self) -> String {
        format!(
            "{SIGNER_KEY_PREFIX}{}",
            format_vkey(&self.name, self.id, SIG_COSIGNATURE_V1, self.key.as_bytes())
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// Cosigns the note text at `timestamp` (POSIX seconds). Add the result to a
    /// [`Note`]'s signatures.
    ///
    /// # Errors
    /// [`NoteError::TimestampTooLarge`] if `timestamp` exceeds 2^63 - 1.
    pub fn sign(&self, text: &[u8], timestamp: u64) -> Result<NoteSignature, NoteError> {
        if timestamp > i64::MAX as u64 {
            return Err(NoteError::TimestampTooLarge(timestamp));
        }
        let sig = self.key.sign(&cosigned_message(text, timestamp));
        let mut signature = Vec::with_capacity(COSIGNATURE_SIZE);
        signature.extend_from_slice(&timestamp.to_be_bytes());
        signature.extend_from_slice(&sig.to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            id: self.id,
            signature,
        })
    }
}

impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A note whose signatures [`open`] checked. Only `open` makes one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedNote {
    text: String,
    verified: Vec<NoteSignature>,
    unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The verified text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures by known keys, each verified, at most one per key, in note
    /// order.
    pub fn verified_signatures(&self) -> &[NoteSignature] {
        &self.verified
    }

    /// The signatures by unknown keys, unchecked, without exact duplicates.
    pub fn unverified_signatures(&self) -> &[NoteSignature] {
        &self.unverified
    }

    /// Whether a signature by the key with this name and ID verified.
    pub fn is_signed_by(&self, name: &KeyName, id: KeyId) -> bool {
        self.verified.iter().any(|s| &s.name == name && s.id == id)
    }
}

/// Parses a note and verifies its signatures against `verifiers`, with the semantics
/// of Go's `note.Open` (c2sp.org/signed-note, "Signatures"):
///
/// - a line whose (name, key ID) matches no verifier is kept as unverified;
/// - the first line of a known key must verify, or the whole note is rejected;
/// - later lines of the same known key are ignored;
/// - at least one known key's signature must verify.
///
/// # Errors
/// Any [`Note::parse`] error, [`NoteError::AmbiguousVerifier`] if two verifiers
/// match one line, [`NoteError::InvalidSignature`], or
/// [`NoteError::NoVerifiedSignature`].
pub fn open(bytes: &[u8], verifiers: &[&dyn NoteVerifier]) -> Result<VerifiedNote, NoteError> {
    let note = Note::parse(bytes)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unverified: Vec<NoteSignature> = Vec::new();
    for sig in note.signatures {
        let mut matching = verifiers
            .iter()
            .filter(|v| v.name() == &sig.name && v.key_id() == sig.id);
        let Some(verifier) = matching.next() else {
            if !unverified.contains(&sig) {
                unverified.push(sig);
            }
            continue;
        };
        if matching.next().is_some() {
            return Err(NoteError::AmbiguousVerifier {
                name: sig.name,
                id: sig.id,
            });
        }
        if verified
            .iter()
            .any(|s| s.name == sig.name && s.id == sig.id)
        {
            continue;
        }
        if !verifier.verify(note.text.as_bytes(), &sig.signature) {
            return Err(NoteError::InvalidSignature {
                name: sig.name,
                id: sig.id,
            });
        }
        verified.push(sig);
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(VerifiedNote {
        text: note.text,
        verified,
        unverified,
    })
}

/// Signs `text` with each signer and encodes the signed note.
///
/// # Errors
/// [`NoteError::TextEmpty`], [`NoteError::TextMissingNewline`],
/// [`NoteError::NoSignatures`] if there are no signers, or any error [`Note::parse`]
/// finds in the result (too large, control characters, too many signatures). Nothing
/// is signed when the text is too large.
pub fn sign(text: &str, signers: &[&dyn NoteSigner]) -> Result<Vec<u8>, NoteError> {
    if text.is_empty() {
        return Err(NoteError::TextEmpty);
    }
    if !text.ends_with('\n') {
        return Err(NoteError::TextMissingNewline);
    }
    if text.len() >= MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            size: text.len() + 1,
            max: MAX_NOTE_SIZE,
        });
    }
    if signers.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures {
            max: MAX_SIGNATURES,
        });
    }
    let note = Note {
        text: text.to_owned(),
        signatures: signers.iter().map(|s| s.sign(text.as_bytes())).collect(),
    };
    let bytes = note.to_bytes();
    // The encoding must parse back to the same note; this also applies every limit.
    let parsed = Note::parse(&bytes)?;
    debug_assert_eq!(parsed, note);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                              then you don't know what your problem is.\n";
    const PETER_SIG: &str = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

    /// Issue #14 item 12: a log or witness key of small order, or written
    /// non-canonically, is refused even with a correct key ID.
    #[test]
    fn weak_and_non_canonical_vkeys_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut big_y = [0xffu8; 32];
        big_y[0] = 0xee;
        big_y[31] = 0x7f;
        for (key, want) in [
            (identity, crate::entry::KeyRejection::Weak),
            (big_y, crate::entry::KeyRejection::NonCanonical),
        ] {
            let n = name("weak.example/log");
            let vkey = format_vkey(&n, KeyId::compute(&n, 0x01, &key), 0x01, &key);
            assert_eq!(
                Ed25519Verifier::from_vkey(&vkey),
                Err(NoteError::RefusedPublicKey(want))
            );
            let wkey = format_vkey(&n, KeyId::compute(&n, 0x04, &key), 0x04, &key);
            assert_eq!(
                CosignatureVerifier::from_vkey(&wkey),
                Err(NoteError::RefusedPublicKey(want))
            );
        }
    }

    fn name(s: &str) -> KeyName {
        KeyName::new(s).unwrap()
    }

    /// A deterministic signing key for tests.
    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn peter_note() -> String {
        format!("{PETER_TEXT}\n\u{2014} PeterNeumann {PETER_SIG}\n")
    }

    #[test]
    fn go_vector() {
        let signer = Ed25519Signer::from_skey(PETER_SKEY).unwrap();
        assert_eq!(signer.to_skey(), PETER_SKEY);
        assert_eq!(signer.verifier().to_vkey(), PETER_VKEY);
        assert_eq!(signer.key_id(), KeyId(0xc74f20a3));
        let signed = sign(PETER_TEXT, &[&signer]).unwrap();
        assert_eq!(signed, peter_note().into_bytes());
        let v = Ed25519Verifier::from_vkey(PETER_VKEY).unwrap();
        assert_eq!(v.to_vkey(), PETER_VKEY);
        let opened = open(&signed, &[&v]).unwrap();
        assert_eq!(opened.text(), PETER_TEXT);
        assert!(opened.is_signed_by(&name("PeterNeumann"), KeyId(0xc74f20a3)));
        assert!(!format!("{signer:?}").contains("AYEKFALV"));
    }

    #[test]
    fn key_names() {
        assert_eq!(name("example.com/log").as_str(), "example.com/log");
        assert!(KeyName::new(&"a".repeat(MAX_KEY_NAME_LEN)).is_ok());
        let table: &[(&str, NoteError)] = &[
            ("", NoteError::KeyNameEmpty),
            ("a b", NoteError::KeyNameWhitespace),
            ("a\u{a0}b", NoteError::KeyNameWhitespace),
            ("a\u{2003}b", NoteError::KeyNameWhitespace),
            ("a\tb", NoteError::KeyNameWhitespace),
            ("a+b", NoteError::KeyNamePlus),
            ("a\u{1}b", NoteError::KeyNameControl),
            ("a\u{7f}b", NoteError::KeyNameControl),
        ];
        for (input, want) in table {
            assert_eq!(KeyName::new(input).as_ref(), Err(want), "{input:?}");
        }
        assert_eq!(
            KeyName::new(&"a".repeat(MAX_KEY_NAME_LEN + 1)),
            Err(NoteError::KeyNameTooLong {
                len: MAX_KEY_NAME_LEN + 1
            })
        );
    }

    #[test]
    fn parse_round_trips_and_keeps_empty_lines_in_text() {
        let text = "a\n\nb\n\n";
        let s = Ed25519Signer::new(name("k"), key(1));
        let bytes = sign(text, &[&s]).unwrap();
        let note = Note::parse(&bytes).unwrap();
        assert_eq!(note.text, text);
        assert_eq!(note.to_bytes(), bytes);
        let opened = open(&bytes, &[&s.verifier()]).unwrap();
        assert_eq!(opened.text(), text);
    }

    #[test]
    fn malformed_notes() {
        let line = format!("\u{2014} PeterNeumann {PETER_SIG}\n");
        let too_many = format!("t\n\n{}", line.repeat(MAX_SIGNATURES + 1));
        let exactly_max = format!("t\n\n{}", line.repeat(MAX_SIGNATURES));
        assert!(Note::parse(exactly_max.as_bytes()).is_ok());
        let mut big = format!("t\n\n{line}").into_bytes();
        big.splice(0..0, vec![b'x'; MAX_NOTE_SIZE + 1 - big.len()]);
        let sig_line = |sig: &str| format!("t\n\n\u{2014} k {sig}\n");
        let table: Vec<(Vec<u8>, NoteError)> = vec![
            (b"".to_vec(), NoteError::MissingBlankLine),
            (format!("t\n{line}").into(), NoteError::MissingBlankLine),
            (b"t\n\n".to_vec(), NoteError::NoSignatures),
            (b"t\n\n\n".to_vec(), NoteError::NoSignatures),
            (format!("t\n\n{line}\n").into(), NoteError::NoSignatures),
            (b"t\xff\n\n".to_vec(), NoteError::NotUtf8 { offset: 1 }),
            (
                format!("t\tu\n\n{line}").into(),
                NoteError::ControlCharacter { offset: 1 },
            ),
            (
                format!("t\r\n\n{line}").into(),
                NoteError::ControlCharacter { offset: 1 },
            ),
            (
                format!("t\n\n{}\r\n", line.trim_end()).into(),
                NoteError::ControlCharacter {
                    offset: 3 + line.len() - 1,
                },
            ),
            (
                too_many.into(),
                NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                },
            ),
            (
                big.clone(),
                NoteError::TooLarge {
                    size: big.len(),
                    max: MAX_NOTE_SIZE,
                },
            ),
            (
                format!("t\n\n{}", line.trim_end()).into(),
                NoteError::UnterminatedSignatureLine,
            ),
            (
                format!("t\n\n- PeterNeumann {PETER_SIG}\n").into(),
                NoteError::MalformedSignatureLine { line: 0 },
            ),
            (
                format!("t\n\n\u{2014}PeterNeumann {PETER_SIG}\n").into(),
                NoteError::MalformedSignatureLine { line: 0 },
            ),
            (
                format!("t\n\n{line}\u{2014} PeterNeumann\n").into(),
                NoteError::MalformedSignatureLine { line: 1 },
            ),
            (
                format!("t\n\n\u{2014}  {PETER_SIG}\n").into(),
                NoteError::KeyNameEmpty,
            ),
            (
                format!("t\n\n\u{2014} a+b {PETER_SIG}\n").into(),
                NoteError::KeyNamePlus,
            ),
            (
                format!("t\n\n\u{2014} a\u{a0}b {PETER_SIG}\n").into(),
                NoteError::KeyNameWhitespace,
            ),
            (
                format!("t\n\n\u{2014} PeterNeumann  {PETER_SIG}\n").into(),
                NoteError::SignatureBase64 { line: 0 },
            ),
            (
                format!("t\n\n\u{2014} PeterNeumann {PETER_SIG} \n").into(),
                NoteError::SignatureBase64 { line: 0 },
            ),
            // Missing padding.
            (
                sig_line("AAAAAAA").into(),
                NoteError::SignatureBase64 { line: 0 },
            ),
            // Non-zero trailing bits ("AAAAAAB=" decodes leniently to 5 bytes).
            (
                sig_line("AAAAAAB=").into(),
                NoteError::SignatureBase64 { line: 0 },
            ),
            // URL-safe alphabet.
            (
                sig_line("AAAA_-A=").into(),
                NoteError::SignatureBase64 { line: 0 },
            ),
            // Canonical, but only a key ID.
            (
                sig_line("AAAAAA==").into(),
                NoteError::SignatureTooShort { line: 0, len: 4 },
            ),
            (
                sig_line("AAAAAAA==").into(),
                NoteError::SignatureBase64 { line: 0 },
            ),
            (
                sig_line("").into(),
                NoteError::SignatureTooShort { line: 0, len: 0 },
            ),
        ];
        for (input, want) in &table {
            assert_eq!(
                Note::parse(input).as_ref(),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(&input[..input.len().min(200)])
            );
        }
        // The smallest accepted signature: a key ID and one byte.
        assert!(Note::parse(sig_line("AAAAAAA=").as_bytes()).is_ok());
    }

    fn peter_key_string(prefix: &str, raw: &[u8], id: &str, name: &str) -> String {
        format!("{prefix}{name}+{id}+{}", STANDARD.encode(raw))
    }

    #[test]
    fn malformed_vkeys() {
        let good = Ed25519Verifier::from_vkey(PETER_VKEY).unwrap();
        let pk = *good.verifying_key().as_bytes();
        let with_type = |t: u8, k: &[u8]| {
            let mut raw = vec![t];
            raw.extend_from_slice(k);
            peter_key_string("", &raw, "c74f20a3", "PeterNeumann")
        };
        // A 32-byte string that is not a valid point, under its own correct key ID.
        let bad_point = (0u8..=255)
            .map(|i| {
                let mut k = [0u8; 32];
                k[0] = i;
                k[31] = 0x7f;
                k
            })
            .find(|k| VerifyingKey::from_bytes(k).is_err())
            .unwrap();
        let bad_point_id = KeyId::compute(&name("P"), SIG_ED25519, &bad_point);
        let mut raw = vec![SIG_ED25519];
        raw.extend_from_slice(&bad_point);
        let bad_point_vkey = peter_key_string("", &raw, &bad_point_id.to_string(), "P");
        let cosig = CosignatureVerifier::new(name("w"), *good.verifying_key()).to_vkey();
        let upper = PETER_VKEY.replace("c74f20a3", "C74F20A3");
        assert_eq!(Ed25519Verifier::from_vkey(&upper).unwrap(), good);

        let table: Vec<(String, NoteError)> = vec![
            (String::new(), NoteError::KeyFormat),
            ("PeterNeumann".into(), NoteError::KeyFormat),
            ("PeterNeumann+c74f20a3".into(), NoteError::KeyFormat),
            (
                PETER_VKEY.replacen("PeterNeumann", "", 1),
                NoteError::KeyNameEmpty,
            ),
            (
                PETER_VKEY.replacen("PeterNeumann", "Peter Neumann", 1),
                NoteError::KeyNameWhitespace,
            ),
            (
                PETER_VKEY.replace("c74f20a3", "c74f20a"),
                NoteError::KeyIdHex,
            ),
            (
                PETER_VKEY.replace("c74f20a3", "c74f20a30"),
                NoteError::KeyIdHex,
            ),
            (
                PETER_VKEY.replace("c74f20a3", "+74f20a3"),
                NoteError::KeyIdHex,
            ),
            (
                PETER_VKEY.replace("c74f20a3", "g74f20a3"),
                NoteError::KeyIdHex,
            ),
            (
                PETER_VKEY.replace("c74f20a3", "c74f20a4"),
                NoteError::KeyIdMismatch {
                    claimed: KeyId(0xc74f20a4),
                    computed: KeyId(0xc74f20a3),
                },
            ),
            (
                PETER_VKEY.replacen("PeterNeumann", "PeterNeumann2", 1),
                NoteError::KeyIdMismatch {
                    claimed: KeyId(0xc74f20a3),
                    computed: KeyId::compute(&name("PeterNeumann2"), SIG_ED25519, &pk),
                },
            ),
            (
                PETER_VKEY.trim_end_matches('W').into(),
                NoteError::KeyBase64,
            ),
            (format!("{PETER_VKEY} "), NoteError::KeyBase64),
            (format!("{PETER_VKEY}="), NoteError::KeyBase64),
            (format!("{PETER_VKEY}+"), NoteError::KeyBase64),
            (
                peter_key_string("", &[], "c74f20a3", "PeterNeumann"),
                NoteError::KeyLength { got: 0 },
            ),
            (with_type(0x02, &pk), NoteError::UnsupportedKeyType(0x02)),
            (
                with_type(SIG_COSIGNATURE_V1, &pk),
                NoteError::UnsupportedKeyType(0x04),
            ),
            (cosig, NoteError::UnsupportedKeyType(0x04)),
            (
                with_type(SIG_ED25519, &pk[..31]),
                NoteError::KeyLength { got: 31 },
            ),
            (
                with_type(SIG_ED25519, &[pk.as_slice(), &[0]].concat()),
                NoteError::KeyLength { got: 33 },
            ),
            (bad_point_vkey, NoteError::InvalidPublicKey),
            (PETER_SKEY.into(), NoteError::KeyIdHex),
            (
                format!("{}+{PETER_VKEY}", "a".repeat(MAX_KEY_STRING_LEN)),
                NoteError::KeyFormat,
            ),
        ];
        for (input, want) in &table {
            assert_eq!(
                Ed25519Verifier::from_vkey(input).as_ref(),
                Err(want),
                "{input:?}"
            );
        }
    }

    #[test]
    fn malformed_skeys() {
        let seed = *Ed25519Signer::from_skey(PETER_SKEY).unwrap().key.as_bytes();
        let with_type = |t: u8, k: &[u8]| {
            let mut raw = vec![t];
            raw.extend_from_slice(k);
            peter_key_string("PRIVATE+KEY+", &raw, "c74f20a3", "PeterNeumann")
        };
        let table: Vec<(String, NoteError)> = vec![
            (String::new(), NoteError::SignerKeyPrefix),
            (PETER_VKEY.into(), NoteError::SignerKeyPrefix),
            (
                PETER_SKEY.replace("PRIVATE+KEY", "private+key"),
                NoteError::SignerKeyPrefix,
            ),
            (
                PETER_SKEY.replace("PRIVATE+KEY+", "PRIVATE+KEY"),
                NoteError::SignerKeyPrefix,
            ),
            ("PRIVATE+KEY+PeterNeumann".into(), NoteError::KeyFormat),
            (PETER_SKEY.replace("c74f20a3", "c74f2"), NoteError::KeyIdHex),
            (
                PETER_SKEY.replace("c74f20a3", "00000000"),
                NoteError::KeyIdMismatch {
                    claimed: KeyId(0),
                    computed: KeyId(0xc74f20a3),
                },
            ),
            (format!("{PETER_SKEY}="), NoteError::KeyBase64),
            (with_type(0x02, &seed), NoteError::UnsupportedKeyType(0x02)),
            (
                with_type(SIG_ED25519, &seed[..16]),
                NoteError::KeyLength { got: 16 },
            ),
            (
                PETER_SKEY.replace("PeterNeumann", "Peter+Neumann"),
                NoteError::KeyIdHex,
            ),
        ];
        for (input, want) in &table {
            assert_eq!(
                Ed25519Signer::from_skey(input).map(|_| ()).as_ref(),
                Err(want),
                "{input:?}"
            );
        }
    }

    #[test]
    fn vkey_dispatch() {
        let cos = CosignatureVerifier::new(name("w"), key(3).verifying_key());
        let parsed = verifier_from_vkey(&cos.to_vkey()).unwrap();
        assert_eq!(parsed.key_id(), cos.key_id());
        assert_eq!(CosignatureVerifier::from_vkey(&cos.to_vkey()).unwrap(), cos);
        let ed = verifier_from_vkey(PETER_VKEY).unwrap();
        assert_eq!(ed.key_id(), KeyId(0xc74f20a3));
        // The same key and name give different IDs for the two types.
        let ed = Ed25519Verifier::new(name("w"), key(3).verifying_key());
        assert_ne!(ed.key_id(), cos.key_id());
        assert_eq!(
            CosignatureVerifier::from_vkey(&ed.to_vkey()),
            Err(NoteError::UnsupportedKeyType(SIG_ED25519))
        );
    }

    #[test]
    fn open_semantics() {
        let a = Ed25519Signer::new(name("a"), key(1));
        let b = Ed25519Signer::new(name("b"), key(2));
        let text = "hello\n";
        let good_a = a.sign(text.as_bytes());
        let good_b = b.sign(text.as_bytes());
        let mut bad_a = good_a.clone();
        bad_a.signature[0] ^= 1;
        let note = |sigs: &[&NoteSignature]| {
            Note {
                text: text.into(),
                signatures: sigs.iter().map(|s| (*s).clone()).collect(),
            }
            .to_bytes()
        };
        let (va, vb) = (a.verifier(), b.verifier());

        // Unknown keys are kept as unverified, once.
        let opened = open(&note(&[&good_b, &good_a, &good_b]), &[&va]).unwrap();
        assert_eq!(opened.verified_signatures(), std::slice::from_ref(&good_a));
        assert_eq!(
            opened.unverified_signatures(),
            std::slice::from_ref(&good_b)
        );

        // Both known.
        let opened = open(&note(&[&good_b, &good_a]), &[&va, &vb]).unwrap();
        assert_eq!(opened.verified_signatures().len(), 2);
        assert!(opened.unverified_signatures().is_empty());

        // The first line of a known key decides.
        assert_eq!(
            open(&note(&[&bad_a, &good_a]), &[&va]),
            Err(NoteError::InvalidSignature {
                name: name("a"),
                id: a.key_id()
            })
        );
        let opened = open(&note(&[&good_a, &bad_a]), &[&va]).unwrap();
        assert_eq!(opened.verified_signatures(), std::slice::from_ref(&good_a));

        // A bad signature of an unknown key does not matter.
        assert!(open(&note(&[&bad_a, &good_b]), &[&vb]).is_ok());

        // No known key.
        assert_eq!(
            open(&note(&[&good_b]), &[&va]),
            Err(NoteError::NoVerifiedSignature)
        );
        assert_eq!(
            open(&note(&[&good_b]), &[]),
            Err(NoteError::NoVerifiedSignature)
        );

        // Same name, other ID, or same ID, other name: unknown, ignored.
        let mut other_id = good_a.clone();
        other_id.id = KeyId(other_id.id.0 ^ 1);
        let mut other_name = good_a.clone();
        other_name.name = name("a2");
        assert_eq!(
            open(&note(&[&other_id, &other_name]), &[&va]),
            Err(NoteError::NoVerifiedSignature)
        );

        // Two verifiers for one key are a configuration error.
        assert_eq!(
            open(&note(&[&good_a]), &[&va, &va]),
            Err(NoteError::AmbiguousVerifier {
                name: name("a"),
                id: a.key_id()
            })
        );

        // A signature of the wrong length fails, not panics.
        let mut short = good_a.clone();
        short.signature.truncate(10);
        assert!(matches!(
            open(&note(&[&short]), &[&va]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn sign_rejects_bad_text() {
        let a = Ed25519Signer::new(name("a"), key(1));
        assert_eq!(sign("", &[&a]), Err(NoteError::TextEmpty));
        assert_eq!(sign("x", &[&a]), Err(NoteError::TextMissingNewline));
        assert_eq!(sign("x\n", &[]), Err(NoteError::NoSignatures));
        assert_eq!(
            sign("x\ty\n", &[&a]),
            Err(NoteError::ControlCharacter { offset: 1 })
        );
        let signers = vec![&a as &dyn NoteSigner; MAX_SIGNATURES + 1];
        assert_eq!(
            sign("x\n", &signers),
            Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES
            })
        );
        let big = format!("{}\n", "x".repeat(MAX_NOTE_SIZE));
        assert!(matches!(sign(&big, &[&a]), Err(NoteError::TooLarge { .. })));
        let almost = format!("{}\n", "x".repeat(MAX_NOTE_SIZE - 10));
        assert!(matches!(
            sign(&almost, &[&a]),
            Err(NoteError::TooLarge { .. })
        ));
    }

    #[test]
    fn cosignatures() {
        let w = CosignatureSigner::new(name("witness.example/w1"), key(7));
        let v = w.verifier();
        let text = b"example.com/log\n1\nAAAA\n";
        let sig = w.sign(text, 1_679_315_147).unwrap();
        assert_eq!(sig.signature.len(), COSIGNATURE_SIZE);
        assert!(v.verify(text, &sig.signature));
        assert_eq!(v.signed_timestamp(&sig.signature), Some(1_679_315_147));
        assert_eq!(cosignature_timestamp(&sig.signature), Some(1_679_315_147));
        assert!(!v.verify(b"other\n", &sig.signature));

        // The timestamp is signed.
        let mut moved = sig.signature.clone();
        moved[7] ^= 1;
        assert!(!v.verify(text, &moved));
        // Wrong lengths.
        assert!(!v.verify(text, &sig.signature[..71]));
        assert!(!v.verify(text, &[sig.signature.as_slice(), &[0]].concat()));
        assert_eq!(cosignature_timestamp(&sig.signature[..71]), None);
        assert_eq!(cosignature_timestamp(&[]), None);

        // A timestamp above 2^63 - 1 is rejected even when correctly signed.
        let ts = 1u64 << 63;
        assert_eq!(w.sign(text, ts), Err(NoteError::TimestampTooLarge(ts)));
        let mut over = ts.to_be_bytes().to_vec();
        over.extend_from_slice(&key(7).sign(&cosigned_message(text, ts)).to_bytes());
        assert!(!v.verify(text, &over));
        assert_eq!(cosignature_timestamp(&over), None);
        let max = i64::MAX as u64;
        assert!(v.verify(text, &w.sign(text, max).unwrap().signature));

        // A plain Ed25519 signature by the same key is not a cosignature.
        let plain = Ed25519Signer::new(name("witness.example/w1"), key(7));
        assert!(!v.verify(text, &plain.sign(text).signature));
        assert!(!format!("{w:?}").contains("07070707"));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Note::parse(&bytes);
            let s = String::from_utf8_lossy(&bytes);
            let _ = Ed25519Verifier::from_vkey(&s);
            let _ = Ed25519Signer::from_skey(&s);
            let _ = verifier_from_vkey(&s);
        }

        #[test]
        fn structured_garbage_never_panics(s in "[a-z+\u{2014} =/\n]{0,200}") {
            let _ = Note::parse(s.as_bytes());
            let _ = Ed25519Verifier::from_vkey(&s);
        }

        #[test]
        fn sign_then_open(body in "[a-zA-Z0-9 .,:/\n\u{e9}\u{2014}]{0,300}", seed in any::<u8>(), n in 1usize..4) {
            let text = format!("{body}\n");
            let signers: Vec<Ed25519Signer> =
                (0..n).map(|i| Ed25519Signer::new(name(&format!("k{i}")), key(seed.wrapping_add(i as u8)))).collect();
            let dyn_signers: Vec<&dyn NoteSigner> = signers.iter().map(|s| s as &dyn NoteSigner).collect();
            let bytes = sign(&text, &dyn_signers).unwrap();
            let parsed = Note::parse(&bytes).unwrap();
            prop_assert_eq!(&parsed.text, &text);
            prop_assert_eq!(parsed.to_bytes(), bytes.clone());
            let verifiers: Vec<Ed25519Verifier> = signers.iter().map(Ed25519Signer::verifier).collect();
            for v in &verifiers {
                let opened = open(&bytes, &[v]).unwrap();
                prop_assert_eq!(opened.text(), text.as_str());
                prop_assert_eq!(opened.verified_signatures().len(), 1);
                prop_assert_eq!(opened.unverified_signatures().len(), n - 1);
            }
            let v = &verifiers[0];
            prop_assert_eq!(Ed25519Verifier::from_vkey(&v.to_vkey()).unwrap(), v.clone());
            let s = &signers[0];
            prop_assert_eq!(Ed25519Signer::from_skey(&s.to_skey()).unwrap().to_skey(), s.to_skey());
        }
    }
}
