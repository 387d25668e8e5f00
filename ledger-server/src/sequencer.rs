//! The sequencer: the one writer (DESIGN.md §5). It runs on its own OS thread,
//! drains a queue of submissions into batches (their signatures verified by the
//! API on all cores), applies the registry rules (spec/registry.md §4),
//! assigns indices and links, computes the new tiles, commits everything in ONE
//! atomic, synced write, and only then answers.
//!
//! Signatures are checked with `verify_strict`, exactly the rule of
//! spec/entry.md §3.2, in parallel (by the API, before queueing). Ed25519 *batch*
//! verification is not used: its random linear combination (cofactorless, with
//! no byte comparison of `R` and no small-order check, spec/registry.md §4)
//! accepts signatures that the strict rule, and every strict verifier, rejects.
//! An agency could then write entries that auditors must flag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use ledger_core::access::AccessAction;
use ledger_core::hash::Hash;
use ledger_core::registry::{AgencyRecord, Registry, RegistryError};
use ledger_core::statement::{AgencyId, Statement, TypeFamily};
use ledger_core::tile::TileBuilder;
use tokio::sync::{mpsc, oneshot, watch};

use crate::checkpointer::Published;
use crate::ledger::{
    LedgerDb, META_PURGE_PENDING, META_SIZE, access_key, dedup_key, index_key, load, purge_range,
    secondary_key, tile_key,
};
use crate::metrics::Metrics;
use crate::snapshot::{Snapshot, StoredSubmissions};
use crate::store::{Batch, Cf, StoreError};

/// One signed statement to append.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The statement, parsed; its exact bytes are what was signed.
    pub statement: Statement,
    /// The agency's signature (spec/entry.md §3.2).
    pub signature: [u8; 64],
    /// The private payload and its salt, already checked against the statement's
    /// commitment.
    pub payload: Option<([u8; 32], Vec<u8>)>,
    /// The key that `signature` was already verified with (strictly, spec/entry.md
    /// §3.2), off the sequencer's thread; the sequencer still checks that the key
    /// may sign for the agency when the entry is sequenced. `None`: the sequencer
    /// verifies.
    pub verified_by: Option<VerifyingKey>,
}

/// A durable append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// The entry's leaf hash.
    pub leaf_hash: Hash,
    /// When it was sequenced.
    pub sequenced_at_ms: u64,
    /// Whether this was a resubmission of an entry already in the log.
    pub duplicate: bool,
}

/// Why a submission was not appended.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AppendError {
    /// It breaks a rule (spec/registry.md §4).
    #[error(transparent)]
    Rejected(#[from] RegistryError),
    /// The agency used this submission id for a different statement.
    #[error(
        "agency {agency} already used submission id {submission_id:?} for a different statement (entry {index})"
    )]
    Conflict {
        /// The agency.
        agency: String,
        /// The submission id.
        submission_id: String,
        /// The index of the original entry.
        index: u64,
    },
    /// Storage failed; nothing was appended.
    #[error("storage is unavailable; nothing was appended")]
    Unavailable,
    /// This server's clock is behind the last entry's time by more than the
    /// limit: sequencing now would pin every new entry's time to that of the
    /// last one (spec/api.md §1.2).
    #[error(
        "this server's clock is {behind_ms} ms behind the last entry's time, more than the limit of \
         {limit_ms} ms; nothing was appended. The operator must check the clock (or raise \
         clock_skew_limit_secs, or set it to 0, to sequence at the last entry's time)"
    )]
    ClockBehind {
        /// How far behind.
        behind_ms: u64,
        /// The limit.
        limit_ms: u64,
    },
}

/// The stored tree after a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Entries stored.
    pub size: u64,
    /// The tree's root at that size.
    pub root: Hash,
}

/// The public registry state (agencies and keys), as of the stored tree.
pub type Agencies = Arc<Vec<AgencyRecord>>;

/// Sequencer settings.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    /// The most submissions in one batch (one commit).
    pub max_batch: usize,
    /// The most submissions waiting in the queue; more get HTTP 429.
    pub max_queue: usize,
    /// The most submissions of one agency (as its statements name it) waiting
    /// in the queue, so that one busy agency cannot fill it for all (#14 item 7).
    pub max_queue_per_agency: usize,
    /// How far this server's clock may be behind the last entry's time before
    /// appends are refused ([`AppendError::ClockBehind`]); `None`: never
    /// refuse, and sequence at the last entry's time (the operator's override).
    pub clock_skew_limit: Option<std::time::Duration>,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            max_batch: 4096,
            max_queue: 100_000,
            max_queue_per_agency: 25_000,
            clock_skew_limit: Some(std::time::Duration::from_secs(60)),
        }
    }
}

/// The sequencer's state and its batch step. [`Sequencer::spawn`] runs it on a
/// thread; `init` and tests call [`Core::process`] directly.
pub struct Core {
    db: LedgerDb,
    registry: Registry,
    builder: TileBuilder,
    /// Whether the in-memory state matches storage (false after a failed write,
    /// until it is reloaded).
    in_sync: bool,
    origin: ledger_core::checkpoint::Origin,
    log_key: ledger_core::note::Ed25519Verifier,
    /// The latest published checkpoint, which a reload must reproduce, as
    /// startup does (spec/durability.md §3; #14 item 9).
    published: Option<watch::Receiver<Published>>,
    /// The size and time of the last state snapshot written ([`Snapshot`]);
    /// no time: the next commit writes one.
    snapshot_at: (u64, Option<Instant>),
}

/// A state snapshot goes with a commit once this many entries were appended
/// since the last one, or [`SNAPSHOT_AFTER`] passed: startup and a reload after
/// a failed write replay at most that tail (spec/durability.md §3.3).
pub const SNAPSHOT_EVERY: u64 = 4096;
/// The longest time between two snapshots while entries are appended.
pub const SNAPSHOT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// What [`Core::process`] did.
pub struct Outcome {
    /// One result per submission, in order.
    pub results: Vec<Result<Appended, AppendError>>,
    /// The stored tree afterwards.
    pub committed: Committed,
    /// Whether the registry (agencies, keys) changed.
    pub registry_changed: bool,
    /// How many entries were appended.
    pub appended: usize,
    /// Whether the state was reloaded from the store (after a failed write)
    /// before this batch; `committed` is then the store's tree, which may hold a
    /// batch whose write reported failure (spec/durability.md §1.3).
    pub reloaded: bool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Core {
    /// Loads and checks the stored ledger ([`load`]: from the state snapshot
    /// and the tail after it), against the published checkpoint copy too if
    /// one is given. A store without a snapshot (from before snapshots) is
    /// replayed whole, and gets one now, so that the next start does not.
    ///
    /// # Errors
    /// As [`load`].
    pub fn open(
        db: LedgerDb,
        origin: ledger_core::checkpoint::Origin,
        log_key: ledger_core::note::Ed25519Verifier,
        published: Option<&[u8]>,
    ) -> Result<Core, crate::ledger::StartupError> {
        let loaded = load(&db, &origin, &log_key, published)?;
        let size = loaded.builder.size().0;
        let mut snapshot_at = (loaded.resumed_from.unwrap_or(size), Some(Instant::now()));
        if loaded.resumed_from.is_none() {
            let mut b = Batch::new();
            Snapshot::of(&loaded.registry, &loaded.builder).put(&mut b);
            match db.store().write(b) {
                Ok(()) => tracing::info!("wrote the first state snapshot, at size {size}"),
                Err(e) => {
                    snapshot_at = (0, None);
                    tracing::warn!("could not write a state snapshot: {e}; the next commit will");
                }
            }
        } else {
            tracing::info!(
                "resumed from the state snapshot at size {}: {} entries replayed",
                snapshot_at.0,
                size - snapshot_at.0
            );
        }
        Ok(Core {
            db,
            registry: loaded.registry,
            builder: loaded.builder,
            in_sync: true,
            origin,
            log_key,
            published: None,
            snapshot_at,
        })
    }

    /// From now on, a reload after a failed write checks the stored tree against
    /// the checkpoint published on `published` too (its size must be stored and
    /// its root reproduced), exactly as startup checks the checkpoint file: a store
    /// that lost published entries is refused instead of being appended to, which
    /// would sign a second root for a published size.
    pub fn follow_published(&mut self, published: watch::Receiver<Published>) {
        self.published = Some(published);
    }

    /// Starts from a given registry on an empty store (`init`: genesis checked
    /// against the trust anchors).
    pub fn empty(
        db: LedgerDb,
        mut registry: Registry,
        origin: ledger_core::checkpoint::Origin,
        log_key: ledger_core::note::Ed25519Verifier,
    ) -> Core {
        registry.set_submission_ids(Box::new(StoredSubmissions::new(db.clone())));
        Core {
            // The first commit (genesis) writes the first snapshot.
            snapshot_at: (0, None),
            db,
            registry,
            builder: TileBuilder::new(),
            in_sync: true,
            origin,
            log_key,
            published: None,
        }
    }

    /// Writes a state snapshot of the stored tree now, if entries were
    /// committed since the last one (a clean stop: the next start then has no
    /// tail to replay). A failure is logged: startup replays the tail instead.
    pub fn write_snapshot(&mut self) {
        let size = self.builder.size().0;
        if !self.in_sync || size == self.snapshot_at.0 {
            return;
        }
        let mut b = Batch::new();
        Snapshot::of(&self.registry, &self.builder).put(&mut b);
        match self.db.store().write(b) {
            Ok(()) => self.snapshot_at = (size, Some(Instant::now())),
            Err(e) => tracing::warn!("could not write the state snapshot at size {size}: {e}"),
        }
    }

    /// The stored tree.
    pub fn committed(&self) -> Committed {
        Committed {
            size: self.builder.size().0,
            root: self.builder.root(),
        }
    }

    /// The registry state.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The agencies, for the read API.
    pub fn agencies(&self) -> Agencies {
        Arc::new(self.registry.agencies().cloned().collect())
    }

    /// Sequences `subs` in order, commits the appended ones in one synced write,
    /// and returns one result per submission. Extra `meta` puts (a checkpoint at
    /// `init`) go in the same write.
    pub fn process(&mut self, subs: Vec<Submission>, extra: Batch) -> Outcome {
        let now = now_ms();
        if !self.in_sync {
            // A previous write failed: the in-memory state may be ahead of storage.
            // Make the store writable again (if it can be), then reload from it
            // with the startup checks, against the published checkpoint too.
            let published = self.published.as_ref().map(|rx| rx.borrow().note.clone());
            let reloaded = self
                .db
                .store()
                .recover()
                .map_err(crate::ledger::StartupError::from)
                .and_then(|()| {
                    Core::open(
                        self.db.clone(),
                        self.origin.clone(),
                        self.log_key.clone(),
                        published.as_deref().map(|n| &n[..]),
                    )
                });
            match reloaded {
                Ok(mut fresh) => {
                    fresh.published = self.published.take();
                    *self = fresh;
                }
                Err(e) => {
                    // Either the store still fails, or it no longer reproduces
                    // what was published (an older copy put back): appending
                    // to it could sign a fork, so appends stay refused.
                    tracing::error!(
                        "cannot reload the store after a failed write; appends are refused: {e}"
                    );
                    // `self` is ahead of the store: report nothing new.
                    return Outcome {
                        results: subs.iter().map(|_| Err(AppendError::Unavailable)).collect(),
                        committed: self.committed(),
                        registry_changed: false,
                        appended: 0,
                        reloaded: false,
                    };
                }
            }
            let mut out = self.process(subs, extra);
            out.reloaded = true;
            return out;
        }
        // The stored tree, reported unchanged if this batch's write fails.
        let before = self.committed();
        let mut results: Vec<Option<Result<Appended, AppendError>>> = vec![None; subs.len()];
        // A resubmission within the batch is linked to the earlier occurrence
        // only once that one is accepted (step 3): a refused submission must not
        // take a later, valid one with the same id down with it (#14 item 8).
        let mut dup_of: Vec<Option<usize>> = vec![None; subs.len()];

        // 1. Idempotency against the log.
        for (i, s) in subs.iter().enumerate() {
            match self.lookup_existing(s) {
                Ok(Some(r)) => results[i] = Some(r),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!("dedup lookup failed: {e}");
                    results[i] = Some(Err(AppendError::Unavailable));
                }
            }
        }

        // 3–5. Signatures, rules, indices, links, tiles, in order.
        let start = self.builder.size().0;
        let mut batch = extra;
        // Payload keys, written to the key store before the ledger commit.
        let mut keys = Batch::new();
        // Payloads erased by this batch: their keys go after the commit.
        let mut erased: Vec<u64> = Vec::new();
        let mut registry_changed = false;
        let mut applied_at: Vec<usize> = Vec::new();
        let mut accepted: HashMap<Vec<u8>, usize> = HashMap::new();
        for (i, s) in subs.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            let key = dedup_key(
                s.statement.agency.as_str(),
                s.statement.submission_id.as_str(),
            );
            if let Some(&first) = accepted.get(&key) {
                dup_of[i] = Some(first);
                continue;
            }
            // 2. The API verified the signature with a key active then
            //    (`sequence_verified` checks it still is); one no key verified
            //    there (a key added earlier in this batch, or a caller without
            //    the API) is verified now, against the keys valid now.
            let r = match s.verified_by {
                Some(key) => {
                    self.registry
                        .sequence_verified(s.statement.clone(), &s.signature, &key, now)
                }
                None => self
                    .registry
                    .sequence(s.statement.bytes(), &s.signature, now),
            };
            let applied = match r {
                Ok(a) => a,
                Err(RegistryError::SubmissionIds { source, .. }) => {
                    tracing::error!("dedup lookup failed: {source}");
                    results[i] = Some(Err(AppendError::Unavailable));
                    continue;
                }
                Err(e) => {
                    results[i] = Some(Err(AppendError::Rejected(e)));
                    continue;
                }
            };
            let index = applied.entry.index.0;
            let envelope = match applied.entry.encode() {
                Ok(b) => b,
                Err(e) => unreachable!("an applied entry encodes: {e}"),
            };
            self.builder.append(applied.leaf_hash);
            let st = &applied.statement;
            batch.put(Cf::Entries, index_key(index), envelope);
            batch.put(
                Cf::Dedup,
                dedup_key(st.agency.as_str(), st.submission_id.as_str()),
                index_key(index),
            );
            batch.put(Cf::ByAgency, secondary_key(st.agency.as_str(), index), []);
            batch.put(Cf::ByType, secondary_key(st.kind.as_str(), index), []);
            batch.put(Cf::ByChannel, secondary_key(st.channel.as_str(), index), []);
            if let Some((salt, payload)) = &s.payload {
                let (key, sealed) = crate::sealed::seal(index, salt, payload);
                keys.put(Cf::PayloadKeys, index_key(index), key.0);
                batch.put(Cf::Payloads, index_key(index), sealed);
            }
            if let Some(Ok(action)) = AccessAction::parse(st) {
                if let Some(target) = action.target() {
                    batch.put(Cf::Accesses, access_key(target.0, index), []);
                }
                if let AccessAction::Erase(e) = action {
                    batch.delete(Cf::Payloads, index_key(e.entry.0));
                    batch.put(Cf::Erasures, index_key(e.entry.0), index_key(index));
                    erased.push(e.entry.0);
                }
            }
            if st.kind.family() == Some(TypeFamily::Registry) {
                registry_changed = true;
            }
            results[i] = Some(Ok(Appended {
                index,
                leaf_hash: applied.leaf_hash,
                sequenced_at_ms: applied.entry.sequenced_at_ms,
                duplicate: false,
            }));
            applied_at.push(i);
            accepted.insert(key, i);
        }
        let end = self.builder.size().0;
        if end > start {
            for (tile, data) in self.builder.take_completed() {
                batch.put(Cf::Tiles, tile_key(tile.level(), tile.index()), data);
            }
            for (tile, data) in self.builder.partial_tiles() {
                // Only the partial tiles that this batch changed.
                let shift = 8 * u32::from(tile.level());
                if start.checked_shr(shift).unwrap_or(0) != end.checked_shr(shift).unwrap_or(0) {
                    batch.put(Cf::Tiles, tile_key(tile.level(), tile.index()), data);
                }
            }
            batch.put(Cf::Meta, META_SIZE, end.to_be_bytes());
            if end - self.snapshot_at.0 >= SNAPSHOT_EVERY
                || self
                    .snapshot_at
                    .1
                    .is_none_or(|t| t.elapsed() >= SNAPSHOT_AFTER)
            {
                Snapshot::of(&self.registry, &self.builder).put(&mut batch);
                self.snapshot_at = (end, Some(Instant::now()));
            }
        }

        // 6. One atomic, synced write. (`recover` first: a failed checkpoint
        // write leaves the store refusing writes until it is reopened; the
        // in-memory state is the stored one, since every sequencer write so far
        // succeeded.)
        // The payload keys first (spec/durability.md §5): a key whose entry
        // was not committed is harmless, and is overwritten at that index.
        let store = self.db.store();
        let key_store = self.db.keys();
        if !batch.is_empty()
            && let Err(e) = key_store
                .recover()
                .and_then(|()| {
                    if keys.is_empty() {
                        Ok(())
                    } else {
                        key_store.write(keys)
                    }
                })
                .and_then(|()| store.recover())
                .and_then(|()| store.write(batch))
        {
            tracing::error!("commit of {} entries failed: {e}", end - start);
            self.in_sync = false;
            for &i in &applied_at {
                results[i] = Some(Err(AppendError::Unavailable));
            }
            // The registry and tiles are ahead of storage; reload before the next
            // batch. Until then, report the last stored state.
            let committed = before;
            let results = finish(results, &dup_of, &subs);
            return Outcome {
                results,
                committed,
                registry_changed: false,
                appended: 0,
                reloaded: false,
            };
        }
        if !erased.is_empty() {
            self.shred(&erased);
        }
        Outcome {
            results: finish(results, &dup_of, &subs),
            committed: self.committed(),
            registry_changed,
            appended: applied_at.len(),
            reloaded: false,
        }
    }

    /// After an erasure is committed: deletes the payloads' keys from the key
    /// store, and purges both stores' files of the deleted bytes
    /// (spec/durability.md §5). A failure here leaves the erasure committed and
    /// the payload unreadable through the API; startup finishes it
    /// ([`LedgerDb::finish_erasures`]).
    fn shred(&self, erased: &[u64]) {
        let mut keys = Batch::new();
        for &i in erased {
            keys.delete(Cf::PayloadKeys, index_key(i));
        }
        // Recorded with the deletes, so that a stop before the purge is
        // finished at the next start.
        let mut lo = erased.iter().copied().min().unwrap_or(0);
        let mut hi = erased.iter().copied().max().unwrap_or(0);
        // A purge that failed earlier is kept in the record: widen it.
        if let Ok(Some((l, h))) = self.db.pending_purge() {
            lo = lo.min(l);
            hi = hi.max(h);
        }
        keys.put(Cf::Meta, META_PURGE_PENDING, purge_range(lo, hi));
        let done = self
            .db
            .keys()
            .write(keys)
            .and_then(|()| self.db.finish_purge());
        match done {
            Ok(()) => tracing::info!("erased the payloads of entries {erased:?}"),
            Err(e) => tracing::error!(
                "erasure of {erased:?} is committed but its keys or files were not purged: {e}; \
                 the next start finishes it"
            ),
        }
    }

    /// If the submission's agency already used its submission id: the original
    /// entry's result (same statement bytes) or a conflict.
    fn lookup_existing(
        &self,
        s: &Submission,
    ) -> Result<Option<Result<Appended, AppendError>>, StoreError> {
        let st = &s.statement;
        let Some(index) = self
            .db
            .dedup(st.agency.as_str(), st.submission_id.as_str())?
        else {
            return Ok(None);
        };
        let envelope = self
            .db
            .entry(index)?
            .ok_or_else(|| StoreError::Corrupt(format!("dedup points at missing entry {index}")))?;
        let entry = ledger_core::entry::Entry::decode(&envelope)
            .map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
        if entry.statement == st.bytes() {
            Ok(Some(Ok(Appended {
                index,
                leaf_hash: ledger_core::hash::leaf_hash(&envelope),
                sequenced_at_ms: entry.sequenced_at_ms,
                duplicate: true,
            })))
        } else {
            Ok(Some(Err(AppendError::Conflict {
                agency: st.agency.to_string(),
                submission_id: st.submission_id.as_str().to_owned(),
                index,
            })))
        }
    }
}

/// [`AppendError::ClockBehind`] if this server's clock is further behind the
/// last entry's time than `limit` (#14 item 13): a clock that once jumped ahead
/// would otherwise pin every later entry's time to that of the jump.
fn clock_refusal(core: &Core, limit: Option<std::time::Duration>) -> Option<AppendError> {
    let limit_ms = u64::try_from(limit?.as_millis()).unwrap_or(u64::MAX);
    let behind_ms = core.registry().last_time_ms().saturating_sub(now_ms());
    if behind_ms > limit_ms {
        tracing::error!("the clock is {behind_ms} ms behind the last entry: appends refused");
        Some(AppendError::ClockBehind {
            behind_ms,
            limit_ms,
        })
    } else {
        None
    }
}

/// Resolves resubmissions within one batch from their first occurrence.
fn finish(
    mut results: Vec<Option<Result<Appended, AppendError>>>,
    dup_of: &[Option<usize>],
    subs: &[Submission],
) -> Vec<Result<Appended, AppendError>> {
    for i in 0..results.len() {
        if let Some(first) = dup_of[i] {
            let same = subs[first].statement.bytes() == subs[i].statement.bytes();
            results[i] = Some(match &results[first] {
                Some(Ok(a)) if same => Ok(Appended {
                    duplicate: true,
                    ..a.clone()
                }),
                Some(Ok(a)) => Err(AppendError::Conflict {
                    agency: subs[i].statement.agency.to_string(),
                    submission_id: subs[i].statement.submission_id.as_str().to_owned(),
                    index: a.index,
                }),
                Some(Err(e)) => Err(e.clone()),
                None => Err(AppendError::Unavailable),
            });
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(AppendError::Unavailable)))
        .collect()
}

/// A unit of work: submissions from one request, answered together.
struct Job {
    subs: Vec<Submission>,
    /// How many of `subs` each agency has: its share of the queue, given back
    /// when the job is answered.
    shares: Vec<(AgencyId, usize)>,
    reply: oneshot::Sender<Vec<Result<Appended, AppendError>>>,
    enqueued: Instant,
}

/// Why a submission could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The queue is full (HTTP 429: retry later).
    Full,
    /// The agency's share of the queue is full (HTTP 429: retry later).
    AgencyShareFull,
    /// The sequencer thread has stopped (HTTP 503: nothing will be appended
    /// until the server restarts).
    Stopped,
}

/// How requests reach the sequencer.
#[derive(Clone)]
pub struct SequencerHandle {
    tx: mpsc::UnboundedSender<Job>,
    pending: Arc<AtomicUsize>,
    max_queue: usize,
    shares: Arc<Shares>,
}

/// Each agency's queued submissions, bounded by `max` (#14 item 7).
struct Shares {
    queued: std::sync::Mutex<HashMap<AgencyId, usize>>,
    max: usize,
}

impl Shares {
    /// Takes `want` from each agency's share, or nothing if one would exceed
    /// its bound (an agency with nothing queued may always queue one job).
    fn take(&self, want: &[(AgencyId, usize)]) -> bool {
        let mut q = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        let over = want.iter().any(|(a, n)| {
            let have = q.get(a).copied().unwrap_or(0);
            have > 0 && have + n > self.max
        });
        if over {
            return false;
        }
        for (a, n) in want {
            *q.entry(a.clone()).or_default() += n;
        }
        true
    }

    /// Gives `taken` back.
    fn give_back(&self, taken: &[(AgencyId, usize)]) {
        let mut q = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        for (a, n) in taken {
            if let Some(have) = q.get_mut(a) {
                *have = have.saturating_sub(*n);
                if *have == 0 {
                    q.remove(a);
                }
            }
        }
    }
}

impl SequencerHandle {
    /// Queues `subs`; the receiver gets one result per submission once they are
    /// durable (or rejected).
    ///
    /// # Errors
    /// [`QueueError::Full`] if the queue would exceed its bound,
    /// [`QueueError::AgencyShareFull`] if an agency's share of it would;
    /// [`QueueError::Stopped`] if the sequencer stopped.
    pub fn submit(
        &self,
        subs: Vec<Submission>,
    ) -> Result<oneshot::Receiver<Vec<Result<Appended, AppendError>>>, QueueError> {
        if self.tx.is_closed() {
            return Err(QueueError::Stopped);
        }
        let n = subs.len();
        let mut shares: Vec<(AgencyId, usize)> = Vec::new();
        for s in &subs {
            match shares.iter_mut().find(|(a, _)| *a == s.statement.agency) {
                Some((_, k)) => *k += 1,
                None => shares.push((s.statement.agency.clone(), 1)),
            }
        }
        if !self.shares.take(&shares) {
            return Err(QueueError::AgencyShareFull);
        }
        let prev = self.pending.fetch_add(n, Ordering::SeqCst);
        if prev + n > self.max_queue && prev > 0 {
            self.pending.fetch_sub(n, Ordering::SeqCst);
            self.shares.give_back(&shares);
            return Err(QueueError::Full);
        }
        let (reply, rx) = oneshot::channel();
        let job = Job {
            subs,
            shares,
            reply,
            enqueued: Instant::now(),
        };
        if let Err(e) = self.tx.send(job) {
            self.pending.fetch_sub(n, Ordering::SeqCst);
            self.shares.give_back(&e.0.shares);
            return Err(QueueError::Stopped);
        }
        Ok(rx)
    }

    /// Whether the sequencer thread is still running.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Submissions queued and not yet answered.
    pub fn queue_depth(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}

/// The running sequencer.
pub struct Sequencer;

impl Sequencer {
    /// Runs `core` on a new thread. Each commit is published on `committed` (for the
    /// checkpointer) and registry changes on `agencies`. The thread ends when every
    /// handle is dropped and the queue is drained.
    pub fn spawn(
        mut core: Core,
        config: SequencerConfig,
        committed: watch::Sender<Committed>,
        agencies: Arc<RwLock<Agencies>>,
        metrics: Arc<Metrics>,
    ) -> (SequencerHandle, std::thread::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let pending = Arc::new(AtomicUsize::new(0));
        let shares = Arc::new(Shares {
            queued: std::sync::Mutex::new(HashMap::new()),
            max: config.max_queue_per_agency.max(1),
        });
        let handle = SequencerHandle {
            tx,
            pending: pending.clone(),
            max_queue: config.max_queue,
            shares: shares.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut n = first.subs.len();
                    let mut jobs = vec![first];
                    while n < config.max_batch {
                        match rx.try_recv() {
                            Ok(j) => {
                                n += j.subs.len();
                                jobs.push(j);
                            }
                            Err(_) => break,
                        }
                    }
                    let mut subs = Vec::with_capacity(n);
                    let mut shapes = Vec::with_capacity(jobs.len());
                    for j in &mut jobs {
                        shapes.push(j.subs.len());
                        subs.append(&mut j.subs);
                    }
                    let started = Instant::now();
                    if let Some(refusal) = clock_refusal(&core, config.clock_skew_limit) {
                        // `shapes`: each job's submission count (moved into `subs`).
                        for (job, len) in jobs.into_iter().zip(shapes) {
                            pending.fetch_sub(len, Ordering::SeqCst);
                            shares.give_back(&job.shares);
                            let _ = job.reply.send(vec![Err(refusal.clone()); len]);
                        }
                        continue;
                    }
                    let out = core.process(subs, Batch::new());
                    // Rejections are counted by the API layer, which answers them.
                    metrics.observe_batch(n, out.appended, started.elapsed());
                    // The tree can also grow without appends here: after a failed
                    // write the sequencer reloads from the store, which may hold
                    // the batch whose write reported failure (spec/durability.md
                    // §1.3); announce it all the same, so that it is checkpointed.
                    // Never from a failed batch: its `committed` is not stored.
                    let grew = out.appended > 0
                        || (out.reloaded && out.committed.size != committed.borrow().size);
                    if grew {
                        committed.send_replace(out.committed);
                        metrics.tree_size.set(out.committed.size as i64);
                    }
                    // Agency records carry entry counts and chain heads: refresh
                    // them after every commit (there are few agencies).
                    if (grew || out.registry_changed)
                        && let Ok(mut a) = agencies.write()
                    {
                        *a = core.agencies();
                    }
                    let mut results = out.results.into_iter();
                    for (job, len) in jobs.into_iter().zip(shapes) {
                        let mine: Vec<_> = results.by_ref().take(len).collect();
                        metrics.observe_append_latency(job.enqueued.elapsed());
                        pending.fetch_sub(len, Ordering::SeqCst);
                        shares.give_back(&job.shares);
                        // The requester may have gone away; the entries stay appended.
                        let _ = job.reply.send(mine);
                    }
                }
                core.write_snapshot();
            })
            .expect("spawning the sequencer thread");
        (handle, thread)
    }
}
