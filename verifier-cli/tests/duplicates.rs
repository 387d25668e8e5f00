//! `ledger-verify replay` finds a reused submission id with its duplicate pass
//! spilled to disk (issue #16 item 2; spec/registry.md §4.1): a log whose
//! operator sequenced the same agency and submission id twice, 600 entries
//! apart, replayed with 64 records in memory, fails naming both entries.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ledger_core::LeafIndex;
use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
use ledger_core::entry::sign_statement;
use ledger_core::note::Ed25519Signer;
use ledger_core::registry::{Registry, SubmissionIds, SubmissionIdsError, TrustAnchors};
use ledger_core::statement::AgencyId;
use ledger_core::tile::{TileBuilder, encode_entry_bundle};
use serde_json::Value;

const ORIGIN: &str = "dup.egov-ledger.example/log";

/// A dishonest sequencer's memory: it never remembers a submission id.
#[derive(Clone, Debug)]
struct Forgetful;

impl SubmissionIds for Forgetful {
    fn used_at(&self, _: &AgencyId, _: &str) -> Result<Option<LeafIndex>, SubmissionIdsError> {
        Ok(None)
    }
    fn record(&mut self, _: &AgencyId, _: &str, _: LeafIndex) -> Result<(), SubmissionIdsError> {
        Ok(())
    }
    fn clone_box(&self) -> Box<dyn SubmissionIds> {
        Box::new(Forgetful)
    }
}

fn statement(agency: &str, sub: &str, kind: &str, object: &str) -> Vec<u8> {
    let channel = if agency == "registry" { "G2G" } else { "G2C" };
    format!(
        r#"{{"v":1,"origin":"{ORIGIN}","agency":"{agency}","submission_id":"{sub}","type":"{kind}","channel":"{channel}","occurred_at":"2026-11-28T08:00:00Z","object":{object}}}"#
    )
    .into_bytes()
}

/// Writes the log's tiles, bundles and signed checkpoint under `dir`.
fn write_log(dir: &Path, entries: &[Vec<u8>], log: &Ed25519Signer) {
    let mut builder = TileBuilder::new();
    let mut tiles = Vec::new();
    for e in entries {
        builder.append(ledger_core::hash::leaf_hash(e));
        tiles.extend(builder.take_completed());
    }
    tiles.extend(builder.partial_tiles());
    for (t, d) in &tiles {
        let path = dir.join(t.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, d).unwrap();
        if let Some(b) = t.entry_bundle() {
            let first = (b.index() * 256) as usize;
            let bundle = encode_entry_bundle(&entries[first..first + usize::from(b.width())]);
            let path = dir.join(b.path());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bundle.unwrap()).unwrap();
        }
    }
    let origin = Origin::new(ORIGIN).unwrap();
    let cp = Checkpoint::new(origin, builder.size(), builder.root());
    std::fs::write(dir.join("checkpoint"), sign_checkpoint(&cp, log)).unwrap();
}

#[test]
fn a_reused_submission_id_is_found_past_the_memory_bound() {
    let log = Ed25519Signer::new(
        Origin::new(ORIGIN).unwrap().key_name(),
        SigningKey::from_bytes(&[7; 32]),
    );
    let authority = SigningKey::from_bytes(&[8; 32]);
    let city = SigningKey::from_bytes(&[9; 32]);
    let mut registry = Registry::new(ORIGIN, TrustAnchors::default());
    registry.set_submission_ids(Box::new(Forgetful));
    let mut entries = Vec::new();
    let mut time = 1_795_852_800_000u64;
    let mut add = |signer: &SigningKey, st: Vec<u8>| {
        time += 1;
        let a = registry
            .sequence(&st, &sign_statement(signer, &st), time)
            .unwrap();
        entries.push(a.entry.encode().unwrap());
    };
    let genesis = format!(
        r#"{{"authority_key":"{}","log_vkey":"{}"}}"#,
        STANDARD.encode(authority.verifying_key().as_bytes()),
        log.verifier().to_vkey()
    );
    add(
        &authority,
        statement("registry", "genesis", "registry.genesis", &genesis),
    );
    let register = format!(
        r#"{{"agency":"city","name":"City","key":"{}"}}"#,
        STANDARD.encode(city.verifying_key().as_bytes())
    );
    add(
        &authority,
        statement(
            "registry",
            "reg-city",
            "registry.agency.register",
            &register,
        ),
    );
    for i in 0..700 {
        // Entry 652 reuses the id of entry 52 ("d50").
        let sub = if i == 650 {
            "d50".to_owned()
        } else {
            format!("d{i}")
        };
        add(
            &city,
            statement(
                "city",
                &sub,
                "decision.permit.granted",
                &format!(r#"{{"n":{i}}}"#),
            ),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &entries, &log);

    let replay = |records: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_ledger-verify"))
            .env("LEDGER_VERIFY_DEDUP_RECORDS", records)
            .args(["--json", "replay", "--log"])
            .arg(dir.path())
            .args(["--vkey", &log.verifier().to_vkey(), "--authority-key"])
            .arg(STANDARD.encode(authority.verifying_key().as_bytes()))
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap(), v)
    };
    for records in ["64", "1000000"] {
        let (code, v) = replay(records);
        assert_eq!(code, 1, "{records}: {v}");
        let problem = v["problem"].as_str().unwrap();
        assert!(
            problem.contains("entry 652") && problem.contains("entry 52"),
            "{records}: {problem}"
        );
    }
}
