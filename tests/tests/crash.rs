//! Crash safety under load (issue #6, "Crash safety"; DESIGN.md §3,
//! spec/checkpoints-and-tiles.md §2, spec/api.md §3.1).
//!
//! The real `ledger-server` runs on a fresh ledger while `agency-client load`
//! appends to it (single requests and batches of various sizes); the server is
//! killed with SIGKILL at a random moment and restarted on the same data
//! directory, again and again. Kill moments are spread over three windows:
//! while the load is being prepared or starting, while it is sending (so that
//! batches are in flight and being committed), and just after the last answer
//! (when the checkpointer, which signs at most every 250 ms, is signing and
//! persisting the checkpoint that covers it).
//!
//! A monitor thread reads `GET /checkpoint` every few milliseconds for the whole
//! run and keeps every distinct checkpoint whose signature verifies. After every
//! restart the harness checks that:
//! - every append the server acknowledged (recorded by `load --acks`) is in the
//!   log at its acknowledged index, with the acknowledged leaf hash, recomputed
//!   here from the entry bytes of the entry bundles, and with the signature the
//!   load generator sent;
//! - every checkpoint seen during the run is consistent with the current tree:
//!   its root is the root of the current entries at its size (recomputed here),
//!   and the server's consistency proofs verify with ledger-core (from each
//!   seen checkpoint not proved before and from the last checked tree, so that
//!   proofs chain every seen checkpoint to the current one);
//! - no two seen checkpoints have the same size and different roots;
//! - `ledger-verify replay` passes (after every restart by default).
//!
//! Environment: `CRASH_SEED` (the seed of the kill schedule; printed, so that a
//! failing run can be repeated), `CRASH_KILLS` (default 10), `CRASH_REPLAY_EVERY`
//! (run the replay after every N-th restart, default 1; it always runs after the
//! last). Run with `--nocapture` to see one line per round and the summary.
//!
//! A second test shows that these checks can fail: against a data directory
//! copied from before some acknowledged appends (lost acks, a rollback) and then
//! grown with other entries to the same size (a fork).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Server, binary, copy_dir, field, run_ok};
use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::entry::Entry;
use ledger_core::hash::{Hash, leaf_hash};
use ledger_core::note::Ed25519Verifier;
use ledger_core::proof::ConsistencyProof;
use ledger_core::tile::{EntryBundle, parse_entry_bundle};
use ledger_core::tree::MemoryTree;
use ledger_core::{LeafIndex, TreeSize};
use serde_json::Value;

const ORIGIN: &str = "crash.egov-ledger.example/log";
const AGENCY: &str = "crash-load";
/// Entries per entry bundle (c2sp.org/tlog-tiles).
const BUNDLE: u64 = 256;
/// How long a restarted server may take to publish a checkpoint of its whole
/// stored tree.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(20);
/// How long a killed load generator may take to notice and exit.
const LOAD_EXIT_WAIT: Duration = Duration::from_secs(60);

/// splitmix64: a small seeded generator, so that a kill schedule can be
/// repeated from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

/// When, in a round, the server is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillAt {
    /// A delay after starting the load generator: while it prepares and starts.
    Start(u64),
    /// A delay after its first acknowledged append: while it sends.
    Sending(u64),
    /// A delay after it finished: while the last checkpoint is signed.
    AfterLast(u64),
}

/// One round's load and kill.
#[derive(Clone, Copy, Debug)]
struct Plan {
    count: u64,
    batch: u64,
    concurrency: u64,
    kill: KillAt,
}

/// The kill window of each round, in a cycle of ten, so that even a short run
/// covers every window: one while the load starts, six while it sends, three
/// just after its last answer.
const WINDOWS: [u8; 10] = [1, 1, 2, 1, 0, 1, 2, 1, 1, 2];

impl Plan {
    /// Round `round`'s plan (from 1); everything but the window is drawn.
    fn draw(rng: &mut Rng, round: u64) -> Plan {
        let batch = rng.pick(&[1, 1, 1, 7, 50, 200, 500]);
        let concurrency = rng.pick(&[1, 2, 4, 8]);
        let (count, kill) = match WINDOWS[((round - 1) % 10) as usize] {
            0 => (rng.range(500, 3_000), KillAt::Start(rng.range(0, 400))),
            // Enough entries that the load is still sending at the kill.
            1 if batch >= 50 => (
                rng.range(5_000, 20_000),
                KillAt::Sending(rng.range(0, 1_200)),
            ),
            1 => (
                rng.range(1_000, 6_000),
                KillAt::Sending(rng.range(0, 1_200)),
            ),
            _ => (rng.range(50, 1_200), KillAt::AfterLast(rng.range(0, 300))),
        };
        Plan {
            count,
            batch,
            concurrency,
            kill,
        }
    }
}

/// The monitor's record: every distinct verified checkpoint, by size.
#[derive(Default, Clone)]
struct Seen {
    roots: BTreeMap<u64, Hash>,
    /// Two roots for one size, or a checkpoint that did not verify.
    problems: Vec<String>,
    polls: u64,
    failed_polls: u64,
}

/// A thread that polls `GET /checkpoint` of whichever server is current.
struct Monitor {
    url: Arc<Mutex<String>>,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Monitor {
    fn start(url: &str, origin: Origin, verifier: Ed25519Verifier) -> Monitor {
        let url = Arc::new(Mutex::new(url.to_owned()));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (u, s, st) = (Arc::clone(&url), Arc::clone(&seen), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("an HTTP client");
            let mut last = Vec::new();
            while !st.load(Ordering::Relaxed) {
                let base = u.lock().unwrap_or_else(PoisonError::into_inner).clone();
                let got = http
                    .get(format!("{base}/checkpoint"))
                    .send()
                    .ok()
                    .filter(|r| r.status().is_success())
                    .and_then(|r| r.bytes().ok());
                let mut seen = s.lock().unwrap_or_else(PoisonError::into_inner);
                seen.polls += 1;
                match got {
                    None => seen.failed_polls += 1,
                    Some(note) if note[..] == last[..] => {}
                    Some(note) => {
                        match open_checkpoint(&note, &origin, &verifier, &[]) {
                            Ok(signed) => {
                                let (size, root) =
                                    (signed.checkpoint.size.0, signed.checkpoint.root);
                                match seen.roots.get(&size) {
                                    Some(r) if *r != root => {
                                        let msg = format!(
                                            "two checkpoints of size {size}: roots {} and {}",
                                            r.to_hex(),
                                            root.to_hex()
                                        );
                                        seen.problems.push(msg);
                                    }
                                    Some(_) => {}
                                    None => {
                                        seen.roots.insert(size, root);
                                    }
                                }
                            }
                            Err(e) => {
                                let msg = format!(
                                    "a checkpoint that does not verify ({e}): {:?}",
                                    String::from_utf8_lossy(&note)
                                );
                                seen.problems.push(msg);
                            }
                        }
                        last = note.to_vec();
                    }
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Monitor {
            url,
            seen,
            stop,
            handle: Some(handle),
        }
    }

    fn point_at(&self, url: &str) {
        *self.url.lock().unwrap_or_else(PoisonError::into_inner) = url.to_owned();
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn largest(&self) -> u64 {
        self.seen().roots.keys().next_back().copied().unwrap_or(0)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// An acknowledged append, as `load --acks` recorded it.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Ack {
    leaf: Hash,
    signature: [u8; 64],
}

/// Reads an acks file (`<index> <leaf_hash> <signature>` lines) into `acked`.
/// Returns how many lines it read, and records an index acknowledged twice for
/// different entries as a failure.
fn read_acks(path: &Path, acked: &mut BTreeMap<u64, Ack>, failures: &mut Vec<String>) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut n = 0;
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let parsed = match parts[..] {
            [i, h, s] => i.parse::<u64>().ok().zip(Hash::from_hex(h).ok()).zip(
                STANDARD
                    .decode(s)
                    .ok()
                    .and_then(|b| <[u8; 64]>::try_from(b).ok()),
            ),
            _ => None,
        };
        let Some(((index, leaf), signature)) = parsed else {
            failures.push(format!("{}: malformed acks line {line:?}", path.display()));
            continue;
        };
        n += 1;
        let ack = Ack { leaf, signature };
        match acked.get(&index) {
            Some(old) if *old != ack => failures.push(format!(
                "index {index} was acknowledged twice, for different entries ({} and {})",
                old.leaf.to_hex(),
                ack.leaf.to_hex()
            )),
            Some(_) => {}
            None => {
                acked.insert(index, ack);
            }
        }
    }
    n
}

/// A running `agency-client load`, killed if dropped.
struct Load {
    child: Child,
    log: PathBuf,
}

impl Load {
    fn start(url: &str, plan: &Plan, key: &Path, acks: &Path, log: PathBuf) -> Load {
        let out = std::fs::File::create(&log).expect("load log file");
        let err = out.try_clone().expect("load log file");
        let child = Command::new(binary("agency-client"))
            .args(["load", "--server", url, "--agency", AGENCY, "--key"])
            .arg(key)
            .arg("--acks")
            .arg(acks)
            .args([
                "--count",
                &plan.count.to_string(),
                "--batch",
                &plan.batch.to_string(),
                "--concurrency",
                &plan.concurrency.to_string(),
                "--checkpoint-wait",
                "0",
                "--timeout",
                "20",
                "--json",
            ])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("starting agency-client load");
        Load { child, log }
    }

    /// Waits up to `limit` for it to exit; kills it if it does not.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn output_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The ledger under test and what the run has learnt about it.
struct Run {
    dir: tempfile::TempDir,
    data: PathBuf,
    /// The agency's key file.
    key: PathBuf,
    vkey: String,
    authority_b64: String,
    origin: Origin,
    verifier: Ed25519Verifier,
    http: reqwest::blocking::Client,
    acked: BTreeMap<u64, Ack>,
    /// The checkpoint of the previous check, from which the next check proves
    /// consistency.
    anchor: Option<(u64, Hash)>,
    /// Seen checkpoint sizes whose consistency with a later checked tree the
    /// server has proved (and hence, through the anchors, with every later one).
    proven: BTreeSet<u64>,
    /// How many of the monitor's problems were reported already.
    reported: usize,
    failures: Vec<String>,
}

/// What one check found.
struct Checked {
    size: u64,
    checkpoints: usize,
    proofs: usize,
}

impl Run {
    /// A fresh ledger (development authority) served on loopback, with the
    /// agency [`AGENCY`] registered under a fresh key.
    fn new() -> (Run, Server) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("ledger");
        let data_s = data.to_str().expect("a UTF-8 path");
        let out = run_ok(
            Command::new(binary("ledger-server"))
                .args(["init", "--data", data_s, "--origin", ORIGIN]),
        );
        let vkey = field(&out, "verifier key:");
        let authority_b64 = field(&out, "authority key:");
        let key = dir.path().join("agency.key");
        let out = run_ok(
            Command::new(binary("agency-client"))
                .arg("keygen")
                .arg("--out")
                .arg(&key),
        );
        let agency_pub = field(&out, "public key:");
        let server = Server::start(&["serve", "--data", data_s], dir.path());
        run_ok(
            Command::new(binary("agency-client"))
                .args(["register", "--server", &server.url, "--authority-key"])
                .arg(data.join("authority.key"))
                .args(["--agency", AGENCY, "--name", "Crash test agency"])
                .args(["--agency-pubkey", &agency_pub]),
        );
        let run = Run {
            origin: Origin::new(ORIGIN).expect("the origin"),
            verifier: Ed25519Verifier::from_vkey(&vkey).expect("the verifier key"),
            dir,
            data,
            key,
            vkey,
            authority_b64,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            acked: BTreeMap::new(),
            anchor: None,
            proven: BTreeSet::new(),
            reported: 0,
            failures: Vec::new(),
        };
        (run, server)
    }

    /// Starts `ledger-server serve` on a data directory.
    fn serve(&self, data: &Path) -> Server {
        let data = data.to_str().expect("a UTF-8 path");
        Server::start(&["serve", "--data", data], self.dir.path())
    }

    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let r = self
            .http
            .get(url)
            .send()
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = r.status();
        let body = r.bytes().map_err(|e| format!("GET {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "GET {url}: {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body.to_vec())
    }

    fn json(&self, url: &str) -> Result<Value, String> {
        serde_json::from_slice(&self.get(url)?).map_err(|e| format!("GET {url}: {e}"))
    }

    /// Waits until the server publishes a checkpoint of its whole stored tree,
    /// which a restarted server does on its own, and returns it.
    fn settled_checkpoint(&self, url: &str) -> Result<(u64, Hash), String> {
        let deadline = Instant::now() + CHECKPOINT_WAIT;
        loop {
            let health = self.json(&format!("{url}/healthz"))?;
            let note = self.get(&format!("{url}/checkpoint"))?;
            let cp = open_checkpoint(&note, &self.origin, &self.verifier, &[])
                .map_err(|e| format!("the served checkpoint does not verify: {e}"))?
                .checkpoint;
            if health["size"].as_u64() == Some(cp.size.0) {
                return Ok((cp.size.0, cp.root));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no checkpoint of the stored tree within {CHECKPOINT_WAIT:?}: stored {}, \
                     checkpoint {}",
                    health["size"], cp.size.0
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every check of the issue against the server at `url`; problems go to
    /// `self.failures`, prefixed with `round`.
    fn check(&mut self, url: &str, round: &str, seen: &Seen) -> Option<Checked> {
        let mut fail = Vec::new();
        let out = self.check_inner(url, seen, &mut fail);
        for f in &seen.problems[self.reported.min(seen.problems.len())..] {
            fail.push(format!("monitor: {f}"));
        }
        self.reported = seen.problems.len();
        self.failures
            .extend(fail.into_iter().map(|f| format!("{round}: {f}")));
        out
    }

    fn check_inner(&mut self, url: &str, seen: &Seen, fail: &mut Vec<String>) -> Option<Checked> {
        let (size, root) = match self.settled_checkpoint(url) {
            Ok(cp) => cp,
            Err(e) => {
                fail.push(e);
                return None;
            }
        };
        // Acknowledged appends beyond the tree are lost.
        let lost: Vec<u64> = self.acked.range(size..).map(|(i, _)| *i).collect();
        if !lost.is_empty() {
            fail.push(format!(
                "{} acknowledged entries are beyond the tree of size {size} (lost): {:?}",
                lost.len(),
                &lost[..lost.len().min(20)]
            ));
        }
        // Every entry, from the entry bundles: its leaf hash recomputed from its
        // bytes, the tree rebuilt from them.
        let mut tree = MemoryTree::new();
        for n in 0..size.div_ceil(BUNDLE) {
            let width = (size - n * BUNDLE).min(BUNDLE);
            let bundle = EntryBundle::new(n, width as u16).expect("a bundle in range");
            let data = match self.get(&format!("{url}/{}", bundle.path())) {
                Ok(d) => d,
                Err(e) => {
                    fail.push(e);
                    return None;
                }
            };
            let entries = match parse_entry_bundle(&data) {
                Ok(e) if e.len() as u64 == width => e,
                Ok(e) => {
                    fail.push(format!("bundle {n} has {} entries, not {width}", e.len()));
                    return None;
                }
                Err(e) => {
                    fail.push(format!("bundle {n} does not parse: {e}"));
                    return None;
                }
            };
            for bytes in entries {
                let index = tree.append(bytes).0;
                let Some(ack) = self.acked.get(&index) else {
                    continue;
                };
                let leaf = leaf_hash(bytes);
                if leaf != ack.leaf {
                    fail.push(format!(
                        "entry {index} has leaf hash {}, but {} was acknowledged",
                        leaf.to_hex(),
                        ack.leaf.to_hex()
                    ));
                    continue;
                }
                match Entry::decode(bytes) {
                    Ok(e) if e.index == LeafIndex(index) && e.signature == ack.signature => {}
                    Ok(e) => fail.push(format!(
                        "entry {index} (envelope index {}) does not carry the signature sent",
                        e.index.0
                    )),
                    Err(e) => fail.push(format!("entry {index} does not decode: {e}")),
                }
            }
        }
        if tree.root() != root {
            fail.push(format!(
                "the entries hash to {}, but the checkpoint of size {size} says {}",
                tree.root().to_hex(),
                root.to_hex()
            ));
        }
        // Every checkpoint seen: its root is the current tree's at its size.
        for (&s, r) in &seen.roots {
            if s > size {
                fail.push(format!(
                    "a checkpoint of size {s} was published, but the tree has only {size} \
                     entries (rollback)"
                ));
                continue;
            }
            match tree.root_at(TreeSize(s)) {
                Ok(at) if at == *r => {}
                Ok(at) => fail.push(format!(
                    "the checkpoint of size {s} has root {}, but the current tree's root at \
                     that size is {}",
                    r.to_hex(),
                    at.to_hex()
                )),
                Err(e) => fail.push(format!("root at {s}: {e}")),
            }
        }
        // The server's consistency proofs, verified with ledger-core: from every
        // seen checkpoint not proved before, and from the last checked tree, to
        // the current one. The anchor moves on only once proved, so that proofs
        // chain every seen checkpoint to the current tree.
        let mut proofs = 0;
        let unproven: Vec<(u64, Hash)> = seen
            .roots
            .range(1..=size)
            .filter(|(s, _)| !self.proven.contains(*s))
            .map(|(s, r)| (*s, *r))
            .collect();
        for (s, r) in unproven {
            proofs += 1;
            match self.prove_consistency(url, s, &r, size, &root) {
                Ok(()) => {
                    self.proven.insert(s);
                }
                Err(e) => fail.push(e),
            }
        }
        let anchored = match self.anchor {
            None => true,
            Some((s, _)) if s > size => {
                fail.push(format!(
                    "an earlier check saw a tree of size {s}; now it has {size} (rollback)"
                ));
                false
            }
            Some((s, r)) => {
                proofs += 1;
                self.prove_consistency(url, s, &r, size, &root)
                    .map_err(|e| fail.push(e))
                    .is_ok()
            }
        };
        if anchored {
            self.anchor = Some((size, root));
        }
        Some(Checked {
            size,
            checkpoints: seen.roots.len(),
            proofs,
        })
    }

    fn prove_consistency(
        &self,
        url: &str,
        from: u64,
        old: &Hash,
        to: u64,
        new: &Hash,
    ) -> Result<(), String> {
        let v = self.json(&format!("{url}/v1/proofs/consistency?from={from}&to={to}"))?;
        let path = v["path"]
            .as_array()
            .ok_or("a consistency proof without a path")?
            .iter()
            .map(|h| h.as_str().and_then(|h| Hash::from_hex(h).ok()))
            .collect::<Option<Vec<Hash>>>()
            .ok_or("a consistency proof with a bad hash")?;
        ConsistencyProof {
            old: TreeSize(from),
            new: TreeSize(to),
            path,
        }
        .verify(old, new)
        .map_err(|e| format!("consistency {from} -> {to}: {e}"))
    }

    /// `ledger-verify replay`: the full audit of the served log.
    fn replay(&mut self, url: &str, round: &str, size: u64) {
        let out = Command::new(binary("ledger-verify"))
            .args(["--json", "replay", "--log", url, "--vkey", &self.vkey])
            .args(["--authority-key", &self.authority_b64])
            .output()
            .expect("running ledger-verify");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() || v["size"].as_u64().is_none_or(|s| s < size) {
            self.failures.push(format!(
                "{round}: ledger-verify replay failed ({}): {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
}

/// Median and largest of some durations, in seconds.
fn spread(mut d: Vec<Duration>) -> String {
    if d.is_empty() {
        return "-".into();
    }
    d.sort_unstable();
    format!(
        "min {:.2} s, median {:.2} s, max {:.2} s",
        d[0].as_secs_f64(),
        d[d.len() / 2].as_secs_f64(),
        d[d.len() - 1].as_secs_f64()
    )
}

#[test]
fn acknowledged_appends_and_published_checkpoints_survive_kill_9_under_load() {
    let seed = env_u64("CRASH_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let kills = env_u64("CRASH_KILLS").unwrap_or(10);
    let replay_every = env_u64("CRASH_REPLAY_EVERY").unwrap_or(1).max(1);
    eprintln!(
        "crash: CRASH_SEED={seed} CRASH_KILLS={kills} CRASH_REPLAY_EVERY={replay_every} \
         (set CRASH_SEED to repeat this schedule)"
    );
    let mut rng = Rng(seed);
    let began = Instant::now();

    let (mut run, mut server) = Run::new();
    let monitor = Monitor::start(&server.url, run.origin.clone(), run.verifier.clone());
    let key = run.key.clone();

    let mut recoveries = Vec::new();
    let mut by_window = BTreeMap::<&str, u64>::new();
    let mut pending_at_kill = 0u64;
    let mut unacknowledged_durable = 0u64;
    let mut load_killed = 0u64;
    // The tree before each round: genesis and the registration at first.
    let mut prev_size = run
        .json(&format!("{}/healthz", server.url))
        .ok()
        .and_then(|h| h["size"].as_u64())
        .expect("the size of the new ledger");
    for round in 1..=kills + 1 {
        let last = round == kills + 1;
        let tag = format!("round {round} (seed {seed})");
        let plan = if last {
            // A last round without a kill: the load completes, the server stops
            // cleanly and starts again.
            Plan {
                count: 300,
                batch: 20,
                concurrency: 4,
                kill: KillAt::AfterLast(0),
            }
        } else {
            Plan::draw(&mut rng, round)
        };
        let acks = run.dir.path().join(format!("round-{round}.acks"));
        let mut load = Load::start(
            &server.url,
            &plan,
            &key,
            &acks,
            run.dir.path().join(format!("round-{round}.log")),
        );
        let t0 = Instant::now();
        let mut finished = None;
        match plan.kill {
            KillAt::Start(ms) => std::thread::sleep(Duration::from_millis(ms)),
            KillAt::Sending(ms) => {
                while load.running()
                    && std::fs::metadata(&acks).map_or(0, |m| m.len()) == 0
                    && t0.elapsed() < LOAD_EXIT_WAIT
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
                std::thread::sleep(Duration::from_millis(ms));
            }
            KillAt::AfterLast(ms) => {
                finished = load.wait(LOAD_EXIT_WAIT);
                if finished.is_none_or(|s| !s.success()) {
                    run.failures.push(format!(
                        "{tag}: with the server up, load did not succeed ({finished:?}):\n{}",
                        load.output_tail()
                    ));
                }
                std::thread::sleep(Duration::from_millis(ms));
            }
        }
        let sending = load.running();
        let window = match plan.kill {
            KillAt::Start(_) => "start",
            KillAt::Sending(_) if sending => "sending",
            KillAt::Sending(_) => "sending (load already done)",
            KillAt::AfterLast(_) => "after the last answer",
        };
        let covered_before = monitor.largest();
        let old_url = server.url.clone();
        if last {
            server.stop();
        } else {
            server.kill9();
            *by_window.entry(window).or_default() += 1;
        }
        let status = match finished {
            Some(s) => Some(s),
            None => load.wait(LOAD_EXIT_WAIT),
        };
        if status.is_none() {
            load_killed += 1;
        }
        let before = run.acked.len();
        let lines = read_acks(&acks, &mut run.acked, &mut run.failures);
        let max_acked = run.acked.keys().next_back().copied();
        let pending = !last && max_acked.is_some_and(|m| m >= covered_before);
        pending_at_kill += u64::from(pending);

        let t = Instant::now();
        server = run.serve(&run.data);
        let recovery = t.elapsed();
        recoveries.push(recovery);
        monitor.point_at(&server.url);

        let t = Instant::now();
        let seen = monitor.seen().clone();
        let checked = run.check(&server.url, &tag, &seen);
        let check_time = t.elapsed();
        let size = checked.as_ref().map_or(0, |c| c.size);
        // Entries the killed server made durable but never acknowledged (their
        // answers were lost with it): allowed, and counted.
        let grown = size.saturating_sub(prev_size);
        let unacked = grown.saturating_sub((run.acked.len() - before) as u64);
        unacknowledged_durable += unacked;
        prev_size = size.max(prev_size);
        let t = Instant::now();
        let replayed = last || round % replay_every == 0;
        if replayed {
            run.replay(&server.url, &tag, size);
        }
        eprintln!(
            "crash: round {round}/{}: {} entries in batches of {} x{}; {} {:?} (load exit \
             {:?}); acked {} new ({} lines; total {}){}; restart {:.2} s on {}; tree {size} \
             ({unacked} durable without an ack); {} checkpoints seen, {} proofs; \
             check {:.2} s; replay {}; failures so far {}",
            kills + 1,
            plan.count,
            plan.batch,
            plan.concurrency,
            if last { "stopped cleanly" } else { window },
            plan.kill,
            status.and_then(|s| s.code()),
            run.acked.len() - before,
            lines,
            run.acked.len(),
            if pending {
                ", some not yet in a checkpoint at the kill"
            } else {
                ""
            },
            recovery.as_secs_f64(),
            old_url,
            checked.as_ref().map_or(0, |c| c.checkpoints),
            checked.as_ref().map_or(0, |c| c.proofs),
            check_time.as_secs_f64(),
            if replayed {
                format!("{:.2} s", t.elapsed().as_secs_f64())
            } else {
                "skipped".into()
            },
            run.failures.len()
        );
    }

    let seen = monitor.seen();
    eprintln!(
        "crash: summary: seed {seed}; {kills} kills ({}), then a clean stop; {} entries \
         acknowledged and found; {} distinct checkpoints seen in {} polls ({} failed while \
         the server was down); {pending_at_kill} kills with acknowledged entries not yet in a \
         seen checkpoint; {unacknowledged_durable} entries durable without an ack; {} \
         restarts: {}; {load_killed} load runs had to be killed; {} failures; wall time \
         {:.1} s",
        by_window
            .iter()
            .map(|(w, n)| format!("{n} {w}"))
            .collect::<Vec<_>>()
            .join(", "),
        run.acked.len(),
        seen.roots.len(),
        seen.polls,
        seen.failed_polls,
        recoveries.len(),
        spread(recoveries),
        run.failures.len(),
        began.elapsed().as_secs_f64()
    );
    drop(seen);
    drop(monitor);
    server.stop();
    assert!(
        run.failures.is_empty(),
        "crash safety violated (CRASH_SEED={seed} repeats the schedule); {} failures:\n{}",
        run.failures.len(),
        run.failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        !run.acked.is_empty(),
        "the load generator never got an acknowledgement"
    );
}

/// Polls `done` every 10 ms for up to 30 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a load to completion (the server stays up) and returns its acks file.
fn load_to_completion(run: &Run, url: &str, name: &str, count: u64) -> PathBuf {
    let acks = run.dir.path().join(format!("{name}.acks"));
    let plan = Plan {
        count,
        batch: 20,
        concurrency: 1,
        kill: KillAt::AfterLast(0),
    };
    let log = run.dir.path().join(format!("{name}.log"));
    let mut load = Load::start(url, &plan, &run.key, &acks, log);
    let status = load.wait(LOAD_EXIT_WAIT);
    assert!(
        status.is_some_and(|s| s.success()),
        "load {name}: {status:?}\n{}",
        load.output_tail()
    );
    acks
}

fn assert_reported(failures: &[String], needle: &str) {
    assert!(
        failures.iter().any(|f| f.contains(needle)),
        "no failure mentions {needle:?}:\n{}",
        failures.join("\n")
    );
}

/// The checks are not vacuous. A server restarted on a copy of its data
/// directory from before some acknowledged appends is a log that lost them:
/// the checks report the lost acks and the rolled-back checkpoint. Once other
/// entries grow the copy to the same size, it is a fork: the monitor reports
/// two roots for one size, and the checks report each acknowledged entry that
/// changed, the seen checkpoint that no longer fits, and the failed consistency
/// proof, while `ledger-verify replay`, which sees only the forked log, passes.
#[test]
fn the_checks_catch_lost_acks_a_rollback_and_a_fork() {
    let (mut run, server) = Run::new();
    server.stop();
    let copy = run.dir.path().join("copy");
    copy_dir(&run.data, &copy);

    let a = run.serve(&run.data);
    let base = run.settled_checkpoint(&a.url).expect("a checkpoint").0;
    let monitor = Monitor::start(&a.url, run.origin.clone(), run.verifier.clone());
    let acks = load_to_completion(&run, &a.url, "a", 40);
    let mut failures = Vec::new();
    assert_eq!(read_acks(&acks, &mut run.acked, &mut failures), 40);
    assert!(failures.is_empty(), "{failures:?}");
    let grown = base + 40;
    wait_for("the monitor to see the grown log", || {
        monitor.largest() == grown
    });
    let seen = monitor.seen().clone();
    let checked = run.check(&a.url, "log a", &seen).expect("a checked tree");
    assert_eq!(checked.size, grown);
    assert!(run.failures.is_empty(), "{:#?}", run.failures);
    a.stop();

    // The copy lacks the acknowledged entries.
    let b = run.serve(&copy);
    monitor.point_at(&b.url);
    let seen = monitor.seen().clone();
    run.check(&b.url, "rolled back", &seen);
    assert_reported(
        &run.failures,
        &format!("40 acknowledged entries are beyond the tree of size {base} (lost)"),
    );
    assert_reported(
        &run.failures,
        &format!("a checkpoint of size {grown} was published, but the tree has only {base}"),
    );
    run.failures.clear();

    // Other entries, up to the same size: a fork.
    load_to_completion(&run, &b.url, "b", 40);
    let fork = format!("two checkpoints of size {grown}:");
    wait_for("the monitor to see the fork", || {
        monitor.seen().problems.iter().any(|p| p.contains(&fork))
    });
    let seen = monitor.seen().clone();
    run.check(&b.url, "forked", &seen);
    assert_reported(
        &run.failures,
        &format!("monitor: two checkpoints of size {grown}"),
    );
    for i in base..grown {
        assert_reported(&run.failures, &format!("entry {i} has leaf hash"));
    }
    assert_reported(
        &run.failures,
        &format!("the checkpoint of size {grown} has root"),
    );
    assert_reported(&run.failures, &format!("consistency {grown} -> {grown}"));
    let before = run.failures.len();
    run.replay(&b.url, "forked", grown);
    assert_eq!(run.failures.len(), before, "{:#?}", run.failures);
    drop(monitor);
    b.stop();
}
