//! Accountable access to private payloads (spec/registry.md §6): who may read a
//! payload, the signed record of every read, and lawful erasure.
//!
//! Five statement types, all checked by the registry state machine, so that a
//! replay of the ledger re-decides every access:
//!
//! | type | signed by | object fields |
//! |---|---|---|
//! | `registry.access.grant` | the authority | `grantee`, `agencies`, `types`, `legal_basis`, optional `expires_at` |
//! | `registry.access.revoke` | the authority | `grant`, `reason` |
//! | `access.payload.read` | the reading agency | `entry`, `official`, `purpose`, `legal_basis`, optional `case` |
//! | `access.payload.erase` | the agency that owns the entry | `entry`, `legal_basis` |
//! | `registry.payload.erase` | the authority | `entry`, `legal_basis` |
//!
//! Every field is a JSON string; `entry` and `grant` are canonical decimal entry
//! indexes. This module is pure: it parses the objects and keeps the state that
//! the checks need (which entries carry a payload commitment, and the grants).

use std::collections::{BTreeMap, HashMap};

use crate::index::{LeafIndex, parse_canonical_u64};
use crate::statement::{
    AgencyId, Channel, JsonValue, REGISTRY_AGENCY, Statement, StatementType, TypeFamily,
    parse_utc_timestamp,
};

/// `registry.access.grant`: the authority lets an agency read other agencies'
/// payloads (spec/registry.md §6.1).
pub const TYPE_ACCESS_GRANT: &str = "registry.access.grant";
/// `registry.access.revoke`: the authority ends a grant (spec/registry.md §6.1).
pub const TYPE_ACCESS_REVOKE: &str = "registry.access.revoke";
/// `access.payload.read`: an official reads one entry's payload (§6.2).
pub const TYPE_PAYLOAD_READ: &str = "access.payload.read";
/// `access.payload.erase`: the owning agency erases one entry's payload (§6.3).
pub const TYPE_PAYLOAD_ERASE: &str = "access.payload.erase";
/// `registry.payload.erase`: the authority erases one entry's payload (§6.3).
pub const TYPE_REGISTRY_ERASE: &str = "registry.payload.erase";

/// Why an access statement is refused, beyond malformed objects (which are
/// `registry_rule`). Each has a stable code (spec/registry.md §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessDenial {
    /// The agency may not read or erase that entry's payload: `access_denied`.
    Denied,
    /// The named entry does not exist or carries no payload commitment:
    /// `no_payload`.
    NoPayload,
    /// The payload was erased: `payload_erased`.
    Erased,
}

impl AccessDenial {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            AccessDenial::Denied => "access_denied",
            AccessDenial::NoPayload => "no_payload",
            AccessDenial::Erased => "payload_erased",
        }
    }
}

/// Which agencies' entries a grant covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgencyScope {
    /// `*`: every agency.
    Any,
    /// One agency.
    One(AgencyId),
}

/// Which statement types a grant covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeScope {
    /// `*`: every type.
    Any,
    /// A type or a prefix of whole segments: `decision.permit` covers
    /// `decision.permit` and `decision.permit.granted`, not `decision.permits`.
    Prefix(String),
}

impl TypeScope {
    /// Whether `kind` is covered.
    pub fn covers(&self, kind: &str) -> bool {
        match self {
            TypeScope::Any => true,
            TypeScope::Prefix(p) => {
                kind == p
                    || (kind.len() > p.len()
                        && kind.starts_with(p.as_str())
                        && kind.as_bytes()[p.len()] == b'.')
            }
        }
    }
}

/// A grant as the authority wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantTerms {
    /// The agency that may read.
    pub grantee: AgencyId,
    /// Whose entries.
    pub agencies: AgencyScope,
    /// Which types.
    pub types: TypeScope,
    /// The law that allows it.
    pub legal_basis: String,
    /// The grant covers reads sequenced strictly before this time (Unix ms).
    pub expires_at_ms: Option<i64>,
}

/// A grant in the registry state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The entry that made it.
    pub index: LeafIndex,
    /// Its terms.
    pub terms: GrantTerms,
    /// The entry that revoked it, if any.
    pub revoked_at: Option<LeafIndex>,
}

impl Grant {
    /// Whether this grant lets `reader` read a payload of `owner`'s entry of
    /// type `kind` in an entry sequenced at `time_ms`.
    pub fn allows(&self, reader: &AgencyId, owner: &AgencyId, kind: &str, time_ms: u64) -> bool {
        self.revoked_at.is_none()
            && self.terms.grantee == *reader
            && match &self.terms.agencies {
                AgencyScope::Any => true,
                AgencyScope::One(a) => a == owner,
            }
            && self.terms.types.covers(kind)
            && self
                .terms
                .expires_at_ms
                .is_none_or(|e| i128::from(time_ms) < i128::from(e))
    }
}

/// One read of a payload, as the statement records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    /// The entry whose payload is read.
    pub entry: LeafIndex,
    /// The official who reads it (a name or staff id).
    pub official: String,
    /// Why.
    pub purpose: String,
    /// Under which law.
    pub legal_basis: String,
    /// A case or file reference, if any.
    pub case: Option<String>,
}

/// An erasure, as the statement records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EraseRecord {
    /// The entry whose payload is erased.
    pub entry: LeafIndex,
    /// Under which law.
    pub legal_basis: String,
    /// Whether the authority (not the owning agency) erased it.
    pub by_authority: bool,
}

/// What an access-related statement asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessAction {
    /// `registry.access.grant`.
    Grant(GrantTerms),
    /// `registry.access.revoke`.
    Revoke {
        /// The grant's entry index.
        grant: LeafIndex,
        /// Why.
        reason: String,
    },
    /// `access.payload.read`.
    Read(ReadRecord),
    /// `access.payload.erase` or `registry.payload.erase`.
    Erase(EraseRecord),
}

impl AccessAction {
    /// The entry whose payload a read or an erasure names.
    pub fn target(&self) -> Option<LeafIndex> {
        match self {
            AccessAction::Read(r) => Some(r.entry),
            AccessAction::Erase(e) => Some(e.entry),
            _ => None,
        }
    }

    /// Parses the object of an access-related statement; `None` for any other
    /// type. The statement's agency and signer are checked by the registry.
    ///
    /// # Errors
    /// A message naming the field, for a malformed object (`registry_rule`).
    pub fn parse(st: &Statement) -> Option<Result<AccessAction, String>> {
        let kind = st.kind.as_str();
        let in_scope = matches!(
            kind,
            TYPE_ACCESS_GRANT | TYPE_ACCESS_REVOKE | TYPE_REGISTRY_ERASE
        ) || st.kind.family() == Some(TypeFamily::Access);
        if !in_scope {
            return None;
        }
        Some(parse_action(st))
    }
}

fn parse_action(st: &Statement) -> Result<AccessAction, String> {
    if st.channel != Channel::G2G {
        return Err(format!("{} statements use channel G2G", st.kind.as_str()));
    }
    if st.kind.family() == Some(TypeFamily::Access) && st.payload_commitment.is_some() {
        return Err("access statements carry no payload_commitment".into());
    }
    let obj = &st.object;
    match st.kind.as_str() {
        TYPE_ACCESS_GRANT => {
            let f = Fields::new(
                obj,
                &["grantee", "agencies", "types", "legal_basis"],
                &["expires_at"],
            )?;
            Ok(AccessAction::Grant(GrantTerms {
                grantee: agency_field("grantee", f.get("grantee"))?,
                agencies: match f.get("agencies") {
                    "*" => AgencyScope::Any,
                    a => AgencyScope::One(agency_field("agencies", a)?),
                },
                types: match f.get("types") {
                    "*" => TypeScope::Any,
                    t => TypeScope::Prefix(type_prefix(t)?),
                },
                legal_basis: f.text("legal_basis", 512)?,
                expires_at_ms: f
                    .opt("expires_at")
                    .map(|t| {
                        parse_utc_timestamp(t).map_err(|_| {
                            "object.expires_at must be an RFC 3339 UTC time like 2027-01-01T00:00:00Z"
                                .to_owned()
                        })
                    })
                    .transpose()?,
            }))
        }
        TYPE_ACCESS_REVOKE => {
            let f = Fields::new(obj, &["grant", "reason"], &[])?;
            Ok(AccessAction::Revoke {
                grant: index_field("grant", f.get("grant"))?,
                reason: f.text("reason", 512)?,
            })
        }
        TYPE_PAYLOAD_READ => {
            let f = Fields::new(
                obj,
                &["entry", "official", "purpose", "legal_basis"],
                &["case"],
            )?;
            Ok(AccessAction::Read(ReadRecord {
                entry: index_field("entry", f.get("entry"))?,
                official: f.text("official", 256)?,
                purpose: f.text("purpose", 512)?,
                legal_basis: f.text("legal_basis", 512)?,
                case: f.opt("case").map(|_| f.text("case", 256)).transpose()?,
            }))
        }
        TYPE_PAYLOAD_ERASE | TYPE_REGISTRY_ERASE => {
            let f = Fields::new(obj, &["entry", "legal_basis"], &[])?;
            Ok(AccessAction::Erase(EraseRecord {
                entry: index_field("entry", f.get("entry"))?,
                legal_basis: f.text("legal_basis", 512)?,
                by_authority: st.kind.as_str() == TYPE_REGISTRY_ERASE,
            }))
        }
        other => Err(format!("unknown access statement type {other}")),
    }
}

/// The string fields of a statement's object: exactly the required ones, and
/// any of the optional ones, each a JSON string.
struct Fields<'a> {
    obj: &'a BTreeMap<String, JsonValue>,
}

impl<'a> Fields<'a> {
    fn new(
        obj: &'a BTreeMap<String, JsonValue>,
        required: &[&str],
        optional: &[&str],
    ) -> Result<Fields<'a>, String> {
        for (k, v) in obj {
            if !required.contains(&k.as_str()) && !optional.contains(&k.as_str()) {
                return Err(format!("unknown field object.{k}"));
            }
            if v.as_str().is_none() {
                return Err(format!("object.{k} must be a string"));
            }
        }
        if let Some(missing) = required.iter().find(|r| !obj.contains_key(**r)) {
            return Err(format!("missing field object.{missing}"));
        }
        Ok(Fields { obj })
    }

    fn get(&self, field: &str) -> &'a str {
        self.opt(field).unwrap_or_default()
    }

    fn opt(&self, field: &str) -> Option<&'a str> {
        self.obj.get(field).and_then(JsonValue::as_str)
    }

    /// 1–`max` bytes of UTF-8 with no control characters.
    fn text(&self, field: &str, max: usize) -> Result<String, String> {
        let s = self.get(field);
        if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
            return Err(format!(
                "object.{field} must be 1-{max} bytes with no control characters"
            ));
        }
        Ok(s.to_owned())
    }
}

fn agency_field(field: &str, s: &str) -> Result<AgencyId, String> {
    let id = AgencyId::new(s).map_err(|e| format!("object.{field}: {e}"))?;
    if id.is_registry() {
        return Err(format!("object.{field} may not be {REGISTRY_AGENCY:?}"));
    }
    Ok(id)
}

fn index_field(field: &str, s: &str) -> Result<LeafIndex, String> {
    parse_canonical_u64(s)
        .map(LeafIndex)
        .ok_or_else(|| format!("object.{field} must be an entry index in canonical decimal"))
}

/// A type or a prefix of whole segments of one, such as `decision.permit` or
/// `service`: 1–8 segments of `a-z 0-9 _`, at most 128 bytes, a known family.
fn type_prefix(s: &str) -> Result<String, String> {
    let bad = || {
        "object.types must be \"*\" or a statement type prefix of whole segments, such as decision.permit"
            .to_owned()
    };
    if s.split('.').count() == 1 {
        // A family alone: check it as a two-segment type.
        StatementType::new(&format!("{s}.x")).map_err(|_| bad())?;
    } else {
        StatementType::new(s).map_err(|_| bad())?;
    }
    Ok(s.to_owned())
}

/// An entry that carries a payload commitment, as the checks need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PayloadRecord {
    owner: u32,
    kind: u32,
    erased_by: Option<LeafIndex>,
}

/// The state the access checks need: every entry with a payload commitment
/// (its owner and type, interned, and whether it was erased) and every grant.
#[derive(Clone, Debug, Default)]
pub struct AccessState {
    payloads: HashMap<u64, PayloadRecord>,
    agencies: Vec<AgencyId>,
    agency_ids: HashMap<AgencyId, u32>,
    types: Vec<String>,
    type_ids: HashMap<String, u32>,
    grants: BTreeMap<u64, Grant>,
}

/// A refused access statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessRefusal {
    /// One of the [`AccessDenial`]s.
    Denied(AccessDenial, String),
    /// A malformed or impossible request (`registry_rule`).
    Rule(String),
}

impl AccessState {
    fn intern_agency(&mut self, a: &AgencyId) -> u32 {
        if let Some(&i) = self.agency_ids.get(a) {
            return i;
        }
        let i = u32::try_from(self.agencies.len()).expect("fewer than 2^32 agencies");
        self.agencies.push(a.clone());
        self.agency_ids.insert(a.clone(), i);
        i
    }

    fn intern_type(&mut self, t: &str) -> u32 {
        if let Some(&i) = self.type_ids.get(t) {
            return i;
        }
        let i = u32::try_from(self.types.len()).expect("fewer than 2^32 types");
        self.types.push(t.to_owned());
        self.type_ids.insert(t.to_owned(), i);
        i
    }

    /// Records that entry `index`, of `owner` and type `kind`, carries a payload
    /// commitment.
    pub fn record_payload(&mut self, index: LeafIndex, owner: &AgencyId, kind: &StatementType) {
        let owner = self.intern_agency(owner);
        let kind = self.intern_type(kind.as_str());
        self.payloads.insert(
            index.0,
            PayloadRecord {
                owner,
                kind,
                erased_by: None,
            },
        );
    }

    /// Whether entry `index` carries a payload commitment, and if so, the entry
    /// that erased its payload, if any.
    pub fn payload_status(&self, index: LeafIndex) -> Option<Option<LeafIndex>> {
        self.payloads.get(&index.0).map(|p| p.erased_by)
    }

    /// A grant by the index of the entry that made it.
    pub fn grant(&self, index: LeafIndex) -> Option<&Grant> {
        self.grants.get(&index.0)
    }

    /// Every grant, oldest first.
    pub fn grants(&self) -> impl Iterator<Item = &Grant> {
        self.grants.values()
    }

    /// Checks `action`, in the statement of `agency` at `index` sequenced at
    /// `time_ms`, against the state (spec/registry.md §6.4). `registered` tells
    /// whether an agency id is registered. Nothing is changed.
    ///
    /// # Errors
    /// An [`AccessRefusal`].
    pub fn check(
        &self,
        action: &AccessAction,
        agency: &AgencyId,
        index: LeafIndex,
        time_ms: u64,
        registered: impl Fn(&AgencyId) -> bool,
    ) -> Result<(), AccessRefusal> {
        let payload = |entry: LeafIndex| -> Result<PayloadRecord, AccessRefusal> {
            let p = (entry.0 < index.0)
                .then(|| self.payloads.get(&entry.0))
                .flatten()
                .ok_or_else(|| {
                    AccessRefusal::Denied(
                        AccessDenial::NoPayload,
                        format!("entry {} has no payload commitment", entry.0),
                    )
                })?;
            if let Some(by) = p.erased_by {
                return Err(AccessRefusal::Denied(
                    AccessDenial::Erased,
                    format!(
                        "the payload of entry {} was erased by entry {}",
                        entry.0, by.0
                    ),
                ));
            }
            Ok(*p)
        };
        match action {
            AccessAction::Grant(terms) => {
                if !registered(&terms.grantee) {
                    return Err(AccessRefusal::Rule(format!(
                        "object.grantee: agency {} is not registered",
                        terms.grantee
                    )));
                }
                Ok(())
            }
            AccessAction::Revoke { grant, .. } => match self.grants.get(&grant.0) {
                Some(g) if g.revoked_at.is_none() => Ok(()),
                Some(g) => Err(AccessRefusal::Rule(format!(
                    "grant {} was already revoked by entry {}",
                    grant.0,
                    g.revoked_at.map_or(0, |r| r.0)
                ))),
                None => Err(AccessRefusal::Rule(format!(
                    "entry {} is not an access grant",
                    grant.0
                ))),
            },
            AccessAction::Read(r) => {
                let p = payload(r.entry)?;
                let owner = &self.agencies[p.owner as usize];
                let kind = &self.types[p.kind as usize];
                if owner == agency
                    || self
                        .grants
                        .values()
                        .any(|g| g.allows(agency, owner, kind, time_ms))
                {
                    Ok(())
                } else {
                    Err(AccessRefusal::Denied(
                        AccessDenial::Denied,
                        format!(
                            "agency {agency} holds no grant in force to read entry {} ({owner}, {kind})",
                            r.entry.0
                        ),
                    ))
                }
            }
            AccessAction::Erase(e) => {
                let p = payload(e.entry)?;
                let owner = &self.agencies[p.owner as usize];
                if e.by_authority || owner == agency {
                    Ok(())
                } else {
                    Err(AccessRefusal::Denied(
                        AccessDenial::Denied,
                        format!(
                            "only {owner}, which owns entry {}, or the registry authority may erase its payload",
                            e.entry.0
                        ),
                    ))
                }
            }
        }
    }

    /// Applies a checked `action` made by the entry at `at`.
    pub fn apply(&mut self, action: AccessAction, at: LeafIndex) {
        match action {
            AccessAction::Grant(terms) => {
                self.grants.insert(
                    at.0,
                    Grant {
                        index: at,
                        terms,
                        revoked_at: None,
                    },
                );
            }
            AccessAction::Revoke { grant, .. } => {
                if let Some(g) = self.grants.get_mut(&grant.0) {
                    g.revoked_at = Some(at);
                }
            }
            AccessAction::Read(_) => {}
            AccessAction::Erase(e) => {
                if let Some(p) = self.payloads.get_mut(&e.entry.0) {
                    p.erased_by = Some(at);
                }
            }
        }
    }
}

/// The encoding of [`AccessState`] in a registry state
/// (`crate::registry::state`):
///
/// ```text
/// access  = n:u32 agency:str{n} n:u32 type:str{n}
///           n:u32 (index:u64 owner:u32 kind:u32 erased_by:opt(u64)){n}   (by index)
///           n:u32 grant{n}                                               (by index)
/// grant   = index:u64 grantee:str agencies:(0x00 | 0x01 str) types:(0x00 | 0x01 str)
///           legal_basis:str expires_at_ms:opt(i64, two's complement) revoked_at:opt(u64)
/// ```
impl AccessState {
    pub(crate) fn encode(&self, w: &mut crate::registry::state::Writer<'_>) {
        w.len(self.agencies.len());
        for a in &self.agencies {
            w.str(a.as_str());
        }
        w.len(self.types.len());
        for t in &self.types {
            w.str(t);
        }
        let mut payloads: Vec<(&u64, &PayloadRecord)> = self.payloads.iter().collect();
        payloads.sort_unstable_by_key(|(i, _)| **i);
        w.len(payloads.len());
        for (i, p) in payloads {
            w.u64(*i);
            w.u32(p.owner);
            w.u32(p.kind);
            w.opt_u64(p.erased_by.map(|e| e.0));
        }
        w.len(self.grants.len());
        for g in self.grants.values() {
            w.u64(g.index.0);
            w.str(g.terms.grantee.as_str());
            w.opt_str(match &g.terms.agencies {
                AgencyScope::Any => None,
                AgencyScope::One(a) => Some(a.as_str()),
            });
            w.opt_str(match &g.terms.types {
                TypeScope::Any => None,
                TypeScope::Prefix(p) => Some(p.as_str()),
            });
            w.str(&g.terms.legal_basis);
            w.opt_u64(g.terms.expires_at_ms.map(|e| e as u64));
            w.opt_u64(g.revoked_at.map(|r| r.0));
        }
    }

    pub(crate) fn decode(
        r: &mut crate::registry::state::Reader<'_>,
    ) -> Result<AccessState, crate::registry::StateError> {
        let bad = |m: &str| crate::registry::StateError::Malformed(m.to_owned());
        let mut s = AccessState::default();
        for _ in 0..r.count(4, "interned agencies")? {
            let a = r.agency("interned agency")?;
            if s.agency_ids.contains_key(&a) {
                return Err(bad("an interned agency is listed twice"));
            }
            s.intern_agency(&a);
        }
        for _ in 0..r.count(4, "interned types")? {
            let t = r.str("interned type")?;
            if s.type_ids.contains_key(&t) {
                return Err(bad("an interned type is listed twice"));
            }
            s.intern_type(&t);
        }
        for _ in 0..r.count(17, "payloads")? {
            let index = r.u64("payload index")?;
            let owner = r.u32("payload owner")?;
            let kind = r.u32("payload type")?;
            if owner as usize >= s.agencies.len() || kind as usize >= s.types.len() {
                return Err(bad("a payload names an agency or type not interned"));
            }
            let erased_by = r.opt_u64("erased by")?.map(LeafIndex);
            let record = PayloadRecord {
                owner,
                kind,
                erased_by,
            };
            if s.payloads.insert(index, record).is_some() {
                return Err(bad("a payload is listed twice"));
            }
        }
        for _ in 0..r.count(30, "grants")? {
            let index = LeafIndex(r.u64("grant index")?);
            let grantee = r.agency("grantee")?;
            let agencies = match r.opt_str("grant agencies")? {
                None => AgencyScope::Any,
                Some(a) => AgencyScope::One(
                    AgencyId::new(&a).map_err(|e| bad(&format!("grant agencies: {e}")))?,
                ),
            };
            let types = match r.opt_str("grant types")? {
                None => TypeScope::Any,
                Some(t) => TypeScope::Prefix(t),
            };
            let terms = GrantTerms {
                grantee,
                agencies,
                types,
                legal_basis: r.str("legal basis")?,
                expires_at_ms: r.opt_u64("expires at")?.map(|e| e as i64),
            };
            let revoked_at = r.opt_u64("grant revoked at")?.map(LeafIndex);
            let grant = Grant {
                index,
                terms,
                revoked_at,
            };
            if s.grants.insert(index.0, grant).is_some() {
                return Err(bad("a grant is listed twice"));
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_scope_covers_whole_segments_only() {
        let s = TypeScope::Prefix("decision.permit".into());
        assert!(s.covers("decision.permit"));
        assert!(s.covers("decision.permit.granted"));
        assert!(!s.covers("decision.permits"));
        assert!(!s.covers("decision.permitx.granted"));
        assert!(!s.covers("decision"));
        assert!(TypeScope::Any.covers("service.id_card.issued"));
        let fam = TypeScope::Prefix("service".into());
        assert!(fam.covers("service.id_card.issued"));
        assert!(!fam.covers("services.x"));
    }

    #[test]
    fn type_prefixes_are_checked() {
        assert!(type_prefix("decision.permit").is_ok());
        assert!(type_prefix("service").is_ok());
        assert!(type_prefix("nonsense").is_err());
        assert!(type_prefix("decision.").is_err());
        assert!(type_prefix("Decision.permit").is_err());
    }

    #[test]
    fn expired_and_revoked_grants_allow_nothing() {
        let a = |s: &str| AgencyId::new(s).unwrap();
        let mut g = Grant {
            index: LeafIndex(5),
            terms: GrantTerms {
                grantee: a("audit-board"),
                agencies: AgencyScope::One(a("city-licensing")),
                types: TypeScope::Prefix("decision.permit".into()),
                legal_basis: "UU 15/2006".into(),
                expires_at_ms: Some(1_000),
            },
            revoked_at: None,
        };
        let ok = |g: &Grant, t| {
            g.allows(
                &a("audit-board"),
                &a("city-licensing"),
                "decision.permit.granted",
                t,
            )
        };
        assert!(ok(&g, 999));
        assert!(!ok(&g, 1_000), "expiry is exclusive");
        assert!(!g.allows(
            &a("other"),
            &a("city-licensing"),
            "decision.permit.granted",
            1
        ));
        assert!(!g.allows(&a("audit-board"), &a("tax-office"), "decision.permit", 1));
        assert!(!g.allows(
            &a("audit-board"),
            &a("city-licensing"),
            "service.licence",
            1
        ));
        g.revoked_at = Some(LeafIndex(7));
        assert!(!ok(&g, 1));
    }
}
