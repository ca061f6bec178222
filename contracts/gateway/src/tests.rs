//! Unit tests of every entry point with cosmwasm-std's IBC testing helpers, and the attack
//! tests. `Chain` plays wasmd's part: it runs the `Process` submessage of a received packet,
//! the gateway's messages to itself, and an emulated market (its one counter of `dseq`s and
//! order `seq`s, refunds on close, failures on demand), rolls the storage back when the submessage fails, and hands the
//! outcome to `reply` — so the acknowledgement tested is the one a relayer would get.

use std::cell::Cell;
use std::rc::Rc;

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, mock_ibc_channel, mock_ibc_channel_close_init,
    mock_ibc_channel_connect_ack, mock_ibc_channel_open_init, mock_ibc_channel_open_try,
    mock_ibc_packet_ack, mock_ibc_packet_recv, mock_ibc_packet_timeout, MockApi, MockQuerier,
    MockStorage,
};
use cosmwasm_std::{
    coin, coins, from_json, Addr, Binary, ContractResult, CosmosMsg, Env, HexBinary,
    IbcAcknowledgement, IbcChannel, IbcChannelConnectMsg, IbcChannelOpenMsg, IbcEndpoint, IbcMsg,
    IbcOrder, IbcPacketReceiveMsg, Order, OwnedDeps, Reply, ReplyOn, Storage, SubMsgResponse,
    SubMsgResult, SystemResult, Uint128, WasmMsg, WasmQuery,
};
use kumo::gateway::*;
use kumo::json::as_received;
use kumo::market::{ExecuteMsg as MarketMsg, NewDeployment};
use kumo::{BidId, DeploymentId};

use crate::contract::{reply, CONTRACT_NAME};
use crate::error::ContractError;
use crate::hooks::intermediary_sender;
use crate::ibc::{
    ibc_channel_close, ibc_channel_connect, ibc_channel_open, ibc_packet_ack, ibc_packet_receive,
    ibc_packet_timeout, PROCESS_REPLY,
};

type Deps = OwnedDeps<MockStorage, MockApi, MockQuerier>;

// The entry points as the wasm's exports call them: each message decoded by `kumo::json` (and
// checked against the derived decoder by `as_received`).
fn instantiate(
    deps: cosmwasm_std::DepsMut,
    env: Env,
    info: cosmwasm_std::MessageInfo,
    msg: InstantiateMsg,
) -> Result<cosmwasm_std::Response, ContractError> {
    crate::contract::instantiate(deps, env, info, as_received(&msg))
}

fn execute(
    deps: cosmwasm_std::DepsMut,
    env: Env,
    info: cosmwasm_std::MessageInfo,
    msg: ExecuteMsg,
) -> Result<cosmwasm_std::Response, ContractError> {
    crate::contract::execute(deps, env, info, as_received(&msg))
}

fn query(deps: cosmwasm_std::Deps, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    crate::contract::query(deps, env, as_received(&msg))
}

fn migrate(
    deps: cosmwasm_std::DepsMut,
    env: Env,
    msg: MigrateMsg,
) -> Result<cosmwasm_std::Response, ContractError> {
    crate::contract::migrate(deps, env, as_received(&msg))
}

/// Our end of the gateway channel; `mock_ibc_channel` connects it to `channel-7` over
/// `connection-2`.
const CHANNEL: &str = "channel-1";
const COUNTERPARTY_CHANNEL: &str = "channel-7";
const CLIENT: &str = "osmo1client";
const CLIENT_PORT: &str = "wasm.osmo1client";
const CONNECTION: &str = "connection-2";
const TRANSFER: &str = "channel-0";
/// The remote chain's ICS-20 voucher on Kumo.
const DENOM: &str = "ibc/27394FB0";
const ALICE: &str = "osmo1alice";
const BOB: &str = "osmo1bob";

struct Chain {
    deps: Deps,
    env: Env,
    market: Addr,
    owner: Addr,
    /// The market's last `dseq` or order `seq` (of any owner), answered to raw queries.
    last_seq: Rc<Cell<u64>>,
    /// The gateway's deployments the emulated market has open (raw queries see them).
    live: Rc<std::cell::RefCell<std::collections::BTreeSet<u64>>>,
    /// The gateway's bank balance of `DENOM`.
    balance: u128,
    /// What the emulated market refunds on `CloseDeployment`.
    refund_on_close: u128,
    /// If set, the emulated market rejects every call with this error.
    market_error: Option<String>,
    /// Messages to the market and IBC transfers of committed packets.
    delivered: Vec<CosmosMsg>,
    next_sequence: u64,
}

fn channel(order: IbcOrder, version: &str) -> IbcChannel {
    let mut ch = mock_ibc_channel(CHANNEL, order, version);
    ch.counterparty_endpoint.port_id = CLIENT_PORT.into();
    ch
}

fn new_deployment() -> NewDeployment {
    NewDeployment {
        groups: vec![],
        version: HexBinary::from(vec![7; 32]),
        auction_window: None,
        reclamation_min_window: None,
        provider_record: None,
    }
}

fn decode(ack: &Binary) -> Result<PacketResult, String> {
    match from_json::<Ack>(ack).unwrap() {
        Ack::Result(b) => Ok(from_json(&b).unwrap()),
        Ack::Error(e) => Err(e),
    }
}

impl Chain {
    fn new() -> Chain {
        let mut deps = mock_dependencies();
        let env = mock_env();
        let market = deps.api.addr_make("market");
        let owner = deps.api.addr_make("governance");
        let last_seq = Rc::new(Cell::new(0u64));
        let seen = last_seq.clone();
        let live: Rc<std::cell::RefCell<std::collections::BTreeSet<u64>>> = Rc::default();
        let live_q = live.clone();
        let gateway = env.contract.address.clone();
        let market_q = market.clone();
        deps.querier.update_wasm(move |q| match q {
            WasmQuery::Raw { contract_addr, key } if *contract_addr == market_q.as_str() => {
                if key.as_slice() != kumo::market::SEQ_KEY.as_bytes() {
                    // A deployment record: present while the market has it open.
                    let open = live_q
                        .borrow()
                        .iter()
                        .any(|d| kumo::market::deployment_key(&gateway, *d) == key.as_slice());
                    let value = if open { b"\x01".as_slice() } else { b"" };
                    return SystemResult::Ok(ContractResult::Ok(Binary::from(value)));
                }
                let value = match seen.get() {
                    0 => Binary::default(),
                    n => Binary::from(kumo::codec::Encode::to_bytes(&n)),
                };
                SystemResult::Ok(ContractResult::Ok(value))
            }
            other => panic!("unexpected query {other:?}"),
        });
        let msg = InstantiateMsg {
            owner: owner.to_string(),
            market: market.to_string(),
            escrow: deps.api.addr_make("escrow").to_string(),
            transfer_channel: TRANSFER.into(),
            allowed: vec![AllowedCounterparty {
                connection_id: CONNECTION.into(),
                port_id: CLIENT_PORT.into(),
            }],
            refund_timeout: Some(3_600),
        };
        let info = message_info(&owner, &[]);
        instantiate(deps.as_mut(), env.clone(), info, msg).unwrap();
        Chain {
            deps,
            env,
            market,
            owner,
            last_seq,
            live,
            balance: 0,
            refund_on_close: 0,
            market_error: None,
            delivered: vec![],
            next_sequence: 1,
        }
    }

    /// A chain with the gateway channel open.
    fn connected() -> Chain {
        let mut chain = Chain::new();
        let ch = channel(IbcOrder::Unordered, IBC_VERSION);
        let open = IbcChannelOpenMsg::new_init(ch.clone());
        ibc_channel_open(chain.deps.as_mut(), chain.env.clone(), open).unwrap();
        let connect = IbcChannelConnectMsg::new_ack(ch, IBC_VERSION);
        ibc_channel_connect(chain.deps.as_mut(), chain.env.clone(), connect).unwrap();
        chain
    }

    fn set_balance(&mut self, amount: u128) {
        self.balance = amount;
        let gateway = self.env.contract.address.to_string();
        self.deps
            .querier
            .bank
            .update_balance(gateway, coins(amount, DENOM));
    }

    /// ibc-hooks' call with the funds of a transfer from `remote` over the transfer channel.
    fn credit_from(
        &mut self,
        remote: &str,
        channel: &str,
        sender: &str,
        amount: u128,
    ) -> Result<cosmwasm_std::Response, ContractError> {
        let caller = intermediary_sender(&self.deps.api, TRANSFER, remote).unwrap();
        let info = message_info(&caller, &coins(amount, DENOM));
        let msg = ExecuteMsg::Credit {
            channel: channel.into(),
            sender: sender.into(),
        };
        let res = execute(self.deps.as_mut(), self.env.clone(), info, msg)?;
        let balance = self.balance + amount;
        self.set_balance(balance);
        Ok(res)
    }

    fn credit(&mut self, sender: &str, amount: u128) {
        self.credit_from(sender, CHANNEL, sender, amount).unwrap();
    }

    fn packet(&mut self, sender: &str, msg: PacketMsg) -> IbcPacketReceiveMsg {
        let data = GatewayPacket {
            sender: sender.into(),
            msg,
        };
        let mut recv = mock_ibc_packet_recv(CHANNEL, &data).unwrap();
        recv.packet.src = IbcEndpoint {
            port_id: CLIENT_PORT.into(),
            channel_id: COUNTERPARTY_CHANNEL.into(),
        };
        recv.packet.sequence = self.next_sequence;
        self.next_sequence += 1;
        recv
    }

    /// Delivers a packet as wasmd does and returns its acknowledgement.
    fn deliver(&mut self, recv: IbcPacketReceiveMsg) -> Result<PacketResult, String> {
        let res = ibc_packet_receive(self.deps.as_mut(), self.env.clone(), recv).unwrap();
        let mut ack = res.acknowledgement.clone().unwrap();
        if let Some(sub) = res.messages.first() {
            assert_eq!(res.messages.len(), 1);
            assert_eq!(sub.reply_on, ReplyOn::Always);
            assert_eq!(sub.id, PROCESS_REPLY);
            let snapshot = self.snapshot();
            let balance = self.balance;
            let last_seq = self.last_seq.get();
            let live = self.live.borrow().clone();
            let mut out = vec![];
            let result = match self.run(&sub.msg, &mut out) {
                Ok(()) => {
                    self.delivered.extend(out);
                    #[allow(deprecated)]
                    SubMsgResult::Ok(SubMsgResponse {
                        events: vec![],
                        data: None,
                        msg_responses: vec![],
                    })
                }
                Err(err) => {
                    self.restore(snapshot);
                    self.set_balance(balance);
                    self.last_seq.set(last_seq);
                    *self.live.borrow_mut() = live;
                    SubMsgResult::Err(err)
                }
            };
            let reply_msg = Reply {
                id: sub.id,
                payload: Binary::default(),
                gas_used: 0,
                result,
            };
            let r = reply(self.deps.as_mut(), self.env.clone(), reply_msg).unwrap();
            ack = r.data.unwrap();
        }
        decode(&ack)
    }

    fn send(&mut self, sender: &str, msg: PacketMsg) -> Result<PacketResult, String> {
        let recv = self.packet(sender, msg);
        self.deliver(recv)
    }

    fn run(&mut self, msg: &CosmosMsg, out: &mut Vec<CosmosMsg>) -> Result<(), String> {
        match msg {
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr,
                msg: body,
                funds,
            }) if *contract_addr == self.env.contract.address.as_str() => {
                let info = message_info(&self.env.contract.address, funds);
                let res = execute(
                    self.deps.as_mut(),
                    self.env.clone(),
                    info,
                    from_json(body).unwrap(),
                )
                .map_err(|e| e.to_string())?;
                for sub in &res.messages {
                    assert_eq!(sub.reply_on, ReplyOn::Never);
                    self.run(&sub.msg, out)?;
                }
            }
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr,
                msg: body,
                funds,
            }) if *contract_addr == self.market.as_str() => {
                if let Some(err) = &self.market_error {
                    return Err(err.clone());
                }
                let paid: u128 = funds.iter().map(|c| c.amount.u128()).sum();
                let mut balance = self.balance - paid;
                match from_json::<MarketMsg>(body).unwrap() {
                    // The deployment's `dseq`, then one `seq` per group's order.
                    MarketMsg::CreateDeployment(d) => {
                        let dseq = self.last_seq.get() + 1;
                        self.live.borrow_mut().insert(dseq);
                        self.last_seq.set(dseq + d.groups.len() as u64);
                    }
                    MarketMsg::CloseDeployment { dseq } => {
                        self.live.borrow_mut().remove(&dseq);
                        balance += self.refund_on_close;
                    }
                    _ => {}
                }
                self.set_balance(balance);
                out.push(msg.clone());
            }
            CosmosMsg::Ibc(IbcMsg::Transfer { amount, .. }) => {
                let balance = self.balance - amount.amount.u128();
                self.set_balance(balance);
                out.push(msg.clone());
            }
            other => panic!("unexpected message {other:?}"),
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.deps
            .storage
            .range(None, None, Order::Ascending)
            .collect()
    }

    fn restore(&mut self, snapshot: Vec<(Vec<u8>, Vec<u8>)>) {
        let keys: Vec<Vec<u8>> = self
            .deps
            .storage
            .range(None, None, Order::Ascending)
            .map(|(k, _)| k)
            .collect();
        for k in keys {
            self.deps.storage.remove(&k);
        }
        for (k, v) in snapshot {
            self.deps.storage.set(&k, &v);
        }
    }

    fn q<R: serde::de::DeserializeOwned>(&self, msg: QueryMsg) -> R {
        from_json(query(self.deps.as_ref(), self.env.clone(), msg).unwrap()).unwrap()
    }

    fn credits(&self, sender: &str) -> Vec<cosmwasm_std::Coin> {
        self.q::<CreditsResponse>(QueryMsg::Credits {
            channel: CHANNEL.into(),
            sender: sender.into(),
            start_after: None,
            limit: None,
        })
        .credits
    }

    fn market_msgs(&self) -> Vec<MarketMsg> {
        self.delivered
            .iter()
            .filter_map(|m| match m {
                CosmosMsg::Wasm(WasmMsg::Execute { msg, .. }) => Some(from_json(msg).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn transfers(&self) -> Vec<(String, String, cosmwasm_std::Coin)> {
        self.delivered
            .iter()
            .filter_map(|m| match m {
                CosmosMsg::Ibc(IbcMsg::Transfer {
                    channel_id,
                    to_address,
                    amount,
                    ..
                }) => Some((channel_id.clone(), to_address.clone(), amount.clone())),
                _ => None,
            })
            .collect()
    }

    /// Alice's credit of 1000 and a deployment funded with 600 of it.
    fn alice_deploys(&mut self) -> u64 {
        self.credit(ALICE, 1_000);
        let created = self.send(
            ALICE,
            PacketMsg::CreateDeployment {
                deployment: new_deployment(),
                deposit: coin(600, DENOM),
            },
        );
        match created {
            Ok(PacketResult::DeploymentCreated { dseq }) => dseq,
            other => panic!("{other:?}"),
        }
    }
}

// ---- instantiate, config, migrate ----

#[test]
fn instantiate_stores_config_and_contract_version() {
    let chain = Chain::new();
    let config: ConfigResponse = chain.q(QueryMsg::Config {});
    assert_eq!(config.market, chain.market);
    assert_eq!(config.transfer_channel, TRANSFER);
    assert_eq!(config.refund_timeout, 3_600);
    let version = cw2::get_contract_version(&chain.deps.storage).unwrap();
    assert_eq!(version.contract, CONTRACT_NAME);
}

#[test]
fn instantiate_rejects_a_bad_transfer_channel() {
    let mut deps = mock_dependencies();
    let owner = deps.api.addr_make("owner");
    let msg = InstantiateMsg {
        owner: owner.to_string(),
        market: owner.to_string(),
        escrow: owner.to_string(),
        transfer_channel: "transfer".into(),
        allowed: vec![],
        refund_timeout: None,
    };
    let err = instantiate(deps.as_mut(), mock_env(), message_info(&owner, &[]), msg).unwrap_err();
    assert!(matches!(err, ContractError::InvalidParams { .. }));
}

#[test]
fn only_the_owner_changes_config() {
    let mut chain = Chain::new();
    let update = ExecuteMsg::UpdateConfig {
        owner: None,
        market: None,
        escrow: None,
        transfer_channel: Some("channel-9".into()),
        allowed: Some(vec![]),
        refund_timeout: None,
    };
    let stranger = chain.deps.api.addr_make("stranger");
    let err = execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&stranger, &[]),
        update.clone(),
    )
    .unwrap_err();
    assert_eq!(err, ContractError::unauthorized(chain.owner.as_str()));
    let owner = chain.owner.clone();
    let res = execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&owner, &[]),
        update,
    )
    .unwrap();
    assert_eq!(res.events[0].ty, "gateway_config");
    let config: ConfigResponse = chain.q(QueryMsg::Config {});
    assert_eq!(config.transfer_channel, "channel-9");
    assert!(config.allowed.is_empty());
}

#[test]
fn migrate_keeps_the_contract_name() {
    let mut chain = Chain::new();
    migrate(chain.deps.as_mut(), chain.env.clone(), MigrateMsg {}).unwrap();
    cw2::set_contract_version(&mut chain.deps.storage, "crates.io:other", "1.0.0").unwrap();
    let err = migrate(chain.deps.as_mut(), chain.env.clone(), MigrateMsg {}).unwrap_err();
    assert!(matches!(err, ContractError::InvalidParams { .. }));
}

// ---- handshake ----

#[test]
fn handshake_accepts_an_unordered_channel_of_our_version_from_an_allowed_client() {
    let mut chain = Chain::new();
    let ch = channel(IbcOrder::Unordered, IBC_VERSION);
    let res = ibc_channel_open(
        chain.deps.as_mut(),
        chain.env.clone(),
        IbcChannelOpenMsg::new_try(ch.clone(), IBC_VERSION),
    )
    .unwrap();
    assert_eq!(res.unwrap().version, IBC_VERSION);
    let res = ibc_channel_connect(
        chain.deps.as_mut(),
        chain.env.clone(),
        IbcChannelConnectMsg::new_confirm(ch),
    )
    .unwrap();
    assert_eq!(res.events[0].ty, "gateway_channel_open");
    let info: ChannelResponse = chain.q(QueryMsg::Channel {
        channel_id: CHANNEL.into(),
    });
    assert_eq!(info.channel.counterparty_port, CLIENT_PORT);
    assert_eq!(info.channel.counterparty_channel, COUNTERPARTY_CHANNEL);
    assert!(info.channel.open);
}

#[test]
fn handshake_rejects_an_ordered_channel() {
    let mut chain = Chain::new();
    let mut msg = mock_ibc_channel_open_init(CHANNEL, IbcOrder::Ordered, IBC_VERSION);
    if let IbcChannelOpenMsg::OpenInit { channel } = &mut msg {
        channel.counterparty_endpoint.port_id = CLIENT_PORT.into();
    }
    let err = ibc_channel_open(chain.deps.as_mut(), chain.env.clone(), msg).unwrap_err();
    assert_eq!(
        err,
        ContractError::Handshake(HandshakeError::OrderedChannel)
    );
}

#[test]
fn handshake_rejects_a_wrong_version_on_either_end() {
    let mut chain = Chain::new();
    let err = ibc_channel_open(
        chain.deps.as_mut(),
        chain.env.clone(),
        IbcChannelOpenMsg::new_init(channel(IbcOrder::Unordered, "ics20-1")),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ContractError::Handshake(HandshakeError::InvalidVersion { .. })
    ));
    let err = ibc_channel_open(
        chain.deps.as_mut(),
        chain.env.clone(),
        IbcChannelOpenMsg::new_try(channel(IbcOrder::Unordered, IBC_VERSION), "kumo-gateway-2"),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ContractError::Handshake(HandshakeError::InvalidCounterpartyVersion { .. })
    ));
    let err = ibc_channel_connect(
        chain.deps.as_mut(),
        chain.env.clone(),
        IbcChannelConnectMsg::new_ack(channel(IbcOrder::Unordered, IBC_VERSION), "ics20-1"),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ContractError::Handshake(HandshakeError::InvalidCounterpartyVersion { .. })
    ));
}

#[test]
fn handshake_rejects_ports_and_connections_not_allowed() {
    let mut chain = Chain::new();
    // The helper's default counterparty port is not allowed.
    let err = ibc_channel_open(
        chain.deps.as_mut(),
        chain.env.clone(),
        mock_ibc_channel_open_init(CHANNEL, IbcOrder::Unordered, IBC_VERSION),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::CounterpartyNotAllowed { .. }));
    let err = ibc_channel_open(
        chain.deps.as_mut(),
        chain.env.clone(),
        mock_ibc_channel_open_try(CHANNEL, IbcOrder::Unordered, IBC_VERSION),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::CounterpartyNotAllowed { .. }));
    let err = ibc_channel_connect(
        chain.deps.as_mut(),
        chain.env.clone(),
        mock_ibc_channel_connect_ack(CHANNEL, IbcOrder::Unordered, IBC_VERSION),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::CounterpartyNotAllowed { .. }));
    let mut ch = channel(IbcOrder::Unordered, IBC_VERSION);
    ch.connection_id = "connection-9".into();
    let err = ibc_channel_connect(
        chain.deps.as_mut(),
        chain.env.clone(),
        IbcChannelConnectMsg::new_confirm(ch),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::CounterpartyNotAllowed { .. }));
    // And a rejected connect stored nothing.
    let channels: ChannelsResponse = chain.q(QueryMsg::Channels {
        start_after: None,
        limit: None,
    });
    assert!(channels.channels.is_empty());
}

#[test]
fn a_closed_channel_refuses_packets_and_credits() {
    let mut chain = Chain::connected();
    let close = mock_ibc_channel_close_init(CHANNEL, IbcOrder::Unordered, IBC_VERSION);
    let res = ibc_channel_close(chain.deps.as_mut(), chain.env.clone(), close).unwrap();
    assert_eq!(res.events[0].ty, "gateway_channel_closed");
    let info: ChannelResponse = chain.q(QueryMsg::Channel {
        channel_id: CHANNEL.into(),
    });
    assert!(!info.channel.open);
    let err = chain
        .send(ALICE, PacketMsg::CloseDeployment { dseq: 1 })
        .unwrap_err();
    assert!(err.contains("is not an open gateway channel"), "{err}");
    let err = chain.credit_from(ALICE, CHANNEL, ALICE, 10).unwrap_err();
    assert!(matches!(err, ContractError::UnknownChannel { .. }));
}

#[test]
fn governance_revokes_a_client_by_removing_it_from_allowed() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    let owner = chain.owner.clone();
    execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&owner, &[]),
        ExecuteMsg::UpdateConfig {
            owner: None,
            market: None,
            escrow: None,
            transfer_channel: None,
            allowed: Some(vec![]),
            refund_timeout: None,
        },
    )
    .unwrap();
    let err = chain
        .send(
            ALICE,
            PacketMsg::Withdraw {
                amount: coin(1_000, DENOM),
            },
        )
        .unwrap_err();
    assert!(err.contains("is not allowed"), "{err}");
    let err = chain.credit_from(ALICE, CHANNEL, ALICE, 10).unwrap_err();
    assert!(matches!(err, ContractError::CounterpartyNotAllowed { .. }));
    assert!(chain.transfers().is_empty());
}

#[test]
fn closing_an_unknown_channel_is_an_error() {
    let mut chain = Chain::new();
    let close = mock_ibc_channel_close_init("channel-5", IbcOrder::Unordered, IBC_VERSION);
    let err = ibc_channel_close(chain.deps.as_mut(), chain.env.clone(), close).unwrap_err();
    assert!(matches!(err, ContractError::UnknownChannel { .. }));
}

// ---- credits (ibc-hooks) ----

#[test]
fn credit_from_the_sender_or_its_client_is_accepted() {
    let mut chain = Chain::connected();
    let res = chain.credit_from(ALICE, CHANNEL, ALICE, 100).unwrap();
    assert_eq!(res.events[0].ty, "gateway_credit");
    // The client sends for its caller: the transfer's sender is the client contract.
    let res = chain.credit_from(CLIENT, CHANNEL, ALICE, 50).unwrap();
    assert!(res.events[0]
        .attributes
        .iter()
        .any(|a| a.key == "via" && a.value == "client"));
    assert_eq!(chain.credits(ALICE), coins(150, DENOM));
    assert!(chain.credits(BOB).is_empty());
}

#[test]
fn forged_credit_sender_is_rejected() {
    let mut chain = Chain::connected();
    // Bob's transfer claims to credit Alice.
    let err = chain.credit_from(BOB, CHANNEL, ALICE, 100).unwrap_err();
    assert!(matches!(err, ContractError::ForgedCredit { .. }));
    // A plain account (not the hooks intermediary) claims to be Alice.
    let alice_here = chain.deps.api.addr_make("alice");
    let err = execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&alice_here, &coins(5, DENOM)),
        ExecuteMsg::Credit {
            channel: CHANNEL.into(),
            sender: ALICE.into(),
        },
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::ForgedCredit { .. }));
    // The right sender over another transfer channel derives another intermediary.
    let other = intermediary_sender(&chain.deps.api, "channel-3", ALICE).unwrap();
    let err = execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&other, &coins(5, DENOM)),
        ExecuteMsg::Credit {
            channel: CHANNEL.into(),
            sender: ALICE.into(),
        },
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::ForgedCredit { .. }));
    assert!(chain.credits(ALICE).is_empty());
}

#[test]
fn credit_needs_one_coin_a_known_channel_and_a_valid_sender() {
    let mut chain = Chain::connected();
    let err = chain.credit_from(ALICE, CHANNEL, ALICE, 0).unwrap_err();
    assert!(matches!(err, ContractError::Payment(_)));
    let err = chain
        .credit_from(ALICE, "channel-99", ALICE, 10)
        .unwrap_err();
    assert!(matches!(err, ContractError::UnknownChannel { .. }));
    let err = chain
        .credit_from("osmo1/x", CHANNEL, "osmo1/x", 10)
        .unwrap_err();
    assert!(matches!(err, ContractError::InvalidSender { .. }));
}

// ---- packets ----

#[test]
fn create_deployment_over_ibc_spends_credit_and_records_the_owner() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    assert_eq!(dseq, 1);
    assert_eq!(chain.credits(ALICE), coins(400, DENOM));
    match &chain.delivered[..] {
        [CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr,
            msg,
            funds,
        })] => {
            assert_eq!(contract_addr, chain.market.as_str());
            assert_eq!(funds, &coins(600, DENOM));
            assert_eq!(
                from_json::<MarketMsg>(msg).unwrap(),
                MarketMsg::CreateDeployment(new_deployment())
            );
        }
        other => panic!("{other:?}"),
    }
    let owner: RemoteDeploymentResponse = chain.q(QueryMsg::Deployment { dseq });
    assert_eq!(owner.deployment.sender, ALICE);
    assert_eq!(owner.deployment.counterparty_port, CLIENT_PORT);
    assert_eq!(owner.deployment.connection_id, CONNECTION);
    // Other owners' deployments and orders took numbers 2 to 4: the next one gets the market's
    // next number, 5 (dseqs increase but are not consecutive).
    chain.last_seq.set(4);
    let next = chain.send(
        ALICE,
        PacketMsg::CreateDeployment {
            deployment: new_deployment(),
            deposit: coin(400, DENOM),
        },
    );
    assert_eq!(next, Ok(PacketResult::DeploymentCreated { dseq: 5 }));
    assert!(chain.credits(ALICE).is_empty());
    let listed: RemoteDeploymentsResponse = chain.q(QueryMsg::Deployments {
        channel: CHANNEL.into(),
        sender: ALICE.into(),
        start_after: Some(1),
        limit: Some(1),
    });
    assert_eq!(listed.deployments.len(), 1);
    assert_eq!(listed.deployments[0].dseq, 5);
}

#[test]
fn a_market_failure_becomes_an_error_ack_and_rolls_everything_back() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    chain.market_error = Some("deposit below the minimum".into());
    let err = chain
        .send(
            ALICE,
            PacketMsg::CreateDeployment {
                deployment: new_deployment(),
                deposit: coin(600, DENOM),
            },
        )
        .unwrap_err();
    assert_eq!(err, "deposit below the minimum");
    // Credit untouched, no owner recorded, nothing sent, no result left behind.
    assert_eq!(chain.credits(ALICE), coins(1_000, DENOM));
    assert!(chain.delivered.is_empty());
    assert!(query(
        chain.deps.as_ref(),
        chain.env.clone(),
        QueryMsg::Deployment { dseq: 1 }
    )
    .is_err());
    assert!(crate::state::PendingResult::take(&mut chain.deps.storage)
        .unwrap()
        .is_none());
}

#[test]
fn spending_more_than_the_credit_is_an_error_ack() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 100);
    let err = chain
        .send(
            ALICE,
            PacketMsg::CreateDeployment {
                deployment: new_deployment(),
                deposit: coin(600, DENOM),
            },
        )
        .unwrap_err();
    assert!(
        err.contains("credit of ibc/27394FB0 is 100, 600 needed"),
        "{err}"
    );
    assert_eq!(chain.credits(ALICE), coins(100, DENOM));
}

#[test]
fn deposit_lease_and_manifest_packets_act_on_the_owners_deployment() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    let provider = chain.deps.api.addr_make("provider");
    let gateway = chain.env.contract.address.clone();
    assert_eq!(
        chain.send(
            ALICE,
            PacketMsg::Deposit {
                dseq,
                amount: coin(300, DENOM)
            }
        ),
        Ok(PacketResult::Deposited { dseq })
    );
    assert_eq!(chain.credits(ALICE), coins(100, DENOM));
    let lease = |p: &Addr| BidId {
        owner: gateway.clone(),
        dseq,
        gseq: 1,
        oseq: 1,
        provider: p.clone(),
    };
    let lease_msg = |close: bool| {
        let (d, g, o, p) = (dseq, 1, 1, provider.to_string());
        if close {
            PacketMsg::CloseLease {
                dseq: d,
                gseq: g,
                oseq: o,
                provider: p,
            }
        } else {
            PacketMsg::CreateLease {
                dseq: d,
                gseq: g,
                oseq: o,
                provider: p,
            }
        }
    };
    assert_eq!(
        chain.send(ALICE, lease_msg(false)),
        Ok(PacketResult::LeaseCreated { dseq })
    );
    assert_eq!(
        chain.send(ALICE, lease_msg(true)),
        Ok(PacketResult::LeaseClosed { dseq })
    );
    let version = HexBinary::from(vec![9; 32]);
    assert_eq!(
        chain.send(
            ALICE,
            PacketMsg::UpdateManifest {
                dseq,
                version: version.clone()
            }
        ),
        Ok(PacketResult::ManifestUpdated { dseq })
    );
    assert_eq!(
        chain.market_msgs()[1..],
        [
            MarketMsg::Deposit {
                deployment: DeploymentId::new(gateway.clone(), dseq)
            },
            MarketMsg::CreateLease {
                bid: lease(&provider)
            },
            MarketMsg::CloseLease {
                lease: lease(&provider)
            },
            MarketMsg::UpdateDeployment { dseq, version },
        ]
    );
}

#[test]
fn close_deployment_refunds_the_owner_over_ics20() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    chain.credit(BOB, 500);
    chain.refund_on_close = 250;
    let closed = chain.send(ALICE, PacketMsg::CloseDeployment { dseq });
    assert_eq!(
        closed,
        Ok(PacketResult::DeploymentClosed {
            dseq,
            refund: Some(coin(250, DENOM))
        })
    );
    // Only what the close refunded leaves, to Alice, over the transfer channel; the other
    // credits stay.
    assert_eq!(
        chain.transfers(),
        vec![(TRANSFER.to_string(), ALICE.to_string(), coin(250, DENOM))]
    );
    assert_eq!(chain.balance, 400 + 500);
    assert_eq!(chain.credits(ALICE), coins(400, DENOM));
    assert!(query(
        chain.deps.as_ref(),
        chain.env.clone(),
        QueryMsg::Deployment { dseq }
    )
    .is_err());
    // Closed means gone: a second close is an error.
    let err = chain
        .send(ALICE, PacketMsg::CloseDeployment { dseq })
        .unwrap_err();
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn close_with_nothing_refunded_sends_nothing() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    let closed = chain.send(ALICE, PacketMsg::CloseDeployment { dseq });
    assert_eq!(
        closed,
        Ok(PacketResult::DeploymentClosed { dseq, refund: None })
    );
    assert!(chain.transfers().is_empty());
}

#[test]
fn withdraw_sends_unspent_credit_back_to_the_sender() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    let res = chain.send(
        ALICE,
        PacketMsg::Withdraw {
            amount: coin(700, DENOM),
        },
    );
    assert_eq!(
        res,
        Ok(PacketResult::Withdrawn {
            amount: coin(700, DENOM)
        })
    );
    assert_eq!(
        chain.transfers(),
        vec![(TRANSFER.to_string(), ALICE.to_string(), coin(700, DENOM))]
    );
    match &chain.delivered[0] {
        CosmosMsg::Ibc(IbcMsg::Transfer { timeout, memo, .. }) => {
            assert_eq!(
                timeout.timestamp(),
                Some(chain.env.block.time.plus_seconds(3_600))
            );
            // The IBC callbacks middleware reports back to the gateway, for Alice's account.
            let memo: serde_json::Value = serde_json::from_str(memo.as_ref().unwrap()).unwrap();
            assert_eq!(
                memo["src_callback"]["address"],
                chain.env.contract.address.as_str()
            );
            assert_eq!(
                memo["kumo_gateway"]["account"],
                format!("{CONNECTION}/{CLIENT_PORT}/{ALICE}")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(chain.credits(ALICE), coins(300, DENOM));
    let err = chain
        .send(
            ALICE,
            PacketMsg::Withdraw {
                amount: coin(0, DENOM),
            },
        )
        .unwrap_err();
    assert!(err.contains("amount must be positive"), "{err}");
}

#[test]
fn closing_a_deployment_the_market_closed_by_itself_drops_the_record() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    // The escrow account ran dry: the market closed and deleted the deployment by itself.
    chain.live.borrow_mut().remove(&dseq);
    let sent = chain.delivered.len();
    let closed = chain.send(ALICE, PacketMsg::CloseDeployment { dseq });
    assert_eq!(
        closed,
        Ok(PacketResult::DeploymentClosed { dseq, refund: None })
    );
    // Nothing sent to the market or over ICS-20; the record and the listing entry are gone.
    assert_eq!(chain.delivered.len(), sent);
    assert!(query(
        chain.deps.as_ref(),
        chain.env.clone(),
        QueryMsg::Deployment { dseq }
    )
    .is_err());
    let listed: RemoteDeploymentsResponse = chain.q(QueryMsg::Deployments {
        channel: CHANNEL.into(),
        sender: ALICE.into(),
        start_after: None,
        limit: None,
    });
    assert!(listed.deployments.is_empty());
    // And it cannot be closed twice.
    let again = chain.send(ALICE, PacketMsg::CloseDeployment { dseq });
    assert!(again.unwrap_err().contains("not found"));
}

/// The ICS-20 packet of the gateway's last transfer, as the transfer module sends it: `path` is
/// the denom's trace.
fn transfer_packet(chain: &Chain, path: &str) -> cosmwasm_std::IbcPacket {
    let Some(CosmosMsg::Ibc(IbcMsg::Transfer {
        to_address,
        amount,
        memo,
        timeout,
        ..
    })) = chain.delivered.last()
    else {
        panic!("no transfer: {:?}", chain.delivered)
    };
    let data = serde_json::json!({
        "amount": amount.amount.to_string(),
        "denom": path,
        "memo": memo.clone().unwrap_or_default(),
        "receiver": to_address,
        "sender": chain.env.contract.address.as_str(),
    });
    cosmwasm_std::IbcPacket::new(
        serde_json::to_vec(&data).unwrap(),
        IbcEndpoint {
            port_id: "transfer".into(),
            channel_id: TRANSFER.into(),
        },
        IbcEndpoint {
            port_id: "transfer".into(),
            channel_id: "channel-9".into(),
        },
        4,
        timeout.clone(),
    )
}

fn voucher(path: &str) -> String {
    use sha2::Digest;
    format!(
        "ibc/{}",
        HexBinary::from(sha2::Sha256::digest(path.as_bytes()).as_slice())
            .to_hex()
            .to_uppercase()
    )
}

#[test]
fn a_returned_withdrawal_is_credited_again_and_a_delivered_one_is_not() {
    use cosmwasm_std::{IbcAckCallbackMsg, IbcSourceCallbackMsg, IbcTimeoutCallbackMsg};
    let path = "transfer/channel-0/uosmo";
    let mut chain = Chain::connected();
    let relayer = Addr::unchecked("relayer");
    // The gateway holds the voucher of `path` here: credit and withdraw in it.
    let denom = voucher(path);
    let caller = intermediary_sender(&chain.deps.api, TRANSFER, CLIENT).unwrap();
    execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&caller, &coins(1_000, &denom)),
        ExecuteMsg::Credit {
            channel: CHANNEL.into(),
            sender: ALICE.into(),
        },
    )
    .unwrap();
    // (The emulated chain keeps one balance, of any denom.)
    chain.set_balance(1_000);
    chain
        .send(
            ALICE,
            PacketMsg::Withdraw {
                amount: coin(700, &denom),
            },
        )
        .unwrap();
    let packet = transfer_packet(&chain, path);
    assert_eq!(chain.credits(ALICE), coins(300, &denom));

    // Delivered: nothing changes.
    let delivered = IbcSourceCallbackMsg::Acknowledgement(IbcAckCallbackMsg::new(
        IbcAcknowledgement::new(br#"{"result":"AQ=="}"#.as_slice()),
        packet.clone(),
        relayer.clone(),
    ));
    crate::ibc::ibc_source_callback(chain.deps.as_mut(), chain.env.clone(), delivered).unwrap();
    assert_eq!(chain.credits(ALICE), coins(300, &denom));

    // An error ack: the transfer module gave the tokens back; Alice's credit has them again.
    let refused = IbcSourceCallbackMsg::Acknowledgement(IbcAckCallbackMsg::new(
        IbcAcknowledgement::new(br#"{"error":"receiver blocked"}"#.as_slice()),
        packet.clone(),
        relayer.clone(),
    ));
    let res =
        crate::ibc::ibc_source_callback(chain.deps.as_mut(), chain.env.clone(), refused).unwrap();
    assert_eq!(chain.credits(ALICE), coins(1_000, &denom));
    assert_eq!(res.events[0].ty, "gateway_transfer_returned");

    // A timeout likewise.
    let timed_out =
        IbcSourceCallbackMsg::Timeout(IbcTimeoutCallbackMsg::new(packet.clone(), relayer.clone()));
    crate::ibc::ibc_source_callback(chain.deps.as_mut(), chain.env.clone(), timed_out).unwrap();
    assert_eq!(chain.credits(ALICE), coins(1_700, &denom));
}

#[test]
fn a_callback_for_a_transfer_the_gateway_did_not_send_is_refused() {
    use cosmwasm_std::{IbcSourceCallbackMsg, IbcTimeoutCallbackMsg};
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    chain
        .send(
            ALICE,
            PacketMsg::Withdraw {
                amount: coin(700, DENOM),
            },
        )
        .unwrap();
    let good = transfer_packet(&chain, "transfer/channel-0/uosmo");
    let relayer = Addr::unchecked("relayer");
    let mut attempts = vec![];
    // Another channel.
    let mut p = good.clone();
    p.src.channel_id = "channel-5".into();
    attempts.push(p);
    // Another sender.
    let mut data: serde_json::Value = serde_json::from_slice(&good.data).unwrap();
    data["sender"] = "kumo1someoneelse".into();
    let mut p = good.clone();
    p.data = serde_json::to_vec(&data).unwrap().into();
    attempts.push(p);
    // No account in the memo.
    let mut data: serde_json::Value = serde_json::from_slice(&good.data).unwrap();
    data["memo"] = "".into();
    let mut p = good.clone();
    p.data = serde_json::to_vec(&data).unwrap().into();
    attempts.push(p);
    // Not ICS-20 at all.
    let mut p = good;
    p.data = Binary::from(b"{}".as_slice());
    attempts.push(p);
    for packet in attempts {
        let msg =
            IbcSourceCallbackMsg::Timeout(IbcTimeoutCallbackMsg::new(packet, relayer.clone()));
        let err = crate::ibc::ibc_source_callback(chain.deps.as_mut(), chain.env.clone(), msg)
            .unwrap_err();
        assert!(
            matches!(err, ContractError::UnexpectedCallback { .. }),
            "{err}"
        );
    }
    assert_eq!(chain.credits(ALICE), coins(300, DENOM));
}

// ---- attacks ----

#[test]
fn no_remote_user_touches_anothers_deployment() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    chain.credit(BOB, 500);
    chain.refund_on_close = 250;
    let provider = chain.deps.api.addr_make("provider").to_string();
    let attempts = vec![
        PacketMsg::CloseDeployment { dseq },
        PacketMsg::Deposit {
            dseq,
            amount: coin(10, DENOM),
        },
        PacketMsg::CreateLease {
            dseq,
            gseq: 1,
            oseq: 1,
            provider: provider.clone(),
        },
        PacketMsg::CloseLease {
            dseq,
            gseq: 1,
            oseq: 1,
            provider,
        },
        PacketMsg::UpdateManifest {
            dseq,
            version: HexBinary::from(vec![1; 32]),
        },
    ];
    let before = chain.delivered.len();
    for msg in attempts {
        let err = chain.send(BOB, msg).unwrap_err();
        assert_eq!(err, ContractError::NotOwner { dseq }.to_string());
    }
    // Bob cannot spend Alice's credit either: his own is what a packet from him spends.
    let err = chain
        .send(
            BOB,
            PacketMsg::Withdraw {
                amount: coin(501, DENOM),
            },
        )
        .unwrap_err();
    assert!(err.contains("is 500, 501 needed"), "{err}");
    assert_eq!(chain.delivered.len(), before);
    assert_eq!(chain.credits(ALICE), coins(400, DENOM));
    assert_eq!(chain.credits(BOB), coins(500, DENOM));
}

/// Connects `channel` (to `counterparty_channel` of `port`) on the gateway.
fn connect(chain: &mut Chain, channel: &str, port: &str, counterparty_channel: &str) {
    let mut ch = mock_ibc_channel(channel, IbcOrder::Unordered, IBC_VERSION);
    ch.counterparty_endpoint.port_id = port.into();
    ch.counterparty_endpoint.channel_id = counterparty_channel.into();
    ibc_channel_connect(
        chain.deps.as_mut(),
        chain.env.clone(),
        IbcChannelConnectMsg::new_confirm(ch),
    )
    .unwrap();
}

fn packet_on(
    channel: &str,
    port: &str,
    from: &str,
    seq: u64,
    sender: &str,
    msg: PacketMsg,
) -> IbcPacketReceiveMsg {
    let data = GatewayPacket {
        sender: sender.into(),
        msg,
    };
    let mut recv = mock_ibc_packet_recv(channel, &data).unwrap();
    recv.packet.src = IbcEndpoint {
        port_id: port.into(),
        channel_id: from.into(),
    };
    recv.packet.sequence = seq;
    recv
}

#[test]
fn the_same_address_behind_another_client_is_another_account() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    // Governance allows a second client contract on the same chain.
    let owner = chain.owner.clone();
    let other_port = "wasm.osmo1otherclient";
    execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&owner, &[]),
        ExecuteMsg::UpdateConfig {
            owner: None,
            market: None,
            escrow: None,
            transfer_channel: None,
            allowed: Some(vec![
                AllowedCounterparty {
                    connection_id: CONNECTION.into(),
                    port_id: CLIENT_PORT.into(),
                },
                AllowedCounterparty {
                    connection_id: CONNECTION.into(),
                    port_id: other_port.into(),
                },
            ]),
            refund_timeout: None,
        },
    )
    .unwrap();
    connect(&mut chain, "channel-2", other_port, "channel-8");
    // "osmo1alice" as the other client tells it is not Alice of the first client.
    let recv = packet_on(
        "channel-2",
        other_port,
        "channel-8",
        1,
        ALICE,
        PacketMsg::CloseDeployment { dseq },
    );
    let err = chain.deliver(recv).unwrap_err();
    assert_eq!(err, ContractError::NotOwner { dseq }.to_string());
    let credits: CreditsResponse = chain.q(QueryMsg::Credits {
        channel: "channel-2".into(),
        sender: ALICE.into(),
        start_after: None,
        limit: None,
    });
    assert!(credits.credits.is_empty());
}

#[test]
fn a_new_channel_from_the_same_client_reaches_the_same_account() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    let close = mock_ibc_channel_close_init(CHANNEL, IbcOrder::Unordered, IBC_VERSION);
    ibc_channel_close(chain.deps.as_mut(), chain.env.clone(), close).unwrap();
    // The client reconnects on a new channel: Alice's credit and deployment are still hers.
    connect(&mut chain, "channel-2", CLIENT_PORT, "channel-8");
    let credits: CreditsResponse = chain.q(QueryMsg::Credits {
        channel: "channel-2".into(),
        sender: ALICE.into(),
        start_after: None,
        limit: None,
    });
    assert_eq!(credits.credits, coins(400, DENOM));
    let recv = packet_on(
        "channel-2",
        CLIENT_PORT,
        "channel-8",
        1,
        ALICE,
        PacketMsg::CloseDeployment { dseq },
    );
    assert_eq!(
        chain.deliver(recv),
        Ok(PacketResult::DeploymentClosed { dseq, refund: None })
    );
}

#[test]
fn a_refund_goes_to_the_deployments_owner_only() {
    let mut chain = Chain::connected();
    let dseq = chain.alice_deploys();
    chain.refund_on_close = 600;
    // Bob asks for Alice's refund: refused, nothing sent.
    assert!(chain
        .send(BOB, PacketMsg::CloseDeployment { dseq })
        .is_err());
    assert!(chain.transfers().is_empty());
    // Nobody but the gateway may run `Refund` (to name its receiver).
    let mallory = chain.deps.api.addr_make("mallory");
    let err = execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&mallory, &[]),
        ExecuteMsg::Refund {
            channel: CHANNEL.into(),
            sender: BOB.into(),
            dseq,
            denom: DENOM.into(),
            before: Uint128::zero(),
        },
    )
    .unwrap_err();
    assert_eq!(err, ContractError::unauthorized("the gateway itself"));
    chain
        .send(ALICE, PacketMsg::CloseDeployment { dseq })
        .unwrap();
    assert_eq!(
        chain.transfers(),
        vec![(TRANSFER.to_string(), ALICE.to_string(), coin(600, DENOM))]
    );
}

#[test]
fn process_is_callable_by_the_gateway_only() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    let mallory = chain.deps.api.addr_make("mallory");
    let err = execute(
        chain.deps.as_mut(),
        chain.env.clone(),
        message_info(&mallory, &[]),
        ExecuteMsg::Process {
            channel: CHANNEL.into(),
            packet: GatewayPacket {
                sender: ALICE.into(),
                msg: PacketMsg::Withdraw {
                    amount: coin(1_000, DENOM),
                },
            },
        },
    )
    .unwrap_err();
    assert_eq!(err, ContractError::unauthorized("the gateway itself"));
    assert_eq!(chain.credits(ALICE), coins(1_000, DENOM));
}

#[test]
fn packets_from_an_unknown_channel_or_wrong_port_are_refused_without_state() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    let msg = PacketMsg::Withdraw {
        amount: coin(1_000, DENOM),
    };
    // Unknown channel.
    let recv = mock_ibc_packet_recv(
        "channel-42",
        &GatewayPacket {
            sender: ALICE.into(),
            msg: msg.clone(),
        },
    )
    .unwrap();
    let err = chain.deliver(recv).unwrap_err();
    assert!(
        err.contains("channel-42 is not an open gateway channel"),
        "{err}"
    );
    // Our channel, but another port claims to send.
    let mut recv = chain.packet(ALICE, msg.clone());
    recv.packet.src.port_id = "wasm.osmo1evil".into();
    let err = chain.deliver(recv).unwrap_err();
    assert!(
        err.contains("packet from port wasm.osmo1evil/channel-7"),
        "{err}"
    );
    // Another counterparty channel.
    let mut recv = chain.packet(ALICE, msg);
    recv.packet.src.channel_id = "channel-99".into();
    assert!(chain.deliver(recv).is_err());
    assert!(chain.delivered.is_empty());
    assert_eq!(chain.credits(ALICE), coins(1_000, DENOM));
    // None of them left a receipt.
    assert_eq!(
        crate::state::RECEIVED
            .range(&chain.deps.storage, None, Order::Ascending)
            .count(),
        0
    );
}

#[test]
fn a_replayed_packet_is_answered_with_an_error_and_not_run_again() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    let recv = chain.packet(
        ALICE,
        PacketMsg::Withdraw {
            amount: coin(100, DENOM),
        },
    );
    assert!(chain.deliver(recv.clone()).is_ok());
    let err = chain.deliver(recv.clone()).unwrap_err();
    assert_eq!(
        err,
        ContractError::Replayed {
            channel: CHANNEL.into(),
            sequence: recv.packet.sequence
        }
        .to_string()
    );
    assert_eq!(chain.transfers().len(), 1);
    assert_eq!(chain.credits(ALICE), coins(900, DENOM));
    // A packet whose action failed was answered too: replaying it does not retry it.
    let failing = chain.packet(
        ALICE,
        PacketMsg::Withdraw {
            amount: coin(5_000, DENOM),
        },
    );
    assert!(chain.deliver(failing.clone()).is_err());
    chain.credit(ALICE, 10_000);
    let err = chain.deliver(failing).unwrap_err();
    assert!(err.contains("already received"), "{err}");
}

#[test]
fn forged_or_malformed_packets_are_error_acks() {
    let mut chain = Chain::connected();
    chain.credit(ALICE, 1_000);
    // A sender that is not an address.
    let err = chain
        .send(
            "osmo1alice/../bob",
            PacketMsg::Withdraw {
                amount: coin(1, DENOM),
            },
        )
        .unwrap_err();
    assert!(err.contains("invalid remote sender"), "{err}");
    let err = chain
        .send(
            &"a".repeat(129),
            PacketMsg::Withdraw {
                amount: coin(1, DENOM),
            },
        )
        .unwrap_err();
    assert!(err.contains("invalid remote sender"), "{err}");
    // Not a gateway packet at all.
    let mut recv = chain.packet(ALICE, PacketMsg::CloseDeployment { dseq: 1 });
    recv.packet.data = Binary::from(b"{\"transfer\":{}}".to_vec());
    let err = chain.deliver(recv).unwrap_err();
    assert!(err.contains("invalid packet"), "{err}");
    // A provider that is not a Kumo address.
    let dseq = chain.alice_deploys();
    let err = chain
        .send(
            ALICE,
            PacketMsg::CreateLease {
                dseq,
                gseq: 1,
                oseq: 1,
                provider: "not an address".into(),
            },
        )
        .unwrap_err();
    assert!(!err.is_empty());
    assert_eq!(chain.market_msgs().len(), 1);
}

#[test]
fn the_gateway_expects_no_acks_or_timeouts() {
    let mut chain = Chain::connected();
    let packet = GatewayPacket {
        sender: ALICE.into(),
        msg: PacketMsg::CloseDeployment { dseq: 1 },
    };
    let ack =
        mock_ibc_packet_ack(CHANNEL, &packet, IbcAcknowledgement::new(Ack::error("x"))).unwrap();
    let err = ibc_packet_ack(chain.deps.as_mut(), chain.env.clone(), ack).unwrap_err();
    assert_eq!(err, ContractError::UnexpectedAck);
    let timeout = mock_ibc_packet_timeout(CHANNEL, &packet).unwrap();
    let err = ibc_packet_timeout(chain.deps.as_mut(), chain.env.clone(), timeout).unwrap_err();
    assert_eq!(err, ContractError::UnexpectedAck);
}

#[test]
fn acks_use_the_standard_envelope() {
    let result = PacketResult::DeploymentCreated { dseq: 3 };
    let ok = Ack::success(&result);
    let b64 = cosmwasm_std::to_json_binary(&result).unwrap().to_base64();
    assert_eq!(ok.to_vec(), format!(r#"{{"result":"{b64}"}}"#).into_bytes());
    assert_eq!(Ack::error("boom").to_vec(), br#"{"error":"boom"}"#.to_vec());
}
