//! `ledger-server`: init, serve and demo (spec/api.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ledger_server::config::ServeOptions;
use ledger_server::init::{Authority, InitOutcome, init_with};
use ledger_server::node::{Node, serve};
use ledger_server::{demo, demo_witnesses, store::RocksStore};

/// The e-government audit ledger server.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a ledger: the store, the log's signing key and the genesis entry.
    ///
    /// The registry authority signs genesis. Give its secret key file
    /// (--authority-key), or only its public key (--authority-pubkey): then init
    /// writes DIR/genesis.json for the authority to sign offline, and is run again
    /// with --genesis-signature. With neither, a development authority key is made
    /// (NOT for production).
    Init {
        /// The data directory to create.
        #[arg(long, env = "LEDGER_DATA")]
        data: PathBuf,
        /// The log's origin, e.g. `ledger.example.gov/egov` (c2sp.org/tlog-checkpoint).
        #[arg(long)]
        origin: String,
        /// The registry authority's secret key file (base64 seed), used only to sign genesis.
        #[arg(long, conflicts_with = "authority_pubkey")]
        authority_key: Option<PathBuf>,
        /// The registry authority's public key (base64).
        #[arg(long)]
        authority_pubkey: Option<String>,
        /// The authority's signature over DIR/genesis.json (base64), with --authority-pubkey.
        #[arg(long, requires = "authority_pubkey")]
        genesis_signature: Option<String>,
        /// Use a log.key already in DIR (only if it never signed another ledger:
        /// a second history under one log key is a fork).
        #[arg(long)]
        reuse_log_key: bool,
    },
    /// Serve the ledger's HTTP API.
    Serve(ServeOptions),
    /// Run a demo ledger in ./ledger-demo with sample agencies and records, and
    /// two local witnesses (`ledger-verify witness serve`, from the same build)
    /// that must both cosign each checkpoint before it is published.
    Demo(DemoOptions),
    /// Report what a stopped ledger's data costs on disk, per entry (flushes and
    /// compacts the store first).
    Stats {
        /// The data directory.
        #[arg(long, env = "LEDGER_DATA")]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a stopped ledger (or a copy of one) in full: every block's
    /// checksum, every entry's rules and signature, every tile, the signed
    /// checkpoints' roots and the state snapshot (spec/durability.md §3.5).
    /// Exit 0: sound; 1: a problem, named; 2: could not check.
    Fsck {
        /// The data directory.
        #[arg(long, env = "LEDGER_DATA")]
        data: PathBuf,
    },
    /// Copy the ledger store of a stopped ledger to a new directory (a RocksDB
    /// checkpoint). It holds no payload keys: back those up apart with
    /// `backup-keys` (spec/durability.md §5).
    Backup {
        /// The data directory.
        #[arg(long, env = "LEDGER_DATA")]
        data: PathBuf,
        /// Where to write the copy (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Copy the payload key store (DATA/payload-keys) of a stopped ledger, for a
    /// backup kept apart from the ledger's, with its own retention: an erased
    /// payload stays readable from ledger backups only while a key backup from
    /// before its erasure is kept (spec/durability.md §5).
    BackupKeys {
        /// The data directory.
        #[arg(long, env = "LEDGER_DATA")]
        data: PathBuf,
        /// Where to write the copy (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

/// `ledger-server demo`'s settings: the server's, and the witnesses.
#[derive(clap::Args)]
struct DemoOptions {
    #[command(flatten)]
    serve: ServeOptions,
    /// Run without the demo witnesses (checkpoints are then not cosigned).
    #[arg(long)]
    no_witnesses: bool,
}

fn run_init(
    data: PathBuf,
    origin: String,
    authority_key: Option<PathBuf>,
    authority_pubkey: Option<String>,
    genesis_signature: Option<String>,
    reuse_log_key: bool,
) -> Result<()> {
    let authority = match (authority_key, authority_pubkey) {
        (Some(path), _) => Authority::SecretKey(path),
        (None, Some(key)) => Authority::PublicKey {
            key,
            signature: genesis_signature,
        },
        (None, None) => Authority::Dev,
    };
    match init_with(&data, &origin, authority, reuse_log_key)? {
        InitOutcome::Created {
            vkey,
            authority_key,
            dev_authority_key,
        } => {
            if let Some(path) = dev_authority_key {
                eprintln!("WARNING: ************************************************************");
                eprintln!("WARNING: a DEVELOPMENT registry authority key was generated and stored");
                eprintln!(
                    "WARNING: in {}. Whoever holds it can register agencies.",
                    path.display()
                );
                eprintln!("WARNING: For production, pass --authority-pubkey (offline signing).");
                eprintln!("WARNING: ************************************************************");
            }
            println!("Created the ledger in {}", data.display());
            println!("origin:        {origin}");
            println!("verifier key:  {vkey}");
            println!("authority key: {authority_key}");
            println!("Next: ledger-server serve --data {}", data.display());
        }
        InitOutcome::NeedsSignature { genesis, vkey } => {
            println!("The genesis statement is in {}.", genesis.display());
            println!("verifier key: {vkey}");
            println!("The registry authority signs its exact bytes, for example with");
            println!(
                "  agency-client sign --key AUTHORITY.key --statement {}",
                genesis.display()
            );
            println!("then run init again with the same flags and --genesis-signature SIG.");
        }
    }
    Ok(())
}

/// Starts the demo's witnesses unless told not to or a policy is set, and
/// points the settings at their policy. Without `ledger-verify` next to this
/// binary the demo runs without them, and says so.
fn demo_witnesses(
    settings: &mut ledger_server::config::Settings,
    no_witnesses: bool,
) -> Result<Option<demo_witnesses::DemoWitnesses>> {
    if no_witnesses || settings.witness_policy.is_some() {
        return Ok(None);
    }
    let verifier = demo_witnesses::sibling_verifier()?;
    if !verifier.exists() {
        eprintln!(
            "WARNING: no witnesses: {} is missing (build it with `cargo build --release -p verifier-cli`, \
             or run scripts/demo); checkpoints will not be cosigned",
            verifier.display()
        );
        return Ok(None);
    }
    let log = ledger_server::node::read_log_key(&settings.data)?
        .verifier()
        .to_vkey();
    let w = demo_witnesses::start(&settings.data, &log, &verifier)?;
    settings.witness_policy = Some(ledger_server::config::WitnessSettings::new(
        w.policy.clone(),
    ));
    Ok(Some(w))
}

async fn run_serve(opts: ServeOptions, demo: Option<DemoOptions>) -> Result<()> {
    let demo_mode = demo.is_some();
    let default = demo_mode.then(demo::default_dir);
    let mut settings = opts.resolve(default.as_deref())?;
    // Kept until the server stops; dropping it stops the witnesses.
    let mut witnesses = None;
    if let Some(d) = &demo {
        demo::prepare(&settings.data)?;
        witnesses = demo_witnesses(&mut settings, d.no_witnesses)?;
    }
    let mut config = settings.node.clone();
    if let Some(ws) = &settings.witness_policy {
        let path = &ws.policy;
        let text = std::fs::read(path)
            .with_context(|| format!("reading the witness policy {}", path.display()))?;
        let log = ledger_server::node::read_log_key(&settings.data)?.verifier();
        let mut policy = ledger_server::witnessing::WitnessPolicy::from_file(
            &text,
            &log,
            ws.timeout,
            ws.fail_open,
        )
        .map_err(|e| anyhow::anyhow!("the witness policy {}: {e}", path.display()))?;
        policy.refresh = ws.refresh;
        tracing::info!(
            "witness policy {}: {} witnesses to ask before publishing",
            path.display(),
            policy.endpoints.len()
        );
        config.witnesses = Some(policy);
    }
    let node = Node::start(&settings.data, config)?;
    if let Some(publish) = &settings.publish {
        ledger_server::publish::start(publish, &node.state)?;
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    if demo_mode {
        demo::seed(&node, &settings.data).await?;
        println!(
            "{}",
            demo::guide(
                &node,
                &settings.data,
                &format!("http://{addr}"),
                witnesses.as_ref()
            )
        );
        if settings.explorer_dir.is_some() {
            println!(
                "Open http://{addr}/ : the explorer verifies the checkpoint, entries and receipts in your browser.\n"
            );
        }
    }
    tracing::info!(
        "serving {} on http://{addr} (entries: {})",
        node.state.params.origin,
        node.state.committed.borrow().size
    );
    if let Some(dir) = &settings.explorer_dir {
        if !dir.join("index.html").is_file() {
            anyhow::bail!(
                "explorer_dir {} holds no index.html (build it: npm ci && npm run build in ledger-server/explorer)",
                dir.display()
            );
        }
        tracing::info!("serving the explorer from {} at /", dir.display());
    }
    serve(
        node,
        listener,
        settings.request_timeout,
        &settings.http,
        settings.explorer_dir.as_deref(),
    )
    .await
}

fn stats(data: &std::path::Path, json: bool) -> Result<()> {
    use ledger_server::ledger::LedgerDb;
    let store = std::sync::Arc::new(RocksStore::open(&ledger_server::node::db_dir(data))?);
    let db = LedgerDb::without_keys(store.clone());
    let size = db.size()?;
    let mut entry_bytes = 0u64;
    let mut next = 0u64;
    while next < size {
        let end = (next + 4096).min(size);
        entry_bytes += db
            .entries(next, end)?
            .iter()
            .map(|e| e.len() as u64)
            .sum::<u64>();
        next = end;
    }
    let usage = store.disk_usage(true)?;
    let total: u64 = usage.iter().map(|(_, b)| b).sum();
    let per_entry = |b: u64| {
        if size == 0 {
            0.0
        } else {
            b as f64 / size as f64
        }
    };
    let overhead = per_entry(total) - per_entry(entry_bytes);
    if json {
        let cfs: serde_json::Map<String, serde_json::Value> = usage
            .iter()
            .map(|(n, b)| ((*n).to_owned(), serde_json::json!(b)))
            .collect();
        println!(
            "{}",
            serde_json::json!({"entries": size, "entry_bytes": entry_bytes, "disk_bytes": total,
                "disk_bytes_per_entry": per_entry(total), "entry_bytes_per_entry": per_entry(entry_bytes),
                "overhead_bytes_per_entry": overhead, "column_families": cfs})
        );
    } else {
        println!("entries:           {size}");
        println!(
            "entry bytes:       {entry_bytes} ({:.1} per entry)",
            per_entry(entry_bytes)
        );
        println!(
            "on disk (SST):     {total} ({:.1} per entry)",
            per_entry(total)
        );
        println!("overhead:          {overhead:.1} bytes per entry beyond the entry itself");
        for (n, b) in usage {
            println!("  {n:<12} {b:>14} ({:.1} per entry)", per_entry(b));
        }
    }
    Ok(())
}

fn fsck(data: &std::path::Path) -> ExitCode {
    use ledger_server::fsck::FsckError;
    let started = std::time::Instant::now();
    match ledger_server::fsck::fsck(data, &mut |m| eprintln!("fsck: {m}")) {
        Ok(ledger_server::fsck::Report { pairs, checked: r }) => {
            println!("OK: {} is sound", data.display());
            println!("  every block's checksum ({} key-value pairs)", pairs);
            println!(
                "  every entry's rules and signature, every tile ({} entries)",
                r.entries
            );
            for (what, size) in &r.checkpoints {
                println!("  the root of {what} (size {size})");
            }
            match r.snapshot {
                Some(s) => println!("  the state snapshot (size {s})"),
                None => println!("  no state snapshot (the next start writes one)"),
            }
            println!("  in {:.1} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(FsckError::Problem(m)) => {
            eprintln!("FAILED: {}: {m}", data.display());
            ExitCode::from(1)
        }
        Err(e @ FsckError::Unable(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Command::Fsck { data } = &cli.command {
        return fsck(data);
    }
    let result = match cli.command {
        Command::Init {
            data,
            origin,
            authority_key,
            authority_pubkey,
            genesis_signature,
            reuse_log_key,
        } => run_init(
            data,
            origin,
            authority_key,
            authority_pubkey,
            genesis_signature,
            reuse_log_key,
        ),
        Command::Stats { data, json } => stats(&data, json),
        Command::Fsck { .. } => Ok(()),
        Command::Backup { data, out } => RocksStore::open(&ledger_server::node::db_dir(&data))
            .and_then(|s| s.backup(&out))
            .map_err(anyhow::Error::from)
            .map(|()| println!("Backed up {} to {}", data.display(), out.display())),
        Command::BackupKeys { data, out } => RocksStore::open(&ledger_server::node::keys_dir(
            &data,
        ))
        .and_then(|s| s.backup(&out))
        .map_err(anyhow::Error::from)
        .map(|()| {
            println!(
                "Backed up the payload keys of {} to {}; keep them apart from the ledger's backups",
                data.display(),
                out.display()
            )
        }),
        command => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .and_then(|rt| {
                rt.block_on(async {
                    match command {
                        Command::Serve(opts) => run_serve(opts, None).await,
                        Command::Demo(mut d) => {
                            let opts = std::mem::take(&mut d.serve);
                            run_serve(opts, Some(d)).await
                        }
                        _ => Ok(()),
                    }
                })
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
