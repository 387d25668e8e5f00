//! Writes valid (and signed) inputs for every fuzz target into `fuzz/corpus/<target>/`,
//! so that the fuzzer starts past the signature checks it cannot forge. Also copies
//! the Tessera interop log from `../shared/interop/tessera-log` when it is present.
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/seed-corpus/Cargo.toml`.

#[path = "../../fuzz_targets/common.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::{Checkpoint, SignedCheckpoint, open_checkpoint, sign_checkpoint};
use ledger_core::entry::{Entry, KeyHash, sign_statement};
use ledger_core::evidence::{Evidence, Misbehaviour, NotProven, Verdict, full_consistency_path};
use ledger_core::hash::Hash;
use ledger_core::index::{LeafIndex, TreeSize};
use ledger_core::note::{self, CosignatureSigner, Ed25519Signer, KeyName, Note};
use ledger_core::proof::prove_inclusion;
use ledger_core::receipt::{Receipt, TlogProof};
use ledger_core::tile::{EntryBundle, Tile, encode_entry_bundle};
use ledger_core::tree::MemoryTree;

const STATEMENT: &str = r#"{"v":1,"origin":"ledger.example.gov/egov","agency":"city-licensing","submission_id":"2026-11-28/000123","type":"decision.permit.granted","channel":"G2B","occurred_at":"2026-11-28T08:00:00Z","subject":"PERMIT/2026/0042","object":{"business":"Warung Sejahtera","outcome":"granted","fee_idr":150000}}"#;

struct Out {
    root: PathBuf,
    count: usize,
}

impl Out {
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        self.count += 1;
    }
}

fn statement(i: u64) -> String {
    if i == 0 {
        return STATEMENT.to_owned();
    }
    format!(
        r#"{{"v":1,"origin":"ledger.example.gov/egov","agency":"agency-{a}","submission_id":"s/{i}","type":"transfer.payment.made","channel":"G2C","occurred_at":"2026-11-28T08:00:0{s}.250Z","object":{{"amount":{i}.5,"tags":["a",null,true,{{"n":[]}}],"note":"\u00e9\n"}},"payload_commitment":"{c}"}}"#,
        a = i % 3,
        s = i % 10,
        c = "ab".repeat(32),
    )
}

fn main() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let mut out = Out {
        root: fuzz_dir.join("corpus"),
        count: 0,
    };

    let log = common::log_signer();
    assert_eq!(log.verifier().to_vkey(), common::LOG_VKEY);
    let witness = CosignatureSigner::new(
        KeyName::new("witness.example.org").unwrap(),
        SigningKey::from_bytes(&[0x57; 32]),
    );
    assert_eq!(witness.verifier().to_vkey(), common::WITNESS_VKEY);
    let go = Ed25519Signer::from_skey(common::GO_SKEY).unwrap();
    let agency = SigningKey::from_bytes(&[0x41; 32]);

    // Statements and entries, appended to a tree.
    let mut tree = MemoryTree::new();
    let mut envelopes = Vec::new();
    let mut prev = Hash::default();
    for i in 0..7u64 {
        let st = statement(i);
        ledger_core::statement::Statement::parse(st.as_bytes()).unwrap();
        out.put("statement", &format!("{i}"), st.as_bytes());
        let entry = Entry {
            index: LeafIndex(i),
            sequenced_at_ms: 1_795_852_800_000 + i,
            prev,
            agency_prev: (i >= 3).then(|| LeafIndex(i - 3)),
            statement: st.clone().into_bytes(),
            key_hash: KeyHash::of(&agency.verifying_key()),
            signature: sign_statement(&agency, st.as_bytes()),
        };
        let bytes = entry.encode().unwrap();
        out.put("entry", &format!("{i}"), &bytes);
        prev = entry.leaf_hash().unwrap();
        tree.append(&bytes);
        envelopes.push(bytes);
    }

    // Signed checkpoints: plain, cosigned, with an extension line; and bodies.
    let size = tree.size();
    let cp = Checkpoint::new(common::ORIGIN.clone(), size, tree.root());
    let signed = sign_checkpoint(&cp, &log);
    out.put("checkpoint", "signed", &signed);
    out.put("checkpoint", "body", cp.to_body().as_bytes());
    let mut cosigned = Note::parse(&signed).unwrap();
    cosigned.signatures.push(
        witness
            .sign(cp.to_body().as_bytes(), 1_795_852_800)
            .unwrap(),
    );
    out.put("checkpoint", "cosigned", &cosigned.to_bytes());
    let mut ext = cp.clone();
    ext.extensions = vec!["— extension line".to_owned()];
    out.put("checkpoint", "extension", &sign_checkpoint(&ext, &log));
    out.put("checkpoint", "extension-body", ext.to_body().as_bytes());
    let empty = Checkpoint::new(common::ORIGIN.clone(), TreeSize(0), Hash::empty_tree());
    out.put("checkpoint", "empty", &sign_checkpoint(&empty, &log));

    // Evidence (spec/evidence.md): a fork of the tree above that shares its first
    // 3 entries and grows to 9, signed by the same log key.
    let mut fork = MemoryTree::new();
    let mut prev = Hash::default();
    for i in 0..9u64 {
        let bytes = if i < 3 {
            envelopes[i as usize].clone()
        } else {
            let st = statement(100 + i);
            Entry {
                index: LeafIndex(i),
                sequenced_at_ms: 1_795_852_900_000 + i,
                prev,
                agency_prev: None,
                statement: st.clone().into_bytes(),
                key_hash: KeyHash::of(&agency.verifying_key()),
                signature: sign_statement(&agency, st.as_bytes()),
            }
            .encode()
            .unwrap()
        };
        prev = ledger_core::hash::leaf_hash(&bytes);
        fork.append(&bytes);
    }
    let at = |t: &MemoryTree, n: u64| -> SignedCheckpoint {
        let cp = Checkpoint::new(
            common::ORIGIN.clone(),
            TreeSize(n),
            t.root_at(TreeSize(n)).unwrap(),
        );
        open_checkpoint(
            &sign_checkpoint(&cp, &log),
            &common::ORIGIN,
            &*common::LOG_VERIFIER,
            &[],
        )
        .unwrap()
    };
    let path = |t: &MemoryTree, a: u64, b: u64| {
        Some(full_consistency_path(TreeSize(a), TreeSize(b), t).unwrap())
    };
    let cases: [(&str, SignedCheckpoint, SignedCheckpoint, Option<Vec<Hash>>); 7] = [
        ("fork", at(&tree, 7), at(&fork, 9), path(&fork, 7, 9)),
        ("fork-pow2", at(&tree, 4), at(&fork, 9), path(&fork, 4, 9)),
        (
            "rollback-fork",
            at(&fork, 9),
            at(&tree, 6),
            path(&fork, 6, 9),
        ),
        ("rollback-no-path", at(&fork, 9), at(&tree, 5), None),
        ("two-roots", at(&tree, 7), at(&fork, 7), None),
        ("consistent", at(&tree, 5), at(&tree, 7), path(&tree, 5, 7)),
        ("from-empty", at(&tree, 0), at(&fork, 9), None),
    ];
    for (name, earlier, later, full_path) in cases {
        let ev = Evidence::new(
            &earlier,
            &later,
            &common::LOG_VERIFIER,
            1_795_852_800,
            full_path,
            format!("seed {name}"),
        );
        let verdict = ev
            .verify(&common::ORIGIN, &*common::LOG_VERIFIER)
            .unwrap()
            .verdict;
        let want_proven = matches!(name, "fork" | "fork-pow2" | "rollback-fork" | "two-roots");
        match (&verdict, want_proven) {
            (Verdict::Proven(Misbehaviour::TwoRootsForOneSize { .. }), true) => {}
            (Verdict::Proven(Misbehaviour::Fork { .. }), true) => {}
            (
                Verdict::NotProven(
                    NotProven::NoPath | NotProven::Consistent | NotProven::EmptyTree,
                ),
                false,
            ) => {}
            _ => panic!("seed {name}: unexpected verdict {verdict:?}"),
        }
        out.put("evidence", name, ev.to_json().as_bytes());
    }

    // Notes.
    let go_text = "If you think cryptography is the answer to your problem,\n\
                   then you don't know what your problem is.\n";
    out.put("note", "go", &note::sign(go_text, &[&go]).unwrap());
    out.put(
        "note",
        "two-signers",
        &note::sign(go_text, &[&go, &log]).unwrap(),
    );
    out.put("note", "checkpoint", &signed);
    out.put("note", "cosigned", &cosigned.to_bytes());
    out.put(
        "note",
        "blank-lines",
        &note::sign("a\n\nb\n", &[&log]).unwrap(),
    );

    // Receipts and bare proofs, each verifying against the checkpoint above.
    for i in [0u64, 3, 6] {
        let proof = prove_inclusion(LeafIndex(i), size, &tree).unwrap();
        let r = Receipt::new(
            envelopes[i as usize].clone(),
            LeafIndex(i),
            proof.path,
            signed.clone(),
        );
        r.verify(&common::ORIGIN, &*common::LOG_VERIFIER).unwrap();
        out.put("receipt", &format!("{i}"), &r.encode());
    }
    let bare = TlogProof {
        extra: None,
        index: LeafIndex(1),
        path: prove_inclusion(LeafIndex(1), size, &tree).unwrap().path,
        checkpoint: cosigned.to_bytes(),
    };
    out.put("receipt", "no-extra", &bare.encode());

    // Tile paths and entry bundles.
    let tiles = [
        Tile::new(0, 0, 256).unwrap().path(),
        Tile::new(0, 0, 7).unwrap().path(),
        Tile::new(1, 1234, 255).unwrap().path(),
        Tile::new(63, u64::MAX, 1).unwrap().path(),
        Tile::new(2, 1_000_000, 256).unwrap().path(),
        EntryBundle::new(0, 7).unwrap().path(),
        EntryBundle::new(999_999_999, 256).unwrap().path(),
    ];
    for (i, p) in tiles.iter().enumerate() {
        out.put("tile_path", &format!("path-{i}"), p.as_bytes());
    }
    out.put(
        "tile_path",
        "bundle",
        &encode_entry_bundle(&envelopes).unwrap(),
    );
    out.put(
        "tile_path",
        "bundle-empty-entry",
        &encode_entry_bundle(&[&b""[..], &b"x"[..]]).unwrap(),
    );

    // Keys.
    out.put("vkey", "log", common::LOG_VKEY.as_bytes());
    out.put("vkey", "log-skey", common::LOG_SKEY.as_bytes());
    out.put("vkey", "witness", common::WITNESS_VKEY.as_bytes());
    out.put("vkey", "go", common::GO_VKEY.as_bytes());
    out.put("vkey", "go-skey", common::GO_SKEY.as_bytes());
    out.put(
        "vkey",
        "go-upper",
        common::GO_VKEY.replace("c74f20a3", "C74F20A3").as_bytes(),
    );

    // The Tessera interop log, if the shared fixtures are next to the project.
    let interop = fuzz_dir.join("../../shared/interop/tessera-log");
    if interop.is_dir() {
        for n in [0, 8, 15] {
            if let Ok(cp) = fs::read(interop.join(format!("checkpoint.{n}"))) {
                out.put("checkpoint", &format!("tessera-{n}"), &cp);
                out.put("note", &format!("tessera-{n}"), &cp);
            }
        }
        for n in [1, 15] {
            let rel = format!("tile/entries/000.p/{n}");
            if let Ok(b) = fs::read(interop.join(&rel)) {
                out.put("tile_path", &format!("tessera-bundle-{n}"), &b);
                out.put("tile_path", &format!("tessera-path-{n}"), rel.as_bytes());
            }
        }
        let vkey = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
        out.put("vkey", "tessera", vkey.as_bytes());
    }

    println!("wrote {} seeds under {}", out.count, out.root.display());
}
