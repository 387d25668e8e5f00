//! `Policy::parse` on arbitrary bytes, and `Policy::evaluate` both of a fixed
//! checkpoint under the parsed policy and of the input as a checkpoint note under
//! a fixed policy (spec/witness-policy.md).
//!
//! Asserts: nothing panics; a policy that parses was at most `MAX_POLICY_SIZE`
//! bytes of allowed octets ending in a newline, stays within the count limits,
//! has unique names other than `none`, thresholds between 1 and the number of
//! members, members defined on earlier lines and used once, a defined quorum,
//! and logs named after their origin; a fixed checkpoint without cosignatures
//! meets its quorum only under `quorum none`; an input note that evaluates under
//! the fixed one-witness policy meets the quorum exactly when the witness
//! cosigned, with that cosignature's timestamp as the freshness time.
//!
//! The checks are here rather than in `checks/policy.rs` because the change that
//! added this target could not touch `checks/mod.rs`; move them there (and add
//! the target to `ledger-core/tests/fuzz_corpus.rs`) once a corpus is committed.
#![no_main]

mod common;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use ledger_core::checkpoint::{Checkpoint, sign_checkpoint};
use ledger_core::note::NoteVerifier;
use ledger_core::policy::{
    MAX_GROUPS, MAX_LOGS, MAX_POLICY_SIZE, MAX_WITNESSES, Policy, QuorumStatus,
};
use ledger_core::{Hash, TreeSize};

/// The fixed one-witness policy that input notes are evaluated under.
static ONE_WITNESS: LazyLock<Policy> = LazyLock::new(|| {
    let text = format!(
        "log {}\nwitness W {}\nquorum W\n",
        common::LOG_VKEY,
        common::WITNESS_VKEY
    );
    Policy::parse(text.as_bytes()).expect("the fixed policy parses")
});

/// The empty tree's checkpoint, signed by the test log key and no witness.
static UNCOSIGNED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let cp = Checkpoint::new(common::ORIGIN.clone(), TreeSize(0), Hash::empty_tree());
    sign_checkpoint(&cp, &common::log_signer())
});

/// The structural invariants of a parsed policy.
fn check_policy(data: &[u8], p: &Policy) {
    assert!(data.len() <= MAX_POLICY_SIZE);
    assert!(data.is_empty() || data.ends_with(b"\n"));
    assert!(
        data.iter()
            .all(|&b| matches!(b, b'\t' | b'\n' | 0x20..=0x7e | 0x80..=0xff))
    );
    assert!(p.logs().len() <= MAX_LOGS);
    assert!(p.witnesses().len() <= MAX_WITNESSES);
    assert!(p.groups().len() <= MAX_GROUPS);
    for log in p.logs() {
        assert_eq!(log.origin().as_str(), log.verifier().name().as_str());
    }
    let mut defined: BTreeSet<&[u8]> = BTreeSet::new();
    for w in p.witnesses() {
        assert!(defined.insert(w.name().as_bytes()), "duplicate name");
    }
    let mut used: BTreeSet<&[u8]> = BTreeSet::new();
    for g in p.groups() {
        assert!((1..=g.members().len()).contains(&g.threshold()));
        for m in g.members() {
            assert!(defined.contains(m.as_bytes()), "member not defined earlier");
            assert!(used.insert(m.as_bytes()), "member used twice");
        }
        assert!(defined.insert(g.name().as_bytes()), "duplicate name");
    }
    assert!(!defined.contains(&b"none"[..]));
    if let Some(q) = p.quorum() {
        assert!(defined.contains(q.as_bytes()), "undefined quorum");
    }
}

/// The checks of the `policy` fuzz target on one input: panics if one fails.
fn check(data: &[u8]) {
    if let Ok(p) = Policy::parse(data) {
        check_policy(data, &p);
        if let Ok(e) = p.evaluate(&UNCOSIGNED) {
            assert!(e.cosigners().is_empty());
            let want = match p.quorum() {
                None => QuorumStatus::NotRequired,
                Some(_) => QuorumStatus::NotMet,
            };
            assert_eq!(e.quorum(), want);
        }
    }

    if let Ok(e) = ONE_WITNESS.evaluate(data) {
        match e.cosigners() {
            [] => assert_eq!(e.quorum(), QuorumStatus::NotMet),
            [c] => {
                assert_eq!(c.witness.as_bytes(), b"W");
                assert_eq!(
                    e.quorum(),
                    QuorumStatus::Met {
                        freshness_time: c.timestamp
                    }
                );
            }
            more => panic!("{} cosigners from a one-witness policy", more.len()),
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));
