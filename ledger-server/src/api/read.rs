//! Reading entries: one by index and the search (spec/api.md §4.2, §4.3).

use super::*;

/// An entry, decoded (spec/api.md §4.2).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct EntryView {
    /// The index.
    pub index: u64,
    /// Hex of the leaf hash.
    #[schema(value_type = schema::Hex32)]
    pub leaf_hash: String,
    /// When it was sequenced (Unix ms).
    pub sequenced_at_ms: u64,
    /// Hex of the previous entry's leaf hash.
    #[schema(value_type = schema::Hex32)]
    pub prev: String,
    /// The agency's previous entry.
    pub agency_prev: Option<u64>,
    /// Hex of the signing key's hash.
    #[schema(value_type = schema::Hex32)]
    pub key_hash: String,
    /// Base64 of the signature.
    #[schema(value_type = schema::Signature)]
    pub signature: String,
    /// The agency.
    #[schema(value_type = schema::AgencyId)]
    pub agency: String,
    /// The submission id.
    #[schema(value_type = schema::SubmissionId)]
    pub submission_id: String,
    /// The statement type.
    #[serde(rename = "type")]
    #[schema(value_type = schema::StatementType)]
    pub kind: String,
    /// The channel.
    #[schema(value_type = schema::Channel)]
    pub channel: String,
    /// When the decision or transaction happened.
    #[schema(value_type = schema::UtcTime)]
    pub occurred_at: String,
    /// The statement, as JSON.
    #[schema(value_type = Object)]
    pub statement: serde_json::Value,
    /// Base64 of the exact statement bytes.
    #[schema(value_type = schema::Base64)]
    pub statement_b64: String,
    /// Base64 of the entry envelope.
    #[schema(value_type = schema::Base64)]
    pub entry_b64: String,
    /// Whether the statement commits to a private payload that was not erased.
    /// It says nothing of whether this server holds the payload's bytes.
    pub has_payload: bool,
    /// The erasure entry, if the payload was erased.
    pub payload_erased_by: Option<u64>,
}

/// A page of search results (spec/api.md §4.3).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SearchResponse {
    /// Matching entries, in index order.
    pub entries: Vec<EntryView>,
    /// Pass as `cursor` for the next page; null when done.
    #[schema(value_type = Option<schema::Cursor>)]
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    agency: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    channel: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

pub(super) fn entry_view(db: &LedgerDb, index: u64, envelope: &[u8]) -> ApiResult<EntryView> {
    let corrupt = |what: String| {
        tracing::error!("stored entry {index}: {what}");
        ApiError::unavailable()
    };
    let e = Entry::decode(envelope).map_err(|e| corrupt(e.to_string()))?;
    let st = Statement::parse(&e.statement).map_err(|e| corrupt(e.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&e.statement).map_err(|e| corrupt(e.to_string()))?;
    let erased_by = db.erased_by(index)?;
    Ok(EntryView {
        index,
        leaf_hash: leaf_hash(envelope).to_hex(),
        sequenced_at_ms: e.sequenced_at_ms,
        prev: e.prev.to_hex(),
        agency_prev: e.agency_prev.map(|p| p.0),
        key_hash: e.key_hash.0.to_hex(),
        signature: STANDARD.encode(e.signature),
        agency: st.agency.to_string(),
        submission_id: st.submission_id.as_str().to_owned(),
        kind: st.kind.as_str().to_owned(),
        channel: st.channel.as_str().to_owned(),
        occurred_at: st.occurred_at.clone(),
        statement: json,
        statement_b64: STANDARD.encode(&e.statement),
        entry_b64: STANDARD.encode(envelope),
        has_payload: st.payload_commitment.is_some() && erased_by.is_none(),
        payload_erased_by: erased_by,
    })
}

pub(super) fn stored_size(s: &AppState) -> u64 {
    s.committed.borrow().size
}

/// One entry, decoded (spec/api.md §4.2).
#[utoipa::path(get, path = "/v1/entries/{index}", tag = "read",
    params(("index" = u64, Path, description = "entry index")),
    responses((status = 200, description = "the entry", body = EntryView,
            headers(("Cache-Control" = String, description = "`no-store` if the published checkpoint does not cover it yet"))),
        (status = 400, description = "`bad_request`: not a decimal index", body = ErrorBody),
        (status = 404, description = "`not_found`: not in the stored tree", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
pub(super) async fn entry(
    State(s): State<AppState>,
    index: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let index = index_param(&path_param(index)?)?;
    if index >= stored_size(&s) {
        return Err(ApiError::not_found(format!("entry {index} does not exist")));
    }
    let envelope =
        s.db.entry(index)?
            .ok_or_else(|| ApiError::not_found(format!("entry {index} does not exist")))?;
    let view = Json(entry_view(&s.db, index, &envelope)?);
    Ok(unpublished_not_stored(&s, Some(index), view))
}

/// `response`, marked `Cache-Control: no-store` if it shows entry `newest`
/// and the published checkpoint does not cover it yet: such an entry is
/// acknowledged (durable) but not yet committed to by a signature, so no cache
/// may keep it (spec/api.md §4.2).
pub(super) fn unpublished_not_stored(
    s: &AppState,
    newest: Option<u64>,
    response: impl IntoResponse,
) -> Response {
    let mut r = response.into_response();
    if newest.is_some_and(|i| i >= s.published.borrow().size) {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// At most this many index records are read per search request, times the limit.
pub(super) const SEARCH_SCAN_FACTOR: usize = 4;

/// Searches entries from secondary indexes (spec/api.md §4.3).
#[utoipa::path(get, path = "/v1/entries", tag = "read",
    params(
        ("agency" = Option<schema::AgencyId>, Query, description = "agency id"),
        ("type" = Option<schema::StatementType>, Query, description = "exact statement type"),
        ("channel" = Option<schema::Channel>, Query, description = "G2C, G2B or G2G"),
        ("since" = Option<schema::UtcTime>, Query, description = "RFC 3339 UTC, inclusive, sequencing time"),
        ("until" = Option<schema::UtcTime>, Query, description = "RFC 3339 UTC, exclusive, sequencing time"),
        ("cursor" = Option<schema::Cursor>, Query, description = "from a previous page"),
        ("limit" = Option<u16>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100")),
    responses((status = 200, description = "a page of entries", body = SearchResponse,
            headers(("Cache-Control" = String, description = "`no-store` if the published checkpoint does not cover every entry in it yet"))),
        (status = 400, description = "`bad_request`: a malformed parameter", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
pub(super) async fn search(State(s): State<AppState>, uri: Uri) -> ApiResult<Response> {
    let q: SearchQuery = query(&uri)?;
    let agency = q
        .agency
        .as_deref()
        .map(AgencyId::new)
        .transpose()
        .map_err(|e| ApiError::bad("bad_request", format!("agency: {e}")))?;
    let kind = q
        .kind
        .as_deref()
        .map(StatementType::new)
        .transpose()
        .map_err(|e| ApiError::bad("bad_request", format!("type: {e}")))?;
    let channel = q
        .channel
        .as_deref()
        .map(Channel::parse)
        .transpose()
        .map_err(|e| ApiError::bad("bad_request", format!("channel: {e}")))?;
    let time = |v: &Option<String>, name: &str| -> ApiResult<Option<u64>> {
        v.as_deref()
            .map(|t| {
                parse_utc_timestamp(t)
                    .map(|ms| ms.max(0) as u64)
                    .map_err(|e| ApiError::bad("bad_request", format!("{name}: {e}")))
            })
            .transpose()
    };
    let since = time(&q.since, "since")?;
    let until = time(&q.until, "until")?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => match parse_canonical_u64(l) {
            Some(n @ 1..=1000) => n as usize,
            _ => return Err(ApiError::bad("bad_request", "limit must be 1 to 1000")),
        },
    };
    let size = stored_size(&s);
    let mut lo = match q.cursor.as_deref() {
        None => 0,
        Some(c) => number(c, "cursor")?,
    };
    let mut hi = size;
    if let Some(t) = since {
        lo = lo.max(s.db.first_index_at_or_after(t, size)?);
    }
    if let Some(t) = until {
        hi = hi.min(s.db.first_index_at_or_after(t, size)?);
    }
    let budget = limit * SEARCH_SCAN_FACTOR;
    // The most selective index available; the other filters are checked per entry.
    let (candidates, exhausted) = if lo >= hi {
        (Vec::new(), true)
    } else if let Some(a) = &agency {
        let c = s.db.secondary(Cf::ByAgency, a.as_str(), lo, budget)?;
        let done = c.len() < budget;
        (c, done)
    } else if let Some(k) = &kind {
        let c = s.db.secondary(Cf::ByType, k.as_str(), lo, budget)?;
        let done = c.len() < budget;
        (c, done)
    } else if let Some(ch) = channel {
        let c = s.db.secondary(Cf::ByChannel, ch.as_str(), lo, budget)?;
        let done = c.len() < budget;
        (c, done)
    } else {
        let end = hi.min(lo.saturating_add(limit as u64));
        ((lo..end).collect(), end >= hi)
    };
    let mut entries = Vec::new();
    let mut next = None;
    let mut last_examined = None;
    for idx in candidates {
        if idx >= hi {
            next = None;
            last_examined = None;
            break;
        }
        if entries.len() == limit {
            next = Some(idx);
            break;
        }
        last_examined = Some(idx);
        let Some(envelope) = s.db.entry(idx)? else {
            continue;
        };
        let view = entry_view(&s.db, idx, &envelope)?;
        if kind.as_ref().is_some_and(|k| k.as_str() != view.kind)
            || channel.is_some_and(|c| c.as_str() != view.channel)
        {
            continue;
        }
        entries.push(view);
    }
    if next.is_none()
        && !exhausted
        && let Some(l) = last_examined
        && l + 1 < hi
    {
        next = Some(l + 1);
    }
    let newest = entries.iter().map(|e| e.index).max();
    let page = Json(SearchResponse {
        entries,
        next_cursor: next.map(|n| n.to_string()),
    });
    Ok(unpublished_not_stored(&s, newest, page))
}
