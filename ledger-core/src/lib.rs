//! # ledger-core
//!
//! The formats, hashing, proofs and rules of the e-government audit ledger, with no
//! I/O, no async runtime and no storage. Both the server and the public verifier
//! build on this crate, so that what the operator writes and what the public checks
//! are defined in exactly one place.
//!
//! | module | what it implements |
//! |---|---|
//! | [`hash`] | RFC 9162 §2.1.1 leaf and node hashing |
//! | [`index`] | leaf indices and tree sizes as distinct types |
//! | [`tree`] | the stored-hash layout of a growing Merkle tree and its roots |
//! | [`proof`] | RFC 9162 §2.1.3–2.1.4 inclusion and consistency proofs |
//! | [`tile`] | c2sp.org/tlog-tiles: tile coordinates, paths, entry bundles |
//! | [`note`] | c2sp.org/signed-note: notes, Ed25519 keys, cosignatures |
//! | [`checkpoint`] | c2sp.org/tlog-checkpoint |
//! | [`statement`] | the agency-signed JSON statement (spec/entry.md §1) |
//! | [`entry`] | the binary entry envelope, the Merkle leaf (spec/entry.md §2) |
//! | [`registry`] | the registry state machine (spec/registry.md) |
//! | [`receipt`] | receipts: an entry plus c2sp.org/tlog-proof (spec/receipts.md) |
//!
//! The normative description of every format is in the repository's `spec/` folder.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod entry;
pub mod hash;
pub mod index;
pub mod note;
pub mod proof;
pub mod receipt;
pub mod registry;
pub mod statement;
pub mod tile;
pub mod tree;

pub use hash::Hash;
pub use index::{LeafIndex, TreeSize};
