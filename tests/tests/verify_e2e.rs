//! `ledger-verify` against the real server: after appends, the checkpoint,
//! inclusion of entries, a receipt from `?wait=checkpoint` (offline, then against
//! the grown log) and consistency verify; a forked log (a copy of the data
//! directory, same keys, different entries) is caught.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, binary, copy_dir, field, run_ok};
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

/// A ledger made by `ledger-server init` (development authority), served on
/// loopback, with the agency `city-licensing` registered under a key from `seed`.
struct Ledger {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    vkey: String,
    authority: SigningKey,
    agency: SigningKey,
    server: Server,
}

impl Ledger {
    fn start(seed: u8) -> Ledger {
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
        let agency = SigningKey::from_bytes(&[seed; 32]);
        let server = Server::start(&["serve", "--data", data.to_str().unwrap()], dir.path());
        let reg = json!({"agency": "city-licensing", "name": "City Licensing Office",
            "key": STANDARD.encode(agency.verifying_key().as_bytes())});
        append(
            &server.url,
            &authority,
            "registry",
            "register/city",
            "registry.agency.register",
            reg,
            false,
        );
        Ledger {
            dir,
            data,
            vkey,
            authority,
            agency,
            server,
        }
    }
}

#[test]
fn the_verifier_checks_the_real_server_and_catches_a_fork() {
    let Ledger {
        dir,
        data,
        vkey,
        authority,
        agency,
        server: a,
    } = Ledger::start(5);
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
    // #14 item 2: the receipt carries the signer's key, checked against the
    // entry; who owns it is only checked when asked.
    let agency_b64 = STANDARD.encode(agency.verifying_key().as_bytes());
    let authority_b64 = STANDARD.encode(authority.verifying_key().as_bytes());
    let other_b64 = STANDARD.encode(SigningKey::from_bytes(&[77; 32]).verifying_key().as_bytes());
    assert_eq!(v["signer_key"], agency_b64.as_str(), "{v}");
    assert_eq!(
        v["attribution"], "the signer key the receipt carries signed it",
        "{v}"
    );
    let rc = receipt.to_str().unwrap();
    let (code, v) = verify(&["receipt", rc, "--vkey", &vkey, "--agency-key", &agency_b64]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v["attribution"]
            .as_str()
            .unwrap()
            .contains("--agency-key signed it"),
        "{v}"
    );
    let (code, v) = verify(&["receipt", rc, "--vkey", &vkey, "--agency-key", &other_b64]);
    assert_eq!(code, 1, "{v}");
    let (code, v) = verify(&[
        "receipt",
        rc,
        "--vkey",
        &vkey,
        "--authority-key",
        &authority_b64,
    ]);
    assert_eq!(code, 2, "--authority-key needs --log: {v}");
    let (code, v) = verify(&[
        "receipt",
        rc,
        "--vkey",
        &vkey,
        "--log",
        &a.url,
        "--authority-key",
        &authority_b64,
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v["attribution"]
            .as_str()
            .unwrap()
            .contains("active key of the agency"),
        "{v}"
    );
    // Under another authority's registry, the log's genesis does not hold.
    let (code, v) = verify(&[
        "receipt",
        rc,
        "--vkey",
        &vkey,
        "--log",
        &a.url,
        "--authority-key",
        &other_b64,
    ]);
    assert_eq!(code, 1, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("entry 0"), "{v}");
    // The same attribution from the log alone, without a receipt.
    let (code, v) = verify(&[
        "inclusion",
        "--log",
        &a.url,
        "--vkey",
        &vkey,
        "--index",
        "300",
        "--authority-key",
        &authority_b64,
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v["attribution"]
            .as_str()
            .unwrap()
            .contains("active key of the agency"),
        "{v}"
    );
    let (code, v) = verify(&[
        "inclusion",
        "--log",
        &a.url,
        "--vkey",
        &vkey,
        "--index",
        "300",
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v["attribution"]
            .as_str()
            .unwrap()
            .starts_with("not checked"),
        "{v}"
    );
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
    // A journalist's monitor on a: the first run remembers, later runs pass.
    let state = dir.path().join("monitor.state");
    let st = state.to_str().unwrap();
    let (code, v) = verify(&["monitor", "--log", &a.url, "--vkey", &vkey, "--state", st]);
    assert_eq!((code, v["first_run"].clone()), (0, json!(true)), "{v}");
    append(
        &a.url,
        &agency,
        "city-licensing",
        "a-more",
        "decision.permit.building",
        json!({}),
        true,
    );
    let (code, v) = verify(&["monitor", "--log", &a.url, "--vkey", &vkey, "--state", st]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["consistent"], true);
    let remembered = std::fs::read(&state).unwrap();

    // The same monitor pointed at b (the fork, one entry longer than a): caught,
    // with evidence that anyone can recheck with only the vkey.
    append(
        &b.url,
        &agency,
        "city-licensing",
        "b-more",
        "decision.permit.building",
        json!({}),
        true,
    );
    append(
        &b.url,
        &agency,
        "city-licensing",
        "b-more-2",
        "decision.permit.building",
        json!({}),
        true,
    );
    let ev = dir.path().join("evidence.json");
    let (code, v) = verify(&[
        "monitor",
        "--log",
        &b.url,
        "--vkey",
        &vkey,
        "--state",
        st,
        "--evidence",
        ev.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("FORK"), "{v}");
    assert_eq!(
        std::fs::read(&state).unwrap(),
        remembered,
        "the state is unchanged"
    );
    let (code, v) = verify(&["evidence", "verify", ev.to_str().unwrap(), "--vkey", &vkey]);
    assert_eq!(code, 0, "{v}");
    assert!(v["proven"].as_str().unwrap().contains("also signed"), "{v}");
    // Tampered evidence proves nothing.
    let mut e: Value = serde_json::from_slice(&std::fs::read(&ev).unwrap()).unwrap();
    e["proof"]["path"][0] = json!(STANDARD.encode([7u8; 32]));
    let bad = dir.path().join("bad-evidence.json");
    std::fs::write(&bad, e.to_string()).unwrap();
    let (code, v) = verify(&["evidence", "verify", bad.to_str().unwrap(), "--vkey", &vkey]);
    assert_eq!(code, 1, "{v}");

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

    // A monitor that remembers b's larger checkpoint is then shown a's smaller
    // one, by a mirror that also serves b's tiles: not stale, since a is no
    // prefix of b, but a fork proven from b's tiles, with evidence.
    let b_size = reqwest::blocking::get(format!("{}/checkpoint", b.url))
        .unwrap()
        .text()
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let m = dir.path().join("b-mirror");
    mirror(&b.url, &vkey, &m, b_size);
    let b_state = dir.path().join("b.state");
    std::fs::copy(m.join("checkpoint"), &b_state).unwrap();
    std::fs::copy(&a_cp, m.join("checkpoint")).unwrap();
    let ev2 = dir.path().join("evidence-smaller.json");
    let (code, v) = verify(&[
        "monitor",
        "--log",
        m.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--state",
        b_state.to_str().unwrap(),
        "--evidence",
        ev2.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("FORK"), "{v}");
    let (code, v) = verify(&["evidence", "verify", ev2.to_str().unwrap(), "--vkey", &vkey]);
    assert_eq!(code, 0, "{v}");
    a.stop();
    b.stop();
}

/// Mirrors the log into a directory with `ledger-verify mirror`, and checks
/// that it holds a checkpoint of `size`.
fn mirror(url: &str, vkey: &str, dir: &Path, size: u64) {
    let (code, v) = verify(&[
        "mirror",
        "--log",
        url,
        "--vkey",
        vkey,
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], size, "{v}");
}

#[test]
fn replay_passes_and_catches_a_tampered_entry_even_with_tiles_and_checkpoint_redone() {
    let Ledger {
        dir,
        data,
        vkey,
        authority,
        agency,
        server,
    } = Ledger::start(6);
    let authority_b64 = STANDARD.encode(authority.verifying_key().as_bytes());
    for i in 0..299 {
        append(
            &server.url,
            &agency,
            "city-licensing",
            &format!("r{i}"),
            "decision.permit.building",
            json!({"n": i}),
            false,
        );
    }
    append(
        &server.url,
        &agency,
        "city-licensing",
        "last",
        "service.licence.issued",
        json!({}),
        true,
    );

    let (code, v) = verify(&[
        "replay",
        "--log",
        &server.url,
        "--vkey",
        &vkey,
        "--authority-key",
        &authority_b64,
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], 302);
    assert_eq!(v["authority_key"], authority_b64.as_str(), "{v}");
    assert_eq!(
        v["authority_key_source"], "given with --authority-key",
        "{v}"
    );
    // Without --authority-key the replay refuses to learn the authority from
    // entry 0 silently; with --trust-genesis it does, and says so.
    let (code, v) = verify(&["replay", "--log", &server.url, "--vkey", &vkey]);
    assert_eq!(code, 2, "{v}");
    assert!(
        v["problem"].as_str().unwrap().contains("--authority-key"),
        "{v}"
    );
    let (code, v) = verify(&[
        "replay",
        "--trust-genesis",
        "--log",
        &server.url,
        "--vkey",
        &vkey,
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["authority_key"], authority_b64.as_str(), "{v}");
    assert_eq!(
        v["authority_key_source"], "learned from entry 0 (--trust-genesis)",
        "{v}"
    );
    assert!(
        v["checked"].as_str().unwrap().contains("--trust-genesis"),
        "{v}"
    );
    let city = &v["agencies"]["city-licensing"];
    assert_eq!(city["entries"], 300);
    assert_eq!(city["first"], 2);
    assert_eq!(city["last"], 301);
    assert_eq!(city["types"]["decision.permit.building"], 299);
    assert_eq!(city["channels"]["G2C"], 300);
    assert_eq!(v["agencies"]["registry"]["entries"], 2);
    // An agency's history: from the server's claim of its newest entry, then
    // checked by scanning; a false claim is caught by the scan.
    let (code, v) = verify(&[
        "agency",
        "--log",
        &server.url,
        "--vkey",
        &vkey,
        "--id",
        "city-licensing",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["count"], 300);
    assert_eq!(v["entries"][0]["index"], 2);
    assert_eq!(v["entries"][299]["index"], 301);
    assert!(
        v["guarantee"].as_str().unwrap().contains("server's claim"),
        "{v}"
    );
    let (code, v) = verify(&[
        "agency",
        "--log",
        &server.url,
        "--vkey",
        &vkey,
        "--id",
        "city-licensing",
        "--scan",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["count"], 300);
    assert!(v["guarantee"].as_str().unwrap().contains("complete"), "{v}");
    let (code, v) = verify(&[
        "agency",
        "--log",
        &server.url,
        "--vkey",
        &vkey,
        "--id",
        "city-licensing",
        "--head",
        "150",
        "--scan",
    ]);
    assert_eq!(code, 1, "{v}");
    let (code, v) = verify(&[
        "agency",
        "--log",
        &server.url,
        "--vkey",
        &vkey,
        "--id",
        "registry",
        "--scan",
    ]);
    assert_eq!((code, v["count"].clone()), (0, json!(2)), "{v}");

    // The wrong authority key: genesis names another one.
    let wrong = STANDARD.encode(
        SigningKey::from_bytes(&[1u8; 32])
            .verifying_key()
            .as_bytes(),
    );
    let (code, _) = verify(&[
        "replay",
        "--log",
        &server.url,
        "--vkey",
        &vkey,
        "--authority-key",
        &wrong,
    ]);
    assert_eq!(code, 1);

    // A dishonest operator edits one statement byte in a mirror, recomputes every
    // tile and re-signs the checkpoint with the real log key: the tree checks
    // pass, the agency's signature does not.
    let m = dir.path().join("mirror");
    mirror(&server.url, &vkey, &m, 302);
    let (code, v) = verify(&[
        "replay",
        "--log",
        m.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--authority-key",
        &authority_b64,
    ]);
    assert_eq!(code, 0, "{v}");
    let bundle_path = m.join("tile/entries/000");
    let bundle = std::fs::read(&bundle_path).unwrap();
    let mut entries: Vec<Vec<u8>> = ledger_core::tile::parse_entry_bundle(&bundle)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let e = &mut entries[100];
    let pos = e.windows(4).position(|w| w == b"\"n\":").unwrap() + 4;
    e[pos] = if e[pos] == b'9' { b'8' } else { b'9' };
    std::fs::write(
        &bundle_path,
        ledger_core::tile::encode_entry_bundle(&entries).unwrap(),
    )
    .unwrap();
    // Before the tiles and checkpoint are redone, the mirror contradicts the
    // signed checkpoint: a bad source, not proof against the log (exit 2, #14
    // item 3), though entry 100 as served also breaks its signature.
    let (code, v) = verify(&[
        "replay",
        "--log",
        m.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--authority-key",
        &authority_b64,
    ]);
    assert_eq!(code, 2, "{v}");
    let problem = v["problem"].as_str().unwrap();
    assert!(
        problem.starts_with(&format!("bad source {}", m.display())),
        "{problem}"
    );
    let rest = ledger_core::tile::parse_entry_bundle(
        &std::fs::read(m.join("tile/entries/001.p/46")).unwrap(),
    )
    .unwrap()
    .into_iter()
    .map(<[u8]>::to_vec)
    .collect::<Vec<_>>();
    let mut builder = ledger_core::tile::TileBuilder::new();
    let mut tiles = Vec::new();
    for e in entries.iter().chain(rest.iter()) {
        builder.append(ledger_core::hash::leaf_hash(e));
        tiles.extend(builder.take_completed());
    }
    tiles.extend(builder.partial_tiles());
    for (t, d) in tiles {
        std::fs::write(m.join(t.path()), d).unwrap();
    }
    let signer = ledger_core::note::Ed25519Signer::from_skey(
        std::fs::read_to_string(data.join("log.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let origin = ledger_core::checkpoint::Origin::new(ORIGIN).unwrap();
    let cp = ledger_core::checkpoint::Checkpoint::new(origin, builder.size(), builder.root());
    std::fs::write(
        m.join("checkpoint"),
        ledger_core::checkpoint::sign_checkpoint(&cp, &signer),
    )
    .unwrap();
    let (code, v) = verify(&[
        "replay",
        "--generic",
        "--log",
        m.to_str().unwrap(),
        "--vkey",
        &vkey,
    ]);
    assert_eq!(code, 0, "the forged tree is self-consistent: {v}");
    let (code, v) = verify(&[
        "replay",
        "--log",
        m.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--authority-key",
        &authority_b64,
    ]);
    assert_eq!(code, 1, "{v}");
    let problem = v["problem"].as_str().unwrap();
    assert!(
        problem.contains("entry 100") || problem.contains("entry 101"),
        "{problem}"
    );
    server.stop();
}

#[test]
fn an_interrupted_replay_resumes_where_it_stopped() {
    let Ledger {
        dir,
        data: _,
        vkey,
        authority,
        agency,
        server,
    } = Ledger::start(8);
    let authority_b64 = STANDARD.encode(authority.verifying_key().as_bytes());
    let client = reqwest::blocking::Client::new();
    for b in 0..5 {
        let entries: Vec<Value> = (0..1000)
            .map(|i| {
                let st = json!({"v": 1, "origin": ORIGIN, "agency": "city-licensing",
                    "submission_id": format!("b{b}-{i}"), "type": "service.licence.issued",
                    "channel": "G2C", "occurred_at": "2026-11-28T10:00:00Z", "object": {}})
                .to_string();
                json!({"statement": STANDARD.encode(&st),
                    "signature": STANDARD.encode(sign_statement(&agency, st.as_bytes()))})
            })
            .collect();
        let r = client
            .post(format!("{}/v1/entries/batch?wait=checkpoint", server.url))
            .json(&json!({"entries": entries}))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    let m = dir.path().join("mirror");
    mirror(&server.url, &vkey, &m, 5002);
    server.stop();

    // The mirror loses a bundle near the end: the replay cannot finish, but keeps
    // its progress.
    let lost = m.join("tile/entries/018");
    let saved = std::fs::read(&lost).unwrap();
    std::fs::remove_file(&lost).unwrap();
    let state = dir.path().join("replay.state");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "replay",
            "--log",
            m.to_str().unwrap(),
            "--vkey",
            &vkey,
            "--resume",
            state.to_str().unwrap(),
            "--authority-key",
            &authority_b64,
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| verify(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, v) = run(args(&[]));
    assert_eq!(code, 2, "{v}");
    let st: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(st["verified"], 4096);

    // Resuming after an early entry was changed: refused, as a bad source
    // (the mirror no longer serves what the earlier run verified; #14 item 3).
    let first = m.join("tile/entries/000");
    let good_first = std::fs::read(&first).unwrap();
    let mut bad = good_first.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&first, &bad).unwrap();
    std::fs::write(&lost, &saved).unwrap();
    let (code, v) = run(args(&[]));
    assert_eq!(code, 2, "{v}");
    assert!(
        v["problem"]
            .as_str()
            .unwrap()
            .contains("not the ones verified in the earlier run"),
        "{v}"
    );

    // Restored: the resumed replay finishes, and removes its state.
    std::fs::write(&first, &good_first).unwrap();
    let (code, v) = run(args(&[]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], 5002);
    assert_eq!(v["agencies"]["city-licensing"]["entries"], 5000);
    assert!(!state.exists());
}
