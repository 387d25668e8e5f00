//! `ledger-verify` against a real tiled log written by another implementation:
//! `../shared/interop/tessera-log` (Trillian Tessera, commit 8ee4e93; see
//! `../shared/interop/README.md`). Read in place; a loud SKIPPING line if absent.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const LOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/interop/tessera-log"
);
const VKEY: &str = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const ROOT_15: &str = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=";

fn log_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(LOG);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("!!!!! SKIPPING {test}: interop fixture {LOG} not found !!!!!");
        None
    }
}

/// Runs `ledger-verify --json ARGS`: (exit code, the JSON it printed).
fn verify(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_ledger-verify"))
        .arg("--json")
        .args(args)
        .output()
        .expect("running ledger-verify");
    let code = out.status.code().expect("exit code");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, json)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A view of the log as it was at size `m`: its checkpoint then, and the tiles.
fn view_at(log: &Path, m: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        log.join(format!("checkpoint.{m}")),
        dir.path().join("checkpoint"),
    )
    .unwrap();
    std::os::unix::fs::symlink(log.join("tile"), dir.path().join("tile")).unwrap();
    dir
}

#[test]
fn checkpoint_and_every_checkpoint_pair_verify() {
    let Some(log) = log_dir("checkpoint_and_every_checkpoint_pair_verify") else {
        return;
    };
    let (code, v) = verify(&["checkpoint", "--log", s(&log), "--vkey", VKEY]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], 15);
    assert_eq!(v["root"], ROOT_15);
    let mut roots = Vec::new();
    for m in 0..=15u64 {
        let view = view_at(&log, m);
        let (code, v) = verify(&["checkpoint", "--log", s(view.path()), "--vkey", VKEY]);
        assert_eq!(code, 0, "checkpoint.{m}: {v}");
        assert_eq!(v["size"], m);
        roots.push(v["root"].clone());
        for n in 0..=m {
            let from = log.join(format!("checkpoint.{n}"));
            let (code, v) = verify(&[
                "consistency",
                "--log",
                s(view.path()),
                "--vkey",
                VKEY,
                "--from",
                s(&from),
            ]);
            assert_eq!(code, 0, "{n} -> {m}: {v}");
        }
    }
    // Inclusion of every entry at every size, against that size's signed root.
    for size in 1..=15u64 {
        for index in 0..size {
            let (code, v) = verify(&[
                "inclusion",
                "--log",
                s(&log),
                "--vkey",
                VKEY,
                "--index",
                &index.to_string(),
                "--size",
                &size.to_string(),
            ]);
            assert_eq!(code, 0, "{index} in {size}: {v}");
            assert_eq!(v["root"], roots[size as usize], "{index} in {size}");
        }
    }
}

#[test]
fn generic_replay_reaches_the_published_root_and_ledger_replay_refuses_foreign_entries() {
    let Some(log) = log_dir("generic_replay") else {
        return;
    };
    let (code, v) = verify(&["replay", "--generic", "--log", s(&log), "--vkey", VKEY]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["root"], ROOT_15);
    assert_eq!(v["tiles_checked"], 1);
    // A full replay needs the authority key or an explicit --trust-genesis.
    let (code, v) = verify(&["replay", "--log", s(&log), "--vkey", VKEY]);
    assert_eq!(code, 2, "{v}");
    assert!(
        v["problem"].as_str().unwrap().contains("--trust-genesis"),
        "{v}"
    );
    // Tessera's entries are not this ledger's envelopes: a full replay fails.
    let (code, v) = verify(&[
        "replay",
        "--trust-genesis",
        "--log",
        s(&log),
        "--vkey",
        VKEY,
    ]);
    assert_eq!(code, 1, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("entry 0"), "{v}");
}

#[test]
fn a_wrong_key_or_a_rollback_fails_and_usage_errors_are_exit_2() {
    let Some(log) = log_dir("a_wrong_key_or_a_rollback_fails") else {
        return;
    };
    // Another key with the same name: the checkpoint is not signed by it.
    let name = ledger_core::note::KeyName::new("example.com/log/testdata").unwrap();
    let other = ledger_core::note::Ed25519Signer::new(
        name,
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
    )
    .verifier()
    .to_vkey();
    let (code, v) = verify(&["checkpoint", "--log", s(&log), "--vkey", &other]);
    assert_eq!(code, 1, "{v}");
    // A malformed key is a usage error.
    let (code, _) = verify(&["checkpoint", "--log", s(&log), "--vkey", "nonsense"]);
    assert_eq!(code, 2);
    // The log at size 5 is a prefix of the checkpoint of size 9: stale, not a
    // rollback of its history (spec/checkpoints-and-tiles.md §7.3).
    let view = view_at(&log, 5);
    let (code, v) = verify(&[
        "consistency",
        "--log",
        s(view.path()),
        "--vkey",
        VKEY,
        "--from",
        s(&log.join("checkpoint.9")),
    ]);
    assert_eq!(code, 2, "{v}");
    assert!(v["problem"].as_str().unwrap().starts_with("stale:"), "{v}");
    // Usage: an index beyond the tree; a log that is not there.
    let (code, _) = verify(&[
        "inclusion",
        "--log",
        s(&log),
        "--vkey",
        VKEY,
        "--index",
        "15",
    ]);
    assert_eq!(code, 2);
    let (code, _) = verify(&["checkpoint", "--log", "/nonexistent/log", "--vkey", VKEY]);
    assert_eq!(code, 2);
}

/// Every byte of the size-15 hash tile and entry bundle, flipped in a copy of
/// the log, is caught by the check that reads it: a bad source, exit code 2
/// (could not check), never "verified" and never a FORK (exit 1).
#[test]
fn every_flipped_byte_of_a_tile_or_bundle_is_caught() {
    let Some(log) = log_dir("every_flipped_byte_of_a_tile_or_bundle_is_caught") else {
        return;
    };
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(log.join("checkpoint"), copy.path().join("checkpoint")).unwrap();
    for rel in ["tile/0/000.p/15", "tile/entries/000.p/15"] {
        let to = copy.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(log.join(rel), &to).unwrap();
    }
    let old = log.join("checkpoint.3");

    let tile = copy.path().join("tile/0/000.p/15");
    let good = std::fs::read(&tile).unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        std::fs::write(&tile, &bad).unwrap();
        let (code, v) = verify(&[
            "consistency",
            "--log",
            s(copy.path()),
            "--vkey",
            VKEY,
            "--from",
            s(&old),
        ]);
        assert_eq!(code, 2, "tile byte {i}: {v}");
        assert!(
            v["problem"].as_str().unwrap().contains("bad source"),
            "tile byte {i}: {v}"
        );
    }
    std::fs::write(&tile, &good).unwrap();

    // Bundle bytes: the entry each byte belongs to (2-byte length, then data).
    let bundle = copy.path().join("tile/entries/000.p/15");
    let good = std::fs::read(&bundle).unwrap();
    let mut owner = Vec::new();
    let mut pos = 0;
    let mut index = 0u64;
    while pos < good.len() {
        let len = usize::from(u16::from_be_bytes([good[pos], good[pos + 1]]));
        owner.extend(std::iter::repeat_n(index, 2 + len));
        pos += 2 + len;
        index += 1;
    }
    assert_eq!(index, 15);
    for (i, &entry) in owner.iter().enumerate() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        std::fs::write(&bundle, &bad).unwrap();
        let (code, v) = verify(&[
            "inclusion",
            "--log",
            s(copy.path()),
            "--vkey",
            VKEY,
            "--index",
            &entry.to_string(),
        ]);
        assert_eq!(code, 2, "bundle byte {i} (entry {entry}): {v}");
        assert!(
            v["problem"].as_str().unwrap().contains("bad source"),
            "bundle byte {i} (entry {entry}): {v}"
        );
    }
}

/// A mirror whose partial bundle `000.p/15` holds a 16th entry: every check that
/// reads the bundle refuses it (spec/checkpoints-and-tiles.md §5), rather than
/// using its first 15 entries.
#[test]
fn a_partial_bundle_with_more_entries_than_its_width_is_refused() {
    let Some(log) = log_dir("a_partial_bundle_with_more_entries_than_its_width_is_refused") else {
        return;
    };
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(log.join("checkpoint"), copy.path().join("checkpoint")).unwrap();
    for rel in ["tile/0/000.p/15", "tile/entries/000.p/15"] {
        let to = copy.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(log.join(rel), &to).unwrap();
    }
    let (code, v) = verify(&[
        "inclusion",
        "--log",
        s(copy.path()),
        "--vkey",
        VKEY,
        "--index",
        "3",
    ]);
    assert_eq!(code, 0, "the intact copy verifies: {v}");
    let bundle = copy.path().join("tile/entries/000.p/15");
    let mut data = std::fs::read(&bundle).unwrap();
    data.extend_from_slice(b"\x00\x05extra");
    std::fs::write(&bundle, &data).unwrap();
    for args in [
        vec![
            "inclusion",
            "--log",
            s(copy.path()),
            "--vkey",
            VKEY,
            "--index",
            "3",
        ],
        vec![
            "replay",
            "--generic",
            "--log",
            s(copy.path()),
            "--vkey",
            VKEY,
        ],
    ] {
        let (code, v) = verify(&args);
        assert_eq!(code, 2, "a bad source, {args:?}: {v}");
        assert!(
            v["problem"]
                .as_str()
                .unwrap()
                .contains("holds 16 entries, expected 15"),
            "{args:?}: {v}"
        );
    }
}

/// The monitor tells a stale checkpoint and a corrupt mirror from a fork: both
/// are exit 2 with no evidence written and the state kept; a log that grows
/// normally passes.
#[test]
fn the_monitor_reports_stale_checkpoints_and_bad_mirrors_without_evidence() {
    let Some(log) = log_dir("the_monitor_reports_stale_checkpoints_and_bad_mirrors") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("monitor.state");
    let evidence = work.path().join("evidence.json");
    let monitor = |view: &Path| {
        verify(&[
            "monitor",
            "--log",
            s(view),
            "--vkey",
            VKEY,
            "--state",
            s(&state),
            "--evidence",
            s(&evidence),
        ])
    };

    // Remembered size 9; the log now serves its checkpoint of size 5 (a lagging
    // cache): it is a prefix of size 9, so stale, not a rollback or fork.
    std::fs::copy(log.join("checkpoint.9"), &state).unwrap();
    let (code, v) = monitor(view_at(&log, 5).path());
    assert_eq!(code, 2, "{v}");
    assert!(v["problem"].as_str().unwrap().starts_with("stale:"), "{v}");
    assert!(!evidence.exists());
    assert_eq!(
        std::fs::read(&state).unwrap(),
        std::fs::read(log.join("checkpoint.9")).unwrap()
    );

    // Remembered size 3; a mirror of size 15 with one flipped byte in its tile:
    // a bad source, not a fork.
    std::fs::copy(log.join("checkpoint.3"), &state).unwrap();
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(log.join("checkpoint"), copy.path().join("checkpoint")).unwrap();
    let tile = copy.path().join("tile/0/000.p/15");
    std::fs::create_dir_all(tile.parent().unwrap()).unwrap();
    let mut data = std::fs::read(log.join("tile/0/000.p/15")).unwrap();
    data[100] ^= 1;
    std::fs::write(&tile, &data).unwrap();
    let (code, v) = monitor(copy.path());
    assert_eq!(code, 2, "{v}");
    let problem = v["problem"].as_str().unwrap();
    assert!(problem.contains("bad source"), "{v}");
    assert!(problem.contains(s(copy.path())), "names the source: {v}");
    assert!(!evidence.exists());
    assert_eq!(
        std::fs::read(&state).unwrap(),
        std::fs::read(log.join("checkpoint.3")).unwrap()
    );
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        1,
        "no evidence-*.json or temporary file next to the state"
    );

    // The intact log extends size 3.
    let (code, v) = monitor(&log);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["size"], 15);
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_str().unwrap().to_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_tessera_log_is_mirrored_as_it_grows_and_the_mirror_replays() {
    let Some(log) = log_dir("a_tessera_log_is_mirrored_as_it_grows_and_the_mirror_replays") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let m = out.path().join("m");
    for size in [3u64, 9, 15] {
        let view = view_at(&log, size);
        let (code, v) = verify(&[
            "mirror",
            "--log",
            s(view.path()),
            "--vkey",
            VKEY,
            "--out",
            s(&m),
        ]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["size"], size, "{v}");
        // Only the new partial tile and bundle are copied each time.
        assert_eq!(v["tiles_fetched"], 1, "{v}");
        assert_eq!(v["bundles_fetched"], 1, "{v}");
        let (code, v) = verify(&["replay", "--generic", "--log", s(&m), "--vkey", VKEY]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["size"], size, "{v}");
    }
    assert_eq!(
        std::fs::read(m.join("checkpoint")).unwrap(),
        std::fs::read(log.join("checkpoint.15")).unwrap()
    );
    // Partial tiles of the earlier sizes stay until a full tile replaces them.
    assert_eq!(
        files(&m),
        [
            "checkpoint",
            "tile/0/000.p/15",
            "tile/0/000.p/3",
            "tile/0/000.p/9",
            "tile/entries/000.p/15",
            "tile/entries/000.p/3",
            "tile/entries/000.p/9",
        ]
    );
    for p in ["tile/0/000.p/15", "tile/entries/000.p/15"] {
        assert_eq!(
            std::fs::read(m.join(p)).unwrap(),
            std::fs::read(log.join(p)).unwrap(),
            "{p}"
        );
    }

    // The same size again: nothing is fetched, nothing changes.
    let (code, v) = verify(&["mirror", "--log", s(&log), "--vkey", VKEY, "--out", s(&m)]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["tiles_fetched"], 0, "{v}");
    assert_eq!(v["checkpoint_written"], false, "{v}");

    // An older view is stale: refused, the mirror unchanged.
    let before = files(&m);
    let (code, v) = verify(&[
        "mirror",
        "--log",
        s(view_at(&log, 9).path()),
        "--vkey",
        VKEY,
        "--out",
        s(&m),
    ]);
    assert_eq!(code, 2, "{v}");
    assert!(v["problem"].as_str().unwrap().contains("stale"), "{v}");
    assert_eq!(files(&m), before);
}
