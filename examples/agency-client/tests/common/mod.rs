//! Test support: a small in-process stand-in for the ledger server, built only
//! from ledger-core, that speaks the parts of spec/api.md the client uses
//! (`GET /v1/log`, `POST /v1/entries`, `POST /v1/entries/batch`, `GET
//! /checkpoint`, `GET /v1/receipts/{index}`, `GET /v1/entries/{index}`, `POST
//! /v1/payloads/read`), with the same status codes and error bodies. It sequences with ledger-core's `Registry`, so everything the
//! client sends is checked by the same rules as on the real server, and it
//! signs real checkpoints and receipts.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ledger_core::LeafIndex;
use ledger_core::access::{AccessAction, TYPE_PAYLOAD_READ};
use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
use ledger_core::entry::sign_statement;
use ledger_core::note::Ed25519Signer;
use ledger_core::proof::prove_inclusion;
use ledger_core::receipt::Receipt;
use ledger_core::registry::{Registry, TrustAnchors};
use ledger_core::statement::Statement;
use ledger_core::tree::MemoryTree;
use serde_json::{Value, json};

pub const ORIGIN: &str = "ledger.test.example/egov";

/// Runs the real `agency-client` binary: (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agency-client"))
        .args(args)
        .env_remove("LEDGER_SERVER")
        .env_remove("LEDGER_ORIGIN")
        .env_remove("LEDGER_VKEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "agency-client-{name}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn file(&self, name: &str, contents: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, contents).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a key file as `keygen` does and returns its path.
pub fn key_file(dir: &TempDir, name: &str, key: &SigningKey) -> String {
    dir.file(
        name,
        format!("{}\n", STANDARD.encode(key.to_bytes())).as_bytes(),
    )
}

pub fn b64_key(key: &SigningKey) -> String {
    STANDARD.encode(key.verifying_key().as_bytes())
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The genesis statement naming `authority` and the log key `vkey`.
pub fn genesis_statement(authority: &SigningKey, vkey: &str) -> String {
    format!(
        r#"{{"v":1,"origin":"{ORIGIN}","agency":"registry","submission_id":"genesis","type":"registry.genesis","channel":"G2G","occurred_at":"2026-11-28T07:59:00Z","object":{{"authority_key":"{}","log_vkey":"{vkey}"}}}}"#,
        b64_key(authority),
    )
}

/// A registry with genesis applied, signed by `authority`, for checking
/// statements without a server; and the genesis entry's envelope.
pub fn registry_after_genesis(authority: &SigningKey, log: &Ed25519Signer) -> (Registry, Vec<u8>) {
    let vkey = log.verifier().to_vkey();
    let anchors = TrustAnchors {
        authority_key: Some(authority.verifying_key()),
        log_vkey: Some(vkey.clone()),
    };
    let mut registry = Registry::new(ORIGIN, anchors);
    let genesis = genesis_statement(authority, &vkey);
    let applied = registry
        .sequence(
            genesis.as_bytes(),
            &sign_statement(authority, genesis.as_bytes()),
            1,
        )
        .unwrap();
    (registry, applied.entry.encode().unwrap())
}

pub fn log_signer() -> Ed25519Signer {
    Ed25519Signer::new(Origin::new(ORIGIN).unwrap().key_name(), key(200))
}

struct Stored {
    statement: Vec<u8>,
    index: u64,
    leaf_hash: String,
    sequenced_at_ms: u64,
}

struct State {
    origin: Origin,
    signer: Ed25519Signer,
    registry: Registry,
    tree: MemoryTree,
    entries: Vec<Vec<u8>>,
    submissions: HashMap<(String, String), Stored>,
    /// The payload and salt of each entry that has one, until erased.
    payloads: HashMap<u64, (Vec<u8>, [u8; 32])>,
    /// Return a payload that does not open its commitment.
    pub tamper_payloads: bool,
    /// Answer this many POSTs with 429 before accepting any.
    pub reject_429: u32,
    /// Every request line seen.
    pub requests: Vec<String>,
}

/// The stand-in server. It runs until the process ends.
pub struct MockServer {
    pub addr: SocketAddr,
    pub authority: SigningKey,
    pub vkey: String,
    state: Arc<Mutex<State>>,
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    retry_after: Option<u32>,
}

fn json_response(status: u16, v: Value) -> Response {
    Response {
        status,
        content_type: "application/json",
        body: serde_json::to_vec(&v).unwrap(),
        retry_after: None,
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    json_response(status, json!({"error": {"code": code, "message": message}}))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl State {
    fn checkpoint(&self) -> Vec<u8> {
        let cp = Checkpoint::new(self.origin.clone(), self.tree.size(), self.tree.root());
        sign_checkpoint(&cp, &self.signer)
    }

    fn receipt(&self, index: u64) -> String {
        let proof = prove_inclusion(LeafIndex(index), self.tree.size(), &self.tree).unwrap();
        let r = Receipt::new(
            self.entries[index as usize].clone(),
            LeafIndex(index),
            proof.path,
            self.checkpoint(),
        );
        String::from_utf8(r.encode()).unwrap()
    }

    /// One entry of §3.1: the success object or (status, code, message).
    fn append(&mut self, v: &Value, wait: bool) -> Result<(u16, Value), (u16, String, String)> {
        let bad = |code: &str, m: &str| (400, code.to_owned(), m.to_owned());
        let obj = v
            .as_object()
            .ok_or_else(|| bad("bad_json", "not an object"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !["statement", "signature", "payload", "salt"].contains(&k.as_str()))
        {
            return Err(bad("bad_json", &format!("unknown field {k}")));
        }
        let field = |name: &str| obj.get(name).and_then(Value::as_str);
        let statement = field("statement")
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| bad("bad_encoding", "statement"))?;
        let signature: [u8; 64] = field("signature")
            .and_then(|s| STANDARD.decode(s).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("bad_encoding", "signature"))?;
        let st = Statement::parse(&statement).map_err(|e| bad("bad_statement", &e.to_string()))?;
        if st.origin != self.origin.as_str() {
            return Err((422, "wrong_origin".into(), "another log".into()));
        }
        let payload = match (field("payload"), field("salt")) {
            (None, None) => None,
            (Some(p), Some(s)) => {
                let p = STANDARD
                    .decode(p)
                    .map_err(|_| bad("bad_encoding", "payload"))?;
                let s: [u8; 32] = hex::decode(s)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad("bad_encoding", "salt"))?;
                Some((p, s))
            }
            _ => return Err(bad("bad_payload", "payload and salt go together")),
        };
        if let Some((p, s)) = &payload {
            match st.payload_commitment {
                Some(c) if c.opens(s, p) => {}
                _ => {
                    return Err(bad(
                        "bad_payload",
                        "the payload does not open the commitment",
                    ));
                }
            }
        }
        let key = (
            st.agency.as_str().to_owned(),
            st.submission_id.as_str().to_owned(),
        );
        if let Some(prev) = self.submissions.get(&key) {
            if prev.statement != statement {
                return Err((409, "conflict".into(), "submission id reused".into()));
            }
            return Ok((
                200,
                json!({"index": prev.index, "leaf_hash": prev.leaf_hash,
                       "sequenced_at_ms": prev.sequenced_at_ms, "duplicate": true}),
            ));
        }
        let applied = self
            .registry
            .sequence(&statement, &signature, now_ms())
            .map_err(|e| {
                let status = match e.code() {
                    "bad_statement" => 400,
                    "bad_signature" => 401,
                    "unknown_agency" | "key_not_active" | "access_denied" => 403,
                    "no_payload" => 404,
                    "payload_erased" => 410,
                    _ => 422,
                };
                (status, e.code().to_owned(), e.to_string())
            })?;
        let bytes = applied.entry.encode().unwrap();
        self.tree.append(&bytes);
        self.entries.push(bytes);
        let index = applied.entry.index.0;
        if let Some(p) = payload {
            self.payloads.insert(index, p);
        }
        if let Some(Ok(AccessAction::Erase(e))) = AccessAction::parse(&applied.statement) {
            self.payloads.remove(&e.entry.0);
        }
        let stored = Stored {
            statement,
            index,
            leaf_hash: applied.leaf_hash.to_hex(),
            sequenced_at_ms: applied.entry.sequenced_at_ms,
        };
        let mut answer = json!({"index": index, "leaf_hash": stored.leaf_hash,
                                "sequenced_at_ms": stored.sequenced_at_ms, "duplicate": false});
        self.submissions.insert(key, stored);
        if wait {
            answer["receipt"] = json!(self.receipt(index));
            answer["checkpoint_size"] = json!(self.tree.size().0);
        }
        Ok((201, answer))
    }

    /// `POST /v1/payloads/read`: sequences the read, then hands out the payload.
    fn read(&mut self, v: &Value, wait: bool) -> Result<(u16, Value), (u16, String, String)> {
        let refuse = |status: u16, code: &str, m: &str| (status, code.to_owned(), m.to_owned());
        if v.get("payload").is_some() || v.get("salt").is_some() {
            return Err(refuse(400, "bad_request", "a read carries no payload"));
        }
        let st = v
            .get("statement")
            .and_then(Value::as_str)
            .and_then(|s| STANDARD.decode(s).ok())
            .and_then(|b| Statement::parse(&b).ok())
            .ok_or_else(|| refuse(400, "bad_statement", "not a statement"))?;
        if st.kind.as_str() != TYPE_PAYLOAD_READ {
            return Err(refuse(400, "bad_request", "not an access.payload.read"));
        }
        let key = (
            st.agency.as_str().to_owned(),
            st.submission_id.as_str().to_owned(),
        );
        if self.submissions.contains_key(&key) {
            return Err(refuse(409, "access_replayed", "submission id already used"));
        }
        let Some(Ok(AccessAction::Read(r))) = AccessAction::parse(&st) else {
            return Err(refuse(422, "registry_rule", "malformed read"));
        };
        let entry = r.entry.0;
        let (_, access) = self.append(v, wait)?;
        // As the server: the access entry is durable before the payload is read.
        let Some((mut payload, salt)) = self.payloads.get(&entry).cloned() else {
            let m = format!(
                "this server holds no payload for entry {entry}; the access was recorded as entry {}",
                access["index"]
            );
            return Err(refuse(404, "payload_not_held", &m));
        };
        if self.tamper_payloads {
            payload.push(b'!');
        }
        let c = ledger_core::statement::PayloadCommitment::compute(&salt, &self.payloads[&entry].0);
        Ok((
            201,
            json!({"access": access, "entry": entry, "payload": STANDARD.encode(&payload),
                   "salt": hex::encode(salt), "commitment": c.to_hex()}),
        ))
    }

    fn handle(&mut self, method: &str, target: &str, body: &[u8]) -> Response {
        self.requests.push(format!("{method} {target}"));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let wait = query == "wait=checkpoint";
        if method == "POST" && self.reject_429 > 0 {
            self.reject_429 -= 1;
            let mut r = error(429, "queue_full", "the queue is full");
            r.retry_after = Some(0);
            return r;
        }
        match (method, path) {
            ("GET", "/v1/log") => json_response(
                200,
                json!({"origin": self.origin.as_str(), "vkey": self.signer.verifier().to_vkey(),
                       "authority_key": STANDARD.encode(self.registry.authority_key().unwrap().as_bytes()),
                       "size": self.tree.size().0, "checkpoint_size": self.tree.size().0}),
            ),
            ("GET", "/checkpoint") => Response {
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: self.checkpoint(),
                retry_after: None,
            },
            ("GET", p) if p.starts_with("/v1/receipts/") => {
                match p["/v1/receipts/".len()..].parse::<u64>() {
                    Ok(i) if (i as usize) < self.entries.len() => Response {
                        status: 200,
                        content_type: "text/plain; charset=utf-8",
                        body: self.receipt(i).into_bytes(),
                        retry_after: None,
                    },
                    _ => error(404, "not_found", "no such entry"),
                }
            }
            ("GET", p) if p.starts_with("/v1/entries/") => {
                match p["/v1/entries/".len()..].parse::<u64>() {
                    Ok(i) if (i as usize) < self.entries.len() => {
                        let bytes = &self.entries[i as usize];
                        json_response(
                            200,
                            json!({"index": i, "entry_b64": STANDARD.encode(bytes),
                                   "statement_b64": STANDARD.encode(
                                       ledger_core::entry::Entry::decode(bytes).unwrap().statement),
                                   "leaf_hash": ledger_core::hash::leaf_hash(bytes).to_hex(),
                                   "has_payload": self.payloads.contains_key(&i)}),
                        )
                    }
                    _ => error(404, "not_found", "no such entry"),
                }
            }
            ("POST", "/v1/payloads/read") => {
                let Ok(v) = serde_json::from_slice::<Value>(body) else {
                    return error(400, "bad_json", "not JSON");
                };
                match self.read(&v, wait) {
                    Ok((status, v)) => json_response(status, v),
                    Err((status, code, message)) => error(status, &code, &message),
                }
            }
            ("POST", "/v1/entries") => {
                let Ok(v) = serde_json::from_slice::<Value>(body) else {
                    return error(400, "bad_json", "not JSON");
                };
                match self.append(&v, wait) {
                    Ok((status, v)) => json_response(status, v),
                    Err((status, code, message)) => error(status, &code, &message),
                }
            }
            ("POST", "/v1/entries/batch") => {
                let Ok(v) = serde_json::from_slice::<Value>(body) else {
                    return error(400, "bad_json", "not JSON");
                };
                let Some(entries) = v.get("entries").and_then(Value::as_array) else {
                    return error(400, "bad_json", "no entries");
                };
                if entries.len() > 1000 {
                    return error(413, "too_large", "at most 1000 entries");
                }
                let results: Vec<Value> = entries
                    .iter()
                    .map(|e| match self.append(e, wait) {
                        Ok((_, v)) => v,
                        Err((_, code, message)) => {
                            json!({"error": {"code": code, "message": message}})
                        }
                    })
                    .collect();
                json_response(200, json!({ "results": results }))
            }
            _ => error(404, "not_found", "no such route"),
        }
    }
}

fn serve_connection(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let r = state.lock().unwrap().handle(&method, &target, &body);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    if let Some(s) = r.retry_after {
        head.push_str(&format!("Retry-After: {s}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(&r.body)?;
    out.flush()
}

impl MockServer {
    /// Starts a server on a free 127.0.0.1 port, with genesis as entry 0.
    pub fn start() -> MockServer {
        let authority = key(100);
        let signer = log_signer();
        let vkey = signer.verifier().to_vkey();
        let (registry, genesis) = registry_after_genesis(&authority, &signer);
        let mut tree = MemoryTree::new();
        tree.append(&genesis);
        let entries = vec![genesis];
        let state = Arc::new(Mutex::new(State {
            origin: Origin::new(ORIGIN).unwrap(),
            signer,
            registry,
            tree,
            entries,
            submissions: HashMap::new(),
            payloads: HashMap::new(),
            tamper_payloads: false,
            reject_429: 0,
            requests: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let s = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, &s);
                });
            }
        });
        MockServer {
            addr,
            authority,
            vkey,
            state,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn size(&self) -> u64 {
        self.state.lock().unwrap().tree.size().0
    }

    pub fn reject_next_posts_with_429(&self, n: u32) {
        self.state.lock().unwrap().reject_429 = n;
    }

    pub fn tamper_payloads(&self, on: bool) {
        self.state.lock().unwrap().tamper_payloads = on;
    }

    /// Forgets entry `index`'s payload, as a server restored without payloads.
    pub fn drop_payload(&self, index: u64) {
        self.state.lock().unwrap().payloads.remove(&index);
    }

    /// Whether the server still holds entry `index`'s payload.
    pub fn holds_payload(&self, index: u64) -> bool {
        self.state.lock().unwrap().payloads.contains_key(&index)
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The statement of entry `index`, from the stored envelope.
    pub fn statement(&self, index: u64) -> Vec<u8> {
        let st = self.state.lock().unwrap();
        ledger_core::entry::Entry::decode(&st.entries[index as usize])
            .unwrap()
            .statement
    }
}

/// The authority key file of `server`, written in `dir`.
pub fn authority_file(dir: &TempDir, server: &MockServer) -> String {
    key_file(dir, "authority.key", &server.authority)
}
