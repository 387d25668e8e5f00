//! `Checkpoint::parse_body` and `open_checkpoint` on arbitrary bytes.
//!
//! Asserts: nothing panics; a body that parses is printed back as exactly the
//! input by `to_body`, and re-parses to an equal checkpoint; a checkpoint that
//! opens has a body that parses to the same checkpoint, origin [`LOG_ORIGIN`],
//! and keeps the raw bytes.

use super::common;

use ledger_core::checkpoint::{Checkpoint, open_checkpoint};
use ledger_core::note::NoteVerifier;

/// The checks of the `checkpoint` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    if let Ok(body) = std::str::from_utf8(data)
        && let Ok(cp) = Checkpoint::parse_body(body)
    {
        let printed = cp.to_body();
        assert_eq!(printed, body, "Checkpoint::to_body is not the parsed input");
        let again = Checkpoint::parse_body(&printed).expect("printed body does not parse");
        assert_eq!(again, cp);
    }

    let log: &dyn NoteVerifier = &*common::LOG_VERIFIER;
    let witness: &dyn NoteVerifier = &*common::WITNESS_VERIFIER;
    for witnesses in [&[][..], &[witness][..]] {
        if let Ok(signed) = open_checkpoint(data, &common::ORIGIN, log, witnesses) {
            assert_eq!(signed.raw, data);
            assert_eq!(signed.checkpoint.origin.as_str(), common::LOG_ORIGIN);
            assert_eq!(signed.checkpoint.to_body(), signed.note.text());
            let reparsed = Checkpoint::parse_body(signed.note.text()).expect("opened body");
            assert_eq!(reparsed, signed.checkpoint);
            assert!(signed.witnesses.len() <= witnesses.len());
        }
    }
}
