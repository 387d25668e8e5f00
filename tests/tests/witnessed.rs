//! A ledger with witnesses (spec/witness.md §4, issue #12), all real processes:
//! `ledger-server` with a 2-of-3 witness policy and three `ledger-verify witness
//! serve`. Checkpoints are published only with a quorum of valid cosignatures;
//! with one witness down they still are; with two down none is, while appends
//! are still acknowledged, and publishing resumes when a witness returns. A copy
//! of the data directory that appends other entries (a split view) never gets a
//! quorum, and `ledger-verify --policy` (with `--max-age`) enforces all this.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, WitnessProcess, binary, copy_dir, field, run_ok};
use serde_json::Value;

const ORIGIN: &str = "witnessed.egov-ledger.example/log";

struct Witness {
    key: PathBuf,
    data: PathBuf,
    vkey: String,
    process: Option<WitnessProcess>,
}

fn witness(dir: &Path, name: &str, log_vkey: &str) -> Witness {
    let key = dir.join(format!("{name}.key"));
    let out = run_ok(
        Command::new(binary("ledger-verify"))
            .args([
                "witness",
                "keygen",
                "--name",
                &format!("{name}.example.gov"),
                "--out",
            ])
            .arg(&key),
    );
    let vkey = field(&out, "cosignature verifier key:");
    let data = dir.join(format!("{name}-state"));
    let process = Some(WitnessProcess::start(&data, &key, log_vkey));
    Witness {
        key,
        data,
        vkey,
        process,
    }
}

fn policy(log_vkey: &str, witnesses: &[Witness]) -> String {
    let mut p = format!("log {log_vkey}\n");
    for (i, w) in witnesses.iter().enumerate() {
        let url = &w.process.as_ref().unwrap().url;
        p.push_str(&format!("witness w{i} {} {url}\n", w.vkey));
    }
    p.push_str("group newsrooms-and-boards 2 w0 w1 w2\nquorum newsrooms-and-boards\n");
    p
}

fn get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(url).unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

fn cosignatures(note: &str, witnesses: &[Witness]) -> usize {
    witnesses
        .iter()
        .filter(|w| {
            let name = w.vkey.split('+').next().unwrap();
            note.lines()
                .any(|l| l.starts_with(&format!("\u{2014} {name} ")))
        })
        .count()
}

fn load(server: &Server, data: &Path, count: u32) -> Value {
    let out = run_ok(Command::new(binary("agency-client")).args([
        "load",
        "--server",
        &server.url,
        "--authority-key",
        data.join("authority.key").to_str().unwrap(),
        "--count",
        &count.to_string(),
        "--batch",
        "10",
        "--concurrency",
        "1",
        "--checkpoint-wait",
        "0",
        "--json",
    ]));
    serde_json::from_str(&out).unwrap()
}

/// Waits until the published checkpoint reaches `size`; its text.
fn published_at_least(server: &Server, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, note) = get(&format!("{}/checkpoint", server.url));
        assert_eq!(s, 200);
        if size_of(&note) >= size {
            return note;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of size {size}: {note}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn verify(args: &[&str]) -> (i32, Value) {
    let out = Command::new(binary("ledger-verify"))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

fn log_size(server: &Server) -> u64 {
    let (_, body) = get(&format!("{}/v1/log", server.url));
    let v: Value = serde_json::from_str(&body).unwrap();
    v["size"].as_u64().unwrap()
}

/// A new ledger in `dir/ledger`, three witnesses of it and a 2-of-3 policy
/// naming them in `dir/policy.txt`.
struct Setup {
    data: PathBuf,
    log_vkey: String,
    ws: Vec<Witness>,
    policy_file: PathBuf,
}

fn setup(dir: &Path) -> Setup {
    let data = dir.join("ledger");
    let out = run_ok(Command::new(binary("ledger-server")).args([
        "init",
        "--data",
        data.to_str().unwrap(),
        "--origin",
        ORIGIN,
    ]));
    let log_vkey = field(&out, "verifier key:");
    let ws: Vec<Witness> = ["audit-board", "press-council", "court-registry"]
        .iter()
        .map(|n| witness(dir, n, &log_vkey))
        .collect();
    let policy_file = dir.join("policy.txt");
    std::fs::write(&policy_file, policy(&log_vkey, &ws)).unwrap();
    Setup {
        data,
        log_vkey,
        ws,
        policy_file,
    }
}

#[test]
fn checkpoints_are_published_only_with_a_witness_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        data,
        log_vkey,
        mut ws,
        policy_file,
    } = setup(dir.path());
    let serve = |data: &Path| {
        Server::start(
            &[
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--witness-policy",
                policy_file.to_str().unwrap(),
                "--witness-timeout-ms",
                "2000",
            ],
            dir.path(),
        )
    };
    let server = serve(&data);

    // All three up: a cosigned checkpoint (genesis, registration, 20 records).
    load(&server, &data, 20);
    let note = published_at_least(&server, 22);
    assert!(cosignatures(&note, &ws) >= 2, "{note}");
    let p = policy_file.to_str().unwrap();
    let (code, v) = verify(&[
        "checkpoint",
        "--log",
        &server.url,
        "--policy",
        p,
        "--max-age",
        "10m",
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v["witness_policy"].as_str().unwrap().contains("quorum met"),
        "{v}"
    );
    // A receipt carries the cosigned checkpoint, checked offline under the policy.
    let (s, receipt) = get(&format!("{}/v1/receipts/5", server.url));
    assert_eq!(s, 200, "{receipt}");
    let receipt_file = dir.path().join("r.tlog-proof");
    std::fs::write(&receipt_file, &receipt).unwrap();
    let (code, v) = verify(&["receipt", receipt_file.to_str().unwrap(), "--policy", p]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v["witness_policy"]
            .as_str()
            .unwrap()
            .starts_with("the receipt's checkpoint: quorum met"),
        "{v}"
    );
    // The agency client accepts a receipt under the policy only with its quorum.
    let ak = dir.path().join("city.key");
    let out = run_ok(
        Command::new(binary("agency-client"))
            .args(["keygen", "--out"])
            .arg(&ak),
    );
    let pubkey = field(&out, "public key:");
    let client = |args: &[&str]| {
        Command::new(binary("agency-client"))
            .args(args)
            .args(["--server", &server.url, "--vkey", &log_vkey, "--policy", p])
            .output()
            .unwrap()
    };
    let authority = data.join("authority.key");
    let reg = client(&[
        "register",
        "--agency",
        "city",
        "--name",
        "City",
        "--agency-pubkey",
        &pubkey,
        "--authority-key",
        authority.to_str().unwrap(),
        "--wait",
    ]);
    assert!(
        reg.status.success(),
        "{}",
        String::from_utf8_lossy(&reg.stderr)
    );
    let sub = client(&[
        "submit",
        "--key",
        ak.to_str().unwrap(),
        "--agency",
        "city",
        "--type",
        "decision.permit.granted",
        "--channel",
        "G2C",
        "--object",
        r#"{"outcome":"granted"}"#,
        "--wait",
    ]);
    assert!(
        sub.status.success(),
        "{}",
        String::from_utf8_lossy(&sub.stderr)
    );
    assert!(
        String::from_utf8_lossy(&sub.stdout).contains("witness policy"),
        "{}",
        String::from_utf8_lossy(&sub.stdout)
    );
    // Without --policy the report says what was not checked.
    let (code, v) = verify(&["checkpoint", "--log", &server.url, "--vkey", &log_vkey]);
    assert_eq!(code, 0);
    assert!(
        v["witness_policy"]
            .as_str()
            .unwrap()
            .starts_with("none given"),
        "{v}"
    );

    // One witness down: still published with two.
    ws[2].process.take().unwrap().kill9();
    load(&server, &data, 5);
    let note = published_at_least(&server, log_size(&server));
    assert!(cosignatures(&note, &ws) >= 2, "{note}");

    // Two down: appends are acknowledged, but nothing new is published (each
    // load registers its agency, then appends its records).
    let w1_url = ws[1].process.as_ref().unwrap().url.clone();
    ws[1].process.take().unwrap().kill9();
    let before = size_of(&get(&format!("{}/checkpoint", server.url)).1);
    assert_eq!(before, log_size(&server));
    load(&server, &data, 5);
    assert_eq!(log_size(&server), before + 6);
    std::thread::sleep(Duration::from_secs(3));
    let (_, note) = get(&format!("{}/checkpoint", server.url));
    assert_eq!(size_of(&note), before, "published without a quorum: {note}");
    let (_, metrics) = get(&format!("{}/metrics", server.url));
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ledger_witness_quorum_failures_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    // A witness returns (same key, same state, same address): publishing
    // resumes without a restart.
    let addr = w1_url.trim_start_matches("http://").to_owned();
    ws[1].process = Some(WitnessProcess::start_on(
        &ws[1].data,
        &ws[1].key,
        &log_vkey,
        &addr,
    ));
    let note = published_at_least(&server, before + 6);
    assert!(cosignatures(&note, &ws) >= 2, "{note}");

    // Freshness: a quorum that vouched more than --max-age ago is refused.
    std::thread::sleep(Duration::from_secs(2));
    let (code, v) = verify(&[
        "checkpoint",
        "--log",
        &server.url,
        "--policy",
        p,
        "--max-age",
        "1s",
    ]);
    assert_eq!(code, 2, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("stale"), "{v}");

    // A split view: a copy of the data directory appends other entries. The
    // witnesses have cosigned the original history, so the copy never gets a
    // quorum for its own: its checkpoint stays the last one both share.
    let cosigned = size_of(&published_at_least(&server, before + 6));
    server.stop();
    let fork = dir.path().join("fork");
    copy_dir(&data, &fork);
    let a = serve(&data);
    load(&a, &data, 3);
    let a_note = published_at_least(&a, cosigned + 4);
    let b = serve(&fork);
    load(&b, &fork, 4);
    std::thread::sleep(Duration::from_secs(3));
    let (_, b_note) = get(&format!("{}/checkpoint", b.url));
    assert_eq!(
        size_of(&b_note),
        cosigned,
        "the fork got a quorum: {b_note}\nA: {a_note}"
    );
    let (_, metrics) = get(&format!("{}/metrics", b.url));
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ledger_witness_requests_total{")
                && l.contains("outcome=\"fork\"")),
        "the witnesses' fork reports are not counted:\n{metrics}"
    );
    // A monitor with the policy compares the log with each witness's latest
    // cosigned checkpoint: A is consistent with them.
    let state = dir.path().join("monitor.state");
    let (code, v) = verify(&[
        "monitor",
        "--log",
        &a.url,
        "--policy",
        p,
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{v}");
    let views = v["witness_views"].to_string();
    assert!(views.contains("consistent with the log's"), "{v}");
    // B, restarted with witness_fail_open, publishes its fork without a quorum.
    // A monitor that accepts it (a policy with `quorum none` and the same
    // witnesses) proves the fork from a witness's view, with evidence.
    b.stop();
    let b = Server::start(
        &[
            "serve",
            "--data",
            fork.to_str().unwrap(),
            "--witness-policy",
            policy_file.to_str().unwrap(),
            "--witness-timeout-ms",
            "2000",
            "--witness-fail-open",
            "true",
        ],
        dir.path(),
    );
    let b_note = published_at_least(&b, cosigned + 5);
    let lenient = dir.path().join("lenient.txt");
    let text = std::fs::read_to_string(&policy_file).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("group") && !l.starts_with("quorum"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "quorum none\n";
    std::fs::write(&lenient, text).unwrap();
    let b_state = dir.path().join("b.state");
    let (code, v) = verify(&[
        "monitor",
        "--log",
        &b.url,
        "--policy",
        lenient.to_str().unwrap(),
        "--state",
        b_state.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{v}\nB: {b_note}");
    assert!(
        v["problem"].as_str().unwrap().starts_with("FORK: witness"),
        "{v}"
    );
    let evidence = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("evidence-witness-")
        })
        .expect("evidence written");
    let (code, v) = verify(&[
        "evidence",
        "verify",
        evidence.to_str().unwrap(),
        "--vkey",
        &log_vkey,
    ]);
    assert_eq!(code, 0, "the evidence proves the fork: {v}");

    // Evidence of it is kept by the witnesses that refused.
    let kept: usize = ws
        .iter()
        .map(|w| std::fs::read_dir(w.data.join("evidence")).map_or(0, |d| d.count()))
        .sum();
    assert!(kept >= 1, "no witness kept evidence of the split view");
}

/// The newest cosignature time of `witnesses` on `note` (c2sp.org/tlog-cosignature:
/// bytes 4..12 of the signature are the big-endian time).
fn newest_cosignature(note: &str, witnesses: &[Witness]) -> Option<u64> {
    use base64::Engine as _;
    witnesses
        .iter()
        .filter_map(|w| {
            let prefix = format!("\u{2014} {} ", w.vkey.split('+').next().unwrap());
            let line = note.lines().find(|l| l.starts_with(&prefix))?;
            let sig = base64::engine::general_purpose::STANDARD
                .decode(&line[prefix.len()..])
                .ok()?;
            Some(u64::from_be_bytes(sig.get(4..12)?.try_into().ok()?))
        })
        .max()
}

/// spec/witness.md §4.3: a log that does not grow still has its checkpoint
/// cosigned again every `witness_refresh_secs`, so its cosignatures stay fresh
/// for verifiers with `--max-age` (without the refresh, an idle log's newest
/// cosignature only ages, and this waits in vain).
#[test]
fn an_idle_log_is_cosigned_again() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        data,
        log_vkey: _,
        ws,
        policy_file,
    } = setup(dir.path());
    let server = Server::start(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--witness-policy",
            policy_file.to_str().unwrap(),
            "--witness-refresh-secs",
            "1",
        ],
        dir.path(),
    );
    load(&server, &data, 3);
    let size = log_size(&server);
    let first = published_at_least(&server, size);
    let t1 = newest_cosignature(&first, &ws).expect("a cosigned checkpoint");
    // No more appends: the same tree, cosigned later.
    let deadline = Instant::now() + Duration::from_secs(60);
    let later = loop {
        let (_, note) = get(&format!("{}/checkpoint", server.url));
        if newest_cosignature(&note, &ws).is_some_and(|t| t > t1) {
            break note;
        }
        assert!(
            Instant::now() < deadline,
            "the idle log's checkpoint was not cosigned again after {t1}: {note}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(size_of(&later), size, "{later}");
    assert_eq!(
        later.lines().take(3).collect::<Vec<_>>(),
        first.lines().take(3).collect::<Vec<_>>(),
        "the same tree"
    );
    assert!(cosignatures(&later, &ws) >= 2, "{later}");
    let (code, v) = verify(&[
        "checkpoint",
        "--log",
        &server.url,
        "--policy",
        policy_file.to_str().unwrap(),
        "--max-age",
        "1h",
    ]);
    assert_eq!(code, 0, "{v}");
}
