//! The registry authority's commands (spec/registry.md §3, §6): `register`,
//! `add-key`, `rotate-key` and `revoke-key`; `grant-access` and
//! `revoke-access`; and the authority's `erase-payload`. Each builds one
//! `registry.*` statement (agency `registry`, channel G2G, exactly the `object`
//! fields the spec lists), signs it with the authority key, and appends it like
//! `submit`.
//!
//! The default submission id of a key command is
//! `<action>/<agency>/<16 hex of the key hash>` (see
//! [`RegistryAction::default_submission_id`]): unique per use, since keys are
//! never reused; that of an access command is
//! [`AccessStatement::default_submission_id`]. `--submission-id` overrides both.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use ed25519_dalek::SigningKey;

use crate::access::AccessStatement;
use crate::cli::{SendArgs, ServerArgs};
use crate::http::Client;
use crate::keys::{key_hash_hex, parse_public_key, read_key};
use crate::statement::{RegistryAction, SignedStatement};
use crate::submit::{dry_run_origin, finish_dry_run, resolve_log, send_signed};

/// Options every registry command has.
#[derive(Args, Debug)]
pub struct AuthorityArgs {
    /// The registry authority's secret key file (base64 of the 32-byte seed).
    #[arg(long, value_name = "FILE")]
    pub authority_key: PathBuf,
    /// The submission id (default: `<action>/<agency>/<16 hex of the key hash>`
    /// for key commands; see each access command for its own).
    #[arg(long, value_name = "ID")]
    pub submission_id: Option<String>,
    /// When the registry decision took effect, RFC 3339 UTC with Z (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub occurred_at: Option<String>,
    /// What to do with the signed statement.
    #[command(flatten)]
    pub send: SendArgs,
    /// The server options.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `register`'s options.
#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// The new agency's id (1-64 of a-z 0-9 . -).
    #[arg(long, value_name = "ID")]
    pub agency: String,
    /// The agency's name, such as "City Licensing Office".
    #[arg(long)]
    pub name: String,
    /// The agency's first public key, base64 (as `keygen` prints it).
    #[arg(long, value_name = "B64", alias = "pubkey")]
    pub agency_pubkey: String,
    /// The options of every registry command.
    #[command(flatten)]
    pub authority: AuthorityArgs,
}

/// `add-key`'s options.
#[derive(Args, Debug)]
pub struct AddKeyArgs {
    /// The agency.
    #[arg(long, value_name = "ID")]
    pub agency: String,
    /// The new public key, base64.
    #[arg(long, value_name = "B64", alias = "pubkey")]
    pub agency_pubkey: String,
    /// The options of every registry command.
    #[command(flatten)]
    pub authority: AuthorityArgs,
}

/// `rotate-key`'s options.
#[derive(Args, Debug)]
pub struct RotateKeyArgs {
    /// The agency.
    #[arg(long, value_name = "ID")]
    pub agency: String,
    /// The active public key to retire, base64.
    #[arg(long, value_name = "B64")]
    pub old_pubkey: String,
    /// The public key that replaces it, base64.
    #[arg(long, value_name = "B64")]
    pub new_pubkey: String,
    /// The options of every registry command.
    #[command(flatten)]
    pub authority: AuthorityArgs,
}

/// `revoke-key`'s options.
#[derive(Args, Debug)]
pub struct RevokeKeyArgs {
    /// The agency.
    #[arg(long, value_name = "ID")]
    pub agency: String,
    /// The active public key to revoke, base64.
    #[arg(long, value_name = "B64", alias = "pubkey")]
    pub agency_pubkey: String,
    /// Why it is revoked (public: no personal data), 1-512 bytes.
    #[arg(long)]
    pub reason: String,
    /// The options of every registry command.
    #[command(flatten)]
    pub authority: AuthorityArgs,
}

/// `grant-access`'s options.
#[derive(Args, Debug)]
pub struct GrantAccessArgs {
    /// The registered agency that may read.
    #[arg(long, value_name = "ID")]
    pub grantee: String,
    /// Whose entries: `*` (every agency's) or one agency id.
    #[arg(long, value_name = "ID|*")]
    pub agencies: String,
    /// Which statement types: `*` or a type prefix of whole segments, such as
    /// `decision.permit` or `service`.
    #[arg(long, value_name = "PREFIX|*")]
    pub types: String,
    /// The law that allows these reads (1-512 bytes).
    #[arg(long)]
    pub legal_basis: String,
    /// The grant covers reads sequenced before this time, RFC 3339 UTC with Z
    /// (default: no expiry).
    #[arg(long, value_name = "RFC3339")]
    pub expires_at: Option<String>,
    /// The options of every registry command.
    #[command(flatten)]
    pub authority: AuthorityArgs,
}

/// `revoke-access`'s options.
#[derive(Args, Debug)]
pub struct RevokeAccessArgs {
    /// The index of the grant's entry.
    #[arg(long, value_name = "INDEX")]
    pub grant: u64,
    /// Why it is revoked (public: no personal data), 1-512 bytes.
    #[arg(long)]
    pub reason: String,
    /// The options of every registry command.
    #[command(flatten)]
    pub authority: AuthorityArgs,
}

/// Signs a registry action with the authority key for the log `origin`.
///
/// # Errors
/// If the action breaks a rule the client can check, or names the authority key.
pub fn sign_action(
    action: &RegistryAction,
    authority: &SigningKey,
    origin: &str,
    submission_id: Option<String>,
    occurred_at: Option<String>,
) -> Result<SignedStatement> {
    let authority_pub = authority.verifying_key();
    let names_authority = match action {
        RegistryAction::Register { key, .. } | RegistryAction::AddKey { key, .. } => {
            *key == authority_pub
        }
        RegistryAction::RotateKey { new_key, .. } => *new_key == authority_pub,
        RegistryAction::RevokeKey { .. } => false,
    };
    if names_authority {
        bail!(
            "the agency key is the registry authority's own key ({}); an agency needs \
             its own key (agency-client keygen)",
            key_hash_hex(&authority_pub)
        );
    }
    action
        .statement(origin, submission_id, occurred_at)?
        .sign(authority, None)
}

async fn run(action: RegistryAction, args: AuthorityArgs) -> Result<()> {
    let authority = read_key(&args.authority_key)?;
    if args.send.dry_run {
        let origin = dry_run_origin(&args.server)?;
        let signed = sign_action(
            &action,
            &authority,
            origin.as_str(),
            args.submission_id,
            args.occurred_at,
        )?;
        return finish_dry_run(&args.send, &signed);
    }
    // Check what can be checked before contacting the server.
    action.check()?;
    let client = Client::new(&args.server.server, args.server.timeout())?;
    let log = resolve_log(&client, &args.server, args.send.wait).await?;
    let signed = sign_action(
        &action,
        &authority,
        log.origin.as_str(),
        args.submission_id,
        args.occurred_at,
    )?;
    send_signed(&client, &log, &args.send, &signed).await
}

/// Runs `register`.
///
/// # Errors
/// As the registry commands: bad input, an unreachable server, a refusal.
pub async fn register(args: RegisterArgs) -> Result<()> {
    let action = RegistryAction::Register {
        agency: args.agency,
        name: args.name,
        key: parse_public_key("--agency-pubkey", &args.agency_pubkey)?,
    };
    run(action, args.authority).await
}

/// Runs `add-key`.
///
/// # Errors
/// As [`register`].
pub async fn add_key(args: AddKeyArgs) -> Result<()> {
    let action = RegistryAction::AddKey {
        agency: args.agency,
        key: parse_public_key("--agency-pubkey", &args.agency_pubkey)?,
    };
    run(action, args.authority).await
}

/// Runs `rotate-key`.
///
/// # Errors
/// As [`register`].
pub async fn rotate_key(args: RotateKeyArgs) -> Result<()> {
    let action = RegistryAction::RotateKey {
        agency: args.agency,
        old_key: parse_public_key("--old-pubkey", &args.old_pubkey)?,
        new_key: parse_public_key("--new-pubkey", &args.new_pubkey)?,
    };
    run(action, args.authority).await
}

/// Runs `revoke-key`.
///
/// # Errors
/// As [`register`].
pub async fn revoke_key(args: RevokeKeyArgs) -> Result<()> {
    let action = RegistryAction::RevokeKey {
        agency: args.agency,
        key: parse_public_key("--agency-pubkey", &args.agency_pubkey)?,
        reason: args.reason,
    };
    run(action, args.authority).await
}

async fn run_access(st: AccessStatement, args: AuthorityArgs) -> Result<()> {
    let authority = read_key(&args.authority_key)?;
    crate::payload::sign_and_send(
        &st,
        &authority,
        args.submission_id,
        args.occurred_at,
        &args.send,
        &args.server,
    )
    .await
}

/// Runs `grant-access` (registry.access.grant).
///
/// # Errors
/// As [`register`].
pub async fn grant_access(args: GrantAccessArgs) -> Result<()> {
    let st = AccessStatement::Grant {
        grantee: args.grantee,
        agencies: args.agencies,
        types: args.types,
        legal_basis: args.legal_basis,
        expires_at: args.expires_at,
    };
    run_access(st, args.authority).await
}

/// Runs `revoke-access` (registry.access.revoke).
///
/// # Errors
/// As [`register`].
pub async fn revoke_access(args: RevokeAccessArgs) -> Result<()> {
    let st = AccessStatement::Revoke {
        grant: args.grant,
        reason: args.reason,
    };
    run_access(st, args.authority).await
}

/// Runs `erase-payload --authority-key` (registry.payload.erase).
///
/// # Errors
/// As [`register`].
pub async fn erase_payload(entry: u64, legal_basis: String, args: AuthorityArgs) -> Result<()> {
    run_access(AccessStatement::RegistryErase { entry, legal_basis }, args).await
}
