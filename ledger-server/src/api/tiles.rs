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
pub(super) async fn tile(
    State(s): State<AppState>,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
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
    let (data, partial, bundle) = match parsed {
        TilePath::Hash(t) => (s.db.tile(&t)?, t.is_partial(), false),
        TilePath::Entries(b) => (s.db.bundle(b.index(), b.width())?, b.is_partial(), true),
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
    // Bundles compress well (spec/checkpoints-and-tiles.md §6); hash tiles are
    // random bytes and are always sent as they are.
    let gzip = bundle && accepts_gzip(&headers);
    let data = if gzip { gzipped(data).await? } else { data };
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        data,
    )
        .into_response();
    if bundle {
        let h = response.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    Ok(response)
}

/// Whether the request's `Accept-Encoding` lists `gzip` (or `*`) with a
/// non-zero weight (RFC 9110 §12.5.3).
fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero
        })
}

/// `data` gzip-compressed (RFC 1952), off the async threads.
async fn gzipped(data: Vec<u8>) -> ApiResult<Vec<u8>> {
    use std::io::Write as _;
    tokio::task::spawn_blocking(move || {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data)?;
        gz.finish()
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|e| {
        tracing::error!("compressing a bundle: {e}");
        ApiError::internal()
    })
}
