//! `agency-client`: what an agency runs to take part in the ledger. See the
//! library's documentation and README.md for the commands.

fn main() -> std::process::ExitCode {
    agency_client::cli::main()
}
