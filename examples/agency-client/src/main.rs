//! `agency-client`: what an agency runs to take part in the ledger, using only
//! ledger-core. It makes an Ed25519 key, commits to a private payload, and signs
//! a statement exactly as spec/entry.md §3.2 defines. (Submitting over HTTP comes
//! with the server, issue #3.)

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use ledger_core::entry::{KeyHash, sign_statement};
use ledger_core::statement::{PayloadCommitment, SALT_BYTES, Statement};

/// An example agency client for the e-government audit ledger.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
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
}

fn read_key(path: &PathBuf) -> Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let seed: [u8; 32] = STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("the key file must hold base64 of a 32-byte Ed25519 seed")?;
    Ok(SigningKey::from_bytes(&seed))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Keygen { out } => {
            if out.exists() {
                bail!("{} exists; refusing to overwrite a key", out.display());
            }
            let key = SigningKey::generate(&mut rand_core::OsRng);
            write_secret(&out, &STANDARD.encode(key.to_bytes()))?;
            println!(
                "public key: {}",
                STANDARD.encode(key.verifying_key().as_bytes())
            );
            println!("key hash:   {}", KeyHash::of(&key.verifying_key()).0);
        }
        Command::Commit { payload } => {
            let data = std::fs::read(&payload)
                .with_context(|| format!("reading {}", payload.display()))?;
            let mut salt = [0u8; SALT_BYTES];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
            println!("salt:               {}", hex::encode(salt));
            println!(
                "payload_commitment: {}",
                PayloadCommitment::compute(&salt, &data).to_hex()
            );
        }
        Command::Sign { key, statement } => {
            let key = read_key(&key)?;
            let bytes = std::fs::read(&statement)
                .with_context(|| format!("reading {}", statement.display()))?;
            Statement::parse(&bytes).context("the statement is not valid (spec/entry.md §1)")?;
            println!("{}", STANDARD.encode(sign_statement(&key, &bytes)));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn write_secret(path: &PathBuf, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{text}")?;
    Ok(())
}

#[cfg(not(unix))]
fn write_secret(path: &PathBuf, text: &str) -> Result<()> {
    std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {}", path.display()))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
