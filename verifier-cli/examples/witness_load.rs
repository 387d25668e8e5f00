//! Load for the witness benchmark (scripts/bench-witness, BENCHMARKS.md):
//! `witness_load vkeys LOGS` prints the verifier keys of LOGS test logs (one per
//! line) for `ledger-verify witness serve --log-list`; `witness_load run URL LOGS
//! STEPS` prepares, for each log, STEPS growing checkpoints with their
//! consistency proofs, then sends them (one client thread per log, each waiting
//! for its answer) and prints the add-checkpoint rate and latencies as JSON.
//! Every answer must be 200. Loopback only.

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use ledger_core::TreeSize;
use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
use ledger_core::note::{Ed25519Signer, KeyName};
use ledger_core::tree::{MemoryTree, tree_hash};
use ledger_core::witness::{AddCheckpointRequest, proof_lines};

fn log(i: u32) -> Ed25519Signer {
    let origin = format!("bench-{i}.example.gov/log");
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    Ed25519Signer::new(
        KeyName::new(&origin).unwrap(),
        SigningKey::from_bytes(&seed),
    )
}

fn bodies(i: u32, steps: u64) -> Vec<Vec<u8>> {
    let signer = log(i);
    let origin = Origin::new(signer.name().as_str()).unwrap();
    let mut tree = MemoryTree::new();
    for n in 0..steps * 3 {
        tree.append(&n.to_be_bytes());
    }
    let mut out = Vec::new();
    let mut old = 0u64;
    for step in 1..=steps {
        let size = step * 3;
        let cp = Checkpoint::new(
            origin.clone(),
            TreeSize(size),
            tree_hash(TreeSize(size), &tree).unwrap(),
        );
        let proof = proof_lines(old, size, &tree).unwrap();
        out.push(
            AddCheckpointRequest {
                old_size: old,
                proof,
                checkpoint: sign_checkpoint(&cp, &signer),
            }
            .encode(),
        );
        old = size;
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("vkeys") => {
            let logs: u32 = args[2].parse().unwrap();
            for i in 0..logs {
                println!("{}", log(i).verifier().to_vkey());
            }
        }
        Some("run") => {
            let (url, logs, steps): (String, u32, u64) = (
                args[2].clone(),
                args[3].parse().unwrap(),
                args[4].parse().unwrap(),
            );
            let prepared: Vec<Vec<Vec<u8>>> = (0..logs).map(|i| bodies(i, steps)).collect();
            let started = Instant::now();
            let threads: Vec<_> = prepared
                .into_iter()
                .map(|bodies| {
                    let url = url.clone();
                    std::thread::spawn(move || {
                        let client = reqwest::blocking::Client::new();
                        let mut took = Vec::with_capacity(bodies.len());
                        for b in bodies {
                            let t = Instant::now();
                            let r = client
                                .post(format!("{url}/add-checkpoint"))
                                .body(b)
                                .send()
                                .unwrap();
                            assert_eq!(
                                r.status().as_u16(),
                                200,
                                "{}",
                                r.text().unwrap_or_default()
                            );
                            let _ = r.bytes();
                            took.push(t.elapsed());
                        }
                        took
                    })
                })
                .collect();
            let mut all: Vec<Duration> = threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            let elapsed = started.elapsed().as_secs_f64();
            all.sort();
            println!(
                "{}",
                serde_json::json!({
                    "requests": all.len(),
                    "seconds": elapsed,
                    "per_second": all.len() as f64 / elapsed,
                    "latency_ms_p50": percentile(&all, 0.5),
                    "latency_ms_p99": percentile(&all, 0.99),
                })
            );
        }
        _ => {
            eprintln!("usage: witness_load vkeys LOGS | witness_load run URL LOGS STEPS");
            std::process::exit(2);
        }
    }
}
