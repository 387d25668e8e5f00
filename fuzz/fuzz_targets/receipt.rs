//! `TlogProof::parse`, `Receipt::parse` and `Receipt::verify` on arbitrary bytes.
//!
//! Asserts: nothing panics; a proof that parses encodes back to exactly the input
//! and re-parses to an equal proof; a receipt parses exactly when the proof has an
//! `extra` line, and carries it as its entry; `verify` (fixed origin and log key)
//! either fails or returns the entry, statement and leaf hash of the receipt.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::receipt::check(data));
