//! `kumo`: the command-line interface to Kumo.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = kumo_cli::Cli::parse();
    match kumo_cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
