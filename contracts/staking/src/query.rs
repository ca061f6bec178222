//! Queries; lists take `start_after` and `limit` (default 10, at most 30).

use cosmwasm_std::{to_json_binary, Binary, Deps, Env, Order, StdError, StdResult};
use cw_storage_plus::Bound;
use kumo::staking::{
    BidEligibilityResponse, CompensationPoolResponse, ConfigResponse, DisputeResponse,
    DisputesResponse, ProviderBondResponse, QueryMsg, Reputation,
};

use crate::execute::{bond_for, market_stats, required};
use crate::state::{BONDS, CONFIG, DISPUTES, POOLS};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

fn std_err(e: crate::ContractError) -> StdError {
    StdError::generic_err(e.to_string())
}

pub fn dispatch(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    let config = CONFIG.load(deps.storage)?;
    match msg {
        QueryMsg::Config {} => to_json_binary(&ConfigResponse {
            arbiter: config.arbiter().clone(),
            owner: config.owner,
            market: config.market,
            treasury: config.treasury,
            params: config.params,
        }),
        QueryMsg::Provider { provider } => {
            let addr = deps.api.addr_validate(&provider)?;
            let bond = BONDS
                .may_load(deps.storage, addr.clone())?
                .ok_or_else(|| StdError::not_found(format!("bond of {provider}")))?;
            let stats = market_stats(deps, &config, &addr).map_err(std_err)?;
            let required = required(&config.params, &stats).map_err(std_err)?;
            to_json_binary(&ProviderBondResponse { bond, required })
        }
        QueryMsg::BidEligibility { provider } => {
            let addr = deps.api.addr_validate(&provider)?;
            let res = match BONDS.may_load(deps.storage, addr.clone())? {
                None => BidEligibilityResponse {
                    eligible: false,
                    reason: Some("the provider has no bond".into()),
                    reputation: Reputation::default(),
                },
                Some(b) => {
                    let stats = market_stats(deps, &config, &addr).map_err(std_err)?;
                    let needed = bond_for(&config.params, &stats).map_err(std_err)?;
                    let reason = if let Some(until) = b.jailed_until {
                        Some(if env.block.time < until {
                            format!("jailed until {}", until.seconds())
                        } else {
                            "jailed: it must Unjail first".to_string()
                        })
                    } else if b.bonded < needed {
                        Some(format!(
                            "bond {} is below the {} required",
                            b.bonded, needed
                        ))
                    } else {
                        None
                    };
                    BidEligibilityResponse {
                        eligible: reason.is_none(),
                        reason,
                        reputation: b.reputation,
                    }
                }
            };
            to_json_binary(&res)
        }
        QueryMsg::Compensation { provider } => {
            let addr = deps.api.addr_validate(&provider)?;
            to_json_binary(&CompensationPoolResponse {
                pool: POOLS.may_load(deps.storage, addr)?,
            })
        }
        QueryMsg::Dispute { id } => to_json_binary(&DisputeResponse {
            dispute: DISPUTES
                .may_load(deps.storage, id)?
                .ok_or_else(|| StdError::not_found(format!("dispute {id}")))?,
        }),
        QueryMsg::Disputes { start_after, limit } => {
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
            let disputes = DISPUTES
                .range(
                    deps.storage,
                    start_after.map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit)
                .map(|r| r.map(|(_, d)| d))
                .collect::<StdResult<_>>()?;
            to_json_binary(&DisputesResponse { disputes })
        }
    }
}
