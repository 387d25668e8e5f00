//! `replay`: the full audit (spec/registry.md §4). Every entry bundle and hash
//! tile of the log is read once, in order, with memory bounded by one bundle, the
//! right edge of the tree and the registry state:
//!
//! - the tree is recomputed from the entries, and every tile the log serves is
//!   compared with the recomputed one, and the root with the signed checkpoint's;
//! - unless `--generic`, every entry is decoded and checked against the registry
//!   state as of its index (index, hash chain, agency chain, time order, origin,
//!   registry rules, active key), and every signature is verified, in batches, on
//!   all cores.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use ledger_core::hash::leaf_hash;
use ledger_core::registry::{PendingSignature, Registry, RegistryError, TrustAnchors};
use ledger_core::tile::{EntryBundle, TileBuilder, TileReader, parse_entry_bundle};
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::check::{Outcome, Problem, Verified, latest, log_key, open_source};
use crate::source::MAX_BUNDLE;
use crate::{KeyArgs, LogArgs};

/// Signatures verified together per batch.
const BATCH: usize = 256;
/// Entries collected before their signatures are verified.
const CHUNK: usize = 32 * 1024;

#[derive(Default)]
struct AgencySummary {
    entries: u64,
    first: u64,
    last: u64,
    types: BTreeMap<String, u64>,
    channels: BTreeMap<String, u64>,
}

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

/// Verifies signatures in batches of [`BATCH`] on all cores. A failing batch is
/// rechecked one signature at a time to name the first bad index.
fn verify_signatures(pending: &[PendingSignature]) -> Result<(), Problem> {
    let bad = pending
        .par_chunks(BATCH)
        .filter_map(|chunk| {
            let msgs: Vec<&[u8]> = chunk.iter().map(|p| p.message.as_slice()).collect();
            let sigs: Vec<Signature> = chunk
                .iter()
                .map(|p| Signature::from_bytes(&p.signature))
                .collect();
            let keys: Vec<VerifyingKey> = chunk.iter().map(|p| p.key).collect();
            if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
                return None;
            }
            chunk.iter().find_map(|p| p.verify().err())
        })
        .min_by_key(|e| match e {
            RegistryError::BadSignature { index, .. } => *index,
            _ => u64::MAX,
        });
    match bad {
        Some(e) => Err(failed(e.to_string())),
        None => Ok(()),
    }
}

fn parse_authority(b64: &str) -> Result<VerifyingKey, Problem> {
    let bytes: [u8; 32] = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| unable("--authority-key must be base64 of a 32-byte Ed25519 key"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| unable("--authority-key is not an Ed25519 key"))
}

/// `replay`.
pub fn replay(
    log: &LogArgs,
    key: &KeyArgs,
    authority: Option<&str>,
    generic: bool,
    quiet: bool,
) -> Outcome {
    let (vkey, origin) = log_key(key)?;
    let src = open_source(&log.log)?;
    let cp = latest(&src, &vkey, &origin)?;
    let size = cp.checkpoint.size.0;
    let anchors = TrustAnchors {
        authority_key: authority.map(parse_authority).transpose()?,
        log_vkey: Some(vkey.to_vkey()),
    };
    let mut registry = Registry::new(origin.as_str(), anchors);
    let mut builder = TileBuilder::new();
    let mut pending: Vec<PendingSignature> = Vec::new();
    let mut agencies: BTreeMap<String, AgencySummary> = BTreeMap::new();
    let mut tiles_checked = 0u64;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} entries [{bar:40}] {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };

    let bundles = size.div_ceil(256);
    for n in 0..bundles {
        let width = (size - n * 256).min(256) as u16;
        let bundle = EntryBundle::new(n, width).map_err(|e| failed(e.to_string()))?;
        let path = bundle.path();
        let data = match src.fetch(&path, MAX_BUNDLE).map_err(unable)? {
            Some(d) => d,
            None if width < 256 => {
                let full = EntryBundle::new(n, 256).map_err(|e| failed(e.to_string()))?;
                src.fetch(&full.path(), MAX_BUNDLE)
                    .map_err(unable)?
                    .ok_or_else(|| unable(format!("{path}: not found")))?
            }
            None => return Err(unable(format!("{path}: not found"))),
        };
        let entries = parse_entry_bundle(&data).map_err(|e| failed(format!("{path}: {e}")))?;
        if entries.len() < usize::from(width) || (width == 256 && entries.len() != 256) {
            return Err(failed(format!(
                "{path}: holds {} entries, expected {width}",
                entries.len()
            )));
        }
        for (j, e) in entries.iter().take(usize::from(width)).enumerate() {
            let index = n * 256 + j as u64;
            builder.append(leaf_hash(e));
            if generic {
                continue;
            }
            let (applied, sig) = registry
                .apply_deferred(e)
                .map_err(|err| failed(format!("entry {index} ({path}): {err}")))?;
            let st = &applied.statement;
            let a = agencies.entry(st.agency.to_string()).or_default();
            if a.entries == 0 {
                a.first = index;
            }
            a.entries += 1;
            a.last = index;
            *a.types.entry(st.kind.as_str().to_owned()).or_default() += 1;
            *a.channels
                .entry(st.channel.as_str().to_owned())
                .or_default() += 1;
            pending.push(sig);
        }
        let completed = builder.take_completed();
        if !completed.is_empty() {
            let tiles: Vec<_> = completed.iter().map(|(t, _)| *t).collect();
            let served = src.read_tiles(&tiles).map_err(unable)?;
            for ((tile, want), got) in completed.iter().zip(served) {
                if &got != want {
                    return Err(failed(format!(
                        "tile {} differs from the one recomputed from the entries",
                        tile.path()
                    )));
                }
                tiles_checked += 1;
            }
        }
        if pending.len() >= CHUNK {
            verify_signatures(&pending)?;
            pending.clear();
        }
        bar.set_position(n * 256 + u64::from(width));
    }
    verify_signatures(&pending)?;
    let partial = builder.partial_tiles();
    let tiles: Vec<_> = partial.iter().map(|(t, _)| *t).collect();
    let served = src.read_tiles(&tiles).map_err(unable)?;
    for ((tile, want), got) in partial.iter().zip(served) {
        if &got != want {
            return Err(failed(format!(
                "tile {} differs from the one recomputed from the entries",
                tile.path()
            )));
        }
        tiles_checked += 1;
    }
    let root = builder.root();
    if root != cp.checkpoint.root {
        return Err(failed(format!(
            "the entries hash to root {} at size {size}, but the signed checkpoint says {}",
            root.to_base64(),
            cp.checkpoint.root.to_base64()
        )));
    }
    bar.finish_and_clear();

    let mut v = Verified::default();
    v.add("checkpoint size", "size", json!(size));
    v.add("root", "root", json!(root.to_base64()));
    v.add("tiles compared", "tiles_checked", json!(tiles_checked));
    if generic {
        v.add(
            "checked",
            "checked",
            json!("tree only (--generic): every tile and the root"),
        );
        return Ok(v);
    }
    v.add(
        "checked",
        "checked",
        json!("every tile, the root, the hash chain, every agency chain, indices, time order, origin, registry rules and every signature"),
    );
    let mut table = Map::new();
    for (id, a) in &agencies {
        let fmt = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        v.line(format!(
            "agency {id}: {} entries, indices {}..={}; {}; {}",
            a.entries,
            a.first,
            a.last,
            fmt(&a.channels),
            fmt(&a.types)
        ));
        table.insert(
            id.clone(),
            json!({"entries": a.entries, "first": a.first, "last": a.last,
                "types": a.types, "channels": a.channels}),
        );
    }
    v.set("agencies", Value::Object(table));
    Ok(v)
}
