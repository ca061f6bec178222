//! `kumo devnet` and `kumo deploy-suite`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use cosmwasm_std::coins;
use kumo_chain::{deploy, Client, ClientConfig, Key};

/// A well-known development mnemonic: never use it for real funds.
pub const DEV_MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Data directory (state, compiled wasm, suite addresses) [default: ~/.kumo/devnet]
    #[arg(long)]
    pub home: Option<PathBuf>,
    /// Address for the REST API.
    #[arg(long, default_value = "127.0.0.1:1317")]
    pub listen: SocketAddr,
    #[arg(long, default_value = "kumo-devnet-1")]
    pub chain_id: String,
    /// Bech32 prefix of addresses.
    #[arg(long, default_value = "kumo")]
    pub prefix: String,
    /// Fee and staking denom.
    #[arg(long, default_value = "ukumo")]
    pub denom: String,
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

#[derive(Debug, Args)]
pub struct DeploySuiteArgs {
    /// REST endpoint of the chain (wasmd's API, port 1317).
    #[arg(long, default_value = "http://127.0.0.1:1317")]
    pub node: String,
    /// Environment variable holding the deployer's mnemonic.
    #[arg(long, default_value = "KUMO_MNEMONIC")]
    pub mnemonic_env: String,
    #[arg(long, default_value = "kumo")]
    pub prefix: String,
    /// Fee denom; the suite's escrow accepts it and bids are deposited in it.
    #[arg(long, default_value = "ukumo")]
    pub denom: String,
    #[arg(long, default_value_t = 0.025)]
    pub gas_price: f64,
    #[arg(long, default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// Deploy the staking contract too (providers must bond to bid).
    #[arg(long)]
    pub staking: bool,
    /// Owner and wasm admin of every contract [default: the deployer]
    #[arg(long)]
    pub owner: Option<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn devnet(args: DevnetArgs) -> anyhow::Result<ExitCode> {
    let home = match &args.home {
        Some(h) => h.clone(),
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".kumo/devnet"))
            .ok_or_else(|| anyhow!("HOME is not set; pass --home DIR"))?,
    };
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
        .map(|k| k.address(&args.prefix))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("--prefix {:?} is not a valid bech32 prefix", args.prefix))?;
    let fresh = !home.join("state.log").exists();
    let app = kumo_devnet::App::open(kumo_devnet::Config {
        chain_id: args.chain_id.clone(),
        prefix: args.prefix.clone(),
        denom: args.denom.clone(),
        min_gas_price: 0.0,
        home: home.clone(),
        genesis: addresses
            .iter()
            .map(|a| (a.clone(), coins(1_000_000_000_000_000, &args.denom)))
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
                    prefix: args.prefix.clone(),
                    gas_price_amount: 0.0,
                    gas_denom: args.denom.clone(),
                    gas_adjustment: 1.3,
                },
            )?;
            let mut config = deploy::default_config(&args.denom);
            config.staking = Some(deploy::staking_params(&args.denom));
            let suite = deploy::deploy_suite(&client, &keys[0], &args.artifacts, &config)
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

pub fn deploy_suite(args: DeploySuiteArgs) -> anyhow::Result<ExitCode> {
    let mnemonic = std::env::var(&args.mnemonic_env).map_err(|_| {
        anyhow!(
            "set {} to the deployer's mnemonic (or pass --mnemonic-env VAR)",
            args.mnemonic_env
        )
    })?;
    let key = Key::from_mnemonic(&mnemonic)?;
    runtime()?.block_on(async move {
        let client = Client::new(
            &args.node,
            ClientConfig {
                prefix: args.prefix.clone(),
                gas_price_amount: args.gas_price,
                gas_denom: args.denom.clone(),
                gas_adjustment: 1.3,
            },
        )?;
        let mut config = deploy::default_config(&args.denom);
        config.owner = args.owner.clone();
        if args.staking {
            config.staking = Some(deploy::staking_params(&args.denom));
        }
        let suite = deploy::deploy_suite(&client, &key, &args.artifacts, &config).await?;
        println!("{}", serde_json::to_string_pretty(&suite)?);
        Ok(ExitCode::SUCCESS)
    })
}
