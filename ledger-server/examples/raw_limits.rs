//! The raw limits the server's throughput is bounded by, measured on this machine
//! in the same run as the load test (BENCHMARKS.md): Ed25519 verification (strict
//! single, on one core and on all cores; batch, for comparison) and RocksDB synced
//! writes (1000-put WriteBatches, and single-put commits).
//!
//! `cargo run --release -p ledger-server --example raw_limits` prints one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rayon::prelude::*;

use ledger_server::store::{Batch, Cf, RocksStore, Storage};

fn rate(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

fn main() {
    let n = 20_000;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let vk: VerifyingKey = key.verifying_key();
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            format!(
                "egov-ledger/v1/statement\0{{\"n\":{i},\"pad\":\"{}\"}}",
                "x".repeat(300)
            )
            .into_bytes()
        })
        .collect();
    let sigs: Vec<Signature> = msgs.iter().map(|m| key.sign(m)).collect();

    let t = Instant::now();
    for (m, s) in msgs.iter().zip(&sigs) {
        vk.verify_strict(m, s).expect("valid");
    }
    let strict_1core = rate(n, t.elapsed());

    let t = Instant::now();
    msgs.par_iter()
        .zip(sigs.par_iter())
        .for_each(|(m, s)| vk.verify_strict(m, s).expect("valid"));
    let strict_all = rate(n, t.elapsed());

    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let keys = vec![vk; n];
    let t = Instant::now();
    for ((m, s), k) in refs.chunks(256).zip(sigs.chunks(256)).zip(keys.chunks(256)) {
        ed25519_dalek::verify_batch(m, s, k).expect("valid");
    }
    let batch_1core = rate(n, t.elapsed());

    // RocksDB: synced WriteBatches of 1000 puts shaped like entries (8-byte keys,
    // ~450-byte values) plus index records.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(RocksStore::open(dir.path()).expect("open"));
    let batches = 200;
    let value = vec![0xabu8; 450];
    let t = Instant::now();
    let mut i = 0u64;
    for _ in 0..batches {
        let mut b = Batch::new();
        for _ in 0..1000 {
            b.put(Cf::Entries, i.to_be_bytes(), value.clone());
            i += 1;
        }
        store.write(b).expect("write");
    }
    let rocks_puts = rate(batches * 1000, t.elapsed());
    let t = Instant::now();
    for j in 0..200u64 {
        let mut b = Batch::new();
        b.put(Cf::Meta, b"x".to_vec(), j.to_be_bytes());
        store.write(b).expect("write");
    }
    let rocks_syncs = rate(200, t.elapsed());

    println!(
        "{}",
        serde_json::json!({
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "ed25519_strict_verify_per_s_1core": strict_1core.round(),
            "ed25519_strict_verify_per_s_all_cores": strict_all.round(),
            "ed25519_batch_verify_per_s_1core": batch_1core.round(),
            "rocksdb_synced_1000put_batches_puts_per_s": rocks_puts.round(),
            "rocksdb_synced_commits_per_s": rocks_syncs.round(),
        })
    );
}
