//! `Checkpoint::parse_body` and `open_checkpoint` on arbitrary bytes.
//!
//! Asserts: nothing panics; a body that parses is printed back as exactly the
//! input by `to_body`, and re-parses to an equal checkpoint; a checkpoint that
//! opens has a body that parses to the same checkpoint, origin [`LOG_ORIGIN`],
//! and keeps the raw bytes.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::checkpoint::check(data));
