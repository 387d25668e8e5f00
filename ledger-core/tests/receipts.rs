//! Receipts (spec/receipts.md): built from a real example ledger, verified
//! offline with only the log's verifier key, and rejected when anything changes.

mod common;

use common::{ExampleLedger, key};
use ledger_core::checkpoint::Origin;
use ledger_core::note::{Ed25519Signer, Ed25519Verifier};
use ledger_core::receipt::{Receipt, ReceiptError, TlogProof};

fn ledger() -> ExampleLedger {
    let mut l = ExampleLedger::new();
    for i in 0..7 {
        let s = ExampleLedger::permit_statement(&format!("permit-{i}"));
        l.append(&key("city-licensing"), &s);
    }
    l
}

#[test]
fn every_receipt_verifies_offline() {
    let l = ledger();
    let vkey = l.log.verifier().to_vkey();
    // A verifier needs only the verifier key string and the origin.
    let verifier = Ed25519Verifier::from_vkey(&vkey).unwrap();
    for index in 0..l.size().0 {
        let text = l.receipt(index).encode();
        let receipt = Receipt::parse(&text).unwrap();
        let v = receipt.verify(&l.origin, &verifier).unwrap();
        assert_eq!(v.entry.index.0, index);
        assert_eq!(v.checkpoint.size, l.size());
        assert_eq!(receipt.encode(), text, "encoding is canonical");
    }
}

#[test]
fn any_changed_byte_is_rejected() {
    let l = ledger();
    let verifier = l.log.verifier();
    let text = l.receipt(5).encode();
    for i in 0..text.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut bad = text.clone();
            bad[i] ^= mask;
            let result = Receipt::parse(&bad).and_then(|r| r.verify(&l.origin, &verifier));
            assert!(result.is_err(), "byte {i} ^ {mask:#x} accepted");
        }
    }
}

#[test]
fn wrong_key_origin_or_entry_is_rejected() {
    let l = ledger();
    let receipt = l.receipt(4);
    let other = Ed25519Signer::new(l.origin.key_name(), key("someone else")).verifier();
    assert!(matches!(
        receipt.verify(&l.origin, &other),
        Err(ReceiptError::Checkpoint(_))
    ));
    let other_origin = Origin::new("other.example/log").unwrap();
    assert!(receipt.verify(&other_origin, &l.log.verifier()).is_err());
    // Another entry of the same log under this entry's proof.
    let mut swapped = receipt.clone();
    swapped.entry = l.entries[3].clone();
    swapped.proof.extra = Some(l.entries[3].clone());
    assert!(matches!(
        swapped.verify(&l.origin, &l.log.verifier()),
        Err(ReceiptError::IndexMismatch { .. })
    ));
    // A proof for a neighbouring index with the entry's index patched.
    let mut moved = l.receipt(5);
    moved.entry = l.entries[4].clone();
    moved.proof.extra = Some(l.entries[4].clone());
    moved.proof.index = ledger_core::LeafIndex(4);
    assert!(matches!(
        moved.verify(&l.origin, &l.log.verifier()),
        Err(ReceiptError::Proof(_))
    ));
}

#[test]
fn malformed_receipts_are_rejected() {
    let l = ledger();
    let good = String::from_utf8(l.receipt(2).encode()).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        (
            good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            "wrong header",
        ),
        (
            good.replacen("index 2\n", "index 02\n", 1),
            "leading zero index",
        ),
        (good.replacen("index 2\n", "index +2\n", 1), "signed index"),
        (good.replacen("index 2\n", "index  2\n", 1), "double space"),
        (good.replacen("index 2\n", "", 1), "no index"),
        (
            good.replacen("extra ", "extra  ", 1),
            "extra with two spaces",
        ),
        (good.replacen("extra ", "Extra ", 1), "capitalised extra"),
        (
            good.replacen("\n\n", "\n", 1),
            "no blank line before the checkpoint",
        ),
        (
            good.split("\n\n").next().unwrap().to_owned() + "\n\n",
            "no checkpoint",
        ),
        (
            good.replacen("index 2\n", "index 2\nAAAA\n", 1),
            "short hash line",
        ),
        (good.replacen("index 2\n", "index 2\r\n", 1), "CRLF"),
    ];
    for (input, why) in cases {
        let r =
            Receipt::parse(input.as_bytes()).and_then(|r| r.verify(&l.origin, &l.log.verifier()));
        assert!(r.is_err(), "accepted: {why}");
    }
    // A tlog-proof without extra is a valid proof but not a receipt.
    let mut p = TlogProof::parse(good.as_bytes()).unwrap();
    p.extra = None;
    assert!(matches!(
        Receipt::parse(&p.encode()),
        Err(ReceiptError::MissingEntry)
    ));
    assert!(TlogProof::parse(&vec![b'a'; 300 * 1024]).is_err());
}

/// A form-2 receipt (spec/receipts.md §1): the signer's key travels with the
/// entry; it must hash to the entry's key hash and verify its signature.
fn signed_receipt(l: &ExampleLedger, index: u64, signer: ed25519_dalek::VerifyingKey) -> Receipt {
    let r = l.receipt(index);
    Receipt::new_signed(
        r.entry,
        signer,
        r.proof.index,
        r.proof.path,
        r.proof.checkpoint,
    )
}

#[test]
fn a_receipt_can_carry_its_signer_key() {
    let l = ledger();
    let verifier = l.log.verifier();
    let city = key("city-licensing").verifying_key();
    let text = signed_receipt(&l, 5, city).encode();
    let parsed = Receipt::parse(&text).unwrap();
    assert_eq!(parsed.signer, Some(city));
    assert_eq!(parsed.encode(), text, "encoding is canonical");
    let v = parsed.verify(&l.origin, &verifier).unwrap();
    assert_eq!(v.signer, Some(city));
    v.check_signer(&city).unwrap();
    // Form 1 is still read, and carries no signer; the key can be given.
    let v1 = Receipt::parse(&l.receipt(5).encode()).unwrap();
    assert_eq!(v1.signer, None);
    let v1 = v1.verify(&l.origin, &verifier).unwrap();
    assert_eq!(v1.signer, None);
    v1.check_signer(&city).unwrap();

    // Another (valid) key: its hash is not the entry's.
    let other = key("someone else").verifying_key();
    assert!(matches!(
        signed_receipt(&l, 5, other).verify(&l.origin, &verifier),
        Err(ReceiptError::SignerMismatch { .. })
    ));
    assert!(matches!(
        v1.check_signer(&other),
        Err(ReceiptError::SignerMismatch { .. })
    ));

    // A form-2 extra cut inside the key, and a small-order key.
    let mut cut = l.receipt(5);
    cut.proof.extra = Some(vec![ledger_core::receipt::SIGNED_EXTRA_TAG; 20]);
    assert!(Receipt::parse(&cut.encode()).is_err());
    let mut weak = l.receipt(5);
    let mut extra = vec![ledger_core::receipt::SIGNED_EXTRA_TAG];
    extra.extend_from_slice(&[0u8; 32]);
    extra.extend_from_slice(&l.entries[5]);
    weak.proof.extra = Some(extra);
    assert!(matches!(
        Receipt::parse(&weak.encode()),
        Err(ReceiptError::SignerKey(_))
    ));
}

#[test]
fn any_changed_byte_of_a_signed_receipt_is_rejected() {
    let l = ledger();
    let verifier = l.log.verifier();
    let text = signed_receipt(&l, 3, key("city-licensing").verifying_key()).encode();
    for i in 0..text.len() {
        let mut bad = text.clone();
        bad[i] ^= 0x01;
        let result = Receipt::parse(&bad).and_then(|r| r.verify(&l.origin, &verifier));
        assert!(result.is_err(), "byte {i} accepted");
    }
}
