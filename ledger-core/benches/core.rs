//! Benchmarks for ledger-core's hot paths. Run with:
//!
//! ```text
//! cargo bench --release -p ledger-core --bench core
//! ```
//!
//! Every group reports elements per second, so the ratio to `sha256/65B` (the
//! raw hash rate, the limit for tree appends) can be read off one run.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::{Checkpoint, Origin, open_checkpoint, sign_checkpoint};
use ledger_core::hash::{Hash, leaf_hash};
use ledger_core::note::Ed25519Signer;
use ledger_core::proof::{prove_consistency, prove_inclusion};
use ledger_core::tree::MemoryTree;
use ledger_core::{LeafIndex, TreeSize};
use sha2::{Digest, Sha256};

const N: u64 = 1 << 16;

fn tree_of(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(&i.to_be_bytes());
    }
    t
}

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha256");
    g.throughput(Throughput::Elements(1));
    let input = [0x5au8; 65];
    g.bench_function("65B", |b| b.iter(|| Sha256::digest(black_box(&input))));
    g.finish();

    let mut g = c.benchmark_group("tree_append");
    g.throughput(Throughput::Elements(N));
    let leaves: Vec<Hash> = (0..N).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    g.bench_function("leaf_hash_x65536", |b| {
        b.iter_batched(
            MemoryTree::new,
            |mut t| {
                for l in &leaves {
                    t.append_leaf_hash(*l);
                }
                t
            },
            BatchSize::LargeInput,
        )
    });
    let entries: Vec<[u8; 64]> = (0..N)
        .map(|i| {
            let mut e = [0u8; 64];
            e[..8].copy_from_slice(&i.to_be_bytes());
            e
        })
        .collect();
    g.bench_function("entry_64B_x65536", |b| {
        b.iter_batched(
            MemoryTree::new,
            |mut t| {
                for e in &entries {
                    t.append(e);
                }
                t
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let t = tree_of(N);
    let size = TreeSize(N - 3);
    let root = t.root_at(size).unwrap();
    let old = TreeSize(N / 3 + 7);
    let old_root = t.root_at(old).unwrap();
    let mut g = c.benchmark_group("proof");
    g.throughput(Throughput::Elements(1));
    let idx = LeafIndex(12_345);
    let leaf = t.leaf(idx).unwrap();
    g.bench_function("inclusion_prove", |b| {
        b.iter(|| prove_inclusion(black_box(idx), size, &t).unwrap())
    });
    let p = prove_inclusion(idx, size, &t).unwrap();
    g.bench_function("inclusion_verify", |b| {
        b.iter(|| p.verify(black_box(&leaf), &root).unwrap())
    });
    g.bench_function("consistency_prove", |b| {
        b.iter(|| prove_consistency(black_box(old), size, &t).unwrap())
    });
    let cp = prove_consistency(old, size, &t).unwrap();
    g.bench_function("consistency_verify", |b| {
        b.iter(|| cp.verify(black_box(&old_root), &root).unwrap())
    });
    g.finish();
}

fn notes(c: &mut Criterion) {
    let origin = Origin::new("bench.example/log").unwrap();
    let signer = Ed25519Signer::new(origin.key_name(), SigningKey::from_bytes(&[7; 32]));
    let verifier = signer.verifier();
    let cp = Checkpoint {
        origin: origin.clone(),
        size: TreeSize(123_456_789),
        root: leaf_hash(b"root"),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &signer);
    let mut g = c.benchmark_group("note");
    g.throughput(Throughput::Elements(1));
    g.bench_function("open_checkpoint", |b| {
        b.iter(|| open_checkpoint(black_box(&note), &origin, &verifier, &[]).unwrap())
    });
    g.bench_function("sign_checkpoint", |b| {
        b.iter(|| sign_checkpoint(black_box(&cp), &signer))
    });
    g.finish();
}

criterion_group!(benches, hashing, proofs, notes);
criterion_main!(benches);
