//! The story of a small e-government, told with the real binaries and nothing
//! else (issue #5; the README's walkthrough uses the same commands):
//!
//! - the registry authority registers three agencies: a finance ministry (G2G
//!   budget transfers), a city licensing office (G2C permits, with the citizen's
//!   personal data in a private payload) and a procurement agency (G2B tender
//!   awards);
//! - each agency appends records; the licensing office rotates its key, and the
//!   procurement agency's key is revoked: an append with the revoked key is
//!   refused with 403 and leaves no trace;
//! - a citizen's receipt verifies offline;
//! - a journalist's monitor passes at every step;
//! - an auditor's replay reproduces the root, every signature, both chains and
//!   the registry history, and its per-agency summary matches what was appended;
//! - a resubmitted record (same submission id) gets its original index back.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use common::{Server, binary, field, run_ok};
use serde_json::Value;

const ORIGIN: &str = "scenario.egov-ledger.example/log";

/// The scenario's world: where files go, the server, and the log's keys.
struct World {
    dir: tempfile::TempDir,
    server: Server,
    vkey: String,
    authority_pubkey: String,
    authority_key: String,
}

impl World {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// `agency-client <args> --server URL`, whatever its outcome.
    fn agency_client(&self, args: &[&str]) -> Output {
        Command::new(binary("agency-client"))
            .args(args)
            .args(["--server", &self.server.url])
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// `agency-client <args> --server URL`, which must succeed; its stdout.
    fn agency_client_ok(&self, args: &[&str]) -> String {
        let out = self.agency_client(args);
        assert!(
            out.status.success(),
            "agency-client {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `ledger-verify <args> --vkey VKEY [--log URL]`: (exit code, stdout).
    fn verify(&self, args: &[&str], with_log: bool) -> (i32, String) {
        let mut cmd = Command::new(binary("ledger-verify"));
        cmd.args(args)
            .args(["--vkey", &self.vkey])
            .current_dir(self.dir.path());
        if with_log {
            cmd.args(["--log", &self.server.url]);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "ledger-verify {args:?} could not check (exit {code}): {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (code, text)
    }

    /// The journalist's monitor: must pass (exit 0).
    fn monitor(&self) -> String {
        let (code, out) = self.verify(
            &["monitor", "--state", &self.path("journalist.state")],
            true,
        );
        assert_eq!(code, 0, "monitor: {out}");
        out
    }

    /// An agency key: `keygen` writes it; returns the public key.
    fn keygen(&self, file: &str) -> String {
        let out = run_ok(
            Command::new(binary("agency-client"))
                .args(["keygen", "--out", &self.path(file)])
                .current_dir(self.dir.path()),
        );
        field(&out, "public key:")
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::blocking::get(format!("{}{path}", self.server.url)).unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// Waits until the published checkpoint covers every appended entry (the
    /// checkpointer signs at most every 250 ms); returns that size.
    fn wait_checkpoint(&self) -> u64 {
        for _ in 0..600 {
            let (_, v) = self.get("/healthz");
            if v["checkpoint_size"] == v["size"] {
                return v["size"].as_u64().unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no checkpoint covers the tree after 30 s");
    }

    fn tree_size(&self) -> u64 {
        let (s, v) = self.get("/healthz");
        assert_eq!(s, 200);
        v["size"].as_u64().unwrap()
    }
}

/// `agency-client submit` of a record, whatever its outcome.
fn try_submit(
    w: &World,
    key: &str,
    agency: &str,
    kind: &str,
    channel: &str,
    extra: &[&str],
) -> Output {
    let key = w.path(key);
    let mut args = vec![
        "submit",
        "--key",
        &key,
        "--agency",
        agency,
        "--type",
        kind,
        "--channel",
        channel,
    ];
    args.extend_from_slice(extra);
    w.agency_client(&args)
}

/// `submit` of a record that must be appended; returns its index.
fn submit(w: &World, key: &str, agency: &str, kind: &str, channel: &str, extra: &[&str]) -> u64 {
    let out = try_submit(w, key, agency, kind, channel, extra);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "submit as {agency}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("appended as entry "))
        .unwrap_or_else(|| panic!("no index in: {text}"));
    line["appended as entry ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_small_e_government() {
    // The operator creates the ledger; the development authority stands in for
    // the registry authority's offline key.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let out = run_ok(Command::new(binary("ledger-server")).args([
        "init",
        "--data",
        data.to_str().unwrap(),
        "--origin",
        ORIGIN,
    ]));
    let vkey = field(&out, "verifier key:");
    let authority_pubkey = field(&out, "authority key:");
    let server = Server::start(&["serve", "--data", data.to_str().unwrap()], dir.path());
    let w = World {
        authority_key: data.join("authority.key").to_str().unwrap().to_owned(),
        dir,
        server,
        vkey,
        authority_pubkey,
    };
    // The journalist starts watching at once.
    w.monitor();

    // Every record the scenario expects the auditor to find: agency -> (type -> n).
    let mut expected: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut count = |agency: &'static str, kind: &'static str| {
        *expected.entry(agency).or_default().entry(kind).or_default() += 1;
    };
    count("registry", "registry.genesis");

    // The registry authority registers three agencies.
    let agencies = [
        ("finance-ministry", "Ministry of Finance"),
        ("city-licensing", "City Licensing Office"),
        ("procurement-agency", "National Public Procurement Agency"),
    ];
    let mut pubkeys = BTreeMap::new();
    for (id, name) in agencies {
        let pk = w.keygen(&format!("{id}.key"));
        w.agency_client_ok(&[
            "register",
            "--agency",
            id,
            "--name",
            name,
            "--agency-pubkey",
            &pk,
            "--authority-key",
            &w.authority_key,
        ]);
        count("registry", "registry.agency.register");
        pubkeys.insert(id, pk);
    }

    // The finance ministry: G2G budget transfers.
    for (i, line) in [
        "DAK Kesehatan 2026",
        "DAK Pendidikan 2026",
        "Dana Desa 2026",
    ]
    .iter()
    .enumerate()
    {
        let object = format!(
            r#"{{"from":"finance-ministry","to":"province-{i}","budget_line":"{line}","amount_idr":{}}}"#,
            (i as u64 + 1) * 1_000_000_000
        );
        submit(
            &w,
            "finance-ministry.key",
            "finance-ministry",
            "transfer.budget.allocation",
            "G2G",
            &["--object", &object],
        );
        count("finance-ministry", "transfer.budget.allocation");
    }
    w.monitor();

    // The city licensing office: G2C building permits. The citizen's personal
    // data stays in a private payload; the log holds only its salted commitment.
    let citizen = w.path("applicant.json");
    std::fs::write(
        &citizen,
        r#"{"name":"Siti Rahma","nik":"3273015008900002","address":"Jl. Merdeka 10, Bandung"}"#,
    )
    .unwrap();
    let receipt = w.path("citizen.tlog-proof");
    let permit = submit(
        &w,
        "city-licensing.key",
        "city-licensing",
        "decision.permit.building",
        "G2C",
        &[
            "--object",
            r#"{"outcome":"granted","parcel":"BDG-COB-0042-18"}"#,
            "--subject",
            "IMB-2026-000042",
            "--payload",
            &citizen,
            "--wait",
            "--receipt-out",
            &receipt,
        ],
    );
    count("city-licensing", "decision.permit.building");
    // The personal data is not in the public entry.
    let (s, entry) = w.get(&format!("/v1/entries/{permit}"));
    assert_eq!(s, 200);
    assert!(!entry.to_string().contains("3273015008900002"), "{entry}");

    // The citizen checks the receipt offline: no server needed.
    let (code, out) = w.verify(&["receipt", &receipt], false);
    assert_eq!(code, 0, "receipt: {out}");
    assert!(out.contains(&format!("{permit}")), "{out}");

    // The office rotates its key; its next permits are signed with the new one,
    // and the old key no longer signs anything.
    let new_pk = w.keygen("city-licensing-2027.key");
    w.agency_client_ok(&[
        "rotate-key",
        "--agency",
        "city-licensing",
        "--old-pubkey",
        &pubkeys["city-licensing"],
        "--new-pubkey",
        &new_pk,
        "--authority-key",
        &w.authority_key,
    ]);
    count("registry", "registry.key.rotate");
    for parcel in ["BDG-COB-0043-02", "BDG-COB-0051-11"] {
        let object = format!(r#"{{"outcome":"granted","parcel":"{parcel}"}}"#);
        submit(
            &w,
            "city-licensing-2027.key",
            "city-licensing",
            "decision.permit.building",
            "G2C",
            &["--object", &object],
        );
        count("city-licensing", "decision.permit.building");
    }
    let before = w.tree_size();
    let out = try_submit(
        &w,
        "city-licensing.key",
        "city-licensing",
        "decision.permit.building",
        "G2C",
        &[
            "--object",
            r#"{"outcome":"granted","parcel":"BDG-COB-0099-99"}"#,
        ],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("403"),
        "the rotated-out key: {text}"
    );
    assert_eq!(w.tree_size(), before);

    // The procurement agency: G2B tender awards; then its key is revoked.
    for (tender, winner) in [
        ("SPSE-2026-0815", "PT Karya Jalan Nusantara"),
        ("SPSE-2026-0816", "CV Sinar Bangun"),
    ] {
        let object = format!(
            r#"{{"tender":"{tender}","method":"open tender","winner":"{winner}","amount_idr":250000000}}"#
        );
        submit(
            &w,
            "procurement-agency.key",
            "procurement-agency",
            "decision.tender.awarded",
            "G2B",
            &["--object", &object, "--subject", tender],
        );
        count("procurement-agency", "decision.tender.awarded");
    }
    w.agency_client_ok(&[
        "revoke-key",
        "--agency",
        "procurement-agency",
        "--agency-pubkey",
        &pubkeys["procurement-agency"],
        "--reason",
        "key file found on a decommissioned laptop",
        "--authority-key",
        &w.authority_key,
    ]);
    count("registry", "registry.key.revoke");
    w.monitor();

    // An append with the revoked key: 403, and no trace in the log.
    let before = w.tree_size();
    let (_, before_list) = w.get("/v1/entries?agency=procurement-agency");
    let out = try_submit(
        &w,
        "procurement-agency.key",
        "procurement-agency",
        "decision.tender.awarded",
        "G2B",
        &[
            "--submission-id",
            "after-revocation-1",
            "--object",
            r#"{"tender":"SPSE-2026-0901","winner":"PT Bayangan"}"#,
        ],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("403") && text.contains("key_not_active"),
        "the revoked key: {text}"
    );
    assert_eq!(w.tree_size(), before);
    let (_, after_list) = w.get("/v1/entries?agency=procurement-agency");
    assert_eq!(before_list, after_list);

    // A resubmission (the same statement, the same submission id) is answered
    // with the original index, not appended twice.
    let subject = w.path("transfer.json");
    std::fs::write(
        &subject,
        r#"{"from":"finance-ministry","to":"city-health-office","budget_line":"BOK 2026","amount_idr":750000000}"#,
    )
    .unwrap();
    let resubmit = [
        "submit",
        "--key",
        &w.path("finance-ministry.key"),
        "--agency",
        "finance-ministry",
        "--type",
        "transfer.budget.reallocation",
        "--channel",
        "G2G",
        "--object-file",
        &subject,
        "--submission-id",
        "SP2D-2026-11-000731",
        "--occurred-at",
        "2026-11-28T09:30:00Z",
    ];
    let first = w.agency_client_ok(&resubmit);
    count("finance-ministry", "transfer.budget.reallocation");
    let size = w.tree_size();
    let again = w.agency_client_ok(&resubmit);
    assert!(first.starts_with("appended as entry "), "{first}");
    assert!(again.starts_with("already in the log"), "{again}");
    assert_eq!(field(&first, "leaf hash:"), field(&again, "leaf hash:"));
    let n_first = first.split_whitespace().nth(3).unwrap();
    let n_again = again.lines().next().unwrap().rsplit(' ').next().unwrap();
    assert_eq!(n_first, n_again, "{first} / {again}");
    assert_eq!(w.tree_size(), size);

    // The agencies' histories are complete and in order (agency_prev chains).
    for (id, _) in agencies {
        let (code, out) = w.verify(&["agency", "--id", id, "--scan"], true);
        assert_eq!(code, 0, "agency {id}: {out}");
    }

    // The journalist, a last time: the log only ever grew.
    let size = w.wait_checkpoint();
    let out = w.monitor();
    assert!(!out.contains("FAILED"), "{out}");

    // The auditor replays everything, trusting only the log key and the
    // authority key.
    let (code, out) = w.verify(
        &["replay", "--authority-key", &w.authority_pubkey, "--json"],
        true,
    );
    assert_eq!(code, 0, "replay: {out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let total: u64 = expected.values().flat_map(|t| t.values()).sum();
    assert_eq!(
        (report["size"].as_u64(), size),
        (Some(total), total),
        "{report:#}"
    );
    let summary = report["agencies"].as_object().expect("per-agency summary");
    assert_eq!(
        summary.keys().map(String::as_str).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>()
    );
    for (agency, types) in &expected {
        let got = &summary[*agency];
        assert_eq!(
            got["entries"],
            types.values().sum::<u64>(),
            "{agency}: {got}"
        );
        for (kind, n) in types {
            assert_eq!(got["types"][kind], *n, "{agency} {kind}: {got}");
        }
    }
    assert_eq!(summary["city-licensing"]["channels"]["G2C"], 3);
    assert_eq!(summary["procurement-agency"]["channels"]["G2B"], 2);
    assert_eq!(summary["finance-ministry"]["channels"]["G2G"], 4);

    w.server.stop();
}
