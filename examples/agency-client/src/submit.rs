//! `submit`: build a statement, sign it with the agency's key and append it; and
//! the send path that the registry commands share.
//!
//! The statement's bytes are serialized once, checked with ledger-core's strict
//! parser, signed and sent as they are. With `--wait`, the receipt the server
//! returns is verified offline (spec/receipts.md §3) with the log's verifier key
//! and origin, and checked to be for exactly this statement, before it is
//! reported or written.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ledger_core::checkpoint::Origin;
use ledger_core::note::{NoteVerifier, verifier_from_vkey};
use ledger_core::receipt::Receipt;
use ledger_core::statement::Channel;

use crate::api::Appended;
use crate::cli::{SendArgs, ServerArgs};
use crate::http::Client;
use crate::keys::read_key;
use crate::statement::{
    JsonObject, Payload, SignedStatement, StatementSpec, now_rfc3339, parse_object,
    random_submission_id,
};

/// `submit`'s options.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The agency's secret key file (written by `keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The agency id, as registered.
    #[arg(long, value_name = "ID")]
    pub agency: String,
    /// The statement type, such as decision.permit.granted.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    /// The channel.
    #[arg(long, value_parser = parse_channel)]
    pub channel: Channel,
    /// The public facts, a JSON object.
    #[arg(
        long,
        value_name = "JSON",
        required_unless_present = "object_file",
        conflicts_with = "object_file"
    )]
    pub object: Option<String>,
    /// A file holding the public facts as a JSON object (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub object_file: Option<PathBuf>,
    /// A public reference such as a case or tender number.
    #[arg(long)]
    pub subject: Option<String>,
    /// The agency's idempotency key (default: 128 random bits in hex).
    #[arg(long, value_name = "ID")]
    pub submission_id: Option<String>,
    /// When the decision or transaction happened, RFC 3339 UTC with Z (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub occurred_at: Option<String>,
    /// A private payload file: a fresh salted commitment to it goes in the
    /// statement, and the payload and salt are sent beside it (never in the log).
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    /// What to do with the signed statement.
    #[command(flatten)]
    pub send: SendArgs,
    /// The server options.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Parses a channel name for clap.
///
/// # Errors
/// For anything but G2C, G2B and G2G.
pub fn parse_channel(s: &str) -> Result<Channel, String> {
    Channel::parse(s).map_err(|_| format!("{s:?} is not a channel: use G2C, G2B or G2G"))
}

/// The log a command talks to: its origin and, when needed, its verifier key.
pub struct LogParams {
    /// The log's origin.
    pub origin: Origin,
    /// The verifier key string and its parsed form.
    pub vkey: Option<(String, Box<dyn NoteVerifier + Send + Sync>)>,
    /// Whether the verifier key was learned from the server itself (no
    /// `--vkey`): a receipt checked with it shows only that the server is
    /// consistent with itself, not that its log is the one the agency trusts.
    pub vkey_from_server: bool,
    /// The witness policy a receipt's checkpoint must meet (`--policy`).
    pub policy: Option<ledger_core::policy::Policy>,
}

impl std::fmt::Debug for LogParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogParams")
            .field("origin", &self.origin)
            .field("vkey", &self.vkey.as_ref().map(|(s, _)| s))
            .finish()
    }
}

fn parse_vkey(vkey: &str, origin: &Origin) -> Result<Box<dyn NoteVerifier + Send + Sync>> {
    let verifier =
        verifier_from_vkey(vkey).with_context(|| format!("the log verifier key {vkey:?}"))?;
    if verifier.name().as_str() != origin.as_str() {
        bail!(
            "the log verifier key is named {:?}, but the log's origin is {:?}",
            verifier.name().as_str(),
            origin.as_str()
        );
    }
    Ok(verifier)
}

/// Learns the log's origin (and, if `need_vkey`, its verifier key) from the
/// options, asking `GET /v1/log` only for what they do not give.
///
/// # Errors
/// If the server cannot be asked, or what it or the options say is malformed or
/// contradictory.
pub async fn resolve_log(
    client: &Client,
    server: &ServerArgs,
    need_vkey: bool,
) -> Result<LogParams> {
    let info = if server.origin.is_none() || (need_vkey && server.vkey.is_none()) {
        Some(
            client
                .log_info()
                .await
                .context("asking the server for the log's parameters (GET /v1/log)")?,
        )
    } else {
        None
    };
    let origin_text = match (&server.origin, &info) {
        (Some(o), Some(info)) if *o != info.origin => bail!(
            "--origin {o:?} is not the server's origin {:?}; the server would refuse \
             the statement",
            info.origin
        ),
        (Some(o), _) => o.clone(),
        (None, Some(info)) => info.origin.clone(),
        (None, None) => bail!("no origin: give --origin"),
    };
    let origin = Origin::new(&origin_text)
        .with_context(|| format!("the log origin {origin_text:?} is not valid"))?;
    let vkey_from_server = server.vkey.is_none() && need_vkey;
    let vkey = match (&server.vkey, &info) {
        (Some(v), Some(info)) => {
            if *v != info.vkey {
                eprintln!(
                    "warning: the server's verifier key {:?} differs from --vkey; \
                     checking with --vkey",
                    info.vkey
                );
            }
            Some(v.clone())
        }
        (Some(v), None) => Some(v.clone()),
        (None, Some(info)) if need_vkey => Some(info.vkey.clone()),
        (None, _) => None,
    };
    let vkey = match vkey {
        Some(v) => {
            let verifier = parse_vkey(&v, &origin)?;
            Some((v, verifier))
        }
        None => None,
    };
    let policy = match &server.policy {
        None => None,
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the witness policy {}", path.display()))?;
            Some(
                ledger_core::policy::Policy::parse(&bytes)
                    .with_context(|| format!("the witness policy {}", path.display()))?,
            )
        }
    };
    Ok(LogParams {
        origin,
        vkey,
        vkey_from_server,
        policy,
    })
}

/// The origin for a dry run, which never contacts the server.
///
/// # Errors
/// If `--origin` is missing or invalid.
pub fn dry_run_origin(server: &ServerArgs) -> Result<Origin> {
    let o = server
        .origin
        .as_deref()
        .context("--dry-run does not contact the server, so it needs --origin")?;
    Origin::new(o).with_context(|| format!("the log origin {o:?} is not valid"))
}

fn read_object(args: &SubmitArgs) -> Result<JsonObject> {
    let text = match (&args.object, &args.object_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the object from standard input")?;
            s
        }
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, None) => bail!("give --object or --object-file"),
    };
    parse_object(&text)
}

/// Builds and signs `submit`'s statement for the log `origin`.
///
/// # Errors
/// If an input file cannot be read or the statement is not valid.
pub fn build_submission(args: &SubmitArgs, origin: &Origin) -> Result<SignedStatement> {
    let key = read_key(&args.key)?;
    let object = read_object(args)?;
    let payload = match &args.payload {
        Some(path) => Some(Payload::new(
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )),
        None => None,
    };
    let spec = StatementSpec {
        origin: origin.as_str().to_owned(),
        agency: args.agency.clone(),
        submission_id: args
            .submission_id
            .clone()
            .unwrap_or_else(random_submission_id),
        kind: args.kind.clone(),
        channel: args.channel,
        occurred_at: args.occurred_at.clone().unwrap_or_else(now_rfc3339),
        subject: args.subject.clone(),
        object,
        payload_commitment: None,
    };
    spec.sign(&key, payload)
}

/// Runs `submit`.
///
/// # Errors
/// If the statement cannot be built, the server cannot be reached or refuses it,
/// or the receipt does not verify.
pub async fn submit(args: SubmitArgs) -> Result<()> {
    if args.send.dry_run {
        let origin = dry_run_origin(&args.server)?;
        let signed = build_submission(&args, &origin)?;
        return finish_dry_run(&args.send, &signed);
    }
    let client = Client::new(&args.server.server, args.server.timeout())?;
    let log = resolve_log(&client, &args.server, args.send.wait).await?;
    let signed = build_submission(&args, &log.origin)?;
    send_signed(&client, &log, &args.send, &signed).await
}

fn write_file(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing the {what} to {}", path.display()))
}

/// Ends a dry run: writes the statement if asked and prints the request body.
///
/// # Errors
/// If the statement file cannot be written.
pub fn finish_dry_run(send: &SendArgs, signed: &SignedStatement) -> Result<()> {
    if let Some(path) = &send.statement_out {
        write_file(path, &signed.statement, "statement")?;
    }
    let body = serde_json::to_string(&signed.to_request()).context("serializing the request")?;
    println!("{body}");
    Ok(())
}

/// Formats Unix milliseconds as RFC 3339 UTC.
pub fn format_ms(ms: u64) -> String {
    i128::from(ms)
        .checked_mul(1_000_000)
        .and_then(|ns| time::OffsetDateTime::from_unix_timestamp_nanos(ns).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms after the Unix epoch"))
}

/// Checks a receipt offline and that it is for exactly this statement at the
/// index and leaf hash the server answered. Returns the checkpoint size.
///
/// # Errors
/// If any check fails.
pub fn verify_receipt(
    text: &[u8],
    log: &LogParams,
    signed: &SignedStatement,
    appended: &Appended,
) -> Result<u64> {
    let (_, verifier) = log
        .vkey
        .as_ref()
        .context("no log verifier key to check the receipt with")?;
    let receipt =
        Receipt::parse(text).context("the receipt does not parse (spec/receipts.md §2)")?;
    let verified = receipt
        .verify(&log.origin, verifier.as_ref())
        .context("the receipt does not verify (spec/receipts.md §3)")?;
    if verified.entry.index.0 != appended.index {
        bail!(
            "the receipt is for entry {}, but the server said the entry is {}",
            verified.entry.index.0,
            appended.index
        );
    }
    if verified.leaf_hash.to_hex() != appended.leaf_hash.to_ascii_lowercase() {
        bail!(
            "the receipt's leaf hash {} is not the one the server answered ({})",
            verified.leaf_hash.to_hex(),
            appended.leaf_hash
        );
    }
    if verified.entry.statement != signed.statement {
        bail!("the receipt's entry holds a different statement than the one sent");
    }
    if verified.entry.signature != signed.signature {
        bail!("the receipt's entry holds a different signature than the one sent");
    }
    if let Some(policy) = &log.policy {
        let (vkey, _) = log.vkey.as_ref().context("no log verifier key")?;
        let key = ledger_core::note::Ed25519Verifier::from_vkey(vkey)
            .context("the log's verifier key")?;
        let e = policy
            .evaluate_with_log(&receipt.proof.checkpoint, &log.origin, &key)
            .context("evaluating the receipt's checkpoint under the witness policy")?;
        if !e.quorum().is_met() {
            bail!(
                "the receipt's checkpoint is not cosigned by the witness policy's quorum \
                 ({} of its witnesses cosigned); not accepted under --policy",
                e.cosigners().len()
            );
        }
    }
    Ok(verified.checkpoint.size.0)
}

/// Sends a signed statement, prints the answer, and with `--wait` checks (and
/// with `--receipt-out` writes) the receipt.
///
/// # Errors
/// If the server cannot be reached or refuses the statement, or the receipt is
/// missing or does not verify.
pub async fn send_signed(
    client: &Client,
    log: &LogParams,
    send: &SendArgs,
    signed: &SignedStatement,
) -> Result<()> {
    if let Some(path) = &send.statement_out {
        write_file(path, &signed.statement, "statement")?;
    }
    let request = signed.to_request();
    let (appended, raw) = client
        .append(&request, send.wait)
        .await
        .context("appending the statement")?;
    if send.json {
        println!("{}", raw.trim_end());
    } else {
        if appended.duplicate {
            println!(
                "already in the log (same statement, same submission id): entry {}",
                appended.index
            );
        } else {
            println!("appended as entry {} of {}", appended.index, log.origin);
        }
        println!(
            "  duplicate:    {}",
            if appended.duplicate { "yes" } else { "no" }
        );
        println!("  leaf hash:    {}", appended.leaf_hash);
        println!("  sequenced at: {}", format_ms(appended.sequenced_at_ms));
        if let Some(p) = &signed.payload {
            println!(
                "  payload salt: {} (keep it with the payload: it opens the commitment)",
                hex::encode(p.salt)
            );
        }
    }
    if !send.wait {
        return Ok(());
    }
    let text = match &appended.receipt {
        Some(r) => r.clone().into_bytes(),
        None => client
            .receipt(appended.index)
            .await
            .context("fetching the receipt")?
            .with_context(|| {
                format!(
                    "entry {} is appended, but no checkpoint covered it within the server's \
                     wait; fetch its receipt later from GET /v1/receipts/{}",
                    appended.index, appended.index
                )
            })?,
    };
    let size = verify_receipt(&text, log, signed, &appended)?;
    // Issue #14 item 15: "verified" only with a key the agency brought.
    let checked = if log.vkey_from_server {
        format!(
            "receipt checked with the verifier key this server announced, not verified \
             independently (entry {} under the checkpoint of size {size}; pass --vkey with \
             the log's key, obtained out of band, to verify it)",
            appended.index
        )
    } else {
        format!(
            "receipt verified (entry {} under the signed checkpoint of size {size}{})",
            appended.index,
            if log.policy.is_some() {
                ", cosigned by the witness policy's quorum"
            } else {
                ""
            }
        )
    };
    let status = match &send.receipt_out {
        Some(path) => {
            write_file(path, &text, "receipt")?;
            format!("{checked}; written to {}", path.display())
        }
        None => checked,
    };
    if send.json {
        eprintln!("{status}");
    } else {
        println!("{status}");
    }
    Ok(())
}
