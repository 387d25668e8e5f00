//! c2sp.org/tlog-policy: the logs a verifier accepts and the witness
//! cosignatures (c2sp.org/tlog-cosignature) it requires on their checkpoints,
//! with a strict parser ([`Policy::parse`]) and an evaluator
//! ([`Policy::evaluate`]). The normative text is spec/witness-policy.md.
//!
//! ```text
//! # a comment: '#' is the first non-blank character of the line
//! log <vkey, type 0x01> [<url>]
//! witness <name> <vkey, type 0x04> [<url>]
//! group <name> all|any|<k> <member name>...
//! quorum <name>|none
//! ```
//!
//! Fields are separated by runs of spaces and tabs; every line ends in `\n`.
//! A group or the quorum names only witnesses and groups defined on earlier lines,
//! and each name is a group member at most once in the whole policy.
//!
//! Evaluating a 2-of-3 policy on a checkpoint cosigned by two of its witnesses:
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use ledger_core::checkpoint::{sign_checkpoint, Checkpoint, Origin};
//! use ledger_core::note::{CosignatureSigner, Ed25519Signer, KeyName, Note};
//! use ledger_core::policy::{Policy, QuorumStatus};
//! use ledger_core::{Hash, TreeSize};
//!
//! let origin = Origin::new("ledger.example.gov/egov")?;
//! let log = Ed25519Signer::new(origin.key_name(), SigningKey::from_bytes(&[1; 32]));
//! let witnesses: Vec<CosignatureSigner> = (2..5u8)
//!     .map(|i| {
//!         let name = KeyName::new(&format!("w{i}.example.org")).unwrap();
//!         CosignatureSigner::new(name, SigningKey::from_bytes(&[i; 32]))
//!     })
//!     .collect();
//! let text = format!(
//!     "log {}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup G 2 A B C\nquorum G\n",
//!     log.verifier().to_vkey(),
//!     witnesses[0].verifier().to_vkey(),
//!     witnesses[1].verifier().to_vkey(),
//!     witnesses[2].verifier().to_vkey(),
//! );
//! let policy = Policy::parse(text.as_bytes())?;
//!
//! let cp = Checkpoint::new(origin, TreeSize(0), Hash::empty_tree());
//! let mut note = Note::parse(&sign_checkpoint(&cp, &log))?;
//! note.signatures.push(witnesses[0].sign(note.text.as_bytes(), 1_800_000_100)?);
//! note.signatures.push(witnesses[2].sign(note.text.as_bytes(), 1_800_000_000)?);
//!
//! let evaluation = policy.evaluate(&note.to_bytes())?;
//! assert_eq!(evaluation.cosigners().len(), 2);
//! // Both are needed, so the older timestamp is what the quorum attests.
//! assert_eq!(
//!     evaluation.quorum(),
//!     QuorumStatus::Met { freshness_time: 1_800_000_000 }
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::checkpoint::{Checkpoint, CheckpointError, Origin, open_checkpoint};
use crate::index::parse_canonical_u64;
use crate::note::{
    CosignatureVerifier, Ed25519Verifier, Note, NoteError, NoteVerifier, cosignature_timestamp,
};

/// The largest policy, in bytes, that [`Policy::parse`] accepts; checked first.
pub const MAX_POLICY_SIZE: usize = 64 * 1024;

/// The most `log` lines a policy may have (c2sp.org/tlog-policy, "Implementation
/// limits", asks for at least 32).
pub const MAX_LOGS: usize = 64;

/// The most `witness` lines a policy may have (the spec asks for at least 32).
pub const MAX_WITNESSES: usize = 256;

/// The most `group` lines a policy may have (the spec asks for at least 32).
pub const MAX_GROUPS: usize = 256;

/// The predefined name that, as the quorum, requires no cosignature
/// (c2sp.org/tlog-policy, "Defining the quorum").
const NONE: &[u8] = b"none";

/// Everything that can be wrong with a policy file (`line` counts from 1), and
/// the ways evaluating a checkpoint against a policy can fail. A quorum that is
/// not met is not an error: see [`Evaluation::quorum`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy is larger than [`MAX_POLICY_SIZE`].
    #[error("the policy is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// The size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A byte other than tab, newline, 0x20–0x7E or 0x80–0xFF, such as a carriage
    /// return (spec/witness-policy.md §2.1).
    #[error("line {line}: forbidden byte 0x{byte:02x}")]
    ForbiddenByte {
        /// The line of the byte.
        line: usize,
        /// The byte.
        byte: u8,
    },
    /// The last line does not end in a newline.
    #[error("the last line of the policy does not end in a newline")]
    MissingFinalNewline,
    /// The first field of a line is not `log`, `witness`, `group` or `quorum`.
    #[error("line {line}: unknown keyword {keyword:?}")]
    UnknownKeyword {
        /// The line.
        line: usize,
        /// The keyword, lossily decoded.
        keyword: String,
    },
    /// A line has too few or too many fields for its keyword.
    #[error("line {line}: wrong number of fields for {keyword:?}")]
    FieldCount {
        /// The line.
        line: usize,
        /// The keyword.
        keyword: &'static str,
    },
    /// A `log` line's verifier key is not a valid Ed25519 note key (type 0x01):
    /// malformed, of another type, weak or non-canonical.
    #[error("line {line}: invalid log key: {error}")]
    LogKey {
        /// The line.
        line: usize,
        /// Why the key was refused.
        error: NoteError,
    },
    /// A `log` line's key name cannot be a checkpoint origin.
    #[error("line {line}: the log key's name is not a valid origin: {error}")]
    LogKeyName {
        /// The line.
        line: usize,
        /// Why the name is not an origin.
        error: CheckpointError,
    },
    /// A `witness` line's verifier key is not a valid cosignature key (type
    /// 0x04): malformed, of another type, weak or non-canonical.
    #[error("line {line}: invalid witness key: {error}")]
    WitnessKey {
        /// The line.
        line: usize,
        /// Why the key was refused.
        error: NoteError,
    },
    /// A `log` line has the public key of an earlier one.
    #[error("line {line}: duplicate log key")]
    DuplicateLog {
        /// The line.
        line: usize,
    },
    /// A `witness` line has the public key of an earlier one.
    #[error("line {line}: duplicate witness key")]
    DuplicateWitness {
        /// The line.
        line: usize,
    },
    /// A witness or group takes a name already defined.
    #[error("line {line}: the name {name} is already defined")]
    DuplicateName {
        /// The line.
        line: usize,
        /// The name.
        name: PolicyName,
    },
    /// A witness or group is named `none`, which is predefined.
    #[error("line {line}: the name \"none\" is reserved")]
    ReservedName {
        /// The line.
        line: usize,
    },
    /// A group member or the quorum names nothing defined on an earlier line.
    #[error("line {line}: {name} is not defined on an earlier line")]
    UndefinedName {
        /// The line.
        line: usize,
        /// The name.
        name: PolicyName,
    },
    /// A group lists `none` as a member.
    #[error("line {line}: \"none\" cannot be a group member")]
    NoneMember {
        /// The line.
        line: usize,
    },
    /// A name is listed as a group member for the second time in the policy.
    #[error("line {line}: {name} is already a group member")]
    MemberReused {
        /// The line.
        line: usize,
        /// The name.
        name: PolicyName,
    },
    /// A group threshold is not `all`, `any` or a decimal number without sign or
    /// leading zeros.
    #[error("line {line}: the threshold must be all, any or a decimal number")]
    InvalidThreshold {
        /// The line.
        line: usize,
    },
    /// A numeric group threshold is 0 or larger than the number of members.
    #[error("line {line}: threshold {k} is not between 1 and the {members} members")]
    ThresholdOutOfRange {
        /// The line.
        line: usize,
        /// The threshold.
        k: u64,
        /// The number of members.
        members: usize,
    },
    /// A second `quorum` line.
    #[error("line {line}: a second quorum line")]
    DuplicateQuorum {
        /// The line.
        line: usize,
    },
    /// The policy has no `quorum` line.
    #[error("the policy has no quorum line")]
    MissingQuorum,
    /// More than [`MAX_LOGS`] logs.
    #[error("line {line}: more than {MAX_LOGS} logs")]
    TooManyLogs {
        /// The line.
        line: usize,
    },
    /// More than [`MAX_WITNESSES`] witnesses.
    #[error("line {line}: more than {MAX_WITNESSES} witnesses")]
    TooManyWitnesses {
        /// The line.
        line: usize,
    },
    /// More than [`MAX_GROUPS`] groups.
    #[error("line {line}: more than {MAX_GROUPS} groups")]
    TooManyGroups {
        /// The line.
        line: usize,
    },
    /// Evaluating: the checkpoint is malformed, or its log signature (or origin)
    /// does not verify.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Evaluating: no log of the policy has a signature line on the checkpoint.
    #[error("the checkpoint of {origin} has no signature line of a log in the policy")]
    UnknownLog {
        /// The checkpoint's (unverified) origin.
        origin: Origin,
    },
}

/// The name of a witness or group: one field of a policy line, handled as an
/// opaque octet string (c2sp.org/tlog-policy, "Character set"). Never empty,
/// never `none`, and free of whitespace and control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyName(Box<[u8]>);

impl PolicyName {
    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The name, with invalid UTF-8 replaced by U+FFFD.
impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyName({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// The optional URL of a log or witness: one field, opaque octets whose meaning
/// is up to the application (c2sp.org/tlog-policy, "Defining a log").
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PolicyUrl(Box<[u8]>);

impl PolicyUrl {
    /// The URL's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The URL as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

/// A `log` line: a log whose signature makes a checkpoint acceptable.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PolicyLog {
    verifier: Ed25519Verifier,
    origin: Origin,
    url: Option<PolicyUrl>,
}

impl PolicyLog {
    /// The log's verifier key.
    pub fn verifier(&self) -> &Ed25519Verifier {
        &self.verifier
    }

    /// The origin of its checkpoints: its key name.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Its URL, if the line has one.
    pub fn url(&self) -> Option<&PolicyUrl> {
        self.url.as_ref()
    }
}

/// A `witness` line: a named cosigner.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PolicyWitness {
    name: PolicyName,
    verifier: CosignatureVerifier,
    url: Option<PolicyUrl>,
}

impl PolicyWitness {
    /// Its name in the policy (not its key name).
    pub fn name(&self) -> &PolicyName {
        &self.name
    }

    /// Its cosignature verifier key.
    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.verifier
    }

    /// Its URL (the tlog-witness submission prefix), if the line has one.
    pub fn url(&self) -> Option<&PolicyUrl> {
        self.url.as_ref()
    }
}

/// A witness or a group, by its index in the policy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Node {
    Witness(usize),
    Group(usize),
}

/// A `group` line: witnessed when at least `threshold` of its members are.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PolicyGroup {
    name: PolicyName,
    threshold: usize,
    members: Vec<PolicyName>,
    nodes: Vec<Node>,
}

impl PolicyGroup {
    /// Its name.
    pub fn name(&self) -> &PolicyName {
        &self.name
    }

    /// How many members must have witnessed: 1 for `any`, all for `all`.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Its members, in the order of the line.
    pub fn members(&self) -> &[PolicyName] {
        &self.members
    }

    /// The group's freshness time given its members' (spec/witness-policy.md §4.2):
    /// the `threshold`-th newest, or `None` if fewer members have witnessed.
    fn freshness(&self, witnesses: &[Option<u64>], groups: &[Option<u64>]) -> Option<u64> {
        let mut times: Vec<u64> = self
            .nodes
            .iter()
            .filter_map(|&n| node_time(n, witnesses, groups))
            .collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        times.get(self.threshold.checked_sub(1)?).copied()
    }
}

/// The freshness time of a witness or an already evaluated group.
fn node_time(node: Node, witnesses: &[Option<u64>], groups: &[Option<u64>]) -> Option<u64> {
    match node {
        Node::Witness(i) => witnesses.get(i).copied().flatten(),
        Node::Group(i) => groups.get(i).copied().flatten(),
    }
}

/// A parsed witness policy (c2sp.org/tlog-policy): logs, witnesses, groups and
/// the quorum.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    quorum: Option<(PolicyName, Node)>,
}

/// A witness with a valid cosignature on the evaluated checkpoint.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cosigner {
    /// The witness's name in the policy.
    pub witness: PolicyName,
    /// The timestamp of its newest valid cosignature (POSIX seconds).
    pub timestamp: u64,
}

/// Whether the cosigners meet a policy's quorum (spec/witness-policy.md §4).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QuorumStatus {
    /// `quorum none`: no cosignature is required, and none attests freshness.
    NotRequired,
    /// The quorum is met. `freshness_time` is the largest `T` such that the
    /// witnesses whose valid cosignatures have timestamps `>= T` still meet the
    /// quorum: a whole quorum attests that the checkpoint was the newest they had
    /// seen at `T` or later (spec/witness-policy.md §4.2). It can lie in the
    /// future if a quorum's clocks do.
    Met {
        /// The quorum's freshness time (POSIX seconds).
        freshness_time: u64,
    },
    /// The valid cosignatures do not meet the quorum.
    NotMet,
}

impl QuorumStatus {
    /// Whether the checkpoint is acceptable under the policy: met or not required.
    pub fn is_met(self) -> bool {
        !matches!(self, QuorumStatus::NotMet)
    }

    /// The quorum's freshness time, if the quorum is met by cosignatures.
    pub fn freshness_time(self) -> Option<u64> {
        match self {
            QuorumStatus::Met { freshness_time } => Some(freshness_time),
            _ => None,
        }
    }
}

/// A checkpoint whose log signature verified, with the policy's verdict on its
/// cosignatures. Only [`Policy::evaluate`] and [`Policy::evaluate_with_log`] make
/// one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Evaluation {
    checkpoint: Checkpoint,
    cosigners: Vec<Cosigner>,
    quorum: QuorumStatus,
}

impl Evaluation {
    /// The checkpoint, signed by the log.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The policy's witnesses with a valid cosignature, in policy order.
    pub fn cosigners(&self) -> &[Cosigner] {
        &self.cosigners
    }

    /// Whether the quorum is met, and its freshness time.
    pub fn quorum(&self) -> QuorumStatus {
        self.quorum
    }
}

/// Whether a byte may appear in a policy (c2sp.org/tlog-policy, "Character set").
fn allowed_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x20..=0x7e | 0x80..=0xff)
}

/// Checks the size, the character set and the final newline; returns the lines.
fn split_lines(bytes: &[u8]) -> Result<Vec<&[u8]>, PolicyError> {
    if bytes.len() > MAX_POLICY_SIZE {
        return Err(PolicyError::TooLarge {
            size: bytes.len(),
            max: MAX_POLICY_SIZE,
        });
    }
    if let Some(at) = bytes.iter().position(|&b| !allowed_byte(b)) {
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        return Err(PolicyError::ForbiddenByte {
            line,
            byte: bytes[at],
        });
    }
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let body = bytes
        .strip_suffix(b"\n")
        .ok_or(PolicyError::MissingFinalNewline)?;
    Ok(body.split(|&b| b == b'\n').collect())
}

/// The fields of a line: separated by runs of spaces and tabs, with leading and
/// trailing ones ignored.
fn fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty())
        .collect()
}

/// A policy being parsed.
#[derive(Default)]
struct Builder {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    names: BTreeMap<PolicyName, Node>,
    members: BTreeSet<PolicyName>,
    /// `None` until the quorum line; `Some(None)` for `quorum none`.
    quorum: Option<Option<(PolicyName, Node)>>,
}

/// Decodes a vkey field; a key string is UTF-8 (c2sp.org/signed-note).
fn vkey_str(field: &[u8]) -> Result<&str, NoteError> {
    std::str::from_utf8(field).map_err(|_| NoteError::KeyFormat)
}

impl Builder {
    fn line(&mut self, line: usize, keyword: &[u8], args: &[&[u8]]) -> Result<(), PolicyError> {
        match keyword {
            b"log" => self.log(line, args),
            b"witness" => self.witness(line, args),
            b"group" => self.group(line, args),
            b"quorum" => self.quorum(line, args),
            _ => Err(PolicyError::UnknownKeyword {
                line,
                keyword: String::from_utf8_lossy(keyword).into_owned(),
            }),
        }
    }

    /// `log <vkey> [<url>]` (c2sp.org/tlog-policy, "Defining a log").
    fn log(&mut self, line: usize, args: &[&[u8]]) -> Result<(), PolicyError> {
        let (vkey, url) = match args {
            [vkey] => (*vkey, None),
            [vkey, url] => (*vkey, Some(*url)),
            _ => {
                return Err(PolicyError::FieldCount {
                    line,
                    keyword: "log",
                });
            }
        };
        if self.logs.len() == MAX_LOGS {
            return Err(PolicyError::TooManyLogs { line });
        }
        let verifier = vkey_str(vkey)
            .and_then(Ed25519Verifier::from_vkey)
            .map_err(|error| PolicyError::LogKey { line, error })?;
        let origin = Origin::new(verifier.name().as_str())
            .map_err(|error| PolicyError::LogKeyName { line, error })?;
        let key = verifier.verifying_key();
        if self.logs.iter().any(|l| l.verifier.verifying_key() == key) {
            return Err(PolicyError::DuplicateLog { line });
        }
        self.logs.push(PolicyLog {
            verifier,
            origin,
            url: url.map(|u| PolicyUrl(u.into())),
        });
        Ok(())
    }

    /// Checks that `name` may be defined.
    fn new_name(&self, line: usize, name: &[u8]) -> Result<PolicyName, PolicyError> {
        if name == NONE {
            return Err(PolicyError::ReservedName { line });
        }
        let name = PolicyName(name.into());
        if self.names.contains_key(&name) {
            return Err(PolicyError::DuplicateName { line, name });
        }
        Ok(name)
    }

    /// `witness <name> <vkey> [<url>]` (c2sp.org/tlog-policy, "Defining a witness").
    fn witness(&mut self, line: usize, args: &[&[u8]]) -> Result<(), PolicyError> {
        let (name, vkey, url) = match args {
            [name, vkey] => (*name, *vkey, None),
            [name, vkey, url] => (*name, *vkey, Some(*url)),
            _ => {
                return Err(PolicyError::FieldCount {
                    line,
                    keyword: "witness",
                });
            }
        };
        if self.witnesses.len() == MAX_WITNESSES {
            return Err(PolicyError::TooManyWitnesses { line });
        }
        let name = self.new_name(line, name)?;
        let verifier = vkey_str(vkey)
            .and_then(CosignatureVerifier::from_vkey)
            .map_err(|error| PolicyError::WitnessKey { line, error })?;
        let key = verifier.verifying_key();
        if self
            .witnesses
            .iter()
            .any(|w| w.verifier.verifying_key() == key)
        {
            return Err(PolicyError::DuplicateWitness { line });
        }
        self.names
            .insert(name.clone(), Node::Witness(self.witnesses.len()));
        self.witnesses.push(PolicyWitness {
            name,
            verifier,
            url: url.map(|u| PolicyUrl(u.into())),
        });
        Ok(())
    }

    /// `group <name> all|any|<k> <name>...` (c2sp.org/tlog-policy, "Defining a
    /// witness group").
    fn group(&mut self, line: usize, args: &[&[u8]]) -> Result<(), PolicyError> {
        let [name, threshold, members @ ..] = args else {
            return Err(PolicyError::FieldCount {
                line,
                keyword: "group",
            });
        };
        if members.is_empty() {
            return Err(PolicyError::FieldCount {
                line,
                keyword: "group",
            });
        }
        if self.groups.len() == MAX_GROUPS {
            return Err(PolicyError::TooManyGroups { line });
        }
        let name = self.new_name(line, name)?;
        let threshold = parse_threshold(line, threshold, members.len())?;
        let mut names = Vec::with_capacity(members.len());
        let mut nodes = Vec::with_capacity(members.len());
        for &member in members {
            let (member, node) = self.use_member(line, member)?;
            names.push(member);
            nodes.push(node);
        }
        self.names
            .insert(name.clone(), Node::Group(self.groups.len()));
        self.groups.push(PolicyGroup {
            name,
            threshold,
            members: names,
            nodes,
        });
        Ok(())
    }

    /// Resolves a group member and records that it is used.
    fn use_member(
        &mut self,
        line: usize,
        member: &[u8],
    ) -> Result<(PolicyName, Node), PolicyError> {
        if member == NONE {
            return Err(PolicyError::NoneMember { line });
        }
        let name = PolicyName(member.into());
        let Some(&node) = self.names.get(&name) else {
            return Err(PolicyError::UndefinedName { line, name });
        };
        if !self.members.insert(name.clone()) {
            return Err(PolicyError::MemberReused { line, name });
        }
        Ok((name, node))
    }

    /// `quorum <name>|none` (c2sp.org/tlog-policy, "Defining the quorum").
    fn quorum(&mut self, line: usize, args: &[&[u8]]) -> Result<(), PolicyError> {
        let [name] = args else {
            return Err(PolicyError::FieldCount {
                line,
                keyword: "quorum",
            });
        };
        if self.quorum.is_some() {
            return Err(PolicyError::DuplicateQuorum { line });
        }
        let quorum = if *name == NONE {
            None
        } else {
            let name = PolicyName((*name).into());
            let Some(&node) = self.names.get(&name) else {
                return Err(PolicyError::UndefinedName { line, name });
            };
            Some((name, node))
        };
        self.quorum = Some(quorum);
        Ok(())
    }

    fn finish(self) -> Result<Policy, PolicyError> {
        Ok(Policy {
            logs: self.logs,
            witnesses: self.witnesses,
            groups: self.groups,
            quorum: self.quorum.ok_or(PolicyError::MissingQuorum)?,
        })
    }
}

/// `all` (= `members`), `any` (= 1) or a canonical decimal `k` with
/// `1 <= k <= members`.
fn parse_threshold(line: usize, field: &[u8], members: usize) -> Result<usize, PolicyError> {
    match field {
        b"all" => return Ok(members),
        b"any" => return Ok(1),
        _ => {}
    }
    let k = std::str::from_utf8(field)
        .ok()
        .and_then(parse_canonical_u64)
        .ok_or(PolicyError::InvalidThreshold { line })?;
    match usize::try_from(k) {
        Ok(t) if (1..=members).contains(&t) => Ok(t),
        _ => Err(PolicyError::ThresholdOutOfRange { line, k, members }),
    }
}

impl Policy {
    /// Parses a policy file (c2sp.org/tlog-policy, "Policy file syntax and
    /// structure"; spec/witness-policy.md §2).
    ///
    /// # Errors
    /// [`PolicyError::TooLarge`] first, then [`PolicyError::ForbiddenByte`] and
    /// [`PolicyError::MissingFinalNewline`], then the first error of the first
    /// bad line, or [`PolicyError::MissingQuorum`].
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        let mut builder = Builder::default();
        for (i, line) in split_lines(bytes)?.into_iter().enumerate() {
            let fields = fields(line);
            let Some((keyword, args)) = fields.split_first() else {
                continue;
            };
            if keyword.starts_with(b"#") {
                continue;
            }
            builder.line(i + 1, keyword, args)?;
        }
        builder.finish()
    }

    /// The logs, in policy order. May be empty.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses, in policy order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The groups, in policy order.
    pub fn groups(&self) -> &[PolicyGroup] {
        &self.groups
    }

    /// The quorum's name, or `None` for `quorum none`.
    pub fn quorum(&self) -> Option<&PolicyName> {
        self.quorum.as_ref().map(|(name, _)| name)
    }

    /// Opens a signed checkpoint with the policy's log keys and evaluates its
    /// cosignatures against the quorum (spec/witness-policy.md §4). A log of the
    /// policy whose key name is the checkpoint's origin must have signed it; each
    /// candidate log with a signature line is tried in policy order.
    ///
    /// # Errors
    /// [`PolicyError::Checkpoint`] if the note or its text is malformed, or the
    /// log's signature does not verify; [`PolicyError::UnknownLog`] if no log of
    /// the policy has a signature line on it.
    pub fn evaluate(&self, note: &[u8]) -> Result<Evaluation, PolicyError> {
        let parsed = Note::parse(note).map_err(CheckpointError::from)?;
        // Only to choose the key: nothing is trusted before it verifies.
        let origin = Checkpoint::parse_body(&parsed.text)?.origin;
        let mut first_error = None;
        for log in self.logs.iter().filter(|l| l.origin == origin) {
            let v = &log.verifier;
            if !parsed
                .signatures
                .iter()
                .any(|s| &s.name == v.name() && s.id == v.key_id())
            {
                continue;
            }
            match open_checkpoint(note, &origin, v, &[]) {
                Ok(signed) => return Ok(self.judge(signed.checkpoint, &parsed)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.map_or(PolicyError::UnknownLog { origin }, PolicyError::from))
    }

    /// As [`Policy::evaluate`], with the log known from elsewhere: the policy's
    /// own logs are not consulted (c2sp.org/tlog-policy allows a policy without
    /// logs for this).
    ///
    /// # Errors
    /// [`PolicyError::Checkpoint`] with any [`open_checkpoint`] error.
    pub fn evaluate_with_log(
        &self,
        note: &[u8],
        origin: &Origin,
        log: &Ed25519Verifier,
    ) -> Result<Evaluation, PolicyError> {
        let signed = open_checkpoint(note, origin, log, &[])?;
        let parsed = Note::parse(note).map_err(CheckpointError::from)?;
        Ok(self.judge(signed.checkpoint, &parsed))
    }

    /// Finds the valid cosignatures on a note whose log signature verified and
    /// decides the quorum.
    fn judge(&self, checkpoint: Checkpoint, note: &Note) -> Evaluation {
        let times: Vec<Option<u64>> = self
            .witnesses
            .iter()
            .map(|w| newest_cosignature(&w.verifier, note))
            .collect();
        let cosigners = self
            .witnesses
            .iter()
            .zip(&times)
            .filter_map(|(w, t)| {
                Some(Cosigner {
                    witness: w.name.clone(),
                    timestamp: (*t)?,
                })
            })
            .collect();
        Evaluation {
            checkpoint,
            cosigners,
            quorum: self.quorum_status(&times),
        }
    }

    /// Decides the quorum from each witness's newest valid cosignature time,
    /// evaluating groups in definition order (each names only earlier ones).
    fn quorum_status(&self, witnesses: &[Option<u64>]) -> QuorumStatus {
        let Some((_, root)) = self.quorum else {
            return QuorumStatus::NotRequired;
        };
        let mut groups = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            groups.push(g.freshness(witnesses, &groups));
        }
        match node_time(root, witnesses, &groups) {
            Some(freshness_time) => QuorumStatus::Met { freshness_time },
            None => QuorumStatus::NotMet,
        }
    }
}

/// The newest timestamp among the witness's signature lines (same key name and
/// key ID) that verify; unknown lines and lines that fail are ignored
/// (c2sp.org/tlog-cosignature, "Format").
fn newest_cosignature(witness: &CosignatureVerifier, note: &Note) -> Option<u64> {
    note.signatures
        .iter()
        .filter(|s| &s.name == witness.name() && s.id == witness.key_id())
        .filter(|s| witness.verify(note.text.as_bytes(), &s.signature))
        .filter_map(|s| cosignature_timestamp(&s.signature))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_runs_of_spaces_and_tabs() {
        assert_eq!(
            fields(b" \tgroup  g\t\t1 a \t"),
            [&b"group"[..], b"g", b"1", b"a"]
        );
        assert!(fields(b" \t ").is_empty());
        // Other whitespace is part of a field.
        assert_eq!(fields("a\u{a0}b".as_bytes()).len(), 1);
    }

    #[test]
    fn thresholds() {
        assert_eq!(parse_threshold(1, b"all", 3), Ok(3));
        assert_eq!(parse_threshold(1, b"any", 3), Ok(1));
        assert_eq!(parse_threshold(1, b"3", 3), Ok(3));
        for bad in [
            &b"01"[..],
            b"+1",
            b"-1",
            b"",
            b"1 ",
            b"0x1",
            b"ANY",
            b"\xff",
        ] {
            assert_eq!(
                parse_threshold(7, bad, 3),
                Err(PolicyError::InvalidThreshold { line: 7 })
            );
        }
        for k in [0, 4, u64::MAX] {
            let field = k.to_string();
            assert_eq!(
                parse_threshold(7, field.as_bytes(), 3),
                Err(PolicyError::ThresholdOutOfRange {
                    line: 7,
                    k,
                    members: 3
                })
            );
        }
    }

    #[test]
    fn a_group_is_as_fresh_as_its_kth_newest_member() {
        let g = |threshold| PolicyGroup {
            name: PolicyName((*b"g").into()),
            threshold,
            members: Vec::new(),
            nodes: vec![
                Node::Witness(0),
                Node::Witness(1),
                Node::Group(0),
                Node::Witness(2),
            ],
        };
        let witnesses = [Some(10), None, Some(30)];
        let groups = [Some(20)];
        assert_eq!(g(1).freshness(&witnesses, &groups), Some(30));
        assert_eq!(g(2).freshness(&witnesses, &groups), Some(20));
        assert_eq!(g(3).freshness(&witnesses, &groups), Some(10));
        assert_eq!(g(4).freshness(&witnesses, &groups), None);
        assert_eq!(g(0).freshness(&witnesses, &groups), None);
    }
}
