//! One test per rule that spec/ states for a second implementation: the strict
//! JSON of statements (entry.md §1.1), text and time fields (§1.4, §1.5), the
//! statement signature rule (§3.2), batch verification and the submission key
//! (registry.md §4), and the genesis trust anchors (registry.md §3.1). Each test
//! names the section it pins and goes through ledger-core's public API, so a
//! change of behaviour fails here and the spec must change with it.

mod common;

use std::ops::{Add, Mul};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{ExampleLedger, ORIGIN, b64_key, key};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use ledger_core::entry::{
    KeyRejection, sign_statement, signed_message, strict_public_key, verify_statement_signature,
};
use ledger_core::note::{Ed25519Signer, Ed25519Verifier, KeyName};
use ledger_core::registry::{Registry, TrustAnchors};
use ledger_core::statement::{AgencyId, Statement, parse_strict_json};
use sha2::{Digest as _, Sha512};

const BASE: &str = r#"{"v":1,"origin":"ledger.example.gov/egov","agency":"city-licensing","submission_id":"s-1","type":"decision.permit.granted","channel":"G2B","occurred_at":"2026-11-28T08:00:00Z","object":{"k":"V"}}"#;

/// `BASE` with the first `from` replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from} is not in the base statement");
    BASE.replacen(from, to, 1)
}

/// `BASE` with a `subject` field holding `json` (a JSON string's contents).
fn with_subject(json: &str) -> String {
    with(r#""object""#, &format!(r#""subject":"{json}","object""#))
}

/// `BASE` with the value `json` at `object.k`.
fn with_value(json: &str) -> String {
    with(r#""V""#, json)
}

fn parses(statement: &str) -> bool {
    Statement::parse(statement.as_bytes()).is_ok()
}

fn occurred_at_ms(time: &str) -> Option<i64> {
    Statement::parse(with("2026-11-28T08:00:00Z", time).as_bytes())
        .ok()
        .map(|s| s.occurred_at_ms)
}

// entry.md §1.1: the form of a statement.

#[test]
fn entry_1_1_the_top_level_object_counts_as_depth_one() {
    // `object` is at depth 2; n arrays inside it reach depth 2 + n.
    let nested = |n: usize, inner: &str| format!("{}{inner}{}", "[".repeat(n), "]".repeat(n));
    assert!(parses(&with_value(&nested(30, "1"))), "depth 32");
    assert!(!parses(&with_value(&nested(31, "1"))), "depth 33");
    // An empty object or array is a level too; scalars are not.
    assert!(parses(&with_value(&nested(29, "{}"))), "depth 32");
    assert!(!parses(&with_value(&nested(30, "{}"))), "depth 33");
    assert!(parse_strict_json(nested(32, "1").as_bytes()).is_ok());
    assert!(parse_strict_json(nested(33, "1").as_bytes()).is_err());
}

#[test]
fn entry_1_1_a_lone_surrogate_escape_is_rejected() {
    for lone in [
        r"\ud800",
        r"\udbff",
        r"\udc00",
        r"\udfff",
        r"\ud800x",
        r"\udc00\ud800",
    ] {
        assert!(!parses(&with_value(&format!("\"{lone}\""))), "{lone}");
    }
    // A high surrogate escape followed by a low one is one code point.
    let pair = Statement::parse(with_value(r#""\ud83d\ude00""#).as_bytes()).unwrap();
    assert_eq!(pair.object["k"].as_str(), Some("\u{1f600}"));
}

#[test]
fn entry_1_1_duplicate_keys_are_compared_after_unescaping() {
    assert!(!parses(&with(r#"{"k":"V"}"#, r#"{"a":1,"\u0061":2}"#)));
    assert!(!parses(&with(r#""v":1,"#, r#""v":1,"\u0076":1,"#)));
    // Hex digits of an escape in either case.
    assert!(!parses(&with(r#"{"k":"V"}"#, r#"{"k":1,"\u006B":2}"#)));
    // No normalization: U+00E9 and e + U+0301 are different keys.
    assert!(parses(&with(r#"{"k":"V"}"#, r#"{"\u00e9":1,"e\u0301":2}"#)));
}

#[test]
fn entry_1_1_field_names_and_values_are_read_after_unescaping() {
    let s = Statement::parse(
        with(r#""agency""#, r#""\u0061gency""#)
            .replace(r#""G2B""#, r#""G2\u0042""#)
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(s.agency.as_str(), "city-licensing");
    assert_eq!(s.channel.as_str(), "G2B");
}

#[test]
fn entry_1_1_a_byte_order_mark_is_rejected_and_only_json_whitespace_surrounds() {
    assert!(!parses(&format!("\u{feff}{BASE}")));
    assert!(parses(&format!(" \t\r\n{BASE} \t\r\n")));
    for space in ['\u{a0}', '\u{2028}', '\u{3000}', '\u{0b}', '\u{0c}'] {
        assert!(!parses(&format!("{space}{BASE}")), "{space:?} before");
        assert!(!parses(&format!("{BASE}{space}")), "{space:?} after");
    }
}

#[test]
fn entry_1_1_invalid_utf8_is_rejected_inside_strings_too() {
    let valid = with_value("\"\u{e9}\"").into_bytes();
    assert!(Statement::parse(&valid).is_ok());
    let at = valid
        .windows(2)
        .position(|w| w == "\u{e9}".as_bytes())
        .unwrap();
    for bad in [
        &[0xc3u8][..],             // truncated
        &[0xc0, 0xa9],             // overlong
        &[0xed, 0xa0, 0x80],       // an encoded surrogate, U+D800
        &[0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
        &[0xff],
    ] {
        let mut s = valid[..at].to_vec();
        s.extend_from_slice(bad);
        s.extend_from_slice(&valid[at + 2..]);
        assert!(Statement::parse(&s).is_err(), "{bad:02x?}");
    }
}

#[test]
fn entry_1_1_numbers_follow_the_rfc_8259_grammar() {
    for ok in [
        "0",
        "-0",
        "-5",
        "1.5",
        "-0.25",
        "1e5",
        "1E+5",
        "1e-5",
        "1e007",
        "0.0e0",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
    ] {
        assert!(parses(&with_value(ok)), "{ok} should be accepted");
    }
    for bad in [
        "01",
        "-01",
        "+1",
        ".5",
        "1.",
        "-",
        "1e",
        "1e+",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "1_000",
        "١",
    ] {
        assert!(!parses(&with_value(bad)), "{bad} should be rejected");
    }
}

#[test]
fn entry_1_1_a_number_of_magnitude_ten_to_the_308_or_more_is_rejected() {
    for ok in [
        "9.999999999999999999999e307",
        "-9.999999999999999999999e307",
        "1e-400",
        "0e999999",
        "0.000e400",
        "0.001e310",
        &"9".repeat(308),
        &format!("0.{}1e308", "0".repeat(20)),
    ] {
        assert!(parses(&with_value(ok)), "{ok} should be accepted");
    }
    for bad in [
        "1e308",
        "-1e308",
        "10e307",
        "0.1e309",
        "2E+400",
        "1e99999999999999999999",
        // serde_json alone refuses the first and accepts the second, the same
        // number: the rule decides both from the digits.
        "1.7976931348623158e308",
        "1.79769313486231580e308",
        &format!("1{}", "0".repeat(308)),
    ] {
        assert!(!parses(&with_value(bad)), "{bad} should be rejected");
    }
}

#[test]
fn entry_1_1_v_is_the_single_character_1() {
    assert!(parses(&with(r#""v":1,"#, r#""v": 1 ,"#)));
    for bad in [
        "1.0", "1e0", "10e-1", "-1", r#""1""#, "true", "null", "01", "2",
    ] {
        assert!(
            !parses(&with(r#""v":1"#, &format!(r#""v":{bad}"#))),
            "v {bad}"
        );
    }
}

#[test]
fn entry_1_1_null_is_not_a_value_of_an_optional_field() {
    assert!(!parses(&with(r#""object""#, r#""subject":null,"object""#)));
    assert!(!parses(&with(
        r#""object""#,
        r#""payload_commitment":null,"object""#
    )));
    assert!(!parses(&with(r#""channel":"G2B""#, r#""channel":null"#)));
    // Inside `object`, null is a value like any other.
    assert!(parses(&with_value("null")));
}

// entry.md §1.4: text.

#[test]
fn entry_1_4_subject_length_is_counted_in_utf8_bytes_of_the_decoded_value() {
    assert!(parses(&with_subject(&"é".repeat(128))), "256 bytes");
    assert!(!parses(&with_subject(&"é".repeat(129))), "258 bytes");
    assert!(parses(&with_subject(&"a".repeat(256))));
    assert!(!parses(&with_subject(&"a".repeat(257))));
    // Escapes are decoded first: 128 × \u00e9 is 768 bytes of JSON, 256 of text.
    assert!(parses(&with_subject(&r"\u00e9".repeat(128))));
    assert!(!parses(&with_subject(&r"\u00e9".repeat(129))));
    assert!(!parses(&with_subject("")));
}

#[test]
fn entry_1_4_control_characters_are_exactly_category_cc() {
    for cc in [0x00u32, 0x09, 0x1f, 0x7f, 0x80, 0x85, 0x9f] {
        assert!(
            !parses(&with_subject(&format!(r"a\u{cc:04x}b"))),
            "U+{cc:04X} escaped"
        );
    }
    for raw in ['\u{7f}', '\u{80}', '\u{9f}'] {
        assert!(!parses(&with_subject(&format!("a{raw}b"))), "{raw:?} raw");
    }
    for allowed in [
        '\u{a0}', '\u{ad}', '\u{200b}', '\u{200e}', '\u{2028}', '\u{202e}', '\u{feff}', ' ',
    ] {
        assert!(
            parses(&with_subject(&format!("a{allowed}b"))),
            "{allowed:?}"
        );
    }
}

#[test]
fn entry_1_4_whitespace_is_exactly_the_white_space_property() {
    let white_space = [
        '\u{9}', '\u{a}', '\u{b}', '\u{c}', '\u{d}', ' ', '\u{85}', '\u{a0}', '\u{1680}',
        '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}',
        '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}',
        '\u{205f}', '\u{3000}',
    ];
    assert_eq!(white_space.len(), 25);
    let origin = |c: char| {
        let escaped = format!(r"\u{:04x}", u32::from(c));
        with(
            "ledger.example.gov/egov",
            &format!("ledger.example.gov/e{escaped}gov"),
        )
    };
    for c in white_space {
        assert!(!parses(&origin(c)), "{c:?} is whitespace");
    }
    // Not whitespace, and not Cc: the statement parses (check 6 then compares).
    for c in ['\u{200b}', '\u{feff}', '\u{180e}', '\u{2060}'] {
        assert!(parses(&origin(c)), "{c:?} is not whitespace");
    }
    assert!(!parses(&origin('+')));
    assert!(!parses(&origin('\u{80}')), "a C1 control");
}

#[test]
fn entry_1_4_registry_name_length_is_counted_in_bytes() {
    let mut l = ExampleLedger::new();
    let register = |agency: &str, name: &str| {
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"registry","submission_id":"register/{agency}","type":"registry.agency.register","channel":"G2G","occurred_at":"2026-11-28T07:59:00Z","object":{{"agency":"{agency}","name":"{name}","key":"{}"}}}}"#,
            b64_key(&key(agency))
        )
        .into_bytes()
    };
    let authority = l.authority.clone();
    let too_long = register("too-long", &"é".repeat(129));
    let err = l
        .registry
        .sequence(
            &too_long,
            &sign_statement(&authority, &too_long),
            l.time_ms + 1,
        )
        .unwrap_err();
    assert_eq!(err.code(), "registry_rule", "{err}");
    l.append(&authority, &register("just-fits", &"é".repeat(128)));
}

// entry.md §1.5: times.

#[test]
fn entry_1_5_only_upper_case_t_and_z_and_no_other_offset() {
    assert_eq!(
        occurred_at_ms("2026-11-28T08:00:00Z"),
        Some(1_795_852_800_000)
    );
    for bad in [
        "2026-11-28t08:00:00Z",
        "2026-11-28T08:00:00z",
        "2026-11-28 08:00:00Z",
        "2026-11-28T08:00:00+00:00",
        "2026-11-28T08:00:00-00:00",
        "2026-11-28T08:00:00+07:00",
        "2026-11-28T08:00:00+00:00Z",
        "2026-11-28T08:00Z",
        "2026-11-28T8:00:00Z",
        "26-11-28T08:00:00Z",
        "+2026-11-28T08:00:00Z",
        "２026-11-28T08:00:00Z",
    ] {
        assert_eq!(occurred_at_ms(bad), None, "{bad}");
    }
}

#[test]
fn entry_1_5_a_fraction_has_1_to_19_digits_and_digits_after_the_ninth_are_ignored() {
    let ms = occurred_at_ms("2026-11-28T08:00:00.123Z");
    assert_eq!(ms, Some(1_795_852_800_123));
    assert_eq!(occurred_at_ms("2026-11-28T08:00:00.1239Z"), ms);
    assert_eq!(
        occurred_at_ms("2026-11-28T08:00:00.1234567899999999999Z"),
        ms
    );
    assert_eq!(
        occurred_at_ms("2026-11-28T08:00:00.12345678999999999999Z"),
        None
    );
    assert_eq!(occurred_at_ms("2026-11-28T08:00:00.Z"), None);
    assert_eq!(occurred_at_ms("2026-11-28T08:00:00,5Z"), None);
}

#[test]
fn entry_1_5_the_date_must_exist() {
    assert!(occurred_at_ms("2028-02-29T00:00:00Z").is_some());
    assert!(occurred_at_ms("2000-02-29T00:00:00Z").is_some());
    assert!(occurred_at_ms("0000-01-01T00:00:00Z").is_some());
    assert!(occurred_at_ms("9999-12-31T23:59:59Z").is_some());
    for bad in [
        "2026-02-30T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z",
    ] {
        assert_eq!(occurred_at_ms(bad), None, "{bad}");
    }
}

#[test]
fn entry_1_5_a_leap_second_is_23_59_60_on_the_last_day_of_a_month() {
    let last = occurred_at_ms("2026-11-30T23:59:59.999Z");
    assert!(last.is_some());
    assert_eq!(occurred_at_ms("2026-11-30T23:59:60Z"), last);
    assert_eq!(occurred_at_ms("2026-11-30T23:59:60.5Z"), last);
    assert!(occurred_at_ms("2028-02-29T23:59:60Z").is_some());
    for bad in [
        "2026-11-28T23:59:60Z",
        "2026-11-30T23:58:60Z",
        "2026-11-30T22:59:60Z",
        "2026-11-30T23:59:61Z",
    ] {
        assert_eq!(occurred_at_ms(bad), None, "{bad}");
    }
}

// entry.md §3.2: the statement signature, with the arithmetic a signer can do.

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];
/// The identity point, canonically encoded (y = 1): of small order.
const IDENTITY: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};
/// The identity again, written with y = p + 1: not canonical.
const IDENTITY_BIG_Y: [u8; 32] = {
    let mut b = [0xffu8; 32];
    b[0] = 0xee;
    b[31] = 0x7f;
    b
};
/// The point (0, -1) of order 2 (y = p - 1).
const ORDER_TWO: [u8; 32] = {
    let mut b = [0xffu8; 32];
    b[0] = 0xec;
    b[31] = 0x7f;
    b
};

/// A little-endian integer reduced mod L, in the scalar type of `_like`
/// (curve25519-dalek's `Scalar`, reached through ed25519-dalek).
fn scalar<T: From<u64> + Copy + Add<Output = T> + Mul<Output = T>>(_like: T, le: &[u8]) -> T {
    let base = T::from(256);
    le.iter()
        .rev()
        .fold(T::from(0), |acc, &b| acc * base + T::from(u64::from(b)))
}

fn hram(r: &[u8], key: &[u8; 32], message: &[u8]) -> [u8; 64] {
    Sha512::new()
        .chain_update(r)
        .chain_update(key)
        .chain_update(message)
        .finalize()
        .into()
}

fn signature(r: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r);
    sig[32..].copy_from_slice(s);
    sig
}

fn batch_accepts(statement: &[u8], sig: &[u8; 64], key: &VerifyingKey) -> bool {
    let message = signed_message(statement);
    ed25519_dalek::verify_batch(&[&message], &[Signature::from_bytes(sig)], &[*key]).is_ok()
}

const STATEMENT: &[u8] = BASE.as_bytes();

#[test]
fn entry_3_2_a_non_canonical_s_is_rejected() {
    let signer = SigningKey::from_bytes(&[7; 32]);
    let public = signer.verifying_key();
    let sig = sign_statement(&signer, STATEMENT);
    assert!(verify_statement_signature(&public, STATEMENT, &sig));
    // S + L: the same scalar mod L, written with S >= L.
    let mut s_plus_l = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        s_plus_l[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let r: [u8; 32] = sig[..32].try_into().unwrap();
    let forged = signature(&r, &s_plus_l);
    assert!(!verify_statement_signature(&public, STATEMENT, &forged));
    assert!(!batch_accepts(STATEMENT, &forged, &public));
}

#[test]
fn entry_3_2_a_small_order_r_is_rejected_though_the_equation_holds() {
    let signer = SigningKey::from_bytes(&[7; 32]);
    let public = signer.verifying_key();
    let a = signer.to_scalar();
    for r in [IDENTITY, IDENTITY_BIG_Y] {
        // R = identity and S = k·a satisfy [S]B = R + [k]A for the key holder.
        let k = scalar(a, &hram(&r, public.as_bytes(), &signed_message(STATEMENT)));
        let sig = signature(&r, &(k * a).to_bytes());
        assert!(!verify_statement_signature(&public, STATEMENT, &sig));
        // registry.md §4: the batch equation accepts it, canonical R or not.
        assert!(batch_accepts(STATEMENT, &sig, &public));
    }
}

#[test]
fn entry_3_2_a_small_order_key_is_rejected_though_the_equation_holds() {
    // Under the identity key, R = [S]B satisfies the equation for every message.
    let helper = SigningKey::from_bytes(&[9; 32]);
    let sig = signature(
        helper.verifying_key().as_bytes(),
        &helper.to_scalar().to_bytes(),
    );
    let weak = VerifyingKey::from_bytes(&IDENTITY).unwrap();
    for statement in [STATEMENT, b"anything at all".as_slice()] {
        assert!(batch_accepts(statement, &sig, &weak));
        assert!(!verify_statement_signature(&weak, statement, &sig));
    }
}

#[test]
fn entry_3_2_public_keys_must_be_canonical_points_not_of_small_order() {
    assert_eq!(strict_public_key(&IDENTITY), Err(KeyRejection::Weak));
    assert_eq!(strict_public_key(&ORDER_TWO), Err(KeyRejection::Weak));
    assert_eq!(
        strict_public_key(&IDENTITY_BIG_Y),
        Err(KeyRejection::NonCanonical)
    );
    let mut signed_zero_x = IDENTITY;
    signed_zero_x[31] |= 0x80;
    assert_eq!(
        strict_public_key(&signed_zero_x),
        Err(KeyRejection::NonCanonical)
    );
    // y = 2 is not on the curve.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert_eq!(
        strict_public_key(&not_a_point),
        Err(KeyRejection::NotAPoint)
    );
}

/// A key of mixed order, A + (0, -1), for `signer`'s key A.
fn mixed_order_key(signer: &SigningKey) -> VerifyingKey {
    let torsion = VerifyingKey::from_bytes(&ORDER_TWO).unwrap().to_edwards();
    let point = signer.verifying_key().to_edwards() + torsion;
    VerifyingKey::from_bytes(&point.compress().to_bytes()).unwrap()
}

/// The key holder's signature under `mixed`, made the usual way: the nonce of
/// an ordinary signature, the challenge computed with the mixed-order key.
fn sign_under(signer: &SigningKey, mixed: &VerifyingKey, statement: &[u8]) -> [u8; 64] {
    let a = signer.to_scalar();
    let message = signed_message(statement);
    let ordinary = sign_statement(signer, statement);
    let r: [u8; 32] = ordinary[..32].try_into().unwrap();
    let k0 = scalar(a, &hram(&r, signer.verifying_key().as_bytes(), &message));
    let nonce = scalar(a, &ordinary[32..]) - k0 * a;
    let k = scalar(a, &hram(&r, mixed.as_bytes(), &message));
    signature(&r, &(nonce + k * a).to_bytes())
}

#[test]
fn entry_3_2_a_key_of_mixed_order_is_accepted_and_checked_by_the_same_steps() {
    let signer = SigningKey::from_bytes(&[11; 32]);
    let mixed = mixed_order_key(&signer);
    assert_eq!(strict_public_key(mixed.as_bytes()), Ok(mixed));
    // The registry registers it (registry.md §3).
    let mut l = ExampleLedger::new();
    let add = format!(
        r#"{{"v":1,"origin":"{ORIGIN}","agency":"registry","submission_id":"add/mixed","type":"registry.key.add","channel":"G2G","occurred_at":"2026-11-28T07:59:00Z","object":{{"agency":"city-licensing","key":"{}"}}}}"#,
        STANDARD.encode(mixed.as_bytes())
    );
    l.append(&l.authority.clone(), add.as_bytes());
    // [S]B − [k]A' = R − [k](0, −1): it verifies exactly when k is even.
    let (mut passed, mut failed) = (0, 0);
    for n in 0..32 {
        let statement = with("s-1", &format!("mixed-{n}"));
        let sig = sign_under(&signer, &mixed, statement.as_bytes());
        if verify_statement_signature(&mixed, statement.as_bytes(), &sig) {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    assert!(passed > 0 && failed > 0, "{passed} passed, {failed} failed");
}

// registry.md §4: batch verification and the submission key.

#[test]
fn registry_4_a_batch_of_ordinary_signatures_passes_and_a_failed_one_is_rechecked_singly() {
    let signers: Vec<SigningKey> = (1..=5).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
    let statements: Vec<Vec<u8>> = (0..5)
        .map(|n| with("s-1", &format!("b-{n}")).into_bytes())
        .collect();
    let messages: Vec<Vec<u8>> = statements.iter().map(|s| signed_message(s)).collect();
    let sigs: Vec<[u8; 64]> = signers
        .iter()
        .zip(&statements)
        .map(|(k, s)| sign_statement(k, s))
        .collect();
    let keys: Vec<VerifyingKey> = signers.iter().map(SigningKey::verifying_key).collect();
    for i in 0..5 {
        assert!(verify_statement_signature(
            &keys[i],
            &statements[i],
            &sigs[i]
        ));
    }
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let parsed: Vec<Signature> = sigs.iter().map(Signature::from_bytes).collect();
    assert!(ed25519_dalek::verify_batch(&refs, &parsed, &keys).is_ok());
    // One bad signature fails the batch; re-verified one by one, it is named.
    let mut bad = parsed.clone();
    bad[3] = Signature::from_bytes(&sigs[2]);
    assert!(ed25519_dalek::verify_batch(&refs, &bad, &keys).is_err());
    let first_bad = (0..5).find(|&i| keys[i].verify_strict(refs[i], &bad[i]).is_err());
    assert_eq!(first_bad, Some(3));
}

#[test]
fn registry_4_with_a_mixed_order_key_batch_and_strict_results_differ_both_ways() {
    let signer = SigningKey::from_bytes(&[11; 32]);
    let mixed = mixed_order_key(&signer);
    // [strict][batch]: how often each pair of results occurs.
    let mut seen = [[0u32; 2]; 2];
    for n in 0..64 {
        let statement = with("s-1", &format!("grind-{n}"));
        let sig = sign_under(&signer, &mixed, statement.as_bytes());
        let strict = verify_statement_signature(&mixed, statement.as_bytes(), &sig);
        let batch = batch_accepts(statement.as_bytes(), &sig, &mixed);
        seen[usize::from(strict)][usize::from(batch)] += 1;
    }
    // The key's (0, −1) component enters the single equation with k mod L and
    // the batch equation with z·k mod L: their parities are independent, so a
    // signer who tries statements finds one the batch alone accepts, and an
    // honestly valid one that the batch alone rejects.
    assert!(seen[0][1] > 0, "none accepted by the batch alone: {seen:?}");
    assert!(
        seen[1][0] > 0,
        "none accepted by the strict rule alone: {seen:?}"
    );
    assert!(seen[1][1] > 0 && seen[0][0] > 0, "{seen:?}");
}

#[test]
fn registry_4_a_batch_sometimes_accepts_an_r_with_a_small_order_component() {
    let signer = SigningKey::from_bytes(&[13; 32]);
    let public = signer.verifying_key();
    let a = signer.to_scalar();
    let torsion = VerifyingKey::from_bytes(&ORDER_TWO).unwrap().to_edwards();
    let mut seen = [0u32; 2];
    for n in 0..64 {
        let statement = with("s-1", &format!("r-{n}"));
        let message = signed_message(statement.as_bytes());
        // The key holder's nonce point rB, moved by (0, −1), then signed for.
        let ordinary = sign_statement(&signer, statement.as_bytes());
        let k0 = scalar(a, &hram(&ordinary[..32], public.as_bytes(), &message));
        let nonce = scalar(a, &ordinary[32..]) - k0 * a;
        let r_point = VerifyingKey::from_bytes(ordinary[..32].try_into().unwrap())
            .unwrap()
            .to_edwards()
            + torsion;
        let r = r_point.compress().to_bytes();
        let k = scalar(a, &hram(&r, public.as_bytes(), &message));
        let sig = signature(&r, &(nonce + k * a).to_bytes());
        assert!(!verify_statement_signature(
            &public,
            statement.as_bytes(),
            &sig
        ));
        seen[usize::from(batch_accepts(statement.as_bytes(), &sig, &public))] += 1;
    }
    // Off by a point of order 2: the batch accepts when z is even.
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
}

#[test]
fn registry_4_the_submission_key_separates_agency_and_id() {
    let mut l = ExampleLedger::new();
    let authority = l.authority.clone();
    for agency in ["ab", "a"] {
        let s = l.register_statement(agency, agency);
        l.append(&authority, &s);
    }
    let decision = |agency: &str, id: &str| {
        with("city-licensing", agency)
            .replacen("s-1", id, 1)
            .into_bytes()
    };
    l.append(&key("ab"), &decision("ab", "c"));
    let a = AgencyId::new("a").unwrap();
    assert!(
        l.registry
            .has_submission(&AgencyId::new("ab").unwrap(), "c")
    );
    assert!(!l.registry.has_submission(&a, "bc"));
    l.append(&key("a"), &decision("a", "bc"));
    assert!(l.registry.has_submission(&a, "bc"));
    let again = decision("a", "bc");
    let err = l
        .registry
        .sequence(&again, &sign_statement(&key("a"), &again), l.time_ms + 1)
        .unwrap_err();
    assert_eq!(err.code(), "duplicate_submission");
}

// registry.md §3.1: genesis and the trust anchors.

#[test]
fn registry_3_1_log_vkey_is_compared_as_text() {
    // A log key whose key ID has a hex letter, so that it has an upper-case spelling.
    let log = (0u8..)
        .map(|i| Ed25519Signer::new(KeyName::new(ORIGIN).unwrap(), key(&format!("log {i}"))))
        .find(|s| {
            let vkey = s.verifier().to_vkey();
            vkey.split('+')
                .nth(1)
                .unwrap()
                .bytes()
                .any(|b| b.is_ascii_alphabetic())
        })
        .unwrap();
    let canonical = log.verifier().to_vkey();
    let mut parts: Vec<String> = canonical.split('+').map(str::to_owned).collect();
    parts[1] = parts[1].to_uppercase();
    let upper = parts.join("+");
    assert_ne!(upper, canonical);
    // The same key, as checkpoints-and-tiles.md §1.4 reads it.
    assert_eq!(
        Ed25519Verifier::from_vkey(&upper).unwrap().verifying_key(),
        log.verifier().verifying_key()
    );
    let authority = key("registry authority");
    let genesis = |vkey: &str| {
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"registry","submission_id":"genesis","type":"registry.genesis","channel":"G2G","occurred_at":"2026-11-28T07:59:00Z","object":{{"authority_key":"{}","log_vkey":"{vkey}"}}}}"#,
            b64_key(&authority)
        )
        .into_bytes()
    };
    let apply = |anchor: Option<&str>, vkey: &str| {
        let anchors = TrustAnchors {
            authority_key: Some(authority.verifying_key()),
            log_vkey: anchor.map(str::to_owned),
        };
        let mut r = Registry::new(ORIGIN, anchors);
        let g = genesis(vkey);
        let entry = r.build_entry(&g, &sign_statement(&authority, &g), 1)?;
        r.apply(&entry).map(|_| ())
    };
    assert!(apply(Some(&canonical), &canonical).is_ok());
    let err = apply(Some(&canonical), &upper).unwrap_err();
    assert_eq!(err.code(), "registry_rule", "{err}");
    // Without a trusted log key, any spelling that parses is taken.
    assert!(apply(None, &upper).is_ok());
}
