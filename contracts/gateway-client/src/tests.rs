//! Unit tests of every entry point with cosmwasm-std's IBC testing helpers, and the attack
//! tests: handshake checks, acks for packets never sent, replayed acks, callbacks.

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, mock_ibc_channel, mock_ibc_channel_close_confirm,
    mock_ibc_channel_connect_ack, mock_ibc_channel_open_init, mock_ibc_channel_open_try,
    mock_ibc_packet_ack, mock_ibc_packet_recv, mock_ibc_packet_timeout, MockApi, MockQuerier,
    MockStorage,
};
use cosmwasm_std::{
    coin, coins, from_json, to_json_binary, Addr, Binary, CosmosMsg, Env, IbcAcknowledgement,
    IbcChannel, IbcChannelConnectMsg, IbcChannelOpenMsg, IbcMsg, IbcOrder, OwnedDeps, Reply,
    ReplyOn, Response, SubMsgResult, WasmMsg,
};
use kumo::gateway::client::*;
use kumo::gateway::{
    Ack, ExecuteMsg as GatewayMsg, GatewayPacket, HandshakeError, PacketMsg, PacketResult,
    IBC_VERSION,
};
use kumo::json::as_received;

use crate::contract::{reply, HookMemo, CONTRACT_NAME};
use crate::error::ContractError;
use crate::ibc::{
    ibc_channel_close, ibc_channel_connect, ibc_channel_open, ibc_packet_ack, ibc_packet_receive,
    ibc_packet_timeout, parse_ack, CALLBACK_REPLY,
};
use crate::state::CALLBACK_GAS_LIMIT;

type Deps = OwnedDeps<MockStorage, MockApi, MockQuerier>;

// The entry points as the wasm's exports call them: each message decoded by `kumo::json` (and
// checked against the derived decoder by `as_received`).
fn instantiate(
    deps: cosmwasm_std::DepsMut,
    env: Env,
    info: cosmwasm_std::MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    crate::contract::instantiate(deps, env, info, as_received(&msg))
}

fn execute(
    deps: cosmwasm_std::DepsMut,
    env: Env,
    info: cosmwasm_std::MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    crate::contract::execute(deps, env, info, as_received(&msg))
}

fn query(deps: cosmwasm_std::Deps, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    crate::contract::query(deps, env, as_received(&msg))
}

fn migrate(
    deps: cosmwasm_std::DepsMut,
    env: Env,
    msg: MigrateMsg,
) -> Result<Response, ContractError> {
    crate::contract::migrate(deps, env, as_received(&msg))
}

/// Our end of the channel; `mock_ibc_channel` connects it to `channel-7` over `connection-2`.
const CHANNEL: &str = "channel-3";
const GATEWAY: &str = "kumo1gateway";
const GATEWAY_PORT: &str = "wasm.kumo1gateway";
const TRANSFER: &str = "channel-0";

struct Client {
    deps: Deps,
    env: Env,
    owner: Addr,
    dapp: Addr,
}

fn channel(order: IbcOrder, version: &str) -> IbcChannel {
    let mut ch = mock_ibc_channel(CHANNEL, order, version);
    ch.counterparty_endpoint.port_id = GATEWAY_PORT.into();
    ch
}

fn close_deployment() -> PacketMsg {
    PacketMsg::CloseDeployment { dseq: 4 }
}

impl Client {
    fn new(gateway_port: Option<&str>) -> Client {
        let mut deps = mock_dependencies();
        let owner = deps.api.addr_make("owner");
        let dapp = deps.api.addr_make("dapp");
        let msg = InstantiateMsg {
            owner: owner.to_string(),
            transfer_channel: TRANSFER.into(),
            gateway_port: gateway_port.map(Into::into),
            default_timeout: None,
        };
        instantiate(deps.as_mut(), mock_env(), message_info(&owner, &[]), msg).unwrap();
        Client {
            deps,
            env: mock_env(),
            owner,
            dapp,
        }
    }

    fn connected() -> Client {
        let mut c = Client::new(Some(GATEWAY_PORT));
        let ch = channel(IbcOrder::Unordered, IBC_VERSION);
        ibc_channel_open(
            c.deps.as_mut(),
            c.env.clone(),
            IbcChannelOpenMsg::new_init(ch.clone()),
        )
        .unwrap();
        ibc_channel_connect(
            c.deps.as_mut(),
            c.env.clone(),
            IbcChannelConnectMsg::new_ack(ch, IBC_VERSION),
        )
        .unwrap();
        c
    }

    fn exec(
        &mut self,
        sender: &Addr,
        funds: &[cosmwasm_std::Coin],
        msg: ExecuteMsg,
    ) -> Result<Response, ContractError> {
        execute(
            self.deps.as_mut(),
            self.env.clone(),
            message_info(sender, funds),
            msg,
        )
    }

    fn send(&mut self, msg: PacketMsg, callback: Option<CallbackRequest>) -> (u64, GatewayPacket) {
        let dapp = self.dapp.clone();
        let res = self
            .exec(
                &dapp,
                &[],
                ExecuteMsg::Send {
                    msg,
                    callback,
                    timeout_seconds: None,
                },
            )
            .unwrap();
        let seq: u64 = res.events[0]
            .attributes
            .iter()
            .find(|a| a.key == "sequence")
            .unwrap()
            .value
            .parse()
            .unwrap();
        match &res.messages[0].msg {
            CosmosMsg::Ibc(IbcMsg::SendPacket {
                channel_id,
                data,
                timeout,
            }) => {
                assert_eq!(channel_id, CHANNEL);
                assert_eq!(
                    timeout.timestamp(),
                    Some(self.env.block.time.plus_seconds(600))
                );
                (seq, from_json(data).unwrap())
            }
            other => panic!("{other:?}"),
        }
    }

    fn ack(
        &mut self,
        seq: u64,
        packet: &GatewayPacket,
        ack: Binary,
    ) -> cosmwasm_std::IbcBasicResponse {
        let mut msg = mock_ibc_packet_ack(CHANNEL, packet, IbcAcknowledgement::new(ack)).unwrap();
        msg.original_packet.sequence = seq;
        ibc_packet_ack(self.deps.as_mut(), self.env.clone(), msg).unwrap()
    }

    fn pending(&self, seq: u64) -> Option<Pending> {
        let res: PendingResponse = from_json(
            query(
                self.deps.as_ref(),
                self.env.clone(),
                QueryMsg::Pending {
                    channel: CHANNEL.into(),
                    sequence: seq,
                },
            )
            .unwrap(),
        )
        .unwrap();
        res.pending
    }
}

fn callback_of(res: &cosmwasm_std::IbcBasicResponse) -> (String, Callback) {
    assert_eq!(res.messages.len(), 1);
    let sub = &res.messages[0];
    assert_eq!(sub.reply_on, ReplyOn::Error);
    assert_eq!(sub.id, CALLBACK_REPLY);
    assert_eq!(sub.gas_limit, Some(CALLBACK_GAS_LIMIT));
    match &sub.msg {
        CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr,
            msg,
            funds,
        }) => {
            assert!(funds.is_empty());
            let CallbackMsg::KumoCallback(cb) = from_json(msg).unwrap();
            (contract_addr.clone(), cb)
        }
        other => panic!("{other:?}"),
    }
}

// ---- instantiate, config, migrate ----

#[test]
fn instantiate_and_config_changes_by_the_owner_only() {
    let mut c = Client::new(None);
    let config: ConfigResponse =
        from_json(query(c.deps.as_ref(), c.env.clone(), QueryMsg::Config {}).unwrap()).unwrap();
    assert_eq!(config.default_timeout, 600);
    assert_eq!(config.transfer_channel, TRANSFER);
    assert_eq!(
        cw2::get_contract_version(&c.deps.storage).unwrap().contract,
        CONTRACT_NAME
    );
    let update = ExecuteMsg::UpdateConfig {
        owner: None,
        transfer_channel: None,
        gateway_port: Some(GATEWAY_PORT.into()),
        default_timeout: Some(60),
    };
    let dapp = c.dapp.clone();
    let err = c.exec(&dapp, &[], update.clone()).unwrap_err();
    assert_eq!(err, ContractError::unauthorized(c.owner.as_str()));
    let owner = c.owner.clone();
    c.exec(&owner, &[], update).unwrap();
    let bad = ExecuteMsg::UpdateConfig {
        owner: None,
        transfer_channel: None,
        gateway_port: None,
        default_timeout: Some(0),
    };
    assert!(matches!(
        c.exec(&owner, &[], bad).unwrap_err(),
        ContractError::InvalidParams { .. }
    ));
    migrate(c.deps.as_mut(), c.env.clone(), MigrateMsg {}).unwrap();
}

// ---- handshake ----

#[test]
fn handshake_opens_one_unordered_channel_to_the_gateway() {
    let mut c = Client::connected();
    let res: ChannelResponse =
        from_json(query(c.deps.as_ref(), c.env.clone(), QueryMsg::Channel {}).unwrap()).unwrap();
    let info = res.channel.unwrap();
    assert_eq!(info.channel_id, CHANNEL);
    assert_eq!(info.counterparty_port, GATEWAY_PORT);
    // A second channel while one is open is refused.
    let mut second = channel(IbcOrder::Unordered, IBC_VERSION);
    second.endpoint.channel_id = "channel-4".into();
    let err = ibc_channel_open(
        c.deps.as_mut(),
        c.env.clone(),
        IbcChannelOpenMsg::new_init(second),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::ChannelExists { .. }));
    // Closed, it is forgotten and another may open.
    ibc_channel_close(
        c.deps.as_mut(),
        c.env.clone(),
        mock_ibc_channel_close_confirm(CHANNEL, IbcOrder::Unordered, IBC_VERSION),
    )
    .unwrap();
    let res: ChannelResponse =
        from_json(query(c.deps.as_ref(), c.env.clone(), QueryMsg::Channel {}).unwrap()).unwrap();
    assert!(res.channel.is_none());
    let dapp = c.dapp.clone();
    let err = c
        .exec(
            &dapp,
            &[],
            ExecuteMsg::Send {
                msg: close_deployment(),
                callback: None,
                timeout_seconds: None,
            },
        )
        .unwrap_err();
    assert_eq!(err, ContractError::NoChannel);
}

#[test]
fn handshake_rejects_ordered_channels_wrong_versions_and_other_ports() {
    let mut c = Client::new(Some(GATEWAY_PORT));
    let mut ordered = mock_ibc_channel_open_init(CHANNEL, IbcOrder::Ordered, IBC_VERSION);
    if let IbcChannelOpenMsg::OpenInit { channel } = &mut ordered {
        channel.counterparty_endpoint.port_id = GATEWAY_PORT.into();
    }
    assert_eq!(
        ibc_channel_open(c.deps.as_mut(), c.env.clone(), ordered).unwrap_err(),
        ContractError::Handshake(HandshakeError::OrderedChannel)
    );
    let err = ibc_channel_open(
        c.deps.as_mut(),
        c.env.clone(),
        IbcChannelOpenMsg::new_init(channel(IbcOrder::Unordered, "ics20-1")),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ContractError::Handshake(HandshakeError::InvalidVersion { .. })
    ));
    let err = ibc_channel_open(
        c.deps.as_mut(),
        c.env.clone(),
        IbcChannelOpenMsg::new_try(channel(IbcOrder::Unordered, IBC_VERSION), "v2"),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ContractError::Handshake(HandshakeError::InvalidCounterpartyVersion { .. })
    ));
    // The helpers' counterparty port is not the configured gateway.
    let err = ibc_channel_open(
        c.deps.as_mut(),
        c.env.clone(),
        mock_ibc_channel_open_try(CHANNEL, IbcOrder::Unordered, IBC_VERSION),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::WrongGatewayPort { .. }));
    let err = ibc_channel_connect(
        c.deps.as_mut(),
        c.env.clone(),
        mock_ibc_channel_connect_ack(CHANNEL, IbcOrder::Unordered, IBC_VERSION),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::WrongGatewayPort { .. }));
}

// ---- send, acks, callbacks ----

#[test]
fn send_tags_the_packet_with_the_caller_and_counts_sequences() {
    let mut c = Client::connected();
    let (seq, packet) = c.send(close_deployment(), None);
    assert_eq!(seq, 1);
    assert_eq!(packet.sender, c.dapp.to_string());
    assert_eq!(packet.msg, close_deployment());
    let (seq, _) = c.send(close_deployment(), None);
    assert_eq!(seq, 2);
    assert_eq!(c.pending(2).unwrap().kind, "close_deployment");
    // Sending carries no funds: those go by `Fund`.
    let dapp = c.dapp.clone();
    let err = c
        .exec(
            &dapp,
            &coins(5, "uosmo"),
            ExecuteMsg::Send {
                msg: close_deployment(),
                callback: None,
                timeout_seconds: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, ContractError::Payment(_)));
    let err = c
        .exec(
            &dapp,
            &[],
            ExecuteMsg::Send {
                msg: close_deployment(),
                callback: None,
                timeout_seconds: Some(365 * 86_400),
            },
        )
        .unwrap_err();
    assert!(matches!(err, ContractError::InvalidParams { .. }));
}

#[test]
fn a_success_ack_calls_back_with_the_result() {
    let mut c = Client::connected();
    let receiver = c.deps.api.addr_make("receiver");
    let request = CallbackRequest {
        receiver: receiver.to_string(),
        msg: Binary::from(b"my-ref".to_vec()),
    };
    let (seq, packet) = c.send(close_deployment(), Some(request));
    let result = PacketResult::DeploymentClosed {
        dseq: 4,
        refund: Some(coin(250, "uosmo")),
    };
    let res = c.ack(seq, &packet, Ack::success(&result));
    let (to, cb) = callback_of(&res);
    assert_eq!(to, receiver.to_string());
    assert_eq!(cb.initiator, c.dapp);
    assert_eq!(cb.msg, Binary::from(b"my-ref".to_vec()));
    assert_eq!((cb.channel.as_str(), cb.sequence), (CHANNEL, seq));
    assert_eq!(cb.result, CallbackResult::Success(result));
    assert!(c.pending(seq).is_none());
}

#[test]
fn an_error_ack_and_a_timeout_call_back_with_their_outcome() {
    let mut c = Client::connected();
    let receiver = c.deps.api.addr_make("receiver").to_string();
    let request = CallbackRequest {
        receiver,
        msg: Binary::default(),
    };
    let (seq, packet) = c.send(close_deployment(), Some(request.clone()));
    let res = c.ack(
        seq,
        &packet,
        Ack::error("deployment 4 belongs to another account"),
    );
    let (_, cb) = callback_of(&res);
    assert_eq!(
        cb.result,
        CallbackResult::Error("deployment 4 belongs to another account".into())
    );

    let (seq, packet) = c.send(close_deployment(), Some(request));
    let mut timeout = mock_ibc_packet_timeout(CHANNEL, &packet).unwrap();
    timeout.packet.sequence = seq;
    let res = ibc_packet_timeout(c.deps.as_mut(), c.env.clone(), timeout).unwrap();
    let (_, cb) = callback_of(&res);
    assert_eq!(cb.result, CallbackResult::Timeout {});
    assert!(c.pending(seq).is_none());
}

#[test]
fn without_a_callback_request_an_ack_only_clears_the_packet() {
    let mut c = Client::connected();
    let (seq, packet) = c.send(close_deployment(), None);
    let res = c.ack(seq, &packet, Ack::error("no"));
    assert!(res.messages.is_empty());
    assert_eq!(res.events[0].ty, "gateway_client_result");
    assert!(c.pending(seq).is_none());
}

#[test]
fn an_ack_for_a_packet_never_sent_or_already_acked_does_nothing() {
    let mut c = Client::connected();
    let receiver = c.deps.api.addr_make("receiver").to_string();
    let request = CallbackRequest {
        receiver,
        msg: Binary::default(),
    };
    let (seq, packet) = c.send(close_deployment(), Some(request));
    // Never sent: sequence 29 of the helper.
    let never = mock_ibc_packet_ack(
        CHANNEL,
        &packet,
        IbcAcknowledgement::new(Ack::success(&PacketResult::ManifestUpdated { dseq: 4 })),
    )
    .unwrap();
    let res = ibc_packet_ack(c.deps.as_mut(), c.env.clone(), never).unwrap();
    assert!(res.messages.is_empty());
    assert!(res.attributes.iter().any(|a| a.key == "unknown_packet"));
    assert!(c.pending(seq).is_some());
    // Acked once: a second ack (or a timeout after it) calls nobody back.
    let res = c.ack(seq, &packet, Ack::error("x"));
    assert_eq!(res.messages.len(), 1);
    let res = c.ack(seq, &packet, Ack::error("x"));
    assert!(res.messages.is_empty());
    let mut timeout = mock_ibc_packet_timeout(CHANNEL, &packet).unwrap();
    timeout.packet.sequence = seq;
    let res = ibc_packet_timeout(c.deps.as_mut(), c.env.clone(), timeout).unwrap();
    assert!(res.messages.is_empty());
}

#[test]
fn unreadable_acks_are_reported_as_errors() {
    assert!(matches!(
        parse_ack(&Binary::from(b"\x01".to_vec())),
        CallbackResult::Error(e) if e.starts_with("unreadable acknowledgement")
    ));
    let wrong = to_json_binary(&Ack::Result(Binary::from(b"{}".to_vec()))).unwrap();
    assert!(matches!(
        parse_ack(&wrong),
        CallbackResult::Error(e) if e.starts_with("unreadable result")
    ));
}

#[test]
fn a_failing_callback_is_recorded_not_propagated() {
    let mut c = Client::connected();
    let reply_msg = Reply {
        id: CALLBACK_REPLY,
        payload: Binary::default(),
        gas_used: 0,
        result: SubMsgResult::Err("out of gas".into()),
    };
    let res = reply(c.deps.as_mut(), c.env.clone(), reply_msg).unwrap();
    assert_eq!(res.events[0].ty, "gateway_client_callback_failed");
}

#[test]
fn the_client_answers_received_packets_with_an_error_ack() {
    let mut c = Client::connected();
    let recv = mock_ibc_packet_recv(CHANNEL, &close_deployment()).unwrap();
    let res = ibc_packet_receive(c.deps.as_mut(), c.env.clone(), recv).unwrap();
    let ack: Ack = from_json(res.acknowledgement.unwrap()).unwrap();
    assert_eq!(
        ack,
        Ack::Error(ContractError::NoPacketsExpected.to_string())
    );
}

// ---- funds ----

#[test]
fn fund_sends_one_coin_to_the_gateway_with_the_credit_hook_memo() {
    let mut c = Client::connected();
    let dapp = c.dapp.clone();
    let res = c
        .exec(
            &dapp,
            &coins(1_000, "uosmo"),
            ExecuteMsg::Fund {
                timeout_seconds: Some(120),
            },
        )
        .unwrap();
    match &res.messages[0].msg {
        CosmosMsg::Ibc(IbcMsg::Transfer {
            channel_id,
            to_address,
            amount,
            timeout,
            memo,
        }) => {
            assert_eq!(channel_id, TRANSFER);
            assert_eq!(to_address, GATEWAY);
            assert_eq!(amount, &coin(1_000, "uosmo"));
            assert_eq!(
                timeout.timestamp(),
                Some(c.env.block.time.plus_seconds(120))
            );
            let memo: HookMemo = from_json(memo.as_ref().unwrap().as_bytes()).unwrap();
            assert_eq!(memo.wasm.contract, GATEWAY);
            // The gateway's end of the channel names the account.
            assert_eq!(
                memo.wasm.msg,
                GatewayMsg::Credit {
                    channel: "channel-7".into(),
                    sender: dapp.to_string()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    let err = c
        .exec(
            &dapp,
            &[],
            ExecuteMsg::Fund {
                timeout_seconds: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, ContractError::Payment(_)));
}

/// The ICS-20 packet of a `Fund` transfer, as the transfer module sends it.
fn fund_packet(c: &mut Client, funder: &cosmwasm_std::Addr) -> cosmwasm_std::IbcPacket {
    let res = c
        .exec(
            funder,
            &coins(1_000, "uosmo"),
            ExecuteMsg::Fund {
                timeout_seconds: None,
            },
        )
        .unwrap();
    let CosmosMsg::Ibc(IbcMsg::Transfer {
        to_address,
        amount,
        memo,
        timeout,
        ..
    }) = &res.messages[0].msg
    else {
        panic!("{:?}", res.messages)
    };
    let memo: HookMemo = from_json(memo.as_ref().unwrap().as_bytes()).unwrap();
    assert_eq!(
        memo.src_callback.as_ref().unwrap().address,
        c.env.contract.address.as_str()
    );
    let data = serde_json::json!({
        "amount": amount.amount.to_string(),
        "denom": amount.denom,
        "memo": serde_json::to_string(&memo).unwrap(),
        "receiver": to_address,
        "sender": c.env.contract.address.as_str(),
    });
    cosmwasm_std::IbcPacket::new(
        serde_json::to_vec(&data).unwrap(),
        cosmwasm_std::IbcEndpoint {
            port_id: "transfer".into(),
            channel_id: TRANSFER.into(),
        },
        cosmwasm_std::IbcEndpoint {
            port_id: "transfer".into(),
            channel_id: "channel-9".into(),
        },
        2,
        timeout.clone(),
    )
}

#[test]
fn a_fund_that_comes_back_goes_on_to_its_funder() {
    use cosmwasm_std::{BankMsg, IbcAckCallbackMsg, IbcSourceCallbackMsg, IbcTimeoutCallbackMsg};
    let mut c = Client::connected();
    let dapp = c.dapp.clone();
    let packet = fund_packet(&mut c, &dapp);
    let relayer = Addr::unchecked("relayer");
    let ack = |data: &[u8]| {
        IbcSourceCallbackMsg::Acknowledgement(IbcAckCallbackMsg::new(
            IbcAcknowledgement::new(data),
            packet.clone(),
            relayer.clone(),
        ))
    };
    // Delivered: the gateway credited it; nothing to do.
    let res = crate::ibc::ibc_source_callback(
        c.deps.as_mut(),
        c.env.clone(),
        ack(br#"{"result":"AQ=="}"#),
    )
    .unwrap();
    assert!(res.messages.is_empty());
    // Refused (a revoked client, say) or timed out: the coin goes back to the dApp.
    let refused = ack(br#"{"error":"counterparty port is not allowed"}"#);
    let timed_out =
        IbcSourceCallbackMsg::Timeout(IbcTimeoutCallbackMsg::new(packet.clone(), relayer.clone()));
    for outcome in [refused, timed_out] {
        let res = crate::ibc::ibc_source_callback(c.deps.as_mut(), c.env.clone(), outcome).unwrap();
        assert_eq!(
            res.messages[0].msg,
            CosmosMsg::Bank(BankMsg::Send {
                to_address: dapp.to_string(),
                amount: coins(1_000, "uosmo"),
            })
        );
    }
    // A packet the client did not send, or on another channel, is refused.
    let mut other = packet.clone();
    other.src.channel_id = "channel-5".into();
    let mut data: serde_json::Value = serde_json::from_slice(&packet.data).unwrap();
    data["sender"] = "osmo1someoneelse".into();
    let mut forged = packet.clone();
    forged.data = serde_json::to_vec(&data).unwrap().into();
    for p in [other, forged] {
        let msg = IbcSourceCallbackMsg::Timeout(IbcTimeoutCallbackMsg::new(p, relayer.clone()));
        let err = crate::ibc::ibc_source_callback(c.deps.as_mut(), c.env.clone(), msg).unwrap_err();
        assert!(
            matches!(err, ContractError::UnexpectedCallback { .. }),
            "{err}"
        );
    }
}
