//! Queries. Accounts and payments are shown as if settled at the current block, without writing.

use cosmwasm_std::{Binary, Deps, Env, Order as IterOrder, StdError, StdResult};
use kumo::escrow::{
    AccountId, AccountResponse, AllowanceResponse, AllowancesResponse, ConfigResponse,
    DenomsResponse, PaymentResponse, PaymentsResponse, QueryMsg,
};
use kumo::json::to_binary;

use crate::execute::{load, Loaded};
use crate::settlement::settle;
use crate::state::{denom_key, ALLOWANCES, CONFIG, DENOM_ENTRIES};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

fn settled(deps: Deps, env: &Env, id: &AccountId) -> StdResult<Loaded> {
    let mut loaded = load(deps.storage, id).map_err(|e| StdError::generic_err(e.to_string()))?;
    settle(&mut loaded.account, &mut loaded.payments, env.block.time)
        .map_err(|e| StdError::generic_err(e.to_string()))?;
    Ok(loaded)
}

pub fn dispatch(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_binary(&ConfigResponse {
                owner: c.owner,
                market: c.market,
                treasury: c.treasury,
                guardian: c.guardian,
                params: c.params,
                paused: c.paused,
            })
        }
        QueryMsg::Denoms {} => {
            // Bounded by governance: one entry per listed denomination.
            let denoms = DENOM_ENTRIES
                .range(deps.storage, None, IterOrder::Ascending)
                .filter_map(|r| match r {
                    Ok((_, e)) if e.accepting => Some(Ok(e.config)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<kumo::Result<_>>()?;
            to_binary(&DenomsResponse { denoms })
        }
        QueryMsg::Account { id } => {
            let loaded = settled(deps, &env, &id)?;
            let a = loaded.account;
            let funded_until = if a.rate.is_zero() {
                None
            } else {
                // Capped at about a thousand years: far enough for any client, and never
                // overflowing the timestamp.
                let secs = (a.balance / a.rate).to_uint_floor();
                let secs = cosmwasm_std::Uint64::try_from(secs)
                    .map(|s| s.u64())
                    .unwrap_or(u64::MAX)
                    .min(32_000_000_000);
                Some(a.settled_at.plus_seconds(secs))
            };
            to_binary(&AccountResponse {
                account: a,
                funded_until,
            })
        }
        QueryMsg::Payment { lease } => {
            let loaded = settled(deps, &env, &AccountId::Deployment(lease.deployment()))?;
            let payment = loaded
                .payments
                .into_iter()
                .find(|p| p.lease == lease)
                .ok_or_else(|| StdError::not_found(format!("payment {lease}")))?;
            to_binary(&PaymentResponse { payment })
        }
        QueryMsg::Payments { account } => {
            let loaded = settled(deps, &env, &account)?;
            to_binary(&PaymentsResponse {
                payments: loaded.payments,
            })
        }
        QueryMsg::Allowance {
            granter,
            grantee,
            denom,
        } => {
            let key = (
                deps.api.addr_validate(&granter)?,
                deps.api.addr_validate(&grantee)?,
                denom_key(&denom),
            );
            let allowance = ALLOWANCES
                .may_load(deps.storage, key)?
                .ok_or_else(|| StdError::not_found(format!("allowance {granter} → {grantee}")))?;
            to_binary(&AllowanceResponse { allowance })
        }
        QueryMsg::Allowances {
            granter,
            start_after,
            limit,
        } => {
            let granter = deps.api.addr_validate(&granter)?;
            let start = start_after
                .map(|(g, d)| -> StdResult<_> { Ok((deps.api.addr_validate(&g)?, denom_key(&d))) })
                .transpose()?;
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
            let allowances = ALLOWANCES
                .sub_prefix_range(deps.storage, granter, start, IterOrder::Ascending)
                .take(limit)
                .map(|r| r.map(|(_, a)| a))
                .collect::<kumo::Result<_>>()?;
            to_binary(&AllowancesResponse { allowances })
        }
    }
}
