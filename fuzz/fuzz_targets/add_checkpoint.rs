//! `AddCheckpointRequest::parse` and `witness::parse_size` on arbitrary bytes
//! (c2sp.org/tlog-witness; spec/witness.md §2).
//!
//! Asserts: nothing panics; a request that parses has at most 63 proof hashes, a
//! non-empty checkpoint, and encodes back to exactly the input; a size body that
//! parses encodes back to exactly the input.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::add_checkpoint::check(data));
