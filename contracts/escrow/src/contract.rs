//! Entry points: each dispatches to a small function in `execute` or `query`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    Binary, Deps, DepsMut, Env, Event, MessageInfo, Reply, Response, StdResult, SubMsgResult,
};
use kumo::escrow::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};

use crate::error::ContractError;
use crate::execute::{self, Incoming};
use crate::query;

pub const CONTRACT_NAME: &str = "crates.io:kumo-escrow";
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
        ExecuteMsg::OpenAccount {
            id,
            owner,
            depositor,
        } => {
            let funds = Incoming::native(&info)?;
            execute::open_account(deps, env, funds, id, owner, depositor)
        }
        ExecuteMsg::OpenPayment {
            account,
            lease,
            payee,
            rate,
        } => execute::open_payment(deps, env, info, account, lease, payee, rate),
        ExecuteMsg::ClosePayment {
            lease,
            refund_since,
        } => execute::close_payment(deps, env, info, lease, refund_since),
        ExecuteMsg::CloseAccount { id } => execute::close_account(deps, env, info, id),
        ExecuteMsg::Deposit { id, depositor } => {
            let funds = Incoming::native(&info)?;
            execute::deposit(deps, env, funds, id, depositor)
        }
        ExecuteMsg::DepositFromAllowance {
            id,
            granter,
            amount,
        } => execute::deposit_from_allowance(deps, env, info, id, granter, amount),
        ExecuteMsg::GrantAllowance { grantee, expires } => {
            let funds = Incoming::native(&info)?;
            execute::grant_allowance(deps, env, funds, grantee, expires)
        }
        ExecuteMsg::RevokeAllowance { grantee, denom } => {
            cw_utils::nonpayable(&info)?;
            execute::revoke_allowance(deps, info, grantee, denom)
        }
        ExecuteMsg::Withdraw { lease } => {
            cw_utils::nonpayable(&info)?;
            execute::withdraw(deps, env, lease)
        }
        ExecuteMsg::Settle { id } => {
            cw_utils::nonpayable(&info)?;
            execute::settle_account(deps, env, info, id)
        }
        ExecuteMsg::Receive(msg) => execute::receive(deps, env, info, msg),
        ExecuteMsg::UpdateConfig {
            owner,
            market,
            treasury,
            guardian,
            params,
        } => execute::update_config(deps, info, owner, market, treasury, guardian, params),
        ExecuteMsg::SetDenom { config } => execute::set_denom(deps, info, config),
        ExecuteMsg::RemoveDenom { denom } => execute::remove_denom(deps, info, denom),
        ExecuteMsg::Pause {} => execute::set_paused(deps, info, true),
        ExecuteMsg::Unpause {} => execute::set_paused(deps, info, false),
    }
}

/// Only the overdrawn callback replies, and only on error: the market could not process it
/// (misconfigured or failing). The escrow's own work stands; the event says what went wrong.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn reply(_deps: DepsMut, _env: Env, msg: Reply) -> Result<Response, ContractError> {
    match (msg.id, msg.result) {
        (execute::CALLBACK_REPLY, SubMsgResult::Err(error)) => Ok(Response::new()
            .add_event(Event::new("market_callback_failed").add_attribute("error", error))),
        (id, _) => Err(ContractError::UnknownReply { id }),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    query::dispatch(deps, env, msg)
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
