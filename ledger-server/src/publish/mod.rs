//! Publishing the log to S3-compatible object storage
//! (spec/checkpoints-and-tiles.md §9): for each new published checkpoint (the
//! cosigned one when a witness policy is set), the hash tiles and entry
//! bundles it covers, then the checkpoint itself, in the c2sp.org/tlog-tiles
//! layout, so that readers and CDNs serve the log from the bucket alone.
//!
//! - [`layout`]: paths, bytes and cache headers of the objects.
//! - [`bucket`]: the object store trait and its S3 implementation.
//! - [`publisher`]: the publish loop, off the sequencer's path.
//! - [`settings`]: the `publish_*` settings.
//! - [`metrics`]: what `/metrics` shows of it.

pub mod bucket;
pub mod layout;
pub mod metrics;
pub mod publisher;
pub mod settings;

#[cfg(test)]
mod memory;

use std::sync::Arc;

use ledger_core::checkpoint::Origin;
use ledger_core::note::Ed25519Verifier;

pub use metrics::PublishMetrics;
pub use settings::PublishSettings;

use crate::store::StoreError;

/// What can go wrong while publishing. The alarms ([`PublishError::is_alarm`])
/// stop the publisher; the others are retried.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A setting is missing or wrong (at startup).
    #[error("{0}")]
    Settings(String),
    /// Reading the local store failed.
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    /// The store lacks an object a published checkpoint covers.
    #[error("the store does not hold {0}, which the published checkpoint covers")]
    NotStored(String),
    /// A request to the bucket failed (retried).
    #[error("{op} {path}: {reason}")]
    Bucket {
        /// The operation.
        op: &'static str,
        /// The object's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Alarm: an immutable object in the bucket holds other bytes than ours.
    #[error(
        "CONFLICT: the bucket's {path} ({theirs} bytes) differs from this log's ({ours} bytes); \
         an immutable object was changed behind the publisher's back, or another log writes here"
    )]
    Conflict {
        /// The object's path.
        path: String,
        /// Our length.
        ours: usize,
        /// The bucket's length.
        theirs: usize,
    },
    /// Alarm: the bucket's checkpoint is not one of this log's tree.
    #[error("the bucket's checkpoint is not this log's: {0}")]
    ForeignCheckpoint(String),
    /// A task failed unexpectedly (retried).
    #[error("internal error: {0}")]
    Internal(String),
}

impl PublishError {
    /// Whether this stops publishing: the bucket holds data that contradicts
    /// the log, which an operator must look at (spec/checkpoints-and-tiles.md
    /// §9.4).
    pub fn is_alarm(&self) -> bool {
        matches!(
            self,
            PublishError::Conflict { .. } | PublishError::ForeignCheckpoint(_)
        )
    }
}

/// Starts publishing the log of `state` to the bucket of `settings`, on a task
/// of its own, off the sequencer's path. It runs until the node stops, or
/// until an alarm stops it.
///
/// # Errors
/// [`PublishError::Settings`] if the bucket client cannot be built or the log's
/// key does not parse.
pub fn start(
    settings: &PublishSettings,
    state: &crate::api::AppState,
) -> Result<tokio::task::JoinHandle<()>, PublishError> {
    let bucket = Arc::new(bucket::S3Bucket::new(&settings.s3)?);
    let log_key = Ed25519Verifier::from_vkey(&state.params.vkey)
        .map_err(|e| PublishError::Settings(format!("the log's key: {e}")))?;
    let origin = Origin::new(&state.params.origin)
        .map_err(|e| PublishError::Settings(format!("the log's origin: {e}")))?;
    tracing::info!(
        "publishing to bucket {} at {} (prefix {:?})",
        settings.s3.bucket,
        settings.s3.endpoint,
        settings.s3.prefix
    );
    let publisher = publisher::Publisher {
        bucket,
        db: state.db.clone(),
        origin,
        log_key,
        published: state.published.clone(),
        metrics: state.metrics.publish.clone(),
        limits: settings.limits.clone(),
    };
    Ok(tokio::spawn(async move {
        publisher.run().await;
    }))
}
