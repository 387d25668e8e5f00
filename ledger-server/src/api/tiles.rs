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

/// A hash tile or an entry bundle (spec/api.md §2, c2sp.org/tlog-tiles). The
/// path is matched as sent, before any percent-decoding, so that only the
/// canonical spelling is served: `/tile/0/001%2Ep%2F50` is 404, as is any other
/// non-canonical form.
pub(super) async fn tile(State(s): State<AppState>, uri: Uri) -> ApiResult<Response> {
    let full = uri.path().strip_prefix('/').unwrap_or_default();
    let Ok(parsed) = TilePath::parse(full) else {
        return Err(ApiError::not_found("not a tile path (c2sp.org/tlog-tiles)"));
    };
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
