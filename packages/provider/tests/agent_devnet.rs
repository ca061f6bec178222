//! The agent against the devnet (the real contracts in wasmd's VM, signed transactions over
//! REST): it bids on a tenant's order through its journal, and a restarted agent neither bids
//! twice nor loses what its open bid holds.

use std::path::PathBuf;
use std::time::Duration;

use cosmwasm_std::{coin, coins, Decimal256, HexBinary};
use kumo::market::{self, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, DeploymentId};
use kumo_chain::{deploy, Client, ClientConfig, Key, KumoContracts};
use kumo_devnet::{App, Config, Devnet};
use kumo_provider::agent::{Agent, AgentConfig, AgentError};
use kumo_provider::bidengine::{
    AttributesPolicy, BidEngine, CapacityPolicy, ScalePricing, ScaleRates,
};
use kumo_provider::inventory::{Inventory, InventoryConfig, NodeCapacity};
use kumo_provider::journal::Journal;

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DENOM: &str = "ukumo";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn devnet(home: &std::path::Path, keys: &[Key]) -> (Devnet, Client) {
    let genesis = keys
        .iter()
        .map(|k| (k.address("kumo").unwrap(), coins(10_000_000_000_000, DENOM)))
        .collect();
    let app = App::open(Config {
        chain_id: "kumo-devnet-1".into(),
        prefix: "kumo".into(),
        denom: DENOM.into(),
        min_gas_price: 0.0025,
        home: home.to_path_buf(),
        genesis,
    })
    .unwrap();
    let devnet = Devnet::serve(
        app,
        "127.0.0.1:0".parse().unwrap(),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    let client = Client::new(
        devnet.url(),
        ClientConfig {
            prefix: "kumo".into(),
            gas_price_amount: 0.0025,
            gas_denom: DENOM.into(),
            gas_adjustment: 1.4,
        },
    )
    .unwrap();
    (devnet, client)
}

fn engine() -> BidEngine {
    let rates = ScaleRates {
        cpu: Decimal256::from_ratio(1u128, 1000u128),
        // Ephemeral storage comes free with the CPU here.
        storage: [("ephemeral".to_string(), Decimal256::zero())].into(),
        ..Default::default()
    };
    let pricing = ScalePricing::new().with_denom(DENOM, rates).unwrap();
    BidEngine::new(Box::new(pricing))
        .with_policy(AttributesPolicy::new())
        .with_policy(CapacityPolicy)
}

fn inventory() -> Inventory {
    Inventory::new(InventoryConfig {
        nodes: vec![NodeCapacity {
            name: "node-1".into(),
            cpu_millis: 4000,
            memory: 8 << 30,
            ephemeral_storage: 100 << 30,
            gpus: vec![],
        }],
        storage_classes: Default::default(),
    })
    .unwrap()
}

async fn agent(
    client: &Client,
    key: &Key,
    contracts: &KumoContracts,
    journal: &std::path::Path,
) -> Result<Agent, AgentError> {
    Agent::start(
        client.clone(),
        key.clone(),
        AgentConfig {
            contracts: contracts.clone(),
            bid_deposit: coin(500_000, DENOM),
            reclamation_window: None,
        },
        engine(),
        inventory(),
        Journal::open(journal).unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_bids_once_through_its_journal_and_a_restart_keeps_the_bid() {
    let home = tempfile::tempdir().unwrap();
    let keys: Vec<Key> = (0..3)
        .map(|i| Key::from_mnemonic_index(MNEMONIC, i).unwrap())
        .collect();
    let (admin, tenant, provider) = (&keys[0], &keys[1], &keys[2]);
    let (devnet, client) = devnet(home.path(), &keys).await;
    let c = &client;
    let suite = deploy::deploy_suite(
        c,
        admin,
        &repo().join("artifacts"),
        &deploy::default_config(DENOM),
    )
    .await
    .unwrap();
    let k = &suite.contracts;
    let journal = home.path().join("agent.redb");

    // An unregistered provider is told what to do.
    let err = agent(c, provider, k, &journal)
        .await
        .err()
        .expect("not registered");
    assert!(matches!(err, AgentError::NotRegistered { .. }), "{err}");
    assert!(err.to_string().contains("kumo provider register"), "{err}");

    k.execute_registry(
        c,
        provider,
        &registry::ExecuteMsg::RegisterProvider {
            host_uri: "https://provider.example.com:8443".into(),
            attributes: vec![Attribute::new("region", "local")],
            info: ProviderInfo::default(),
        },
        &[],
    )
    .await
    .unwrap();
    let sdl = std::fs::read_to_string(repo().join("examples/hello.yaml")).unwrap();
    let groups = kumo_sdl::parse(&sdl).unwrap().groups;
    let created = k
        .execute_market(
            c,
            tenant,
            &market::ExecuteMsg::CreateDeployment(NewDeployment {
                groups,
                version: HexBinary::from(vec![7u8; 32]),
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            }),
            &coins(50_000_000, DENOM),
        )
        .await
        .unwrap();
    let dseq: u64 = created.event_attr("wasm", "dseq").unwrap().parse().unwrap();
    let tenant_addr = c.address(tenant).unwrap();
    let order = DeploymentId::new(cosmwasm_std::Addr::unchecked(&tenant_addr), dseq)
        .group(1)
        .order(1);

    let mut a = agent(c, provider, k, &journal).await.unwrap();
    let report = a.tick().await.unwrap();
    assert_eq!(report.orders_seen, 1);
    let bid_id = order.bid(cosmwasm_std::Addr::unchecked(a.address()));
    assert_eq!(report.bids_placed, vec![bid_id.clone()], "{report:?}");
    let bid: market::BidResponse = k
        .query_market(c, &market::QueryMsg::Bid { id: bid_id.clone() })
        .await
        .unwrap();
    assert_eq!(bid.bid.state, market::BidState::Open);
    // 250 millicpu at 1/1000 per millicpu.
    assert_eq!(bid.bid.price, Decimal256::from_ratio(1u128, 4u128));
    let held = a
        .inventory()
        .lock()
        .unwrap()
        .snapshot()
        .allocated
        .cpu_millis;
    assert_eq!(held, 250);
    // A second pass has nothing new to do.
    let again = a.tick().await.unwrap();
    assert!(
        again.bids_placed.is_empty() && again.refused.is_empty(),
        "{again:?}"
    );
    drop(a);

    // A restarted agent finds its bid on chain: the inventory is held again, nothing is resent.
    let mut b = agent(c, provider, k, &journal).await.unwrap();
    assert_eq!(
        b.inventory()
            .lock()
            .unwrap()
            .snapshot()
            .allocated
            .cpu_millis,
        250
    );
    let report = b.tick().await.unwrap();
    assert!(
        report.bids_placed.is_empty() && report.refused.is_empty(),
        "{report:?}"
    );
    let bids: market::BidsResponse = k
        .query_market(
            c,
            &market::QueryMsg::Bids {
                order,
                start_after: None,
                limit: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        bids.bids.len(),
        1,
        "one bid, however often the agent restarts"
    );
    devnet.stop().await;
}

/// Killed between recording an intent and learning its outcome: on restart the chain decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_intents_are_resolved_from_chain_state_on_restart() {
    use kumo_provider::journal::{Intent, IntentKind, IntentState};
    let home = tempfile::tempdir().unwrap();
    let keys: Vec<Key> = (0..3)
        .map(|i| Key::from_mnemonic_index(MNEMONIC, i).unwrap())
        .collect();
    let (admin, tenant, provider) = (&keys[0], &keys[1], &keys[2]);
    let (devnet, client) = devnet(home.path(), &keys).await;
    let c = &client;
    let suite = deploy::deploy_suite(
        c,
        admin,
        &repo().join("artifacts"),
        &deploy::default_config(DENOM),
    )
    .await
    .unwrap();
    let k = &suite.contracts;
    k.execute_registry(
        c,
        provider,
        &registry::ExecuteMsg::RegisterProvider {
            host_uri: "https://provider.example.com:8443".into(),
            attributes: vec![Attribute::new("region", "local")],
            info: ProviderInfo::default(),
        },
        &[],
    )
    .await
    .unwrap();
    let sdl = std::fs::read_to_string(repo().join("examples/hello.yaml")).unwrap();
    let tenant_addr = c.address(tenant).unwrap();
    let mut orders = vec![];
    for _ in 0..2 {
        let created = k
            .execute_market(
                c,
                tenant,
                &market::ExecuteMsg::CreateDeployment(NewDeployment {
                    groups: kumo_sdl::parse(&sdl).unwrap().groups,
                    version: HexBinary::from(vec![7u8; 32]),
                    auction_window: None,
                    reclamation_min_window: None,
                    provider_record: None,
                }),
                &coins(50_000_000, DENOM),
            )
            .await
            .unwrap();
        let dseq: u64 = created.event_attr("wasm", "dseq").unwrap().parse().unwrap();
        orders.push(
            DeploymentId::new(cosmwasm_std::Addr::unchecked(&tenant_addr), dseq)
                .group(1)
                .order(1),
        );
    }
    // Order 1: the bid reached the chain, the agent died before marking it done.
    k.execute_market(
        c,
        provider,
        &market::ExecuteMsg::CreateBid(market::NewBid {
            order: orders[0].clone(),
            price: Decimal256::from_ratio(1u128, 4u128),
            reclamation_window: None,
            offer: vec![],
        }),
        &coins(500_000, DENOM),
    )
    .await
    .unwrap();
    // Order 2: the agent died before the bid was broadcast.
    let path = home.path().join("agent.redb");
    {
        let journal = Journal::open(&path).unwrap();
        for order in &orders {
            journal
                .record(&Intent {
                    key: format!("bid/{order}"),
                    kind: IntentKind::CreateBid {
                        price: "0.25".into(),
                        deposit: "500000ukumo".into(),
                    },
                    state: IntentState::Pending,
                    at: 1,
                })
                .unwrap();
        }
    }
    let mut a = agent(c, provider, k, &path).await.unwrap();
    let report = a.tick().await.unwrap();
    let me = cosmwasm_std::Addr::unchecked(a.address());
    assert_eq!(report.bids_placed, vec![orders[1].bid(me)], "{report:?}");
    assert!(report.refused.is_empty(), "{report:?}");
    drop(a);
    let journal = Journal::open(&path).unwrap();
    assert!(
        journal.pending().unwrap().is_empty(),
        "every intent resolved"
    );
    for order in &orders {
        let bids: market::BidsResponse = k
            .query_market(
                c,
                &market::QueryMsg::Bids {
                    order: order.clone(),
                    start_after: None,
                    limit: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(bids.bids.len(), 1, "exactly one bid on {order}");
    }
    devnet.stop().await;
}
