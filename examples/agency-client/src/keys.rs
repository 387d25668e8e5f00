//! Key files and public keys.
//!
//! A secret key file holds the base64 of a 32-byte Ed25519 seed (RFC 8032) and a
//! newline, and is created with mode 0600. Public keys are written as the registry
//! writes them (spec/registry.md §3): base64 of the 32-byte encoding.

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use ledger_core::entry::KeyHash;

/// Reads a secret key file written by `keygen`.
///
/// # Errors
/// If the file cannot be read or does not hold base64 of a 32-byte seed.
pub fn read_key(path: &Path) -> Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let seed: [u8; 32] = STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| {
            format!(
                "{}: the key file must hold base64 of a 32-byte Ed25519 seed",
                path.display()
            )
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Creates `path` with mode 0600 (on Unix) and writes `text` and a newline to it.
/// An existing file is never overwritten.
///
/// # Errors
/// If the file exists or cannot be written.
pub fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Parses a public key as the registry writes it, with the checks the registry
/// applies (spec/registry.md §3): base64 of 32 bytes that decode to a curve point
/// that is not of small order. `what` names the key in errors.
///
/// # Errors
/// If any check fails.
pub fn parse_public_key(what: &str, b64: &str) -> Result<VerifyingKey> {
    let bytes = STANDARD
        .decode(b64.trim())
        .with_context(|| format!("{what}: not standard base64 with padding"))?;
    let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        bail!(
            "{what}: an Ed25519 public key is 32 bytes, this is {}",
            bytes.len()
        );
    };
    let key = VerifyingKey::from_bytes(&bytes)
        .ok()
        .with_context(|| format!("{what}: not a valid Ed25519 public key"))?;
    if key.is_weak() {
        bail!("{what}: the key is of small order, which the registry refuses");
    }
    Ok(key)
}

/// The registry's form of a public key: base64 of its 32 bytes.
pub fn public_key_b64(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

/// The key hash (SHA-256 of the public key) in lowercase hex, as entries and the
/// API name keys.
pub fn key_hash_hex(key: &VerifyingKey) -> String {
    KeyHash::of(key).0.to_hex()
}
