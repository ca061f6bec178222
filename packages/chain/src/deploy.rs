//! `deploy_suite`: store, instantiate and wire Kumo's contracts on any wasmd chain — the same
//! steps on the devnet and on a real chain.

use std::path::{Path, PathBuf};

use ::kumo::{escrow, market, registry, staking, Asset};
use cosmwasm_std::Uint128;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ChainError, Client, Key, KumoContracts};

pub const CONTRACTS: [&str; 5] = ["registry", "market", "escrow", "staking", "governance"];

/// What the suite is deployed with. The deployer's address owns every contract unless
/// `owner` names another (a governance contract, a multisig).
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    pub owner: Option<String>,
    pub treasury: Option<String>,
    pub escrow_denoms: Vec<escrow::DenomConfig>,
    pub bid_min_deposits: Vec<Asset>,
    /// Staking parameters; `None` deploys without provider bonds.
    pub staking: Option<staking::StakingParams>,
    pub label_prefix: String,
}

/// Code ids and addresses of a deployed suite.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeployedSuite {
    pub code_ids: Vec<(String, u64)>,
    pub contracts: KumoContracts,
}

/// Reads `kumo_<name>.wasm` from `dir`, checked against `checksums.txt` when it is there.
pub fn read_artifact(dir: &Path, name: &str) -> Result<Vec<u8>, ChainError> {
    let path: PathBuf = dir.join(format!("kumo_{name}.wasm"));
    let wasm = std::fs::read(&path).map_err(|e| ChainError::Artifact {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if let Ok(sums) = std::fs::read_to_string(dir.join("checksums.txt")) {
        let file = format!("kumo_{name}.wasm");
        if let Some(expected) = sums
            .lines()
            .filter_map(|l| l.split_once(char::is_whitespace))
            .find(|(_, f)| f.trim() == file)
            .map(|(sum, _)| sum.to_string())
        {
            let actual = hex::encode(Sha256::digest(&wasm));
            if actual != expected {
                return Err(ChainError::Artifact {
                    path,
                    reason: format!("sha256 is {actual}, checksums.txt says {expected}"),
                });
            }
        }
    }
    Ok(wasm)
}

/// Stores the contracts, instantiates registry, escrow, market (and staking), and points each
/// at the others. Returns once every transaction is in a block.
pub async fn deploy_suite(
    client: &Client,
    key: &Key,
    artifacts: &Path,
    config: &SuiteConfig,
) -> Result<DeployedSuite, ChainError> {
    let me = client.address(key)?;
    let owner = config.owner.clone().unwrap_or_else(|| me.clone());
    let treasury = config.treasury.clone().unwrap_or_else(|| owner.clone());
    let mut names = vec!["registry", "escrow", "market"];
    if config.staking.is_some() {
        names.push("staking");
    }
    let mut code_ids = vec![];
    for name in &names {
        let wasm = read_artifact(artifacts, name)?;
        code_ids.push((name.to_string(), client.store_code(key, wasm).await?));
    }
    let code = |n: &str| {
        code_ids
            .iter()
            .find(|(c, _)| c == n)
            .map(|(_, id)| *id)
            .unwrap_or(0)
    };
    let label = |n: &str| format!("{}{n}", config.label_prefix);
    // The deployer wires the contracts, then hands ownership over.
    let registry_addr = client
        .instantiate(
            key,
            code("registry"),
            &registry::InstantiateMsg {
                owner: me.clone(),
                market: None,
                limits: None,
            },
            &label("registry"),
            Some(&owner),
            &[],
        )
        .await?;
    let escrow_addr = client
        .instantiate(
            key,
            code("escrow"),
            &escrow::InstantiateMsg {
                owner: me.clone(),
                market: None,
                treasury: treasury.clone(),
                guardian: None,
                params: None,
                denoms: config.escrow_denoms.clone(),
            },
            &label("escrow"),
            Some(&owner),
            &[],
        )
        .await?;
    let market_addr = client
        .instantiate(
            key,
            code("market"),
            &market::InstantiateMsg {
                owner: me.clone(),
                registry: registry_addr.clone(),
                escrow: escrow_addr.clone(),
                staking: None,
                guardian: None,
                params: Some(market::MarketParams {
                    bid_min_deposits: config.bid_min_deposits.clone(),
                    ..market::MarketParams::default()
                }),
            },
            &label("market"),
            Some(&owner),
            &[],
        )
        .await?;
    let staking_addr = match &config.staking {
        Some(params) => Some(
            client
                .instantiate(
                    key,
                    code("staking"),
                    &staking::InstantiateMsg {
                        owner: owner.clone(),
                        market: Some(market_addr.clone()),
                        treasury: treasury.clone(),
                        arbiter: None,
                        params: params.clone(),
                    },
                    &label("staking"),
                    Some(&owner),
                    &[],
                )
                .await?,
        ),
        None => None,
    };
    let hand_over = (owner != me).then(|| owner.clone());
    client
        .execute(
            key,
            &registry_addr,
            &registry::ExecuteMsg::UpdateConfig {
                owner: hand_over.clone(),
                market: Some(market_addr.clone()),
                limits: None,
            },
            &[],
        )
        .await?;
    client
        .execute(
            key,
            &escrow_addr,
            &escrow::ExecuteMsg::UpdateConfig {
                owner: hand_over.clone(),
                market: Some(market_addr.clone()),
                treasury: None,
                guardian: None,
                params: None,
            },
            &[],
        )
        .await?;
    client
        .execute(
            key,
            &market_addr,
            &market::ExecuteMsg::UpdateConfig {
                owner: hand_over,
                registry: None,
                escrow: None,
                staking: staking_addr.clone(),
                guardian: None,
            },
            &[],
        )
        .await?;
    Ok(DeployedSuite {
        code_ids,
        contracts: KumoContracts {
            registry: registry_addr,
            market: market_addr,
            escrow: escrow_addr,
            staking: staking_addr.unwrap_or_default(),
            governance: String::new(),
        },
    })
}

/// A suite for a chain whose fee denom is `denom`: escrow accepts it with a 5 `denom` minimum
/// deposit and a 2% take; bids need 0.5 `denom`.
pub fn default_config(denom: &str) -> SuiteConfig {
    SuiteConfig {
        owner: None,
        treasury: None,
        escrow_denoms: vec![escrow::DenomConfig {
            denom: ::kumo::Denom::Native(denom.into()),
            min_deposit: Uint128::new(5_000_000),
            take_rate: cosmwasm_std::Decimal::percent(2),
        }],
        bid_min_deposits: vec![Asset {
            denom: ::kumo::Denom::Native(denom.into()),
            amount: Uint128::new(500_000),
        }],
        staking: None,
        label_prefix: "kumo-".into(),
    }
}

/// Staking parameters for a suite in `denom`: a 10 `denom` minimum bond (at 6 decimals),
/// heartbeats every 300 s with 3 periods of grace, a 10% slash of which 10% goes to the
/// reporter and 50% to the tenants, a day in jail, a week to unbond.
pub fn staking_params(denom: &str) -> staking::StakingParams {
    use cosmwasm_std::Decimal;
    staking::StakingParams {
        bond_denom: ::kumo::Denom::Native(denom.into()),
        min_bond: Uint128::new(10_000_000),
        bond_ratio: Decimal::one(),
        bond_window: 86_400,
        unbonding_period: 604_800,
        max_unbonding_entries: 7,
        attendance_period: 300,
        grace_periods: 3,
        slash_fraction: Decimal::percent(10),
        reporter_share: Decimal::percent(10),
        compensation_share: Decimal::percent(50),
        jail_duration: 86_400,
        dispute_deposit: Uint128::new(1_000_000),
        dispute_timeout: 604_800,
    }
}
