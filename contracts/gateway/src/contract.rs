//! Entry points: each dispatches to a small function in `execute`, `ibc` or `query`. The IBC
//! entry points are in `ibc`.

use cosmwasm_std::{Binary, Deps, DepsMut, Env, MessageInfo, Reply, Response};
use kumo::gateway::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use kumo::json::Msg;

use crate::error::ContractError;
use crate::{execute, ibc, query};

pub const CONTRACT_NAME: &str = "crates.io:kumo-gateway";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

// The wasm's exports, without serde (see `kumo::entry`); the gateway validates and humanizes
// addresses through `kumo::entry` and has no other use for `deps.api`.
kumo::exports! {
    api: unused,
    instantiate: crate::contract::instantiate,
    execute: crate::contract::execute,
    query: crate::contract::query,
    migrate: crate::contract::migrate,
    reply: crate::contract::reply,
    ibc_channel_open: crate::ibc::ibc_channel_open,
    ibc_channel_connect: crate::ibc::ibc_channel_connect,
    ibc_channel_close: crate::ibc::ibc_channel_close,
    ibc_packet_receive: crate::ibc::ibc_packet_receive,
    ibc_packet_ack: crate::ibc::ibc_packet_ack,
    ibc_packet_timeout: crate::ibc::ibc_packet_timeout,
    ibc_source_callback: crate::ibc::ibc_source_callback,
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

pub fn reply(deps: DepsMut, _env: Env, reply: Reply) -> Result<Response, ContractError> {
    ibc::reply(deps, reply)
}

pub fn query(deps: Deps, _env: Env, Msg(msg): Msg<QueryMsg>) -> Result<Binary, ContractError> {
    query::dispatch(deps, msg)
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
