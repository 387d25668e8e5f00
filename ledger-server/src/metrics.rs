//! Prometheus metrics (`GET /metrics`, spec/api.md §5), in the OpenMetrics text
//! format.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A rejection's reason label.
type Reason = [(&'static str, &'static str); 1];
/// A witness request's labels: the witness's name and the outcome.
type WitnessOutcome = [(&'static str, String); 2];
/// A witness's name label.
type WitnessName = [(&'static str, String); 1];
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn witness_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Entries stored.
    pub tree_size: Gauge,
    /// Size of the latest published checkpoint.
    pub checkpoint_size: Gauge,
    /// Unix time (seconds) the latest checkpoint was signed.
    pub checkpoint_timestamp: Gauge<f64, AtomicU64>,
    /// Seconds since the latest checkpoint was signed (set on each scrape).
    pub checkpoint_age: Gauge<f64, AtomicU64>,
    /// Submissions queued and not yet answered (set on each scrape).
    pub queue_depth: Gauge,
    /// Queue entry to durable answer, per request.
    append_latency: Histogram,
    /// Submissions per sequencer batch.
    batch_size: Histogram,
    /// Time to process and commit one batch.
    batch_seconds: Histogram,
    /// Entries appended.
    appended: Counter,
    /// Checkpoints signed and persisted.
    pub checkpoints: Counter,
    /// Failed attempts to persist a checkpoint since the last success.
    pub checkpoint_failures: Gauge,
    /// 1 while the sequencer thread runs, 0 once it has stopped (set on each
    /// scrape).
    pub sequencer_up: Gauge,
    /// Rejected submissions and requests, by reason (the API error code).
    rejections: Family<Reason, Counter>,
    /// add-checkpoint exchanges, by witness and outcome (cosigned, failed, fork).
    witness_requests: Family<WitnessOutcome, Counter>,
    /// Time of one witness's exchange (both requests if it told its size).
    witness_seconds: HistogramFamily<WitnessName>,
    /// Checkpoints not published because the witness quorum was not met.
    pub witness_quorum_failures: Counter,
    /// Checkpoints published without the quorum, under `witness_fail_open`.
    pub unwitnessed_checkpoints: Counter,
    /// 1 if `witness_fail_open` is set (rollout only), else 0.
    pub witness_fail_open: Gauge,
    /// Publishing to a bucket (spec/checkpoints-and-tiles.md §9).
    pub publish: std::sync::Arc<crate::publish::PublishMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric under the `ledger_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ledger");
        let m = Metrics {
            tree_size: Gauge::default(),
            checkpoint_size: Gauge::default(),
            checkpoint_timestamp: Gauge::default(),
            checkpoint_age: Gauge::default(),
            queue_depth: Gauge::default(),
            append_latency: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            batch_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            appended: Counter::default(),
            checkpoints: Counter::default(),
            checkpoint_failures: Gauge::default(),
            sequencer_up: Gauge::default(),
            rejections: Family::default(),
            witness_requests: Family::default(),
            witness_seconds: Family::new_with_constructor(witness_latency_histogram),
            witness_quorum_failures: Counter::default(),
            unwitnessed_checkpoints: Counter::default(),
            witness_fail_open: Gauge::default(),
            publish: Default::default(),
            registry: Registry::default(),
        };
        registry.register("tree_size", "Entries stored", m.tree_size.clone());
        registry.register(
            "checkpoint_size",
            "Tree size of the latest published checkpoint",
            m.checkpoint_size.clone(),
        );
        registry.register(
            "checkpoint_timestamp_seconds",
            "Unix time the latest checkpoint was signed",
            m.checkpoint_timestamp.clone(),
        );
        registry.register(
            "checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            m.checkpoint_age.clone(),
        );
        registry.register(
            "queue_depth",
            "Submissions queued for the sequencer and not yet answered",
            m.queue_depth.clone(),
        );
        registry.register(
            "append_latency_seconds",
            "Time from queueing a request's submissions to their durable answer",
            m.append_latency.clone(),
        );
        registry.register(
            "batch_size",
            "Submissions per sequencer batch (one synced commit)",
            m.batch_size.clone(),
        );
        registry.register(
            "batch_seconds",
            "Time to verify, sequence and commit one batch",
            m.batch_seconds.clone(),
        );
        registry.register("appended", "Entries appended", m.appended.clone());
        registry.register(
            "checkpoints",
            "Checkpoints signed and persisted",
            m.checkpoints.clone(),
        );
        registry.register(
            "checkpoint_failures",
            "Failed attempts to persist a checkpoint since the last success (0 when healthy)",
            m.checkpoint_failures.clone(),
        );
        registry.register(
            "sequencer_up",
            "1 while the sequencer runs, 0 once it has stopped (appends are then refused)",
            m.sequencer_up.clone(),
        );
        registry.register(
            "rejections",
            "Rejected submissions and requests, by reason",
            m.rejections.clone(),
        );
        registry.register(
            "witness_requests",
            "add-checkpoint exchanges with witnesses, by witness and outcome (cosigned, failed, fork)",
            m.witness_requests.clone(),
        );
        registry.register(
            "witness_seconds",
            "Time of one add-checkpoint exchange, by witness",
            m.witness_seconds.clone(),
        );
        registry.register(
            "witness_quorum_failures",
            "Checkpoints not published because the witness quorum was not met",
            m.witness_quorum_failures.clone(),
        );
        registry.register(
            "unwitnessed_checkpoints",
            "Checkpoints published without the witness quorum (witness_fail_open)",
            m.unwitnessed_checkpoints.clone(),
        );
        registry.register(
            "witness_fail_open",
            "1 if checkpoints are published without the witness quorum (rollout only)",
            m.witness_fail_open.clone(),
        );
        m.publish.register(&mut registry);
        Metrics { registry, ..m }
    }

    /// Records one sequencer batch.
    pub fn observe_batch(&self, submissions: usize, appended: usize, took: Duration) {
        self.batch_size.observe(submissions as f64);
        self.batch_seconds.observe(took.as_secs_f64());
        self.appended.inc_by(appended as u64);
    }

    /// Records one request's time from queueing to its answer.
    pub fn observe_append_latency(&self, took: Duration) {
        self.append_latency.observe(took.as_secs_f64());
    }

    /// Records one add-checkpoint exchange with `witness`.
    pub fn observe_witness(&self, witness: &str, outcome: &str, took: Duration) {
        self.witness_requests
            .get_or_create(&[
                ("witness", witness.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
        self.witness_seconds
            .get_or_create(&[("witness", witness.to_owned())])
            .observe(took.as_secs_f64());
    }

    /// Counts a rejection.
    pub fn reject(&self, reason: &'static str) {
        self.rejections.get_or_create(&[("reason", reason)]).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric() {
        let m = Metrics::new();
        m.reject("bad_signature");
        m.observe_batch(10, 9, Duration::from_millis(3));
        let text = m.encode();
        for name in [
            "ledger_tree_size",
            "ledger_checkpoint_size",
            "ledger_checkpoint_age_seconds",
            "ledger_queue_depth",
            "ledger_append_latency_seconds_bucket",
            "ledger_batch_size_bucket",
            "ledger_appended_total 9",
            "ledger_rejections_total{reason=\"bad_signature\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
