//! The command line: offline commands (`keygen`, `commit`, `sign`), commands that
//! talk to a server (`register`, `add-key`, `rotate-key`, `revoke-key`, `submit`,
//! `read-payload`, `erase-payload`, `grant-access`, `revoke-access`), and the load
//! generator (`load`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Parser, Subcommand};
use ed25519_dalek::SigningKey;
use ledger_core::entry::{KeyHash, sign_statement};
use ledger_core::statement::{PayloadCommitment, SALT_BYTES, Statement};

use crate::http::{DEFAULT_SERVER, RequestError};
use crate::keys::{read_key, write_secret};
use crate::load::LoadArgs;
use crate::payload::{ErasePayloadArgs, ReadPayloadArgs};
use crate::registry::{
    AddKeyArgs, GrantAccessArgs, RegisterArgs, RevokeAccessArgs, RevokeKeyArgs, RotateKeyArgs,
};
use crate::submit::SubmitArgs;

/// An example agency client for the e-government audit ledger.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new Ed25519 key: writes the 32-byte seed as base64 to FILE (mode
    /// 0600) and prints the public key to give to the registry authority.
    Keygen {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Commit to a private payload: prints a fresh random salt and the
    /// commitment to put in the statement's `payload_commitment`.
    Commit {
        /// The payload file (personal data; it never enters the ledger).
        #[arg(long)]
        payload: PathBuf,
    },
    /// Check a statement strictly and sign it: prints the base64 signature.
    Sign {
        /// The secret key file written by `keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The statement JSON file; its exact bytes are signed.
        #[arg(long)]
        statement: PathBuf,
    },
    /// Registry authority: register a new agency with its first key
    /// (registry.agency.register).
    Register(RegisterArgs),
    /// Registry authority: give an agency another key (registry.key.add).
    AddKey(AddKeyArgs),
    /// Registry authority: replace an agency's active key with a new one
    /// (registry.key.rotate).
    RotateKey(RotateKeyArgs),
    /// Registry authority: revoke an agency's active key (registry.key.revoke).
    RevokeKey(RevokeKeyArgs),
    /// Build, sign and append one statement, optionally with a private payload
    /// and waiting for a verified receipt.
    Submit(SubmitArgs),
    /// Read an entry's private payload: sign an access.payload.read (who, why,
    /// under which law), which the server records in the ledger before it returns
    /// the payload; check the payload against the entry's commitment and write it.
    /// The access entry's index goes to standard error.
    ReadPayload(ReadPayloadArgs),
    /// Erase an entry's private payload: access.payload.erase, signed by the
    /// owning agency (--key, --agency), or registry.payload.erase, signed by the
    /// registry authority (--authority-key).
    ErasePayload(ErasePayloadArgs),
    /// Registry authority: let an agency read other agencies' payloads
    /// (registry.access.grant).
    GrantAccess(GrantAccessArgs),
    /// Registry authority: end an access grant (registry.access.revoke).
    RevokeAccess(RevokeAccessArgs),
    /// Load generator for a server on this machine: pre-signs N statements, sends
    /// them with C concurrent tasks in batches of B, and reports throughput,
    /// append latency and time to checkpoint; with --acks, it also records
    /// every acknowledged append in a file, for crash tests.
    Load(LoadArgs),
}

/// Where the server is and which log it serves.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The ledger server's base URL.
    #[arg(long, env = "LEDGER_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// The log's origin (default: the `origin` of GET /v1/log).
    #[arg(long, env = "LEDGER_ORIGIN")]
    pub origin: Option<String>,
    /// The log's verifier key, to check receipts and checkpoints with (default:
    /// the `vkey` of GET /v1/log; a careful agency gets it out of band).
    #[arg(long, env = "LEDGER_VKEY")]
    pub vkey: Option<String>,
    /// A witness policy (c2sp.org/tlog-policy; spec/witness-policy.md): a
    /// receipt is accepted only if its checkpoint carries the policy's quorum of
    /// witness cosignatures.
    #[arg(long, env = "LEDGER_WITNESS_POLICY")]
    pub policy: Option<PathBuf>,
    /// Seconds to wait for each answer.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

impl ServerArgs {
    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

/// What to do with a signed statement.
#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// Wait until a checkpoint covers the entry (?wait=checkpoint), then check
    /// the receipt offline with the log's verifier key.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: write the verified receipt (a .tlog-proof file) here.
    #[arg(long, value_name = "FILE", requires = "wait")]
    pub receipt_out: Option<PathBuf>,
    /// Write the exact signed statement bytes here.
    #[arg(long, value_name = "FILE")]
    pub statement_out: Option<PathBuf>,
    /// Print the server's JSON answer instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Do not contact the server: print the request body that would be sent
    /// (needs --origin).
    #[arg(long, conflicts_with_all = ["wait", "json"])]
    pub dry_run: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever made the command fail, with its context.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Keygen { out } => keygen(&out),
        Command::Commit { payload } => commit(&payload),
        Command::Sign { key, statement } => sign(&key, &statement),
        Command::Register(args) => runtime()?.block_on(crate::registry::register(args)),
        Command::AddKey(args) => runtime()?.block_on(crate::registry::add_key(args)),
        Command::RotateKey(args) => runtime()?.block_on(crate::registry::rotate_key(args)),
        Command::RevokeKey(args) => runtime()?.block_on(crate::registry::revoke_key(args)),
        Command::Submit(args) => runtime()?.block_on(crate::submit::submit(args)),
        Command::ReadPayload(args) => runtime()?.block_on(crate::payload::read_payload(args)),
        Command::ErasePayload(args) => runtime()?.block_on(crate::payload::erase_payload(args)),
        Command::GrantAccess(args) => runtime()?.block_on(crate::registry::grant_access(args)),
        Command::RevokeAccess(args) => runtime()?.block_on(crate::registry::revoke_access(args)),
        Command::Load(args) => runtime()?.block_on(crate::load::load(args)),
    }
}

fn keygen(out: &std::path::Path) -> Result<()> {
    if out.exists() {
        bail!("{} exists; refusing to overwrite a key", out.display());
    }
    let key = SigningKey::generate(&mut getrandom::rand_core::UnwrapErr(getrandom::SysRng));
    write_secret(out, &STANDARD.encode(key.to_bytes()))?;
    println!(
        "public key: {}",
        STANDARD.encode(key.verifying_key().as_bytes())
    );
    println!("key hash:   {}", KeyHash::of(&key.verifying_key()).0);
    Ok(())
}

fn commit(payload: &std::path::Path) -> Result<()> {
    let data = std::fs::read(payload).with_context(|| format!("reading {}", payload.display()))?;
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("the random source: {e}"))?;
    println!("salt:               {}", hex::encode(salt));
    println!(
        "payload_commitment: {}",
        PayloadCommitment::compute(&salt, &data).to_hex()
    );
    Ok(())
}

fn sign(key: &std::path::Path, statement: &std::path::Path) -> Result<()> {
    let key = read_key(key)?;
    let bytes =
        std::fs::read(statement).with_context(|| format!("reading {}", statement.display()))?;
    Statement::parse(&bytes).context("the statement is not valid (spec/entry.md §1)")?;
    println!("{}", STANDARD.encode(sign_statement(&key, &bytes)));
    Ok(())
}

/// A hint for a server error code, printed after the error.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "conflict" => {
            "this agency already used the submission id for a different statement; \
             choose another --submission-id (or omit it for a fresh one)"
        }
        "unknown_agency" => "the agency is not registered: the registry authority runs `register`",
        "key_not_active" | "bad_signature" => {
            "sign with an active key of the agency (GET /v1/agencies/<id> lists its keys)"
        }
        "wrong_origin" => "the statement names another log: check --origin",
        "queue_full" => "the server is busy: retry after a moment",
        "registry_rule" => "see spec/registry.md §3 and §6 for what each registry statement needs",
        "access_denied" => {
            "an agency reads its own entries' payloads, and another agency's only under a \
             registry.access.grant in force (the registry authority runs `grant-access`); \
             only the owning agency or the authority erases a payload"
        }
        "no_payload" => {
            "the entry carries no payload commitment (GET /v1/entries/<entry> shows has_payload)"
        }
        "payload_erased" => {
            "the payload was erased by the entry the message names; \
             `ledger-verify accesses --index <entry>` lists it"
        }
        "access_replayed" => {
            "a payload is handed out once per access entry: read again with a new \
             --submission-id (or omit it for a fresh one)"
        }
        "payload_not_held" => {
            "the read was recorded, but this server holds no payload for the entry (for \
             example, restored from a ledger backup without payloads); ask its operator"
        }
        "access_statement_required" => {
            "payloads are read only with a signed access.payload.read: use `read-payload`"
        }
        _ => return None,
    })
}

/// The program: parses the command line, runs it, prints the error chain.
pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(h) = e
                .chain()
                .find_map(|c| c.downcast_ref::<RequestError>())
                .and_then(|r| hint(&r.code()))
            {
                eprintln!("hint: {h}");
            }
            ExitCode::FAILURE
        }
    }
}
