//! `mirror`: a verified copy of a C2SP tlog-tiles log in a directory
//! (spec/mirror.md). Every tile is authenticated against the log's verified
//! checkpoint (spec/checkpoints-and-tiles.md §7.1) and every bundle against its
//! authenticated level-0 tile (§5) before it is written; files are staged in
//! `DIR/.mirror-staging`, moved into place, and the checkpoint is written last,
//! atomically, so that `DIR/checkpoint` is always covered by the files beside it.

mod copy;
mod files;

use std::path::{Path, PathBuf};

use ledger_core::checkpoint::{SignedCheckpoint, open_checkpoint};
use ledger_core::note::NoteVerifier;
use serde_json::json;

use crate::check::{
    Divergence, Outcome, Problem, Relation, Trust, Verified, latest, log_key, relate, stale,
};
use crate::source::open_source;
use crate::statefile;
use crate::{KeyArgs, LogArgs};

use files::Files;

/// `mirror`: its arguments.
#[derive(clap::Args)]
pub struct MirrorArgs {
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The mirror: a directory (created if missing) that any static web server
    /// can serve, and that `replay --log DIR` reads.
    #[arg(long)]
    out: PathBuf,
    /// Fetch this many tiles or bundles at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// Where to write evidence of a fork (default: `<out>.evidence-<unix time>.json`
    /// beside the mirror; never inside it).
    #[arg(long)]
    evidence: Option<PathBuf>,
}

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

fn failed(m: impl Into<String>) -> Problem {
    Problem::Failed(m.into())
}

/// Holds an exclusive lock on the mirror directory while a run lasts, so that
/// two runs (an overlapping cron job) never stage into one directory.
fn lock(dir: &Path) -> Result<std::fs::File, Problem> {
    let f = std::fs::File::open(dir).map_err(|e| unable(format!("{}: {e}", dir.display())))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(unable(format!(
            "{}: another mirror run is writing to this directory",
            dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(unable(format!("{}: cannot lock: {e}", dir.display())))
        }
    }
}

/// The checkpoint the mirror holds, if any: it must be this log's.
fn mirrored(dir: &Path, trust: &Trust) -> Result<Option<SignedCheckpoint>, Problem> {
    let path = dir.join("checkpoint");
    let bytes = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unable(format!("{}: {e}", path.display()))),
        Ok(b) => b,
    };
    let none: [&dyn NoteVerifier; 0] = [];
    open_checkpoint(&bytes, &trust.origin, &trust.key, &none)
        .map(Some)
        .map_err(|e| {
            unable(format!(
                "{} is not a checkpoint of this log signed by its key ({e}): not a mirror of this log",
                path.display()
            ))
        })
}

/// Checks that the log's checkpoint `new` extends the mirror's `old` (spec/mirror.md
/// §3): a proven fork writes evidence (spec/evidence.md) outside the mirror and
/// fails; a stale source is "could not check". Nothing in the mirror changes.
fn check_extends(
    src: &crate::source::Source,
    trust: &Trust,
    old: &SignedCheckpoint,
    new: &SignedCheckpoint,
    args: &MirrorArgs,
) -> Result<(), Problem> {
    match relate(src, &trust.key, &trust.origin, old, new) {
        Ok(Relation::Extends(_)) => Ok(()),
        Ok(Relation::Stale) => Err(unable(format!(
            "{}; the mirror is unchanged",
            match stale(src, old, new) {
                Problem::Unable(m) | Problem::Failed(m) => m,
            }
        ))),
        Err(Divergence::Fork(fork)) => {
            let (evidence, proven) = *fork;
            let out = match &args.evidence {
                Some(p) => p.clone(),
                None => {
                    let mut name = args
                        .out
                        .file_name()
                        .map(std::ffi::OsStr::to_os_string)
                        .unwrap_or_else(|| "mirror".into());
                    name.push(format!(".evidence-{}.json", evidence.observed_at_unix));
                    args.out.with_file_name(name)
                }
            };
            statefile::write_atomic(&out, evidence.to_json().as_bytes())
                .map_err(|e| unable(format!("{}: {e}", out.display())))?;
            Err(failed(format!(
                "FORK: the log's checkpoint does not extend the one mirrored before: {proven}; evidence written to {} (check it with `ledger-verify evidence verify`); the mirror is unchanged",
                out.display()
            )))
        }
        Err(Divergence::Unchecked(p)) => Err(p),
    }
}

/// `mirror --log URL --out DIR`.
pub fn mirror(args: &MirrorArgs) -> Outcome {
    let trust = log_key(&args.key)?;
    let src = open_source(&args.log.log)?;
    let dir = &args.out;
    std::fs::create_dir_all(dir).map_err(|e| unable(format!("{}: {e}", dir.display())))?;
    let _lock = lock(dir)?;
    let new = latest(&src, &trust)?;
    let old = mirrored(dir, &trust)?;
    if let Some(old) = &old {
        check_extends(&src, &trust, old, &new, args)?;
    }
    let old_size = old.as_ref().map_or(0, |c| c.checkpoint.size.0);
    let files = Files::new(&src, dir);
    let window = crate::prefetch::Window::new(usize::from(args.jobs));
    let stats = match copy::copy(&files, &new, old_size, window) {
        Ok(s) => s,
        Err(e) => {
            // Nothing of this run reaches the mirror: what it staged is dropped.
            files.discard_staging();
            return Err(e);
        }
    };
    let wrote = files.publish(&new, old_size)?;
    let mut v = Verified::default();
    v.add("mirror", "out", json!(dir.display().to_string()));
    v.add("size", "size", json!(new.checkpoint.size.0));
    v.add("root", "root", json!(new.checkpoint.root.to_base64()));
    v.add("previous size", "previous_size", json!(old_size));
    if old.is_some() {
        v.add("consistent", "consistent", json!(true));
    }
    stats.describe(&mut v);
    v.add("checkpoint written", "checkpoint_written", json!(wrote));
    trust.describe(&mut v);
    Ok(v)
}
