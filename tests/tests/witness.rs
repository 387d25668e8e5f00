//! The witness (`ledger-verify witness`, spec/witness.md) as a real process:
//! keygen, the add-checkpoint status matrix over HTTP, cosignatures that verify
//! under the C2SP construction computed here independently, concurrent requests
//! that never roll its state back, and kill -9 in the middle of updates.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{WitnessProcess, binary};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use ledger_core::TreeSize;
use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
use ledger_core::note::{Ed25519Signer, KeyName};
use ledger_core::tree::{MemoryTree, tree_hash};
use ledger_core::witness::{AddCheckpointRequest, monitoring_path, proof_lines};

const ORIGIN: &str = "witness-test.example.gov/log";

fn log_signer() -> Ed25519Signer {
    Ed25519Signer::new(
        KeyName::new(ORIGIN).unwrap(),
        SigningKey::from_bytes(&[21; 32]),
    )
}

fn grown(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(&i.to_be_bytes());
    }
    t
}

fn body(t: &MemoryTree, old: u64, size: u64) -> Vec<u8> {
    let root = tree_hash(TreeSize(size), t).unwrap();
    let cp = Checkpoint::new(Origin::new(ORIGIN).unwrap(), TreeSize(size), root);
    AddCheckpointRequest {
        old_size: old,
        proof: proof_lines(old, size, t).unwrap(),
        checkpoint: sign_checkpoint(&cp, &log_signer()),
    }
    .encode()
}

fn post(client: &reqwest::blocking::Client, url: &str, body: Vec<u8>) -> (u16, String, String) {
    let r = client
        .post(format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().unwrap())
}

/// Checks a cosignature line by the C2SP construction, computed here: the key
/// ID is SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[..4], the signature covers
/// "cosignature/v1\ntime <T>\n" ‖ the note text. Returns T.
fn check_cosignature(line: &str, vkey: &str, text: &str) -> u64 {
    use sha2::Digest as _;
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    let (name, key) = (parts[0], STANDARD.decode(parts[2]).unwrap());
    assert_eq!(key[0], 0x04, "a cosignature key");
    let key = VerifyingKey::from_bytes(&key[1..].try_into().unwrap()).unwrap();
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x04");
    h.update(key.as_bytes());
    let id = &h.finalize()[..4];
    let rest = line
        .strip_prefix(&format!("\u{2014} {name} "))
        .expect("the witness's line");
    let sig = STANDARD.decode(rest.trim_end()).unwrap();
    assert_eq!(sig.len(), 76);
    assert_eq!(&sig[..4], id);
    let t = u64::from_be_bytes(sig[4..12].try_into().unwrap());
    let msg = format!("cosignature/v1\ntime {t}\n{text}");
    key.verify_strict(
        msg.as_bytes(),
        &Signature::from_bytes(&sig[12..].try_into().unwrap()),
    )
    .expect("the cosignature verifies");
    t
}

fn keygen(dir: &Path) -> (std::path::PathBuf, String) {
    let key = dir.join("witness.key");
    let out = common::run_ok(
        Command::new(binary("ledger-verify"))
            .args([
                "witness",
                "keygen",
                "--name",
                "audit-board.example.gov",
                "--out",
            ])
            .arg(&key),
    );
    let vkey = common::field(&out, "cosignature verifier key:");
    (key, vkey)
}

#[test]
fn a_witness_cosigns_growth_only_and_keeps_its_state() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = keygen(dir.path());
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(vkey.starts_with("audit-board.example.gov+"), "{vkey}");
    // Never over an existing key.
    let again = Command::new(binary("ledger-verify"))
        .args(["witness", "keygen", "--name", "x.example", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));

    let data = dir.path().join("state");
    let log_vkey = log_signer().verifier().to_vkey();
    let w = WitnessProcess::start(&data, &key, &log_vkey);
    let client = reqwest::blocking::Client::new();
    let t = grown(300);
    let (s, _, line) = post(&client, &w.url, body(&t, 0, 100));
    assert_eq!(s, 200, "{line}");
    let text = format!(
        "{ORIGIN}\n100\n{}\n",
        tree_hash(TreeSize(100), &t).unwrap().to_base64()
    );
    let ts = check_cosignature(line.lines().next().unwrap(), &vkey, &text);
    assert!(ts > 1_700_000_000);
    // The matrix over HTTP: 409 + size, 400, 422, 404, 403, 413.
    let (s, ct, b) = post(&client, &w.url, body(&t, 0, 200));
    assert_eq!(
        (s, ct.as_str(), b.as_str()),
        (409, "text/x.tlog.size", "100\n")
    );
    assert_eq!(post(&client, &w.url, body(&t, 150, 120)).0, 400);
    let mut bad = body(&t, 100, 200);
    bad[10] ^= 1;
    assert!([400, 422].contains(&post(&client, &w.url, bad).0));
    let other = Ed25519Signer::new(
        KeyName::new(ORIGIN).unwrap(),
        SigningKey::from_bytes(&[9; 32]),
    );
    let forged = sign_checkpoint(
        &Checkpoint::new(
            Origin::new(ORIGIN).unwrap(),
            TreeSize(200),
            tree_hash(TreeSize(200), &t).unwrap(),
        ),
        &other,
    );
    let forged = AddCheckpointRequest {
        old_size: 100,
        proof: proof_lines(100, 200, &t).unwrap(),
        checkpoint: forged,
    };
    assert_eq!(post(&client, &w.url, forged.encode()).0, 403);
    let unknown = body(&t, 0, 1);
    let unknown = String::from_utf8(unknown)
        .unwrap()
        .replace(ORIGIN, "unknown.example/log");
    assert_eq!(post(&client, &w.url, unknown.into_bytes()).0, 404);
    assert_eq!(post(&client, &w.url, vec![b'x'; 200_000]).0, 413);
    // The monitoring path serves the latest cosigned checkpoint.
    let got = client
        .get(format!("{}/{}", w.url, monitoring_path(ORIGIN)))
        .send()
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert!(got.text().unwrap().starts_with(&text));

    // Concurrent requests (each learning the size from a 409 and retrying) never
    // roll the state back: the stored size only grows, and ends at the largest
    // size cosigned.
    let max_cosigned = Arc::new(AtomicU64::new(100));
    let t = Arc::new(t);
    let url = w.url.clone();
    let workers: Vec<_> = (0..6u64)
        .map(|k| {
            let (t, url, max) = (t.clone(), url.clone(), max_cosigned.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut old = 0;
                for step in 0..25u64 {
                    let size = 100 + (step * 7 + k * 13) % 200;
                    let (s, _, b) = post(&client, &url, body(&t, old.min(size), size));
                    match s {
                        200 => {
                            max.fetch_max(size, Ordering::SeqCst);
                            old = size;
                        }
                        409 => old = b.trim().parse().unwrap(),
                        400 => {}
                        other => panic!("{other}: {b}"),
                    }
                }
            })
        })
        .collect();
    let watcher = {
        let url = w.url.clone();
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let mut last = 0;
            for _ in 0..100 {
                let text = client
                    .get(format!("{url}/{}", monitoring_path(ORIGIN)))
                    .send()
                    .unwrap()
                    .text()
                    .unwrap();
                let size: u64 = text.lines().nth(1).unwrap().parse().unwrap();
                assert!(size >= last, "the witness went back from {last} to {size}");
                last = size;
            }
        })
    };
    for h in workers {
        h.join().unwrap();
    }
    watcher.join().unwrap();
    let stored = client
        .get(format!("{}/{}", w.url, monitoring_path(ORIGIN)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let size: u64 = stored.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(size, max_cosigned.load(Ordering::SeqCst));

    // kill -9 in the middle of updates: after a restart the state is the last
    // acknowledged checkpoint or a later one, never older, and it still opens.
    let mut w = w;
    let mut acked = size;
    for round in 0..4u64 {
        let url = w.url.clone();
        let t2 = t.clone();
        let from = acked;
        let acks = Arc::new(AtomicU64::new(from));
        let acks2 = acks.clone();
        let sender = std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut old = from;
            for size in from + 1..=300 {
                let Ok(r) = client
                    .post(format!("{url}/add-checkpoint"))
                    .body(body(&t2, old, size))
                    .send()
                else {
                    return;
                };
                if r.status().as_u16() == 200 {
                    acks2.fetch_max(size, Ordering::SeqCst);
                    old = size;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(20 + round * 15));
        w.kill9();
        sender.join().unwrap();
        acked = acks.load(Ordering::SeqCst);
        w = WitnessProcess::start(&data, &key, &log_vkey);
        let stored = client
            .get(format!("{}/{}", w.url, monitoring_path(ORIGIN)))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let size: u64 = stored.lines().nth(1).unwrap().parse().unwrap();
        assert!(
            size >= acked,
            "round {round}: stored {size} < acknowledged {acked}"
        );
        acked = size;
        // It goes on from there.
        if size < 300 {
            assert_eq!(post(&client, &w.url, body(&t, size, size + 1)).0, 200);
            acked = size + 1;
        }
    }
}
