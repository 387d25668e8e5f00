//! `Note::parse` and `note::open` on arbitrary bytes.
//!
//! Asserts: nothing panics; a note that parses re-encodes to exactly the input
//! (the format is canonical) and re-parses to an equal note; a note that opens
//! parses too, with the same text, and has at least one verified signature.

use super::common;

use ledger_core::note::{self, Note, NoteVerifier};

/// The checks of the `note` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    let parsed = Note::parse(data);
    if let Ok(note) = &parsed {
        let bytes = note.to_bytes();
        assert_eq!(bytes, data, "Note::to_bytes is not the parsed input");
        let again = Note::parse(&bytes).expect("re-encoded note does not parse");
        assert_eq!(&again, note, "re-parsed note differs");
        assert!(!note.signatures.is_empty());
        assert!(note.text.ends_with('\n'));
    }

    let verifiers: [&dyn NoteVerifier; 3] = [
        &*common::LOG_VERIFIER,
        &*common::WITNESS_VERIFIER,
        &*common::GO_VERIFIER,
    ];
    // With the log key alone, and with all three.
    for keys in [&verifiers[..1], &verifiers[..]] {
        if let Ok(opened) = note::open(data, keys) {
            let note = parsed.as_ref().expect("open accepted a note parse rejects");
            assert_eq!(opened.text(), note.text);
            assert!(!opened.verified_signatures().is_empty());
            for sig in opened.verified_signatures() {
                assert!(opened.is_signed_by(&sig.name, sig.id));
            }
        }
    }
}
