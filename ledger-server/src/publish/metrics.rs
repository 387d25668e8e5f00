//! The publisher's metrics (`ledger_publish_*`, spec/api.md §5 and
//! spec/checkpoints-and-tiles.md §9.4).

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What `/metrics` shows of publishing. All zero when no bucket is set.
pub struct PublishMetrics {
    /// 1 while a publisher runs.
    pub enabled: Gauge,
    /// Tree size of the checkpoint in the bucket.
    pub bucket_size: Gauge,
    /// Entries published by the log and not yet in the bucket.
    pub backlog: Gauge,
    /// 1 while the backlog is above `publish_max_backlog`.
    pub backlog_exceeded: Gauge,
    /// Failed publish attempts since the last success (0 when healthy).
    pub failures: Gauge,
    /// Failed publish attempts in all.
    pub errors: Counter,
    /// 1 once an alarm (a conflicting object, a foreign checkpoint) stopped
    /// publishing.
    pub alarm: Gauge,
    /// Tiles and bundles written (or found in place with the same bytes).
    pub objects: Counter,
    /// Checkpoints written to the bucket.
    pub checkpoints: Counter,
    /// Superseded partial tiles and bundles deleted.
    pub deleted: Counter,
    /// Unix time (seconds) the bucket's checkpoint was written.
    pub timestamp: Gauge<f64, AtomicU64>,
    /// Time from signing a checkpoint to writing it to the bucket.
    pub lag_seconds: Histogram,
}

impl Default for PublishMetrics {
    fn default() -> Self {
        PublishMetrics {
            enabled: Gauge::default(),
            bucket_size: Gauge::default(),
            backlog: Gauge::default(),
            backlog_exceeded: Gauge::default(),
            failures: Gauge::default(),
            errors: Counter::default(),
            alarm: Gauge::default(),
            objects: Counter::default(),
            checkpoints: Counter::default(),
            deleted: Counter::default(),
            timestamp: Gauge::default(),
            lag_seconds: Histogram::new(exponential_buckets(0.001, 1.5, 25)),
        }
    }
}

impl PublishMetrics {
    /// Registers every metric as `publish_*` in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry;
        r.register(
            "publish_enabled",
            "1 if the log is published to a bucket",
            self.enabled.clone(),
        );
        r.register(
            "publish_bucket_size",
            "Tree size of the checkpoint in the bucket",
            self.bucket_size.clone(),
        );
        r.register(
            "publish_backlog",
            "Entries published by the log and not yet in the bucket",
            self.backlog.clone(),
        );
        r.register(
            "publish_backlog_exceeded",
            "1 while the backlog is above publish_max_backlog",
            self.backlog_exceeded.clone(),
        );
        r.register(
            "publish_failures",
            "Failed publish attempts since the last success (0 when healthy)",
            self.failures.clone(),
        );
        r.register(
            "publish_errors",
            "Failed publish attempts",
            self.errors.clone(),
        );
        r.register(
            "publish_alarm",
            "1 once a conflicting object or a foreign checkpoint in the bucket stopped publishing",
            self.alarm.clone(),
        );
        r.register(
            "publish_objects",
            "Tiles and bundles written to the bucket (or found there with the same bytes)",
            self.objects.clone(),
        );
        r.register(
            "publish_checkpoints",
            "Checkpoints written to the bucket",
            self.checkpoints.clone(),
        );
        r.register(
            "publish_deleted",
            "Superseded partial tiles and bundles deleted from the bucket",
            self.deleted.clone(),
        );
        r.register(
            "publish_timestamp_seconds",
            "Unix time the bucket's checkpoint was written",
            self.timestamp.clone(),
        );
        r.register(
            "publish_lag_seconds",
            "Time from signing a checkpoint to writing it to the bucket",
            self.lag_seconds.clone(),
        );
    }
}
