//! `Entry::decode` on arbitrary bytes.
//!
//! Asserts: nothing panics; an entry that decodes encodes back to exactly the
//! input, and its leaf hash can be computed.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::entry::check(data));
