//! The registry state machine (spec/registry.md): which agencies exist and which
//! keys may sign for them at every index, and the per-entry checks that the
//! server applies before sequencing and a verifier applies in replay.
//!
//! The registry lives in the ledger itself. Entry 0 is a `registry.genesis`
//! statement that names the log's verifier key and the registry authority's key;
//! later `registry.*` statements, signed by the authority, register agencies and
//! add, rotate or revoke their keys. Replaying the entries in order therefore
//! tells anyone which keys were valid at every index, trusting nothing but the
//! authority key.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::access::{AccessAction, AccessDenial, AccessRefusal, AccessState};
use crate::entry::{Entry, EntryError, KeyHash, signed_message, verify_statement_signature};
use crate::hash::{Hash, leaf_hash};
use crate::index::LeafIndex;
use crate::statement::{
    AgencyId, Channel, JsonValue, REGISTRY_AGENCY, Statement, StatementError, TypeFamily,
};

pub(crate) mod state;
pub use state::StateError;

/// `registry.genesis`: entry 0, naming the log key and the authority key.
pub const TYPE_GENESIS: &str = "registry.genesis";
/// `registry.agency.register`: a new agency with its first key.
pub const TYPE_REGISTER: &str = "registry.agency.register";
/// `registry.key.add`: another key for an agency.
pub const TYPE_KEY_ADD: &str = "registry.key.add";
/// `registry.key.rotate`: replace one of an agency's keys with a new one.
pub const TYPE_KEY_ROTATE: &str = "registry.key.rotate";
/// `registry.key.revoke`: withdraw one of an agency's keys.
pub const TYPE_KEY_REVOKE: &str = "registry.key.revoke";

/// Why an entry breaks the registry rules. Each variant has a stable
/// [`RegistryError::code`]; at the API these are HTTP 422, except signature and
/// key problems (401/403) and malformed input (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The envelope does not decode.
    #[error("entry {index}: {source}")]
    Entry {
        /// The expected index.
        index: u64,
        /// The decoding error.
        source: EntryError,
    },
    /// The statement does not parse.
    #[error("entry {index}: {source}")]
    Statement {
        /// The entry's index.
        index: u64,
        /// The parse error.
        source: StatementError,
    },
    /// The entry's index is not the next one.
    #[error("entry has index {found}, expected {expected}")]
    Index {
        /// The next index.
        expected: u64,
        /// The entry's index.
        found: u64,
    },
    /// `prev` is not the previous entry's leaf hash.
    #[error("entry {index}: prev is {found}, expected the previous leaf hash {expected}")]
    Prev {
        /// The entry's index.
        index: u64,
        /// The previous entry's leaf hash.
        expected: Hash,
        /// The entry's prev.
        found: Hash,
    },
    /// `agency_prev` does not point at the agency's previous entry.
    #[error("entry {index}: agency_prev is {found:?}, expected {expected:?}")]
    AgencyPrev {
        /// The entry's index.
        index: u64,
        /// The agency's previous entry.
        expected: Option<u64>,
        /// The entry's agency_prev.
        found: Option<u64>,
    },
    /// The sequencing time went backwards.
    #[error("entry {index}: sequenced at {found} ms, before the previous entry's {previous} ms")]
    Time {
        /// The entry's index.
        index: u64,
        /// The previous entry's time.
        previous: u64,
        /// The entry's time.
        found: u64,
    },
    /// The statement names another log.
    #[error("entry {index}: statement is for origin {found:?}, this log is {expected:?}")]
    Origin {
        /// The entry's index.
        index: u64,
        /// This log's origin.
        expected: String,
        /// The statement's origin.
        found: String,
    },
    /// The agency + submission id was already used.
    #[error("entry {index}: agency {agency} already used submission id {submission_id:?}")]
    DuplicateSubmission {
        /// The entry's index.
        index: u64,
        /// The agency.
        agency: String,
        /// The reused submission id.
        submission_id: String,
    },
    /// The agency is not registered.
    #[error("entry {index}: agency {agency} is not registered")]
    UnknownAgency {
        /// The entry's index.
        index: u64,
        /// The agency.
        agency: String,
    },
    /// The signing key is not an active key of the agency (or of the authority,
    /// for registry statements).
    #[error("entry {index}: key {key_hash} is not an active key of {agency}")]
    KeyNotActive {
        /// The entry's index.
        index: u64,
        /// The agency the statement claims.
        agency: String,
        /// The key hash in the entry.
        key_hash: Hash,
    },
    /// The signature does not verify.
    #[error("entry {index}: the signature does not verify with key {key_hash}")]
    BadSignature {
        /// The entry's index.
        index: u64,
        /// The key it was checked against.
        key_hash: Hash,
    },
    /// An access statement is refused (spec/registry.md §6.4).
    #[error("entry {index}: {reason}")]
    Access {
        /// The entry's index.
        index: u64,
        /// Why, as a stable code.
        denial: AccessDenial,
        /// For people.
        reason: String,
    },
    /// A registry statement breaks a registry rule.
    #[error("entry {index}: {reason}")]
    Rule {
        /// The entry's index.
        index: u64,
        /// What rule was broken.
        reason: String,
    },
    /// The submission ids could not be read ([`SubmissionIds`]): nothing is
    /// known about the entry, which is neither accepted nor refused. A server
    /// answers it as unavailable (503), a verifier as "could not check".
    #[error("entry {index}: the submission ids cannot be read: {source}")]
    SubmissionIds {
        /// The entry's index.
        index: u64,
        /// Why.
        source: SubmissionIdsError,
    },
}

impl RegistryError {
    /// A stable, machine-readable code for the rejection (for APIs and metrics).
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Entry { .. } => "bad_entry",
            RegistryError::Statement { .. } => "bad_statement",
            RegistryError::Index { .. } => "wrong_index",
            RegistryError::Prev { .. } => "broken_chain",
            RegistryError::AgencyPrev { .. } => "broken_agency_chain",
            RegistryError::Time { .. } => "time_went_backwards",
            RegistryError::Origin { .. } => "wrong_origin",
            RegistryError::DuplicateSubmission { .. } => "duplicate_submission",
            RegistryError::UnknownAgency { .. } => "unknown_agency",
            RegistryError::KeyNotActive { .. } => "key_not_active",
            RegistryError::BadSignature { .. } => "bad_signature",
            RegistryError::Rule { .. } => "registry_rule",
            RegistryError::Access { denial, .. } => denial.code(),
            RegistryError::SubmissionIds { .. } => "unavailable",
        }
    }
}

/// What a verifier trusts before reading the ledger (spec/registry.md §1).
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    /// The registry authority's public key. Genesis must name exactly this key.
    pub authority_key: Option<VerifyingKey>,
    /// The log's verifier key string. Genesis must name exactly this key.
    pub log_vkey: Option<String>,
}

/// One key's life in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public key.
    pub key: VerifyingKey,
    /// Its hash, as entries name it.
    pub key_hash: KeyHash,
    /// The registry entry that added it; it may sign entries after this index.
    pub added_at: LeafIndex,
    /// The registry entry that revoked or rotated it away, if any; it may not
    /// sign entries after this index.
    pub revoked_at: Option<LeafIndex>,
    /// The reason given when it was revoked.
    pub revoke_reason: Option<String>,
}

/// An agency's registry state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgencyRecord {
    /// The agency's id.
    pub id: AgencyId,
    /// Its display name.
    pub name: String,
    /// The registry entry that registered it.
    pub registered_at: LeafIndex,
    /// Every key it ever had, oldest first.
    pub keys: Vec<KeyRecord>,
    /// Its most recent entry, the head of its agency_prev chain.
    pub last_entry: Option<LeafIndex>,
    /// How many entries it has.
    pub entries: u64,
}

impl AgencyRecord {
    /// The keys that may sign now.
    pub fn active_keys(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.iter().filter(|k| k.revoked_at.is_none())
    }
}

/// A signature check that [`Registry::apply_deferred`] left to the caller, so
/// that many can be verified in one batch.
#[derive(Clone, Debug)]
pub struct PendingSignature {
    /// The entry's index.
    pub index: LeafIndex,
    /// The key that must have signed.
    pub key: VerifyingKey,
    /// The signed message (label and statement).
    pub message: Vec<u8>,
    /// The signature.
    pub signature: [u8; 64],
}

impl PendingSignature {
    /// Verifies this one signature strictly.
    ///
    /// # Errors
    /// [`RegistryError::BadSignature`].
    pub fn verify(&self) -> Result<(), RegistryError> {
        let sig = ed25519_dalek::Signature::from_bytes(&self.signature);
        self.key
            .verify_strict(&self.message, &sig)
            .map_err(|_| RegistryError::BadSignature {
                index: self.index.0,
                key_hash: KeyHash::of(&self.key).0,
            })
    }
}

/// An entry that passed every check.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The decoded entry.
    pub entry: Entry,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// Its parsed statement.
    pub statement: Statement,
}

/// What a registry statement changes, decided before anything is changed.
enum Effect {
    None,
    Genesis {
        authority: VerifyingKey,
        log_vkey: String,
    },
    Register {
        agency: AgencyId,
        name: String,
        key: VerifyingKey,
    },
    AddKey {
        agency: AgencyId,
        key: VerifyingKey,
    },
    Rotate {
        agency: AgencyId,
        old: KeyHash,
        new: VerifyingKey,
    },
    Revoke {
        agency: AgencyId,
        key: KeyHash,
        reason: String,
    },
    /// A grant, a revocation of one, a read or an erasure (spec/registry.md §6).
    Access(AccessAction),
}

/// Why a [`SubmissionIds`] set could not answer (an I/O error, for people).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SubmissionIdsError(pub String);

/// Where a [`Registry`] keeps the submission ids already used, for the rule
/// that an agency uses each submission id once (spec/registry.md §4). The
/// default, [`MemorySubmissionIds`], holds them in memory, which grows with the
/// log; a server looks them up in its store and a verifier may spill them to
/// disk (spec/durability.md §6), so that the registry in memory holds agencies,
/// keys and grants only and ledger-core does no I/O.
pub trait SubmissionIds: Send + Sync + std::fmt::Debug {
    /// The index of the entry that used `agency`'s `submission_id`, if this
    /// set knows one now. An entry's own index is not a reuse (a set backed by
    /// a store that already holds the entry answers it).
    ///
    /// # Errors
    /// A [`SubmissionIdsError`] if the set cannot be read.
    fn used_at(
        &self,
        agency: &AgencyId,
        submission_id: &str,
    ) -> Result<Option<LeafIndex>, SubmissionIdsError>;

    /// Records that entry `at` uses `agency`'s `submission_id`; called once the
    /// entry passed every check, before the registry changes.
    ///
    /// # Errors
    /// A [`SubmissionIdsError`] if the set cannot be written; the entry is then
    /// not applied.
    fn record(
        &mut self,
        agency: &AgencyId,
        submission_id: &str,
        at: LeafIndex,
    ) -> Result<(), SubmissionIdsError>;

    /// A copy of the set, for [`Registry::clone`].
    fn clone_box(&self) -> Box<dyn SubmissionIds>;
}

impl Clone for Box<dyn SubmissionIds> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Submission ids in memory: truncated SHA-256(agency ‖ 0x00 ‖ submission id)
/// → index, for every entry (about 40 bytes per entry).
#[derive(Clone, Debug, Default)]
pub struct MemorySubmissionIds(HashMap<[u8; 16], u64>);

impl SubmissionIds for MemorySubmissionIds {
    fn used_at(
        &self,
        agency: &AgencyId,
        submission_id: &str,
    ) -> Result<Option<LeafIndex>, SubmissionIdsError> {
        Ok(self
            .0
            .get(&submission_key(agency, submission_id))
            .map(|&i| LeafIndex(i)))
    }

    fn record(
        &mut self,
        agency: &AgencyId,
        submission_id: &str,
        at: LeafIndex,
    ) -> Result<(), SubmissionIdsError> {
        self.0.insert(submission_key(agency, submission_id), at.0);
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn SubmissionIds> {
        Box::new(self.clone())
    }
}

/// The registry and chain state after some prefix of the ledger.
#[derive(Clone, Debug)]
pub struct Registry {
    origin: String,
    anchors: TrustAnchors,
    next_index: u64,
    last_leaf: Hash,
    last_time: u64,
    authority: Option<VerifyingKey>,
    log_vkey: Option<String>,
    registry_last: Option<LeafIndex>,
    agencies: BTreeMap<AgencyId, AgencyRecord>,
    /// Every key ever registered (including the authority's), so none is reused.
    key_owner: HashMap<KeyHash, AgencyId>,
    /// The submission ids used so far ([`SubmissionIds`]).
    submissions: Box<dyn SubmissionIds>,
    /// Payload commitments and access grants (spec/registry.md §6).
    access: AccessState,
}

/// Truncated SHA-256(agency ‖ 0x00 ‖ submission id): a fixed-size key for a
/// submission id, for sets that hold many (collisions are negligible at 2^-128
/// per pair).
pub fn submission_key(agency: &AgencyId, submission: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(agency.as_str());
    h.update([0]);
    h.update(submission);
    let d = h.finalize();
    d[..16].try_into().expect("16 of 32 bytes")
}

/// Parses a base64 Ed25519 public key from a registry statement: canonical
/// standard base64 of 32 bytes, the canonical encoding of a point, not of small
/// order ([`crate::entry::strict_public_key`]).
fn parse_key(field: &str, v: Option<&JsonValue>) -> Result<VerifyingKey, String> {
    let s = v
        .and_then(JsonValue::as_str)
        .ok_or_else(|| format!("object.{field} must be a base64 Ed25519 public key"))?;
    let bytes: [u8; 32] = STANDARD
        .decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("object.{field} must be canonical base64 of 32 bytes"))?;
    crate::entry::strict_public_key(&bytes).map_err(|e| format!("object.{field} is {e}"))
}

fn only_fields(obj: &BTreeMap<String, JsonValue>, allowed: &[&str]) -> Result<(), String> {
    for (k, v) in obj {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unknown field object.{k}"));
        }
        if v.as_str().is_none() {
            return Err(format!("object.{k} must be a string"));
        }
    }
    for a in allowed {
        if !obj.contains_key(*a) {
            return Err(format!("missing field object.{a}"));
        }
    }
    Ok(())
}

fn text_field(
    obj: &BTreeMap<String, JsonValue>,
    field: &str,
    max: usize,
) -> Result<String, String> {
    let s = obj
        .get(field)
        .and_then(JsonValue::as_str)
        .unwrap_or_default();
    if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
        return Err(format!(
            "object.{field} must be 1-{max} characters with no control characters"
        ));
    }
    Ok(s.to_owned())
}

impl Registry {
    /// An empty registry for the log `origin`, before entry 0.
    pub fn new(origin: &str, anchors: TrustAnchors) -> Registry {
        Registry {
            origin: origin.to_owned(),
            anchors,
            next_index: 0,
            last_leaf: Hash::default(),
            last_time: 0,
            authority: None,
            log_vkey: None,
            registry_last: None,
            agencies: BTreeMap::new(),
            key_owner: HashMap::new(),
            submissions: Box::new(MemorySubmissionIds::default()),
            access: AccessState::default(),
        }
    }

    /// The payload commitments, erasures and access grants so far
    /// (spec/registry.md §6).
    pub fn access(&self) -> &AccessState {
        &self.access
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The index the next entry must have (the tree size so far).
    pub fn next_index(&self) -> LeafIndex {
        LeafIndex(self.next_index)
    }

    /// The leaf hash of the last entry (all zeros before entry 0).
    pub fn last_leaf_hash(&self) -> Hash {
        self.last_leaf
    }

    /// The last entry's sequencing time (0 before entry 0).
    pub fn last_time_ms(&self) -> u64 {
        self.last_time
    }

    /// The registry authority's key, once genesis is applied.
    pub fn authority_key(&self) -> Option<&VerifyingKey> {
        self.authority.as_ref()
    }

    /// The log's verifier key named by genesis.
    pub fn log_vkey(&self) -> Option<&str> {
        self.log_vkey.as_deref()
    }

    /// One agency's state.
    pub fn agency(&self, id: &AgencyId) -> Option<&AgencyRecord> {
        self.agencies.get(id)
    }

    /// Every agency, by id.
    pub fn agencies(&self) -> impl Iterator<Item = &AgencyRecord> {
        self.agencies.values()
    }

    /// The head of `agency`'s chain: what the next entry's `agency_prev` must be.
    pub fn agency_head(&self, agency: &AgencyId) -> Option<LeafIndex> {
        if agency.is_registry() {
            self.registry_last
        } else {
            self.agencies.get(agency).and_then(|a| a.last_entry)
        }
    }

    /// Whether `agency` already used `submission_id`, as far as the
    /// [`SubmissionIds`] set knows (false if it cannot be read).
    pub fn has_submission(&self, agency: &AgencyId, submission_id: &str) -> bool {
        matches!(self.submissions.used_at(agency, submission_id), Ok(Some(_)))
    }

    /// Replaces where the submission ids are kept ([`SubmissionIds`]). The new
    /// set must know every id the entries applied so far used (a set backed by
    /// the store that holds them, or an empty one before entry 0).
    pub fn set_submission_ids(&mut self, ids: Box<dyn SubmissionIds>) {
        self.submissions = ids;
    }

    /// The keys that may sign a statement from `agency` now: the authority's for
    /// `registry`, else the agency's active keys.
    pub fn signing_keys(&self, agency: &AgencyId) -> Vec<VerifyingKey> {
        if agency.is_registry() {
            self.authority.into_iter().collect()
        } else {
            self.agencies
                .get(agency)
                .map(|a| a.active_keys().map(|k| k.key).collect())
                .unwrap_or_default()
        }
    }

    /// Builds the next entry for a signed statement, as a sequencer does: fills in
    /// the index, `prev`, `agency_prev` and the key hash of whichever active key
    /// verifies the signature. The time is raised to the previous entry's if
    /// `now_ms` is earlier, so that time never decreases. Nothing is changed;
    /// pass the result to [`Registry::apply`].
    ///
    /// # Errors
    /// A [`RegistryError`] if the statement does not parse or no active key of
    /// its agency (for genesis, the key it names) verifies the signature.
    pub fn build_entry(
        &self,
        statement: &[u8],
        signature: &[u8; 64],
        now_ms: u64,
    ) -> Result<Entry, RegistryError> {
        let index = self.next_index;
        let st = Statement::parse(statement)
            .map_err(|source| RegistryError::Statement { index, source })?;
        let keys = self.signing_keys(&st.agency);
        let registered = self.agencies.contains_key(&st.agency);
        if keys.is_empty() && !registered && !(index == 0 && st.agency.is_registry()) {
            return Err(if st.agency.is_registry() {
                RegistryError::Rule {
                    index,
                    reason: "no registry authority before genesis".into(),
                }
            } else {
                RegistryError::UnknownAgency {
                    index,
                    agency: st.agency.to_string(),
                }
            });
        }
        let candidates = if index == 0 {
            // Genesis names its own key; apply() checks it against the anchors.
            vec![
                parse_key("authority_key", st.object.get("authority_key"))
                    .map_err(|reason| RegistryError::Rule { index, reason })?,
            ]
        } else {
            keys
        };
        // The returned entry names the key that verified this exact signature.
        let Some(key) = candidates
            .iter()
            .find(|k| verify_statement_signature(k, statement, signature))
            .copied()
        else {
            // A key the agency no longer has (revoked or rotated out) is a key
            // problem (403), not a forged signature (401).
            if let Some(old) = self.agencies.get(&st.agency).and_then(|a| {
                a.keys.iter().find(|k| {
                    k.revoked_at.is_some()
                        && verify_statement_signature(&k.key, statement, signature)
                })
            }) {
                return Err(RegistryError::KeyNotActive {
                    index,
                    agency: st.agency.to_string(),
                    key_hash: old.key_hash.0,
                });
            }
            return Err(RegistryError::BadSignature {
                index,
                key_hash: candidates
                    .first()
                    .map(|k| KeyHash::of(k).0)
                    .unwrap_or_default(),
            });
        };
        Ok(Entry {
            index: LeafIndex(index),
            sequenced_at_ms: now_ms.max(self.last_time),
            prev: self.last_leaf,
            agency_prev: self.agency_head(&st.agency),
            statement: statement.to_vec(),
            key_hash: KeyHash::of(&key),
            signature: *signature,
        })
    }

    /// Sequences a signed statement: [`Registry::build_entry`], then every check
    /// of [`Registry::apply`] except a second verification of the signature, which
    /// `build_entry` already verified with the key the entry names. This is the
    /// sequencer's path: one signature verification per entry. On error nothing
    /// changes.
    ///
    /// # Errors
    /// The first [`RegistryError`] found.
    pub fn sequence(
        &mut self,
        statement: &[u8],
        signature: &[u8; 64],
        now_ms: u64,
    ) -> Result<Applied, RegistryError> {
        let entry = self.build_entry(statement, signature, now_ms)?;
        let bytes = entry.encode().map_err(|source| RegistryError::Entry {
            index: self.next_index,
            source,
        })?;
        self.apply_inner(entry, leaf_hash(&bytes), false, None)
            .map(|(applied, _verified_by_build_entry)| applied)
    }

    /// Sequences a statement whose signature the caller has already verified with
    /// `key`, for example in a batch verification off the sequencer's thread
    /// (ed25519 batch verification; spec/registry.md §4). Every check of
    /// [`Registry::apply`] runs, including that `key` is an active key of the
    /// statement's agency at this index (for genesis: the key genesis names),
    /// except the signature itself, which is the caller's responsibility. On error
    /// nothing changes.
    ///
    /// # Errors
    /// The first [`RegistryError`] found; [`RegistryError::KeyNotActive`] if
    /// `key` may not sign for the agency at this index.
    pub fn sequence_verified(
        &mut self,
        statement: Statement,
        signature: &[u8; 64],
        key: &VerifyingKey,
        now_ms: u64,
    ) -> Result<Applied, RegistryError> {
        let index = self.next_index;
        let entry = Entry {
            index: LeafIndex(index),
            sequenced_at_ms: now_ms.max(self.last_time),
            prev: self.last_leaf,
            agency_prev: self.agency_head(&statement.agency),
            statement: statement.bytes().to_vec(),
            key_hash: KeyHash::of(key),
            signature: *signature,
        };
        let bytes = entry
            .encode()
            .map_err(|source| RegistryError::Entry { index, source })?;
        self.apply_inner(entry, leaf_hash(&bytes), false, Some(statement))
            .map(|(applied, _verified_by_caller)| applied)
    }

    /// Checks `entry` against every rule, verifies its signature, and applies it.
    /// On error nothing changes.
    ///
    /// # Errors
    /// The first [`RegistryError`] found.
    pub fn apply(&mut self, entry: &Entry) -> Result<Applied, RegistryError> {
        let bytes = entry.encode().map_err(|source| RegistryError::Entry {
            index: self.next_index,
            source,
        })?;
        self.apply_inner(entry.clone(), leaf_hash(&bytes), true, None)
            .map(|(a, _)| a)
    }

    /// Like [`Registry::apply`], for an encoded envelope as read from a log.
    ///
    /// # Errors
    /// The first [`RegistryError`] found.
    pub fn apply_bytes(&mut self, bytes: &[u8]) -> Result<Applied, RegistryError> {
        let entry = Entry::decode(bytes).map_err(|source| RegistryError::Entry {
            index: self.next_index,
            source,
        })?;
        self.apply_inner(entry, leaf_hash(bytes), true, None)
            .map(|(a, _)| a)
    }

    /// Checks and applies an encoded entry but leaves its signature to the
    /// caller, who must verify the returned [`PendingSignature`] (for example in
    /// a batch) before trusting anything after it. Registry effects are applied,
    /// so if the signature later fails, this registry must be discarded.
    ///
    /// # Errors
    /// The first [`RegistryError`] found, other than the signature.
    pub fn apply_deferred(
        &mut self,
        bytes: &[u8],
    ) -> Result<(Applied, PendingSignature), RegistryError> {
        let entry = Entry::decode(bytes).map_err(|source| RegistryError::Entry {
            index: self.next_index,
            source,
        })?;
        let (applied, pending) = self.apply_inner(entry, leaf_hash(bytes), false, None)?;
        Ok((
            applied,
            pending.expect("deferred apply returns the signature check"),
        ))
    }

    fn apply_inner(
        &mut self,
        entry: Entry,
        leaf: Hash,
        verify_now: bool,
        parsed: Option<Statement>,
    ) -> Result<(Applied, Option<PendingSignature>), RegistryError> {
        let index = entry.index.0;
        if index != self.next_index {
            return Err(RegistryError::Index {
                expected: self.next_index,
                found: index,
            });
        }
        if entry.prev != self.last_leaf {
            return Err(RegistryError::Prev {
                index,
                expected: self.last_leaf,
                found: entry.prev,
            });
        }
        if entry.sequenced_at_ms < self.last_time {
            return Err(RegistryError::Time {
                index,
                previous: self.last_time,
                found: entry.sequenced_at_ms,
            });
        }
        let st = match parsed {
            Some(st) if st.bytes() == entry.statement.as_slice() => st,
            _ => Statement::parse(&entry.statement)
                .map_err(|source| RegistryError::Statement { index, source })?,
        };
        if st.origin != self.origin {
            return Err(RegistryError::Origin {
                index,
                expected: self.origin.clone(),
                found: st.origin.clone(),
            });
        }
        let head = self.agency_head(&st.agency);
        if entry.agency_prev != head {
            return Err(RegistryError::AgencyPrev {
                index,
                expected: head.map(|h| h.0),
                found: entry.agency_prev.map(|h| h.0),
            });
        }
        let used = self
            .submissions
            .used_at(&st.agency, st.submission_id.as_str())
            .map_err(|source| RegistryError::SubmissionIds { index, source })?;
        if used.is_some_and(|at| at.0 != index) {
            return Err(RegistryError::DuplicateSubmission {
                index,
                agency: st.agency.to_string(),
                submission_id: st.submission_id.as_str().to_owned(),
            });
        }
        let effect = self
            .effect(index, &st)
            .map_err(|reason| RegistryError::Rule { index, reason })?;
        // The key that must have signed.
        let key = match (&effect, st.agency.is_registry()) {
            (Effect::Genesis { authority, .. }, _) => *authority,
            (_, true) => self.authority.expect("effect() requires genesis first"),
            (_, false) => {
                let agency =
                    self.agencies
                        .get(&st.agency)
                        .ok_or_else(|| RegistryError::UnknownAgency {
                            index,
                            agency: st.agency.to_string(),
                        })?;
                agency
                    .active_keys()
                    .find(|k| k.key_hash == entry.key_hash)
                    .map(|k| k.key)
                    .ok_or_else(|| RegistryError::KeyNotActive {
                        index,
                        agency: st.agency.to_string(),
                        key_hash: entry.key_hash.0,
                    })?
            }
        };
        if KeyHash::of(&key) != entry.key_hash {
            return Err(RegistryError::KeyNotActive {
                index,
                agency: st.agency.to_string(),
                key_hash: entry.key_hash.0,
            });
        }
        if let Effect::Access(action) = &effect {
            self.access
                .check(
                    action,
                    &st.agency,
                    entry.index,
                    entry.sequenced_at_ms,
                    |a| self.agencies.contains_key(a),
                )
                .map_err(|r| match r {
                    AccessRefusal::Denied(denial, reason) => RegistryError::Access {
                        index,
                        denial,
                        reason,
                    },
                    AccessRefusal::Rule(reason) => RegistryError::Rule { index, reason },
                })?;
        }
        let pending = PendingSignature {
            index: entry.index,
            key,
            message: signed_message(&entry.statement),
            signature: entry.signature,
        };
        let pending = if verify_now {
            pending.verify()?;
            None
        } else {
            Some(pending)
        };

        // Every check passed: commit (the submission id first: the one step
        // that can fail).
        self.submissions
            .record(&st.agency, st.submission_id.as_str(), entry.index)
            .map_err(|source| RegistryError::SubmissionIds { index, source })?;
        self.commit(effect, entry.index);
        if st.payload_commitment.is_some() {
            self.access
                .record_payload(entry.index, &st.agency, &st.kind);
        }
        if st.agency.is_registry() {
            self.registry_last = Some(entry.index);
        } else if let Some(a) = self.agencies.get_mut(&st.agency) {
            a.last_entry = Some(entry.index);
            a.entries += 1;
        }
        self.next_index += 1;
        self.last_leaf = leaf;
        self.last_time = entry.sequenced_at_ms;
        Ok((
            Applied {
                entry,
                leaf_hash: leaf,
                statement: st,
            },
            pending,
        ))
    }

    /// Decides what a statement changes, checking the registry rules
    /// (spec/registry.md §3) without changing anything.
    fn effect(&self, index: u64, st: &Statement) -> Result<Effect, String> {
        let is_registry_type = st.kind.family() == Some(TypeFamily::Registry);
        if index == 0 && st.kind.as_str() != TYPE_GENESIS {
            return Err(format!("entry 0 must be {TYPE_GENESIS}"));
        }
        if is_registry_type != st.agency.is_registry() {
            return Err(format!(
                "registry.* statements, and only they, must come from agency {REGISTRY_AGENCY:?}"
            ));
        }
        if let Some(action) = AccessAction::parse(st) {
            // Checked against the access state after the signer (§6.4).
            return action.map(Effect::Access);
        }
        if !is_registry_type {
            return Ok(Effect::None);
        }
        if st.channel != Channel::G2G {
            return Err("registry statements use channel G2G".into());
        }
        let obj = &st.object;
        let agency_of = |field: &str| -> Result<AgencyId, String> {
            let id = AgencyId::new(
                obj.get(field)
                    .and_then(JsonValue::as_str)
                    .unwrap_or_default(),
            )
            .map_err(|e| format!("object.{field}: {e}"))?;
            if id.is_registry() {
                return Err(format!("object.{field} may not be {REGISTRY_AGENCY:?}"));
            }
            Ok(id)
        };
        let fresh = |key: &VerifyingKey| -> Result<(), String> {
            match self.key_owner.get(&KeyHash::of(key)) {
                Some(owner) => Err(format!(
                    "key is already registered (to {owner}); keys are never reused"
                )),
                None => Ok(()),
            }
        };
        let existing = |id: &AgencyId| -> Result<&AgencyRecord, String> {
            self.agencies
                .get(id)
                .ok_or_else(|| format!("agency {id} is not registered"))
        };
        let active = |a: &AgencyRecord, key: &VerifyingKey| -> Result<KeyHash, String> {
            let h = KeyHash::of(key);
            if a.active_keys().any(|k| k.key_hash == h) {
                Ok(h)
            } else {
                Err(format!("key is not an active key of {}", a.id))
            }
        };
        match st.kind.as_str() {
            TYPE_GENESIS => {
                if index != 0 {
                    return Err(format!("{TYPE_GENESIS} may only be entry 0"));
                }
                only_fields(obj, &["authority_key", "log_vkey"])?;
                let authority = parse_key("authority_key", obj.get("authority_key"))?;
                let log_vkey = text_field(obj, "log_vkey", 1024)?;
                let verifier = crate::note::Ed25519Verifier::from_vkey(&log_vkey)
                    .map_err(|e| format!("object.log_vkey: {e}"))?;
                use crate::note::NoteVerifier as _;
                if verifier.name().as_str() != self.origin {
                    return Err("object.log_vkey must be named after the log's origin".into());
                }
                if self
                    .anchors
                    .authority_key
                    .is_some_and(|want| want != authority)
                {
                    return Err(
                        "genesis names a different registry authority key than the trusted one"
                            .into(),
                    );
                }
                if self
                    .anchors
                    .log_vkey
                    .as_ref()
                    .is_some_and(|want| *want != log_vkey)
                {
                    return Err("genesis names a different log key than the trusted one".into());
                }
                Ok(Effect::Genesis {
                    authority,
                    log_vkey,
                })
            }
            TYPE_REGISTER => {
                only_fields(obj, &["agency", "name", "key"])?;
                let agency = agency_of("agency")?;
                if self.agencies.contains_key(&agency) {
                    return Err(format!("agency {agency} is already registered"));
                }
                let key = parse_key("key", obj.get("key"))?;
                fresh(&key)?;
                Ok(Effect::Register {
                    name: text_field(obj, "name", 256)?,
                    agency,
                    key,
                })
            }
            TYPE_KEY_ADD => {
                only_fields(obj, &["agency", "key"])?;
                let agency = agency_of("agency")?;
                existing(&agency)?;
                let key = parse_key("key", obj.get("key"))?;
                fresh(&key)?;
                Ok(Effect::AddKey { agency, key })
            }
            TYPE_KEY_ROTATE => {
                only_fields(obj, &["agency", "old_key", "new_key"])?;
                let agency = agency_of("agency")?;
                let a = existing(&agency)?;
                let old = active(a, &parse_key("old_key", obj.get("old_key"))?)?;
                let new = parse_key("new_key", obj.get("new_key"))?;
                fresh(&new)?;
                Ok(Effect::Rotate { agency, old, new })
            }
            TYPE_KEY_REVOKE => {
                only_fields(obj, &["agency", "key", "reason"])?;
                let agency = agency_of("agency")?;
                let a = existing(&agency)?;
                let key = active(a, &parse_key("key", obj.get("key"))?)?;
                Ok(Effect::Revoke {
                    agency,
                    key,
                    reason: text_field(obj, "reason", 512)?,
                })
            }
            other => Err(format!("unknown registry statement type {other}")),
        }
    }

    fn commit(&mut self, effect: Effect, at: LeafIndex) {
        let record = |key: VerifyingKey| KeyRecord {
            key,
            key_hash: KeyHash::of(&key),
            added_at: at,
            revoked_at: None,
            revoke_reason: None,
        };
        match effect {
            Effect::None => {}
            Effect::Access(action) => self.access.apply(action, at),
            Effect::Genesis {
                authority,
                log_vkey,
            } => {
                self.key_owner.insert(
                    KeyHash::of(&authority),
                    AgencyId::new(REGISTRY_AGENCY).expect("valid id"),
                );
                self.authority = Some(authority);
                self.log_vkey = Some(log_vkey);
            }
            Effect::Register { agency, name, key } => {
                self.key_owner.insert(KeyHash::of(&key), agency.clone());
                self.agencies.insert(
                    agency.clone(),
                    AgencyRecord {
                        id: agency,
                        name,
                        registered_at: at,
                        keys: vec![record(key)],
                        last_entry: None,
                        entries: 0,
                    },
                );
            }
            Effect::AddKey { agency, key } => {
                self.key_owner.insert(KeyHash::of(&key), agency.clone());
                if let Some(a) = self.agencies.get_mut(&agency) {
                    a.keys.push(record(key));
                }
            }
            Effect::Rotate { agency, old, new } => {
                self.key_owner.insert(KeyHash::of(&new), agency.clone());
                if let Some(a) = self.agencies.get_mut(&agency) {
                    for k in a.keys.iter_mut().filter(|k| k.key_hash == old) {
                        k.revoked_at = Some(at);
                        k.revoke_reason = Some("rotated".into());
                    }
                    a.keys.push(record(new));
                }
            }
            Effect::Revoke {
                agency,
                key,
                reason,
            } => {
                if let Some(a) = self.agencies.get_mut(&agency) {
                    for k in a.keys.iter_mut().filter(|k| k.key_hash == key) {
                        k.revoked_at = Some(at);
                        k.revoke_reason = Some(reason.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::sign_statement;
    use crate::note::Ed25519Signer;
    use ed25519_dalek::SigningKey;

    const ORIGIN: &str = "ledger.example.gov/test";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn b64(k: &SigningKey) -> String {
        STANDARD.encode(k.verifying_key().as_bytes())
    }

    fn log_vkey() -> String {
        let name = crate::note::KeyName::new(ORIGIN).unwrap();
        Ed25519Signer::new(name, key(99)).verifier().to_vkey()
    }

    fn stmt(agency: &str, sub: &str, kind: &str, channel: &str, object: &str) -> Vec<u8> {
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"{agency}","submission_id":"{sub}","type":"{kind}","channel":"{channel}","occurred_at":"2026-11-28T08:00:00Z","object":{object}}}"#
        )
        .into_bytes()
    }

    struct Ledger {
        reg: Registry,
        time: u64,
    }

    impl Ledger {
        fn new() -> Ledger {
            let anchors = TrustAnchors {
                authority_key: Some(key(1).verifying_key()),
                log_vkey: Some(log_vkey()),
            };
            let mut l = Ledger {
                reg: Registry::new(ORIGIN, anchors),
                time: 1000,
            };
            let genesis = stmt(
                "registry",
                "genesis",
                TYPE_GENESIS,
                "G2G",
                &format!(
                    r#"{{"authority_key":"{}","log_vkey":"{}"}}"#,
                    b64(&key(1)),
                    log_vkey()
                ),
            );
            l.append(&key(1), &genesis).unwrap();
            l
        }

        fn entry(&self, signer: &SigningKey, statement: &[u8]) -> Result<Entry, RegistryError> {
            self.reg
                .build_entry(statement, &sign_statement(signer, statement), self.time)
        }

        fn append(
            &mut self,
            signer: &SigningKey,
            statement: &[u8],
        ) -> Result<Applied, RegistryError> {
            self.time += 10;
            let sig = sign_statement(signer, statement);
            self.reg.sequence(statement, &sig, self.time)
        }

        fn register(&mut self, agency: &str, k: &SigningKey) {
            let s = stmt(
                "registry",
                &format!("reg-{agency}"),
                TYPE_REGISTER,
                "G2G",
                &format!(
                    r#"{{"agency":"{agency}","name":"Agency {agency}","key":"{}"}}"#,
                    b64(k)
                ),
            );
            self.append(&key(1), &s).unwrap();
        }
    }

    fn decision(agency: &str, sub: &str) -> Vec<u8> {
        stmt(
            agency,
            sub,
            "decision.permit.granted",
            "G2B",
            r#"{"outcome":"granted"}"#,
        )
    }

    /// Issue #14 item 12: every strict verifier must agree on every registered
    /// key, so a non-canonical encoding (which dalek decodes) is refused.
    #[test]
    fn non_canonical_and_weak_keys_are_not_registered() {
        let mut l = Ledger::new();
        let mut big_y = [0xffu8; 32];
        big_y[0] = 0xee;
        big_y[31] = 0x7f;
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for (sub, raw, why) in [("a", big_y, "canonical"), ("b", identity, "weak")] {
            let st = stmt(
                "registry",
                sub,
                TYPE_REGISTER,
                "G2G",
                &format!(
                    r#"{{"agency":"odd","name":"Odd","key":"{}"}}"#,
                    STANDARD.encode(raw)
                ),
            );
            let err = l.append(&key(1), &st).unwrap_err();
            assert_eq!(err.code(), "registry_rule", "{err}");
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn a_ledger_replays_and_tracks_keys() {
        let mut l = Ledger::new();
        l.register("city", &key(2));
        let a = l.append(&key(2), &decision("city", "1")).unwrap();
        assert_eq!(a.entry.agency_prev, None);
        let b = l.append(&key(2), &decision("city", "2")).unwrap();
        assert_eq!(b.entry.agency_prev, Some(a.entry.index));
        assert_eq!(b.entry.prev, a.leaf_hash);

        // Rotate to key 3: the old key stops working right after the rotation.
        let rotate = stmt(
            "registry",
            "rot-1",
            TYPE_KEY_ROTATE,
            "G2G",
            &format!(
                r#"{{"agency":"city","old_key":"{}","new_key":"{}"}}"#,
                b64(&key(2)),
                b64(&key(3))
            ),
        );
        let r = l.append(&key(1), &rotate).unwrap();
        // A rotated-out key is a key problem (403 at the API), a stranger's key a
        // bad signature (401).
        assert!(matches!(
            l.append(&key(2), &decision("city", "3")),
            Err(RegistryError::KeyNotActive { .. })
        ));
        assert!(matches!(
            l.append(&key(9), &decision("city", "3")),
            Err(RegistryError::BadSignature { .. })
        ));
        l.append(&key(3), &decision("city", "3")).unwrap();
        let city = l.reg.agency(&AgencyId::new("city").unwrap()).unwrap();
        assert_eq!(city.keys.len(), 2);
        assert_eq!(city.keys[0].revoked_at, Some(r.entry.index));
        assert_eq!(city.entries, 3);

        // Replaying the same entries from bytes, with deferred signatures, agrees.
        let mut replay = Registry::new(ORIGIN, TrustAnchors::default());
        let mut count = 0;
        let mut src = Ledger::new();
        src.register("city", &key(2));
        for i in 0..3 {
            src.append(&key(2), &decision("city", &i.to_string()))
                .unwrap();
        }
        let mut entries = vec![];
        let mut rebuild = Registry::new(ORIGIN, TrustAnchors::default());
        // Rebuild the same ledger entry by entry, capturing the envelopes.
        let mut t = 1000;
        for (signer, s) in [
            (
                key(1),
                stmt(
                    "registry",
                    "genesis",
                    TYPE_GENESIS,
                    "G2G",
                    &format!(
                        r#"{{"authority_key":"{}","log_vkey":"{}"}}"#,
                        b64(&key(1)),
                        log_vkey()
                    ),
                ),
            ),
            (
                key(1),
                stmt(
                    "registry",
                    "reg-city",
                    TYPE_REGISTER,
                    "G2G",
                    &format!(
                        r#"{{"agency":"city","name":"Agency city","key":"{}"}}"#,
                        b64(&key(2))
                    ),
                ),
            ),
            (key(2), decision("city", "0")),
        ] {
            t += 10;
            let e = rebuild
                .build_entry(&s, &sign_statement(&signer, &s), t)
                .unwrap();
            rebuild.apply(&e).unwrap();
            entries.push(e.encode().unwrap());
        }
        for bytes in &entries {
            let (_, pending) = replay.apply_deferred(bytes).unwrap();
            pending.verify().unwrap();
            count += 1;
        }
        assert_eq!(count, 3);
        assert_eq!(replay.last_leaf_hash(), rebuild.last_leaf_hash());
        assert_eq!(replay.log_vkey(), Some(log_vkey().as_str()));
    }

    #[test]
    fn every_rule_is_enforced() {
        let mut l = Ledger::new();
        l.register("city", &key(2));
        l.register("tax", &key(4));
        let good = l.entry(&key(2), &decision("city", "x")).unwrap();
        let codes = |l: &mut Ledger, e: Entry| l.reg.clone().apply(&e).unwrap_err().code();

        let mut e = good.clone();
        e.index = LeafIndex(e.index.0 + 1);
        assert_eq!(codes(&mut l, e), "wrong_index");
        let mut e = good.clone();
        e.prev = Hash([1; 32]);
        assert_eq!(codes(&mut l, e), "broken_chain");
        let mut e = good.clone();
        e.agency_prev = Some(LeafIndex(0));
        assert_eq!(codes(&mut l, e), "broken_agency_chain");
        let mut e = good.clone();
        e.sequenced_at_ms = 5;
        assert_eq!(codes(&mut l, e), "time_went_backwards");
        let mut e = good.clone();
        e.signature[0] ^= 1;
        assert_eq!(codes(&mut l, e), "bad_signature");
        let mut e = good.clone();
        e.key_hash = KeyHash::of(&key(4).verifying_key());
        assert_eq!(codes(&mut l, e), "key_not_active");

        // Another log's statement.
        let other = String::from_utf8(decision("city", "y"))
            .unwrap()
            .replace(ORIGIN, "other.example/log");
        let sig = sign_statement(&key(2), other.as_bytes());
        let e = l.reg.build_entry(other.as_bytes(), &sig, 2000).unwrap();
        assert_eq!(codes(&mut l, e), "wrong_origin");

        // Duplicate submission id.
        l.append(&key(2), &decision("city", "dup")).unwrap();
        assert_eq!(
            l.append(&key(2), &decision("city", "dup"))
                .unwrap_err()
                .code(),
            "duplicate_submission"
        );
        // The same id from another agency is fine.
        l.append(&key(4), &decision("tax", "dup")).unwrap();

        // Unknown agency; an agency signing a registry statement; the authority
        // signing for an agency.
        assert_eq!(
            l.append(&key(2), &decision("nobody", "1"))
                .unwrap_err()
                .code(),
            "unknown_agency"
        );
        let reg_by_agency = stmt(
            "city",
            "r",
            TYPE_REGISTER,
            "G2G",
            &format!(r#"{{"agency":"z","name":"Z","key":"{}"}}"#, b64(&key(7))),
        );
        assert_eq!(
            l.append(&key(2), &reg_by_agency).unwrap_err().code(),
            "registry_rule"
        );
        assert_eq!(
            l.append(&key(1), &decision("city", "2"))
                .unwrap_err()
                .code(),
            "bad_signature"
        );

        // Registry rules: key reuse, double registration, unknown fields, second genesis.
        let reuse = stmt(
            "registry",
            "r1",
            TYPE_REGISTER,
            "G2G",
            &format!(r#"{{"agency":"z","name":"Z","key":"{}"}}"#, b64(&key(2))),
        );
        assert_eq!(
            l.append(&key(1), &reuse).unwrap_err().code(),
            "registry_rule"
        );
        let twice = stmt(
            "registry",
            "r2",
            TYPE_REGISTER,
            "G2G",
            &format!(r#"{{"agency":"city","name":"Z","key":"{}"}}"#, b64(&key(8))),
        );
        assert_eq!(
            l.append(&key(1), &twice).unwrap_err().code(),
            "registry_rule"
        );
        let extra = stmt(
            "registry",
            "r3",
            TYPE_REGISTER,
            "G2G",
            &format!(
                r#"{{"agency":"z","name":"Z","key":"{}","x":"y"}}"#,
                b64(&key(8))
            ),
        );
        assert_eq!(
            l.append(&key(1), &extra).unwrap_err().code(),
            "registry_rule"
        );
        let genesis2 = stmt(
            "registry",
            "g2",
            TYPE_GENESIS,
            "G2G",
            &format!(
                r#"{{"authority_key":"{}","log_vkey":"{}"}}"#,
                b64(&key(1)),
                log_vkey()
            ),
        );
        assert_eq!(
            l.append(&key(1), &genesis2).unwrap_err().code(),
            "registry_rule"
        );
        let weak = stmt(
            "registry",
            "r4",
            TYPE_REGISTER,
            "G2G",
            r#"{"agency":"z","name":"Z","key":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
        );
        assert_eq!(
            l.append(&key(1), &weak).unwrap_err().code(),
            "registry_rule"
        );

        // Revocation: the key stops working; revoking twice is an error.
        let revoke = stmt(
            "registry",
            "rv",
            TYPE_KEY_REVOKE,
            "G2G",
            &format!(
                r#"{{"agency":"tax","key":"{}","reason":"laptop stolen"}}"#,
                b64(&key(4))
            ),
        );
        l.append(&key(1), &revoke).unwrap();
        // An agency with no active key is still registered: its revoked key is
        // a key problem, not an unknown agency.
        assert_eq!(
            l.append(&key(4), &decision("tax", "after"))
                .unwrap_err()
                .code(),
            "key_not_active"
        );
        let revoke2 = stmt(
            "registry",
            "rv2",
            TYPE_KEY_REVOKE,
            "G2G",
            &format!(
                r#"{{"agency":"tax","key":"{}","reason":"again"}}"#,
                b64(&key(4))
            ),
        );
        assert_eq!(
            l.append(&key(1), &revoke2).unwrap_err().code(),
            "registry_rule"
        );
        // A new key brings the agency back; the revoked key can never return.
        let add = stmt(
            "registry",
            "add",
            TYPE_KEY_ADD,
            "G2G",
            &format!(r#"{{"agency":"tax","key":"{}"}}"#, b64(&key(5))),
        );
        l.append(&key(1), &add).unwrap();
        l.append(&key(5), &decision("tax", "after")).unwrap();
        let readd = stmt(
            "registry",
            "add2",
            TYPE_KEY_ADD,
            "G2G",
            &format!(r#"{{"agency":"tax","key":"{}"}}"#, b64(&key(4))),
        );
        assert_eq!(
            l.append(&key(1), &readd).unwrap_err().code(),
            "registry_rule"
        );

        // A failed apply changed nothing.
        let before = l.reg.next_index();
        let _ = l.append(&key(2), &decision("city", "dup"));
        assert_eq!(l.reg.next_index(), before);
    }

    #[test]
    fn genesis_must_match_the_trust_anchors() {
        let genesis = stmt(
            "registry",
            "genesis",
            TYPE_GENESIS,
            "G2G",
            &format!(
                r#"{{"authority_key":"{}","log_vkey":"{}"}}"#,
                b64(&key(1)),
                log_vkey()
            ),
        );
        let sig = sign_statement(&key(1), &genesis);
        let wrong_authority = TrustAnchors {
            authority_key: Some(key(9).verifying_key()),
            log_vkey: None,
        };
        let mut r = Registry::new(ORIGIN, wrong_authority);
        let e = r.build_entry(&genesis, &sig, 1).unwrap();
        assert_eq!(r.apply(&e).unwrap_err().code(), "registry_rule");
        let wrong_log = TrustAnchors {
            authority_key: None,
            log_vkey: Some("other+01020304+AAAA".into()),
        };
        let mut r = Registry::new(ORIGIN, wrong_log);
        assert_eq!(r.apply(&e).unwrap_err().code(), "registry_rule");
        // A decision cannot be entry 0.
        let r = Registry::new(ORIGIN, TrustAnchors::default());
        let d = decision("city", "1");
        assert!(r.build_entry(&d, &sign_statement(&key(2), &d), 1).is_err());
        // Genesis for another origin's log key.
        let mut r = Registry::new("other.example/log", TrustAnchors::default());
        assert!(r.apply(&e).is_err());
    }

    #[test]
    fn sequence_verified_checks_everything_but_the_signature() {
        let mut l = Ledger::new();
        l.register("city", &key(2));
        let mut twin = l.reg.clone();
        let st = decision("city", "v1");
        let sig = sign_statement(&key(2), &st);
        let a = l.reg.sequence(&st, &sig, 5000).unwrap();
        let parsed = Statement::parse(&st).unwrap();
        let b = twin
            .sequence_verified(parsed, &sig, &key(2).verifying_key(), 5000)
            .unwrap();
        assert_eq!(a.entry, b.entry);
        assert_eq!(a.leaf_hash, b.leaf_hash);

        // A key that is not the agency's is refused, and nothing changes.
        let st = decision("city", "v2");
        let before = twin.next_index();
        let err = twin
            .sequence_verified(
                Statement::parse(&st).unwrap(),
                &sign_statement(&key(7), &st),
                &key(7).verifying_key(),
                6000,
            )
            .unwrap_err();
        assert_eq!(err.code(), "key_not_active");
        assert_eq!(twin.next_index(), before);

        // The registry rules still apply: a duplicate submission id.
        let st = decision("city", "v1");
        let err = twin
            .sequence_verified(
                Statement::parse(&st).unwrap(),
                &sign_statement(&key(2), &st),
                &key(2).verifying_key(),
                6000,
            )
            .unwrap_err();
        assert_eq!(err.code(), "duplicate_submission");
    }
}
