//! Entry points: each dispatches to a small function in `execute` or `query`.
//!
//! Messages are decoded through `kumo::json` ([`Msg`]), and the wasm exports are
//! `kumo::entry`'s: no serde JSON code in the wasm for the VM's types or the messages.

use cosmwasm_std::{Binary, Deps, DepsMut, Env, MessageInfo, Response};
use cw20::Cw20ReceiveMsg;
use kumo::json::{FromJson, Msg};
use kumo::market::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg, ReceiveMsg};

use crate::error::ContractError;
use crate::execute::{admin, bid, deployment, lease};
use crate::funds::Incoming;
use crate::query;

pub const CONTRACT_NAME: &str = "crates.io:kumo-market";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

// The wasm exports (`kumo::entry`: the VM's JSON without serde).
kumo::exports! {
    api: unused,
    instantiate: crate::contract::instantiate,
    execute: crate::contract::execute,
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
    admin::instantiate(deps, msg)
}

pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    Msg(msg): Msg<ExecuteMsg>,
) -> Result<Response, ContractError> {
    match msg {
        ExecuteMsg::CreateDeployment(new) => {
            let funds = Incoming::native(&info)?;
            deployment::create(deps, env, funds, new)
        }
        ExecuteMsg::UpdateDeployment { dseq, version } => {
            deployment::update(deps, info, dseq, version)
        }
        ExecuteMsg::CloseDeployment { dseq } => deployment::close(deps, env, info, dseq),
        ExecuteMsg::CloseGroup { dseq, gseq } => {
            deployment::close_group(deps, env, info, dseq, gseq)
        }
        ExecuteMsg::PauseGroup { dseq, gseq } => {
            deployment::pause_group(deps, env, info, dseq, gseq)
        }
        ExecuteMsg::StartGroup { dseq, gseq } => {
            deployment::start_group(deps, env, info, dseq, gseq)
        }
        ExecuteMsg::Deposit { deployment: id } => {
            let funds = Incoming::native(&info)?;
            deployment::deposit(deps, funds, id)
        }
        ExecuteMsg::CreateBid(new) => {
            let funds = Incoming::native(&info)?;
            bid::create(deps, env, funds, new)
        }
        ExecuteMsg::CloseBid { bid: id, reason } => bid::close(deps, env, info, id, reason),
        ExecuteMsg::CreateLease { bid: id } => lease::create(deps, env, info, id),
        ExecuteMsg::CloseAuction { order } => lease::close_auction(deps, env, info, order),
        ExecuteMsg::CloseLease { lease: id } => lease::close(deps, env, info, id),
        ExecuteMsg::StartReclaim { lease: id, reason } => {
            lease::start_reclaim(deps, env, info, id, reason)
        }
        ExecuteMsg::WithdrawLease { lease: id } => lease::withdraw(deps, info, id),
        ExecuteMsg::CloseAbsentLeases { provider, limit } => {
            lease::close_absent_leases(deps, env, provider, limit)
        }
        ExecuteMsg::Receive(msg) => receive(deps, env, info, msg),
        ExecuteMsg::EscrowCallback(cb) => deployment::escrow_callback(deps, env, info, cb),
        ExecuteMsg::UpdateConfig {
            owner,
            registry,
            escrow,
            staking,
            guardian,
        } => admin::update_config(deps, info, owner, registry, escrow, staking, guardian),
        ExecuteMsg::UpdateParams { params } => admin::update_params(deps, info, params),
        ExecuteMsg::Pause {} => admin::set_paused(deps, info, true),
        ExecuteMsg::Unpause {} => admin::set_paused(deps, info, false),
    }
}

/// CW20 `Send`s: the token is `info.sender`, the escrow checks it is on its allow-list.
fn receive(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: Cw20ReceiveMsg,
) -> Result<Response, ContractError> {
    if !info.funds.is_empty() {
        return Err(cw_utils::PaymentError::NonPayable {}.into());
    }
    let funds = Incoming {
        sender: kumo::entry::addr_validate(deps.api, &msg.sender)?,
        denom: kumo::Denom::Cw20(info.sender.clone()),
        amount: msg.amount,
    };
    if funds.amount.is_zero() {
        return Err(cw_utils::PaymentError::NoFunds {}.into());
    }
    match ReceiveMsg::parse(&msg.msg)? {
        ReceiveMsg::CreateDeployment(new) => deployment::create(deps, env, funds, new),
        ReceiveMsg::CreateBid(new) => bid::create(deps, env, funds, new),
        ReceiveMsg::Deposit { deployment: id } => deployment::deposit(deps, funds, id),
    }
}

pub fn query(deps: Deps, env: Env, Msg(msg): Msg<QueryMsg>) -> Result<Binary, ContractError> {
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
