//! `Note::parse` and `note::open` on arbitrary bytes.
//!
//! Asserts: nothing panics; a note that parses re-encodes to exactly the input
//! (the format is canonical) and re-parses to an equal note; a note that opens
//! parses too, with the same text, and has at least one verified signature.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::note::check(data));
