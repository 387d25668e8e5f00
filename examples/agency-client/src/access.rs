//! The access statements of spec/registry.md §6: an agency's read or erasure of
//! an entry's private payload, and the registry authority's grants, revocations
//! and erasures. Each is built as a [`StatementSpec`] (channel G2G, exactly the
//! `object` fields of the spec, every value a JSON string) and, before it is
//! signed, checked with ledger-core's own parser for these objects
//! ([`AccessAction::parse`]); and the payload a read returns is checked against
//! the entry's commitment.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ledger_core::access::{
    AccessAction, TYPE_ACCESS_GRANT, TYPE_ACCESS_REVOKE, TYPE_PAYLOAD_ERASE, TYPE_PAYLOAD_READ,
    TYPE_REGISTRY_ERASE,
};
use ledger_core::entry::Entry;
use ledger_core::statement::{Channel, PayloadCommitment, REGISTRY_AGENCY, SALT_BYTES, Statement};

use crate::api::ReadAnswer;
use crate::statement::{JsonObject, SignedStatement, StatementSpec, now_rfc3339, random_hex};

/// An access statement (spec/registry.md §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessStatement {
    /// `access.payload.read`, signed by the reading agency.
    Read {
        /// The reading agency.
        agency: String,
        /// The entry whose payload is read.
        entry: u64,
        /// The official who reads it: a name or staff id (1-256 bytes).
        official: String,
        /// Why (1-512 bytes, public: no personal data).
        purpose: String,
        /// Under which law (1-512 bytes).
        legal_basis: String,
        /// A case or file reference (1-256 bytes).
        case: Option<String>,
    },
    /// `access.payload.erase`, signed by the agency that owns the entry.
    Erase {
        /// The owning agency.
        agency: String,
        /// The entry whose payload is erased.
        entry: u64,
        /// Under which law.
        legal_basis: String,
    },
    /// `registry.payload.erase`, signed by the registry authority.
    RegistryErase {
        /// The entry whose payload is erased.
        entry: u64,
        /// Under which law.
        legal_basis: String,
    },
    /// `registry.access.grant`, signed by the registry authority.
    Grant {
        /// The agency that may read.
        grantee: String,
        /// Whose entries: `*` or one agency id.
        agencies: String,
        /// Which types: `*` or a type prefix of whole segments.
        types: String,
        /// Under which law.
        legal_basis: String,
        /// The grant covers reads sequenced before this RFC 3339 UTC time.
        expires_at: Option<String>,
    },
    /// `registry.access.revoke`, signed by the registry authority.
    Revoke {
        /// The index of the grant's entry.
        grant: u64,
        /// Why (1-512 bytes, public).
        reason: String,
    },
}

impl AccessStatement {
    /// The statement type.
    pub fn kind(&self) -> &'static str {
        match self {
            AccessStatement::Read { .. } => TYPE_PAYLOAD_READ,
            AccessStatement::Erase { .. } => TYPE_PAYLOAD_ERASE,
            AccessStatement::RegistryErase { .. } => TYPE_REGISTRY_ERASE,
            AccessStatement::Grant { .. } => TYPE_ACCESS_GRANT,
            AccessStatement::Revoke { .. } => TYPE_ACCESS_REVOKE,
        }
    }

    /// The agency that signs it: the reader or owner, or `registry`.
    pub fn agency(&self) -> &str {
        match self {
            AccessStatement::Read { agency, .. } | AccessStatement::Erase { agency, .. } => agency,
            _ => REGISTRY_AGENCY,
        }
    }

    /// The statement's `object`: exactly the fields of spec/registry.md §6, in
    /// its order, every value a string.
    pub fn object(&self) -> JsonObject {
        let mut o = JsonObject::new();
        match self {
            AccessStatement::Read {
                entry,
                official,
                purpose,
                legal_basis,
                case,
                ..
            } => {
                o.insert("entry", entry.to_string());
                o.insert("official", official.clone());
                o.insert("purpose", purpose.clone());
                o.insert("legal_basis", legal_basis.clone());
                if let Some(c) = case {
                    o.insert("case", c.clone());
                }
            }
            AccessStatement::Erase {
                entry, legal_basis, ..
            }
            | AccessStatement::RegistryErase { entry, legal_basis } => {
                o.insert("entry", entry.to_string());
                o.insert("legal_basis", legal_basis.clone());
            }
            AccessStatement::Grant {
                grantee,
                agencies,
                types,
                legal_basis,
                expires_at,
            } => {
                o.insert("grantee", grantee.clone());
                o.insert("agencies", agencies.clone());
                o.insert("types", types.clone());
                o.insert("legal_basis", legal_basis.clone());
                if let Some(t) = expires_at {
                    o.insert("expires_at", t.clone());
                }
            }
            AccessStatement::Revoke { grant, reason } => {
                o.insert("grant", grant.to_string());
                o.insert("reason", reason.clone());
            }
        }
        o
    }

    /// The default submission id. A read gets a fresh random one each time, so
    /// that every read is a new access entry (the server never hands a payload
    /// out twice for one); a grant too, since the same grant may be made again
    /// after a revocation. An erasure (`erase/<entry>`, `payload.erase/<entry>`)
    /// or a revocation (`access.revoke/<grant>`) can happen once, so its id is
    /// fixed, and sending it twice is caught as a reused submission id.
    pub fn default_submission_id(&self) -> String {
        match self {
            AccessStatement::Read { entry, .. } => format!("read/{entry}/{}", random_hex(16)),
            AccessStatement::Erase { entry, .. } => format!("erase/{entry}"),
            AccessStatement::RegistryErase { entry, .. } => format!("payload.erase/{entry}"),
            AccessStatement::Grant { grantee, .. } => {
                format!("access.grant/{grantee}/{}", random_hex(8))
            }
            AccessStatement::Revoke { grant, .. } => format!("access.revoke/{grant}"),
        }
    }

    /// The statement for the log `origin`: channel G2G, the default submission
    /// id and the current time unless given.
    pub fn statement(
        &self,
        origin: &str,
        submission_id: Option<String>,
        occurred_at: Option<String>,
    ) -> StatementSpec {
        StatementSpec {
            origin: origin.to_owned(),
            agency: self.agency().to_owned(),
            submission_id: submission_id.unwrap_or_else(|| self.default_submission_id()),
            kind: self.kind().to_owned(),
            channel: Channel::G2G,
            occurred_at: occurred_at.unwrap_or_else(now_rfc3339),
            subject: None,
            object: self.object(),
            payload_commitment: None,
        }
    }

    /// Builds the statement, checks it as the registry will parse it, and signs
    /// it with `key` (the agency's, or the authority's for `registry.*`).
    ///
    /// # Errors
    /// If a field breaks its rule (named as ledger-core names it).
    pub fn sign(
        &self,
        key: &SigningKey,
        origin: &str,
        submission_id: Option<String>,
        occurred_at: Option<String>,
    ) -> Result<SignedStatement> {
        let spec = self.statement(origin, submission_id, occurred_at);
        parse_action(&spec.to_bytes()?)?;
        spec.sign(key, None)
    }
}

/// What an access statement asks for, as ledger-core's registry parses it.
///
/// # Errors
/// If the bytes are not a valid statement, not an access statement, or its
/// object breaks a rule of spec/registry.md §6.
pub fn parse_action(statement: &[u8]) -> Result<AccessAction> {
    let st = Statement::parse(statement).context("the statement is not valid")?;
    match AccessAction::parse(&st) {
        Some(Ok(action)) => Ok(action),
        Some(Err(m)) => bail!("the {} statement is not valid: {m}", st.kind.as_str()),
        None => bail!("{} is not an access statement", st.kind.as_str()),
    }
}

/// The payload commitment of `entry`, which should be entry `index`.
///
/// # Errors
/// If it is another entry, its statement does not parse, or it has no payload.
pub fn commitment_of(entry: &Entry, index: u64) -> Result<PayloadCommitment> {
    if entry.index.0 != index {
        bail!("asked for entry {index}, got entry {}", entry.index.0);
    }
    let st = Statement::parse(&entry.statement)
        .with_context(|| format!("the statement of entry {index} is not valid"))?;
    st.payload_commitment.with_context(|| {
        format!(
            "entry {index} ({} by {}) carries no payload commitment: it has no private payload",
            st.kind.as_str(),
            st.agency.as_str()
        )
    })
}

/// The payload a read returned, checked: it is for entry `entry`, and with its
/// salt it opens `commitment`, the commitment the entry holds in the log.
///
/// # Errors
/// If the answer is malformed or does not open the commitment.
pub fn open_payload(
    answer: &ReadAnswer,
    entry: u64,
    commitment: &PayloadCommitment,
) -> Result<Vec<u8>> {
    if answer.entry != entry {
        bail!(
            "the server returned the payload of entry {}, not {entry}",
            answer.entry
        );
    }
    let payload = STANDARD
        .decode(&answer.payload)
        .context("the returned payload is not base64")?;
    let salt: [u8; SALT_BYTES] = hex::decode(&answer.salt)
        .ok()
        .and_then(|s| s.try_into().ok())
        .context("the returned salt is not 64 hex digits")?;
    if !answer.commitment.eq_ignore_ascii_case(&commitment.to_hex()) {
        bail!(
            "the server names the commitment {}, but entry {entry} commits to {}",
            answer.commitment,
            commitment.to_hex()
        );
    }
    if !commitment.opens(&salt, &payload) {
        bail!(
            "the returned payload and salt do not open entry {entry}'s commitment {}: \
             it is not the payload the entry committed to",
            commitment.to_hex()
        );
    }
    Ok(payload)
}
