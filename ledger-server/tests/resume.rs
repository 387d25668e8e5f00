//! Startup and reload in time independent of the log's size (issue #16 item 1,
//! spec/durability.md §3): the server resumes from its state snapshot and
//! verifies only the tail after it; an old entry damaged behind its back is
//! not read at startup nor by a reload after a failed write, and `fsck`'s full
//! check finds it; a snapshot that disagrees with the store is refused; the
//! submission ids stay unique across restarts and the snapshot boundary.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::Origin;
use ledger_core::entry::sign_statement;
use ledger_core::note::Ed25519Signer;
use ledger_core::statement::Statement;
use ledger_server::fsck::{FsckError, check};
use ledger_server::init::{genesis_statement, write_genesis};
use ledger_server::ledger::{LedgerDb, META_STATE, index_key};
use ledger_server::node::{Node, NodeConfig};
use ledger_server::sequencer::{AppendError, Appended, Submission};
use ledger_server::snapshot::Snapshot;
use ledger_server::store::{Batch, Cf, MemStore, Storage};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "resume.egov-ledger.example/log";

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::new(Origin::new(ORIGIN).unwrap().key_name(), key("log"))
}

fn config() -> NodeConfig {
    NodeConfig {
        checkpoint_interval: Duration::from_millis(5),
        ..NodeConfig::default()
    }
}

fn statement(agency: &str, sub: &str, kind: &str, object: &str) -> Vec<u8> {
    let channel = if agency == "registry" { "G2G" } else { "G2C" };
    format!(
        r#"{{"v":1,"origin":"{ORIGIN}","agency":"{agency}","submission_id":"{sub}","type":"{kind}","channel":"{channel}","occurred_at":"2026-11-28T08:00:00Z","object":{object}}}"#
    )
    .into_bytes()
}

fn decision(sub: &str, outcome: &str) -> Vec<u8> {
    statement(
        "city",
        sub,
        "decision.permit.granted",
        &format!(r#"{{"outcome":"{outcome}"}}"#),
    )
}

fn submission(k: &SigningKey, bytes: &[u8]) -> Submission {
    Submission {
        statement: Statement::parse(bytes).unwrap(),
        signature: sign_statement(k, bytes),
        payload: None,
        verified_by: None,
    }
}

async fn append(node: &Node, k: &SigningKey, bytes: &[u8]) -> Result<Appended, AppendError> {
    let rx = node
        .state
        .sequencer
        .submit(vec![submission(k, bytes)])
        .unwrap();
    rx.await.unwrap().remove(0)
}

/// A fresh store with genesis; started, agency `city` registered, then
/// decisions `d0..d{n}` appended in batches of 50.
async fn ledger(n: usize) -> (Arc<MemStore>, Node) {
    let store = Arc::new(MemStore::new());
    let origin = Origin::new(ORIGIN).unwrap();
    let authority = key("authority");
    let genesis = genesis_statement(
        &origin,
        &authority.verifying_key(),
        &signer().verifier().to_vkey(),
    );
    let sig = sign_statement(&authority, &genesis);
    write_genesis(
        store.clone(),
        &signer(),
        &origin,
        authority.verifying_key(),
        genesis,
        sig,
    )
    .unwrap();
    let node = Node::start_with(store.clone(), signer(), config()).unwrap();
    let register = statement(
        "registry",
        "reg-city",
        "registry.agency.register",
        &format!(
            r#"{{"agency":"city","name":"City","key":"{}"}}"#,
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                key("city").verifying_key().as_bytes()
            )
        ),
    );
    append(&node, &authority, &register).await.unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let subs = chunk
            .iter()
            .map(|i| submission(&key("city"), &decision(&format!("d{i}"), "granted")))
            .collect();
        let results = node.state.sequencer.submit(subs).unwrap().await.unwrap();
        assert!(results.iter().all(Result::is_ok));
    }
    (store, node)
}

async fn stop(node: Node) {
    node.shutdown(Duration::from_secs(5)).await;
}

fn start(store: &Arc<MemStore>) -> anyhow::Result<Node> {
    Node::start_with(store.clone(), signer(), config())
}

/// Changes the outcome in stored entry `index`'s statement (same length), as
/// a damaged disk would: its leaf hash and its signature no longer match.
fn damage_entry(store: &MemStore, index: u64) {
    let mut bytes = store.get(Cf::Entries, &index_key(index)).unwrap().unwrap();
    let at = bytes
        .windows(7)
        .position(|w| w == b"granted")
        .expect("a decision");
    bytes[at..at + 7].copy_from_slice(b"refused");
    let mut b = Batch::new();
    b.put(Cf::Entries, index_key(index), bytes);
    store.write(b).unwrap();
}

/// `fsck`'s full check of the store.
fn full_check(store: &Arc<MemStore>) -> Result<ledger_server::fsck::Checked, FsckError> {
    let db = LedgerDb::without_keys(store.clone());
    let origin = Origin::new(ORIGIN).unwrap();
    check(&db, &origin, &signer().verifier(), None, &mut |_| {})
}

fn snapshot(store: &MemStore) -> Snapshot {
    Snapshot::decode(&store.get(Cf::Meta, META_STATE).unwrap().unwrap()).unwrap()
}

fn put_snapshot(store: &MemStore, bytes: Vec<u8>) {
    let mut b = Batch::new();
    b.put(Cf::Meta, META_STATE, bytes);
    store.write(b).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn startup_does_not_read_old_entries_and_fsck_finds_them() {
    let (store, node) = ledger(300).await;
    stop(node).await;
    // A clean stop leaves a snapshot of the whole tree: nothing to replay.
    assert_eq!(snapshot(&store).size, 302);
    let sound = full_check(&store).unwrap();
    assert_eq!((sound.entries, sound.snapshot), (302, Some(302)));

    // Entry 5 (decision d3: neither the last entry nor a chain head) damaged.
    damage_entry(&store, 5);
    let node = start(&store).expect("startup does not replay the entries before the snapshot");
    assert_eq!(node.state.committed.borrow().size, 302);
    let next = append(&node, &key("city"), &decision("after", "granted"))
        .await
        .unwrap();
    assert_eq!(next.index, 302);
    stop(node).await;

    let Err(FsckError::Problem(m)) = full_check(&store) else {
        panic!("fsck missed the damaged entry");
    };
    assert!(
        m.contains("stored entry 6") || m.contains("stored entry 5"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_that_disagrees_with_the_store_is_refused() {
    let (store, node) = ledger(300).await;
    stop(node).await;
    let good = snapshot(&store);

    // Its tree edge: one hash of the level-0 partial tile.
    let mut edge = good.clone();
    edge.partial[0][0] ^= 1;
    put_snapshot(&store, edge.encode());
    let err = format!("{:#}", start(&store).err().expect("refused"));
    assert!(err.contains("state snapshot disagrees"), "{err}");

    // A size beyond the stored entries.
    let mut ahead = good.clone();
    ahead.size = 400;
    put_snapshot(&store, ahead.encode());
    let err = format!("{:#}", start(&store).err().expect("refused"));
    assert!(err.contains("only 302 entries are stored"), "{err}");

    // Bytes that are not a snapshot.
    put_snapshot(&store, b"\x01junk".to_vec());
    let err = format!("{:#}", start(&store).err().expect("refused"));
    assert!(err.contains("state snapshot"), "{err}");

    // The good one starts, and fsck agrees with it.
    put_snapshot(&store, good.encode());
    stop(start(&store).unwrap()).await;
    assert!(full_check(&store).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_tail_after_the_snapshot_refuses_startup() {
    let (store, node) = ledger(100).await;
    stop(node).await;
    let old = snapshot(&store);
    let node = start(&store).unwrap();
    for i in 0..20 {
        append(&node, &key("city"), &decision(&format!("t{i}"), "granted"))
            .await
            .unwrap();
    }
    stop(node).await;
    // As if the process had died before its next snapshot: entries 102..122
    // are the tail, and one of them is damaged.
    put_snapshot(&store, old.encode());
    damage_entry(&store, 110);
    let err = format!("{:#}", start(&store).err().expect("refused"));
    assert!(
        err.contains("entry 110") || err.contains("entry 111"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn submission_ids_stay_unique_after_restarts_and_across_the_snapshot() {
    let (store, node) = ledger(10).await;
    stop(node).await;
    let before = snapshot(&store);
    assert_eq!(before.size, 12);
    let node = start(&store).unwrap();
    let tail = append(&node, &key("city"), &decision("tail", "granted"))
        .await
        .unwrap();
    stop(node).await;
    // The older snapshot put back: "tail" is now after it, "d3" before it.
    put_snapshot(&store, before.encode());
    let node = start(&store).unwrap();
    for (sub, index) in [("d3", 5), ("tail", tail.index)] {
        let again = append(&node, &key("city"), &decision(sub, "granted"))
            .await
            .unwrap();
        assert_eq!((again.index, again.duplicate), (index, true), "{sub}");
        let other = append(&node, &key("city"), &decision(sub, "refused")).await;
        assert!(
            matches!(other, Err(AppendError::Conflict { index: i, .. }) if i == index),
            "{sub}: {other:?}"
        );
    }
    let fresh = append(&node, &key("city"), &decision("fresh", "granted"))
        .await
        .unwrap();
    assert_eq!((fresh.index, fresh.duplicate), (tail.index + 1, false));
    stop(node).await;
    assert!(full_check(&store).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_after_a_failed_write_does_not_replay_history() {
    let (store, node) = ledger(300).await;
    stop(node).await;
    let node = start(&store).unwrap();
    // Damaged behind the running server's back: a reload that replayed the
    // log would refuse it, and appends would stay refused.
    damage_entry(&store, 5);
    store.fail_writes(true);
    let failed = append(&node, &key("city"), &decision("x", "granted")).await;
    assert!(
        matches!(failed, Err(AppendError::Unavailable)),
        "{failed:?}"
    );
    store.fail_writes(false);
    let ok = append(&node, &key("city"), &decision("x", "granted"))
        .await
        .unwrap();
    assert_eq!((ok.index, ok.duplicate), (302, false));
    stop(node).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_without_a_snapshot_is_replayed_whole_once_and_gets_one() {
    let (store, node) = ledger(300).await;
    stop(node).await;
    let mut b = Batch::new();
    b.delete(Cf::Meta, META_STATE);
    store.write(b).unwrap();
    let before = store.snapshot();

    // Replayed whole: the damaged old entry is found, and startup refuses.
    damage_entry(&store, 5);
    let err = format!("{:#}", start(&store).err().expect("refused"));
    assert!(err.contains("stored entry 6"), "{err}");

    // Undamaged: it starts, and writes the snapshot the next start resumes from.
    store.restore(before);
    stop(start(&store).unwrap()).await;
    assert_eq!(snapshot(&store).size, 302);
    damage_entry(&store, 5);
    stop(start(&store).expect("resumed from the new snapshot")).await;
}
