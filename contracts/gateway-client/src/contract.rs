//! Entry points (the IBC ones are in `ibc`): `Send` a packet, `Fund` the sender's account at the
//! gateway over ICS-20, and config.

use cosmwasm_std::{
    Binary, Deps, DepsMut, Env, Event, IbcMsg, IbcTimeout, MessageInfo, Reply, Response,
    SubMsgResult,
};
use kumo::entry::addr_validate;
use kumo::gateway::client::{
    CallbackRequest, ChannelResponse, ConfigResponse, ExecuteMsg, InstantiateMsg, MigrateMsg,
    Pending, PendingResponse, QueryMsg,
};
use kumo::gateway::{ExecuteMsg as GatewayMsg, GatewayPacket, PacketMsg, SrcCallback};
use kumo::json::{self, to_binary, Msg};

use crate::error::ContractError;
use crate::state::{Config, CHANNEL, CONFIG, DEFAULT_TIMEOUT, MAX_TIMEOUT, PENDING, SEQUENCE};

pub const CONTRACT_NAME: &str = "crates.io:kumo-gateway-client";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

// The wasm's exports, without serde (see `kumo::entry`); addresses are validated through
// `kumo::entry`, and `deps.api` has no other use here.
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

/// The memo of `Fund`'s transfer: `{"wasm":{"contract":..,"msg":..}}` for ibc-hooks on the
/// Kumo chain, and `{"src_callback":{"address":<client>}}` for the IBC callbacks middleware
/// (ADR-8) here: a transfer that fails or times out comes back to the client, which sends it on
/// to the credit's sender (`ibc::ibc_source_callback`).
#[cosmwasm_schema::cw_serde]
pub struct HookMemo {
    pub wasm: HookCall,
    pub src_callback: Option<SrcCallback>,
}

#[cosmwasm_schema::cw_serde]
pub struct HookCall {
    pub contract: String,
    pub msg: GatewayMsg,
}

kumo::json_struct!(HookMemo { wasm, src_callback });
kumo::json_struct!(HookCall { contract, msg });

pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    Msg(msg): Msg<InstantiateMsg>,
) -> Result<Response, ContractError> {
    kumo::entry::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION);
    let config = Config {
        owner: addr_validate(deps.api, &msg.owner)?,
        transfer_channel: validate_channel_id(msg.transfer_channel)?,
        gateway_port: msg.gateway_port,
        default_timeout: validate_timeout(msg.default_timeout.unwrap_or(DEFAULT_TIMEOUT))?,
    };
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_event(config_event(&config)))
}

pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    Msg(msg): Msg<ExecuteMsg>,
) -> Result<Response, ContractError> {
    match msg {
        ExecuteMsg::Send {
            msg,
            callback,
            timeout_seconds,
        } => send(deps, env, info, msg, callback, timeout_seconds),
        ExecuteMsg::Fund { timeout_seconds } => fund(deps, env, info, timeout_seconds),
        ExecuteMsg::UpdateConfig {
            owner,
            transfer_channel,
            gateway_port,
            default_timeout,
        } => {
            let mut config = CONFIG.load(deps.storage)?;
            if info.sender != config.owner {
                return Err(ContractError::unauthorized(config.owner.as_str()));
            }
            if let Some(owner) = owner {
                config.owner = addr_validate(deps.api, &owner)?;
            }
            if let Some(channel) = transfer_channel {
                config.transfer_channel = validate_channel_id(channel)?;
            }
            if let Some(port) = gateway_port {
                config.gateway_port = Some(port);
            }
            if let Some(timeout) = default_timeout {
                config.default_timeout = validate_timeout(timeout)?;
            }
            CONFIG.save(deps.storage, &config)?;
            Ok(Response::new()
                .add_attribute("action", "update_config")
                .add_event(config_event(&config)))
        }
    }
}

fn config_event(config: &Config) -> Event {
    Event::new("gateway_client_config")
        .add_attribute("owner", config.owner.as_str())
        .add_attribute("transfer_channel", &config.transfer_channel)
        .add_attribute(
            "gateway_port",
            config.gateway_port.clone().unwrap_or_default(),
        )
        .add_attribute("default_timeout", config.default_timeout.to_string())
}

fn validate_channel_id(id: String) -> Result<String, ContractError> {
    if !id.starts_with("channel-") || id.len() > 64 {
        return Err(ContractError::InvalidParams {
            reason: format!("{id:?} is not a channel id"),
        });
    }
    Ok(id)
}

fn validate_timeout(seconds: u64) -> Result<u64, ContractError> {
    if seconds == 0 || seconds > MAX_TIMEOUT {
        return Err(ContractError::InvalidParams {
            reason: format!("a timeout must be 1..={MAX_TIMEOUT} seconds, got {seconds}"),
        });
    }
    Ok(seconds)
}

fn timeout(env: &Env, config: &Config, seconds: Option<u64>) -> Result<IbcTimeout, ContractError> {
    let seconds = validate_timeout(seconds.unwrap_or(config.default_timeout))?;
    Ok(IbcTimeout::with_timestamp(
        env.block.time.plus_seconds(seconds),
    ))
}

/// Sends `msg` as the caller's action; the caller is the packet's `sender`, so a dApp can only
/// act for itself. The packet's sequence is recorded with the callback request.
fn send(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: PacketMsg,
    callback: Option<CallbackRequest>,
    timeout_seconds: Option<u64>,
) -> Result<Response, ContractError> {
    cw_utils::nonpayable(&info)?;
    let config = CONFIG.load(deps.storage)?;
    let channel = CHANNEL
        .may_load(deps.storage)?
        .ok_or(ContractError::NoChannel)?;
    if let Some(cb) = &callback {
        addr_validate(deps.api, &cb.receiver)?;
    }
    let sequence = SEQUENCE
        .may_load(deps.storage, &channel.channel_id)?
        .unwrap_or_default()
        + 1;
    SEQUENCE.save(deps.storage, &channel.channel_id, &sequence)?;
    let kind = msg.kind();
    PENDING.save(
        deps.storage,
        (&channel.channel_id, sequence),
        &Pending {
            initiator: info.sender.clone(),
            kind: kind.into(),
            callback,
        },
    )?;
    let packet = GatewayPacket {
        sender: info.sender.to_string(),
        msg,
    };
    Ok(Response::new()
        .add_message(IbcMsg::SendPacket {
            channel_id: channel.channel_id.clone(),
            data: json::write(&packet),
            timeout: timeout(&env, &config, timeout_seconds)?,
        })
        .add_attribute("action", "send")
        .add_event(
            Event::new("gateway_client_send")
                .add_attribute("channel", &channel.channel_id)
                .add_attribute("sequence", sequence.to_string())
                .add_attribute("initiator", info.sender.as_str())
                .add_attribute("kind", kind),
        ))
}

/// Sends the attached coin to the gateway over ICS-20 with the ibc-hooks memo that credits it to
/// the caller's account on the gateway's end of the channel.
fn fund(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    timeout_seconds: Option<u64>,
) -> Result<Response, ContractError> {
    let coin = cw_utils::one_coin(&info)?;
    let config = CONFIG.load(deps.storage)?;
    let channel = CHANNEL
        .may_load(deps.storage)?
        .ok_or(ContractError::NoChannel)?;
    let gateway = channel
        .counterparty_port
        .strip_prefix("wasm.")
        .ok_or_else(|| ContractError::NotAContractPort {
            port: channel.counterparty_port.clone(),
        })?
        .to_string();
    let memo = HookMemo {
        wasm: HookCall {
            contract: gateway.clone(),
            msg: GatewayMsg::Credit {
                channel: channel.counterparty_channel.clone(),
                sender: info.sender.to_string(),
            },
        },
        src_callback: Some(SrcCallback {
            address: env.contract.address.to_string(),
        }),
    };
    Ok(Response::new()
        .add_message(IbcMsg::Transfer {
            channel_id: config.transfer_channel.clone(),
            to_address: gateway.clone(),
            amount: coin.clone(),
            timeout: timeout(&env, &config, timeout_seconds)?,
            memo: Some(String::from_utf8_lossy(json::write(&memo).as_slice()).into_owned()),
        })
        .add_attribute("action", "fund")
        .add_event(
            Event::new("gateway_client_fund")
                .add_attribute("initiator", info.sender.as_str())
                .add_attribute("amount", coin.to_string())
                .add_attribute("gateway", gateway)
                .add_attribute("transfer_channel", &config.transfer_channel),
        ))
}

/// Replies come only from callbacks that failed (`reply_on_error`): the failure is recorded and
/// the ack is still processed.
pub fn reply(_deps: DepsMut, _env: Env, reply: Reply) -> Result<Response, ContractError> {
    let error = match reply.result {
        SubMsgResult::Err(error) => error,
        SubMsgResult::Ok(_) => String::new(),
    };
    Ok(Response::new()
        .add_attribute("action", "callback_failed")
        .add_event(
            Event::new("gateway_client_callback_failed")
                .add_attribute("reply_id", reply.id.to_string())
                .add_attribute("error", error),
        ))
}

pub fn query(deps: Deps, _env: Env, Msg(msg): Msg<QueryMsg>) -> Result<Binary, ContractError> {
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_binary(&ConfigResponse {
                owner: c.owner,
                transfer_channel: c.transfer_channel,
                gateway_port: c.gateway_port,
                default_timeout: c.default_timeout,
            })
        }
        QueryMsg::Channel {} => {
            let channel = CHANNEL.may_load(deps.storage)?;
            let last_sequence = match &channel {
                Some(c) => SEQUENCE
                    .may_load(deps.storage, &c.channel_id)?
                    .unwrap_or_default(),
                None => 0,
            };
            to_binary(&ChannelResponse {
                channel,
                last_sequence,
            })
        }
        QueryMsg::Pending { channel, sequence } => to_binary(&PendingResponse {
            pending: PENDING.may_load(deps.storage, (&channel, sequence))?,
        }),
    }
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
