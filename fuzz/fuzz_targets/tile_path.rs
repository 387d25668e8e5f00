//! `TilePath::parse` on UTF-8 input, and `parse_entry_bundle` on the same bytes.
//!
//! Asserts: nothing panics; a path that parses prints back as exactly the input;
//! a hash tile's stored hashes each lie in it (`Tile::for_stored_hash` gives the
//! same level and index and a width no larger; `hash_from_tile` reads them from
//! data of the right length); a bundle that parses has 1 to 256 entries and
//! re-encodes to exactly the input.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::tile_path::check(data));
