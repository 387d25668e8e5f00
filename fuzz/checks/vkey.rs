//! Key strings: `Ed25519Verifier::from_vkey`, `CosignatureVerifier::from_vkey`,
//! `verifier_from_vkey` and `Ed25519Signer::from_skey` on UTF-8 input.
//!
//! Asserts: nothing panics; a key that parses prints back as the input except for
//! the case of the hex key ID (parsers accept either case, as Go's does, and
//! `to_vkey`/`to_skey` print lowercase, `KeyId`'s `Display`), and the printed key
//! parses to an equal key.

use ledger_core::note::{
    CosignatureVerifier, Ed25519Signer, Ed25519Verifier, NoteVerifier, verifier_from_vkey,
};

/// `name+HEXID+rest` with the key ID lowercased: the canonical spelling.
fn lower_key_id(key: &str) -> String {
    let (name, rest) = key.split_once('+').expect("a parsed key has a '+'");
    let (id, b64) = rest.split_once('+').expect("a parsed key has two '+'");
    format!("{name}+{}+{b64}", id.to_ascii_lowercase())
}

/// The checks of the `vkey` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    let ed = Ed25519Verifier::from_vkey(s);
    if let Ok(v) = &ed {
        let printed = v.to_vkey();
        assert_eq!(printed, lower_key_id(s), "Ed25519Verifier::to_vkey");
        assert_eq!(&Ed25519Verifier::from_vkey(&printed).expect("re-parse"), v);
    }

    let cosig = CosignatureVerifier::from_vkey(s);
    if let Ok(v) = &cosig {
        let printed = v.to_vkey();
        assert_eq!(printed, lower_key_id(s), "CosignatureVerifier::to_vkey");
        assert_eq!(
            &CosignatureVerifier::from_vkey(&printed).expect("re-parse"),
            v
        );
    }

    match verifier_from_vkey(s) {
        Ok(v) => {
            let (name, id) = match (&ed, &cosig) {
                (Ok(e), Err(_)) => (e.name(), e.key_id()),
                (Err(_), Ok(c)) => (c.name(), c.key_id()),
                _ => panic!("verifier_from_vkey accepted a key of neither (or both) types"),
            };
            assert_eq!((v.name(), v.key_id()), (name, id));
        }
        Err(_) => assert!(ed.is_err() && cosig.is_err()),
    }

    if let Ok(signer) = Ed25519Signer::from_skey(s) {
        let rest = s
            .strip_prefix("PRIVATE+KEY+")
            .expect("from_skey checked the prefix");
        let printed = signer.to_skey();
        assert_eq!(
            printed,
            format!("PRIVATE+KEY+{}", lower_key_id(rest)),
            "to_skey"
        );
        let again = Ed25519Signer::from_skey(&printed).expect("re-parse");
        assert_eq!(again.to_skey(), printed);
        assert_eq!(again.verifier(), signer.verifier());
        assert_eq!(
            Ed25519Verifier::from_vkey(&signer.verifier().to_vkey()).as_ref(),
            Ok(&signer.verifier())
        );
    }
}
