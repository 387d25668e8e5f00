//! Leaf indices and tree sizes (RFC 9162 §2.1), as distinct types so that an index
//! is never used where a size is meant.

use std::fmt;

/// The zero-based position of a leaf in the log.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct LeafIndex(pub u64);

/// The number of leaves in a tree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct TreeSize(pub u64);

impl LeafIndex {
    /// The index as a `u64`.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The smallest tree size that contains this leaf (`index + 1`).
    pub fn min_tree_size(self) -> TreeSize {
        TreeSize(self.0 + 1)
    }

    /// Whether a tree of `size` contains this leaf.
    pub fn is_in(self, size: TreeSize) -> bool {
        self.0 < size.0
    }
}

impl TreeSize {
    /// The size as a `u64`.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The index the next appended leaf will get.
    pub fn next_index(self) -> LeafIndex {
        LeafIndex(self.0)
    }
}

impl fmt::Display for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses an ASCII decimal `u64` with no sign, no leading zeros (except `0`
/// itself) and no other characters, as tlog-checkpoint and tlog-proof require.
///
/// Returns `None` for anything else, including overflow.
pub fn parse_canonical_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b[0] == b'0' && b.len() > 1 {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_decimal() {
        assert_eq!(parse_canonical_u64("0"), Some(0));
        assert_eq!(parse_canonical_u64("15"), Some(15));
        assert_eq!(parse_canonical_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "00",
            "015",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1a",
            "18446744073709551616",
            "0x10",
        ] {
            assert_eq!(parse_canonical_u64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn index_and_size() {
        assert!(LeafIndex(4).is_in(TreeSize(5)));
        assert!(!LeafIndex(5).is_in(TreeSize(5)));
        assert_eq!(LeafIndex(4).min_tree_size(), TreeSize(5));
        assert_eq!(TreeSize(7).next_index(), LeafIndex(7));
    }
}
