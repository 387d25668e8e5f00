//! `AddCheckpointRequest::parse` and `witness::parse_size` on arbitrary bytes
//! (c2sp.org/tlog-witness; spec/witness.md §2).
//!
//! Asserts: nothing panics; a request that parses has at most 63 proof hashes, a
//! non-empty checkpoint, and encodes back to exactly the input; a size body that
//! parses encodes back to exactly the input.

use ledger_core::witness::{
    AddCheckpointRequest, MAX_PROOF_LINES, MAX_REQUEST_BYTES, encode_size, parse_size,
};

/// The checks of the `add_checkpoint` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    if let Ok(r) = AddCheckpointRequest::parse(data) {
        assert!(data.len() <= MAX_REQUEST_BYTES);
        assert!(r.proof.len() <= MAX_PROOF_LINES);
        assert!(!r.checkpoint.is_empty());
        assert_eq!(r.encode(), data, "the parse is not canonical");
    }
    if let Ok(size) = parse_size(data) {
        assert_eq!(encode_size(size).as_bytes(), data);
    }
}
