//! The request and connection limits of spec/api.md §1.2 and §1.3 over real TCP on
//! 127.0.0.1 (the queue and search limits are in `api.rs`): the
//! server runs in-process (the real accept loop, router and request time limit,
//! on an in-memory store) and the client is a plain blocking socket, so a test can
//! send a request a byte at a time, stop reading, or say nothing at all.
//!
//! No assertion is about speed: a test waits for the server to act within a
//! generous bound (`PATIENCE`) and fails only if it never does.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::Origin;
use ledger_core::entry::sign_statement;
use ledger_core::note::Ed25519Signer;
use ledger_server::api::{app, with_timeout};
use ledger_server::init::{genesis_statement, write_genesis};
use ledger_server::listener::{self, HttpLimits};
use ledger_server::node::{Node, NodeConfig};
use ledger_server::store::MemStore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

const ORIGIN: &str = "limits.egov-ledger.example/log";
/// How long a test waits for the server to do something it must do.
const PATIENCE: Duration = Duration::from_secs(30);

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

/// A ledger with only its genesis entry, served by [`listener::serve`].
struct Server {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<()>>,
    node: Option<Node>,
}

impl Server {
    fn start(http: HttpLimits, request_timeout: Duration) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let origin = Origin::new(ORIGIN).unwrap();
        let signer = Ed25519Signer::new(origin.key_name(), key("log"));
        let authority = key("authority");
        let genesis = genesis_statement(
            &origin,
            &authority.verifying_key(),
            &signer.verifier().to_vkey(),
        );
        let sig = sign_statement(&authority, &genesis);
        let store = Arc::new(MemStore::new());
        write_genesis(
            store.clone(),
            &signer,
            &origin,
            authority.verifying_key(),
            genesis,
            sig,
        )
        .unwrap();
        let (node, tcp) = rt.block_on(async {
            let node = Node::start_with(store, signer, NodeConfig::default()).unwrap();
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (node, tcp)
        });
        let addr = tcp.local_addr().unwrap();
        let router = with_timeout(app(node.state.clone()), request_timeout);
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = rt.spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            listener::serve(tcp, router, &http, shutdown, PATIENCE).await;
        });
        Server {
            rt,
            addr,
            stop: Some(stop),
            serving: Some(serving),
            node: Some(node),
        }
    }

    fn with(http: HttpLimits) -> Server {
        Server::start(http, Duration::from_secs(30))
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.set_write_timeout(Some(PATIENCE)).unwrap();
        s
    }

    /// One request on a new connection.
    fn call(&self, request: &[u8]) -> Response {
        let mut s = self.connect();
        s.write_all(request).unwrap();
        read_response(&mut s).expect("a response")
    }

    /// Asserts that the server still answers a plain read.
    fn assert_serving(&self) {
        let r = self.call(&get("/v1/log"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["origin"], ORIGIN);
    }

    /// Stops the accept loop (as SIGTERM does in `node::serve`) and waits for it.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            self.rt
                .block_on(async { tokio::time::timeout(PATIENCE * 2, serving).await })
                .expect("the accept loop returns after shutdown")
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if let Some(node) = self.node.take() {
            self.rt.block_on(node.shutdown(Duration::from_secs(1)));
        }
    }
}

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        format!("{}{}", self.head, String::from_utf8_lossy(&self.body))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The error code and message of our JSON error format (spec/api.md §1.1).
    fn error(&self) -> (u16, String, String) {
        let v = self.json();
        (
            self.status,
            v["error"]["code"].as_str().unwrap_or_default().to_owned(),
            v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: ledger\r\n\r\n").into_bytes()
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Reads one response with a `Content-Length` (all of ours have one), or
/// `None` if the connection ends first.
fn read_response(s: &mut TcpStream) -> Option<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(length);
    Some(Response { status, head, body })
}

/// What became of a connection while we waited.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The server closed it (end of stream or reset), after sending these bytes.
    Closed(Vec<u8>),
    /// Still open after `PATIENCE`.
    Open,
}

/// Reads until the server closes the connection, for at most `PATIENCE`.
fn wait_for_close(s: &mut TcpStream) -> Outcome {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while start.elapsed() < PATIENCE {
        match s.read(&mut chunk) {
            Ok(0) => return Outcome::Closed(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Outcome::Closed(got),
        }
    }
    Outcome::Open
}

fn short(header_timeout: Duration) -> HttpLimits {
    HttpLimits {
        header_timeout,
        ..HttpLimits::default()
    }
}

#[test]
fn headers_sent_byte_by_byte_get_the_connection_closed() {
    let server = Server::with(short(Duration::from_secs(1)));
    let mut slow = server.connect();
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let request = b"GET /v1/log HTTP/1.1\r\nHost: ledger\r\nX-Slow: ";
    let start = Instant::now();
    let mut sent = 0usize;
    let mut closed = false;
    let mut chunk = [0u8; 1024];
    // One byte every 100 ms: never a complete header, always some progress.
    while start.elapsed() < PATIENCE {
        let byte = request.get(sent).copied().unwrap_or(b'a');
        if slow.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        sent += 1;
        if sent == 5 {
            // While one client dribbles, the others are served.
            server.assert_serving();
        }
        match slow.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => panic!(
                "the server answered a partial request: {}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(
        closed,
        "a slowloris client kept its connection for {sent} bytes"
    );
    server.assert_serving();
}

#[test]
fn an_idle_connection_is_closed_fresh_or_kept_alive() {
    let server = Server::with(short(Duration::from_secs(1)));
    // A connection that never sends a byte.
    let mut silent = server.connect();
    assert_eq!(wait_for_close(&mut silent), Outcome::Closed(Vec::new()));
    // A kept-alive connection after its first response.
    let mut kept = server.connect();
    kept.write_all(&get("/v1/log")).unwrap();
    let r = read_response(&mut kept).unwrap();
    assert_eq!(r.status, 200);
    assert!(!r.head.to_ascii_lowercase().contains("connection: close"));
    assert_eq!(wait_for_close(&mut kept), Outcome::Closed(Vec::new()));
    server.assert_serving();
}

#[test]
fn oversized_headers_get_431() {
    let server = Server::with(HttpLimits {
        max_header_bytes: 16 * 1024,
        ..HttpLimits::default()
    });
    let with_header = |n: usize| {
        format!(
            "GET /v1/log HTTP/1.1\r\nHost: ledger\r\nX-Big: {}\r\n\r\n",
            "a".repeat(n)
        )
        .into_bytes()
    };
    // Below the limit: served.
    assert_eq!(server.call(&with_header(12 * 1024)).status, 200);
    // Above: 431, then the connection is closed.
    let mut s = server.connect();
    s.write_all(&with_header(20 * 1024)).unwrap();
    let r = read_response(&mut s).expect("a 431 answer");
    assert_eq!(r.status, 431, "{}", r.text());
    assert!(matches!(wait_for_close(&mut s), Outcome::Closed(_)));
    server.assert_serving();
}

#[test]
fn a_body_over_the_limit_gets_413_naming_it() {
    let server = Server::with(HttpLimits::default());
    // With a Content-Length over the limit.
    let r = server.call(&post("/v1/entries", &vec![b' '; 300 * 1024]));
    let (status, code, message) = r.error();
    assert_eq!((status, code.as_str()), (413, "too_large"));
    assert!(message.contains("262144"), "{message}");
    // Chunked, so the limit is found while reading.
    let mut chunked =
        b"POST /v1/entries HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..300 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b' '; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, code, message) = server.call(&chunked).error();
    assert_eq!((status, code.as_str()), (413, "too_large"));
    assert!(message.contains("262144"), "{message}");
    server.assert_serving();
}

#[test]
fn a_batch_over_1000_entries_gets_413() {
    let server = Server::with(HttpLimits::default());
    let entry = r#"{"statement":"AAAA","signature":"AAAA"}"#;
    let batch = |n: usize| format!(r#"{{"entries":[{}]}}"#, vec![entry; n].join(","));
    let (status, code, message) = server
        .call(&post("/v1/entries/batch", batch(1001).as_bytes()))
        .error();
    assert_eq!((status, code.as_str()), (413, "too_large"));
    assert!(message.contains("1000"), "{message}");
    // 1000 entries pass the count (and each fails on its own).
    let r = server.call(&post("/v1/entries/batch", batch(1000).as_bytes()));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_statement_over_its_limit_gets_413() {
    let server = Server::with(HttpLimits::default());
    let body = |n: usize| {
        serde_json::json!({
            "statement": STANDARD.encode(vec![b'{'; n]),
            "signature": STANDARD.encode([0u8; 64]),
        })
        .to_string()
    };
    let (status, code, message) = server
        .call(&post("/v1/entries", body(16 * 1024 + 1).as_bytes()))
        .error();
    assert_eq!((status, code.as_str()), (413, "too_large"));
    assert!(message.contains("16384"), "{message}");
    // At the limit it is parsed (and refused as a statement, not for its size).
    let (status, code, _) = server
        .call(&post("/v1/entries", body(16 * 1024).as_bytes()))
        .error();
    assert_eq!((status, code.as_str()), (400, "bad_statement"));
}

#[test]
fn a_payload_over_its_limit_gets_413() {
    let server = Server::with(HttpLimits::default());
    let statement = format!(
        r#"{{"v":1,"origin":"{ORIGIN}","agency":"city","submission_id":"p1","type":"service.permit","channel":"G2C","occurred_at":"2026-11-28T08:00:00Z","object":{{}}}}"#
    );
    let body = serde_json::json!({
        "statement": STANDARD.encode(&statement),
        "signature": STANDARD.encode([0u8; 64]),
        "payload": STANDARD.encode(vec![b'x'; 64 * 1024 + 1]),
        "salt": "00".repeat(32),
    })
    .to_string();
    let (status, code, message) = server.call(&post("/v1/entries", body.as_bytes())).error();
    assert_eq!((status, code.as_str()), (413, "too_large"));
    assert!(message.contains("65536"), "{message}");
}

#[test]
fn a_slow_body_gets_408_in_our_format() {
    let server = Server::start(HttpLimits::default(), Duration::from_secs(1));
    let mut s = server.connect();
    s.write_all(b"POST /v1/entries HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut first = [0u8; 1];
    // One body byte every 100 ms until the server answers.
    let answered = loop {
        assert!(start.elapsed() < PATIENCE, "no answer to a slow body");
        if s.write_all(b" ").is_err() {
            break false;
        }
        match s.peek(&mut first) {
            Ok(n) if n > 0 => break true,
            Ok(_) => break false,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break false,
        }
    };
    assert!(answered, "the connection closed without an answer");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let r = read_response(&mut s).expect("a full answer");
    let (status, code, message) = r.error();
    assert_eq!((status, code.as_str()), (408, "request_timeout"));
    assert!(message.contains("1 s"), "{message}");
    server.assert_serving();
}

#[test]
fn connections_over_the_cap_wait_for_a_free_slot() {
    let server = Server::with(HttpLimits {
        max_connections: 2,
        header_timeout: Duration::from_secs(120),
        ..HttpLimits::default()
    });
    // Two kept-alive connections, each proven served, hold both slots.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(&get("/v1/log")).unwrap();
            assert_eq!(read_response(&mut s).unwrap().status, 200);
            s
        })
        .collect();
    // A third connects (the kernel queues it) but is not served meanwhile.
    let mut third = server.connect();
    third.write_all(&get("/v1/log")).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut byte = [0u8; 1];
    match third.peek(&mut byte) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a connection over the cap was answered or closed: {other:?}"),
    }
    // Both held ones still work.
    for s in &mut held {
        s.write_all(&get("/v1/log")).unwrap();
        assert_eq!(read_response(s).unwrap().status, 200);
    }
    // Closing one frees a slot, and the waiting connection is served.
    drop(held.pop());
    third.set_read_timeout(Some(PATIENCE)).unwrap();
    let r = read_response(&mut third).expect("served once a slot is free");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    let server = Server::with(HttpLimits {
        write_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    });
    let one = server.call(&get("/openapi.json"));
    assert_eq!(one.status, 200);
    let size = one.head.len() + one.body.len();
    // Enough pipelined requests that the answers overflow every socket buffer
    // between us (at least 64 MiB), and then we read nothing for a while.
    let count = (64 * 1024 * 1024) / size + 1;
    let mut s = server.connect();
    let mut requests = Vec::new();
    for _ in 0..count {
        requests.extend_from_slice(&get("/openapi.json"));
    }
    // (If even the requests do not fit, the write fails once the server drops
    // us, which is the outcome checked below.)
    let _ = s.write_all(&requests);
    std::thread::sleep(Duration::from_secs(5));
    // Now read: what was buffered arrives, then the end, far short of it all.
    let mut total = 0usize;
    let mut chunk = [0u8; 65536];
    let start = Instant::now();
    let ended = loop {
        if start.elapsed() > PATIENCE * 4 {
            break false;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break true,
            Ok(n) => total += n,
        }
    };
    assert!(ended, "the connection is still open after {total} bytes");
    assert!(
        total < count * size,
        "every answer ({total} bytes) was delivered"
    );
    server.assert_serving();
}

#[test]
fn shutdown_closes_idle_connections_and_stops_accepting() {
    let mut server = Server::with(short(Duration::from_secs(120)));
    let mut idle = server.connect();
    let mut kept = server.connect();
    kept.write_all(&get("/v1/log")).unwrap();
    assert_eq!(read_response(&mut kept).unwrap().status, 200);
    // Returns although both connections would otherwise stay for 120 s.
    server.stop();
    assert!(matches!(wait_for_close(&mut idle), Outcome::Closed(_)));
    assert!(matches!(wait_for_close(&mut kept), Outcome::Closed(_)));
    assert!(TcpStream::connect(server.addr).is_err());
}
