//! The HTTP API (spec/api.md): the C2SP read API, appends, reads, proofs and
//! operations. [`app`] builds every route in one place.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ledger_core::LeafIndex;
use ledger_core::TreeSize;
use ledger_core::entry::{Entry, verify_statement_signature};
use ledger_core::hash::leaf_hash;
use ledger_core::index::parse_canonical_u64;
use ledger_core::proof::{prove_consistency, prove_inclusion};
use ledger_core::receipt::Receipt;
use ledger_core::registry::AgencyRecord;
use ledger_core::statement::{
    AgencyId, Channel, PayloadCommitment, SALT_BYTES, Statement, StatementType, parse_utc_timestamp,
};
use ledger_core::tile::TilePath;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{OpenApi, ToSchema};

mod payloads;

use crate::checkpointer::Published;
use crate::ledger::LedgerDb;
use crate::metrics::Metrics;
use crate::sequencer::{
    Agencies, AppendError, Appended, Committed, QueueError, SequencerHandle, Submission,
};
use crate::store::{Cf, StoreError};

/// Request limits (spec/api.md §1.2).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest statement, in bytes.
    pub max_statement: usize,
    /// Largest private payload, in bytes.
    pub max_payload: usize,
    /// Largest body of `POST /v1/entries`.
    pub max_body: usize,
    /// Largest body of `POST /v1/entries/batch`.
    pub max_batch_body: usize,
    /// Most entries in one batch request.
    pub max_batch_entries: usize,
    /// How long `?wait=checkpoint` waits.
    pub receipt_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_statement: 16 * 1024,
            max_payload: 64 * 1024,
            max_body: 256 * 1024,
            max_batch_body: 32 * 1024 * 1024,
            max_batch_entries: 1000,
            receipt_wait: Duration::from_secs(10),
        }
    }
}

/// The log's public parameters.
#[derive(Clone, Debug)]
pub struct LogParams {
    /// The origin.
    pub origin: String,
    /// The log's verifier key string.
    pub vkey: String,
    /// The registry authority's key, base64.
    pub authority_key: String,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub db: LedgerDb,
    /// The sequencer's queue.
    pub sequencer: SequencerHandle,
    /// The stored tree.
    pub committed: watch::Receiver<Committed>,
    /// The latest published checkpoint.
    pub published: watch::Receiver<Published>,
    /// The agencies, as of the stored tree.
    pub agencies: Arc<RwLock<Agencies>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Request limits.
    pub limits: Limits,
    /// The log's parameters.
    pub params: Arc<LogParams>,
    /// The registry authority's key, once genesis is stored.
    pub authority: Option<ed25519_dalek::VerifyingKey>,
}

// ---------------------------------------------------------------------------
// Errors

/// An API error: a status, a stable code and a message for people
/// (spec/api.md §1.1). Internal details are logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The error body.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and message.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ErrorDetail {
    /// Stable, for programs.
    #[schema(value_type = schema::ErrorCode)]
    pub code: String,
    /// For people.
    pub message: String,
}

/// Marks a response with its error code, for the rejection metrics.
#[derive(Clone, Copy)]
struct ErrorCode(&'static str);

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }
    fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "storage is unavailable; try again later",
        )
    }
    fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }
    fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.to_owned(),
            message: self.message.clone(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!("storage: {e}");
        ApiError::unavailable()
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> ApiError {
        match &e {
            AppendError::Rejected(r) => {
                let status = match r.code() {
                    "bad_statement" | "bad_entry" => StatusCode::BAD_REQUEST,
                    "bad_signature" => StatusCode::UNAUTHORIZED,
                    "unknown_agency" | "key_not_active" | "access_denied" => StatusCode::FORBIDDEN,
                    "no_payload" => StatusCode::NOT_FOUND,
                    "payload_erased" => StatusCode::GONE,
                    "wrong_origin" | "registry_rule" => StatusCode::UNPROCESSABLE_ENTITY,
                    "duplicate_submission" => StatusCode::CONFLICT,
                    _ => {
                        tracing::error!("sequencer produced an impossible rejection: {r}");
                        return ApiError::internal();
                    }
                };
                let code = match r.code() {
                    "bad_entry" => "bad_statement",
                    "duplicate_submission" => "conflict",
                    c => c,
                };
                ApiError::new(status, code, r.to_string())
            }
            AppendError::Conflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            AppendError::Unavailable => ApiError::unavailable(),
            AppendError::ClockBehind { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.detail(),
        };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §11.6.1: how to authorize. Here: an agency's signature
            // over the statement (spec/entry.md §3.2).
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("EgovLedger-Statement realm=\"ledger\""),
            );
        }
        resp.extensions_mut().insert(ErrorCode(self.code));
        resp
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn query<T: serde::de::DeserializeOwned>(uri: &Uri) -> ApiResult<T> {
    Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad("bad_request", e.body_text()))
}

fn number(s: &str, what: &str) -> ApiResult<u64> {
    parse_canonical_u64(s).ok_or_else(|| {
        ApiError::bad(
            "bad_request",
            format!("{what} must be a decimal number with no sign or leading zeros"),
        )
    })
}

fn body(bytes: Result<Bytes, BytesRejection>, limit: usize) -> ApiResult<Bytes> {
    bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("the request body is limited to {limit} bytes"))
        } else {
            ApiError::bad("bad_request", "cannot read the request body")
        }
    })
}

// ---------------------------------------------------------------------------
// JSON bodies

/// One signed statement to append (spec/api.md §3.1).
#[derive(Deserialize, Serialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// Base64 of the exact statement bytes.
    #[schema(value_type = schema::Base64)]
    pub statement: String,
    /// Base64 of the 64-byte Ed25519 signature.
    #[schema(value_type = schema::Signature)]
    pub signature: String,
    /// Base64 of the private payload.
    #[serde(default)]
    #[schema(value_type = Option<schema::Base64>)]
    pub payload: Option<String>,
    /// Hex of the payload's 32-byte salt.
    #[serde(default)]
    #[schema(value_type = Option<schema::Hex32>)]
    pub salt: Option<String>,
}

/// A durable append (spec/api.md §3.1).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct AppendResponse {
    /// The entry's index.
    pub index: u64,
    /// Hex of the entry's leaf hash.
    #[schema(value_type = schema::Hex32)]
    pub leaf_hash: String,
    /// When it was sequenced (Unix ms).
    pub sequenced_at_ms: u64,
    /// Whether the statement was already in the log.
    pub duplicate: bool,
    /// With `?wait=checkpoint`: the receipt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// With a receipt: the size of the checkpoint it is under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_size: Option<u64>,
}

/// A batch of statements (spec/api.md §3.2).
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 1,000 statements (by default, spec/api.md §1.2), sequenced in order.
    #[schema(value_type = Vec<schema::BatchEntry>)]
    pub entries: Vec<AppendRequest>,
}

/// One result of a batch: a success or an error.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
#[serde(untagged)]
pub enum BatchResult {
    /// Appended (or already there).
    Ok(AppendResponse),
    /// Rejected.
    Err(ErrorBody),
}

/// The results of a batch, in order.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct BatchResponse {
    /// One per submitted entry.
    pub results: Vec<BatchResult>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AppendQuery {
    wait: Option<String>,
}

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
struct SearchQuery {
    agency: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    channel: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

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
struct InclusionQuery {
    index: Option<String>,
    size: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// An agency key and its history.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct KeyView {
    /// Base64 of the Ed25519 public key.
    #[schema(value_type = schema::PublicKey)]
    pub key: String,
    /// Hex of its hash.
    #[schema(value_type = schema::Hex32)]
    pub key_hash: String,
    /// The registry entry that added it.
    pub added_at: u64,
    /// The registry entry that revoked or rotated it out.
    pub revoked_at: Option<u64>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// Whether it may sign now.
    pub active: bool,
}

/// An agency (spec/api.md §4.7).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AgencyView {
    /// The agency id.
    #[schema(value_type = schema::AgencyId)]
    pub id: String,
    /// Its name.
    pub name: String,
    /// The registry entry that registered it.
    pub registered_at: u64,
    /// How many entries it has appended.
    pub entries: u64,
    /// Its newest entry.
    pub last_entry: Option<u64>,
    /// Every key it ever had, oldest first.
    pub keys: Vec<KeyView>,
}

/// Every agency.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AgenciesResponse {
    /// The agencies, by id.
    pub agencies: Vec<AgencyView>,
}

/// The log's parameters (spec/api.md §4.1).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct LogView {
    /// The origin.
    pub origin: String,
    /// The verifier key string.
    pub vkey: String,
    /// Base64 of the registry authority's key.
    #[schema(value_type = schema::PublicKey)]
    pub authority_key: String,
    /// Entries stored.
    pub size: u64,
    /// Size of the latest checkpoint.
    pub checkpoint_size: u64,
}

/// Health.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct HealthView {
    /// `ok`.
    pub status: String,
    /// Entries stored.
    pub size: u64,
    /// Size of the latest checkpoint.
    pub checkpoint_size: u64,
}

// ---------------------------------------------------------------------------
// Routes

/// Every route (spec/api.md).
pub fn app(state: AppState) -> Router {
    let limits = state.limits.clone();
    let metrics = state.metrics.clone();
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route(
            "/v1/entries",
            post(append)
                .layer(DefaultBodyLimit::max(limits.max_body))
                .get(search),
        )
        .route(
            "/v1/entries/batch",
            post(append_batch).layer(DefaultBodyLimit::max(limits.max_batch_body)),
        )
        .route("/v1/entries/{index}", get(entry))
        .route("/v1/receipts/{index}", get(receipt))
        .route("/v1/proofs/inclusion", get(inclusion))
        .route("/v1/proofs/consistency", get(consistency))
        .route("/v1/agencies", get(agencies))
        .route("/v1/agencies/{id}", get(agency))
        .route("/v1/payloads/{index}", get(payloads::payload_get))
        .route("/v1/payloads/read", post(payloads::payload_read))
        .route(
            "/v1/entries/{index}/accesses",
            get(payloads::entry_accesses),
        )
        .route("/v1/log", get(log_params))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { ApiError::not_found("no such resource") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not take that method",
            )
        })
        .layer(middleware::from_fn_with_state(metrics, count_rejections))
        .with_state(state)
}

/// Answers 408 `request_timeout` (our JSON error) when a request, including
/// reading its body, takes longer than `limit` (spec/api.md §1.2).
pub fn with_timeout(router: Router, limit: Duration) -> Router {
    router.layer(middleware::from_fn(
        move |req: Request, next: Next| async move {
            match tokio::time::timeout(limit, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!("the request took longer than {} s", limit.as_secs()),
                )
                .into_response(),
            }
        },
    ))
}

async fn count_rejections(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    if let Some(ErrorCode(code)) = resp.extensions().get::<ErrorCode>() {
        metrics.reject(code);
    }
    resp
}

fn text(status: StatusCode, cache: &'static str, body: Vec<u8>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// The latest signed checkpoint (c2sp.org/tlog-checkpoint).
#[utoipa::path(get, path = "/checkpoint", tag = "c2sp",
    responses((status = 200, description = "the signed checkpoint note", content_type = "text/plain", body = String,
        headers(("Cache-Control" = String, description = "`public, max-age=2`")))))]
async fn checkpoint(State(s): State<AppState>) -> Response {
    let note = s.published.borrow().note.clone();
    text(StatusCode::OK, "public, max-age=2", note.to_vec())
}

/// A hash tile or an entry bundle (spec/api.md §2, c2sp.org/tlog-tiles). The
/// path is matched as sent, before any percent-decoding, so that only the
/// canonical spelling is served: `/tile/0/001%2Ep%2F50` is 404, as is any other
/// non-canonical form.
async fn tile(State(s): State<AppState>, uri: Uri) -> ApiResult<Response> {
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

/// Checks and decodes one append request (everything but the signature and the
/// registry rules, which the sequencer checks).
fn submission(req: AppendRequest, limits: &Limits) -> ApiResult<Submission> {
    let b64 = |field: &str, v: &str| {
        STANDARD
            .decode(v)
            .ok()
            .filter(|b| STANDARD.encode(b) == v)
            .ok_or_else(|| {
                ApiError::bad("bad_encoding", format!("{field} must be canonical base64"))
            })
    };
    // Cheap size checks before decoding (base64 is 4/3 of the bytes).
    if req.statement.len() > limits.max_statement.div_ceil(3) * 4 {
        return Err(ApiError::too_large(format!(
            "statements are limited to {} bytes",
            limits.max_statement
        )));
    }
    let statement = b64("statement", &req.statement)?;
    if statement.len() > limits.max_statement {
        return Err(ApiError::too_large(format!(
            "statements are limited to {} bytes",
            limits.max_statement
        )));
    }
    let signature: [u8; 64] = b64("signature", &req.signature)?
        .try_into()
        .map_err(|_| ApiError::bad("bad_encoding", "signature must be 64 bytes"))?;
    let statement = Statement::parse(&statement)
        .map_err(|e| ApiError::bad("bad_statement", format!("statement: {e}")))?;
    let payload = match (req.payload, req.salt) {
        (None, None) => None,
        (Some(p), Some(salt)) => {
            if p.len() > limits.max_payload.div_ceil(3) * 4 {
                return Err(ApiError::too_large(format!(
                    "payloads are limited to {} bytes",
                    limits.max_payload
                )));
            }
            let payload = b64("payload", &p)?;
            if payload.len() > limits.max_payload {
                return Err(ApiError::too_large(format!(
                    "payloads are limited to {} bytes",
                    limits.max_payload
                )));
            }
            let salt: [u8; SALT_BYTES] = hex::decode(&salt)
                .ok()
                .filter(|_| salt.bytes().all(|c| !c.is_ascii_uppercase()))
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    ApiError::bad("bad_encoding", "salt must be 64 lowercase hex digits")
                })?;
            let Some(commitment) = statement.payload_commitment else {
                return Err(ApiError::bad(
                    "bad_payload",
                    "a payload was sent but the statement has no payload_commitment",
                ));
            };
            if !commitment.opens(&salt, &payload) {
                return Err(ApiError::bad(
                    "bad_payload",
                    "the payload and salt do not open the statement's payload_commitment",
                ));
            }
            Some((salt, payload))
        }
        _ => {
            return Err(ApiError::bad(
                "bad_payload",
                "payload and salt must be sent together",
            ));
        }
    };
    Ok(Submission {
        statement,
        signature,
        payload,
        verified_by: None,
    })
}

/// Verifies the submissions' signatures on the rayon pool (all cores, off the
/// async threads and off the sequencer's thread, so that verification of the next
/// requests overlaps the sequencer's commits), against the keys valid as of the
/// stored tree. The sequencer re-checks that the key is still active when it
/// sequences the entry; a submission no known key verifies is left to the
/// sequencer, which checks it against the keys of that moment or rejects it.
async fn verify_signatures(s: &AppState, subs: Vec<Submission>) -> ApiResult<Vec<Submission>> {
    let agencies = agency_list(s);
    let authority = s.authority;
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let mut subs = subs;
        subs.par_iter_mut().for_each(|sub| {
            let agency = &sub.statement.agency;
            let keys: Vec<ed25519_dalek::VerifyingKey> = if agency.is_registry() {
                authority.into_iter().collect()
            } else {
                agencies
                    .binary_search_by(|a| a.id.cmp(agency))
                    .ok()
                    .map(|i| agencies[i].active_keys().map(|k| k.key).collect())
                    .unwrap_or_default()
            };
            sub.verified_by = keys
                .into_iter()
                .find(|k| verify_statement_signature(k, sub.statement.bytes(), &sub.signature));
        });
        let _ = tx.send(subs);
    });
    rx.await.map_err(|_| ApiError::internal())
}

/// Reads go through `POST /v1/payloads/read`, which releases the payload once
/// the access entry is durable (spec/api.md §5.2).
fn not_a_read(sub: &Submission) -> ApiResult<()> {
    if sub.statement.kind.as_str() == ledger_core::access::TYPE_PAYLOAD_READ {
        return Err(ApiError::bad(
            "bad_request",
            "access.payload.read statements are submitted to POST /v1/payloads/read",
        ));
    }
    Ok(())
}

fn wants_receipt(uri: &Uri) -> ApiResult<bool> {
    let q: AppendQuery = query(uri)?;
    match q.wait.as_deref() {
        None => Ok(false),
        Some("checkpoint") => Ok(true),
        Some(_) => Err(ApiError::bad(
            "bad_request",
            "wait takes only the value \"checkpoint\"",
        )),
    }
}

fn response(a: &Appended) -> AppendResponse {
    AppendResponse {
        index: a.index,
        leaf_hash: a.leaf_hash.to_hex(),
        sequenced_at_ms: a.sequenced_at_ms,
        duplicate: a.duplicate,
        receipt: None,
        checkpoint_size: None,
    }
}

async fn sequence(
    s: &AppState,
    subs: Vec<Submission>,
) -> ApiResult<Vec<Result<Appended, AppendError>>> {
    let rx = s.sequencer.submit(subs).map_err(|e| match e {
        QueueError::Full => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            "the sequencer's queue is full; retry after the Retry-After seconds",
        ),
        QueueError::Stopped => sequencer_stopped(),
    })?;
    rx.await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down, or its sequencer stopped",
        )
    })
}

fn sequencer_stopped() -> ApiError {
    tracing::error!("the sequencer has stopped: appends are refused until a restart");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the sequencer has stopped; nothing can be appended until the server restarts",
    )
}

/// Waits for a checkpoint covering `max_index`; `None` if none came in time.
async fn covering_checkpoint(s: &AppState, max_index: u64) -> Option<Published> {
    let mut rx = s.published.clone();
    let got = tokio::time::timeout(s.limits.receipt_wait, rx.wait_for(|p| p.size > max_index))
        .await
        .ok()?
        .ok()?
        .clone();
    Some(got)
}

fn build_receipt(db: &LedgerDb, index: u64, cp: &Published) -> ApiResult<String> {
    let envelope = db
        .entry(index)?
        .ok_or_else(|| ApiError::not_found(format!("entry {index} does not exist")))?;
    let proof =
        prove_inclusion(LeafIndex(index), TreeSize(cp.size), &db.hash_reader()).map_err(|e| {
            tracing::error!("inclusion proof for {index} at {}: {e}", cp.size);
            ApiError::unavailable()
        })?;
    let receipt = Receipt::new(envelope, LeafIndex(index), proof.path, cp.note.to_vec());
    String::from_utf8(receipt.encode()).map_err(|_| ApiError::internal())
}

async fn add_receipt(s: &AppState, r: &mut AppendResponse, cp: &Published) {
    match build_receipt(&s.db, r.index, cp) {
        Ok(text) => {
            r.receipt = Some(text);
            r.checkpoint_size = Some(cp.size);
        }
        Err(e) => tracing::warn!("no receipt for {}: {}", r.index, e.message),
    }
}

/// Appends one signed statement (spec/api.md §3.1).
#[utoipa::path(post, path = "/v1/entries", tag = "append",
    request_body = AppendRequest,
    params(("wait" = Option<schema::Wait>, Query, description = "`checkpoint`: wait for a checkpoint and return a receipt")),
    responses(
        (status = 201, description = "appended and durable", body = AppendResponse),
        (status = 200, description = "already appended: the original result", body = AppendResponse),
        (status = 400, description = "`bad_request`, `bad_json`, `bad_encoding`, `bad_statement`, `bad_payload`", body = ErrorBody),
        (status = 401, description = "`bad_signature`", body = ErrorBody),
        (status = 403, description = "`unknown_agency`, `key_not_active`", body = ErrorBody),
        (status = 409, description = "`conflict`: the submission id was used for another statement", body = ErrorBody),
        (status = 413, description = "`too_large`: the body, statement or payload", body = ErrorBody),
        (status = 422, description = "`wrong_origin`, `registry_rule`", body = ErrorBody),
        (status = 429, description = "`queue_full`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "seconds to wait before retrying"))),
        (status = 503, description = "`unavailable`: storage failed or the server is stopping", body = ErrorBody)))]
async fn append(
    State(s): State<AppState>,
    uri: Uri,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let wait = wants_receipt(&uri)?;
    let bytes = body(bytes, s.limits.max_body)?;
    let req: AppendRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad("bad_json", format!("request body: {e}")))?;
    let sub = submission(req, &s.limits)?;
    not_a_read(&sub)?;
    let subs = verify_signatures(&s, vec![sub]).await?;
    let result = sequence(&s, subs)
        .await?
        .pop()
        .unwrap_or(Err(AppendError::Unavailable))?;
    let mut r = response(&result);
    if wait && let Some(cp) = covering_checkpoint(&s, r.index).await {
        add_receipt(&s, &mut r, &cp).await;
    }
    let status = if r.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(r)).into_response())
}

/// Appends up to 1,000 signed statements, in order (spec/api.md §3.2).
#[utoipa::path(post, path = "/v1/entries/batch", tag = "append",
    request_body = BatchRequest,
    params(("wait" = Option<schema::Wait>, Query, description = "`checkpoint`: wait for a checkpoint and return receipts")),
    responses(
        (status = 200, description = "one result per entry", body = BatchResponse),
        (status = 400, description = "`bad_request`, `bad_json`: not a batch", body = ErrorBody),
        (status = 413, description = "`too_large`: the body, or more entries than the batch limit", body = ErrorBody),
        (status = 429, description = "`queue_full`", body = ErrorBody,
            headers(("Retry-After" = u32, description = "seconds to wait before retrying"))),
        (status = 503, description = "`unavailable`: storage failed or the server is stopping", body = ErrorBody)))]
async fn append_batch(
    State(s): State<AppState>,
    uri: Uri,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<BatchResponse>> {
    let wait = wants_receipt(&uri)?;
    let bytes = body(bytes, s.limits.max_batch_body)?;
    let req: BatchRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad("bad_json", format!("request body: {e}")))?;
    if req.entries.len() > s.limits.max_batch_entries {
        return Err(ApiError::too_large(format!(
            "a batch is limited to {} entries",
            s.limits.max_batch_entries
        )));
    }
    let mut slots: Vec<Option<ApiError>> = Vec::with_capacity(req.entries.len());
    let mut subs = Vec::new();
    for e in req.entries {
        match submission(e, &s.limits).and_then(|sub| not_a_read(&sub).map(|()| sub)) {
            Ok(sub) => {
                subs.push(sub);
                slots.push(None);
            }
            Err(err) => slots.push(Some(err)),
        }
    }
    let mut sequenced = if subs.is_empty() {
        Vec::new()
    } else {
        let subs = verify_signatures(&s, subs).await?;
        sequence(&s, subs).await?
    }
    .into_iter();
    let mut results = Vec::with_capacity(slots.len());
    let mut max_index = None;
    for slot in slots {
        let r = match slot {
            Some(err) => Err(err),
            None => sequenced
                .next()
                .unwrap_or(Err(AppendError::Unavailable))
                .map_err(ApiError::from),
        };
        if let Ok(a) = &r {
            max_index = max_index.max(Some(a.index));
        }
        results.push(r);
    }
    let cp = match (wait, max_index) {
        (true, Some(m)) => covering_checkpoint(&s, m).await,
        _ => None,
    };
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        out.push(match r {
            Ok(a) => {
                let mut resp = response(&a);
                if let Some(cp) = &cp {
                    add_receipt(&s, &mut resp, cp).await;
                }
                BatchResult::Ok(resp)
            }
            Err(e) => {
                s.metrics.reject(e.code);
                BatchResult::Err(ErrorBody { error: e.detail() })
            }
        });
    }
    Ok(Json(BatchResponse { results: out }))
}

fn entry_view(db: &LedgerDb, index: u64, envelope: &[u8]) -> ApiResult<EntryView> {
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

fn stored_size(s: &AppState) -> u64 {
    s.committed.borrow().size
}

/// A path segment, or our 400 for one that does not decode (bad percent-encoding).
fn path_param(p: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    p.map(|Path(v)| v)
        .map_err(|_| ApiError::bad("bad_request", "the path does not decode as UTF-8"))
}

fn index_param(s: &str) -> ApiResult<u64> {
    number(s, "the index")
}

/// One entry, decoded (spec/api.md §4.2).
#[utoipa::path(get, path = "/v1/entries/{index}", tag = "read",
    params(("index" = u64, Path, description = "entry index")),
    responses((status = 200, description = "the entry", body = EntryView),
        (status = 400, description = "`bad_request`: not a decimal index", body = ErrorBody),
        (status = 404, description = "`not_found`: not in the stored tree", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
async fn entry(
    State(s): State<AppState>,
    index: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<EntryView>> {
    let index = index_param(&path_param(index)?)?;
    if index >= stored_size(&s) {
        return Err(ApiError::not_found(format!("entry {index} does not exist")));
    }
    let envelope =
        s.db.entry(index)?
            .ok_or_else(|| ApiError::not_found(format!("entry {index} does not exist")))?;
    Ok(Json(entry_view(&s.db, index, &envelope)?))
}

/// At most this many index records are read per search request, times the limit.
const SEARCH_SCAN_FACTOR: usize = 4;

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
    responses((status = 200, description = "a page of entries", body = SearchResponse),
        (status = 400, description = "`bad_request`: a malformed parameter", body = ErrorBody),
        (status = 503, description = "`unavailable`: storage failed", body = ErrorBody)))]
async fn search(State(s): State<AppState>, uri: Uri) -> ApiResult<Json<SearchResponse>> {
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
    Ok(Json(SearchResponse {
        entries,
        next_cursor: next.map(|n| n.to_string()),
    }))
}

fn latest(s: &AppState) -> Published {
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
async fn receipt(
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
    let r = build_receipt(&s.db, index, &cp)?;
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
async fn inclusion(State(s): State<AppState>, uri: Uri) -> ApiResult<Json<InclusionView>> {
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
async fn consistency(State(s): State<AppState>, uri: Uri) -> ApiResult<Json<ConsistencyView>> {
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

fn agency_view(a: &AgencyRecord) -> AgencyView {
    AgencyView {
        id: a.id.to_string(),
        name: a.name.clone(),
        registered_at: a.registered_at.0,
        entries: a.entries,
        last_entry: a.last_entry.map(|i| i.0),
        keys: a
            .keys
            .iter()
            .map(|k| KeyView {
                key: STANDARD.encode(k.key.as_bytes()),
                key_hash: k.key_hash.0.to_hex(),
                added_at: k.added_at.0,
                revoked_at: k.revoked_at.map(|i| i.0),
                revoke_reason: k.revoke_reason.clone(),
                active: k.revoked_at.is_none(),
            })
            .collect(),
    }
}

fn agency_list(s: &AppState) -> Agencies {
    s.agencies
        .read()
        .map(|a| a.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

/// Every agency, with its key history (spec/api.md §4.7).
#[utoipa::path(get, path = "/v1/agencies", tag = "read",
    responses((status = 200, description = "every agency", body = AgenciesResponse)))]
async fn agencies(State(s): State<AppState>) -> Json<AgenciesResponse> {
    let list = agency_list(&s);
    Json(AgenciesResponse {
        agencies: list.iter().map(agency_view).collect(),
    })
}

/// One agency, with its key history (spec/api.md §4.7).
#[utoipa::path(get, path = "/v1/agencies/{id}", tag = "read",
    params(("id" = String, Path, description = "agency id")),
    responses((status = 200, description = "the agency", body = AgencyView),
        (status = 400, description = "`bad_request`: the path does not decode as UTF-8", body = ErrorBody),
        (status = 404, description = "`not_found`: no such agency", body = ErrorBody)))]
async fn agency(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<AgencyView>> {
    let id = path_param(id)?;
    let list = agency_list(&s);
    list.iter()
        .find(|a| a.id.as_str() == id)
        .map(|a| Json(agency_view(a)))
        .ok_or_else(|| ApiError::not_found("no such agency"))
}

/// The log's public parameters (spec/api.md §4.1).
#[utoipa::path(get, path = "/v1/log", tag = "read",
    responses((status = 200, description = "the log's parameters", body = LogView)))]
async fn log_params(State(s): State<AppState>) -> Json<LogView> {
    Json(LogView {
        origin: s.params.origin.clone(),
        vkey: s.params.vkey.clone(),
        authority_key: s.params.authority_key.clone(),
        size: stored_size(&s),
        checkpoint_size: latest(&s).size,
    })
}

/// Health (spec/api.md §5).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "the store answers, the sequencer runs and checkpoints are persisted", body = HealthView),
        (status = 503, description = "`unavailable`: storage failed, the sequencer stopped, or checkpoints keep failing", body = ErrorBody)))]
async fn healthz(State(s): State<AppState>) -> ApiResult<Json<HealthView>> {
    let size = s.db.size()?;
    if !s.sequencer.is_running() {
        return Err(sequencer_stopped());
    }
    let failures = s.metrics.checkpoint_failures.get();
    if failures >= CHECKPOINT_FAILURES_UNHEALTHY {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!(
                "the last {failures} attempts to persist a checkpoint failed: new entries are not published"
            ),
        ));
    }
    Ok(Json(HealthView {
        status: "ok".into(),
        size,
        checkpoint_size: latest(&s).size,
    }))
}

/// Consecutive failed checkpoint writes after which `/healthz` answers 503
/// (spec/api.md §6): one failure may be a passing fault that the next retry,
/// a second later, mends.
const CHECKPOINT_FAILURES_UNHEALTHY: i64 = 3;

/// Prometheus metrics (spec/api.md §5).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
async fn metrics_text(State(s): State<AppState>) -> Response {
    s.metrics.queue_depth.set(s.sequencer.queue_depth() as i64);
    s.metrics
        .sequencer_up
        .set(i64::from(s.sequencer.is_running()));
    if let Some(t) = latest(&s).signed_at {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(t);
        s.metrics.checkpoint_age.set((now - t).max(0.0));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

/// Schemas for the strings of the API (spec/api.md §1): hashes, base64, ids,
/// times and codes. Fields refer to them with `#[schema(value_type = ...)]`, so
/// that the document states their exact form, and a fuzzer that reads it sends
/// well-formed values as well as malformed ones.
mod schema {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::{RefOr, SchemaFormat};

    /// Declares an uninhabited type whose only use is its string schema: a
    /// pattern, or a closed list of values.
    macro_rules! string_schema {
        ($(#[doc = $doc:literal])+ $name:ident, pattern = $pattern:literal $(, max_length = $max:literal)? $(, format = $format:expr)?) => {
            $(#[doc = $doc])+
            pub enum $name {}
            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some(concat!($($doc),+).trim()))
                        .pattern(Some($pattern))
                        $(.max_length(Some($max)))?
                        $(.format(Some($format)))?
                        .into()
                }
            }
            impl utoipa::ToSchema for $name {}
        };
        ($(#[doc = $doc:literal])+ $name:ident, values = $values:expr) => {
            $(#[doc = $doc])+
            pub enum $name {}
            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some(concat!($($doc),+).trim()))
                        .enum_values(Some($values.iter().copied()))
                        .into()
                }
            }
            impl utoipa::ToSchema for $name {}
        };
    }

    string_schema!(
        /// 32 bytes (a SHA-256 hash or a payload salt), lowercase hex.
        Hex32,
        pattern = "^[0-9a-f]{64}$"
    );
    string_schema!(
        /// Bytes, canonical standard base64 with padding (RFC 4648 §4).
        Base64,
        pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$"
    );
    string_schema!(
        /// A 64-byte Ed25519 signature, canonical base64.
        Signature,
        pattern = "^[A-Za-z0-9+/]{85}[AQgw]==$"
    );
    string_schema!(
        /// A 32-byte Ed25519 public key, canonical base64.
        PublicKey,
        pattern = "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
    );
    string_schema!(
        /// An agency id (entry.md §1): 1-64 of a-z, 0-9, '.', '-', starting and ending
        /// with a letter or digit.
        AgencyId,
        pattern = "^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$"
    );
    string_schema!(
        /// A statement type (entry.md §1): 2-8 dot-separated segments of a-z, 0-9,
        /// '_', the first one decision, service, transfer, registry or access.
        StatementType,
        pattern = "^(?:decision|service|transfer|registry|access)(?:\\.[a-z0-9_]+){1,7}$",
        max_length = 128
    );
    string_schema!(
        /// A submission id (entry.md §1): 1-128 of A-Z, a-z, 0-9, '.', '_', ':', '/', '-'.
        SubmissionId,
        pattern = "^[A-Za-z0-9._:/-]{1,128}$"
    );
    string_schema!(
        /// A delivery channel.
        Channel,
        values = ["G2C", "G2B", "G2G"]
    );
    string_schema!(
        /// An RFC 3339 time in UTC, with a `Z`.
        UtcTime,
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,9})?Z$",
        max_length = 40,
        format = SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)
    );
    string_schema!(
        /// Where the next page of a search starts: an entry index, decimal.
        Cursor,
        pattern = "^(?:0|[1-9][0-9]{0,18})$"
    );
    string_schema!(
        /// `checkpoint`: wait for a checkpoint that covers the appended entries, and
        /// answer with receipts (spec/api.md §3.1).
        Wait,
        values = ["checkpoint"]
    );
    string_schema!(
        /// A tile index below 1000 in the tlog-tiles path encoding: three digits.
        TileIndex,
        pattern = "^[0-9]{3}$"
    );
    string_schema!(
        /// A stable error code (spec/api.md §1.1).
        ErrorCode,
        values = super::ERROR_CODES
    );

    /// One entry of a batch (spec/api.md §3.2): the fields of an append request.
    /// A batch whose entries do not have this shape is refused as a whole (400);
    /// the fields' contents are checked entry by entry, and a malformed one gets
    /// an error in its result while the others are appended.
    pub enum BatchEntry {}

    impl utoipa::PartialSchema for BatchEntry {
        fn schema() -> RefOr<Schema> {
            let string = |what: &str| {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(what))
            };
            let optional = |what: &str| {
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(what))
            };
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "One entry of a batch: the fields of AppendRequest. Their contents are \
                     checked entry by entry: a malformed one gets an error in its result.",
                ))
                .property("statement", string("base64 of the exact statement bytes"))
                .required("statement")
                .property(
                    "signature",
                    string("base64 of the 64-byte Ed25519 signature"),
                )
                .required("signature")
                .property("payload", optional("base64 of the private payload"))
                .property("salt", optional("hex of the payload's 32-byte salt"))
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .into()
        }
    }

    impl utoipa::ToSchema for BatchEntry {}
}

/// Every error code the API answers with, as listed in spec/api.md §1.1.
const ERROR_CODES: [&str; 24] = [
    "bad_request",
    "bad_json",
    "bad_encoding",
    "bad_statement",
    "bad_payload",
    "bad_signature",
    "unknown_agency",
    "key_not_active",
    "not_found",
    "method_not_allowed",
    "request_timeout",
    "conflict",
    "too_large",
    "wrong_origin",
    "registry_rule",
    "access_denied",
    "access_statement_required",
    "access_replayed",
    "no_payload",
    "payload_not_held",
    "payload_erased",
    "queue_full",
    "unavailable",
    "internal",
];

/// An error response, for the document.
fn error_response(description: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// Adds to the document what is not in the handlers' annotations: the C2SP
/// tile paths (spec/api.md §2; one handler serves them all) and the 408 that
/// the request time limit (spec/api.md §1.1) can answer on every route.
struct Extras;

impl utoipa::Modify for Extras {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{
            HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
        };
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{ContentBuilder, HeaderBuilder, Required, ResponseBuilder};

        let integer = |min: u64, max: u64| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min as f64))
                .maximum(Some(max as f64))
                .build()
        };
        let level = ParameterBuilder::new()
            .name("L")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("the tile level"))
            .schema(Some(integer(
                0,
                u64::from(ledger_core::tile::MAX_TILE_LEVEL),
            )))
            .build();
        let index = ParameterBuilder::new()
            .name("N")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(
                "the tile index below 1000, three digits. Larger indexes take more \
                 path segments (`x001/x234/067`, c2sp.org/tlog-tiles), which a path \
                 template cannot express; they are served the same way. The path must \
                 be sent in canonical form, without percent-encoding.",
            ))
            .schema(Some(utoipa::openapi::Ref::from_schema_name("TileIndex")))
            .build();
        let width = ParameterBuilder::new()
            .name("W")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("the width of a partial tile"))
            .schema(Some(integer(1, 255)))
            .build();
        let cache = |value: &str| {
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(value))
                .build()
        };
        let found = |what: &str, cache_control: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/octet-stream",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                )
                .header("Cache-Control", cache(cache_control))
                .build()
        };
        let tiles = [
            (
                "/tile/{L}/{N}",
                "A full hash tile: 256 hashes of 32 bytes (c2sp.org/tlog-tiles).",
                false,
                true,
            ),
            (
                "/tile/{L}/{N}.p/{W}",
                "A partial hash tile of `W` hashes (c2sp.org/tlog-tiles).",
                true,
                true,
            ),
            (
                "/tile/entries/{N}",
                "A full entry bundle: 256 entries, each a big-endian u16 length and the entry (c2sp.org/tlog-tiles).",
                false,
                false,
            ),
            (
                "/tile/entries/{N}.p/{W}",
                "A partial entry bundle of `W` entries (c2sp.org/tlog-tiles).",
                true,
                false,
            ),
        ];
        for (path, summary, partial, hashes) in tiles {
            let mut params = Vec::new();
            if hashes {
                params.push(level.clone());
            }
            params.push(index.clone());
            if partial {
                params.push(width.clone());
            }
            let ok = if partial {
                found(summary, "`public, max-age=5`")
            } else {
                found(summary, "`public, max-age=31536000, immutable`")
            };
            let operation = OperationBuilder::new()
                .tag("c2sp")
                .summary(Some(summary))
                .operation_id(Some(format!(
                    "tile_{}{}",
                    if hashes { "hashes" } else { "entries" },
                    if partial { "_partial" } else { "" }
                )))
                .parameters(Some(params))
                .response("200", ok)
                .response(
                    "404",
                    error_response(
                        "`not_found`: not a canonical tile path, or not in the log (yet)",
                    ),
                )
                .response("503", error_response("`unavailable`: storage failed"));
            doc.paths
                .paths
                .insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
        }

        for operation in doc.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
        }) {
            operation.responses.responses.insert(
                "408".to_owned(),
                error_response(
                    "`request_timeout`: the request took longer than the request time limit",
                )
                .into(),
            );
        }
    }
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "e-government audit ledger",
        description = "Append-only, signed, tiled transparency ledger. The C2SP tlog-tiles read API (`/tile/<L>/<N>[.p/<W>]`, `/tile/entries/<N>[.p/<W>]`) is served too; see spec/api.md §2."
    ),
    paths(
        checkpoint,
        append,
        append_batch,
        search,
        entry,
        receipt,
        inclusion,
        consistency,
        agencies,
        agency,
        payloads::payload_get,
        payloads::payload_read,
        payloads::entry_accesses,
        log_params,
        healthz,
        metrics_text,
        openapi
    ),
    modifiers(&Extras),
    components(schemas(
        schema::Hex32,
        schema::Base64,
        schema::Signature,
        schema::PublicKey,
        schema::AgencyId,
        schema::StatementType,
        schema::SubmissionId,
        schema::Channel,
        schema::UtcTime,
        schema::Cursor,
        schema::Wait,
        schema::TileIndex,
        schema::ErrorCode,
        schema::BatchEntry,
        ErrorBody,
        ErrorDetail,
        AppendRequest,
        AppendResponse,
        BatchRequest,
        BatchResult,
        BatchResponse,
        EntryView,
        SearchResponse,
        InclusionView,
        ConsistencyView,
        KeyView,
        AgencyView,
        AgenciesResponse,
        payloads::PayloadRelease,
        payloads::AccessView,
        payloads::AccessesView,
        LogView,
        HealthView
    ))
)]
pub struct ApiDoc;

/// The OpenAPI document (spec/api.md).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 JSON", content_type = "application/json", body = Object)))]
async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(_) => ApiError::internal().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::openapi::path::Operation;
    use utoipa::openapi::{RefOr, Response};

    use super::*;

    /// The codes in the error table of spec/api.md §1.1.
    fn spec_codes() -> BTreeSet<String> {
        let spec = include_str!("../../spec/api.md");
        let start = spec.find("### 1.1 Errors").expect("spec/api.md has §1.1");
        let section = &spec[start..];
        let end = section[4..].find("\n### ").map_or(section.len(), |e| e + 4);
        section[..end]
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
            .collect()
    }

    fn operations(doc: &utoipa::openapi::OpenApi) -> Vec<(String, &Operation)> {
        doc.paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                [&item.get, &item.post]
                    .into_iter()
                    .flatten()
                    .map(move |op| (path.clone(), op))
            })
            .collect()
    }

    fn response<'a>(op: &'a Operation, status: &str) -> Option<&'a Response> {
        match op.responses.responses.get(status)? {
            RefOr::T(r) => Some(r),
            RefOr::Ref(_) => None,
        }
    }

    #[test]
    fn error_codes_are_the_spec_table() {
        let ours: BTreeSet<String> = ERROR_CODES.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(ours, spec_codes());
    }

    #[test]
    fn every_error_response_is_a_json_error_body() {
        let doc = ApiDoc::openapi();
        let ops = operations(&doc);
        assert!(ops.len() >= 18, "{} operations", ops.len());
        for (path, op) in ops {
            assert!(
                response(op, "408").is_some(),
                "{path}: no 408 (request time limit)"
            );
            for (status, r) in &op.responses.responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let RefOr::T(r) = r else {
                    panic!("{path} {status}: a reference")
                };
                let schema = r
                    .content
                    .get("application/json")
                    .and_then(|c| c.schema.as_ref());
                assert!(
                    matches!(schema, Some(RefOr::Ref(s)) if s.ref_location == "#/components/schemas/ErrorBody"),
                    "{path} {status}: not an ErrorBody"
                );
                assert_eq!(r.content.len(), 1, "{path} {status}");
            }
        }
    }

    #[test]
    fn content_types_are_the_served_ones() {
        let doc = ApiDoc::openapi();
        let content_type = |path: &str| {
            let op = doc.paths.paths[path].get.as_ref().expect(path);
            let ok = response(op, "200").expect(path);
            ok.content.keys().cloned().collect::<Vec<_>>()
        };
        for tile in [
            "/tile/{L}/{N}",
            "/tile/{L}/{N}.p/{W}",
            "/tile/entries/{N}",
            "/tile/entries/{N}.p/{W}",
        ] {
            assert_eq!(content_type(tile), ["application/octet-stream"], "{tile}");
        }
        assert_eq!(content_type("/checkpoint"), ["text/plain"]);
        assert_eq!(content_type("/v1/receipts/{index}"), ["text/plain"]);
        assert_eq!(content_type("/metrics"), ["application/openmetrics-text"]);
        assert_eq!(content_type("/v1/entries/{index}"), ["application/json"]);
    }

    /// A node on an in-memory store that holds only its genesis entry.
    fn genesis_node() -> crate::node::Node {
        use ed25519_dalek::SigningKey;
        use ledger_core::checkpoint::Origin;
        use ledger_core::note::Ed25519Signer;

        let origin = Origin::new("test.egov-ledger.example/api").expect("origin");
        let signer = Ed25519Signer::new(origin.key_name(), SigningKey::from_bytes(&[1; 32]));
        let authority = SigningKey::from_bytes(&[2; 32]);
        let genesis = crate::init::genesis_statement(
            &origin,
            &authority.verifying_key(),
            &signer.verifier().to_vkey(),
        );
        let signature = ledger_core::entry::sign_statement(&authority, &genesis);
        let store = Arc::new(crate::store::MemStore::new());
        crate::init::write_genesis(
            store.clone(),
            &signer,
            &origin,
            authority.verifying_key(),
            genesis,
            signature,
        )
        .expect("genesis");
        crate::node::Node::start_with(store, signer, crate::node::NodeConfig::default())
            .expect("node")
    }

    #[tokio::test]
    async fn tiles_are_served_only_at_their_canonical_path() {
        use tower::ServiceExt as _;

        let node = genesis_node();
        let router = app(node.state.clone());
        for (path, status) in [
            ("/tile/entries/000.p/1", StatusCode::OK),
            ("/tile/0/000.p/1", StatusCode::OK),
            ("/tile/entries/000%2Ep%2F1", StatusCode::NOT_FOUND),
            ("/tile/0/000.p%2F1", StatusCode::NOT_FOUND),
            ("/tile/0/%30%30%30.p/1", StatusCode::NOT_FOUND),
            ("/tile/0/000.p/1/", StatusCode::NOT_FOUND),
            ("/tile/0/000.p/01", StatusCode::NOT_FOUND),
            ("/tile/%FF/000.p/1", StatusCode::NOT_FOUND),
            ("/tile/0/000", StatusCode::NOT_FOUND),
        ] {
            let request = Request::get(path)
                .body(axum::body::Body::empty())
                .expect(path);
            let response = router.clone().oneshot(request).await.expect(path);
            assert_eq!(response.status(), status, "{path}");
            let content_type = response.headers()[header::CONTENT_TYPE].clone();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect(path);
            if status == StatusCode::OK {
                assert_eq!(content_type, "application/octet-stream", "{path}");
                assert!(!body.is_empty(), "{path}");
            } else {
                let e: ErrorBody = serde_json::from_slice(&body).expect(path);
                assert_eq!(e.error.code, "not_found", "{path}");
            }
        }
        // The router's handle to the sequencer goes first, or the sequencer waits for it.
        drop(router);
        node.shutdown(Duration::from_secs(1)).await;
    }

    #[test]
    fn every_referenced_schema_is_defined() {
        let doc = ApiDoc::openapi();
        let json = doc.to_json().expect("serializes");
        let defined: BTreeSet<String> = doc
            .components
            .as_ref()
            .expect("components")
            .schemas
            .keys()
            .cloned()
            .collect();
        for piece in json.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(defined.contains(name), "{name} is referenced, not defined");
        }
    }
}
