//! `ledger-verify`: the public's independent check of the ledger.

use std::process::ExitCode;

use clap::Parser;

/// Independent verifier for the e-government audit ledger.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    eprintln!("ledger-verify: no subcommands yet (issue #4)");
    ExitCode::from(2)
}
