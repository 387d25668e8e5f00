//! `Statement::parse` on arbitrary bytes.
//!
//! Asserts: nothing panics; a statement that parses keeps exactly the input as
//! its bytes, and parsing those bytes again gives an equal statement.

use ledger_core::statement::Statement;

/// The checks of the `statement` fuzz target on one input: panics if one fails.
pub fn check(data: &[u8]) {
    if let Ok(st) = Statement::parse(data) {
        assert_eq!(st.bytes(), data, "Statement::bytes is not the parsed input");
        let again = Statement::parse(st.bytes()).expect("statement bytes do not re-parse");
        assert_eq!(again, st);
    }
}
