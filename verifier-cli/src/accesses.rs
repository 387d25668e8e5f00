//! `accesses --index I`: who read or erased the private payload of entry I
//! (spec/registry.md §6), each access entry authenticated against a freshly
//! verified checkpoint.
//!
//! What the output guarantees, up to that checkpoint: every listed entry is in
//! the log and is an `access.payload.read`, `access.payload.erase` or
//! `registry.payload.erase` statement naming entry I. Without `--scan` the list
//! is the server's (`GET /v1/entries/{I}/accesses`), which could leave an access
//! out. With `--scan` (always, for a directory mirror) every entry after I is
//! read, so the list is complete, and a server list that leaves one out is a
//! failure. The agency shown is the one each entry names; that the entry was
//! signed by an active key of that agency is what `replay` checks.

use std::collections::BTreeSet;

use clap::Args;
use ledger_core::LeafIndex;
use ledger_core::access::AccessAction;
use ledger_core::entry::Entry;
use ledger_core::hash::leaf_hash;
use ledger_core::statement::Statement;
use ledger_core::tree::{HashReader as _, stored_hash_index};
use serde_json::{Value, json};

use crate::check::{Authenticated, Outcome, Problem, Verified, entry_at, latest, log_key};
use crate::source::{Source, open_source, read_bundle};
use crate::{KeyArgs, LogArgs};

/// The largest page of the server's list of accesses read.
const MAX_PAGE: usize = 4 << 20;

/// `accesses`'s options.
#[derive(Args)]
pub struct AccessesArgs {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// The entry whose payload accesses to list.
    #[arg(long)]
    pub index: u64,
    /// Read every entry after I up to the checkpoint, which proves the list
    /// complete (always done for a directory mirror).
    #[arg(long)]
    pub scan: bool,
}

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

/// One read or erasure of the payload, as its authenticated entry says.
#[derive(Clone, Debug)]
struct Access {
    index: u64,
    sequenced_at_ms: u64,
    kind: String,
    agency: String,
    action: AccessAction,
}

/// The access recorded by entry `index`, whose bytes are `bytes`, if it is a
/// read or an erasure naming entry `target`.
///
/// # Errors
/// Why it is not.
fn access_at(index: u64, bytes: &[u8], target: u64) -> Result<Access, String> {
    let e = Entry::decode(bytes)
        .map_err(|e| format!("entry {index} is not an entry of this ledger's format: {e}"))?;
    if e.index.0 != index {
        return Err(format!("entry {index} says it is entry {}", e.index.0));
    }
    let st = Statement::parse(&e.statement)
        .map_err(|err| format!("entry {index}: its statement does not parse: {err}"))?;
    let kind = st.kind.as_str();
    let action = match AccessAction::parse(&st) {
        Some(Ok(a @ (AccessAction::Read(_) | AccessAction::Erase(_)))) => a,
        Some(Err(m)) => return Err(format!("entry {index} is a malformed {kind}: {m}")),
        _ => {
            return Err(format!(
                "entry {index} is a {kind}, not a read or an erasure of a payload"
            ));
        }
    };
    if action.target() != Some(LeafIndex(target)) {
        let named = action.target().map_or(0, |t| t.0);
        return Err(format!("entry {index} names entry {named}, not {target}"));
    }
    Ok(Access {
        index,
        sequenced_at_ms: e.sequenced_at_ms,
        kind: kind.to_owned(),
        agency: st.agency.as_str().to_owned(),
        action,
    })
}

/// One element of the server's list, with what it claims about the entry.
#[derive(Debug, PartialEq, Eq)]
struct Listed {
    index: u64,
    kind: Option<String>,
    agency: Option<String>,
    sequenced_at_ms: Option<u64>,
}

/// The server's answer to `GET /v1/entries/{I}/accesses[?from=N]`.
#[derive(Debug, PartialEq, Eq)]
struct Listing {
    items: Vec<Listed>,
    erased_by: Option<u64>,
    /// Where the next page starts, if any.
    next: Option<u64>,
}

/// Parses the server's list for entry `target`, sorted by index.
///
/// # Errors
/// If it is not the JSON the API describes.
fn parse_listing(body: &[u8], target: u64) -> Result<Listing, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if v["entry"].as_u64() != Some(target) {
        return Err(format!("it is about entry {}, not {target}", v["entry"]));
    }
    let list = v["accesses"]
        .as_array()
        .ok_or("it has no \"accesses\" array")?;
    let mut items = list
        .iter()
        .map(|a| {
            Ok(Listed {
                index: a["index"]
                    .as_u64()
                    .ok_or_else(|| format!("an access without an index: {a}"))?,
                kind: a["type"].as_str().map(str::to_owned),
                agency: a["agency"].as_str().map(str::to_owned),
                sequenced_at_ms: a["sequenced_at_ms"].as_u64(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    items.sort_by_key(|l| l.index);
    items.dedup_by_key(|l| l.index);
    let index_or_null = |field: &str| match &v[field] {
        Value::Null => Ok(None),
        n => n
            .as_u64()
            .map(Some)
            .ok_or(format!("\"{field}\" is neither null nor an index")),
    };
    Ok(Listing {
        items,
        erased_by: index_or_null("erased_by")?,
        next: index_or_null("next")?,
    })
}

/// Checks what the server's list says about an access against its entry.
///
/// # Errors
/// The first difference.
fn check_claims(l: &Listed, a: &Access) -> Result<(), String> {
    let differs = |what: &str, claimed: &dyn std::fmt::Display, real: &dyn std::fmt::Display| {
        Err(format!(
            "the server lists entry {} with {what} {claimed}, but the entry says {real}",
            a.index
        ))
    };
    match (&l.kind, &l.agency, l.sequenced_at_ms) {
        (Some(k), _, _) if *k != a.kind => differs("type", k, &a.kind),
        (_, Some(g), _) if *g != a.agency => differs("agency", g, &a.agency),
        (_, _, Some(t)) if t != a.sequenced_at_ms => {
            differs("sequenced_at_ms", &t, &a.sequenced_at_ms)
        }
        _ => Ok(()),
    }
}

/// Checks the server's `erased_by` against the accesses: the first erasure.
/// A claim beyond the checkpoint of `size` cannot be checked yet.
///
/// # Errors
/// If they disagree.
fn check_erased_by(claimed: Option<u64>, accesses: &[Access], size: u64) -> Result<(), String> {
    let first = first_erasure(accesses);
    if claimed == first || (first.is_none() && claimed.is_some_and(|n| n >= size)) {
        return Ok(());
    }
    let show = |n: Option<u64>| n.map_or("none".to_owned(), |n| format!("entry {n}"));
    Err(format!(
        "the server says the payload was erased by {}, but the verified accesses say {}",
        show(claimed),
        show(first)
    ))
}

fn first_erasure(accesses: &[Access]) -> Option<u64> {
    accesses
        .iter()
        .find(|a| matches!(a.action, AccessAction::Erase(_)))
        .map(|a| a.index)
}

/// The first access the scan found that the server's list leaves out.
fn omitted(listing: &Listing, found: &[Access]) -> Option<u64> {
    let listed: BTreeSet<u64> = listing.items.iter().map(|l| l.index).collect();
    found.iter().map(|a| a.index).find(|i| !listed.contains(i))
}

/// The server's list, every page of it, or `None` if the log does not serve
/// one (a mirror).
fn server_listing(src: &Source, target: u64) -> Result<Option<Listing>, Problem> {
    let first = format!("v1/entries/{target}/accesses");
    let mut path = first.clone();
    let mut all: Option<Listing> = None;
    loop {
        let Some(body) = src.fetch(&path, MAX_PAGE).map_err(unable)? else {
            return match all {
                None => Ok(None),
                Some(_) => Err(unable(format!("{path}: not found"))),
            };
        };
        let bad = |e: String| unable(format!("the server's list of accesses ({path}): {e}"));
        let page = parse_listing(&body, target).map_err(bad)?;
        let listing = match all.take() {
            None => page,
            Some(mut l) => {
                l.items.extend(page.items);
                l.next = page.next;
                l
            }
        };
        match listing.next {
            None => {
                let mut listing = listing;
                listing.items.sort_by_key(|l| l.index);
                listing.items.dedup_by_key(|l| l.index);
                return Ok(Some(listing));
            }
            Some(n) if listing.items.last().is_some_and(|l| n > l.index) => {
                path = format!("{first}?from={n}");
                all = Some(listing);
            }
            Some(n) => return Err(bad(format!("its next page, from {n}, does not go forward"))),
        }
    }
}

/// Reads entries `target+1..size` (an access can only follow the entry it
/// names), each authenticated through its leaf hash, and keeps the accesses
/// naming `target`.
fn scan(
    src: &Source,
    reader: &Authenticated<'_>,
    target: u64,
    size: u64,
) -> Result<Vec<Access>, Problem> {
    let from = target + 1;
    let mut found = Vec::new();
    if from >= size {
        return Ok(found);
    }
    for n in from / 256..=(size - 1) / 256 {
        let (path, entries) = read_bundle(src, n, size)?;
        let first = (n * 256).max(from);
        let last = n * 256 + entries.len() as u64;
        let indexes: Vec<u64> = (first..last).map(|i| stored_hash_index(0, i)).collect();
        let leaves = reader
            .read_hashes(&indexes)
            .map_err(|e| reader.classify(e))?;
        for (i, leaf) in (first..last).zip(leaves) {
            let bytes = &entries[(i - n * 256) as usize];
            if leaf_hash(bytes) != leaf {
                return Err(failed(format!(
                    "{path}: entry {i} does not hash to the leaf the signed tree has"
                )));
            }
            if let Ok(a) = access_at(i, bytes, target) {
                found.push(a);
            }
        }
    }
    Ok(found)
}

/// What entry `target` is: its type, agency and whether it has a payload.
fn describe_target(bytes: &[u8]) -> Value {
    match Entry::decode(bytes)
        .ok()
        .and_then(|e| Statement::parse(&e.statement).ok())
    {
        Some(st) => json!({
            "type": st.kind.as_str(),
            "agency": st.agency.as_str(),
            "payload_commitment": st.payload_commitment.map(|c| c.to_hex()),
        }),
        None => json!({"type": null, "agency": null, "payload_commitment": null}),
    }
}

/// What was found, before it is reported.
#[derive(Debug)]
struct Examined {
    target: u64,
    size: u64,
    subject: Value,
    accesses: Vec<Access>,
    /// Listed by the server beyond the checkpoint: not checked yet.
    pending: Vec<u64>,
    complete: bool,
    /// Whether the server's list was compared with the scan.
    compared: bool,
}

/// Checks each access the server lists below `size` against its entry: with
/// `found` (a scan's result), the entry must be among them, and no access found
/// may be left out; without, the entry is read and authenticated. Returns the
/// listed accesses, and the listed indexes beyond the checkpoint.
fn check_listing(
    src: &Source,
    reader: &Authenticated<'_>,
    listing: &Listing,
    target: u64,
    size: u64,
    found: Option<&[Access]>,
) -> Result<(Vec<Access>, Vec<u64>), Problem> {
    let (mut listed, mut pending) = (Vec::new(), Vec::new());
    for l in &listing.items {
        if l.index >= size {
            pending.push(l.index);
            continue;
        }
        let a = match found.and_then(|f| f.iter().find(|a| a.index == l.index)) {
            Some(a) => a.clone(),
            // Read it, also to say why it is not an access (with a scan).
            None => access_at(l.index, &entry_at(src, reader, l.index, size)?, target)
                .map_err(|m| failed(format!("the server lists an access that is not one: {m}")))?,
        };
        check_claims(l, &a).map_err(failed)?;
        listed.push(a);
    }
    if let Some(missing) = found.and_then(|f| omitted(listing, f)) {
        return Err(failed(format!(
            "the server's list of accesses to entry {target} leaves out entry {missing}, \
             which is one (found by reading every entry up to size {size})"
        )));
    }
    Ok((listed, pending))
}

/// Verifies the accesses to entry `target`'s payload (the module's doc says
/// what that proves).
fn examine(args: &AccessesArgs) -> Result<Examined, Problem> {
    let trust = log_key(&args.key)?;
    let src = open_source(&args.log.log)?;
    let cp = latest(&src, &trust)?;
    let (size, target) = (cp.checkpoint.size.0, args.index);
    if target >= size {
        return Err(unable(format!(
            "entry {target} is not covered by the latest checkpoint (size {size})"
        )));
    }
    let reader = Authenticated::new(&src, &cp)?;
    let full_scan = args.scan || matches!(src, Source::Dir(_));
    let listing = server_listing(&src, target)?;
    if listing.is_none() && !full_scan {
        return Err(unable(format!(
            "{} does not list the accesses of entry {target} (GET v1/entries/{target}/accesses); \
             use --scan to find them by reading every later entry",
            args.log.log
        )));
    }
    let subject = describe_target(&entry_at(&src, &reader, target, size)?);
    let found = full_scan
        .then(|| scan(&src, &reader, target, size))
        .transpose()?;
    let (listed, pending) = match &listing {
        Some(l) => check_listing(&src, &reader, l, target, size, found.as_deref())?,
        None => (Vec::new(), Vec::new()),
    };
    let accesses = found.unwrap_or(listed);
    if let Some(l) = &listing {
        check_erased_by(l.erased_by, &accesses, size).map_err(failed)?;
    }
    Ok(Examined {
        target,
        size,
        subject,
        accesses,
        pending,
        complete: full_scan,
        compared: full_scan && listing.is_some(),
    })
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (proleptic Gregorian).
fn utc(ms: u64) -> String {
    let (secs, millis) = (ms / 1000, ms % 1000);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An access as JSON.
fn access_json(a: &Access) -> Value {
    let mut v = json!({
        "index": a.index,
        "sequenced_at_ms": a.sequenced_at_ms,
        "sequenced_at": utc(a.sequenced_at_ms),
        "type": a.kind,
        "agency": a.agency,
    });
    match &a.action {
        AccessAction::Read(r) => {
            v["official"] = json!(r.official);
            v["purpose"] = json!(r.purpose);
            v["legal_basis"] = json!(r.legal_basis);
            v["case"] = json!(r.case);
        }
        AccessAction::Erase(e) => v["legal_basis"] = json!(e.legal_basis),
        _ => {}
    }
    v
}

/// An access for people: one line with when, what and who, one with why.
fn access_lines(a: &Access) -> [String; 2] {
    let head = format!(
        "#{:<8} {}  {:<22} {}",
        a.index,
        utc(a.sequenced_at_ms),
        a.kind,
        a.agency
    );
    let why = match &a.action {
        AccessAction::Read(r) => format!(
            "          official: {}; purpose: {}; legal basis: {}{}",
            r.official,
            r.purpose,
            r.legal_basis,
            r.case
                .as_deref()
                .map(|c| format!("; case: {c}"))
                .unwrap_or_default()
        ),
        AccessAction::Erase(e) => format!("          legal basis: {}", e.legal_basis),
        _ => String::new(),
    };
    [head, why]
}

fn guarantee(x: &Examined) -> String {
    let (i, s) = (x.target, x.size);
    let each = format!(
        "each listed entry is in the log under the verified checkpoint of size {s} and is a read \
         or an erasure naming entry {i}"
    );
    if x.complete {
        let compared = if x.compared {
            "; the server's list agrees"
        } else {
            ""
        };
        format!(
            "{each}; COMPLETE up to size {s}: every entry after {i} was read, and these are all \
             the reads and erasures of its payload{compared}"
        )
    } else {
        format!(
            "{each}; the list is the server's and is NOT proven complete (the server could leave \
             an access out): use --scan to prove it"
        )
    }
}

fn report(x: &Examined) -> Verified {
    let mut v = Verified::default();
    v.add("entry", "entry", json!(x.target));
    v.add("checkpoint size", "checkpoint_size", json!(x.size));
    let sub = &x.subject;
    v.add(
        "entry is",
        "entry_type",
        json!(format!(
            "{} by {}",
            sub["type"]
                .as_str()
                .unwrap_or("(not a statement of this ledger)"),
            sub["agency"].as_str().unwrap_or("?")
        )),
    );
    let commitment = &sub["payload_commitment"];
    v.line(format!(
        "{:<16} {}",
        "commitment",
        commitment
            .as_str()
            .unwrap_or("none: the entry has no private payload")
    ));
    v.set("payload_commitment", commitment.clone());
    v.add("accesses", "count", json!(x.accesses.len()));
    for a in &x.accesses {
        for l in access_lines(a) {
            v.line(l);
        }
    }
    v.set(
        "accesses",
        Value::Array(x.accesses.iter().map(access_json).collect()),
    );
    let erased_by = first_erasure(&x.accesses);
    v.line(format!(
        "{:<16} {}",
        "erased by",
        erased_by.map_or("not erased".to_owned(), |n| format!("entry {n}"))
    ));
    v.set("erased_by", json!(erased_by));
    if !x.pending.is_empty() {
        v.add("not yet checked", "pending", json!(x.pending));
        v.line(format!(
            "                 (listed by the server beyond the checkpoint of size {}: run again later)",
            x.size
        ));
    }
    v.add("complete", "complete", json!(x.complete));
    v.add(
        "agencies",
        "agencies",
        json!("as claimed by each entry: that its key was an active key of that agency is checked by `ledger-verify replay`"),
    );
    v.add("guarantee", "guarantee", json!(guarantee(x)));
    v
}

/// `accesses --index I [--scan]`.
pub fn accesses(args: &AccessesArgs) -> Outcome {
    examine(args).map(|x| report(&x))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;
    use std::path::Path;

    use ed25519_dalek::SigningKey;
    use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
    use ledger_core::entry::sign_statement;
    use ledger_core::note::Ed25519Signer;
    use ledger_core::registry::{Registry, TrustAnchors};
    use ledger_core::tile::{EntryBundle, encode_entry_bundle, read_tile_data, tiles_for_size};
    use ledger_core::tree::MemoryTree;

    use super::*;

    const ORIGIN: &str = "accesses.test.example/log";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn b64(k: &SigningKey) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes())
    }

    fn statement(agency: &str, sub: &str, kind: &str, object: &str, extra: &str) -> String {
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"{agency}","submission_id":"{sub}","type":"{kind}","channel":"G2G","occurred_at":"2026-11-28T08:00:00Z","object":{object}{extra}}}"#
        )
    }

    /// A directory mirror of a log whose entries are sequenced by ledger-core's
    /// registry:
    /// 0 genesis, 1-2 register city-licensing and audit-board,
    /// 3 a permit with a payload commitment, 4 a grant to audit-board,
    /// 5 audit-board reads 3, 6 a permit without payload, 7 city-licensing
    /// reads 3, 8 city-licensing erases 3.
    fn log(dir: &Path) -> String {
        let (authority, signer) = (
            key(100),
            Ed25519Signer::new(Origin::new(ORIGIN).unwrap().key_name(), key(200)),
        );
        let vkey = signer.verifier().to_vkey();
        let mut reg = Registry::new(
            ORIGIN,
            TrustAnchors {
                authority_key: Some(authority.verifying_key()),
                log_vkey: Some(vkey.clone()),
            },
        );
        let (city, audit) = (key(1), key(2));
        let commitment = "ab".repeat(32);
        let read = |who: &str, sub: &str| {
            statement(
                who,
                sub,
                "access.payload.read",
                r#"{"entry":"3","official":"Officer 7","purpose":"appeal review","legal_basis":"UU 30/2014 art. 5","case":"APL/2026/9"}"#,
                "",
            )
        };
        let steps: Vec<(String, &SigningKey)> = vec![
            (
                statement(
                    "registry",
                    "genesis",
                    "registry.genesis",
                    &format!(
                        r#"{{"authority_key":"{}","log_vkey":"{vkey}"}}"#,
                        b64(&authority)
                    ),
                    "",
                ),
                &authority,
            ),
            (
                statement(
                    "registry",
                    "r1",
                    "registry.agency.register",
                    &format!(
                        r#"{{"agency":"city-licensing","name":"City","key":"{}"}}"#,
                        b64(&city)
                    ),
                    "",
                ),
                &authority,
            ),
            (
                statement(
                    "registry",
                    "r2",
                    "registry.agency.register",
                    &format!(
                        r#"{{"agency":"audit-board","name":"Audit","key":"{}"}}"#,
                        b64(&audit)
                    ),
                    "",
                ),
                &authority,
            ),
            (
                statement(
                    "city-licensing",
                    "p1",
                    "decision.permit.granted",
                    r#"{"permit":"stall"}"#,
                    &format!(r#","payload_commitment":"{commitment}""#),
                ),
                &city,
            ),
            (
                statement(
                    "registry",
                    "g1",
                    "registry.access.grant",
                    r#"{"grantee":"audit-board","agencies":"*","types":"decision","legal_basis":"UU 15/2006"}"#,
                    "",
                ),
                &authority,
            ),
            (read("audit-board", "a1"), &audit),
            (
                statement(
                    "city-licensing",
                    "p2",
                    "decision.permit.granted",
                    r#"{"permit":"kiosk"}"#,
                    "",
                ),
                &city,
            ),
            (read("city-licensing", "a2"), &city),
            (
                statement(
                    "city-licensing",
                    "e1",
                    "access.payload.erase",
                    r#"{"entry":"3","legal_basis":"UU 27/2022 art. 8"}"#,
                    "",
                ),
                &city,
            ),
        ];
        let mut tree = MemoryTree::new();
        let mut entries = Vec::new();
        for (i, (st, k)) in steps.iter().enumerate() {
            let applied = reg
                .sequence(
                    st.as_bytes(),
                    &sign_statement(k, st.as_bytes()),
                    1_795_852_800_000 + i as u64,
                )
                .unwrap_or_else(|e| panic!("step {i}: {e}"));
            let bytes = applied.entry.encode().unwrap();
            tree.append(&bytes);
            entries.push(bytes);
        }
        write_mirror(dir, &tree, &entries, &signer);
        vkey
    }

    fn write_mirror(dir: &Path, tree: &MemoryTree, entries: &[Vec<u8>], signer: &Ed25519Signer) {
        let put = |rel: &str, data: &[u8]| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        for t in tiles_for_size(tree.size()) {
            put(&t.path(), &read_tile_data(&t, tree).unwrap());
        }
        for (n, chunk) in entries.chunks(256).enumerate() {
            let b = EntryBundle::new(n as u64, chunk.len() as u16).unwrap();
            put(&b.path(), &encode_entry_bundle(chunk).unwrap());
        }
        let cp = Checkpoint::new(Origin::new(ORIGIN).unwrap(), tree.size(), tree.root());
        put("checkpoint", &sign_checkpoint(&cp, signer));
    }

    fn args(log: &str, vkey: &str, index: u64, scan: bool) -> AccessesArgs {
        AccessesArgs {
            log: LogArgs { log: log.into() },
            key: KeyArgs {
                vkey: Some(vkey.into()),
                vkey_file: None,
                policy: None,
                max_age: None,
            },
            index,
            scan,
        }
    }

    /// Serves `dir` over HTTP, and `listing` as the answer to
    /// `GET /v1/entries/3/accesses`; returns the base URL.
    fn serve(dir: &Path, listing: Option<Value>) -> String {
        let pages = listing
            .map(|l| vec![("/v1/entries/3/accesses".to_owned(), l)])
            .unwrap_or_default();
        serve_pages(dir, pages)
    }

    /// Serves `dir` over HTTP, and each (path, JSON) page.
    fn serve_pages(dir: &Path, pages: Vec<(String, Value)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let dir = dir.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut line = String::new();
                let mut r = BufReader::new(&stream);
                r.read_line(&mut line).unwrap();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() <= 2 {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body = match pages.iter().find(|(p, _)| *p == path) {
                    Some((_, l)) => Some(l.to_string().into_bytes()),
                    None => std::fs::read(dir.join(&path[1..])).ok(),
                };
                let mut out = &stream;
                let (status, body) = body.map_or(("404 Not Found", Vec::new()), |b| ("200 OK", b));
                let _ = write!(
                    out,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = out.write_all(&body);
            }
        });
        url
    }

    fn listing(indexes: &[u64], erased_by: Option<u64>) -> Value {
        let types = |i: u64| {
            if i == 8 {
                "access.payload.erase"
            } else {
                "access.payload.read"
            }
        };
        json!({"entry": 3, "erased_by": erased_by, "accesses": indexes.iter().map(|&i| json!({
            "index": i, "type": types(i),
            "agency": if i == 5 { "audit-board" } else { "city-licensing" },
            "sequenced_at_ms": 1_795_852_800_000u64 + i})).collect::<Vec<_>>()})
    }

    #[test]
    fn a_directory_mirror_is_scanned_and_every_access_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let vkey = log(dir.path());
        let log = dir.path().to_str().unwrap();
        let x = examine(&args(log, &vkey, 3, false)).unwrap();
        assert!(x.complete && !x.compared);
        let found: Vec<(u64, &str, &str)> = x
            .accesses
            .iter()
            .map(|a| (a.index, a.kind.as_str(), a.agency.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (5, "access.payload.read", "audit-board"),
                (7, "access.payload.read", "city-licensing"),
                (8, "access.payload.erase", "city-licensing"),
            ]
        );
        assert_eq!(first_erasure(&x.accesses), Some(8));
        assert_eq!(x.subject["type"], "decision.permit.granted");
        let json = access_json(&x.accesses[0]);
        assert_eq!(json["official"], "Officer 7");
        assert_eq!(json["case"], "APL/2026/9");
        assert_eq!(json["sequenced_at"], "2026-11-28T08:00:00.005Z");
        assert!(guarantee(&x).contains("COMPLETE up to size 9"));
        // An entry nobody accessed; an entry beyond the checkpoint.
        assert!(
            examine(&args(log, &vkey, 6, false))
                .unwrap()
                .accesses
                .is_empty()
        );
        assert!(matches!(
            examine(&args(log, &vkey, 9, true)),
            Err(Problem::Unable(_))
        ));
    }

    #[test]
    fn the_servers_list_is_verified_and_an_omission_is_caught_by_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let vkey = log(dir.path());
        let honest = serve(dir.path(), Some(listing(&[5, 7, 8], Some(8))));
        let x = examine(&args(&honest, &vkey, 3, false)).unwrap();
        assert_eq!(x.accesses.len(), 3);
        assert!(!x.complete);
        assert!(guarantee(&x).contains("NOT proven complete"));
        let x = examine(&args(&honest, &vkey, 3, true)).unwrap();
        assert!(x.complete && x.compared);

        // Leaving out entry 7 is not noticed without --scan, and is with it.
        let hiding = serve(dir.path(), Some(listing(&[5, 8], Some(8))));
        assert_eq!(
            examine(&args(&hiding, &vkey, 3, false))
                .unwrap()
                .accesses
                .len(),
            2
        );
        match examine(&args(&hiding, &vkey, 3, true)) {
            Err(Problem::Failed(m)) => assert!(m.contains("leaves out entry 7"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Listing an entry that is no access to entry 3, misstating one, or
        // hiding the erasure are failures without --scan.
        for (bad, why) in [
            (listing(&[5, 6], None), "not a read or an erasure"),
            (listing(&[4], None), "not a read or an erasure"),
            (listing(&[5, 7, 8], None), "erased by none"),
        ] {
            let url = serve(dir.path(), Some(bad));
            match examine(&args(&url, &vkey, 3, false)) {
                Err(Problem::Failed(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        let mut wrong_agency = listing(&[5], None);
        wrong_agency["accesses"][0]["agency"] = json!("city-licensing");
        let url = serve(dir.path(), Some(wrong_agency));
        assert!(matches!(
            examine(&args(&url, &vkey, 3, false)),
            Err(Problem::Failed(_))
        ));
        // Beyond the checkpoint: shown as not yet checked.
        let url = serve(dir.path(), Some(listing(&[5, 7, 8, 12], Some(8))));
        assert_eq!(examine(&args(&url, &vkey, 3, false)).unwrap().pending, [12]);
        // A list in pages is read to its end; a page that does not go forward
        // is refused.
        let mut page1 = listing(&[5, 7], Some(8));
        page1["next"] = json!(8);
        let url = serve_pages(
            dir.path(),
            vec![
                ("/v1/entries/3/accesses".into(), page1.clone()),
                (
                    "/v1/entries/3/accesses?from=8".into(),
                    listing(&[8], Some(8)),
                ),
            ],
        );
        let x = examine(&args(&url, &vkey, 3, true)).unwrap();
        assert!(x.compared && x.accesses.len() == 3);
        page1["next"] = json!(7);
        let url = serve_pages(dir.path(), vec![("/v1/entries/3/accesses".into(), page1)]);
        assert!(matches!(
            examine(&args(&url, &vkey, 3, false)),
            Err(Problem::Unable(_))
        ));
        // A server without the list: exit 2 without --scan.
        let mirror = serve(dir.path(), None);
        assert!(matches!(
            examine(&args(&mirror, &vkey, 3, false)),
            Err(Problem::Unable(_))
        ));
        assert_eq!(
            examine(&args(&mirror, &vkey, 3, true))
                .unwrap()
                .accesses
                .len(),
            3
        );
    }

    #[test]
    fn listings_are_parsed_strictly_enough() {
        let l = parse_listing(
            br#"{"entry":3,"accesses":[{"index":7},{"index":5,"type":"access.payload.read"}],"erased_by":null}"#,
            3,
        )
        .unwrap();
        assert_eq!(l.items.iter().map(|i| i.index).collect::<Vec<_>>(), [5, 7]);
        for bad in [
            &br#"{"entry":4,"accesses":[],"erased_by":null}"#[..],
            br#"{"entry":3,"erased_by":null}"#,
            br#"{"entry":3,"accesses":[{"index":"5"}],"erased_by":null}"#,
            br#"{"entry":3,"accesses":[],"erased_by":"x"}"#,
            b"not json",
        ] {
            assert!(
                parse_listing(bad, 3).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_795_852_800_123), "2026-11-28T08:00:00.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
