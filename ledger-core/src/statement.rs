//! The agency-signed statement (spec/entry.md §1): UTF-8 JSON, signed and stored
//! as the exact bytes the agency sent, never re-serialized.
//!
//! ```text
//! {
//!   "v": 1,
//!   "origin": "ledger.example.gov/egov",
//!   "agency": "city-licensing",
//!   "submission_id": "2026-11-28/000123",
//!   "type": "decision.permit.granted",
//!   "channel": "G2B",
//!   "occurred_at": "2026-11-28T08:00:00Z",
//!   "subject": "PERMIT/2026/0042",                 (optional)
//!   "object": { ...public facts... },
//!   "payload_commitment": "<64 lowercase hex>"     (optional)
//! }
//! ```
//!
//! Parsing is strict: duplicate keys at any depth, unknown top-level fields, a wrong
//! version and malformed fields are all rejected, so that every verifier reads the
//! same meaning from the same bytes.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// The statement version this code understands.
pub const STATEMENT_VERSION: u64 = 1;

/// The largest statement the format allows: what fits in an entry of at most
/// 65,535 bytes (spec/entry.md §2). Servers set a lower policy limit.
pub const MAX_STATEMENT_BYTES: usize = 65_535 - crate::entry::ENVELOPE_OVERHEAD_MAX;

/// The deepest JSON nesting accepted in a statement: the top-level object is
/// level 1, each array or object inside another one more (spec/entry.md §1.1).
pub const MAX_JSON_DEPTH: usize = 32;

/// The domain-separation label for payload commitments (spec/entry.md §4):
/// `commitment = SHA-256(PAYLOAD_COMMITMENT_LABEL || salt || payload)`.
pub const PAYLOAD_COMMITMENT_LABEL: &[u8] = b"egov-ledger/v1/payload\0";

/// The length of a payload commitment salt.
pub const SALT_BYTES: usize = 32;

/// The agency id reserved for the registry authority's own statements.
pub const REGISTRY_AGENCY: &str = "registry";

/// Why a statement was rejected. All are client errors (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// The statement is empty or larger than the limit.
    #[error("statement is {size} bytes; the limit is {limit}")]
    Size {
        /// The statement's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a single valid JSON object (including invalid UTF-8,
    /// trailing data, duplicate keys, too deep nesting).
    #[error("statement is not valid JSON: {0}")]
    Json(String),
    /// The version field is missing or not supported.
    #[error("unsupported statement version {0}; this verifier knows version 1")]
    Version(String),
    /// A field is missing, unknown, or has the wrong type.
    #[error("statement field: {0}")]
    Field(String),
    /// A field's value breaks its syntax rule.
    #[error("statement field {field:?} is invalid: {reason}")]
    Invalid {
        /// The field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> StatementError {
    StatementError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// An agency identifier: 1–64 characters of `a-z 0-9 . -`, starting and ending
/// with a letter or digit (spec/entry.md §1.2).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AgencyId(String);

impl AgencyId {
    /// Checks and wraps an agency id.
    ///
    /// # Errors
    /// [`StatementError::Invalid`] if `s` breaks the syntax.
    pub fn new(s: &str) -> Result<AgencyId, StatementError> {
        let b = s.as_bytes();
        let ok_char =
            |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-';
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        if b.is_empty()
            || b.len() > 64
            || !b.iter().all(ok_char)
            || !alnum(b[0])
            || !alnum(b[b.len() - 1])
        {
            return Err(invalid(
                "agency",
                "must be 1-64 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit",
            ));
        }
        Ok(AgencyId(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the registry authority's reserved id.
    pub fn is_registry(&self) -> bool {
        self.0 == REGISTRY_AGENCY
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A submission id, unique per agency: 1–128 characters of
/// `A-Z a-z 0-9 . _ : / -` (spec/entry.md §1.2). It is the idempotency key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SubmissionId(String);

impl SubmissionId {
    /// Checks and wraps a submission id.
    ///
    /// # Errors
    /// [`StatementError::Invalid`] if `s` breaks the syntax.
    pub fn new(s: &str) -> Result<SubmissionId, StatementError> {
        let ok = |c: &u8| c.is_ascii_alphanumeric() || b"._:/-".contains(c);
        if s.is_empty() || s.len() > 128 || !s.as_bytes().iter().all(ok) {
            return Err(invalid(
                "submission_id",
                "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '/', '-'",
            ));
        }
        Ok(SubmissionId(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The family a statement type belongs to: its first dotted segment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TypeFamily {
    /// `decision.*`: an administrative decision (permit, award, ruling).
    Decision,
    /// `service.*`: a service transaction (ID card, licence, filing).
    Service,
    /// `transfer.*`: a movement of public money.
    Transfer,
    /// `registry.*`: a registry entry, signed by the registry authority.
    Registry,
    /// `access.*`: a read or an erasure of a private payload, signed by the
    /// agency that reads or erases it (spec/registry.md §6).
    Access,
}

/// A dotted statement type such as `decision.permit.granted`: 2–8 segments of
/// `a-z 0-9 _`, at most 128 characters, first segment a [`TypeFamily`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct StatementType(String);

impl StatementType {
    /// Checks and wraps a statement type.
    ///
    /// # Errors
    /// [`StatementError::Invalid`] if `s` breaks the syntax.
    pub fn new(s: &str) -> Result<StatementType, StatementError> {
        let segments: Vec<&str> = s.split('.').collect();
        let seg_ok = |seg: &&str| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        };
        if s.len() > 128 || segments.len() < 2 || segments.len() > 8 || !segments.iter().all(seg_ok)
        {
            return Err(invalid(
                "type",
                "must be 2-8 dot-separated segments of a-z, 0-9, '_', at most 128 characters",
            ));
        }
        let t = StatementType(s.to_owned());
        if t.family().is_none() {
            return Err(invalid(
                "type",
                "must start with decision., service., transfer., access. or registry.",
            ));
        }
        Ok(t)
    }

    /// The type as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type's family, from its first segment.
    pub fn family(&self) -> Option<TypeFamily> {
        match self.0.split('.').next()? {
            "decision" => Some(TypeFamily::Decision),
            "service" => Some(TypeFamily::Service),
            "transfer" => Some(TypeFamily::Transfer),
            "registry" => Some(TypeFamily::Registry),
            "access" => Some(TypeFamily::Access),
            _ => None,
        }
    }
}

/// Who the government deals with in this record.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Channel {
    /// Government to citizen.
    G2C,
    /// Government to business.
    G2B,
    /// Government to government.
    G2G,
}

impl Channel {
    /// The channel's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::G2C => "G2C",
            Channel::G2B => "G2B",
            Channel::G2G => "G2G",
        }
    }

    /// Parses `G2C`, `G2B` or `G2G`.
    ///
    /// # Errors
    /// [`StatementError::Invalid`] for anything else.
    pub fn parse(s: &str) -> Result<Channel, StatementError> {
        match s {
            "G2C" => Ok(Channel::G2C),
            "G2B" => Ok(Channel::G2B),
            "G2G" => Ok(Channel::G2G),
            _ => Err(invalid("channel", "must be G2C, G2B or G2G")),
        }
    }
}

/// A salted commitment to a private payload (spec/entry.md §4):
/// `SHA-256(PAYLOAD_COMMITMENT_LABEL || salt[32] || payload)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PayloadCommitment(pub Hash);

impl PayloadCommitment {
    /// Commits to `payload` with `salt`.
    pub fn compute(salt: &[u8; SALT_BYTES], payload: &[u8]) -> PayloadCommitment {
        let mut h = Sha256::new();
        h.update(PAYLOAD_COMMITMENT_LABEL);
        h.update(salt);
        h.update(payload);
        PayloadCommitment(Hash(h.finalize().into()))
    }

    /// Whether `payload` with `salt` opens this commitment.
    pub fn opens(&self, salt: &[u8; SALT_BYTES], payload: &[u8]) -> bool {
        PayloadCommitment::compute(salt, payload) == *self
    }

    /// The 64-lowercase-hex form used in statements.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// Parses exactly 64 lowercase hex digits.
    ///
    /// # Errors
    /// [`StatementError::Invalid`] otherwise.
    pub fn from_hex(s: &str) -> Result<PayloadCommitment, StatementError> {
        let lower = s
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        match Hash::from_hex(s) {
            Ok(h) if lower => Ok(PayloadCommitment(h)),
            _ => Err(invalid(
                "payload_commitment",
                "must be 64 lowercase hex digits",
            )),
        }
    }
}

/// A JSON value that was parsed with duplicate object keys rejected and nesting
/// limited. Objects keep their keys sorted; the statement's bytes, not this
/// value, are what is signed and stored.
#[derive(Clone, PartialEq, Debug)]
pub enum JsonValue {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, kept as parsed by serde_json.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object with unique keys.
    Object(BTreeMap<String, JsonValue>),
}

impl JsonValue {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&BTreeMap<String, JsonValue>> {
        match self {
            JsonValue::Object(m) => Some(m),
            _ => None,
        }
    }

    fn depth(&self) -> usize {
        match self {
            JsonValue::Array(a) => 1 + a.iter().map(JsonValue::depth).max().unwrap_or(0),
            JsonValue::Object(m) => 1 + m.values().map(JsonValue::depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = JsonValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<JsonValue, E> {
        Ok(JsonValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonValue, E> {
        serde_json::Number::from_f64(v)
            .map(JsonValue::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<JsonValue, E> {
        Ok(JsonValue::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<JsonValue, E> {
        Ok(JsonValue::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(JsonValue::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let value = map.next_value()?;
            out.insert(key, value);
        }
        Ok(JsonValue::Object(out))
    }
}

/// Parses `bytes` as one strict JSON value (spec/entry.md §1.1): valid UTF-8, no
/// duplicate keys, at most [`MAX_JSON_DEPTH`] levels, every number below 10^308
/// in magnitude, nothing but whitespace after it.
///
/// # Errors
/// [`StatementError::Json`] describing the first problem.
pub fn parse_strict_json(bytes: &[u8]) -> Result<JsonValue, StatementError> {
    // serde_json's own recursion limit (128) bounds the stack; ours is lower.
    let v: JsonValue =
        serde_json::from_slice(bytes).map_err(|e| StatementError::Json(e.to_string()))?;
    if v.depth() > MAX_JSON_DEPTH {
        return Err(StatementError::Json(format!(
            "nesting deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    check_number_magnitudes(bytes)?;
    Ok(v)
}

/// Every number in strict JSON is below `10^NUMBER_LIMIT_EXPONENT` in magnitude
/// (spec/entry.md §1.1).
const NUMBER_LIMIT_EXPONENT: i64 = 308;

/// Rejects a number of magnitude `10^NUMBER_LIMIT_EXPONENT` or more, decided from
/// its digits. serde_json refuses a number only when its own, rounded binary64
/// conversion overflows, which is no rule another parser can follow: it refuses
/// `1.7976931348623158e308` but accepts `1.79769313486231580e308`. 10^308 is well
/// below that edge (about 1.8 × 10^308), so serde_json accepts every number this
/// rule accepts, and the two together decide exactly by this rule. `bytes` is
/// JSON that serde_json accepted, so outside strings only numbers hold digits or
/// `-`.
fn check_number_magnitudes(bytes: &[u8]) -> Result<(), StatementError> {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i = match b {
            b'"' => string_end(bytes, i + 1),
            b'-' | b'0'..=b'9' => {
                let (end, order) = number_order(bytes, i);
                if order.is_some_and(|o| o >= NUMBER_LIMIT_EXPONENT) {
                    return Err(StatementError::Json(format!(
                        "a number of magnitude 10^{NUMBER_LIMIT_EXPONENT} or more at byte {i}"
                    )));
                }
                end
            }
            _ => i + 1,
        };
    }
    Ok(())
}

/// The index after the string whose contents start at `i`.
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The end of the number token at `start`, and the decimal exponent of its
/// leading non-zero digit (`None` for zero): a number is below `10^n` in
/// magnitude exactly when that exponent is below `n`.
fn number_order(bytes: &[u8], start: usize) -> (usize, Option<i64>) {
    let digits = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_start = start + usize::from(bytes[start] == b'-');
    let int_end = digits(int_start);
    let (frac_start, mut i) = (int_end + 1, int_end);
    if bytes.get(i) == Some(&b'.') {
        i = digits(frac_start);
    }
    let order = if bytes.get(int_start) != Some(&b'0') {
        Some(to_i64(int_end - int_start) - 1)
    } else {
        bytes
            .get(frac_start..i)
            .and_then(|f| f.iter().position(|&d| d != b'0'))
            .map(|p| -to_i64(p) - 1)
    };
    let mut exp: i64 = 0;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative = bytes.get(i) == Some(&b'-');
        i += usize::from(matches!(bytes.get(i), Some(b'+' | b'-')));
        while let Some(d) = bytes.get(i).filter(|d| d.is_ascii_digit()) {
            exp = exp.saturating_mul(10).saturating_add(i64::from(d - b'0'));
            i += 1;
        }
        if negative {
            exp = -exp;
        }
    }
    (i, order.map(|o| o.saturating_add(exp)))
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A parsed statement. The exact bytes are kept in [`Statement::bytes`]; every
/// other field is read from them.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    bytes: Vec<u8>,
    /// The origin of the log this statement is meant for.
    pub origin: String,
    /// The submitting agency.
    pub agency: AgencyId,
    /// The agency's idempotency key.
    pub submission_id: SubmissionId,
    /// The dotted type.
    pub kind: StatementType,
    /// The delivery channel.
    pub channel: Channel,
    /// When the decision or transaction happened, as sent (RFC 3339, UTC).
    pub occurred_at: String,
    /// `occurred_at` in milliseconds since the Unix epoch.
    pub occurred_at_ms: i64,
    /// The optional public subject reference (a case or tender number).
    pub subject: Option<String>,
    /// The public facts.
    pub object: BTreeMap<String, JsonValue>,
    /// The optional commitment to a private payload.
    pub payload_commitment: Option<PayloadCommitment>,
}

const FIELDS: &[&str] = &[
    "v",
    "origin",
    "agency",
    "submission_id",
    "type",
    "channel",
    "occurred_at",
    "subject",
    "object",
    "payload_commitment",
];

fn text_ok(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
}

impl Statement {
    /// Parses a statement strictly (spec/entry.md §1), keeping its bytes.
    ///
    /// # Errors
    /// A [`StatementError`] naming the first problem found.
    pub fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
        if bytes.is_empty() || bytes.len() > MAX_STATEMENT_BYTES {
            return Err(StatementError::Size {
                size: bytes.len(),
                limit: MAX_STATEMENT_BYTES,
            });
        }
        let JsonValue::Object(mut top) = parse_strict_json(bytes)? else {
            return Err(StatementError::Field(
                "the statement must be a JSON object".into(),
            ));
        };
        match top.get("v") {
            Some(JsonValue::Number(n)) if n.as_u64() == Some(STATEMENT_VERSION) => {}
            Some(other) => return Err(StatementError::Version(format!("{other:?}"))),
            None => return Err(StatementError::Version("missing".into())),
        }
        if let Some(unknown) = top.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(StatementError::Field(format!("unknown field {unknown:?}")));
        }
        let mut take_str = |name: &'static str,
                            required: bool|
         -> Result<Option<String>, StatementError> {
            match top.remove(name) {
                Some(JsonValue::String(s)) => Ok(Some(s)),
                Some(_) => Err(StatementError::Field(format!("{name:?} must be a string"))),
                None if required => Err(StatementError::Field(format!("missing field {name:?}"))),
                None => Ok(None),
            }
        };
        let origin = take_str("origin", true)?.unwrap_or_default();
        let agency = take_str("agency", true)?.unwrap_or_default();
        let submission_id = take_str("submission_id", true)?.unwrap_or_default();
        let kind = take_str("type", true)?.unwrap_or_default();
        let channel = take_str("channel", true)?.unwrap_or_default();
        let occurred_at = take_str("occurred_at", true)?.unwrap_or_default();
        let subject = take_str("subject", false)?;
        let commitment = take_str("payload_commitment", false)?;
        let object = match top.remove("object") {
            Some(JsonValue::Object(m)) => m,
            Some(_) => {
                return Err(StatementError::Field(
                    "\"object\" must be a JSON object".into(),
                ));
            }
            None => return Err(StatementError::Field("missing field \"object\"".into())),
        };

        if !text_ok(&origin, 255) || origin.contains(char::is_whitespace) || origin.contains('+') {
            return Err(invalid(
                "origin",
                "must be a log origin (c2sp.org/tlog-checkpoint)",
            ));
        }
        if subject.as_ref().is_some_and(|s| !text_ok(s, 256)) {
            return Err(invalid(
                "subject",
                "must be 1-256 characters with no control characters",
            ));
        }
        Ok(Statement {
            bytes: bytes.to_vec(),
            origin,
            agency: AgencyId::new(&agency)?,
            submission_id: SubmissionId::new(&submission_id)?,
            kind: StatementType::new(&kind)?,
            channel: Channel::parse(&channel)?,
            occurred_at_ms: parse_utc_timestamp(&occurred_at)?,
            occurred_at,
            subject,
            object,
            payload_commitment: commitment
                .as_deref()
                .map(PayloadCommitment::from_hex)
                .transpose()?,
        })
    }

    /// The exact bytes that were signed.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Parses an RFC 3339 timestamp in UTC with a `Z` suffix, such as
/// `2026-11-28T08:00:00Z` or `2026-11-28T08:00:00.250Z`, into Unix milliseconds.
///
/// # Errors
/// [`StatementError::Invalid`] for any other form.
pub fn parse_utc_timestamp(s: &str) -> Result<i64, StatementError> {
    let bad = || {
        invalid(
            "occurred_at",
            "must be an RFC 3339 UTC time like 2026-11-28T08:00:00Z",
        )
    };
    if !s.ends_with('Z') || s.len() > 40 || s.as_bytes().get(10) != Some(&b'T') {
        return Err(bad());
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> String {
        r#"{"v":1,"origin":"ledger.example.gov/egov","agency":"city-licensing","submission_id":"2026-11-28/000123","type":"decision.permit.granted","channel":"G2B","occurred_at":"2026-11-28T08:00:00Z","subject":"PERMIT/2026/0042","object":{"business":"Warung Sejahtera","outcome":"granted","fee_idr":150000}}"#.to_owned()
    }

    #[test]
    fn parses_a_valid_statement() {
        let s = Statement::parse(sample().as_bytes()).unwrap();
        assert_eq!(s.agency.as_str(), "city-licensing");
        assert_eq!(s.kind.family(), Some(TypeFamily::Decision));
        assert_eq!(s.channel, Channel::G2B);
        assert_eq!(s.occurred_at_ms, 1_795_852_800_000);
        assert_eq!(s.bytes(), sample().as_bytes());
        assert_eq!(s.payload_commitment, None);
    }

    #[test]
    fn malformed_statements_are_rejected() {
        let base = sample();
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("[]".into(), "not an object"),
            (base.replace(r#""v":1"#, r#""v":2"#), "version 2"),
            (base.replace(r#""v":1"#, r#""v":1.0"#), "float version"),
            (base.replace(r#""v":1,"#, ""), "no version"),
            (
                base.replace(r#""channel":"G2B""#, r#""channel":"G2B","channel":"G2C""#),
                "duplicate top-level key",
            ),
            (
                base.replace(
                    r#""outcome":"granted""#,
                    r#""outcome":"granted","outcome":"denied""#,
                ),
                "duplicate nested key",
            ),
            (
                base.replace(r#""subject""#, r#""subjekt""#),
                "unknown field",
            ),
            (
                base.replace(r#""agency":"city-licensing""#, r#""agency":"City""#),
                "uppercase agency",
            ),
            (
                base.replace(r#""agency":"city-licensing""#, r#""agency":"-x""#),
                "agency starts with dash",
            ),
            (
                base.replace(r#""agency":"city-licensing""#, r#""agency":7"#),
                "numeric agency",
            ),
            (
                base.replace("decision.permit.granted", "decision"),
                "one-segment type",
            ),
            (
                base.replace("decision.permit.granted", "gossip.rumour"),
                "unknown family",
            ),
            (
                base.replace("decision.permit.granted", "decision..x"),
                "empty segment",
            ),
            (base.replace(r#""G2B""#, r#""B2G""#), "bad channel"),
            (
                base.replace("2026-11-28T08:00:00Z", "2026-11-28T08:00:00+07:00"),
                "non-UTC time",
            ),
            (
                base.replace("2026-11-28T08:00:00Z", "2026-11-28 08:00:00Z"),
                "space in time",
            ),
            (
                base.replace("2026-11-28T08:00:00Z", "2026-13-28T08:00:00Z"),
                "month 13",
            ),
            (
                base.replace(r#""object":{"#, r#""object":["#)
                    .replace("}}", "]}"),
                "array object",
            ),
            (
                base.replace("2026-11-28/000123", "has space"),
                "bad submission id",
            ),
            (base.replace("2026-11-28/000123", ""), "empty submission id"),
            (format!("{base} x"), "trailing garbage"),
            (
                base.replace(r#""subject":"PERMIT/2026/0042","#, r#""subject":"a\nb","#),
                "control char in subject",
            ),
            (
                base.replace(
                    r#""subject":"PERMIT/2026/0042","#,
                    r#""payload_commitment":"AB","#,
                ),
                "short commitment",
            ),
            (
                format!(
                    "{}\"nest\":{}1{}}}",
                    &base[..base.len() - 2],
                    "[".repeat(40),
                    "]".repeat(40)
                ),
                "too deep",
            ),
        ];
        for (input, why) in cases {
            assert!(
                Statement::parse(input.as_bytes()).is_err(),
                "accepted: {why}: {input}"
            );
        }
        assert!(Statement::parse(&[0xff, 0xfe]).is_err());
        let big = vec![b' '; MAX_STATEMENT_BYTES + 1];
        assert!(matches!(
            Statement::parse(&big),
            Err(StatementError::Size { .. })
        ));
    }

    #[test]
    fn commitment_round_trip() {
        let salt = [7u8; SALT_BYTES];
        let c = PayloadCommitment::compute(&salt, b"NIK 3171234567890001");
        assert!(c.opens(&salt, b"NIK 3171234567890001"));
        assert!(!c.opens(&salt, b"NIK 3171234567890002"));
        assert!(!c.opens(&[8u8; SALT_BYTES], b"NIK 3171234567890001"));
        assert_eq!(PayloadCommitment::from_hex(&c.to_hex()), Ok(c));
        assert!(PayloadCommitment::from_hex(&c.to_hex().to_uppercase()).is_err());
        let with = sample().replace(
            r#""object""#,
            &format!(r#""payload_commitment":"{}","object""#, c.to_hex()),
        );
        assert_eq!(
            Statement::parse(with.as_bytes())
                .unwrap()
                .payload_commitment,
            Some(c)
        );
    }

    #[test]
    fn ids() {
        assert!(AgencyId::new("a").is_ok());
        assert!(AgencyId::new("id.go.kemenkeu").is_ok());
        assert!(AgencyId::new("a.").is_err());
        assert!(AgencyId::new(&"a".repeat(65)).is_err());
        assert!(AgencyId::new("registry").unwrap().is_registry());
        assert!(StatementType::new("service.id_card.issued").is_ok());
        assert!(StatementType::new("service.A").is_err());
    }
}
