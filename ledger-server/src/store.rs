//! Storage: a small key-value trait with one column family per kind of data
//! (DESIGN.md §5), a RocksDB implementation (the default, one directory) and an
//! in-memory one for tests, which can also inject write failures.
//!
//! The ledger needs only point reads, ordered range reads and one atomic, durable
//! batch write per sequencer batch; the key layout is in [`crate::ledger`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, DBCompressionType, DBRecoveryMode, Direction,
    IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions,
};

/// The column families: one per kind of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cf {
    /// index → entry envelope (spec/entry.md §2).
    Entries,
    /// (tile level, tile index) → hash tile data, full or the current partial tile.
    Tiles,
    /// index → nonce (12) ‖ the salt and private payload, encrypted with the
    /// payload's own key (kept beside the log, never in it; spec/durability.md §5).
    Payloads,
    /// agency 0x00 submission id → index (idempotency).
    Dedup,
    /// agency 0x00 index → ∅ (search by agency).
    ByAgency,
    /// type 0x00 index → ∅ (search by type).
    ByType,
    /// channel 0x00 index → ∅ (search by channel).
    ByChannel,
    /// Tree size, the latest signed checkpoint, the origin.
    Meta,
    /// target index (8) ‖ access index (8) → ∅: the reads and erasures that
    /// name an entry (spec/registry.md §6).
    Accesses,
    /// target index (8) → erasure index (8): payloads erased.
    Erasures,
    /// index → the payload's 32-byte key. Only in the separate key store
    /// (`DATA/payload-keys`), never in the ledger store.
    PayloadKeys,
}

impl Cf {
    /// Every column family.
    pub const ALL: [Cf; 11] = [
        Cf::Entries,
        Cf::Tiles,
        Cf::Payloads,
        Cf::Dedup,
        Cf::ByAgency,
        Cf::ByType,
        Cf::ByChannel,
        Cf::Meta,
        Cf::Accesses,
        Cf::Erasures,
        Cf::PayloadKeys,
    ];

    /// The column family's name in RocksDB.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Entries => "entries",
            Cf::Tiles => "tiles",
            Cf::Payloads => "payloads",
            Cf::Dedup => "dedup",
            Cf::ByAgency => "by_agency",
            Cf::ByType => "by_type",
            Cf::ByChannel => "by_channel",
            Cf::Meta => "meta",
            Cf::Accesses => "accesses",
            Cf::Erasures => "erasures",
            Cf::PayloadKeys => "payload_keys",
        }
    }
}

/// Errors from the storage layer. At the API every one is HTTP 503; the text is
/// logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error (I/O, corruption, a full disk).
    #[error("RocksDB: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A column family that the store needs is missing.
    #[error("column family {0:?} is missing")]
    MissingColumnFamily(&'static str),
    /// An injected failure (tests), or a store that refuses writes.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data that does not decode: the store is corrupt.
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

/// Puts and deletes to apply atomically.
#[derive(Default, Debug)]
pub struct Batch {
    ops: Vec<(Cf, Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds `key = value` in `cf`.
    pub fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((cf, key.into(), Some(value.into())));
    }

    /// Deletes `key` in `cf`.
    pub fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>>) {
        self.ops.push((cf, key.into(), None));
    }

    /// The number of puts and deletes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// What the ledger needs from storage.
pub trait Storage: Send + Sync {
    /// The value of `key` in `cf`.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The pairs with `from <= key < to` in `cf`, in key order, at most `limit`.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    fn range(
        &self,
        cf: Cf,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError>;

    /// After a failed [`Storage::write`], makes the store writable again if it
    /// can (RocksDB: reopens it, see [`RocksStore`]). The sequencer calls it
    /// before it reloads its state from the store, and only then writes.
    ///
    /// # Errors
    /// A [`StoreError`] if the store is still not writable.
    fn recover(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Applies every put in `batch` atomically and durably: when this returns
    /// `Ok`, the batch survives a crash of the process or the machine (a synced
    /// write-ahead log), and on `Err` none of it is visible.
    ///
    /// # Errors
    /// A [`StoreError`] if the write failed (for example, the disk is full).
    fn write(&self, batch: Batch) -> Result<(), StoreError>;

    /// Writes the memtables to table files (a clean stop), so that the next
    /// open has no write-ahead log to replay: a clean restart's time then does
    /// not depend on how much was written since the last flush.
    ///
    /// # Errors
    /// A [`StoreError`] if the flush fails (nothing is lost: the log holds it).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Removes the bytes of deleted values of `cf` in the key range
    /// `[from, to)` from the store's files: every column family's memtable is
    /// flushed (so that no write-ahead log still holds them) and that range of
    /// `cf` is compacted down to the last level (so that no table file does).
    /// Erasure calls it (spec/durability.md §5).
    ///
    /// # Errors
    /// A [`StoreError`] if a flush or compaction fails.
    fn purge(&self, cf: Cf, from: &[u8], to: &[u8]) -> Result<(), StoreError> {
        let _ = (cf, from, to);
        Ok(())
    }
}

/// Memory for RocksDB memtables, all column families together.
const MEMTABLE_BUDGET: usize = 64 << 20;

/// How the RocksDB store uses memory (spec/durability.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// The block cache shared by all column families, in bytes. It also holds
    /// the table files' index and filter blocks, so that the store's memory
    /// stays within memtables plus this cache however large the log grows.
    pub block_cache_bytes: usize,
}

impl StoreOptions {
    /// The default block cache: 128 MiB.
    pub const DEFAULT_BLOCK_CACHE: usize = 128 << 20;
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_cache_bytes: StoreOptions::DEFAULT_BLOCK_CACHE,
        }
    }
}

/// How long after a failed write the store waits before it reopens RocksDB to
/// try again; each failed reopen doubles the wait, up to [`REOPEN_MAX`], so that
/// a disk that stays full is not reopened (log replay, cold cache, reads held)
/// every second.
const REOPEN_AFTER: Duration = Duration::from_secs(1);
/// The longest wait between two reopens.
const REOPEN_MAX: Duration = Duration::from_secs(30);

/// The RocksDB store: one directory, one column family per [`Cf`].
///
/// RocksDB keeps an instance whose log write failed (a full or read-only disk)
/// read-only for good. So after a failed write, writes are refused until
/// [`Storage::recover`] (after [`REOPEN_AFTER`], backing off) closes and reopens
/// the database, which recovers it from its synced log exactly as a restart
/// would (spec/durability.md §1): once space returns, appends work again without
/// a restart. Reads go on throughout, except during the reopen itself; if the
/// reopen fails, the store serves reads from a read-only instance meanwhile.
pub struct RocksStore {
    dir: PathBuf,
    options: StoreOptions,
    db: RwLock<Option<DB>>,
    /// After a failed write, while the instance may be stuck read-only.
    reopen: Mutex<Reopen>,
}

/// When to reopen the store after failed writes.
struct Reopen {
    /// The earliest moment to reopen, if a write failed since the last reopen.
    at: Option<Instant>,
    /// The wait before the next reopen: doubled by every failure, reset by a
    /// successful write.
    wait: Duration,
}

impl Reopen {
    fn failed(&mut self) {
        self.at = Some(Instant::now() + self.wait);
        self.wait = (self.wait * 2).min(REOPEN_MAX);
    }
}

impl RocksStore {
    /// Opens (creating if needed) the store in `dir`, with every column family.
    ///
    /// # Errors
    /// [`StoreError::Rocks`] if RocksDB cannot open the directory (it is locked by
    /// another process, unreadable, or corrupt).
    pub fn open(dir: &Path) -> Result<RocksStore, StoreError> {
        RocksStore::open_with(dir, StoreOptions::default())
    }

    /// As [`RocksStore::open`], with the given memory settings.
    ///
    /// # Errors
    /// As [`RocksStore::open`].
    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<RocksStore, StoreError> {
        let db = open_db(dir, false, options)?;
        Ok(RocksStore {
            dir: dir.to_owned(),
            options,
            db: RwLock::new(Some(db)),
            reopen: Mutex::new(Reopen {
                at: None,
                wait: REOPEN_AFTER,
            }),
        })
    }

    /// Runs `f` on the open database.
    fn with_db<T>(&self, f: impl FnOnce(&DB) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(db) => f(db),
            None => Err(StoreError::Unavailable(
                "the store could not be reopened after a failed write".into(),
            )),
        }
    }

    /// Closes and reopens the database (see [`RocksStore`]); if it cannot be
    /// opened for writing, opens it read-only so that reads go on.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
        // The old instance must be closed first: it holds the directory's lock.
        drop(guard.take());
        match open_db(&self.dir, false, self.options) {
            Ok(db) => {
                *guard = Some(db);
                tracing::info!("the store was reopened after a failed write");
                Ok(())
            }
            Err(e) => {
                *guard = open_db(&self.dir, true, self.options).ok();
                Err(e)
            }
        }
    }
}

fn handle(db: &DB, cf: Cf) -> Result<&rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(cf.name())
        .ok_or(StoreError::MissingColumnFamily(cf.name()))
}

/// Opens the RocksDB database in `dir` with the store's options (read-only: no
/// lock, no writes, for serving reads while the disk refuses writes).
fn open_db(dir: &Path, read_only: bool, options: StoreOptions) -> Result<DB, StoreError> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_background_jobs(2);
    // Bound memory: memtables of all column families together, and one block
    // cache shared by all of them.
    opts.set_db_write_buffer_size(MEMTABLE_BUDGET);
    // A write-ahead log file is kept until every column family with data in
    // it is flushed, and a column family with few writes (meta) flushes
    // rarely: without a bound, the log replayed after a crash grows with the
    // writes since. Past this size, the column families holding the oldest
    // log are flushed, so recovery replays at most about this much.
    opts.set_max_total_wal_size(MEMTABLE_BUDGET as u64);
    let cache = rocksdb::Cache::new_lru_cache(options.block_cache_bytes);
    // Refuse to open a store whose files fail their checksums.
    opts.set_paranoid_checks(true);
    // Every acknowledged write was synced to the write-ahead log before it
    // was acknowledged. A crash (kill -9, power loss) can leave only the
    // record being written incomplete, at the log's tail, and that write was
    // never acknowledged: tolerate exactly that. Damage anywhere else would
    // silently drop acknowledged appends (the default, point-in-time
    // recovery, stops at the first bad record), so refuse to open instead.
    // A log cut short by more than one record looks like a crash tail; the
    // published checkpoint copy (`crate::cpfile`) catches that loss.
    opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    let cfs = Cf::ALL.iter().map(|cf| {
        let mut o = Options::default();
        // Hashes do not compress; everything else (JSON, keys) does.
        o.set_compression_type(if *cf == Cf::Tiles {
            DBCompressionType::None
        } else {
            DBCompressionType::Lz4
        });
        o.set_write_buffer_size(if *cf == Cf::Entries {
            MEMTABLE_BUDGET / 2
        } else {
            MEMTABLE_BUDGET / 8
        });
        let mut block = BlockBasedOptions::default();
        block.set_block_size(16 * 1024);
        block.set_block_cache(&cache);
        // Index and filter blocks live in the block cache, not beside it: their
        // memory is bounded by the cache instead of growing with the table
        // files (level 0's stay pinned: they are read by every lookup).
        block.set_cache_index_and_filter_blocks(true);
        block.set_pin_l0_filter_and_index_blocks_in_cache(true);
        if *cf == Cf::Dedup {
            // Every append looks its submission id up here, and a new id is
            // in no table file: a bloom filter (10 bits per key, about 1%
            // false positives) answers most such lookups without a block read.
            block.set_bloom_filter(10.0, false);
            block.set_whole_key_filtering(true);
        }
        o.set_block_based_table_factory(&block);
        ColumnFamilyDescriptor::new(cf.name(), o)
    });
    if read_only {
        let names: Vec<&str> = Cf::ALL.iter().map(|cf| cf.name()).collect();
        return Ok(DB::open_cf_for_read_only(&opts, dir, names, false)?);
    }
    Ok(DB::open_cf_descriptors(&opts, dir, cfs)?)
}

impl RocksStore {
    /// Flushes every column family (and compacts it, with `compact`) and returns
    /// the bytes of table files per column family: what the data costs on disk.
    ///
    /// # Errors
    /// [`StoreError::Rocks`] if a flush or compaction fails.
    pub fn disk_usage(&self, compact: bool) -> Result<Vec<(&'static str, u64)>, StoreError> {
        self.with_db(|db| {
            let mut out = Vec::new();
            for cf in Cf::ALL {
                let h = handle(db, cf)?;
                db.flush_cf(h)?;
                if compact {
                    db.compact_range_cf(h, None::<&[u8]>, None::<&[u8]>);
                }
                let bytes = db
                    .property_int_value_cf(h, "rocksdb.total-sst-files-size")?
                    .unwrap_or(0);
                out.push((cf.name(), bytes));
            }
            Ok(out)
        })
    }

    /// Reads every key and value of every column family with checksum
    /// verification, and returns the number of pairs read: a damaged table file
    /// is found here, at startup, rather than by the first client that asks for
    /// the data in it.
    ///
    /// # Errors
    /// [`StoreError::Rocks`] naming the first block that fails its checksum.
    pub fn verify_checksums(&self) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let mut pairs = 0u64;
            for cf in Cf::ALL {
                let mut ro = ReadOptions::default();
                ro.set_verify_checksums(true);
                ro.fill_cache(false);
                let mut it = db.raw_iterator_cf_opt(handle(db, cf)?, ro);
                it.seek_to_first();
                while it.valid() {
                    pairs += 1;
                    it.next();
                }
                it.status()?;
            }
            Ok(pairs)
        })
    }

    /// Writes a consistent copy of the store to `dir` (a RocksDB checkpoint: hard
    /// links where possible), for backups. `dir` must not exist.
    ///
    /// # Errors
    /// [`StoreError::Rocks`] if the checkpoint cannot be made.
    pub fn backup(&self, dir: &Path) -> Result<(), StoreError> {
        self.with_db(|db| {
            let cp = rocksdb::checkpoint::Checkpoint::new(db)?;
            cp.create_checkpoint(dir)?;
            Ok(())
        })
    }
}

impl Storage for RocksStore {
    fn flush(&self) -> Result<(), StoreError> {
        self.with_db(|db| {
            let handles = Cf::ALL
                .iter()
                .map(|c| handle(db, *c))
                .collect::<Result<Vec<_>, _>>()?;
            let mut fo = rocksdb::FlushOptions::default();
            fo.set_wait(true);
            db.flush_cfs_opt(&handles, &fo)?;
            Ok(())
        })
    }

    fn purge(&self, cf: Cf, from: &[u8], to: &[u8]) -> Result<(), StoreError> {
        self.with_db(|db| {
            let handles = Cf::ALL
                .iter()
                .map(|c| handle(db, *c))
                .collect::<Result<Vec<_>, _>>()?;
            let mut fo = rocksdb::FlushOptions::default();
            fo.set_wait(true);
            db.flush_cfs_opt(&handles, &fo)?;
            db.flush_wal(true)?;
            let mut co = rocksdb::CompactOptions::default();
            co.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
            co.set_exclusive_manual_compaction(true);
            db.compact_range_cf_opt(handle(db, cf)?, Some(from), Some(to), &co);
            Ok(())
        })
    }

    fn recover(&self) -> Result<(), StoreError> {
        let mut reopen = self.reopen.lock().unwrap_or_else(|p| p.into_inner());
        let Some(at) = reopen.at else {
            return Ok(());
        };
        if Instant::now() < at {
            return Err(StoreError::Unavailable(
                "a write failed; retrying shortly".into(),
            ));
        }
        match self.reopen() {
            Ok(()) => {
                reopen.at = None;
                Ok(())
            }
            Err(e) => {
                reopen.failed();
                Err(e)
            }
        }
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_db(|db| Ok(db.get_cf(handle(db, cf)?, key)?))
    }

    fn range(
        &self,
        cf: Cf,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.with_db(|db| {
            let mut out = Vec::new();
            let iter = db.iterator_cf(
                handle(db, cf)?,
                IteratorMode::From(from, Direction::Forward),
            );
            for item in iter {
                if out.len() >= limit {
                    break;
                }
                let (k, v) = item?;
                if &*k >= to {
                    break;
                }
                out.push((k.into_vec(), v.into_vec()));
            }
            Ok(out)
        })
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let mut reopen = self.reopen.lock().unwrap_or_else(|p| p.into_inner());
        if reopen.at.is_some() {
            // Only `recover` reopens, and every writer calls it first. The
            // reopened store can hold a batch whose write reported failure (its
            // log record was written, its sync failed); the sequencer, whose
            // write that was, reloads its state after `recover` and before it
            // writes again.
            return Err(StoreError::Unavailable(
                "a write failed; the store is reopened before the next one".into(),
            ));
        }
        let result = self.with_db(|db| {
            let mut wb = WriteBatch::default();
            for (cf, k, v) in &batch.ops {
                match v {
                    Some(v) => wb.put_cf(handle(db, *cf)?, k, v),
                    None => wb.delete_cf(handle(db, *cf)?, k),
                }
            }
            let mut wo = WriteOptions::default();
            wo.set_sync(true);
            db.write_opt(wb, &wo)?;
            Ok(())
        });
        match result {
            Ok(()) => reopen.wait = REOPEN_AFTER,
            Err(_) => reopen.failed(),
        }
        result
    }
}

type MemData = BTreeMap<(Cf, Vec<u8>), Vec<u8>>;

/// The contents of a [`MemStore`] at one moment.
pub struct MemSnapshot(MemData);

/// An in-memory store for tests. [`MemStore::fail_writes`] makes writes fail, as a
/// full disk would.
#[derive(Default)]
pub struct MemStore {
    data: RwLock<MemData>,
    fail_writes: AtomicBool,
    panic_writes: AtomicBool,
    fail_key: Mutex<Option<(Cf, Vec<u8>)>>,
    gate: Mutex<()>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Holds every write until the guard is dropped (tests: a slow disk).
    pub fn block_writes(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on, writes fail (`true`) or succeed (`false`).
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// From now on, writes panic (tests: a writer thread that dies).
    pub fn panic_writes(&self, panic: bool) {
        self.panic_writes.store(panic, Ordering::SeqCst);
    }

    /// From now on, a write that puts `key` in `cf` fails (tests: the
    /// checkpointer's writes, `meta`/`checkpoint`, fail while appends work);
    /// `None` ends it.
    pub fn fail_writes_of(&self, target: Option<(Cf, Vec<u8>)>) {
        *self.fail_key.lock().unwrap_or_else(|p| p.into_inner()) = target;
    }

    /// A copy of everything stored now, to put back later with
    /// [`MemStore::restore`] (tests: an operator restoring an older copy).
    pub fn snapshot(&self) -> MemSnapshot {
        MemSnapshot(self.data.read().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Replaces everything stored with `snapshot`, under a running process.
    pub fn restore(&self, snapshot: MemSnapshot) {
        *self.data.write().unwrap_or_else(|p| p.into_inner()) = snapshot.0;
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, MemData>, StoreError> {
        self.data
            .read()
            .map_err(|_| StoreError::Unavailable("poisoned lock".into()))
    }
}

impl Storage for MemStore {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read()?.get(&(cf, key.to_vec())).cloned())
    }

    fn range(
        &self,
        cf: Cf,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        Ok(self
            .read()?
            .range((cf, from.to_vec())..(cf, to.to_vec()))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        drop(self.gate.lock().unwrap_or_else(|p| p.into_inner()));
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected write failure".into()));
        }
        assert!(
            !self.panic_writes.load(Ordering::SeqCst),
            "injected panic in a store write"
        );
        if let Some((cf, key)) = &*self.fail_key.lock().unwrap_or_else(|p| p.into_inner())
            && batch.ops.iter().any(|(c, k, _)| c == cf && k == key)
        {
            return Err(StoreError::Unavailable(
                "injected write failure for one key".into(),
            ));
        }
        let mut data = self
            .data
            .write()
            .map_err(|_| StoreError::Unavailable("poisoned lock".into()))?;
        for (cf, k, v) in batch.ops {
            match v {
                Some(v) => data.insert((cf, k), v),
                None => data.remove(&(cf, k)),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn Storage) {
        let mut b = Batch::new();
        b.put(Cf::Entries, [0u8, 1], b"one".to_vec());
        b.put(Cf::Entries, [0u8, 2], b"two".to_vec());
        b.put(Cf::Entries, [0u8, 3], b"three".to_vec());
        b.put(Cf::Meta, b"size".to_vec(), 3u64.to_be_bytes().to_vec());
        store.write(b).unwrap();
        assert_eq!(store.get(Cf::Entries, &[0, 2]).unwrap().unwrap(), b"two");
        assert_eq!(store.get(Cf::Tiles, &[0, 2]).unwrap(), None);
        let r = store.range(Cf::Entries, &[0, 2], &[0, 9], 10).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].1, b"two");
        let r = store.range(Cf::Entries, &[0, 0], &[0, 9], 1).unwrap();
        assert_eq!(r, vec![(vec![0, 1], b"one".to_vec())]);
        assert!(
            store
                .range(Cf::Entries, &[0, 3], &[0, 3], 9)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rocks_store_reads_what_it_wrote_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RocksStore::open(dir.path()).unwrap();
            exercise(&s);
        }
        let s = RocksStore::open(dir.path()).unwrap();
        assert_eq!(s.get(Cf::Entries, &[0, 3]).unwrap().unwrap(), b"three");
        let backup = dir.path().join("backup");
        s.backup(&backup).unwrap();
        drop(s);
        let b = RocksStore::open(&backup).unwrap();
        assert_eq!(b.get(Cf::Entries, &[0, 1]).unwrap().unwrap(), b"one");
    }

    #[test]
    fn mem_store_behaves_like_rocks_and_injects_failures() {
        let s = MemStore::new();
        exercise(&s);
        s.fail_writes(true);
        let mut b = Batch::new();
        b.put(Cf::Meta, b"x".to_vec(), b"y".to_vec());
        assert!(s.write(b).is_err());
        assert_eq!(s.get(Cf::Meta, b"x").unwrap(), None);
    }
}
