//! Entry points: each dispatches to a small function in `execute` or `query`.
//!
//! Messages are decoded through `kumo::json` ([`Msg`]), and the wasm exports are
//! `kumo::entry`'s: no serde JSON code in the wasm for the VM's types or the messages.

use cosmwasm_std::{Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use kumo::json::Msg;
use kumo::staking::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};

use crate::error::ContractError;
use crate::execute::{self, Incoming};
use crate::query;

pub const CONTRACT_NAME: &str = "crates.io:kumo-staking";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

// The wasm exports (`kumo::entry`: the VM's JSON without serde).
kumo::exports! {
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
    execute::instantiate(deps, msg)
}

pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    Msg(msg): Msg<ExecuteMsg>,
) -> Result<Response, ContractError> {
    // Only bonds and dispute deposits carry funds.
    if !matches!(msg, ExecuteMsg::Bond {} | ExecuteMsg::OpenDispute { .. }) {
        cw_utils::nonpayable(&info)?;
    }
    match msg {
        ExecuteMsg::Bond {} => {
            let funds = Incoming::native(&info)?;
            execute::bond(deps, env, funds)
        }
        ExecuteMsg::Unbond { amount } => execute::unbond(deps, env, info, amount),
        ExecuteMsg::Claim {} => execute::claim(deps, env, info),
        ExecuteMsg::Heartbeat {} => execute::heartbeat(deps, env, info),
        ExecuteMsg::ReportAbsence { provider } => {
            execute::report_absence(deps, env, info, provider)
        }
        ExecuteMsg::Unjail {} => execute::unjail(deps, env, info),
        ExecuteMsg::OpenDispute { lease, evidence } => {
            let funds = Incoming::native(&info)?;
            execute::open_dispute(deps, env, funds, lease, evidence)
        }
        ExecuteMsg::AnswerDispute { id, answer } => execute::answer_dispute(deps, info, id, answer),
        ExecuteMsg::ResolveDispute { id, slash } => execute::resolve_dispute(deps, info, id, slash),
        ExecuteMsg::ExpireDispute { id } => execute::expire_dispute(deps, env, id),
        ExecuteMsg::CompensateTenant { provider, tenant } => {
            execute::compensate_tenant(deps, info, provider, tenant)
        }
        ExecuteMsg::SweepCompensation { provider } => execute::sweep_compensation(deps, provider),
        ExecuteMsg::Receive(msg) => execute::receive(deps, env, info, msg),
        ExecuteMsg::UpdateConfig {
            owner,
            market,
            treasury,
            arbiter,
            params,
        } => execute::update_config(deps, info, owner, market, treasury, arbiter, params),
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
