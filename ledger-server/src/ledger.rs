//! The ledger's data on top of [`Storage`]: key layout, typed reads, tiles and
//! bundles for the C2SP read API, the secondary indexes, and the startup check that
//! recomputes the stored tree and compares it with the last signed checkpoint.
//!
//! Key layout (all integers big-endian, so that key order is index order):
//!
//! | cf | key | value |
//! |---|---|---|
//! | entries | index (8) | entry envelope |
//! | tiles | level (1) ‖ tile index (8) | tile data: the full tile or the current partial tile |
//! | payloads | index (8) | salt (32) ‖ payload |
//! | dedup | agency ‖ 0x00 ‖ submission id | index (8) |
//! | by_agency, by_type, by_channel | value ‖ 0x00 ‖ index (8) | empty |
//! | meta | `size` | tree size (8) |
//! | meta | `checkpoint` | the latest signed checkpoint note |
//! | meta | `origin` | the log's origin |

use std::collections::HashMap;
use std::sync::Arc;

use ledger_core::TreeSize;
use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::hash::Hash;
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use ledger_core::registry::{Registry, TrustAnchors};
use ledger_core::tile::{Tile, TileBuilder, encode_entry_bundle, hash_from_tile};
use ledger_core::tree::{HashReader, TreeError};

use crate::store::{Cf, Storage, StoreError};

/// The `meta` key of the tree size.
pub const META_SIZE: &[u8] = b"size";
/// The `meta` key of the latest signed checkpoint.
pub const META_CHECKPOINT: &[u8] = b"checkpoint";
/// The `meta` key of the origin.
pub const META_ORIGIN: &[u8] = b"origin";
/// The `meta` key present once `DATA/checkpoint` exists ([`crate::cpfile`]).
pub const META_CHECKPOINT_FILE: &[u8] = b"checkpoint_file";

/// The key of entry (or payload) `index`.
pub fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The key of a hash tile.
pub fn tile_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The dedup key of an agency's submission id. Agency ids never contain 0x00
/// (spec/entry.md §1.2), so the key is unambiguous.
pub fn dedup_key(agency: &str, submission_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(agency.len() + 1 + submission_id.len());
    k.extend_from_slice(agency.as_bytes());
    k.push(0);
    k.extend_from_slice(submission_id.as_bytes());
    k
}

/// The key of a secondary-index record: `value ‖ 0x00 ‖ index`.
pub fn secondary_key(value: &str, index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(value.len() + 9);
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn u64_value(v: &[u8], what: &str) -> Result<u64, StoreError> {
    let b: [u8; 8] = v
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 8 bytes")))?;
    Ok(u64::from_be_bytes(b))
}

/// A private payload's salt and bytes.
pub type Payload = ([u8; 32], Vec<u8>);

/// Typed reads of the ledger's data.
#[derive(Clone)]
pub struct LedgerDb {
    store: Arc<dyn Storage>,
}

impl LedgerDb {
    /// Wraps a store.
    pub fn new(store: Arc<dyn Storage>) -> LedgerDb {
        LedgerDb { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }

    /// The number of entries stored (and covered by stored tiles).
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn size(&self) -> Result<u64, StoreError> {
        match self.store.get(Cf::Meta, META_SIZE)? {
            Some(v) => u64_value(&v, "meta size"),
            None => Ok(0),
        }
    }

    /// The origin recorded at `init`, if the store was initialised.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn origin(&self) -> Result<Option<String>, StoreError> {
        self.store
            .get(Cf::Meta, META_ORIGIN)?
            .map(|v| String::from_utf8(v).map_err(|_| StoreError::Corrupt("origin".into())))
            .transpose()
    }

    /// The latest persisted signed checkpoint.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn checkpoint(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(Cf::Meta, META_CHECKPOINT)
    }

    /// Entry `index`'s envelope.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(Cf::Entries, &index_key(index))
    }

    /// The envelopes of entries `start..end`, which must all be stored.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if one is missing.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let n = end.saturating_sub(start) as usize;
        let kvs = self
            .store
            .range(Cf::Entries, &index_key(start), &index_key(end), n)?;
        if kvs.len() != n {
            return Err(StoreError::Corrupt(format!(
                "entries {start}..{end}: found {} of {n}",
                kvs.len()
            )));
        }
        Ok(kvs.into_iter().map(|(_, v)| v).collect())
    }

    /// The stored data of tile (`level`, `index`): the full tile, or the partial
    /// tile as of the stored size.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn tile_data(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(Cf::Tiles, &tile_key(level, index))
    }

    /// The data of `tile` if the stored tree covers it: the first `width` hashes of
    /// the stored tile (c2sp.org/tlog-tiles: a partial tile is a prefix of the
    /// full one).
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(mut data) = self.tile_data(tile.level(), tile.index())? else {
            return Ok(None);
        };
        if data.len() < tile.data_len() {
            return Ok(None);
        }
        data.truncate(tile.data_len());
        Ok(Some(data))
    }

    /// The entry bundle of entries `256·n ..< 256·n + width`, if all are stored
    /// (c2sp.org/tlog-tiles, "Log Entries").
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn bundle(&self, n: u64, width: u16) -> Result<Option<Vec<u8>>, StoreError> {
        let start = n
            .checked_mul(256)
            .ok_or_else(|| StoreError::Corrupt("bundle".into()))?;
        let end = start + u64::from(width);
        if end > self.size()? {
            return Ok(None);
        }
        let entries = self.entries(start, end)?;
        encode_entry_bundle(&entries)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The payload and salt stored with entry `index`.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn payload(&self, index: u64) -> Result<Option<Payload>, StoreError> {
        let Some(v) = self.store.get(Cf::Payloads, &index_key(index))? else {
            return Ok(None);
        };
        if v.len() < 32 {
            return Err(StoreError::Corrupt(format!("payload {index}")));
        }
        let (salt, payload) = v.split_at(32);
        Ok(Some((salt.try_into().expect("32 bytes"), payload.to_vec())))
    }

    /// The index an agency's submission id was sequenced at.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn dedup(&self, agency: &str, submission_id: &str) -> Result<Option<u64>, StoreError> {
        self.store
            .get(Cf::Dedup, &dedup_key(agency, submission_id))?
            .map(|v| u64_value(&v, "dedup index"))
            .transpose()
    }

    /// Indexes `>= from` of the records for `value` in secondary index `cf`, in
    /// order, at most `limit`.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn secondary(
        &self,
        cf: Cf,
        value: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let start = secondary_key(value, from);
        let mut end = value.as_bytes().to_vec();
        end.push(1);
        self.store
            .range(cf, &start, &end, limit)?
            .into_iter()
            .map(|(k, _)| u64_value(&k[k.len().saturating_sub(8)..], "index key"))
            .collect()
    }

    /// The first index whose entry was sequenced at or after `ms`, among the
    /// `size` stored entries (binary search: sequencing time never decreases).
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn first_index_at_or_after(&self, ms: u64, size: u64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (0u64, size);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self
                .entry(mid)?
                .ok_or_else(|| StoreError::Corrupt(format!("entry {mid} missing")))?;
            // spec/entry.md §2: version (1) ‖ index (8) ‖ sequenced_at_ms (8).
            let t = e
                .get(9..17)
                .ok_or_else(|| StoreError::Corrupt(format!("entry {mid} is short")))?;
            if u64_value(t, "time")? < ms {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// A [`HashReader`] over the stored tiles, for proofs.
    pub fn hash_reader(&self) -> StoredHashes<'_> {
        StoredHashes { db: self }
    }
}

/// Reads stored hashes out of the stored tiles (c2sp.org/tlog-tiles;
/// [`hash_from_tile`]). Stored hashes never change once written, so a proof for
/// any size up to the stored size reads correctly.
pub struct StoredHashes<'a> {
    db: &'a LedgerDb,
}

impl HashReader for StoredHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let mut cache: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let tile = Tile::for_stored_hash(i).map_err(|e| TreeError::Read(e.to_string()))?;
            let key = (tile.level(), tile.index());
            if let std::collections::hash_map::Entry::Vacant(v) = cache.entry(key) {
                let data = self
                    .db
                    .tile_data(key.0, key.1)
                    .map_err(|e| TreeError::Read(e.to_string()))?
                    .ok_or_else(|| {
                        TreeError::Read(format!("tile {} is not stored", tile.path()))
                    })?;
                v.insert(data);
            }
            let data = &cache[&key];
            let want = tile.data_len();
            if data.len() < want {
                return Err(TreeError::Read(format!(
                    "tile {} is not stored that wide",
                    tile.path()
                )));
            }
            out.push(
                hash_from_tile(&tile, &data[..want], i)
                    .map_err(|e| TreeError::Read(e.to_string()))?,
            );
        }
        Ok(out)
    }
}

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

/// The sequencer's state, rebuilt from storage.
pub struct Loaded {
    /// The registry state after the last stored entry.
    pub registry: Registry,
    /// The tiles' right edge after the last stored entry.
    pub builder: TileBuilder,
    /// The last persisted checkpoint (verified) and its size and root.
    pub checkpoint: Option<(Vec<u8>, TreeSize, Hash)>,
}

/// How many entries to read per range read when replaying.
const REPLAY_CHUNK: u64 = 4096;

/// Rebuilds the state from storage and checks it (spec/api.md; DESIGN.md §3):
/// every stored entry is applied to a fresh registry (every rule but the
/// signatures, which were verified before they were stored), every stored tile is
/// recomputed from the entries and compared, and the recomputed root at the last
/// persisted checkpoint's size must equal that checkpoint's root, whose signature
/// must verify with `log_key`.
///
/// `published` is the copy of the latest published checkpoint kept outside the
/// store ([`crate::cpfile`]), if any: it must verify too, and the stored tree
/// must reach its size with its root. This catches a store that lost its
/// newest data (a truncated write-ahead log, an old backup restored) together
/// with its own checkpoint, which the store alone cannot notice.
///
/// # Errors
/// [`StartupError::Inconsistent`] naming the first disagreement.
pub fn load(
    db: &LedgerDb,
    origin: &Origin,
    log_key: &Ed25519Verifier,
    published: Option<&[u8]>,
) -> Result<Loaded, StartupError> {
    let bad = |m: String| StartupError::Inconsistent(m);
    let size = db.size()?;
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
    // Every signed checkpoint the stored tree must reproduce: (what, size, root).
    let mut must_match: Vec<(&str, TreeSize, Hash)> = Vec::new();
    if let Some((_, s, r)) = &checkpoint {
        must_match.push(("the last signed checkpoint in the store", *s, *r));
    }
    if let Some(bytes) = published {
        let (s, r) = open(bytes, "the published checkpoint copy (checkpoint file)")?;
        must_match.push(("the last published checkpoint (checkpoint file)", s, r));
    }
    for (what, cp_size, _) in &must_match {
        if cp_size.0 > size {
            return Err(bad(format!(
                "{what} has size {}, but only {size} entries are stored: entries were lost or an older copy of the store was restored",
                cp_size.0
            )));
        }
    }
    let anchors = TrustAnchors {
        authority_key: None,
        log_vkey: Some(log_key.to_vkey()),
    };
    let mut registry = Registry::new(origin.as_str(), anchors);
    let mut builder = TileBuilder::new();
    // The empty tree's root needs no entries; the others are checked as the
    // replay reaches their size.
    for (what, cp_size, cp_root) in &must_match {
        if cp_size.0 == 0 && *cp_root != Hash::empty_tree() {
            return Err(bad(format!(
                "{what} is for size 0 but not the empty tree's root"
            )));
        }
    }
    must_match.retain(|(_, s, _)| s.0 > 0);
    let mut next = 0u64;
    while next < size {
        let end = (next + REPLAY_CHUNK).min(size);
        for (i, bytes) in (next..end).zip(db.entries(next, end)?) {
            let applied = registry
                .apply_deferred(&bytes)
                .map_err(|e| bad(format!("stored entry {i} breaks the rules: {e}")))?;
            builder.append(applied.0.leaf_hash);
            for (tile, data) in builder.take_completed() {
                let stored = db.tile_data(tile.level(), tile.index())?;
                if stored.as_deref() != Some(&data[..]) {
                    return Err(bad(format!(
                        "stored tile {} differs from the one recomputed from the entries",
                        tile.path()
                    )));
                }
            }
            for (what, cp_size, cp_root) in &must_match {
                if builder.size() == *cp_size {
                    let root = builder.root();
                    if root != *cp_root {
                        return Err(bad(format!(
                            "the entries hash to root {root} at size {}, but {what} says {cp_root}",
                            cp_size.0
                        )));
                    }
                }
            }
        }
        next = end;
    }
    for (tile, data) in builder.partial_tiles() {
        let stored = db.tile_data(tile.level(), tile.index())?;
        if stored.as_deref() != Some(&data[..]) {
            return Err(bad(format!(
                "stored partial tile {} differs from the one recomputed from the entries",
                tile.path()
            )));
        }
    }
    Ok(Loaded {
        registry,
        builder,
        checkpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_index_order() {
        assert!(index_key(255) < index_key(256));
        assert!(tile_key(0, 300) < tile_key(1, 0));
        assert!(secondary_key("city", 9) < secondary_key("city", 10));
        assert!(secondary_key("city", u64::MAX) < secondary_key("city-x", 0));
        assert_eq!(dedup_key("a", "b"), b"a\0b");
    }
}
