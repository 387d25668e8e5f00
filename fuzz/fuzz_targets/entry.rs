//! `Entry::decode` on arbitrary bytes.
//!
//! Asserts: nothing panics; an entry that decodes encodes back to exactly the
//! input, and its leaf hash can be computed.
#![no_main]

use ledger_core::entry::Entry;
use ledger_core::hash::leaf_hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(data) {
        let encoded = entry.encode().expect("a decoded entry does not encode");
        assert_eq!(encoded, data, "Entry::encode is not the decoded input");
        assert_eq!(entry.leaf_hash().expect("leaf hash"), leaf_hash(data));
    }
});
