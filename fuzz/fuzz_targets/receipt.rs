//! `TlogProof::parse`, `Receipt::parse` and `Receipt::verify` on arbitrary bytes.
//!
//! Asserts: nothing panics; a proof that parses encodes back to exactly the input
//! and re-parses to an equal proof; a receipt parses exactly when the proof has an
//! `extra` line, and carries it as its entry; `verify` (fixed origin and log key)
//! either fails or returns the entry, statement and leaf hash of the receipt.
#![no_main]

mod common;

use ledger_core::entry::Entry;
use ledger_core::hash::leaf_hash;
use ledger_core::receipt::{Receipt, TlogProof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let proof = TlogProof::parse(data);
    if let Ok(proof) = &proof {
        let encoded = proof.encode();
        assert_eq!(encoded, data, "TlogProof::encode is not the parsed input");
        assert_eq!(&TlogProof::parse(&encoded).expect("re-parse"), proof);
    }

    let receipt = Receipt::parse(data);
    match (&proof, &receipt) {
        (Ok(p), Ok(r)) => {
            assert_eq!(p.extra.as_ref(), Some(&r.entry));
            assert_eq!(&r.proof, p);
            assert_eq!(r.encode(), data);
        }
        (Ok(p), Err(_)) => assert!(p.extra.is_none()),
        (Err(_), Ok(_)) => panic!("Receipt::parse accepted what TlogProof::parse rejects"),
        (Err(_), Err(_)) => {}
    }

    if let Ok(r) = &receipt
        && let Ok(v) = r.verify(&common::ORIGIN, &*common::LOG_VERIFIER)
    {
        assert_eq!(v.leaf_hash, leaf_hash(&r.entry));
        assert_eq!(v.entry, Entry::decode(&r.entry).unwrap());
        assert_eq!(v.entry.index, r.proof.index);
        assert_eq!(v.statement.bytes(), v.entry.statement);
        assert_eq!(v.statement.origin, common::LOG_ORIGIN);
        assert!(r.proof.index.0 < v.checkpoint.size.0);
    }
});
