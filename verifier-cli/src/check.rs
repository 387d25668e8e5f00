//! The checks, each a function from arguments to an [`Outcome`]. Verification
//! itself is ledger-core's (open_checkpoint, TileHashReader, proofs, receipts);
//! this module fetches, classifies failures, and reports.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ledger_core::checkpoint::{Origin, SignedCheckpoint, open_checkpoint};
use ledger_core::entry::Entry;
use ledger_core::evidence::{Evidence, Misbehaviour, NotProven, Verdict, full_consistency_path};
use ledger_core::hash::{Hash, leaf_hash};
use ledger_core::note::{Ed25519Verifier, NoteVerifier};
use ledger_core::policy::{Policy, QuorumStatus};
use ledger_core::proof::prove_inclusion;
use ledger_core::receipt::{MAX_RECEIPT_BYTES, Receipt};
use ledger_core::statement::Statement;
use ledger_core::tile::{TileError, TileHashReader};
use ledger_core::tree::{HashReader, TreeError, stored_hash_index, tree_hash};
use ledger_core::{LeafIndex, TreeSize};
use serde_json::{Map, Value, json};

use crate::attribution::{AttributionArgs, attribute};
use crate::source::{Source, bad_source, open_source, read_bundle};
use crate::{KeyArgs, LogArgs};

/// Why a check did not verify.
#[derive(Debug)]
pub enum Problem {
    /// Verification FAILED: the data contradicts the signed checkpoint or itself.
    Failed(String),
    /// The check could not be done (network, files, usage).
    Unable(String),
}

/// What a check verified: lines for people and fields for `--json`.
#[derive(Debug, Default)]
pub struct Verified {
    lines: Vec<String>,
    fields: Map<String, Value>,
}

impl Verified {
    /// Adds a line for people only.
    pub fn line(&mut self, text: String) {
        self.lines.push(text);
    }

    /// Sets a JSON field without a line for people.
    pub fn set(&mut self, key: &str, value: Value) {
        self.fields.insert(key.to_owned(), value);
    }

    /// Adds a line for people and the same value as a JSON field.
    pub fn add(&mut self, label: &str, key: &str, value: Value) {
        let shown = match &value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        self.lines.push(format!("{label:<16} {shown}"));
        self.fields.insert(key.to_owned(), value);
    }
}

/// The result of a check.
pub type Outcome = Result<Verified, Problem>;

/// An outcome, ready to print.
pub struct Report(Outcome);

impl From<Outcome> for Report {
    fn from(o: Outcome) -> Report {
        Report(o)
    }
}

impl Report {
    /// 0 verified, 1 failed, 2 could not check.
    pub fn exit_code(&self) -> u8 {
        match &self.0 {
            Ok(_) => 0,
            Err(Problem::Failed(_)) => 1,
            Err(Problem::Unable(_)) => 2,
        }
    }

    /// Prints to stdout (results) or stderr (could not check).
    pub fn print(&self, as_json: bool) {
        match (&self.0, as_json) {
            (Ok(v), true) => {
                let mut m = v.fields.clone();
                m.insert("result".into(), json!("verified"));
                println!("{}", Value::Object(m));
            }
            (Ok(v), false) => {
                println!("VERIFIED");
                for l in &v.lines {
                    println!("  {l}");
                }
            }
            (Err(Problem::Failed(m)), true) => {
                println!("{}", json!({"result": "failed", "problem": m}));
            }
            (Err(Problem::Failed(m)), false) => println!("VERIFICATION FAILED: {m}"),
            (Err(Problem::Unable(m)), true) => {
                println!("{}", json!({"result": "error", "problem": m}));
            }
            (Err(Problem::Unable(m)), false) => eprintln!("could not check: {m}"),
        }
    }
}

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

/// What a check trusts: the log's key, the origin it is named after
/// (spec/checkpoints-and-tiles.md §1), and the witness policy if one is given.
pub struct Trust {
    /// The log's verifier key.
    pub key: Ed25519Verifier,
    /// The log's origin.
    pub origin: Origin,
    /// The witness policy and the oldest quorum time accepted (`--max-age`).
    policy: Option<(Policy, Option<Duration>)>,
    /// What the policy checks found, for the report.
    witnessed: RefCell<Vec<String>>,
}

/// `--max-age`: a number and a unit, `s`, `m`, `h` or `d`.
///
/// # Errors
/// Anything else.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let unit = s
        .chars()
        .last()
        .ok_or("an age such as 90s, 10m, 2h or 1d")?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err("an age such as 90s, 10m, 2h or 1d".into()),
    };
    let n = ledger_core::index::parse_canonical_u64(&s[..s.len() - 1])
        .ok_or("an age such as 90s, 10m, 2h or 1d")?;
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| "too large".into())
}

impl Trust {
    /// Checks a signed checkpoint against the witness policy, if there is one
    /// (spec/witness-policy.md §4): its quorum must be met and, with
    /// `--max-age`, its freshness time recent enough. `what` names the
    /// checkpoint in messages.
    ///
    /// # Errors
    /// [`Problem::Unable`]: a checkpoint without the quorum, or too old, is not
    /// one this verifier may rely on, but proves nothing against the log.
    pub fn witnessed(&self, note: &[u8], what: &str) -> Result<(), Problem> {
        let Some((policy, max_age)) = &self.policy else {
            return Ok(());
        };
        let e = policy
            .evaluate_with_log(note, &self.origin, &self.key)
            .map_err(|e| failed(format!("{what}: {e}")))?;
        let names: Vec<String> = e
            .cosigners()
            .iter()
            .map(|c| String::from_utf8_lossy(c.witness.as_bytes()).into_owned())
            .collect();
        let freshness = match e.quorum() {
            QuorumStatus::NotMet => {
                return Err(unable(format!(
                    "{what} is not cosigned by the witness policy's quorum (valid cosignatures from: {}); \
                     it is not accepted under --policy",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
            QuorumStatus::NotRequired => None,
            QuorumStatus::Met { freshness_time } => Some(freshness_time),
        };
        if let Some(max) = max_age {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let Some(t) = freshness else {
                return Err(unable(format!(
                    "{what}: the policy requires no cosignature, so nothing attests its age (--max-age)"
                )));
            };
            let age = now.saturating_sub(t);
            if age > max.as_secs() {
                return Err(unable(format!(
                    "{what} is stale: its witness quorum last vouched for it {age} s ago, more than --max-age ({} s)",
                    max.as_secs()
                )));
            }
        }
        self.witnessed.borrow_mut().push(match freshness {
            Some(t) => format!(
                "{what}: quorum met, cosigned by {} (quorum time {t})",
                names.join(", ")
            ),
            None => format!("{what}: the policy requires no cosignature"),
        });
        Ok(())
    }

    /// The witnesses of the policy that have a URL: (name in the policy, URL).
    pub fn witness_urls(&self) -> Vec<(String, String)> {
        let Some((policy, _)) = &self.policy else {
            return Vec::new();
        };
        policy
            .witnesses()
            .iter()
            .filter_map(|w| {
                let url = w.url()?.as_str()?.to_owned();
                Some((
                    String::from_utf8_lossy(w.name().as_bytes()).into_owned(),
                    url,
                ))
            })
            .collect()
    }

    /// Adds what the witness policy checked to `v`.
    pub fn describe(&self, v: &mut Verified) {
        let text = if self.policy.is_none() {
            "none given: whether others see this same log, and how fresh its checkpoint is, \
             are not checked (give --policy)"
                .to_owned()
        } else {
            self.witnessed.borrow().join("; ")
        };
        v.add("witness policy", "witness_policy", json!(text));
    }
}

/// The log key and the origin it is named after (spec/checkpoints-and-tiles.md
/// §1), from --vkey, --vkey-file or the policy's `log` line, and the policy.
pub fn log_key(k: &KeyArgs) -> Result<Trust, Problem> {
    let policy = match &k.policy {
        None => None,
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| unable(format!("{}: {e}", path.display())))?;
            let p = Policy::parse(&bytes)
                .map_err(|e| unable(format!("the witness policy {}: {e}", path.display())))?;
            Some((p, k.max_age))
        }
    };
    let text = match (&k.vkey, &k.vkey_file, &policy) {
        (Some(v), _, _) => v.clone(),
        (None, Some(f), _) => std::fs::read_to_string(f)
            .map_err(|e| unable(format!("{}: {e}", f.display())))?
            .trim()
            .to_owned(),
        (None, None, Some((p, _))) => match p.logs() {
            [one] => one.verifier().to_vkey(),
            _ => {
                return Err(unable(
                    "the policy names no log, or several: give the log's key with --vkey",
                ));
            }
        },
        (None, None, None) => return Err(unable("give --vkey, --vkey-file or --policy")),
    };
    let key = Ed25519Verifier::from_vkey(&text)
        .map_err(|e| unable(format!("the verifier key is not valid: {e}")))?;
    let origin = Origin::new(key.name().as_str())
        .map_err(|e| unable(format!("the verifier key's name is not a log origin: {e}")))?;
    Ok(Trust {
        key,
        origin,
        policy,
        witnessed: RefCell::new(Vec::new()),
    })
}

/// Fetches and opens the latest checkpoint.
pub fn latest(src: &Source, trust: &Trust) -> Result<SignedCheckpoint, Problem> {
    let bytes = src.checkpoint().map_err(unable)?;
    let none: [&dyn NoteVerifier; 0] = [];
    let cp = open_checkpoint(&bytes, &trust.origin, &trust.key, &none)
        .map_err(|e| failed(format!("the log's checkpoint does not verify: {e}")))?;
    trust.witnessed(&bytes, "the log's checkpoint")?;
    Ok(cp)
}

/// A [`HashReader`] over authenticated tiles that remembers why a read failed.
/// Every failure is the source's: a tile that cannot be read, or one that does
/// not match the signed checkpoint, proves nothing about the log, since any
/// mirror, cache or network can serve a bad tile (spec/threat-model.md §4,
/// "Malicious tile server or mirror").
pub struct Authenticated<'a> {
    reader: TileHashReader<&'a Source>,
    source: String,
    error: RefCell<Option<TileError>>,
}

impl<'a> Authenticated<'a> {
    /// Authenticates tiles against `cp`.
    pub fn new(src: &'a Source, cp: &SignedCheckpoint) -> Result<Self, Problem> {
        let reader = TileHashReader::new(cp.checkpoint.size, cp.checkpoint.root, src)
            .map_err(|e| failed(e.to_string()))?;
        Ok(Authenticated {
            reader,
            source: src.name(),
            error: RefCell::new(None),
        })
    }

    /// Why a read failed, naming the source: always "could not check".
    pub fn classify(&self, e: TreeError) -> Problem {
        let source = &self.source;
        match self.error.borrow_mut().take() {
            Some(TileError::Read(m)) => unable(format!("cannot read tiles from {source}: {m}")),
            Some(TileError::ReadCount { expected, found }) => {
                unable(format!("{source}: asked for {expected} tiles, got {found}"))
            }
            Some(t) => bad_source(
                source,
                &format!("a tile does not match the signed checkpoint: {t}"),
            ),
            None => unable(format!("{source}: {e}")),
        }
    }
}

impl HashReader for Authenticated<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.reader.read_authenticated(indexes).map_err(|e| {
            let msg = e.to_string();
            *self.error.borrow_mut() = Some(e);
            TreeError::Read(msg)
        })
    }
}

fn describe_checkpoint(v: &mut Verified, prefix: &str, cp: &SignedCheckpoint) {
    v.add(
        &format!("{prefix}size"),
        &format!("{prefix}size").replace(' ', "_"),
        json!(cp.checkpoint.size.0),
    );
    v.add(
        &format!("{prefix}root"),
        &format!("{prefix}root").replace(' ', "_"),
        json!(cp.checkpoint.root.to_base64()),
    );
}

/// Shows what an entry of this ledger says; other logs' entries are opaque.
fn describe_entry(v: &mut Verified, bytes: &[u8]) {
    match Entry::decode(bytes)
        .ok()
        .and_then(|e| Statement::parse(&e.statement).ok().map(|s| (e, s)))
    {
        Some((e, s)) => {
            v.add(
                "agency (as the entry claims)",
                "agency",
                json!(s.agency.as_str()),
            );
            v.add("type", "type", json!(s.kind.as_str()));
            v.add("channel", "channel", json!(s.channel.as_str()));
            v.add(
                "submission id",
                "submission_id",
                json!(s.submission_id.as_str()),
            );
            v.add("occurred at", "occurred_at", json!(s.occurred_at));
            if let Some(subject) = &s.subject {
                v.add("subject", "subject", json!(subject));
            }
            v.add(
                "sequenced at ms",
                "sequenced_at_ms",
                json!(e.sequenced_at_ms),
            );
            v.add(
                "signer key hash (as the entry claims)",
                "key_hash",
                json!(e.key_hash.0.to_hex()),
            );
        }
        None => v.add(
            "entry",
            "entry_bytes",
            json!(format!(
                "{} bytes, not an entry of this ledger's format",
                bytes.len()
            )),
        ),
    }
}

/// `checkpoint`.
pub fn checkpoint(log: &LogArgs, key: &KeyArgs) -> Outcome {
    let trust = log_key(key)?;
    let origin = &trust.origin;
    let src = open_source(&log.log)?;
    let cp = latest(&src, &trust)?;
    let mut v = Verified::default();
    v.add("origin", "origin", json!(origin.as_str()));
    describe_checkpoint(&mut v, "", &cp);
    v.add("root (hex)", "root_hex", json!(cp.checkpoint.root.to_hex()));
    trust.describe(&mut v);
    Ok(v)
}

/// How the log's checkpoint relates to one seen before.
#[derive(Debug)]
pub enum Relation {
    /// `new` extends `old`: the RFC 9162 §2.1.4 consistency proof had this many
    /// hashes, each read from authenticated tiles.
    Extends(usize),
    /// `new` is smaller than `old` and a prefix of it (spec/checkpoints-and-tiles.md
    /// §7.3, checked from the tiles of `old`): an old but consistent checkpoint,
    /// as a lagging cache or mirror serves. Not a failure of the log's history, but
    /// its growth was not checked.
    Stale,
}

/// Why [`relate`] found no [`Relation`].
#[derive(Debug)]
pub enum Divergence {
    /// The log signed two checkpoints that do not extend each other, and the
    /// evidence of it verifies ([`Evidence::verify`]): a proven fork.
    Fork(Box<(Evidence, Misbehaviour)>),
    /// Anything else: the check could not be done (bad source, network).
    Unchecked(Problem),
}

impl From<Problem> for Divergence {
    fn from(p: Problem) -> Divergence {
        Divergence::Unchecked(p)
    }
}

/// Relates the log's checkpoint `new` to `old` seen before, both opened with
/// `key`. The consistency path between their sizes is read from the tiles of
/// the larger tree (authenticated against its signed root), and the verdict is
/// ledger-core's [`Evidence::verify`] on the two signed checkpoints and that
/// path: a fork is reported only when that proves it.
///
/// # Errors
/// [`Divergence::Fork`] with verified evidence; otherwise
/// [`Divergence::Unchecked`] ("could not check": the tiles could not be read or
/// do not match the signed root).
pub fn relate(
    src: &Source,
    key: &Ed25519Verifier,
    origin: &Origin,
    old: &SignedCheckpoint,
    new: &SignedCheckpoint,
) -> Result<Relation, Divergence> {
    let (o, n) = (old.checkpoint.size, new.checkpoint.size);
    let path = if o == n || o.0 == 0 || n.0 == 0 {
        None
    } else {
        let (small, large) = if n < o { (n, old) } else { (o, new) };
        let reader = Authenticated::new(src, large)?;
        let path = full_consistency_path(small, large.checkpoint.size, &reader).map_err(|e| {
            let problem = reader.classify(e);
            match (n < o, problem) {
                (true, Problem::Unable(m)) => Problem::Unable(format!(
                    "stale or forked: the log serves a checkpoint of size {}, smaller than the {} seen before, and the tiles of the larger tree, needed to tell which, could not be used: {m}",
                    n.0, o.0
                )),
                (_, p) => p,
            }
        })?;
        Some(path)
    };
    let hashes = path.as_ref().map_or(0, |p| {
        // The full path prepends the node over the smaller tree when its size is
        // a power of two; the RFC proof does not.
        p.len() - usize::from(o.min(n).0.is_power_of_two())
    });
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut evidence = Evidence::new(old, new, key, now, path, "");
    let checked = evidence
        .verify(origin, key)
        .map_err(|e| unable(format!("the two checkpoints: {e}")))?;
    match checked.verdict {
        Verdict::Proven(m) => {
            evidence.problem = m.to_string();
            Err(Divergence::Fork(Box::new((evidence, m))))
        }
        Verdict::NotProven(_) if n < o => Ok(Relation::Stale),
        Verdict::NotProven(NotProven::SameTree | NotProven::EmptyTree | NotProven::Consistent) => {
            Ok(Relation::Extends(hashes))
        }
        Verdict::NotProven(why) => Err(unable(format!(
            "the consistency path read from {} proves nothing: {why}",
            src.name()
        ))
        .into()),
    }
}

/// Checks that `new` extends `old` (RFC 9162 §2.1.4) with [`relate`]: a proven
/// fork is FAILED; a stale checkpoint, a bad source or a read error is "could
/// not check".
pub fn extends(
    src: &Source,
    key: &Ed25519Verifier,
    origin: &Origin,
    old: &SignedCheckpoint,
    new: &SignedCheckpoint,
) -> Result<usize, Problem> {
    match relate(src, key, origin, old, new) {
        Ok(Relation::Extends(hashes)) => Ok(hashes),
        Ok(Relation::Stale) => Err(stale(src, old, new)),
        Err(Divergence::Fork(f)) => Err(failed(format!("fork: {}", f.1))),
        Err(Divergence::Unchecked(p)) => Err(p),
    }
}

/// The "could not check" of a stale checkpoint.
pub fn stale(src: &Source, old: &SignedCheckpoint, new: &SignedCheckpoint) -> Problem {
    unable(format!(
        "stale: {} serves a checkpoint of size {}, older than the one of size {} seen before; it is a prefix of it (consistent), so this is no rollback of the log's history, but the log's growth could not be checked",
        src.name(),
        new.checkpoint.size.0,
        old.checkpoint.size.0
    ))
}

/// `consistency --from FILE`.
pub fn consistency(log: &LogArgs, key: &KeyArgs, from: &Path) -> Outcome {
    let trust = log_key(key)?;
    let (key, origin) = (&trust.key, &trust.origin);
    let old_bytes = std::fs::read(from).map_err(|e| unable(format!("{}: {e}", from.display())))?;
    let none: [&dyn NoteVerifier; 0] = [];
    let old = open_checkpoint(&old_bytes, origin, key, &none).map_err(|e| {
        unable(format!(
            "{} is not a checkpoint of this log signed by this key: {e}",
            from.display()
        ))
    })?;
    let src = open_source(&log.log)?;
    let new = latest(&src, &trust)?;
    let hashes = extends(&src, key, origin, &old, &new)?;
    let mut v = Verified::default();
    describe_checkpoint(&mut v, "old ", &old);
    describe_checkpoint(&mut v, "new ", &new);
    v.add("proof hashes", "proof_hashes", json!(hashes));
    trust.describe(&mut v);
    Ok(v)
}

/// The entry at `index` from the bundles of a tree of `size`, checked against the
/// authenticated leaf hash.
pub fn entry_at(
    src: &Source,
    reader: &Authenticated<'_>,
    index: u64,
    size: u64,
) -> Result<Vec<u8>, Problem> {
    let (path, mut entries) = read_bundle(src, index / 256, size)?;
    let entry = entries.swap_remove((index % 256) as usize);
    let want = reader
        .read_hashes(&[stored_hash_index(0, index)])
        .map_err(|e| reader.classify(e))?;
    let got = leaf_hash(&entry);
    if want.first() != Some(&got) {
        return Err(bad_source(
            &src.name(),
            &format!(
                "{path}: entry {index} hashes to {got}, but the tiles of the signed tree say {}",
                want.first().map(|h| h.to_hex()).unwrap_or_default()
            ),
        ));
    }
    Ok(entry)
}

/// `inclusion --index N [--size S]`.
pub fn inclusion(
    log: &LogArgs,
    key: &KeyArgs,
    index: u64,
    size: Option<u64>,
    attribution: &AttributionArgs,
) -> Outcome {
    let trust = log_key(key)?;
    let key = &trust.key;
    let src = open_source(&log.log)?;
    let cp = latest(&src, &trust)?;
    let top = cp.checkpoint.size.0;
    let size = size.unwrap_or(top);
    if size > top {
        return Err(unable(format!(
            "--size {size} is larger than the log's latest checkpoint ({top})"
        )));
    }
    if index >= size {
        return Err(unable(format!(
            "entry {index} is not in a tree of size {size}"
        )));
    }
    let reader = Authenticated::new(&src, &cp)?;
    let root = if size == top {
        cp.checkpoint.root
    } else {
        tree_hash(TreeSize(size), &reader).map_err(|e| reader.classify(e))?
    };
    let entry = entry_at(&src, &reader, index, top)?;
    let leaf = leaf_hash(&entry);
    let proof = prove_inclusion(LeafIndex(index), TreeSize(size), &reader)
        .map_err(|e| reader.classify(e))?;
    proof
        .verify(&leaf, &root)
        .map_err(|e| failed(format!("entry {index}: {e}")))?;
    let mut v = Verified::default();
    v.add("index", "index", json!(index));
    v.add("tree size", "size", json!(size));
    v.add("tree root", "root", json!(root.to_base64()));
    v.add("leaf hash", "leaf_hash", json!(leaf.to_hex()));
    v.add("proof hashes", "proof_hashes", json!(proof.path.len()));
    v.add("checkpoint size", "checkpoint_size", json!(top));
    describe_entry(&mut v, &entry);
    match Entry::decode(&entry) {
        Ok(decoded) => attribute(&mut v, &decoded, None, attribution, Some((&src, &cp, key)))?,
        Err(e) if attribution.agency_key.is_some() || attribution.authority_key.is_some() => {
            return Err(failed(format!(
                "entry {index} is in the log, but is not an entry of this ledger's format: {e}"
            )));
        }
        Err(_) => {}
    }
    trust.describe(&mut v);
    Ok(v)
}

/// `receipt FILE [--log URL|DIR]`.
pub fn receipt(
    file: &Path,
    key: &KeyArgs,
    log: Option<&str>,
    attribution: &AttributionArgs,
) -> Outcome {
    let trust = log_key(key)?;
    let (key, origin) = (&trust.key, &trust.origin);
    let meta = std::fs::metadata(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    if meta.len() > MAX_RECEIPT_BYTES as u64 {
        return Err(failed(format!(
            "{} is larger than a receipt can be ({MAX_RECEIPT_BYTES} bytes)",
            file.display()
        )));
    }
    let bytes = std::fs::read(file).map_err(|e| unable(format!("{}: {e}", file.display())))?;
    let receipt =
        Receipt::parse(&bytes).map_err(|e| failed(format!("the receipt is malformed: {e}")))?;
    let verified = receipt
        .verify(origin, key)
        .map_err(|e| failed(format!("the receipt does not verify: {e}")))?;
    trust.witnessed(&receipt.proof.checkpoint, "the receipt's checkpoint")?;
    let mut v = Verified::default();
    v.add("index", "index", json!(verified.entry.index.0));
    v.add("leaf hash", "leaf_hash", json!(verified.leaf_hash.to_hex()));
    v.add(
        "checkpoint size",
        "checkpoint_size",
        json!(verified.checkpoint.size.0),
    );
    v.add(
        "checkpoint root",
        "checkpoint_root",
        json!(verified.checkpoint.root.to_base64()),
    );
    describe_entry(&mut v, &receipt.entry);
    let mut read = None;
    if let Some(log) = log {
        let src = open_source(log)?;
        let new = latest(&src, &trust)?;
        let none: [&dyn NoteVerifier; 0] = [];
        let old = open_checkpoint(&receipt.proof.checkpoint, origin, key, &none)
            .map_err(|e| failed(format!("the receipt's checkpoint: {e}")))?;
        extends(&src, key, origin, &old, &new)?;
        v.add("log now at size", "log_size", json!(new.checkpoint.size.0));
        v.add("consistent", "consistent_with_log", json!(true));
        read = Some((src, new));
    }
    attribute(
        &mut v,
        &verified.entry,
        verified.signer.as_ref(),
        attribution,
        read.as_ref().map(|(src, cp)| (src, cp, key)),
    )?;
    trust.describe(&mut v);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_a_number_and_a_unit() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "s", "10", "01m", "1.5h", "-1s", "10 m", "1w"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }
}
