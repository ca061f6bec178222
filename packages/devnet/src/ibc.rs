//! IBC between devnets: channel handshakes, contracts' IBC entry points and `IbcMsg`s (after
//! wasmd's `x/wasm/keeper/relay.go` and `ibc.go`), ICS-20 transfers (ibc-go's `transfer` app:
//! escrow and vouchers, `ibc/<hash>` denoms, refunds on error acks and timeouts) with Osmosis'
//! `x/ibc-hooks` wasm memo, and an in-process relayer that moves packets, acknowledgements and
//! timeouts between two [`App`]s.
//!
//! IBC callbacks (ADR-8): a transfer whose memo asks for `src_callback` calls its sending
//! contract's `ibc_source_callback` with the outcome.
//!
//! What is not modelled: light clients, connections and proofs (the relayer is trusted; every
//! channel runs over [`CONNECTION`]), ordered-channel sequencing, fees, async acks, and
//! destination callbacks. The
//! relayer's steps run as operator actions ([`App::ibc`]), not as signed transactions.

use cosmwasm_std::{
    Addr, Binary, Coin, ContractResult, Event, Ibc3ChannelOpenResponse, IbcAcknowledgement,
    IbcBasicResponse, IbcChannel, IbcChannelCloseMsg, IbcChannelConnectMsg, IbcChannelOpenMsg,
    IbcEndpoint, IbcMsg, IbcOrder, IbcPacket, IbcPacketAckMsg, IbcPacketReceiveMsg,
    IbcPacketTimeoutMsg, IbcReceiveResponse, IbcTimeout, MsgResponse, Response, Uint128,
};
use cosmwasm_std::{IbcAckCallbackMsg, IbcSourceCallbackMsg, IbcTimeoutCallbackMsg};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::AbciError;
use crate::keeper::{address_hash, Engine, Outcome};
use crate::state::{self, key, prefix};

pub const TRANSFER_PORT: &str = "transfer";
pub const ICS20_VERSION: &str = "ics20-1";
/// The connection every channel runs over (no light clients here: one per pair of devnets).
pub const CONNECTION: &str = "connection-0";
/// ibc-hooks' prefix of the intermediary sender (`types.SenderPrefix`).
pub const HOOKS_SENDER_PREFIX: &str = "ibc-wasm-hook-intermediary";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    Init,
    TryOpen,
    Open,
    Closed,
}

/// A channel end as ibc-go's channel keeper stores it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ChannelEnd {
    pub state: ChannelState,
    pub order: IbcOrder,
    pub version: String,
    pub connection_id: String,
    pub counterparty_port: String,
    /// Empty until the handshake's second step names it.
    pub counterparty_channel: String,
}

/// ICS-20's `FungibleTokenPacketData`, as ibc-go writes it (keys sorted, memo left out when
/// empty).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TokenPacket {
    pub amount: String,
    pub denom: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub memo: String,
    pub receiver: String,
    pub sender: String,
}

/// ICS-20's success acknowledgement (`channeltypes.NewResultAcknowledgement([]byte{1})`).
pub const TRANSFER_OK_ACK: &[u8] = br#"{"result":"AQ=="}"#;

fn error_ack(message: &str) -> Binary {
    serde_json::to_vec(&serde_json::json!({ "error": message }))
        .unwrap_or_default()
        .into()
}

/// Whether an acknowledgement in the standard envelope is an error.
pub fn is_error_ack(ack: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(ack)
        .map(|v| v.get("error").is_some())
        .unwrap_or(true)
}

fn ibc_key(kind: &str, port: &str, channel: &str) -> Vec<u8> {
    key(
        prefix::IBC,
        &[
            kind.as_bytes(),
            b"/",
            port.as_bytes(),
            b"/",
            channel.as_bytes(),
            b"/",
        ],
    )
}

fn seq_key(kind: &str, port: &str, channel: &str, sequence: u64) -> Vec<u8> {
    let mut k = ibc_key(kind, port, channel);
    k.extend_from_slice(&sequence.to_be_bytes());
    k
}

fn trace_key(hash: &str) -> Vec<u8> {
    key(prefix::IBC, &[b"trace/", hash.as_bytes()])
}

/// The voucher denom of a denom trace (`ibc/` and the upper-case hex SHA-256 of the path).
pub fn ibc_denom(path: &str) -> String {
    format!("ibc/{}", hex::encode_upper(Sha256::digest(path.as_bytes())))
}

/// The contract bound to a `wasm.<address>` port.
pub fn port_contract(port: &str) -> Option<&str> {
    port.strip_prefix("wasm.")
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn contract_result<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, AbciError> {
    let result: ContractResult<T> = serde_json::from_slice(raw)
        .map_err(|e| AbciError::vm_error(format!("invalid contract result: {e}")))?;
    result.into_result().map_err(AbciError::execute_failed)
}

fn basic_response(r: IbcBasicResponse) -> Response {
    Response::new()
        .add_submessages(r.messages)
        .add_attributes(r.attributes)
        .add_events(r.events)
}

/// A protobuf message with one `uint64` field 1 (`MsgSendPacketResponse`, `MsgTransferResponse`).
fn sequence_response(type_url: &str, sequence: u64) -> MsgResponse {
    let mut value = vec![0x08];
    let mut v = sequence;
    while v >= 0x80 {
        value.push((v as u8) | 0x80);
        v >>= 7;
    }
    value.push(v as u8);
    MsgResponse {
        type_url: type_url.into(),
        value: value.into(),
    }
}

impl Engine {
    fn ibc_load<T: serde::de::DeserializeOwned>(&self, k: &[u8]) -> Result<Option<T>, AbciError> {
        self.with_ctx(|c| c.load(k))
    }

    fn ibc_save<T: Serialize>(&self, k: &[u8], v: &T) -> Result<(), AbciError> {
        self.with_ctx(|c| c.save(k, v))
    }

    pub fn ibc_channel(&self, port: &str, channel: &str) -> Result<Option<ChannelEnd>, AbciError> {
        self.ibc_load(&ibc_key("channel", port, channel))
    }

    fn open_channel_end(&self, port: &str, channel: &str) -> Result<ChannelEnd, AbciError> {
        match self.ibc_channel(port, channel)? {
            Some(end) if end.state == ChannelState::Open => Ok(end),
            Some(end) => Err(AbciError::invalid(format!(
                "channel {port}/{channel} is {:?}, not open",
                end.state
            ))),
            None => Err(AbciError::not_found(format!("channel {port}/{channel}"))),
        }
    }

    fn as_ibc_channel(&self, port: &str, channel: &str, end: &ChannelEnd) -> IbcChannel {
        IbcChannel::new(
            IbcEndpoint {
                port_id: port.into(),
                channel_id: channel.into(),
            },
            IbcEndpoint {
                port_id: end.counterparty_port.clone(),
                channel_id: end.counterparty_channel.clone(),
            },
            end.order.clone(),
            end.version.clone(),
            end.connection_id.clone(),
        )
    }

    /// The application's answer to an open step: the version it agrees to.
    fn on_chan_open(&self, port: &str, msg: IbcChannelOpenMsg) -> Result<String, AbciError> {
        let proposed = msg.channel().version.clone();
        if let Some(contract) = port_contract(port) {
            let raw = self.call_ibc(contract, "ibc_channel_open", &to_json(&msg))?;
            let answer: Option<Ibc3ChannelOpenResponse> = contract_result(&raw)?;
            return Ok(answer.map(|r| r.version).unwrap_or(proposed));
        }
        if port != TRANSFER_PORT {
            return Err(AbciError::invalid(format!(
                "no module is bound to port {port}"
            )));
        }
        if msg.channel().order != IbcOrder::Unordered || proposed != ICS20_VERSION {
            return Err(AbciError::invalid(format!(
                "ICS-20 channels are unordered with version {ICS20_VERSION}"
            )));
        }
        Ok(ICS20_VERSION.into())
    }

    /// A contract entry point that answers with an `IbcBasicResponse`, its response handled as
    /// wasmd handles it. Module ports do nothing here.
    fn on_basic(&self, port: &str, entry: &str, msg: &[u8]) -> Result<Vec<Event>, AbciError> {
        let Some(contract) = port_contract(port) else {
            return Ok(vec![]);
        };
        let response: IbcBasicResponse = contract_result(&self.call_ibc(contract, entry, msg)?)?;
        let (events, _) = self.handle_response(contract, basic_response(response))?;
        Ok(events)
    }

    // ------------------------------------------------------------------------------ handshake

    /// `ChanOpenInit` on `port`: returns the new channel's id and its version.
    pub fn chan_open_init(
        &self,
        port: &str,
        order: IbcOrder,
        version: &str,
        counterparty_port: &str,
    ) -> Result<(String, String), AbciError> {
        let id = format!(
            "channel-{}",
            self.with_ctx(|c| c.next_sequence(b"ibcChannel"))? - 1
        );
        let mut end = ChannelEnd {
            state: ChannelState::Init,
            order,
            version: version.into(),
            connection_id: CONNECTION.into(),
            counterparty_port: counterparty_port.into(),
            counterparty_channel: String::new(),
        };
        let channel = self.as_ibc_channel(port, &id, &end);
        end.version = self.on_chan_open(port, IbcChannelOpenMsg::new_init(channel))?;
        self.ibc_save(&ibc_key("channel", port, &id), &end)?;
        Ok((id, end.version))
    }

    /// `ChanOpenTry` on `port`: returns the new channel's id and the version it agreed to.
    pub fn chan_open_try(
        &self,
        port: &str,
        order: IbcOrder,
        counterparty: &IbcEndpoint,
        counterparty_version: &str,
    ) -> Result<(String, String), AbciError> {
        let id = format!(
            "channel-{}",
            self.with_ctx(|c| c.next_sequence(b"ibcChannel"))? - 1
        );
        let mut end = ChannelEnd {
            state: ChannelState::TryOpen,
            order,
            // wasmd passes the counterparty's version as the channel's in OpenTry.
            version: counterparty_version.into(),
            connection_id: CONNECTION.into(),
            counterparty_port: counterparty.port_id.clone(),
            counterparty_channel: counterparty.channel_id.clone(),
        };
        let channel = self.as_ibc_channel(port, &id, &end);
        end.version = self.on_chan_open(
            port,
            IbcChannelOpenMsg::new_try(channel, counterparty_version),
        )?;
        self.ibc_save(&ibc_key("channel", port, &id), &end)?;
        Ok((id, end.version))
    }

    /// `ChanOpenAck` on the end that initiated.
    pub fn chan_open_ack(
        &self,
        port: &str,
        channel: &str,
        counterparty_channel: &str,
        counterparty_version: &str,
    ) -> Result<Vec<Event>, AbciError> {
        let mut end = self
            .ibc_channel(port, channel)?
            .filter(|e| e.state == ChannelState::Init)
            .ok_or_else(|| {
                AbciError::invalid(format!("channel {port}/{channel} is not in INIT"))
            })?;
        end.state = ChannelState::Open;
        end.version = counterparty_version.into();
        end.counterparty_channel = counterparty_channel.into();
        self.ibc_save(&ibc_key("channel", port, channel), &end)?;
        let msg =
            IbcChannelConnectMsg::new_ack(self.as_ibc_channel(port, channel, &end), &end.version);
        self.on_basic(port, "ibc_channel_connect", &to_json(&msg))
    }

    /// `ChanOpenConfirm` on the end that answered.
    pub fn chan_open_confirm(&self, port: &str, channel: &str) -> Result<Vec<Event>, AbciError> {
        let mut end = self
            .ibc_channel(port, channel)?
            .filter(|e| e.state == ChannelState::TryOpen)
            .ok_or_else(|| {
                AbciError::invalid(format!("channel {port}/{channel} is not in TRYOPEN"))
            })?;
        end.state = ChannelState::Open;
        self.ibc_save(&ibc_key("channel", port, channel), &end)?;
        let msg = IbcChannelConnectMsg::new_confirm(self.as_ibc_channel(port, channel, &end));
        self.on_basic(port, "ibc_channel_connect", &to_json(&msg))
    }

    /// `ChanCloseInit` (a contract's `IbcMsg::CloseChannel`, or anyone's message: the
    /// application may refuse) and `ChanCloseConfirm` (the relayer, once the other end closed).
    pub fn chan_close(
        &self,
        port: &str,
        channel: &str,
        confirm: bool,
    ) -> Result<Vec<Event>, AbciError> {
        let mut end = self.open_channel_end(port, channel)?;
        end.state = ChannelState::Closed;
        self.ibc_save(&ibc_key("channel", port, channel), &end)?;
        let c = self.as_ibc_channel(port, channel, &end);
        let msg = if confirm {
            IbcChannelCloseMsg::new_confirm(c)
        } else {
            IbcChannelCloseMsg::new_init(c)
        };
        self.on_basic(port, "ibc_channel_close", &to_json(&msg))
    }

    // ------------------------------------------------------------------------------ packets

    /// `SendPacket`: the next sequence on the channel, and the packet kept (as its commitment)
    /// until its acknowledgement or timeout.
    fn send_packet(
        &self,
        port: &str,
        channel: &str,
        data: Binary,
        timeout: IbcTimeout,
    ) -> Result<(u64, Vec<Event>), AbciError> {
        let end = self.open_channel_end(port, channel)?;
        let next_key = ibc_key("next_send", port, channel);
        let sequence: u64 = self.ibc_load(&next_key)?.unwrap_or(1);
        self.ibc_save(&next_key, &(sequence + 1))?;
        let packet = IbcPacket::new(
            data,
            IbcEndpoint {
                port_id: port.into(),
                channel_id: channel.into(),
            },
            IbcEndpoint {
                port_id: end.counterparty_port.clone(),
                channel_id: end.counterparty_channel.clone(),
            },
            sequence,
            timeout.clone(),
        );
        self.ibc_save(&seq_key("commitment", port, channel, sequence), &packet)?;
        let event = Event::new("send_packet")
            .add_attribute("packet_sequence", sequence.to_string())
            .add_attribute("packet_src_port", port)
            .add_attribute("packet_src_channel", channel)
            .add_attribute("packet_dst_port", &end.counterparty_port)
            .add_attribute("packet_dst_channel", &end.counterparty_channel)
            .add_attribute(
                "packet_timeout_timestamp",
                timeout
                    .timestamp()
                    .map(|t| t.nanos())
                    .unwrap_or_default()
                    .to_string(),
            );
        Ok((sequence, vec![event]))
    }

    /// A contract's `IbcMsg` (wasmd's IBC message handler).
    pub(crate) fn dispatch_ibc(&self, contract: &str, msg: IbcMsg) -> Result<Outcome, AbciError> {
        let port = format!("wasm.{contract}");
        match msg {
            IbcMsg::SendPacket {
                channel_id,
                data,
                timeout,
            } => {
                let (sequence, events) = self.send_packet(&port, &channel_id, data, timeout)?;
                Ok(Outcome {
                    events,
                    data: None,
                    msg_responses: vec![sequence_response(
                        "/ibc.core.channel.v1.MsgSendPacketResponse",
                        sequence,
                    )],
                })
            }
            IbcMsg::Transfer {
                channel_id,
                to_address,
                amount,
                timeout,
                memo,
            } => self.transfer(contract, &channel_id, &to_address, amount, timeout, memo),
            IbcMsg::CloseChannel { channel_id } => Ok(Outcome {
                events: self.chan_close(&port, &channel_id, false)?,
                ..Outcome::default()
            }),
            other => Err(AbciError::unknown_msg(format!(
                "the devnet does not route {other:?}"
            ))),
        }
    }

    /// `RecvPacket` on this chain: the acknowledgement written (none if the application writes
    /// it later) and the events.
    pub fn recv_packet(
        &self,
        packet: &IbcPacket,
        relayer: &str,
    ) -> Result<(Option<Binary>, Vec<Event>), AbciError> {
        let (port, channel) = (&packet.dest.port_id, &packet.dest.channel_id);
        let end = self.open_channel_end(port, channel)?;
        if end.counterparty_port != packet.src.port_id
            || end.counterparty_channel != packet.src.channel_id
        {
            return Err(AbciError::invalid(format!(
                "packet from {}/{} on a channel to {}/{}",
                packet.src.port_id,
                packet.src.channel_id,
                end.counterparty_port,
                end.counterparty_channel
            )));
        }
        let receipt = seq_key("receipt", port, channel, packet.sequence);
        if self.ibc_load::<bool>(&receipt)?.is_some() {
            return Err(AbciError::invalid("packet already received"));
        }
        let block = self.with_ctx(|c| c.block.clone());
        if timed_out(&packet.timeout, block.height, block.time.nanos()) {
            return Err(AbciError::invalid("packet timed out"));
        }
        self.ibc_save(&receipt, &true)?;
        let (ack, mut events) = match port_contract(port) {
            Some(contract) => self.contract_recv(contract, packet, relayer)?,
            None => self.transfer_recv(packet)?,
        };
        if let Some(ack) = &ack {
            self.ibc_save(&seq_key("ack", port, channel, packet.sequence), ack)?;
            events.push(
                Event::new("write_acknowledgement")
                    .add_attribute("packet_sequence", packet.sequence.to_string())
                    .add_attribute("packet_dst_port", port)
                    .add_attribute("packet_dst_channel", channel)
                    .add_attribute("packet_ack", String::from_utf8_lossy(ack)),
            );
        }
        Ok((ack, events))
    }

    /// wasmd's `OnRecvPacket`: a contract's error reverts what it did and becomes an error
    /// acknowledgement; a reply's data replaces the acknowledgement the contract returned.
    fn contract_recv(
        &self,
        contract: &str,
        packet: &IbcPacket,
        relayer: &str,
    ) -> Result<(Option<Binary>, Vec<Event>), AbciError> {
        let msg = IbcPacketReceiveMsg::new(packet.clone(), Addr::unchecked(relayer));
        let result = self.cached(|| {
            let raw = self.call_ibc(contract, "ibc_packet_receive", &to_json(&msg))?;
            let r: IbcReceiveResponse = contract_result(&raw)?;
            let mut response = Response::new()
                .add_submessages(r.messages)
                .add_attributes(r.attributes)
                .add_events(r.events);
            response.data = r.acknowledgement;
            self.handle_response(contract, response)
        });
        match result {
            Ok((events, ack)) => Ok((ack, events)),
            Err(e) if e.is_out_of_gas() => Err(e),
            Err(e) => Ok((Some(error_ack(&e.redacted())), vec![])),
        }
    }

    /// Runs `f` in its own cache context: its writes are kept if it succeeds, dropped if not.
    fn cached<T>(&self, f: impl FnOnce() -> Result<T, AbciError>) -> Result<T, AbciError> {
        self.with_ctx(|c| c.store.begin());
        let result = f();
        self.with_ctx(|c| match &result {
            Ok(_) => {
                c.store.commit();
            }
            Err(_) => c.store.rollback(),
        });
        result
    }

    /// `AcknowledgePacket` on the sending chain.
    pub fn acknowledge_packet(
        &self,
        packet: &IbcPacket,
        ack: &Binary,
        relayer: &str,
    ) -> Result<Vec<Event>, AbciError> {
        self.take_commitment(packet)?;
        let port = &packet.src.port_id;
        if port_contract(port).is_some() {
            let msg = IbcPacketAckMsg::new(
                IbcAcknowledgement::new(ack.clone()),
                packet.clone(),
                Addr::unchecked(relayer),
            );
            return self.on_basic(port, "ibc_packet_ack", &to_json(&msg));
        }
        let mut events = if is_error_ack(ack) {
            self.refund(packet)?
        } else {
            vec![]
        };
        let outcome = IbcSourceCallbackMsg::Acknowledgement(IbcAckCallbackMsg::new(
            IbcAcknowledgement::new(ack.clone()),
            packet.clone(),
            Addr::unchecked(relayer),
        ));
        events.extend(self.source_callback(packet, outcome));
        Ok(events)
    }

    /// `TimeoutPacket` (or `TimeoutOnClose`) on the sending chain.
    pub fn timeout_packet(
        &self,
        packet: &IbcPacket,
        relayer: &str,
    ) -> Result<Vec<Event>, AbciError> {
        self.take_commitment(packet)?;
        let port = &packet.src.port_id;
        if port_contract(port).is_some() {
            let msg = IbcPacketTimeoutMsg::new(packet.clone(), Addr::unchecked(relayer));
            return self.on_basic(port, "ibc_packet_timeout", &to_json(&msg));
        }
        let mut events = self.refund(packet)?;
        let outcome = IbcSourceCallbackMsg::Timeout(IbcTimeoutCallbackMsg::new(
            packet.clone(),
            Addr::unchecked(relayer),
        ));
        events.extend(self.source_callback(packet, outcome));
        Ok(events)
    }

    /// ibc-go's callbacks middleware (ADR-8) over the transfer app, as wasmd wires it: a transfer
    /// whose memo's `src_callback.address` is its sender, a contract, gets that contract's
    /// `ibc_source_callback` with the outcome, after the transfer app's own handling. A failing
    /// callback is reverted alone; the acknowledgement or timeout stands.
    fn source_callback(&self, packet: &IbcPacket, outcome: IbcSourceCallbackMsg) -> Vec<Event> {
        let Ok(data) = serde_json::from_slice::<TokenPacket>(&packet.data) else {
            return vec![];
        };
        let memo = serde_json::from_str::<serde_json::Value>(&data.memo).unwrap_or_default();
        let Some(address) = memo
            .get("src_callback")
            .and_then(|c| c.get("address"))
            .and_then(|a| a.as_str())
        else {
            return vec![];
        };
        if address != data.sender || self.contract_info(address).is_err() {
            return vec![];
        }
        let result = self.cached(|| {
            let raw = self.call_ibc(address, "ibc_source_callback", &to_json(&outcome))?;
            let r: IbcBasicResponse = contract_result(&raw)?;
            self.handle_response(address, basic_response(r))
        });
        match result {
            Ok((events, _)) => events,
            Err(e) => {
                vec![Event::new("ibc_src_callback")
                    .add_attribute("callback_address", address)
                    .add_attribute("callback_error", e.to_string())]
            }
        }
    }

    fn take_commitment(&self, packet: &IbcPacket) -> Result<(), AbciError> {
        let k = seq_key(
            "commitment",
            &packet.src.port_id,
            &packet.src.channel_id,
            packet.sequence,
        );
        if self.ibc_load::<IbcPacket>(&k)?.is_none() {
            return Err(AbciError::invalid(format!(
                "no commitment for packet {} on {}/{}",
                packet.sequence, packet.src.port_id, packet.src.channel_id
            )));
        }
        self.with_ctx(|c| c.delete(&k))?;
        Ok(())
    }

    /// Packets sent on a channel and not yet acknowledged or timed out, in sequence order.
    pub fn packet_commitments(&self, port: &str, channel: &str) -> Vec<IbcPacket> {
        let (entries, _) = state::lock(&self.ctx).store.prefix_page(
            &ibc_key("commitment", port, channel),
            &[],
            usize::MAX,
        );
        entries
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect()
    }

    pub fn has_receipt(&self, port: &str, channel: &str, sequence: u64) -> bool {
        state::lock(&self.ctx)
            .store
            .get(&seq_key("receipt", port, channel, sequence))
            .is_some()
    }

    pub fn written_ack(&self, port: &str, channel: &str, sequence: u64) -> Option<Binary> {
        state::lock(&self.ctx).load_free(&seq_key("ack", port, channel, sequence))
    }

    // ------------------------------------------------------------------------------ ICS-20

    /// ICS-20's escrow account of a channel (`GetEscrowAddress`).
    pub fn escrow_address(&self, channel: &str) -> Result<String, AbciError> {
        let mut preimage = ICS20_VERSION.as_bytes().to_vec();
        preimage.push(0);
        preimage.extend_from_slice(format!("{TRANSFER_PORT}/{channel}").as_bytes());
        let hash = Sha256::digest(&preimage);
        self.api.humanize(&hash[..20]).map_err(AbciError::internal)
    }

    /// ibc-hooks' `DeriveIntermediateSender`: who a hooked transfer's contract call comes from.
    pub fn hooks_intermediary(&self, channel: &str, sender: &str) -> Result<String, AbciError> {
        let hash = address_hash(
            HOOKS_SENDER_PREFIX,
            format!("{channel}/{sender}").as_bytes(),
        );
        self.api.humanize(&hash).map_err(AbciError::internal)
    }

    /// A denom's full trace (`transfer/channel-0/uatom` for a voucher, the denom itself for a
    /// native one).
    fn denom_path(&self, denom: &str) -> Result<String, AbciError> {
        let Some(hash) = denom.strip_prefix("ibc/") else {
            return Ok(denom.into());
        };
        self.ibc_load::<String>(&trace_key(hash))?
            .ok_or_else(|| AbciError::invalid_coins(format!("no denom trace for {denom}")))
    }

    /// The local denom of a trace.
    fn local_denom(path: &str) -> String {
        if path.contains('/') {
            ibc_denom(path)
        } else {
            path.into()
        }
    }

    /// `MsgTransfer` from `sender`: a voucher going home is burnt, anything else escrowed.
    pub fn transfer(
        &self,
        sender: &str,
        channel: &str,
        receiver: &str,
        amount: Coin,
        timeout: IbcTimeout,
        memo: Option<String>,
    ) -> Result<Outcome, AbciError> {
        if amount.amount.is_zero() {
            return Err(AbciError::invalid_coins(
                "a transfer needs a positive amount",
            ));
        }
        self.open_channel_end(TRANSFER_PORT, channel)?;
        let path = self.denom_path(&amount.denom)?;
        let mut events = if path.starts_with(&format!("{TRANSFER_PORT}/{channel}/")) {
            self.bank_burn(sender, std::slice::from_ref(&amount))?
        } else {
            self.bank_send(
                sender,
                &self.escrow_address(channel)?,
                std::slice::from_ref(&amount),
            )?
        };
        let data = TokenPacket {
            amount: amount.amount.to_string(),
            denom: path,
            memo: memo.unwrap_or_default(),
            receiver: receiver.into(),
            sender: sender.into(),
        };
        let (sequence, more) =
            self.send_packet(TRANSFER_PORT, channel, to_json(&data).into(), timeout)?;
        events.extend(more);
        Ok(Outcome {
            events,
            data: None,
            msg_responses: vec![sequence_response(
                "/ibc.applications.transfer.v1.MsgTransferResponse",
                sequence,
            )],
        })
    }

    /// ICS-20's `OnRecvPacket` behind ibc-hooks: everything or nothing, and an error
    /// acknowledgement when it fails.
    fn transfer_recv(&self, packet: &IbcPacket) -> Result<(Option<Binary>, Vec<Event>), AbciError> {
        match self.cached(|| self.token_recv(packet)) {
            Ok(events) => Ok((Some(TRANSFER_OK_ACK.to_vec().into()), events)),
            Err(e) if e.is_out_of_gas() => Err(e),
            Err(e) => Ok((Some(error_ack(&e.log)), vec![])),
        }
    }

    fn token_recv(&self, packet: &IbcPacket) -> Result<Vec<Event>, AbciError> {
        let data: TokenPacket = serde_json::from_slice(&packet.data)
            .map_err(|e| AbciError::invalid(format!("ICS-20 packet data: {e}")))?;
        let amount: Uint128 = data
            .amount
            .parse()
            .map_err(|_| AbciError::invalid_coins(format!("amount {:?}", data.amount)))?;
        let source = format!("{}/{}/", packet.src.port_id, packet.src.channel_id);
        let (denom, home) = match data.denom.strip_prefix(&source) {
            // A voucher of ours coming home: out of escrow.
            Some(base) => (Self::local_denom(base), true),
            None => {
                let path = format!(
                    "{}/{}/{}",
                    packet.dest.port_id, packet.dest.channel_id, data.denom
                );
                let denom = ibc_denom(&path);
                let hash = denom.trim_start_matches("ibc/").to_string();
                self.ibc_save(&trace_key(&hash), &path)?;
                (denom, false)
            }
        };
        // ibc-hooks: a `wasm` memo sends the tokens to the intermediary, which then calls the
        // contract with them; the contract must be the receiver.
        let hook = match serde_json::from_str::<serde_json::Value>(&data.memo) {
            Ok(memo) => match memo.get("wasm") {
                Some(wasm) => {
                    let contract = wasm.get("contract").and_then(|c| c.as_str());
                    let msg = wasm.get("msg").filter(|m| m.is_object());
                    match (contract, msg) {
                        (Some(c), Some(m)) if c == data.receiver => Some((c.to_string(), m.clone())),
                        _ => {
                            return Err(AbciError::invalid(
                                "ibc-hooks: the wasm memo needs a contract, the receiver, and a msg object",
                            ))
                        }
                    }
                }
                None => None,
            },
            Err(_) => None,
        };
        let recipient = match &hook {
            Some(_) => self.hooks_intermediary(&packet.dest.channel_id, &data.sender)?,
            None => data.receiver.clone(),
        };
        self.canonical(&recipient)?;
        let coin = Coin::new(amount, denom);
        let mut events = vec![];
        if home {
            let escrow = self.escrow_address(&packet.dest.channel_id)?;
            events.extend(self.bank_send(&escrow, &recipient, std::slice::from_ref(&coin))?);
        } else {
            self.mint(&recipient, std::slice::from_ref(&coin))?;
        }
        events.push(
            Event::new("fungible_token_packet")
                .add_attribute("sender", &data.sender)
                .add_attribute("receiver", &data.receiver)
                .add_attribute("denom", &coin.denom)
                .add_attribute("amount", amount.to_string())
                .add_attribute("memo", &data.memo),
        );
        if let Some((contract, msg)) = hook {
            let outcome = self.execute(&recipient, &contract, &to_json(&msg), &[coin])?;
            events.extend(outcome.events);
        }
        Ok(events)
    }

    /// Gives a failed transfer's tokens back to its sender (ICS-20's `refundPacketToken`).
    fn refund(&self, packet: &IbcPacket) -> Result<Vec<Event>, AbciError> {
        let data: TokenPacket = serde_json::from_slice(&packet.data)
            .map_err(|e| AbciError::invalid(format!("ICS-20 packet data: {e}")))?;
        let amount: Uint128 = data
            .amount
            .parse()
            .map_err(|_| AbciError::invalid_coins(format!("amount {:?}", data.amount)))?;
        let coin = Coin::new(amount, Self::local_denom(&data.denom));
        let channel = &packet.src.channel_id;
        if data
            .denom
            .starts_with(&format!("{TRANSFER_PORT}/{channel}/"))
        {
            self.mint(&data.sender, &[coin])?;
            Ok(vec![])
        } else {
            let escrow = self.escrow_address(channel)?;
            self.bank_send(&escrow, &data.sender, &[coin])
        }
    }
}

/// Whether `timeout` has passed on a chain at `height` and `time_nanos`.
pub fn timed_out(timeout: &IbcTimeout, height: u64, time_nanos: u64) -> bool {
    timeout
        .block()
        .is_some_and(|b| b.height > 0 && height >= b.height)
        || timeout
            .timestamp()
            .is_some_and(|t| t.nanos() > 0 && time_nanos >= t.nanos())
}

// ---------------------------------------------------------------------------------- relayer

/// A channel between two devnets: its end on `a` and on `b`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelPath {
    pub a_port: String,
    pub a_channel: String,
    pub b_port: String,
    pub b_channel: String,
}

impl ChannelPath {
    /// The same channel seen from the other chain (`a` and `b` swapped).
    pub fn reversed(&self) -> ChannelPath {
        ChannelPath {
            a_port: self.b_port.clone(),
            a_channel: self.b_channel.clone(),
            b_port: self.a_port.clone(),
            b_channel: self.a_channel.clone(),
        }
    }
}

/// What one [`relay`] pass moved.
#[derive(Clone, Debug, Default)]
pub struct Relayed {
    /// Packets delivered, with the acknowledgement the receiving chain wrote.
    pub delivered: Vec<(IbcPacket, Option<Binary>)>,
    /// Packets that timed out (their timeout passed on the receiving chain, or its end closed).
    pub timed_out: Vec<IbcPacket>,
    /// Channel ends closed to follow the other end.
    pub closed: Vec<(String, String)>,
}

impl Relayed {
    fn is_empty(&self) -> bool {
        self.delivered.is_empty() && self.timed_out.is_empty() && self.closed.is_empty()
    }

    fn extend(&mut self, other: Relayed) {
        self.delivered.extend(other.delivered);
        self.timed_out.extend(other.timed_out);
        self.closed.extend(other.closed);
    }
}

/// The relayer's account on a chain (it signs nothing here; contracts see it as `relayer`).
pub fn relayer_address(app: &App) -> String {
    app.engine
        .api
        .humanize(&crate::keeper::module_address("relayer", b""))
        .unwrap_or_default()
}

/// The four-step handshake of a channel from `a_port` on `a` to `b_port` on `b`, as a relayer
/// drives it after someone's `ChanOpenInit` on `a`.
pub fn open_channel(
    a: &mut App,
    b: &mut App,
    a_port: &str,
    b_port: &str,
    version: &str,
    order: IbcOrder,
) -> Result<ChannelPath, String> {
    let (a_channel, a_version) =
        a.ibc(|e| e.chan_open_init(a_port, order.clone(), version, b_port))?;
    let counterparty = IbcEndpoint {
        port_id: a_port.into(),
        channel_id: a_channel.clone(),
    };
    let (b_channel, b_version) =
        b.ibc(|e| e.chan_open_try(b_port, order, &counterparty, &a_version))?;
    a.ibc(|e| e.chan_open_ack(a_port, &a_channel, &b_channel, &b_version))?;
    b.ibc(|e| e.chan_open_confirm(b_port, &b_channel))?;
    Ok(ChannelPath {
        a_port: a_port.into(),
        a_channel,
        b_port: b_port.into(),
        b_channel,
    })
}

/// Moves everything pending on the channels `paths` between `a` and `b` until nothing is left:
/// packets to their destination and acknowledgements back (a delivery may send new packets, e.g.
/// a transfer from a contract that received one), timeouts to the sender once the timeout has
/// passed on the destination's latest block or its end has closed, and a close to the other end.
pub fn relay(a: &mut App, b: &mut App, paths: &[ChannelPath]) -> Result<Relayed, String> {
    let mut total = Relayed::default();
    // Each round moves what the previous one caused; a bound, in case contracts ping-pong.
    for _ in 0..16 {
        let mut round = Relayed::default();
        for path in paths {
            round.extend(relay_one_way(
                a,
                b,
                (&path.a_port, &path.a_channel),
                (&path.b_port, &path.b_channel),
            )?);
            round.extend(relay_one_way(
                b,
                a,
                (&path.b_port, &path.b_channel),
                (&path.a_port, &path.a_channel),
            )?);
        }
        if round.is_empty() {
            return Ok(total);
        }
        total.extend(round);
    }
    Err("the relayer still had packets to move after 16 rounds".into())
}

fn relay_one_way(
    src: &mut App,
    dst: &mut App,
    (src_port, src_channel): (&str, &str),
    (dst_port, dst_channel): (&str, &str),
) -> Result<Relayed, String> {
    let mut out = Relayed::default();
    let src_state = src.ibc_channel_state(src_port, src_channel)?;
    let dst_state = dst.ibc_channel_state(dst_port, dst_channel)?;
    if src_state == Some(ChannelState::Closed) && dst_state == Some(ChannelState::Open) {
        dst.ibc(|e| e.chan_close(dst_port, dst_channel, true))?;
        out.closed.push((dst_port.into(), dst_channel.into()));
    }
    let dst_closed = dst.ibc_channel_state(dst_port, dst_channel)? == Some(ChannelState::Closed);
    let src_relayer = relayer_address(src);
    let dst_relayer = relayer_address(dst);
    let packets = src
        .with_query(|e| Ok(e.packet_commitments(src_port, src_channel)))
        .map_err(|e| e.to_string())?;
    for packet in packets {
        let seq = packet.sequence;
        let received = dst
            .with_query(|e| Ok(e.has_receipt(dst_port, dst_channel, seq)))
            .map_err(|e| e.to_string())?;
        if received {
            if let Some(ack) = dst
                .with_query(|e| Ok(e.written_ack(dst_port, dst_channel, seq)))
                .map_err(|e| e.to_string())?
            {
                src.ibc(|e| e.acknowledge_packet(&packet, &ack, &src_relayer))?;
                out.delivered.push((packet, Some(ack)));
            }
            continue;
        }
        let (height, time) = (dst.height(), dst.block_time().nanos());
        if dst_closed || timed_out(&packet.timeout, height, time) {
            src.ibc(|e| e.timeout_packet(&packet, &src_relayer))?;
            out.timed_out.push(packet);
            continue;
        }
        let (ack, _) = dst.ibc(|e| e.recv_packet(&packet, &dst_relayer))?;
        if let Some(ack) = &ack {
            src.ibc(|e| e.acknowledge_packet(&packet, ack, &src_relayer))?;
        }
        out.delivered.push((packet, ack));
    }
    Ok(out)
}
