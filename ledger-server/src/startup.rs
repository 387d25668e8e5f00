//! The checks before a stored ledger is served (spec/durability.md §3), in
//! time that does not grow with the log: the state snapshot ([`crate::snapshot`])
//! is checked against the store and the signed checkpoints, and only the tail
//! stored after it is replayed, every signature of it verified. A store
//! without a snapshot (made before snapshots existed) is replayed whole, once.
//!
//! The same walk, from entry 0 with every signature, is `ledger-server fsck`
//! ([`crate::fsck`]).

use ledger_core::TreeSize;
use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::hash::Hash;
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use ledger_core::registry::{PendingSignature, Registry, RegistryError, TrustAnchors};
use ledger_core::tile::TileBuilder;
use rayon::prelude::*;

use crate::ledger::LedgerDb;
use crate::snapshot::{self, StoredSubmissions};
use crate::store::StoreError;

/// Why the stored ledger cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored data disagrees with itself or with the last signed checkpoint.
    #[error("the stored ledger is inconsistent: {0}")]
    Inconsistent(String),
}

fn bad(m: String) -> StartupError {
    StartupError::Inconsistent(m)
}

/// The sequencer's state, rebuilt from storage.
pub struct Loaded {
    /// The registry state after the last stored entry (its submission ids in
    /// the store: [`StoredSubmissions`]).
    pub registry: Registry,
    /// The tiles' right edge after the last stored entry.
    pub builder: TileBuilder,
    /// The last persisted checkpoint (verified) and its size and root.
    pub checkpoint: Option<(Vec<u8>, TreeSize, Hash)>,
    /// The size of the state snapshot it resumed from; `None`: the whole log
    /// was replayed (no snapshot yet).
    pub resumed_from: Option<u64>,
}

/// A signed checkpoint that the stored tree must reproduce.
#[derive(Clone, Debug)]
pub struct Anchor {
    /// Which one, for messages.
    pub what: &'static str,
    /// Its size.
    pub size: TreeSize,
    /// Its root.
    pub root: Hash,
}

/// The signed checkpoints a store is checked against.
pub struct Signed {
    /// The store's own last checkpoint, verified.
    pub checkpoint: Option<(Vec<u8>, TreeSize, Hash)>,
    /// It and the published copy, if any.
    pub anchors: Vec<Anchor>,
}

impl Signed {
    /// The largest signed size: entries from here on were never signed over,
    /// and their signatures are verified before anything is.
    pub fn signed_up_to(&self) -> u64 {
        self.anchors.iter().map(|a| a.size.0).max().unwrap_or(0)
    }
}

/// Opens the store's checkpoint and the published copy (`published`, from
/// [`crate::cpfile`]): both must verify with `log_key`, and `size` entries
/// must reach them. The published copy catches a store that lost its newest
/// data (a truncated write-ahead log, an old backup restored) together with its
/// own checkpoint, which the store alone cannot notice.
///
/// # Errors
/// [`StartupError::Inconsistent`] naming the disagreement.
pub fn signed_checkpoints(
    db: &LedgerDb,
    origin: &Origin,
    log_key: &Ed25519Verifier,
    published: Option<&[u8]>,
    size: u64,
) -> Result<Signed, StartupError> {
    let open = |bytes: &[u8], what: &str| {
        let keys: [&dyn NoteVerifier; 0] = [];
        open_checkpoint(bytes, origin, log_key, &keys)
            .map(|cp| (cp.checkpoint.size, cp.checkpoint.root))
            .map_err(|e| bad(format!("{what} does not verify: {e}")))
    };
    let checkpoint = match db.checkpoint()? {
        None => None,
        Some(bytes) => {
            let (s, r) = open(&bytes, "the last persisted checkpoint")?;
            Some((bytes, s, r))
        }
    };
    let mut anchors = Vec::new();
    if let Some((_, size, root)) = &checkpoint {
        anchors.push(Anchor {
            what: "the last signed checkpoint in the store",
            size: *size,
            root: *root,
        });
    }
    if let Some(bytes) = published {
        let (size, root) = open(bytes, "the published checkpoint copy (checkpoint file)")?;
        anchors.push(Anchor {
            what: "the last published checkpoint (checkpoint file)",
            size,
            root,
        });
    }
    for a in &anchors {
        if a.size.0 > size {
            return Err(bad(format!(
                "{} has size {}, but only {size} entries are stored: entries were lost or an older copy of the store was restored",
                a.what, a.size.0
            )));
        }
        if a.size.0 == 0 && a.root != Hash::empty_tree() {
            return Err(bad(format!(
                "{} is for size 0 but not the empty tree's root",
                a.what
            )));
        }
    }
    Ok(Signed {
        checkpoint,
        anchors,
    })
}

/// A registry before entry 0 whose submission ids are the store's
/// idempotency records.
pub fn fresh_registry(db: &LedgerDb, origin: &Origin, log_key: &Ed25519Verifier) -> Registry {
    let mut r = Registry::new(origin.as_str(), anchors(log_key));
    r.set_submission_ids(Box::new(StoredSubmissions::new(db.clone())));
    r
}

/// The trust anchors of a server's own registry: its log key (genesis must
/// name it); the authority is the one genesis names.
pub fn anchors(log_key: &Ed25519Verifier) -> TrustAnchors {
    TrustAnchors {
        authority_key: None,
        log_vkey: Some(log_key.to_vkey()),
    }
}

/// How many entries to read per range read when replaying.
const CHUNK: u64 = 4096;

/// Replays stored entries from `builder`'s size up to `to` through `registry`
/// and `builder` (spec/registry.md §4): every rule, every entry's idempotency
/// record (it must name the entry: a duplicate, or a lost record, is refused),
/// every full tile completed on the way compared byte for byte with the
/// stored one, each anchor's root at its size, and the signature of every
/// entry from `verify_from` on (strictly, on all cores). `progress` is told
/// each chunk's end.
///
/// # Errors
/// [`StartupError::Inconsistent`] naming the first disagreement.
pub fn walk(
    db: &LedgerDb,
    registry: &mut Registry,
    builder: &mut TileBuilder,
    to: u64,
    anchors: &[Anchor],
    verify_from: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<(), StartupError> {
    let mut next = builder.size().0;
    while next < to {
        let end = (next + CHUNK).min(to);
        let mut pending: Vec<PendingSignature> = Vec::new();
        for (i, bytes) in (next..end).zip(db.entries(next, end)?) {
            let (applied, signature) = registry.apply_deferred(&bytes).map_err(|e| match e {
                RegistryError::SubmissionIds { source, .. } => {
                    StartupError::Store(StoreError::Unavailable(source.0))
                }
                e => bad(format!("stored entry {i} breaks the rules: {e}")),
            })?;
            let st = &applied.statement;
            let record = db.dedup(st.agency.as_str(), st.submission_id.as_str())?;
            if record != Some(i) {
                return Err(bad(format!(
                    "the idempotency record of entry {i} (agency {}, submission id {:?}) {}",
                    st.agency,
                    st.submission_id.as_str(),
                    match record {
                        None => "is missing".to_owned(),
                        Some(j) => format!("names entry {j}"),
                    }
                )));
            }
            if i >= verify_from {
                pending.push(signature);
            }
            builder.append(applied.leaf_hash);
            compare_completed(db, builder)?;
            for a in anchors {
                if builder.size() == a.size && builder.root() != a.root {
                    return Err(bad(format!(
                        "the entries hash to root {} at size {}, but {} says {}",
                        builder.root(),
                        a.size.0,
                        a.what,
                        a.root
                    )));
                }
            }
        }
        verify_signatures(&pending, anchors)?;
        progress(end);
        next = end;
    }
    Ok(())
}

/// Compares the full tiles `builder` completed with the stored ones.
fn compare_completed(db: &LedgerDb, builder: &mut TileBuilder) -> Result<(), StartupError> {
    for (tile, data) in builder.take_completed() {
        if db.tile_data(tile.level(), tile.index())?.as_deref() != Some(&data[..]) {
            return Err(bad(format!(
                "stored tile {} differs from the one recomputed from the entries",
                tile.path()
            )));
        }
    }
    Ok(())
}

/// Verifies `pending` strictly on all cores; the lowest failing index.
fn verify_signatures(pending: &[PendingSignature], anchors: &[Anchor]) -> Result<(), StartupError> {
    let failed = pending
        .par_iter()
        .filter_map(|p| p.verify().err().map(|e| (p.index.0, e)))
        .min_by_key(|(i, _)| *i);
    let Some((i, e)) = failed else {
        return Ok(());
    };
    let signed = anchors.iter().map(|a| a.size.0).max().unwrap_or(0);
    Err(bad(if i >= signed {
        format!(
            "stored entry {i}, past the last signed checkpoint (size {signed}), does not verify: {e}; \
             refusing to sign a checkpoint over it"
        )
    } else {
        format!("stored entry {i} does not verify: {e}")
    }))
}

/// Compares `builder`'s partial tiles with the stored ones (which are those of
/// the stored size, so `builder` must be at it).
///
/// # Errors
/// [`StartupError::Inconsistent`] naming the first that differs.
pub fn compare_partial(db: &LedgerDb, builder: &TileBuilder) -> Result<(), StartupError> {
    for (tile, data) in builder.partial_tiles() {
        if db.tile_data(tile.level(), tile.index())?.as_deref() != Some(&data[..]) {
            return Err(bad(format!(
                "stored partial tile {} differs from the one recomputed from the entries",
                tile.path()
            )));
        }
    }
    Ok(())
}

/// Rebuilds the sequencer's state from storage and checks it
/// (spec/durability.md §3): from the state snapshot and the tail after it if
/// the store has a snapshot ([`snapshot::resume`]), else by replaying every
/// entry, verifying the signatures of those past the last signed checkpoint.
/// `published` is the copy of the latest published checkpoint kept outside the
/// store ([`crate::cpfile`]), if any.
///
/// # Errors
/// [`StartupError::Inconsistent`] naming the first disagreement.
pub fn load(
    db: &LedgerDb,
    origin: &Origin,
    log_key: &Ed25519Verifier,
    published: Option<&[u8]>,
) -> Result<Loaded, StartupError> {
    let size = db.size()?;
    let signed = signed_checkpoints(db, origin, log_key, published, size)?;
    if let Some(snap) = snapshot::read(db)? {
        let (registry, builder) = snapshot::resume(db, &snap, origin, log_key, &signed, size)?;
        return Ok(Loaded {
            registry,
            builder,
            checkpoint: signed.checkpoint,
            resumed_from: Some(snap.size),
        });
    }
    let mut registry = fresh_registry(db, origin, log_key);
    let mut builder = TileBuilder::new();
    walk(
        db,
        &mut registry,
        &mut builder,
        size,
        &signed.anchors,
        signed.signed_up_to(),
        &mut |_| {},
    )?;
    compare_partial(db, &builder)?;
    Ok(Loaded {
        registry,
        builder,
        checkpoint: signed.checkpoint,
        resumed_from: None,
    })
}
