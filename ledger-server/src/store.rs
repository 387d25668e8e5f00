//! The embedded RocksDB store: one directory, one column family per kind of data
//! (DESIGN.md §5).

use std::path::Path;

use rocksdb::{ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};

/// The column families the ledger keeps, in one RocksDB directory.
pub const COLUMN_FAMILIES: &[&str] = &[
    "entries",
    "tree",
    "payloads",
    "dedup",
    "by_agency",
    "by_type",
    "meta",
];

/// Errors from the storage layer. Each maps to HTTP 503 at the API.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("storage error: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A column family that the store needs is missing.
    #[error("column family {0:?} is missing")]
    MissingColumnFamily(&'static str),
}

/// The ledger's RocksDB database.
pub struct Store {
    db: DB,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, with every column family.
    ///
    /// # Errors
    /// Returns [`StoreError::Rocks`] if RocksDB cannot open the directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        Ok(Self { db })
    }

    /// Writes `key = value` in column family `cf`, durably: the call returns only
    /// after the write-ahead log is synced.
    ///
    /// # Errors
    /// Returns an error if the column family is unknown or RocksDB fails.
    pub fn put_synced(&self, cf: &'static str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let handle = self
            .db
            .cf_handle(cf)
            .ok_or(StoreError::MissingColumnFamily(cf))?;
        let mut batch = WriteBatch::default();
        batch.put_cf(&handle, key, value);
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// Reads `key` from column family `cf`.
    ///
    /// # Errors
    /// Returns an error if the column family is unknown or RocksDB fails.
    pub fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let handle = self
            .db
            .cf_handle(cf)
            .ok_or(StoreError::MissingColumnFamily(cf))?;
        Ok(self.db.get_cf(&handle, key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_write_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("ledger-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = Store::open(&dir).unwrap();
            store.put_synced("meta", b"k", b"v").unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.get("meta", b"k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(store.get("meta", b"missing").unwrap(), None);
        assert!(matches!(
            store.get("nope", b"k"),
            Err(StoreError::MissingColumnFamily("nope"))
        ));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
