//! Entry points: each dispatches to a small function in `execute` or `query`.
//!
//! Messages are decoded through `kumo::json` ([`Msg`]), and the wasm exports are
//! `kumo::entry`'s: no serde JSON code in the wasm for the VM's types or the messages.

use cosmwasm_std::{Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use kumo::json::Msg;
use kumo::registry::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};

use crate::error::ContractError;
use crate::{execute, query};

pub const CONTRACT_NAME: &str = "crates.io:kumo-registry";
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
    // Nothing here takes funds; refuse them rather than keep them.
    cw_utils::nonpayable(&info)?;
    match msg {
        ExecuteMsg::RegisterProvider {
            host_uri,
            attributes,
            info: provider_info,
        } => execute::register(deps, env, info, host_uri, attributes, provider_info),
        ExecuteMsg::UpdateProvider {
            host_uri,
            attributes,
            info: provider_info,
        } => execute::update(deps, info, host_uri, attributes, provider_info),
        ExecuteMsg::BeginDeregistration {} => execute::begin_deregistration(deps, env, info),
        ExecuteMsg::CancelDeregistration {} => execute::cancel_deregistration(deps, info),
        ExecuteMsg::FinishDeregistration {} => execute::finish_deregistration(deps, info),
        ExecuteMsg::AddApiKey { key } => execute::add_api_key(deps, env, info, key),
        ExecuteMsg::RevokeApiKey { id } => execute::revoke_api_key(deps, env, info, id),
        ExecuteMsg::SetTlsPins { pins } => execute::set_tls_pins(deps, info, pins),
        ExecuteMsg::SignAttributes {
            provider,
            attributes,
        } => execute::sign_attributes(deps, info, provider, attributes),
        ExecuteMsg::DeleteAttributes { provider, keys } => {
            execute::delete_attributes(deps, info, provider, keys)
        }
        ExecuteMsg::UpdateConfig {
            owner,
            market,
            limits,
        } => execute::update_config(deps, info, owner, market, limits),
    }
}

pub fn query(deps: Deps, _env: Env, Msg(msg): Msg<QueryMsg>) -> StdResult<Binary> {
    query::dispatch(deps, msg)
}

pub fn migrate(deps: DepsMut, _env: Env, _msg: Msg<MigrateMsg>) -> Result<Response, ContractError> {
    let stored = kumo::entry::get_contract_version(deps.storage)?;
    if stored.contract != CONTRACT_NAME {
        return Err(ContractError::InvalidLimits {
            reason: format!("cannot migrate {} to {CONTRACT_NAME}", stored.contract),
        });
    }
    kumo::entry::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION);
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", stored.version)
        .add_attribute("to_version", CONTRACT_VERSION))
}
