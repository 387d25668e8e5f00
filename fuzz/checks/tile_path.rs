//! `TilePath::parse` on UTF-8 input, and `parse_entry_bundle` on the same bytes.
//!
//! Asserts: nothing panics; a path that parses prints back as exactly the input;
//! a hash tile's stored hashes each lie in it (`Tile::for_stored_hash` gives the
//! same level and index and a width no larger; `hash_from_tile` reads them from
//! data of the right length); a bundle that parses has 1 to 256 entries and
//! re-encodes to exactly the input.

use ledger_core::tile::{
    EntryBundle, Tile, TilePath, encode_entry_bundle, hash_from_tile, parse_entry_bundle,
};

/// The checks of the `tile_path` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(tp) = TilePath::parse(s)
    {
        assert_eq!(tp.path(), s, "TilePath::path is not the parsed input");
        match tp {
            TilePath::Hash(tile) => {
                assert_eq!(Tile::parse_path(s), Ok(tile));
                assert!(EntryBundle::parse_path(s).is_err());
                assert!(tile.level() <= 63 && (1..=256).contains(&tile.width()));
                if let Ok(indexes) = tile.stored_hash_indexes() {
                    assert_eq!(indexes.len(), usize::from(tile.width()));
                    let zeros = vec![0u8; tile.data_len()];
                    for index in indexes {
                        let t = Tile::for_stored_hash(index).expect("stored hash of a tile");
                        assert_eq!((t.level(), t.index()), (tile.level(), tile.index()));
                        assert!(t.width() <= tile.width());
                        hash_from_tile(&tile, &zeros, index).expect("hash_from_tile");
                    }
                }
            }
            TilePath::Entries(bundle) => {
                assert_eq!(EntryBundle::parse_path(s), Ok(bundle));
                assert!(Tile::parse_path(s).is_err());
                assert_eq!(bundle.hash_tile().entry_bundle(), Some(bundle));
                let _ = bundle.parse(data);
            }
        }
    }

    if let Ok(entries) = parse_entry_bundle(data) {
        assert!((1..=256).contains(&entries.len()));
        let encoded = encode_entry_bundle(&entries).expect("re-encode entry bundle");
        assert_eq!(encoded, data, "encode_entry_bundle is not the parsed input");
    }
}
