//! The publish loop (spec/checkpoints-and-tiles.md §9.2): it follows the
//! published checkpoint and, for each new one, writes the pieces it adds over
//! the bucket's checkpoint (create-only), then the checkpoint, then deletes the
//! partial pieces it superseded. It runs on its own task and reads the store,
//! so appends never wait for the bucket; a failed round is retried from the
//! bucket's checkpoint, which makes it idempotent, across restarts too.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ledger_core::TreeSize;
use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::hash::Hash;
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use ledger_core::tree::tree_hash;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::bucket::{Bucket, Created, Object};
use super::layout::{
    CACHE_CHECKPOINT, CHECKPOINT_PATH, Piece, TYPE_CHECKPOINT, TYPE_TILE, pieces, possibly_partial,
};
use super::{PublishError, PublishMetrics};
use crate::checkpointer::Published;
use crate::ledger::LedgerDb;

/// The publisher's limits.
#[derive(Clone, Debug)]
pub struct PublishLimits {
    /// Most uploads in flight at once.
    pub concurrency: usize,
    /// The backlog (entries published and not in the bucket) above which the
    /// publisher reports an error (spec/checkpoints-and-tiles.md §9.4).
    pub max_backlog: u64,
    /// The first wait after a failed round; it doubles up to `max_retry`.
    pub retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
}

impl Default for PublishLimits {
    fn default() -> Self {
        PublishLimits {
            concurrency: 8,
            max_backlog: 1_000_000,
            retry: Duration::from_millis(250),
            max_retry: Duration::from_secs(10),
        }
    }
}

/// The bucket's checkpoint, as far as the publisher knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    size: u64,
    root: Hash,
}

/// Publishes the log to one bucket.
pub struct Publisher<B: Bucket> {
    /// The bucket.
    pub bucket: Arc<B>,
    /// The log's store.
    pub db: LedgerDb,
    /// The log's origin.
    pub origin: Origin,
    /// The log's key: the bucket's checkpoint must verify under it.
    pub log_key: Ed25519Verifier,
    /// The published checkpoint (the checkpointer's).
    pub published: watch::Receiver<Published>,
    /// Its metrics.
    pub metrics: Arc<PublishMetrics>,
    /// Its limits.
    pub limits: PublishLimits,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl<B: Bucket> Publisher<B> {
    /// Runs until the log stops publishing checkpoints (the node stops), or an
    /// alarm: then it logs it, sets `ledger_publish_alarm` and returns it.
    pub async fn run(mut self) -> Option<PublishError> {
        self.metrics.enabled.set(1);
        let outcome = self.publish().await;
        self.metrics.enabled.set(0);
        match outcome {
            Ok(()) => None,
            Err(alarm) => {
                self.metrics.alarm.set(1);
                tracing::error!("PUBLISHING STOPPED: {alarm}");
                Some(alarm)
            }
        }
    }

    /// The loop; `Err` only for an alarm.
    async fn publish(&mut self) -> Result<(), PublishError> {
        let mut delay = self.limits.retry;
        let mut head = loop {
            match self.bucket_head().await {
                Ok(h) => break h,
                Err(e) if e.is_alarm() => return Err(e),
                Err(e) => self.failed(&e, &mut delay).await,
            }
        };
        if !self.same_tree(head).await? {
            return Ok(());
        }
        self.metrics.bucket_size.set(head.size as i64);
        let log = self.published.borrow().size;
        let mut dirty = possibly_partial(head.size, log);
        loop {
            let Some(next) = self.next_after(head.size).await else {
                return Ok(());
            };
            dirty.extend(
                pieces(head.size, next.size)
                    .iter()
                    .filter(|p| p.is_partial())
                    .map(Piece::full),
            );
            match self.round(head.size, &next).await {
                Ok(()) => {
                    head = Head {
                        size: next.size,
                        root: next.root,
                    };
                    self.metrics.bucket_size.set(head.size as i64);
                    self.metrics.failures.set(0);
                    delay = self.limits.retry;
                    self.clean(&mut dirty, head.size).await;
                }
                Err(e) if e.is_alarm() => return Err(e),
                Err(e) => self.failed(&e, &mut delay).await,
            }
        }
    }

    /// Counts and logs a failed attempt, then waits before the next.
    async fn failed(&self, e: &PublishError, delay: &mut Duration) {
        self.metrics.errors.inc();
        self.metrics.failures.inc();
        tracing::warn!("publishing: {e}; retrying in {delay:?}");
        tokio::time::sleep(*delay).await;
        *delay = (*delay * 2).min(self.limits.max_retry);
    }

    /// The checkpoint in the bucket, verified under the log's key; the empty
    /// tree if there is none.
    async fn bucket_head(&self) -> Result<Head, PublishError> {
        let Some(note) = self.bucket.get(CHECKPOINT_PATH).await? else {
            return Ok(Head {
                size: 0,
                root: Hash::empty_tree(),
            });
        };
        let none: [&dyn NoteVerifier; 0] = [];
        let cp = open_checkpoint(&note, &self.origin, &self.log_key, &none)
            .map_err(|e| PublishError::ForeignCheckpoint(e.to_string()))?;
        Ok(Head {
            size: cp.checkpoint.size.0,
            root: cp.checkpoint.root,
        })
    }

    /// Whether the log's tree at the bucket's size has the bucket's root,
    /// once the log has published that size (`Ok(false)` if the node stopped
    /// first); an alarm if not.
    async fn same_tree(&mut self, head: Head) -> Result<bool, PublishError> {
        if self.published.borrow().size < head.size {
            tracing::warn!(
                "the bucket's checkpoint (size {}) is ahead of this log's (size {}): publishing \
                 waits until the log reaches it",
                head.size,
                self.published.borrow().size
            );
        }
        if self
            .published
            .wait_for(|p| p.size >= head.size)
            .await
            .is_err()
        {
            return Ok(false);
        }
        let db = self.db.clone();
        let root = tokio::task::spawn_blocking(move || {
            tree_hash(TreeSize(head.size), &db.hash_reader()).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| PublishError::Internal(e.to_string()))?
        .map_err(PublishError::Internal)?;
        if root != head.root {
            return Err(PublishError::ForeignCheckpoint(format!(
                "it has root {} at size {}, where this log's tree has root {root}",
                head.root, head.size
            )));
        }
        Ok(true)
    }

    /// The next published checkpoint larger than `size`; `None` once the node
    /// stops.
    async fn next_after(&mut self, size: u64) -> Option<Published> {
        let next = self
            .published
            .wait_for(|p| p.size > size)
            .await
            .ok()?
            .clone();
        let backlog = next.size - size;
        self.metrics.backlog.set(backlog as i64);
        let exceeded = backlog > self.limits.max_backlog;
        if exceeded && self.metrics.backlog_exceeded.get() == 0 {
            tracing::error!(
                "publishing backlog exceeded: the bucket's checkpoint (size {size}) is {backlog} \
                 entries behind the log's (size {}), more than publish_max_backlog ({}); readers \
                 of the bucket see a stale log until the bucket takes writes again",
                next.size,
                self.limits.max_backlog
            );
        }
        self.metrics.backlog_exceeded.set(i64::from(exceeded));
        Some(next)
    }

    /// One round: every piece `next` adds over `old`, then its checkpoint.
    async fn round(&self, old: u64, next: &Published) -> Result<(), PublishError> {
        self.upload_all(pieces(old, next.size)).await?;
        self.bucket
            .put(Object {
                path: CHECKPOINT_PATH,
                body: next.note.to_vec(),
                content_type: TYPE_CHECKPOINT,
                cache_control: CACHE_CHECKPOINT,
            })
            .await?;
        let now = unix_now();
        self.metrics.checkpoints.inc();
        self.metrics.timestamp.set(now);
        self.metrics.backlog.set(0);
        self.metrics.backlog_exceeded.set(0);
        if let Some(signed) = next.signed_at {
            self.metrics.lag_seconds.observe((now - signed).max(0.0));
        }
        Ok(())
    }

    /// Writes `pieces` create-only, `concurrency` at a time. An alarm wins
    /// over any other error.
    async fn upload_all(&self, pieces: Vec<Piece>) -> Result<(), PublishError> {
        let mut set = JoinSet::new();
        let mut first: Option<PublishError> = None;
        let keep = |first: &mut Option<PublishError>, r: Result<Result<(), PublishError>, _>| {
            let e = match r {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(e) => PublishError::Internal(format!("an upload task: {e}")),
            };
            if first.as_ref().is_none_or(|f| !f.is_alarm()) {
                *first = Some(e);
            }
        };
        for piece in pieces {
            while set.len() >= self.limits.concurrency.max(1) {
                if let Some(r) = set.join_next().await {
                    keep(&mut first, r);
                }
            }
            if first.is_some() {
                break;
            }
            set.spawn(upload(
                self.bucket.clone(),
                self.db.clone(),
                piece,
                self.metrics.clone(),
            ));
        }
        while let Some(r) = set.join_next().await {
            keep(&mut first, r);
        }
        first.map_or(Ok(()), Err)
    }

    /// Deletes the partial versions of the pieces of `dirty` that a tree of
    /// `size` leaves completes, `concurrency` pieces at a time, and forgets
    /// them; those it could not clean stay for the next round.
    async fn clean(&self, dirty: &mut BTreeSet<Piece>, size: u64) {
        let mut done: Vec<Piece> = dirty
            .iter()
            .filter(|p| p.is_complete_in(size))
            .copied()
            .collect();
        let mut set = JoinSet::new();
        while !done.is_empty() || !set.is_empty() {
            while set.len() < self.limits.concurrency.max(1)
                && let Some(piece) = done.pop()
            {
                let (bucket, metrics) = (self.bucket.clone(), self.metrics.clone());
                set.spawn(async move { (piece, clean_one(&*bucket, piece, &metrics).await) });
            }
            match set.join_next().await {
                Some(Ok((piece, Ok(())))) => {
                    dirty.remove(&piece);
                }
                Some(Ok((piece, Err(e)))) => tracing::warn!(
                    "cleaning the partial versions of {}: {e}; will retry",
                    piece.path()
                ),
                Some(Err(e)) => tracing::warn!("a cleaning task: {e}"),
                None => {}
            }
        }
    }
}

/// Deletes every partial version of `piece` in the bucket.
async fn clean_one<B: Bucket>(
    bucket: &B,
    piece: Piece,
    metrics: &PublishMetrics,
) -> Result<(), PublishError> {
    for path in bucket.list(&piece.partials_prefix()).await? {
        bucket.delete(&path).await?;
        metrics.deleted.inc();
    }
    Ok(())
}

/// Writes one piece create-only; an object already there must hold the same
/// bytes (spec/checkpoints-and-tiles.md §9.2).
async fn upload<B: Bucket>(
    bucket: Arc<B>,
    db: LedgerDb,
    piece: Piece,
    metrics: Arc<PublishMetrics>,
) -> Result<(), PublishError> {
    let body = tokio::task::spawn_blocking(move || piece.read(&db))
        .await
        .map_err(|e| PublishError::Internal(e.to_string()))??;
    let path = piece.path();
    let ours = body.len();
    let created = bucket
        .create(Object {
            path: &path,
            body: body.clone(),
            content_type: TYPE_TILE,
            cache_control: piece.cache_control(),
        })
        .await?;
    match created {
        Created::New => {}
        Created::Existing(theirs) if theirs == body => {}
        Created::Existing(theirs) => {
            return Err(PublishError::Conflict {
                path,
                ours,
                theirs: theirs.len(),
            });
        }
    }
    metrics.objects.inc();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use ledger_core::checkpoint::{Checkpoint, sign_checkpoint};
    use ledger_core::note::Ed25519Signer;
    use ledger_core::tile::TileBuilder;

    use super::*;
    use crate::ledger::{META_SIZE, index_key, tile_key};
    use crate::publish::layout::CACHE_PARTIAL;
    use crate::publish::memory::MemBucket;
    use crate::store::{Batch, Cf, MemStore};

    /// A log on an in-memory store that grows by entries `entry <i>`.
    struct Log {
        db: LedgerDb,
        tiles: TileBuilder,
        signer: Ed25519Signer,
        origin: Origin,
    }

    impl Log {
        fn new(seed: u8) -> Log {
            let origin = Origin::new("test.example/publish").unwrap();
            let signer = Ed25519Signer::new(
                origin.key_name(),
                ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
            );
            Log {
                db: LedgerDb::without_keys(Arc::new(MemStore::new())),
                tiles: TileBuilder::new(),
                signer,
                origin,
            }
        }

        fn grow_to(&mut self, size: u64) {
            let mut b = Batch::new();
            for i in self.tiles.size().0..size {
                let entry = format!("entry {i}").into_bytes();
                self.tiles.append(ledger_core::hash::leaf_hash(&entry));
                b.put(Cf::Entries, index_key(i), entry);
            }
            for (t, data) in self
                .tiles
                .take_completed()
                .into_iter()
                .chain(self.tiles.partial_tiles())
            {
                b.put(Cf::Tiles, tile_key(t.level(), t.index()), data);
            }
            b.put(Cf::Meta, META_SIZE, size.to_be_bytes());
            self.db.store().write(b).unwrap();
        }

        fn checkpoint(&self) -> Published {
            let size = self.tiles.size();
            let root = self.tiles.root();
            let note = sign_checkpoint(
                &Checkpoint::new(self.origin.clone(), size, root),
                &self.signer,
            );
            Published {
                size: size.0,
                root,
                note: Arc::new(note),
                signed_at: Some(unix_now()),
            }
        }

        fn publisher(
            &self,
            bucket: Arc<MemBucket>,
        ) -> (Publisher<MemBucket>, watch::Sender<Published>) {
            let (tx, rx) = watch::channel(self.checkpoint());
            let publisher = Publisher {
                bucket,
                db: self.db.clone(),
                origin: self.origin.clone(),
                log_key: self.signer.verifier(),
                published: rx,
                metrics: Arc::new(PublishMetrics::default()),
                limits: PublishLimits {
                    retry: Duration::from_millis(5),
                    max_retry: Duration::from_millis(20),
                    ..PublishLimits::default()
                },
            };
            (publisher, tx)
        }
    }

    /// Waits until `cond` holds (the test fails if it never does).
    async fn until(what: &str, cond: impl Fn() -> bool) {
        for _ in 0..2000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never: {what}");
    }

    fn bucket_size(bucket: &MemBucket) -> Option<u64> {
        let objects = bucket.objects.lock().unwrap();
        let note = &objects.get(CHECKPOINT_PATH)?.0;
        let text = String::from_utf8_lossy(note);
        text.lines().nth(1)?.parse().ok()
    }

    fn paths(bucket: &MemBucket) -> Vec<String> {
        bucket.objects.lock().unwrap().keys().cloned().collect()
    }

    /// Every piece of a tree of `size` is in the bucket with the store's bytes.
    fn assert_complete(bucket: &MemBucket, log: &Log, size: u64) {
        let objects = bucket.objects.lock().unwrap();
        for piece in pieces(0, size) {
            let ours = piece.read(&log.db).unwrap();
            let theirs = objects.get(&piece.path()).map(|o| &o.0);
            assert_eq!(theirs, Some(&ours), "{}", piece.path());
        }
    }

    #[tokio::test]
    async fn the_checkpoint_follows_its_pieces_and_partials_are_cleaned() {
        let mut log = Log::new(1);
        log.grow_to(300);
        let bucket = Arc::new(MemBucket::default());
        let (publisher, tx) = log.publisher(bucket.clone());
        let task = tokio::spawn(publisher.run());
        until("size 300 published", || bucket_size(&bucket) == Some(300)).await;
        assert_complete(&bucket, &log, 300);
        assert_eq!(
            bucket.objects.lock().unwrap()["tile/0/001.p/44"].1,
            CACHE_PARTIAL
        );

        log.grow_to(700);
        tx.send_replace(log.checkpoint());
        until("size 700 published", || bucket_size(&bucket) == Some(700)).await;
        assert_complete(&bucket, &log, 700);
        until("partials of full tiles deleted", || {
            !paths(&bucket)
                .iter()
                .any(|p| p.starts_with("tile/0/001.p/"))
        })
        .await;
        let all = paths(&bucket);
        assert!(all.contains(&"tile/1/000.p/1".to_owned()), "{all:?}");
        assert!(!all.iter().any(|p| p.starts_with("tile/entries/001.p/")));

        // Every checkpoint write comes after every tile and bundle write of
        // the tree it covers.
        let ops = bucket.log.lock().unwrap().clone();
        let mut written = BTreeSet::new();
        for op in &ops {
            match op.strip_prefix("PUT ") {
                Some(CHECKPOINT_PATH) => {}
                Some(path) => {
                    written.insert(path.to_owned());
                    continue;
                }
                None => continue,
            }
            let size = if written.contains("tile/0/002.p/188") {
                700
            } else {
                300
            };
            for piece in pieces(0, size) {
                assert!(
                    written.contains(&piece.path()),
                    "{} before it: {ops:?}",
                    piece.path()
                );
            }
        }
        drop(tx);
        assert!(task.await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_store_that_is_down_is_caught_up_with() {
        let mut log = Log::new(1);
        log.grow_to(10);
        let bucket = Arc::new(MemBucket::default());
        let (publisher, tx) = log.publisher(bucket.clone());
        let metrics = publisher.metrics.clone();
        let task = tokio::spawn(publisher.run());
        until("10", || bucket_size(&bucket) == Some(10)).await;
        bucket.down.store(true, Ordering::SeqCst);
        log.grow_to(600);
        tx.send_replace(log.checkpoint());
        until("failures counted", || metrics.failures.get() >= 2).await;
        until("backlog shown", || metrics.backlog.get() == 590).await;
        assert_eq!(bucket_size(&bucket), Some(10));
        bucket.down.store(false, Ordering::SeqCst);
        until("caught up", || bucket_size(&bucket) == Some(600)).await;
        assert_complete(&bucket, &log, 600);
        assert_eq!(metrics.failures.get(), 0);
        assert_eq!(metrics.backlog.get(), 0);
        assert_eq!(metrics.alarm.get(), 0);
        drop(tx);
        assert!(task.await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_backlog_over_the_limit_is_reported() {
        let mut log = Log::new(1);
        log.grow_to(5);
        let bucket = Arc::new(MemBucket::default());
        let (mut publisher, tx) = log.publisher(bucket.clone());
        publisher.limits.max_backlog = 40;
        let metrics = publisher.metrics.clone();
        let task = tokio::spawn(publisher.run());
        until("5", || bucket_size(&bucket) == Some(5)).await;
        bucket.down.store(true, Ordering::SeqCst);
        log.grow_to(50);
        tx.send_replace(log.checkpoint());
        until("exceeded", || metrics.backlog_exceeded.get() == 1).await;
        bucket.down.store(false, Ordering::SeqCst);
        until("caught up", || bucket_size(&bucket) == Some(50)).await;
        assert_eq!(metrics.backlog_exceeded.get(), 0);
        drop(tx);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_conflicting_object_stops_publishing() {
        let mut log = Log::new(1);
        log.grow_to(300);
        let bucket = Arc::new(MemBucket::default());
        bucket.objects.lock().unwrap().insert(
            "tile/entries/000".into(),
            (b"forged".to_vec(), CACHE_PARTIAL),
        );
        let (publisher, _tx) = log.publisher(bucket.clone());
        let metrics = publisher.metrics.clone();
        let alarm = publisher.run().await.expect("an alarm");
        assert!(
            matches!(&alarm, PublishError::Conflict { path, .. } if path == "tile/entries/000"),
            "{alarm}"
        );
        assert_eq!(metrics.alarm.get(), 1);
        assert_eq!(
            bucket_size(&bucket),
            None,
            "no checkpoint without its tiles"
        );
    }

    #[tokio::test]
    async fn a_restart_resumes_and_the_checkpoint_never_moves_back() {
        let mut log = Log::new(1);
        log.grow_to(600);
        let bucket = Arc::new(MemBucket::default());
        // A first process published 600, then a round to 900 stopped midway:
        // some pieces and an orphan partial are there, not the checkpoint.
        let (publisher, tx) = log.publisher(bucket.clone());
        let task = tokio::spawn(publisher.run());
        until("600", || bucket_size(&bucket) == Some(600)).await;
        drop(tx);
        task.await.unwrap();
        log.grow_to(900);
        for piece in pieces(600, 900).into_iter().take(2) {
            let body = piece.read(&log.db).unwrap();
            bucket
                .objects
                .lock()
                .unwrap()
                .insert(piece.path(), (body, CACHE_PARTIAL));
        }
        let orphan = Piece::Hash(ledger_core::tile::Tile::new(0, 2, 200).unwrap());
        let body = orphan.read(&log.db).unwrap();
        bucket
            .objects
            .lock()
            .unwrap()
            .insert(orphan.path(), (body, CACHE_PARTIAL));

        // The log restarts behind the bucket (its published copy says 300):
        // nothing is written until it passes the bucket's 600.
        let mut behind = Log::new(1);
        behind.grow_to(300);
        let (mut publisher, tx) = log.publisher(bucket.clone());
        let (old_tx, old_rx) = watch::channel(behind.checkpoint());
        publisher.published = old_rx;
        let task = tokio::spawn(publisher.run());
        tokio::task::yield_now().await;
        assert_eq!(bucket_size(&bucket), Some(600));
        old_tx.send_replace(log.checkpoint());
        until("900", || bucket_size(&bucket) == Some(900)).await;
        assert_complete(&bucket, &log, 900);
        log.grow_to(1100);
        old_tx.send_replace(log.checkpoint());
        until("1100", || bucket_size(&bucket) == Some(1100)).await;
        until("the orphan partial is deleted", || {
            !paths(&bucket).contains(&orphan.path())
        })
        .await;
        drop((tx, old_tx));
        assert!(task.await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_foreign_checkpoint_in_the_bucket_is_an_alarm() {
        // Another tree under the same key, and the same tree under another key.
        for (seed, prefix) in [(1u8, "other tree"), (9, "other key")] {
            let mut other = Log::new(seed);
            other.grow_to(5);
            if prefix == "other tree" {
                other.db = LedgerDb::without_keys(Arc::new(MemStore::new()));
                other.tiles = TileBuilder::new();
                for i in 0..5u8 {
                    other.tiles.append(ledger_core::hash::leaf_hash(&[i]));
                }
            }
            let bucket = Arc::new(MemBucket::default());
            bucket.objects.lock().unwrap().insert(
                CHECKPOINT_PATH.into(),
                (other.checkpoint().note.to_vec(), CACHE_CHECKPOINT),
            );
            let mut log = Log::new(1);
            log.grow_to(10);
            let (publisher, _tx) = log.publisher(bucket.clone());
            let alarm = publisher.run().await.expect(prefix);
            assert!(
                matches!(alarm, PublishError::ForeignCheckpoint(_)),
                "{prefix}: {alarm}"
            );
            assert_eq!(paths(&bucket), [CHECKPOINT_PATH], "{prefix}");
        }
    }
}
