//! The `kumo` command. Commands live here so that tests can call them; `main.rs` only parses
//! arguments and prints errors.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod chain;
pub mod sdl;

#[derive(Debug, Parser)]
#[command(
    name = "kumo",
    version,
    about = "Kumo: a decentralized compute marketplace on CosmWasm"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an Akash SDL (deploy.yaml) and show what it deploys.
    #[command(subcommand)]
    Sdl(sdl::SdlCommand),
    /// Run a local chain with the Kumo suite deployed (REST on 127.0.0.1:1317).
    Devnet(chain::DevnetArgs),
    /// Store, instantiate and wire the Kumo contracts on a wasmd chain.
    DeploySuite(chain::DeploySuiteArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sdl(cmd) => sdl::run(cmd),
        Command::Devnet(args) => chain::devnet(args),
        Command::DeploySuite(args) => chain::deploy_suite(args),
    }
}
