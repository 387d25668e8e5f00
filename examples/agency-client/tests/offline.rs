//! The `agency-client` binary without a server: dry runs build and sign
//! statements that ledger-core accepts, bad input is refused with a reason, the
//! load generator refuses servers off this machine, and an unreachable server is
//! a clear error with a non-zero exit.

mod common;

use agency_client::api::EntryRequest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{ORIGIN, TempDir, b64_key, key, key_file, log_signer, registry_after_genesis, run};
use ledger_core::entry::verify_statement_signature;
use ledger_core::statement::Statement;

fn request(stdout: &str) -> (Vec<u8>, [u8; 64], EntryRequest) {
    let req: EntryRequest = serde_json::from_str(stdout.trim()).unwrap();
    let statement = STANDARD.decode(&req.statement).unwrap();
    let signature: [u8; 64] = STANDARD.decode(&req.signature).unwrap().try_into().unwrap();
    (statement, signature, req)
}

#[test]
fn submit_dry_run_signs_a_valid_statement() {
    let dir = TempDir::new("submit-dry");
    let agency_key = key(7);
    let key_path = key_file(&dir, "agency.key", &agency_key);
    let payload = dir.file("payload.json", br#"{"nik":"3171234567890001"}"#);
    let statement_out = dir.path("statement.json");
    let (ok, out, err) = run(&[
        "submit",
        "--dry-run",
        "--origin",
        ORIGIN,
        "--key",
        &key_path,
        "--agency",
        "city-licensing",
        "--type",
        "service.licence.issued",
        "--channel",
        "G2C",
        "--object",
        r#"{"licence":"street vendor","fee_idr":50000}"#,
        "--subject",
        "LIC/2026/7",
        "--payload",
        &payload,
        "--statement-out",
        statement_out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (statement, signature, req) = request(&out);
    assert_eq!(std::fs::read(&statement_out).unwrap(), statement);
    let st = Statement::parse(&statement).unwrap();
    assert_eq!(st.origin, ORIGIN);
    assert_eq!(st.agency.as_str(), "city-licensing");
    assert_eq!(st.kind.as_str(), "service.licence.issued");
    assert_eq!(st.channel.as_str(), "G2C");
    assert_eq!(st.subject.as_deref(), Some("LIC/2026/7"));
    assert_eq!(st.submission_id.as_str().len(), 32, "a 128-bit hex id");
    assert!(st.occurred_at.ends_with('Z'));
    assert!(verify_statement_signature(
        &agency_key.verifying_key(),
        &statement,
        &signature
    ));
    let text = String::from_utf8(statement).unwrap();
    assert!(
        text.starts_with(&format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"city-licensing","submission_id":""#
        )),
        "{text}"
    );
    assert!(text.contains(
        r#""object":{"licence":"street vendor","fee_idr":50000},"payload_commitment":""#
    ));
    // The payload and salt travel beside the statement and open its commitment.
    let salt: [u8; 32] = hex::decode(req.salt.unwrap()).unwrap().try_into().unwrap();
    let sent = STANDARD.decode(req.payload.unwrap()).unwrap();
    assert_eq!(sent, br#"{"nik":"3171234567890001"}"#);
    assert!(st.payload_commitment.unwrap().opens(&salt, &sent));
    assert!(!text.contains("3171234567890001"));

    // An object file works too, and the given submission id and time are used.
    let object = dir.file("object.json", br#"{"outcome":"granted"}"#);
    let (ok, out, err) = run(&[
        "submit",
        "--dry-run",
        "--origin",
        ORIGIN,
        "--key",
        &key_path,
        "--agency",
        "city-licensing",
        "--type",
        "decision.permit.granted",
        "--channel",
        "G2B",
        "--object-file",
        &object,
        "--submission-id",
        "2026/000124",
        "--occurred-at",
        "2026-11-28T08:00:00.250Z",
    ]);
    assert!(ok, "{err}");
    let (statement, _, req) = request(&out);
    assert_eq!(req.payload, None);
    assert_eq!(
        String::from_utf8(statement).unwrap(),
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"city-licensing","submission_id":"2026/000124","type":"decision.permit.granted","channel":"G2B","occurred_at":"2026-11-28T08:00:00.250Z","object":{{"outcome":"granted"}}}}"#
        )
    );
}

#[test]
fn registry_dry_runs_are_valid_registry_statements() {
    let dir = TempDir::new("registry-dry");
    let authority = key(100);
    let log = log_signer();
    let (mut registry, _) = registry_after_genesis(&authority, &log);
    let authority_path = key_file(&dir, "authority.key", &authority);
    let (k1, k2, k3) = (key(1), key(2), key(3));
    let steps: Vec<Vec<String>> = vec![
        vec![
            "register".into(),
            "--agency".into(),
            "city-licensing".into(),
            "--name".into(),
            "City Licensing Office".into(),
            "--agency-pubkey".into(),
            b64_key(&k1),
        ],
        vec![
            "add-key".into(),
            "--agency".into(),
            "city-licensing".into(),
            "--agency-pubkey".into(),
            b64_key(&k2),
        ],
        vec![
            "rotate-key".into(),
            "--agency".into(),
            "city-licensing".into(),
            "--old-pubkey".into(),
            b64_key(&k1),
            "--new-pubkey".into(),
            b64_key(&k3),
        ],
        vec![
            "revoke-key".into(),
            "--agency".into(),
            "city-licensing".into(),
            "--agency-pubkey".into(),
            b64_key(&k2),
            "--reason".into(),
            "key file exposed".into(),
        ],
    ];
    for (i, step) in steps.iter().enumerate() {
        let mut args: Vec<&str> = step.iter().map(String::as_str).collect();
        args.extend([
            "--authority-key",
            &authority_path,
            "--dry-run",
            "--origin",
            ORIGIN,
        ]);
        let (ok, out, err) = run(&args);
        assert!(ok, "{}: {err}", step[0]);
        let (statement, signature, _) = request(&out);
        let st = Statement::parse(&statement).unwrap();
        assert_eq!(st.agency.as_str(), "registry");
        assert_eq!(st.channel.as_str(), "G2G");
        assert!(verify_statement_signature(
            &authority.verifying_key(),
            &statement,
            &signature
        ));
        registry
            .sequence(&statement, &signature, 10 + i as u64)
            .unwrap_or_else(|e| panic!("{}: {e}", step[0]));
    }
    // The registry now has the agency with only k3 active.
    let a = registry
        .agency(&ledger_core::statement::AgencyId::new("city-licensing").unwrap())
        .unwrap();
    assert_eq!(
        a.active_keys().map(|k| k.key).collect::<Vec<_>>(),
        vec![k3.verifying_key()]
    );

    // The authority's own key is refused as an agency key.
    let (ok, _, err) = run(&[
        "register",
        "--agency",
        "x",
        "--name",
        "X",
        "--agency-pubkey",
        &b64_key(&authority),
        "--authority-key",
        &authority_path,
        "--dry-run",
        "--origin",
        ORIGIN,
    ]);
    assert!(!ok);
    assert!(err.contains("registry authority's own key"), "{err}");
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let dir = TempDir::new("bad-input");
    let key_path = key_file(&dir, "agency.key", &key(7));
    let base = |object: &str, channel: &str| -> (bool, String, String) {
        run(&[
            "submit",
            "--dry-run",
            "--origin",
            ORIGIN,
            "--key",
            &key_path,
            "--agency",
            "city-licensing",
            "--type",
            "decision.permit.granted",
            "--channel",
            channel,
            "--object",
            object,
        ])
    };
    let (ok, _, err) = base("[1,2]", "G2B");
    assert!(!ok);
    assert!(err.contains("must be a JSON object"), "{err}");
    let (ok, _, err) = base(r#"{"a":1,"a":2}"#, "G2B");
    assert!(!ok);
    assert!(err.contains("duplicate"), "{err}");
    let (ok, _, err) = base("{}", "B2B");
    assert!(!ok);
    assert!(err.contains("G2C, G2B or G2G"), "{err}");

    // A dry run needs the origin, since it does not ask the server.
    let (ok, _, err) = run(&[
        "submit",
        "--dry-run",
        "--key",
        &key_path,
        "--agency",
        "a",
        "--type",
        "decision.x",
        "--channel",
        "G2B",
        "--object",
        "{}",
    ]);
    assert!(!ok);
    assert!(err.contains("--origin"), "{err}");

    // A bad key file and a bad public key.
    let bad_key = dir.file("bad.key", b"not a key\n");
    let (ok, _, err) = run(&[
        "submit",
        "--dry-run",
        "--origin",
        ORIGIN,
        "--key",
        &bad_key,
        "--agency",
        "a",
        "--type",
        "decision.x",
        "--channel",
        "G2B",
        "--object",
        "{}",
    ]);
    assert!(!ok);
    assert!(err.contains("32-byte Ed25519 seed"), "{err}");
    let (ok, _, err) = run(&[
        "add-key",
        "--authority-key",
        &key_path,
        "--agency",
        "a",
        "--agency-pubkey",
        "AAAA",
        "--dry-run",
        "--origin",
        ORIGIN,
    ]);
    assert!(!ok);
    assert!(
        err.contains("--agency-pubkey") && err.contains("32 bytes"),
        "{err}"
    );

    // --receipt-out needs --wait.
    let (ok, _, err) = run(&[
        "submit",
        "--key",
        &key_path,
        "--agency",
        "a",
        "--type",
        "decision.x",
        "--channel",
        "G2B",
        "--object",
        "{}",
        "--receipt-out",
        "r.tlog-proof",
    ]);
    assert!(!ok);
    assert!(err.contains("--wait"), "{err}");
}

#[test]
fn load_refuses_a_server_off_this_machine() {
    let dir = TempDir::new("load-refuse");
    let key_path = key_file(&dir, "agency.key", &key(7));
    for server in [
        "http://10.0.0.1:8080",
        "https://ledger.example.gov",
        "http://127.0.0.1.example.com:8080",
        "http://[2001:db8::1]:8080",
        "http://0.0.0.0:8080",
    ] {
        let started = std::time::Instant::now();
        let (ok, _, err) = run(&[
            "load", "--server", server, "--key", &key_path, "--agency", "a", "--count", "10",
        ]);
        assert!(!ok, "{server}");
        assert!(err.contains("refusing to load"), "{server}: {err}");
        assert!(err.contains("127.0.0.1"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    // The caps are enforced before anything runs.
    for (flag, value) in [
        ("--count", "10000001"),
        ("--concurrency", "1025"),
        ("--batch", "1001"),
        ("--count", "0"),
    ] {
        let (ok, _, err) = run(&["load", "--key", &key_path, "--agency", "a", flag, value]);
        assert!(!ok, "{flag} {value}");
        assert!(err.contains(flag), "{err}");
    }
    // Either a registry authority key, or an agency key and id.
    let (ok, _, err) = run(&["load", "--count", "1"]);
    assert!(!ok);
    assert!(
        err.contains("--authority-key") || err.contains("--key"),
        "{err}"
    );
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let dir = TempDir::new("closed-port");
    let key_path = key_file(&dir, "agency.key", &key(7));
    // A port that was free a moment ago, and is closed now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let (ok, out, err) = run(&[
        "submit",
        "--server",
        &server,
        "--key",
        &key_path,
        "--agency",
        "city-licensing",
        "--type",
        "decision.permit.granted",
        "--channel",
        "G2B",
        "--object",
        "{}",
    ]);
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("cannot reach the ledger server"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    // The same for load, and with --origin given (so the first request is the append).
    let (ok, _, err) = run(&[
        "submit",
        "--server",
        &server,
        "--origin",
        ORIGIN,
        "--key",
        &key_path,
        "--agency",
        "city-licensing",
        "--type",
        "decision.permit.granted",
        "--channel",
        "G2B",
        "--object",
        "{}",
    ]);
    assert!(!ok);
    assert!(err.contains("cannot reach the ledger server"), "{err}");
    let (ok, _, err) = run(&[
        "load", "--server", &server, "--key", &key_path, "--agency", "a", "--count", "1",
    ]);
    assert!(!ok);
    assert!(err.contains("cannot reach the ledger server"), "{err}");

    // A URL that is not a server URL.
    let (ok, _, err) = run(&[
        "submit",
        "--server",
        "ftp://127.0.0.1",
        "--key",
        &key_path,
        "--agency",
        "a",
        "--type",
        "decision.x",
        "--channel",
        "G2B",
        "--object",
        "{}",
    ]);
    assert!(!ok);
    assert!(err.contains("http or https"), "{err}");
}
