//! The registry state without its submission ids, as bytes: what a server
//! persists with its tree's right edge so that it resumes without replaying
//! the log (spec/durability.md §3), and what `fsck` compares with a full
//! replay. The encoding is canonical: the same log prefix gives the same bytes.
//!
//! ```text
//! state     = version(1) origin:str next_index:u64 last_leaf:32 last_time:u64
//!             authority:opt(32) log_vkey:opt(str) registry_last:opt(u64)
//!             n:u32 agency{n} access
//! agency    = id:str name:str registered_at:u64 last_entry:opt(u64) entries:u64
//!             n:u32 key{n}
//! key       = public_key:32 added_at:u64 revoked_at:opt(u64) reason:opt(str)
//! str       = len:u32 utf8{len}      opt(x) = 0x00 | 0x01 x     integers big-endian
//! ```
//!
//! `access` is [`crate::access::AccessState`]'s encoding. The key owners are
//! not stored: they are the authority's key and every key of every agency.

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;

use super::{AgencyRecord, KeyRecord, Registry, SubmissionIds, TrustAnchors};
use crate::access::AccessState;
use crate::entry::KeyHash;
use crate::hash::Hash;
use crate::index::LeafIndex;
use crate::statement::{AgencyId, REGISTRY_AGENCY};

/// The encoding's version byte.
const VERSION: u8 = 1;
/// The longest string in a state (ids, names, reasons, legal bases).
const MAX_STR: u32 = 1 << 16;

/// Why bytes are not a registry state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The bytes end early, have bytes left over, or hold an invalid field.
    #[error("not a registry state: {0}")]
    Malformed(String),
}

/// Appends the fields of a state, big-endian.
pub(crate) struct Writer<'a>(pub(crate) &'a mut Vec<u8>);

impl Writer<'_> {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("fewer than 2^32 items"));
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.bytes(s.as_bytes());
    }
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }
    pub(crate) fn opt_str(&mut self, v: Option<&str>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.str(v);
            }
        }
    }
}

/// Reads the fields of a state, checking every length against what is left.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

fn malformed(what: &str) -> StateError {
    StateError::Malformed(what.to_owned())
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], StateError> {
        if self.0.len() < n {
            return Err(malformed(&format!("{what} is cut short")));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, StateError> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, StateError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, StateError> {
        let b = self.take(8, what)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    /// A count of items of at least `min_item` bytes each, checked against
    /// what is left before anything is allocated for it.
    pub(crate) fn count(&mut self, min_item: usize, what: &str) -> Result<usize, StateError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item) > self.0.len() {
            return Err(malformed(&format!("{what}: {n} items do not fit")));
        }
        Ok(n)
    }
    pub(crate) fn str(&mut self, what: &str) -> Result<String, StateError> {
        let n = self.u32(what)?;
        if n > MAX_STR {
            return Err(malformed(&format!("{what} is too long")));
        }
        let b = self.take(n as usize, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| malformed(&format!("{what} is not UTF-8")))
    }
    fn flag(&mut self, what: &str) -> Result<bool, StateError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(malformed(&format!("{what}: not 0 or 1"))),
        }
    }
    pub(crate) fn opt_u64(&mut self, what: &str) -> Result<Option<u64>, StateError> {
        if self.flag(what)? {
            self.u64(what).map(Some)
        } else {
            Ok(None)
        }
    }
    pub(crate) fn opt_str(&mut self, what: &str) -> Result<Option<String>, StateError> {
        if self.flag(what)? {
            self.str(what).map(Some)
        } else {
            Ok(None)
        }
    }
    fn key(&mut self, what: &str) -> Result<VerifyingKey, StateError> {
        let b: [u8; 32] = self.take(32, what)?.try_into().expect("32 bytes");
        crate::entry::strict_public_key(&b).map_err(|e| malformed(&format!("{what}: {e}")))
    }
    pub(crate) fn agency(&mut self, what: &str) -> Result<AgencyId, StateError> {
        AgencyId::new(&self.str(what)?).map_err(|e| malformed(&format!("{what}: {e}")))
    }
}

impl Registry {
    /// The state without the submission ids, canonically encoded (module doc).
    pub fn encode_state(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer(&mut out);
        w.u8(VERSION);
        w.str(&self.origin);
        w.u64(self.next_index);
        w.bytes(&self.last_leaf.0);
        w.u64(self.last_time);
        match &self.authority {
            None => w.u8(0),
            Some(k) => {
                w.u8(1);
                w.bytes(k.as_bytes());
            }
        }
        w.opt_str(self.log_vkey.as_deref());
        w.opt_u64(self.registry_last.map(|i| i.0));
        w.len(self.agencies.len());
        for a in self.agencies.values() {
            w.str(a.id.as_str());
            w.str(&a.name);
            w.u64(a.registered_at.0);
            w.opt_u64(a.last_entry.map(|i| i.0));
            w.u64(a.entries);
            w.len(a.keys.len());
            for k in &a.keys {
                w.bytes(k.key.as_bytes());
                w.u64(k.added_at.0);
                w.opt_u64(k.revoked_at.map(|i| i.0));
                w.opt_str(k.revoke_reason.as_deref());
            }
        }
        self.access.encode(&mut w);
        out
    }

    /// Rebuilds a registry from [`Registry::encode_state`]'s bytes, with the
    /// given trust anchors (not part of the state) and submission ids, which
    /// must know every id the state's entries used.
    ///
    /// # Errors
    /// [`StateError::Malformed`] for bytes that are not exactly a state.
    pub fn decode_state(
        bytes: &[u8],
        anchors: TrustAnchors,
        submissions: Box<dyn SubmissionIds>,
    ) -> Result<Registry, StateError> {
        let mut r = Reader(bytes);
        if r.u8("version")? != VERSION {
            return Err(malformed("unknown version"));
        }
        let origin = r.str("origin")?;
        let next_index = r.u64("next index")?;
        let last_leaf = Hash(r.take(32, "last leaf")?.try_into().expect("32 bytes"));
        let last_time = r.u64("last time")?;
        let authority = if r.flag("authority")? {
            Some(r.key("authority key")?)
        } else {
            None
        };
        let log_vkey = r.opt_str("log key")?;
        let registry_last = r.opt_u64("registry head")?.map(LeafIndex);
        let mut agencies = BTreeMap::new();
        let mut key_owner = HashMap::new();
        if let Some(k) = &authority {
            key_owner.insert(
                KeyHash::of(k),
                AgencyId::new(REGISTRY_AGENCY).expect("valid id"),
            );
        }
        for _ in 0..r.count(30, "agencies")? {
            let a = read_agency(&mut r)?;
            for k in &a.keys {
                if key_owner.insert(k.key_hash, a.id.clone()).is_some() {
                    return Err(malformed("a key is registered twice"));
                }
            }
            if agencies.insert(a.id.clone(), a).is_some() {
                return Err(malformed("an agency is listed twice"));
            }
        }
        let access = AccessState::decode(&mut r)?;
        if !r.0.is_empty() {
            return Err(malformed("trailing bytes"));
        }
        Ok(Registry {
            origin,
            anchors,
            next_index,
            last_leaf,
            last_time,
            authority,
            log_vkey,
            registry_last,
            agencies,
            key_owner,
            submissions,
            access,
        })
    }
}

fn read_agency(r: &mut Reader<'_>) -> Result<AgencyRecord, StateError> {
    let id = r.agency("agency id")?;
    let name = r.str("agency name")?;
    let registered_at = LeafIndex(r.u64("registered at")?);
    let last_entry = r.opt_u64("last entry")?.map(LeafIndex);
    let entries = r.u64("entries")?;
    let mut keys = Vec::new();
    for _ in 0..r.count(42, "keys")? {
        let key = r.key("agency key")?;
        keys.push(KeyRecord {
            key,
            key_hash: KeyHash::of(&key),
            added_at: LeafIndex(r.u64("key added at")?),
            revoked_at: r.opt_u64("key revoked at")?.map(LeafIndex),
            revoke_reason: r.opt_str("revoke reason")?,
        });
    }
    Ok(AgencyRecord {
        id,
        name,
        registered_at,
        keys,
        last_entry,
        entries,
    })
}
