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

/// Checks, from the stored tiles, what signing `next` would claim: that the
/// store holds `next.size` entries with root `next.root`, and that the tree at
/// the last published size `last` still has the published root, so that the new
/// checkpoint extends it (spec/checkpoints-and-tiles.md §2; #14 item 9). A store
/// that lost published entries and took new ones at their indexes fails the
/// second check: signing would publish a fork.
///
/// # Errors
/// The refusal, naming the sizes and roots.
fn provable(db: &LedgerDb, last: (u64, Hash), next: Committed) -> Result<(), String> {
    let size = db.size().map_err(|e| e.to_string())?;
    if size < next.size {
        return Err(format!(
            "refusing to sign size {}: the store holds only {size} entries",
            next.size
        ));
    }
    let root_at = |n: u64| tree_hash(TreeSize(n), &db.hash_reader()).map_err(|e| e.to_string());
    let root = root_at(next.size)?;
    if root != next.root {
        return Err(format!(
            "refusing to sign size {} with root {}: the store has root {root} at that size",
            next.size, next.root
        ));
    }
    let (last_size, last_root) = last;
    if last_size > next.size {
        return Err(format!(
            "refusing to sign size {}: a checkpoint of size {last_size} is already published",
            next.size
        ));
    }
    let stored_last = root_at(last_size)?;
    if stored_last != last_root {
        return Err(format!(
            "refusing to sign size {}: the store's tree at the published size {last_size} has root \
             {stored_last}, not the published {last_root}; it would be a fork",
            next.size
        ));
    }
    Ok(())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Witness cosignatures required before a checkpoint is published
/// (spec/witness.md §4).
pub struct Witnessing {
    /// The witnesses to ask.
    pub witnesses: crate::witnessing::Witnesses,
    /// Whether a cosigned note meets the policy's quorum (and if not, why).
    pub quorum: crate::witnessing::QuorumCheck,
    /// Publish without the quorum (rollout only; counted and logged).
    pub fail_open: bool,
    /// How often a checkpoint that has not grown is cosigned again, so that
    /// its cosignatures stay fresh (spec/witness.md §4.3).
    pub refresh: Duration,
}

/// Asks the witnesses to cosign `note` and returns the note to publish, or
/// `None` if the quorum is not met (and `fail_open` is off).
async fn witnessed(
    w: &Witnessing,
    db: &LedgerDb,
    note: Vec<u8>,
    size: u64,
    metrics: &Metrics,
) -> Option<Vec<u8>> {
    let mut parsed = match ledger_core::note::Note::parse(&note) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("the signed checkpoint does not parse: {e}");
            return None;
        }
    };
    let answers = w.witnesses.cosign(db, &note, &parsed.text, size).await;
    for a in answers {
        if let crate::witnessing::Answer::Cosigned(sig) = a {
            parsed.signatures.push(sig);
        }
    }
    let cosigned = parsed.to_bytes();
    match (w.quorum)(&cosigned) {
        Ok(()) => Some(cosigned),
        Err(why) if w.fail_open => {
            metrics.unwitnessed_checkpoints.inc();
            tracing::warn!(
                "publishing checkpoint {size} WITHOUT the witness quorum ({why}): witness_fail_open is set"
            );
            Some(cosigned)
        }
        Err(why) => {
            metrics.witness_quorum_failures.inc();
            tracing::error!(
                "checkpoint {size} not published: the witness quorum is not met ({why})"
            );
            None
        }
    }
}

/// Waits until the committed tree is larger than `have`, or until `due` (the
/// time to cosign the published checkpoint again, spec/witness.md §4.3) if
/// that comes first. `false` once the sequencer has stopped.
async fn grown_or_due(
    committed: &mut watch::Receiver<Committed>,
    have: u64,
    due: Option<Instant>,
) -> bool {
    let grown = committed.wait_for(|c| c.size > have);
    match due {
        None => grown.await.is_ok(),
        Some(due) => tokio::select! {
            r = grown => r.is_ok(),
            () = tokio::time::sleep_until(due.into()) => true,
        },
    }
}

/// Runs until the sequencer stops (its `committed` sender is dropped).
///
/// Each checkpoint is proven to extend the last published one from the stored
/// tiles ([`provable`]), cosigned by the witnesses if a policy is set
/// ([`Witnessing`]), persisted in the store, then in `file` if there is one
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
    witnessing: Option<Arc<Witnessing>>,
) {
    let mut last = Instant::now()
        .checked_sub(interval)
        .unwrap_or_else(Instant::now);
    loop {
        let have = published.borrow().size;
        let refresh = witnessing.as_ref().map(|w| w.refresh);
        if !grown_or_due(&mut committed, have, refresh.map(|r| last + r)).await {
            return;
        }
        let since = last.elapsed();
        if since < interval {
            tokio::time::sleep(interval - since).await;
        }
        let c = *committed.borrow();
        let previous = {
            let p = published.borrow();
            (p.size, p.root)
        };
        // Never sign (and so never ask a witness about) a tree the store does
        // not hold, or one that does not extend the published checkpoint.
        let db2 = db.clone();
        let proven = tokio::task::spawn_blocking(move || provable(&db2, previous, c))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        if let Err(e) = proven {
            metrics.checkpoint_failures.inc();
            tracing::error!("cannot sign checkpoint at size {}: {e}", c.size);
            tokio::time::sleep(RETRY).await;
            continue;
        }
        let mut note = sign_checkpoint(
            &Checkpoint::new(origin.clone(), TreeSize(c.size), c.root),
            &signer,
        );
        if let Some(w) = &witnessing {
            match witnessed(w, &db, note, c.size, &metrics).await {
                Some(cosigned) => note = cosigned,
                None => {
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
        }
        let (db2, note2, file2) = (db.clone(), note.clone(), file.clone());
        let stored = tokio::task::spawn_blocking(move || {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{META_SIZE, tile_key};
    use crate::store::{MemStore, Storage};
    use ledger_core::tile::TileBuilder;

    /// A store holding only the tiles (and size) of a tree with these leaves.
    fn tree_of(leaves: &[u8]) -> (LedgerDb, Hash) {
        let store = Arc::new(MemStore::new());
        let mut builder = TileBuilder::new();
        for &l in leaves {
            builder.append(ledger_core::hash::leaf_hash(&[l]));
        }
        let mut b = Batch::new();
        for (tile, data) in builder
            .take_completed()
            .into_iter()
            .chain(builder.partial_tiles())
        {
            b.put(Cf::Tiles, tile_key(tile.level(), tile.index()), data);
        }
        b.put(Cf::Meta, META_SIZE, (leaves.len() as u64).to_be_bytes());
        store.write(b).unwrap();
        let root = builder.root();
        (LedgerDb::without_keys(store), root)
    }

    #[test]
    fn signs_only_a_tree_that_extends_the_published_one() {
        let (_, published_root) = tree_of(&[1, 2, 3, 4, 5]);
        let (db, root) = tree_of(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let next = Committed { size: 8, root };
        provable(&db, (5, published_root), next).unwrap();
        provable(&db, (0, Hash::empty_tree()), next).unwrap();

        // The same size 8, but entries 3 and 4 were lost and replaced: the store
        // reproduces its own root, yet not the published one at size 5.
        let (forked, forked_root) = tree_of(&[1, 2, 3, 9, 9, 6, 7, 8]);
        let next = Committed {
            size: 8,
            root: forked_root,
        };
        let err = provable(&forked, (5, published_root), next).unwrap_err();
        assert!(err.contains("fork"), "{err}");

        // A root the store does not hold, or a size it does not reach.
        let err = provable(
            &db,
            (5, published_root),
            Committed {
                size: 8,
                root: forked_root,
            },
        )
        .unwrap_err();
        assert!(err.contains("the store has root"), "{err}");
        let err = provable(&db, (5, published_root), Committed { size: 9, root }).unwrap_err();
        assert!(err.contains("holds only 8"), "{err}");
    }
}
