//! `kumo devnet` and `kumo deploy-suite`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;

use crate::ctx::{runtime, spin, Globals};
use cosmwasm_std::coins;
use kumo_chain::{deploy, Client, ClientConfig, Key};

/// A well-known development mnemonic: never use it for real funds.
pub const DEV_MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

/// The devnet keeps its state, compiled wasm and suite addresses in HOME/devnet (`--home`).
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Address for the REST API.
    #[arg(long, default_value = "127.0.0.1:1317")]
    pub listen: SocketAddr,
    #[arg(long, default_value = "kumo-devnet-1")]
    pub chain_id: String,
    /// Seconds between blocks.
    #[arg(long, default_value_t = 1.0)]
    pub block_time: f64,
    /// Mnemonic of the genesis accounts (m/44'/118'/0'/0/i); also read from
    /// KUMO_DEVNET_MNEMONIC [default: a published development mnemonic]
    #[arg(long)]
    pub mnemonic: Option<String>,
    /// Number of funded genesis accounts.
    #[arg(long, default_value_t = 5)]
    pub accounts: u32,
    /// Directory of the contract artifacts.
    #[arg(long, default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// Start the chain without deploying the Kumo suite.
    #[arg(long)]
    pub no_deploy: bool,
    /// Exit after the suite is deployed instead of serving (for scripts and tests).
    #[arg(long, hide = true)]
    pub exit_after_deploy: bool,
}

/// The chain is `--node`, addressed with `--prefix`; fees are paid in `--denom` at `--gas-price`.
/// The addresses are printed as JSON, and written to `--suite FILE` when it is given.
#[derive(Debug, Args)]
pub struct DeploySuiteArgs {
    /// Environment variable holding the deployer's mnemonic.
    #[arg(long, default_value = "KUMO_MNEMONIC")]
    pub mnemonic_env: String,
    #[arg(long, default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// Deploy the staking contract too (providers must bond to bid).
    #[arg(long)]
    pub staking: bool,
    /// Owner and wasm admin of every contract [default: the deployer]
    #[arg(long)]
    pub owner: Option<String>,
}

pub fn devnet(g: &Globals, args: DevnetArgs) -> anyhow::Result<ExitCode> {
    let home = g.home()?.join("devnet");
    let prefix = g.prefix.clone();
    let denom = g.denom.clone();
    if !(args.block_time > 0.0 && args.block_time <= 600.0) {
        bail!(
            "--block-time must be between 0 and 600 seconds, got {}",
            args.block_time
        );
    }
    let given = args
        .mnemonic
        .clone()
        .or_else(|| std::env::var("KUMO_DEVNET_MNEMONIC").ok());
    let published = given.is_none();
    let mnemonic = given.unwrap_or_else(|| DEV_MNEMONIC.into());
    let keys = (0..args.accounts.max(1))
        .map(|i| Key::from_mnemonic_index(&mnemonic, i))
        .collect::<Result<Vec<_>, _>>()
        .context("deriving the genesis accounts from the mnemonic")?;
    let addresses = keys
        .iter()
        .map(|k| k.address(&prefix))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("--prefix {:?} is not a valid bech32 prefix", prefix))?;
    let fresh = !home.join("state.log").exists();
    let app = kumo_devnet::App::open(kumo_devnet::Config {
        chain_id: args.chain_id.clone(),
        prefix: prefix.clone(),
        denom: denom.clone(),
        min_gas_price: 0.0,
        home: home.clone(),
        genesis: addresses
            .iter()
            .map(|a| (a.clone(), coins(1_000_000_000_000_000, &denom)))
            .collect(),
    })
    .map_err(|e| anyhow!("{e}"))
    .with_context(|| format!("opening the devnet in {}", home.display()))?;
    runtime()?.block_on(async move {
        let devnet =
            kumo_devnet::Devnet::serve(app, args.listen, Duration::from_secs_f64(args.block_time))
                .await
                .map_err(|e| anyhow!("{e}"))?;
        println!(
            "kumo devnet {} serving {} (home {})",
            args.chain_id,
            devnet.url(),
            home.display()
        );
        for (i, a) in addresses.iter().enumerate() {
            println!("  account {i}: {a}");
        }
        if published {
            println!(
                "  (accounts from the published development mnemonic: never use it for real funds)"
            );
        }
        let suite_file = home.join("suite.json");
        if fresh && !args.no_deploy {
            let client = Client::new(
                devnet.url(),
                ClientConfig {
                    prefix: prefix.clone(),
                    gas_price_amount: 0.0,
                    gas_denom: denom.clone(),
                    gas_adjustment: 1.3,
                },
            )?;
            let mut config = deploy::default_config(&denom);
            config.staking = Some(deploy::staking_params(&denom));
            let suite = spin(
                "deploying the Kumo suite".into(),
                deploy::deploy_suite(&client, &keys[0], &args.artifacts, &config),
            )
            .await
            .context("deploying the Kumo suite")?;
            for (_, id) in &suite.code_ids {
                devnet.app().pin_code(*id).map_err(|e| anyhow!("{e}"))?;
            }
            std::fs::write(&suite_file, serde_json::to_vec_pretty(&suite)?)?;
        }
        if let Ok(s) = std::fs::read_to_string(&suite_file) {
            println!("suite ({}):\n{s}", suite_file.display());
        }
        if args.exit_after_deploy {
            devnet.stop().await;
            return Ok(ExitCode::SUCCESS);
        }
        tokio::signal::ctrl_c().await.ok();
        devnet.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn deploy_suite(g: &Globals, args: DeploySuiteArgs) -> anyhow::Result<ExitCode> {
    let mnemonic = std::env::var(&args.mnemonic_env).map_err(|_| {
        anyhow!(
            "set {} to the deployer's mnemonic (or pass --mnemonic-env VAR)",
            args.mnemonic_env
        )
    })?;
    let key = Key::from_mnemonic(&mnemonic)?;
    runtime()?.block_on(async move {
        let client = g.client()?;
        let mut config = deploy::default_config(&g.denom);
        config.owner = args.owner.clone();
        if args.staking {
            config.staking = Some(deploy::staking_params(&g.denom));
        }
        let suite = spin(
            "deploying the suite: storing and instantiating the contracts".into(),
            deploy::deploy_suite(&client, &key, &args.artifacts, &config),
        )
        .await
        .map_err(|e| g.explain(e))?;
        let json = serde_json::to_string_pretty(&suite)?;
        if let Some(path) = &g.suite {
            std::fs::write(path, &json)
                .with_context(|| format!("writing the suite file {}", path.display()))?;
        }
        println!("{json}");
        Ok(ExitCode::SUCCESS)
    })
}
