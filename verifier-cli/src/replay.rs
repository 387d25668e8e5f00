//! `replay`: the full audit (spec/registry.md §4). Every entry bundle and hash
//! tile of the log is read once and checked in order; reads run `--jobs` at a
//! time ahead of the checks ([`prefetch::in_order`]), so memory is bounded by
//! `2·jobs` bundles with their tiles, the right edge of the tree and the
//! registry state, and a read error is met exactly where a sequential replay
//! meets it (`--resume` records the same progress):
//!
//! - the tree is recomputed from the entries, and every tile the log serves is
//!   compared with the recomputed one, and the root with the signed checkpoint's;
//! - unless `--generic`, every entry is decoded and checked against the registry
//!   state as of its index (index, hash chain, agency chain, time order, origin,
//!   registry rules, active key), and every signature is verified with the strict
//!   rule of spec/entry.md §3.2, one by one, on all cores (no batch equation:
//!   it accepts signatures the strict rule refuses, spec/registry.md §4).
//!
//! What a failure proves (spec/threat-model.md §4): a rule or signature broken by
//! a served entry is reported as FAILED only once every served entry is shown to
//! be the log's, by the recomputed root equalling the signed one; until then
//! the replay goes on hashing. Served data that contradicts the signed
//! checkpoint (a tile, or entries hashing to another root) is a bad source:
//! "could not check", exit 2.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use ledger_core::hash::leaf_hash;
use ledger_core::registry::{PendingSignature, Registry, RegistryError, TrustAnchors};
use std::path::Path;

use ledger_core::TreeSize;
use ledger_core::checkpoint::open_checkpoint;
use ledger_core::note::NoteVerifier;
use ledger_core::tile::{Tile, TileBuilder, TileReader, new_tiles};
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::check::{Outcome, Problem, Verified, latest, log_key};
use crate::prefetch::{self, Window};
use crate::source::{Source, bad_source, open_source, read_bundle};
use crate::statefile;
use crate::{KeyArgs, LogArgs};

/// Entries collected before their signatures are verified.
const CHUNK: usize = 4096;

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

/// Verifies every signature with the strict single rule (spec/entry.md §3.2)
/// on all cores, as the server does; the error of the lowest failing index.
fn verify_signatures(pending: &[PendingSignature]) -> Result<(), Problem> {
    let bad = pending
        .par_iter()
        .filter_map(|p| p.verify().err())
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

/// The full tiles that appending bundle `n` of a tree of `size` entries
/// completes, in the order [`TileBuilder::take_completed`] returns them (level
/// 0 first): those of `new_tiles(256n, 256n + width)` that are full.
fn tiles_completed_by(n: u64, size: u64) -> Vec<Tile> {
    let end = (n * 256 + 256).min(size);
    new_tiles(TreeSize(n * 256), TreeSize(end))
        .into_iter()
        .filter(|t| !t.is_partial())
        .collect()
}

/// Compares tiles the log serves with the recomputed ones, naming the first
/// differing hash. `served` holds the same tiles as `recomputed`, in order.
fn compare_tiles(
    source: &str,
    recomputed: &[(Tile, Vec<u8>)],
    served: Vec<(Tile, Vec<u8>)>,
) -> Result<u64, Problem> {
    if recomputed.len() != served.len()
        || recomputed
            .iter()
            .zip(&served)
            .any(|((a, _), (b, _))| a != b)
    {
        return Err(unable(
            "internal error: the tiles read ahead are not the tiles the replay completed",
        ));
    }
    for ((tile, want), (_, got)) in recomputed.iter().zip(served) {
        if &got != want {
            let at = want
                .chunks(32)
                .zip(got.chunks(32))
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()) / 32);
            let hex_at = |d: &[u8]| {
                d.get(at * 32..at * 32 + 32)
                    .map(hex::encode)
                    .unwrap_or_else(|| "nothing".into())
            };
            return Err(bad_source(
                source,
                &format!(
                    "tile {}: hash {at} is {} as served, but {} recomputed from the served entries ({} bytes served, {} expected)",
                    tile.path(),
                    hex_at(&got),
                    hex_at(want),
                    got.len(),
                    want.len()
                ),
            ));
        }
    }
    Ok(recomputed.len() as u64)
}

/// Reads `tiles` from `src`, paired with their data.
fn read_tiles(src: &Source, tiles: Vec<Tile>) -> Result<Vec<(Tile, Vec<u8>)>, Problem> {
    if tiles.is_empty() {
        return Ok(Vec::new());
    }
    let data = src.read_tiles(&tiles).map_err(unable)?;
    Ok(tiles.into_iter().zip(data).collect())
}

/// One bundle and the tiles it completes, read ahead of the replay
/// ([`prefetch::in_order`]); read errors are kept to be reported in order.
struct Fetched {
    n: u64,
    bundle: Result<(String, Vec<Vec<u8>>), Problem>,
    tiles: Result<Vec<(Tile, Vec<u8>)>, Problem>,
}

/// Reads bundle `n` and, unless its entries were verified in an earlier run
/// (`--resume`), the served tiles it completes.
fn fetch_bundle(src: &Source, n: u64, size: u64, skip: u64) -> Fetched {
    let bundle = read_bundle(src, n, size);
    let tiles = if n * 256 < skip || bundle.is_err() {
        Ok(Vec::new())
    } else {
        read_tiles(src, tiles_completed_by(n, size))
    };
    Fetched { n, bundle, tiles }
}

/// What `--resume` keeps: the checkpoint being replayed, how many entries are
/// fully verified, and the right edge of their tree (a commitment to them).
fn save_state(
    path: &Path,
    cp_note: &[u8],
    verified: u64,
    builder: &TileBuilder,
    tiles_checked: u64,
) -> Result<(), Problem> {
    let partial: Vec<String> = builder
        .partial_tiles()
        .into_iter()
        .map(|(_, d)| STANDARD.encode(d))
        .collect();
    let state = json!({"format": "egov-ledger/replay-state/v1",
        "checkpoint": String::from_utf8_lossy(cp_note), "verified": verified,
        "partial_tiles": partial, "tiles_checked": tiles_checked});
    statefile::write_atomic(path, state.to_string().as_bytes())
        .map_err(|e| unable(format!("{}: {e}", path.display())))
}

struct Resumed {
    checkpoint: Vec<u8>,
    verified: u64,
    builder: TileBuilder,
    tiles_checked: u64,
}

fn load_state(path: &Path) -> Result<Option<Resumed>, Problem> {
    if !path.exists() {
        return Ok(None);
    }
    let bad = |m: &str| unable(format!("{}: not a replay state: {m}", path.display()));
    let text = std::fs::read(path).map_err(|e| unable(format!("{}: {e}", path.display())))?;
    let v: Value = serde_json::from_slice(&text).map_err(|_| bad("JSON"))?;
    if v["format"] != "egov-ledger/replay-state/v1" {
        return Err(bad("format"));
    }
    let verified = v["verified"].as_u64().ok_or_else(|| bad("verified"))?;
    let partial: Vec<Vec<u8>> = v["partial_tiles"]
        .as_array()
        .ok_or_else(|| bad("partial_tiles"))?
        .iter()
        .map(|t| {
            t.as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or_else(|| bad("tile"))
        })
        .collect::<Result<_, _>>()?;
    let builder =
        TileBuilder::resume(TreeSize(verified), &partial).map_err(|e| bad(&e.to_string()))?;
    Ok(Some(Resumed {
        checkpoint: v["checkpoint"]
            .as_str()
            .ok_or_else(|| bad("checkpoint"))?
            .as_bytes()
            .to_vec(),
        verified,
        builder,
        tiles_checked: v["tiles_checked"].as_u64().unwrap_or(0),
    }))
}

/// Records a failed signature check in `broken` (proven only once the root is,
/// see [`replay`]); other problems (a state file that cannot be written) stop
/// the replay.
fn note_broken(r: Result<(), Problem>, broken: &mut Option<String>) -> Result<(), Problem> {
    match r {
        Err(Problem::Failed(m)) => {
            broken.get_or_insert(m);
            Ok(())
        }
        other => other,
    }
}

/// A chunk of signatures being verified on the pool, and the progress to record
/// once it is.
struct InFlight {
    rx: std::sync::mpsc::Receiver<Result<(), Problem>>,
    done: u64,
    builder: TileBuilder,
    tiles_checked: u64,
}

impl InFlight {
    fn finish(self, resume: Option<&Path>, cp_note: &[u8]) -> Result<(), Problem> {
        self.rx
            .recv()
            .map_err(|_| unable("signature verification stopped"))??;
        if let Some(p) = resume {
            save_state(p, cp_note, self.done, &self.builder, self.tiles_checked)?;
        }
        Ok(())
    }
}

/// `replay`: its arguments.
#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The registry authority's public key (base64), from a source you trust;
    /// genesis must name it. Needed unless --generic or --trust-genesis.
    #[arg(long)]
    authority_key: Option<String>,
    /// Without --authority-key: learn the authority key from entry 0 (the
    /// genesis the log's operator wrote), and say so. Agencies' signatures are
    /// then checked against a registry the operator could have made up.
    #[arg(long, conflicts_with = "authority_key")]
    trust_genesis: bool,
    /// Check only the tree (every tile and the root): for any C2SP tiled log.
    #[arg(long)]
    generic: bool,
    /// Keep progress in this file and, if it exists, continue from it: entries
    /// verified before are re-read only to rebuild the registry state (their
    /// signatures and tiles are not checked again, but they must hash to the
    /// same tree as before). Removed when the replay completes.
    #[arg(long)]
    resume: Option<std::path::PathBuf>,
    /// Read this many bundles (with their tiles) at once, ahead of the checks,
    /// which still take them in order; at most twice as many are held.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
}

/// `replay`.
pub fn replay(args: &ReplayArgs, quiet: bool) -> Outcome {
    let (log, key, generic, resume) = (&args.log, &args.key, args.generic, args.resume.as_deref());
    let (authority, trust_genesis) = (args.authority_key.as_deref(), args.trust_genesis);
    // spec/registry.md §1: a verifier that learns the authority key from entry 0
    // must say so; here it must also be asked to.
    if !generic && authority.is_none() && !trust_genesis {
        return Err(unable(
            "give --authority-key KEY (the registry authority's key, from a source you trust) \
             or --trust-genesis (learn it from entry 0, which the log's operator wrote; \
             every agency signature is then checked only against a registry the operator could have made up)",
        ));
    }
    let trust = log_key(key)?;
    let (vkey, origin) = (&trust.key, &trust.origin);
    let src = open_source(&log.log)?;
    let resumed = match resume {
        Some(p) => load_state(p)?,
        None => None,
    };
    // A resumed replay finishes the checkpoint it started with.
    let cp = match &resumed {
        Some(r) => {
            let none: [&dyn NoteVerifier; 0] = [];
            open_checkpoint(&r.checkpoint, origin, vkey, &none)
                .map_err(|e| unable(format!("the replay state's checkpoint: {e}")))?
        }
        None => latest(&src, &trust)?,
    };
    let size = cp.checkpoint.size.0;
    let anchors = TrustAnchors {
        authority_key: authority.map(parse_authority).transpose()?,
        log_vkey: Some(vkey.to_vkey()),
    };
    let mut registry = Registry::new(origin.as_str(), anchors);
    // Submission ids go to a sort-based duplicate pass, not to memory.
    let ids = crate::dedup::SortedIds::new(crate::dedup::limit_from_env());
    registry.set_submission_ids(Box::new(ids.clone()));
    let mut builder = TileBuilder::new();
    let mut pending: Vec<PendingSignature> = Vec::new();
    let mut agencies: BTreeMap<String, AgencySummary> = BTreeMap::new();
    let mut tiles_checked = resumed.as_ref().map_or(0, |r| r.tiles_checked);
    let skip = resumed.as_ref().map_or(0, |r| r.verified);
    if skip > size || skip % 256 != 0 && skip != size {
        return Err(unable("the replay state does not fit its checkpoint"));
    }
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

    let mut in_flight: Option<InFlight> = None;
    // The first rule or signature a served entry breaks: proven against the log
    // only if the root of every served entry is the signed one (below).
    let mut broken: Option<String> = None;
    let bundles = size.div_ceil(256);
    let source = src.name();
    // Progress already verified is recorded even if a later bundle fails. Bundles
    // and tiles are read ahead on `--jobs` threads and checked here in order.
    let walked: Result<(), Problem> = prefetch::in_order(
        0..bundles,
        Window::new(usize::from(args.jobs)),
        |n| fetch_bundle(&src, n, size, skip),
        |fetched: Fetched| {
            let n = fetched.n;
            let (path, entries) = fetched.bundle?;
            let verified_before = n * 256 < skip;
            for (j, e) in entries.iter().enumerate() {
                let index = n * 256 + j as u64;
                builder.append(leaf_hash(e));
                if generic || broken.is_some() {
                    continue;
                }
                let (applied, sig) = match registry.apply_deferred(e) {
                    Ok(a) => a,
                    Err(err @ RegistryError::SubmissionIds { .. }) => {
                        return Err(unable(err.to_string()));
                    }
                    Err(err) => {
                        broken = Some(format!("entry {index} ({path}): {err}"));
                        pending.clear();
                        continue;
                    }
                };
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
                if !verified_before {
                    pending.push(sig);
                }
            }
            let completed = builder.take_completed();
            if verified_before {
                // Already verified in an earlier run: the entries re-read now must be
                // the same ones, which the saved right edge of their tree commits to.
                if (n + 1) * 256 == skip
                    && let Some(r) = &resumed
                    && builder.partial_tiles() != r.builder.partial_tiles()
                {
                    return Err(bad_source(
                        &src.name(),
                        &format!(
                            "its first {skip} entries are not the ones verified in the earlier run (--resume)"
                        ),
                    ));
                }
            } else {
                tiles_checked += compare_tiles(&source, &completed, fetched.tiles?)?;
            }
            let done = n * 256 + entries.len() as u64;
            if pending.len() >= CHUNK && broken.is_none() {
                // Verify this chunk on the pool while the next bundles are read and
                // checked; wait for the previous chunk first, then record progress.
                if let Some(f) = in_flight.take() {
                    note_broken(f.finish(resume, &cp.raw), &mut broken)?;
                }
                if broken.is_some() {
                    pending.clear();
                } else {
                    let chunk = std::mem::take(&mut pending);
                    let (tx, rx) = std::sync::mpsc::channel();
                    rayon::spawn(move || {
                        let _ = tx.send(verify_signatures(&chunk));
                    });
                    in_flight = Some(InFlight {
                        rx,
                        done,
                        builder: builder.clone(),
                        tiles_checked,
                    });
                }
            }
            bar.set_position(done);
            Ok(())
        },
    );
    if let Err(e) = walked {
        if let Some(f) = in_flight.take() {
            let _ = f.finish(resume, &cp.raw);
        }
        return Err(e);
    }
    if let Some(f) = in_flight.take() {
        note_broken(f.finish(resume, &cp.raw), &mut broken)?;
    }
    if broken.is_none() {
        note_broken(verify_signatures(&pending), &mut broken)?;
    }
    if broken.is_none()
        && !generic
        && let Some(d) = ids.finish().map_err(|e| unable(e.to_string()))?
    {
        broken = Some(format!(
            "entry {}: its agency already used its submission id at entry {} (duplicate pass)",
            d.second, d.first
        ));
    }
    let partial = builder.partial_tiles();
    let served = read_tiles(&src, partial.iter().map(|(t, _)| *t).collect())?;
    tiles_checked += compare_tiles(&source, &partial, served)?;
    let root = builder.root();
    if root != cp.checkpoint.root {
        return Err(bad_source(
            &src.name(),
            &format!(
                "the entries it serves hash to root {} at size {size}, but the signed checkpoint says {}{}",
                root.to_base64(),
                cp.checkpoint.root.to_base64(),
                broken
                    .map(|b| format!("; as served, {b}"))
                    .unwrap_or_default()
            ),
        ));
    }
    if let Some(b) = broken {
        return Err(failed(format!(
            "{b} (every entry served hashes to the signed root: the log signed a tree with this entry)"
        )));
    }
    bar.finish_and_clear();
    if let Some(p) = resume {
        // The replay is complete; a later --resume starts afresh.
        let _ = std::fs::remove_file(p);
    }

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
        trust.describe(&mut v);
        return Ok(v);
    }
    let used = registry
        .authority_key()
        .map(|k| STANDARD.encode(k.as_bytes()))
        .unwrap_or_default();
    let (from, against) = if authority.is_some() {
        (
            "given with --authority-key",
            "the registry of the authority key given",
        )
    } else {
        (
            "learned from entry 0 (--trust-genesis)",
            "the registry of the authority key learned from entry 0 (--trust-genesis: not independently checked)",
        )
    };
    v.add("authority key", "authority_key", json!(used));
    v.add("authority from", "authority_key_source", json!(from));
    v.add(
        "checked",
        "checked",
        json!(format!("every tile, the root, the hash chain, every agency chain, indices, time order, origin, registry rules and every signature, against {against}")),
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
    trust.describe(&mut v);
    Ok(v)
}
