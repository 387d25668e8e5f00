//! `TlogProof::parse`, `Receipt::parse` and `Receipt::verify` on arbitrary bytes.
//!
//! Asserts: nothing panics; a proof that parses encodes back to exactly the input
//! and re-parses to an equal proof; a receipt parses exactly when the proof has an
//! `extra` line, and carries it as its entry; `verify` (fixed origin and log key)
//! either fails or returns the entry, statement and leaf hash of the receipt.

use super::common;

use ledger_core::entry::Entry;
use ledger_core::hash::leaf_hash;
use ledger_core::receipt::{Receipt, SIGNED_EXTRA_TAG, TlogProof};

/// The checks of the `receipt` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    let proof = TlogProof::parse(data);
    if let Ok(proof) = &proof {
        let encoded = proof.encode();
        assert_eq!(encoded, data, "TlogProof::encode is not the parsed input");
        assert_eq!(&TlogProof::parse(&encoded).expect("re-parse"), proof);
    }

    let receipt = Receipt::parse(data);
    match (&proof, &receipt) {
        (Ok(p), Ok(r)) => {
            let extra = p.extra.as_ref().expect("a receipt has an extra line");
            match &r.signer {
                // Form 1: the extra data is the envelope.
                None => assert_eq!(extra, &r.entry),
                // Form 2: tag, signer key, envelope (spec/receipts.md §1).
                Some(k) => {
                    assert_eq!(extra[0], SIGNED_EXTRA_TAG);
                    assert_eq!(&extra[1..33], k.as_bytes());
                    assert_eq!(&extra[33..], &r.entry[..]);
                }
            }
            assert_eq!(&r.proof, p);
            assert_eq!(r.encode(), data);
        }
        // Refused: no extra line, or a form-2 extra cut short or with a bad key.
        (Ok(p), Err(_)) => assert!(
            p.extra
                .as_ref()
                .is_none_or(|e| e.first() == Some(&SIGNED_EXTRA_TAG))
        ),
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
}
