//! Entry points: each dispatches to a small function in `execute` or `query`.
//!
//! Messages are decoded through `kumo::json` ([`Msg`]), and the wasm exports are
//! `kumo::entry`'s: no serde JSON code in the wasm for the VM's types or the messages.

use cosmwasm_std::{
    Binary, Deps, DepsMut, Env, Event, MessageInfo, Reply, Response, StdResult, SubMsgResult,
};
use kumo::escrow::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use kumo::json::Msg;

use crate::error::ContractError;
use crate::execute::{self, Incoming};
use crate::query;

pub const CONTRACT_NAME: &str = "crates.io:kumo-escrow";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

// The wasm exports (`kumo::entry`: the VM's JSON without serde).
kumo::exports! {
    instantiate: crate::contract::instantiate,
    execute: crate::contract::execute,
    reply: crate::contract::reply,
    query: crate::contract::query,
    migrate: crate::contract::migrate,
}

pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    Msg(msg): Msg<InstantiateMsg>,
) -> Result<Response, ContractError> {
    kumo::entry::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION);
    execute::instantiate(deps, msg)
}

pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    Msg(msg): Msg<ExecuteMsg>,
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
pub fn reply(_deps: DepsMut, _env: Env, msg: Reply) -> Result<Response, ContractError> {
    match (msg.id, msg.result) {
        (execute::CALLBACK_REPLY, SubMsgResult::Err(error)) => Ok(Response::new()
            .add_event(Event::new("market_callback_failed").add_attribute("error", error))),
        (id, _) => Err(ContractError::UnknownReply { id }),
    }
}

pub fn query(deps: Deps, env: Env, Msg(msg): Msg<QueryMsg>) -> StdResult<Binary> {
    query::dispatch(deps, env, msg)
}

pub fn migrate(deps: DepsMut, _env: Env, _msg: Msg<MigrateMsg>) -> Result<Response, ContractError> {
    let stored = kumo::entry::get_contract_version(deps.storage)?;
    if stored.contract != CONTRACT_NAME {
        return Err(ContractError::InvalidParams {
            reason: format!("cannot migrate {} to {CONTRACT_NAME}", stored.contract),
        });
    }
    kumo::entry::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION);
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", stored.version)
        .add_attribute("to_version", CONTRACT_VERSION))
}
