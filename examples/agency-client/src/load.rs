//! `load`: a bounded load generator for a ledger server on this machine.
//!
//! It refuses any server that is not on the loopback interface, so that it cannot
//! be pointed at a production ledger by mistake. It works in three steps:
//!
//! 1. **Set-up.** With `--authority-key`, it makes a fresh agency key and
//!    registers a fresh agency `load-<8 hex>`; with `--key` and `--agency`, it
//!    uses an existing one.
//! 2. **Preparation (not timed).** It builds and signs all N statements (distinct
//!    submission ids, small decision, service and transfer records rotating
//!    through the channels G2C, G2B and G2G) and serializes the request bodies, on
//!    all cores.
//! 3. **The timed part.** C concurrent tasks send the requests, B entries per
//!    request (`POST /v1/entries` for B = 1, `POST /v1/entries/batch` otherwise),
//!    and record each request's append latency: from sending it to the durable
//!    answer. A poller task reads `GET /checkpoint` every few milliseconds and
//!    verifies each new checkpoint with the log's key; a request's time to
//!    checkpoint is when the poller first saw a checkpoint whose size exceeds the
//!    request's highest index, minus when the request was sent. A 429 answer is
//!    retried after its `Retry-After` delay (the retry counts, and the times are
//!    measured from the attempt that succeeded); any other failure is counted by
//!    its error code, and the run goes on.
//!
//! With `--acks FILE`, every entry the server acknowledged (a 2xx answer, spec/api.md
//! §3.1–3.2) is also appended to FILE as soon as its answer arrives, one line
//! `<index> <leaf_hash> <signature>` each (see [`AckLog`]), so that a crash test
//! knows exactly which appends the server promised were durable, even if the load
//! generator is killed with the server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::open_checkpoint;
use ledger_core::hash::Hash;
use ledger_core::statement::{AgencyId, Channel};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{Appended, BatchRequest, BatchResponse, BatchResult, EntryRequest};
use crate::cli::ServerArgs;
use crate::http::{Client, RequestError, parse_server_url};
use crate::keys::{public_key_b64, read_key};
use crate::registry::sign_action;
use crate::statement::{
    JsonObject, Payload, RegistryAction, StatementSpec, now_rfc3339, random_hex,
};
use crate::submit::{LogParams, resolve_log};

/// The most entries one run may send.
pub const MAX_COUNT: u64 = 10_000_000;
/// The most concurrent tasks.
pub const MAX_CONCURRENCY: u64 = 1_024;
/// The most entries per batch request (spec/api.md §3.2).
pub const MAX_BATCH: u64 = 1_000;
/// The largest payload per entry (the server's default payload limit).
pub const MAX_PAYLOAD_BYTES: u64 = 65_536;
/// How often one request is retried after 429 before it counts as failed.
const MAX_RETRIES_PER_REQUEST: u32 = 100;
/// The longest `Retry-After` honoured; longer ones are capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// `load`'s options.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// How many entries to append (at most 10,000,000).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    pub count: u64,
    /// How many requests are in flight at once (at most 1,024).
    #[arg(long, short = 'c', value_name = "C", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CONCURRENCY))]
    pub concurrency: u64,
    /// Entries per request: 1 uses POST /v1/entries, more uses POST
    /// /v1/entries/batch (at most 1,000).
    #[arg(long, short = 'b', value_name = "B", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH))]
    pub batch: u64,
    /// Register a fresh agency `load-<8 hex>` with a fresh key, signed by this
    /// registry authority key, and load it.
    #[arg(long, value_name = "FILE", required_unless_present = "key", conflicts_with_all = ["key", "agency"])]
    pub authority_key: Option<PathBuf>,
    /// Use this existing agency key instead (with --agency).
    #[arg(long, value_name = "FILE", requires = "agency")]
    pub key: Option<PathBuf>,
    /// The existing agency that --key signs for.
    #[arg(long, value_name = "ID", requires = "key")]
    pub agency: Option<String>,
    /// A private payload of this many random bytes with every entry (0: none).
    #[arg(long, value_name = "BYTES", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=MAX_PAYLOAD_BYTES))]
    pub payload_bytes: u64,
    /// How often the poller reads GET /checkpoint, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub poll_ms: u64,
    /// After the last answer, how many seconds to keep polling for a checkpoint
    /// that covers every appended entry.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub checkpoint_wait: u64,
    /// Print the summary as JSON (progress goes to standard error).
    #[arg(long)]
    pub json: bool,
    /// Append a line `<index> <leaf_hash> <signature>` to FILE (created if
    /// missing) for every entry the server acknowledged, written as soon as its
    /// answer arrives: the record a crash test checks the log against.
    #[arg(long, value_name = "FILE")]
    pub acks: Option<PathBuf>,
    /// The server options.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Refuses a server that is not on the loopback interface.
///
/// # Errors
/// If the URL is malformed or its host is not 127.0.0.0/8, ::1 or `localhost`.
pub fn check_loopback(server: &str) -> Result<Url> {
    let url = parse_server_url(server)?;
    // `host_str` is normalized by the URL parser (IPv4 shorthands expanded, IPv6
    // in brackets).
    let host = url.host_str().unwrap_or_default();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!(
            "refusing to load {server}: the load generator only targets a server on this \
             machine (127.0.0.1, ::1 or localhost), so that it cannot flood a real ledger \
             with test entries by mistake"
        );
    }
    Ok(url)
}

/// One prepared request: its body and how many entries it carries.
struct Prepared {
    body: Vec<u8>,
    entries: u32,
    /// With `--acks`: the base64 signature of each entry, in order (else empty).
    signatures: Vec<String>,
}

/// The `--acks` file: a record of every acknowledged append, for crash tests.
///
/// Each entry the server acknowledged with a 2xx answer (new or duplicate,
/// spec/api.md §3.1–3.2) becomes one line
///
/// ```text
/// <index> <leaf_hash> <signature>
/// ```
///
/// with the index in decimal, the leaf hash in lowercase hex (as the server
/// answered it; the leaf hash of the entry envelope, spec/entry.md §2) and the
/// base64 signature that was sent with the statement (the envelope carries it,
/// so the entry at the index can be matched to the statement this run signed).
/// The lines of one answer are written with one unbuffered write as soon as it
/// arrives, so they survive the load generator being killed (not a crash of the
/// machine: the file is not synced). The file is opened for appending, so
/// several runs may share it.
pub struct AckLog {
    file: Mutex<std::fs::File>,
}

impl AckLog {
    /// Opens `path` for appending, creating it if needed.
    ///
    /// # Errors
    /// If the file cannot be opened.
    pub fn open(path: &Path) -> Result<AckLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the acks file {}", path.display()))?;
        Ok(AckLog {
            file: Mutex::new(file),
        })
    }

    /// Records the acknowledged entries of one answer: each with the signature
    /// sent for it. Returns how many could not be recorded: those whose leaf hash
    /// is not a hash, or all of them if the write failed.
    pub fn record(&self, acks: &[(&Appended, &str)]) -> u64 {
        let mut text = String::new();
        let mut unrecorded = 0;
        for (a, signature) in acks {
            match Hash::from_hex(&a.leaf_hash) {
                Ok(h) => {
                    let _ = writeln!(text, "{} {} {signature}", a.index, h.to_hex());
                }
                Err(_) => unrecorded += 1,
            }
        }
        if text.is_empty() {
            return unrecorded;
        }
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        match file.write_all(text.as_bytes()) {
            Ok(()) => unrecorded,
            Err(_) => acks.len() as u64,
        }
    }
}

/// The statement of entry `i` of a run: a small, realistic record. Types and
/// channels rotate; amounts and references vary with `i`.
fn statement_for(
    i: u64,
    run: &str,
    origin: &str,
    agency: &str,
    occurred_at: &str,
) -> StatementSpec {
    let o = |fields: &[(&str, Value)]| -> JsonObject { fields.iter().cloned().collect() };
    let (kind, channel, object) = match i % 6 {
        0 => (
            "service.id_card.issued",
            Channel::G2C,
            o(&[
                ("document", json!("KTP-el")),
                ("office", json!("Dukcapil Kota Bandung")),
                ("outcome", json!("issued")),
                ("processing_days", json!(1 + i % 14)),
            ]),
        ),
        1 => (
            "decision.permit.granted",
            Channel::G2B,
            o(&[
                ("permit", json!("street food stall")),
                ("outcome", json!("granted")),
                ("legal_basis", json!("Perda 12/2024 art. 7")),
                ("fee_idr", json!(150_000)),
            ]),
        ),
        2 => (
            "transfer.budget.allocated",
            Channel::G2G,
            o(&[
                ("from", json!("finance-ministry")),
                ("to", json!("city-health-office")),
                ("budget_line", json!("DAK Kesehatan 2026")),
                ("amount_idr", json!(1_000_000 * (1 + i % 500))),
            ]),
        ),
        3 => (
            "service.licence.issued",
            Channel::G2C,
            o(&[
                ("licence", json!("driving licence class A")),
                ("office", json!("Satpas Bandung")),
                ("outcome", json!("issued")),
                ("fee_idr", json!(120_000)),
            ]),
        ),
        4 => (
            "decision.procurement.awarded",
            Channel::G2B,
            o(&[
                (
                    "tender",
                    json!(format!("road resurfacing, lot {}", 1 + i % 40)),
                ),
                ("method", json!("open tender")),
                ("winner", json!("PT Karya Jalan Nusantara")),
                ("amount_idr", json!(250_000_000 + 1_000 * (i % 100_000))),
            ]),
        ),
        _ => (
            "transfer.grant.disbursed",
            Channel::G2G,
            o(&[
                ("program", json!("Dana Desa")),
                ("recipient", json!("desa-sukamaju")),
                ("tranche", json!(1 + i % 3)),
                ("amount_idr", json!(300_000_000)),
            ]),
        ),
    };
    StatementSpec {
        origin: origin.to_owned(),
        agency: agency.to_owned(),
        submission_id: format!("load/{run}/{i}"),
        kind: kind.to_owned(),
        channel,
        occurred_at: occurred_at.to_owned(),
        subject: Some(format!("LOAD/{run}/{i:08}")),
        object,
        payload_commitment: None,
    }
}

/// What every statement of a run shares.
struct RunTemplate<'a> {
    run: &'a str,
    origin: &'a str,
    agency: &'a str,
    occurred_at: &'a str,
    key: &'a SigningKey,
    payload_bytes: usize,
    /// Keep each entry's signature (for `--acks`).
    keep_signatures: bool,
}

fn entry_request(t: &RunTemplate<'_>, i: u64) -> Result<EntryRequest> {
    let payload = (t.payload_bytes > 0).then(|| {
        let mut data = vec![0u8; t.payload_bytes];
        getrandom::fill(&mut data).expect("the operating system's random source failed");
        Payload::new(data)
    });
    let signed = statement_for(i, t.run, t.origin, t.agency, t.occurred_at)
        .sign(t.key, payload)
        .with_context(|| format!("building statement {i}"))?;
    Ok(signed.to_request())
}

/// Builds and signs requests `first..last` (request numbers, not entries).
fn prepare_range(
    t: &RunTemplate<'_>,
    count: u64,
    batch: u64,
    first: u64,
    last: u64,
) -> Result<Vec<Prepared>> {
    let mut out = Vec::with_capacity(usize::try_from(last - first).unwrap_or(0));
    for r in first..last {
        let start = r * batch;
        let end = (start + batch).min(count);
        let entries = (start..end)
            .map(|i| entry_request(t, i))
            .collect::<Result<Vec<_>>>()?;
        let signatures = if t.keep_signatures {
            entries.iter().map(|e| e.signature.clone()).collect()
        } else {
            Vec::new()
        };
        let body = if batch == 1 {
            serde_json::to_vec(entries.first().context("a request without entries")?)?
        } else {
            serde_json::to_vec(&BatchRequest { entries })?
        };
        out.push(Prepared {
            body,
            entries: u32::try_from(end - start).context("batch too large")?,
            signatures,
        });
    }
    Ok(out)
}

/// Builds and signs every request of the run, on all cores.
fn prepare(t: &RunTemplate<'_>, count: u64, batch: u64) -> Result<Vec<Prepared>> {
    let requests = count.div_ceil(batch);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1)
        .clamp(1, requests);
    let per = requests.div_ceil(threads);
    let parts: Vec<Result<Vec<Prepared>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let first = (k * per).min(requests);
                let last = ((k + 1) * per).min(requests);
                s.spawn(move || prepare_range(t, count, batch, first, last))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a preparation thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(usize::try_from(requests).unwrap_or(0));
    for part in parts {
        all.extend(part?);
    }
    Ok(all)
}

/// What happened to one request.
#[derive(Default)]
struct Outcome {
    /// When the successful attempt was sent, since the start of the timed part.
    sent_at: Duration,
    /// From sending the successful attempt to its answer.
    latency: Option<Duration>,
    /// The lowest index appended by this request.
    min_index: Option<u64>,
    /// The highest index appended by this request.
    max_index: Option<u64>,
    appended: u64,
    duplicates: u64,
    retries: u64,
    /// Error codes, one per failed entry.
    errors: BTreeMap<String, u64>,
    failed: bool,
    /// With `--acks`: acknowledged entries that could not be recorded.
    unrecorded: u64,
}

fn record_success(outcome: &mut Outcome, a: &Appended) {
    outcome.appended += 1;
    if a.duplicate {
        outcome.duplicates += 1;
    }
    outcome.min_index = Some(outcome.min_index.map_or(a.index, |m| m.min(a.index)));
    outcome.max_index = Some(outcome.max_index.map_or(a.index, |m| m.max(a.index)));
}

/// Writes the acknowledged entries of one answer to the `--acks` file: each
/// with the signature at its position in the request.
fn record_acks(acks: &AckLog, req: &Prepared, appended: &[(usize, &Appended)]) -> u64 {
    let mut lines = Vec::with_capacity(appended.len());
    let mut missing = 0;
    for &(position, a) in appended {
        match req.signatures.get(position) {
            Some(signature) => lines.push((a, signature.as_str())),
            None => missing += 1,
        }
    }
    missing + acks.record(&lines)
}

/// Sends one prepared request, retrying after 429. With `acks`, records each
/// acknowledged entry there as soon as the answer is read.
async fn send_one(
    client: &Client,
    path: &str,
    req: &Prepared,
    start: Instant,
    acks: Option<&AckLog>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let fail = |outcome: &mut Outcome, code: String| {
        *outcome.errors.entry(code).or_default() += u64::from(req.entries);
        outcome.failed = true;
    };
    loop {
        let sent = Instant::now();
        outcome.sent_at = sent.duration_since(start);
        match client
            .send(Method::POST, path, Some(req.body.clone()))
            .await
        {
            Ok((_, body)) => {
                let latency = sent.elapsed();
                if req.entries == 1 && path.ends_with("entries") {
                    match client.decode::<Appended>(path, &body) {
                        Ok(a) => {
                            if let Some(acks) = acks {
                                outcome.unrecorded += record_acks(acks, req, &[(0, &a)]);
                            }
                            record_success(&mut outcome, &a);
                        }
                        Err(e) => fail(&mut outcome, e.code()),
                    }
                } else {
                    match client.decode::<BatchResponse>(path, &body) {
                        Ok(b) if b.results.len() == req.entries as usize => {
                            let mut appended = Vec::with_capacity(b.results.len());
                            for (position, r) in b.results.iter().enumerate() {
                                match r {
                                    BatchResult::Appended(a) => appended.push((position, a)),
                                    BatchResult::Rejected(e) => {
                                        *outcome.errors.entry(e.error.code.clone()).or_default() +=
                                            1;
                                    }
                                }
                            }
                            if let Some(acks) = acks {
                                outcome.unrecorded += record_acks(acks, req, &appended);
                            }
                            for (_, a) in appended {
                                record_success(&mut outcome, a);
                            }
                        }
                        Ok(_) => fail(&mut outcome, "bad_answer".into()),
                        Err(e) => fail(&mut outcome, e.code()),
                    }
                }
                outcome.latency = Some(latency);
                return outcome;
            }
            Err(RequestError::Api {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after,
                ..
            }) if outcome.retries < u64::from(MAX_RETRIES_PER_REQUEST) => {
                outcome.retries += 1;
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(MAX_RETRY_AFTER);
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                fail(&mut outcome, e.code());
                return outcome;
            }
        }
    }
}

/// What the checkpoint poller saw.
#[derive(Default)]
struct Polls {
    /// Each increase of the checkpoint size: when it was first seen (since the
    /// start of the timed part) and the new size. Sizes increase strictly.
    timeline: Vec<(Duration, u64)>,
    polls: u64,
    errors: BTreeMap<String, u64>,
}

/// When the poller should stop: once the checkpoint reaches `target` or at
/// `deadline`, whichever is first.
#[derive(Clone, Copy)]
struct StopAt {
    target: u64,
    deadline: Instant,
}

async fn poll_checkpoints(
    client: Client,
    log: Arc<LogParams>,
    start: Instant,
    every: Duration,
    stop: tokio::sync::watch::Receiver<Option<StopAt>>,
) -> Polls {
    let mut polls = Polls::default();
    let mut last_note: Vec<u8> = Vec::new();
    let mut size = 0u64;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let stop_at = *stop.borrow();
        if stop_at.is_some_and(|s| size >= s.target || Instant::now() >= s.deadline) {
            return polls;
        }
        polls.polls += 1;
        let note = match client.checkpoint().await {
            Ok(note) => note,
            Err(e) => {
                *polls.errors.entry(e.code()).or_default() += 1;
                continue;
            }
        };
        let seen = start.elapsed();
        if note == last_note {
            continue;
        }
        let Some((_, verifier)) = log.vkey.as_ref() else {
            return polls;
        };
        match open_checkpoint(&note, &log.origin, verifier.as_ref(), &[]) {
            Ok(signed) => {
                let new = signed.checkpoint.size.0;
                if new > size {
                    size = new;
                    polls.timeline.push((seen, new));
                } else if new < size {
                    *polls.errors.entry("checkpoint_shrank".into()).or_default() += 1;
                }
                last_note = note;
            }
            Err(_) => *polls.errors.entry("bad_checkpoint".into()).or_default() += 1,
        }
    }
}

/// The nearest-rank percentile `p` (0-100] of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    Some(ms(sorted[i]))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The run's results, as `--json` prints them.
#[derive(Serialize, Debug)]
pub struct Summary {
    /// The server.
    pub server: String,
    /// The log's origin.
    pub origin: String,
    /// The agency that signed the entries.
    pub agency: String,
    /// Entries the run was asked to append.
    pub entries: u64,
    /// Entries the server acknowledged (including duplicates).
    pub acknowledged: u64,
    /// Acknowledged entries that were duplicates (should be 0).
    pub duplicates: u64,
    /// Requests sent (not counting retries).
    pub requests: u64,
    /// Entries per request.
    pub batch: u64,
    /// Concurrent tasks.
    pub concurrency: u64,
    /// Payload bytes per entry.
    pub payload_bytes: u64,
    /// Seconds spent building and signing (not timed).
    pub prepare_s: f64,
    /// Seconds from the first request to the last answer.
    pub elapsed_s: f64,
    /// Acknowledged entries per second of `elapsed_s`.
    pub entries_per_s: f64,
    /// Median request append latency, ms.
    pub append_p50_ms: Option<f64>,
    /// 99th percentile request append latency, ms.
    pub append_p99_ms: Option<f64>,
    /// Largest request append latency, ms.
    pub append_max_ms: Option<f64>,
    /// Median time from sending a request to a checkpoint covering it, ms.
    pub checkpoint_p50_ms: Option<f64>,
    /// 99th percentile time to checkpoint, ms.
    pub checkpoint_p99_ms: Option<f64>,
    /// Largest time to checkpoint, ms.
    pub checkpoint_max_ms: Option<f64>,
    /// Acknowledged requests whose entries no polled checkpoint covered in time.
    pub checkpoint_uncovered: u64,
    /// Checkpoint polls.
    pub checkpoint_polls: u64,
    /// Failed polls, by code.
    pub checkpoint_poll_errors: BTreeMap<String, u64>,
    /// Retries after 429.
    pub retries: u64,
    /// Entries not appended because of an error.
    pub errors: u64,
    /// Requests that failed as a whole.
    pub failed_requests: u64,
    /// Failed entries by error code.
    pub error_codes: BTreeMap<String, u64>,
    /// The lowest index appended.
    pub first_index: Option<u64>,
    /// The highest index appended.
    pub last_index: Option<u64>,
    /// With `--acks`: acknowledged entries that could not be written to the
    /// file (should be 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acks_unrecorded: Option<u64>,
}

/// The agency to load and its key, and (with `acks`) whether its registration
/// could not be recorded (0 or 1).
async fn setup_agency(
    args: &LoadArgs,
    client: &Client,
    log: &LogParams,
    acks: Option<&AckLog>,
) -> Result<(String, SigningKey, u64)> {
    if let Some(path) = &args.authority_key {
        let authority = read_key(path)?;
        let key = SigningKey::generate(&mut getrandom::rand_core::UnwrapErr(getrandom::SysRng));
        let suffix = random_hex(4);
        let agency = format!("load-{suffix}");
        let action = RegistryAction::Register {
            agency: agency.clone(),
            name: format!("Load test agency {suffix}"),
            key: key.verifying_key(),
        };
        let signed = sign_action(&action, &authority, log.origin.as_str(), None, None)?;
        let request = signed.to_request();
        let (a, _) = client
            .append(&request, false)
            .await
            .with_context(|| format!("registering the load agency {agency}"))?;
        let unrecorded = acks.map_or(0, |acks| acks.record(&[(&a, request.signature.as_str())]));
        eprintln!(
            "registered agency {agency} (key {}) as entry {}",
            public_key_b64(&key.verifying_key()),
            a.index
        );
        return Ok((agency, key, unrecorded));
    }
    let (Some(path), Some(agency)) = (&args.key, &args.agency) else {
        bail!("give --authority-key, or --key and --agency");
    };
    AgencyId::new(agency).map_err(|e| anyhow::anyhow!("--agency {agency:?}: {e}"))?;
    Ok((agency.clone(), read_key(path)?, 0))
}

/// Runs `load`.
///
/// # Errors
/// If the server is not on the loopback interface or cannot be reached, set-up
/// fails, or any entry was not appended (after the summary is printed).
pub async fn load(args: LoadArgs) -> Result<()> {
    check_loopback(&args.server.server)?;
    let acks = args
        .acks
        .as_deref()
        .map(AckLog::open)
        .transpose()?
        .map(Arc::new);
    let concurrency = usize::try_from(args.concurrency).context("--concurrency")?;
    let client = Client::with_pool(&args.server.server, args.server.timeout(), concurrency + 1)?;
    let log = Arc::new(resolve_log(&client, &args.server, true).await?);
    let (agency, key, mut unrecorded) = setup_agency(&args, &client, &log, acks.as_deref()).await?;

    let requests = args.count.div_ceil(args.batch);
    eprintln!(
        "preparing {} signed statements in {requests} requests of up to {} \
         (about {} MB of request bodies)...",
        args.count,
        args.batch,
        (args.count * (650 + args.payload_bytes * 4 / 3 + 64)).div_ceil(1_000_000)
    );
    let prepare_start = Instant::now();
    let run = random_hex(4);
    let occurred_at = now_rfc3339();
    let template = RunTemplate {
        run: &run,
        origin: log.origin.as_str(),
        agency: &agency,
        occurred_at: &occurred_at,
        key: &key,
        payload_bytes: usize::try_from(args.payload_bytes).context("--payload-bytes")?,
        keep_signatures: args.acks.is_some(),
    };
    let prepared = Arc::new(prepare(&template, args.count, args.batch)?);
    let prepare_s = prepare_start.elapsed().as_secs_f64();
    eprintln!(
        "prepared in {prepare_s:.2} s; sending with {} tasks...",
        concurrency.min(prepared.len())
    );

    let path: &'static str = if args.batch == 1 {
        "v1/entries"
    } else {
        "v1/entries/batch"
    };
    let start = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(None);
    let poller = tokio::spawn(poll_checkpoints(
        client.clone(),
        Arc::clone(&log),
        start,
        Duration::from_millis(args.poll_ms),
        stop_rx,
    ));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(prepared.len()) {
        let (client, prepared, next) = (client.clone(), Arc::clone(&prepared), Arc::clone(&next));
        let acks = acks.clone();
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = prepared.get(i) else { break };
                outcomes.push(send_one(&client, path, req, start, acks.as_deref()).await);
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::with_capacity(prepared.len());
    let mut task_failures = 0u64;
    for w in workers {
        match w.await {
            Ok(o) => outcomes.extend(o),
            Err(_) => task_failures += 1,
        }
    }
    let elapsed = start.elapsed();
    let max_index = outcomes.iter().filter_map(|o| o.max_index).max();
    let _ = stop_tx.send(Some(StopAt {
        target: max_index.map_or(0, |m| m + 1),
        deadline: Instant::now() + Duration::from_secs(args.checkpoint_wait),
    }));
    let polls = poller.await.unwrap_or_default();

    let mut summary = summarize(
        &args,
        &log,
        &agency,
        &outcomes,
        &polls,
        prepare_s,
        elapsed,
        prepared.len() as u64,
    );
    if args.acks.is_some() {
        unrecorded += outcomes.iter().map(|o| o.unrecorded).sum::<u64>();
        summary.acks_unrecorded = Some(unrecorded);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).context("serializing the summary")?
        );
    } else {
        print_summary(&summary);
    }
    if task_failures > 0 {
        bail!("{task_failures} sending tasks failed");
    }
    if let (Some(path), Some(n @ 1..)) = (&args.acks, summary.acks_unrecorded) {
        bail!(
            "{n} acknowledged entries could not be recorded in {}",
            path.display()
        );
    }
    if summary.errors > 0 || summary.acknowledged < summary.entries {
        bail!(
            "{} of {} entries were not appended (error codes: {})",
            summary.entries - summary.acknowledged,
            summary.entries,
            summary
                .error_codes
                .iter()
                .map(|(c, n)| format!("{c} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    args: &LoadArgs,
    log: &LogParams,
    agency: &str,
    outcomes: &[Outcome],
    polls: &Polls,
    prepare_s: f64,
    elapsed: Duration,
    requests: u64,
) -> Summary {
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .filter(|o| !o.failed)
        .filter_map(|o| o.latency)
        .collect();
    latencies.sort_unstable();
    let mut to_checkpoint = Vec::new();
    let mut uncovered = 0;
    for o in outcomes {
        let Some(max) = o.max_index else { continue };
        let first = polls.timeline.partition_point(|&(_, size)| size <= max);
        match polls.timeline.get(first) {
            Some(&(seen, _)) => to_checkpoint.push(seen.saturating_sub(o.sent_at)),
            None => uncovered += 1,
        }
    }
    to_checkpoint.sort_unstable();
    let mut error_codes: BTreeMap<String, u64> = BTreeMap::new();
    for o in outcomes {
        for (code, n) in &o.errors {
            *error_codes.entry(code.clone()).or_default() += n;
        }
    }
    let acknowledged: u64 = outcomes.iter().map(|o| o.appended).sum();
    let elapsed_s = elapsed.as_secs_f64();
    Summary {
        server: args.server.server.clone(),
        origin: log.origin.as_str().to_owned(),
        agency: agency.to_owned(),
        entries: args.count,
        acknowledged,
        duplicates: outcomes.iter().map(|o| o.duplicates).sum(),
        requests,
        batch: args.batch,
        concurrency: args.concurrency,
        payload_bytes: args.payload_bytes,
        prepare_s: (prepare_s * 1e3).round() / 1e3,
        elapsed_s: (elapsed_s * 1e3).round() / 1e3,
        entries_per_s: if elapsed_s > 0.0 {
            (acknowledged as f64 / elapsed_s * 10.0).round() / 10.0
        } else {
            0.0
        },
        append_p50_ms: percentile(&latencies, 50.0),
        append_p99_ms: percentile(&latencies, 99.0),
        append_max_ms: latencies.last().map(|d| ms(*d)),
        checkpoint_p50_ms: percentile(&to_checkpoint, 50.0),
        checkpoint_p99_ms: percentile(&to_checkpoint, 99.0),
        checkpoint_max_ms: to_checkpoint.last().map(|d| ms(*d)),
        checkpoint_uncovered: uncovered,
        checkpoint_polls: polls.polls,
        checkpoint_poll_errors: polls.errors.clone(),
        retries: outcomes.iter().map(|o| o.retries).sum(),
        errors: error_codes.values().sum(),
        failed_requests: outcomes.iter().filter(|o| o.failed).count() as u64,
        error_codes,
        first_index: outcomes.iter().filter_map(|o| o.min_index).min(),
        last_index: outcomes.iter().filter_map(|o| o.max_index).max(),
        acks_unrecorded: None,
    }
}

fn print_summary(s: &Summary) {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3} ms"));
    println!("server:             {} ({})", s.server, s.origin);
    println!("agency:             {}", s.agency);
    println!(
        "entries:            {} acknowledged of {} ({} duplicates)",
        s.acknowledged, s.entries, s.duplicates
    );
    println!(
        "requests:           {} of up to {} entries, {} concurrent, {} payload bytes each",
        s.requests, s.batch, s.concurrency, s.payload_bytes
    );
    println!("prepared in:        {:.3} s (not timed)", s.prepare_s);
    println!("elapsed:            {:.3} s", s.elapsed_s);
    println!("throughput:         {:.1} entries/s", s.entries_per_s);
    println!(
        "append latency:     p50 {}, p99 {}, max {}",
        opt(s.append_p50_ms),
        opt(s.append_p99_ms),
        opt(s.append_max_ms)
    );
    println!(
        "time to checkpoint: p50 {}, p99 {}, max {} ({} requests not covered; {} polls)",
        opt(s.checkpoint_p50_ms),
        opt(s.checkpoint_p99_ms),
        opt(s.checkpoint_max_ms),
        s.checkpoint_uncovered,
        s.checkpoint_polls
    );
    println!("retries (429):      {}", s.retries);
    println!(
        "errors:             {} entries in {} failed requests",
        s.errors, s.failed_requests
    );
    for (code, n) in &s.error_codes {
        println!("  {code}: {n}");
    }
    for (code, n) in &s.checkpoint_poll_errors {
        println!("  checkpoint poll {code}: {n}");
    }
    if let Some(n) = s.acks_unrecorded {
        println!("acks not recorded:  {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(index: u64, leaf_hash: &str) -> Appended {
        Appended {
            index,
            leaf_hash: leaf_hash.to_owned(),
            sequenced_at_ms: 1_795_852_800_000,
            duplicate: false,
            receipt: None,
            checkpoint_size: None,
        }
    }

    #[test]
    fn the_ack_log_appends_one_line_per_acknowledged_entry_across_runs() {
        let path = std::env::temp_dir().join(format!(
            "agency-client-acks-{}-{}",
            std::process::id(),
            random_hex(8)
        ));
        let h1 = "AB".repeat(32);
        let h2 = "cd".repeat(32);
        let log = AckLog::open(&path).unwrap();
        assert_eq!(
            log.record(&[
                (&appended(7, &h1), "c2lnMQ=="),
                (&appended(8, &h2), "c2lnMg==")
            ]),
            0
        );
        drop(log);
        // A second run appends; a leaf hash that is not a hash is not written
        // and is counted.
        let log = AckLog::open(&path).unwrap();
        assert_eq!(
            log.record(&[
                (&appended(9, "not a hash\n0 00 x"), "c2lnMw=="),
                (&appended(10, &h2), "c2lnNA==")
            ]),
            1
        );
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "7 {} c2lnMQ==\n8 {h2} c2lnMg==\n10 {h2} c2lnNA==\n",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn acks_are_matched_to_the_signature_at_their_position_in_the_request() {
        let path = std::env::temp_dir().join(format!(
            "agency-client-acks-{}-{}",
            std::process::id(),
            random_hex(8)
        ));
        let log = AckLog::open(&path).unwrap();
        let req = Prepared {
            body: Vec::new(),
            entries: 3,
            signatures: vec!["czA=".into(), "czE=".into(), "czI=".into()],
        };
        let h = "0f".repeat(32);
        // Entry 1 of the batch was rejected; 0 and 2 were appended.
        let (a0, a2) = (appended(40, &h), appended(41, &h));
        assert_eq!(record_acks(&log, &req, &[(0, &a0), (2, &a2)]), 0);
        // A position past the request's signatures cannot be recorded.
        assert_eq!(record_acks(&log, &req, &[(3, &a2)]), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text, format!("40 {h} czA=\n41 {h} czI=\n"));
    }
}
