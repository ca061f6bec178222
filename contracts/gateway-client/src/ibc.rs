//! IBC entry points. One unordered `kumo-gateway-1` channel to the gateway at a time (as
//! Polytone's note pairs with one voice). Acks and timeouts of the client's packets end their
//! pending record and, when asked, call the initiator's callback receiver back.

use cosmwasm_std::{
    BankMsg, Binary, DepsMut, Env, Event, Ibc3ChannelOpenResponse, IbcBasicResponse, IbcChannel,
    IbcChannelCloseMsg, IbcChannelConnectMsg, IbcChannelOpenMsg, IbcChannelOpenResponse,
    IbcPacketAckMsg, IbcPacketReceiveMsg, IbcPacketTimeoutMsg, IbcReceiveResponse,
    IbcSourceCallbackMsg, SubMsg, WasmMsg,
};
use kumo::gateway::client::{Callback, CallbackMsg, CallbackResult};
use kumo::gateway::{
    check_handshake, own_transfer, returned_transfer, Ack, ChannelInfo, ExecuteMsg as GatewayMsg,
    PacketResult, IBC_VERSION,
};
use kumo::json::{self, FromJson};

use crate::contract::HookMemo;

use crate::error::ContractError;
use crate::state::{CALLBACK_GAS_LIMIT, CHANNEL, CONFIG, PENDING};

/// Reply id of callbacks (`reply_on_error`: a failing receiver does not fail the ack).
pub const CALLBACK_REPLY: u64 = 1;

fn check_channel(
    deps: &DepsMut,
    channel: &IbcChannel,
    counterparty_version: Option<&str>,
) -> Result<(), ContractError> {
    check_handshake(channel, counterparty_version)?;
    let config = CONFIG.load(deps.storage)?;
    let port = &channel.counterparty_endpoint.port_id;
    if let Some(expected) = config.gateway_port {
        if &expected != port {
            return Err(ContractError::WrongGatewayPort {
                expected,
                got: port.clone(),
            });
        }
    }
    if let Some(open) = CHANNEL.may_load(deps.storage)? {
        return Err(ContractError::ChannelExists {
            channel: open.channel_id,
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
    CHANNEL.save(deps.storage, &info)?;
    Ok(IbcBasicResponse::new()
        .add_attribute("action", "channel_connect")
        .add_event(
            Event::new("gateway_client_channel_open")
                .add_attribute("channel", &info.channel_id)
                .add_attribute("connection", &info.connection_id)
                .add_attribute("counterparty_port", &info.counterparty_port)
                .add_attribute("counterparty_channel", &info.counterparty_channel),
        ))
}

/// The channel is forgotten so that a new one may open; its packets in flight time out (IBC
/// delivers their timeouts on close) and their callbacks get `Timeout`.
pub fn ibc_channel_close(
    deps: DepsMut,
    _env: Env,
    msg: IbcChannelCloseMsg,
) -> Result<IbcBasicResponse, ContractError> {
    let id = &msg.channel().endpoint.channel_id;
    if CHANNEL
        .may_load(deps.storage)?
        .is_some_and(|c| &c.channel_id == id)
    {
        CHANNEL.remove(deps.storage);
    }
    Ok(IbcBasicResponse::new()
        .add_attribute("action", "channel_close")
        .add_event(Event::new("gateway_client_channel_closed").add_attribute("channel", id)))
}

/// The gateway sends no packets; anything received is answered with an error ack.
pub fn ibc_packet_receive(
    _deps: DepsMut,
    _env: Env,
    _msg: IbcPacketReceiveMsg,
) -> Result<IbcReceiveResponse, ContractError> {
    Ok(
        IbcReceiveResponse::new(Ack::error(ContractError::NoPacketsExpected.to_string()))
            .add_attribute("action", "receive")
            .add_attribute("error", ContractError::NoPacketsExpected.to_string()),
    )
}

/// The gateway's answer, read from the standard envelope.
pub fn parse_ack(data: &Binary) -> CallbackResult {
    match Ack::parse(data.as_slice()) {
        Ok(Ack::Result(result)) => match PacketResult::parse(result.as_slice()) {
            Ok(result) => CallbackResult::Success(result),
            Err(e) => CallbackResult::Error(format!("unreadable result: {e}")),
        },
        Ok(Ack::Error(error)) => CallbackResult::Error(error),
        Err(e) => CallbackResult::Error(format!("unreadable acknowledgement: {e}")),
    }
}

pub fn ibc_packet_ack(
    deps: DepsMut,
    _env: Env,
    msg: IbcPacketAckMsg,
) -> Result<IbcBasicResponse, ContractError> {
    let result = parse_ack(&msg.acknowledgement.data);
    finish(
        deps,
        &msg.original_packet.src.channel_id,
        msg.original_packet.sequence,
        result,
    )
}

pub fn ibc_packet_timeout(
    deps: DepsMut,
    _env: Env,
    msg: IbcPacketTimeoutMsg,
) -> Result<IbcBasicResponse, ContractError> {
    finish(
        deps,
        &msg.packet.src.channel_id,
        msg.packet.sequence,
        CallbackResult::Timeout {},
    )
}

/// Ends a packet: its pending record goes, and the callback (if any) is called. A packet this
/// client has no record of (never sent, or already answered) changes nothing.
fn finish(
    deps: DepsMut,
    channel: &str,
    sequence: u64,
    result: CallbackResult,
) -> Result<IbcBasicResponse, ContractError> {
    let Some(pending) = PENDING.may_load(deps.storage, (channel, sequence))? else {
        return Ok(IbcBasicResponse::new()
            .add_attribute("action", "packet_result")
            .add_attribute("unknown_packet", format!("{channel}/{sequence}")));
    };
    PENDING.remove(deps.storage, (channel, sequence));
    let outcome = match &result {
        CallbackResult::Success(_) => "success",
        CallbackResult::Error(_) => "error",
        CallbackResult::Timeout {} => "timeout",
    };
    let mut res = IbcBasicResponse::new()
        .add_attribute("action", "packet_result")
        .add_event(
            Event::new("gateway_client_result")
                .add_attribute("channel", channel)
                .add_attribute("sequence", sequence.to_string())
                .add_attribute("initiator", pending.initiator.as_str())
                .add_attribute("kind", &pending.kind)
                .add_attribute("outcome", outcome),
        );
    if let Some(cb) = pending.callback {
        let callback = CallbackMsg::KumoCallback(Callback {
            initiator: pending.initiator,
            msg: cb.msg,
            channel: channel.into(),
            sequence,
            result,
        });
        let call = WasmMsg::Execute {
            contract_addr: cb.receiver,
            msg: json::write(&callback),
            funds: vec![],
        };
        res = res.add_submessage(
            SubMsg::reply_on_error(call, CALLBACK_REPLY).with_gas_limit(CALLBACK_GAS_LIMIT),
        );
    }
    Ok(res)
}

/// The IBC callbacks middleware (ADR-8) reports how a `Fund` transfer ended. Delivered: the
/// gateway credited it. An error acknowledgement (the gateway refused the credit: a revoked
/// client, a closed channel) or a timeout: the transfer module has given the coin back to the
/// client, which sends it on to whoever funded (the credit's sender in the memo). Only the
/// client's own transfers on its transfer channel are accepted.
pub fn ibc_source_callback(
    deps: DepsMut,
    env: Env,
    msg: IbcSourceCallbackMsg,
) -> Result<IbcBasicResponse, ContractError> {
    let Some((packet, reason)) = returned_transfer(msg) else {
        return Ok(IbcBasicResponse::new()
            .add_attribute("action", "fund_callback")
            .add_attribute("outcome", "delivered"));
    };
    let unexpected = |reason: &str| ContractError::UnexpectedCallback {
        reason: reason.into(),
    };
    let config = CONFIG.load(deps.storage)?;
    let (data, coin) = own_transfer(&packet, &config.transfer_channel, &env.contract.address)
        .map_err(unexpected)?;
    let funder = match HookMemo::parse(data.memo.as_bytes()).map(|m| m.wasm.msg) {
        Ok(GatewayMsg::Credit { sender, .. }) => sender,
        _ => return Err(unexpected("the memo names no credit")),
    };
    Ok(IbcBasicResponse::new()
        .add_message(BankMsg::Send {
            to_address: funder.clone(),
            amount: vec![coin.clone()],
        })
        .add_attribute("action", "fund_callback")
        .add_attribute("outcome", "returned")
        .add_event(
            Event::new("gateway_client_fund_returned")
                .add_attribute("funder", funder)
                .add_attribute("amount", coin.to_string())
                .add_attribute("reason", reason),
        ))
}
