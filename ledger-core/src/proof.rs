//! RFC 9162 §2.1.3 inclusion proofs and §2.1.4 consistency proofs: generation from
//! stored hashes, and verification.
//!
//! The two kinds of proof are distinct types. A proof carries the index and sizes
//! it was made for, so that it cannot be checked against the wrong tree by mistake.

use crate::hash::{Hash, node_hash};
use crate::index::{LeafIndex, TreeSize};
use crate::tree::{
    HashReader, TreeError, check_count, check_size, split_point, subtree_hash, subtree_indexes,
};

/// The most hashes a proof can have: a tree of at most 2^64 leaves has depth 64,
/// and a consistency proof may add one more. Longer input is rejected before use.
pub const MAX_PROOF_HASHES: usize = 65;

/// Why a proof did not verify. All of these are evidence against the data
/// checked, or a malformed request; none is a storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree (RFC 9162 §2.1.3.2 step 1).
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size is larger than the new size.
    #[error("old size {old} is larger than new size {new}")]
    SizesOutOfOrder {
        /// The old tree size.
        old: u64,
        /// The new tree size.
        new: u64,
    },
    /// Consistency with the empty tree proves nothing, so it is not a proof.
    #[error("a consistency proof from the empty tree is meaningless")]
    EmptyOldTree,
    /// The proof has the wrong number of hashes for its sizes.
    #[error("the proof has {got} hashes, but these sizes need {want}")]
    WrongLength {
        /// The number of hashes the sizes require.
        want: usize,
        /// The number of hashes in the proof.
        got: usize,
    },
    /// The proof is well formed but the hashes it leads to differ from the roots.
    #[error("the proof leads to root {computed}, not {expected}")]
    RootMismatch {
        /// The root the checker expected.
        expected: Hash,
        /// The root the proof computes.
        computed: Hash,
    },
    /// The two roots of equal-size trees differ: the log forked.
    #[error("two different roots for the same size: {old} and {new}")]
    DifferentRootsSameSize {
        /// The old root.
        old: Hash,
        /// The new root.
        new: Hash,
    },
}

/// An inclusion proof for one leaf in one tree (RFC 9162 §2.1.3): the sibling
/// hashes from the leaf up to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf the proof is for.
    pub index: LeafIndex,
    /// The size of the tree the proof is for.
    pub size: TreeSize,
    /// The audit path, leaf's sibling first.
    pub path: Vec<Hash>,
}

/// A consistency proof between two sizes of one log (RFC 9162 §2.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older, smaller tree size.
    pub old: TreeSize,
    /// The newer tree size.
    pub new: TreeSize,
    /// The consistency path.
    pub path: Vec<Hash>,
}

/// Runs the node-index walk shared by RFC 9162 §2.1.3.2 and §2.1.4.2 without
/// hashing, and returns how many path hashes it consumes before `snode` reaches 0.
/// A proof of any other length is malformed.
fn walk_len(mut fnode: u64, mut snode: u64) -> usize {
    let mut n = 0;
    while snode != 0 {
        if fnode & 1 == 1 || fnode == snode {
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        }
        fnode >>= 1;
        snode >>= 1;
        n += 1;
    }
    n
}

/// The number of hashes in an inclusion proof for `index` in a tree of `size`.
fn inclusion_len(index: u64, size: u64) -> usize {
    walk_len(index, size - 1)
}

/// The number of hashes in a consistency proof from `old` to `new`
/// (0 < old < new), not counting the omitted power-of-two old root.
fn consistency_len(old: u64, new: u64) -> usize {
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // The first hash seeds both roots; the walk consumes the rest.
    1 + walk_len(fnode, snode) - usize::from(old.is_power_of_two())
}

impl InclusionProof {
    /// Computes the root that this proof and `leaf` lead to
    /// (RFC 9162 §2.1.3.2, steps 1–4).
    ///
    /// # Errors
    /// [`ProofError::IndexOutOfRange`] or [`ProofError::WrongLength`].
    pub fn root_from(&self, leaf: &Hash) -> Result<Hash, ProofError> {
        let (index, size) = (self.index.0, self.size.0);
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let want = inclusion_len(index, size);
        if self.path.len() != want {
            return Err(ProofError::WrongLength {
                want,
                got: self.path.len(),
            });
        }
        let (mut fnode, mut snode) = (index, size - 1);
        let mut r = *leaf;
        for p in &self.path {
            // snode == 0 cannot happen here: the length was checked above.
            if fnode & 1 == 1 || fnode == snode {
                r = node_hash(p, &r);
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        debug_assert_eq!(snode, 0);
        Ok(r)
    }

    /// Verifies that `leaf` is at this proof's index in the tree with `root`
    /// (RFC 9162 §2.1.3.2).
    ///
    /// # Errors
    /// A [`ProofError`] saying what did not match.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        let computed = self.root_from(leaf)?;
        if computed == *root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch {
                expected: *root,
                computed,
            })
        }
    }
}

impl ConsistencyProof {
    /// Verifies that the tree of size `new` with `new_root` extends the tree of
    /// size `old` with `old_root` (RFC 9162 §2.1.4.2).
    ///
    /// Equal sizes need an empty proof and equal roots. An old size of 0 is
    /// rejected: every tree extends the empty tree, so there is nothing to prove,
    /// and callers handle that case themselves.
    ///
    /// # Errors
    /// A [`ProofError`] saying what did not match.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        let (old, new) = (self.old.0, self.new.0);
        if old > new {
            return Err(ProofError::SizesOutOfOrder { old, new });
        }
        if old == 0 {
            return Err(ProofError::EmptyOldTree);
        }
        if old == new {
            if !self.path.is_empty() {
                return Err(ProofError::WrongLength {
                    want: 0,
                    got: self.path.len(),
                });
            }
            if old_root != new_root {
                return Err(ProofError::DifferentRootsSameSize {
                    old: *old_root,
                    new: *new_root,
                });
            }
            return Ok(());
        }
        // Step 2: when old is a power of two, its root is a node of the new tree
        // and the proof omits it.
        let mut path: Vec<Hash> = Vec::with_capacity(self.path.len() + 1);
        if old.is_power_of_two() {
            path.push(*old_root);
        }
        path.extend_from_slice(&self.path);
        let (fr, sr) = consistency_roots(self.old, self.new, &path).map_err(|e| match e {
            ProofError::WrongLength { want, got } => ProofError::WrongLength {
                want: want - usize::from(old.is_power_of_two()),
                got: got - usize::from(old.is_power_of_two()),
            },
            e => e,
        })?;
        if fr != *old_root {
            return Err(ProofError::RootMismatch {
                expected: *old_root,
                computed: fr,
            });
        }
        if sr != *new_root {
            return Err(ProofError::RootMismatch {
                expected: *new_root,
                computed: sr,
            });
        }
        Ok(())
    }
}

/// The two roots a consistency path commits to (RFC 9162 §2.1.4.2, steps 3–7):
/// the tree of `old` leaves and the tree of `new` leaves, `0 < old < new`.
/// `full_path` is the proof's path with, when `old` is a power of two, the node
/// over the first `old` leaves prepended (the node a proof omits because the
/// verifier already has it as the old root).
///
/// This is how fork evidence is checked: if the computed new root is a signed new
/// root, the path's hashes are that tree's nodes, so the computed old root is that
/// tree's root at `old` leaves; if it differs from a signed old root of the same
/// log, the log signed two trees that do not extend each other.
///
/// # Errors
/// [`ProofError::SizesOutOfOrder`], [`ProofError::EmptyOldTree`], or
/// [`ProofError::WrongLength`] (counting the prepended node) for a path of the
/// wrong length.
pub fn consistency_roots(
    old: TreeSize,
    new: TreeSize,
    full_path: &[Hash],
) -> Result<(Hash, Hash), ProofError> {
    let (old, new) = (old.0, new.0);
    if old >= new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    let want = consistency_len(old, new) + usize::from(old.is_power_of_two());
    if full_path.len() != want {
        return Err(ProofError::WrongLength {
            want,
            got: full_path.len(),
        });
    }
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (full_path[0], full_path[0]);
    for c in &full_path[1..] {
        // snode == 0 cannot happen here: the length was checked above.
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    debug_assert_eq!(snode, 0);
    Ok((fr, sr))
}

/// Builds the inclusion proof for leaf `index` in the tree of `size`
/// (RFC 9162 §2.1.3.1), from stored hashes.
///
/// # Errors
/// [`TreeError::OutOfRange`] if `index >= size`, or a read error.
pub fn prove_inclusion(
    index: LeafIndex,
    size: TreeSize,
    reader: &impl HashReader,
) -> Result<InclusionProof, TreeError> {
    check_size(size.0)?;
    if index.0 >= size.0 {
        return Err(TreeError::OutOfRange {
            index: index.0,
            size: size.0,
        });
    }
    let mut need = Vec::new();
    inclusion_indexes(0, size.0, index.0, &mut need);
    let hashes = reader.read_hashes(&need)?;
    check_count(&hashes, need.len())?;
    let mut rest = hashes.as_slice();
    let mut path = Vec::new();
    inclusion_path(0, size.0, index.0, &mut rest, &mut path);
    Ok(InclusionProof { index, size, path })
}

/// Builds the consistency proof from the tree of size `old` to the tree of size
/// `new` (RFC 9162 §2.1.4.1), from stored hashes. Equal sizes give an empty proof.
///
/// # Errors
/// [`TreeError::Invalid`] if `old` is 0 or larger than `new`, or a read error.
pub fn prove_consistency(
    old: TreeSize,
    new: TreeSize,
    reader: &impl HashReader,
) -> Result<ConsistencyProof, TreeError> {
    check_size(new.0)?;
    if old.0 == 0 {
        return Err(TreeError::Invalid("consistency from the empty tree"));
    }
    if old.0 > new.0 {
        return Err(TreeError::Invalid("old size is larger than new size"));
    }
    let mut need = Vec::new();
    consistency_indexes(0, new.0, old.0, &mut need);
    let hashes = reader.read_hashes(&need)?;
    check_count(&hashes, need.len())?;
    let mut rest = hashes.as_slice();
    let mut path = Vec::new();
    consistency_path(0, new.0, old.0, &mut rest, &mut path);
    Ok(ConsistencyProof { old, new, path })
}

// The recursive definitions of RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF),
// split into "which stored hashes are needed" and "combine them", so that a
// reader (a database or tiles) is asked once for all hashes.

fn inclusion_indexes(lo: u64, hi: u64, m: u64, need: &mut Vec<u64>) {
    if hi - lo == 1 {
        return;
    }
    let k = split_point(hi - lo);
    if m < lo + k {
        inclusion_indexes(lo, lo + k, m, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        inclusion_indexes(lo + k, hi, m, need);
    }
}

fn inclusion_path(lo: u64, hi: u64, m: u64, hashes: &mut &[Hash], path: &mut Vec<Hash>) {
    if hi - lo == 1 {
        return;
    }
    let k = split_point(hi - lo);
    if m < lo + k {
        inclusion_path(lo, lo + k, m, hashes, path);
        path.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let left = subtree_hash(lo, lo + k, hashes);
        inclusion_path(lo + k, hi, m, hashes, path);
        path.push(left);
    }
}

fn consistency_indexes(lo: u64, hi: u64, m: u64, need: &mut Vec<u64>) {
    if m == hi {
        if lo != 0 {
            subtree_indexes(lo, hi, need);
        }
        return;
    }
    let k = split_point(hi - lo);
    if m <= lo + k {
        consistency_indexes(lo, lo + k, m, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        consistency_indexes(lo + k, hi, m, need);
    }
}

fn consistency_path(lo: u64, hi: u64, m: u64, hashes: &mut &[Hash], path: &mut Vec<Hash>) {
    if m == hi {
        if lo != 0 {
            path.push(subtree_hash(lo, hi, hashes));
        }
        return;
    }
    let k = split_point(hi - lo);
    if m <= lo + k {
        consistency_path(lo, lo + k, m, hashes, path);
        path.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let left = subtree_hash(lo, lo + k, hashes);
        consistency_path(lo + k, hi, m, hashes, path);
        path.push(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::tree::MemoryTree;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.append(&i.to_be_bytes());
        }
        t
    }

    fn flip(h: &Hash, bit: usize) -> Hash {
        let mut b = h.0;
        b[bit / 8] ^= 1 << (bit % 8);
        Hash(b)
    }

    #[test]
    fn inclusion_round_trip_all_sizes_to_64() {
        let t = tree(64);
        for size in 1..=64 {
            let root = t.root_at(TreeSize(size)).unwrap();
            for i in 0..size {
                let p = prove_inclusion(LeafIndex(i), TreeSize(size), &t).unwrap();
                let leaf = leaf_hash(&i.to_be_bytes());
                assert_eq!(p.path.len(), inclusion_len(i, size));
                p.verify(&leaf, &root).unwrap();
                assert!(p.verify(&flip(&leaf, 3), &root).is_err());
                for j in 0..p.path.len() {
                    let mut bad = p.clone();
                    bad.path[j] = flip(&bad.path[j], j);
                    assert!(bad.verify(&leaf, &root).is_err());
                }
                let mut short = p.clone();
                if short.path.pop().is_some() {
                    assert!(matches!(
                        short.verify(&leaf, &root),
                        Err(ProofError::WrongLength { .. })
                    ));
                }
                let mut long = p.clone();
                long.path.push(root);
                assert!(long.verify(&leaf, &root).is_err());
            }
        }
    }

    #[test]
    fn consistency_round_trip_all_sizes_to_64() {
        let t = tree(64);
        for new in 1..=64 {
            let new_root = t.root_at(TreeSize(new)).unwrap();
            for old in 1..=new {
                let old_root = t.root_at(TreeSize(old)).unwrap();
                let p = prove_consistency(TreeSize(old), TreeSize(new), &t).unwrap();
                p.verify(&old_root, &new_root)
                    .unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
                assert!(p.verify(&flip(&old_root, 1), &new_root).is_err());
                assert!(p.verify(&old_root, &flip(&new_root, 1)).is_err());
                for j in 0..p.path.len() {
                    let mut bad = p.clone();
                    bad.path[j] = flip(&bad.path[j], 7);
                    assert!(
                        bad.verify(&old_root, &new_root).is_err(),
                        "{old}->{new} #{j}"
                    );
                }
                let mut long = p.clone();
                long.path.push(new_root);
                assert!(long.verify(&old_root, &new_root).is_err());
            }
        }
    }

    #[test]
    fn invalid_requests() {
        let t = tree(5);
        assert!(prove_inclusion(LeafIndex(5), TreeSize(5), &t).is_err());
        assert!(prove_inclusion(LeafIndex(0), TreeSize(6), &t).is_err());
        assert!(prove_consistency(TreeSize(0), TreeSize(5), &t).is_err());
        assert!(prove_consistency(TreeSize(4), TreeSize(3), &t).is_err());
        assert!(prove_inclusion(LeafIndex(0), TreeSize(u64::MAX), &t).is_err());
        assert!(prove_consistency(TreeSize(1), TreeSize(u64::MAX), &t).is_err());
        assert!(crate::tree::tree_hash(TreeSize(u64::MAX), &t).is_err());
        let r = t.root();
        let p = ConsistencyProof {
            old: TreeSize(0),
            new: TreeSize(5),
            path: vec![],
        };
        assert_eq!(p.verify(&r, &r), Err(ProofError::EmptyOldTree));
        let p = InclusionProof {
            index: LeafIndex(5),
            size: TreeSize(5),
            path: vec![],
        };
        assert!(matches!(
            p.verify(&r, &r),
            Err(ProofError::IndexOutOfRange { .. })
        ));
    }

    #[test]
    fn consistency_roots_expose_a_fork() {
        use crate::tree::{MemoryTree, stored_hash_index};
        // Two histories that share nothing; the second grows to 20 leaves.
        let mut a = MemoryTree::new();
        let mut b = MemoryTree::new();
        for i in 0..20u64 {
            if i < 13 {
                a.append(&[1, i as u8]);
            }
            b.append(&[2, i as u8]);
        }
        for old in [1u64, 3, 8, 12, 13] {
            let p = prove_consistency(TreeSize(old), TreeSize(20), &b).unwrap();
            let mut full = Vec::new();
            if old.is_power_of_two() {
                let node = stored_hash_index(old.trailing_zeros() as u8, 0);
                full.push(b.read_hashes(&[node]).unwrap()[0]);
            }
            full.extend_from_slice(&p.path);
            let (fr, sr) = consistency_roots(TreeSize(old), TreeSize(20), &full).unwrap();
            assert_eq!(sr, b.root(), "{old}");
            assert_eq!(fr, b.root_at(TreeSize(old)).unwrap(), "{old}");
            let a_root = a.root_at(TreeSize(old)).unwrap();
            assert_ne!(fr, a_root, "{old}: the fork shows");
            assert!(p.verify(&a_root, &b.root()).is_err());
            assert!(consistency_roots(TreeSize(old), TreeSize(20), &full[1..]).is_err());
        }
        assert!(consistency_roots(TreeSize(0), TreeSize(5), &[]).is_err());
        assert!(consistency_roots(TreeSize(5), TreeSize(5), &[]).is_err());
    }
}
