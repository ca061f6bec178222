//! Queries; lists take `start_after` and `limit` (default 10, at most 30).

use cosmwasm_std::{Binary, Deps, Env, Order, StdError, StdResult};
use kumo::json::to_binary;
use kumo::staking::{
    BidEligibilityResponse, CompensationPoolResponse, ConfigResponse, DisputeResponse,
    DisputesResponse, ProviderBondResponse, QueryMsg,
};

use crate::execute::{market_stats, required};
use crate::state::{BONDS, CONFIG, DISPUTES, POOLS};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

fn std_err(e: crate::ContractError) -> StdError {
    StdError::generic_err(e.to_string())
}

pub fn dispatch(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    let config = CONFIG.load(deps.storage)?;
    match msg {
        QueryMsg::Config {} => to_binary(&ConfigResponse {
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
            to_binary(&ProviderBondResponse { bond, required })
        }
        QueryMsg::BidEligibility { provider } => {
            let addr = deps.api.addr_validate(&provider)?;
            let bond = BONDS.may_load(deps.storage, addr.clone())?;
            let stats = match &bond {
                Some(_) => market_stats(deps, &config, &addr).map_err(std_err)?,
                None => Default::default(),
            };
            let reason =
                kumo::staking::refusal(&config.params, bond.as_ref(), &stats, env.block.time)?;
            to_binary(&BidEligibilityResponse {
                eligible: reason.is_none(),
                reason,
                reputation: bond.map(|b| b.reputation).unwrap_or_default(),
            })
        }
        QueryMsg::Compensation { provider } => {
            let addr = deps.api.addr_validate(&provider)?;
            to_binary(&CompensationPoolResponse {
                pool: POOLS.may_load(deps.storage, addr)?,
            })
        }
        QueryMsg::Dispute { id } => to_binary(&DisputeResponse {
            dispute: DISPUTES
                .may_load(deps.storage, id)?
                .ok_or_else(|| StdError::not_found(format!("dispute {id}")))?,
        }),
        QueryMsg::Disputes { start_after, limit } => {
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
            let disputes = DISPUTES
                .range(deps.storage, start_after, Order::Ascending)
                .take(limit)
                .map(|r| r.map(|(_, d)| d))
                .collect::<kumo::Result<_>>()?;
            to_binary(&DisputesResponse { disputes })
        }
    }
}
