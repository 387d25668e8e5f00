//! The access statements (spec/registry.md §6), checked with ledger-core alone:
//! each one the client builds parses strictly, is the action it should be for
//! ledger-core's registry, is signed, and is accepted by the registry state
//! machine; bad fields are refused before signing; a read payload is accepted
//! only if it opens the entry's commitment. And the commands' dry runs, offline.

mod common;

use agency_client::access::{AccessStatement, commitment_of, open_payload, parse_action};
use agency_client::api::{Appended, ReadAnswer};
use agency_client::statement::{JsonObject, Payload, StatementSpec};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{ORIGIN, TempDir, key, key_file, log_signer, registry_after_genesis, run};
use ledger_core::LeafIndex;
use ledger_core::access::{AccessAction, AgencyScope, EraseRecord, ReadRecord, TypeScope};
use ledger_core::entry::{Entry, sign_statement, verify_statement_signature};
use ledger_core::statement::{AgencyId, Channel, Statement};
use serde_json::Value;

fn read(entry: u64) -> AccessStatement {
    AccessStatement::Read {
        agency: "audit-board".into(),
        entry,
        official: "Inspector R. Hartono (NIP 1987)".into(),
        purpose: "audit of permit fees 2026".into(),
        legal_basis: "UU 15/2006 art. 9".into(),
        case: Some("AUDIT/2026/17".into()),
    }
}

fn agency(s: &str) -> AgencyId {
    AgencyId::new(s).unwrap()
}

#[test]
fn a_read_is_the_expected_statement_and_action() {
    let k = key(2);
    let st = read(12);
    let signed = st
        .sign(
            &k,
            ORIGIN,
            Some("read/12/x".into()),
            Some("2026-11-28T09:00:00Z".into()),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(signed.statement.clone()).unwrap(),
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"audit-board","submission_id":"read/12/x","type":"access.payload.read","channel":"G2G","occurred_at":"2026-11-28T09:00:00Z","object":{{"entry":"12","official":"Inspector R. Hartono (NIP 1987)","purpose":"audit of permit fees 2026","legal_basis":"UU 15/2006 art. 9","case":"AUDIT/2026/17"}}}}"#
        )
    );
    assert!(verify_statement_signature(
        &k.verifying_key(),
        &signed.statement,
        &signed.signature
    ));
    assert!(signed.payload.is_none());
    let parsed = Statement::parse(&signed.statement).unwrap();
    assert_eq!(parsed.payload_commitment, None);
    assert_eq!(
        AccessAction::parse(&parsed).unwrap().unwrap(),
        AccessAction::Read(ReadRecord {
            entry: LeafIndex(12),
            official: "Inspector R. Hartono (NIP 1987)".into(),
            purpose: "audit of permit fees 2026".into(),
            legal_basis: "UU 15/2006 art. 9".into(),
            case: Some("AUDIT/2026/17".into()),
        })
    );
    // Without a case, the field is left out; every read gets a fresh id.
    let mut no_case = read(3);
    if let AccessStatement::Read { case, .. } = &mut no_case {
        *case = None;
    }
    assert!(!no_case.object().keys().any(|k| k == "case"));
    let (a, b) = (
        read(3).default_submission_id(),
        read(3).default_submission_id(),
    );
    assert_ne!(a, b);
    assert!(
        a.starts_with("read/3/") && a.len() == "read/3/".len() + 32,
        "{a}"
    );
}

#[test]
fn every_access_statement_parses_as_its_action() {
    let cases: Vec<(AccessStatement, &str, &str, AccessAction)> = vec![
        (
            AccessStatement::Erase {
                agency: "city-licensing".into(),
                entry: 4,
                legal_basis: "UU 27/2022 art. 8".into(),
            },
            "city-licensing",
            "erase/4",
            AccessAction::Erase(EraseRecord {
                entry: LeafIndex(4),
                legal_basis: "UU 27/2022 art. 8".into(),
                by_authority: false,
            }),
        ),
        (
            AccessStatement::RegistryErase {
                entry: 4,
                legal_basis: "court order 12/2027".into(),
            },
            "registry",
            "payload.erase/4",
            AccessAction::Erase(EraseRecord {
                entry: LeafIndex(4),
                legal_basis: "court order 12/2027".into(),
                by_authority: true,
            }),
        ),
        (
            AccessStatement::Grant {
                grantee: "audit-board".into(),
                agencies: "city-licensing".into(),
                types: "decision.permit".into(),
                legal_basis: "UU 15/2006".into(),
                expires_at: Some("2027-01-01T00:00:00Z".into()),
            },
            "registry",
            "access.grant/audit-board/",
            AccessAction::Grant(ledger_core::access::GrantTerms {
                grantee: agency("audit-board"),
                agencies: AgencyScope::One(agency("city-licensing")),
                types: TypeScope::Prefix("decision.permit".into()),
                legal_basis: "UU 15/2006".into(),
                expires_at_ms: Some(1_798_761_600_000),
            }),
        ),
        (
            AccessStatement::Grant {
                grantee: "court".into(),
                agencies: "*".into(),
                types: "*".into(),
                legal_basis: "KUHAP art. 43".into(),
                expires_at: None,
            },
            "registry",
            "access.grant/court/",
            AccessAction::Grant(ledger_core::access::GrantTerms {
                grantee: agency("court"),
                agencies: AgencyScope::Any,
                types: TypeScope::Any,
                legal_basis: "KUHAP art. 43".into(),
                expires_at_ms: None,
            }),
        ),
        (
            AccessStatement::Revoke {
                grant: 9,
                reason: "audit finished".into(),
            },
            "registry",
            "access.revoke/9",
            AccessAction::Revoke {
                grant: LeafIndex(9),
                reason: "audit finished".into(),
            },
        ),
    ];
    for (st, signer, id_prefix, want) in cases {
        let k = key(5);
        let signed = st.sign(&k, ORIGIN, None, None).unwrap();
        let parsed = Statement::parse(&signed.statement).unwrap();
        assert_eq!(parsed.kind.as_str(), st.kind());
        assert_eq!(parsed.agency.as_str(), signer);
        assert_eq!(parsed.channel, Channel::G2G);
        assert!(
            parsed.submission_id.as_str().starts_with(id_prefix),
            "{}",
            parsed.submission_id.as_str()
        );
        assert_eq!(parse_action(&signed.statement).unwrap(), want);
        assert_eq!(AccessAction::parse(&parsed).unwrap().unwrap(), want);
        // Every object value is a string.
        let text: Value = serde_json::from_slice(&signed.statement).unwrap();
        assert!(
            text["object"]
                .as_object()
                .unwrap()
                .values()
                .all(Value::is_string)
        );
    }
}

#[test]
fn bad_fields_are_refused_before_signing() {
    let k = key(5);
    let refused = |st: AccessStatement, why: &str| {
        let e = format!("{:#}", st.sign(&k, ORIGIN, None, None).unwrap_err());
        assert!(e.contains(why), "{e}");
    };
    let with = |f: &dyn Fn(&mut AccessStatement)| {
        let mut st = read(3);
        f(&mut st);
        st
    };
    let set = |field: &'static str, v: String| {
        with(&move |st| {
            if let AccessStatement::Read {
                official,
                purpose,
                legal_basis,
                case,
                ..
            } = st
            {
                match field {
                    "official" => *official = v.clone(),
                    "purpose" => *purpose = v.clone(),
                    "legal_basis" => *legal_basis = v.clone(),
                    _ => *case = Some(v.clone()),
                }
            }
        })
    };
    refused(set("official", String::new()), "object.official");
    refused(set("official", "x".repeat(257)), "object.official");
    refused(set("purpose", "line\nbreak".into()), "object.purpose");
    refused(set("legal_basis", "x".repeat(513)), "object.legal_basis");
    refused(set("case", String::new()), "object.case");
    refused(
        with(&|st| {
            if let AccessStatement::Read { agency, .. } = st {
                *agency = "Audit Board".into();
            }
        }),
        "agency",
    );
    let grant = |grantee: &str, agencies: &str, types: &str, expires: Option<&str>| {
        AccessStatement::Grant {
            grantee: grantee.into(),
            agencies: agencies.into(),
            types: types.into(),
            legal_basis: "UU 15/2006".into(),
            expires_at: expires.map(str::to_owned),
        }
    };
    refused(grant("registry", "*", "*", None), "object.grantee");
    refused(grant("audit-board", "*", "nonsense", None), "object.types");
    refused(grant("audit-board", "*", "decision.", None), "object.types");
    refused(
        grant("audit-board", "Tax Office", "*", None),
        "object.agencies",
    );
    refused(
        grant("audit-board", "*", "*", Some("2027-01-01T00:00:00+07:00")),
        "object.expires_at",
    );
    refused(
        AccessStatement::Revoke {
            grant: 9,
            reason: String::new(),
        },
        "object.reason",
    );
    refused(
        AccessStatement::RegistryErase {
            entry: 4,
            legal_basis: String::new(),
        },
        "object.legal_basis",
    );
}

/// The statements are accepted by ledger-core's registry in a plausible order:
/// a grant lets another agency read, a revocation stops it, the owner erases.
#[test]
fn the_registry_accepts_the_statements_and_applies_its_rules() {
    let (authority, log) = (key(100), log_signer());
    let (mut reg, _) = registry_after_genesis(&authority, &log);
    let (city, audit) = (key(1), key(2));
    let mut seq = |spec: StatementSpec, k: &ed25519_dalek::SigningKey| {
        let bytes = spec.to_bytes().unwrap();
        reg.sequence(&bytes, &sign_statement(k, &bytes), 1_795_852_800_000)
            .map(|a| a.entry.index.0)
            .map_err(|e| e.code().to_owned())
    };
    let register = |name: &str, k: &ed25519_dalek::SigningKey| {
        agency_client::statement::RegistryAction::Register {
            agency: name.into(),
            name: name.into(),
            key: k.verifying_key(),
        }
        .statement(ORIGIN, None, None)
        .unwrap()
    };
    assert_eq!(seq(register("city-licensing", &city), &authority), Ok(1));
    assert_eq!(seq(register("audit-board", &audit), &authority), Ok(2));
    let permit = StatementSpec {
        origin: ORIGIN.into(),
        agency: "city-licensing".into(),
        submission_id: "p1".into(),
        kind: "decision.permit.granted".into(),
        channel: Channel::G2B,
        occurred_at: "2026-11-28T08:00:00Z".into(),
        subject: None,
        object: JsonObject::from_iter([("permit", "stall")]),
        payload_commitment: Some(Payload::new(b"{}".to_vec()).commitment()),
    };
    assert_eq!(seq(permit, &city), Ok(3));
    let access = |st: AccessStatement| st.statement(ORIGIN, None, None);
    assert_eq!(seq(access(read(3)), &audit), Err("access_denied".into()));
    let grant = AccessStatement::Grant {
        grantee: "audit-board".into(),
        agencies: "city-licensing".into(),
        types: "decision.permit".into(),
        legal_basis: "UU 15/2006".into(),
        expires_at: None,
    };
    assert_eq!(seq(access(grant), &authority), Ok(4));
    assert_eq!(seq(access(read(3)), &audit), Ok(5));
    let revoke = AccessStatement::Revoke {
        grant: 4,
        reason: "audit finished".into(),
    };
    assert_eq!(seq(access(revoke), &authority), Ok(6));
    assert_eq!(seq(access(read(3)), &audit), Err("access_denied".into()));
    assert_eq!(seq(access(read(1)), &audit), Err("no_payload".into()));
    let erase = |agency: &str| AccessStatement::Erase {
        agency: agency.into(),
        entry: 3,
        legal_basis: "UU 27/2022 art. 8".into(),
    };
    assert_eq!(
        seq(access(erase("audit-board")), &audit),
        Err("access_denied".into())
    );
    assert_eq!(seq(access(erase("city-licensing")), &city), Ok(7));
    let again = AccessStatement::RegistryErase {
        entry: 3,
        legal_basis: "court order".into(),
    };
    assert_eq!(seq(access(again), &authority), Err("payload_erased".into()));
}

fn answer(entry: u64, payload: &[u8], salt: [u8; 32], commitment: String) -> ReadAnswer {
    ReadAnswer {
        access: Appended {
            index: 9,
            leaf_hash: "00".repeat(32),
            sequenced_at_ms: 1,
            duplicate: false,
            receipt: None,
            checkpoint_size: None,
        },
        entry,
        payload: STANDARD.encode(payload),
        salt: hex::encode(salt),
        commitment,
    }
}

#[test]
fn a_payload_is_accepted_only_if_it_opens_the_commitment() {
    let p = Payload::new(br#"{"nik":"3171234567890001"}"#.to_vec());
    let c = p.commitment();
    let good = answer(3, &p.data, p.salt, c.to_hex());
    assert_eq!(open_payload(&good, 3, &c).unwrap(), p.data);
    assert!(
        !format!("{good:?}").contains(&good.payload),
        "Debug hides it"
    );
    let fails = |a: ReadAnswer, entry: u64, why: &str| {
        let e = format!("{:#}", open_payload(&a, entry, &c).unwrap_err());
        assert!(e.contains(why), "{e}");
    };
    fails(answer(3, b"other", p.salt, c.to_hex()), 3, "do not open");
    fails(answer(3, &p.data, [7; 32], c.to_hex()), 3, "do not open");
    fails(answer(4, &p.data, p.salt, c.to_hex()), 3, "not 3");
    fails(
        answer(3, &p.data, p.salt, "ab".repeat(32)),
        3,
        "names the commitment",
    );
    let mut bad_salt = good.clone();
    bad_salt.salt = "abcd".into();
    fails(bad_salt, 3, "salt");
    let mut bad_b64 = good;
    bad_b64.payload = "***".into();
    fails(bad_b64, 3, "base64");
}

#[test]
fn the_commitment_comes_from_the_entry_itself() {
    let (authority, log) = (key(100), log_signer());
    let (_, genesis) = registry_after_genesis(&authority, &log);
    let e = Entry::decode(&genesis).unwrap();
    let err = format!("{:#}", commitment_of(&e, 0).unwrap_err());
    assert!(err.contains("carries no payload commitment"), "{err}");
    let err = format!("{:#}", commitment_of(&e, 5).unwrap_err());
    assert!(err.contains("asked for entry 5"), "{err}");
}

fn dry_run(args: &[&str]) -> (Vec<u8>, [u8; 64]) {
    let (ok, out, err) = run(args);
    assert!(ok, "{args:?}: {err}");
    let req: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(req.get("payload").is_none() && req.get("salt").is_none());
    let statement = STANDARD.decode(req["statement"].as_str().unwrap()).unwrap();
    let signature = STANDARD
        .decode(req["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    (statement, signature)
}

#[test]
fn the_commands_dry_runs_sign_the_expected_statements() {
    let dir = TempDir::new("access-dry");
    let (agency_key, authority) = (key(2), key(100));
    let k = key_file(&dir, "agency.key", &agency_key);
    let a = key_file(&dir, "authority.key", &authority);
    let base = ["--dry-run", "--origin", ORIGIN];
    let cmd = |head: &[&str]| -> Vec<String> {
        head.iter()
            .chain(base.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    let check = |args: Vec<String>, signer: &ed25519_dalek::SigningKey, kind: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (statement, signature) = dry_run(&args);
        assert!(verify_statement_signature(
            &signer.verifying_key(),
            &statement,
            &signature
        ));
        assert_eq!(Statement::parse(&statement).unwrap().kind.as_str(), kind);
        parse_action(&statement).unwrap()
    };
    let action = check(
        cmd(&[
            "read-payload",
            "--key",
            &k,
            "--agency",
            "audit-board",
            "--entry",
            "12",
            "--official",
            "Inspector 7",
            "--purpose",
            "fee audit",
            "--legal-basis",
            "UU 15/2006",
            "--case",
            "AUDIT/17",
        ]),
        &agency_key,
        "access.payload.read",
    );
    assert_eq!(action.target(), Some(LeafIndex(12)));
    let AccessAction::Read(r) = action else {
        panic!("{action:?}")
    };
    assert_eq!(
        (r.official.as_str(), r.case.as_deref()),
        ("Inspector 7", Some("AUDIT/17"))
    );
    let action = check(
        cmd(&[
            "erase-payload",
            "--key",
            &k,
            "--agency",
            "city-licensing",
            "--entry",
            "12",
            "--legal-basis",
            "UU 27/2022",
        ]),
        &agency_key,
        "access.payload.erase",
    );
    assert_eq!(action.target(), Some(LeafIndex(12)));
    check(
        cmd(&[
            "erase-payload",
            "--authority-key",
            &a,
            "--entry",
            "12",
            "--legal-basis",
            "court order",
        ]),
        &authority,
        "registry.payload.erase",
    );
    check(
        cmd(&[
            "grant-access",
            "--authority-key",
            &a,
            "--grantee",
            "audit-board",
            "--agencies",
            "*",
            "--types",
            "decision",
            "--legal-basis",
            "UU 15/2006",
            "--expires-at",
            "2027-01-01T00:00:00Z",
        ]),
        &authority,
        "registry.access.grant",
    );
    check(
        cmd(&[
            "revoke-access",
            "--authority-key",
            &a,
            "--grant",
            "4",
            "--reason",
            "done",
        ]),
        &authority,
        "registry.access.revoke",
    );
    // erase-payload needs exactly one signer; a bad field is refused by name.
    let (ok, _, err) = run(&[
        "erase-payload",
        "--entry",
        "1",
        "--legal-basis",
        "x",
        "--dry-run",
        "--origin",
        ORIGIN,
    ]);
    assert!(!ok && err.contains("--key"), "{err}");
    let (ok, _, err) = run(&[
        "erase-payload",
        "--key",
        &k,
        "--agency",
        "city-licensing",
        "--authority-key",
        &a,
        "--entry",
        "1",
        "--legal-basis",
        "x",
        "--dry-run",
        "--origin",
        ORIGIN,
    ]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
    let (ok, _, err) = run(&[
        "read-payload",
        "--key",
        &k,
        "--agency",
        "audit-board",
        "--entry",
        "1",
        "--official",
        "",
        "--purpose",
        "p",
        "--legal-basis",
        "l",
        "--dry-run",
        "--origin",
        ORIGIN,
    ]);
    assert!(!ok && err.contains("object.official"), "{err}");
}
