//! c2sp.org/tlog-tiles: the Merkle tree and the entries of a log as static files.
//!
//! A *tile* at level `L` holds up to 256 consecutive hashes of the tree at tree
//! level `8·L` (height 8); an *entry bundle* holds up to 256 consecutive entries.
//! Tiles and bundles whose width is under 256 are *partial*: they belong to one
//! tree size and are replaced by wider ones as the log grows.
//!
//! ```text
//! tile/<L>/<N>[.p/<W>]        hash tile: W (default 256) hashes of 32 bytes
//! tile/entries/<N>[.p/<W>]    entry bundle: W × (uint16 big-endian length ‖ entry)
//!
//! N in 3-digit groups, all but the last prefixed with 'x':
//!     5 → 005      1234067 → x001/x234/067
//! ```
//!
//! Tiles are untrusted input for a verifier: [`TileHashReader`] authenticates every
//! tile it reads against a trusted tree size and root before it returns a hash.

use std::collections::BTreeMap;
use std::fmt;

use crate::hash::{HASH_SIZE, Hash, node_hash};
use crate::index::{TreeSize, parse_canonical_u64};
use crate::tree::{
    HashReader, TreeError, split_stored_hash_index, stored_hash_count, stored_hash_index,
    subtree_indexes,
};

/// The height of every tile: a tile spans 8 levels of the tree (c2sp.org/tlog-tiles).
pub const TILE_HEIGHT: u8 = 8;

/// The number of hashes in a full tile, or entries in a full bundle: `2^TILE_HEIGHT`.
pub const TILE_WIDTH: u16 = 256;

/// The largest tile level a path may name (c2sp.org/tlog-tiles, "Merkle Tree").
pub const MAX_TILE_LEVEL: u8 = 63;

pub use crate::tree::MAX_TREE_SIZE;

/// The largest entry an entry bundle can hold: its length is a uint16
/// (c2sp.org/tlog-tiles, "Log entries").
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// The longest well-formed tile path: `tile/entries/x018/x446/x744/x073/x709/x551/615.p/255`
/// is 52 bytes. Longer input is rejected before it is parsed.
const MAX_PATH_LEN: usize = 64;

/// How many 1000-valued groups the path encoding of a `u64` can have.
const MAX_PATH_GROUPS: usize = 7;

/// Errors from tile paths, tile data, entry bundles and tile authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A tile or bundle path is not in the canonical form of c2sp.org/tlog-tiles
    /// (a client error; HTTP 404). Holds the path, cut to 64 bytes.
    #[error("malformed tile path {0:?}")]
    MalformedPath(String),
    /// Tile coordinates out of range: level over 63, width 0 or over 256.
    #[error("invalid tile: {0}")]
    InvalidTile(&'static str),
    /// The tile covers leaves past [`MAX_TREE_SIZE`], so no tree has it.
    #[error("tile {0} lies beyond the largest supported tree (2^63 leaves)")]
    BeyondMaxTree(String),
    /// A tree size larger than [`MAX_TREE_SIZE`].
    #[error("tree size {0} is larger than the largest supported tree (2^63 leaves)")]
    TreeTooLarge(u64),
    /// A stored hash is not in the given tile.
    #[error("stored hash {index} is not in tile {tile}")]
    NotInTile {
        /// The stored-hash index.
        index: u64,
        /// The tile's path.
        tile: String,
    },
    /// A stored hash is not part of the tree being read (HTTP 400/404).
    #[error("stored hash {index} is not in a tree of size {size}")]
    NotInTree {
        /// The stored-hash index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Tile data of the wrong length: a tile of width W is exactly 32·W bytes.
    #[error("tile {path}: expected {expected} bytes, found {found}")]
    DataLength {
        /// The tile's path.
        path: String,
        /// The length the width requires.
        expected: usize,
        /// The length received.
        found: usize,
    },
    /// A [`TileReader`] failed (network, disk, missing file: HTTP 502/503 for a proxy).
    #[error("cannot read tiles: {0}")]
    Read(String),
    /// A [`TileReader`] returned a different number of tiles than asked for.
    #[error("asked the tile reader for {expected} tiles, got {found}")]
    ReadCount {
        /// The number of tiles asked for.
        expected: usize,
        /// The number of tiles returned.
        found: usize,
    },
    /// The tiles that hold the tree's root do not hash to the trusted root:
    /// at least one of them is forged or corrupt.
    #[error(
        "tiles [{tiles}] do not hash to the trusted root: expected {expected}, computed {computed}"
    )]
    RootMismatch {
        /// The paths of the tiles that make up the root, comma-separated.
        tiles: String,
        /// The trusted root.
        expected: Hash,
        /// The root the tiles hash to.
        computed: Hash,
    },
    /// A full tile does not hash to its entry in its (authenticated) parent tile:
    /// it is forged or corrupt.
    #[error("tile {path} hashes to {found}, but its parent tile {parent} says {expected}")]
    ParentMismatch {
        /// The path of the bad tile.
        path: String,
        /// The path of its parent tile.
        parent: String,
        /// The hash in the parent tile.
        expected: Hash,
        /// The hash of the tile's data.
        found: Hash,
    },
    /// An entry bundle ends inside an entry's two-byte length.
    #[error("entry bundle: entry {entry} at byte {offset}: truncated length")]
    BundleLengthTruncated {
        /// The zero-based entry number within the bundle.
        entry: usize,
        /// The byte offset of the length.
        offset: usize,
    },
    /// An entry bundle ends inside an entry.
    #[error(
        "entry bundle: entry {entry} at byte {offset}: length {length}, only {remaining} bytes left"
    )]
    BundleBodyTruncated {
        /// The zero-based entry number within the bundle.
        entry: usize,
        /// The byte offset of the entry's bytes.
        offset: usize,
        /// The declared length.
        length: usize,
        /// The bytes left in the bundle.
        remaining: usize,
    },
    /// An entry bundle with a wrong number of entries: none, more than 256, or
    /// not the width its path says.
    #[error("entry bundle: expected {expected} entries, found {found}")]
    BundleCount {
        /// The number of entries expected (for "at most 256": 256).
        expected: usize,
        /// The number found (for "more than 256": 257).
        found: usize,
    },
    /// An entry longer than 65535 bytes cannot go in a bundle.
    #[error("entry of {0} bytes is longer than the {MAX_ENTRY_SIZE} bytes a bundle allows")]
    EntryTooLong(usize),
    /// Reading the stored hashes for a tile failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// A hash tile (c2sp.org/tlog-tiles, "Merkle Tree"): `width` consecutive hashes at
/// tree level `8·level`, starting with the hash of index `256·index` at that level.
///
/// The fields are checked when built: `level <= 63`, `1 <= width <= 256`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

/// An entry bundle (c2sp.org/tlog-tiles, "Log entries"): `width` consecutive
/// entries starting with entry `256·index`. It hashes to the level-0 tile with the
/// same index and width.
///
/// Checked when built: `1 <= width <= 256`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct EntryBundle {
    index: u64,
    width: u16,
}

/// Any resource under `tile/` (c2sp.org/tlog-tiles): a hash tile or an entry bundle.
/// This is what a server routes on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`
    Hash(Tile),
    /// `tile/entries/<N>[.p/<W>]`
    Entries(EntryBundle),
}

fn check_width(width: u16) -> Result<(), TileError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(TileError::InvalidTile("width must be 1 to 256"));
    }
    Ok(())
}

/// `x >> bits`, 0 when `bits >= 64`.
fn shr(x: u64, bits: u32) -> u64 {
    x.checked_shr(bits).unwrap_or(0)
}

/// `x << bits` if no bit is lost.
fn checked_shl(x: u64, bits: u32) -> Option<u64> {
    if x == 0 {
        return Some(0);
    }
    let r = x.checked_shl(bits)?;
    (r >> bits == x).then_some(r)
}

impl Tile {
    /// A hash tile at `level` with tile index `index` holding `width` hashes.
    ///
    /// # Errors
    /// [`TileError::InvalidTile`] if `level > 63` or `width` is not in 1..=256.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Tile, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::InvalidTile("level must be 0 to 63"));
        }
        check_width(width)?;
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// The tile level `L`: its hashes are at tree level `8·L`.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The tile index `N` within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes, 1 to 256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile has fewer than 256 hashes (c2sp.org/tlog-tiles, "Partial Tiles").
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// The length of the tile's data: 32 bytes per hash.
    pub fn data_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The path `tile/<L>/<N>[.p/<W>]` (c2sp.org/tlog-tiles, "Merkle Tree").
    pub fn path(&self) -> String {
        format_path(&self.level.to_string(), self.index, self.width)
    }

    /// Parses a hash tile path strictly: only the exact output of [`Tile::path`] is
    /// accepted (no leading zeros, no superfluous or missing `x`, no `.p/256`, no
    /// extra slashes or bytes).
    ///
    /// # Errors
    /// [`TileError::MalformedPath`] for anything else, including entry bundle paths.
    pub fn parse_path(path: &str) -> Result<Tile, TileError> {
        match TilePath::parse(path)? {
            TilePath::Hash(t) => Ok(t),
            TilePath::Entries(_) => Err(malformed(path)),
        }
    }

    /// The entry bundle that hashes to this tile, if it is at level 0.
    pub fn entry_bundle(&self) -> Option<EntryBundle> {
        (self.level == 0).then_some(EntryBundle {
            index: self.index,
            width: self.width,
        })
    }

    /// The tile of a tree of `size` leaves at `level` with index `index`, with the
    /// width it has in that tree: full, or partial with `floor(size / 256^level) mod
    /// 256` hashes (c2sp.org/tlog-tiles, "Partial Tiles"). `None` if the tree has no
    /// such tile (it would be empty) or `level > 63`.
    pub fn in_tree(level: u8, index: u64, size: TreeSize) -> Option<Tile> {
        if level > MAX_TILE_LEVEL {
            return None;
        }
        let count = shr(size.0, u32::from(level) * u32::from(TILE_HEIGHT));
        let start = index.checked_mul(u64::from(TILE_WIDTH))?;
        if start >= count {
            return None;
        }
        let width = (count - start).min(u64::from(TILE_WIDTH)) as u16;
        Some(Tile {
            level,
            index,
            width,
        })
    }

    /// The narrowest tile that holds stored hash `index` (see
    /// [`crate::tree::stored_hash_index`]), like Go's `tlog.TileForIndex`. Hashes at
    /// tree levels `8·L+1 ..= 8·L+7` are not stored in tiles but recomputed from the
    /// level-`L` tile, so they belong to the tile holding their leftmost descendants.
    ///
    /// # Errors
    /// [`TileError::BeyondMaxTree`] if the hash is in no tree of at most
    /// [`MAX_TREE_SIZE`] leaves.
    pub fn for_stored_hash(index: u64) -> Result<Tile, TileError> {
        locate(index).map(|(t, _, _)| t)
    }

    /// The stored-hash indexes of the tile's `width` hashes, in order: the hashes at
    /// tree level `8·L`, subtree indexes `256·N ..< 256·N + W`.
    ///
    /// # Errors
    /// [`TileError::BeyondMaxTree`] for a tile past [`MAX_TREE_SIZE`] leaves.
    pub fn stored_hash_indexes(&self) -> Result<Vec<u64>, TileError> {
        let first = self.first_hash()?;
        let level = self.level * TILE_HEIGHT;
        Ok((0..u64::from(self.width))
            .map(|i| stored_hash_index(level, first + i))
            .collect())
    }

    /// The index at tree level `8·L` of the tile's first hash, checking that the
    /// tile lies within the largest supported tree.
    fn first_hash(&self) -> Result<u64, TileError> {
        let beyond = || TileError::BeyondMaxTree(self.path());
        let first = self
            .index
            .checked_mul(u64::from(TILE_WIDTH))
            .ok_or_else(beyond)?;
        let end = first
            .checked_add(u64::from(self.width))
            .ok_or_else(beyond)?;
        let leaves =
            checked_shl(end, u32::from(self.level) * u32::from(TILE_HEIGHT)).ok_or_else(beyond)?;
        if leaves > MAX_TREE_SIZE {
            return Err(beyond());
        }
        Ok(first)
    }

    /// The tile one level up in a tree of `size` that holds this full tile's hash.
    fn parent_in(&self, size: TreeSize) -> Option<Tile> {
        Tile::in_tree(self.level + 1, self.index >> TILE_HEIGHT, size)
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl EntryBundle {
    /// The entry bundle with index `index` holding `width` entries.
    ///
    /// # Errors
    /// [`TileError::InvalidTile`] if `width` is not in 1..=256.
    pub fn new(index: u64, width: u16) -> Result<EntryBundle, TileError> {
        check_width(width)?;
        Ok(EntryBundle { index, width })
    }

    /// The bundle index `N`: it starts with entry `256·N`.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of entries, 1 to 256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the bundle has fewer than 256 entries.
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// The level-0 hash tile whose hashes are this bundle's leaf hashes.
    pub fn hash_tile(&self) -> Tile {
        Tile {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// The path `tile/entries/<N>[.p/<W>]` (c2sp.org/tlog-tiles, "Log entries").
    pub fn path(&self) -> String {
        format_path("entries", self.index, self.width)
    }

    /// Parses an entry bundle path strictly, like [`Tile::parse_path`].
    ///
    /// # Errors
    /// [`TileError::MalformedPath`] for anything else, including hash tile paths.
    pub fn parse_path(path: &str) -> Result<EntryBundle, TileError> {
        match TilePath::parse(path)? {
            TilePath::Entries(b) => Ok(b),
            TilePath::Hash(_) => Err(malformed(path)),
        }
    }

    /// Parses this bundle's data with [`parse_entry_bundle`] and checks that it
    /// holds exactly `width` entries.
    ///
    /// # Errors
    /// What [`parse_entry_bundle`] returns, or [`TileError::BundleCount`].
    pub fn parse<'a>(&self, data: &'a [u8]) -> Result<Vec<&'a [u8]>, TileError> {
        let entries = parse_entry_bundle(data)?;
        if entries.len() != usize::from(self.width) {
            return Err(TileError::BundleCount {
                expected: usize::from(self.width),
                found: entries.len(),
            });
        }
        Ok(entries)
    }
}

impl fmt::Display for EntryBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl TilePath {
    /// The resource's path, `tile/...`.
    pub fn path(&self) -> String {
        match self {
            TilePath::Hash(t) => t.path(),
            TilePath::Entries(b) => b.path(),
        }
    }

    /// Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` strictly
    /// (c2sp.org/tlog-tiles): `L` and `W` are decimal with no leading zeros,
    /// `L <= 63`, `1 <= W <= 255`; `N` is 3-digit groups, all but the last prefixed
    /// with `x`, with no leading `x000` group and no overflow of a `u64`. There is no
    /// leading `/`.
    ///
    /// # Errors
    /// [`TileError::MalformedPath`] for anything else.
    pub fn parse(path: &str) -> Result<TilePath, TileError> {
        let parsed = parse_path_inner(path).ok_or_else(|| malformed(path))?;
        // Belt and braces: the only accepted spelling is the canonical one.
        if parsed.path() != path {
            return Err(malformed(path));
        }
        Ok(parsed)
    }
}

fn malformed(path: &str) -> TileError {
    let mut end = path.len().min(MAX_PATH_LEN);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    TileError::MalformedPath(path[..end].to_owned())
}

fn format_path(level: &str, index: u64, width: u16) -> String {
    let mut groups = Vec::with_capacity(MAX_PATH_GROUPS);
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = format!("tile/{level}/");
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
    if width < TILE_WIDTH {
        out.push_str(&format!(".p/{width}"));
    }
    out
}

fn parse_path_inner(path: &str) -> Option<TilePath> {
    if path.len() > MAX_PATH_LEN || !path.is_ascii() {
        return None;
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() < 3 || parts[0] != "tile" {
        return None;
    }
    let level = match parts[1] {
        "entries" => None,
        l => {
            let l = parse_canonical_u64(l)?;
            if l > u64::from(MAX_TILE_LEVEL) {
                return None;
            }
            Some(l as u8)
        }
    };
    let mut groups: Vec<&str> = parts[2..].to_vec();
    let mut width = TILE_WIDTH;
    if let [.., last_group, w] = groups[..]
        && let Some(stripped) = last_group.strip_suffix(".p")
    {
        let w = parse_canonical_u64(w)?;
        if w == 0 || w >= u64::from(TILE_WIDTH) {
            return None;
        }
        width = w as u16;
        groups.pop();
        *groups.last_mut()? = stripped;
    }
    if groups.is_empty() || groups.len() > MAX_PATH_GROUPS {
        return None;
    }
    let mut index = 0u64;
    for (i, g) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() {
            g.strip_prefix('x')?
        } else {
            g
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if i == 0 && groups.len() > 1 && digits == "000" {
            return None;
        }
        let d: u64 = digits.parse().ok()?;
        index = index.checked_mul(1000)?.checked_add(d)?;
    }
    Some(match level {
        Some(level) => TilePath::Hash(Tile {
            level,
            index,
            width,
        }),
        None => TilePath::Entries(EntryBundle { index, width }),
    })
}

/// The narrowest tile holding stored hash `index`, and the range of hash slots
/// `[start, end)` in it whose subtree hash is that stored hash.
fn locate(index: u64) -> Result<(Tile, usize, usize), TileError> {
    // Indexes at or past stored_hash_count(MAX_TREE_SIZE) = 2^64 - 1 would overflow
    // the stored-hash arithmetic of tree.rs.
    if index >= stored_hash_count(TreeSize(MAX_TREE_SIZE)) {
        return Err(TileError::BeyondMaxTree(format!("of stored hash {index}")));
    }
    let (level, n) = split_stored_hash_index(index);
    let tile_level = level / TILE_HEIGHT;
    let k = u32::from(level % TILE_HEIGHT);
    // The leftmost level-8L descendant of (level, n), and its tile.
    let first = n << k;
    let tile_index = first >> TILE_HEIGHT;
    let slot = (first - (tile_index << TILE_HEIGHT)) as usize;
    let end = slot + (1usize << k);
    let tile = Tile {
        level: tile_level,
        index: tile_index,
        width: end as u16,
    };
    Ok((tile, slot, end))
}

/// The Merkle tree hash of a power-of-two number of hashes laid out in `data`
/// (RFC 9162 §2.1.1): how a tile's interior levels are recomputed.
fn tile_hash(data: &[u8]) -> Hash {
    debug_assert!(data.len() >= HASH_SIZE && (data.len() / HASH_SIZE).is_power_of_two());
    if data.len() == HASH_SIZE {
        let mut h = [0u8; HASH_SIZE];
        h.copy_from_slice(data);
        return Hash(h);
    }
    let (l, r) = data.split_at(data.len() / 2);
    node_hash(&tile_hash(l), &tile_hash(r))
}

/// Returns stored hash `index` from `data`, the data of `tile`
/// (c2sp.org/tlog-tiles; Go's `tlog.HashFromTile`). The tile must be
/// [`Tile::for_stored_hash`]`(index)` or a wider tile at the same level and index.
/// Hashes at tree levels between the tile's rows are recomputed from `data`.
///
/// This does not authenticate `data`; see [`TileHashReader`].
///
/// # Errors
/// [`TileError::DataLength`] unless `data` is exactly `32·width` bytes,
/// [`TileError::NotInTile`] if the hash is not in `tile`.
pub fn hash_from_tile(tile: &Tile, data: &[u8], index: u64) -> Result<Hash, TileError> {
    if data.len() != tile.data_len() {
        return Err(TileError::DataLength {
            path: tile.path(),
            expected: tile.data_len(),
            found: data.len(),
        });
    }
    let (t, start, end) = locate(index)?;
    if t.level != tile.level || t.index != tile.index || t.width > tile.width {
        return Err(TileError::NotInTile {
            index,
            tile: tile.path(),
        });
    }
    Ok(tile_hash(&data[start * HASH_SIZE..end * HASH_SIZE]))
}

/// Every tile of a tree of `size` leaves, level 0 first and left to right within a
/// level: the full tiles, then the partial tile of width `floor(size / 256^L) mod
/// 256` if that is not 0 (c2sp.org/tlog-tiles, "Partial Tiles"). The empty tree has
/// no tiles.
///
/// The result has about `size / 255` elements; use [`new_tiles`] for a growing log.
pub fn tiles_for_size(size: TreeSize) -> Vec<Tile> {
    new_tiles(TreeSize(0), size)
}

/// The tiles a log must publish when it grows from `old` to `new` leaves: those of
/// [`tiles_for_size`]`(new)` that are not among [`tiles_for_size`]`(old)`. These are
/// the full tiles completed by the growth and, at each level where it changed, the
/// new partial tile. Empty if `new <= old`.
///
/// Unlike Go's `tlog.NewTiles`, this does not list the intermediate partial widths
/// between the two sizes: c2sp.org/tlog-tiles only requires partial tiles for sizes
/// that have a checkpoint.
pub fn new_tiles(old: TreeSize, new: TreeSize) -> Vec<Tile> {
    let mut tiles = Vec::new();
    if new.0 <= old.0 {
        return tiles;
    }
    let width = u64::from(TILE_WIDTH);
    for level in 0..=MAX_TILE_LEVEL {
        let bits = u32::from(level) * u32::from(TILE_HEIGHT);
        let (old_n, new_n) = (shr(old.0, bits), shr(new.0, bits));
        if new_n == 0 {
            break;
        }
        // Full tiles that were not full in the old tree.
        for index in old_n / width..new_n / width {
            tiles.push(Tile {
                level,
                index,
                width: TILE_WIDTH,
            });
        }
        let (index, w) = (new_n / width, (new_n % width) as u16);
        if w > 0 && (old_n / width, (old_n % width) as u16) != (index, w) {
            tiles.push(Tile {
                level,
                index,
                width: w,
            });
        }
    }
    tiles
}

/// Builds the data of `tile` from stored hashes: the concatenation of its `width`
/// hashes at tree level `8·L` (c2sp.org/tlog-tiles; Go's `tlog.ReadTileData`). A
/// level-`L` tile's hashes are stored hashes at tree level `8·L`, so only level-0
/// tiles hold leaf hashes.
///
/// # Errors
/// [`TileError::BeyondMaxTree`] for an impossible tile, or [`TileError::Tree`] if
/// `reader` fails or returns the wrong number of hashes.
pub fn read_tile_data(tile: &Tile, reader: &impl HashReader) -> Result<Vec<u8>, TileError> {
    let indexes = tile.stored_hash_indexes()?;
    let hashes = reader.read_hashes(&indexes)?;
    if hashes.len() != indexes.len() {
        return Err(TileError::Tree(TreeError::Read(format!(
            "asked for {} hashes, got {}",
            indexes.len(),
            hashes.len()
        ))));
    }
    let mut data = Vec::with_capacity(tile.data_len());
    for h in &hashes {
        data.extend_from_slice(h.as_bytes());
    }
    Ok(data)
}

/// Where tile data comes from: a tile server over HTTP, a directory, a cache.
///
/// The data is untrusted. Read it through [`TileHashReader`], which authenticates it.
pub trait TileReader {
    /// Returns the data of each of `tiles`, in the same order.
    ///
    /// # Errors
    /// A message saying which tile could not be read and why.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, String>;

    /// Called by [`TileHashReader`] with tiles it has just authenticated against a
    /// trusted root, so that a cache may keep them. Data returned by `read_tiles`
    /// should not be persisted before this call. The default does nothing.
    fn save_tiles(&self, tiles: &[Tile], data: &[Vec<u8>]) {
        let _ = (tiles, data);
    }
}

impl<T: TileReader + ?Sized> TileReader for &T {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
        (**self).read_tiles(tiles)
    }

    fn save_tiles(&self, tiles: &[Tile], data: &[Vec<u8>]) {
        (**self).save_tiles(tiles, data);
    }
}

/// An in-memory tile store, for tests and small mirrors. A missing tile is an error.
impl TileReader for BTreeMap<Tile, Vec<u8>> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
        tiles
            .iter()
            .map(|t| {
                self.get(t)
                    .cloned()
                    .ok_or_else(|| format!("{t}: not found"))
            })
            .collect()
    }
}

/// A [`HashReader`] over untrusted tiles of one tree, whose every answer is proven
/// to be in the tree with the trusted `size` and `root` (c2sp.org/tlog-tiles; the
/// design of Go's `tlog.TileHashReader`).
///
/// # How the tiles are authenticated
///
/// Only the tiles of the trusted tree are ever read: full tiles, and at each level
/// the partial tile of width `floor(size / 256^L) mod 256`. For each call it
///
/// 1. plans the *root tiles*: those holding the hashes of the maximal complete
///    subtrees that make up the tree (RFC 9162 §2.1.1). These are exactly the
///    tree's partial tiles, and every hash in them goes into the root;
/// 2. for each requested hash, plans its tile and the chain of parent tiles up to a
///    planned one, parents first. All tiles off the root set are full;
/// 3. reads all planned tiles in one [`TileReader::read_tiles`] call and checks
///    that each is exactly `32·width` bytes;
/// 4. recomputes the root from the root tiles and compares it with the trusted
///    root. This authenticates every byte of every root tile;
/// 5. checks each other tile against its parent: the Merkle hash of a full tile's
///    256 hashes must equal the parent tile's hash for it, and the parent is a root
///    tile or was checked the same way;
/// 6. only then takes the requested hashes out of the tiles.
///
/// A tile server that lies about any byte therefore makes step 4 or 5 fail unless
/// it finds a SHA-256 collision, and proofs built from this reader (see
/// [`crate::proof`]) contain only hashes of the trusted tree. Errors name the tile
/// that failed and the expected and found hash or length.
#[derive(Debug, Clone)]
pub struct TileHashReader<R> {
    size: TreeSize,
    root: Hash,
    reader: R,
}

impl<R: TileReader> TileHashReader<R> {
    /// A reader of the tree with the trusted `size` and `root` (for example from a
    /// verified checkpoint), over the tiles of `reader`.
    ///
    /// # Errors
    /// [`TileError::TreeTooLarge`] if `size` exceeds [`MAX_TREE_SIZE`].
    pub fn new(size: TreeSize, root: Hash, reader: R) -> Result<Self, TileError> {
        if size.0 > MAX_TREE_SIZE {
            return Err(TileError::TreeTooLarge(size.0));
        }
        Ok(TileHashReader { size, root, reader })
    }

    /// The trusted tree size.
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// The trusted root.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Returns the stored hashes at `indexes`, in order, after authenticating every
    /// tile they come from as described on [`TileHashReader`].
    ///
    /// # Errors
    /// [`TileError::NotInTree`] for an index outside the tree; [`TileError::Read`] or
    /// [`TileError::ReadCount`] if the tile reader fails; [`TileError::DataLength`],
    /// [`TileError::RootMismatch`] or [`TileError::ParentMismatch`] if a tile is
    /// not the trusted tree's.
    pub fn read_authenticated(&self, indexes: &[u64]) -> Result<Vec<Hash>, TileError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.size;
        let count = stored_hash_count(size);
        if let Some(&bad) = indexes.iter().find(|&&x| x >= count) {
            return Err(TileError::NotInTree {
                index: bad,
                size: size.0,
            });
        }
        let mut plan = Plan::default();

        // Step 1: the root tiles.
        let mut root_indexes = Vec::new();
        subtree_indexes(0, size.0, &mut root_indexes);
        let mut root_slots = Vec::with_capacity(root_indexes.len());
        for &x in &root_indexes {
            let tile = self.tree_tile(x)?;
            root_slots.push(plan.add(tile));
        }
        let root_tiles = plan.tiles.len();

        // Step 2: the tiles of the requested hashes, with their parents.
        let mut slots = Vec::with_capacity(indexes.len());
        for &x in indexes {
            let tile = self.tree_tile(x)?;
            slots.push(self.plan_chain(&mut plan, tile)?);
        }

        // Step 3: read and check lengths.
        let data = self
            .reader
            .read_tiles(&plan.tiles)
            .map_err(TileError::Read)?;
        if data.len() != plan.tiles.len() {
            return Err(TileError::ReadCount {
                expected: plan.tiles.len(),
                found: data.len(),
            });
        }
        for (tile, d) in plan.tiles.iter().zip(&data) {
            if d.len() != tile.data_len() {
                return Err(TileError::DataLength {
                    path: tile.path(),
                    expected: tile.data_len(),
                    found: d.len(),
                });
            }
        }

        // Step 4: the root tiles against the trusted root.
        let mut hashes = Vec::with_capacity(root_indexes.len());
        for (&x, &slot) in root_indexes.iter().zip(&root_slots) {
            hashes.push(hash_from_tile(&plan.tiles[slot], &data[slot], x)?);
        }
        let computed = hashes
            .iter()
            .rev()
            .copied()
            .reduce(|right, left| node_hash(&left, &right))
            .expect("a non-empty tree has a root subtree");
        if computed != self.root {
            let tiles: Vec<String> = plan.tiles[..root_tiles].iter().map(Tile::path).collect();
            return Err(TileError::RootMismatch {
                tiles: tiles.join(", "),
                expected: self.root,
                computed,
            });
        }

        // Step 5: every other tile against its parent.
        for (i, tile) in plan.tiles.iter().enumerate().skip(root_tiles) {
            let parent = tile
                .parent_in(size)
                .expect("planned tiles off the root set are full and have a parent");
            let j = plan.slot[&parent];
            let expected = hash_from_tile(
                &parent,
                &data[j],
                stored_hash_index((tile.level + 1) * TILE_HEIGHT, tile.index),
            )?;
            let found = tile_hash(&data[i]);
            if found != expected {
                return Err(TileError::ParentMismatch {
                    path: tile.path(),
                    parent: parent.path(),
                    expected,
                    found,
                });
            }
        }
        self.reader.save_tiles(&plan.tiles, &data);

        // Step 6.
        indexes
            .iter()
            .zip(&slots)
            .map(|(&x, &slot)| hash_from_tile(&plan.tiles[slot], &data[slot], x))
            .collect()
    }

    /// The tile of the trusted tree that holds stored hash `x` (`x` is in the tree).
    fn tree_tile(&self, x: u64) -> Result<Tile, TileError> {
        let t = Tile::for_stored_hash(x)?;
        let tile = Tile::in_tree(t.level, t.index, self.size)
            .filter(|tile| tile.width >= t.width)
            .ok_or(TileError::NotInTree {
                index: x,
                size: self.size.0,
            })?;
        Ok(tile)
    }

    /// Plans `tile` after the chain of its parents, up to a tile already planned.
    /// Returns `tile`'s slot.
    fn plan_chain(&self, plan: &mut Plan, tile: Tile) -> Result<usize, TileError> {
        if let Some(&slot) = plan.slot.get(&tile) {
            return Ok(slot);
        }
        // Every partial tile of the tree is a root tile, so an unplanned tile is
        // full, and a full tile's hash is in the tile above.
        let parent = match tile.parent_in(self.size) {
            Some(p) if !tile.is_partial() => p,
            _ => unreachable!("tile {tile} of a tree of size {} is not planned", self.size),
        };
        self.plan_chain(plan, parent)?;
        Ok(plan.add(tile))
    }
}

/// The tiles one [`TileHashReader::read_authenticated`] call reads, in order.
#[derive(Default)]
struct Plan {
    tiles: Vec<Tile>,
    slot: BTreeMap<Tile, usize>,
}

impl Plan {
    fn add(&mut self, tile: Tile) -> usize {
        *self.slot.entry(tile).or_insert_with(|| {
            self.tiles.push(tile);
            self.tiles.len() - 1
        })
    }
}

/// Authenticated hashes for proofs: errors become [`TreeError::Read`] with the
/// [`TileError`]'s message (which names the tile).
impl<R: TileReader> HashReader for TileHashReader<R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.read_authenticated(indexes)
            .map_err(|e| TreeError::Read(e.to_string()))
    }
}

/// Splits an entry bundle into its entries (c2sp.org/tlog-tiles, "Log entries"):
/// a sequence of `uint16` big-endian length followed by that many bytes. Empty
/// entries are allowed; an empty bundle or more than 256 entries is not.
///
/// # Errors
/// [`TileError::BundleLengthTruncated`] or [`TileError::BundleBodyTruncated`] if
/// the data ends inside an entry, [`TileError::BundleCount`] for 0 or more than 256
/// entries.
pub fn parse_entry_bundle(data: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if entries.len() == usize::from(TILE_WIDTH) {
            return Err(TileError::BundleCount {
                expected: usize::from(TILE_WIDTH),
                found: usize::from(TILE_WIDTH) + 1,
            });
        }
        let offset = data.len() - rest.len();
        let [hi, lo, body @ ..] = rest else {
            return Err(TileError::BundleLengthTruncated {
                entry: entries.len(),
                offset,
            });
        };
        let length = usize::from(u16::from_be_bytes([*hi, *lo]));
        if body.len() < length {
            return Err(TileError::BundleBodyTruncated {
                entry: entries.len(),
                offset: offset + 2,
                length,
                remaining: body.len(),
            });
        }
        let (entry, tail) = body.split_at(length);
        entries.push(entry);
        rest = tail;
    }
    if entries.is_empty() {
        return Err(TileError::BundleCount {
            expected: 1,
            found: 0,
        });
    }
    Ok(entries)
}

/// Encodes 1 to 256 entries as an entry bundle (c2sp.org/tlog-tiles, "Log
/// entries"): each as a `uint16` big-endian length followed by its bytes.
///
/// # Errors
/// [`TileError::EntryTooLong`] for an entry over 65535 bytes,
/// [`TileError::BundleCount`] for 0 or more than 256 entries.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.is_empty() || entries.len() > usize::from(TILE_WIDTH) {
        return Err(TileError::BundleCount {
            expected: if entries.is_empty() { 1 } else { 256 },
            found: entries.len(),
        });
    }
    let mut total = 0usize;
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLong(e.len()))?;
        total += 2 + usize::from(len);
    }
    let mut out = Vec::with_capacity(total);
    for e in entries {
        let e = e.as_ref();
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The right edge of a tiled tree, for a log that appends: for each tile level, the
/// hashes of its rightmost, not yet full tile (c2sp.org/tlog-tiles). It computes
/// exactly the tile data a log must store and serve, and the root, in memory
/// bounded by 256 hashes per level, whatever the size of the log.
///
/// A sequencer appends each new leaf hash, stores the tiles that
/// [`TileBuilder::take_completed`] returns and the current
/// [`TileBuilder::partial_tiles`], and signs [`TileBuilder::root`]. A replaying
/// verifier does the same and compares with the tiles it downloaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileBuilder {
    size: u64,
    /// `levels[l]` holds the hashes of level `l`'s partial tile (fewer than 256).
    levels: Vec<Vec<Hash>>,
    completed: Vec<(Tile, Vec<u8>)>,
}

impl TileBuilder {
    /// The builder of the empty tree.
    pub fn new() -> TileBuilder {
        TileBuilder::default()
    }

    /// Resumes a tree of `size` leaves from the data of its partial tiles, one per
    /// level where [`tiles_for_size`]`(size)` has a partial tile, lowest level first
    /// (as [`TileBuilder::partial_tiles`] returned them).
    ///
    /// # Errors
    /// [`TileError::DataLength`] if a tile's data is not exactly the partial
    /// tile's width, [`TileError::TreeTooLarge`], or [`TileError::ReadCount`] if
    /// there are more or fewer tiles than `size` has partial tiles.
    pub fn resume(size: TreeSize, partial: &[Vec<u8>]) -> Result<TileBuilder, TileError> {
        if size.0 > MAX_TREE_SIZE {
            return Err(TileError::TreeTooLarge(size.0));
        }
        let mut levels = Vec::new();
        let mut data = partial.iter();
        let mut level: u8 = 0;
        while level <= MAX_TILE_LEVEL {
            let n = shr(size.0, u32::from(level) * u32::from(TILE_HEIGHT));
            if n == 0 {
                break;
            }
            let width = (n % u64::from(TILE_WIDTH)) as u16;
            let mut hashes = Vec::with_capacity(usize::from(TILE_WIDTH));
            if width > 0 {
                let tile = Tile {
                    level,
                    index: n / u64::from(TILE_WIDTH),
                    width,
                };
                let d = data.next().ok_or(TileError::ReadCount {
                    expected: partial.len() + 1,
                    found: partial.len(),
                })?;
                if d.len() != tile.data_len() {
                    return Err(TileError::DataLength {
                        path: tile.path(),
                        expected: tile.data_len(),
                        found: d.len(),
                    });
                }
                hashes.extend(d.chunks_exact(HASH_SIZE).map(|c| {
                    let mut h = [0u8; HASH_SIZE];
                    h.copy_from_slice(c);
                    Hash(h)
                }));
            }
            levels.push(hashes);
            level += 1;
        }
        let unused = data.count();
        if unused > 0 {
            return Err(TileError::ReadCount {
                expected: partial.len() - unused,
                found: partial.len(),
            });
        }
        Ok(TileBuilder {
            size: size.0,
            levels,
            completed: Vec::new(),
        })
    }

    /// The number of leaves appended.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// Appends a leaf hash (RFC 9162 §2.1.1). Tiles that become full are kept until
    /// [`TileBuilder::take_completed`].
    ///
    /// # Panics
    /// If the tree already has [`MAX_TREE_SIZE`] leaves.
    pub fn append(&mut self, leaf: Hash) {
        assert!(self.size < MAX_TREE_SIZE, "tree is full");
        self.size += 1;
        let mut hash = leaf;
        for level in 0..=MAX_TILE_LEVEL {
            let l = usize::from(level);
            if self.levels.len() == l {
                self.levels
                    .push(Vec::with_capacity(usize::from(TILE_WIDTH)));
            }
            self.levels[l].push(hash);
            if self.levels[l].len() < usize::from(TILE_WIDTH) {
                return;
            }
            // The tile is full: store it, and carry its root one tile level up.
            let n = shr(self.size, u32::from(level) * u32::from(TILE_HEIGHT));
            let data: Vec<u8> = self.levels[l].iter().flat_map(|h| h.0).collect();
            hash = tile_hash(&data);
            self.completed.push((
                Tile {
                    level,
                    index: n / u64::from(TILE_WIDTH) - 1,
                    width: TILE_WIDTH,
                },
                data,
            ));
            self.levels[l].clear();
        }
    }

    /// The full tiles completed since the last call, in the order they filled.
    pub fn take_completed(&mut self) -> Vec<(Tile, Vec<u8>)> {
        std::mem::take(&mut self.completed)
    }

    /// The current partial tiles with their data, lowest level first: the partial
    /// tiles of [`tiles_for_size`]`(size)`.
    pub fn partial_tiles(&self) -> Vec<(Tile, Vec<u8>)> {
        let mut out = Vec::new();
        for (level, hashes) in self.levels.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let level = level as u8;
            let n = shr(self.size, u32::from(level) * u32::from(TILE_HEIGHT));
            out.push((
                Tile {
                    level,
                    index: n / u64::from(TILE_WIDTH),
                    width: hashes.len() as u16,
                },
                hashes.iter().flat_map(|h| h.0).collect(),
            ));
        }
        out
    }

    /// The root of the tree (RFC 9162 §2.1.1): the partial tiles' hashes, split
    /// into perfect subtrees from the left, folded from the right.
    pub fn root(&self) -> Hash {
        let mut subtrees = Vec::new();
        for hashes in self.levels.iter().rev() {
            let mut rest = hashes.as_slice();
            while !rest.is_empty() {
                let take = 1usize << rest.len().ilog2();
                let (head, tail) = rest.split_at(take);
                let data: Vec<u8> = head.iter().flat_map(|h| h.0).collect();
                subtrees.push(tile_hash(&data));
                rest = tail;
            }
        }
        let mut iter = subtrees.into_iter().rev();
        let Some(mut root) = iter.next() else {
            return Hash::empty_tree();
        };
        for left in iter {
            root = node_hash(&left, &root);
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::index::LeafIndex;
    use crate::proof::{prove_consistency, prove_inclusion};
    use crate::tree::{MemoryTree, tree_hash};
    use proptest::prelude::*;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.append(&i.to_be_bytes());
        }
        t
    }

    /// Every tile of `t` at its current size, built from its stored hashes.
    fn tiles_of(t: &MemoryTree) -> BTreeMap<Tile, Vec<u8>> {
        tiles_for_size(t.size())
            .into_iter()
            .map(|tile| (tile, read_tile_data(&tile, t).unwrap()))
            .collect()
    }

    fn tile(level: u8, index: u64, width: u16) -> Tile {
        Tile::new(level, index, width).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(tile(0, 5, 256).path(), "tile/0/005");
        assert_eq!(tile(0, 1234067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(tile(4, 1234067, 1).path(), "tile/4/x001/x234/067.p/1");
        assert_eq!(tile(63, 1000, 255).path(), "tile/63/x001/000.p/255");
        assert_eq!(
            tile(1, u64::MAX, 256).path(),
            "tile/1/x018/x446/x744/x073/x709/x551/615"
        );
        assert_eq!(
            EntryBundle::new(0, 15).unwrap().path(),
            "tile/entries/000.p/15"
        );
        assert_eq!(
            EntryBundle::new(999, 256).unwrap().path(),
            "tile/entries/999"
        );
        let longest = "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255";
        assert_eq!(longest.len(), 52);
        assert_eq!(
            TilePath::parse(longest).unwrap(),
            TilePath::Entries(EntryBundle::new(u64::MAX, 255).unwrap())
        );
        for good in [
            "tile/0/000",
            "tile/0/000.p/1",
            "tile/63/999.p/255",
            "tile/10/x001/000",
            "tile/entries/x999/x999/999",
        ] {
            assert_eq!(TilePath::parse(good).unwrap().path(), good);
        }
        assert_eq!(
            Tile::parse_path("tile/2/x001/x234/067.p/8").unwrap(),
            tile(2, 1234067, 8)
        );
        assert!(Tile::parse_path("tile/entries/000").is_err());
        assert!(EntryBundle::parse_path("tile/0/000").is_err());
    }

    #[test]
    fn malformed_paths() {
        for bad in [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "/tile/0/000",
            "tile/0/000/",
            "tile//0/000",
            "tile/0//000",
            "Tile/0/000",
            "tiles/0/000",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/100/000",
            "tile/-1/000",
            "tile/+1/000",
            "tile/ 1/000",
            "tile/data/000",
            "tile/entry/000",
            "tile/ENTRIES/000",
            "tile/0/0",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/5",
            "tile/0/x005",
            "tile/0/001/234",
            "tile/0/x001/x234",
            "tile/0/xx01/234",
            "tile/0/x01/234",
            "tile/0/x0001/234",
            "tile/0/x000/234",
            "tile/0/x000/x001/234",
            "tile/0/x001/x234/067x",
            "tile/0/x1a3/234",
            "tile/0/0a0",
            "tile/0/00 ",
            "tile/0/000.p",
            "tile/0/000.p/",
            "tile/0/000.p/0",
            "tile/0/000.p/00",
            "tile/0/000.p/01",
            "tile/0/000.p/256",
            "tile/0/000.p/1000",
            "tile/0/000.p/-1",
            "tile/0/000.p/1/",
            "tile/0/000.p/1/2",
            "tile/0/000.p/1x",
            "tile/0/000.q/1",
            "tile/0/000p/1",
            "tile/0/000.p.p/1",
            "tile/0/x001.p/000",
            "tile/0/x001.p/5/000",
            "tile/0/000\n",
            "tile/0/000\0",
            "tile/0/000.p/5\n",
            "tile/0/٠٠٠",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/999",
            "tile/0/x001/x001/x001/x001/x001/x001/x001/001",
            "tile/entries/000.p/256",
            "tile/entries//000",
            "tile/entries/000/",
            "tile/0/000/../001",
            "tile/0/./000",
        ] {
            let got = TilePath::parse(bad);
            assert!(
                matches!(got, Err(TileError::MalformedPath(_))),
                "{bad:?} -> {got:?}"
            );
        }
        // Long input is cut in the error.
        let long = format!("tile/0/{}", "x001/".repeat(100));
        assert!(
            matches!(TilePath::parse(&long), Err(TileError::MalformedPath(p)) if p.len() == 64)
        );
    }

    #[test]
    fn constructors_check_ranges() {
        assert!(Tile::new(64, 0, 1).is_err());
        assert!(Tile::new(0, 0, 0).is_err());
        assert!(Tile::new(0, 0, 257).is_err());
        assert!(EntryBundle::new(0, 0).is_err());
        assert!(EntryBundle::new(0, 257).is_err());
        assert!(!tile(0, 0, 256).is_partial());
        assert!(tile(0, 0, 255).is_partial());
        assert_eq!(
            tile(0, 3, 7).entry_bundle(),
            Some(EntryBundle::new(3, 7).unwrap())
        );
        assert_eq!(tile(1, 3, 7).entry_bundle(), None);
        assert_eq!(EntryBundle::new(3, 7).unwrap().hash_tile(), tile(0, 3, 7));
    }

    #[test]
    fn spec_examples_of_tree_tiles() {
        // c2sp.org/tlog-tiles: "a tree of size 70,000 will be represented by 273
        // full level 0 tiles, one partial level 0 tile of width 112, one full level
        // 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile
        // of width 1."
        let tiles = tiles_for_size(TreeSize(70_000));
        let mut want: Vec<Tile> = (0..273).map(|i| tile(0, i, 256)).collect();
        want.extend([
            tile(0, 273, 112),
            tile(1, 0, 256),
            tile(1, 1, 17),
            tile(2, 0, 1),
        ]);
        assert_eq!(tiles, want);
        // "a tree of size 256 will be represented by a full level 0 tile and a
        // partial level 1 tile of width 1."
        assert_eq!(
            tiles_for_size(TreeSize(256)),
            [tile(0, 0, 256), tile(1, 0, 1)]
        );
        assert_eq!(tiles_for_size(TreeSize(0)), []);
        assert_eq!(tiles_for_size(TreeSize(1)), [tile(0, 0, 1)]);
        assert_eq!(Tile::in_tree(1, 1, TreeSize(70_000)), Some(tile(1, 1, 17)));
        assert_eq!(Tile::in_tree(1, 2, TreeSize(70_000)), None);
        assert_eq!(Tile::in_tree(3, 0, TreeSize(70_000)), None);
        assert_eq!(
            Tile::in_tree(7, 0, TreeSize(MAX_TREE_SIZE)),
            Some(tile(7, 0, 128))
        );
        assert_eq!(Tile::in_tree(8, 0, TreeSize(u64::MAX)), None);
        assert_eq!(Tile::in_tree(64, 0, TreeSize(1)), None);
        assert_eq!(Tile::in_tree(0, u64::MAX, TreeSize(u64::MAX)), None);
        // The largest tree's tiles at the top.
        let top = new_tiles(TreeSize(MAX_TREE_SIZE - 1), TreeSize(MAX_TREE_SIZE));
        assert_eq!(top.last(), Some(&tile(7, 0, 128)));
    }

    #[test]
    fn new_tiles_examples() {
        assert_eq!(new_tiles(TreeSize(0), TreeSize(3)), [tile(0, 0, 3)]);
        assert_eq!(new_tiles(TreeSize(3), TreeSize(3)), []);
        assert_eq!(new_tiles(TreeSize(5), TreeSize(3)), []);
        assert_eq!(new_tiles(TreeSize(3), TreeSize(4)), [tile(0, 0, 4)]);
        assert_eq!(
            new_tiles(TreeSize(255), TreeSize(256)),
            [tile(0, 0, 256), tile(1, 0, 1)]
        );
        assert_eq!(
            new_tiles(TreeSize(256), TreeSize(600)),
            [tile(0, 1, 256), tile(0, 2, 88), tile(1, 0, 2)]
        );
        // Growing within the full tiles of level 1 changes only level 0.
        assert_eq!(new_tiles(TreeSize(513), TreeSize(514)), [tile(0, 2, 2)]);
    }

    #[test]
    fn stored_hashes_locate_in_tiles() {
        let t = tree(70_000 / 64);
        let size = t.size();
        let tiles = tiles_of(&t);
        for (x, want) in t.stored().iter().enumerate() {
            let x = x as u64;
            let narrow = Tile::for_stored_hash(x).unwrap();
            let wide = Tile::in_tree(narrow.level(), narrow.index(), size).unwrap();
            assert!(wide.width() >= narrow.width());
            assert_eq!(
                hash_from_tile(&wide, &tiles[&wide], x).unwrap(),
                *want,
                "{x}"
            );
            // The narrow tile (a prefix of the wide one) gives the same hash.
            let prefix = &tiles[&wide][..narrow.data_len()];
            assert_eq!(hash_from_tile(&narrow, prefix, x).unwrap(), *want);
        }
        let w = tile(0, 0, 256);
        assert!(matches!(
            hash_from_tile(&w, &tiles[&w][1..], 0),
            Err(TileError::DataLength {
                expected: 8192,
                found: 8191,
                ..
            })
        ));
        assert!(matches!(
            hash_from_tile(&tile(0, 1, 256), &tiles[&w], 0),
            Err(TileError::NotInTile { .. })
        ));
        assert!(matches!(
            hash_from_tile(&tile(1, 0, 256), &tiles[&w], 0),
            Err(TileError::NotInTile { .. })
        ));
        // Stored hash 2 is (level 1, n 0): it needs 2 slots of tile 0.
        assert_eq!(Tile::for_stored_hash(2).unwrap(), tile(0, 0, 2));
        assert!(matches!(
            hash_from_tile(&tile(0, 0, 1), &tiles[&w][..32], 2),
            Err(TileError::NotInTile { .. })
        ));
        assert!(Tile::for_stored_hash(u64::MAX).is_err());
        assert!(Tile::for_stored_hash(u64::MAX - 1).is_ok());
        assert_eq!(
            tile(0, 0, 3).stored_hash_indexes().unwrap(),
            [
                stored_hash_index(0, 0),
                stored_hash_index(0, 1),
                stored_hash_index(0, 2)
            ]
        );
        assert_eq!(
            tile(1, 0, 1).stored_hash_indexes().unwrap(),
            [stored_hash_index(8, 0)]
        );
        assert!(tile(8, 0, 1).stored_hash_indexes().is_err());
        assert!(tile(7, 0, 129).stored_hash_indexes().is_err());
        assert!(tile(7, 0, 128).stored_hash_indexes().is_ok());
        assert!(tile(0, u64::MAX, 1).stored_hash_indexes().is_err());
        assert!(read_tile_data(&tile(63, 0, 1), &t).is_err());
        // A tile past the end of the tree cannot be read.
        assert!(matches!(
            read_tile_data(&tile(0, 99, 1), &t),
            Err(TileError::Tree(_))
        ));
    }

    #[test]
    fn tile_hash_reader_matches_memory_tree() {
        for n in [
            1u64, 2, 3, 255, 256, 257, 511, 512, 513, 600, 65_536, 65_537, 70_000,
        ] {
            let t = tree(n);
            let tiles = tiles_of(&t);
            let r = TileHashReader::new(t.size(), t.root(), &tiles).unwrap();
            assert_eq!(tree_hash(t.size(), &r).unwrap(), t.root(), "{n}");
            for i in [0, n / 3, n / 2, n - 1] {
                assert_eq!(
                    prove_inclusion(LeafIndex(i), t.size(), &r).unwrap(),
                    prove_inclusion(LeafIndex(i), t.size(), &t).unwrap()
                );
            }
            for old in [1, n / 2, n - 1, n].into_iter().filter(|&o| o >= 1) {
                let p = prove_consistency(TreeSize(old), t.size(), &r).unwrap();
                assert_eq!(p, prove_consistency(TreeSize(old), t.size(), &t).unwrap());
                p.verify(&t.root_at(TreeSize(old)).unwrap(), &t.root())
                    .unwrap();
            }
            // Every stored hash reads back.
            if n <= 600 {
                let all: Vec<u64> = (0..t.stored().len() as u64).collect();
                assert_eq!(r.read_authenticated(&all).unwrap(), t.stored());
            }
        }
    }

    #[test]
    fn tile_hash_reader_errors() {
        let t = tree(600);
        let tiles = tiles_of(&t);
        let r = TileHashReader::new(t.size(), t.root(), &tiles).unwrap();
        assert_eq!(r.read_authenticated(&[]).unwrap(), []);
        let count = stored_hash_count(t.size());
        assert_eq!(
            r.read_authenticated(&[0, count]),
            Err(TileError::NotInTree {
                index: count,
                size: 600
            })
        );
        assert!(matches!(
            r.read_hashes(&[u64::MAX]),
            Err(TreeError::Read(m)) if m.contains("not in a tree of size 600")
        ));

        // Wrong root: names the root tiles.
        let bad_root = leaf_hash(b"forged");
        let r = TileHashReader::new(t.size(), bad_root, &tiles).unwrap();
        match r.read_authenticated(&[0]) {
            Err(TileError::RootMismatch {
                tiles,
                expected,
                computed,
            }) => {
                assert_eq!(tiles, "tile/1/000.p/2, tile/0/002.p/88");
                assert_eq!(expected, bad_root);
                assert_eq!(computed, t.root());
            }
            other => panic!("{other:?}"),
        }

        // A forged full tile that is internally fine but not the parent's.
        let mut forged = tiles.clone();
        let full = tile(0, 1, 256);
        forged.get_mut(&full).unwrap()[40] ^= 1;
        let r = TileHashReader::new(t.size(), t.root(), &forged).unwrap();
        let x = stored_hash_index(0, 300);
        match r.read_authenticated(&[x]) {
            Err(TileError::ParentMismatch {
                path,
                parent,
                expected,
                found,
            }) => {
                assert_eq!(path, "tile/0/001");
                assert_eq!(parent, "tile/1/000.p/2");
                assert_eq!(
                    expected,
                    t.read_hashes(&[stored_hash_index(8, 1)]).unwrap()[0]
                );
                assert_ne!(found, expected);
            }
            other => panic!("{other:?}"),
        }
        // The message carries the details through the HashReader interface.
        let msg = prove_inclusion(LeafIndex(300), t.size(), &r)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("tile/0/001") && msg.contains("tile/1/000.p/2"),
            "{msg}"
        );

        // Missing and short tiles.
        let mut missing = tiles.clone();
        missing.remove(&tile(0, 2, 88));
        let r = TileHashReader::new(t.size(), t.root(), &missing).unwrap();
        assert_eq!(
            r.read_authenticated(&[0]),
            Err(TileError::Read("tile/0/002.p/88: not found".into()))
        );
        let mut short = tiles.clone();
        short.get_mut(&tile(1, 0, 2)).unwrap().pop();
        let r = TileHashReader::new(t.size(), t.root(), &short).unwrap();
        assert_eq!(
            r.read_authenticated(&[0]),
            Err(TileError::DataLength {
                path: "tile/1/000.p/2".into(),
                expected: 64,
                found: 63
            })
        );

        // A reader that returns the wrong number of tiles.
        struct Lossy;
        impl TileReader for Lossy {
            fn read_tiles(&self, _: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
                Ok(Vec::new())
            }
        }
        let r = TileHashReader::new(t.size(), t.root(), Lossy).unwrap();
        assert!(matches!(
            r.read_authenticated(&[0]),
            Err(TileError::ReadCount { found: 0, .. })
        ));

        // Trees that are empty or too large.
        let r = TileHashReader::new(TreeSize(0), Hash::empty_tree(), &tiles).unwrap();
        assert_eq!(tree_hash(TreeSize(0), &r).unwrap(), Hash::empty_tree());
        assert!(matches!(
            r.read_authenticated(&[0]),
            Err(TileError::NotInTree { .. })
        ));
        assert!(TileHashReader::new(TreeSize(MAX_TREE_SIZE + 1), t.root(), &tiles).is_err());
        assert!(TileHashReader::new(TreeSize(MAX_TREE_SIZE), t.root(), &tiles).is_ok());
    }

    /// A reader that records what it saves.
    #[test]
    fn save_tiles_only_after_authentication() {
        use std::cell::RefCell;
        struct Recording<'a>(&'a BTreeMap<Tile, Vec<u8>>, RefCell<Vec<Tile>>);
        impl TileReader for Recording<'_> {
            fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
                self.0.read_tiles(tiles)
            }
            fn save_tiles(&self, tiles: &[Tile], _: &[Vec<u8>]) {
                self.1.borrow_mut().extend_from_slice(tiles);
            }
        }
        let t = tree(600);
        let tiles = tiles_of(&t);
        let rec = Recording(&tiles, RefCell::default());
        let r = TileHashReader::new(t.size(), t.root(), &rec).unwrap();
        r.read_authenticated(&[stored_hash_index(0, 3)]).unwrap();
        assert_eq!(
            *rec.1.borrow(),
            [tile(1, 0, 2), tile(0, 2, 88), tile(0, 0, 256)]
        );
        rec.1.borrow_mut().clear();
        let r = TileHashReader::new(t.size(), leaf_hash(b"x"), &rec).unwrap();
        assert!(r.read_authenticated(&[0]).is_err());
        assert!(rec.1.borrow().is_empty());
    }

    #[test]
    fn entry_bundles() {
        let entries: Vec<&[u8]> = vec![b"one", b"", b"three"];
        let data = encode_entry_bundle(&entries).unwrap();
        assert_eq!(data, b"\x00\x03one\x00\x00\x00\x05three");
        assert_eq!(parse_entry_bundle(&data).unwrap(), entries);
        let b = EntryBundle::new(0, 3).unwrap();
        assert_eq!(b.parse(&data).unwrap(), entries);
        assert_eq!(
            EntryBundle::new(0, 4).unwrap().parse(&data),
            Err(TileError::BundleCount {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            EntryBundle::new(0, 2).unwrap().parse(&data),
            Err(TileError::BundleCount {
                expected: 2,
                found: 3
            })
        );
        // One empty entry is a 2-byte bundle.
        assert_eq!(parse_entry_bundle(&[0, 0]).unwrap(), [b""]);

        for (bad, want) in [
            (
                &b""[..],
                TileError::BundleCount {
                    expected: 1,
                    found: 0,
                },
            ),
            (
                b"\x00",
                TileError::BundleLengthTruncated {
                    entry: 0,
                    offset: 0,
                },
            ),
            (
                b"\x00\x03on",
                TileError::BundleBodyTruncated {
                    entry: 0,
                    offset: 2,
                    length: 3,
                    remaining: 2,
                },
            ),
            (
                b"\x00\x03one\x00",
                TileError::BundleLengthTruncated {
                    entry: 1,
                    offset: 5,
                },
            ),
            (
                b"\x00\x03one\x00\x05thre",
                TileError::BundleBodyTruncated {
                    entry: 1,
                    offset: 7,
                    length: 5,
                    remaining: 4,
                },
            ),
            (
                b"\xff\xff",
                TileError::BundleBodyTruncated {
                    entry: 0,
                    offset: 2,
                    length: 65535,
                    remaining: 0,
                },
            ),
        ] {
            assert_eq!(parse_entry_bundle(bad), Err(want), "{bad:?}");
        }
        // At most 256 entries.
        let full = encode_entry_bundle(&vec![b"x"; 256]).unwrap();
        assert_eq!(parse_entry_bundle(&full).unwrap().len(), 256);
        assert_eq!(
            EntryBundle::new(7, 256)
                .unwrap()
                .parse(&full)
                .unwrap()
                .len(),
            256
        );
        let mut over = full.clone();
        over.extend_from_slice(b"\x00\x00");
        assert_eq!(
            parse_entry_bundle(&over),
            Err(TileError::BundleCount {
                expected: 256,
                found: 257
            })
        );
        assert!(matches!(
            encode_entry_bundle(&vec![b"x"; 257]),
            Err(TileError::BundleCount { .. })
        ));
        assert!(matches!(
            encode_entry_bundle::<&[u8]>(&[]),
            Err(TileError::BundleCount { .. })
        ));
        // Entry length limits.
        let max = vec![7u8; MAX_ENTRY_SIZE];
        let data = encode_entry_bundle(&[&max]).unwrap();
        assert_eq!(&data[..2], b"\xff\xff");
        assert_eq!(parse_entry_bundle(&data).unwrap(), [&max[..]]);
        let too_long = vec![0u8; MAX_ENTRY_SIZE + 1];
        assert_eq!(
            encode_entry_bundle(&[&too_long]),
            Err(TileError::EntryTooLong(MAX_ENTRY_SIZE + 1))
        );
    }

    fn tile_strategy() -> impl Strategy<Value = Tile> {
        (0..=MAX_TILE_LEVEL, any::<u64>(), 1..=TILE_WIDTH).prop_map(|(l, n, w)| tile(l, n, w))
    }

    proptest! {
        #[test]
        fn path_round_trip(t in tile_strategy(), small in 0u64..2_000_000) {
            prop_assert_eq!(Tile::parse_path(&t.path()), Ok(t));
            let small = tile(t.level(), small, t.width());
            prop_assert_eq!(Tile::parse_path(&small.path()), Ok(small));
            let b = EntryBundle::new(t.index(), t.width()).unwrap();
            prop_assert_eq!(EntryBundle::parse_path(&b.path()), Ok(b));
            prop_assert_eq!(TilePath::parse(&b.path()), Ok(TilePath::Entries(b)));
        }

        #[test]
        fn parse_path_never_panics(s in "\\PC*", t in "tile/[0-9a-z./x]{0,40}") {
            for s in [&s, &t] {
                if let Ok(p) = TilePath::parse(s) {
                    prop_assert_eq!(&p.path(), s);
                }
            }
        }

        #[test]
        fn entry_bundle_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..=256)) {
            let data = encode_entry_bundle(&entries).unwrap();
            let parsed = parse_entry_bundle(&data).unwrap();
            prop_assert_eq!(parsed.len(), entries.len());
            for (a, b) in parsed.iter().zip(&entries) {
                prop_assert_eq!(*a, &b[..]);
            }
            // Any strict prefix fails to parse or has fewer entries.
            let cut = data.len() - 1;
            if let Ok(p) = parse_entry_bundle(&data[..cut]) {
                prop_assert!(p.len() < entries.len());
            }
        }

        #[test]
        fn parse_entry_bundle_never_panics(data in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_entry_bundle(&data);
        }

        #[test]
        fn new_tiles_is_the_difference(a in 0u64..200_000, b in 0u64..200_000) {
            let (old, new) = (a.min(b), a.max(b));
            let before = tiles_for_size(TreeSize(old));
            let want: Vec<Tile> = tiles_for_size(TreeSize(new))
                .into_iter()
                .filter(|t| !before.contains(t))
                .collect();
            prop_assert_eq!(new_tiles(TreeSize(old), TreeSize(new)), want);
            for t in tiles_for_size(TreeSize(new)) {
                prop_assert_eq!(Tile::in_tree(t.level(), t.index(), TreeSize(new)), Some(t));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn tiles_reproduce_the_tree(n in 1u64..5000, picks in prop::collection::vec(any::<u64>(), 8)) {
            let t = tree(n);
            let tiles = tiles_of(&t);
            let r = TileHashReader::new(t.size(), t.root(), &tiles).unwrap();
            prop_assert_eq!(tree_hash(t.size(), &r).unwrap(), t.root());
            for &p in &picks {
                let i = p % n;
                let proof = prove_inclusion(LeafIndex(i), t.size(), &r).unwrap();
                prop_assert_eq!(&proof, &prove_inclusion(LeafIndex(i), t.size(), &t).unwrap());
                proof.verify(&leaf_hash(&i.to_be_bytes()), &t.root()).unwrap();
                let old = TreeSize(p % n + 1);
                let proof = prove_consistency(old, t.size(), &r).unwrap();
                prop_assert_eq!(&proof, &prove_consistency(old, t.size(), &t).unwrap());
                proof.verify(&t.root_at(old).unwrap(), &t.root()).unwrap();
            }
            // A tree read through the tiles of a later tree's partial tiles is not
            // accepted: only this size's tiles authenticate.
            let r2 = TileHashReader::new(TreeSize(n + 1), t.root(), &tiles).unwrap();
            prop_assert!(tree_hash(TreeSize(n + 1), &r2).is_err());
        }

        #[test]
        fn any_flipped_byte_is_caught(
            n in 1u64..5000,
            which in any::<prop::sample::Index>(),
            byte in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let t = tree(n);
            let mut tiles = tiles_of(&t);
            let keys: Vec<Tile> = tiles.keys().copied().collect();
            let victim = *which.get(&keys);
            let data = tiles.get_mut(&victim).unwrap();
            let at = byte.index(data.len());
            data[at] ^= 1 << bit;
            let r = TileHashReader::new(t.size(), t.root(), &tiles).unwrap();
            // Reading the victim's own hashes fails ...
            let own = victim.stored_hash_indexes().unwrap();
            prop_assert!(r.read_authenticated(&own).is_err());
            // ... and so does every proof that reads the victim's leaves.
            // (A one-leaf tree's inclusion proof is empty and reads no tile.)
            if victim.level() == 0 && n > 1 {
                let leaf = victim.index() * 256 + at as u64 / 32;
                prop_assert!(prove_inclusion(LeafIndex(leaf), t.size(), &r).is_err());
            }
            // Reading only the root fails if the victim is a root (partial) tile.
            if victim.is_partial() {
                prop_assert!(tree_hash(t.size(), &r).is_err());
            }
        }
    }

    #[test]
    fn tile_builder_matches_memory_tree() {
        let mut b = TileBuilder::new();
        let mut stored: BTreeMap<(u8, u64), Vec<u8>> = BTreeMap::new();
        let mut t = MemoryTree::new();
        assert_eq!(b.root(), Hash::empty_tree());
        let checkpoints = [
            1u64, 2, 3, 255, 256, 257, 511, 512, 700, 65_535, 65_536, 65_537, 66_000,
        ];
        for n in 1..=66_000u64 {
            let leaf = leaf_hash(&n.to_be_bytes());
            b.append(leaf);
            t.append_leaf_hash(leaf);
            for (tile, data) in b.take_completed() {
                assert!(!tile.is_partial());
                assert_eq!(read_tile_data(&tile, &t).unwrap(), data, "{}", tile.path());
                assert!(stored.insert((tile.level(), tile.index()), data).is_none());
            }
            if checkpoints.contains(&n) {
                assert_eq!(b.size(), TreeSize(n));
                assert_eq!(b.root(), t.root(), "root at {n}");
                let partial = b.partial_tiles();
                let want: Vec<Tile> = tiles_for_size(TreeSize(n))
                    .into_iter()
                    .filter(|t| t.is_partial())
                    .collect();
                assert_eq!(partial.iter().map(|(t, _)| *t).collect::<Vec<_>>(), want);
                for (tile, data) in &partial {
                    assert_eq!(&read_tile_data(tile, &t).unwrap(), data);
                }
                // Resuming from the partial tiles gives the same builder.
                let data: Vec<Vec<u8>> = partial.into_iter().map(|(_, d)| d).collect();
                let r = TileBuilder::resume(TreeSize(n), &data).unwrap();
                assert_eq!(r.root(), b.root());
                assert_eq!(r.partial_tiles(), b.partial_tiles());
            }
        }
        // Every full tile of the final tree was emitted exactly once.
        let full: Vec<Tile> = tiles_for_size(TreeSize(66_000))
            .into_iter()
            .filter(|t| !t.is_partial())
            .collect();
        assert_eq!(full.len(), stored.len());
    }

    #[test]
    fn tile_builder_resume_rejects_bad_data() {
        let mut b = TileBuilder::new();
        for n in 0..300u64 {
            b.append(leaf_hash(&n.to_be_bytes()));
        }
        let data: Vec<Vec<u8>> = b.partial_tiles().into_iter().map(|(_, d)| d).collect();
        assert_eq!(data.len(), 2);
        assert!(TileBuilder::resume(TreeSize(300), &data[..1]).is_err());
        assert!(TileBuilder::resume(TreeSize(301), &data).is_err());
        let mut extra = data.clone();
        extra.push(vec![0; 32]);
        assert!(TileBuilder::resume(TreeSize(300), &extra).is_err());
        assert!(TileBuilder::resume(TreeSize(0), &[]).unwrap().root() == Hash::empty_tree());
    }
}
