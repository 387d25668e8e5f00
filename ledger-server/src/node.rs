//! A running ledger: the store, the sequencer thread, the checkpointer task and
//! the HTTP state, assembled from a data directory.
//!
//! Data directory layout:
//!
//! | path | what |
//! |---|---|
//! | `db/` | the RocksDB store |
//! | `log.key` | the log's signing key, `PRIVATE+KEY+<origin>+<id>+<base64>` (mode 0600) |
//! | `authority.key` | only for a development authority made by `init`: its seed, base64 (0600) |
//! | `genesis.json` | the genesis statement, while it waits for the authority's signature |
//! | `checkpoint` | a copy of the latest published checkpoint, outside the store ([`CheckpointFile`]) |

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ledger_core::TreeSize;
use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::hash::Hash;
use ledger_core::note::{Ed25519Signer, NoteVerifier};
use tokio::sync::watch;

use crate::api::{AppState, Limits, LogParams};
use crate::checkpointer::{self, Published};
use crate::cpfile::CheckpointFile;
use crate::ledger::{LedgerDb, META_CHECKPOINT_FILE};
use crate::metrics::Metrics;
use crate::sequencer::{Core, Sequencer, SequencerConfig};
use crate::store::{Batch, Cf, RocksStore, Storage};

/// The store's directory inside a data directory.
pub fn db_dir(data: &Path) -> PathBuf {
    data.join("db")
}

/// The payload key store's directory inside a data directory: kept apart from
/// the ledger store, and backed up apart (spec/durability.md §5).
pub fn keys_dir(data: &Path) -> PathBuf {
    data.join("payload-keys")
}

/// Opens (creating it, owner-only, if needed) the payload key store.
///
/// # Errors
/// If the directory cannot be made or RocksDB cannot open it.
pub fn open_key_store(data: &Path) -> Result<RocksStore> {
    let dir = keys_dir(data);
    if !dir.exists() {
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", dir.display()))?;
    }
    RocksStore::open(&dir).map_err(|e| {
        anyhow!(
            "cannot open the payload key store {}: {e}; refusing to start",
            dir.display()
        )
    })
}

/// The log key's file inside a data directory.
pub fn log_key_path(data: &Path) -> PathBuf {
    data.join("log.key")
}

/// Reads the log's signing key.
///
/// # Errors
/// If the file is missing or not a signer key string.
pub fn read_log_key(data: &Path) -> Result<Ed25519Signer> {
    let path = log_key_path(data);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the log key {}", path.display()))?;
    Ed25519Signer::from_skey(text.trim())
        .map_err(|e| anyhow!("{} is not a log signing key: {e}", path.display()))
}

/// Settings of a running node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Sequencer settings.
    pub sequencer: SequencerConfig,
    /// Request limits.
    pub limits: Limits,
    /// The shortest time between two checkpoints.
    pub checkpoint_interval: Duration,
    /// Witness cosignatures to collect before publishing (spec/witness.md §4).
    pub witnesses: Option<crate::witnessing::WitnessPolicy>,
    /// The store's memory settings.
    pub store: crate::store::StoreOptions,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            sequencer: SequencerConfig::default(),
            limits: Limits::default(),
            checkpoint_interval: Duration::from_millis(250),
            witnesses: None,
            store: crate::store::StoreOptions::default(),
        }
    }
}

/// A running ledger.
pub struct Node {
    /// What the HTTP handlers share.
    pub state: AppState,
    sequencer: Option<std::thread::JoinHandle<()>>,
    checkpointer: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Opens the data directory, checks the stored tree against the last
    /// checkpoint, and starts the sequencer and the checkpointer. Must run inside
    /// a tokio runtime.
    ///
    /// # Errors
    /// If the directory is not initialised, the key does not match, or the store
    /// is unavailable or inconsistent.
    pub fn start(data: &Path, config: NodeConfig) -> Result<Node> {
        let dir = db_dir(data);
        if !dir.exists() {
            bail!(
                "{} is not an initialised ledger (no db/); run `ledger-server init --data {} --origin ...` first",
                data.display(),
                data.display()
            );
        }
        let rocks = RocksStore::open_with(&dir, config.store).map_err(|e| {
            anyhow!(
                "cannot open the store {}: {e}; refusing to start. If the store is damaged, restore the \
                 data directory from a backup (`ledger-server backup`)",
                dir.display()
            )
        })?;
        // Every block's checksum is read by `ledger-server fsck`, not here:
        // startup reads only what it checks (spec/durability.md §3).
        let store: Arc<dyn Storage> = Arc::new(rocks);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {} to its owner", data.display()))?;
        }
        let keys: Arc<dyn Storage> = Arc::new(open_key_store(data)?);
        let signer = read_log_key(data)?;
        Node::start_inner(
            LedgerDb::new(store, keys),
            signer,
            config,
            Some(CheckpointFile::new(data)),
        )
    }

    /// As [`Node::start`], with a given store and log key (tests use a
    /// [`crate::store::MemStore`]; the payload keys go to another one).
    ///
    /// # Errors
    /// As [`Node::start`].
    pub fn start_with(
        store: Arc<dyn Storage>,
        signer: Ed25519Signer,
        config: NodeConfig,
    ) -> Result<Node> {
        let keys: Arc<dyn Storage> = Arc::new(crate::store::MemStore::new());
        Node::start_inner(LedgerDb::new(store, keys), signer, config, None)
    }

    /// With `file`, the stored tree is also checked against the published
    /// checkpoint copy ([`CheckpointFile`]), which the checkpointer keeps up to
    /// date; a missing file is created from the store's checkpoint.
    fn start_inner(
        db: LedgerDb,
        signer: Ed25519Signer,
        config: NodeConfig,
        file: Option<CheckpointFile>,
    ) -> Result<Node> {
        let published_copy = match &file {
            Some(f) => f
                .read()
                .with_context(|| format!("reading {}", f.path().display()))?,
            None => None,
        };
        let finished = db
            .finish_erasures()
            .context("finishing interrupted erasures")?;
        if finished > 0 {
            tracing::info!(
                "finished {finished} erasures interrupted by a stop: their keys are deleted"
            );
        }
        let origin = db.origin()?.ok_or_else(|| {
            anyhow!("the store is not initialised (no genesis); run `ledger-server init`")
        })?;
        let origin = Origin::new(&origin).map_err(|e| anyhow!("stored origin: {e}"))?;
        if signer.name().as_str() != origin.as_str() {
            bail!(
                "the log key is named {:?} but the ledger's origin is {:?}",
                signer.name().as_str(),
                origin.as_str()
            );
        }
        let verifier = signer.verifier();
        let mut core = Core::open(
            db.clone(),
            origin.clone(),
            verifier.clone(),
            published_copy.as_deref(),
        )
        .context("refusing to start")?;
        let committed = core.committed();
        let opened = |note: Vec<u8>| -> Result<Published> {
            let none: [&dyn NoteVerifier; 0] = [];
            let cp = open_checkpoint(&note, &origin, &verifier, &none)
                .map_err(|e| anyhow!("the stored checkpoint: {e}"))?;
            Ok(Published {
                size: cp.checkpoint.size.0,
                root: cp.checkpoint.root,
                note: Arc::new(note),
                signed_at: None,
            })
        };
        // The newer of the store's checkpoint and the published copy (both
        // verified, and reproduced by the stored tree, in `Core::open`): a
        // checkpoint once published is never followed by a smaller one.
        let stored = db.checkpoint()?.or(published_copy.clone());
        let published = match stored {
            Some(note) => {
                let mut p = opened(note)?;
                if let Some(copy) = &published_copy {
                    let c = opened(copy.clone())?;
                    if c.size > p.size {
                        p = c;
                    }
                }
                p
            }
            None => {
                let note = ledger_core::checkpoint::sign_checkpoint(
                    &ledger_core::checkpoint::Checkpoint::new(
                        origin.clone(),
                        TreeSize(0),
                        Hash::empty_tree(),
                    ),
                    &signer,
                );
                Published {
                    size: 0,
                    root: Hash::empty_tree(),
                    note: Arc::new(note),
                    signed_at: None,
                }
            }
        };
        if let Some(f) = &file {
            // The store reproduces the file's checkpoint (checked above); the
            // file now follows the store's newest one, which may be newer if the
            // process stopped between the two writes.
            if published_copy.is_none() {
                // The store records that the file exists once it does: a file
                // deleted later (to make a rolled-back store start) is refused.
                if db.store().get(Cf::Meta, META_CHECKPOINT_FILE)?.is_some() {
                    bail!(
                        "{} is missing, but this ledger has one: it is the last published checkpoint, \
                         which the store must reach (spec/durability.md §3-4). Put it back, or put there \
                         the newest checkpoint of this log that a monitor or mirror has seen; refusing to start",
                        f.path().display()
                    );
                }
                tracing::warn!(
                    "{} is missing (a data directory from before it existed); writing it from the store's checkpoint (size {})",
                    f.path().display(),
                    published.size
                );
            }
            if published_copy.as_deref() != Some(&published.note[..]) {
                f.write(&published.note)
                    .with_context(|| format!("writing {}", f.path().display()))?;
            }
            if db.store().get(Cf::Meta, META_CHECKPOINT_FILE)?.is_none() {
                let mut b = Batch::new();
                b.put(Cf::Meta, META_CHECKPOINT_FILE, b"1".to_vec());
                db.store()
                    .write(b)
                    .context("recording the checkpoint file")?;
            }
        }
        let authority = core.registry().authority_key().copied();
        let authority_key = authority
            .map(|k| STANDARD.encode(k.as_bytes()))
            .unwrap_or_default();
        let params = Arc::new(LogParams {
            origin: origin.as_str().to_owned(),
            vkey: verifier.to_vkey(),
            authority_key,
        });
        let metrics = Arc::new(Metrics::new());
        metrics.tree_size.set(committed.size as i64);
        metrics.checkpoint_size.set(published.size as i64);
        let agencies = Arc::new(RwLock::new(core.agencies()));
        let (committed_tx, committed_rx) = watch::channel(committed);
        let (published_tx, published_rx) = watch::channel(published);
        core.follow_published(published_rx.clone());
        let (handle, thread) = Sequencer::spawn(
            core,
            config.sequencer.clone(),
            committed_tx,
            agencies.clone(),
            metrics.clone(),
        );
        let witnessing = match &config.witnesses {
            None => None,
            Some(p) => {
                metrics.witness_fail_open.set(i64::from(p.fail_open));
                if p.fail_open {
                    tracing::warn!(
                        "witness_fail_open is set: checkpoints are published even without the witness quorum"
                    );
                }
                let witnesses = crate::witnessing::Witnesses::new(
                    p.endpoints.clone(),
                    p.timeout,
                    metrics.clone(),
                )
                .map_err(|e| anyhow!("the witness client: {e}"))?;
                Some(Arc::new(checkpointer::Witnessing {
                    witnesses,
                    quorum: p.quorum.clone(),
                    fail_open: p.fail_open,
                    refresh: p.refresh,
                }))
            }
        };
        let checkpointer = tokio::spawn(checkpointer::run(
            signer,
            file,
            origin,
            db.clone(),
            committed_rx.clone(),
            published_tx,
            config.checkpoint_interval,
            metrics.clone(),
            witnessing,
        ));
        Ok(Node {
            state: AppState {
                db,
                sequencer: handle,
                committed: committed_rx,
                published: published_rx,
                agencies,
                metrics,
                limits: config.limits,
                params,
                authority,
            },
            sequencer: Some(thread),
            checkpointer,
        })
    }

    /// Stops: the sequencer finishes what is queued, and the checkpointer signs
    /// the final tree if it can within `grace`.
    pub async fn shutdown(mut self, grace: Duration) {
        let published = self.state.published.clone();
        let committed = *self.state.committed.borrow();
        let db = self.state.db.clone();
        drop(self.state);
        if let Some(t) = self.sequencer.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        let mut p = published;
        let _ = tokio::time::timeout(grace, p.wait_for(|p| p.size >= committed.size)).await;
        self.checkpointer.abort();
        // Wait until the task is dropped, and with it its handle on the store:
        // the directory's lock is free once this returns.
        let _ = (&mut self.checkpointer).await;
        // The memtables to table files: the next start replays no log.
        for store in [db.store(), db.keys()] {
            if let Err(e) = store.flush() {
                tracing::warn!("could not flush the store at stop: {e}");
            }
        }
    }
}

/// Serves the API on `listener` until Ctrl-C or SIGTERM, with the request time
/// limit `timeout` and the connection limits `http` (spec/api.md §1.2, §1.3), then
/// stops the node. Requests in progress at the signal are finished (for at
/// most `timeout` plus 5 s), and idle connections are closed.
///
/// # Errors
/// Never at present; the signature leaves room for setup that can fail.
pub async fn serve(
    node: Node,
    listener: tokio::net::TcpListener,
    timeout: Duration,
    http: &crate::listener::HttpLimits,
    explorer: Option<&std::path::Path>,
) -> Result<()> {
    let mut app = crate::api::app(node.state.clone());
    if let Some(dir) = explorer {
        app = crate::api::explorer::with_explorer(app, dir);
    }
    let app = crate::api::with_timeout(app, timeout);
    let drain = timeout.saturating_add(Duration::from_secs(5));
    crate::listener::serve(listener, app, http, shutdown_signal(), drain).await;
    tracing::info!("stopping: finishing queued appends and the last checkpoint");
    node.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
