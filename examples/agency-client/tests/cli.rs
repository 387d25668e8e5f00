//! Runs the real `agency-client` binary: a key it makes signs a statement that
//! ledger-core then verifies, and a commitment it prints opens with its salt.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use ledger_core::entry::verify_statement_signature;
use ledger_core::statement::PayloadCommitment;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agency-client"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn keygen_sign_and_commit() {
    let dir = std::env::temp_dir().join(format!("agency-client-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("agency.key");
    let key_s = key.to_str().unwrap();

    let (ok, out, err) = run(&["keygen", "--out", key_s]);
    assert!(ok, "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let public: [u8; 32] = STANDARD
        .decode(field(&out, "public key:"))
        .unwrap()
        .try_into()
        .unwrap();
    let public = VerifyingKey::from_bytes(&public).unwrap();
    // A second keygen must not overwrite the key.
    assert!(!run(&["keygen", "--out", key_s]).0);

    let payload = dir.join("payload.json");
    std::fs::write(&payload, br#"{"nik":"3171234567890001"}"#).unwrap();
    let (ok, out, err) = run(&["commit", "--payload", payload.to_str().unwrap()]);
    assert!(ok, "{err}");
    let salt: [u8; 32] = hex::decode(field(&out, "salt:"))
        .unwrap()
        .try_into()
        .unwrap();
    let commitment = PayloadCommitment::from_hex(field(&out, "payload_commitment:")).unwrap();
    assert!(commitment.opens(&salt, br#"{"nik":"3171234567890001"}"#));

    let statement = format!(
        r#"{{"v":1,"origin":"ledger.example.gov/egov","agency":"city-licensing","submission_id":"t-1","type":"service.licence.issued","channel":"G2C","occurred_at":"2026-11-28T08:00:00Z","object":{{"licence":"street vendor"}},"payload_commitment":"{}"}}"#,
        commitment.to_hex()
    );
    let stmt = dir.join("statement.json");
    std::fs::write(&stmt, &statement).unwrap();
    let (ok, out, err) = run(&[
        "sign",
        "--key",
        key_s,
        "--statement",
        stmt.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let sig: [u8; 64] = STANDARD.decode(out.trim()).unwrap().try_into().unwrap();
    assert!(verify_statement_signature(
        &public,
        statement.as_bytes(),
        &sig
    ));
    assert!(!verify_statement_signature(
        &public,
        b"something else",
        &sig
    ));

    // An invalid statement is refused, with a reason.
    std::fs::write(&stmt, br#"{"v":1}"#).unwrap();
    let (ok, _, err) = run(&[
        "sign",
        "--key",
        key_s,
        "--statement",
        stmt.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("not valid"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
