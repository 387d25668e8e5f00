//! Key strings: `Ed25519Verifier::from_vkey`, `CosignatureVerifier::from_vkey`,
//! `verifier_from_vkey` and `Ed25519Signer::from_skey` on UTF-8 input.
//!
//! Asserts: nothing panics; a key that parses prints back as the input except for
//! the case of the hex key ID (parsers accept either case, as Go's does, and
//! `to_vkey`/`to_skey` print lowercase, `KeyId`'s `Display`), and the printed key
//! parses to an equal key.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::vkey::check(data));
