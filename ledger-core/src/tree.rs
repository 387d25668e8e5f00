//! The stored-hash layout of a growing RFC 9162 Merkle tree, and its roots.
//!
//! Every complete subtree of a log has a hash that never changes once the subtree
//! is full. Those hashes are stored in one dense sequence, in the order in which an
//! append-only log completes them (the layout of Go's `golang.org/x/mod/sumdb/tlog`):
//! appending leaf `n` stores its leaf hash, then the hash of every subtree that the
//! leaf completes, lowest level first.
//!
//! ```text
//! stored index:  0    1    2     3    4    5    6     7        ...
//! (level, n):   (0,0)(0,1)(1,0) (0,2)(0,3)(1,1)(2,0) (0,4)     ...
//! ```
//!
//! Any root, inclusion proof or consistency proof (RFC 9162 §2.1) can be computed
//! from these hashes alone, and tiles (c2sp.org/tlog-tiles) are slices of them.

use crate::hash::{Hash, leaf_hash, node_hash};
use crate::index::{LeafIndex, TreeSize};

/// The largest tree this implementation handles: 2^63 leaves. Stored-hash
/// indexes of larger trees do not fit in a `u64`, so larger sizes are refused.
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// Errors from reading or extending a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// A leaf index or tree size was outside the tree (a client error; HTTP 404/400).
    #[error("index {index} is outside a tree of size {size}")]
    OutOfRange {
        /// The requested index or size.
        index: u64,
        /// The size of the tree.
        size: u64,
    },
    /// The arguments are not a valid request (for example an empty tree).
    #[error("invalid tree request: {0}")]
    Invalid(&'static str),
    /// A stored hash could not be read (the storage's fault; HTTP 503).
    #[error("cannot read stored hash: {0}")]
    Read(String),
}

/// Read access to stored hashes, by stored-hash index (see [`stored_hash_index`]).
pub trait HashReader {
    /// Returns the hashes at `indexes`, in the same order.
    ///
    /// # Errors
    /// [`TreeError::Read`] if a hash is missing or storage fails.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError>;
}

/// The position in the stored-hash sequence of the hash of the `n`th subtree at
/// `level` (a subtree of `2^level` leaves starting at leaf `n * 2^level`).
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // Level L's nth hash is stored right after level L-1's hash (2n+1): walk down
    // to that level-0 position, then count hashes stored before it.
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut i = 0u64;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + u64::from(level)
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` of a stored hash.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // stored_hash_index(0, n) < 2n, so the leaf whose append stored this hash is
    // at least index/2; walk forward from there.
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    debug_assert!(index_n <= index);
    loop {
        // Appending leaf n stores 1 + trailing_ones(n) = 1 + trailing_zeros(n + 1)
        // hashes, so leaf n + 1's hash comes right after them.
        let next = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    let level = (index - index_n) as u8;
    (level, n >> level)
}

/// How many hashes a tree of `size` leaves stores.
pub fn stored_hash_count(size: TreeSize) -> u64 {
    let n = size.0;
    if n == 0 {
        return 0;
    }
    stored_hash_index(0, n - 1) + 1 + u64::from((n - 1).trailing_ones())
}

/// The hashes to store when appending a leaf with hash `leaf` at `index`, in
/// stored order: the leaf hash, then each subtree hash the leaf completes.
///
/// `reader` must hold the stored hashes of the tree of size `index`.
///
/// # Errors
/// Whatever `reader` returns.
pub fn stored_hashes(
    index: LeafIndex,
    leaf: Hash,
    reader: &impl HashReader,
) -> Result<Vec<Hash>, TreeError> {
    let n = index.0;
    check_size(n + 1)?;
    // Each trailing 1 bit of n completes one subtree, whose left sibling is stored.
    let m = (n.trailing_ones()) as u8;
    let indexes: Vec<u64> = (0..m)
        .rev()
        .map(|level| stored_hash_index(level, (n >> level) - 1))
        .collect();
    let siblings = reader.read_hashes(&indexes)?;
    let mut out = Vec::with_capacity(1 + usize::from(m));
    let mut h = leaf;
    out.push(h);
    for sibling in siblings.iter().rev() {
        h = node_hash(sibling, &h);
        out.push(h);
    }
    Ok(out)
}

/// The largest power of two strictly smaller than `n` (n ≥ 2), as RFC 9162 §2.1.1
/// splits a tree: `k < n <= 2k`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Appends to `need` the stored indexes of the maximal complete subtrees that
/// make up leaves `[lo, hi)`, left to right.
pub(crate) fn subtree_indexes(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        // The largest power of two k <= hi - lo; lo is always a multiple of k.
        let level = 63 - (hi - lo).leading_zeros();
        let k = 1u64 << level;
        debug_assert_eq!(lo & (k - 1), 0);
        need.push(stored_hash_index(level as u8, lo >> level));
        lo += k;
    }
}

/// Combines the hashes read for [`subtree_indexes`]`(lo, hi)` into the hash of
/// leaves `[lo, hi)`, consuming them from the front of `hashes`.
pub(crate) fn subtree_hash(mut lo: u64, hi: u64, hashes: &mut &[Hash]) -> Hash {
    let mut count = 0;
    while lo < hi {
        let level = 63 - (hi - lo).leading_zeros();
        lo += 1u64 << level;
        count += 1;
    }
    let (parts, rest) = hashes.split_at(count);
    *hashes = rest;
    let mut h = parts[count - 1];
    for left in parts[..count - 1].iter().rev() {
        h = node_hash(left, &h);
    }
    h
}

/// The root of the tree of `size` leaves (RFC 9162 §2.1.1), from stored hashes.
/// The empty tree's root is SHA-256 of no bytes.
///
/// # Errors
/// Whatever `reader` returns.
pub fn tree_hash(size: TreeSize, reader: &impl HashReader) -> Result<Hash, TreeError> {
    check_size(size.0)?;
    if size.0 == 0 {
        return Ok(Hash::empty_tree());
    }
    let mut need = Vec::new();
    subtree_indexes(0, size.0, &mut need);
    let hashes = reader.read_hashes(&need)?;
    check_count(&hashes, need.len())?;
    Ok(subtree_hash(0, size.0, &mut hashes.as_slice()))
}

/// Refuses sizes above [`MAX_TREE_SIZE`].
pub(crate) fn check_size(size: u64) -> Result<(), TreeError> {
    if size > MAX_TREE_SIZE {
        return Err(TreeError::Invalid("tree size above 2^63"));
    }
    Ok(())
}

pub(crate) fn check_count(hashes: &[Hash], want: usize) -> Result<(), TreeError> {
    if hashes.len() == want {
        Ok(())
    } else {
        Err(TreeError::Read(format!(
            "asked for {want} hashes, got {}",
            hashes.len()
        )))
    }
}

/// An in-memory tree: every stored hash in one vector. Used by tests, benchmarks
/// and verifiers that rebuild a log.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    hashes: Vec<Hash>,
    size: u64,
    /// The roots of the perfect subtrees that make up the tree, largest first
    /// (one per set bit of `size`): the right edge, from which appends take
    /// their siblings and the current root is folded.
    edge: Vec<Hash>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// Appends an entry: hashes it as a leaf (RFC 9162 §2.1.1) and stores it.
    pub fn append(&mut self, entry: &[u8]) -> LeafIndex {
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Appends a leaf by its leaf hash, storing every subtree hash it completes.
    /// Equivalent to [`stored_hashes`] without allocating.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> LeafIndex {
        let n = self.size;
        let mut h = leaf;
        self.hashes.push(h);
        // Each trailing 1 bit of n completes a subtree with the edge's last root.
        for _ in 0..n.trailing_ones() {
            let sibling = self.edge.pop().expect("one edge root per set bit of size");
            h = node_hash(&sibling, &h);
            self.hashes.push(h);
        }
        self.edge.push(h);
        self.size += 1;
        LeafIndex(n)
    }

    /// The current root, folded from the right edge (RFC 9162 §2.1.1).
    pub fn root(&self) -> Hash {
        let mut roots = self.edge.iter().rev();
        match roots.next() {
            None => Hash::empty_tree(),
            Some(last) => roots.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// The root at an earlier size.
    ///
    /// # Errors
    /// [`TreeError::OutOfRange`] if `size` exceeds the tree.
    pub fn root_at(&self, size: TreeSize) -> Result<Hash, TreeError> {
        if size.0 > self.size {
            return Err(TreeError::OutOfRange {
                index: size.0,
                size: self.size,
            });
        }
        tree_hash(size, self)
    }

    /// The leaf hash of leaf `index`.
    pub fn leaf(&self, index: LeafIndex) -> Option<Hash> {
        (index.0 < self.size).then(|| self.hashes[stored_hash_index(0, index.0) as usize])
    }

    /// All stored hashes, in stored order.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i).copied())
                    .ok_or_else(|| TreeError::Read(format!("no stored hash at {i}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162 §2.1.1 MTH, computed recursively from the definition.
    pub(crate) fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Hash::empty_tree(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn stored_hash_index_layout() {
        let want = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
        ];
        for (i, &(level, n)) in want.iter().enumerate() {
            assert_eq!(stored_hash_index(level, n), i as u64);
            assert_eq!(split_stored_hash_index(i as u64), (level, n));
        }
        for i in 0..10_000 {
            let (level, n) = split_stored_hash_index(i);
            assert_eq!(stored_hash_index(level, n), i);
        }
    }

    #[test]
    fn roots_match_the_definition() {
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        assert_eq!(tree.root(), Hash::empty_tree());
        for i in 0..300u32 {
            let data = i.to_be_bytes();
            leaves.push(leaf_hash(&data));
            tree.append(&data);
            assert_eq!(tree.stored().len() as u64, stored_hash_count(tree.size()));
            assert_eq!(tree.root(), reference_root(&leaves), "size {}", i + 1);
        }
        for size in 0..=300 {
            assert_eq!(
                tree.root_at(TreeSize(size)).unwrap(),
                reference_root(&leaves[..size as usize])
            );
        }
        assert!(tree.root_at(TreeSize(301)).is_err());
    }

    #[test]
    fn stored_hashes_match_memory_tree() {
        let mut tree = MemoryTree::new();
        for i in 0..100u32 {
            let leaf = leaf_hash(&i.to_le_bytes());
            let new = stored_hashes(LeafIndex(u64::from(i)), leaf, &tree).unwrap();
            let before = tree.stored().len();
            tree.append_leaf_hash(leaf);
            assert_eq!(&tree.stored()[before..], new.as_slice());
        }
    }

    #[test]
    fn rfc6962_test_tree_root() {
        // The 8-leaf tree of the RFC 6962 test suite (shared/interop/README.md).
        let leaves: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let mut tree = MemoryTree::new();
        for l in leaves {
            tree.append(l);
        }
        assert_eq!(
            tree.root().to_hex(),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }

    #[test]
    fn missing_hashes_are_errors() {
        let tree = MemoryTree::new();
        assert!(matches!(tree.read_hashes(&[0]), Err(TreeError::Read(_))));
        assert_eq!(tree.leaf(LeafIndex(0)), None);
    }
}
