//! `ledger-verify` against the real server: after appends, the checkpoint,
//! inclusion of entries, a receipt from `?wait=checkpoint` (offline, then against
//! the grown log) and consistency verify; a forked log (a copy of the data
//! directory, same keys, different entries) is caught.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, binary, field, run_ok};
use ed25519_dalek::SigningKey;
use ledger_core::entry::sign_statement;
use serde_json::{Value, json};

const ORIGIN: &str = "verify-e2e.egov-ledger.example/log";

fn read_key(path: &Path) -> SigningKey {
    let text = std::fs::read_to_string(path).unwrap();
    SigningKey::from_bytes(&STANDARD.decode(text.trim()).unwrap().try_into().unwrap())
}

fn append(
    url: &str,
    k: &SigningKey,
    agency: &str,
    sub: &str,
    kind: &str,
    object: Value,
    wait: bool,
) -> Value {
    let channel = if agency == "registry" { "G2G" } else { "G2C" };
    let st = json!({"v": 1, "origin": ORIGIN, "agency": agency, "submission_id": sub, "type": kind,
        "channel": channel, "occurred_at": "2026-11-28T10:00:00Z", "object": object})
    .to_string();
    let body = json!({"statement": STANDARD.encode(&st),
        "signature": STANDARD.encode(sign_statement(k, st.as_bytes()))});
    let q = if wait { "?wait=checkpoint" } else { "" };
    let r = reqwest::blocking::Client::new()
        .post(format!("{url}/v1/entries{q}"))
        .json(&body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{sub}: {}", r.status());
    r.json().unwrap()
}

fn verify(args: &[&str]) -> (i32, Value) {
    let out = Command::new(binary("ledger-verify"))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

fn fetch(url: &str, path: &str) -> Vec<u8> {
    reqwest::blocking::get(format!("{url}/{path}"))
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn the_verifier_checks_the_real_server_and_catches_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a");
    let out = run_ok(Command::new(binary("ledger-server")).args([
        "init",
        "--data",
        data.to_str().unwrap(),
        "--origin",
        ORIGIN,
    ]));
    let vkey = field(&out, "verifier key:");
    let authority = read_key(&data.join("authority.key"));
    let agency = SigningKey::from_bytes(&[5u8; 32]);

    let a = Server::start(&["serve", "--data", data.to_str().unwrap()], dir.path());
    let reg = json!({"agency": "city-licensing", "name": "City Licensing Office",
        "key": STANDARD.encode(agency.verifying_key().as_bytes())});
    append(
        &a.url,
        &authority,
        "registry",
        "register/city",
        "registry.agency.register",
        reg,
        false,
    );
    for i in 0..300 {
        append(
            &a.url,
            &agency,
            "city-licensing",
            &format!("p{i}"),
            "decision.permit.building",
            json!({"n": i}),
            false,
        );
    }
    let r = append(
        &a.url,
        &agency,
        "city-licensing",
        "with-receipt",
        "decision.permit.building",
        json!({"outcome": "granted"}),
        true,
    );
    let receipt = dir.path().join("receipt.tlog-proof");
    std::fs::write(&receipt, r["receipt"].as_str().unwrap()).unwrap();
    let old_cp = dir.path().join("old.checkpoint");
    std::fs::write(&old_cp, fetch(&a.url, "checkpoint")).unwrap();

    let (code, v) = verify(&["checkpoint", "--log", &a.url, "--vkey", &vkey]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], 303);
    let (code, v) = verify(&["receipt", receipt.to_str().unwrap(), "--vkey", &vkey]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["agency"], "city-licensing");
    assert_eq!(v["submission_id"], "with-receipt");
    for index in ["0", "1", "255", "256", "302"] {
        let (code, v) = verify(&[
            "inclusion",
            "--log",
            &a.url,
            "--vkey",
            &vkey,
            "--index",
            index,
        ]);
        assert_eq!(code, 0, "{index}: {v}");
    }

    // A fork: stop the server, copy its data directory (same keys), and let the
    // two copies append different entries.
    a.stop();
    let fork = dir.path().join("b");
    copy_dir(&data, &fork);
    let a = Server::start(&["serve", "--data", data.to_str().unwrap()], dir.path());
    let b = Server::start(&["serve", "--data", fork.to_str().unwrap()], dir.path());
    for i in 0..40 {
        append(
            &a.url,
            &agency,
            "city-licensing",
            &format!("a{i}"),
            "decision.permit.building",
            json!({"n": i}),
            false,
        );
        append(
            &b.url,
            &agency,
            "city-licensing",
            &format!("b{i}"),
            "decision.permit.building",
            json!({"n": i}),
            false,
        );
    }
    append(
        &a.url,
        &agency,
        "city-licensing",
        "a-last",
        "decision.permit.building",
        json!({}),
        true,
    );
    append(
        &b.url,
        &agency,
        "city-licensing",
        "b-last",
        "decision.permit.building",
        json!({}),
        true,
    );

    // Each log extends the checkpoint from before the fork, and the receipt too.
    for url in [&a.url, &b.url] {
        let (code, v) = verify(&[
            "consistency",
            "--log",
            url,
            "--vkey",
            &vkey,
            "--from",
            old_cp.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{v}");
        let (code, v) = verify(&[
            "receipt",
            receipt.to_str().unwrap(),
            "--vkey",
            &vkey,
            "--log",
            url,
        ]);
        assert_eq!(code, 0, "{v}");
    }
    // But a's checkpoint is not extended by b's log: the fork is caught.
    let a_cp = dir.path().join("a.checkpoint");
    std::fs::write(&a_cp, fetch(&a.url, "checkpoint")).unwrap();
    let (code, v) = verify(&[
        "consistency",
        "--log",
        &b.url,
        "--vkey",
        &vkey,
        "--from",
        a_cp.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("fork"), "{v}");
    a.stop();
    b.stop();
}
