//! The `agency-client` binary against an in-process stand-in for the server
//! (tests/common), which sequences with ledger-core's registry and signs real
//! checkpoints and receipts: registration, key changes, submission with
//! payloads and verified receipts, idempotency, error reporting, and the load
//! generator with single and batch requests and 429 retries.

mod common;

use common::{MockServer, ORIGIN, TempDir, authority_file, b64_key, key, key_file, run};
use ledger_core::checkpoint::Origin;
use ledger_core::note::Ed25519Verifier;
use ledger_core::receipt::Receipt;
use serde_json::Value;

fn submit_args<'a>(server: &'a str, key: &'a str, object: &'a str) -> Vec<&'a str> {
    vec![
        "submit",
        "--server",
        server,
        "--key",
        key,
        "--agency",
        "city-licensing",
        "--type",
        "decision.permit.granted",
        "--channel",
        "G2B",
        "--object",
        object,
    ]
}

/// Registers `city-licensing` with `k` through the CLI; returns the summary.
fn register(server: &MockServer, dir: &TempDir, k: &ed25519_dalek::SigningKey) -> String {
    let (ok, out, err) = run(&[
        "register",
        "--server",
        &server.url(),
        "--authority-key",
        &authority_file(dir, server),
        "--agency",
        "city-licensing",
        "--name",
        "City Licensing Office",
        "--agency-pubkey",
        &b64_key(k),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("appended as entry"), "{out}");
    out
}

#[test]
fn register_submit_and_verify_the_receipt() {
    let server = MockServer::start();
    let dir = TempDir::new("mock-submit");
    let agency = key(1);
    let out = register(&server, &dir, &agency);
    assert!(
        out.contains(&format!("appended as entry 1 of {ORIGIN}")),
        "{out}"
    );
    let key_path = key_file(&dir, "agency.key", &agency);
    let url = server.url();

    // A submission with a payload, waiting for its receipt.
    let payload = dir.file("payload.json", br#"{"applicant_nik":"3171234567890001"}"#);
    let receipt_path = dir.path("permit.tlog-proof");
    let statement_path = dir.path("permit.json");
    let mut args = submit_args(&url, &key_path, r#"{"permit":"street food stall"}"#);
    args.extend([
        "--payload",
        &payload,
        "--wait",
        "--receipt-out",
        receipt_path.to_str().unwrap(),
        "--statement-out",
        statement_path.to_str().unwrap(),
        "--subject",
        "PERMIT/2026/0042",
    ]);
    let (ok, out, err) = run(&args);
    assert!(ok, "{err}");
    assert!(out.contains("appended as entry 2 of"), "{out}");
    assert!(out.contains("payload salt:"), "{out}");
    // Without --vkey the key came from the server: checked, never "verified"
    // (issue #14 item 15).
    assert!(
        out.contains("receipt checked with the verifier key this server announced, not verified independently (entry 2 under the checkpoint of size 3"),
        "{out}"
    );
    assert!(!out.contains("receipt verified"), "{out}");
    assert!(
        server
            .requests()
            .contains(&"POST /v1/entries?wait=checkpoint".to_owned())
    );

    // The receipt file verifies offline, and holds the exact statement sent.
    let receipt = Receipt::parse(&std::fs::read(&receipt_path).unwrap()).unwrap();
    let verified = receipt
        .verify(
            &Origin::new(ORIGIN).unwrap(),
            &Ed25519Verifier::from_vkey(&server.vkey).unwrap(),
        )
        .unwrap();
    assert_eq!(verified.entry.index.0, 2);
    assert_eq!(
        verified.entry.statement,
        std::fs::read(&statement_path).unwrap()
    );
    assert_eq!(server.statement(2), verified.entry.statement);

    // --json prints the server's answer.
    let mut args = submit_args(&url, &key_path, r#"{"permit":"kiosk"}"#);
    args.push("--json");
    let (ok, out, err) = run(&args);
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["index"], 3);
    assert_eq!(answer["duplicate"], false);
    assert_eq!(answer["leaf_hash"].as_str().unwrap().len(), 64);

    // A vkey given out of band that does not match the log's key fails the
    // receipt check (the entry is appended, but the receipt is not trusted).
    let other =
        ledger_core::note::Ed25519Signer::new(Origin::new(ORIGIN).unwrap().key_name(), key(201))
            .verifier()
            .to_vkey();
    let mut args = submit_args(&url, &key_path, r#"{"permit":"market stall"}"#);
    args.extend(["--wait", "--vkey", &other]);
    let (ok, _, err) = run(&args);
    assert!(!ok);
    assert!(err.contains("the receipt does not verify"), "{err}");

    // With the log's key given out of band, the receipt is verified.
    let mut args = submit_args(&url, &key_path, r#"{"permit":"flower stall"}"#);
    args.extend(["--wait", "--vkey", &server.vkey]);
    let (ok, out, err) = run(&args);
    assert!(ok, "{err}");
    assert!(
        out.contains("receipt verified (entry 5 under the signed checkpoint of size 6)"),
        "{out}"
    );
}

#[test]
fn idempotency_and_errors_are_reported() {
    let server = MockServer::start();
    let dir = TempDir::new("mock-errors");
    let agency = key(1);
    let key_path = key_file(&dir, "agency.key", &agency);
    let url = server.url();

    // Not registered yet: the server's code and message, a hint, exit 1.
    let (ok, out, err) = run(&submit_args(&url, &key_path, "{}"));
    assert!(!ok);
    assert!(out.is_empty());
    assert!(
        err.contains("the server refused the request: 403 unknown_agency"),
        "{err}"
    );
    assert!(err.contains("hint: the agency is not registered"), "{err}");

    register(&server, &dir, &agency);
    // Registering the same key again is refused.
    let (ok, _, err) = run(&[
        "register",
        "--server",
        &url,
        "--authority-key",
        &authority_file(&dir, &server),
        "--agency",
        "city-licensing-2",
        "--name",
        "Again",
        "--agency-pubkey",
        &b64_key(&agency),
    ]);
    assert!(!ok);
    assert!(err.contains("422 registry_rule"), "{err}");

    // The same statement twice is a duplicate; a different one with the same
    // submission id is a conflict.
    let mut args = submit_args(&url, &key_path, r#"{"outcome":"granted"}"#);
    args.extend([
        "--submission-id",
        "2026/000123",
        "--occurred-at",
        "2026-11-28T08:00:00Z",
    ]);
    let (ok, out, err) = run(&args);
    assert!(ok, "{err}");
    assert!(out.contains("appended as entry 2"), "{out}");
    let (ok, out, err) = run(&args);
    assert!(ok, "{err}");
    assert!(
        out.contains("already in the log") && out.contains("entry 2"),
        "{out}"
    );
    let mut args = submit_args(&url, &key_path, r#"{"outcome":"refused"}"#);
    args.extend(["--submission-id", "2026/000123"]);
    let (ok, _, err) = run(&args);
    assert!(!ok);
    assert!(err.contains("409 conflict"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("--submission-id"),
        "{err}"
    );

    // Another agency's key.
    let stranger = key_file(&dir, "stranger.key", &key(9));
    let (ok, _, err) = run(&submit_args(&url, &stranger, "{}"));
    assert!(!ok);
    assert!(err.contains("401 bad_signature"), "{err}");

    // An --origin that is not the server's is caught before sending.
    let mut args = submit_args(&url, &key_path, "{}");
    args.extend(["--origin", "other.example/log", "--wait"]);
    let (ok, _, err) = run(&args);
    assert!(!ok);
    assert!(err.contains("not the server's origin"), "{err}");
}

#[test]
fn key_rotation_and_revocation_take_effect() {
    let server = MockServer::start();
    let dir = TempDir::new("mock-keys");
    let url = server.url();
    let authority = authority_file(&dir, &server);
    let (k1, k2, k3) = (key(1), key(2), key(3));
    register(&server, &dir, &k1);
    let registry = |args: &[&str]| {
        let mut all = vec![args[0], "--server", &url, "--authority-key", &authority];
        all.extend(&args[1..]);
        let (ok, out, err) = run(&all);
        assert!(ok, "{args:?}: {err}");
        out
    };
    registry(&[
        "add-key",
        "--agency",
        "city-licensing",
        "--agency-pubkey",
        &b64_key(&k2),
        "--wait",
    ]);
    registry(&[
        "rotate-key",
        "--agency",
        "city-licensing",
        "--old-pubkey",
        &b64_key(&k1),
        "--new-pubkey",
        &b64_key(&k3),
    ]);
    let out = registry(&[
        "revoke-key",
        "--agency",
        "city-licensing",
        "--agency-pubkey",
        &b64_key(&k2),
        "--reason",
        "laptop lost",
        "--json",
    ]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["index"], 4);
    for (k, works) in [(&k1, false), (&k2, false), (&k3, true)] {
        let path = key_file(&dir, "k.key", k);
        let (ok, _, err) = run(&submit_args(&url, &path, "{}"));
        assert_eq!(ok, works, "{err}");
    }
}

fn load_json(args: &[&str]) -> Value {
    let (ok, out, err) = run(args);
    assert!(ok, "{err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn load_with_single_and_batch_requests() {
    let server = MockServer::start();
    let dir = TempDir::new("mock-load");
    let url = server.url();
    let authority = authority_file(&dir, &server);

    // B = 1, with a fresh agency and payloads.
    let s = load_json(&[
        "load",
        "--server",
        &url,
        "--authority-key",
        &authority,
        "--count",
        "40",
        "--concurrency",
        "4",
        "--payload-bytes",
        "100",
        "--json",
    ]);
    assert_eq!(s["entries"], 40);
    assert_eq!(s["acknowledged"], 40);
    assert_eq!(s["requests"], 40);
    assert_eq!(s["errors"], 0);
    assert_eq!(s["retries"], 0);
    assert_eq!(s["duplicates"], 0);
    assert_eq!(s["checkpoint_uncovered"], 0);
    assert_eq!(s["first_index"], 2, "genesis, then the registration");
    assert_eq!(s["last_index"], 41);
    assert!(s["agency"].as_str().unwrap().starts_with("load-"));
    for f in [
        "append_p50_ms",
        "append_p99_ms",
        "checkpoint_p50_ms",
        "checkpoint_p99_ms",
    ] {
        assert!(s[f].as_f64().unwrap() >= 0.0, "{f}: {s}");
    }
    assert!(s["entries_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(server.size(), 42);
    // Every entry went through POST /v1/entries.
    let reqs = server.requests();
    assert_eq!(reqs.iter().filter(|r| *r == "POST /v1/entries").count(), 41);
    assert!(reqs.iter().any(|r| r == "GET /checkpoint"));

    // B = 7 with an existing agency key, and the first requests answered 429.
    let agency = key(1);
    register(&server, &dir, &agency);
    let key_path = key_file(&dir, "agency.key", &agency);
    server.reject_next_posts_with_429(3);
    let s = load_json(&[
        "load",
        "--server",
        &url,
        "--key",
        &key_path,
        "--agency",
        "city-licensing",
        "--count",
        "50",
        "--batch",
        "7",
        "--concurrency",
        "3",
        "--json",
    ]);
    assert_eq!(s["acknowledged"], 50);
    assert_eq!(s["requests"], 8);
    assert_eq!(s["retries"], 3);
    assert_eq!(s["errors"], 0);
    assert_eq!(s["checkpoint_uncovered"], 0);
    assert_eq!(server.size(), 42 + 1 + 50);
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| *r == "POST /v1/entries/batch")
            .count(),
        8 + 3
    );
}

#[test]
fn load_counts_errors_and_goes_on() {
    let server = MockServer::start();
    let dir = TempDir::new("mock-load-errors");
    // An agency that is not registered: every entry is refused, the run finishes,
    // reports the codes, and exits non-zero.
    let key_path = key_file(&dir, "agency.key", &key(5));
    let (ok, out, err) = run(&[
        "load",
        "--server",
        &server.url(),
        "--key",
        &key_path,
        "--agency",
        "nobody",
        "--count",
        "12",
        "--batch",
        "5",
        "--json",
        "--checkpoint-wait",
        "0",
    ]);
    assert!(!ok);
    let s: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(s["acknowledged"], 0);
    assert_eq!(s["errors"], 12);
    assert_eq!(s["error_codes"]["unknown_agency"], 12);
    assert!(err.contains("12 of 12 entries were not appended"), "{err}");

    // The human summary names the measurements.
    let authority = authority_file(&dir, &server);
    let (ok, out, err) = run(&[
        "load",
        "--server",
        &server.url(),
        "--authority-key",
        &authority,
        "--count",
        "5",
    ]);
    assert!(ok, "{err}");
    for label in [
        "entries:",
        "elapsed:",
        "throughput:",
        "append latency:",
        "time to checkpoint:",
        "retries (429):",
        "errors:",
    ] {
        assert!(out.contains(label), "{label}: {out}");
    }
}
