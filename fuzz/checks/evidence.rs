//! `Evidence::parse` and `Evidence::verify` (fixed origin and log key) on
//! arbitrary bytes (spec/evidence.md).
//!
//! Asserts: nothing panics; evidence that parses prints (`to_json`) to text that
//! parses to an equal value and prints to the same text again, and gets the same
//! verdict; a verdict agrees with the checkpoints it returns (ordered by size) and
//! with an independent check: a proven fork's path, as an RFC 9162 consistency
//! proof, must FAIL `ConsistencyProof::verify` between the two signed roots, and
//! a path found consistent must pass it.

use super::common;

use ledger_core::checkpoint::open_checkpoint;
use ledger_core::evidence::{
    Evidence, EvidenceError, MAX_EVIDENCE_BYTES, Misbehaviour, NotProven, Verdict,
};
use ledger_core::proof::{ConsistencyProof, MAX_PROOF_HASHES};

/// The checks of the `evidence` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    let Ok(ev) = Evidence::parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_EVIDENCE_BYTES);
    let printed = ev.to_json();
    let again = Evidence::parse(printed.as_bytes()).expect("printed evidence does not parse");
    assert_eq!(again, ev, "printing and parsing changed the evidence");
    assert_eq!(again.to_json(), printed, "printing is not stable");
    if let Some(p) = &ev.proof {
        assert!(p.path.len() <= MAX_PROOF_HASHES);
    }

    let result = ev.verify(&common::ORIGIN, &*common::LOG_VERIFIER);
    assert_eq!(
        again.verify(&common::ORIGIN, &*common::LOG_VERIFIER),
        result,
        "the reparsed evidence gets another verdict"
    );
    let checked = match result {
        Ok(c) => c,
        Err(EvidenceError::NotSigned { which, .. }) => {
            // Exactly the first checkpoint that does not open is named.
            let opens = |t: &str| {
                open_checkpoint(t.as_bytes(), &common::ORIGIN, &*common::LOG_VERIFIER, &[]).is_ok()
            };
            match which {
                "earlier" => assert!(!opens(&ev.earlier)),
                "later" => assert!(opens(&ev.earlier) && !opens(&ev.later)),
                other => panic!("NotSigned names {other:?}"),
            }
            return;
        }
        Err(e) => panic!("verify failed with a parse error after parsing: {e}"),
    };
    let (s, l) = (&checked.smaller, &checked.larger);
    assert!(s.size <= l.size);
    assert_eq!(s.origin.as_str(), common::LOG_ORIGIN);
    assert_eq!(l.origin.as_str(), common::LOG_ORIGIN);
    // The RFC 9162 proof inside the full path: the prefix node of §2 removed.
    let rfc_proof = || {
        let p = ev.proof.as_ref().expect("a path was used");
        let skip = usize::from(s.size.0.is_power_of_two());
        ConsistencyProof {
            old: s.size,
            new: l.size,
            path: p.path[skip.min(p.path.len())..].to_vec(),
        }
    };
    match &checked.verdict {
        Verdict::Proven(Misbehaviour::TwoRootsForOneSize {
            size,
            earlier_root,
            later_root,
        }) => {
            assert!(s.size == *size && l.size == *size);
            assert_ne!(earlier_root, later_root);
        }
        Verdict::Proven(Misbehaviour::Fork {
            smaller_size,
            smaller_root,
            larger_size,
            larger_prefix_root,
        }) => {
            assert!(0 < smaller_size.0 && smaller_size < larger_size);
            assert_eq!((*smaller_size, *larger_size), (s.size, l.size));
            assert_eq!(*smaller_root, s.root);
            assert_ne!(larger_prefix_root, smaller_root);
            assert!(
                rfc_proof().verify(&s.root, &l.root).is_err(),
                "a proven fork passes ConsistencyProof::verify"
            );
        }
        Verdict::NotProven(NotProven::SameTree) => {
            assert_eq!((s.size, s.root), (l.size, l.root));
        }
        Verdict::NotProven(NotProven::EmptyTree) => {
            assert!(s.size.0 == 0 && l.size.0 > 0);
        }
        Verdict::NotProven(NotProven::NoPath) => {
            assert!(ev.proof.is_none() && 0 < s.size.0 && s.size < l.size);
        }
        Verdict::NotProven(NotProven::Consistent) => {
            rfc_proof()
                .verify(&s.root, &l.root)
                .expect("a consistent path fails ConsistencyProof::verify");
        }
        Verdict::NotProven(NotProven::PathSizes)
        | Verdict::NotProven(NotProven::Path(_))
        | Verdict::NotProven(NotProven::PathMissesRoot) => {
            assert!(ev.proof.is_some() && 0 < s.size.0 && s.size < l.size);
        }
    }
}
