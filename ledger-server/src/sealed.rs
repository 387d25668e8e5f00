//! Private payloads at rest (spec/durability.md §5): each payload and its salt
//! are encrypted with a key of their own, which is kept in a separate key store
//! (`DATA/payload-keys`). Destroying the key erases the payload from every copy
//! of the ledger store, backups included ("crypto-shredding").
//!
//! Stored value: `nonce (12) ‖ ChaCha20-Poly1305(key, nonce, salt ‖ payload)`
//! (RFC 8439) with associated data [`AAD_LABEL`] ‖ index (8, big-endian), so that
//! a sealed payload cannot be moved to another index unnoticed.

use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::store::StoreError;

/// The label of the associated data.
pub const AAD_LABEL: &[u8] = b"egov-ledger/v1/payload-at-rest\0";
/// A payload key's length.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

/// A payload's own key.
pub struct PayloadKey(pub [u8; KEY_BYTES]);

fn aad(index: u64) -> Vec<u8> {
    let mut a = AAD_LABEL.to_vec();
    a.extend_from_slice(&index.to_be_bytes());
    a
}

/// Encrypts `salt ‖ payload` of entry `index` under a new random key; returns
/// the key and the value to store.
pub fn seal(index: u64, salt: &[u8; 32], payload: &[u8]) -> (PayloadKey, Vec<u8>) {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).expect("the operating system's random source failed");
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).expect("the operating system's random source failed");
    let mut plain = Vec::with_capacity(32 + payload.len());
    plain.extend_from_slice(salt);
    plain.extend_from_slice(payload);
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            AeadPayload {
                msg: &plain,
                aad: &aad(index),
            },
        )
        .expect("ChaCha20-Poly1305 encrypts any message of this size");
    let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    (PayloadKey(key), out)
}

/// Decrypts a stored value of entry `index` with its key.
///
/// # Errors
/// [`StoreError::Corrupt`] if the key is malformed or the value does not
/// decrypt (damaged, or stored for another index).
pub fn open(index: u64, key: &[u8], stored: &[u8]) -> Result<([u8; 32], Vec<u8>), StoreError> {
    let corrupt = || StoreError::Corrupt(format!("the sealed payload of entry {index}"));
    if stored.len() < NONCE_BYTES {
        return Err(corrupt());
    }
    let (nonce, sealed) = stored.split_at(NONCE_BYTES);
    let key: [u8; KEY_BYTES] = key.try_into().map_err(|_| corrupt())?;
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| corrupt())?;
    let plain = ChaCha20Poly1305::new(&Key::from(key))
        .decrypt(
            &Nonce::from(nonce),
            AeadPayload {
                msg: sealed,
                aad: &aad(index),
            },
        )
        .map_err(|_| corrupt())?;
    if plain.len() < 32 {
        return Err(corrupt());
    }
    let (salt, payload) = plain.split_at(32);
    Ok((salt.try_into().expect("32 bytes"), payload.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_payloads_open_only_with_their_key_at_their_index() {
        let salt = [7u8; 32];
        let (key, stored) = seal(10, &salt, b"Siti Rahma");
        let (s, p) = open(10, &key.0, &stored).unwrap();
        assert_eq!((s, p.as_slice()), (salt, &b"Siti Rahma"[..]));
        assert!(
            !stored.windows(10).any(|w| w == b"Siti Rahma"),
            "the payload is not stored in clear"
        );
        assert!(open(11, &key.0, &stored).is_err(), "moved to another index");
        let (other, _) = seal(10, &salt, b"x");
        assert!(open(10, &other.0, &stored).is_err(), "another key");
        let mut bad = stored.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(open(10, &key.0, &bad).is_err(), "tampered");
    }
}
