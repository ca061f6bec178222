//! `kumo gov ...`: proposals, votes and execution on the governance contract.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use clap::{Subcommand, ValueEnum};
use cosmwasm_std::{Coin, CosmosMsg, Uint128};
use kumo::governance::{self, ProposalStatus, Vote};
use kumo::Denom;
use serde_json::json;

use crate::ctx::{self, Globals};
use crate::tenant::runtime_block;

#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Open a proposal, with the governance's proposal deposit attached.
    Propose {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        /// A JSON file with the array of CosmosMsg the proposal runs [default: none, a text
        /// proposal]
        #[arg(long)]
        msgs: Option<PathBuf>,
    },
    /// Vote on an open proposal with the power locked when it opened.
    Vote { id: u64, vote: VoteOption },
    /// Close a proposal whose voting ended and run it once its timelock passed.
    Execute { id: u64 },
    /// List proposals.
    List,
    /// Lock tokens for voting power, e.g. 1000000ukumo.
    Lock { amount: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VoteOption {
    Yes,
    No,
    Abstain,
    Veto,
}

pub fn run(g: &Globals, cmd: GovCommand) -> anyhow::Result<ExitCode> {
    let contracts = g.contracts()?;
    if contracts.governance.is_empty() {
        bail!(
            "the suite file {} has no governance contract: deploy one and add its address as \"governance\"",
            g.suite_path()?.display()
        );
    }
    let client = g.client()?;
    let gov = contracts.governance.clone();
    runtime_block(async move {
        if let GovCommand::List = cmd {
            let (client, gov) = (&client, &gov);
            let all = ctx::all_pages(
                |start_after| async move {
                    let page: governance::ProposalsResponse = g
                        .query(
                            client,
                            gov,
                            &governance::QueryMsg::Proposals {
                                start_after,
                                limit: Some(ctx::PAGE_LIMIT),
                            },
                        )
                        .await?;
                    Ok(page.proposals)
                },
                |p| p.id,
            )
            .await?;
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|p| {
                    vec![
                        p.id.to_string(),
                        p.status.as_str().to_string(),
                        format!(
                            "{}/{}/{}/{}",
                            p.tally.yes, p.tally.no, p.tally.abstain, p.tally.veto
                        ),
                        p.title.clone(),
                    ]
                })
                .collect();
            g.emit(json!({"proposals": all}), || {
                if rows.is_empty() {
                    "no proposals: open one with `kumo gov propose --title T`".into()
                } else {
                    ctx::table(&["ID", "STATUS", "YES/NO/ABSTAIN/VETO", "TITLE"], &rows)
                }
            });
            return Ok(ExitCode::SUCCESS);
        }
        let (_, key) = g.key()?;
        let params: governance::ParamsResponse = g
            .query(&client, &gov, &governance::QueryMsg::Params {})
            .await?;
        let native = |amount: u128| -> anyhow::Result<Vec<Coin>> {
            match &params.params.denom {
                Denom::Native(d) => Ok(if amount == 0 {
                    vec![]
                } else {
                    vec![Coin::new(amount, d)]
                }),
                Denom::Cw20(t) => bail!("governance locks the CW20 token {t}: send it to the governance contract with the CW20's Send"),
            }
        };
        match cmd {
            GovCommand::List => unreachable!("handled above"),
            GovCommand::Propose {
                title,
                description,
                msgs,
            } => {
                let msgs: Vec<CosmosMsg> = match msgs {
                    Some(p) => {
                        let text = ctx::read_file(&p, "a JSON array of CosmosMsg")?;
                        serde_json::from_str(&text).with_context(|| {
                            format!("{} is not a JSON array of CosmosMsg", p.display())
                        })?
                    }
                    None => vec![],
                };
                let funds = native(params.params.proposal_deposit.u128())?;
                let tx = g
                    .exec(
                        &client,
                        &key,
                        &gov,
                        &governance::ExecuteMsg::Propose {
                            title: title.clone(),
                            description,
                            msgs,
                        },
                        &funds,
                        "proposing",
                    )
                    .await?;
                let id: Option<u64> = tx
                    .event_attr("wasm-proposal_opened", "id")
                    .or_else(|| tx.event_attr("wasm", "proposal_id"))
                    .and_then(|v| v.parse().ok());
                g.emit(
                    json!({"proposal_id": id, "txhash": tx.txhash, "height": tx.height}),
                    || {
                        format!(
                            "proposal {} opened: {title:?} (tx {})",
                            id.map(|i| i.to_string()).unwrap_or_else(|| "?".into()),
                            tx.txhash
                        )
                    },
                );
            }
            GovCommand::Vote { id, vote } => {
                let vote = match vote {
                    VoteOption::Yes => Vote::Yes,
                    VoteOption::No => Vote::No,
                    VoteOption::Abstain => Vote::Abstain,
                    VoteOption::Veto => Vote::Veto,
                };
                let tx = g
                    .exec(
                        &client,
                        &key,
                        &gov,
                        &governance::ExecuteMsg::CastVote { id, vote },
                        &[],
                        "voting",
                    )
                    .await?;
                g.emit(
                    json!({"proposal_id": id, "vote": vote, "txhash": tx.txhash, "height": tx.height}),
                    || format!("voted {} on proposal {id} (tx {})", vote.as_str(), tx.txhash),
                );
            }
            GovCommand::Execute { id } => {
                let p = proposal(g, &client, &gov, id).await?;
                let mut txs = vec![];
                if p.status == ProposalStatus::Open {
                    let tx = g
                        .exec(
                            &client,
                            &key,
                            &gov,
                            &governance::ExecuteMsg::Close { id },
                            &[],
                            "tallying the proposal",
                        )
                        .await?;
                    txs.push(tx.txhash);
                }
                let p = proposal(g, &client, &gov, id).await?;
                if p.status != ProposalStatus::Passed {
                    bail!(
                        "proposal {id} is {}: only a passed proposal can be executed",
                        p.status.as_str()
                    );
                }
                let tx = g
                    .exec(
                        &client,
                        &key,
                        &gov,
                        &governance::ExecuteMsg::Execute { id },
                        &[],
                        "executing the proposal",
                    )
                    .await?;
                txs.push(tx.txhash.clone());
                g.emit(
                    json!({"proposal_id": id, "status": "executed", "txhashes": txs}),
                    || format!("proposal {id} executed (tx {})", tx.txhash),
                );
            }
            GovCommand::Lock { amount } => {
                let (n, _) = ctx::parse_coin(&amount)
                    .or_else(|_| amount.parse::<u128>().map(|n| (n, String::new())))
                    .map_err(|_| {
                        anyhow!("{amount:?} is not an amount: write it like 1000000ukumo")
                    })?;
                let tx = g
                    .exec(
                        &client,
                        &key,
                        &gov,
                        &governance::ExecuteMsg::Lock {},
                        &native(n)?,
                        "locking",
                    )
                    .await?;
                g.emit(
                    json!({"locked": Uint128::new(n), "txhash": tx.txhash, "height": tx.height}),
                    || format!("locked {n} for voting power (tx {})", tx.txhash),
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn proposal(
    g: &Globals,
    client: &kumo_chain::Client,
    gov: &str,
    id: u64,
) -> anyhow::Result<governance::Proposal> {
    match client
        .query_smart::<governance::ProposalResponse>(gov, &governance::QueryMsg::Proposal { id })
        .await
    {
        Ok(r) => Ok(r.proposal),
        Err(e) if e.to_string().contains("not found") || e.is_not_found() => {
            bail!("proposal {id} not found: list them with `kumo gov list`")
        }
        Err(e) => Err(g.explain(e)),
    }
}
