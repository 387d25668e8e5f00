//! The sample statements of `examples/statements/` (one JSON file per statement,
//! in ledger order) against ledger-core:
//!
//! - every file parses with the strict statement parser (spec/entry.md §1) and
//!   keeps exactly the file's bytes, also through an entry envelope (§2);
//! - together they cover every statement type family, every channel and every
//!   registry statement type (spec/registry.md §3) that the code knows;
//! - each payload commitment opens with the private payload and salt kept in
//!   `payloads/` (entry.md §4);
//! - in file order, signed with the documented example keys, they form a ledger
//!   that the registry state machine accepts (registry.md §4), so the registry
//!   statements' objects and keys are valid too.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{ORIGIN, key};
use ed25519_dalek::SigningKey;
use ledger_core::access::{TYPE_ACCESS_GRANT, TYPE_ACCESS_REVOKE, TYPE_REGISTRY_ERASE};
use ledger_core::checkpoint::Origin;
use ledger_core::entry::{Entry, sign_statement};
use ledger_core::note::Ed25519Signer;
use ledger_core::registry::{
    Registry, TYPE_GENESIS, TYPE_KEY_ADD, TYPE_KEY_REVOKE, TYPE_KEY_ROTATE, TYPE_REGISTER,
    TrustAnchors,
};
use ledger_core::statement::{
    Channel, JsonValue, PayloadCommitment, SALT_BYTES, Statement, TypeFamily,
};

/// Every type family of the parser (spec/entry.md §1.2). The exhaustive match in
/// `family_name` has no wildcard arm: a new variant does not compile until it is
/// listed here, and then this test asks for a sample of it.
const FAMILIES: [TypeFamily; 5] = [
    TypeFamily::Decision,
    TypeFamily::Service,
    TypeFamily::Transfer,
    TypeFamily::Registry,
    TypeFamily::Access,
];

fn family_name(f: TypeFamily) -> &'static str {
    match f {
        TypeFamily::Decision => "decision",
        TypeFamily::Service => "service",
        TypeFamily::Transfer => "transfer",
        TypeFamily::Registry => "registry",
        TypeFamily::Access => "access",
    }
}

/// Every channel of the parser, guarded the same way by `channel_guard`.
const CHANNELS: [Channel; 3] = [Channel::G2C, Channel::G2B, Channel::G2G];

fn channel_guard(c: Channel) {
    match c {
        Channel::G2C | Channel::G2B | Channel::G2G => {}
    }
}

/// The registry statement types of ledger_core::registry and ledger_core::access.
const REGISTRY_TYPES: [&str; 8] = [
    TYPE_GENESIS,
    TYPE_REGISTER,
    TYPE_KEY_ADD,
    TYPE_KEY_ROTATE,
    TYPE_KEY_REVOKE,
    TYPE_ACCESS_GRANT,
    TYPE_ACCESS_REVOKE,
    TYPE_REGISTRY_ERASE,
];

/// How many keys per agency the samples may use: `key("<agency>")`, then
/// `key("<agency> 2")`, … (examples/statements/README.md).
const KEYS_PER_AGENCY: usize = 4;

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/statements")
}

/// Every `*.json` file of the samples folder, by name, with its bytes.
fn samples() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(samples_dir())
        .expect("examples/statements exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("a readable sample"))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no samples in {}", samples_dir().display());
    out
}

fn parse(name: &str, bytes: &[u8]) -> Statement {
    Statement::parse(bytes).unwrap_or_else(|e| panic!("{name} is refused by the parser: {e}"))
}

#[test]
fn every_sample_parses_strictly_and_keeps_its_bytes() {
    for (name, bytes) in samples() {
        let st = parse(&name, &bytes);
        assert_eq!(
            st.bytes(),
            &bytes[..],
            "{name}: the parser changed the bytes"
        );
        assert_eq!(st.origin, ORIGIN, "{name}: not the example ledger's origin");
        // Names are `NN-<family>-…[-<channel>].json`, NN the position in the ledger.
        let b = name.as_bytes();
        assert!(
            b.len() > 3 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'-',
            "{name}: the file name should start with two digits and a dash"
        );
        let family = family_name(st.kind.family().expect("a parsed type has a family"));
        assert!(
            name[3..].starts_with(family),
            "{name}: the file name should start NN-{family}"
        );
        if !st.agency.is_registry() {
            let channel = st.channel.as_str().to_ascii_lowercase();
            assert!(
                name.ends_with(&format!("-{channel}.json")),
                "{name}: the file name should end -{channel}.json"
            );
        }
    }
}

#[test]
fn the_samples_cover_every_family_channel_and_registry_type() {
    let mut families = Vec::new();
    let mut channels = Vec::new();
    let mut registry_types = BTreeSet::new();
    for (name, bytes) in samples() {
        let st = parse(&name, &bytes);
        let family = st.kind.family().expect("a parsed type has a family");
        channel_guard(st.channel);
        assert_eq!(
            family == TypeFamily::Registry,
            st.agency.is_registry(),
            "{name}: registry.* types belong to agency `registry`, and only they"
        );
        if family == TypeFamily::Registry {
            registry_types.insert(st.kind.as_str().to_owned());
        }
        families.push(family);
        channels.push(st.channel);
    }
    for f in FAMILIES {
        assert!(
            families.contains(&f),
            "no sample of the {} family",
            family_name(f)
        );
    }
    for c in CHANNELS {
        assert_eq!(Channel::parse(c.as_str()), Ok(c));
        assert!(channels.contains(&c), "no sample on channel {}", c.as_str());
    }
    let known: BTreeSet<String> = REGISTRY_TYPES.iter().map(|t| t.to_string()).collect();
    assert_eq!(registry_types, known, "registry samples vs registry types");
}

#[test]
fn payload_commitments_open_with_the_kept_payloads() {
    let payloads = samples_dir().join("payloads");
    let mut expected = BTreeSet::new();
    for (name, bytes) in samples() {
        let st = parse(&name, &bytes);
        let stem = name.strip_suffix(".json").unwrap();
        let Some(commitment) = st.payload_commitment else {
            continue;
        };
        let payload = std::fs::read(payloads.join(format!("{stem}.payload")))
            .unwrap_or_else(|e| panic!("{name}: payloads/{stem}.payload: {e}"));
        let salt_hex = std::fs::read_to_string(payloads.join(format!("{stem}.salt")))
            .unwrap_or_else(|e| panic!("{name}: payloads/{stem}.salt: {e}"));
        let salt: [u8; SALT_BYTES] = hex::decode(salt_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .unwrap_or_else(|| panic!("{stem}.salt is not 64 hex digits"));
        assert!(
            commitment.opens(&salt, &payload),
            "{name}: the commitment does not open"
        );
        assert!(!commitment.opens(&salt, &[&payload[..], b" "].concat()));
        assert_eq!(commitment, PayloadCommitment::compute(&salt, &payload));
        expected.insert(format!("{stem}.payload"));
        expected.insert(format!("{stem}.salt"));
    }
    assert!(!expected.is_empty(), "no sample has a payload commitment");
    let found: BTreeSet<String> = std::fs::read_dir(&payloads)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        found, expected,
        "payloads/ holds exactly the samples' payloads"
    );
}

/// The registry key fields of a registry statement's object.
fn registry_keys(object: &BTreeMap<String, JsonValue>) -> Vec<String> {
    ["authority_key", "key", "old_key", "new_key"]
        .iter()
        .filter_map(|f| object.get(*f).and_then(JsonValue::as_str))
        .map(str::to_owned)
        .collect()
}

#[test]
fn in_order_the_samples_form_a_valid_ledger() {
    let origin = Origin::new(ORIGIN).unwrap();
    let log = Ed25519Signer::new(origin.key_name(), key("log"));
    let authority = key("registry authority");
    let mut registry = Registry::new(
        ORIGIN,
        TrustAnchors {
            authority_key: Some(authority.verifying_key()),
            log_vkey: Some(log.verifier().to_vkey()),
        },
    );
    let samples = samples();

    // The documented example keys of every agency the samples register.
    let mut keys: HashMap<[u8; 32], SigningKey> = HashMap::new();
    keys.insert(authority.verifying_key().to_bytes(), authority.clone());
    for (name, bytes) in &samples {
        let st = parse(name, bytes);
        if st.kind.as_str() == TYPE_REGISTER {
            let agency = st.object["agency"].as_str().unwrap().to_owned();
            for n in 1..=KEYS_PER_AGENCY {
                let label = if n == 1 {
                    agency.clone()
                } else {
                    format!("{agency} {n}")
                };
                let k = key(&label);
                keys.insert(k.verifying_key().to_bytes(), k);
            }
        }
    }

    let mut time_ms = 1_796_000_000_000;
    let mut signed_by = BTreeMap::new();
    for (name, bytes) in &samples {
        let st = parse(name, bytes);
        if st.agency.is_registry() {
            for b64 in registry_keys(&st.object) {
                let raw: [u8; 32] = STANDARD.decode(&b64).unwrap().try_into().unwrap();
                assert!(
                    keys.contains_key(&raw),
                    "{name}: key {b64} is not one of the documented example keys"
                );
            }
        }
        let active = registry.signing_keys(&st.agency);
        let signer = if registry.next_index().0 == 0 {
            &authority
        } else {
            let first = active
                .first()
                .unwrap_or_else(|| panic!("{name}: {} has no active key", st.agency));
            &keys[first.as_bytes()]
        };
        time_ms += 60_000;
        let applied = registry
            .sequence(bytes, &sign_statement(signer, bytes), time_ms)
            .unwrap_or_else(|e| panic!("{name} is refused by the registry: {e}"));
        // Through the envelope and back: the exact file bytes.
        let encoded = applied.entry.encode().unwrap();
        assert_eq!(Entry::decode(&encoded).unwrap().statement, *bytes, "{name}");
        *signed_by.entry(st.agency.to_string()).or_insert(0u32) += 1;
    }

    // Every registered agency signs at least one sample of its own.
    let agencies: Vec<_> = registry.agencies().map(|a| a.id.to_string()).collect();
    assert!(!agencies.is_empty());
    for a in agencies {
        assert!(signed_by.contains_key(&a), "no sample signed by {a}");
    }
}
