//! Collecting witness cosignatures before a checkpoint is published
//! (spec/witness.md §4; c2sp.org/tlog-witness, the client side).
//!
//! For each checkpoint the checkpointer signs, every witness of the policy is
//! asked in parallel with `add-checkpoint`, from the size it last cosigned (as
//! far as this process knows; 0 at first, learned from a `409` with
//! `text/x.tlog.size`, then retried once). One consistency proof per old size
//! is computed from the stored tiles and reused. A cosignature is kept only if it
//! verifies under the witness's key in the policy. A witness that answers `409`
//! without a size, or `422` at its own size, has cosigned another tree: a fork,
//! logged loudly with the exchange.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::hash::Hash;
use ledger_core::note::{CosignatureVerifier, NoteSignature, NoteVerifier};
use ledger_core::witness::{AddCheckpointRequest, SIZE_CONTENT_TYPE, parse_size, proof_lines};
use tokio::sync::Mutex;

use crate::ledger::LedgerDb;
use crate::metrics::Metrics;

/// The largest answer read from a witness.
const MAX_ANSWER: usize = 64 * 1024;

/// One witness to ask: its cosignature key and its submission URL prefix.
#[derive(Clone, Debug)]
pub struct WitnessEndpoint {
    /// The witness's cosignature verifier key.
    pub verifier: CosignatureVerifier,
    /// Its submission prefix (`add-checkpoint` is appended).
    pub url: String,
}

/// Whether a cosigned checkpoint note meets the witness policy's quorum.
pub type QuorumCheck = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// The witness settings of a node (spec/witness.md §4).
#[derive(Clone)]
pub struct WitnessPolicy {
    /// The witnesses to ask (those of the policy with a URL).
    pub endpoints: Vec<WitnessEndpoint>,
    /// The policy's quorum, over a cosigned note.
    pub quorum: QuorumCheck,
    /// How long one request to a witness may take.
    pub timeout: Duration,
    /// Publish without the quorum (rollout only).
    pub fail_open: bool,
    /// How often a checkpoint that has not grown is cosigned again
    /// (spec/witness.md §4.3).
    pub refresh: Duration,
}

impl std::fmt::Debug for WitnessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessPolicy")
            .field("endpoints", &self.endpoints)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl WitnessPolicy {
    /// The witness settings of a policy file (c2sp.org/tlog-policy;
    /// spec/witness-policy.md) for the log `log`: every witness of the policy
    /// with a URL is asked; the quorum is the policy's, evaluated over the
    /// cosigned note with `log` as the log's key.
    ///
    /// # Errors
    /// A policy that does not parse, or whose quorum needs witnesses it gives
    /// no URL for, so that it could never be met.
    pub fn from_file(
        bytes: &[u8],
        log: &ledger_core::note::Ed25519Verifier,
        timeout: Duration,
        fail_open: bool,
    ) -> Result<WitnessPolicy, String> {
        let policy = ledger_core::policy::Policy::parse(bytes).map_err(|e| e.to_string())?;
        let endpoints: Vec<WitnessEndpoint> = policy
            .witnesses()
            .iter()
            .filter_map(|w| {
                w.url().and_then(|u| u.as_str()).map(|url| WitnessEndpoint {
                    verifier: w.verifier().clone(),
                    url: url.to_owned(),
                })
            })
            .collect();
        if policy.quorum().is_some() && endpoints.is_empty() {
            return Err("the policy requires cosignatures but gives no witness a URL".into());
        }
        let origin =
            ledger_core::checkpoint::Origin::new(log.name().as_str()).map_err(|e| e.to_string())?;
        let log = log.clone();
        let quorum: QuorumCheck = Arc::new(move |note: &[u8]| {
            let e = policy
                .evaluate_with_log(note, &origin, &log)
                .map_err(|e| e.to_string())?;
            if e.quorum().is_met() {
                Ok(())
            } else {
                let names: Vec<String> = e
                    .cosigners()
                    .iter()
                    .map(|c| String::from_utf8_lossy(c.witness.as_bytes()).into_owned())
                    .collect();
                Err(format!(
                    "cosigned by {} of the policy's witnesses ({}), not enough for its quorum",
                    names.len(),
                    names.join(", ")
                ))
            }
        });
        Ok(WitnessPolicy {
            endpoints,
            quorum,
            timeout,
            fail_open,
            refresh: crate::config::DEFAULT_WITNESS_REFRESH,
        })
    }
}

/// What one witness answered for one checkpoint.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A cosignature that verified under the witness's key.
    Cosigned(NoteSignature),
    /// No cosignature: down, slow, refused, or an answer that did not verify.
    Failed(String),
    /// The witness has cosigned another tree of this log.
    Fork(String),
}

impl Answer {
    /// The metrics label.
    fn outcome(&self) -> &'static str {
        match self {
            Answer::Cosigned(_) => "cosigned",
            Answer::Failed(_) => "failed",
            Answer::Fork(_) => "fork",
        }
    }
}

struct Witness {
    endpoint: WitnessEndpoint,
    /// The size this witness last cosigned, as far as this process knows.
    known: Mutex<u64>,
}

/// The witnesses of the policy, and an HTTP client to ask them.
pub struct Witnesses {
    witnesses: Vec<Arc<Witness>>,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
}

/// Consistency proofs of one checkpoint, one per old size, computed once.
struct Proofs {
    db: LedgerDb,
    size: u64,
    cache: Mutex<HashMap<u64, Result<Vec<Hash>, String>>>,
}

impl Proofs {
    async fn from(&self, old: u64) -> Result<Vec<Hash>, String> {
        let mut cache = self.cache.lock().await;
        if let Some(p) = cache.get(&old) {
            return p.clone();
        }
        let (db, size) = (self.db.clone(), self.size);
        let proof = tokio::task::spawn_blocking(move || {
            proof_lines(old, size, &db.hash_reader()).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        cache.insert(old, proof.clone());
        proof
    }
}

impl Witnesses {
    /// Witnesses to ask, each request bounded by `timeout`.
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(
        endpoints: Vec<WitnessEndpoint>,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Result<Witnesses, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("ledger-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Witnesses {
            witnesses: endpoints
                .into_iter()
                .map(|endpoint| {
                    Arc::new(Witness {
                        endpoint,
                        known: Mutex::new(0),
                    })
                })
                .collect(),
            client,
            metrics,
        })
    }

    /// Asks every witness, in parallel, to cosign `note` (the signed checkpoint
    /// of `size`, whose note text is `text`); one answer per witness, in order.
    pub async fn cosign(&self, db: &LedgerDb, note: &[u8], text: &str, size: u64) -> Vec<Answer> {
        let proofs = Arc::new(Proofs {
            db: db.clone(),
            size,
            cache: Mutex::new(HashMap::new()),
        });
        let asks = self.witnesses.iter().map(|w| {
            let (w, proofs, client) = (w.clone(), proofs.clone(), self.client.clone());
            let (note, text) = (note.to_vec(), text.to_owned());
            let metrics = self.metrics.clone();
            async move {
                let started = Instant::now();
                let answer = ask(&client, &w, &proofs, &note, &text, size).await;
                let name = w.endpoint.verifier.name().as_str().to_owned();
                metrics.observe_witness(&name, answer.outcome(), started.elapsed());
                match &answer {
                    Answer::Fork(m) => tracing::error!(
                        "WITNESS {name} REPORTS A FORK of this log at size {size}: {m}"
                    ),
                    Answer::Failed(m) => tracing::warn!("witness {name}: {m}"),
                    Answer::Cosigned(_) => {}
                }
                answer
            }
        });
        futures_join_all(asks).await
    }
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join_all<F: std::future::Future<Output = Answer> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<Answer> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.await
                .unwrap_or_else(|e| Answer::Failed(format!("internal error: {e}"))),
        );
    }
    out
}

/// One witness, one checkpoint: at most two requests (the second after the
/// witness told its size with a 409).
async fn ask(
    client: &reqwest::Client,
    w: &Witness,
    proofs: &Proofs,
    note: &[u8],
    text: &str,
    size: u64,
) -> Answer {
    let mut known = w.known.lock().await;
    let url = format!("{}/add-checkpoint", w.endpoint.url.trim_end_matches('/'));
    for _ in 0..2 {
        let old = *known;
        if old > size {
            return Answer::Fork(format!(
                "it has cosigned size {old}, larger than this checkpoint's {size}"
            ));
        }
        let proof = match proofs.from(old).await {
            Ok(p) => p,
            Err(e) => return Answer::Failed(format!("no consistency proof from {old}: {e}")),
        };
        let body = AddCheckpointRequest {
            old_size: old,
            proof,
            checkpoint: note.to_vec(),
        }
        .encode();
        let resp = match client.post(&url).body(body).send().await {
            Ok(r) => r,
            Err(e) => return Answer::Failed(format!("POST {url}: {e}")),
        };
        let status = resp.status().as_u16();
        let sized = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == SIZE_CONTENT_TYPE);
        let answer = match read_capped(resp).await {
            Ok(b) => b,
            Err(e) => return Answer::Failed(format!("POST {url}: {e}")),
        };
        match status {
            200 => {
                return match cosignature(&w.endpoint.verifier, text, &answer) {
                    Some(sig) => {
                        *known = size;
                        Answer::Cosigned(sig)
                    }
                    None => Answer::Failed(
                        "answered 200 without a cosignature that verifies under its key".into(),
                    ),
                };
            }
            409 if sized => match parse_size(&answer) {
                Ok(s) if s != old => *known = s,
                Ok(_) => return Answer::Failed(format!("409 with our own old size {old}")),
                Err(e) => return Answer::Failed(format!("409 with a bad size body: {e}")),
            },
            409 => {
                return Answer::Fork(format!(
                    "409 without a size at old size {old}: {}",
                    String::from_utf8_lossy(&answer).trim()
                ));
            }
            422 if old == size => {
                return Answer::Fork(format!(
                    "422 at its own size {size}: {}",
                    String::from_utf8_lossy(&answer).trim()
                ));
            }
            _ => {
                return Answer::Failed(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(300)]).trim()
                ));
            }
        }
    }
    Answer::Failed("its size kept changing".into())
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("an answer larger than {MAX_ANSWER} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The first signature line of `answer` by `verifier`'s key that verifies over
/// `text` (c2sp.org/tlog-witness: lines by unknown keys are ignored).
fn cosignature(verifier: &CosignatureVerifier, text: &str, answer: &[u8]) -> Option<NoteSignature> {
    let mut note = text.as_bytes().to_vec();
    note.push(b'\n');
    note.extend_from_slice(answer);
    let parsed = ledger_core::note::Note::parse(&note).ok()?;
    parsed.signatures.into_iter().find(|s| {
        &s.name == verifier.name()
            && s.id == verifier.key_id()
            && verifier.verify(text.as_bytes(), &s.signature)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::TreeSize;
    use ledger_core::note::{CosignatureSigner, KeyName};

    fn signer(name: &str, seed: u8) -> CosignatureSigner {
        CosignatureSigner::new(
            KeyName::new(name).unwrap(),
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
        )
    }

    #[test]
    fn a_cosignature_line_is_read_and_checked() {
        let signer = signer("w1.example", 5);
        let text = "example.gov/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let line = signer
            .sign(text.as_bytes(), 1_800_000_000)
            .unwrap()
            .to_line();
        assert!(cosignature(&signer.verifier(), text, line.as_bytes()).is_some());
        let other = "other\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        assert!(cosignature(&signer.verifier(), other, line.as_bytes()).is_none());
    }

    /// A witness that misbehaves in the way its path names.
    async fn mock(
        axum::extract::Path(mode): axum::extract::Path<String>,
        body: axum::body::Bytes,
    ) -> axum::response::Response {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let req = AddCheckpointRequest::parse(&body).unwrap();
        let text = ledger_core::note::Note::parse(&req.checkpoint)
            .unwrap()
            .text;
        let good = signer("good.example", 1);
        match mode.as_str() {
            "good" => good
                .sign(text.as_bytes(), 1_800_000_000)
                .unwrap()
                .to_line()
                .into_response(),
            "impostor" => signer("good.example", 9)
                .sign(text.as_bytes(), 1_800_000_000)
                .unwrap()
                .to_line()
                .into_response(),
            "error" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
            "busy" => (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response(),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                good.sign(text.as_bytes(), 1)
                    .unwrap()
                    .to_line()
                    .into_response()
            }
            "forked" => (StatusCode::CONFLICT, "another root").into_response(),
            "sized" if req.old_size == 0 => (
                StatusCode::CONFLICT,
                [(axum::http::header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                "3\n",
            )
                .into_response(),
            "sized" => good
                .sign(text.as_bytes(), 1_800_000_000)
                .unwrap()
                .to_line()
                .into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }

    #[tokio::test]
    async fn every_kind_of_witness_answer_gets_its_outcome() {
        let app = axum::Router::new().route("/{mode}/add-checkpoint", axum::routing::post(mock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let good = signer("good.example", 1).verifier();
        let modes = [
            "good", "impostor", "error", "busy", "slow", "forked", "sized", "down",
        ];
        let endpoints = modes
            .iter()
            .map(|m| WitnessEndpoint {
                verifier: good.clone(),
                url: if *m == "down" {
                    "http://127.0.0.1:9".into()
                } else {
                    format!("{base}/{m}")
                },
            })
            .collect();
        let w = Witnesses::new(
            endpoints,
            Duration::from_millis(500),
            Arc::new(Metrics::new()),
        )
        .unwrap();
        let origin = ledger_core::checkpoint::Origin::new("example.gov/log").unwrap();
        let log = ledger_core::note::Ed25519Signer::new(
            origin.key_name(),
            ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
        );
        let root = ledger_core::tree::tree_hash(TreeSize(3), &{
            let mut t = ledger_core::tree::MemoryTree::new();
            for i in 0..3u8 {
                t.append(&[i]);
            }
            t
        })
        .unwrap();
        let cp = ledger_core::checkpoint::Checkpoint::new(origin, TreeSize(3), root);
        let note = ledger_core::checkpoint::sign_checkpoint(&cp, &log);
        let text = cp.to_body();
        let db = LedgerDb::without_keys(Arc::new(crate::store::MemStore::new()));
        let answers = w.cosign(&db, &note, &text, 3).await;
        let kinds: Vec<&str> = answers.iter().map(Answer::outcome).collect();
        assert_eq!(
            kinds,
            [
                "cosigned", "failed", "failed", "failed", "failed", "fork", "cosigned", "failed"
            ],
            "{answers:?}"
        );
        let why = |i: usize| match &answers[i] {
            Answer::Failed(m) | Answer::Fork(m) => m.clone(),
            Answer::Cosigned(_) => String::new(),
        };
        assert!(why(1).contains("verifies"), "{}", why(1));
        assert!(why(2).contains("500"), "{}", why(2));
        assert!(why(3).contains("429"), "{}", why(3));
    }
}
