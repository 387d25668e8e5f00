//! The Python agency (`examples/python-agency/agency.py`) against the real server:
//! an agency on another stack builds, commits, signs and submits a statement
//! (spec/entry.md §1, §3.2, §4; spec/api.md §3.1), and the entry then passes
//! `ledger-verify replay`. Keys cross between the Python script and agency-client
//! in both directions. This test needs `python3` with the `cryptography` package
//! and fails, saying how to install it, when they are missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, binary, field, run_ok};
use ledger_core::hash::Hash;
use ledger_core::statement::{PayloadCommitment, SALT_BYTES, Statement};
use serde_json::Value;

const ORIGIN: &str = "python-agency.egov-ledger.example/log";
const INSTALL: &str = "python3 -m pip install -r examples/python-agency/requirements.txt";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python-agency/agency.py")
}

/// Fails (never skips) when python3 or `cryptography` is missing.
fn require_python() {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, cryptography; assert sys.version_info >= (3, 11), sys.version",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 cannot be run ({e}); install Python 3.11+, then {INSTALL}")
        });
    assert!(
        out.status.success(),
        "python3 3.11+ with the `cryptography` package is needed: {INSTALL}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn python(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(script())
        .args(args)
        .env_remove("LEDGER_SERVER")
        .output()
        .expect("running python3")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn get(url: &str) -> Value {
    let r = reqwest::blocking::get(url).unwrap();
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.json().unwrap()
}

#[test]
fn a_python_agency_signs_and_submits_and_the_replay_verifies_it() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let init = run_ok(Command::new(binary("ledger-server")).args([
        "init",
        "--data",
        data.to_str().unwrap(),
        "--origin",
        ORIGIN,
    ]));
    let vkey = field(&init, "verifier key:");
    let authority_pub = field(&init, "authority key:");
    let authority_key = data.join("authority.key");
    let server = Server::start(&["serve", "--data", data.to_str().unwrap()], dir.path());
    let url = server.url.clone();
    let client = |args: &[&str]| {
        run_ok(
            Command::new(binary("agency-client"))
                .args(args)
                .args(["--server", &url]),
        )
    };

    // The agency's key comes from agency-client; the registry authority
    // registers it (entry 1).
    let key = dir.path().join("city-licensing.key");
    let out = run_ok(Command::new(binary("agency-client")).args([
        "keygen",
        "--out",
        key.to_str().unwrap(),
    ]));
    let public = field(&out, "public key:");
    client(&[
        "register",
        "--authority-key",
        authority_key.to_str().unwrap(),
        "--agency",
        "city-licensing",
        "--name",
        "City Licensing Office",
        "--agency-pubkey",
        &public,
    ]);

    // The Python script makes a second key; the authority adds it (entry 2).
    let py_key = dir.path().join("branch.key");
    let out = python(&["keygen", "--out", py_key.to_str().unwrap()]);
    assert!(out.status.success(), "keygen: {}", text(&out.stderr));
    let py_public = field(&text(&out.stdout), "public key:");
    client(&[
        "add-key",
        "--authority-key",
        authority_key.to_str().unwrap(),
        "--agency",
        "city-licensing",
        "--agency-pubkey",
        &py_public,
    ]);

    // A G2C permit with the applicant's personal data as a private payload,
    // signed by the Python script with agency-client's key file (entry 3).
    let payload = br#"{"applicant_nik":"3175012345670002","applicant_name":"Budi Santoso"}"#;
    let payload_file = dir.path().join("applicant.json");
    std::fs::write(&payload_file, payload).unwrap();
    let statement_file = dir.path().join("permit.json");
    let receipt_file = dir.path().join("permit.tlog-proof");
    let submit = |submission: &str, agency: &str| {
        python(&[
            "submit",
            "--server",
            &url,
            "--key",
            key.to_str().unwrap(),
            "--agency",
            agency,
            "--type",
            "decision.permit.building.granted",
            "--channel",
            "G2C",
            "--subject",
            "PBG/2026/3175/0311",
            "--object",
            r#"{"permit":"house extension","outcome":"granted","fee_idr":2350000,"note":"Jl. Melati – lantai 2"}"#,
            "--submission-id",
            submission,
            "--occurred-at",
            "2026-12-01T02:15:00Z",
            "--payload",
            payload_file.to_str().unwrap(),
            "--wait",
            "--receipt-out",
            receipt_file.to_str().unwrap(),
            "--statement-out",
            statement_file.to_str().unwrap(),
        ])
    };
    let out = submit("PBG/2026/11/0311", "city-licensing");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "agency.py submit failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(field(&stdout, "index:"), "3", "{stdout}");
    assert!(
        stdout.starts_with(&format!("appended as entry 3 of {ORIGIN}")),
        "{stdout}"
    );
    let salt_hex = field(&stdout, "payload salt:");
    let salt_hex = salt_hex.split_whitespace().next().unwrap();

    // The statement as the server keeps it: the exact bytes the script signed,
    // strictly valid, with a commitment that opens with the printed salt.
    let statement = std::fs::read(&statement_file).unwrap();
    let parsed = Statement::parse(&statement).expect("the script's statement parses strictly");
    let salt: [u8; SALT_BYTES] = Hash::from_hex(salt_hex).expect("a 32-byte hex salt").0;
    assert_eq!(
        parsed.payload_commitment,
        Some(PayloadCommitment::compute(&salt, payload))
    );
    let entry = get(&format!("{url}/v1/entries/3"));
    assert_eq!(entry["agency"], "city-licensing");
    assert_eq!(entry["type"], "decision.permit.building.granted");
    assert_eq!(entry["channel"], "G2C");
    assert_eq!(entry["agency_prev"], Value::Null);
    assert_eq!(entry["has_payload"], true);
    assert_eq!(
        STANDARD
            .decode(entry["statement_b64"].as_str().unwrap())
            .unwrap(),
        statement
    );
    assert_eq!(
        entry["statement"]["object"]["note"],
        "Jl. Melati – lantai 2"
    );
    // Never served anonymously (spec/api.md §5.1).
    let r = reqwest::blocking::get(format!("{url}/v1/payloads/3")).unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(!r.text().unwrap().contains("Budi"));

    // The receipt the script wrote verifies offline.
    run_ok(Command::new(binary("ledger-verify")).args([
        "receipt",
        receipt_file.to_str().unwrap(),
        "--vkey",
        &vkey,
    ]));

    // Refusals: the server's code and message, exit status 1, nothing appended.
    // The same submission id with a new salt is a different statement (409).
    let out = submit("PBG/2026/11/0311", "city-licensing");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("409 conflict"),
        "{}",
        text(&out.stderr)
    );
    let out = submit("PBG/2026/11/0312", "nobody");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("403 unknown_agency"),
        "{}",
        text(&out.stderr)
    );

    // agency-client signs with the key file the Python script wrote (entry 4).
    let out = client(&[
        "submit",
        "--key",
        py_key.to_str().unwrap(),
        "--agency",
        "city-licensing",
        "--type",
        "service.business_licence.issued",
        "--channel",
        "G2B",
        "--object",
        r#"{"licence":"restaurant operating licence","business":"CV Dapur Rasa"}"#,
        "--wait",
    ]);
    assert!(out.contains("appended as entry 4"), "{out}");

    // The Python script reads the permit's payload through the access path: an
    // access.payload.read entry (entry 5) is recorded before the payload is
    // released, and the script checks it against the commitment.
    let read_out = dir.path().join("applicant-read.json");
    let out = python(&[
        "read",
        "--server",
        &url,
        "--key",
        py_key.to_str().unwrap(),
        "--agency",
        "city-licensing",
        "--entry",
        "3",
        "--official",
        "Rina Wijaya (NIP 199001012015032001)",
        "--purpose",
        "building inspection",
        "--legal-basis",
        "Regional Regulation 7/2021 art. 19",
        "--out",
        read_out.to_str().unwrap(),
        "--receipt-out",
        dir.path().join("access.tlog-proof").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "agency.py read: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&read_out).unwrap(), payload);
    let access = get(&format!("{url}/v1/entries/5"));
    assert_eq!(access["type"], "access.payload.read");
    assert_eq!(access["statement"]["object"]["entry"], "3");

    // The auditor's replay checks every signature, the Python one included.
    let out = Command::new(binary("ledger-verify"))
        .args([
            "--json",
            "replay",
            "--log",
            &url,
            "--vkey",
            &vkey,
            "--authority-key",
            &authority_pub,
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(out.status.code(), Some(0), "{v}\n{}", text(&out.stderr));
    assert_eq!(v["size"], 6, "{v}");
    let city = &v["agencies"]["city-licensing"];
    assert_eq!(city["entries"], 3, "{v}");
    assert_eq!(city["types"]["access.payload.read"], 1, "{v}");
    assert_eq!(city["first"], 3, "{v}");
    assert_eq!(city["types"]["decision.permit.building.granted"], 1, "{v}");
    assert_eq!(city["channels"]["G2C"], 1, "{v}");
    assert_eq!(city["channels"]["G2B"], 1, "{v}");
    assert_eq!(v["agencies"]["registry"]["entries"], 3, "{v}");
    server.stop();
}
