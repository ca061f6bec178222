//! The gateway with the real registry, market and escrow in cw-multi-test. cw-multi-test cannot
//! call IBC entry points, so the test plays the IBC handler: it calls `ibc_channel_connect`,
//! `ibc_packet_receive` and `reply` on the gateway's storage inside the `App`, and runs the
//! `Process` submessage through the `App` (a failure rolls back as in wasmd). ICS-20 refunds go to
//! an accepting IBC module; the bank tracks every other coin. The second test drives the real
//! `kumo-gateway-client` (on mock storage) against the gateway in the `App`.

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, mock_ibc_packet_ack, mock_ibc_packet_recv, MockApi,
    MockQuerier, MockStorage,
};
use cosmwasm_std::{
    coin, coins, from_json, to_json_binary, Addr, Binary, CosmosMsg, Decimal, Decimal256, DepsMut,
    Empty, Env, HexBinary, IbcAcknowledgement, IbcChannel, IbcChannelConnectMsg, IbcEndpoint,
    IbcMsg, IbcOrder, QuerierWrapper, Reply, Storage, SubMsgResponse, SubMsgResult, Uint128,
    Uint64, WasmMsg,
};
use cw_multi_test::{
    App, AppBuilder, AppResponse, BankKeeper, ContractWrapper, DistributionKeeper, Executor,
    FailingModule, GovFailingModule, IbcAcceptingModule, StakeKeeper, StargateFailing, WasmKeeper,
};
use kumo::escrow::DenomConfig;
use kumo::gateway::{
    Ack, AllowedCounterparty, CreditsResponse, ExecuteMsg, GatewayPacket, InstantiateMsg,
    PacketMsg, PacketResult, QueryMsg, IBC_VERSION,
};
use kumo::json::as_received;
use kumo::market::{self, NewDeployment};
use kumo::{
    Cpu, DecCoin, Denom, DeploymentId, Gpu, GroupSpec, Memory, PlacementRequirements, ResourceUnit,
    Resources, SignedBy, StorageVolume,
};
use kumo_gateway::hooks::intermediary_sender;

const IBC_DENOM: &str = "ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2";
const CHANNEL: &str = "channel-1";
const CLIENT_PORT: &str = "wasm.osmo1client";
const TRANSFER: &str = "channel-0";
const ALICE: &str = "osmo1alice";
const BOB: &str = "osmo1bob";

/// Runs `f` on the gateway's storage in the `App`, as wasmd calls an IBC entry point.
fn with_deps<R>(storage: &mut dyn Storage, f: impl FnOnce(DepsMut) -> R) -> R {
    let api = MockApi::default();
    let querier: MockQuerier = MockQuerier::new(&[]);
    f(DepsMut {
        storage,
        api: &api,
        querier: QuerierWrapper::new(&querier),
    })
}

fn group() -> GroupSpec {
    GroupSpec {
        name: "web".into(),
        requirements: PlacementRequirements {
            signed_by: SignedBy::default(),
            attributes: vec![],
        },
        resources: vec![ResourceUnit {
            resources: Resources {
                id: 1,
                cpu: Cpu {
                    units: 250,
                    attributes: vec![],
                },
                memory: Memory {
                    size: Uint64::new(128 << 20),
                    attributes: vec![],
                },
                storage: vec![StorageVolume {
                    name: "default".into(),
                    size: Uint64::new(256 << 20),
                    attributes: vec![],
                }],
                gpu: Gpu {
                    units: 0,
                    attributes: vec![],
                },
                endpoints: vec![],
            },
            count: 1,
            price: DecCoin {
                denom: IBC_DENOM.into(),
                amount: Decimal256::from_ratio(100u128, 1u128),
            },
        }],
    }
}

fn create(deposit: u128) -> PacketMsg {
    PacketMsg::CreateDeployment {
        deployment: NewDeployment {
            groups: vec![group()],
            version: HexBinary::from(vec![7; 32]),
            auction_window: None,
            reclamation_min_window: None,
            provider_record: None,
        },
        deposit: coin(deposit, IBC_DENOM),
    }
}

/// cw-multi-test's basic app with IBC messages accepted (ICS-20 refunds go nowhere).
type TestApp = App<
    BankKeeper,
    MockApi,
    MockStorage,
    FailingModule<Empty, Empty, Empty>,
    WasmKeeper<Empty, Empty>,
    StakeKeeper,
    DistributionKeeper,
    IbcAcceptingModule,
    GovFailingModule,
    StargateFailing,
>;

struct Suite {
    app: TestApp,
    gateway: Addr,
    market: Addr,
    escrow: Addr,
}

impl Suite {
    /// Registry, escrow (accepting `IBC_DENOM`), market and gateway; the gateway accepts
    /// `client_port` over `connection-2` and has the channel to it open.
    fn new(client_port: &str) -> Suite {
        let mut app = AppBuilder::new()
            .with_ibc(IbcAcceptingModule::default())
            .build(|_, _, _| {});
        let api = *app.api();
        let owner = api.addr_make("governance");
        let registry_code = app.store_code(Box::new(ContractWrapper::new(
            kumo_registry::contract::execute,
            kumo_registry::contract::instantiate,
            kumo_registry::contract::query,
        )));
        let escrow_code = app.store_code(Box::new(
            ContractWrapper::new(
                kumo_escrow::contract::execute,
                kumo_escrow::contract::instantiate,
                kumo_escrow::contract::query,
            )
            .with_reply(kumo_escrow::contract::reply),
        ));
        let market_code = app.store_code(Box::new(ContractWrapper::new(
            kumo_market::contract::execute,
            kumo_market::contract::instantiate,
            kumo_market::contract::query,
        )));
        let gateway_code = app.store_code(Box::new(
            ContractWrapper::new(
                kumo_gateway::contract::execute,
                kumo_gateway::contract::instantiate,
                kumo_gateway::contract::query,
            )
            .with_reply(kumo_gateway::contract::reply),
        ));
        let registry = app
            .instantiate_contract(
                registry_code,
                owner.clone(),
                &kumo::registry::InstantiateMsg {
                    owner: owner.to_string(),
                    market: None,
                    limits: None,
                },
                &[],
                "registry",
                None,
            )
            .unwrap();
        let escrow = app
            .instantiate_contract(
                escrow_code,
                owner.clone(),
                &kumo::escrow::InstantiateMsg {
                    owner: owner.to_string(),
                    market: None,
                    treasury: api.addr_make("treasury").to_string(),
                    guardian: None,
                    params: None,
                    denoms: vec![DenomConfig {
                        denom: Denom::Native(IBC_DENOM.into()),
                        min_deposit: Uint128::new(5_000_000),
                        take_rate: Decimal::percent(2),
                    }],
                },
                &[],
                "escrow",
                None,
            )
            .unwrap();
        let market = app
            .instantiate_contract(
                market_code,
                owner.clone(),
                &market::InstantiateMsg {
                    owner: owner.to_string(),
                    registry: registry.to_string(),
                    escrow: escrow.to_string(),
                    staking: None,
                    guardian: None,
                    params: None,
                },
                &[],
                "market",
                None,
            )
            .unwrap();
        app.execute_contract(
            owner.clone(),
            escrow.clone(),
            &kumo::escrow::ExecuteMsg::UpdateConfig {
                owner: None,
                market: Some(market.to_string()),
                treasury: None,
                guardian: None,
                params: None,
            },
            &[],
        )
        .unwrap();
        let gateway = app
            .instantiate_contract(
                gateway_code,
                owner.clone(),
                &InstantiateMsg {
                    owner: owner.to_string(),
                    market: market.to_string(),
                    escrow: escrow.to_string(),
                    transfer_channel: TRANSFER.into(),
                    allowed: vec![AllowedCounterparty {
                        connection_id: "connection-2".into(),
                        port_id: client_port.into(),
                    }],
                    refund_timeout: None,
                },
                &[],
                "gateway",
                None,
            )
            .unwrap();
        // The handshake's last step stores the channel.
        let channel = IbcChannel::new(
            IbcEndpoint {
                port_id: format!("wasm.{gateway}"),
                channel_id: CHANNEL.into(),
            },
            IbcEndpoint {
                port_id: client_port.into(),
                channel_id: "channel-7".into(),
            },
            IbcOrder::Unordered,
            IBC_VERSION,
            "connection-2",
        );
        with_deps(&mut *app.contract_storage_mut(&gateway), |deps| {
            kumo_gateway::ibc::ibc_channel_connect(
                deps,
                mock_env(),
                IbcChannelConnectMsg::new_confirm(channel),
            )
            .unwrap()
        });
        Suite {
            app,
            gateway,
            market,
            escrow,
        }
    }

    /// An ICS-20 transfer from `remote` arrives through ibc-hooks with the credit call.
    fn hook_credit(&mut self, remote: &str, msg: &ExecuteMsg, amount: u128) -> AppResponse {
        let hook = intermediary_sender(self.app.api(), TRANSFER, remote).unwrap();
        self.app.init_modules(|router, _, storage| {
            router
                .bank
                .init_balance(storage, &hook, coins(amount, IBC_DENOM))
                .unwrap();
        });
        let gateway = self.gateway.clone();
        self.app
            .execute_contract(hook, gateway, msg, &coins(amount, IBC_DENOM))
            .unwrap()
    }

    fn credits(&self, sender: &str) -> Vec<cosmwasm_std::Coin> {
        let res: CreditsResponse = self
            .app
            .wrap()
            .query_wasm_smart(
                &self.gateway,
                &QueryMsg::Credits {
                    channel: CHANNEL.into(),
                    sender: sender.into(),
                    start_after: None,
                    limit: None,
                },
            )
            .unwrap();
        res.credits
    }

    /// Delivers packet `data` from `src_port` as the IBC handler would; returns the ack bytes.
    fn deliver_raw(&mut self, seq: u64, src_port: &str, data: Binary) -> Binary {
        let mut env: Env = mock_env();
        env.contract.address = self.gateway.clone();
        env.block = self.app.block_info();
        let mut recv = mock_ibc_packet_recv(CHANNEL, &()).unwrap();
        recv.packet.data = data;
        recv.packet.src = IbcEndpoint {
            port_id: src_port.into(),
            channel_id: "channel-7".into(),
        };
        recv.packet.sequence = seq;
        let gateway = self.gateway.clone();
        let res = with_deps(&mut *self.app.contract_storage_mut(&gateway), |deps| {
            kumo_gateway::ibc::ibc_packet_receive(deps, env.clone(), recv).unwrap()
        });
        let Some(sub) = res.messages.first().cloned() else {
            return res.acknowledgement.unwrap();
        };
        #[allow(deprecated)]
        let result = match self.app.execute(gateway.clone(), sub.msg) {
            Ok(_) => SubMsgResult::Ok(SubMsgResponse {
                events: vec![],
                data: None,
                msg_responses: vec![],
            }),
            Err(e) => SubMsgResult::Err(format!("{e:#}")),
        };
        let reply = Reply {
            id: sub.id,
            payload: Binary::default(),
            gas_used: 0,
            result,
        };
        let res = with_deps(&mut *self.app.contract_storage_mut(&gateway), |deps| {
            kumo_gateway::contract::reply(deps, env.clone(), reply).unwrap()
        });
        res.data.unwrap()
    }

    fn deliver(&mut self, seq: u64, sender: &str, msg: PacketMsg) -> Result<PacketResult, String> {
        let data = to_json_binary(&GatewayPacket {
            sender: sender.into(),
            msg,
        })
        .unwrap();
        let ack = self.deliver_raw(seq, CLIENT_PORT, data);
        match from_json::<Ack>(ack).unwrap() {
            Ack::Result(b) => Ok(from_json::<PacketResult>(&b).unwrap()),
            Ack::Error(e) => Err(e),
        }
    }
}

#[test]
fn create_and_close_a_deployment_over_ibc_with_the_real_market_and_escrow() {
    let mut suite = Suite::new(CLIENT_PORT);
    // Alice's ICS-20 transfer arrives through ibc-hooks.
    let credit = ExecuteMsg::Credit {
        channel: CHANNEL.into(),
        sender: ALICE.into(),
    };
    suite.hook_credit(ALICE, &credit, 20_000_000);

    // Below the escrow's minimum: the escrow's error becomes the ack, the credit is intact.
    let err = suite.deliver(1, ALICE, create(1_000)).unwrap_err();
    assert!(
        err.contains("deposit 1000 is below the minimum of 5000000"),
        "{err}"
    );
    assert_eq!(suite.credits(ALICE), coins(20_000_000, IBC_DENOM));

    // A funded create: the market's deployment 1 of the gateway, escrowed.
    let created = suite.deliver(2, ALICE, create(6_000_000));
    assert_eq!(created, Ok(PacketResult::DeploymentCreated { dseq: 1 }));
    let id = DeploymentId::new(suite.gateway.clone(), 1);
    let deployment: market::DeploymentResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.market,
            &market::QueryMsg::Deployment { id: id.clone() },
        )
        .unwrap();
    assert_eq!(deployment.deployment.state, market::DeploymentState::Active);
    let escrowed = suite
        .app
        .wrap()
        .query_balance(&suite.escrow, IBC_DENOM)
        .unwrap();
    assert_eq!(escrowed.amount, Uint128::new(6_000_000));
    assert_eq!(suite.credits(ALICE), coins(14_000_000, IBC_DENOM));

    // Bob cannot close it.
    let err = suite
        .deliver(3, BOB, PacketMsg::CloseDeployment { dseq: 1 })
        .unwrap_err();
    assert!(err.contains("belongs to another account"), "{err}");

    // Alice closes it: the escrow refunds the gateway, which sends it to Alice over ICS-20.
    let closed = suite.deliver(4, ALICE, PacketMsg::CloseDeployment { dseq: 1 });
    assert_eq!(
        closed,
        Ok(PacketResult::DeploymentClosed {
            dseq: 1,
            refund: Some(coin(6_000_000, IBC_DENOM))
        })
    );
    assert!(suite
        .app
        .wrap()
        .query_wasm_smart::<market::DeploymentResponse>(
            &suite.market,
            &market::QueryMsg::Deployment { id }
        )
        .is_err());

    // The market's one counter gave deployment 1 its dseq and its order seq 2: Alice's next
    // deployment is the market's dseq 3, and the gateway records it under that number.
    let next = suite.deliver(5, ALICE, create(6_000_000));
    assert_eq!(next, Ok(PacketResult::DeploymentCreated { dseq: 3 }));
    let id = DeploymentId::new(suite.gateway.clone(), 3);
    let deployment: market::DeploymentResponse = suite
        .app
        .wrap()
        .query_wasm_smart(&suite.market, &market::QueryMsg::Deployment { id })
        .unwrap();
    assert_eq!(deployment.deployment.state, market::DeploymentState::Active);
    let record: kumo::gateway::RemoteDeploymentResponse = suite
        .app
        .wrap()
        .query_wasm_smart(&suite.gateway, &QueryMsg::Deployment { dseq: 3 })
        .unwrap();
    assert_eq!(record.deployment.sender, ALICE);
    assert_eq!(suite.credits(ALICE), coins(8_000_000, IBC_DENOM));
}

/// The client's `Fund` memo, packets and callbacks against the gateway: the two contracts'
/// formats interoperate (the client runs on mock storage, the gateway in the `App`).
#[test]
fn the_clients_fund_send_and_callback_round_trip_through_the_gateway() {
    use kumo::gateway::client;
    use kumo_gateway_client::contract::HookMemo;

    let mut remote = mock_dependencies();
    let remote_env = mock_env();
    let client_addr = remote_env.contract.address.clone();
    let client_port = format!("wasm.{client_addr}");
    let mut suite = Suite::new(&client_port);
    let gateway_port = format!("wasm.{}", suite.gateway);

    let owner = remote.api.addr_make("owner");
    let receiver = remote.api.addr_make("dapp");
    kumo_gateway_client::contract::instantiate(
        remote.as_mut(),
        remote_env.clone(),
        message_info(&owner, &[]),
        as_received(&client::InstantiateMsg {
            owner: owner.to_string(),
            transfer_channel: "channel-5".into(),
            gateway_port: Some(gateway_port.clone()),
            default_timeout: None,
        }),
    )
    .unwrap();
    let channel = IbcChannel::new(
        IbcEndpoint {
            port_id: client_port.clone(),
            channel_id: "channel-7".into(),
        },
        IbcEndpoint {
            port_id: gateway_port,
            channel_id: CHANNEL.into(),
        },
        IbcOrder::Unordered,
        IBC_VERSION,
        "connection-9",
    );
    kumo_gateway_client::ibc::ibc_channel_connect(
        remote.as_mut(),
        remote_env.clone(),
        IbcChannelConnectMsg::new_ack(channel, IBC_VERSION),
    )
    .unwrap();

    // The dApp funds its account: the client's transfer carries the credit memo.
    let dapp = Addr::unchecked("osmo1dapp");
    let res = kumo_gateway_client::contract::execute(
        remote.as_mut(),
        remote_env.clone(),
        message_info(&dapp, &coins(10_000_000, "uosmo")),
        as_received(&client::ExecuteMsg::Fund {
            timeout_seconds: None,
        }),
    )
    .unwrap();
    let memo = match &res.messages[0].msg {
        CosmosMsg::Ibc(IbcMsg::Transfer { memo, .. }) => memo.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    let memo: HookMemo = from_json(memo.as_bytes()).unwrap();
    assert_eq!(memo.wasm.contract, suite.gateway.to_string());
    // On Kumo the coin is the voucher; the transfer's sender is the client.
    suite.hook_credit(client_addr.as_str(), &memo.wasm.msg, 10_000_000);
    assert_eq!(suite.credits("osmo1dapp"), coins(10_000_000, IBC_DENOM));

    // The dApp creates a deployment and asks for a callback.
    let res = kumo_gateway_client::contract::execute(
        remote.as_mut(),
        remote_env.clone(),
        message_info(&dapp, &[]),
        as_received(&client::ExecuteMsg::Send {
            msg: create(6_000_000),
            callback: Some(client::CallbackRequest {
                receiver: receiver.to_string(),
                msg: Binary::from(b"order-1".to_vec()),
            }),
            timeout_seconds: None,
        }),
    )
    .unwrap();
    let data = match &res.messages[0].msg {
        CosmosMsg::Ibc(IbcMsg::SendPacket { data, .. }) => data.clone(),
        other => panic!("{other:?}"),
    };
    let ack = suite.deliver_raw(1, &client_port, data.clone());

    // The ack goes back to the client, which calls the dApp back with the result.
    let packet: GatewayPacket = from_json(&data).unwrap();
    let mut ack_msg =
        mock_ibc_packet_ack("channel-7", &packet, IbcAcknowledgement::new(ack)).unwrap();
    ack_msg.original_packet.sequence = 1;
    let res =
        kumo_gateway_client::ibc::ibc_packet_ack(remote.as_mut(), remote_env.clone(), ack_msg)
            .unwrap();
    let callback = match &res.messages[0].msg {
        CosmosMsg::Wasm(WasmMsg::Execute { msg, .. }) => {
            let client::CallbackMsg::KumoCallback(cb) = from_json(msg).unwrap();
            cb
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(callback.initiator, dapp);
    assert_eq!(callback.msg, Binary::from(b"order-1".to_vec()));
    assert_eq!(
        callback.result,
        client::CallbackResult::Success(PacketResult::DeploymentCreated { dseq: 1 })
    );
}
