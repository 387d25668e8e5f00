//! The C2SP read API: the checkpoint, hash tiles and entry bundles
//! (spec/api.md §2; c2sp.org/tlog-checkpoint, c2sp.org/tlog-tiles).

use super::*;

/// The latest signed checkpoint (c2sp.org/tlog-checkpoint).
#[utoipa::path(get, path = "/checkpoint", tag = "c2sp",
    responses((status = 200, description = "the signed checkpoint note", content_type = "text/plain", body = String,
        headers(("Cache-Control" = String, description = "`public, max-age=2`")))))]
pub(super) async fn checkpoint(State(s): State<AppState>) -> Response {
    let note = s.published.borrow().note.clone();
    text(StatusCode::OK, "public, max-age=2", note.to_vec())
}

/// Whether the tree of the published checkpoint (`published` leaves) has the
/// tile at `level`, `index` at least `width` wide (c2sp.org/tlog-tiles, "Partial
/// Tiles"): only those are served, so that a tile is never served, and cached
/// as immutable, before a signed checkpoint commits to it (spec/api.md §2).
fn published_covers(level: u8, index: u64, width: u16, published: u64) -> bool {
    ledger_core::tile::Tile::in_tree(level, index, TreeSize(published))
        .is_some_and(|t| t.width() >= width)
}

/// A hash tile or an entry bundle (spec/api.md §2, c2sp.org/tlog-tiles), if
/// the published checkpoint covers it ([`published_covers`]). The path is
/// matched as sent, before any percent-decoding, so that only the canonical
/// spelling is served: `/tile/0/001%2Ep%2F50` is 404, as is any other
/// non-canonical form.
pub(super) async fn tile(State(s): State<AppState>, uri: Uri) -> ApiResult<Response> {
    let full = uri.path().strip_prefix('/').unwrap_or_default();
    let Ok(parsed) = TilePath::parse(full) else {
        return Err(ApiError::not_found("not a tile path (c2sp.org/tlog-tiles)"));
    };
    let published = s.published.borrow().size;
    let covered = match &parsed {
        TilePath::Hash(t) => published_covers(t.level(), t.index(), t.width(), published),
        TilePath::Entries(b) => published_covers(0, b.index(), b.width(), published),
    };
    if !covered {
        return Err(ApiError::not_found(format!(
            "{full} is not covered by the published checkpoint (size {published}) yet"
        )));
    }
    let (data, partial) = match parsed {
        TilePath::Hash(t) => (s.db.tile(&t)?, t.is_partial()),
        TilePath::Entries(b) => (s.db.bundle(b.index(), b.width())?, b.is_partial()),
    };
    let Some(data) = data else {
        return Err(ApiError::not_found(format!(
            "{full} is not in the log (yet)"
        )));
    };
    let cache = if partial {
        "public, max-age=5"
    } else {
        "public, max-age=31536000, immutable"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        data,
    )
        .into_response())
}
