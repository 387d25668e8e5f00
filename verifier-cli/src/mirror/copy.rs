//! Copying the growth of a log into the mirror's staging directory
//! (spec/mirror.md §2): the tiles a tree of the new size adds to the old one,
//! in batches; each batch's tiles are authenticated together by ledger-core's
//! [`TileHashReader`] (spec/checkpoints-and-tiles.md §7.1), then each level-0
//! tile's bundle is fetched and checked against it. Reads and writes run on
//! `--jobs` threads; memory is bounded by a batch.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use ledger_core::checkpoint::SignedCheckpoint;
use ledger_core::hash::leaf_hash;
use ledger_core::tile::{
    EntryBundle, Tile, TileError, TileHashReader, TileReader, encode_entry_bundle,
};
use serde_json::json;

use super::files::Files;
use crate::check::{Problem, Verified};
use crate::prefetch::{Window, in_order};
use crate::source::bad_source;

/// Level-0 tiles (with their bundles) authenticated and staged together.
const BATCH: usize = 64;

fn unable(m: impl Into<String>) -> Problem {
    Problem::Unable(m.into())
}

/// The tiles a tree of `new` leaves adds to one of `old` leaves, level 0 first:
/// `ledger_core::tile::new_tiles(old, new)`, computed as it goes rather than
/// held (a first mirror of a large log has millions).
pub fn work(old: u64, new: u64) -> impl Iterator<Item = Tile> {
    let levels = (new > old).then_some(0u8..=63).into_iter().flatten();
    levels
        .map_while(move |level| {
            let bits = u32::from(level) * 8;
            let (o, n) = (
                old.checked_shr(bits).unwrap_or(0),
                new.checked_shr(bits).unwrap_or(0),
            );
            (n > 0).then_some((level, o, n))
        })
        .flat_map(|(level, o, n)| {
            let full = (o / 256..n / 256).filter_map(move |i| Tile::new(level, i, 256).ok());
            let w = (n % 256) as u16;
            let partial = (w > 0 && (o / 256, o % 256) != (n / 256, u64::from(w)))
                .then(|| Tile::new(level, n / 256, w).ok())
                .flatten();
            full.chain(partial)
        })
}

/// What a run fetched from the log and what it found already in the mirror.
#[derive(Default)]
pub struct Stats {
    tiles_fetched: Cell<u64>,
    tiles_reused: Cell<u64>,
    bundles_fetched: Cell<u64>,
    bundles_reused: Cell<u64>,
}

impl Stats {
    pub fn describe(&self, v: &mut Verified) {
        v.add(
            "tiles fetched",
            "tiles_fetched",
            json!(self.tiles_fetched.get()),
        );
        v.add(
            "tiles reused",
            "tiles_reused",
            json!(self.tiles_reused.get()),
        );
        v.add(
            "bundles fetched",
            "bundles_fetched",
            json!(self.bundles_fetched.get()),
        );
        v.add(
            "bundles reused",
            "bundles_reused",
            json!(self.bundles_reused.get()),
        );
    }
}

/// The [`TileReader`] under the mirror's [`TileHashReader`]: reads tiles from
/// the mirror (or staging) when allowed, else from the log, `--jobs` at once;
/// keeps the upper and partial tiles of the last read for the next batch; and
/// stages, once authenticated, what it fetched from the log.
struct Copier<'a> {
    files: &'a Files<'a>,
    window: Window,
    use_local: Cell<bool>,
    /// Upper-level and partial tiles of the last read: read again by every
    /// batch under them, and authenticated again each time.
    cache: RefCell<BTreeMap<Tile, (Vec<u8>, bool)>>,
    /// Tiles of the last read that came from the mirror or staging.
    local: RefCell<BTreeSet<Tile>>,
    /// Tiles (other than full level-0 ones) staged in this run.
    staged: RefCell<BTreeSet<Tile>>,
    /// Authenticated tiles to stage.
    to_stage: RefCell<Vec<(Tile, Vec<u8>)>>,
    stats: &'a Stats,
}

impl TileReader for Copier<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, String> {
        let use_local = self.use_local.get();
        let mut cache = self.cache.borrow_mut();
        let need: Vec<Tile> = tiles
            .iter()
            .filter(|t| !cache.contains_key(t))
            .copied()
            .collect();
        let files = self.files;
        let mut got = BTreeMap::new();
        in_order(
            need.into_iter(),
            self.window,
            |t| (t, files.read_tile(t, use_local)),
            |(t, r)| {
                got.insert(t, r?);
                Ok::<(), String>(())
            },
        )?;
        let mut kept = BTreeMap::new();
        let mut local = self.local.borrow_mut();
        local.clear();
        let mut out = Vec::with_capacity(tiles.len());
        for t in tiles {
            let (data, from_local) = match got.remove(t) {
                Some(x) => {
                    let counter = if x.1 {
                        &self.stats.tiles_reused
                    } else {
                        &self.stats.tiles_fetched
                    };
                    counter.set(counter.get() + 1);
                    x
                }
                None => cache.get(t).cloned().ok_or("tile cache miss")?,
            };
            if from_local {
                local.insert(*t);
            }
            if t.level() > 0 || t.is_partial() {
                kept.insert(*t, (data.clone(), from_local));
            }
            out.push(data);
        }
        *cache = kept;
        Ok(out)
    }

    fn save_tiles(&self, tiles: &[Tile], data: &[Vec<u8>]) {
        let local = self.local.borrow();
        let mut staged = self.staged.borrow_mut();
        let mut to_stage = self.to_stage.borrow_mut();
        for (t, d) in tiles.iter().zip(data) {
            let once = t.level() == 0 && !t.is_partial() || staged.insert(*t);
            if once && !local.contains(t) {
                to_stage.push((*t, d.clone()));
            }
        }
    }
}

impl Copier<'_> {
    /// After a batch read partly from the mirror failed to authenticate: read
    /// it again from the log only (a damaged or stale local file is not used;
    /// one of the growth is replaced when the run is published).
    fn remote_only(&self) {
        self.use_local.set(false);
        self.cache.borrow_mut().clear();
        self.to_stage.borrow_mut().clear();
    }
}

/// Why a batch's tiles could not be used: the log could not be read, or served
/// tiles that do not match its signed checkpoint (a bad source).
fn classify(source: &str, e: TileError) -> Problem {
    match e {
        TileError::Read(m) => unable(format!("cannot read tiles from {source}: {m}")),
        TileError::ReadCount { expected, found } => {
            unable(format!("{source}: asked for {expected} tiles, got {found}"))
        }
        t => bad_source(
            source,
            &format!("a tile does not match the signed checkpoint: {t}"),
        ),
    }
}

/// Stages the growth of the log from `old` entries to `cp` (spec/mirror.md §2).
///
/// # Errors
/// "Could not check" if the log cannot be read or serves data that does not
/// match `cp` (a bad source), or staging fails.
pub fn copy(
    files: &Files<'_>,
    cp: &SignedCheckpoint,
    old: u64,
    window: Window,
) -> Result<Stats, Problem> {
    let size = cp.checkpoint.size;
    let stats = Stats::default();
    let copier = Copier {
        files,
        window,
        use_local: Cell::new(true),
        cache: RefCell::new(BTreeMap::new()),
        local: RefCell::new(BTreeSet::new()),
        staged: RefCell::new(BTreeSet::new()),
        to_stage: RefCell::new(Vec::new()),
        stats: &stats,
    };
    let auth = TileHashReader::new(size, cp.checkpoint.root, &copier)
        .map_err(|e| unable(e.to_string()))?;
    let mut tiles = work(old, size.0).peekable();
    while tiles.peek().is_some() {
        let level0 = tiles.peek().is_some_and(|t| t.level() == 0);
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH
            && let Some(t) = tiles.next_if(|t| (t.level() == 0) == level0)
        {
            batch.push(t);
        }
        let data = authenticate(&auth, &copier, &batch)?;
        stage_tiles(files, window, copier.to_stage.take())?;
        if level0 {
            let (f, r) = copy_bundles(files, window, size.0, batch.into_iter().zip(data))?;
            stats.bundles_fetched.set(stats.bundles_fetched.get() + f);
            stats.bundles_reused.set(stats.bundles_reused.get() + r);
        }
    }
    Ok(stats)
}

/// The data of `batch`'s tiles, authenticated against the checkpoint; read from
/// the mirror where it has them, and again from the log alone if that fails.
fn authenticate(
    auth: &TileHashReader<&Copier<'_>>,
    copier: &Copier<'_>,
    batch: &[Tile],
) -> Result<Vec<Vec<u8>>, Problem> {
    let source = copier.files.source_name();
    let mut indexes = Vec::new();
    for t in batch {
        indexes.extend(t.stored_hash_indexes().map_err(|e| unable(e.to_string()))?);
    }
    copier.use_local.set(true);
    let hashes = match auth.read_authenticated(&indexes) {
        Ok(h) => h,
        Err(e) if !copier.local.borrow().is_empty() && !matches!(e, TileError::Read(_)) => {
            copier.remote_only();
            auth.read_authenticated(&indexes)
                .map_err(|e| classify(&source, e))?
        }
        Err(e) => return Err(classify(&source, e)),
    };
    let mut out = Vec::with_capacity(batch.len());
    let mut rest = hashes.as_slice();
    for t in batch {
        let (mine, tail) = rest.split_at(usize::from(t.width()));
        out.push(mine.iter().flat_map(|h| h.0).collect());
        rest = tail;
    }
    Ok(out)
}

/// Stages authenticated tiles, `--jobs` at once.
fn stage_tiles(
    files: &Files<'_>,
    window: Window,
    tiles: Vec<(Tile, Vec<u8>)>,
) -> Result<(), Problem> {
    in_order(
        tiles.into_iter(),
        window,
        |(t, d)| files.stage(&t.path(), &d),
        |r| r,
    )
}

/// Fetches (or finds in the mirror), checks against its authenticated level-0
/// tile, and stages each bundle, `--jobs` at once. Returns (fetched, reused).
fn copy_bundles(
    files: &Files<'_>,
    window: Window,
    size: u64,
    tiles: impl Iterator<Item = (Tile, Vec<u8>)> + Send,
) -> Result<(u64, u64), Problem> {
    let mut counts = (0, 0);
    in_order(
        tiles,
        window,
        |(t, data)| copy_bundle(files, size, t, &data),
        |r| {
            if r? {
                counts.1 += 1;
            } else {
                counts.0 += 1;
            }
            Ok(())
        },
    )?;
    Ok(counts)
}

/// Whether `entries` hash to the leaf hashes in `tile_data`.
fn matches(entries: &[Vec<u8>], tile_data: &[u8]) -> Option<usize> {
    entries
        .iter()
        .zip(tile_data.chunks_exact(32))
        .position(|(e, h)| leaf_hash(e).0 != h)
}

/// One bundle: `true` if the mirror already had it right.
fn copy_bundle(
    files: &Files<'_>,
    size: u64,
    tile: Tile,
    tile_data: &[u8],
) -> Result<bool, Problem> {
    let bundle: EntryBundle = tile
        .entry_bundle()
        .ok_or_else(|| unable("a bundle for an upper tile (internal error)"))?;
    if let Some(entries) = files.local_bundle(bundle)
        && matches(&entries, tile_data).is_none()
    {
        return Ok(true);
    }
    let entries = files.remote_bundle(bundle.index(), size)?;
    if let Some(i) = matches(&entries, tile_data) {
        return Err(bad_source(
            &files.source_name(),
            &format!(
                "{}: entry {} does not hash to the leaf hash of the authenticated tile {}",
                bundle.path(),
                bundle.index() * 256 + i as u64,
                tile.path()
            ),
        ));
    }
    let bytes = encode_entry_bundle(&entries)
        .map_err(|e| bad_source(&files.source_name(), &format!("{}: {e}", bundle.path())))?;
    files.stage(&bundle.path(), &bytes)?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::TreeSize;
    use ledger_core::tile::new_tiles;

    #[test]
    fn the_work_is_new_tiles_computed_lazily() {
        let sizes = [
            0u64,
            1,
            2,
            255,
            256,
            257,
            511,
            512,
            600,
            65_535,
            65_536,
            65_537,
            70_000,
            16_777_216,
            16_777_217,
            1 << 40,
        ];
        for &old in &sizes {
            for &new in &sizes {
                let want = new_tiles(TreeSize(old), TreeSize(new.min(old + 300_000)));
                let got: Vec<Tile> = work(old, new.min(old + 300_000)).collect();
                assert_eq!(got, want, "{old} -> {new}");
            }
        }
    }
}
