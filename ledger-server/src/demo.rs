//! `ledger-server demo`: a ready-to-try ledger for a newcomer. It creates (or
//! reuses) a data directory with a development registry authority, registers three
//! agencies, appends sample G2G, G2C and G2B records, and prints what to try.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ledger_core::entry::sign_statement;
use ledger_core::statement::{PayloadCommitment, SALT_BYTES, Statement};
use serde_json::json;

use crate::demo_witnesses::DemoWitnesses;
use crate::init::{Authority, InitOutcome, init, now_rfc3339, read_secret_key, write_secret};
use crate::node::{Node, db_dir};
use crate::sequencer::Submission;

/// The demo ledger's origin.
pub const DEMO_ORIGIN: &str = "demo.egov-ledger.example/log";

/// The demo's agencies: id, name.
pub const DEMO_AGENCIES: [(&str, &str); 3] = [
    ("finance-ministry", "Ministry of Finance"),
    ("city-licensing", "City Licensing Office"),
    ("procurement-agency", "National Public Procurement Agency"),
];

/// Creates the demo data directory if needed.
///
/// # Errors
/// If `init` fails.
pub fn prepare(data: &Path) -> Result<()> {
    if db_dir(data).exists() {
        println!("Reusing the demo ledger in {}", data.display());
        return Ok(());
    }
    match init(data, DEMO_ORIGIN, Authority::Dev)? {
        InitOutcome::Created { .. } => {
            println!("Created a demo ledger in {}", data.display());
            Ok(())
        }
        InitOutcome::NeedsSignature { .. } => bail!("unexpected: the demo signs its own genesis"),
    }
}

fn agency_key(data: &Path, id: &str) -> Result<SigningKey> {
    let dir = data.join("agencies");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{id}.key"));
    if path.exists() {
        return read_secret_key(&path);
    }
    let key = SigningKey::generate(&mut getrandom::rand_core::UnwrapErr(getrandom::SysRng));
    write_secret(&path, &STANDARD.encode(key.to_bytes()))?;
    Ok(key)
}

struct Sample {
    agency: &'static str,
    submission_id: &'static str,
    kind: &'static str,
    channel: &'static str,
    subject: Option<&'static str>,
    object: serde_json::Value,
    /// Personal data, committed to but kept out of the log.
    payload: Option<serde_json::Value>,
}

fn samples() -> Vec<Sample> {
    vec![
        Sample {
            agency: "finance-ministry",
            submission_id: "demo-bt-2026-0412",
            kind: "transfer.budget.allocation",
            channel: "G2G",
            subject: Some("BT-2026-0412"),
            object: json!({"from": "national-treasury", "to": "city-of-example",
                "amount": "1250000000.00", "currency": "IDR",
                "purpose": "primary school renovation programme",
                "legal_basis": "State Budget Law 2026, art. 12"}),
            payload: None,
        },
        Sample {
            agency: "finance-ministry",
            submission_id: "demo-bt-2026-0413",
            kind: "transfer.budget.reallocation",
            channel: "G2G",
            subject: Some("BT-2026-0413"),
            object: json!({"from": "ministry-of-health/contingency", "to": "ministry-of-health/vaccines",
                "amount": "300000000.00", "currency": "IDR",
                "legal_basis": "Minister of Finance Regulation 62/2023"}),
            payload: None,
        },
        Sample {
            agency: "city-licensing",
            submission_id: "demo-pb-2026-000731",
            kind: "decision.permit.building",
            channel: "G2C",
            subject: Some("PB-2026-000731"),
            object: json!({"outcome": "granted", "parcel": "JKT-SEL-0042-17",
                "floors": 2, "legal_basis": "Regional Regulation 7/2021"}),
            payload: Some(
                json!({"applicant": "Siti Rahmawati", "national_id": "3174012345678901",
                "address": "Jl. Melati 12, Jakarta Selatan"}),
            ),
        },
        Sample {
            agency: "city-licensing",
            submission_id: "demo-sv-2026-004410",
            kind: "service.licence.issued",
            channel: "G2C",
            subject: Some("SV-2026-004410"),
            object: json!({"licence": "street-vendor", "valid_until": "2027-11-30",
                "district": "Kebayoran Baru"}),
            payload: Some(json!({"holder": "Budi Santoso", "national_id": "3171098765432109"})),
        },
        Sample {
            agency: "procurement-agency",
            submission_id: "demo-tnd-2026-0098-published",
            kind: "decision.tender.published",
            channel: "G2B",
            subject: Some("TND-2026-0098"),
            object: json!({"title": "Construction of the Kebayoran flood canal, phase 2",
                "estimate": "9000000000.00", "currency": "IDR", "deadline": "2026-12-15"}),
            payload: None,
        },
        Sample {
            agency: "procurement-agency",
            submission_id: "demo-tnd-2026-0098-award",
            kind: "decision.tender.awarded",
            channel: "G2B",
            subject: Some("TND-2026-0098"),
            object: json!({"winner": "PT Contoh Konstruksi", "amount": "8450000000.00",
                "currency": "IDR", "bidders": 4,
                "legal_basis": "Presidential Regulation 16/2018"}),
            payload: None,
        },
    ]
}

/// The fields of a statement to build.
pub struct Draft<'a> {
    /// The agency (or `registry`).
    pub agency: &'a str,
    /// The submission id.
    pub submission_id: &'a str,
    /// The dotted type.
    pub kind: &'a str,
    /// G2C, G2B or G2G.
    pub channel: &'a str,
    /// The public subject reference.
    pub subject: Option<&'a str>,
    /// The public facts, a JSON object.
    pub object: &'a serde_json::Value,
    /// The commitment to a private payload.
    pub commitment: Option<&'a PayloadCommitment>,
}

/// Builds a statement's bytes (spec/entry.md §1), happening now. Field order is
/// the spec's; any order is valid, since the exact bytes are what is signed.
pub fn statement_bytes(origin: &str, d: &Draft<'_>) -> Vec<u8> {
    let mut s = format!(
        "{{\"v\":1,\"origin\":{},\"agency\":{},\"submission_id\":{},\"type\":{},\"channel\":{},\"occurred_at\":{}",
        json!(origin),
        json!(d.agency),
        json!(d.submission_id),
        json!(d.kind),
        json!(d.channel),
        json!(now_rfc3339())
    );
    if let Some(subject) = d.subject {
        s.push_str(&format!(",\"subject\":{}", json!(subject)));
    }
    s.push_str(&format!(",\"object\":{}", d.object));
    if let Some(c) = d.commitment {
        s.push_str(&format!(",\"payload_commitment\":\"{}\"", c.to_hex()));
    }
    s.push('}');
    s.into_bytes()
}

fn submission(
    key: &SigningKey,
    bytes: Vec<u8>,
    payload: Option<([u8; 32], Vec<u8>)>,
) -> Result<Submission> {
    let statement = Statement::parse(&bytes).map_err(|e| anyhow!("demo statement: {e}"))?;
    Ok(Submission {
        signature: sign_statement(key, &bytes),
        statement,
        payload,
        verified_by: None,
    })
}

async fn append(node: &Node, sub: Submission) -> Result<u64> {
    let rx = node
        .state
        .sequencer
        .submit(vec![sub])
        .map_err(|_| anyhow!("the sequencer is busy"))?;
    let r = rx.await.context("the sequencer stopped")?;
    let a = r
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no result"))?
        .map_err(|e| anyhow!("demo append refused: {e}"))?;
    Ok(a.index)
}

/// Registers the demo agencies and appends the sample records, unless they are
/// there (resubmissions are idempotent, so this is safe to repeat).
///
/// # Errors
/// If an append is refused.
pub async fn seed(node: &Node, data: &Path) -> Result<()> {
    // The public keys, as files for the README's walkthrough: `log.vkey` for
    // `ledger-verify --vkey-file`, `authority.pub` for `--authority-key`.
    let p = &node.state.params;
    for (name, text) in [("log.vkey", &p.vkey), ("authority.pub", &p.authority_key)] {
        let path = data.join(name);
        std::fs::write(&path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let authority_path = data.join("authority.key");
    if !authority_path.exists() {
        println!(
            "No development authority key in {}: not adding sample records.",
            data.display()
        );
        return Ok(());
    }
    let authority = read_secret_key(&authority_path)?;
    let origin = node.state.params.origin.clone();
    for (id, name) in DEMO_AGENCIES {
        let key = agency_key(data, id)?;
        let object = json!({"agency": id, "name": name,
            "key": STANDARD.encode(key.verifying_key().as_bytes())});
        let bytes = statement_bytes(
            &origin,
            &Draft {
                agency: "registry",
                submission_id: &format!("register/{id}"),
                kind: "registry.agency.register",
                channel: "G2G",
                subject: None,
                object: &object,
                commitment: None,
            },
        );
        let registered = node
            .state
            .agencies
            .read()
            .map(|a| a.iter().any(|r| r.id.as_str() == id))
            .unwrap_or(false);
        if !registered {
            append(node, submission(&authority, bytes, None)?).await?;
        }
    }
    let mut last = 0;
    for s in samples() {
        let key = agency_key(data, s.agency)?;
        let payload = s.payload.map(|p| {
            let mut salt = [0u8; SALT_BYTES];
            getrandom::fill(&mut salt).expect("the operating system's random source failed");
            (salt, p.to_string().into_bytes())
        });
        let commitment = payload
            .as_ref()
            .map(|(salt, p)| PayloadCommitment::compute(salt, p));
        if node.state.db.dedup(s.agency, s.submission_id)?.is_some() {
            continue;
        }
        let bytes = statement_bytes(
            &origin,
            &Draft {
                agency: s.agency,
                submission_id: s.submission_id,
                kind: s.kind,
                channel: s.channel,
                subject: s.subject,
                object: &s.object,
                commitment: commitment.as_ref(),
            },
        );
        last = last.max(append(node, submission(&key, bytes, payload)?).await?);
    }
    last = last.max(record_demo_access(node, data, &origin).await?);
    // Wait for the checkpoint that covers the samples, so that every printed
    // command works right away.
    let mut p = node.state.published.clone();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        p.wait_for(|p| p.size > last),
    )
    .await;
    Ok(())
}

/// The demo's one recorded access (spec/registry.md §6.2): the licensing
/// office's official reads the street-vendor licence holder's data. The demo
/// appends the signed access statement itself; a real read goes through
/// `POST /v1/payloads/read`, which also releases the payload. Returns its index.
async fn record_demo_access(node: &Node, data: &Path, origin: &str) -> Result<u64> {
    const ACCESS_ID: &str = "demo-access-sv-2026-004410";
    if let Some(i) = node.state.db.dedup("city-licensing", ACCESS_ID)? {
        return Ok(i);
    }
    let target = node
        .state
        .db
        .dedup("city-licensing", "demo-sv-2026-004410")?
        .ok_or_else(|| anyhow!("the demo licence entry is missing"))?;
    let object = json!({"entry": target.to_string(),
        "official": "Dewi Lestari, licensing officer (NIP 198705122010012003)",
        "purpose": "verify the holder's identity at licence renewal",
        "legal_basis": "Regional Regulation 7/2021 art. 19",
        "case": "SV-2026-004410"});
    let bytes = statement_bytes(
        origin,
        &Draft {
            agency: "city-licensing",
            submission_id: ACCESS_ID,
            kind: ledger_core::access::TYPE_PAYLOAD_READ,
            channel: "G2G",
            subject: None,
            object: &object,
            commitment: None,
        },
    );
    let key = agency_key(data, "city-licensing")?;
    append(node, submission(&key, bytes, None)?).await
}

/// The entry of the demo's recorded access, if it is there.
fn demo_access_target(node: &Node) -> Option<u64> {
    node.state
        .db
        .dedup("city-licensing", "demo-sv-2026-004410")
        .ok()
        .flatten()
}

/// What to print for a newcomer: with `witnesses`, also who cosigns and how to
/// verify under their policy.
pub fn guide(node: &Node, data: &Path, url: &str, witnesses: Option<&DemoWitnesses>) -> String {
    let p = &node.state.params;
    let cosigned = match witnesses {
        Some(w) => {
            let mut s = String::from(
                "Witnesses: each checkpoint is published only once both cosigned it (a 2-of-2 policy):\n",
            );
            for w in &w.witnesses {
                s.push_str(&format!("  {:<28} {}\n", w.name, w.url));
            }
            s.push_str(&format!(
                "Verify under that policy (in {}):\n  cargo run --release -p verifier-cli -- checkpoint --log {url} --policy {} --max-age 1h\n\n",
                w.policy.display(),
                w.policy.display()
            ));
            s
        }
        None => "No witnesses: checkpoints are signed by the log only.\n\n".to_owned(),
    };
    let data = data.display();
    let size = node.state.published.borrow().size;
    let licence = demo_access_target(node).unwrap_or(5);
    format!(
        "\n\
The demo ledger is running at {url} (data: {data}, {size} entries).\n\
\n\
\x20 origin:        {origin}\n\
\x20 verifier key:  {vkey}\n\
\x20 authority key: {auth}\n\
\x20 (also in the files {data}/log.vkey and {data}/authority.pub)\n\
\n\
Look around:\n\
\x20 curl {url}/checkpoint\n\
\x20 curl {url}/v1/agencies\n\
\x20 curl '{url}/v1/entries?agency=city-licensing'\n\
\x20 curl {url}/v1/receipts/4 > receipt.tlog-proof\n\
\n\
Personal data is never public: payloads are released only to an authorized agency,\n\
and every release is an entry of the ledger. Who read the licence holder's data:\n\
\x20 curl {url}/v1/entries/{licence}/accesses\n\
\x20 curl -i {url}/v1/payloads/{licence}     (401: no anonymous reads)\n\
\n\
Verify, independently of this server:\n\
\x20 cargo run --release -p verifier-cli -- checkpoint --log {url} --vkey '{vkey}'\n\
\x20 cargo run --release -p verifier-cli -- receipt receipt.tlog-proof --vkey '{vkey}'\n\
\x20 cargo run --release -p verifier-cli -- replay --log {url} --vkey '{vkey}' --authority-key '{auth}'\n\
\n\
{cosigned}\
Append as an agency (its key is in {data}/agencies/):\n\
\x20 cargo run --release -p agency-client -- submit --server {url} --key {data}/agencies/city-licensing.key \\\n\
\x20     --agency city-licensing --type decision.permit.building --channel G2C \\\n\
\x20     --object '{{\"outcome\":\"granted\",\"parcel\":\"JKT-SEL-0042-18\"}}' --wait --receipt-out my-receipt.tlog-proof\n\
\n\
Press Ctrl-C to stop; run `ledger-server demo` again to resume.\n",
        origin = p.origin,
        vkey = p.vkey,
        auth = p.authority_key,
    )
}

/// The default demo directory.
pub fn default_dir() -> PathBuf {
    PathBuf::from("ledger-demo")
}
