//! The committed fuzz corpus (fuzz/corpus/<target>/), replayed in every test
//! run through the same checks the fuzz targets make (fuzz/checks/): no panic,
//! canonical round trips, stable verdicts. A regression on a known hostile input
//! fails here, on stable Rust, without cargo-fuzz.

#[path = "../../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

/// A fuzz target's checks on one input.
type Check = fn(&[u8]);

/// Each target with a committed corpus, and its checks.
const TARGETS: &[(&str, Check)] = &[
    ("checkpoint", checks::checkpoint::check),
    ("entry", checks::entry::check),
    ("evidence", checks::evidence::check),
    ("note", checks::note::check),
    ("receipt", checks::receipt::check),
    ("statement", checks::statement::check),
    ("tile_path", checks::tile_path::check),
    ("vkey", checks::vkey::check),
];

#[test]
fn every_committed_corpus_input_passes_its_targets_checks() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut failures = Vec::new();
    let mut total = 0;
    for (target, check) in TARGETS {
        let dir = corpus.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            total += 1;
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failures.push(format!(
                    "{target}/{}",
                    file.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(total > 3_000, "only {total} corpus inputs found");
    assert!(
        failures.is_empty(),
        "{} inputs fail their checks: {failures:?}",
        failures.len()
    );
}
