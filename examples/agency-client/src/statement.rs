//! Building and signing statements (spec/entry.md §1, §3.2, §4), including the
//! registry authority's statements (spec/registry.md §3).
//!
//! A statement is serialized once, with its fields in the order of the spec's
//! examples (`v`, `origin`, `agency`, `submission_id`, `type`, `channel`,
//! `occurred_at`, `subject`, `object`, `payload_commitment`), checked with
//! ledger-core's strict parser, and then signed; the signed bytes are exactly the
//! bytes sent. Nothing here re-implements a format: the field rules, the
//! signature label and the payload commitment all come from ledger-core.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use ledger_core::entry::sign_statement;
use ledger_core::registry::{TYPE_KEY_ADD, TYPE_KEY_REVOKE, TYPE_KEY_ROTATE, TYPE_REGISTER};
use ledger_core::statement::{
    AgencyId, Channel, PayloadCommitment, REGISTRY_AGENCY, SALT_BYTES, Statement, StatementType,
    SubmissionId, TypeFamily, parse_utc_timestamp,
};
use serde::Serialize;
use serde_json::Value;

use crate::api::EntryRequest;
use crate::keys::{key_hash_hex, public_key_b64};

/// The current time as an RFC 3339 UTC timestamp with a `Z`, to the second, as
/// `occurred_at` wants it (for example `2026-11-28T08:00:00Z`).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    // Formatting a UTC time as RFC 3339 only fails for years outside 0..=9999.
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// `n` random bytes from the operating system, as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// A fresh 128-bit random submission id, in hex.
pub fn random_submission_id() -> String {
    random_hex(16)
}

/// A statement's `object`: a JSON object whose top-level fields keep the order
/// they were given in (nested objects are written with sorted keys). Keys are
/// unique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JsonObject(Vec<(String, Value)>);

impl JsonObject {
    /// An empty object.
    pub fn new() -> JsonObject {
        JsonObject(Vec::new())
    }

    /// Adds a field at the end, replacing an existing field of that name in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// A field by name.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The field names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for JsonObject {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> JsonObject {
        let mut o = JsonObject::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

impl Serialize for JsonObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> serde::Deserialize<'de> for JsonObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<JsonObject, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<JsonObject, A::Error> {
                let mut out: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.iter().any(|(have, _)| *have == k) {
                        return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
                    }
                    out.push((k, v));
                }
                Ok(JsonObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses `--object`: a JSON object, whose field order is kept. Duplicate keys
/// at any depth and too deep nesting are errors, as in statements.
///
/// # Errors
/// If the text is not such a JSON object.
pub fn parse_object(text: &str) -> Result<JsonObject> {
    // ledger-core's strict parser rejects duplicate keys at any depth and too
    // deep nesting (spec/entry.md §1.1).
    let strict = ledger_core::statement::parse_strict_json(text.as_bytes())
        .context("the object is not valid JSON")?;
    if strict.as_object().is_none() {
        bail!(
            "the object must be a JSON object ({{...}}), not {}",
            json_kind(&strict)
        );
    }
    check_numbers(text)?;
    serde_json::from_str(text).context("the object is not valid JSON")
}

/// Refuses numbers that would change when the object is serialized again:
/// integers outside the 64-bit range and decimals with more than 15 significant
/// digits, which serde_json (like most JSON libraries) keeps only as an `f64`.
/// Public facts are signed, so they must be sent exactly as written.
fn check_numbers(text: &str) -> Result<()> {
    let mut chars = text.char_indices().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some((start, c)) = chars.next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            continue;
        }
        if c != '-' && !c.is_ascii_digit() {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, d)) = chars.peek() {
            if !(d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-')) {
                break;
            }
            end = i + d.len_utf8();
            chars.next();
        }
        let token = &text[start..end];
        let is_integer = !token.contains(['.', 'e', 'E']);
        let exact = if is_integer {
            token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok()
        } else {
            let mantissa = token
                .trim_start_matches('-')
                .split(['e', 'E'])
                .next()
                .unwrap_or_default()
                .replace('.', "");
            mantissa.trim_start_matches('0').trim_end_matches('0').len() <= 15
        };
        if !exact {
            bail!(
                "the number {token} cannot be sent exactly as a JSON number (integers must fit \
                 in 64 bits, decimals in 15 significant digits); write it as a string"
            );
        }
    }
    Ok(())
}

fn json_kind(v: &ledger_core::statement::JsonValue) -> &'static str {
    use ledger_core::statement::JsonValue;
    match v {
        JsonValue::Null => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Number(_) => "a number",
        JsonValue::String(_) => "a string",
        JsonValue::Array(_) => "an array",
        JsonValue::Object(_) => "an object",
    }
}

/// A private payload and the salt of its commitment (spec/entry.md §4).
#[derive(Clone)]
pub struct Payload {
    /// The payload bytes (personal data: never in the ledger).
    pub data: Vec<u8>,
    /// The commitment's salt.
    pub salt: [u8; SALT_BYTES],
}

impl Payload {
    /// A payload with a fresh random 32-byte salt.
    pub fn new(data: Vec<u8>) -> Payload {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt).expect("the operating system's random source failed");
        Payload { data, salt }
    }

    /// The commitment to put in the statement.
    pub fn commitment(&self) -> PayloadCommitment {
        PayloadCommitment::compute(&self.salt, &self.data)
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The payload is personal data: never print it.
        f.debug_struct("Payload")
            .field("len", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// The fields of a statement, before serialization.
#[derive(Clone, Debug)]
pub struct StatementSpec {
    /// The log's origin.
    pub origin: String,
    /// The agency id.
    pub agency: String,
    /// The agency's idempotency key.
    pub submission_id: String,
    /// The dotted statement type.
    pub kind: String,
    /// The channel.
    pub channel: Channel,
    /// RFC 3339 UTC time with a `Z`.
    pub occurred_at: String,
    /// The optional public subject reference.
    pub subject: Option<String>,
    /// The public facts.
    pub object: JsonObject,
    /// The optional commitment to a private payload.
    pub payload_commitment: Option<PayloadCommitment>,
}

/// The statement as serialized: the field order of the spec's examples.
#[derive(Serialize)]
struct Wire<'a> {
    v: u8,
    origin: &'a str,
    agency: &'a str,
    submission_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    channel: &'a str,
    occurred_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    object: &'a JsonObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_commitment: Option<String>,
}

impl StatementSpec {
    /// Checks each field on its own, so that a mistake is reported by name
    /// before anything is serialized.
    ///
    /// # Errors
    /// The first field that breaks its rule (spec/entry.md §1.2).
    pub fn check_fields(&self) -> Result<()> {
        ledger_core::checkpoint::Origin::new(&self.origin)
            .map_err(|e| anyhow::anyhow!("origin {:?}: {e}", self.origin))?;
        AgencyId::new(&self.agency)
            .map_err(|e| anyhow::anyhow!("agency {:?}: {e}", self.agency))?;
        SubmissionId::new(&self.submission_id)
            .map_err(|e| anyhow::anyhow!("submission id {:?}: {e}", self.submission_id))?;
        let kind = StatementType::new(&self.kind)
            .map_err(|e| anyhow::anyhow!("type {:?}: {e}", self.kind))?;
        let registry_agency = self.agency == REGISTRY_AGENCY;
        let registry_type = kind.family() == Some(TypeFamily::Registry);
        if registry_type != registry_agency {
            bail!(
                "registry.* types, and only they, come from agency {REGISTRY_AGENCY:?} \
                 (spec/registry.md §4, check 9)"
            );
        }
        parse_utc_timestamp(&self.occurred_at)
            .map_err(|e| anyhow::anyhow!("occurred at {:?}: {e}", self.occurred_at))?;
        Ok(())
    }

    /// Serializes the statement and checks it with ledger-core's strict parser,
    /// so that what is signed is a statement any verifier accepts.
    ///
    /// # Errors
    /// If a field breaks its rule or the statement is too large.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.check_fields()?;
        let wire = Wire {
            v: 1,
            origin: &self.origin,
            agency: &self.agency,
            submission_id: &self.submission_id,
            kind: &self.kind,
            channel: self.channel.as_str(),
            occurred_at: &self.occurred_at,
            subject: self.subject.as_deref(),
            object: &self.object,
            payload_commitment: self.payload_commitment.map(|c| c.to_hex()),
        };
        let bytes = serde_json::to_vec(&wire).context("serializing the statement")?;
        Statement::parse(&bytes).context("the statement is not valid (spec/entry.md §1)")?;
        Ok(bytes)
    }

    /// Commits to `payload` (if any), serializes, checks and signs.
    ///
    /// # Errors
    /// As [`StatementSpec::to_bytes`], or if the spec already has a different
    /// payload commitment.
    pub fn sign(mut self, key: &SigningKey, payload: Option<Payload>) -> Result<SignedStatement> {
        if let Some(p) = &payload {
            let c = p.commitment();
            if self.payload_commitment.is_some_and(|have| have != c) {
                bail!("the statement already commits to a different payload");
            }
            self.payload_commitment = Some(c);
        }
        let statement = self.to_bytes()?;
        let signature = sign_statement(key, &statement);
        Ok(SignedStatement {
            statement,
            signature,
            payload,
        })
    }
}

/// A signed statement, ready to send.
#[derive(Clone, Debug)]
pub struct SignedStatement {
    /// The exact statement bytes that were signed.
    pub statement: Vec<u8>,
    /// The Ed25519 signature over the labelled statement (spec/entry.md §3.2).
    pub signature: [u8; 64],
    /// The private payload, sent beside the statement.
    pub payload: Option<Payload>,
}

impl SignedStatement {
    /// The body of `POST /v1/entries` (spec/api.md §3.1).
    pub fn to_request(&self) -> EntryRequest {
        EntryRequest {
            statement: STANDARD.encode(&self.statement),
            signature: STANDARD.encode(self.signature),
            payload: self.payload.as_ref().map(|p| STANDARD.encode(&p.data)),
            salt: self.payload.as_ref().map(|p| hex::encode(p.salt)),
        }
    }
}

/// A registry statement (spec/registry.md §3), signed by the registry authority.
#[derive(Clone, Debug)]
pub enum RegistryAction {
    /// `registry.agency.register`: a new agency and its first key.
    Register {
        /// The new agency's id.
        agency: String,
        /// Its display name.
        name: String,
        /// Its first key.
        key: VerifyingKey,
    },
    /// `registry.key.add`: another key for an agency.
    AddKey {
        /// The agency.
        agency: String,
        /// The new key.
        key: VerifyingKey,
    },
    /// `registry.key.rotate`: replace an active key with a new one.
    RotateKey {
        /// The agency.
        agency: String,
        /// The active key that stops being valid.
        old_key: VerifyingKey,
        /// The key that replaces it.
        new_key: VerifyingKey,
    },
    /// `registry.key.revoke`: withdraw an active key.
    RevokeKey {
        /// The agency.
        agency: String,
        /// The key to revoke.
        key: VerifyingKey,
        /// Why (public; no personal data).
        reason: String,
    },
}

fn check_text(what: &str, s: &str, max: usize) -> Result<()> {
    if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
        bail!("{what} must be 1-{max} bytes of text with no control characters");
    }
    Ok(())
}

impl RegistryAction {
    /// The statement type.
    pub fn kind(&self) -> &'static str {
        match self {
            RegistryAction::Register { .. } => TYPE_REGISTER,
            RegistryAction::AddKey { .. } => TYPE_KEY_ADD,
            RegistryAction::RotateKey { .. } => TYPE_KEY_ROTATE,
            RegistryAction::RevokeKey { .. } => TYPE_KEY_REVOKE,
        }
    }

    /// The agency the statement is about.
    pub fn agency(&self) -> &str {
        match self {
            RegistryAction::Register { agency, .. }
            | RegistryAction::AddKey { agency, .. }
            | RegistryAction::RotateKey { agency, .. }
            | RegistryAction::RevokeKey { agency, .. } => agency,
        }
    }

    /// Checks what the client can check without the registry's state: the agency
    /// id, the text fields, and that a rotation changes the key.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn check(&self) -> Result<()> {
        let agency = AgencyId::new(self.agency())
            .map_err(|e| anyhow::anyhow!("agency {:?}: {e}", self.agency()))?;
        if agency.is_registry() {
            bail!("{REGISTRY_AGENCY:?} is the registry authority's own id, not an agency");
        }
        match self {
            RegistryAction::Register { name, .. } => check_text("the agency name", name, 256),
            RegistryAction::RotateKey {
                old_key, new_key, ..
            } if old_key == new_key => bail!("the new key must differ from the old key"),
            RegistryAction::RevokeKey { reason, .. } => check_text("the reason", reason, 512),
            _ => Ok(()),
        }
    }

    /// The statement's `object`: exactly the fields of spec/registry.md §3, in
    /// the spec's order.
    pub fn object(&self) -> JsonObject {
        let k = public_key_b64;
        match self {
            RegistryAction::Register { agency, name, key } => JsonObject::from_iter([
                ("agency", agency.clone()),
                ("name", name.clone()),
                ("key", k(key)),
            ]),
            RegistryAction::AddKey { agency, key } => {
                JsonObject::from_iter([("agency", agency.clone()), ("key", k(key))])
            }
            RegistryAction::RotateKey {
                agency,
                old_key,
                new_key,
            } => JsonObject::from_iter([
                ("agency", agency.clone()),
                ("old_key", k(old_key)),
                ("new_key", k(new_key)),
            ]),
            RegistryAction::RevokeKey {
                agency,
                key,
                reason,
            } => JsonObject::from_iter([
                ("agency", agency.clone()),
                ("key", k(key)),
                ("reason", reason.clone()),
            ]),
        }
    }

    /// A submission id unique to this action: the action, the agency and the first
    /// 16 hex digits of the hash of the key it adds (or revokes). Keys are never
    /// reused, so no two successful registry statements share it, while sending
    /// the same action twice is caught by the log as a reused submission id.
    pub fn default_submission_id(&self) -> String {
        let (verb, key) = match self {
            RegistryAction::Register { key, .. } => ("register", key),
            RegistryAction::AddKey { key, .. } => ("key.add", key),
            RegistryAction::RotateKey { new_key, .. } => ("key.rotate", new_key),
            RegistryAction::RevokeKey { key, .. } => ("key.revoke", key),
        };
        let hash = key_hash_hex(key);
        format!("{verb}/{}/{}", self.agency(), &hash[..16])
    }

    /// The statement for this action in the log `origin`: agency `registry`,
    /// channel G2G, the default submission id and the current time unless given.
    ///
    /// # Errors
    /// As [`RegistryAction::check`].
    pub fn statement(
        &self,
        origin: &str,
        submission_id: Option<String>,
        occurred_at: Option<String>,
    ) -> Result<StatementSpec> {
        self.check()?;
        Ok(StatementSpec {
            origin: origin.to_owned(),
            agency: REGISTRY_AGENCY.to_owned(),
            submission_id: submission_id.unwrap_or_else(|| self.default_submission_id()),
            kind: self.kind().to_owned(),
            channel: Channel::G2G,
            occurred_at: occurred_at.unwrap_or_else(now_rfc3339),
            subject: None,
            object: self.object(),
            payload_commitment: None,
        })
    }
}
