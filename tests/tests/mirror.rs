//! `ledger-verify mirror` against the real server (spec/mirror.md), through a
//! loopback proxy that records, holds or alters requests: a first mirror and a
//! grown one (only new files fetched), a run killed with SIGKILL mid-way and
//! rerun (the mirror is consistent after the kill, and the rerun reuses what
//! was staged), a tile altered in transit (refused, exit 2, mirror unchanged),
//! and a forked copy of the ledger (refused with evidence, exit 1, mirror
//! unchanged). Every mirror passes `replay`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{Server, binary, copy_dir, field, run_ok};
use serde_json::Value;

const ORIGIN: &str = "mirror-e2e.egov-ledger.example/log";

/// Appends `count` entries from a freshly registered agency and waits until the
/// checkpoint covers them; returns its size.
fn load(url: &str, data: &Path, count: u64) -> u64 {
    let before = size(url);
    run_ok(
        Command::new(binary("agency-client"))
            .args(["load", "--server", url, "--authority-key"])
            .arg(data.join("authority.key"))
            .args(["--count", &count.to_string(), "--batch", "1000", "--json"]),
    );
    let want = before + count + 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    while size(url) < want {
        assert!(
            Instant::now() < deadline,
            "the checkpoint never reached {want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    want
}

fn size(url: &str) -> u64 {
    let text = reqwest::blocking::get(format!("{url}/checkpoint"))
        .unwrap()
        .text()
        .unwrap();
    text.lines().nth(1).unwrap().parse().unwrap()
}

fn verify(args: &[&str]) -> (i32, Value) {
    let out = Command::new(binary("ledger-verify"))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

fn mirror_args<'a>(url: &'a str, vkey: &'a str, out: &'a Path) -> Vec<String> {
    [
        "mirror",
        "--log",
        url,
        "--vkey",
        vkey,
        "--out",
        out.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn mirror(url: &str, vkey: &str, out: &Path, extra: &[&str]) -> (i32, Value) {
    let mut a = mirror_args(url, vkey, out);
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    verify(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `replay --generic` and the full replay of the mirror pass, at `size`.
fn replay_ok(m: &Path, vkey: &str, size: u64) {
    let (code, v) = verify(&[
        "replay",
        "--log",
        m.to_str().unwrap(),
        "--vkey",
        vkey,
        "--trust-genesis",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], size, "{v}");
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let p = e.path();
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn is_full(path: &str) -> bool {
    path.starts_with("tile/") && !path.contains(".p/")
}

#[test]
fn mirrors_grow_survive_a_kill_and_refuse_bad_tiles_and_forks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let data_s = data.to_str().unwrap().to_owned();
    let out = run_ok(
        Command::new(binary("ledger-server")).args(["init", "--data", &data_s, "--origin", ORIGIN]),
    );
    let vkey = field(&out, "verifier key:");
    let server = Server::start(&["serve", "--data", &data_s], dir.path());
    let m = dir.path().join("mirror");

    // A first mirror, through the proxy.
    let n1 = load(&server.url, &data, 3000);
    let proxy = Proxy::start(&server.url);
    let (code, v) = mirror(&proxy.url, &vkey, &m, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], n1, "{v}");
    assert_eq!(v["bundles_fetched"], n1.div_ceil(256), "{v}");
    replay_ok(&m, &vkey, n1);
    assert!(!m.join(".mirror-staging").exists());

    // Grown: only what is new is fetched; the full files already mirrored are
    // not asked for again.
    let before = snapshot(&m);
    let n2 = load(&server.url, &data, 2000);
    let proxy = Proxy::start(&server.url);
    let (code, v) = mirror(&proxy.url, &vkey, &m, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["previous_size"], n1, "{v}");
    assert_eq!(v["size"], n2, "{v}");
    assert_eq!(v["consistent"], true, "{v}");
    let again: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|p| is_full(p) && before.contains_key(Path::new(p)))
        .collect();
    assert!(again.is_empty(), "fetched again: {again:?}");
    assert_eq!(v["bundles_fetched"], n2.div_ceil(256) - n1 / 256, "{v}");
    replay_ok(&m, &vkey, n2);
    // The old partial bundle is gone once its full bundle is there.
    let old_partial = format!("tile/entries/{:03}.p/{}", n1 / 256, n1 % 256);
    assert!(!m.join(&old_partial).exists(), "{old_partial}");

    // Killed with SIGKILL while the proxy holds its 6th bundle request: the mirror
    // still holds the previous checkpoint with all its files; the rerun
    // reuses what the killed run had staged.
    let n3 = load(&server.url, &data, 4000);
    let proxy = Proxy::start(&server.url);
    proxy.gate_after("tile/entries/", 5);
    let cp_before = std::fs::read(m.join("checkpoint")).unwrap();
    let mut child = Command::new(binary("ledger-verify"))
        .args(mirror_args(&proxy.url, &vkey, &m))
        .args(["--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.held() == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the mirror ended before its 6th bundle request"
        );
        assert!(
            Instant::now() < deadline,
            "the mirror never asked for a 6th bundle"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    proxy.release();
    assert_eq!(std::fs::read(m.join("checkpoint")).unwrap(), cp_before);
    replay_ok(&m, &vkey, n2);
    let staged = snapshot(&m.join(".mirror-staging"))
        .keys()
        .filter(|p| p.to_str().is_some_and(|s| s.starts_with("tile/entries/")))
        .count();
    assert_eq!(staged, 5, "the killed run staged its first 5 bundles");
    let (code, v) = mirror(&server.url, &vkey, &m, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], n3, "{v}");
    assert_eq!(v["bundles_reused"], staged, "{v}");
    replay_ok(&m, &vkey, n3);

    // A tile altered in transit: refused as a bad source, the mirror unchanged.
    let before = snapshot(&m);
    let n4 = load(&server.url, &data, 700);
    let proxy = Proxy::start(&server.url);
    let tile = format!("tile/0/{:03}", n4 / 256 - 1);
    proxy.tamper(&tile);
    let (code, v) = mirror(&proxy.url, &vkey, &m, &[]);
    assert_eq!(code, 2, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("bad source"), "{v}");
    assert!(proxy.requests().contains(&tile));
    assert_eq!(snapshot(&m), before, "the mirror changed");
    let (code, v) = mirror(&server.url, &vkey, &m, &[]);
    assert_eq!(code, 0, "{v}");
    replay_ok(&m, &vkey, n4);

    // A fork: a copy of the data directory that appends other entries. The
    // mirror, which follows the original, refuses the copy with evidence.
    server.stop();
    let fork = dir.path().join("fork");
    copy_dir(&data, &fork);
    let a = Server::start(&["serve", "--data", &data_s], dir.path());
    let b = Server::start(&["serve", "--data", fork.to_str().unwrap()], dir.path());
    let n5 = load(&a.url, &data, 100);
    load(&b.url, &fork, 300);
    let (code, v) = mirror(&a.url, &vkey, &m, &[]);
    assert_eq!(code, 0, "{v}");
    let before = snapshot(&m);
    let evidence = dir.path().join("fork-evidence.json");
    let (code, v) = mirror(
        &b.url,
        &vkey,
        &m,
        &["--evidence", evidence.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("FORK"), "{v}");
    assert_eq!(snapshot(&m), before, "the mirror changed");
    let (code, v) = verify(&[
        "evidence",
        "verify",
        evidence.to_str().unwrap(),
        "--vkey",
        &vkey,
    ]);
    assert_eq!(code, 0, "{v}");
    replay_ok(&m, &vkey, n5);
    a.stop();
    b.stop();
}
