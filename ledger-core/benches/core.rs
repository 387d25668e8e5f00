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

    // The same raw hashing in the shape of the tree benchmarks: N distinct 65-byte
    // inputs, each hashed once, results stored.
    let mut g = c.benchmark_group("sha256_bulk");
    g.throughput(Throughput::Elements(N));
    let inputs: Vec<[u8; 65]> = (0..N)
        .map(|i| {
            let mut b = [1u8; 65];
            b[1..9].copy_from_slice(&i.to_be_bytes());
            b
        })
        .collect();
    g.bench_function("65B_x65536", |b| {
        b.iter_batched(
            || Vec::with_capacity(N as usize),
            |mut out: Vec<[u8; 32]>| {
                for i in &inputs {
                    out.push(Sha256::digest(i).into());
                }
                out
            },
            BatchSize::LargeInput,
        )
    });
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

/// A ledger of `n` agency decisions (after genesis and one registration), as
/// encoded envelopes, built with the registry rules.
fn example_entries(n: usize) -> (Vec<Vec<u8>>, String) {
    use base64::Engine as _;
    use ledger_core::entry::sign_statement;
    use ledger_core::registry::{Registry, TrustAnchors};
    let origin = "bench.example/log";
    let authority = SigningKey::from_bytes(&[1; 32]);
    let agency = SigningKey::from_bytes(&[2; 32]);
    let log = Ed25519Signer::new(
        Origin::new(origin).unwrap().key_name(),
        SigningKey::from_bytes(&[3; 32]),
    );
    let b64 = |k: &SigningKey| {
        base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes())
    };
    let mut reg = Registry::new(origin, TrustAnchors::default());
    let mut out = vec![];
    let mut push = |reg: &mut Registry, key: &SigningKey, s: String, t: u64| {
        let applied = reg
            .sequence(s.as_bytes(), &sign_statement(key, s.as_bytes()), t)
            .unwrap();
        out.push(applied.entry.encode().unwrap());
    };
    let head = |agency: &str, sub: &str, kind: &str, ch: &str| {
        format!(
            r#"{{"v":1,"origin":"{origin}","agency":"{agency}","submission_id":"{sub}","type":"{kind}","channel":"{ch}","occurred_at":"2026-11-28T08:00:00Z","#
        )
    };
    push(
        &mut reg,
        &authority,
        format!(
            r#"{}"object":{{"authority_key":"{}","log_vkey":"{}"}}}}"#,
            head("registry", "g", "registry.genesis", "G2G"),
            b64(&authority),
            log.verifier().to_vkey()
        ),
        1,
    );
    push(
        &mut reg,
        &authority,
        format!(
            r#"{}"object":{{"agency":"city","name":"City","key":"{}"}}}}"#,
            head("registry", "r", "registry.agency.register", "G2G"),
            b64(&agency)
        ),
        2,
    );
    for i in 0..n {
        let s = format!(
            r#"{}"subject":"PERMIT/2026/{i:06}","object":{{"permit":"street food stall","outcome":"granted","legal_basis":"Perda 12/2024 art. 7","fee_idr":150000}},"payload_commitment":"4835deeeb28bb0636a38d519059f00fcc06464995f7929269be5d2ad60b29f19"}}"#,
            head(
                "city",
                &format!("2026/{i}"),
                "decision.permit.granted",
                "G2B"
            )
        );
        push(&mut reg, &agency, s, 3 + i as u64);
    }
    (out, origin.to_owned())
}

/// The three parallel slices `ed25519_dalek::verify_batch` takes.
fn batch_inputs(
    chunk: &[ledger_core::registry::PendingSignature],
) -> (
    Vec<&[u8]>,
    Vec<ed25519_dalek::Signature>,
    Vec<ed25519_dalek::VerifyingKey>,
) {
    (
        chunk.iter().map(|p| p.message.as_slice()).collect(),
        chunk
            .iter()
            .map(|p| ed25519_dalek::Signature::from_bytes(&p.signature))
            .collect(),
        chunk.iter().map(|p| p.key).collect(),
    )
}

fn replay(c: &mut Criterion) {
    use ledger_core::registry::{Registry, TrustAnchors};
    const ENTRIES: usize = 10_000;
    let (entries, origin) = example_entries(ENTRIES);
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.sample_size(10);
    // Registry rules only (decode, parse, chain and key checks), signatures deferred.
    g.bench_function("rules_only_x10002", |b| {
        b.iter(|| {
            let mut reg = Registry::new(&origin, TrustAnchors::default());
            for e in &entries {
                black_box(reg.apply_deferred(e).unwrap());
            }
        })
    });
    // Registry rules plus batch signature verification, single thread.
    g.bench_function("rules_and_batch_signatures_x10002", |b| {
        b.iter(|| {
            let mut reg = Registry::new(&origin, TrustAnchors::default());
            let mut tree = MemoryTree::new();
            let mut pending = Vec::with_capacity(entries.len());
            for e in &entries {
                tree.append(e);
                pending.push(reg.apply_deferred(e).unwrap().1);
            }
            for chunk in pending.chunks(256) {
                let (msgs, sigs, keys) = batch_inputs(chunk);
                ed25519_dalek::verify_batch(&msgs, &sigs, &keys).unwrap();
            }
            black_box(tree.root())
        })
    });
    g.finish();

    // The raw Ed25519 limits on the same messages, one thread.
    let mut reg = Registry::new(&origin, TrustAnchors::default());
    let pending: Vec<_> = entries
        .iter()
        .map(|e| reg.apply_deferred(e).unwrap().1)
        .collect();
    let mut g = c.benchmark_group("ed25519");
    g.throughput(Throughput::Elements(256));
    let chunk = &pending[2..258];
    let (msgs, sigs, keys) = batch_inputs(chunk);
    g.bench_function("verify_batch_256", |b| {
        b.iter(|| ed25519_dalek::verify_batch(black_box(&msgs), &sigs, &keys).unwrap())
    });
    g.bench_function("verify_strict_x256", |b| {
        b.iter(|| {
            for p in chunk {
                p.verify().unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, hashing, proofs, notes, replay);
criterion_main!(benches);
