//! The tenant's commands on chain: `deploy`, `bids`, `lease create|close`, `deposit`, `close`,
//! and the chain half of `status`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use cosmwasm_std::{Addr, Binary, Coin, Decimal256, HexBinary, Uint128};
use kumo::market::{self, Bid, BidState, DeploymentResponse, Lease, LeaseState};
use kumo::{escrow, registry, staking, DeploymentId, LeaseId};
use kumo_chain::{Client, Key, KumoContracts};
use serde_json::{json, Value};

use crate::ctx::{self, Globals};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The SDL (deploy.yaml).
    pub sdl: PathBuf,
    /// What to put in escrow, e.g. 5000000ukumo [default: the escrow's minimum for the SDL's denom]
    #[arg(long)]
    pub deposit: Option<String>,
    /// Pay the deposit in this CW20 token (the amount of --deposit, its denom ignored). The SDL
    /// must price its groups in it: `denom: cw20:TOKEN`.
    #[arg(long)]
    pub cw20: Option<String>,
    /// Lease the lowest bid automatically once this many seconds have passed (an auction).
    #[arg(long)]
    pub auction_window: Option<u64>,
}

#[derive(Debug, Args)]
pub struct BidsArgs {
    pub dseq: u64,
    /// Wait until at least one open bid arrived on every group.
    #[arg(long)]
    pub wait: bool,
    /// Longest wait for --wait, seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// With --wait: wait for this many open bids on every group.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub min_bids: u32,
}

#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Accept a provider's bid: the lease starts and payment streams.
    Create(LeaseArgs),
    /// Close a lease (the group is re-listed while the deployment is open).
    Close(LeaseArgs),
}

#[derive(Debug, Args)]
pub struct LeaseArgs {
    pub dseq: u64,
    /// The provider's address [default for close: the deployment's only lease]
    #[arg(long)]
    pub provider: Option<String>,
    /// Create: accept the lowest open bid (ties to the earliest), instead of --provider.
    #[arg(long, conflicts_with = "provider")]
    pub lowest: bool,
    #[arg(long, default_value_t = 1)]
    pub gseq: u32,
    /// [default: the group's current order]
    #[arg(long)]
    pub oseq: Option<u32>,
}

#[derive(Debug, Args)]
pub struct DepositArgs {
    pub dseq: u64,
    /// e.g. 5000000ukumo (with --cw20, the denom is ignored).
    pub amount: String,
    /// Pay in this CW20 token: the one the deployment is paid in.
    #[arg(long)]
    pub cw20: Option<String>,
}

pub fn runtime_block<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    ctx::runtime()?.block_on(f)
}

/// Reads and validates an SDL: a missing file and an invalid SDL (with the path inside it) are
/// errors that say so.
pub fn load_sdl(path: &Path) -> anyhow::Result<kumo_sdl::Sdl> {
    let src = ctx::read_file(path, "an SDL is a deploy.yaml file")?;
    let sdl = kumo_sdl::parse(&src).map_err(|e| {
        anyhow!(
            "{}: {e} (check it with `kumo sdl check {}`)",
            path.display(),
            path.display()
        )
    })?;
    for w in &sdl.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    Ok(sdl)
}

struct Chain {
    client: Client,
    contracts: KumoContracts,
}

fn chain(g: &Globals) -> anyhow::Result<Chain> {
    Ok(Chain {
        contracts: g.contracts()?,
        client: g.client()?,
    })
}

fn blocks_per_second(block_time_ms: u64) -> Decimal256 {
    Decimal256::from_ratio(1000u64, block_time_ms.max(1))
}

pub fn deploy(g: &Globals, args: DeployArgs) -> anyhow::Result<ExitCode> {
    let sdl = load_sdl(&args.sdl)?;
    let c = chain(g)?;
    runtime_block(async move {
        let config: market::ConfigResponse = g
            .query(&c.client, &c.contracts.market, &market::QueryMsg::Config {})
            .await?;
        let denom = sdl
            .groups
            .first()
            .and_then(|gr| gr.denom())
            .unwrap_or(&g.denom)
            .to_string();
        match (&args.cw20, denom.strip_prefix("cw20:")) {
            (Some(token), priced) if priced != Some(token.as_str()) => bail!(
                "{} prices its groups in {denom}, but --cw20 pays the deposit in cw20:{token}: set `denom: cw20:{token}` in its pricing (the market takes the deposit in the SDL's denom)",
                args.sdl.display()
            ),
            (None, Some(token)) => bail!(
                "{} prices its groups in the CW20 token {token}: pay the deposit in it with --cw20 {token}",
                args.sdl.display()
            ),
            _ => {}
        }
        if let Some(token) = &args.cw20 {
            check_cw20_token(g, &c.client, token).await?;
        }
        let per_sec = blocks_per_second(config.params.block_time_ms);
        let groups: Vec<Value> = sdl
            .groups
            .iter()
            .map(|gr| {
                let p = gr.price() * per_sec;
                json!({
                    "name": gr.name,
                    "resources": gr.resources.len(),
                    "max_price_per_block": gr.price().to_string(),
                    "max_price_per_second": p.to_string(),
                    "max_price_per_month": ctx::per_month(p),
                    "denom": gr.denom(),
                })
            })
            .collect();
        let (amount, deposit_denom) = match (&args.deposit, &args.cw20) {
            (Some(d), None) => ctx::parse_coin(d)?,
            (deposit, cw20) => {
                let denoms: escrow::DenomsResponse = g
                    .query(&c.client, &c.contracts.escrow, &escrow::QueryMsg::Denoms {})
                    .await?;
                let min = denoms
                    .denoms
                    .iter()
                    .find(|d| d.denom.to_string() == denom)
                    .map(|d| d.min_deposit.u128())
                    .ok_or_else(|| match cw20 {
                        Some(token) => anyhow!("the escrow does not accept the CW20 token {token}: the escrow's owner (governance) lists a token with the escrow's SetDenom, or pay in a denom the escrow accepts"),
                        None => anyhow!("the escrow does not accept {denom}, the SDL's pricing denom: price the SDL in one it accepts"),
                    })?;
                match deposit {
                    Some(d) => (cw20_amount(d)?, denom.clone()),
                    None => (min, denom.clone()),
                }
            }
        };
        if !g.json() {
            let rows: Vec<Vec<String>> = sdl
                .groups
                .iter()
                .map(|gr| {
                    let p = gr.price() * per_sec;
                    vec![
                        gr.name.clone(),
                        gr.resources
                            .iter()
                            .map(|r| r.count)
                            .sum::<u32>()
                            .to_string(),
                        format!("{} {}", ctx::per_month(p), gr.denom().unwrap_or_default()),
                    ]
                })
                .collect();
            eprint!(
                "{}",
                ctx::table(&["GROUP", "REPLICAS", "MAX PRICE/MONTH"], &rows)
            );
        }
        let (_, key) = g.key()?;
        let me = g.address(&key)?;
        let new = market::NewDeployment {
            groups: sdl.groups.clone(),
            version: HexBinary::from(sdl.manifest_version().to_vec()),
            auction_window: args.auction_window,
            reclamation_min_window: None,
            provider_record: None,
        };
        g.confirm(&format!(
            "Create the deployment with a deposit of {amount}{deposit_denom}?"
        ))?;
        let tx = match &args.cw20 {
            Some(token) => {
                check_cw20_balance(g, &c.client, token, &me, amount).await?;
                let msg = cw20_send(
                    &c.contracts.market,
                    amount,
                    &market::ReceiveMsg::CreateDeployment(new),
                )?;
                g.exec(&c.client, &key, token, &msg, &[], "creating the deployment")
                    .await?
            }
            None => {
                check_balance(g, &c.client, &me, amount, &deposit_denom).await?;
                g.exec(
                    &c.client,
                    &key,
                    &c.contracts.market,
                    &market::ExecuteMsg::CreateDeployment(new),
                    &[Coin::new(amount, &deposit_denom)],
                    "creating the deployment",
                )
                .await?
            }
        };
        let dseq: u64 = tx
            .event_attr("wasm", "dseq")
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| anyhow!("transaction {} has no dseq in its events", tx.txhash))?;
        g.emit(
            json!({
                "dseq": dseq,
                "owner": me,
                "txhash": tx.txhash,
                "height": tx.height,
                "version": sdl.version_hex(),
                "deposit": format!("{amount}{}", args.cw20.as_ref().map(|t| format!("cw20:{t}")).unwrap_or(deposit_denom.clone())),
                "groups": groups,
            }),
            || {
                format!(
                    "created deployment {me}/{dseq} (tx {})\nnext: `kumo bids {dseq} --wait`, then `kumo lease create {dseq} --provider ADDR`",
                    tx.txhash
                )
            },
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Fails with the balance and what is needed before a native payment that cannot succeed.
async fn check_balance(
    g: &Globals,
    client: &Client,
    address: &str,
    amount: u128,
    denom: &str,
) -> anyhow::Result<()> {
    let have = client
        .balance(address, denom)
        .await
        .map_err(|e| g.explain(e))?;
    if have < amount {
        bail!(
            "insufficient funds: {address} has {have}{denom} and this needs {amount}{denom} (plus the fee); fund the account or ask for less"
        );
    }
    Ok(())
}

/// Fails, saying what to pass instead, unless `token` is a CW20 token contract.
pub(crate) async fn check_cw20_token(
    g: &Globals,
    client: &Client,
    token: &str,
) -> anyhow::Result<()> {
    let fix = "pass the token contract's address to --cw20";
    match client
        .query_smart::<Value>(token, &json!({"token_info": {}}))
        .await
    {
        Ok(info) if info["symbol"].is_string() => Ok(()),
        Ok(info) => bail!(
            "{token:?} is not a CW20 token contract (it answered token_info with {info}): {fix}"
        ),
        Err(e @ kumo_chain::ChainError::Unreachable { .. }) => Err(g.explain(e)),
        Err(e) => bail!(
            "{token:?} is not a CW20 token contract (its token_info query failed: {e}): {fix}"
        ),
    }
}

/// Fails with the balance and what is needed before a CW20 payment that cannot succeed.
pub(crate) async fn check_cw20_balance(
    g: &Globals,
    client: &Client,
    token: &str,
    address: &str,
    amount: u128,
) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct Balance {
        balance: Uint128,
    }
    let have: Balance = g
        .query(client, token, &json!({"balance": {"address": address}}))
        .await?;
    if have.balance.u128() < amount {
        bail!(
            "insufficient funds: {address} has {} of the CW20 token {token} and this needs {amount}; get more of the token, or ask for less",
            have.balance
        );
    }
    Ok(())
}

/// The amount of a CW20 payment: `5000000`, or `5000000anything` (the denom is ignored).
pub(crate) fn cw20_amount(s: &str) -> anyhow::Result<u128> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits
        .parse()
        .map_err(|_| anyhow!("{s:?} is not an amount: write it like 5000000"))
}

fn cw20_send(contract: &str, amount: u128, msg: &impl serde::Serialize) -> anyhow::Result<Value> {
    Ok(json!({"send": {
        "contract": contract,
        "amount": Uint128::new(amount).to_string(),
        "msg": Binary::from(serde_json::to_vec(msg)?),
    }}))
}

/// The deployment `dseq` of `owner`, or an error that says how to find one's deployments.
async fn deployment(
    g: &Globals,
    c: &Chain,
    owner: &str,
    dseq: u64,
) -> anyhow::Result<DeploymentResponse> {
    let q = market::QueryMsg::Deployment {
        id: DeploymentId::new(Addr::unchecked(owner), dseq),
    };
    match c.client.query_smart(&c.contracts.market, &q).await {
        Ok(d) => Ok(d),
        Err(e) if e.is_not_found() || e.to_string().contains("not found") => Err(anyhow!(
            "deployment {dseq} of {owner} not found: list yours with `kumo status`"
        )),
        Err(e) => Err(g.explain(e)),
    }
}

/// The owner's leases of deployment `dseq` (every page of the owner's leases).
async fn leases(g: &Globals, c: &Chain, owner: &str, dseq: u64) -> anyhow::Result<Vec<Lease>> {
    let all = ctx::all_pages(
        |start_after: Option<LeaseId>| async move {
            let page: market::LeasesResponse = g
                .query(
                    &c.client,
                    &c.contracts.market,
                    &market::QueryMsg::OwnerLeases {
                        owner: owner.to_string(),
                        start_after,
                        limit: Some(ctx::PAGE_LIMIT),
                    },
                )
                .await?;
            Ok(page.leases)
        },
        |l| l.id.clone(),
    )
    .await?;
    Ok(all.into_iter().filter(|l| l.id.dseq == dseq).collect())
}

/// The deployment's live leases, for the lease API commands.
pub async fn live_leases(
    g: &Globals,
    client: &Client,
    contracts: &KumoContracts,
    owner: &str,
    dseq: u64,
) -> anyhow::Result<(DeploymentResponse, Vec<Lease>)> {
    let c = Chain {
        client: client.clone(),
        contracts: contracts.clone(),
    };
    let d = deployment(g, &c, owner, dseq).await?;
    let ls = leases(g, &c, owner, dseq)
        .await?
        .into_iter()
        .filter(|l| matches!(l.state, LeaseState::Active | LeaseState::Reclaiming))
        .collect();
    Ok((d, ls))
}

/// Every bid on the current order of each of the deployment's groups.
async fn bids_of(g: &Globals, c: &Chain, d: &DeploymentResponse) -> anyhow::Result<Vec<Bid>> {
    let mut out = vec![];
    for gr in &d.groups {
        let order = gr.id.order(gr.last_oseq);
        let order = &order;
        let bids = ctx::all_pages(
            |start_after: Option<String>| async move {
                let page: market::BidsResponse = g
                    .query(
                        &c.client,
                        &c.contracts.market,
                        &market::QueryMsg::Bids {
                            order: order.clone(),
                            start_after,
                            limit: Some(ctx::PAGE_LIMIT),
                        },
                    )
                    .await?;
                Ok(page.bids)
            },
            |b| b.id.provider.to_string(),
        )
        .await?;
        out.extend(bids);
    }
    Ok(out)
}

pub fn bids(g: &Globals, args: BidsArgs) -> anyhow::Result<ExitCode> {
    let c = chain(g)?;
    runtime_block(async move {
        let (_, key) = g.key()?;
        let me = g.address(&key)?;
        let d = deployment(g, &c, &me, args.dseq).await?;
        let mut bids = bids_of(g, &c, &d).await?;
        if args.wait {
            let bar = ctx::spinner(format!("waiting for bids on deployment {}", args.dseq));
            let start = Instant::now();
            loop {
                let covered = d.groups.iter().all(|gr| {
                    bids.iter()
                        .filter(|b| b.id.gseq == gr.id.gseq && b.state == BidState::Open)
                        .count()
                        >= args.min_bids as usize
                });
                if covered {
                    break;
                }
                if start.elapsed() > Duration::from_secs(args.timeout) {
                    bar.finish_and_clear();
                    bail!(
                        "no bid on every group of deployment {} after {} s: check that providers with matching attributes are running, or raise the price in the SDL",
                        args.dseq,
                        args.timeout
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                bids = bids_of(g, &c, &d).await?;
                bar.set_message(format!(
                    "waiting for bids on deployment {} ({} so far)",
                    args.dseq,
                    bids.len()
                ));
            }
            bar.finish_and_clear();
        }
        let mut rows = vec![];
        let mut docs = vec![];
        for b in &bids {
            let provider: Option<registry::ProviderResponse> = c
                .client
                .query_smart(
                    &c.contracts.registry,
                    &registry::QueryMsg::Provider {
                        address: b.id.provider.to_string(),
                    },
                )
                .await
                .ok();
            let attributes: Vec<String> = provider
                .map(|p| {
                    p.provider
                        .attributes
                        .iter()
                        .map(|a| format!("{}={}", a.key, a.value))
                        .collect()
                })
                .unwrap_or_default();
            let reputation = reputation(&c, b.id.provider.as_str()).await;
            let denom = d.deployment.denom.to_string();
            rows.push(vec![
                b.id.provider.to_string(),
                format!("{}/{}", b.id.gseq, b.id.oseq),
                format!("{} {denom}", ctx::per_month(b.price)),
                format!("{:?}", b.state).to_lowercase(),
                attributes.join(","),
                reputation
                    .as_ref()
                    .map(|r| format!("{} slashes", r.slashes))
                    .unwrap_or_else(|| "-".into()),
            ]);
            docs.push(json!({
                "provider": b.id.provider,
                "gseq": b.id.gseq,
                "oseq": b.id.oseq,
                "state": b.state,
                "price_per_second": b.price.to_string(),
                "price_per_month": ctx::per_month(b.price),
                "denom": denom,
                "attributes": attributes,
                "reputation": reputation,
            }));
        }
        g.emit(json!({"dseq": args.dseq, "bids": docs}), || {
            if rows.is_empty() {
                format!(
                    "no bids yet on deployment {}: wait with `kumo bids {} --wait`",
                    args.dseq, args.dseq
                )
            } else {
                ctx::table(
                    &[
                        "PROVIDER",
                        "GSEQ/OSEQ",
                        "PRICE/MONTH",
                        "STATE",
                        "ATTRIBUTES",
                        "REPUTATION",
                    ],
                    &rows,
                )
            }
        });
        Ok(ExitCode::SUCCESS)
    })
}

async fn reputation(c: &Chain, provider: &str) -> Option<staking::Reputation> {
    if c.contracts.staking.is_empty() {
        return None;
    }
    let r: staking::ProviderBondResponse = c
        .client
        .query_smart(
            &c.contracts.staking,
            &staking::QueryMsg::Provider {
                provider: provider.to_string(),
            },
        )
        .await
        .ok()?;
    Some(r.bond.reputation)
}

pub fn lease(g: &Globals, cmd: LeaseCommand) -> anyhow::Result<ExitCode> {
    let c = chain(g)?;
    runtime_block(async move {
        let (_, key) = g.key()?;
        let me = g.address(&key)?;
        match cmd {
            LeaseCommand::Create(a) => {
                let d = deployment(g, &c, &me, a.dseq).await?;
                let group = d
                    .groups
                    .iter()
                    .find(|gr| gr.id.gseq == a.gseq)
                    .ok_or_else(|| anyhow!("deployment {} has no group {}", a.dseq, a.gseq))?;
                let provider = match (&a.provider, a.lowest) {
                    (Some(p), _) => p.clone(),
                    (None, true) => {
                        let oseq = a.oseq.unwrap_or(group.last_oseq);
                        // The auction's rule: lowest price, ties to the earliest bid.
                        bids_of(g, &c, &d)
                            .await?
                            .into_iter()
                            .filter(|b| {
                                b.state == BidState::Open
                                    && b.id.gseq == a.gseq
                                    && b.id.oseq == oseq
                            })
                            .min_by_key(|b| (b.price, b.seq))
                            .map(|b| b.id.provider.to_string())
                            .ok_or_else(|| {
                                anyhow!(
                                    "no open bid on group {} of deployment {}: wait for one with `kumo bids {} --wait`",
                                    a.gseq,
                                    a.dseq,
                                    a.dseq
                                )
                            })?
                    }
                    (None, false) => bail!(
                        "pass --provider ADDR (pick one from `kumo bids {}`) or --lowest",
                        a.dseq
                    ),
                };
                let bid = group
                    .id
                    .order(a.oseq.unwrap_or(group.last_oseq))
                    .bid(Addr::unchecked(&provider));
                let known = c
                    .client
                    .query_smart::<market::BidResponse>(
                        &c.contracts.market,
                        &market::QueryMsg::Bid { id: bid.clone() },
                    )
                    .await;
                match known {
                    Ok(b) if b.bid.state == BidState::Open => {}
                    Ok(b) => bail!(
                        "the bid of {provider} on order {} is {}, not open: see the open bids with `kumo bids {}`",
                        bid.order(),
                        format!("{:?}", b.bid.state).to_lowercase(),
                        a.dseq
                    ),
                    Err(e) if e.is_not_found() || e.to_string().contains("not found") => bail!(
                        "no bid from {provider} on order {}: see the bids with `kumo bids {}`",
                        bid.order(),
                        a.dseq
                    ),
                    Err(e) => return Err(g.explain(e)),
                }
                g.confirm(&format!("Lease {bid}?"))?;
                let tx = g
                    .exec(
                        &c.client,
                        &key,
                        &c.contracts.market,
                        &market::ExecuteMsg::CreateLease { bid: bid.clone() },
                        &[],
                        "creating the lease",
                    )
                    .await?;
                g.emit(
                    json!({"lease": bid, "txhash": tx.txhash, "height": tx.height}),
                    || {
                        format!(
                            "lease {bid} created (tx {})\nnext: `kumo send-manifest SDL --dseq {}`",
                            tx.txhash, a.dseq
                        )
                    },
                );
            }
            LeaseCommand::Close(a) => {
                deployment(g, &c, &me, a.dseq).await?;
                let live: Vec<Lease> = leases(g, &c, &me, a.dseq)
                    .await?
                    .into_iter()
                    .filter(|l| {
                        l.state != LeaseState::Closed
                            && a.provider
                                .as_deref()
                                .is_none_or(|p| l.id.provider.as_str() == p)
                            && l.id.gseq == a.gseq
                            && a.oseq.is_none_or(|o| l.id.oseq == o)
                    })
                    .collect();
                let lease = match live.as_slice() {
                    [one] => one.id.clone(),
                    [] => bail!(
                        "deployment {} has no open lease matching that: see its leases with `kumo status {}`",
                        a.dseq,
                        a.dseq
                    ),
                    _ => bail!("deployment {} has several leases: pass --provider ADDR", a.dseq),
                };
                g.confirm(&format!("Close lease {lease}?"))?;
                let tx = g
                    .exec(
                        &c.client,
                        &key,
                        &c.contracts.market,
                        &market::ExecuteMsg::CloseLease {
                            lease: lease.clone(),
                        },
                        &[],
                        "closing the lease",
                    )
                    .await?;
                g.emit(
                    json!({"lease": lease, "txhash": tx.txhash, "height": tx.height}),
                    || format!("lease {lease} closed (tx {})", tx.txhash),
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn deposit(g: &Globals, args: DepositArgs) -> anyhow::Result<ExitCode> {
    let c = chain(g)?;
    runtime_block(async move {
        let (_, key) = g.key()?;
        let me = g.address(&key)?;
        let (amount, denom) = match &args.cw20 {
            Some(token) => (cw20_amount(&args.amount)?, format!("cw20:{token}")),
            None => ctx::parse_coin(&args.amount)?,
        };
        if let Some(token) = &args.cw20 {
            check_cw20_token(g, &c.client, token).await?;
        }
        let d = deployment(g, &c, &me, args.dseq).await?;
        let id = d.deployment.id.clone();
        let paid_in = d.deployment.denom.to_string();
        if paid_in != denom {
            match &d.deployment.denom {
                kumo::Denom::Cw20(token) => bail!(
                    "deployment {} is paid in the CW20 token {token}, not {denom}: deposit it with --cw20 {token}",
                    args.dseq
                ),
                kumo::Denom::Native(native) => bail!(
                    "deployment {} is paid in {native}, not {denom}: deposit {native}, e.g. `kumo deposit {} {}{native}`",
                    args.dseq,
                    args.dseq,
                    amount
                ),
            }
        }
        let tx = match &args.cw20 {
            Some(token) => {
                check_cw20_balance(g, &c.client, token, &me, amount).await?;
                let msg = cw20_send(
                    &c.contracts.market,
                    amount,
                    &market::ReceiveMsg::Deposit {
                        deployment: id.clone(),
                    },
                )?;
                g.exec(&c.client, &key, token, &msg, &[], "depositing")
                    .await?
            }
            None => {
                check_balance(g, &c.client, &me, amount, &denom).await?;
                g.exec(
                    &c.client,
                    &key,
                    &c.contracts.market,
                    &market::ExecuteMsg::Deposit {
                        deployment: id.clone(),
                    },
                    &[Coin::new(amount, &denom)],
                    "depositing",
                )
                .await?
            }
        };
        let shown = format!("{amount}{denom}");
        g.emit(
            json!({"deployment": id, "deposit": shown, "txhash": tx.txhash, "height": tx.height}),
            || format!("deposited {shown} into deployment {id} (tx {})", tx.txhash),
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn close(g: &Globals, dseq: u64) -> anyhow::Result<ExitCode> {
    let c = chain(g)?;
    runtime_block(async move {
        let (_, key) = g.key()?;
        let me = g.address(&key)?;
        let d = deployment(g, &c, &me, dseq).await?;
        if d.deployment.state == market::DeploymentState::Closed {
            bail!("deployment {dseq} is already closed");
        }
        g.confirm(&format!(
            "Close deployment {dseq}, its leases, and refund the escrow?"
        ))?;
        let tx = g
            .exec(
                &c.client,
                &key,
                &c.contracts.market,
                &market::ExecuteMsg::CloseDeployment { dseq },
                &[],
                "closing the deployment",
            )
            .await?;
        g.emit(
            json!({"deployment": d.deployment.id, "txhash": tx.txhash, "height": tx.height}),
            || {
                format!(
                    "deployment {} closed and its escrow refunded (tx {})",
                    d.deployment.id, tx.txhash
                )
            },
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Chain state of a deployment for `kumo status DSEQ`: the deployment, its groups, its escrow
/// account and its leases.
pub async fn chain_status(
    g: &Globals,
    client: &Client,
    contracts: &KumoContracts,
    owner: &str,
    dseq: u64,
) -> anyhow::Result<(Value, String, Vec<Lease>)> {
    let c = Chain {
        client: client.clone(),
        contracts: contracts.clone(),
    };
    let d = deployment(g, &c, owner, dseq).await?;
    let ls = leases(g, &c, owner, dseq).await?;
    let account: Option<escrow::AccountResponse> = client
        .query_smart(
            &contracts.escrow,
            &escrow::QueryMsg::Account {
                id: escrow::AccountId::Deployment(d.deployment.id.clone()),
            },
        )
        .await
        .ok();
    let denom = d.deployment.denom.to_string();
    let mut text = format!(
        "deployment {} {} (version {})\n",
        d.deployment.id,
        format!("{:?}", d.deployment.state).to_lowercase(),
        d.deployment.version.to_hex().get(..16).unwrap_or_default()
    );
    if let Some(a) = &account {
        text.push_str(&format!(
            "escrow: balance {} {denom}, streaming {} {denom}/month{}\n",
            a.account.balance,
            ctx::per_month(a.account.rate),
            a.funded_until
                .map(|t| format!(", funded until unix time {}", t.seconds()))
                .unwrap_or_default()
        ));
    }
    let rows: Vec<Vec<String>> = d
        .groups
        .iter()
        .map(|gr| {
            vec![
                gr.id.gseq.to_string(),
                gr.spec.name.clone(),
                format!("{:?}", gr.state).to_lowercase(),
                gr.last_oseq.to_string(),
            ]
        })
        .collect();
    text.push_str(&ctx::table(&["GSEQ", "GROUP", "STATE", "OSEQ"], &rows));
    let lease_rows: Vec<Vec<String>> = ls
        .iter()
        .map(|l| {
            vec![
                format!("{}/{}", l.id.gseq, l.id.oseq),
                l.id.provider.to_string(),
                format!("{:?}", l.state).to_lowercase(),
                format!("{} {denom}", ctx::per_month(l.price)),
            ]
        })
        .collect();
    if !lease_rows.is_empty() {
        text.push_str(&ctx::table(
            &["LEASE", "PROVIDER", "STATE", "PRICE/MONTH"],
            &lease_rows,
        ));
    }
    let doc = json!({
        "deployment": d.deployment,
        "groups": d.groups,
        "escrow": account,
        "leases": ls,
    });
    Ok((doc, text, ls))
}

/// `kumo status` without a dseq: the signer's deployments.
pub async fn list_deployments(
    g: &Globals,
    client: &Client,
    contracts: &KumoContracts,
    owner: &str,
) -> anyhow::Result<()> {
    let all = ctx::all_pages(
        |start_after| async move {
            let page: market::DeploymentsResponse = g
                .query(
                    client,
                    &contracts.market,
                    &market::QueryMsg::Deployments {
                        owner: owner.to_string(),
                        start_after,
                        limit: Some(ctx::PAGE_LIMIT),
                    },
                )
                .await?;
            Ok(page.deployments)
        },
        |d| d.id.dseq,
    )
    .await?;
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|d| {
            vec![
                d.id.dseq.to_string(),
                format!("{:?}", d.state).to_lowercase(),
                d.groups.to_string(),
                d.denom.to_string(),
            ]
        })
        .collect();
    g.emit(json!({"owner": owner, "deployments": all}), || {
        if rows.is_empty() {
            format!("{owner} has no deployments: create one with `kumo deploy deploy.yaml`")
        } else {
            ctx::table(&["DSEQ", "STATE", "GROUPS", "DENOM"], &rows)
        }
    });
    Ok(())
}

/// The signer's key and address, for the lease API commands.
pub fn signer(g: &Globals) -> anyhow::Result<(Key, String)> {
    let (_, key) = g.key()?;
    let me = g.address(&key)?;
    Ok((key, me))
}
