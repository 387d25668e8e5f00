//! The checks each fuzz target makes, one module per target, shared by the
//! fuzz targets (`fuzz_targets/`, nightly, cargo-fuzz) and by the stable test
//! that replays the committed corpus in every test run
//! (ledger-core/tests/fuzz_corpus.rs).
#![allow(dead_code)]

#[path = "../fuzz_targets/common.rs"]
pub mod common;

pub mod add_checkpoint;
pub mod checkpoint;
pub mod entry;
pub mod evidence;
pub mod note;
pub mod receipt;
pub mod statement;
pub mod tile_path;
pub mod vkey;
