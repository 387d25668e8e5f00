//! A small, deterministic example ledger built only with ledger-core: the
//! spec's worked examples and the receipt tests come from it.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ledger_core::checkpoint::{Checkpoint, Origin, sign_checkpoint};
use ledger_core::entry::sign_statement;
use ledger_core::note::Ed25519Signer;
use ledger_core::proof::prove_inclusion;
use ledger_core::receipt::Receipt;
use ledger_core::registry::{Applied, Registry, TrustAnchors};
use ledger_core::statement::{PayloadCommitment, SALT_BYTES};
use ledger_core::tree::MemoryTree;
use ledger_core::{LeafIndex, TreeSize};
use sha2::{Digest, Sha256};

pub const ORIGIN: &str = "ledger.example.gov/egov";

/// A key derived from a label, so that examples are reproducible.
pub fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("egov-ledger example key: {label}")).into())
}

pub fn b64_key(k: &SigningKey) -> String {
    STANDARD.encode(k.verifying_key().as_bytes())
}

pub struct ExampleLedger {
    pub origin: Origin,
    pub log: Ed25519Signer,
    pub authority: SigningKey,
    pub registry: Registry,
    pub tree: MemoryTree,
    /// Every entry envelope, by index.
    pub entries: Vec<Vec<u8>>,
    pub statements: Vec<Vec<u8>>,
    pub time_ms: u64,
}

impl ExampleLedger {
    /// Genesis, then the agencies `city-licensing` and `finance-ministry`.
    pub fn new() -> ExampleLedger {
        let origin = Origin::new(ORIGIN).unwrap();
        let log = Ed25519Signer::new(origin.key_name(), key("log"));
        let authority = key("registry authority");
        let anchors = TrustAnchors {
            authority_key: Some(authority.verifying_key()),
            log_vkey: Some(log.verifier().to_vkey()),
        };
        let mut l = ExampleLedger {
            registry: Registry::new(ORIGIN, anchors),
            origin,
            log,
            authority,
            tree: MemoryTree::new(),
            entries: vec![],
            statements: vec![],
            time_ms: 1_795_852_800_000,
        };
        let genesis = l.genesis_statement();
        l.append(&l.authority.clone(), &genesis);
        for (agency, name) in [
            ("city-licensing", "City Licensing Office"),
            ("finance-ministry", "Ministry of Finance"),
        ] {
            let s = l.register_statement(agency, name);
            l.append(&l.authority.clone(), &s);
        }
        l
    }

    pub fn genesis_statement(&self) -> Vec<u8> {
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"registry","submission_id":"genesis","type":"registry.genesis","channel":"G2G","occurred_at":"2026-11-28T07:59:00Z","object":{{"authority_key":"{}","log_vkey":"{}"}}}}"#,
            b64_key(&self.authority),
            self.log.verifier().to_vkey()
        )
        .into_bytes()
    }

    pub fn register_statement(&self, agency: &str, name: &str) -> Vec<u8> {
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"registry","submission_id":"register/{agency}","type":"registry.agency.register","channel":"G2G","occurred_at":"2026-11-28T07:59:00Z","object":{{"agency":"{agency}","name":"{name}","key":"{}"}}}}"#,
            b64_key(&key(agency))
        )
        .into_bytes()
    }

    /// The salt and payload of the example permit's private data.
    pub fn permit_payload() -> ([u8; SALT_BYTES], Vec<u8>) {
        let salt: [u8; SALT_BYTES] = Sha256::digest(b"example salt").into();
        (
            salt,
            br#"{"applicant_nik":"3171234567890001","applicant_name":"Siti Rahma"}"#.to_vec(),
        )
    }

    pub fn permit_statement(submission: &str) -> Vec<u8> {
        let (salt, payload) = Self::permit_payload();
        let c = PayloadCommitment::compute(&salt, &payload);
        format!(
            r#"{{"v":1,"origin":"{ORIGIN}","agency":"city-licensing","submission_id":"{submission}","type":"decision.permit.granted","channel":"G2B","occurred_at":"2026-11-28T07:45:00Z","subject":"PERMIT/2026/0042","object":{{"permit":"street food stall","outcome":"granted","legal_basis":"Perda 12/2024 art. 7","fee_idr":150000}},"payload_commitment":"{}"}}"#,
            c.to_hex()
        )
        .into_bytes()
    }

    /// Signs and appends a statement, returning what the registry applied.
    pub fn append(&mut self, signer: &SigningKey, statement: &[u8]) -> Applied {
        self.time_ms += 1_250;
        let sig = sign_statement(signer, statement);
        let applied = self
            .registry
            .sequence(statement, &sig, self.time_ms)
            .unwrap();
        let bytes = applied.entry.encode().unwrap();
        self.tree.append(&bytes);
        self.entries.push(bytes);
        self.statements.push(statement.to_vec());
        applied
    }

    pub fn checkpoint(&self) -> Vec<u8> {
        let cp = Checkpoint::new(self.origin.clone(), self.tree.size(), self.tree.root());
        sign_checkpoint(&cp, &self.log)
    }

    pub fn receipt(&self, index: u64) -> Receipt {
        let proof = prove_inclusion(LeafIndex(index), self.tree.size(), &self.tree).unwrap();
        Receipt::new(
            self.entries[index as usize].clone(),
            LeafIndex(index),
            proof.path,
            self.checkpoint(),
        )
    }

    pub fn size(&self) -> TreeSize {
        self.tree.size()
    }
}
