//! The library's statement building, checked with ledger-core alone: the bytes
//! parse strictly, the signatures verify, payload commitments open, and the
//! registry statements are accepted by ledger-core's registry state machine.

mod common;

use agency_client::keys::parse_public_key;
use agency_client::statement::{
    JsonObject, Payload, RegistryAction, StatementSpec, now_rfc3339, parse_object,
    random_submission_id,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{ORIGIN, b64_key, key, log_signer, registry_after_genesis};
use ledger_core::entry::{sign_statement, verify_statement_signature};
use ledger_core::statement::{Channel, Statement, parse_utc_timestamp};
use serde_json::json;

fn spec(object: JsonObject) -> StatementSpec {
    StatementSpec {
        origin: ORIGIN.into(),
        agency: "city-licensing".into(),
        submission_id: "2026-11-28/000123".into(),
        kind: "decision.permit.granted".into(),
        channel: Channel::G2B,
        occurred_at: "2026-11-28T07:45:00Z".into(),
        subject: Some("PERMIT/2026/0042".into()),
        object,
        payload_commitment: None,
    }
}

fn permit_object() -> JsonObject {
    parse_object(
        r#"{"permit":"street food stall","outcome":"granted","legal_basis":"Perda 12/2024 art. 7","fee_idr":150000}"#,
    )
    .unwrap()
}

#[test]
fn a_statement_is_the_spec_example_byte_for_byte_and_signs() {
    let k = key(1);
    let signed = spec(permit_object()).sign(&k, None).unwrap();
    // The spec's example (entry.md §1.3) without its payload commitment: the same
    // field order, the object's fields in the order given.
    assert_eq!(
        String::from_utf8(signed.statement.clone()).unwrap(),
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"city-licensing","submission_id":"2026-11-28/000123","type":"decision.permit.granted","channel":"G2B","occurred_at":"2026-11-28T07:45:00Z","subject":"PERMIT/2026/0042","object":{{"permit":"street food stall","outcome":"granted","legal_basis":"Perda 12/2024 art. 7","fee_idr":150000}}}}"#
        )
    );
    let st = Statement::parse(&signed.statement).unwrap();
    assert_eq!(st.agency.as_str(), "city-licensing");
    assert_eq!(st.payload_commitment, None);
    assert!(verify_statement_signature(
        &k.verifying_key(),
        &signed.statement,
        &signed.signature
    ));
    assert_eq!(signed.signature, sign_statement(&k, &signed.statement));
    assert!(!verify_statement_signature(
        &key(2).verifying_key(),
        &signed.statement,
        &signed.signature
    ));

    // The request body carries exactly these bytes, and no payload.
    let req = signed.to_request();
    assert_eq!(STANDARD.decode(&req.statement).unwrap(), signed.statement);
    assert_eq!(
        STANDARD.decode(&req.signature).unwrap(),
        signed.signature.to_vec()
    );
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"statement": req.statement, "signature": req.signature})
    );
}

#[test]
fn a_payload_is_committed_to_and_sent_beside_the_statement() {
    let payload = br#"{"applicant_nik":"3171234567890001","applicant_name":"Siti Rahma"}"#;
    let signed = spec(permit_object())
        .sign(&key(1), Some(Payload::new(payload.to_vec())))
        .unwrap();
    let st = Statement::parse(&signed.statement).unwrap();
    let p = signed.payload.as_ref().unwrap();
    let commitment = st.payload_commitment.unwrap();
    assert!(commitment.opens(&p.salt, payload));
    assert!(!String::from_utf8_lossy(&signed.statement).contains("3171234567890001"));
    let req = signed.to_request();
    assert_eq!(STANDARD.decode(req.payload.unwrap()).unwrap(), payload);
    assert_eq!(req.salt.unwrap(), hex::encode(p.salt));
    // Two payload commitments to the same payload use different salts.
    let again = spec(permit_object())
        .sign(&key(1), Some(Payload::new(payload.to_vec())))
        .unwrap();
    assert_ne!(again.payload.unwrap().salt, p.salt);
    assert!(
        String::from_utf8_lossy(&signed.statement).ends_with(&format!(
            r#","payload_commitment":"{}"}}"#,
            commitment.to_hex()
        ))
    );
}

#[test]
fn bad_fields_are_refused_by_name() {
    type Change = Box<dyn Fn(&mut StatementSpec)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|s| s.agency = "City Licensing".into()), "agency"),
        (Box::new(|s| s.agency = "registry".into()), "registry"),
        (
            Box::new(|s| s.submission_id = "a b".into()),
            "submission id",
        ),
        (
            Box::new(|s| s.submission_id = String::new()),
            "submission id",
        ),
        (Box::new(|s| s.kind = "permit".into()), "type"),
        (
            Box::new(|s| s.kind = "registry.agency.register".into()),
            "registry",
        ),
        (
            Box::new(|s| s.occurred_at = "2026-11-28 07:45:00".into()),
            "occurred at",
        ),
        (
            Box::new(|s| s.occurred_at = "2026-11-28T07:45:00+07:00".into()),
            "occurred at",
        ),
        (Box::new(|s| s.origin = "has space".into()), "origin"),
        (
            Box::new(|s| s.subject = Some("line\nbreak".into())),
            "subject",
        ),
        (Box::new(|s| s.subject = Some(String::new())), "subject"),
    ];
    for (change, what) in cases {
        let mut s = spec(permit_object());
        change(&mut s);
        let err = format!("{:#}", s.sign(&key(1), None).unwrap_err());
        assert!(err.contains(what), "{what}: {err}");
    }
    // Too large for any log.
    let mut big = JsonObject::new();
    big.insert("text", "x".repeat(70_000));
    let err = format!("{:#}", spec(big).sign(&key(1), None).unwrap_err());
    assert!(err.contains("limit"), "{err}");
}

#[test]
fn objects_keep_their_order_and_refuse_what_statements_refuse() {
    let o = parse_object(r#"{"z":1,"a":{"y":2,"b":3},"m":[1,2]}"#).unwrap();
    assert_eq!(o.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
    for (bad, why) in [
        ("[1,2]", "an array"),
        ("\"text\"", "a string"),
        ("12", "a number"),
        ("null", "null"),
        ("{\"a\":1,\"a\":2}", "duplicate"),
        ("{\"a\":{\"b\":1,\"b\":1}}", "duplicate"),
        ("{\"a\":1", "not valid JSON"),
        ("{\"a\":1} {}", "not valid JSON"),
    ] {
        let err = format!("{:#}", parse_object(bad).unwrap_err());
        assert!(err.contains(why), "{bad}: {err}");
    }
    for bad in [
        r#"{"amount":123456789012345678901234}"#,
        r#"{"a":[1,{"b":-99999999999999999999}]}"#,
        r#"{"rate":0.12345678901234567}"#,
    ] {
        let err = format!("{:#}", parse_object(bad).unwrap_err());
        assert!(err.contains("write it as a string"), "{bad}: {err}");
    }
    let exact = parse_object(
        r#"{"max":18446744073709551615,"min":-9223372036854775808,"r":0.5,"e":1.5e3,"s":"123456789012345678901234 \" 1.23456789012345678","z":0.000000000000000000001}"#,
    )
    .unwrap();
    assert_eq!(exact.get("max"), Some(&json!(u64::MAX)));
    assert_eq!(exact.get("min"), Some(&json!(i64::MIN)));
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
    assert!(parse_object(&deep).is_err());
}

#[test]
fn generated_values_are_valid() {
    assert!(parse_utc_timestamp(&now_rfc3339()).is_ok());
    assert!(now_rfc3339().ends_with('Z'));
    let a = random_submission_id();
    assert_eq!(a.len(), 32);
    assert_ne!(a, random_submission_id());
    assert!(ledger_core::statement::SubmissionId::new(&a).is_ok());
}

#[test]
fn registry_statements_are_accepted_by_the_registry() {
    let authority = key(100);
    let log = log_signer();
    let (mut registry, _) = registry_after_genesis(&authority, &log);
    let (k1, k2, k3) = (key(1), key(2), key(3));
    let mut time = 10;
    let mut apply = |action: RegistryAction, expect_object: &str| {
        let signed = action
            .statement(ORIGIN, None, None)
            .unwrap()
            .sign(&authority, None)
            .unwrap();
        let st = Statement::parse(&signed.statement).unwrap();
        assert_eq!(st.agency.as_str(), "registry");
        assert_eq!(st.channel, Channel::G2G);
        assert_eq!(st.kind.as_str(), action.kind());
        assert_eq!(st.submission_id.as_str(), action.default_submission_id());
        let text = String::from_utf8(signed.statement.clone()).unwrap();
        assert!(
            text.contains(&format!(r#""object":{expect_object}}}"#)),
            "{text}"
        );
        time += 1;
        registry
            .sequence(&signed.statement, &signed.signature, time)
            .unwrap_or_else(|e| panic!("{}: {e}", action.kind()));
    };
    apply(
        RegistryAction::Register {
            agency: "city-licensing".into(),
            name: "City Licensing Office".into(),
            key: k1.verifying_key(),
        },
        &format!(
            r#"{{"agency":"city-licensing","name":"City Licensing Office","key":"{}"}}"#,
            b64_key(&k1)
        ),
    );
    apply(
        RegistryAction::AddKey {
            agency: "city-licensing".into(),
            key: k2.verifying_key(),
        },
        &format!(r#"{{"agency":"city-licensing","key":"{}"}}"#, b64_key(&k2)),
    );
    apply(
        RegistryAction::RotateKey {
            agency: "city-licensing".into(),
            old_key: k1.verifying_key(),
            new_key: k3.verifying_key(),
        },
        &format!(
            r#"{{"agency":"city-licensing","old_key":"{}","new_key":"{}"}}"#,
            b64_key(&k1),
            b64_key(&k3)
        ),
    );
    apply(
        RegistryAction::RevokeKey {
            agency: "city-licensing".into(),
            key: k2.verifying_key(),
            reason: "laptop lost".into(),
        },
        &format!(
            r#"{{"agency":"city-licensing","key":"{}","reason":"laptop lost"}}"#,
            b64_key(&k2)
        ),
    );
    let agency = registry
        .agency(&ledger_core::statement::AgencyId::new("city-licensing").unwrap())
        .unwrap();
    let active: Vec<_> = agency.active_keys().map(|k| k.key).collect();
    assert_eq!(active, vec![k3.verifying_key()]);

    // The agency's only active key now signs; the rotated and revoked ones do not.
    let mut s = spec(permit_object());
    s.origin = ORIGIN.into();
    let ok = s.clone().sign(&k3, None).unwrap();
    registry.sequence(&ok.statement, &ok.signature, 20).unwrap();
    for old in [&k1, &k2] {
        let mut s = s.clone();
        s.submission_id = random_submission_id();
        let bad = s.sign(old, None).unwrap();
        let e = registry
            .sequence(&bad.statement, &bad.signature, 21)
            .unwrap_err();
        assert!(
            ["key_not_active", "bad_signature"].contains(&e.code()),
            "{e}"
        );
    }
}

#[test]
fn registry_actions_check_what_they_can() {
    let k = key(1).verifying_key();
    let bad = [
        RegistryAction::Register {
            agency: "registry".into(),
            name: "x".into(),
            key: k,
        },
        RegistryAction::Register {
            agency: "Bad Id".into(),
            name: "x".into(),
            key: k,
        },
        RegistryAction::Register {
            agency: "ok".into(),
            name: String::new(),
            key: k,
        },
        RegistryAction::Register {
            agency: "ok".into(),
            name: "tab\there".into(),
            key: k,
        },
        RegistryAction::RotateKey {
            agency: "ok".into(),
            old_key: k,
            new_key: k,
        },
        RegistryAction::RevokeKey {
            agency: "ok".into(),
            key: k,
            reason: "r".repeat(513),
        },
    ];
    for action in bad {
        assert!(action.statement(ORIGIN, None, None).is_err(), "{action:?}");
    }
    // Default submission ids are valid, differ per key and per action.
    let ids: Vec<String> = [
        RegistryAction::AddKey {
            agency: "a".into(),
            key: key(1).verifying_key(),
        },
        RegistryAction::AddKey {
            agency: "a".into(),
            key: key(2).verifying_key(),
        },
        RegistryAction::RevokeKey {
            agency: "a".into(),
            key: key(1).verifying_key(),
            reason: "r".into(),
        },
    ]
    .iter()
    .map(RegistryAction::default_submission_id)
    .collect();
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    for id in &ids {
        assert!(
            ledger_core::statement::SubmissionId::new(id).is_ok(),
            "{id}"
        );
    }
    // An explicit submission id and time are used as given.
    let s = RegistryAction::AddKey {
        agency: "a".into(),
        key: k,
    }
    .statement(
        ORIGIN,
        Some("mine".into()),
        Some("2026-01-01T00:00:00Z".into()),
    )
    .unwrap();
    assert_eq!(s.submission_id, "mine");
    assert_eq!(s.occurred_at, "2026-01-01T00:00:00Z");
}

#[test]
fn public_keys_are_checked_as_the_registry_checks_them() {
    assert!(parse_public_key("k", &b64_key(&key(1))).is_ok());
    for (bad, why) in [
        ("not base64!", "base64"),
        ("AAAA", "32 bytes"),
        // The identity point: valid encoding, small order.
        (
            "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "small order",
        ),
    ] {
        let err = format!("{:#}", parse_public_key("k", bad).unwrap_err());
        assert!(err.contains(why), "{bad}: {err}");
    }
}
