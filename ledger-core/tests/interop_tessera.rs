//! Interop with a real tiled log (c2sp.org/tlog-tiles) written by Trillian Tessera.
//!
//! Source: `../shared/interop/tessera-log`, from transparency-dev/trillian-tessera
//! commit 8ee4e93, directory `testdata/log` (Apache-2.0); see
//! `../shared/interop/README.md`. A 15-entry log with the checkpoint of every size
//! 0..=15, the partial level-0 tile and the partial entry bundle of every size 1..=15.
//!
//! The fixtures are read in place. If the directory is missing the tests print a
//! loud SKIPPING line and return; if it is present every file must check out.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ledger_core::checkpoint::{Origin, open_checkpoint};
use ledger_core::hash::{Hash, leaf_hash};
use ledger_core::index::{LeafIndex, TreeSize};
use ledger_core::note::Ed25519Verifier;
use ledger_core::proof::{prove_consistency, prove_inclusion};
use ledger_core::tile::{
    EntryBundle, Tile, TileHashReader, TilePath, new_tiles, read_tile_data, tiles_for_size,
};
use ledger_core::tree::{MemoryTree, tree_hash};

const LOG_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/interop/tessera-log"
);
const ORIGIN: &str = "example.com/log/testdata";
const VKEY: &str = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const ROOT_15: &str = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=";
const ENTRIES: [&str; 15] = [
    "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf",
    "threeten", "fourten", "fivten",
];
const SIZE: u64 = 15;

/// The fixture directory, or `None` after a loud message if it is absent.
fn log_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(LOG_DIR);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("!!!!! SKIPPING {test}: interop fixture {LOG_DIR} not found !!!!!");
        None
    }
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The root of every checkpoint.N, N = 0..=15, each opened with the log's key.
fn checkpoint_roots(dir: &Path) -> Vec<Hash> {
    let origin = Origin::new(ORIGIN).unwrap();
    let key = Ed25519Verifier::from_vkey(VKEY).unwrap();
    let roots: Vec<Hash> = (0..=SIZE)
        .map(|n| {
            let name = format!("checkpoint.{n}");
            let signed = open_checkpoint(&read(dir, &name), &origin, &key, &[])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(signed.checkpoint.size, TreeSize(n), "{name}");
            signed.checkpoint.root
        })
        .collect();
    let latest = open_checkpoint(&read(dir, "checkpoint"), &origin, &key, &[]).unwrap();
    assert_eq!(latest.checkpoint.size, TreeSize(SIZE));
    assert_eq!(latest.checkpoint.root, roots[SIZE as usize]);
    assert_eq!(roots[SIZE as usize], Hash::from_base64(ROOT_15).unwrap());
    assert_eq!(roots[0], Hash::empty_tree());
    roots
}

/// Every hash tile of the log, read from the directory into memory.
fn hash_tiles(dir: &Path) -> BTreeMap<Tile, Vec<u8>> {
    (1..=SIZE as u16)
        .map(|w| {
            let t = Tile::new(0, 0, w).unwrap();
            (t, read(dir, &t.path()))
        })
        .collect()
}

/// The tree an entry bundle replays to, with its entries, or why the bundle is bad.
fn replay(bundle: &EntryBundle, data: &[u8]) -> Result<(MemoryTree, Vec<Vec<u8>>), String> {
    let entries = bundle.parse(data).map_err(|e| e.to_string())?;
    let mut tree = MemoryTree::new();
    for e in &entries {
        tree.append(e);
    }
    Ok((tree, entries.iter().map(|e| e.to_vec()).collect()))
}

/// Copies of `data` with one bit flipped: every bit of every byte in an optimized
/// build; in a debug build (where Ed25519 and SHA-256 are slow) one bit of every
/// byte, rotating through the bit positions.
fn flips(data: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let every_bit = !cfg!(debug_assertions);
    (0..data.len()).flat_map(move |i| {
        let bits = if every_bit { 0..8 } else { i % 8..i % 8 + 1 };
        bits.map(move |bit| {
            let mut d = data.to_vec();
            d[i] ^= 1 << bit;
            d
        })
    })
}

/// Every file under tile/ is one we expect, with a canonical path.
#[test]
fn directory_holds_exactly_the_tiles_of_its_checkpoints() {
    let Some(dir) = log_dir("directory_holds_exactly_the_tiles_of_its_checkpoints") else {
        return;
    };
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_str().unwrap().to_owned());
            }
        }
    }
    let mut found = Vec::new();
    walk(&dir, &dir.join("tile"), &mut found);
    found.sort();
    let mut want: Vec<String> = Vec::new();
    for n in 1..=SIZE {
        // Growing by one leaf publishes exactly the one new partial tile.
        let new = new_tiles(TreeSize(n - 1), TreeSize(n));
        assert_eq!(new, tiles_for_size(TreeSize(n)));
        assert_eq!(new, [Tile::new(0, 0, n as u16).unwrap()]);
        for t in new {
            want.push(t.path());
            want.push(t.entry_bundle().unwrap().path());
        }
    }
    want.sort();
    assert_eq!(found, want);
    for p in &found {
        assert_eq!(&TilePath::parse(p).unwrap().path(), p);
    }
}

/// Test 1: replay the entries to the checkpoints' roots and the log's tiles.
#[test]
fn replay_entries_to_checkpoints_and_tiles() {
    let Some(dir) = log_dir("replay_entries_to_checkpoints_and_tiles") else {
        return;
    };
    let roots = checkpoint_roots(&dir);
    let mut full = None;
    for w in 1..=SIZE as u16 {
        let bundle = EntryBundle::new(0, w).unwrap();
        let (tree, entries) = replay(&bundle, &read(&dir, &bundle.path()))
            .unwrap_or_else(|e| panic!("{bundle}: {e}"));
        let want: Vec<&[u8]> = ENTRIES[..usize::from(w)]
            .iter()
            .map(|e| e.as_bytes())
            .collect();
        assert_eq!(entries, want, "{bundle}");
        assert_eq!(tree.root(), roots[usize::from(w)], "{bundle}");
        full = Some(tree);
    }
    let tree = full.unwrap();
    assert_eq!(tree.size(), TreeSize(SIZE));
    assert_eq!(tree.root().to_base64(), ROOT_15);
    for (n, root) in roots.iter().enumerate() {
        assert_eq!(
            tree.root_at(TreeSize(n as u64)).unwrap(),
            *root,
            "checkpoint.{n}"
        );
    }
    for (tile, data) in hash_tiles(&dir) {
        assert_eq!(read_tile_data(&tile, &tree).unwrap(), data, "{tile}");
    }
}

/// Test 2: every proof, built from the log's tiles through TileHashReader,
/// verifies against the checkpoints.
#[test]
fn proofs_from_tiles_verify_against_checkpoints() {
    let Some(dir) = log_dir("proofs_from_tiles_verify_against_checkpoints") else {
        return;
    };
    let roots = checkpoint_roots(&dir);
    let tiles = hash_tiles(&dir);
    let mut reference = MemoryTree::new();
    for e in ENTRIES {
        reference.append(e.as_bytes());
    }
    let mut proofs = 0;
    for b in 1..=SIZE {
        let size = TreeSize(b);
        let root_b = roots[b as usize];
        // Only the tiles of tree size b (here: tile/0/000.p/b) may be read.
        let of_size: BTreeMap<Tile, Vec<u8>> = tiles_for_size(size)
            .into_iter()
            .map(|t| (t, tiles[&t].clone()))
            .collect();
        let r = TileHashReader::new(size, root_b, &of_size).unwrap();
        assert_eq!(tree_hash(size, &r).unwrap(), root_b);
        for a in 1..=b {
            let p = prove_consistency(TreeSize(a), size, &r)
                .unwrap_or_else(|e| panic!("{a}->{b}: {e}"));
            p.verify(&roots[a as usize], &root_b)
                .unwrap_or_else(|e| panic!("{a}->{b}: {e}"));
            assert_eq!(p, prove_consistency(TreeSize(a), size, &reference).unwrap());
            proofs += 1;
        }
        for i in 0..b {
            let p = prove_inclusion(LeafIndex(i), size, &r).unwrap();
            p.verify(&leaf_hash(ENTRIES[i as usize].as_bytes()), &root_b)
                .unwrap_or_else(|e| panic!("{i} in {b}: {e}"));
            proofs += 1;
        }
    }
    assert_eq!(proofs, 2 * (SIZE * (SIZE + 1) / 2));
}

/// Test 3: a copy of the log with any one bit of any hash tile, entry bundle or
/// checkpoint flipped is rejected.
#[test]
fn every_flipped_bit_is_detected() {
    let Some(dir) = log_dir("every_flipped_bit_is_detected") else {
        return;
    };
    let roots = checkpoint_roots(&dir);
    let tiles = hash_tiles(&dir);
    let mut checked = 0u64;

    // Hash tiles: the TileHashReader of that size refuses to read, so neither the
    // root nor any proof can be computed from them.
    for (tile, data) in &tiles {
        let n = u64::from(tile.width());
        let size = TreeSize(n);
        let own = tile.stored_hash_indexes().unwrap();
        for bad in flips(data) {
            let mut forged = tiles.clone();
            forged.insert(*tile, bad);
            let r = TileHashReader::new(size, roots[n as usize], &forged).unwrap();
            assert!(tree_hash(size, &r).is_err(), "{tile}");
            let err = r.read_authenticated(&own).unwrap_err().to_string();
            assert!(err.contains(&tile.path()), "{err}");
            if n > 1 {
                assert!(prove_consistency(TreeSize(1), size, &r).is_err(), "{tile}");
                assert!(prove_inclusion(LeafIndex(0), size, &r).is_err(), "{tile}");
            }
            checked += 1;
        }
    }

    // Entry bundles: the replay fails or misses the checkpoint's root.
    for w in 1..=SIZE as u16 {
        let bundle = EntryBundle::new(0, w).unwrap();
        let data = read(&dir, &bundle.path());
        for bad in flips(&data) {
            if let Ok((tree, _)) = replay(&bundle, &bad) {
                assert_ne!(tree.root(), roots[usize::from(w)], "{bundle}");
                // The level-0 tile, authenticated against the checkpoint, disagrees
                // with the replayed leaf hashes.
                let t = bundle.hash_tile();
                let r =
                    TileHashReader::new(TreeSize(w.into()), roots[usize::from(w)], &tiles).unwrap();
                let authentic = read_tile_data(&t, &r).unwrap();
                assert_ne!(read_tile_data(&t, &tree).unwrap(), authentic, "{bundle}");
            }
            checked += 1;
        }
    }

    // Checkpoints: the signature no longer verifies (or the note is malformed).
    // A debug build checks the latest checkpoint only.
    let origin = Origin::new(ORIGIN).unwrap();
    let key = Ed25519Verifier::from_vkey(VKEY).unwrap();
    let first = if cfg!(debug_assertions) { SIZE } else { 0 };
    for n in first..=SIZE {
        let name = format!("checkpoint.{n}");
        let data = read(&dir, &name);
        for bad in flips(&data) {
            if let Ok(c) = open_checkpoint(&bad, &origin, &key, &[]) {
                panic!("{name} with a flipped bit opened: {:?}", c.checkpoint);
            }
            checked += 1;
        }
    }
    // Bytes: 32·(1+…+15) in tiles, 2·15+(3+3+5+…) in bundles, ~190 per checkpoint.
    let min = if cfg!(debug_assertions) {
        3840 + 500
    } else {
        8 * (3840 + 500 + 16 * 150)
    };
    assert!(checked > min, "{checked}");
}
