//! Erasure on a real data directory (RocksDB on disk; spec/durability.md §5):
//! after an erasure, neither the sealed payload nor its key is left in any file
//! of the live directory, the plaintext was never in any file, and a copy of
//! the ledger store taken before the erasure (a backup) cannot be read with
//! the key store that survives it ("crypto-shredding").

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ledger_core::entry::sign_statement;
use ledger_core::statement::PayloadCommitment;
use ledger_server::api::app;
use ledger_server::init::{Authority, init, read_secret_key};
use ledger_server::ledger::{LedgerDb, PayloadState};
use ledger_server::node::{Node, NodeConfig, db_dir, keys_dir};
use ledger_server::store::{Cf, RocksStore};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const ORIGIN: &str = "erasure.egov-ledger.example/log";
const PAYLOAD: &[u8] = br#"{"name":"Siti Rahma","nik":"3273015008900002"}"#;

fn statement(
    agency: &str,
    sub: &str,
    kind: &str,
    channel: &str,
    object: Value,
    extra: &str,
) -> Vec<u8> {
    format!(
        r#"{{"v":1,"origin":"{ORIGIN}","agency":"{agency}","submission_id":"{sub}","type":"{kind}","channel":"{channel}","occurred_at":"2026-11-28T08:00:00Z","object":{object}{extra}}}"#
    )
    .into_bytes()
}

async fn post(node: &Node, path: &str, body: Value) -> (u16, Value) {
    let req = axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = app(node.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn signed(k: &ed25519_dalek::SigningKey, st: &[u8]) -> Value {
    json!({"statement": STANDARD.encode(st), "signature": STANDARD.encode(sign_statement(k, st))})
}

/// Whether any file under `dir` contains `needle`.
fn found_in(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(found_in(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(p.display().to_string());
        }
    }
    hits
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_leaves_no_bytes_and_shreds_backups() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data, ORIGIN, Authority::Dev).unwrap();
    let authority = read_secret_key(&data.join("authority.key")).unwrap();
    let config = NodeConfig {
        checkpoint_interval: Duration::from_millis(5),
        ..NodeConfig::default()
    };
    let node = Node::start(&data, config.clone()).unwrap();
    let city = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let reg = statement(
        "registry",
        "reg-city",
        "registry.agency.register",
        "G2G",
        json!({"agency": "city", "name": "City", "key": STANDARD.encode(city.verifying_key().as_bytes())}),
        "",
    );
    assert_eq!(
        post(&node, "/v1/entries", signed(&authority, &reg)).await.0,
        201
    );
    let salt = [5u8; 32];
    let c = PayloadCommitment::compute(&salt, PAYLOAD);
    let lic = statement(
        "city",
        "lic",
        "service.licence.issued",
        "G2C",
        json!({}),
        &format!(r#","payload_commitment":"{}""#, c.to_hex()),
    );
    let mut req = signed(&city, &lic);
    req["payload"] = json!(STANDARD.encode(PAYLOAD));
    req["salt"] = json!(hex::encode(salt));
    let (s, v) = post(&node, "/v1/entries", req).await;
    assert_eq!(s, 201, "{v}");
    let entry = v["index"].as_u64().unwrap();
    let db = node.state.db.clone();
    assert_eq!(
        db.payload(entry).unwrap(),
        PayloadState::Held((salt, PAYLOAD.to_vec()))
    );
    let key = db
        .keys()
        .get(Cf::PayloadKeys, &entry.to_be_bytes())
        .unwrap()
        .unwrap();
    let sealed = db
        .store()
        .get(Cf::Payloads, &entry.to_be_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(key.len(), 32);
    // Encrypted at rest: the plaintext is in no file, ever.
    assert!(found_in(&data, b"3273015008900002").is_empty());
    // A backup of the ledger store taken now, stopped (the key store is backed
    // up apart, and this test's key backups have aged out).
    drop(db);
    node.shutdown(Duration::from_secs(5)).await;
    let backup = tmp.path().join("backup");
    copy_dir(&db_dir(&data), &backup);
    let node = Node::start(&data, config.clone()).unwrap();
    let db = node.state.db.clone();

    let erase = statement(
        "city",
        "erase",
        "access.payload.erase",
        "G2G",
        json!({"entry": entry.to_string(), "legal_basis": "UU 27/2022 art. 8"}),
        "",
    );
    let (s, v) = post(&node, "/v1/entries", signed(&city, &erase)).await;
    assert_eq!(s, 201, "{v}");
    let erased_by = v["index"].as_u64().unwrap();
    assert_eq!(db.payload(entry).unwrap(), PayloadState::Erased(erased_by));

    // Neither the key nor the sealed payload is left in any live file: tables,
    // write-ahead logs, manifests.
    assert_eq!(found_in(&keys_dir(&data), &key), Vec::<String>::new());
    assert_eq!(found_in(&data, &key), Vec::<String>::new());
    assert_eq!(found_in(&data, &sealed[12..44]), Vec::<String>::new());
    assert!(found_in(&data, b"3273015008900002").is_empty());
    drop(db);
    node.shutdown(Duration::from_secs(5)).await;

    // The old backup still holds the sealed payload, but no key opens it.
    assert!(
        !found_in(&backup, &sealed[12..44]).is_empty(),
        "the backup holds the sealed bytes"
    );
    let old = LedgerDb::new(
        std::sync::Arc::new(RocksStore::open(&backup).unwrap()),
        std::sync::Arc::new(RocksStore::open(&keys_dir(&data)).unwrap()),
    );
    assert_eq!(old.payload(entry).unwrap(), PayloadState::NotHeld);
    drop(old);

    // Restart: everything verifies, the erasure stands.
    let node = Node::start(&data, config).unwrap();
    assert_eq!(
        node.state.db.payload(entry).unwrap(),
        PayloadState::Erased(erased_by)
    );
    node.shutdown(Duration::from_secs(5)).await;
}
