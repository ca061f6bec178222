//! IBC entry points. The handshake accepts unordered `kumo-gateway-1` channels from the allowed
//! (connection, port) pairs. A packet runs as a submessage of the gateway calling itself
//! (`ExecuteMsg::Process`) with `reply_always`: whatever the action does is rolled back if any
//! part of it fails, and the reply turns the outcome into the acknowledgement. The receive
//! entry point never returns an error, so a failed action never aborts the relayer's
//! transaction: it is answered with an error acknowledgement.

use cosmwasm_std::{
    DepsMut, Env, Event, Ibc3ChannelOpenResponse, IbcBasicResponse, IbcChannel, IbcChannelCloseMsg,
    IbcChannelConnectMsg, IbcChannelOpenMsg, IbcChannelOpenResponse, IbcPacket, IbcPacketAckMsg,
    IbcPacketReceiveMsg, IbcPacketTimeoutMsg, IbcReceiveResponse, IbcSourceCallbackMsg, Reply,
    Response, SubMsg, SubMsgResult, WasmMsg,
};
use kumo::gateway::{
    check_handshake, own_transfer, returned_transfer, Ack, ChannelInfo, ExecuteMsg, GatewayPacket,
    IBC_VERSION,
};
use kumo::json::{self, FromJson};

use crate::error::ContractError;
use crate::execute::live_channel;
use crate::execute::{add_credit, TransferMemo};
use crate::state::{PendingResult, CHANNELS, CONFIG, RECEIVED};

/// Reply id of the `Process` submessage of a received packet.
pub const PROCESS_REPLY: u64 = 1;

/// Unordered, our version on both ends, and a counterparty the config allows.
fn check_channel(
    deps: &DepsMut,
    channel: &IbcChannel,
    counterparty_version: Option<&str>,
) -> Result<(), ContractError> {
    check_handshake(channel, counterparty_version)?;
    let config = CONFIG.load(deps.storage)?;
    let port = &channel.counterparty_endpoint.port_id;
    if !config
        .allowed
        .iter()
        .any(|a| a.connection_id == channel.connection_id && &a.port_id == port)
    {
        return Err(ContractError::CounterpartyNotAllowed {
            connection: channel.connection_id.clone(),
            port: port.clone(),
        });
    }
    Ok(())
}

pub fn ibc_channel_open(
    deps: DepsMut,
    _env: Env,
    msg: IbcChannelOpenMsg,
) -> Result<IbcChannelOpenResponse, ContractError> {
    check_channel(&deps, msg.channel(), msg.counterparty_version())?;
    Ok(Some(Ibc3ChannelOpenResponse {
        version: IBC_VERSION.to_string(),
    }))
}

pub fn ibc_channel_connect(
    deps: DepsMut,
    _env: Env,
    msg: IbcChannelConnectMsg,
) -> Result<IbcBasicResponse, ContractError> {
    check_channel(&deps, msg.channel(), msg.counterparty_version())?;
    let info = ChannelInfo::connected(msg.channel());
    CHANNELS.save(deps.storage, &info.channel_id, &info)?;
    Ok(IbcBasicResponse::new()
        .add_attribute("action", "channel_connect")
        .add_event(
            Event::new("gateway_channel_open")
                .add_attribute("channel", &info.channel_id)
                .add_attribute("connection", &info.connection_id)
                .add_attribute("counterparty_port", &info.counterparty_port)
                .add_attribute("counterparty_channel", &info.counterparty_channel),
        ))
}

/// Either end may close: the channel stops accepting packets and credits. Accounts, credits and
/// deployments stay; a new channel is a new set of accounts (accounts are per channel).
pub fn ibc_channel_close(
    deps: DepsMut,
    _env: Env,
    msg: IbcChannelCloseMsg,
) -> Result<IbcBasicResponse, ContractError> {
    let id = &msg.channel().endpoint.channel_id;
    let mut info =
        CHANNELS
            .may_load(deps.storage, id)?
            .ok_or_else(|| ContractError::UnknownChannel {
                channel: id.clone(),
            })?;
    info.open = false;
    CHANNELS.save(deps.storage, id, &info)?;
    Ok(IbcBasicResponse::new()
        .add_attribute("action", "channel_close")
        .add_event(Event::new("gateway_channel_closed").add_attribute("channel", id)))
}

pub fn ibc_packet_receive(
    deps: DepsMut,
    env: Env,
    msg: IbcPacketReceiveMsg,
) -> Result<IbcReceiveResponse, ContractError> {
    let packet = msg.packet;
    // Every check before `receive`'s first write; a refused packet changes nothing.
    Ok(receive(deps, env, &packet).unwrap_or_else(|err| {
        IbcReceiveResponse::new(Ack::error(err.to_string()))
            .add_attribute("action", "receive")
            .add_attribute("channel", &packet.dest.channel_id)
            .add_attribute("sequence", packet.sequence.to_string())
            .add_attribute("error", err.to_string())
    }))
}

fn receive(
    deps: DepsMut,
    env: Env,
    packet: &IbcPacket,
) -> Result<IbcReceiveResponse, ContractError> {
    let channel = &packet.dest.channel_id;
    let info = live_channel(deps.storage, channel)?;
    if packet.src.port_id != info.counterparty_port
        || packet.src.channel_id != info.counterparty_channel
    {
        return Err(ContractError::WrongSource {
            channel: channel.clone(),
            expected: format!("{}/{}", info.counterparty_port, info.counterparty_channel),
            got: format!("{}/{}", packet.src.port_id, packet.src.channel_id),
        });
    }
    if RECEIVED.has(deps.storage, (channel, packet.sequence)) {
        return Err(ContractError::Replayed {
            channel: channel.clone(),
            sequence: packet.sequence,
        });
    }
    let parsed =
        GatewayPacket::parse(packet.data.as_slice()).map_err(|e| ContractError::InvalidPacket {
            reason: e.to_string(),
        })?;
    // The receipt stays whatever the action's outcome: the ack is the packet's one answer.
    RECEIVED.save(deps.storage, (channel, packet.sequence), &true)?;
    let kind = parsed.msg.kind();
    let sender = parsed.sender.clone();
    let process = WasmMsg::Execute {
        contract_addr: env.contract.address.to_string(),
        msg: json::write(&ExecuteMsg::Process {
            channel: channel.clone(),
            packet: parsed,
        }),
        funds: vec![],
    };
    // The reply replaces this acknowledgement with the outcome's.
    Ok(
        IbcReceiveResponse::new(Ack::error("the packet was not processed"))
            .add_submessage(SubMsg::reply_always(process, PROCESS_REPLY))
            .add_attribute("action", "receive")
            .add_event(
                Event::new("gateway_packet_received")
                    .add_attribute("channel", channel)
                    .add_attribute("sequence", packet.sequence.to_string())
                    .add_attribute("sender", sender)
                    .add_attribute("kind", kind),
            ),
    )
}

/// The outcome of `Process` as the acknowledgement: the data of a reply to
/// `ibc_packet_receive`'s submessage replaces the ack it returned (wasmd, as `cw-ics20` uses).
pub fn reply(deps: DepsMut, reply: Reply) -> Result<Response, ContractError> {
    if reply.id != PROCESS_REPLY {
        return Err(ContractError::InvalidParams {
            reason: format!("unknown reply id {}", reply.id),
        });
    }
    let (ack, outcome) = match reply.result {
        SubMsgResult::Ok(_) => match PendingResult::take(deps.storage)? {
            Some(result) => (Ack::success(&result), "success".to_string()),
            None => (Ack::error("the packet had no result"), "no result".into()),
        },
        // `Process` and everything it dispatched were rolled back.
        SubMsgResult::Err(err) => (Ack::error(err.clone()), err),
    };
    Ok(Response::new()
        .set_data(ack)
        .add_attribute("action", "packet_result")
        .add_attribute("outcome", outcome))
}

/// The gateway sends no packets on its channels (refunds are ICS-20 transfers, whose acks the
/// transfer module handles), so an ack or a timeout is never expected.
pub fn ibc_packet_ack(
    _deps: DepsMut,
    _env: Env,
    _msg: IbcPacketAckMsg,
) -> Result<IbcBasicResponse, ContractError> {
    Err(ContractError::UnexpectedAck)
}

pub fn ibc_packet_timeout(
    _deps: DepsMut,
    _env: Env,
    _msg: IbcPacketTimeoutMsg,
) -> Result<IbcBasicResponse, ContractError> {
    Err(ContractError::UnexpectedAck)
}

/// The IBC callbacks middleware (ADR-8; wasmd 0.51+ with ibc-go's callbacks) reports how a
/// refund or withdrawal transfer ended. Delivered: nothing to do. An error acknowledgement or a
/// timeout: the transfer module has given the tokens back to the gateway, and they are
/// credited again to the account the memo names (the owner may `withdraw` them later). Only
/// the gateway's own transfers on its transfer channel are accepted.
pub fn ibc_source_callback(
    deps: DepsMut,
    env: Env,
    msg: IbcSourceCallbackMsg,
) -> Result<IbcBasicResponse, ContractError> {
    let Some((packet, reason)) = returned_transfer(msg) else {
        return Ok(IbcBasicResponse::new()
            .add_attribute("action", "transfer_callback")
            .add_attribute("outcome", "delivered"));
    };
    let unexpected = |reason: &str| ContractError::UnexpectedCallback {
        reason: reason.into(),
    };
    let config = CONFIG.load(deps.storage)?;
    let (data, coin) = own_transfer(&packet, &config.transfer_channel, &env.contract.address)
        .map_err(unexpected)?;
    let acct = TransferMemo::parse(data.memo.as_bytes())
        .ok()
        .and_then(|m| m.kumo_gateway)
        .map(|m| m.account)
        .ok_or_else(|| unexpected("the memo names no account"))?;
    let balance = add_credit(deps.storage, &acct, &coin)?;
    Ok(IbcBasicResponse::new()
        .add_attribute("action", "transfer_callback")
        .add_attribute("outcome", "returned")
        .add_event(
            Event::new("gateway_transfer_returned")
                .add_attribute("account", &acct)
                .add_attribute("receiver", &data.receiver)
                .add_attribute("amount", coin.to_string())
                .add_attribute("balance", balance.to_string())
                .add_attribute("reason", reason),
        ))
}
