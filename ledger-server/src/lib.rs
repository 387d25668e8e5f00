//! The ledger server: the RocksDB store, and (issue 3) the sequencer and HTTP API.
//!
//! Formats, hashing and verification all come from `ledger-core`; this crate only
//! stores and serves them.

pub mod store;
