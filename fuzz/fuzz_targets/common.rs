//! Fixed test keys shared by the fuzz targets and by `seed-corpus/`. They sign
//! nothing real: the secret seeds are `[0x4c; 32]` (log) and `[0x57; 32]` (witness).
#![allow(dead_code)]

use std::sync::LazyLock;

use ledger_core::checkpoint::Origin;
use ledger_core::note::{CosignatureVerifier, Ed25519Signer, Ed25519Verifier};

/// The origin of the fuzzed log, which is also its key name.
pub const LOG_ORIGIN: &str = "ledger.example.gov/egov";

/// The log's signer key (seed `[0x4c; 32]`).
pub const LOG_SKEY: &str =
    "PRIVATE+KEY+ledger.example.gov/egov+e47f979c+AUxMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM";

/// The log's verifier key.
pub const LOG_VKEY: &str =
    "ledger.example.gov/egov+e47f979c+AZJzCPU9Z2VQPStkwQOrWqRyBqs5UCz+j5hEL9tUMQC3";

/// A witness's cosignature (type 0x04) verifier key (seed `[0x57; 32]`).
pub const WITNESS_VKEY: &str =
    "witness.example.org+c18d6860+BMhAafoiFsbtwdUsqDqhHCZ91UQK+lJgkMpD69DKhqnP";

/// Go's `golang.org/x/mod/sumdb/note` test key, so that its vector is a useful seed.
pub const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

/// The secret half of [`GO_VKEY`], published in Go's tests.
pub const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

pub static ORIGIN: LazyLock<Origin> = LazyLock::new(|| Origin::new(LOG_ORIGIN).unwrap());

pub static LOG_VERIFIER: LazyLock<Ed25519Verifier> =
    LazyLock::new(|| Ed25519Verifier::from_vkey(LOG_VKEY).unwrap());

pub static WITNESS_VERIFIER: LazyLock<CosignatureVerifier> =
    LazyLock::new(|| CosignatureVerifier::from_vkey(WITNESS_VKEY).unwrap());

pub static GO_VERIFIER: LazyLock<Ed25519Verifier> =
    LazyLock::new(|| Ed25519Verifier::from_vkey(GO_VKEY).unwrap());

/// The log signer; used by the seed generator only.
pub fn log_signer() -> Ed25519Signer {
    Ed25519Signer::from_skey(LOG_SKEY).unwrap()
}
