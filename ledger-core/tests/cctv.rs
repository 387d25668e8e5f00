//! The three Ed25519 rules of this ledger pinned on C2SP/CCTV's edge-case
//! vectors (`../shared/interop/ed25519-cctv`, read in place), with the same
//! expectations as the explorer's TypeScript (ledger-server/explorer,
//! test/spec.test.ts), so that Rust and the browser agree on every vector:
//! - the note rule (signed notes, checkpoints and cosignatures; Go's
//!   crypto/ed25519): refuses exactly `non_canonical_R` and `low_order_residue`;
//! - the statement rule (spec/entry.md §3.2): accepts exactly the vectors whose
//!   only flags are `low_order_component_A` / `low_order_component_R`;
//! - the key rule (`strict_public_key`, every registered key): refuses
//!   small-order and non-canonical keys, accepts mixed-order ones.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use ledger_core::entry::{statement_rule, strict_public_key};
use ledger_core::note::{Ed25519Verifier, KeyName, NoteVerifier as _};
use serde_json::Value;

struct Vector {
    number: u64,
    key: [u8; 32],
    sig: [u8; 64],
    msg: Vec<u8>,
    flags: Vec<String>,
}

fn vectors() -> Option<Vec<Vector>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/interop/ed25519-cctv/ed25519vectors.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "\n\n*** SKIPPING the CCTV vectors: {} not found. These tests did NOT run. ***\n\n",
            path.display()
        );
        return None;
    };
    let all: Vec<Value> = serde_json::from_str(&text).expect("the vectors' JSON");
    let v = all
        .iter()
        .map(|v| Vector {
            number: v["number"].as_u64().unwrap(),
            key: hex::decode(v["key"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            sig: hex::decode(v["sig"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            msg: v["msg"].as_str().unwrap().as_bytes().to_vec(),
            flags: v["flags"]
                .as_array()
                .map(|f| f.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
        })
        .collect::<Vec<_>>();
    assert!(v.len() > 100, "only {} vectors", v.len());
    Some(v)
}

fn has(v: &Vector, flag: &str) -> bool {
    v.flags.iter().any(|f| f == flag)
}

#[test]
fn the_note_rule_refuses_exactly_non_canonical_r_and_low_order_residue() {
    let Some(vectors) = vectors() else { return };
    for v in &vectors {
        let want = !has(v, "non_canonical_R") && !has(v, "low_order_residue");
        let got = match VerifyingKey::from_bytes(&v.key) {
            Ok(key) => {
                Ed25519Verifier::new(KeyName::new("cctv").unwrap(), key).verify(&v.msg, &v.sig)
            }
            Err(_) => false,
        };
        assert_eq!(got, want, "vector {} {:?}", v.number, v.flags);
    }
}

#[test]
fn the_statement_rule_accepts_exactly_the_mixed_order_component_vectors() {
    let Some(vectors) = vectors() else { return };
    let mut accepted = 0;
    for v in &vectors {
        let want = v
            .flags
            .iter()
            .all(|f| f == "low_order_component_A" || f == "low_order_component_R");
        let got =
            VerifyingKey::from_bytes(&v.key).is_ok_and(|k| statement_rule(&k, &v.msg, &v.sig));
        assert_eq!(got, want, "vector {} {:?}", v.number, v.flags);
        accepted += usize::from(want);
    }
    assert!(accepted > 0);
}

#[test]
fn the_key_rule_refuses_small_order_and_non_canonical_keys() {
    let Some(vectors) = vectors() else { return };
    for v in &vectors {
        let want = !has(v, "low_order_A") && !has(v, "non_canonical_A");
        assert_eq!(
            strict_public_key(&v.key).is_ok(),
            want,
            "vector {} {:?}",
            v.number,
            v.flags
        );
    }
}
