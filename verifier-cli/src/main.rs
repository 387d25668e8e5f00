//! `ledger-verify`: the public's independent check of the e-government audit
//! ledger. It reads only the C2SP read API (`/checkpoint`, `/tile/...`) of a live
//! server, a static mirror (directory or URL) or any other C2SP tiled log, and
//! trusts only the log's verifier key.
//!
//! Exit codes: 0 verified; 1 verification FAILED (evidence of misbehaviour);
//! 2 could not check (network, files, usage).

mod accesses;
mod agency;
mod attribution;
mod check;
mod dedup;
mod mirror;
mod monitor;
mod prefetch;
mod replay;
mod source;
mod statefile;
mod witness;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use check::{Outcome, Report};

/// Independent verifier for the e-government audit ledger (and any C2SP tiled log).
///
/// Exit codes: 0 = verified, 1 = verification FAILED (the log misbehaved or the
/// data was tampered with), 2 = could not check (network, files, usage).
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Print one JSON object instead of text (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The log's verifier key.
#[derive(Args, Clone)]
pub struct KeyArgs {
    /// The log's verifier key, `name+keyid+base64` (its name is the log's origin).
    #[arg(
        long,
        required_unless_present_any = ["vkey_file", "policy"],
        conflicts_with = "vkey_file"
    )]
    pub vkey: Option<String>,
    /// A file holding the verifier key.
    #[arg(long)]
    pub vkey_file: Option<std::path::PathBuf>,
    /// A witness policy file (c2sp.org/tlog-policy; spec/witness-policy.md):
    /// every checkpoint used must carry cosignatures meeting its quorum. Its
    /// `log` line gives the log's key when --vkey is not given.
    #[arg(long)]
    pub policy: Option<std::path::PathBuf>,
    /// With --policy: the quorum's cosignatures must be at most this old
    /// (e.g. 90s, 10m, 2h, 1d).
    #[arg(long, requires = "policy", value_parser = check::parse_age)]
    pub max_age: Option<std::time::Duration>,
}

/// A log to read.
#[derive(Args, Clone)]
pub struct LogArgs {
    /// The log: an http(s) URL (a server or a mirror) or a directory mirror.
    #[arg(long)]
    pub log: String,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the log's latest checkpoint and verify its signature, origin and form;
    /// print its size and root.
    Checkpoint {
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Verify a receipt (a .tlog-proof file) offline: the entry, its inclusion
    /// proof and the checkpoint signature. With --log, also check that the log's
    /// current checkpoint extends the receipt's.
    Receipt {
        /// The receipt file.
        file: std::path::PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// Also check consistency with this log's current checkpoint.
        #[arg(long)]
        log: Option<String>,
        #[command(flatten)]
        attribution: attribution::AttributionArgs,
    },
    /// Prove that entry N is in the log: build its inclusion proof from the tiles
    /// and verify it, and the entry, against a freshly verified checkpoint.
    Inclusion {
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// The entry's index.
        #[arg(long)]
        index: u64,
        /// Prove against the tree of this size (default: the latest checkpoint's).
        #[arg(long)]
        size: Option<u64>,
        #[command(flatten)]
        attribution: attribution::AttributionArgs,
    },
    /// The full audit: download every entry bundle and hash tile, recompute the
    /// tree and compare every tile and the root, and (unless --generic) check
    /// every entry against the registry state as of its index, including every
    /// agency signature. Ends with a summary per agency.
    Replay(replay::ReplayArgs),
    /// List an agency's record history by walking its agency_prev chain back from
    /// its newest entry, proving each entry's inclusion. States exactly what is
    /// guaranteed: with --scan, that no later entry of the agency exists.
    Agency {
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// The agency id.
        #[arg(long)]
        id: String,
        /// The agency's newest entry, if you know it (default: ask the server).
        #[arg(long)]
        head: Option<u64>,
        /// Read every entry after the claimed newest one (or all, without a claim).
        #[arg(long)]
        scan: bool,
    },
    /// List who read or erased entry I's private payload: each access entry is
    /// authenticated against a freshly verified checkpoint. The list is the
    /// server's unless --scan reads every later entry, which proves it complete
    /// (and a server list that leaves one out is a failure).
    Accesses(accesses::AccessesArgs),
    /// Watch a log: verify its checkpoint and that it extends the one remembered in
    /// --state, then remember the new one. On a fork that the evidence proves, exit
    /// 1 and write that evidence (both signed checkpoints and the proof) for anyone
    /// to recheck. A smaller checkpoint that is a prefix of the remembered one is
    /// "stale" and tiles that contradict a signed root are a bad source: exit 2.
    Monitor {
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// The file that remembers the last verified checkpoint.
        #[arg(long)]
        state: std::path::PathBuf,
        /// Where to write evidence (default: evidence-<unix time>.json next to --state).
        #[arg(long)]
        evidence: Option<std::path::PathBuf>,
    },
    /// Copy the log into a directory that any static web server can serve,
    /// writing each tile and bundle only once it is authenticated against the
    /// log's verified checkpoint, and the checkpoint last (spec/mirror.md). A
    /// later run fetches only what is new and proves that the log extends the
    /// checkpoint mirrored before: a fork is FAILED with evidence, a bad source
    /// "could not check", and in both cases the mirror is left unchanged.
    Mirror(mirror::MirrorArgs),
    /// Evidence of a log's misbehaviour, as written by `monitor`.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Run a witness that cosigns a log's checkpoints only after checking that
    /// each extends the last one it cosigned (c2sp.org/tlog-witness; spec/witness.md).
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// Prove that the log's current checkpoint extends an older one you kept.
    Consistency {
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// The older checkpoint file.
        #[arg(long)]
        from: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Write a new witness key (mode 0600; an existing file is never
    /// overwritten) and print its cosignature verifier key.
    Keygen {
        /// The witness's name, e.g. `audit-board.example.gov`.
        #[arg(long)]
        name: String,
        /// Where to write the secret key.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Serve `POST /add-checkpoint` and `GET /<hex sha256(origin)>/checkpoint`.
    Serve {
        /// Where the witness keeps its state (one file per log, and evidence).
        #[arg(long)]
        data: std::path::PathBuf,
        /// The key file from `witness keygen`.
        #[arg(long)]
        key: std::path::PathBuf,
        /// The address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// A log's verifier key to trust (repeatable).
        #[arg(long)]
        log: Vec<String>,
        /// A file of log verifier keys, one per line (`#` comments).
        #[arg(long)]
        log_list: Option<std::path::PathBuf>,
        /// Stop (gracefully) when standard input reaches its end: for a witness
        /// run as the child of a supervisor that holds its stdin open, such as
        /// `ledger-server demo`, so that it stops when the supervisor does, even
        /// if the supervisor is killed.
        #[arg(long)]
        exit_on_stdin_eof: bool,
    },
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Recheck evidence with only the log's verifier key. Exit 0: it proves that
    /// the log signed two checkpoints that do not extend each other; exit 1: it
    /// does not prove that; exit 2: could not check.
    Verify {
        /// The evidence file.
        file: std::path::PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
}

fn run(cli: &Cli) -> Outcome {
    match &cli.command {
        Command::Checkpoint { log, key } => check::checkpoint(log, key),
        Command::Receipt {
            file,
            key,
            log,
            attribution,
        } => check::receipt(file, key, log.as_deref(), attribution),
        Command::Inclusion {
            log,
            key,
            index,
            size,
            attribution,
        } => check::inclusion(log, key, *index, *size, attribution),
        Command::Consistency { log, key, from } => check::consistency(log, key, from),
        Command::Agency {
            log,
            key,
            id,
            head,
            scan,
        } => agency::agency(log, key, id, *head, *scan),
        Command::Accesses(args) => accesses::accesses(args),
        Command::Monitor {
            log,
            key,
            state,
            evidence,
        } => monitor::monitor(log, key, state, evidence.as_deref()),
        Command::Evidence {
            command: EvidenceCommand::Verify { file, key },
        } => monitor::verify_evidence(file, key),
        Command::Replay(args) => replay::replay(args, cli.json),
        Command::Mirror(args) => mirror::mirror(args),
        Command::Witness { .. } => Err(check::Problem::Unable(
            "witness commands are run by main".into(),
        )),
    }
}

/// `witness keygen` and `witness serve`: a service, not a check; exit 2 on a
/// usage or start-up error.
fn witness(command: &WitnessCommand) -> anyhow::Result<()> {
    match command {
        WitnessCommand::Keygen { name, out } => {
            let vkey = witness::keygen(name, out)?;
            println!("witness key written to {} (keep it secret)", out.display());
            println!("cosignature verifier key: {vkey}");
            Ok(())
        }
        WitnessCommand::Serve {
            data,
            key,
            listen,
            log,
            log_list,
            exit_on_stdin_eof,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let mut logs = log.clone();
            if let Some(f) = log_list {
                logs.extend(witness::read_log_list(f)?);
            }
            let w = witness::Witness::new(witness::read_key(key)?, &logs, data)?;
            witness::serve(w, *listen, *exit_on_stdin_eof)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Witness { command } = &cli.command {
        return match witness(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let outcome = run(&cli);
    let report = Report::from(outcome);
    report.print(cli.json);
    ExitCode::from(report.exit_code())
}
