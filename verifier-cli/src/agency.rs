//! `agency --id ID`: an agency's record history, by walking its `agency_prev`
//! chain (spec/entry.md §2) back from its newest entry, each entry authenticated
//! against a freshly verified checkpoint.
//!
//! What the output guarantees, up to that checkpoint: every listed entry is in the
//! log, and, in a log that passes `replay` (which checks every `agency_prev`
//! link), no entry of the agency is missing between the oldest and the newest
//! listed. Which entry is the newest is the server's claim (or `--head`), unless
//! `--scan` reads every later entry of the log.

use ledger_core::entry::Entry;
use ledger_core::hash::leaf_hash;
use ledger_core::statement::Statement;
use ledger_core::tree::{HashReader as _, stored_hash_index};
use serde_json::{Value, json};

use crate::check::{Authenticated, Outcome, Problem, Verified, entry_at, latest, log_key};
use crate::source::{Source, bad_source, open_source, read_bundle};
use crate::{KeyArgs, LogArgs};

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

/// The statement's agency, for entries of this ledger's format.
fn agency_of(bytes: &[u8]) -> Option<(Entry, Statement)> {
    let e = Entry::decode(bytes).ok()?;
    let s = Statement::parse(&e.statement).ok()?;
    Some((e, s))
}

/// The server's claim of the agency's newest entry (`GET /v1/agencies/{id}`).
fn claimed_head(src: &Source, id: &str) -> Result<Option<u64>, Problem> {
    let Some(body) = src
        .fetch(&format!("v1/agencies/{id}"), 1 << 20)
        .map_err(unable)?
    else {
        return Err(unable(format!(
            "the log does not say which entry of {id} is the newest; pass --head N or --scan"
        )));
    };
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| unable(format!("the server's agency record is not JSON: {e}")))?;
    Ok(v["last_entry"].as_u64())
}

/// Scans entries `from..size` for the newest of agency `id`, reading each bundle
/// once and authenticating every entry through its leaf hash.
fn scan(
    src: &Source,
    id: &str,
    from: u64,
    size: u64,
    reader: &Authenticated<'_>,
) -> Result<Option<u64>, Problem> {
    let mut newest = None;
    let mut n = from / 256;
    while n * 256 < size {
        let (path, entries) = read_bundle(src, n, size)?;
        let width = entries.len() as u64;
        let first = (n * 256).max(from);
        let last = n * 256 + width;
        let indexes: Vec<u64> = (first..last).map(|i| stored_hash_index(0, i)).collect();
        let leaves = reader
            .read_hashes(&indexes)
            .map_err(|e| reader.classify(e))?;
        for (i, leaf) in (first..last).zip(leaves) {
            let e = &entries[(i - n * 256) as usize];
            if leaf_hash(e) != leaf {
                return Err(bad_source(
                    &src.name(),
                    &format!("{path}: entry {i} does not hash to the leaf the signed tree has"),
                ));
            }
            if agency_of(e).is_some_and(|(_, s)| s.agency.as_str() == id) {
                newest = Some(i);
            }
        }
        n += 1;
    }
    Ok(newest)
}

/// `agency --id ID [--head N] [--scan]`.
pub fn agency(
    log: &LogArgs,
    key: &KeyArgs,
    id: &str,
    head: Option<u64>,
    full_scan: bool,
) -> Outcome {
    let trust = log_key(key)?;
    let src = open_source(&log.log)?;
    let cp = latest(&src, &trust)?;
    let size = cp.checkpoint.size.0;
    let reader = Authenticated::new(&src, &cp)?;
    let (claimed, source_of_head) = match head {
        Some(h) => (Some(h), "--head"),
        None if full_scan => (None, "scan"),
        None => (claimed_head(&src, id)?, "the server's claim"),
    };
    let head = if full_scan {
        let from = claimed.map_or(0, |h| h + 1);
        match scan(&src, id, from, size, &reader)? {
            Some(later) if claimed.is_some() => {
                return Err(failed(format!(
                    "{source_of_head} says entry {} is the newest of {id}, but entry {later} is also {id}'s",
                    claimed.unwrap_or_default()
                )));
            }
            Some(found) => Some(found),
            None => claimed,
        }
    } else {
        claimed
    };
    let mut v = Verified::default();
    v.add("agency", "agency", json!(id));
    v.add("checkpoint size", "checkpoint_size", json!(size));
    let mut listed: Vec<Value> = Vec::new();
    let mut next = head;
    while let Some(index) = next {
        if index >= size {
            return Err(unable(format!(
                "entry {index} is not covered by the latest checkpoint (size {size}) yet"
            )));
        }
        let bytes = entry_at(&src, &reader, index, size)?;
        let (e, s) = agency_of(&bytes).ok_or_else(|| {
            failed(format!(
                "entry {index} is not an entry of this ledger's format"
            ))
        })?;
        if s.agency.as_str() != id {
            return Err(failed(format!(
                "entry {index} on {id}'s chain belongs to {}",
                s.agency.as_str()
            )));
        }
        if e.agency_prev.is_some_and(|p| p.0 >= index) {
            return Err(failed(format!(
                "entry {index}: agency_prev does not go back"
            )));
        }
        listed.push(json!({"index": index, "type": s.kind.as_str(), "channel": s.channel.as_str(),
            "occurred_at": s.occurred_at, "subject": s.subject, "submission_id": s.submission_id.as_str()}));
        next = e.agency_prev.map(|p| p.0);
    }
    listed.reverse();
    for e in &listed {
        v.line(format!(
            "#{:<8} {:<32} {} {} {}",
            e["index"],
            e["type"].as_str().unwrap_or_default(),
            e["channel"].as_str().unwrap_or_default(),
            e["occurred_at"].as_str().unwrap_or_default(),
            e["subject"].as_str().unwrap_or("")
        ));
    }
    let guarantee = match (head.is_some(), full_scan) {
        (false, true) => format!(
            "the agency has no entry in the log up to size {size} (every entry was scanned)"
        ),
        (false, false) => format!("{source_of_head}: the agency has no entry"),
        (true, true) => format!(
            "complete up to size {size}: every later entry was scanned, and in a log that passes replay the agency_prev chain leaves no entry out"
        ),
        (true, false) => format!(
            "every listed entry is in the log (size {size}); in a log that passes replay none is missing between them; that the first listed is the newest is {source_of_head} (use --scan to check)"
        ),
    };
    v.add("entries", "count", json!(listed.len()));
    v.add("guarantee", "guarantee", json!(guarantee));
    v.set("entries", Value::Array(listed));
    trust.describe(&mut v);
    Ok(v)
}
