//! `witness`: a C2SP tlog-witness that newsrooms, NGOs and audit boards can run
//! (spec/witness.md; c2sp.org/tlog-witness, c2sp.org/tlog-cosignature).
//!
//! - `witness keygen --name NAME --out FILE` writes a cosignature signer key
//!   (mode 0600, never over an existing file) and prints its verifier key.
//! - `witness serve --data DIR --key FILE --listen ADDR --log VKEY...` answers
//!   `POST /add-checkpoint` with the spec's status matrix and serves its latest
//!   cosigned checkpoint of each log at `GET /<hex sha256(origin)>/checkpoint`.
//!
//! State: one file per log, `DIR/logs/<hex sha256(origin)>`, holding the latest
//! cosigned checkpoint (the log's signature and this witness's cosignature),
//! replaced with a synced write and rename ([`statefile::write_atomic`]), so a
//! crash leaves the old or the new checkpoint, never a mix. Every check and
//! update of a log runs under that log's lock, so two requests can never roll
//! its state back.
//! A refusal that shows the log signed something inconsistent with what was
//! cosigned is kept in `DIR/evidence/` (spec/evidence.md).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ledger_core::checkpoint::{Origin, SignedCheckpoint, open_checkpoint};
use ledger_core::evidence::Evidence;
use ledger_core::note::{CosignatureSigner, Ed25519Verifier, KeyName, Note, NoteVerifier};
use ledger_core::witness::{
    AddCheckpointRequest, MAX_REQUEST_BYTES, Refusal, SIZE_CONTENT_TYPE, check_add, encode_size,
};
use sha2::Digest as _;

use crate::statefile;

/// How long one request may take, reading its body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A witness: its key, the logs it trusts, and where it keeps its state.
pub struct Witness {
    signer: CosignatureSigner,
    /// The logs it witnesses, by origin.
    logs: HashMap<String, Log>,
    dir: PathBuf,
}

/// One log a witness witnesses.
#[derive(Default)]
struct Log {
    /// Its trusted verifier keys.
    keys: Vec<Ed25519Verifier>,
    /// Held across its check-and-update (c2sp.org/tlog-witness: atomic);
    /// different logs are updated in parallel.
    update: Mutex<()>,
}

/// The witness's answer to one request.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn text(status: StatusCode, msg: impl Into<String>) -> Answer {
        let mut body = msg.into().into_bytes();
        body.push(b'\n');
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (
            self.status,
            [
                (header::CONTENT_TYPE, self.content_type),
                (header::CACHE_CONTROL, "no-store"),
            ],
            self.body,
        )
            .into_response()
    }
}

fn hex_origin(origin: &str) -> String {
    hex::encode(sha2::Sha256::digest(origin.as_bytes()))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Witness {
    /// A witness with `signer`, trusting `log_vkeys`, keeping state in `dir`.
    ///
    /// # Errors
    /// A log key that does not parse or whose name is not a valid origin.
    pub fn new(signer: CosignatureSigner, log_vkeys: &[String], dir: &Path) -> Result<Witness> {
        let mut logs: HashMap<String, Log> = HashMap::new();
        for vkey in log_vkeys {
            let v = Ed25519Verifier::from_vkey(vkey.trim())
                .map_err(|e| anyhow!("log key {vkey:?}: {e}"))?;
            let origin = v.name().as_str().to_owned();
            Origin::new(&origin).map_err(|e| anyhow!("log key {vkey:?}: {e}"))?;
            logs.entry(origin).or_default().keys.push(v);
        }
        if logs.is_empty() {
            bail!("give at least one --log VKEY (or --log-list FILE)");
        }
        for sub in ["logs", "evidence"] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        Ok(Witness {
            signer,
            logs,
            dir: dir.to_path_buf(),
        })
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        self.dir.join("logs").join(hex_origin(origin))
    }

    /// The latest cosigned checkpoint of `origin`, as stored (or `None`).
    fn stored(&self, origin: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.state_path(origin)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `add-checkpoint` (c2sp.org/tlog-witness), on a blocking thread.
    fn add_checkpoint(&self, body: &[u8]) -> Answer {
        let req = match AddCheckpointRequest::parse(body) {
            Ok(r) => r,
            Err(e) => return Answer::text(StatusCode::BAD_REQUEST, e.to_string()),
        };
        // The origin, from the note's first line, before any signature check.
        let note = match Note::parse(&req.checkpoint) {
            Ok(n) => n,
            Err(e) => return Answer::text(StatusCode::BAD_REQUEST, format!("checkpoint: {e}")),
        };
        let origin_line = note.text.split('\n').next().unwrap_or_default().to_owned();
        let Some(log) = self.logs.get(&origin_line) else {
            return Answer::text(
                StatusCode::NOT_FOUND,
                format!("unknown log {origin_line:?}"),
            );
        };
        let origin = match Origin::new(&origin_line) {
            Ok(o) => o,
            Err(e) => return Answer::text(StatusCode::BAD_REQUEST, format!("origin: {e}")),
        };
        let mut opened = None;
        let mut why = String::from("no signature of a trusted log key");
        for key in &log.keys {
            match open_checkpoint(&req.checkpoint, &origin, key, &[]) {
                Ok(cp) => {
                    opened = Some((cp, key));
                    break;
                }
                Err(e) => why = e.to_string(),
            }
        }
        let Some((new, log_key)) = opened else {
            return Answer::text(
                StatusCode::FORBIDDEN,
                format!("checkpoint not signed by the log: {why}"),
            );
        };
        let _held = log.update.lock().unwrap_or_else(|p| p.into_inner());
        self.check_and_cosign(&req, &new, log_key)
    }

    /// Under the update lock: the checks against the stored checkpoint, then the
    /// cosignature, persisted before it is returned.
    fn check_and_cosign(
        &self,
        req: &AddCheckpointRequest,
        new: &SignedCheckpoint,
        log_key: &Ed25519Verifier,
    ) -> Answer {
        let origin = new.checkpoint.origin.as_str();
        let stored = match self.stored(origin) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("reading the state of {origin}: {e}");
                return Answer::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the witness's state cannot be read",
                );
            }
        };
        let latest: Option<SignedCheckpoint> = match &stored {
            None => None,
            Some(bytes) => match open_checkpoint(bytes, &new.checkpoint.origin, log_key, &[]) {
                Ok(cp) => Some(cp),
                Err(e) => {
                    tracing::error!("the stored checkpoint of {origin} does not open: {e}");
                    return Answer::text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the witness's state is damaged",
                    );
                }
            },
        };
        if let Err(refusal) =
            check_add(latest.as_ref().map(|c| &c.checkpoint), req, &new.checkpoint)
        {
            return self.refuse(refusal, latest.as_ref(), new, log_key);
        }
        let now = unix_now();
        let cosignature = match self.signer.sign(new.note.text().as_bytes(), now) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cosigning: {e}");
                return Answer::text(StatusCode::INTERNAL_SERVER_ERROR, "cannot cosign");
            }
        };
        let record = stored_note(new, log_key, &cosignature);
        if let Err(e) = statefile::write_atomic(&self.state_path(origin), &record) {
            tracing::error!("persisting the state of {origin}: {e}");
            return Answer::text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the witness's state cannot be written",
            );
        }
        Answer {
            status: StatusCode::OK,
            content_type: "text/plain; charset=utf-8",
            body: cosignature.to_line().into_bytes(),
        }
    }

    fn refuse(
        &self,
        refusal: Refusal,
        latest: Option<&SignedCheckpoint>,
        new: &SignedCheckpoint,
        log_key: &Ed25519Verifier,
    ) -> Answer {
        let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
        if let Refusal::StaleOldSize { latest: size, .. } = refusal {
            return Answer {
                status,
                content_type: SIZE_CONTENT_TYPE,
                body: encode_size(size).into_bytes(),
            };
        }
        if refusal.is_inconsistency() {
            let origin = new.checkpoint.origin.as_str();
            tracing::error!(
                "{origin}: the log signed a checkpoint inconsistent with the one cosigned: {refusal}"
            );
            if let Some(earlier) = latest {
                self.keep_evidence(earlier, new, log_key, &refusal);
            }
        }
        Answer::text(status, refusal.to_string())
    }

    /// Writes the refused checkpoint and the cosigned one as evidence
    /// (spec/evidence.md): proven for two roots of one size, kept for a bad proof
    /// (a fork then needs the full consistency path, which a monitor can add).
    fn keep_evidence(
        &self,
        earlier: &SignedCheckpoint,
        later: &SignedCheckpoint,
        log_key: &Ed25519Verifier,
        refusal: &Refusal,
    ) {
        let now = unix_now();
        let e = Evidence::new(
            earlier,
            later,
            log_key,
            now,
            None,
            format!("witness refused: {refusal}"),
        );
        let name = format!(
            "{}-{}-{}.json",
            hex_origin(earlier.checkpoint.origin.as_str()),
            later.checkpoint.size.0,
            now
        );
        let path = self.dir.join("evidence").join(name);
        match statefile::write_atomic(&path, e.to_json().as_bytes()) {
            Ok(()) => tracing::error!("evidence kept in {}", path.display()),
            Err(err) => tracing::error!("writing evidence {}: {err}", path.display()),
        }
    }
}

/// The record of a cosigned checkpoint: its text, the log's signature lines
/// that verified, and this witness's cosignature.
fn stored_note(
    new: &SignedCheckpoint,
    log_key: &Ed25519Verifier,
    cosignature: &ledger_core::note::NoteSignature,
) -> Vec<u8> {
    let mut signatures: Vec<_> = Note::parse(&new.raw)
        .map(|n| n.signatures)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| &s.name == log_key.name() && s.id == log_key.key_id())
        .collect();
    signatures.push(cosignature.clone());
    Note {
        text: new.note.text().to_owned(),
        signatures,
    }
    .to_bytes()
}

/// The routes, under the witness's prefix (both its submission and monitoring
/// prefix).
pub fn app(w: Arc<Witness>) -> Router {
    Router::new()
        .route(
            "/add-checkpoint",
            post(add_checkpoint).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        .route("/{origin_hash}/checkpoint", get(latest))
        .fallback(|| async { Answer::text(StatusCode::NOT_FOUND, "no such resource") })
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => {
                        Answer::text(StatusCode::REQUEST_TIMEOUT, "the request took too long")
                            .into_response()
                    }
                }
            },
        ))
        .with_state(w)
}

async fn add_checkpoint(
    State(w): State<Arc<Witness>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Answer {
    let body = match body {
        Ok(b) => b,
        Err(e) => return Answer::text(e.status(), e.body_text()),
    };
    tokio::task::spawn_blocking(move || w.add_checkpoint(&body))
        .await
        .unwrap_or_else(|_| Answer::text(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

async fn latest(State(w): State<Arc<Witness>>, UrlPath(hash): UrlPath<String>) -> Answer {
    let origin = w.logs.keys().find(|o| hex_origin(o) == hash).cloned();
    let Some(origin) = origin else {
        return Answer::text(StatusCode::NOT_FOUND, "unknown log");
    };
    match w.stored(&origin) {
        Ok(Some(note)) => Answer {
            status: StatusCode::OK,
            content_type: "text/plain; charset=utf-8",
            body: note,
        },
        Ok(None) => Answer::text(StatusCode::NOT_FOUND, "nothing cosigned for this log yet"),
        Err(e) => {
            tracing::error!("reading the state of {origin}: {e}");
            Answer::text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the witness's state cannot be read",
            )
        }
    }
}

/// `witness keygen`: a new cosignature key in `out` (0600, never overwritten).
///
/// # Errors
/// A bad name, or `out` exists or cannot be written.
pub fn keygen(name: &str, out: &Path) -> Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = KeyName::new(name).map_err(|e| anyhow!("--name: {e}"))?;
    let signer = CosignatureSigner::generate(
        name,
        &mut getrandom::rand_core::UnwrapErr(getrandom::SysRng),
    );
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing key is never overwritten)",
                out.display()
            )
        })?;
    f.write_all(format!("{}\n", signer.to_skey()).as_bytes())?;
    f.sync_all()?;
    Ok(signer.verifier().to_vkey())
}

/// Reads a witness key file written by [`keygen`].
///
/// # Errors
/// If it cannot be read or is not a cosignature signer key.
pub fn read_key(path: &Path) -> Result<CosignatureSigner> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    CosignatureSigner::from_skey(text.trim()).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The log keys of a log-list file: one verifier key per line; blank lines and
/// lines starting with `#` are skipped.
///
/// # Errors
/// If it cannot be read.
pub fn read_log_list(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// `witness serve`: runs until interrupted (SIGINT, SIGTERM), or with
/// `stop_at_stdin_eof` until standard input ends.
///
/// # Errors
/// Bad settings, or the address cannot be bound.
pub fn serve(witness: Witness, listen: SocketAddr, stop_at_stdin_eof: bool) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "witness {} ({}) listening on http://{addr}",
            witness.signer.name().as_str(),
            witness.signer.verifier().to_vkey()
        );
        let app = app(Arc::new(witness));
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let term = async {
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(mut s) => {
                            s.recv().await;
                        }
                        Err(_) => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = term => {}
                    () = stdin_eof(stop_at_stdin_eof) => {}
                }
            })
            .await
            .context("serving")
    })
}

/// Completes when standard input reaches its end (or fails), if `enabled`;
/// otherwise never. What is read is discarded.
async fn stdin_eof(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Read as _;
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf), Ok(1..)) {}
        let _ = tx.send(());
    });
    let _ = rx.await;
    tracing::info!("standard input closed: stopping");
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::TreeSize;
    use ledger_core::checkpoint::{Checkpoint, sign_checkpoint};
    use ledger_core::hash::Hash;
    use ledger_core::note::Ed25519Signer;
    use ledger_core::tree::{MemoryTree, tree_hash};
    use ledger_core::witness::proof_lines;

    const ORIGIN: &str = "example.gov/log";

    fn log_signer() -> Ed25519Signer {
        Ed25519Signer::new(
            KeyName::new(ORIGIN).unwrap(),
            ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
        )
    }

    fn witness(dir: &Path) -> Witness {
        let signer = CosignatureSigner::new(
            KeyName::new("audit-board.example").unwrap(),
            ed25519_dalek::SigningKey::from_bytes(&[4; 32]),
        );
        Witness::new(signer, &[log_signer().verifier().to_vkey()], dir).unwrap()
    }

    fn tree(n: u8, salt: u8) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.append(&[salt, i]);
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

    #[test]
    fn cosigns_growth_and_refuses_a_split_view() {
        let dir = tempfile::tempdir().unwrap();
        let w = witness(dir.path());
        let t = tree(30, 0);
        let a = w.add_checkpoint(&body(&t, 0, 10));
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(a.body.starts_with("— audit-board.example ".as_bytes()));
        assert_eq!(w.add_checkpoint(&body(&t, 10, 30)).status, StatusCode::OK);
        // A stale old size: 409 with the latest size.
        let a = w.add_checkpoint(&body(&t, 10, 30));
        assert_eq!(
            (a.status, a.content_type, &a.body[..]),
            (StatusCode::CONFLICT, SIZE_CONTENT_TYPE, &b"30\n"[..])
        );
        // Another history signed by the same log key: refused, kept as evidence.
        let other = tree(30, 1);
        let a = w.add_checkpoint(&body(&other, 30, 30));
        assert_eq!(a.status, StatusCode::CONFLICT);
        assert_ne!(a.content_type, SIZE_CONTENT_TYPE);
        let evidence: Vec<_> = std::fs::read_dir(dir.path().join("evidence"))
            .unwrap()
            .collect();
        assert_eq!(evidence.len(), 1);
        let other40 = tree(40, 1);
        assert_eq!(
            w.add_checkpoint(&body(&other40, 30, 40)).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // Unknown origin, a forged signature, malformed bodies.
        let mut forged = body(&t, 30, 30);
        let n = forged.len();
        forged[n - 10] ^= 1;
        assert_eq!(w.add_checkpoint(&forged).status, StatusCode::FORBIDDEN);
        assert_eq!(w.add_checkpoint(b"old 0\n\nother.example/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 other.example/log AAAAAAAA\n").status, StatusCode::NOT_FOUND);
        assert_eq!(
            w.add_checkpoint(b"old x\n\n").status,
            StatusCode::BAD_REQUEST
        );
        // Old larger than the checkpoint.
        assert_eq!(
            w.add_checkpoint(&body(&t, 30, 20)).status,
            StatusCode::BAD_REQUEST
        );
        // The state survives a restart of the witness.
        let w = witness(dir.path());
        let a = w.add_checkpoint(&body(&t, 0, 30));
        assert_eq!(&a.body[..], b"30\n");
        let _ = Hash::empty_tree();
    }
}
