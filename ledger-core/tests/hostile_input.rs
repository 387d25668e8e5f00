//! Hostile input for every parser of ledger-core, in the normal test suite (the
//! cargo-fuzz targets in `fuzz/` need nightly, which CI does not run; issue #6,
//! "Hostile input").
//!
//! Inputs: arbitrary bytes, arbitrary text over the formats' alphabet, and valid
//! encodings (statement, entry, signed note, checkpoint body, tile paths, entry
//! bundle, receipt, evidence, key strings) with 1 to 3 random flips, inserts,
//! deletes, overwrites and truncations. Every input goes to every parser, which
//! must not panic. On success:
//!
//! - canonical formats re-encode to exactly the input (statement, entry, note,
//!   checkpoint body, tile path, entry bundle, tlog-proof, receipt; key strings up
//!   to the case of the hex key ID); evidence, which is JSON, prints to text that
//!   parses to an equal value;
//! - signatures hold: a mutated signed checkpoint that still opens says what the
//!   original says, a mutated receipt that still verifies proves the original
//!   entry under the original tree, and mutated evidence that still proves
//!   something proves what the original proves;
//! - a statement the registry authority signed after the mutation either
//!   sequences into an entry that decodes back equal, or is refused.

mod common;

use std::sync::LazyLock;

use common::{ExampleLedger, ORIGIN};
use ledger_core::checkpoint::{Checkpoint, Origin, SignedCheckpoint, open_checkpoint};
use ledger_core::entry::{Entry, sign_statement};
use ledger_core::evidence::{Evidence, Verdict, full_consistency_path};
use ledger_core::hash::leaf_hash;
use ledger_core::note::{
    self, CosignatureSigner, CosignatureVerifier, Ed25519Signer, Ed25519Verifier, KeyName, Note,
    NoteVerifier,
};
use ledger_core::receipt::{Receipt, TlogProof};
use ledger_core::registry::Registry;
use ledger_core::statement::Statement;
use ledger_core::tile::{EntryBundle, Tile, TilePath, encode_entry_bundle, parse_entry_bundle};
use ledger_core::tree::MemoryTree;
use ledger_core::{LeafIndex, TreeSize};
use proptest::prelude::*;

/// Valid encodings to mutate, and what the signed ones say.
struct Samples {
    origin: Origin,
    log: Ed25519Verifier,
    witness: CosignatureVerifier,
    authority: ed25519_dalek::SigningKey,
    /// The registry after genesis and two agencies: the state a mutated
    /// statement is sequenced against.
    registry: Registry,
    /// (name, bytes) of every valid sample.
    all: Vec<(&'static str, Vec<u8>)>,
    /// The checkpoint of the example ledger, as opened.
    checkpoint: SignedCheckpoint,
    /// The receipt sample's entry and index.
    receipt_entry: Vec<u8>,
    receipt_index: LeafIndex,
    /// The evidence sample's verdict.
    evidence_verdict: Verdict,
}

static SAMPLES: LazyLock<Samples> = LazyLock::new(|| {
    let mut l = ExampleLedger::new();
    let registry = l.registry.clone();
    let permit = ExampleLedger::permit_statement("2026-11-28/000123");
    l.append(&common::key("city-licensing"), &permit);
    let origin = l.origin.clone();
    let log = l.log.verifier();
    let checkpoint_note = l.checkpoint();
    let checkpoint = open_checkpoint(&checkpoint_note, &origin, &log, &[]).unwrap();

    let witness_signer = CosignatureSigner::new(
        KeyName::new("witness.example.org").unwrap(),
        common::key("witness"),
    );
    let witness = witness_signer.verifier();
    let mut cosigned = Note::parse(&checkpoint_note).unwrap();
    cosigned.signatures.push(
        witness_signer
            .sign(checkpoint.note.text().as_bytes(), 1_795_852_800)
            .unwrap(),
    );

    let receipt = l.receipt(3);

    // Evidence: the log also signed a tree that shares only genesis with l's.
    let mut fork = MemoryTree::new();
    fork.append(&l.entries[0]);
    for i in 1..6u8 {
        fork.append(&[i; 40]);
    }
    let sign_at = |t: &MemoryTree, n: u64| {
        let cp = Checkpoint::new(origin.clone(), TreeSize(n), t.root_at(TreeSize(n)).unwrap());
        let note = ledger_core::checkpoint::sign_checkpoint(&cp, &l.log);
        open_checkpoint(&note, &origin, &log, &[]).unwrap()
    };
    let path = full_consistency_path(l.size(), fork.size(), &fork).unwrap();
    let evidence = Evidence::new(
        &sign_at(&l.tree, l.size().0),
        &sign_at(&fork, 6),
        &log,
        1_795_852_800,
        Some(path),
        "seen by the hostile input test",
    );
    let evidence_verdict = evidence.verify(&origin, &log).unwrap().verdict;
    assert!(matches!(evidence_verdict, Verdict::Proven(_)));

    let skey = Ed25519Signer::new(origin.key_name(), common::key("log")).to_skey();
    let all = vec![
        ("statement", permit.clone()),
        ("genesis statement", l.statements[0].clone()),
        (
            "register statement",
            l.register_statement("tax-office", "Tax Office"),
        ),
        ("entry", l.entries[3].clone()),
        ("checkpoint note", checkpoint_note.clone()),
        ("cosigned note", cosigned.to_bytes()),
        (
            "checkpoint body",
            checkpoint.note.text().as_bytes().to_vec(),
        ),
        (
            "hash tile path",
            Tile::new(1, 1234, 255).unwrap().path().into_bytes(),
        ),
        (
            "bundle path",
            EntryBundle::new(0, 4).unwrap().path().into_bytes(),
        ),
        ("entry bundle", encode_entry_bundle(&l.entries).unwrap()),
        ("receipt", receipt.encode()),
        ("evidence", evidence.to_json().into_bytes()),
        ("vkey", log.to_vkey().into_bytes()),
        ("cosignature vkey", witness.to_vkey().into_bytes()),
        ("skey", skey.into_bytes()),
    ];
    Samples {
        origin,
        log,
        witness,
        authority: l.authority.clone(),
        registry,
        all,
        checkpoint,
        receipt_entry: receipt.entry.clone(),
        receipt_index: receipt.proof.index,
        evidence_verdict,
    }
});

/// One edit of a byte string; positions are taken modulo the length.
#[derive(Clone, Debug)]
enum Edit {
    Flip { at: usize, bit: u8 },
    Overwrite { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    Truncate { keep: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the formats are more likely than others.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"\n\x00 +/=:,.{}[]\"\\-0129aAzZ\xe2\x80\x94".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), 0..8u8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Edit::Overwrite { at, byte }),
        (any::<usize>(), byte).prop_map(|(at, byte)| Edit::Insert { at, byte }),
        any::<usize>().prop_map(|at| Edit::Delete { at }),
        any::<usize>().prop_map(|keep| Edit::Truncate { keep }),
    ]
}

fn apply(data: &mut Vec<u8>, e: &Edit) {
    let n = data.len();
    match *e {
        Edit::Flip { at, bit } if n > 0 => data[at % n] ^= 1 << bit,
        Edit::Overwrite { at, byte } if n > 0 => data[at % n] = byte,
        Edit::Insert { at, byte } => data.insert(at % (n + 1), byte),
        Edit::Delete { at } if n > 0 => {
            data.remove(at % n);
        }
        Edit::Truncate { keep } => data.truncate(keep % (n + 1)),
        _ => {}
    }
}

/// A key string with the hex key ID (the part after the name) lowercased: what
/// `to_vkey`/`to_skey` print for a key string that parsed.
fn lower_key_id(s: &str, id_field: usize) -> String {
    let mut parts: Vec<String> = s.split('+').map(str::to_owned).collect();
    if let Some(id) = parts.get_mut(id_field) {
        *id = id.to_ascii_lowercase();
    }
    parts.join("+")
}

/// Feeds `data` to every parser and checks what each accepts.
fn check_every_parser(data: &[u8]) {
    let s = &*SAMPLES;
    let text = std::str::from_utf8(data).ok();

    if let Ok(st) = Statement::parse(data) {
        assert_eq!(st.bytes(), data);
        assert_eq!(Statement::parse(st.bytes()).unwrap(), st);
        // Signed after the mutation by the key its agency is registered with
        // (the authority's for `registry`): sequenced into an entry that decodes
        // back equal, or refused; never a panic.
        let mut registry = s.registry.clone();
        let signer = if st.agency.is_registry() {
            s.authority.clone()
        } else {
            common::key(st.agency.as_str())
        };
        let sig = sign_statement(&signer, data);
        if let Ok(applied) = registry.sequence(data, &sig, 1_795_852_900_000) {
            let bytes = applied.entry.encode().unwrap();
            assert_eq!(Entry::decode(&bytes).unwrap(), applied.entry);
            assert_eq!(applied.entry.statement, data);
        }
    }

    if let Ok(entry) = Entry::decode(data) {
        assert_eq!(entry.encode().unwrap(), data);
        assert_eq!(entry.leaf_hash().unwrap(), leaf_hash(data));
    }

    if let Ok(n) = Note::parse(data) {
        assert_eq!(n.to_bytes(), data);
    }
    let log: &dyn NoteVerifier = &s.log;
    let witness: &dyn NoteVerifier = &s.witness;
    if let Ok(v) = note::open(data, &[log, witness]) {
        assert_eq!(Note::parse(data).unwrap().text, v.text());
        assert!(!v.verified_signatures().is_empty());
    }

    if let Some(t) = text
        && let Ok(cp) = Checkpoint::parse_body(t)
    {
        assert_eq!(cp.to_body(), t);
    }
    if let Ok(opened) = open_checkpoint(data, &s.origin, log, &[witness]) {
        // Only the log can sign a checkpoint: one that opens says what the
        // log signed.
        assert_eq!(opened.raw, data);
        assert_eq!(opened.checkpoint, s.checkpoint.checkpoint);
    }

    if let Some(t) = text
        && let Ok(p) = TilePath::parse(t)
    {
        assert_eq!(p.path(), t);
        match p {
            TilePath::Hash(tile) => assert_eq!(Tile::parse_path(t), Ok(tile)),
            TilePath::Entries(b) => {
                assert_eq!(EntryBundle::parse_path(t), Ok(b));
                let _ = b.parse(data);
            }
        }
    }
    if let Ok(entries) = parse_entry_bundle(data) {
        assert_eq!(encode_entry_bundle(&entries).unwrap(), data);
    }

    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.encode(), data);
    }
    if let Ok(r) = Receipt::parse(data) {
        assert_eq!(r.encode(), data);
        if let Ok(v) = r.verify(&s.origin, log) {
            assert_eq!(r.entry, s.receipt_entry);
            assert_eq!(v.entry.index, s.receipt_index);
            assert_eq!(v.checkpoint, s.checkpoint.checkpoint);
        }
    }

    if let Ok(ev) = Evidence::parse(data) {
        let printed = ev.to_json();
        assert_eq!(Evidence::parse(printed.as_bytes()).unwrap(), ev);
        if let Ok(checked) = ev.verify(&s.origin, log)
            && let Verdict::Proven(_) = checked.verdict
        {
            assert_eq!(checked.verdict, s.evidence_verdict);
        }
    }

    if let Some(t) = text {
        if let Ok(k) = Ed25519Verifier::from_vkey(t) {
            assert_eq!(k.to_vkey(), lower_key_id(t, 1));
        }
        if let Ok(k) = CosignatureVerifier::from_vkey(t) {
            assert_eq!(k.to_vkey(), lower_key_id(t, 1));
        }
        let typed = Ed25519Verifier::from_vkey(t)
            .map(|k| (k.name().clone(), k.key_id()))
            .or_else(|_| CosignatureVerifier::from_vkey(t).map(|k| (k.name().clone(), k.key_id())));
        match note::verifier_from_vkey(t) {
            Ok(k) => assert_eq!(Ok((k.name().clone(), k.key_id())), typed.map_err(|_| ())),
            Err(_) => assert!(
                typed.is_err(),
                "a typed parser accepts what verifier_from_vkey refuses"
            ),
        }
        if let Ok(k) = Ed25519Signer::from_skey(t) {
            assert_eq!(k.to_skey(), lower_key_id(t, 3));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        check_every_parser(&data);
    }

    #[test]
    fn arbitrary_text_over_the_formats_alphabet(
        text in "[a-z0-9+/=\n {}\":,.\\[\\]_x-]{0,300}"
    ) {
        check_every_parser(text.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_valid_encodings(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..=3),
    ) {
        let (_, sample) = which.get(&SAMPLES.all);
        let mut data = sample.clone();
        for e in &edits {
            apply(&mut data, e);
        }
        check_every_parser(&data);
    }
}

/// Every sample is accepted by its own parser, so that the mutations start from
/// inputs that reach past the first checks.
#[test]
fn the_samples_are_valid() {
    let s = &*SAMPLES;
    let get = |name: &str| &s.all.iter().find(|(n, _)| *n == name).unwrap().1;
    let text = |name: &str| String::from_utf8(get(name).clone()).unwrap();
    Statement::parse(get("statement")).unwrap();
    Statement::parse(get("genesis statement")).unwrap();
    Entry::decode(get("entry")).unwrap();
    open_checkpoint(get("checkpoint note"), &s.origin, &s.log, &[]).unwrap();
    let w: &dyn NoteVerifier = &s.witness;
    let cosigned = open_checkpoint(get("cosigned note"), &s.origin, &s.log, &[w]).unwrap();
    assert_eq!(cosigned.witnesses.len(), 1);
    Checkpoint::parse_body(&text("checkpoint body")).unwrap();
    TilePath::parse(&text("hash tile path")).unwrap();
    TilePath::parse(&text("bundle path")).unwrap();
    assert_eq!(parse_entry_bundle(get("entry bundle")).unwrap().len(), 4);
    Receipt::parse(get("receipt"))
        .unwrap()
        .verify(&s.origin, &s.log)
        .unwrap();
    Evidence::parse(get("evidence")).unwrap();
    Ed25519Verifier::from_vkey(&text("vkey")).unwrap();
    CosignatureVerifier::from_vkey(&text("cosignature vkey")).unwrap();
    Ed25519Signer::from_skey(&text("skey")).unwrap();
    assert_eq!(ORIGIN, s.origin.as_str());
    for (_, data) in &s.all {
        check_every_parser(data);
    }
}

/// What evidence proves does not depend on its fields for people, its
/// whitespace or its key order; it does depend on every path hash.
#[test]
fn evidence_verdict_depends_only_on_the_signed_parts() {
    let s = &*SAMPLES;
    let get = |name: &str| s.all.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let original = Evidence::parse(&get("evidence")).unwrap();
    let verdict = |e: &Evidence| e.verify(&s.origin, &s.log).unwrap().verdict;
    let mut people = original.clone();
    people.problem = "edited".into();
    people.origin = "elsewhere".into();
    people.vkey = String::new();
    people.observed_at_unix = 0;
    people.kind = ledger_core::evidence::EvidenceKind::Rollback;
    assert_eq!(verdict(&people), s.evidence_verdict);
    let compact: serde_json::Value = serde_json::from_slice(&get("evidence")).unwrap();
    let reparsed = Evidence::parse(compact.to_string().as_bytes()).unwrap();
    assert_eq!(verdict(&reparsed), s.evidence_verdict);
    let path_len = original.proof.as_ref().unwrap().path.len();
    for i in 0..path_len {
        let mut bad = original.clone();
        bad.proof.as_mut().unwrap().path[i].0[31] ^= 0x80;
        assert!(matches!(verdict(&bad), Verdict::NotProven(_)), "hash {i}");
    }
}
