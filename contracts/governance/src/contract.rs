//! Entry points and queries.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response, StdError, StdResult,
};
use cw_storage_plus::Bound;
use kumo::governance::{
    ExecuteMsg, InstantiateMsg, MigrateMsg, ParamsResponse, ProposalResponse, ProposalsResponse,
    QueryMsg, VoteResponse, VotingPowerResponse,
};

use crate::error::ContractError;
use crate::execute::{self, Incoming};
use crate::state::{LOCKED, PARAMS, PROPOSALS, TOTAL_LOCKED, VOTES};

pub const CONTRACT_NAME: &str = "crates.io:kumo-governance";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    execute::validate_params(&msg.params)?;
    if let kumo::Denom::Cw20(token) = &msg.params.denom {
        deps.api.addr_validate(token.as_str())?;
    }
    PARAMS.save(deps.storage, &msg.params)?;
    Ok(Response::new().add_attribute("action", "instantiate"))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    if !matches!(msg, ExecuteMsg::Lock {} | ExecuteMsg::Propose { .. }) {
        cw_utils::nonpayable(&info)?;
    }
    match msg {
        ExecuteMsg::Lock {} => {
            let funds = Incoming::native(&info)?;
            execute::lock(deps, env, funds)
        }
        ExecuteMsg::Unlock { amount } => execute::unlock(deps, env, info, amount),
        ExecuteMsg::Propose {
            title,
            description,
            msgs,
        } => {
            let funds = Incoming::native(&info)?;
            execute::propose(deps, env, funds, title, description, msgs)
        }
        ExecuteMsg::CastVote { id, vote } => execute::cast_vote(deps, env, info, id, vote),
        ExecuteMsg::Close { id } => execute::close(deps, env, id),
        ExecuteMsg::Execute { id } => execute::execute_proposal(deps, env, id),
        ExecuteMsg::UpdateParams { params } => execute::update_params(deps, env, info, params),
        ExecuteMsg::CheckSolvency {} => execute::check_solvency(deps.as_ref(), env, info),
        ExecuteMsg::Receive(msg) => execute::receive(deps, env, info, msg),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Params {} => to_json_binary(&ParamsResponse {
            params: PARAMS.load(deps.storage)?,
            total_locked: TOTAL_LOCKED.may_load(deps.storage)?.unwrap_or_default(),
        }),
        QueryMsg::Proposal { id } => to_json_binary(&ProposalResponse {
            proposal: PROPOSALS
                .may_load(deps.storage, id)?
                .ok_or_else(|| StdError::not_found(format!("proposal {id}")))?,
        }),
        QueryMsg::Proposals { start_after, limit } => {
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
            let proposals = PROPOSALS
                .range(
                    deps.storage,
                    start_after.map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit)
                .map(|r| r.map(|(_, p)| p))
                .collect::<StdResult<_>>()?;
            to_json_binary(&ProposalsResponse { proposals })
        }
        QueryMsg::VotingPower { voter, height } => {
            let voter = deps.api.addr_validate(&voter)?;
            let power = match height {
                Some(h) => LOCKED.may_load_at_height(deps.storage, voter, h)?,
                None => LOCKED.may_load(deps.storage, voter)?,
            }
            .unwrap_or_default();
            to_json_binary(&VotingPowerResponse { power })
        }
        QueryMsg::Vote { id, voter } => {
            let voter = deps.api.addr_validate(&voter)?;
            let found = VOTES.may_load(deps.storage, (id, voter))?;
            to_json_binary(&VoteResponse {
                vote: found.map(|(v, _)| v),
                power: found.map(|(_, p)| p).unwrap_or_default(),
            })
        }
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let stored = cw2::get_contract_version(deps.storage)?;
    if stored.contract != CONTRACT_NAME {
        return Err(ContractError::InvalidParams {
            reason: format!("cannot migrate {} to {CONTRACT_NAME}", stored.contract),
        });
    }
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", stored.version)
        .add_attribute("to_version", CONTRACT_VERSION))
}
