//! The HTTP API (spec/api.md). [`app`] builds every route in one place; this
//! module holds the state, the limits and the error type they share. The routes
//! are in: `tiles` (the C2SP read API, §2), `append` (§3), `read` (entries and
//! search, §4.2-4.3), `proofs` (receipts and proofs, §4.4-4.5), `agencies`
//! (§4.6), `payloads` (private payloads and accesses, §5), `ops` (the log's
//! parameters, health, metrics, §4.1 and §6) and `openapi` (the document).

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

mod agencies;
mod append;
pub mod explorer;
mod openapi;
mod ops;
mod payloads;
mod proofs;
mod read;
mod tiles;

use agencies::*;
use append::*;
use openapi::*;
use ops::*;
use proofs::*;
use read::*;
use tiles::*;

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
        .layer(explorer::cors())
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

/// A path segment, or our 400 for one that does not decode (bad percent-encoding).
fn path_param(p: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    p.map(|Path(v)| v)
        .map_err(|_| ApiError::bad("bad_request", "the path does not decode as UTF-8"))
}

fn index_param(s: &str) -> ApiResult<u64> {
    number(s, "the index")
}
