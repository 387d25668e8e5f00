//! `ledger-server fsck --data DIR`: the full offline check of a stopped
//! ledger, or of a copy or backup of one (spec/durability.md §3.5). It checks
//! everything startup no longer does, whatever it costs:
//!
//! 1. every block of every column family, with its checksum;
//! 2. every entry from 0, through every registry rule and with every
//!    signature verified (strictly, on all cores), and its idempotency record;
//! 3. every tile, full and partial, recomputed from the entries;
//! 4. the root at the size of the store's checkpoint and of `DIR/checkpoint`;
//! 5. the state snapshot, against the state replayed from the entries at its size;
//! 6. that the idempotency records are exactly one per entry.
//!
//! It reports progress on standard error. Exit codes (`main`): 0 checked and
//! sound, 1 a problem found (named), 2 could not check (the store is locked by
//! a running server, unreadable, or not a ledger).

use std::path::Path;
use std::sync::Arc;

use ledger_core::checkpoint::Origin;
use ledger_core::note::{Ed25519Verifier, NoteVerifier as _};
use ledger_core::tile::TileBuilder;

use crate::cpfile::CheckpointFile;
use crate::ledger::LedgerDb;
use crate::snapshot::{self, Snapshot};
use crate::startup::{StartupError, compare_partial, fresh_registry, signed_checkpoints, walk};
use crate::store::{Cf, RocksStore, Storage, StoreError};

/// Why `fsck` did not pass.
#[derive(Debug, thiserror::Error)]
pub enum FsckError {
    /// The data is damaged or inconsistent: what was found.
    #[error("{0}")]
    Problem(String),
    /// The check could not be made.
    #[error("could not check: {0}")]
    Unable(String),
}

impl From<StoreError> for FsckError {
    fn from(e: StoreError) -> FsckError {
        match &e {
            StoreError::Rocks(r) if r.kind() == rocksdb::ErrorKind::Corruption => {
                FsckError::Problem(format!("the store is corrupt: {e}"))
            }
            StoreError::Corrupt(_) => FsckError::Problem(e.to_string()),
            _ => FsckError::Unable(e.to_string()),
        }
    }
}

impl From<StartupError> for FsckError {
    fn from(e: StartupError) -> FsckError {
        match e {
            StartupError::Store(s) => s.into(),
            StartupError::Inconsistent(m) => FsckError::Problem(m),
        }
    }
}

/// What a passing `fsck` checked.
#[derive(Debug)]
pub struct Report {
    /// Key-value pairs read with their checksums.
    pub pairs: u64,
    /// The rest ([`check`]).
    pub checked: Checked,
}

/// Runs every check on the data directory `data` (module doc), telling
/// `progress` what it is doing.
///
/// # Errors
/// [`FsckError::Problem`] naming the first problem, or [`FsckError::Unable`].
pub fn fsck(data: &Path, progress: &mut dyn FnMut(&str)) -> Result<Report, FsckError> {
    let dir = crate::node::db_dir(data);
    if !dir.exists() {
        return Err(FsckError::Unable(format!(
            "{} is not a ledger data directory (no db/)",
            data.display()
        )));
    }
    let rocks = RocksStore::open(&dir).map_err(|e| match &e {
        StoreError::Rocks(r) if r.kind() == rocksdb::ErrorKind::Corruption => {
            FsckError::Problem(format!("the store does not open: {e}"))
        }
        _ => FsckError::Unable(format!(
            "cannot open the store {} (a server running on it holds its lock; fsck a stopped \
             ledger or a copy): {e}",
            dir.display()
        )),
    })?;
    progress("checking every block's checksum");
    let pairs = rocks.verify_checksums()?;
    progress(&format!(
        "checksums: {pairs} key-value pairs read, every block verified"
    ));
    let store: Arc<dyn Storage> = Arc::new(rocks);
    let db = LedgerDb::without_keys(store);
    let origin = db
        .origin()?
        .ok_or_else(|| FsckError::Problem("the store has no origin (no genesis)".into()))?;
    let origin =
        Origin::new(&origin).map_err(|e| FsckError::Problem(format!("the stored origin: {e}")))?;
    let log_key = log_key(data, &db, &origin, progress)?;
    let published = CheckpointFile::new(data)
        .read()
        .map_err(|e| FsckError::Unable(format!("reading DIR/checkpoint: {e}")))?;
    let checked = check(&db, &origin, &log_key, published.as_deref(), progress)?;
    Ok(Report { pairs, checked })
}

/// What [`check`] checked.
#[derive(Debug)]
pub struct Checked {
    /// Entries replayed, with every rule and signature.
    pub entries: u64,
    /// The size of the state snapshot compared, if the store has one.
    pub snapshot: Option<u64>,
    /// The signed checkpoints whose roots were reproduced: (what, size).
    pub checkpoints: Vec<(&'static str, u64)>,
}

/// Checks 2 to 6 of the module doc on an open ledger store, with the log's
/// key and the published checkpoint copy, if any.
///
/// # Errors
/// [`FsckError::Problem`] naming the first problem, or [`FsckError::Unable`].
pub fn check(
    db: &LedgerDb,
    origin: &Origin,
    log_key: &Ed25519Verifier,
    published: Option<&[u8]>,
    progress: &mut dyn FnMut(&str),
) -> Result<Checked, FsckError> {
    let size = db.size()?;
    let signed = signed_checkpoints(db, origin, log_key, published, size)?;
    let snap = snapshot::read(db)?;
    let mut registry = fresh_registry(db, origin, log_key);
    let mut builder = TileBuilder::new();
    let mut shown = 0u64;
    if let Some(snap) = &snap {
        if snap.size > size {
            return Err(FsckError::Problem(format!(
                "the state snapshot is at size {}, but only {size} entries are stored",
                snap.size
            )));
        }
        let mut tell = ticker(size, &mut shown, &mut *progress);
        walk(
            db,
            &mut registry,
            &mut builder,
            snap.size,
            &signed.anchors,
            0,
            &mut tell,
        )?;
        drop(tell);
        if Snapshot::of(&registry, &builder) != *snap {
            return Err(FsckError::Problem(format!(
                "the state snapshot at size {} differs from the state replayed from the entries",
                snap.size
            )));
        }
        progress(&format!(
            "state snapshot at size {}: as replayed",
            snap.size
        ));
    }
    let mut tell = ticker(size, &mut shown, &mut *progress);
    walk(
        db,
        &mut registry,
        &mut builder,
        size,
        &signed.anchors,
        0,
        &mut tell,
    )?;
    drop(tell);
    compare_partial(db, &builder)?;
    progress("tiles: every full and partial tile as recomputed");
    let records = count(db.store().as_ref(), Cf::Dedup)?;
    if records != size {
        return Err(FsckError::Problem(format!(
            "{records} idempotency records for {size} entries: {} stray",
            records.saturating_sub(size)
        )));
    }
    progress("idempotency records: exactly one per entry");
    Ok(Checked {
        entries: size,
        snapshot: snap.map(|s| s.size),
        checkpoints: signed.anchors.iter().map(|a| (a.what, a.size.0)).collect(),
    })
}

/// Tells `progress` about every twentieth of the `size` entries replayed.
fn ticker<'a>(
    size: u64,
    shown: &'a mut u64,
    progress: &'a mut dyn FnMut(&str),
) -> impl FnMut(u64) + 'a {
    let step = (size / 20).max(4096);
    move |done| {
        if done >= *shown + step || done == size {
            *shown = done;
            progress(&format!(
                "entries: {done}/{size} replayed, every rule and signature"
            ));
        }
    }
}

/// The log's key: from `DIR/log.key` if there is one, else the one genesis
/// names (a backup of the store alone), said so.
fn log_key(
    data: &Path,
    db: &LedgerDb,
    origin: &Origin,
    progress: &mut dyn FnMut(&str),
) -> Result<Ed25519Verifier, FsckError> {
    if crate::node::log_key_path(data).exists() {
        let signer =
            crate::node::read_log_key(data).map_err(|e| FsckError::Unable(format!("{e:#}")))?;
        return Ok(signer.verifier());
    }
    let genesis = db
        .entry(0)?
        .ok_or_else(|| FsckError::Problem("entry 0 (genesis) is not stored".into()))?;
    let vkey = ledger_core::entry::Entry::decode(&genesis)
        .ok()
        .and_then(|e| ledger_core::statement::Statement::parse(&e.statement).ok())
        .and_then(|s| {
            s.object
                .get("log_vkey")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .ok_or_else(|| FsckError::Problem("entry 0 names no log key".into()))?;
    let key = Ed25519Verifier::from_vkey(&vkey)
        .map_err(|e| FsckError::Problem(format!("entry 0's log key: {e}")))?;
    if key.name().as_str() != origin.as_str() {
        return Err(FsckError::Problem(
            "entry 0's log key is not named after the origin".into(),
        ));
    }
    progress("no log.key: checking checkpoints with the log key genesis names");
    Ok(key)
}

/// The number of keys in `cf`.
fn count(store: &dyn Storage, cf: Cf) -> Result<u64, StoreError> {
    let mut n = 0u64;
    let mut from = Vec::new();
    loop {
        let page = store.range(cf, &from, &[0xff; 64], 4096)?;
        let Some((last, _)) = page.last() else {
            return Ok(n);
        };
        n += page.len() as u64;
        from = last.clone();
        from.push(0);
    }
}
