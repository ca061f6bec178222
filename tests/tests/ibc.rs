//! Two chains in one process, joined by the devnet's in-process relayer (`kumo_devnet::ibc`):
//! the Kumo chain runs the registry, market, escrow and the IBC gateway; the counterparty chain
//! runs `kumo-gateway-client` and a dApp contract (`kumo-gateway-example`) that orders compute
//! through it. All contracts are the optimized wasm artifacts in the VM wasmd embeds; the relayer
//! drives their IBC entry points and ICS-20 transfers (with ibc-hooks on the Kumo chain) the way
//! wasmd's IBC handler and ibc-go do. No light clients or proofs: the relayer is trusted.
//!
//! The scenario: the dApp funds its gateway account over ICS-20, creates a deployment over the
//! gateway channel, a provider on Kumo bids, the dApp accepts the bid and later closes the
//! deployment; the escrow's refund comes back over ICS-20; each step's outcome reaches the dApp
//! as a callback. Then a packet that times out, and the channel closing.

use cosmwasm_std::{coin, coins, Decimal, Decimal256, HexBinary, IbcOrder, Uint128};
use kumo::gateway::client::{self, Callback, CallbackResult};
use kumo::gateway::{self as gw, PacketMsg, PacketResult, IBC_VERSION};
use kumo::market::{self, NewBid, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{escrow, Attribute, Denom};
use kumo_chain::Key;
use kumo_devnet::ibc::{self, ChannelPath, CONNECTION, ICS20_VERSION, TRANSFER_PORT};
use kumo_gateway_example as dapp;
use kumo_tests::devnet::{deploy_core, key, Driver};
use serde::de::DeserializeOwned;
use serde::Serialize;

const KUMO: &str = "ukumo";
const OSMO: &str = "uosmo";

fn query<T: DeserializeOwned>(d: &Driver, contract: &str, msg: &impl Serialize) -> T {
    let msg = serde_json::to_vec(msg).unwrap();
    let data = d
        .app
        .with_query(|e| e.query_smart(contract, &msg))
        .unwrap_or_else(|e| panic!("query of {contract}: {e}"));
    serde_json::from_slice(&data).unwrap()
}

struct Kumo {
    d: Driver,
    admin: Key,
    provider: Key,
    registry: String,
    market: String,
    gateway: String,
}

struct Remote {
    d: Driver,
    user: Key,
    client: String,
    dapp: String,
}

struct Net {
    kumo: Kumo,
    remote: Remote,
    transfer: ChannelPath,
    gateway: ChannelPath,
    /// uosmo on the Kumo chain.
    voucher: String,
}

impl Net {
    fn relay(&mut self) -> ibc::Relayed {
        let paths = [self.transfer.clone(), self.gateway.clone()];
        ibc::relay(&mut self.kumo.d.app, &mut self.remote.d.app, &paths).expect("relaying")
    }

    /// The user asks the dApp to send `msg` to Kumo.
    fn order(&mut self, msg: PacketMsg, timeout_seconds: Option<u64>) -> kumo_devnet::TxResult {
        let r = &mut self.remote;
        let m = kumo_chain::tx::msg_execute(
            &r.d.addr(&r.user),
            &r.dapp,
            &dapp::ExecuteMsg::Order {
                msg,
                timeout_seconds,
            },
            &[],
        )
        .unwrap();
        r.d.try_run(&r.user.clone(), vec![m])
    }

    fn callbacks(&self) -> Vec<(u64, Callback)> {
        let got: dapp::CallbacksResponse = query(
            &self.remote.d,
            &self.remote.dapp,
            &dapp::QueryMsg::Callbacks {
                start_after: None,
                limit: Some(30),
            },
        );
        got.callbacks
    }

    fn last_result(&self) -> CallbackResult {
        self.callbacks().pop().expect("a callback").1.result
    }

    fn credits(&self) -> Vec<cosmwasm_std::Coin> {
        let got: gw::CreditsResponse = query(
            &self.kumo.d,
            &self.kumo.gateway,
            &gw::QueryMsg::Credits {
                channel: self.gateway.a_channel.clone(),
                sender: self.remote.dapp.clone(),
                start_after: None,
                limit: None,
            },
        );
        got.credits
    }
}

fn groups(denom: &str) -> Vec<kumo::GroupSpec> {
    let sdl = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello.yaml"),
    )
    .unwrap();
    kumo_tests::Suite::groups_from_sdl(&sdl, denom)
}

/// Both chains, the ICS-20 channel between them, both suites, and the gateway channel.
fn net() -> Net {
    let (admin, provider) = (key(0), key(1));
    let (remote_admin, user) = (key(2), key(3));
    let mut kumo = Driver::new(
        "kumo-1",
        KUMO,
        [&admin, &provider]
            .iter()
            .map(|k| (k.address("kumo").unwrap(), coins(10_000_000_000, KUMO)))
            .collect(),
    );
    let mut remote = Driver::with_prefix(
        "osmo-1",
        OSMO,
        "osmo",
        [&remote_admin, &user]
            .iter()
            .map(|k| (k.address("osmo").unwrap(), coins(10_000_000_000, OSMO)))
            .collect(),
    );
    let transfer = ibc::open_channel(
        &mut kumo.app,
        &mut remote.app,
        TRANSFER_PORT,
        TRANSFER_PORT,
        ICS20_VERSION,
        IbcOrder::Unordered,
    )
    .unwrap();
    let voucher = ibc::ibc_denom(&format!("{TRANSFER_PORT}/{}/{OSMO}", transfer.a_channel));

    // The counterparty chain: the client and the dApp.
    let client_code = remote.store(&remote_admin, "gateway_client");
    let client = remote.instantiate(
        &remote_admin,
        client_code,
        &client::InstantiateMsg {
            owner: remote.addr(&remote_admin),
            transfer_channel: transfer.b_channel.clone(),
            gateway_port: None,
            default_timeout: None,
        },
        "gateway-client",
    );
    let dapp_code = remote.store(&remote_admin, "gateway_example");
    let dapp = remote.instantiate(
        &remote_admin,
        dapp_code,
        &dapp::InstantiateMsg {
            client: client.clone(),
        },
        "dapp",
    );

    // The Kumo chain: registry, escrow (taking the uosmo voucher), market, gateway.
    let core = deploy_core(
        &mut kumo,
        &admin,
        vec![escrow::DenomConfig {
            denom: Denom::Native(voucher.clone()),
            min_deposit: Uint128::new(1_000_000),
            take_rate: Decimal::percent(2),
        }],
        vec![kumo::Asset {
            denom: Denom::Native(KUMO.into()),
            amount: Uint128::new(500_000),
        }],
    );
    let (registry, market) = (core.registry, core.market);
    let gateway_code = kumo.store(&admin, "gateway");
    let gateway = kumo.instantiate(
        &admin,
        gateway_code,
        &gw::InstantiateMsg {
            owner: kumo.addr(&admin),
            market: market.clone(),
            escrow: core.escrow,
            transfer_channel: transfer.a_channel.clone(),
            allowed: vec![gw::AllowedCounterparty {
                connection_id: CONNECTION.into(),
                port_id: format!("wasm.{client}"),
            }],
            refund_timeout: None,
        },
        "gateway",
    );

    // The client opens the gateway channel (the relayer drives the handshake).
    let gateway_channel = ibc::open_channel(
        &mut remote.app,
        &mut kumo.app,
        &format!("wasm.{client}"),
        &format!("wasm.{gateway}"),
        IBC_VERSION,
        IbcOrder::Unordered,
    )
    .unwrap()
    .reversed();
    Net {
        kumo: Kumo {
            d: kumo,
            admin,
            provider,
            registry,
            market,
            gateway,
        },
        remote: Remote {
            d: remote,
            user,
            client,
            dapp,
        },
        transfer,
        gateway: gateway_channel,
        voucher,
    }
}

#[test]
fn a_contract_on_another_chain_orders_compute_and_hears_back() {
    let mut net = net();
    let channel: gw::ChannelResponse = query(
        &net.kumo.d,
        &net.kumo.gateway,
        &gw::QueryMsg::Channel {
            channel_id: net.gateway.a_channel.clone(),
        },
    );
    assert!(channel.channel.open);
    assert_eq!(
        channel.channel.counterparty_port,
        format!("wasm.{}", net.remote.client)
    );

    // The dApp funds its account at the gateway: ICS-20 with the ibc-hooks memo.
    let user = net.remote.user.clone();
    let dapp_addr = net.remote.dapp.clone();
    let fund = net.remote.d.exec(
        &user,
        &dapp_addr,
        &dapp::ExecuteMsg::Fund {},
        &coins(10_000_000, OSMO),
    );
    assert_eq!(fund.code, 0);
    let relayed = net.relay();
    assert_eq!(relayed.delivered.len(), 1);
    assert!(!ibc::is_error_ack(relayed.delivered[0].1.as_ref().unwrap()));
    assert_eq!(net.credits(), coins(10_000_000, &net.voucher));

    // The dApp creates a deployment priced in the voucher and deposits 6 of its 10 from credit.
    let created = net.order(
        PacketMsg::CreateDeployment {
            deployment: NewDeployment {
                groups: groups(&net.voucher),
                version: HexBinary::from(vec![7u8; 32]),
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            },
            deposit: coin(6_000_000, &net.voucher),
        },
        None,
    );
    assert_eq!(created.code, 0, "{}", created.raw_log);
    net.relay();
    let CallbackResult::Success(PacketResult::DeploymentCreated { dseq }) = net.last_result()
    else {
        panic!("{:?}", net.callbacks())
    };
    assert_eq!(net.credits(), coins(4_000_000, &net.voucher));
    let deployment: market::DeploymentResponse = query(
        &net.kumo.d,
        &net.kumo.market,
        &market::QueryMsg::Deployment {
            id: kumo::DeploymentId::new(cosmwasm_std::Addr::unchecked(&net.kumo.gateway), dseq),
        },
    );
    assert_eq!(deployment.deployment.state, market::DeploymentState::Active);

    // A provider on Kumo bids on the order.
    let (provider_key, registry_addr, market_addr) = (
        net.kumo.provider.clone(),
        net.kumo.registry.clone(),
        net.kumo.market.clone(),
    );
    net.kumo.d.exec(
        &provider_key,
        &registry_addr,
        &registry::ExecuteMsg::RegisterProvider {
            host_uri: "https://provider.example.com:8443".into(),
            attributes: vec![Attribute::new("region", "local")],
            info: ProviderInfo::default(),
        },
        &[],
    );
    let orders: market::OrdersResponse = query(
        &net.kumo.d,
        &market_addr,
        &market::QueryMsg::OpenOrders {
            start_after: None,
            limit: None,
        },
    );
    let order = orders.orders[0].id.clone();
    assert_eq!(order.dseq, dseq);
    let bid = net.kumo.d.exec(
        &provider_key,
        &market_addr,
        &market::ExecuteMsg::CreateBid(NewBid {
            order: order.clone(),
            price: Decimal256::from_ratio(1u128, 1u128),
            reclamation_window: None,
            offer: vec![],
        }),
        &coins(500_000, KUMO),
    );
    assert_eq!(bid.code, 0, "{}", bid.raw_log);

    // The dApp accepts the bid: the lease is the gateway's, the provider's to serve.
    let provider = net.kumo.d.addr(&provider_key);
    let accepted = net.order(
        PacketMsg::CreateLease {
            dseq,
            gseq: order.gseq,
            oseq: order.oseq,
            provider: provider.clone(),
        },
        None,
    );
    assert_eq!(accepted.code, 0, "{}", accepted.raw_log);
    net.relay();
    assert_eq!(
        net.last_result(),
        CallbackResult::Success(PacketResult::LeaseCreated { dseq })
    );
    let lease: market::LeaseResponse = query(
        &net.kumo.d,
        &market_addr,
        &market::QueryMsg::Lease {
            id: order.bid(cosmwasm_std::Addr::unchecked(&provider)),
        },
    );
    assert_eq!(lease.lease.state, market::LeaseState::Active);

    // Another packet names a deployment that is not the dApp's: an error ack, a callback.
    let foreign = net.order(PacketMsg::CloseDeployment { dseq: dseq + 100 }, None);
    assert_eq!(foreign.code, 0);
    net.relay();
    assert!(matches!(net.last_result(), CallbackResult::Error(_)));

    // The dApp closes the deployment: the escrow's refund comes home over ICS-20.
    // Ten seconds of the lease: the relayer's steps run at the Kumo chain's latest block.
    net.kumo.d.advance(10);
    net.kumo.d.app.produce_block().unwrap();
    let before = net.remote.d.app.balance(&dapp_addr, OSMO).unwrap();
    let closed = net.order(PacketMsg::CloseDeployment { dseq }, None);
    assert_eq!(closed.code, 0, "{}", closed.raw_log);
    let relayed = net.relay();
    // The close packet, then the refund transfer it caused.
    assert_eq!(relayed.delivered.len(), 2, "{relayed:?}");
    let CallbackResult::Success(PacketResult::DeploymentClosed {
        dseq: closed_dseq,
        refund: Some(refund),
    }) = net.last_result()
    else {
        panic!("{:?}", net.callbacks())
    };
    assert_eq!(closed_dseq, dseq);
    assert_eq!(refund.denom, net.voucher);
    assert!(
        !refund.amount.is_zero() && refund.amount < Uint128::new(6_000_000),
        "{refund:?}"
    );
    let after = net.remote.d.app.balance(&dapp_addr, OSMO).unwrap();
    assert_eq!(after - before, refund.amount, "the refund arrives as uosmo");
    assert_eq!(net.credits(), coins(4_000_000, &net.voucher));
    let callbacks = net.callbacks();
    assert_eq!(callbacks.len(), 4);
    assert!(callbacks
        .iter()
        .all(|(_, c)| c.initiator.as_str() == dapp_addr && c.channel == net.gateway.b_channel));
}

#[test]
fn a_withdrawal_that_times_out_is_credited_back_to_its_account() {
    let mut net = net();
    let (user, dapp_addr) = (net.remote.user.clone(), net.remote.dapp.clone());
    net.remote.d.exec(
        &user,
        &dapp_addr,
        &dapp::ExecuteMsg::Fund {},
        &coins(10_000_000, OSMO),
    );
    net.relay();
    let before = net.remote.d.app.balance(&dapp_addr, OSMO).unwrap();
    let sent = net.order(
        PacketMsg::Withdraw {
            amount: coin(3_000_000, &net.voucher),
        },
        None,
    );
    assert_eq!(sent.code, 0, "{}", sent.raw_log);
    // The gateway channel only: the gateway debits the credit and sends the transfer.
    let gateway_only = [net.gateway.clone()];
    ibc::relay(&mut net.kumo.d.app, &mut net.remote.d.app, &gateway_only).unwrap();
    assert_eq!(
        net.last_result(),
        CallbackResult::Success(PacketResult::Withdrawn {
            amount: coin(3_000_000, &net.voucher)
        })
    );
    assert_eq!(net.credits(), coins(7_000_000, &net.voucher));
    // The transfer waits past its timeout (a day, the gateway's refund timeout): the transfer
    // module gives the tokens back to the gateway, and the IBC callback credits them again.
    net.remote.d.advance(2 * 86_400);
    net.remote.d.app.produce_block().unwrap();
    let relayed = net.relay();
    assert_eq!(relayed.timed_out.len(), 1);
    assert_eq!(net.credits(), coins(10_000_000, &net.voucher));
    assert_eq!(net.remote.d.app.balance(&dapp_addr, OSMO).unwrap(), before);
    assert_eq!(
        net.kumo
            .d
            .app
            .balance(&net.kumo.gateway, &net.voucher)
            .unwrap(),
        Uint128::new(10_000_000)
    );
}

#[test]
fn a_fund_the_gateway_refuses_comes_back_to_the_dapp() {
    let mut net = net();
    // Governance revokes the client: the gateway refuses its credits.
    let (admin, gateway) = (net.kumo.admin.clone(), net.kumo.gateway.clone());
    net.kumo.d.exec(
        &admin,
        &gateway,
        &gw::ExecuteMsg::UpdateConfig {
            owner: None,
            market: None,
            escrow: None,
            transfer_channel: None,
            allowed: Some(vec![]),
            refund_timeout: None,
        },
        &[],
    );
    let (user, dapp_addr) = (net.remote.user.clone(), net.remote.dapp.clone());
    let before = net.remote.d.app.balance(&dapp_addr, OSMO).unwrap();
    net.remote.d.exec(
        &user,
        &dapp_addr,
        &dapp::ExecuteMsg::Fund {},
        &coins(1_000, OSMO),
    );
    let relayed = net.relay();
    // ibc-hooks ran the credit, the gateway refused it: an error ack. The transfer module gave
    // the coin back to the client, and the client's IBC callback sent it on to the dApp.
    let ack = relayed.delivered[0].1.clone().unwrap();
    assert!(ibc::is_error_ack(&ack), "{}", String::from_utf8_lossy(&ack));
    assert!(net.credits().is_empty());
    assert_eq!(
        net.remote.d.app.balance(&dapp_addr, OSMO).unwrap(),
        before + Uint128::new(1_000)
    );
    assert!(net
        .remote
        .d
        .app
        .balance(&net.remote.client, OSMO)
        .unwrap()
        .is_zero());
}

#[test]
fn a_transfer_that_claims_another_sender_is_refused_and_refunded() {
    let mut net = net();
    // A user sends uosmo to the gateway with a memo crediting the dApp's account (a plain
    // MsgTransfer, applied as the relayer's steps are).
    let user = net.remote.d.addr(&net.remote.user);
    let memo = serde_json::json!({ "wasm": {
        "contract": net.kumo.gateway,
        "msg": { "credit": { "channel": net.gateway.a_channel, "sender": net.remote.dapp } },
    }})
    .to_string();
    let before = net.remote.d.app.balance(&user, OSMO).unwrap();
    let timeout = cosmwasm_std::IbcTimeout::with_timestamp(net.kumo.d.app.now().plus_seconds(600));
    let (channel, gateway) = (net.transfer.b_channel.clone(), net.kumo.gateway.clone());
    net.remote
        .d
        .app
        .ibc(|e| {
            e.transfer(
                &user,
                &channel,
                &gateway,
                coin(1_000, OSMO),
                timeout,
                Some(memo),
            )
        })
        .unwrap();
    assert_eq!(
        net.remote.d.app.balance(&user, OSMO).unwrap(),
        before - Uint128::new(1_000)
    );
    let relayed = net.relay();
    // ibc-hooks ran the credit as the user's intermediary, not the dApp's or the client's: the
    // gateway refused it, the error ack made the transfer module refund the user.
    let ack = relayed.delivered[0].1.clone().unwrap();
    assert!(ibc::is_error_ack(&ack), "{}", String::from_utf8_lossy(&ack));
    assert_eq!(net.remote.d.app.balance(&user, OSMO).unwrap(), before);
    assert!(net.credits().is_empty());
    assert!(net
        .kumo
        .d
        .app
        .balance(&net.kumo.gateway, &net.voucher)
        .unwrap()
        .is_zero());
}

#[test]
fn a_packet_that_times_out_calls_back_and_a_closed_channel_refuses_packets() {
    let mut net = net();
    // The packet may wait one second; the Kumo chain's next block is ten seconds later.
    let sent = net.order(PacketMsg::CloseDeployment { dseq: 1 }, Some(1));
    assert_eq!(sent.code, 0, "{}", sent.raw_log);
    net.kumo.d.advance(10);
    net.kumo.d.app.produce_block().unwrap();
    let relayed = net.relay();
    assert_eq!(relayed.timed_out.len(), 1);
    assert!(relayed.delivered.is_empty());
    assert_eq!(net.last_result(), CallbackResult::Timeout {});
    // The gateway never ran it.
    let gateway_port = format!("wasm.{}", net.kumo.gateway);
    let seq = relayed.timed_out[0].sequence;
    let received = net
        .kumo
        .d
        .app
        .with_query(|e| Ok(e.has_receipt(&gateway_port, &net.gateway.a_channel, seq)))
        .unwrap();
    assert!(!received);

    // The client's end closes; the relayer closes the gateway's.
    let client_port = format!("wasm.{}", net.remote.client);
    let b_channel = net.gateway.b_channel.clone();
    net.remote
        .d
        .app
        .ibc(|e| e.chan_close(&client_port, &b_channel, false))
        .unwrap();
    let relayed = net.relay();
    assert_eq!(relayed.closed.len(), 1);
    let channel: gw::ChannelResponse = query(
        &net.kumo.d,
        &net.kumo.gateway,
        &gw::QueryMsg::Channel {
            channel_id: net.gateway.a_channel.clone(),
        },
    );
    assert!(!channel.channel.open);
    // The client has no channel now: the dApp's order fails on its own chain.
    let refused = net.order(PacketMsg::CloseDeployment { dseq: 1 }, None);
    assert_ne!(refused.code, 0);
    assert!(
        refused.raw_log.contains("no channel"),
        "{}",
        refused.raw_log
    );
}
