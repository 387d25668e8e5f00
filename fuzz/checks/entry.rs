//! `Entry::decode` on arbitrary bytes.
//!
//! Asserts: nothing panics; an entry that decodes encodes back to exactly the
//! input, and its leaf hash can be computed.

use ledger_core::entry::Entry;
use ledger_core::hash::leaf_hash;

/// The checks of the `entry` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    if let Ok(entry) = Entry::decode(data) {
        let encoded = entry.encode().expect("a decoded entry does not encode");
        assert_eq!(encoded, data, "Entry::encode is not the decoded input");
        assert_eq!(entry.leaf_hash().expect("leaf hash"), leaf_hash(data));
    }
}
