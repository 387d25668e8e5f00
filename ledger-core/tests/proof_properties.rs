//! Prove-then-verify round trips (RFC 9162 §2.1.3–2.1.4) over every pair of tree
//! sizes up to 300, and random sizes up to 100,000, with random mutations that
//! must be rejected.

use ledger_core::hash::{Hash, leaf_hash};
use ledger_core::proof::{prove_consistency, prove_inclusion};
use ledger_core::tree::MemoryTree;
use ledger_core::{LeafIndex, TreeSize};
use proptest::prelude::*;

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(format!("entry {i}").as_bytes());
    }
    t
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[(bit / 8) % 32] ^= 1 << (bit % 8);
    Hash(b)
}

#[test]
fn every_size_against_every_later_size_up_to_300() {
    let t = tree(300);
    let roots: Vec<Hash> = (0..=300).map(|s| t.root_at(TreeSize(s)).unwrap()).collect();
    let mut checked = 0u64;
    for new in 1..=300u64 {
        for old in 1..=new {
            // Consistency from old to new.
            let p = prove_consistency(TreeSize(old), TreeSize(new), &t).unwrap();
            p.verify(&roots[old as usize], &roots[new as usize])
                .unwrap_or_else(|e| panic!("consistency {old}->{new}: {e}"));
            // A wrong old root, a wrong new root, or a flipped path hash fails.
            let bit = (old * 31 + new) as usize;
            assert!(
                p.verify(&flip(&roots[old as usize], bit), &roots[new as usize])
                    .is_err()
            );
            assert!(
                p.verify(&roots[old as usize], &flip(&roots[new as usize], bit))
                    .is_err()
            );
            if !p.path.is_empty() {
                let mut bad = p.clone();
                let j = bit % bad.path.len();
                bad.path[j] = flip(&bad.path[j], bit);
                assert!(
                    bad.verify(&roots[old as usize], &roots[new as usize])
                        .is_err()
                );
            }
            // Inclusion of leaf old-1 in the tree of size new.
            let index = LeafIndex(old - 1);
            let leaf = t.leaf(index).unwrap();
            let ip = prove_inclusion(index, TreeSize(new), &t).unwrap();
            ip.verify(&leaf, &roots[new as usize])
                .unwrap_or_else(|e| panic!("inclusion {} in {new}: {e}", old - 1));
            assert!(ip.verify(&flip(&leaf, bit), &roots[new as usize]).is_err());
            if !ip.path.is_empty() {
                let mut bad = ip.clone();
                let j = bit % bad.path.len();
                bad.path[j] = flip(&bad.path[j], bit);
                assert!(bad.verify(&leaf, &roots[new as usize]).is_err());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 300 * 301 / 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_sizes_up_to_100k(new in 2u64..100_000, old_frac in 0.0f64..1.0, idx_frac in 0.0f64..1.0, bit in 0usize..256) {
        let t = tree(new);
        let old = ((new as f64 * old_frac) as u64).clamp(1, new);
        let index = LeafIndex(((new as f64 * idx_frac) as u64).min(new - 1));
        let new_root = t.root_at(TreeSize(new)).unwrap();
        let old_root = t.root_at(TreeSize(old)).unwrap();

        let p = prove_consistency(TreeSize(old), TreeSize(new), &t).unwrap();
        prop_assert!(p.verify(&old_root, &new_root).is_ok());
        prop_assert!(p.verify(&flip(&old_root, bit), &new_root).is_err());
        if !p.path.is_empty() {
            let mut bad = p.clone();
            let j = bit % bad.path.len();
            bad.path[j] = flip(&bad.path[j], bit);
            prop_assert!(bad.verify(&old_root, &new_root).is_err());
            let mut short = p.clone();
            short.path.remove(j);
            prop_assert!(short.verify(&old_root, &new_root).is_err());
        }

        let leaf = leaf_hash(format!("entry {}", index.0).as_bytes());
        let ip = prove_inclusion(index, TreeSize(new), &t).unwrap();
        prop_assert!(ip.verify(&leaf, &new_root).is_ok());
        prop_assert!(ip.verify(&flip(&leaf, bit), &new_root).is_err());
        prop_assert!(ip.verify(&leaf, &old_root).is_err() || old == new);
        let mut bad = ip.clone();
        let j = bit % bad.path.len();
        bad.path[j] = flip(&bad.path[j], bit);
        prop_assert!(bad.verify(&leaf, &new_root).is_err());
        // The same path claimed for a neighbouring index fails.
        let mut moved = ip.clone();
        moved.index = LeafIndex(index.0 ^ 1);
        if moved.index.0 < new {
            prop_assert!(moved.verify(&leaf, &new_root).is_err());
        }
    }
}
