//! Receipts and proofs (spec/api.md §4.4, §4.5; RFC 9162 §2.1).

use super::*;

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct InclusionView {
    /// The leaf index.
    pub index: u64,
    /// The tree size.
    pub size: u64,
    /// Hex of the leaf hash.
    #[schema(value_type = schema::Hex32)]
    pub leaf_hash: String,
    /// Hex hashes, the leaf's sibling first.
    #[schema(value_type = Vec<schema::Hex32>)]
    pub path: Vec<String>,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ConsistencyView {
    /// The old size.
    pub from: u64,
    /// The new size.
    pub to: u64,
    /// Hex hashes.
    #[schema(value_type = Vec<schema::Hex32>)]
    pub path: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct InclusionQuery {
    index: Option<String>,
    size: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

pub(super) fn latest(s: &AppState) -> Published {
    s.published.borrow().clone()
}

/// The receipt of an entry under the latest checkpoint (spec/api.md §4.4).
#[utoipa::path(get, path = "/v1/receipts/{index}", tag = "read",
    params(("index" = u64, Path, description = "entry index")),
    responses((status = 200, description = "receipt text (spec/receipts.md)", content_type = "text/plain", body = String,
            headers(("Cache-Control" = String, description = "`no-cache`"))),
        (status = 400, description = "`bad_request`: not a decimal index", body = ErrorBody),
        (status = 404, description = "`not_found`: no checkpoint covers the entry (yet)", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
pub(super) async fn receipt(
    State(s): State<AppState>,
    index: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let index = index_param(&path_param(index)?)?;
    let cp = latest(&s);
    if index >= cp.size {
        return Err(ApiError::not_found(format!(
            "no checkpoint covers entry {index} (yet)"
        )));
    }
    let r = build_receipt(&s, index, &cp)?;
    Ok(text(StatusCode::OK, "no-cache", r.into_bytes()))
}

/// An inclusion proof (spec/api.md §4.5).
#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "proofs",
    params(("index" = u64, Query, description = "leaf index, below `size`"),
        ("size" = Option<u64>, Query, minimum = 1, description = "tree size; default: the latest checkpoint's")),
    responses((status = 200, description = "the RFC 9162 inclusion proof", body = InclusionView),
        (status = 400, description = "`bad_request`: a missing or malformed number, or `index` not below `size`", body = ErrorBody),
        (status = 404, description = "`not_found`: `size` is above the latest checkpoint's", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
pub(super) async fn inclusion(
    State(s): State<AppState>,
    uri: Uri,
) -> ApiResult<Json<InclusionView>> {
    let q: InclusionQuery = query(&uri)?;
    let index = number(
        q.index
            .as_deref()
            .ok_or_else(|| ApiError::bad("bad_request", "index is required"))?,
        "index",
    )?;
    let cp = latest(&s);
    let size = match q.size.as_deref() {
        Some(v) => number(v, "size")?,
        None => cp.size,
    };
    if size > cp.size {
        return Err(ApiError::not_found(format!(
            "no checkpoint of size {size}; the latest is {}",
            cp.size
        )));
    }
    if index >= size {
        return Err(ApiError::bad(
            "bad_request",
            format!("index {index} is not below size {size}"),
        ));
    }
    let proof =
        prove_inclusion(LeafIndex(index), TreeSize(size), &s.db.hash_reader()).map_err(|e| {
            tracing::error!("inclusion proof: {e}");
            ApiError::unavailable()
        })?;
    let envelope =
        s.db.entry(index)?
            .ok_or_else(|| ApiError::not_found(format!("entry {index} does not exist")))?;
    Ok(Json(InclusionView {
        index,
        size,
        leaf_hash: leaf_hash(&envelope).to_hex(),
        path: proof.path.iter().map(|h| h.to_hex()).collect(),
    }))
}

/// A consistency proof (spec/api.md §4.5).
#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "proofs",
    params(("from" = u64, Query, minimum = 1, description = "old size, at least 1"),
        ("to" = Option<u64>, Query, minimum = 1, description = "new size, at least `from`; default: the latest checkpoint's")),
    responses((status = 200, description = "the RFC 9162 consistency proof", body = ConsistencyView),
        (status = 400, description = "`bad_request`: a missing or malformed number, or not `0 < from <= to`", body = ErrorBody),
        (status = 404, description = "`not_found`: `to` is above the latest checkpoint's", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
pub(super) async fn consistency(
    State(s): State<AppState>,
    uri: Uri,
) -> ApiResult<Json<ConsistencyView>> {
    let q: ConsistencyQuery = query(&uri)?;
    let from = number(
        q.from
            .as_deref()
            .ok_or_else(|| ApiError::bad("bad_request", "from is required"))?,
        "from",
    )?;
    let cp = latest(&s);
    let to = match q.to.as_deref() {
        Some(v) => number(v, "to")?,
        None => cp.size,
    };
    if from == 0 || from > to {
        return Err(ApiError::bad(
            "bad_request",
            "consistency needs 0 < from <= to",
        ));
    }
    if to > cp.size {
        return Err(ApiError::not_found(format!(
            "no checkpoint of size {to}; the latest is {}",
            cp.size
        )));
    }
    let proof =
        prove_consistency(TreeSize(from), TreeSize(to), &s.db.hash_reader()).map_err(|e| {
            tracing::error!("consistency proof: {e}");
            ApiError::unavailable()
        })?;
    Ok(Json(ConsistencyView {
        from,
        to,
        path: proof.path.iter().map(|h| h.to_hex()).collect(),
    }))
}
