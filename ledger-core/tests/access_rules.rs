//! The access rules of spec/registry.md §6, through the registry state machine:
//! who may read a payload, grants and their expiry and revocation, erasure, and
//! the replay of a ledger that holds them.

mod common;

use common::{ExampleLedger, ORIGIN, key};
use ledger_core::access::AccessDenial;
use ledger_core::entry::sign_statement;
use ledger_core::registry::{Registry, RegistryError, TrustAnchors};

fn st(agency: &str, sub: &str, kind: &str, object: &str) -> Vec<u8> {
    format!(
        r#"{{"v":1,"origin":"{ORIGIN}","agency":"{agency}","submission_id":"{sub}","type":"{kind}","channel":"G2G","occurred_at":"2026-11-28T08:00:00Z","object":{object}}}"#
    )
    .into_bytes()
}

fn read(agency: &str, sub: &str, entry: u64) -> Vec<u8> {
    st(
        agency,
        sub,
        "access.payload.read",
        &format!(
            r#"{{"entry":"{entry}","official":"Dewi Lestari","purpose":"audit","legal_basis":"UU 15/2006","case":"AUD-1"}}"#
        ),
    )
}

fn grant(sub: &str, grantee: &str, agencies: &str, types: &str, expires: Option<&str>) -> Vec<u8> {
    let exp = expires
        .map(|e| format!(r#","expires_at":"{e}""#))
        .unwrap_or_default();
    st(
        "registry",
        sub,
        "registry.access.grant",
        &format!(
            r#"{{"grantee":"{grantee}","agencies":"{agencies}","types":"{types}","legal_basis":"UU 15/2006 art. 10"{exp}}}"#
        ),
    )
}

/// The example ledger (genesis, city-licensing, finance-ministry) plus the
/// audit board, and the permit with a payload at index 4.
fn ledger() -> ExampleLedger {
    let mut l = ExampleLedger::new();
    let s = l.register_statement("audit-board", "Audit Board");
    l.append(&l.authority.clone(), &s);
    l.append(
        &key("city-licensing"),
        &ExampleLedger::permit_statement("p1"),
    );
    l
}

fn try_append(l: &mut ExampleLedger, signer: &str, statement: &[u8]) -> Result<u64, RegistryError> {
    l.time_ms += 1_000;
    let k = if signer == "authority" {
        l.authority.clone()
    } else {
        key(signer)
    };
    let sig = sign_statement(&k, statement);
    let a = l.registry.sequence(statement, &sig, l.time_ms)?;
    let bytes = a.entry.encode().unwrap();
    l.tree.append(&bytes);
    l.entries.push(bytes);
    Ok(a.entry.index.0)
}

fn denial(r: Result<u64, RegistryError>) -> &'static str {
    r.expect_err("refused").code()
}

#[test]
fn the_owner_reads_others_need_a_grant_in_force() {
    let mut l = ledger();
    assert_eq!(
        try_append(&mut l, "city-licensing", &read("city-licensing", "r1", 4)),
        Ok(5)
    );
    assert_eq!(
        denial(try_append(
            &mut l,
            "audit-board",
            &read("audit-board", "r1", 4)
        )),
        AccessDenial::Denied.code()
    );
    // A grant for another agency's entries, or other types, does not help.
    try_append(
        &mut l,
        "authority",
        &grant("g0", "audit-board", "finance-ministry", "*", None),
    )
    .unwrap();
    try_append(
        &mut l,
        "authority",
        &grant("g1", "audit-board", "*", "service", None),
    )
    .unwrap();
    assert_eq!(
        denial(try_append(
            &mut l,
            "audit-board",
            &read("audit-board", "r2", 4)
        )),
        "access_denied"
    );
    let g = try_append(
        &mut l,
        "authority",
        &grant(
            "g2",
            "audit-board",
            "city-licensing",
            "decision.permit",
            None,
        ),
    )
    .unwrap();
    let r = try_append(&mut l, "audit-board", &read("audit-board", "r3", 4)).unwrap();
    assert!(r > g);
    // Revoked: refused again.
    let revoke = st(
        "registry",
        "rv",
        "registry.access.revoke",
        &format!(r#"{{"grant":"{g}","reason":"audit closed"}}"#),
    );
    try_append(&mut l, "authority", &revoke).unwrap();
    assert_eq!(
        denial(try_append(
            &mut l,
            "audit-board",
            &read("audit-board", "r4", 4)
        )),
        "access_denied"
    );
    // A second revocation, or of something that is not a grant: a rule error.
    assert_eq!(
        denial(try_append(&mut l, "authority", &revoke)),
        "duplicate_submission"
    );
    let again = String::from_utf8(revoke.clone())
        .unwrap()
        .replace("\"rv\"", "\"rv2\"");
    assert_eq!(
        denial(try_append(&mut l, "authority", again.as_bytes())),
        "registry_rule"
    );
    let not_grant = String::from_utf8(revoke)
        .unwrap()
        .replace("\"rv\"", "\"rv3\"")
        .replace(&format!("\"grant\":\"{g}\""), "\"grant\":\"4\"");
    assert_eq!(
        denial(try_append(&mut l, "authority", not_grant.as_bytes())),
        "registry_rule"
    );
}

#[test]
fn grants_expire_by_the_sequencing_time() {
    let mut l = ledger();
    // 2026-11-28T07:00:00Z is before the ledger's clock (2026-11-28T08:00 + ...).
    try_append(
        &mut l,
        "authority",
        &grant("g", "audit-board", "*", "*", Some("2026-11-28T07:00:00Z")),
    )
    .unwrap();
    assert_eq!(
        denial(try_append(
            &mut l,
            "audit-board",
            &read("audit-board", "r", 4)
        )),
        "access_denied"
    );
    try_append(
        &mut l,
        "authority",
        &grant("g2", "audit-board", "*", "*", Some("2099-01-01T00:00:00Z")),
    )
    .unwrap();
    assert!(try_append(&mut l, "audit-board", &read("audit-board", "r2", 4)).is_ok());
}

#[test]
fn entries_without_payload_and_bad_requests_are_refused() {
    let mut l = ledger();
    // Entry 1 is a registration: no payload commitment. Entry 99 does not exist.
    assert_eq!(
        denial(try_append(
            &mut l,
            "city-licensing",
            &read("city-licensing", "a", 1)
        )),
        "no_payload"
    );
    assert_eq!(
        denial(try_append(
            &mut l,
            "city-licensing",
            &read("city-licensing", "b", 99)
        )),
        "no_payload"
    );
    // An access entry names an earlier entry, never itself.
    let next = l.registry.next_index().0;
    assert_eq!(
        denial(try_append(
            &mut l,
            "city-licensing",
            &read("city-licensing", "c", next)
        )),
        "no_payload"
    );
    // Malformed objects: non-canonical index, missing field, extra field, wrong channel.
    for (sub, obj) in [
        (
            "d",
            r#"{"entry":"04","official":"x","purpose":"x","legal_basis":"x"}"#,
        ),
        ("e", r#"{"entry":"4","purpose":"x","legal_basis":"x"}"#),
        (
            "f",
            r#"{"entry":"4","official":"x","purpose":"x","legal_basis":"x","nik":"317"}"#,
        ),
        (
            "g",
            r#"{"entry":4,"official":"x","purpose":"x","legal_basis":"x"}"#,
        ),
    ] {
        let s = st("city-licensing", sub, "access.payload.read", obj);
        assert_eq!(
            denial(try_append(&mut l, "city-licensing", &s)),
            "registry_rule",
            "{obj}"
        );
    }
    let g2c = String::from_utf8(read("city-licensing", "h", 4))
        .unwrap()
        .replace("G2G", "G2C");
    assert_eq!(
        denial(try_append(&mut l, "city-licensing", g2c.as_bytes())),
        "registry_rule"
    );
    // The registry may not read, and access statements come from agencies.
    let by_registry = read("registry", "i", 4);
    assert_eq!(
        denial(try_append(&mut l, "authority", &by_registry)),
        "registry_rule"
    );
    // An unregistered agency: unknown_agency before any access decision.
    assert_eq!(
        denial(try_append(&mut l, "nobody", &read("nobody", "j", 4))),
        "unknown_agency"
    );
    // A grant to an unregistered agency.
    assert_eq!(
        denial(try_append(
            &mut l,
            "authority",
            &grant("k", "nobody", "*", "*", None)
        )),
        "registry_rule"
    );
}

#[test]
fn erasure_by_the_owner_or_the_authority_once() {
    let mut l = ledger();
    let erase = |agency: &str, sub: &str, entry: u64, kind: &str| {
        st(
            agency,
            sub,
            kind,
            &format!(r#"{{"entry":"{entry}","legal_basis":"UU 27/2022 art. 8"}}"#),
        )
    };
    assert_eq!(
        denial(try_append(
            &mut l,
            "finance-ministry",
            &erase("finance-ministry", "e1", 4, "access.payload.erase")
        )),
        "access_denied"
    );
    let e = try_append(
        &mut l,
        "city-licensing",
        &erase("city-licensing", "e2", 4, "access.payload.erase"),
    )
    .unwrap();
    assert_eq!(
        l.registry
            .access()
            .payload_status(ledger_core::LeafIndex(4)),
        Some(Some(ledger_core::LeafIndex(e)))
    );
    assert_eq!(
        denial(try_append(
            &mut l,
            "city-licensing",
            &erase("city-licensing", "e3", 4, "access.payload.erase")
        )),
        "payload_erased"
    );
    assert_eq!(
        denial(try_append(
            &mut l,
            "authority",
            &erase("registry", "e4", 4, "registry.payload.erase")
        )),
        "payload_erased"
    );
    assert_eq!(
        denial(try_append(
            &mut l,
            "city-licensing",
            &read("city-licensing", "r", 4)
        )),
        "payload_erased"
    );
    // The authority erases another payload.
    let p2 = try_append(
        &mut l,
        "city-licensing",
        &ExampleLedger::permit_statement("p2"),
    )
    .unwrap();
    assert!(
        try_append(
            &mut l,
            "authority",
            &erase("registry", "e5", p2, "registry.payload.erase")
        )
        .is_ok()
    );
    // An agency may not use the authority's type, nor the authority the agency's.
    let p3 = try_append(
        &mut l,
        "city-licensing",
        &ExampleLedger::permit_statement("p3"),
    )
    .unwrap();
    assert_eq!(
        denial(try_append(
            &mut l,
            "city-licensing",
            &erase("city-licensing", "e6", p3, "registry.payload.erase")
        )),
        "registry_rule"
    );
    assert_eq!(
        denial(try_append(
            &mut l,
            "authority",
            &erase("registry", "e7", p3, "access.payload.erase")
        )),
        "registry_rule"
    );
}

#[test]
fn a_replay_re_decides_every_access() {
    let mut l = ledger();
    try_append(&mut l, "city-licensing", &read("city-licensing", "r1", 4)).unwrap();
    try_append(
        &mut l,
        "authority",
        &grant("g", "audit-board", "*", "decision", None),
    )
    .unwrap();
    try_append(&mut l, "audit-board", &read("audit-board", "r2", 4)).unwrap();
    let erase = st(
        "city-licensing",
        "e",
        "access.payload.erase",
        r#"{"entry":"4","legal_basis":"UU 27/2022"}"#,
    );
    try_append(&mut l, "city-licensing", &erase).unwrap();
    let anchors = TrustAnchors {
        authority_key: Some(l.authority.verifying_key()),
        log_vkey: Some(l.log.verifier().to_vkey()),
    };
    let mut replay = Registry::new(ORIGIN, anchors.clone());
    for e in &l.entries {
        replay.apply_bytes(e).unwrap();
    }
    // A ledger whose sequencer let an unauthorized read in is refused on replay:
    // the audit board's read without its grant.
    let mut forged = Registry::new(ORIGIN, anchors);
    let mut rejected = None;
    for (i, e) in l.entries.iter().enumerate() {
        if i == 6 {
            continue; // drop the grant, and re-chain what follows
        }
        let mut entry = ledger_core::entry::Entry::decode(e).unwrap();
        entry.index = forged.next_index();
        entry.prev = forged.last_leaf_hash();
        let st = ledger_core::statement::Statement::parse(&entry.statement).unwrap();
        entry.agency_prev = forged.agency_head(&st.agency);
        if let Err(err) = forged.apply(&entry) {
            rejected = Some(err.code());
            break;
        }
    }
    assert_eq!(rejected, Some("access_denied"));
}

/// The registry state (spec/durability.md §3, the state snapshot) at every
/// prefix of a ledger with grants, reads and an erasure: it decodes to a
/// registry that re-encodes to the same bytes and goes on exactly like the
/// one that replayed every entry; every truncation and a trailing byte are
/// refused; and the submission ids stay with the set it is given.
#[test]
fn registry_state_round_trips_at_every_prefix() {
    use ledger_core::registry::{MemorySubmissionIds, SubmissionIds};
    let mut l = ledger();
    try_append(&mut l, "city-licensing", &read("city-licensing", "r1", 4)).unwrap();
    try_append(
        &mut l,
        "authority",
        &grant("g", "audit-board", "*", "decision", None),
    )
    .unwrap();
    try_append(&mut l, "audit-board", &read("audit-board", "r2", 4)).unwrap();
    let erase = st(
        "city-licensing",
        "e",
        "access.payload.erase",
        r#"{"entry":"4","legal_basis":"UU 27/2022"}"#,
    );
    try_append(&mut l, "city-licensing", &erase).unwrap();
    let anchors = TrustAnchors {
        authority_key: Some(l.authority.verifying_key()),
        log_vkey: Some(l.log.verifier().to_vkey()),
    };
    let mut full = Registry::new(ORIGIN, anchors.clone());
    let mut ids = MemorySubmissionIds::default();
    for (n, e) in l.entries.iter().enumerate() {
        let bytes = full.encode_state();
        let mut resumed =
            Registry::decode_state(&bytes, anchors.clone(), Box::new(ids.clone())).unwrap();
        assert_eq!(resumed.encode_state(), bytes, "prefix {n}");
        for rest in &l.entries[n..] {
            resumed.apply_bytes(rest).unwrap();
        }
        let mut whole = full.clone();
        for rest in &l.entries[n..] {
            whole.apply_bytes(rest).unwrap();
        }
        assert_eq!(resumed.encode_state(), whole.encode_state(), "prefix {n}");
        let a = full.apply_bytes(e).unwrap();
        ids.record(
            &a.statement.agency,
            a.statement.submission_id.as_str(),
            a.entry.index,
        )
        .unwrap();
    }
    let bytes = full.encode_state();
    for cut in 0..bytes.len() {
        assert!(
            Registry::decode_state(&bytes[..cut], anchors.clone(), Box::new(ids.clone())).is_err(),
            "cut at {cut}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(Registry::decode_state(&long, anchors.clone(), Box::new(ids.clone())).is_err());
    // Without the ids, a resubmission is not caught: the set is the state's
    // only memory of them.
    let resumed = Registry::decode_state(
        &bytes,
        anchors.clone(),
        Box::new(MemorySubmissionIds::default()),
    )
    .unwrap();
    let first = ledger_core::entry::Entry::decode(&l.entries[3]).unwrap();
    let st = ledger_core::statement::Statement::parse(&first.statement).unwrap();
    assert!(!resumed.has_submission(&st.agency, st.submission_id.as_str()));
    let with_ids = Registry::decode_state(&bytes, anchors, Box::new(ids)).unwrap();
    assert!(with_ids.has_submission(&st.agency, st.submission_id.as_str()));
}
