//! Every endpoint and every error row of spec/api.md, through the real router
//! (`tower::ServiceExt::oneshot`, no socket), on an in-memory store.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt as _;
use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::entry::sign_statement;
use ledger_core::hash::{Hash, leaf_hash};
use ledger_core::note::{Ed25519Signer, Ed25519Verifier, NoteVerifier};
use ledger_core::proof::{ConsistencyProof, InclusionProof};
use ledger_core::receipt::Receipt;
use ledger_core::statement::PayloadCommitment;
use ledger_core::tile::{Tile, parse_entry_bundle};
use ledger_core::{LeafIndex, TreeSize};
use ledger_server::api::{app, with_timeout};
use ledger_server::init::{genesis_statement, write_genesis};
use ledger_server::node::{Node, NodeConfig};
use ledger_server::store::{MemStore, Storage};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt as _;

const ORIGIN: &str = "test.egov-ledger.example/log";

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

fn b64key(k: &SigningKey) -> String {
    STANDARD.encode(k.verifying_key().as_bytes())
}

struct T {
    node: Node,
    app: Router,
    store: Arc<MemStore>,
    signer: Ed25519Signer,
    authority: SigningKey,
    origin: Origin,
    n: u64,
}

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

fn request(k: &SigningKey, st: &[u8]) -> Value {
    json!({"statement": STANDARD.encode(st), "signature": STANDARD.encode(sign_statement(k, st))})
}

impl T {
    fn with(config: NodeConfig, store: Arc<MemStore>, fresh: bool) -> T {
        let origin = Origin::new(ORIGIN).unwrap();
        let signer = Ed25519Signer::new(origin.key_name(), key("log"));
        let authority = key("authority");
        if fresh {
            let genesis = genesis_statement(
                &origin,
                &authority.verifying_key(),
                &signer.verifier().to_vkey(),
            );
            let sig = sign_statement(&authority, &genesis);
            write_genesis(
                store.clone(),
                &signer,
                &origin,
                authority.verifying_key(),
                genesis,
                sig,
            )
            .unwrap();
        }
        let node = Node::start_with(store.clone(), signer.clone(), config).unwrap();
        let app = app(node.state.clone());
        T {
            node,
            app,
            store,
            signer,
            authority,
            origin,
            n: 0,
        }
    }

    fn new() -> T {
        let config = NodeConfig {
            checkpoint_interval: Duration::from_millis(5),
            ..NodeConfig::default()
        };
        T::with(config, Arc::new(MemStore::new()), true)
    }

    async fn call(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        self.call(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.get(path).await;
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    async fn post_raw(&self, path: &str, body: Vec<u8>) -> (StatusCode, HeaderMap, Value) {
        let (s, h, b) = self
            .call(
                Request::post(path)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        (s, h, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self.post_raw(path, body.to_string().into_bytes()).await;
        (s, v)
    }

    async fn registry(&mut self, kind: &str, object: Value) -> (StatusCode, Value) {
        self.n += 1;
        let st = statement(
            "registry",
            &format!("reg-{}", self.n),
            kind,
            "G2G",
            object,
            "",
        );
        self.post("/v1/entries", request(&self.authority.clone(), &st))
            .await
    }

    async fn register(&mut self, agency: &str) -> SigningKey {
        let k = key(agency);
        let (s, v) = self
            .registry(
                "registry.agency.register",
                json!({"agency": agency, "name": format!("Agency {agency}"), "key": b64key(&k)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        k
    }

    async fn decision(&self, k: &SigningKey, agency: &str, sub: &str) -> (StatusCode, Value) {
        let st = statement(
            agency,
            sub,
            "decision.permit.granted",
            "G2C",
            json!({"outcome": "granted"}),
            "",
        );
        self.post("/v1/entries", request(k, &st)).await
    }

    /// Posts `k`'s signed decision `sub` of `agency` on a task of its own (it
    /// may wait for a stalled writer); the task gives its status.
    fn spawn_decision(
        &self,
        k: &SigningKey,
        agency: &str,
        sub: &str,
    ) -> tokio::task::JoinHandle<StatusCode> {
        let st = statement(agency, sub, "decision.a", "G2C", json!({}), "");
        let body = request(k, &st).to_string();
        let app = self.app.clone();
        tokio::spawn(async move {
            app.oneshot(
                Request::post("/v1/entries")
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap()
            .status()
        })
    }

    /// Waits (a bounded time) until `want` submissions are queued.
    async fn wait_queue_depth(&self, want: usize) {
        let seq = &self.node.state.sequencer;
        for _ in 0..400 {
            if seq.queue_depth() == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(seq.queue_depth(), want);
    }

    /// Stops the node (the router's handle to the sequencer goes first).
    async fn stop(self) {
        let T { node, app, .. } = self;
        drop(app);
        node.shutdown(Duration::from_secs(5)).await;
    }

    fn verifier(&self) -> Ed25519Verifier {
        self.signer.verifier()
    }

    /// Waits for a checkpoint of at least `size` and returns it, verified.
    async fn checkpoint(&self, size: u64) -> (TreeSize, Hash, Vec<u8>) {
        let mut rx = self.node.state.published.clone();
        tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|p| p.size >= size))
            .await
            .expect("a checkpoint in time")
            .unwrap();
        let (s, h, body) = self.get("/checkpoint").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["cache-control"], "public, max-age=2");
        let none: [&dyn NoteVerifier; 0] = [];
        let cp = open_checkpoint(&body, &self.origin, &self.verifier(), &none).unwrap();
        (cp.checkpoint.size, cp.checkpoint.root, body)
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no error code>")
}

#[tokio::test]
async fn append_read_and_idempotency() {
    let mut t = T::new();
    let k = t.register("city").await;
    let (s, a) = t.decision(&k, "city", "p-1").await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["index"], 2);
    assert_eq!(a["duplicate"], false);

    // The same statement again: the original result.
    let (s, again) = t.decision(&k, "city", "p-1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["index"], 2);
    assert_eq!(again["leaf_hash"], a["leaf_hash"]);
    assert_eq!(again["duplicate"], true);

    // The same submission id, different bytes: 409.
    let st = statement(
        "city",
        "p-1",
        "decision.permit.denied",
        "G2C",
        json!({}),
        "",
    );
    let (s, v) = t.post("/v1/entries", request(&k, &st)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(code(&v), "conflict");

    let (s, e) = t.get_json("/v1/entries/2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(e["agency"], "city");
    assert_eq!(e["type"], "decision.permit.granted");
    assert_eq!(e["leaf_hash"], a["leaf_hash"]);
    assert_eq!(e["agency_prev"], Value::Null);
    assert_eq!(e["statement"]["object"]["outcome"], "granted");
    let envelope = STANDARD.decode(e["entry_b64"].as_str().unwrap()).unwrap();
    assert_eq!(leaf_hash(&envelope).to_hex(), a["leaf_hash"]);

    let (s, log) = t.get_json("/v1/log").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(log["origin"], ORIGIN);
    assert_eq!(log["vkey"], t.verifier().to_vkey());
    assert_eq!(log["authority_key"], b64key(&t.authority));
    assert_eq!(log["size"], 3);
}

#[tokio::test]
async fn every_client_error_has_its_status_and_code() {
    let mut t = T::new();
    let k = t.register("city").await;

    // 400: malformed JSON, unknown fields, bad encodings, bad statements.
    let (s, _, v) = t.post_raw("/v1/entries", b"{not json".to_vec()).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_json"));
    let (s, v) = t
        .post(
            "/v1/entries",
            json!({"statement": "", "signature": "", "x": 1}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_json"));
    let (s, v) = t
        .post(
            "/v1/entries",
            json!({"statement": "!!", "signature": "AA=="}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_encoding"));
    let st = statement("city", "x", "decision.a", "G2C", json!({}), "");
    let mut req = request(&k, &st);
    req["signature"] = json!(STANDARD.encode([0u8; 10]));
    let (s, v) = t.post("/v1/entries", req).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_encoding"));
    let bad = br#"{"v":1,"v":1}"#;
    let (s, v) = t.post("/v1/entries", request(&k, bad)).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_statement"));
    let (s, v) = t.post("/v1/entries?wait=soon", request(&k, &st)).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));

    // 401: a signature by another key.
    let (s, v) = t.post("/v1/entries", request(&key("mallory"), &st)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "bad_signature"));
    // A signature over another statement, pasted on.
    let other = statement("city", "y", "decision.a", "G2C", json!({}), "");
    let mut req = request(&k, &other);
    req["statement"] = json!(STANDARD.encode(&st));
    let (s, v) = t.post("/v1/entries", req).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "bad_signature"));

    // 422: another log's origin; a registry rule (an agency registered twice).
    let foreign = String::from_utf8(statement("city", "z", "decision.a", "G2C", json!({}), ""))
        .unwrap()
        .replace(ORIGIN, "other.example/log");
    let (s, v) = t.post("/v1/entries", request(&k, foreign.as_bytes())).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong_origin")
    );
    let (s, v) = t
        .registry(
            "registry.agency.register",
            json!({"agency": "city", "name": "Again", "key": b64key(&key("new"))}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "registry_rule")
    );
    // A registry entry signed by someone other than the authority.
    let st3 = statement(
        "registry",
        "rogue",
        "registry.agency.register",
        "G2G",
        json!({"agency": "rogue", "name": "Rogue", "key": b64key(&key("rogue"))}),
        "",
    );
    let (s, v) = t.post("/v1/entries", request(&key("rogue"), &st3)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "bad_signature"));

    // 403: an unknown agency; a revoked key.
    let st2 = statement("nobody", "x", "decision.a", "G2C", json!({}), "");
    let (s, v) = t.post("/v1/entries", request(&k, &st2)).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "unknown_agency"));
    let (s, v) = t
        .registry(
            "registry.key.revoke",
            json!({"agency": "city", "key": b64key(&k), "reason": "laptop stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let size_before = t.get_json("/v1/log").await.1["size"].clone();
    let (s, v) = t.post("/v1/entries", request(&k, &st)).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "key_not_active"));
    // Refused appends leave no trace.
    assert_eq!(t.get_json("/v1/log").await.1["size"], size_before);

    // 413: body, statement, batch.
    let (s, _, v) = t.post_raw("/v1/entries", vec![b' '; 300 * 1024]).await;
    assert_eq!((s, code(&v)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    assert!(v["error"]["message"].as_str().unwrap().contains("262144"));
    let big = statement(
        "city",
        "big",
        "decision.a",
        "G2C",
        json!({"x": "a".repeat(20_000)}),
        "",
    );
    let (s, v) = t.post("/v1/entries", request(&k, &big)).await;
    assert_eq!((s, code(&v)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    assert!(v["error"]["message"].as_str().unwrap().contains("16384"));
    let many: Vec<Value> = (0..1001).map(|_| request(&k, &st)).collect();
    let (s, v) = t.post("/v1/entries/batch", json!({"entries": many})).await;
    assert_eq!((s, code(&v)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    assert!(v["error"]["message"].as_str().unwrap().contains("1000"));

    // 404 and 405.
    for path in [
        "/v1/entries/999",
        "/v1/agencies/nobody",
        "/tile/0/000",
        "/tile/0/x",
        "/tile/entries/001",
        // A bundle index whose first entry overflows u64 (was 503 "corrupt store").
        "/tile/entries/x018/x446/x744/x073/x709/x551/615",
        "/tile/entries/x018/x446/x744/x073/x709/x551/615.p/7",
        "/v1/payloads/999",
        "/nothing/here",
    ] {
        let (s, v) = t.get_json(path).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    for path in [
        "/v1/entries/01",
        "/v1/entries/%FF",
        "/v1/agencies/%C3",
        "/v1/receipts/x",
    ] {
        let (s, v) = t.get_json(path).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{path}"
        );
    }
    let (s, _, v) = t.post_raw("/checkpoint", vec![]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );

    // Rejections are counted by reason.
    let (_, _, m) = t.get("/metrics").await;
    let m = String::from_utf8(m).unwrap();
    assert!(
        m.contains("ledger_rejections_total{reason=\"key_not_active\"} 1"),
        "{m}"
    );
}

#[tokio::test]
// The held lock is the stalled disk: only the sequencer's thread waits on it.
#[allow(clippy::await_holding_lock)]
async fn backpressure_and_storage_failure() {
    let config = NodeConfig {
        checkpoint_interval: Duration::from_millis(5),
        sequencer: ledger_server::sequencer::SequencerConfig {
            max_batch: 4096,
            max_queue: 2,
            ..Default::default()
        },
        ..NodeConfig::default()
    };
    let mut t = T::with(config, Arc::new(MemStore::new()), true);
    let k = t.register("city").await;

    // A stalled disk: the queue fills, and the next request gets 429.
    let guard = t.store.block_writes();
    let mut waiting = Vec::new();
    for i in 0..2 {
        waiting.push(t.spawn_decision(&k, "city", &format!("q{i}")));
    }
    // Wait until both are queued.
    t.wait_queue_depth(2).await;
    let st = statement("city", "q-over", "decision.a", "G2C", json!({}), "");
    let (s, h, v) = t
        .post_raw("/v1/entries", request(&k, &st).to_string().into_bytes())
        .await;
    assert_eq!((s, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "queue_full"));
    assert_eq!(h["retry-after"], "1");
    drop(guard);
    for w in waiting {
        assert_eq!(w.await.unwrap(), StatusCode::CREATED);
    }

    // A failing disk: 503, nothing appended, reads still work; then it recovers.
    let size = t.get_json("/v1/log").await.1["size"].as_u64().unwrap();
    t.store.fail_writes(true);
    let (s, v) = t.decision(&k, "city", "during-outage").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(!v["error"]["message"].as_str().unwrap().contains("injected"));
    let (s, _) = t.get_json("/v1/entries/1").await;
    assert_eq!(s, StatusCode::OK);
    t.store.fail_writes(false);
    let (s, v) = t.decision(&k, "city", "after-outage").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["index"], size);
    // The refused one is not there; resubmitting it appends it now.
    let (s, v) = t.decision(&k, "city", "during-outage").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["index"], size + 1);
}

#[tokio::test]
async fn tiles_checkpoints_proofs_and_receipts_verify() {
    let mut t = T::new();
    let k = t.register("city").await;
    let mut batch = Vec::new();
    for i in 0..300 {
        let st = statement(
            "city",
            &format!("b{i}"),
            "decision.a",
            "G2C",
            json!({"n": i}),
            "",
        );
        batch.push(request(&k, &st));
    }
    let (s, v) = t.post("/v1/entries/batch", json!({"entries": batch})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 300);
    assert_eq!(results[299]["index"], 301);

    let (size, root, _) = t.checkpoint(302).await;
    assert_eq!(size, TreeSize(302));

    // Level-0 tiles hold the leaf hashes of the bundles' entries.
    let (s, h, full) = t.get("/tile/0/000").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(full.len(), 256 * 32);
    let (s, h, partial) = t.get("/tile/0/001.p/46").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cache-control"], "public, max-age=5");
    let (_, _, bundle) = t.get("/tile/entries/000").await;
    let (_, _, pbundle) = t.get("/tile/entries/001.p/46").await;
    let entries: Vec<Vec<u8>> = parse_entry_bundle(&bundle)
        .unwrap()
        .into_iter()
        .chain(parse_entry_bundle(&pbundle).unwrap())
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(entries.len(), 302);
    let hashes: Vec<u8> = full.iter().chain(partial.iter()).copied().collect();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(leaf_hash(e).0, hashes[i * 32..i * 32 + 32], "leaf {i}");
    }
    // The level-1 partial tile holds the first full tile's root, and the root
    // recomputed from the entries is the checkpoint's.
    let (s, _, l1) = t.get("/tile/1/000.p/1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l1.len(), 32);
    let mut tree = ledger_core::tree::MemoryTree::new();
    for e in &entries {
        tree.append(e);
    }
    assert_eq!(tree.root(), root);
    let tile = Tile::new(1, 0, 1).unwrap();
    assert_eq!(ledger_core::tile::read_tile_data(&tile, &tree).unwrap(), l1);
    // Beyond the tree: 404.
    for path in [
        "/tile/0/001",
        "/tile/0/001.p/47",
        "/tile/entries/001.p/47",
        "/tile/2/000.p/1",
    ] {
        let (s, _, _) = t.get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }

    // Inclusion and consistency proofs verify against signed roots.
    let (s, p) = t.get_json("/v1/proofs/inclusion?index=77&size=302").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let proof = InclusionProof {
        index: LeafIndex(77),
        size: TreeSize(302),
        path: p["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect(),
    };
    proof.verify(&leaf_hash(&entries[77]), &root).unwrap();
    let (s, p) = t.get_json("/v1/proofs/consistency?from=3&to=302").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let proof = ConsistencyProof {
        old: TreeSize(3),
        new: TreeSize(302),
        path: p["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect(),
    };
    proof
        .verify(&tree.root_at(TreeSize(3)).unwrap(), &root)
        .unwrap();
    for (path, want) in [
        (
            "/v1/proofs/inclusion?index=302&size=302",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/proofs/inclusion?index=1&size=5000",
            StatusCode::NOT_FOUND,
        ),
        ("/v1/proofs/inclusion?size=5", StatusCode::BAD_REQUEST),
        ("/v1/proofs/inclusion?index=-1", StatusCode::BAD_REQUEST),
        (
            "/v1/proofs/consistency?from=0&to=5",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/proofs/consistency?from=9&to=5",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/proofs/consistency?from=1&to=5000",
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/proofs/consistency?from=1&bogus=1",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, v) = t.get_json(path).await;
        assert_eq!(s, want, "{path}: {v}");
    }

    // A receipt from ?wait=checkpoint verifies offline.
    let st = statement("city", "with-receipt", "decision.a", "G2C", json!({}), "");
    let (s, v) = t
        .post("/v1/entries?wait=checkpoint", request(&k, &st))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let text = v["receipt"].as_str().expect("a receipt");
    let receipt = Receipt::parse(text.as_bytes()).unwrap();
    let verified = receipt.verify(&t.origin, &t.verifier()).unwrap();
    assert_eq!(verified.entry.index, LeafIndex(302));
    assert_eq!(
        v["checkpoint_size"].as_u64().unwrap(),
        verified.checkpoint.size.0
    );
    // And from GET /v1/receipts/{index}.
    let (s, _, body) = t.get("/v1/receipts/5").await;
    assert_eq!(s, StatusCode::OK);
    let r = Receipt::parse(&body).unwrap();
    assert_eq!(
        r.verify(&t.origin, &t.verifier()).unwrap().entry.index,
        LeafIndex(5)
    );
    let (s, _) = t.get_json("/v1/receipts/100000").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn search_agencies_payloads_and_operations() {
    let mut t = T::new();
    let city = t.register("city").await;
    let fin = t.register("finance").await;
    for i in 0..7 {
        let st = statement(
            "city",
            &format!("c{i}"),
            "decision.permit.granted",
            "G2C",
            json!({}),
            "",
        );
        assert_eq!(
            t.post("/v1/entries", request(&city, &st)).await.0,
            StatusCode::CREATED
        );
        let st = statement(
            "finance",
            &format!("f{i}"),
            "transfer.budget.allocation",
            "G2G",
            json!({}),
            "",
        );
        assert_eq!(
            t.post("/v1/entries", request(&fin, &st)).await.0,
            StatusCode::CREATED
        );
    }
    // Paging through one agency's entries.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, v) = t
            .get_json(&format!("/v1/entries?agency=city&limit=3{cursor}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for e in v["entries"].as_array().unwrap() {
            assert_eq!(e["agency"], "city");
            seen.push(e["index"].as_u64().unwrap());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![3, 5, 7, 9, 11, 13, 15]);
    let (_, v) = t
        .get_json("/v1/entries?type=transfer.budget.allocation&limit=100")
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 7);
    let (_, v) = t.get_json("/v1/entries?channel=G2G&agency=registry").await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 3);
    let (_, v) = t
        .get_json("/v1/entries?agency=city&type=transfer.budget.allocation")
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 0);
    let (_, v) = t
        .get_json("/v1/entries?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 0);
    let (_, v) = t
        .get_json("/v1/entries?since=2000-01-01T00:00:00Z&limit=2")
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
    assert_eq!(v["next_cursor"], "2");
    for bad in [
        "limit=0",
        "limit=1001",
        "channel=G2X",
        "since=yesterday",
        "cursor=01",
        "agency=A",
        "x=1",
    ] {
        let (s, v) = t.get_json(&format!("/v1/entries?{bad}")).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{bad}"
        );
    }

    // Agencies and their key history.
    let new = key("city-2");
    let (s, _) = t
        .registry(
            "registry.key.rotate",
            json!({"agency": "city", "old_key": b64key(&city), "new_key": b64key(&new)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, a) = t.get_json("/v1/agencies/city").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a["entries"], 7);
    let keys = a["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["active"], false);
    assert_eq!(keys[0]["revoked_at"], 17);
    assert_eq!(keys[1]["key"], b64key(&new));
    let (_, all) = t.get_json("/v1/agencies").await;
    assert_eq!(all["agencies"].as_array().unwrap().len(), 2);

    // A private payload: stored beside the log, opening the commitment.
    let salt = [7u8; 32];
    let payload = br#"{"name":"Siti"}"#;
    let c = PayloadCommitment::compute(&salt, payload);
    let st = statement(
        "city",
        "with-payload",
        "service.licence.issued",
        "G2C",
        json!({}),
        &format!(r#","payload_commitment":"{}""#, c.to_hex()),
    );
    let mut req = request(&new, &st);
    req["payload"] = json!(STANDARD.encode(payload));
    req["salt"] = json!(hex::encode([8u8; 32]));
    let (s, v) = t.post("/v1/entries", req.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_payload"));
    req["salt"] = json!(hex::encode(salt));
    let (s, v) = t.post("/v1/entries", req).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let index = v["index"].as_u64().unwrap();
    // Never served anonymously (spec/api.md §5.1): payload_access_rules reads it.
    let (s, h, body) = t.get(&format!("/v1/payloads/{index}")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.contains_key("www-authenticate"));
    assert!(!String::from_utf8_lossy(&body).contains("Siti"));
    let (_, e) = t.get_json(&format!("/v1/entries/{index}")).await;
    assert_eq!(e["has_payload"], true);
    assert_eq!(e["payload_erased_by"], Value::Null);

    // Operations.
    let (s, h) = t.get_json("/healthz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    t.checkpoint(index + 1).await;
    let (s, _, m) = t.get("/metrics").await;
    assert_eq!(s, StatusCode::OK);
    let m = String::from_utf8(m).unwrap();
    for name in [
        "ledger_tree_size",
        "ledger_checkpoint_size",
        "ledger_append_latency_seconds_bucket",
        "ledger_batch_size_bucket",
        "ledger_queue_depth",
        "ledger_checkpoint_age_seconds",
    ] {
        assert!(m.contains(name), "{name}");
    }
    let (s, o) = t.get_json("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/v1/entries",
        "/v1/entries/batch",
        "/v1/proofs/inclusion",
        "/checkpoint",
        "/v1/agencies/{id}",
    ] {
        assert!(
            o["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn restart_keeps_everything_and_refuses_a_tampered_store() {
    let store = Arc::new(MemStore::new());
    let config = NodeConfig {
        checkpoint_interval: Duration::from_millis(5),
        ..NodeConfig::default()
    };
    let mut t = T::with(config.clone(), store.clone(), true);
    let k = t.register("city").await;
    for i in 0..10 {
        assert_eq!(
            t.decision(&k, "city", &format!("r{i}")).await.0,
            StatusCode::CREATED
        );
    }
    let (size, root, note) = t.checkpoint(12).await;
    t.stop().await;

    // Restart: same tree, same checkpoint, the registry state is back.
    let t2 = T::with(config.clone(), store.clone(), false);
    let (size2, root2, note2) = t2.checkpoint(12).await;
    assert_eq!((size2, root2), (size, root));
    assert_eq!(note2, note);
    let (s, v) = t2.decision(&k, "city", "r0").await;
    assert_eq!((s, v["duplicate"].clone()), (StatusCode::OK, json!(true)));
    let (s, _) = t2.decision(&k, "city", "after-restart").await;
    assert_eq!(s, StatusCode::CREATED);
    t2.checkpoint(13).await;
    t2.stop().await;

    // Tamper with a stored entry's tile: startup refuses, naming the tile.
    let mut b = ledger_server::store::Batch::new();
    let mut data = store
        .get(
            ledger_server::store::Cf::Tiles,
            &ledger_server::ledger::tile_key(0, 0),
        )
        .unwrap()
        .unwrap();
    data[40] ^= 1;
    b.put(
        ledger_server::store::Cf::Tiles,
        ledger_server::ledger::tile_key(0, 0).to_vec(),
        data,
    );
    store.write(b).unwrap();
    let origin = Origin::new(ORIGIN).unwrap();
    let signer = Ed25519Signer::new(origin.key_name(), key("log"));
    let err = Node::start_with(store, signer, config)
        .err()
        .expect("refuses to start");
    let msg = format!("{err:#}");
    assert!(msg.contains("tile/0/000"), "{msg}");
}

#[tokio::test]
// The held lock is the stalled disk: only the sequencer's thread waits on it.
#[allow(clippy::await_holding_lock)]
async fn a_request_over_the_time_limit_gets_408_in_our_format() {
    let mut t = T::new();
    let k = t.register("city").await;
    let slow = with_timeout(app(t.node.state.clone()), Duration::from_millis(100));
    let guard = t.store.block_writes();
    let st = statement("city", "slow", "decision.a", "G2C", json!({}), "");
    let resp = slow
        .oneshot(
            Request::post("/v1/entries")
                .header("content-type", "application/json")
                .body(Body::from(request(&k, &st).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code(&v), "request_timeout");
    drop(guard);
    // The append itself went on: it is durable once the disk answers.
    let (s, v) = t.post("/v1/entries", request(&k, &st)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["duplicate"], true);
}

/// Appends a G2C licence with a private payload for `agency`; returns its index.
async fn licence_with_payload(
    t: &T,
    k: &SigningKey,
    agency: &str,
    sub: &str,
    payload: &[u8],
) -> u64 {
    let salt = [9u8; 32];
    let c = PayloadCommitment::compute(&salt, payload);
    let st = statement(
        agency,
        sub,
        "service.licence.issued",
        "G2C",
        json!({}),
        &format!(r#","payload_commitment":"{}""#, c.to_hex()),
    );
    let mut req = request(k, &st);
    req["payload"] = json!(STANDARD.encode(payload));
    req["salt"] = json!(hex::encode(salt));
    let (s, v) = t.post("/v1/entries", req).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["index"].as_u64().unwrap()
}

fn read_statement(agency: &str, sub: &str, entry: u64) -> Vec<u8> {
    statement(
        agency,
        sub,
        "access.payload.read",
        "G2G",
        json!({"entry": entry.to_string(), "official": "Dewi Lestari (NIP 1987)",
            "purpose": "licence renewal", "legal_basis": "Perda 7/2021 art. 19"}),
        "",
    )
}

/// spec/api.md §5 and spec/registry.md §6: no anonymous reads, every read is
/// a sequenced entry first, grants, replays, erasure.
#[tokio::test]
async fn payload_access_rules() {
    let mut t = T::new();
    let city = t.register("city").await;
    let audit = t.register("audit-board").await;
    let payload = br#"{"name":"Siti Rahma","nik":"3273015008900002"}"#;
    let entry = licence_with_payload(&t, &city, "city", "lic-1", payload).await;
    let size = |t: &T| t.node.state.committed.borrow().size;

    // Anonymous: nothing, for every index.
    for i in 0..size(&t) + 2 {
        let (s, _, body) = t.get(&format!("/v1/payloads/{i}")).await;
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND].contains(&s),
            "{i}: {s}"
        );
        assert!(!String::from_utf8_lossy(&body).contains("Siti"));
    }
    let (s, v) = t.get_json("/v1/payloads/1").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "no_payload"));

    // The owner reads: the access entry is sequenced, then the payload released.
    let before = size(&t);
    let st = read_statement("city", "read-1", entry);
    let (s, v) = t
        .post("/v1/payloads/read?wait=checkpoint", request(&city, &st))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["entry"], entry);
    assert_eq!(
        STANDARD.decode(v["payload"].as_str().unwrap()).unwrap(),
        payload
    );
    let salt: [u8; 32] = hex::decode(v["salt"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert!(
        PayloadCommitment::from_hex(v["commitment"].as_str().unwrap())
            .unwrap()
            .opens(&salt, payload)
    );
    let access = v["access"]["index"].as_u64().unwrap();
    assert_eq!(access, before);
    assert_eq!(size(&t), before + 1);
    let receipt = Receipt::parse(v["access"]["receipt"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(receipt.proof.index, LeafIndex(access));

    // The same statement again: refused, nothing released, nothing appended.
    let (s, v) = t.post("/v1/payloads/read", request(&city, &st)).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "access_replayed"),
        "{v}"
    );
    assert!(v.get("payload").is_none());
    assert_eq!(size(&t), before + 1);

    // Another agency without a grant: 403, not sequenced.
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&audit, &read_statement("audit-board", "r1", entry)),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "access_denied"),
        "{v}"
    );
    assert_eq!(size(&t), before + 1);
    // An entry without a payload commitment; a statement for another origin; a
    // signature by someone else; not a read statement; a payload sent along.
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&city, &read_statement("city", "r2", 1)),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "no_payload"));
    let other = String::from_utf8(read_statement("city", "r3", entry))
        .unwrap()
        .replace(ORIGIN, "other.example/log");
    let (s, v) = t
        .post("/v1/payloads/read", request(&city, other.as_bytes()))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong_origin"),
        "{v}"
    );
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&audit, &read_statement("city", "r4", entry)),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "bad_signature"),
        "{v}"
    );
    let (s, v) = t.decision(&city, "city", "not-a-read").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let dec = statement(
        "city",
        "d2",
        "decision.permit.granted",
        "G2C",
        json!({}),
        "",
    );
    let (s, v) = t.post("/v1/payloads/read", request(&city, &dec)).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let mut with_payload = request(&city, &read_statement("city", "r5", entry));
    with_payload["payload"] = json!("AAAA");
    with_payload["salt"] = json!(hex::encode([1u8; 32]));
    let (s, v) = t.post("/v1/payloads/read", with_payload).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    // A read sent as an ordinary append is refused: it would release nothing.
    let (s, v) = t
        .post(
            "/v1/entries",
            request(&city, &read_statement("city", "r6", entry)),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));

    // A grant lets the audit board read; an expired grant does not.
    let (s, v) = t
        .registry(
            "registry.access.grant",
            json!({"grantee": "audit-board", "agencies": "city", "types": "service",
                "legal_basis": "UU 15/2006 art. 10", "expires_at": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&audit, &read_statement("audit-board", "r7", entry)),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "access_denied"),
        "{v}"
    );
    let (s, v) = t
        .registry(
            "registry.access.grant",
            json!({"grantee": "audit-board", "agencies": "city", "types": "service.licence",
                "legal_basis": "UU 15/2006 art. 10"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let grant = v["index"].as_u64().unwrap();
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&audit, &read_statement("audit-board", "r8", entry)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let audit_read = v["access"]["index"].as_u64().unwrap();
    let (s, v) = t
        .registry(
            "registry.access.revoke",
            json!({"grant": grant.to_string(), "reason": "audit closed"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&audit, &read_statement("audit-board", "r9", entry)),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "access_denied"),
        "{v}"
    );

    // A revoked key reads nothing, even for its own agency's entry.
    let court = t.register("court").await;
    let court_entry = licence_with_payload(&t, &court, "court", "case-1", b"sealed file").await;
    let (s, v) = t
        .registry(
            "registry.key.revoke",
            json!({"agency": "court", "key": b64key(&court), "reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&court, &read_statement("court", "r-revoked", court_entry)),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "key_not_active"),
        "{v}"
    );

    // Who looked: both reads, in order.
    let (s, v) = t.get_json(&format!("/v1/entries/{entry}/accesses")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let listed: Vec<(u64, &str)> = v["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["index"].as_u64().unwrap(), a["agency"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, vec![(access, "city"), (audit_read, "audit-board")]);
    assert_eq!(v["erased_by"], Value::Null);

    // Erasure: not by another agency; by the owner; then 410 everywhere.
    let erase = |agency: &str, sub: &str| {
        statement(
            agency,
            sub,
            "access.payload.erase",
            "G2G",
            json!({"entry": entry.to_string(), "legal_basis": "UU 27/2022 art. 8"}),
            "",
        )
    };
    let (s, v) = t
        .post("/v1/entries", request(&audit, &erase("audit-board", "e1")))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "access_denied"),
        "{v}"
    );
    let (s, v) = t
        .post("/v1/entries", request(&city, &erase("city", "e2")))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let erased_by = v["index"].as_u64().unwrap();
    let (s, v) = t
        .post("/v1/entries", request(&city, &erase("city", "e3")))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::GONE, "payload_erased"), "{v}");
    let (s, v) = t.get_json(&format!("/v1/payloads/{entry}")).await;
    assert_eq!((s, code(&v)), (StatusCode::GONE, "payload_erased"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&erased_by.to_string())
    );
    let (s, v) = t
        .post(
            "/v1/payloads/read",
            request(&city, &read_statement("city", "r10", entry)),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::GONE, "payload_erased"), "{v}");
    let (_, v) = t.get_json(&format!("/v1/entries/{entry}")).await;
    assert_eq!(
        (v["has_payload"].clone(), v["payload_erased_by"].clone()),
        (json!(false), json!(erased_by))
    );
    let (_, v) = t.get_json(&format!("/v1/entries/{entry}/accesses")).await;
    assert_eq!(v["erased_by"], erased_by);
    assert_eq!(v["accesses"].as_array().unwrap().len(), 3);
    // The sealed payload and its key are gone from both stores.
    assert_eq!(
        t.store
            .get(ledger_server::store::Cf::Payloads, &entry.to_be_bytes())
            .unwrap(),
        None
    );
    let keys = t.node.state.db.keys();
    assert_eq!(
        keys.get(ledger_server::store::Cf::PayloadKeys, &entry.to_be_bytes())
            .unwrap(),
        None
    );
    t.stop().await;
}

/// Issue #14 item 8: in one batch, a refused submission does not take a later,
/// valid submission with the same id down with it; a later copy of an accepted
/// one is still its duplicate.
#[tokio::test]
async fn a_refused_submission_does_not_block_a_valid_one_with_the_same_id() {
    let mut t = T::new();
    let city = t.register("city").await;
    let st = statement(
        "city",
        "same-id",
        "decision.permit.granted",
        "G2C",
        json!({"outcome": "granted"}),
        "",
    );
    let forged = request(&key("somebody else"), &st);
    let good = request(&city, &st);
    // A registry statement first, so that the forged one is not refused by the
    // API (a key the batch adds could sign it) but by the sequencer.
    let extra = key("city-extra");
    let add = statement(
        "registry",
        "reg-extra",
        "registry.key.add",
        "G2G",
        json!({"agency": "city", "key": b64key(&extra)}),
        "",
    );
    let add = request(&t.authority.clone(), &add);
    let (s, v) = t
        .post(
            "/v1/entries/batch",
            json!({"entries": [add, forged, good.clone(), good]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = &v["results"].as_array().unwrap()[1..];
    assert_eq!(code(&r[0]), "bad_signature", "{v}");
    let index = r[1]["index"].as_u64().expect("the valid one is appended");
    assert_eq!(r[1]["duplicate"], false, "{v}");
    assert_eq!(
        (r[2]["index"].as_u64(), r[2]["duplicate"].clone()),
        (Some(index), json!(true)),
        "{v}"
    );
    t.stop().await;
}

async fn metric(t: &T, name: &str) -> f64 {
    let (_, _, m) = t.get("/metrics").await;
    let m = String::from_utf8(m).unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// Issue #14 item 14: `/healthz` answers 503 while checkpoints keep failing,
/// and `/metrics` shows the failures; it recovers with the store.
#[tokio::test]
async fn healthz_reports_a_failing_checkpointer() {
    let mut t = T::new();
    let city = t.register("city").await;
    t.checkpoint(2).await;
    assert_eq!(metric(&t, "ledger_checkpoint_failures").await, 0.0);
    t.store.fail_writes_of(Some((
        ledger_server::store::Cf::Meta,
        b"checkpoint".to_vec(),
    )));
    let (s, v) = t.decision(&city, "city", "while-failing").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut unhealthy = None;
    for _ in 0..100 {
        let (s, v) = t.get_json("/healthz").await;
        if s != StatusCode::OK {
            unhealthy = Some((s, v));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, v) = unhealthy.expect("/healthz turns 503 after repeated checkpoint failures");
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("checkpoint"),
        "{v}"
    );
    assert!(metric(&t, "ledger_checkpoint_failures").await >= 3.0);
    t.store.fail_writes_of(None);
    t.checkpoint(3).await;
    let (s, _) = t.get_json("/healthz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(metric(&t, "ledger_checkpoint_failures").await, 0.0);
    t.stop().await;
}

/// Issue #14 item 14: a dead sequencer is reported (503 from /healthz, 0 in
/// /metrics), and appends get 503, not 429 forever.
#[tokio::test]
async fn a_dead_sequencer_is_reported_not_a_full_queue() {
    let mut t = T::new();
    let city = t.register("city").await;
    assert_eq!(metric(&t, "ledger_sequencer_up").await, 1.0);
    t.store.panic_writes(true);
    let (s, v) = t.decision(&city, "city", "kills-it").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{v}"
    );
    for _ in 0..100 {
        if !t.node.state.sequencer.is_running() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, v) = t.decision(&city, "city", "after").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sequencer"),
        "{v}"
    );
    let (s, v) = t.get_json("/healthz").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{v}"
    );
    assert_eq!(metric(&t, "ledger_sequencer_up").await, 0.0);
    t.store.panic_writes(false);
    t.stop().await;
}

/// A ledger (genesis, agency `city`, one decision) with a checkpoint of all
/// three entries, stopped; then entry 3, made by `forge` from entry 2's
/// envelope, written behind the server's back with its tiles and size, as a
/// damaged disk or an old clock would have left it. Returns city's key.
async fn ledger_with_a_stored_tail(
    store: &Arc<MemStore>,
    config: &NodeConfig,
    forge: impl FnOnce(&SigningKey, &[u8]) -> ledger_core::entry::Entry,
) -> SigningKey {
    use ledger_core::tile::TileBuilder;
    use ledger_server::ledger::{LedgerDb, META_SIZE, dedup_key, index_key, tile_key};
    use ledger_server::store::{Batch, Cf};

    let mut t = T::with(config.clone(), store.clone(), true);
    let city = t.register("city").await;
    assert_eq!(t.decision(&city, "city", "r0").await.0, StatusCode::CREATED);
    let (size, _, _) = t.checkpoint(3).await;
    t.stop().await;

    let db = LedgerDb::without_keys(store.clone());
    let mut entries = db.entries(0, size.0).unwrap();
    let tail = forge(&city, &entries[entries.len() - 1]);
    assert_eq!(tail.index, LeafIndex(size.0));
    entries.push(tail.encode().unwrap());
    let mut tiles = TileBuilder::new();
    for e in &entries {
        tiles.append(leaf_hash(e));
    }
    let mut b = Batch::new();
    b.put(
        Cf::Entries,
        index_key(size.0),
        entries[size.0 as usize].clone(),
    );
    for (tile, data) in tiles
        .take_completed()
        .into_iter()
        .chain(tiles.partial_tiles())
    {
        b.put(Cf::Tiles, tile_key(tile.level(), tile.index()), data);
    }
    b.put(Cf::Meta, META_SIZE, (size.0 + 1).to_be_bytes());
    // Its idempotency record too: the tail is consistent but for what is forged.
    let st = ledger_core::statement::Statement::parse(&tail.statement).unwrap();
    b.put(
        Cf::Dedup,
        dedup_key(st.agency.as_str(), st.submission_id.as_str()),
        index_key(size.0),
    );
    store.write(b).unwrap();
    city
}

/// Entry 3 of [`ledger_with_a_stored_tail`]: a city statement after entry 2.
fn city_entry_after(
    last: &[u8],
    st: Vec<u8>,
    sequenced_at_ms: u64,
    key_hash: ledger_core::entry::KeyHash,
    signature: [u8; 64],
) -> ledger_core::entry::Entry {
    ledger_core::entry::Entry {
        index: LeafIndex(3),
        sequenced_at_ms,
        prev: leaf_hash(last),
        agency_prev: Some(LeafIndex(2)),
        statement: st,
        key_hash,
        signature,
    }
}

/// Issue #14 item 13: an entry stored past the last signed checkpoint whose
/// signature does not verify (a damaged or tampered tail, consistent tiles and
/// all) is refused at startup, before any checkpoint is signed over it.
#[tokio::test]
async fn startup_verifies_the_unpublished_tail() {
    use ledger_core::entry::{Entry, KeyHash};

    let store = Arc::new(MemStore::new());
    let config = NodeConfig {
        checkpoint_interval: Duration::from_millis(5),
        ..NodeConfig::default()
    };
    // City's key hash, a signature by another key.
    ledger_with_a_stored_tail(&store, &config, |city, last| {
        let st = statement(
            "city",
            "forged",
            "decision.permit.granted",
            "G2C",
            json!({}),
            "",
        );
        let time = Entry::decode(last).unwrap().sequenced_at_ms;
        let sig = sign_statement(&key("not city"), &st);
        city_entry_after(last, st, time, KeyHash::of(&city.verifying_key()), sig)
    })
    .await;

    let origin = Origin::new(ORIGIN).unwrap();
    let signer = Ed25519Signer::new(origin.key_name(), key("log"));
    let err = Node::start_with(store, signer, config)
        .err()
        .expect("refuses to start");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("past the last signed checkpoint") && msg.contains("entry 3"),
        "{msg}"
    );
}

/// Issue #14 item 13: when the last entry's time is ahead of this server's
/// clock by more than the limit (the clock jumped ahead once, then was set
/// right), appends are refused with a clear 503 instead of every later entry
/// being pinned to that time; with the limit at 0 (the operator's override)
/// they are sequenced at the last entry's time.
#[tokio::test]
async fn a_clock_behind_the_last_entry_refuses_appends_unless_overridden() {
    use ledger_core::entry::KeyHash;

    let store = Arc::new(MemStore::new());
    let config = NodeConfig {
        checkpoint_interval: Duration::from_millis(5),
        ..NodeConfig::default()
    };
    // Entry 3, validly signed, sequenced a day ahead of the clock.
    let future = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 86_400_000;
    let city = ledger_with_a_stored_tail(&store, &config, |city, last| {
        let st = statement(
            "city",
            "from-the-future",
            "decision.permit.granted",
            "G2C",
            json!({}),
            "",
        );
        let sig = sign_statement(city, &st);
        city_entry_after(last, st, future, KeyHash::of(&city.verifying_key()), sig)
    })
    .await;

    let t = T::with(config.clone(), store.clone(), false);
    let (s, v) = t.decision(&city, "city", "now").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("clock"),
        "{v}"
    );
    assert_eq!(t.node.state.committed.borrow().size, 4, "nothing appended");
    t.stop().await;

    let mut overridden = config;
    overridden.sequencer.clock_skew_limit = None;
    let t = T::with(overridden, store, false);
    let (s, v) = t.decision(&city, "city", "now").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["sequenced_at_ms"], future,
        "pinned to the last entry's time"
    );
    t.stop().await;
}

/// #14 item 9: an older copy of the store put back under the running server
/// (it lost published entries) is not appended to after a failed write: the
/// reload checks the stored tree against the published checkpoint, as startup
/// does, so the log never signs a second root for a published size.
#[tokio::test]
async fn a_reload_refuses_a_store_that_lost_published_entries() {
    let mut t = T::new();
    let city = t.register("city").await;
    assert_eq!(t.decision(&city, "city", "a").await.0, StatusCode::CREATED);
    let (old_size, _, _) = t.checkpoint(3).await;
    let older_copy = t.store.snapshot();
    for i in 0..3 {
        let (s, v) = t.decision(&city, "city", &format!("b{i}")).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (size, root, note) = t.checkpoint(old_size.0 + 3).await;

    // A failed write, then the older copy is back and writes work again.
    t.store.fail_writes(true);
    let (s, _) = t.decision(&city, "city", "during").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    t.store.restore(older_copy);
    t.store.fail_writes(false);

    // Without the published checkpoint's check, these would be sequenced at the
    // lost indexes and a checkpoint past `size` signed over them: a fork.
    for i in 0..(size.0 - old_size.0 + 2) {
        let (s, v) = t.decision(&city, "city", &format!("c{i}")).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{v}"
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (s, _, served) = t.get("/checkpoint").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(served, note, "the published checkpoint stays the last one");
    let p = t.node.state.published.borrow().clone();
    assert_eq!((p.size, p.root), (size.0, root));
    t.stop().await;
}

/// #14 item 10: tiles and bundles are served only once the published
/// checkpoint covers them (never cached as immutable before a signature commits
/// to them); JSON reads of acknowledged but unpublished entries say `no-store`.
#[tokio::test]
async fn only_what_the_published_checkpoint_covers_is_served_as_tiles() {
    let mut t = T::new();
    let city = t.register("city").await;
    t.checkpoint(2).await;
    t.store.fail_writes_of(Some((
        ledger_server::store::Cf::Meta,
        b"checkpoint".to_vec(),
    )));
    let (s, v) = t.decision(&city, "city", "unpublished").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["index"], 2);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(t.node.state.published.borrow().size, 2);

    for path in [
        "/tile/0/000.p/3",
        "/tile/entries/000.p/3",
        "/tile/entries/000",
    ] {
        let (s, h, body) = t.get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_ne!(
            h.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("public, max-age=31536000, immutable")
        );
        assert!(
            String::from_utf8_lossy(&body).contains("published checkpoint"),
            "{path}"
        );
    }
    for path in [
        "/tile/0/000.p/2",
        "/tile/0/000.p/1",
        "/tile/entries/000.p/2",
    ] {
        assert_eq!(t.get(path).await.0, StatusCode::OK, "{path}");
    }
    let (s, h, _) = t.get("/v1/entries/2").await;
    assert_eq!(
        (s, h.get("cache-control").unwrap().to_str().unwrap()),
        (StatusCode::OK, "no-store")
    );
    let (s, h, _) = t.get("/v1/entries/1").await;
    assert_eq!((s, h.get("cache-control")), (StatusCode::OK, None));
    let (s, h, _) = t.get("/v1/entries?agency=city").await;
    assert_eq!(
        (s, h.get("cache-control").unwrap().to_str().unwrap()),
        (StatusCode::OK, "no-store")
    );
    let (s, h, _) = t.get("/v1/entries?limit=2").await;
    assert_eq!((s, h.get("cache-control")), (StatusCode::OK, None));

    t.store.fail_writes_of(None);
    t.checkpoint(3).await;
    let (s, h, _) = t.get("/tile/entries/000.p/3").await;
    assert_eq!(
        (s, h["cache-control"].to_str().unwrap()),
        (StatusCode::OK, "public, max-age=5")
    );
    let (s, h, _) = t.get("/v1/entries/2").await;
    assert_eq!((s, h.get("cache-control")), (StatusCode::OK, None));
    t.stop().await;
}

/// #14 item 7: a submission that no active key verifies is refused by the API
/// and never queued for the sequencer's single thread; a resubmission of an
/// appended statement is still answered from the log, and a batch may use a key
/// that an earlier registry statement in it adds.
#[tokio::test]
async fn junk_signatures_never_reach_the_sequencer() {
    let mut t = T::new();
    let city = t.register("city").await;
    let (s, _) = t.decision(&city, "city", "real").await;
    assert_eq!(s, StatusCode::CREATED);
    let sequenced = metric(&t, "ledger_batch_size_sum").await;

    let rogue = key("rogue");
    let mut junk = Vec::new();
    for i in 0..50 {
        let st = statement(
            "city",
            &format!("junk-{i}"),
            "decision.a",
            "G2C",
            json!({}),
            "",
        );
        junk.push(request(&rogue, &st));
    }
    let (s, v) = t.post("/v1/entries/batch", json!({"entries": junk})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for r in v["results"].as_array().unwrap() {
        assert_eq!(code(r), "bad_signature", "{r}");
    }
    let st = statement("nobody", "x", "decision.a", "G2C", json!({}), "");
    let (s, v) = t.post("/v1/entries", request(&rogue, &st)).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "unknown_agency"));
    let st = statement("city", "one-more", "decision.a", "G2C", json!({}), "");
    let (s, v) = t.post("/v1/entries", request(&rogue, &st)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "bad_signature"));
    assert_eq!(
        metric(&t, "ledger_batch_size_sum").await,
        sequenced,
        "refused signatures were queued for the sequencer"
    );

    // The statement of entry 2 again, signed by nobody: answered from the log.
    let st = statement(
        "city",
        "real",
        "decision.permit.granted",
        "G2C",
        json!({"outcome": "granted"}),
        "",
    );
    let (s, v) = t.post("/v1/entries", request(&rogue, &st)).await;
    assert_eq!(
        (s, v["duplicate"].clone()),
        (StatusCode::OK, json!(true)),
        "{v}"
    );

    // A key added by the batch itself signs a later entry of that batch.
    t.n += 1;
    let added = key("city-second");
    let add = statement(
        "registry",
        &format!("reg-{}", t.n),
        "registry.key.add",
        "G2G",
        json!({"agency": "city", "key": b64key(&added)}),
        "",
    );
    let use_it = statement("city", "with-new-key", "decision.a", "G2C", json!({}), "");
    let (s, v) = t
        .post(
            "/v1/entries/batch",
            json!({"entries": [request(&t.authority.clone(), &add), request(&added, &use_it)]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v["results"].as_array().unwrap();
    assert!(r[0]["index"].is_u64() && r[1]["index"].is_u64(), "{v}");
    t.stop().await;
}

/// #14 item 5: entry bundles are gzip-compressed for a client that accepts it
/// (spec/checkpoints-and-tiles.md §6), with `Vary: Accept-Encoding`; hash tiles
/// and clients that do not ask get the bytes as they are.
#[tokio::test]
async fn entry_bundles_are_gzipped_when_accepted() {
    use std::io::Read as _;
    let mut t = T::new();
    let city = t.register("city").await;
    for i in 0..5 {
        assert_eq!(
            t.decision(&city, "city", &format!("g{i}")).await.0,
            StatusCode::CREATED
        );
    }
    t.checkpoint(7).await;
    let (s, h, plain) = t.get("/tile/entries/000.p/7").await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("content-encoding").is_none());
    assert_eq!(h["vary"], "accept-encoding");
    let get = |path: &str, accept: &str| {
        Request::get(path)
            .header("accept-encoding", accept)
            .body(Body::empty())
            .unwrap()
    };
    let (s, h, gz) = t
        .call(get("/tile/entries/000.p/7", "br;q=1, gzip;q=0.5"))
        .await;
    assert_eq!(
        (s, h["content-encoding"].to_str().unwrap()),
        (StatusCode::OK, "gzip")
    );
    assert!(gz.len() < plain.len(), "{} >= {}", gz.len(), plain.len());
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain);
    let (_, h, _) = t.call(get("/tile/entries/000.p/7", "gzip;q=0")).await;
    assert!(h.get("content-encoding").is_none());
    let (_, h, body) = t.call(get("/tile/0/000.p/7", "gzip")).await;
    assert!(h.get("content-encoding").is_none());
    assert_eq!(body.len(), 7 * 32);
    t.stop().await;
}

/// The tlog-tiles encoding of a tile index: groups of three digits, all but
/// the last prefixed with `x` (c2sp.org/tlog-tiles).
fn tile_index_path(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// #14 item 11: tile and bundle paths with any index (up to 2^64 - 1, the
/// long `x…/x…/…` forms the OpenAPI template cannot express), any level and
/// any width are answered 200 or 404, never a 5xx: a property test of the read
/// API, which the schema-driven fuzzing of scripts/api-fuzz cannot reach.
#[test]
fn any_tile_path_is_200_or_404() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = rt.block_on(async {
        let mut t = T::new();
        let city = t.register("city").await;
        assert_eq!(
            t.decision(&city, "city", "one").await.0,
            StatusCode::CREATED
        );
        t.checkpoint(3).await;
        t
    });
    assert_eq!(
        tile_index_path(18_446_744_073_709_551_615),
        "x018/x446/x744/x073/x709/x551/615"
    );
    // Small indexes, any index, and indexes next to where 256·N, 256^L·N or
    // the tile's end overflow 64 bits: 2^(64-8k) - 1, give or take 3.
    let near_overflow =
        (0u32..8, -3i64..=3).prop_map(|(k, d)| (u64::MAX >> (8 * k)).wrapping_add_signed(d));
    let index = prop_oneof![0u64..4, any::<u64>(), near_overflow];
    let kind = prop_oneof![
        Just("entries".to_owned()),
        (0u8..70).prop_map(|l| l.to_string())
    ];
    let width = prop_oneof![Just(None), (0u16..300).prop_map(Some)];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
    runner
        .run(&(kind, index, width), |(kind, index, width)| {
            let mut path = format!("/tile/{kind}/{}", tile_index_path(index));
            if let Some(w) = width {
                path.push_str(&format!(".p/{w}"));
            }
            let (s, _, body) = rt.block_on(t.get(&path));
            prop_assert!(
                s == StatusCode::OK || s == StatusCode::NOT_FOUND,
                "{path}: {s} {}",
                String::from_utf8_lossy(&body)
            );
            Ok(())
        })
        .unwrap();
    rt.block_on(t.stop());
}

/// #14 item 7: one agency cannot fill the sequencer's queue for all: past its
/// share it gets 429 while another agency's submission is still queued.
#[tokio::test]
// The held lock is the stalled disk: only the sequencer's thread waits on it.
#[allow(clippy::await_holding_lock)]
async fn one_agency_cannot_fill_the_queue_for_all() {
    let config = NodeConfig {
        checkpoint_interval: Duration::from_millis(5),
        sequencer: ledger_server::sequencer::SequencerConfig {
            max_queue: 10,
            max_queue_per_agency: 2,
            ..Default::default()
        },
        ..NodeConfig::default()
    };
    let mut t = T::with(config, Arc::new(MemStore::new()), true);
    let city = t.register("city").await;
    let ministry = t.register("ministry").await;
    let guard = t.store.block_writes();
    // Two fill city's share (the first is held by the stalled writer; it
    // counts until it is answered).
    let mut waiting = vec![t.spawn_decision(&city, "city", "c0")];
    t.wait_queue_depth(1).await;
    waiting.push(t.spawn_decision(&city, "city", "c1"));
    t.wait_queue_depth(2).await;
    let st = statement("city", "c-over", "decision.a", "G2C", json!({}), "");
    // Answered at once (a queued one would wait for the stalled writer).
    let (s, h, v) = tokio::time::timeout(
        Duration::from_secs(10),
        t.post_raw("/v1/entries", request(&city, &st).to_string().into_bytes()),
    )
    .await
    .expect("refused at once, not queued");
    assert_eq!(
        (s, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "queue_full"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("agency's share"),
        "{v}"
    );
    assert_eq!(h["retry-after"], "1");
    // Another agency is still served.
    waiting.push(t.spawn_decision(&ministry, "ministry", "m0"));
    t.wait_queue_depth(3).await;
    drop(guard);
    for w in waiting {
        assert_eq!(w.await.unwrap(), StatusCode::CREATED);
    }
    // Shares are given back once answered.
    assert_eq!(
        t.decision(&city, "city", "after").await.0,
        StatusCode::CREATED
    );
    t.stop().await;
}
