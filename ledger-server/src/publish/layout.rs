//! The bucket's layout (spec/checkpoints-and-tiles.md §9): the paths of
//! c2sp.org/tlog-tiles under an optional key prefix, with the bytes the
//! server's own read API serves at the same paths (spec/api.md §2) and the
//! cache headers of §9.1.

use std::collections::BTreeSet;

use ledger_core::TreeSize;
use ledger_core::tile::{EntryBundle, Tile, new_tiles};

use super::PublishError;
use crate::ledger::LedgerDb;

/// The checkpoint's path (c2sp.org/tlog-checkpoint, c2sp.org/tlog-tiles).
pub const CHECKPOINT_PATH: &str = "checkpoint";
/// `Cache-Control` of full tiles and full bundles: they never change.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of partial tiles and bundles: deleted once superseded.
pub const CACHE_PARTIAL: &str = "public, max-age=5";
/// `Cache-Control` of the checkpoint, as `GET /checkpoint` sends it.
pub const CACHE_CHECKPOINT: &str = "public, max-age=2";
/// `Content-Type` of tiles and bundles.
pub const TYPE_TILE: &str = "application/octet-stream";
/// `Content-Type` of the checkpoint.
pub const TYPE_CHECKPOINT: &str = "text/plain; charset=utf-8";

/// One tile-space object: a hash tile or an entry bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Piece {
    /// `tile/<L>/<N>[.p/<W>]`
    Hash(Tile),
    /// `tile/entries/<N>[.p/<W>]`
    Bundle(EntryBundle),
}

impl Piece {
    /// Its c2sp.org/tlog-tiles path, without a leading `/`.
    pub fn path(&self) -> String {
        match self {
            Piece::Hash(t) => t.path(),
            Piece::Bundle(b) => b.path(),
        }
    }

    /// Whether it is partial (narrower than 256).
    pub fn is_partial(&self) -> bool {
        match self {
            Piece::Hash(t) => t.is_partial(),
            Piece::Bundle(b) => b.is_partial(),
        }
    }

    /// Its `Cache-Control` (spec/checkpoints-and-tiles.md §9.1).
    pub fn cache_control(&self) -> &'static str {
        if self.is_partial() {
            CACHE_PARTIAL
        } else {
            CACHE_IMMUTABLE
        }
    }

    /// The full version of this piece (itself if it is full).
    pub fn full(&self) -> Piece {
        match *self {
            Piece::Hash(t) => Piece::Hash(Tile::new(t.level(), t.index(), 256).unwrap_or(t)),
            Piece::Bundle(b) => Piece::Bundle(EntryBundle::new(b.index(), 256).unwrap_or(b)),
        }
    }

    /// Whether the full version of this piece is in a tree of `size` leaves.
    pub fn is_complete_in(&self, size: u64) -> bool {
        let (level, index) = match self {
            Piece::Hash(t) => (t.level(), t.index()),
            Piece::Bundle(b) => (0, b.index()),
        };
        let count = size.checked_shr(8 * u32::from(level)).unwrap_or(0);
        index
            .checked_add(1)
            .and_then(|n| n.checked_mul(256))
            .is_some_and(|end| end <= count)
    }

    /// The prefix under which the partial versions of this piece live:
    /// `tile/0/x001/234.p/`.
    pub fn partials_prefix(&self) -> String {
        format!("{}.p/", self.full().path())
    }

    /// Its bytes, read with the same code as `GET /tile/...` (spec/api.md §2).
    ///
    /// # Errors
    /// [`PublishError::Store`], or [`PublishError::NotStored`] if the store does
    /// not hold it (it is covered by a published checkpoint, so it must).
    pub fn read(&self, db: &LedgerDb) -> Result<Vec<u8>, PublishError> {
        let data = match self {
            Piece::Hash(t) => db.tile(t)?,
            Piece::Bundle(b) => db.bundle(b.index(), b.width())?,
        };
        data.ok_or_else(|| PublishError::NotStored(self.path()))
    }
}

/// The pieces a checkpoint of `new` leaves adds to one of `old`: the hash
/// tiles of [`new_tiles`] and, for each level-0 tile, its entry bundle. Those
/// of a checkpoint of `old` are in the bucket already.
pub fn pieces(old: u64, new: u64) -> Vec<Piece> {
    let mut out = Vec::new();
    for t in new_tiles(TreeSize(old), TreeSize(new)) {
        if let Some(b) = t.entry_bundle() {
            out.push(Piece::Bundle(b));
        }
        out.push(Piece::Hash(t));
    }
    out
}

/// The tips of a tree of `size` leaves: its partial pieces, one hash tile per
/// level and the bundle of the level-0 one.
pub fn tips(size: u64) -> Vec<Piece> {
    let mut out = Vec::new();
    for level in 0..8u8 {
        let count = size.checked_shr(8 * u32::from(level)).unwrap_or(0);
        if count == 0 {
            break;
        }
        if let Some(t) = Tile::in_tree(level, count / 256, TreeSize(size)) {
            if let Some(b) = t.entry_bundle() {
                out.push(Piece::Bundle(b));
            }
            out.push(Piece::Hash(t));
        }
    }
    out
}

/// The most recently completed full pieces of a tree of `size` leaves: the
/// last full tile (and bundle) of each level.
pub fn last_completed(size: u64) -> Vec<Piece> {
    let mut out = Vec::new();
    for level in 0..8u8 {
        let count = size.checked_shr(8 * u32::from(level)).unwrap_or(0);
        if count < 256 {
            break;
        }
        if let Ok(t) = Tile::new(level, count / 256 - 1, 256) {
            if let Some(b) = t.entry_bundle() {
                out.push(Piece::Bundle(b));
            }
            out.push(Piece::Hash(t));
        }
    }
    out
}

/// The full forms of every piece that may have partial versions in a bucket
/// whose checkpoint has `bucket` leaves, while the log has published `log`:
/// the tips of `bucket`, the pieces it last completed (a stop between writing
/// a checkpoint and cleaning), and every piece between it and `log` (a round
/// that a stop interrupted may have written their partials).
pub fn possibly_partial(bucket: u64, log: u64) -> BTreeSet<Piece> {
    tips(bucket)
        .into_iter()
        .chain(last_completed(bucket))
        .chain(pieces(bucket, log))
        .map(|p| p.full())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_adds_the_new_tiles_and_their_bundles() {
        let paths =
            |old, new| -> Vec<String> { pieces(old, new).iter().map(Piece::path).collect() };
        assert_eq!(paths(0, 3), ["tile/entries/000.p/3", "tile/0/000.p/3"]);
        assert_eq!(
            paths(3, 300),
            [
                "tile/entries/000",
                "tile/0/000",
                "tile/entries/001.p/44",
                "tile/0/001.p/44",
                "tile/1/000.p/1"
            ]
        );
        assert!(paths(300, 300).is_empty());
        let paths_of = |v: Vec<Piece>| -> Vec<String> { v.iter().map(Piece::path).collect() };
        assert_eq!(
            paths_of(tips(300)),
            ["tile/entries/001.p/44", "tile/0/001.p/44", "tile/1/000.p/1"]
        );
        assert!(tips(512).iter().all(|p| p.path() == "tile/1/000.p/2"));
        let full = Piece::Hash(Tile::new(0, 1, 256).unwrap());
        assert!(!full.is_complete_in(511));
        assert!(full.is_complete_in(512));
        assert!(Piece::Hash(Tile::new(1, 0, 3).unwrap()).is_complete_in(65_536));
        assert!(!Piece::Hash(Tile::new(1, 0, 3).unwrap()).is_complete_in(65_535));
        let open = possibly_partial(300, 600);
        assert!(open.contains(&Piece::Hash(Tile::new(0, 0, 256).unwrap())));
        assert!(open.contains(&Piece::Hash(Tile::new(0, 1, 256).unwrap())));
        assert!(open.contains(&Piece::Bundle(EntryBundle::new(2, 256).unwrap())));
        assert!(!open.contains(&Piece::Hash(Tile::new(0, 3, 256).unwrap())));
        assert_eq!(
            Piece::Hash(Tile::new(0, 1234, 256).unwrap()).partials_prefix(),
            "tile/0/x001/234.p/"
        );
        assert_eq!(
            Piece::Bundle(EntryBundle::new(7, 3).unwrap()).partials_prefix(),
            "tile/entries/007.p/"
        );
    }

    #[test]
    fn cache_headers_follow_the_spec() {
        let full = Piece::Hash(Tile::new(1, 0, 256).unwrap());
        let partial = Piece::Bundle(EntryBundle::new(0, 9).unwrap());
        assert_eq!(full.cache_control(), CACHE_IMMUTABLE);
        assert_eq!(partial.cache_control(), CACHE_PARTIAL);
    }

    #[test]
    fn the_last_completed_tiles_of_each_level() {
        let paths =
            |size| -> Vec<String> { last_completed(size).iter().map(Piece::path).collect() };
        assert!(paths(255).is_empty());
        assert_eq!(paths(256), ["tile/entries/000", "tile/0/000"]);
        assert_eq!(
            paths(65_536 + 600),
            ["tile/entries/257", "tile/0/257", "tile/1/000"]
        );
    }
}
