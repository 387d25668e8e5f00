//! `read-payload` and `erase-payload`: an agency's accountable access to a
//! private payload (spec/registry.md §6, spec/api.md).
//!
//! `read-payload` signs an `access.payload.read` naming the entry, the official,
//! the purpose and the legal basis, and sends it to `POST /v1/payloads/read`.
//! The server sequences it as an access entry and only then returns the payload
//! and salt. The client checks them against the commitment of the entry as the
//! log holds it (from the entry's receipt, verified with the log's verifier key,
//! when a checkpoint covers it) before writing the payload anywhere.
//!
//! `erase-payload` appends an `access.payload.erase` (signed by the owning
//! agency) or a `registry.payload.erase` (signed by the registry authority).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use ed25519_dalek::SigningKey;
use ledger_core::entry::Entry;
use ledger_core::receipt::Receipt;
use ledger_core::statement::PayloadCommitment;

use crate::access::{AccessStatement, commitment_of, open_payload};
use crate::api::ReadAnswer;
use crate::cli::{SendArgs, ServerArgs};
use crate::http::Client;
use crate::keys::read_key;
use crate::registry::AuthorityArgs;
use crate::statement::SignedStatement;
use crate::submit::{
    LogParams, dry_run_origin, finish_dry_run, format_ms, resolve_log, send_signed, verify_receipt,
};

/// `read-payload`'s options.
#[derive(Args, Debug)]
pub struct ReadPayloadArgs {
    /// The reading agency's secret key file (an active key of --agency).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The reading agency's id.
    #[arg(long, value_name = "ID")]
    pub agency: String,
    /// The index of the entry whose payload to read.
    #[arg(long, value_name = "INDEX")]
    pub entry: u64,
    /// The official who reads it: a name or staff id (public, 1-256 bytes).
    #[arg(long)]
    pub official: String,
    /// Why it is read (public: no personal data, 1-512 bytes).
    #[arg(long)]
    pub purpose: String,
    /// The law that allows the read (1-512 bytes).
    #[arg(long)]
    pub legal_basis: String,
    /// A case or file reference (public, 1-256 bytes).
    #[arg(long, value_name = "REF")]
    pub case: Option<String>,
    /// The submission id (default: `read/<entry>/<128 random bits>`, new for
    /// every read: the server hands a payload out once per access entry).
    #[arg(long, value_name = "ID")]
    pub submission_id: Option<String>,
    /// Write the payload to this new file (mode 0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Wait until a checkpoint covers the access entry, verify its receipt and
    /// write it here.
    #[arg(long, value_name = "FILE")]
    pub receipt_out: Option<PathBuf>,
    /// Do not contact the server: print the request body that would be sent
    /// (needs --origin).
    #[arg(long, conflicts_with_all = ["out", "receipt_out"])]
    pub dry_run: bool,
    /// The server options.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `erase-payload`'s options: signed by the owning agency (--key, --agency) or
/// by the registry authority (--authority-key).
#[derive(Args, Debug)]
pub struct ErasePayloadArgs {
    /// The index of the entry whose payload to erase.
    #[arg(long, value_name = "INDEX")]
    pub entry: u64,
    /// The law that requires the erasure (1-512 bytes).
    #[arg(long)]
    pub legal_basis: String,
    /// The owning agency's secret key file (access.payload.erase).
    #[arg(
        long,
        value_name = "FILE",
        requires = "agency",
        required_unless_present = "authority_key",
        conflicts_with = "authority_key"
    )]
    pub key: Option<PathBuf>,
    /// The owning agency's id.
    #[arg(long, value_name = "ID", requires = "key")]
    pub agency: Option<String>,
    /// The registry authority's secret key file (registry.payload.erase).
    #[arg(long, value_name = "FILE")]
    pub authority_key: Option<PathBuf>,
    /// The submission id (default: `erase/<entry>`, or `payload.erase/<entry>`
    /// for the authority: a payload is erased once).
    #[arg(long, value_name = "ID")]
    pub submission_id: Option<String>,
    /// When the erasure was decided, RFC 3339 UTC with Z (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub occurred_at: Option<String>,
    /// What to do with the signed statement.
    #[command(flatten)]
    pub send: SendArgs,
    /// The server options.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Signs an access statement with `key` and appends it like `submit`
/// (`POST /v1/entries`), or prints it for a dry run.
///
/// # Errors
/// If the statement is not valid, the server cannot be reached or refuses it, or
/// the receipt does not verify.
pub async fn sign_and_send(
    st: &AccessStatement,
    key: &SigningKey,
    submission_id: Option<String>,
    occurred_at: Option<String>,
    send: &SendArgs,
    server: &ServerArgs,
) -> Result<()> {
    if send.dry_run {
        let origin = dry_run_origin(server)?;
        let signed = st.sign(key, origin.as_str(), submission_id, occurred_at)?;
        return finish_dry_run(send, &signed);
    }
    let client = Client::new(&server.server, server.timeout())?;
    let log = resolve_log(&client, server, send.wait).await?;
    let signed = st.sign(key, log.origin.as_str(), submission_id, occurred_at)?;
    send_signed(&client, &log, send, &signed).await
}

/// Runs `erase-payload`.
///
/// # Errors
/// As [`sign_and_send`].
pub async fn erase_payload(args: ErasePayloadArgs) -> Result<()> {
    if let Some(authority_key) = args.authority_key {
        let authority = AuthorityArgs {
            authority_key,
            submission_id: args.submission_id,
            occurred_at: args.occurred_at,
            send: args.send,
            server: args.server,
        };
        return crate::registry::erase_payload(args.entry, args.legal_basis, authority).await;
    }
    let (Some(key), Some(agency)) = (args.key, args.agency) else {
        bail!("give --key and --agency (the owning agency), or --authority-key");
    };
    let st = AccessStatement::Erase {
        agency,
        entry: args.entry,
        legal_basis: args.legal_basis,
    };
    let key = read_key(&key)?;
    sign_and_send(
        &st,
        &key,
        args.submission_id,
        args.occurred_at,
        &args.send,
        &args.server,
    )
    .await
}

/// The commitment of entry `index` as the log holds it, and where it came from:
/// its receipt, verified with the log's verifier key, when a checkpoint covers
/// it; otherwise `GET /v1/entries/{index}`, as the server shows it.
async fn committed(
    client: &Client,
    log: &LogParams,
    index: u64,
) -> Result<(PayloadCommitment, String)> {
    let receipt = client
        .receipt(index)
        .await
        .with_context(|| format!("fetching the receipt of entry {index}"))?;
    if let Some(text) = receipt {
        let (_, verifier) = log.vkey.as_ref().context("no log verifier key")?;
        let verified = Receipt::parse(&text)
            .and_then(|r| r.verify(&log.origin, verifier.as_ref()))
            .with_context(|| format!("the receipt of entry {index} does not verify"))?;
        let c = commitment_of(&verified.entry, index)?;
        let how = if log.vkey_from_server {
            "checked, with the verifier key this server announced (pass --vkey to verify it \
             independently), under the checkpoint of size"
        } else {
            "verified under the signed checkpoint of size"
        };
        return Ok((
            c,
            format!("entry {index} {how} {}", verified.checkpoint.size.0),
        ));
    }
    let info = client
        .entry(index)
        .await
        .with_context(|| format!("fetching entry {index}"))?;
    let bytes = STANDARD
        .decode(&info.entry_b64)
        .with_context(|| format!("entry {index}: entry_b64 is not base64"))?;
    let entry = Entry::decode(&bytes).with_context(|| format!("entry {index} does not decode"))?;
    let c = commitment_of(&entry, index)?;
    Ok((
        c,
        format!("entry {index} as the server shows it (no checkpoint covers it yet)"),
    ))
}

/// Creates `path` for personal data: a new file, mode 0600 on Unix.
fn create_private(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).with_context(|| {
        format!(
            "creating {} (it must not exist: each read is recorded in the ledger, so the \
             payload is not written over another file)",
            path.display()
        )
    })
}

/// The read, signed, and the receipt it gets, checked.
async fn access_receipt(
    client: &Client,
    log: &LogParams,
    signed: &SignedStatement,
    answer: &ReadAnswer,
) -> Result<(Vec<u8>, u64)> {
    let text = match &answer.access.receipt {
        Some(r) => r.clone().into_bytes(),
        None => client
            .receipt(answer.access.index)
            .await
            .context("fetching the access entry's receipt")?
            .with_context(|| {
                format!(
                    "no checkpoint covered access entry {} within the server's wait; fetch its \
                     receipt later from GET /v1/receipts/{}",
                    answer.access.index, answer.access.index
                )
            })?,
    };
    let size = verify_receipt(&text, log, signed, &answer.access)?;
    Ok((text, size))
}

/// Runs `read-payload`.
///
/// # Errors
/// If the statement is not valid, the server cannot be reached or refuses the
/// read, or the payload does not open the entry's commitment (then nothing is
/// written, but the read is recorded).
pub async fn read_payload(args: ReadPayloadArgs) -> Result<()> {
    let key = read_key(&args.key)?;
    let st = AccessStatement::Read {
        agency: args.agency.clone(),
        entry: args.entry,
        official: args.official.clone(),
        purpose: args.purpose.clone(),
        legal_basis: args.legal_basis.clone(),
        case: args.case.clone(),
    };
    if args.dry_run {
        let origin = dry_run_origin(&args.server)?;
        let signed = st.sign(&key, origin.as_str(), args.submission_id, None)?;
        let body = serde_json::to_string(&signed.to_request()).context("serializing")?;
        println!("{body}");
        return Ok(());
    }
    let client = Client::new(&args.server.server, args.server.timeout())?;
    let log = resolve_log(&client, &args.server, true).await?;
    let signed = st.sign(&key, log.origin.as_str(), args.submission_id.clone(), None)?;
    let (commitment, provenance) = committed(&client, &log, args.entry).await?;
    let out = args.out.as_deref().map(create_private).transpose()?;
    let wait = args.receipt_out.is_some();
    let (answer, payload) = match read(&client, &log, &signed, args.entry, &commitment, wait).await
    {
        Ok(read) => read,
        Err(e) => {
            if let Some(path) = &args.out {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    eprintln!("payload checked: it opens the commitment of {provenance}");
    match (out, &args.out) {
        (Some(mut f), Some(path)) => {
            f.write_all(&payload)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("writing the payload to {}", path.display()))?;
            eprintln!("{} bytes written to {}", payload.len(), path.display());
        }
        _ => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&payload)
                .and_then(|()| stdout.flush())
                .context("writing the payload to standard output")?;
        }
    }
    if let Some(path) = &args.receipt_out {
        let (text, size) = access_receipt(&client, &log, &signed, &answer).await?;
        std::fs::write(path, &text)
            .with_context(|| format!("writing the receipt to {}", path.display()))?;
        let how = if log.vkey_from_server {
            "receipt checked with the verifier key this server announced, not verified \
             independently (pass --vkey)"
        } else {
            "receipt verified"
        };
        eprintln!(
            "{how} (access entry {} under the checkpoint of size {size}); written to {}",
            answer.access.index,
            path.display()
        );
    }
    Ok(())
}

/// Sends the signed read, reports the access entry, and checks the payload
/// against `commitment`.
async fn read(
    client: &Client,
    log: &LogParams,
    signed: &SignedStatement,
    entry: u64,
    commitment: &PayloadCommitment,
    wait: bool,
) -> Result<(ReadAnswer, Vec<u8>)> {
    let answer = client
        .read_payload(&signed.to_request(), wait)
        .await
        .with_context(|| format!("reading the payload of entry {entry}"))?;
    let a = &answer.access;
    eprintln!(
        "read recorded as access entry {} of {} (leaf hash {}, sequenced at {})",
        a.index,
        log.origin,
        a.leaf_hash,
        format_ms(a.sequenced_at_ms)
    );
    let payload =
        open_payload(&answer, entry, commitment).context("the payload was NOT written")?;
    Ok((answer, payload))
}
