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
//! | [`evidence`] | evidence of a log's misbehaviour: two checkpoints that do not extend each other (spec/evidence.md) |
//! | [`policy`] | c2sp.org/tlog-policy: witness policies and their quorum over a cosigned checkpoint (spec/witness-policy.md) |
//! | [`witness`] | c2sp.org/tlog-witness: the add-checkpoint request and a witness's decision (spec/witness.md) |
//!
//! The normative description of every format is in the repository's `spec/` folder.
//!
//! ## Example: sign a checkpoint, then prove and verify an inclusion
//!
//! ```
//! use ledger_core::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint, Origin};
//! use ledger_core::hash::leaf_hash;
//! use ledger_core::note::{Ed25519Signer, Ed25519Verifier};
//! use ledger_core::proof::prove_inclusion;
//! use ledger_core::tree::MemoryTree;
//! use ledger_core::{LeafIndex, TreeSize};
//!
//! // The log: a tree of entries and a signing key named after its origin.
//! let origin = Origin::new("ledger.example.gov/egov").unwrap();
//! let signer = Ed25519Signer::new(
//!     origin.key_name(),
//!     ed25519_dalek::SigningKey::from_bytes(&[42; 32]),
//! );
//! let mut tree = MemoryTree::new();
//! for entry in [&b"permit 1"[..], b"permit 2", b"tender award 7"] {
//!     tree.append(entry);
//! }
//! let note = sign_checkpoint(
//!     &Checkpoint::new(origin.clone(), tree.size(), tree.root()),
//!     &signer,
//! );
//! let proof = prove_inclusion(LeafIndex(2), tree.size(), &tree).unwrap();
//!
//! // A verifier: only the verifier key string, the origin, and what the log sent.
//! let vkey = signer.verifier().to_vkey();
//! let verifier = Ed25519Verifier::from_vkey(&vkey).unwrap();
//! let checkpoint = open_checkpoint(&note, &origin, &verifier, &[]).unwrap().checkpoint;
//! assert_eq!(checkpoint.size, TreeSize(3));
//! proof.verify(&leaf_hash(b"tender award 7"), &checkpoint.root).unwrap();
//! assert!(proof.verify(&leaf_hash(b"tender award 8"), &checkpoint.root).is_err());
//! ```
#![deny(missing_docs)]

pub mod access;
pub mod checkpoint;
pub mod entry;
pub mod evidence;
pub mod hash;
pub mod index;
mod lines;
pub mod note;
pub mod policy;
pub mod proof;
pub mod receipt;
pub mod registry;
pub mod statement;
pub mod tile;
pub mod tree;
pub mod witness;

pub use hash::Hash;
pub use index::{LeafIndex, TreeSize};
