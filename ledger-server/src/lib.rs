//! The e-government audit ledger server: a durable, signed, tiled ledger over
//! HTTP on RocksDB (DESIGN.md §5; the API is spec/api.md).
//!
//! - [`store`]: the storage trait, RocksDB and in-memory implementations.
//! - [`ledger`]: key layout, typed reads, the startup check.
//! - [`sequencer`]: the one writer: batches, signatures, rules, one synced commit.
//! - [`checkpointer`]: signs, persists, then publishes checkpoints.
//! - [`witnessing`]: asks the policy's witnesses to cosign before publishing.
//! - [`publish`]: publishes checkpoints, tiles and bundles to an S3 bucket.
//! - [`api`]: the HTTP routes.
//! - [`listener`]: the accept loop and its connection limits.
//! - [`node`], [`init`], [`demo`], [`config`]: assembling and running it.

pub mod api;
pub mod checkpointer;
pub mod config;
pub mod cpfile;
pub mod demo;
pub mod demo_witnesses;
pub mod fsck;
pub mod init;
pub mod ledger;
pub mod listener;
pub mod metrics;
pub mod node;
pub mod publish;
pub mod sealed;
pub mod sequencer;
pub mod snapshot;
pub mod startup;
pub mod store;
pub mod witnessing;
