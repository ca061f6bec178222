//! `kumo-provider`: the provider daemon. The work is in the library (`kumo_provider::daemon`);
//! this parses the command line and the config file and runs it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use kumo_provider::config::Config;
use kumo_provider::daemon;

#[derive(Debug, Parser)]
#[command(
    name = "kumo-provider",
    version,
    about = "Kumo's provider daemon: bids on orders, runs won leases, serves the lease API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the provider until SIGINT or SIGTERM.
    Run {
        /// The TOML configuration (`kumo-provider example-config` prints a commented one).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print a commented example configuration.
    ExampleConfig,
    /// Parse and validate a configuration, and print the settings it resolves to.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kumo-provider: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::ExampleConfig => {
            print!("{}", Config::example());
            Ok(())
        }
        Command::CheckConfig { config } => {
            let config = Config::load(&config)?;
            println!("{config}");
            // The files the settings point at, and the key (its address is what to register).
            let contracts = config.load_contracts()?;
            let or_none = |a: &str| {
                if a.is_empty() {
                    "(none)".to_string()
                } else {
                    a.to_string()
                }
            };
            println!(
                "contracts resolved: registry {}, market {}, escrow {}, staking {}",
                contracts.registry,
                contracts.market,
                contracts.escrow,
                or_none(&contracts.staking)
            );
            config.bid_engine()?;
            let key = config.load_key()?;
            println!(
                "provider address: {}",
                key.address(&config.chain.prefix)
                    .context("deriving the provider's address")?
            );
            println!("configuration OK");
            Ok(())
        }
        Command::Run { config } => {
            let config = Config::load(&config)?;
            daemon::init_logging(&config.log)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(daemon::run(config, daemon::shutdown_signal()))?;
            Ok(())
        }
    }
}
