//! The state snapshot (spec/durability.md §3.3): what startup needs to resume
//! without replaying the log, written by the sequencer in the same atomic,
//! synced write as the entries it describes (`meta`/`state`), so that it is
//! never ahead of or apart from them.
//!
//! ```text
//! snapshot = version(1) = 0x01  size:u64  n:u8  (len:u16 tile_data){n}  registry_state
//! ```
//!
//! `tile_data` are the tree's partial tiles at `size`, lowest level first (its
//! right edge, [`TileBuilder::partial_tiles`]); `registry_state` is
//! [`Registry::encode_state`]: agencies, keys, grants, payload commitments and
//! the chain heads, without the submission ids, which stay in the store's
//! idempotency records ([`StoredSubmissions`]).
//!
//! A snapshot is never trusted as it stands: [`resume`] checks it against the
//! stored tree and entries and the signed checkpoints, then replays and verifies
//! the tail after it.

use ledger_core::checkpoint::Origin;
use ledger_core::hash::{Hash, leaf_hash};
use ledger_core::note::Ed25519Verifier;
use ledger_core::registry::{Registry, SubmissionIds, SubmissionIdsError};
use ledger_core::statement::{AgencyId, REGISTRY_AGENCY, Statement};
use ledger_core::tile::TileBuilder;
use ledger_core::tree::{HashReader as _, stored_hash_index, tree_hash};
use ledger_core::{LeafIndex, TreeSize};

use crate::ledger::{LedgerDb, META_STATE};
use crate::startup::{Signed, StartupError, anchors, compare_partial, walk};
use crate::store::{Batch, Cf};

/// The encoding's version byte.
const VERSION: u8 = 1;

/// A state snapshot (module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The tree size it describes.
    pub size: u64,
    /// The partial tiles' data at that size, lowest level first.
    pub partial: Vec<Vec<u8>>,
    /// [`Registry::encode_state`] at that size.
    pub registry: Vec<u8>,
}

fn malformed(m: &str) -> StartupError {
    StartupError::Inconsistent(format!("the state snapshot is malformed: {m}"))
}

impl Snapshot {
    /// The snapshot of `registry` and `builder` (at the same size).
    pub fn of(registry: &Registry, builder: &TileBuilder) -> Snapshot {
        Snapshot {
            size: builder.size().0,
            partial: builder
                .partial_tiles()
                .into_iter()
                .map(|(_, d)| d)
                .collect(),
            registry: registry.encode_state(),
        }
    }

    /// The bytes stored.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        out.extend_from_slice(&self.size.to_be_bytes());
        out.push(u8::try_from(self.partial.len()).expect("at most 8 tile levels"));
        for d in &self.partial {
            out.extend_from_slice(&u16::try_from(d.len()).expect("< 256 hashes").to_be_bytes());
            out.extend_from_slice(d);
        }
        out.extend_from_slice(&self.registry);
        out
    }

    /// Parses [`Snapshot::encode`]'s bytes (the registry state is decoded
    /// later, by [`resume`]).
    ///
    /// # Errors
    /// [`StartupError::Inconsistent`] if they are not a snapshot.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, StartupError> {
        let (&version, rest) = bytes.split_first().ok_or_else(|| malformed("empty"))?;
        if version != VERSION {
            return Err(malformed("unknown version"));
        }
        let (size, rest) = rest.split_at_checked(8).ok_or_else(|| malformed("size"))?;
        let size = u64::from_be_bytes(size.try_into().expect("8 bytes"));
        let (&n, mut rest) = rest.split_first().ok_or_else(|| malformed("tile count"))?;
        let mut partial = Vec::with_capacity(usize::from(n.min(8)));
        for _ in 0..n {
            let (len, r) = rest.split_at_checked(2).ok_or_else(|| malformed("tile"))?;
            let len = usize::from(u16::from_be_bytes(len.try_into().expect("2 bytes")));
            let (data, r) = r.split_at_checked(len).ok_or_else(|| malformed("tile"))?;
            partial.push(data.to_vec());
            rest = r;
        }
        Ok(Snapshot {
            size,
            partial,
            registry: rest.to_vec(),
        })
    }

    /// Adds the snapshot to `batch`, the sequencer's commit of the entries up
    /// to its size.
    pub fn put(&self, batch: &mut Batch) {
        batch.put(Cf::Meta, META_STATE, self.encode());
    }
}

/// The store's snapshot, if it has one.
///
/// # Errors
/// A [`StartupError`] if it cannot be read or parsed.
pub fn read(db: &LedgerDb) -> Result<Option<Snapshot>, StartupError> {
    db.store()
        .get(Cf::Meta, META_STATE)?
        .map(|b| Snapshot::decode(&b))
        .transpose()
}

/// Submission ids as the store's idempotency records (`dedup`: agency ‖ 0x00 ‖
/// submission id → index), so that the server's memory does not grow with the
/// log. [`SubmissionIds::record`] does nothing: the sequencer writes the record
/// in the same commit as the entry, and it checks the submissions of one batch
/// against each other itself.
#[derive(Clone)]
pub struct StoredSubmissions(LedgerDb);

impl StoredSubmissions {
    /// The records of `db`.
    pub fn new(db: LedgerDb) -> StoredSubmissions {
        StoredSubmissions(db)
    }
}

impl std::fmt::Debug for StoredSubmissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSubmissions")
    }
}

impl SubmissionIds for StoredSubmissions {
    fn used_at(
        &self,
        agency: &AgencyId,
        submission_id: &str,
    ) -> Result<Option<LeafIndex>, SubmissionIdsError> {
        self.0
            .dedup(agency.as_str(), submission_id)
            .map(|i| i.map(LeafIndex))
            .map_err(|e| SubmissionIdsError(e.to_string()))
    }

    fn record(&mut self, _: &AgencyId, _: &str, _: LeafIndex) -> Result<(), SubmissionIdsError> {
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn SubmissionIds> {
        Box::new(self.clone())
    }
}

fn bad(m: String) -> StartupError {
    StartupError::Inconsistent(format!("the state snapshot disagrees with the store: {m}"))
}

/// Resumes from `snap` (spec/durability.md §3.3): checks it against the store
/// (its tree edge against the stored tiles and their root, its last leaf and
/// time against the stored entry before its size, every chain head against the
/// entry it names) and against every signed checkpoint at or below its size
/// (the stored tree's root there), then replays the `size - snap.size` entries
/// stored after it with every rule and signature, comparing their tiles, and
/// the partial tiles at `size`. Its cost grows with the tail and the number of
/// agencies, not with the log.
///
/// # Errors
/// [`StartupError::Inconsistent`] naming the disagreement.
pub fn resume(
    db: &LedgerDb,
    snap: &Snapshot,
    origin: &Origin,
    log_key: &Ed25519Verifier,
    signed: &Signed,
    size: u64,
) -> Result<(Registry, TileBuilder), StartupError> {
    let n = snap.size;
    if n > size {
        return Err(bad(format!(
            "it is at size {n}, but only {size} entries are stored"
        )));
    }
    let ids = Box::new(StoredSubmissions::new(db.clone()));
    let mut registry = Registry::decode_state(&snap.registry, anchors(log_key), ids)
        .map_err(|e| bad(e.to_string()))?;
    if registry.next_index().0 != n || registry.origin() != origin.as_str() {
        return Err(bad(format!(
            "its registry is at index {} of {:?}, not {n} of {:?}",
            registry.next_index().0,
            registry.origin(),
            origin.as_str()
        )));
    }
    if n > 0 && registry.log_vkey() != Some(log_key.to_vkey().as_str()) {
        return Err(bad("its registry names another log key".into()));
    }
    let mut builder = TileBuilder::resume(TreeSize(n), &snap.partial)
        .map_err(|e| bad(format!("its tree edge: {e}")))?;
    check_edge(db, &registry, &builder)?;
    check_heads(db, &registry)?;
    for a in signed
        .anchors
        .iter()
        .filter(|a| a.size.0 <= n && a.size.0 > 0)
    {
        let root = tree_hash(a.size, &db.hash_reader()).map_err(|e| bad(e.to_string()))?;
        if root != a.root {
            return Err(StartupError::Inconsistent(format!(
                "the stored tree's root at size {} is {root}, but {} says {}",
                a.size.0, a.what, a.root
            )));
        }
    }
    walk(
        db,
        &mut registry,
        &mut builder,
        size,
        &signed.anchors,
        n,
        &mut |_| {},
    )?;
    compare_partial(db, &builder)?;
    Ok((registry, builder))
}

/// The snapshot's tree edge is the stored tree's at its size: each partial
/// tile is the start of the stored tile, the root is the stored tree's, and
/// the last leaf is the stored entry's, whose hash and time are the registry's.
fn check_edge(
    db: &LedgerDb,
    registry: &Registry,
    builder: &TileBuilder,
) -> Result<(), StartupError> {
    let n = builder.size().0;
    for (tile, data) in builder.partial_tiles() {
        let stored = db
            .tile_data(tile.level(), tile.index())?
            .unwrap_or_default();
        if !stored.starts_with(&data) {
            return Err(bad(format!(
                "its tile {} is not the stored one",
                tile.path()
            )));
        }
    }
    if n == 0 {
        return Ok(());
    }
    let root = tree_hash(TreeSize(n), &db.hash_reader()).map_err(|e| bad(e.to_string()))?;
    if root != builder.root() {
        return Err(bad(format!(
            "its tree edge has root {} at size {n}, the stored tiles {root}",
            builder.root()
        )));
    }
    let entry = db
        .entry(n - 1)?
        .ok_or_else(|| bad(format!("entry {} is not stored", n - 1)))?;
    let stored_leaf: Hash = db
        .hash_reader()
        .read_hashes(&[stored_hash_index(0, n - 1)])
        .map_err(|e| bad(e.to_string()))?[0];
    let decoded = ledger_core::entry::Entry::decode(&entry)
        .map_err(|e| bad(format!("entry {}: {e}", n - 1)))?;
    if leaf_hash(&entry) != registry.last_leaf_hash()
        || stored_leaf != registry.last_leaf_hash()
        || decoded.sequenced_at_ms != registry.last_time_ms()
    {
        return Err(bad(format!(
            "its last leaf or time is not that of stored entry {}",
            n - 1
        )));
    }
    Ok(())
}

/// Every chain head the snapshot names is a stored entry of that agency.
fn check_heads(db: &LedgerDb, registry: &Registry) -> Result<(), StartupError> {
    let registry_id = AgencyId::new(REGISTRY_AGENCY).expect("valid id");
    let heads = registry
        .agencies()
        .filter_map(|a| a.last_entry.map(|h| (a.id.clone(), h)))
        .chain(registry.agency_head(&registry_id).map(|h| (registry_id, h)));
    for (agency, head) in heads {
        let agency_of = db
            .entry(head.0)?
            .and_then(|e| ledger_core::entry::Entry::decode(&e).ok())
            .and_then(|e| Statement::parse(&e.statement).ok())
            .map(|s| s.agency);
        if head.0 >= registry.next_index().0 || agency_of.as_ref() != Some(&agency) {
            return Err(bad(format!(
                "it says agency {agency}'s last entry is {}, which is not a stored entry of {agency}",
                head.0
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_and_malformed_ones_are_refused() {
        let s = Snapshot {
            size: 300,
            partial: vec![vec![7; 44 * 32], vec![8; 32]],
            registry: b"state".to_vec(),
        };
        let bytes = s.encode();
        assert_eq!(Snapshot::decode(&bytes).unwrap(), s);
        for cut in 0..bytes.len() - s.registry.len() {
            assert!(Snapshot::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(Snapshot::decode(&v2).is_err());
    }
}
