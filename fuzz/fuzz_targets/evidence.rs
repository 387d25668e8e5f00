//! `Evidence::parse` and `Evidence::verify` (fixed origin and log key) on
//! arbitrary bytes (spec/evidence.md).
//!
//! Asserts: nothing panics; evidence that parses prints (`to_json`) to text that
//! parses to an equal value and prints to the same text again, and gets the same
//! verdict; a verdict agrees with the checkpoints it returns (ordered by size) and
//! with an independent check: a proven fork's path, as an RFC 9162 consistency
//! proof, must FAIL `ConsistencyProof::verify` between the two signed roots, and
//! a path found consistent must pass it.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::evidence::check(data));
