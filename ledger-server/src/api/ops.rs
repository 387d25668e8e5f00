//! Operations: the log's parameters, health and metrics (spec/api.md §4.1, §6).

use super::*;

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

/// The log's public parameters (spec/api.md §4.1).
#[utoipa::path(get, path = "/v1/log", tag = "read",
    responses((status = 200, description = "the log's parameters", body = LogView)))]
pub(super) async fn log_params(State(s): State<AppState>) -> Json<LogView> {
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
pub(super) async fn healthz(State(s): State<AppState>) -> ApiResult<Json<HealthView>> {
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
pub(super) const CHECKPOINT_FAILURES_UNHEALTHY: i64 = 3;

/// Prometheus metrics (spec/api.md §5).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
pub(super) async fn metrics_text(State(s): State<AppState>) -> Response {
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
