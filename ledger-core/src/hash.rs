//! RFC 9162 §2.1.1 Merkle tree hashing with SHA-256.
//!
//! ```text
//! leaf hash = SHA-256(0x00 || entry bytes)
//! node hash = SHA-256(0x01 || left || right)
//! empty tree root = SHA-256("")
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The size of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: a Merkle tree node, a leaf hash or a root (RFC 9162 §2.1.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

/// Errors from decoding a [`Hash`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The input was not exactly 32 bytes.
    #[error("a hash is {HASH_SIZE} bytes, got {0}")]
    Length(usize),
    /// The input was not canonical standard base64 (RFC 4648 §4) of 32 bytes.
    #[error("a hash must be canonical base64 of {HASH_SIZE} bytes")]
    Base64,
    /// The input was not 64 lowercase or uppercase hex digits.
    #[error("a hash must be 64 hex digits")]
    Hex,
}

impl Hash {
    /// The root of the empty tree: SHA-256 of no bytes (RFC 9162 §2.1.1).
    pub fn empty_tree() -> Hash {
        Hash(Sha256::digest([]).into())
    }

    /// Builds a hash from exactly 32 bytes.
    ///
    /// # Errors
    /// [`HashError::Length`] if `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, HashError> {
        <[u8; HASH_SIZE]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashError::Length(bytes.len()))
    }

    /// The 32 bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// Standard, padded base64 (RFC 4648 §4), as used in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses canonical standard base64 of exactly 32 bytes. Non-canonical
    /// encodings (missing padding, non-zero trailing bits) are rejected.
    ///
    /// # Errors
    /// [`HashError::Base64`] for anything else.
    pub fn from_base64(s: &str) -> Result<Hash, HashError> {
        // 32 bytes encode to exactly 44 characters; check before decoding.
        if s.len() != 44 {
            return Err(HashError::Base64);
        }
        let bytes = STANDARD.decode(s).map_err(|_| HashError::Base64)?;
        Hash::from_slice(&bytes).map_err(|_| HashError::Base64)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// [`HashError::Hex`] if `s` is not 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, HashError> {
        let mut out = [0u8; HASH_SIZE];
        hex::decode_to_slice(s, &mut out).map_err(|_| HashError::Hex)?;
        Ok(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The leaf hash of `data`: SHA-256(0x00 || data) (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    // Small leaves: one contiguous input is measurably faster than two updates.
    if data.len() < 128 {
        let mut buf = [0u8; 128];
        buf[1..=data.len()].copy_from_slice(data);
        return Hash(Sha256::digest(&buf[..=data.len()]).into());
    }
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The interior node hash: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            Hash::empty_tree().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn rfc6962_leaf_and_node_vectors() {
        // Leaf hash of the empty leaf, from the RFC 6962 test suite.
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        // Root of the two-leaf tree ["", 0x00].
        let root = node_hash(&leaf_hash(b""), &leaf_hash(&[0]));
        assert_eq!(
            root.to_hex(),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
    }

    #[test]
    fn small_and_large_leaves_hash_the_same_way() {
        for len in 0..300usize {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut h = Sha256::new();
            h.update([0x00]);
            h.update(&data);
            assert_eq!(leaf_hash(&data), Hash(h.finalize().into()), "length {len}");
        }
    }

    #[test]
    fn base64_is_strict() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        let s = h.to_base64();
        assert!(Hash::from_base64(&s[..43]).is_err());
        assert!(Hash::from_base64(&format!("{s}=")).is_err());
        // Non-zero trailing bits: the last symbol before '=' carries 4 unused bits.
        let mut bad = s.clone().into_bytes();
        let i = 42;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        if STANDARD.decode(&bad).is_err() {
            assert!(Hash::from_base64(&bad).is_err());
        }
        assert!(Hash::from_base64("").is_err());
        assert_eq!(Hash::from_slice(&[0; 31]), Err(HashError::Length(31)));
        assert!(Hash::from_hex("zz").is_err());
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
    }
}
