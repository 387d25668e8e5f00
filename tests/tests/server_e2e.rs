//! The real `ledger-server` binary on a loopback port: init, register an agency,
//! append, kill -9, restart, and check that every acknowledged entry persisted,
//! the checkpoint verifies, and the tiles match the entries. Then the demo.

mod common;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, binary, field, run_ok};
use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::entry::sign_statement;
use ledger_core::hash::leaf_hash;
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use ledger_core::receipt::Receipt;
use ledger_core::tile::parse_entry_bundle;
use ledger_core::tree::MemoryTree;
use serde_json::{Value, json};

const ORIGIN: &str = "e2e.egov-ledger.example/log";

fn read_key(path: &std::path::Path) -> SigningKey {
    let text = std::fs::read_to_string(path).unwrap();
    let seed: [u8; 32] = STANDARD.decode(text.trim()).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&seed)
}

fn statement(agency: &str, sub: &str, kind: &str, channel: &str, object: Value) -> Vec<u8> {
    json!({"v": 1, "origin": ORIGIN, "agency": agency, "submission_id": sub, "type": kind,
        "channel": channel, "occurred_at": "2026-11-28T09:00:00Z", "object": object})
    .to_string()
    .into_bytes()
}

fn body(k: &SigningKey, st: &[u8]) -> Value {
    json!({"statement": STANDARD.encode(st), "signature": STANDARD.encode(sign_statement(k, st))})
}

struct Client {
    http: reqwest::blocking::Client,
    url: String,
}

impl Client {
    fn post(&self, path: &str, v: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(v)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }
    fn bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let r = self.http.get(format!("{}{path}", self.url)).send().unwrap();
        (r.status().as_u16(), r.bytes().unwrap().to_vec())
    }
    fn json(&self, path: &str) -> Value {
        let (s, b) = self.bytes(path);
        assert_eq!(s, 200, "{path}");
        serde_json::from_slice(&b).unwrap()
    }
}

/// Fetches every bundle and level-0 tile of the checkpointed tree and checks them
/// against each other and the signed root; returns the entries.
fn check_tiles(c: &Client, origin: &Origin, vkey: &Ed25519Verifier) -> Vec<Vec<u8>> {
    let (s, note) = c.bytes("/checkpoint");
    assert_eq!(s, 200);
    let none: [&dyn NoteVerifier; 0] = [];
    let cp = open_checkpoint(&note, origin, vkey, &none).expect("the checkpoint verifies");
    let size = cp.checkpoint.size.0;
    let mut entries = Vec::new();
    let mut hashes = Vec::new();
    let mut n = 0u64;
    while n * 256 < size {
        let w = (size - n * 256).min(256);
        let suffix = if w == 256 {
            String::new()
        } else {
            format!(".p/{w}")
        };
        let (s, bundle) = c.bytes(&format!("/tile/entries/{n:03}{suffix}"));
        assert_eq!(s, 200);
        entries.extend(
            parse_entry_bundle(&bundle)
                .unwrap()
                .into_iter()
                .map(<[u8]>::to_vec),
        );
        let (s, tile) = c.bytes(&format!("/tile/0/{n:03}{suffix}"));
        assert_eq!(s, 200);
        hashes.extend(tile);
        n += 1;
    }
    assert_eq!(entries.len() as u64, size);
    let mut tree = MemoryTree::new();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(
            leaf_hash(e).0,
            hashes[i * 32..i * 32 + 32],
            "tile hash of entry {i}"
        );
        tree.append(e);
    }
    assert_eq!(
        tree.root(),
        cp.checkpoint.root,
        "root recomputed from the bundles"
    );
    entries
}

#[test]
fn init_append_kill_restart_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let data_s = data.to_str().unwrap();
    let out = run_ok(
        Command::new(binary("ledger-server")).args(["init", "--data", data_s, "--origin", ORIGIN]),
    );
    let vkey_text = field(&out, "verifier key:");
    let vkey = Ed25519Verifier::from_vkey(&vkey_text).unwrap();
    let origin = Origin::new(ORIGIN).unwrap();
    // A second init refuses to overwrite the ledger.
    let again = Command::new(binary("ledger-server"))
        .args(["init", "--data", data_s, "--origin", ORIGIN])
        .output()
        .unwrap();
    assert!(!again.status.success());

    let server = Server::start(&["serve", "--data", data_s], dir.path());
    let c = Client {
        http: reqwest::blocking::Client::new(),
        url: server.url.clone(),
    };
    let log = c.json("/v1/log");
    assert_eq!(log["vkey"], vkey_text);

    // The registry authority (a development key made by init) registers an agency.
    let authority = read_key(&data.join("authority.key"));
    let agency = SigningKey::from_bytes(&[42u8; 32]);
    let reg = statement(
        "registry",
        "register/city-licensing",
        "registry.agency.register",
        "G2G",
        json!({"agency": "city-licensing", "name": "City Licensing Office",
            "key": STANDARD.encode(agency.verifying_key().as_bytes())}),
    );
    let (s, v) = c.post("/v1/entries", &body(&authority, &reg));
    assert_eq!(s, 201, "{v}");

    // Appends: single, batch, and one with a receipt.
    let mut acked: Vec<(u64, String)> = Vec::new();
    for i in 0..5 {
        let st = statement(
            "city-licensing",
            &format!("s{i}"),
            "decision.permit.building",
            "G2C",
            json!({"outcome": "granted", "n": i}),
        );
        let (s, v) = c.post("/v1/entries", &body(&agency, &st));
        assert_eq!(s, 201, "{v}");
        acked.push((
            v["index"].as_u64().unwrap(),
            v["leaf_hash"].as_str().unwrap().into(),
        ));
    }
    let batch: Vec<Value> = (0..600)
        .map(|i| {
            let st = statement(
                "city-licensing",
                &format!("b{i}"),
                "service.licence.issued",
                "G2C",
                json!({"licence": "street-vendor", "n": i}),
            );
            body(&agency, &st)
        })
        .collect();
    let (s, v) = c.post("/v1/entries/batch", &json!({"entries": batch}));
    assert_eq!(s, 200);
    for r in v["results"].as_array().unwrap() {
        acked.push((
            r["index"].as_u64().unwrap(),
            r["leaf_hash"].as_str().unwrap().into(),
        ));
    }
    let st = statement(
        "city-licensing",
        "with-receipt",
        "decision.permit.building",
        "G2C",
        json!({"outcome": "denied"}),
    );
    let (s, v) = c.post("/v1/entries?wait=checkpoint", &body(&agency, &st));
    assert_eq!(s, 201, "{v}");
    acked.push((
        v["index"].as_u64().unwrap(),
        v["leaf_hash"].as_str().unwrap().into(),
    ));
    let receipt = Receipt::parse(v["receipt"].as_str().unwrap().as_bytes()).unwrap();
    receipt
        .verify(&origin, &vkey)
        .expect("the receipt verifies offline");
    assert_eq!(acked.len(), 606);

    // kill -9, restart, and everything acknowledged is there.
    server.kill9();
    let server = Server::start(&["serve", "--data", data_s], dir.path());
    let c = Client {
        http: reqwest::blocking::Client::new(),
        url: server.url.clone(),
    };
    // The restarted server signs a checkpoint for everything stored.
    let mut size = 0;
    for _ in 0..200 {
        size = c.json("/v1/log")["checkpoint_size"].as_u64().unwrap();
        if size >= 608 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert_eq!(size, 608, "genesis + registration + 606 appends");
    let entries = check_tiles(&c, &origin, &vkey);
    for (index, hash) in &acked {
        assert_eq!(
            &leaf_hash(&entries[*index as usize]).to_hex(),
            hash,
            "entry {index}"
        );
    }
    // The agency's registration survived too: a resubmission is a duplicate.
    let st = statement(
        "city-licensing",
        "s0",
        "decision.permit.building",
        "G2C",
        json!({"outcome": "granted", "n": 0}),
    );
    let (s, v) = c.post("/v1/entries", &body(&agency, &st));
    assert_eq!((s, v["index"].as_u64()), (200, Some(acked[0].0)));

    // A clean stop (SIGTERM) exits 0.
    server.stop();
}

#[test]
fn demo_runs_with_no_setup() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["demo"], dir.path());
    let printed = server.stdout.join("\n");
    let c = Client {
        http: reqwest::blocking::Client::new(),
        url: server.url.clone(),
    };
    let agencies = c.json("/v1/agencies");
    let ids: Vec<&str> = agencies["agencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{agencies}");
    for id in ["finance-ministry", "city-licensing", "procurement-agency"] {
        assert!(ids.contains(&id), "{id}");
    }
    let data = dir.path().join("ledger-demo");
    assert!(data.join("db").is_dir());
    assert!(data.join("agencies/city-licensing.key").exists());
    let vkey = Ed25519Verifier::from_vkey(&field(&printed, "verifier key:")).unwrap();
    let log = c.json("/v1/log");
    let origin = Origin::new(log["origin"].as_str().unwrap()).unwrap();
    let entries = check_tiles(&c, &origin, &vkey);
    assert_eq!(
        entries.len(),
        11,
        "genesis, 3 registrations, 6 sample records, 1 recorded access"
    );
    for ch in ["G2C", "G2B", "G2G"] {
        let found = c.json(&format!("/v1/entries?channel={ch}"));
        assert!(!found["entries"].as_array().unwrap().is_empty(), "{ch}");
    }
    // The sample G2C permit carries a private payload outside the log, which
    // nobody reads anonymously (spec/api.md §5.1).
    let permits = c.json("/v1/entries?type=decision.permit.building");
    let index = permits["entries"][0]["index"].as_u64().unwrap();
    assert_eq!(permits["entries"][0]["has_payload"], true);
    let r = c
        .http
        .get(format!("{}/v1/payloads/{index}", c.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(!r.text().unwrap().contains("national_id"));
    // The demo's one recorded access names the licence holder's entry.
    let access = c.json("/v1/entries/10");
    assert_eq!(access["type"], "access.payload.read");
    let licence = access["statement"]["object"]["entry"].as_str().unwrap();
    let listed = c.json(&format!("/v1/entries/{licence}/accesses"));
    assert_eq!(listed["accesses"][0]["index"], 10, "{listed}");
    server.stop();

    // Running the demo again reuses the directory and appends nothing twice.
    let server = Server::start(&["demo"], dir.path());
    let c = Client {
        http: reqwest::blocking::Client::new(),
        url: server.url.clone(),
    };
    assert_eq!(c.json("/v1/log")["size"], 11);
    server.stop();
}
