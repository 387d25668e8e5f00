//! The checkpointer: signs a checkpoint of the stored tree after commits, at most
//! once per interval (250 ms by default), persists it with a synced write, and
//! only then publishes it (DESIGN.md §3; spec/checkpoints-and-tiles.md §2).
//!
//! A checkpoint is only ever signed for a size the sequencer has committed, and
//! the root at a committed size is fixed by the committed entries, so the log
//! never signs two roots for one size, across crashes too: at startup the stored
//! tree is recomputed and checked against the last persisted checkpoint.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ledger_core::TreeSize;
use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
use ledger_core::hash::Hash;
use ledger_core::note::Ed25519Signer;
use ledger_core::tree::tree_hash;
use tokio::sync::watch;

use crate::cpfile::CheckpointFile;
use crate::ledger::{LedgerDb, META_CHECKPOINT};
use crate::metrics::Metrics;
use crate::sequencer::Committed;
use crate::store::{Batch, Cf};

/// How long to wait before retrying a failed checkpoint write.
const RETRY: Duration = Duration::from_millis(500);

/// The latest published checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    /// Its tree size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// The signed note, as served at `/checkpoint`.
    pub note: Arc<Vec<u8>>,
    /// When it was signed (Unix seconds), if this process signed it.
    pub signed_at: Option<f64>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs until the sequencer stops (its `committed` sender is dropped).
///
/// Each checkpoint is persisted in the store, then in `file` if there is one
/// ([`CheckpointFile`]), and only then published.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    signer: Ed25519Signer,
    file: Option<CheckpointFile>,
    origin: Origin,
    db: LedgerDb,
    mut committed: watch::Receiver<Committed>,
    published: watch::Sender<Published>,
    interval: Duration,
    metrics: Arc<Metrics>,
) {
    let mut last = Instant::now()
        .checked_sub(interval)
        .unwrap_or_else(Instant::now);
    loop {
        let have = published.borrow().size;
        if committed.wait_for(|c| c.size > have).await.is_err() {
            return;
        }
        let since = last.elapsed();
        if since < interval {
            tokio::time::sleep(interval - since).await;
        }
        let c = *committed.borrow();
        let note = sign_checkpoint(
            &Checkpoint::new(origin.clone(), TreeSize(c.size), c.root),
            &signer,
        );
        let (db2, note2, file2) = (db.clone(), note.clone(), file.clone());
        let stored = tokio::task::spawn_blocking(move || {
            // Never persist (and so never publish) a checkpoint of a tree the
            // store does not hold: recompute its root from the stored tiles.
            let size = db2.size().map_err(|e| e.to_string())?;
            let root = if size >= c.size {
                tree_hash(TreeSize(c.size), &db2.hash_reader()).map_err(|e| e.to_string())?
            } else {
                Hash::default()
            };
            if size < c.size || root != c.root {
                return Err(format!(
                    "refusing to sign size {} with root {}: the store holds {size} entries{}",
                    c.size,
                    c.root,
                    if size >= c.size {
                        format!(" and root {root} at that size")
                    } else {
                        String::new()
                    }
                ));
            }
            let mut b = Batch::new();
            b.put(Cf::Meta, META_CHECKPOINT, note2.clone());
            // After a failed write, the store must be reopened before it takes
            // another (`Storage::recover`); the sequencer's state is unaffected,
            // since a failed sequencer write makes it reload anyway.
            db2.store().recover().map_err(|e| e.to_string())?;
            db2.store().write(b).map_err(|e| e.to_string())?;
            match file2 {
                Some(f) => f
                    .write(&note2)
                    .map_err(|e| format!("writing {}: {e}", f.path().display())),
                None => Ok(()),
            }
        })
        .await;
        match stored {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                metrics.checkpoint_failures.inc();
                tracing::error!("cannot persist checkpoint at size {}: {e}", c.size);
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Err(e) => {
                metrics.checkpoint_failures.inc();
                tracing::error!("checkpoint writer failed: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        }
        metrics.checkpoint_failures.set(0);
        last = Instant::now();
        let now = unix_now();
        metrics.checkpoints.inc();
        metrics.checkpoint_size.set(c.size as i64);
        metrics.checkpoint_timestamp.set(now);
        published.send_replace(Published {
            size: c.size,
            root: c.root,
            note: Arc::new(note),
            signed_at: Some(now),
        });
    }
}
