//! Signed notes and checkpoints against other implementations' data.
//!
//! Sources:
//! - Go's golang.org/x/mod/sumdb/note test vector (PeterNeumann) and the
//!   c2sp.org/signed-note example key, as listed in ../shared/interop/README.md.
//! - ../shared/interop/tessera-log: checkpoints written by Trillian Tessera's POSIX
//!   storage (transparency-dev/trillian-tessera, commit 8ee4e93, testdata/log).

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::{CheckpointError, Origin, open_checkpoint, sign_checkpoint};
use ledger_core::note::{
    self, CosignatureSigner, Ed25519Signer, Ed25519Verifier, KeyName, MAX_SIGNATURES, Note,
    NoteError, NoteSignature, NoteVerifier,
};
use ledger_core::{Hash, TreeSize};

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/interop");

const TESSERA_VKEY: &str =
    "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const TESSERA_ORIGIN: &str = "example.com/log/testdata";
const TESSERA_ROOT_15: &str = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=";

/// The interop directory, or `None` (with a loud message) if it is absent.
fn interop_dir() -> Option<PathBuf> {
    let dir = Path::new(INTEROP);
    if dir.is_dir() {
        Some(dir.canonicalize().expect("canonical interop path"))
    } else {
        eprintln!(
            "\n!!!!!!!!\nSKIPPING: ../shared/interop not found at {INTEROP}; \
             interop tests did NOT run\n!!!!!!!!\n"
        );
        None
    }
}

/// Every `checkpoint` and `checkpoint.N` file of the Tessera log, with N (`None`
/// for the latest).
fn tessera_checkpoints(dir: &Path) -> Vec<(String, Option<u64>, Vec<u8>)> {
    let log = dir.join("tessera-log");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&log).expect("read tessera-log") {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().into_string().expect("UTF-8 file name");
        let n = if name == "checkpoint" {
            None
        } else if let Some(n) = name.strip_prefix("checkpoint.") {
            Some(
                n.parse::<u64>()
                    .unwrap_or_else(|_| panic!("unexpected file {name}")),
            )
        } else {
            continue;
        };
        let bytes = std::fs::read(entry.path()).expect("read checkpoint");
        out.push((name, n, bytes));
    }
    out.sort();
    out
}

#[test]
fn go_peter_neumann_vector() {
    // From golang.org/x/mod/sumdb/note's tests, listed in ../shared/interop/README.md.
    let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    let line = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    let signer = Ed25519Signer::from_skey(skey).unwrap();
    assert_eq!(signer.to_skey(), skey);
    assert_eq!(signer.verifier().to_vkey(), vkey);
    assert_eq!(signer.sign(text.as_bytes()).to_line(), line);
    let signed = note::sign(text, &[&signer]).unwrap();
    assert_eq!(signed, format!("{text}\n{line}").into_bytes());

    let verifier = Ed25519Verifier::from_vkey(vkey).unwrap();
    assert_eq!(verifier, signer.verifier());
    let opened = note::open(format!("{text}\n{line}").as_bytes(), &[&verifier]).unwrap();
    assert_eq!(opened.text(), text);
    assert_eq!(opened.verified_signatures().len(), 1);
}

#[test]
fn c2sp_signed_note_example() {
    // The c2sp.org/signed-note example key, listed in ../shared/interop/README.md.
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let text = "This is an example message.\n";
    let line = "\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let verifier = Ed25519Verifier::from_vkey(vkey).unwrap();
    assert_eq!(verifier.to_vkey(), vkey);
    let bytes = format!("{text}\n{line}").into_bytes();
    let opened = note::open(&bytes, &[&verifier]).unwrap();
    assert_eq!(opened.text(), text);
    let tampered = format!("This is an example message!\n\n{line}").into_bytes();
    assert!(matches!(
        note::open(&tampered, &[&verifier]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn tessera_checkpoints_open() {
    let Some(dir) = interop_dir() else { return };
    let verifier = Ed25519Verifier::from_vkey(TESSERA_VKEY).unwrap();
    let origin = Origin::new(TESSERA_ORIGIN).unwrap();
    let files = tessera_checkpoints(&dir);
    assert_eq!(
        files.len(),
        17,
        "checkpoint plus checkpoint.0 to checkpoint.15"
    );
    let mut sizes: Vec<u64> = Vec::new();
    for (name, n, bytes) in &files {
        let opened = open_checkpoint(bytes, &origin, &verifier, &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let cp = &opened.checkpoint;
        assert_eq!(cp.origin, origin, "{name}");
        assert!(cp.extensions.is_empty(), "{name}");
        assert_eq!(&opened.raw, bytes);
        match n {
            Some(n) => {
                assert_eq!(cp.size, TreeSize(*n), "{name}");
                sizes.push(*n);
            }
            None => {
                assert_eq!(cp.size, TreeSize(15));
                assert_eq!(cp.root, Hash::from_base64(TESSERA_ROOT_15).unwrap());
            }
        }
        if *n == Some(0) {
            assert_eq!(cp.root, Hash::empty_tree());
        }
    }
    sizes.sort_unstable();
    assert_eq!(sizes, (0..=15).collect::<Vec<_>>());
    // checkpoint and checkpoint.15 are the same tree head.
    let latest = &files.iter().find(|f| f.1.is_none()).unwrap().2;
    let fifteen = &files.iter().find(|f| f.1 == Some(15)).unwrap().2;
    let a = open_checkpoint(latest, &origin, &verifier, &[]).unwrap();
    let b = open_checkpoint(fifteen, &origin, &verifier, &[]).unwrap();
    assert_eq!(a.checkpoint, b.checkpoint);
}

#[test]
fn tessera_checkpoints_reject_every_flipped_byte() {
    let Some(dir) = interop_dir() else { return };
    let verifier = Ed25519Verifier::from_vkey(TESSERA_VKEY).unwrap();
    let origin = Origin::new(TESSERA_ORIGIN).unwrap();
    let files = tessera_checkpoints(&dir);
    assert_eq!(files.len(), 17);
    let mut checked = 0usize;
    for (name, _, bytes) in &files {
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= mask;
                assert!(
                    open_checkpoint(&b, &origin, &verifier, &[]).is_err(),
                    "{name}: byte {i} ^ {mask:#04x} was accepted"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 17 * 2 * 100);
}

#[test]
fn tessera_checkpoint_other_origin_or_key_rejected() {
    let Some(dir) = interop_dir() else { return };
    let files = tessera_checkpoints(&dir);
    let (_, _, bytes) = &files[0];
    let verifier = Ed25519Verifier::from_vkey(TESSERA_VKEY).unwrap();
    // A different key with the same name: its ID differs, so the line is unknown.
    let other = Ed25519Signer::new(
        KeyName::new(TESSERA_ORIGIN).unwrap(),
        SigningKey::from_bytes(&[9; 32]),
    );
    let origin = Origin::new(TESSERA_ORIGIN).unwrap();
    assert_eq!(
        open_checkpoint(bytes, &origin, &other.verifier(), &[]).unwrap_err(),
        CheckpointError::Note(NoteError::NoVerifiedSignature)
    );
    let wrong = Origin::new("example.com/log/other").unwrap();
    assert!(matches!(
        open_checkpoint(bytes, &wrong, &verifier, &[]),
        Err(CheckpointError::LogKeyNameMismatch { .. })
    ));
}

#[test]
fn witness_cosignature() {
    let origin = Origin::new("example.com/ledger").unwrap();
    let log = Ed25519Signer::new(origin.key_name(), SigningKey::from_bytes(&[11; 32]));
    let witness = CosignatureSigner::new(
        KeyName::new("witness.example/w1").unwrap(),
        SigningKey::from_bytes(&[12; 32]),
    );
    let cp = ledger_core::checkpoint::Checkpoint::new(
        origin.clone(),
        TreeSize(20852163),
        Hash::from_base64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=").unwrap(),
    );
    let mut note = Note::parse(&sign_checkpoint(&cp, &log)).unwrap();
    note.signatures
        .push(witness.sign(note.text.as_bytes(), 1_679_315_147).unwrap());
    let bytes = note.to_bytes();
    let (lv, wv) = (log.verifier(), witness.verifier());

    // With the witness known: its timestamp is reported.
    let opened = open_checkpoint(&bytes, &origin, &lv, &[&wv]).unwrap();
    assert_eq!(opened.checkpoint, cp);
    assert_eq!(opened.witnesses.len(), 1);
    assert_eq!(opened.witnesses[0].name, *wv.name());
    assert_eq!(opened.witnesses[0].timestamp, Some(1_679_315_147));

    // Without it: the cosignature is kept, unverified.
    let opened = open_checkpoint(&bytes, &origin, &lv, &[]).unwrap();
    assert!(opened.witnesses.is_empty());
    assert_eq!(opened.note.unverified_signatures(), &note.signatures[1..]);

    // A tampered cosignature (timestamp or signature byte).
    for i in [0usize, 7, 8, 40, 71] {
        let mut t = note.clone();
        t.signatures[1].signature[i] ^= 0x01;
        let t = t.to_bytes();
        assert_eq!(
            open_checkpoint(&t, &origin, &lv, &[&wv]).unwrap_err(),
            CheckpointError::Note(NoteError::InvalidSignature {
                name: wv.name().clone(),
                id: wv.key_id(),
            }),
            "byte {i}"
        );
        assert!(open_checkpoint(&t, &origin, &lv, &[]).is_ok(), "byte {i}");
    }
}

#[test]
fn unknown_keys_limits_and_failing_known_keys() {
    let a = Ed25519Signer::new(
        KeyName::new("a.example").unwrap(),
        SigningKey::from_bytes(&[21; 32]),
    );
    let text = "some text\n";
    let good = a.sign(text.as_bytes());
    let unknown = |i: u8| NoteSignature {
        name: KeyName::new(&format!("unknown{i}.example")).unwrap(),
        id: note::KeyId(u32::from(i)),
        signature: vec![i; 64],
    };
    let with = |sigs: Vec<NoteSignature>| {
        Note {
            text: text.into(),
            signatures: sigs,
        }
        .to_bytes()
    };
    let va = a.verifier();

    // Unknown keys around a good signature are ignored.
    let mut sigs: Vec<NoteSignature> = (0..7).map(unknown).collect();
    sigs.push(good.clone());
    sigs.extend((7..14).map(unknown));
    assert_eq!(sigs.len(), MAX_SIGNATURES - 1);
    let opened = note::open(&with(sigs.clone()), &[&va]).unwrap();
    assert_eq!(opened.verified_signatures(), std::slice::from_ref(&good));
    assert_eq!(opened.unverified_signatures().len(), 14);

    // 16 lines are accepted; 17 are rejected, whatever they are.
    sigs.push(unknown(15));
    assert!(note::open(&with(sigs.clone()), &[&va]).is_ok());
    sigs.push(unknown(16));
    assert_eq!(
        note::open(&with(sigs), &[&va]),
        Err(NoteError::TooManySignatures {
            max: MAX_SIGNATURES
        })
    );

    // A known key whose signature fails rejects the note, even next to a good one.
    let mut bad = good.clone();
    bad.signature[63] ^= 0x40;
    assert_eq!(
        note::open(&with(vec![unknown(1), bad.clone(), good.clone()]), &[&va]),
        Err(NoteError::InvalidSignature {
            name: a.name().clone(),
            id: a.key_id(),
        })
    );
    // Only unknown keys: rejected.
    assert_eq!(
        note::open(&with(vec![unknown(1), unknown(2)]), &[&va]),
        Err(NoteError::NoVerifiedSignature)
    );
}
