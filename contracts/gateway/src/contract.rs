//! Entry points: each dispatches to a small function in `execute`, `ibc` or `query`. The IBC
//! entry points are in `ibc`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{Binary, Deps, DepsMut, Env, MessageInfo, Reply, Response, StdResult};
use kumo::gateway::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};

use crate::error::ContractError;
use crate::{execute, ibc, query};

pub const CONTRACT_NAME: &str = "crates.io:kumo-gateway";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    execute::instantiate(deps, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    match msg {
        ExecuteMsg::Credit { channel, sender } => execute::credit(deps, info, &channel, &sender),
        ExecuteMsg::UpdateConfig {
            owner,
            market,
            escrow,
            transfer_channel,
            allowed,
            refund_timeout,
        } => execute::update_config(
            deps,
            info,
            execute::ConfigUpdate {
                owner,
                market,
                escrow,
                transfer_channel,
                allowed,
                refund_timeout,
            },
        ),
        ExecuteMsg::Process { channel, packet } => {
            execute::process(deps, env, info, &channel, packet)
        }
        ExecuteMsg::Refund {
            channel,
            sender,
            dseq,
            denom,
            before,
        } => execute::refund(deps, env, info, &channel, &sender, dseq, &denom, before),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn reply(deps: DepsMut, _env: Env, reply: Reply) -> Result<Response, ContractError> {
    ibc::reply(deps, reply)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    query::dispatch(deps, msg)
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
