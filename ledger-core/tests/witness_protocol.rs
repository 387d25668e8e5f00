//! The witness protocol (c2sp.org/tlog-witness; spec/witness.md): the
//! `add-checkpoint` body, the `409` size body, and the witness's decision for
//! every row of the spec's status matrix after the log signature verified.

use ledger_core::TreeSize;
use ledger_core::checkpoint::{Checkpoint, Origin};
use ledger_core::hash::Hash;
use ledger_core::tree::{MemoryTree, tree_hash};
use ledger_core::witness::{
    AddCheckpointRequest, MAX_PROOF_LINES, MAX_REQUEST_BYTES, Refusal, check_add, encode_size,
    monitoring_path, parse_size, proof_lines,
};

const NOTE: &[u8] = b"example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 example.com/log AAAA\n";

fn tree(n: u8, salt: u8) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(&[salt, i]);
    }
    t
}

fn cp(t: &MemoryTree, size: u64) -> Checkpoint {
    Checkpoint::new(
        Origin::new("example.com/log").unwrap(),
        TreeSize(size),
        tree_hash(TreeSize(size), t).unwrap(),
    )
}

fn request(t: &MemoryTree, old: u64, new: u64) -> AddCheckpointRequest {
    AddCheckpointRequest {
        old_size: old,
        proof: proof_lines(old, new, t).unwrap(),
        checkpoint: NOTE.to_vec(),
    }
}

#[test]
fn the_request_body_round_trips_and_is_parsed_strictly() {
    let t = tree(20, 0);
    let r = request(&t, 7, 20);
    let body = r.encode();
    assert!(body.starts_with(b"old 7\n"));
    assert_eq!(AddCheckpointRequest::parse(&body).unwrap(), r);
    let empty = AddCheckpointRequest::parse(b"old 0\n\nnote\n").unwrap();
    assert_eq!((empty.old_size, empty.proof.len()), (0, 0));

    let h = Hash::empty_tree().to_base64();
    let too_many = format!(
        "old 1\n{}\nnote\n",
        format!("{h}\n").repeat(MAX_PROOF_LINES + 1)
    );
    for bad in [
        &b""[..],
        b"old 01\n\nnote\n",
        b"old -1\n\nnote\n",
        b"old  1\n\nnote\n",
        b"old 1 \n\nnote\n",
        b"Old 1\n\nnote\n",
        b"old 1\r\n\nnote\n",
        b"old 1\n\n",
        b"old 1\nnot base64\n\nnote\n",
        b"old 1\nAAAA\n\nnote\n",
        b"old 1\nnote\n",
        b"old 18446744073709551616\n\nnote\n",
        too_many.as_bytes(),
    ] {
        assert!(
            AddCheckpointRequest::parse(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let exactly = format!(
        "old 1\n{}\nnote\n",
        format!("{h}\n").repeat(MAX_PROOF_LINES)
    );
    assert_eq!(
        AddCheckpointRequest::parse(exactly.as_bytes())
            .unwrap()
            .proof
            .len(),
        MAX_PROOF_LINES
    );
    let huge = vec![b'a'; MAX_REQUEST_BYTES + 1];
    assert!(AddCheckpointRequest::parse(&huge).is_err());
}

#[test]
fn the_size_body_is_a_canonical_decimal_and_a_newline() {
    assert_eq!(encode_size(50), "50\n");
    assert_eq!(parse_size(b"50\n").unwrap(), 50);
    assert_eq!(parse_size(b"0\n").unwrap(), 0);
    for bad in [&b"50"[..], b"050\n", b"\n", b"5 0\n", b"50\n\n", b"-1\n"] {
        assert!(parse_size(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_status_matrix_after_the_log_signature_verified() {
    let t = tree(20, 0);
    let at = |n| cp(&t, n);
    // First contact: old 0 and no proof, for any size; a size-0 checkpoint must
    // carry the empty tree's root.
    check_add(None, &request(&t, 0, 20), &at(20)).unwrap();
    check_add(None, &request(&t, 0, 0), &at(0)).unwrap();
    let mut bad_empty = at(0);
    bad_empty.root = at(5).root;
    let e = check_add(None, &request(&t, 0, 0), &bad_empty).unwrap_err();
    assert_eq!((e.status(), e), (422, Refusal::EmptyTreeRoot));
    // Growth with a proof.
    check_add(Some(&at(7)), &request(&t, 7, 20), &at(20)).unwrap();
    // The same checkpoint again.
    check_add(Some(&at(20)), &request(&t, 20, 20), &at(20)).unwrap();
    // 400: old larger than the checkpoint.
    let e = check_add(Some(&at(20)), &request(&t, 20, 20), &at(10)).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    // 409 with the size: old is not the latest cosigned size (or none yet).
    let e = check_add(Some(&at(10)), &request(&t, 7, 20), &at(20)).unwrap_err();
    assert_eq!(
        (e.status(), e.clone()),
        (409, Refusal::StaleOldSize { old: 7, latest: 10 })
    );
    let e = check_add(None, &request(&t, 7, 20), &at(20)).unwrap_err();
    assert_eq!(e, Refusal::StaleOldSize { old: 7, latest: 0 });
    assert!(!e.is_inconsistency());
    // 422: a proof that does not verify, or of the wrong length; a proof from 0.
    let mut r = request(&t, 7, 20);
    r.proof[0] = Hash::empty_tree();
    let e = check_add(Some(&at(7)), &r, &at(20)).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    assert!(e.is_inconsistency());
    let mut r = request(&t, 7, 20);
    r.proof.pop();
    assert_eq!(
        check_add(Some(&at(7)), &r, &at(20)).unwrap_err().status(),
        422
    );
    let mut r = request(&t, 0, 20);
    r.proof.push(Hash::empty_tree());
    assert_eq!(check_add(None, &r, &at(20)).unwrap_err().status(), 422);

    // A fork: another tree of the same log, sharing the first 7 leaves at most.
    let other = tree(20, 1);
    let forked = cp(&other, 20);
    // Same size, another root: 409 without a size (a fork, kept as evidence).
    let e = check_add(Some(&at(20)), &request(&t, 20, 20), &forked).unwrap_err();
    assert_eq!(e.status(), 409);
    assert!(matches!(e, Refusal::RootMismatch { size: 20, .. }));
    assert!(e.is_inconsistency());
    // Larger: the forked tree's proof does not lead from the cosigned root.
    let e = check_add(Some(&at(7)), &request(&other, 7, 20), &forked).unwrap_err();
    assert_eq!(e.status(), 422);
}

#[test]
fn the_monitoring_path_is_the_hex_sha256_of_the_origin() {
    // sha256("example.com/log"), computed independently.
    use sha2::Digest as _;
    let want = hex::encode(sha2::Sha256::digest(b"example.com/log"));
    assert_eq!(
        monitoring_path("example.com/log"),
        format!("{want}/checkpoint")
    );
    assert_eq!(want.len(), 64);
}
