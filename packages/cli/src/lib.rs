//! The `kumo` command. Commands live here so that tests can call them; `main.rs` only parses
//! arguments and prints errors.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub mod chain;
pub mod ctx;
pub mod gov;
pub mod keys;
pub mod lease_api;
pub mod provider;
pub mod sdl;
pub mod tenant;

pub use ctx::Globals;

#[derive(Debug, Parser)]
#[command(
    name = "kumo",
    version,
    about = "Kumo: a decentralized compute marketplace on CosmWasm"
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an Akash SDL (deploy.yaml) and show what it deploys.
    #[command(subcommand)]
    Sdl(sdl::SdlCommand),
    /// Keys in the encrypted keyring (HOME/keyring.json).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Create a deployment from an SDL: one order per group, the deposit in escrow.
    Deploy(tenant::DeployArgs),
    /// The bids on a deployment's orders.
    Bids(tenant::BidsArgs),
    /// Accept a bid (create a lease) or close a lease.
    #[command(subcommand)]
    Lease(tenant::LeaseCommand),
    /// Send the manifest to the providers of a deployment's leases.
    SendManifest(lease_api::SendManifestArgs),
    /// A deployment's state on chain and its leases' status at the providers; without DSEQ,
    /// the signer's deployments.
    Status(lease_api::StatusArgs),
    /// Stream the logs of a deployment's workloads from its providers.
    Logs(lease_api::LogsArgs),
    /// Add funds to a deployment's escrow account.
    Deposit(tenant::DepositArgs),
    /// Close a deployment: its leases end and the escrow is refunded.
    Close { dseq: u64 },
    /// Provider registration, bond, and lease-API keys.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Governance proposals and votes.
    #[command(subcommand)]
    Gov(gov::GovCommand),
    /// Run a local chain with the Kumo suite deployed (REST on 127.0.0.1:1317).
    Devnet(chain::DevnetArgs),
    /// Store, instantiate and wire the Kumo contracts on a wasmd chain.
    DeploySuite(chain::DeploySuiteArgs),
    /// Print a shell completion script: `kumo completions bash > /etc/bash_completion.d/kumo`.
    Completions { shell: clap_complete::Shell },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.globals;
    match cli.command {
        Command::Sdl(cmd) => sdl::run(cmd),
        Command::Keys(cmd) => keys::run(g, cmd),
        Command::Deploy(args) => tenant::deploy(g, args),
        Command::Bids(args) => tenant::bids(g, args),
        Command::Lease(cmd) => tenant::lease(g, cmd),
        Command::SendManifest(args) => lease_api::send_manifest(g, args),
        Command::Status(args) => lease_api::status(g, args),
        Command::Logs(args) => lease_api::logs(g, args),
        Command::Deposit(args) => tenant::deposit(g, args),
        Command::Close { dseq } => tenant::close(g, dseq),
        Command::Provider(cmd) => provider::run(g, cmd),
        Command::Gov(cmd) => gov::run(g, cmd),
        Command::Devnet(args) => chain::devnet(g, args),
        Command::DeploySuite(args) => chain::deploy_suite(g, args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "kumo", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
