//! Private payloads (spec/api.md §5; spec/registry.md §6): never served to
//! anyone without a sequenced access entry. A payload and its salt leave the
//! server only in the answer to `POST /v1/payloads/read`, after the reading
//! agency's signed `access.payload.read` statement is durable in the ledger.

use ledger_core::access::{AccessAction, TYPE_PAYLOAD_READ};

use super::*;
use crate::ledger::PayloadState;

/// Most access records listed per request.
const MAX_ACCESSES: usize = 1000;

/// A released payload, with the access entry that recorded its release
/// (spec/api.md §5.2).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct PayloadRelease {
    /// The access entry, durable before this answer (with `?wait=checkpoint`,
    /// its receipt).
    pub access: AppendResponse,
    /// The entry whose payload this is.
    pub entry: u64,
    /// Base64 of the payload.
    #[schema(value_type = schema::Base64)]
    pub payload: String,
    /// Hex of the salt.
    #[schema(value_type = schema::Hex32)]
    pub salt: String,
    /// Hex of SHA-256(label || salt || payload): equal to the entry's
    /// `payload_commitment`.
    #[schema(value_type = schema::Hex32)]
    pub commitment: String,
}

/// One access or erasure entry that names an entry (spec/api.md §5.3).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AccessView {
    /// The access entry's index.
    pub index: u64,
    /// `access.payload.read`, `access.payload.erase` or `registry.payload.erase`.
    #[serde(rename = "type")]
    #[schema(value_type = schema::StatementType)]
    pub kind: String,
    /// The agency that signed it.
    #[schema(value_type = schema::AgencyId)]
    pub agency: String,
    /// When it was sequenced (Unix ms).
    pub sequenced_at_ms: u64,
}

/// The accesses to one entry's payload (spec/api.md §5.3).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AccessesView {
    /// The entry.
    pub entry: u64,
    /// Its access and erasure entries, in index order.
    pub accesses: Vec<AccessView>,
    /// The erasure entry, if the payload was erased.
    pub erased_by: Option<u64>,
    /// Pass as `from` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessesQuery {
    from: Option<String>,
}

fn gone(entry: u64, by: u64) -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "payload_erased",
        format!("the payload of entry {entry} was erased by entry {by}"),
    )
}

/// The statement of stored entry `index`, parsed.
fn stored_statement(s: &AppState, index: u64) -> ApiResult<(Entry, Statement)> {
    let envelope =
        s.db.entry(index)?
            .ok_or_else(|| ApiError::not_found(format!("entry {index} does not exist")))?;
    let corrupt = |what: String| {
        tracing::error!("stored entry {index}: {what}");
        ApiError::unavailable()
    };
    let e = Entry::decode(&envelope).map_err(|e| corrupt(e.to_string()))?;
    let st = Statement::parse(&e.statement).map_err(|e| corrupt(e.to_string()))?;
    Ok((e, st))
}

/// Never a payload: says how to read one (spec/api.md §5.1).
#[utoipa::path(get, path = "/v1/payloads/{index}", tag = "payloads",
    params(("index" = u64, Path, description = "entry index")),
    responses(
        (status = 400, description = "`bad_request`: not a decimal index", body = ErrorBody),
        (status = 401, description = "`access_statement_required`: payloads are released only through POST /v1/payloads/read", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "how to authorize a read"))),
        (status = 404, description = "`not_found`: no such entry; `no_payload`: the entry has no payload commitment", body = ErrorBody),
        (status = 410, description = "`payload_erased`: the message names the erasure entry", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
pub(super) async fn payload_get(
    State(s): State<AppState>,
    index: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let index = index_param(&path_param(index)?)?;
    if index >= stored_size(&s) {
        return Err(ApiError::not_found(format!("entry {index} does not exist")));
    }
    let (_, st) = stored_statement(&s, index)?;
    if st.payload_commitment.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_payload",
            format!("entry {index} has no payload commitment"),
        ));
    }
    if let Some(by) = s.db.erased_by(index)? {
        return Err(gone(index, by));
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "access_statement_required",
        format!(
            "payloads are released only to an agency that signs an access.payload.read statement \
             naming entry {index} and submits it to POST /v1/payloads/read; the access is recorded \
             in the ledger first (spec/registry.md §6)"
        ),
    ))
}

/// Records a read in the ledger, then releases the payload (spec/api.md §5.2).
#[utoipa::path(post, path = "/v1/payloads/read", tag = "payloads",
    request_body = AppendRequest,
    params(("wait" = Option<schema::Wait>, Query, description = "`checkpoint`: wait for a checkpoint and return the access entry's receipt")),
    responses(
        (status = 201, description = "the access entry is durable; the payload and salt", body = PayloadRelease),
        (status = 400, description = "`bad_request` (not an access.payload.read, or a payload sent), `bad_json`, `bad_encoding`, `bad_statement`", body = ErrorBody),
        (status = 401, description = "`bad_signature`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "how to authorize a read"))),
        (status = 403, description = "`unknown_agency`, `key_not_active`, `access_denied`", body = ErrorBody),
        (status = 404, description = "`no_payload`: the entry has no payload commitment; `payload_not_held`: the access was recorded but this server holds no payload", body = ErrorBody),
        (status = 409, description = "`access_replayed`: the submission id was already sequenced; `conflict`", body = ErrorBody),
        (status = 410, description = "`payload_erased`", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 422, description = "`wrong_origin`, `registry_rule`", body = ErrorBody),
        (status = 429, description = "`queue_full`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "seconds to wait before retrying"))),
        (status = 503, description = "`unavailable`", body = ErrorBody)))]
pub(super) async fn payload_read(
    State(s): State<AppState>,
    uri: Uri,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let wait = wants_receipt(&uri)?;
    let bytes = body(bytes, s.limits.max_body)?;
    let req: AppendRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad("bad_json", format!("request body: {e}")))?;
    if req.payload.is_some() || req.salt.is_some() {
        return Err(ApiError::bad(
            "bad_request",
            "a read request carries no payload or salt",
        ));
    }
    let sub = submission(req, &s.limits)?;
    if sub.statement.kind.as_str() != TYPE_PAYLOAD_READ {
        return Err(ApiError::bad(
            "bad_request",
            format!("POST /v1/payloads/read takes an {TYPE_PAYLOAD_READ} statement"),
        ));
    }
    let target = match AccessAction::parse(&sub.statement) {
        Some(Ok(AccessAction::Read(r))) => r.entry.0,
        Some(Err(reason)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "registry_rule",
                reason,
            ));
        }
        _ => return Err(ApiError::internal()),
    };
    let appended = append_one(&s, sub).await?;
    if appended.duplicate {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "access_replayed",
            format!(
                "this access statement was already sequenced as entry {}; a payload is released \
                 once per access entry: sign a new access.payload.read with a new submission_id",
                appended.index
            ),
        ));
    }
    // The access entry is durable: only now is the payload read.
    let (salt, payload) = match s.db.payload(target)? {
        PayloadState::Held(p) => p,
        PayloadState::Erased(by) => return Err(gone(target, by)),
        PayloadState::NotHeld => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "payload_not_held",
                format!(
                    "this server holds no payload for entry {target}; the access was recorded as entry {}",
                    appended.index
                ),
            ));
        }
    };
    let mut access = response(&appended);
    if wait && let Some(cp) = covering_checkpoint(&s, access.index).await {
        add_receipt(&s, &mut access, &cp).await;
    }
    let release = PayloadRelease {
        access,
        entry: target,
        commitment: PayloadCommitment::compute(&salt, &payload).to_hex(),
        payload: STANDARD.encode(&payload),
        salt: hex::encode(salt),
    };
    Ok((StatusCode::CREATED, Json(release)).into_response())
}

/// Who read or erased an entry's payload (spec/api.md §5.3).
#[utoipa::path(get, path = "/v1/entries/{index}/accesses", tag = "payloads",
    params(("index" = u64, Path, description = "entry index"),
        ("from" = Option<u64>, Query, description = "list access entries from this index on (paging)")),
    responses((status = 200, description = "the access and erasure entries that name the entry", body = AccessesView),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 404, description = "`not_found`: not in the stored tree", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
pub(super) async fn entry_accesses(
    State(s): State<AppState>,
    uri: Uri,
    index: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<AccessesView>> {
    let index = index_param(&path_param(index)?)?;
    let q: AccessesQuery = query(&uri)?;
    let from = q.from.as_deref().map(|f| number(f, "from")).transpose()?;
    // An entry index, as the document types it (int64).
    if from.is_some_and(|f| f > i64::MAX as u64) {
        return Err(ApiError::bad("bad_request", "from must be below 2^63"));
    }
    let size = stored_size(&s);
    if index >= size {
        return Err(ApiError::not_found(format!("entry {index} does not exist")));
    }
    let mut found = s.db.accesses(index, from.unwrap_or(0), MAX_ACCESSES + 1)?;
    found.retain(|&i| i < size);
    let next = (found.len() > MAX_ACCESSES).then(|| found[MAX_ACCESSES]);
    found.truncate(MAX_ACCESSES);
    let mut accesses = Vec::with_capacity(found.len());
    for i in found {
        let (e, st) = stored_statement(&s, i)?;
        accesses.push(AccessView {
            index: i,
            kind: st.kind.as_str().to_owned(),
            agency: st.agency.to_string(),
            sequenced_at_ms: e.sequenced_at_ms,
        });
    }
    Ok(Json(AccessesView {
        entry: index,
        accesses,
        erased_by: s.db.erased_by(index)?,
        next,
    }))
}
