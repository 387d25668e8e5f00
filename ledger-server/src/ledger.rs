//! The ledger's data on top of [`Storage`]: key layout, typed reads, tiles and
//! bundles for the C2SP read API and the secondary indexes. The startup checks
//! are in [`crate::startup`], the state snapshot in [`crate::snapshot`].
//!
//! Key layout (all integers big-endian, so that key order is index order):
//!
//! | cf | key | value |
//! |---|---|---|
//! | entries | index (8) | entry envelope |
//! | tiles | level (1) ‖ tile index (8) | tile data: the full tile or the current partial tile |
//! | payloads | index (8) | nonce (12) ‖ sealed salt (32) ‖ payload ([`crate::sealed`]) |
//! | accesses | target index (8) ‖ access index (8) | empty |
//! | erasures | target index (8) | erasure index (8) |
//! | payload_keys (key store only) | index (8) | the payload's key (32) |
//! | dedup | agency ‖ 0x00 ‖ submission id | index (8) |
//! | by_agency, by_type, by_channel | value ‖ 0x00 ‖ index (8) | empty |
//! | meta | `size` | tree size (8) |
//! | meta | `checkpoint` | the latest signed checkpoint note |
//! | meta | `origin` | the log's origin |
//! | meta | `state` | the state snapshot: registry state and tree edge at a size ([`crate::snapshot`]) |

use std::collections::HashMap;
use std::sync::Arc;

use ledger_core::hash::Hash;
use ledger_core::tile::{Tile, encode_entry_bundle, hash_from_tile};
use ledger_core::tree::{HashReader, TreeError};

use crate::store::{Batch, Cf, Storage, StoreError};

/// The `meta` key of the tree size.
pub const META_SIZE: &[u8] = b"size";
/// The `meta` key of the latest signed checkpoint.
pub const META_CHECKPOINT: &[u8] = b"checkpoint";
/// The `meta` key of the state snapshot ([`crate::snapshot`]).
pub const META_STATE: &[u8] = b"state";
/// The `meta` key of the origin.
pub const META_ORIGIN: &[u8] = b"origin";
/// The key store's `meta` key of a purge not finished yet: the key range
/// `from (8) ‖ to (8)` of erased payloads whose bytes may still be in files
/// (spec/durability.md §5).
pub const META_PURGE_PENDING: &[u8] = b"purge_pending";

/// The [`META_PURGE_PENDING`] value for the indexes `lo..=hi`.
pub fn purge_range(lo: u64, hi: u64) -> Vec<u8> {
    let mut v = lo.to_be_bytes().to_vec();
    v.extend_from_slice(&hi.saturating_add(1).to_be_bytes());
    v
}

/// The `meta` key present once `DATA/checkpoint` exists ([`crate::cpfile`]).
pub const META_CHECKPOINT_FILE: &[u8] = b"checkpoint_file";

/// The key of entry (or payload) `index`.
pub fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The key of an access record: target index ‖ access index.
pub fn access_key(target: u64, access: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&target.to_be_bytes());
    k[8..].copy_from_slice(&access.to_be_bytes());
    k
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

/// What the server holds of an entry's private payload.
#[derive(Debug, PartialEq, Eq)]
pub enum PayloadState {
    /// The salt and payload.
    Held(Payload),
    /// Nothing: no payload was sent, or its key is not in the key store (a
    /// ledger store restored without its key store).
    NotHeld,
    /// Erased by the entry at this index.
    Erased(u64),
}

/// The key store of [`LedgerDb::without_keys`].
struct NoKeys;

impl Storage for NoKeys {
    fn get(&self, _: Cf, _: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn range(
        &self,
        _: Cf,
        _: &[u8],
        _: &[u8],
        _: usize,
    ) -> Result<Vec<crate::store::KeyValue>, StoreError> {
        Ok(Vec::new())
    }
    fn write(&self, _: Batch) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "no payload key store is open here".into(),
        ))
    }
}

/// Typed reads of the ledger's data.
#[derive(Clone)]
pub struct LedgerDb {
    store: Arc<dyn Storage>,
    /// The payload keys, kept apart from the ledger store (spec/durability.md §5).
    keys: Arc<dyn Storage>,
}

impl LedgerDb {
    /// Wraps the ledger store and the payload key store.
    pub fn new(store: Arc<dyn Storage>, keys: Arc<dyn Storage>) -> LedgerDb {
        LedgerDb { store, keys }
    }

    /// A ledger store opened without its payload key store, for work that never
    /// touches payloads (`init`, `stats`): payload keys read as absent and
    /// cannot be written.
    pub fn without_keys(store: Arc<dyn Storage>) -> LedgerDb {
        LedgerDb {
            store,
            keys: Arc::new(NoKeys),
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }

    /// The payload key store.
    pub fn keys(&self) -> &Arc<dyn Storage> {
        &self.keys
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
        // A bundle index past every possible tree is a request for nothing,
        // not a damaged store (issue #14 item 11).
        let Some(end) = n
            .checked_mul(256)
            .and_then(|start| start.checked_add(u64::from(width)))
        else {
            return Ok(None);
        };
        let start = end - u64::from(width);
        if end > self.size()? {
            return Ok(None);
        }
        let entries = self.entries(start, end)?;
        encode_entry_bundle(&entries)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The payload and salt of entry `index`, decrypted with its key, or why
    /// there is none.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn payload(&self, index: u64) -> Result<PayloadState, StoreError> {
        if let Some(by) = self.erased_by(index)? {
            return Ok(PayloadState::Erased(by));
        }
        let Some(sealed) = self.store.get(Cf::Payloads, &index_key(index))? else {
            return Ok(PayloadState::NotHeld);
        };
        let Some(key) = self.keys.get(Cf::PayloadKeys, &index_key(index))? else {
            tracing::warn!(
                "entry {index}: a sealed payload without its key (key store restored from an older backup?)"
            );
            return Ok(PayloadState::NotHeld);
        };
        crate::sealed::open(index, &key, &sealed).map(PayloadState::Held)
    }

    /// The erasure entry of entry `index`'s payload, if it was erased.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn erased_by(&self, index: u64) -> Result<Option<u64>, StoreError> {
        self.store
            .get(Cf::Erasures, &index_key(index))?
            .map(|v| u64_value(&v, "erasure index"))
            .transpose()
    }

    /// The access and erasure entries that name entry `target`, from `from` on,
    /// in index order, at most `limit`.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn accesses(&self, target: u64, from: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        let lo = access_key(target, from);
        let hi = match target.checked_add(1) {
            Some(t) => access_key(t, 0).to_vec(),
            None => vec![0xff; 17],
        };
        self.store
            .range(Cf::Accesses, &lo, &hi, limit)?
            .into_iter()
            .map(|(k, _)| u64_value(&k[8..], "access index"))
            .collect()
    }

    /// Finishes erasures that a stop interrupted (spec/durability.md §5):
    /// deletes the key of every erased payload still in the key store (a stop
    /// between the ledger commit and the key's delete), then finishes a purge
    /// left pending (a stop before both stores' files were purged). Returns how
    /// many keys it deleted. Its cost grows with the number of erasures, not
    /// with the ledger.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn finish_erasures(&self) -> Result<usize, StoreError> {
        let mut batch = Batch::new();
        let mut range: Option<(u64, u64)> = None;
        let mut from = Vec::new();
        loop {
            let page = self.store.range(Cf::Erasures, &from, &[0xff; 9], 1024)?;
            let Some((last, _)) = page.last() else { break };
            let mut next = last.clone();
            next.push(0);
            for (k, _) in &page {
                if self.keys.get(Cf::PayloadKeys, k)?.is_some() {
                    let i = u64_value(k, "erasure key")?;
                    range = Some(range.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
                    batch.delete(Cf::PayloadKeys, k.clone());
                }
            }
            from = next;
        }
        let n = batch.len();
        if let Some((lo, hi)) = range {
            batch.put(Cf::Meta, META_PURGE_PENDING, purge_range(lo, hi));
            self.keys.write(batch)?;
        }
        self.finish_purge()?;
        Ok(n)
    }

    /// The indexes `lo..=hi` of a purge not finished yet ([`META_PURGE_PENDING`]).
    ///
    /// # Errors
    /// A [`StoreError`], also for a malformed record.
    pub fn pending_purge(&self) -> Result<Option<(u64, u64)>, StoreError> {
        let Some(r) = self.keys.get(Cf::Meta, META_PURGE_PENDING)? else {
            return Ok(None);
        };
        if r.len() != 16 {
            return Err(StoreError::Corrupt("the pending purge record".into()));
        }
        let lo = u64_value(&r[..8], "purge start")?;
        let hi = u64_value(&r[8..], "purge end")?.saturating_sub(1);
        Ok(Some((lo, hi)))
    }

    /// Purges the range recorded by [`META_PURGE_PENDING`] from both stores'
    /// files, if a purge is pending, and then clears the record.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub fn finish_purge(&self) -> Result<(), StoreError> {
        let Some((lo, hi)) = self.pending_purge()? else {
            return Ok(());
        };
        let range = purge_range(lo, hi);
        let (from, to) = range.split_at(8);
        self.keys.purge(Cf::PayloadKeys, from, to)?;
        self.store.purge(Cf::Payloads, from, to)?;
        let mut done = Batch::new();
        done.delete(Cf::Meta, META_PURGE_PENDING);
        self.keys.write(done)
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

pub use crate::startup::{Loaded, StartupError, load};

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
