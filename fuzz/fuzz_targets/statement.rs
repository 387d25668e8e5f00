//! `Statement::parse` on arbitrary bytes.
//!
//! Asserts: nothing panics; a statement that parses keeps exactly the input as
//! its bytes, and parsing those bytes again gives an equal statement.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::statement::check(data));
