//! `ledger-server`: runs the e-government audit ledger.
//!
//! This build only has the storage layer; `init`, `serve` and `demo` arrive with
//! the server issue (#3).

use std::process::ExitCode;

use clap::Parser;

/// The e-government audit ledger server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The data directory to open or create (an embedded RocksDB store).
    #[arg(long, default_value = "./ledger-data")]
    data: std::path::PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match ledger_server::store::Store::open(&cli.data) {
        Ok(_) => {
            eprintln!(
                "opened the store in {}; the HTTP API is not built yet (issue #3)",
                cli.data.display()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
