//! End to end on the devnet: the optimized wasm artifacts deployed with the chain client and
//! the full lease lifecycle driven by signed transactions over the REST API.

use std::path::PathBuf;
use std::time::Duration;

use cosmwasm_std::{coin, coins, Decimal256, HexBinary};
use kumo::market::{self, NewBid, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, DeploymentId};
use kumo_chain::{deploy, Client, ClientConfig, Key};
use kumo_devnet::{App, Config, Devnet};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DENOM: &str = "ukumo";
const CHAIN: &str = "kumo-devnet-1";

pub fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts")
}

struct Net {
    devnet: Devnet,
    client: Client,
    admin: Key,
    tenant: Key,
    provider: Key,
    _home: tempfile::TempDir,
}

async fn start() -> Net {
    let home = tempfile::tempdir().unwrap();
    let keys: Vec<Key> = (0..3)
        .map(|i| Key::from_mnemonic_index(MNEMONIC, i).unwrap())
        .collect();
    let genesis = keys
        .iter()
        .map(|k| (k.address("kumo").unwrap(), coins(10_000_000_000_000, DENOM)))
        .collect();
    let app = App::open(Config {
        chain_id: CHAIN.into(),
        prefix: "kumo".into(),
        denom: DENOM.into(),
        min_gas_price: 0.0025,
        home: home.path().to_path_buf(),
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
    let mut keys = keys.into_iter();
    Net {
        devnet,
        client,
        admin: keys.next().unwrap(),
        tenant: keys.next().unwrap(),
        provider: keys.next().unwrap(),
        _home: home,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_lease_lifecycle_through_signed_transactions() {
    let net = start().await;
    let c = &net.client;
    assert_eq!(c.chain_id().await.unwrap(), CHAIN);

    let suite = deploy::deploy_suite(c, &net.admin, &artifacts(), &deploy::default_config(DENOM))
        .await
        .unwrap();
    let k = &suite.contracts;
    let provider = c.address(&net.provider).unwrap();
    let tenant = c.address(&net.tenant).unwrap();

    k.execute_registry(
        c,
        &net.provider,
        &registry::ExecuteMsg::RegisterProvider {
            host_uri: "https://provider.example.com:8443".into(),
            attributes: vec![Attribute::new("region", "local")],
            info: ProviderInfo::default(),
        },
        &[],
    )
    .await
    .unwrap();

    let sdl = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/hello.yaml"),
    )
    .unwrap();
    let groups = kumo_tests::Suite::groups_from_sdl(&sdl, DENOM);
    let created = k
        .execute_market(
            c,
            &net.tenant,
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
    assert!(created.gas_used > 0 && created.gas_used <= created.gas_wanted);
    let dseq: u64 = created
        .event_attr("wasm", "dseq")
        .expect("the market reports the dseq")
        .parse()
        .unwrap();
    let deployment = DeploymentId::new(cosmwasm_std::Addr::unchecked(&tenant), dseq);
    let order = deployment.group(1).order(1);

    k.execute_market(
        c,
        &net.provider,
        &market::ExecuteMsg::CreateBid(NewBid {
            order: order.clone(),
            price: Decimal256::from_ratio(1u128, 1u128),
            reclamation_window: None,
            offer: vec![],
        }),
        &coins(500_000, DENOM),
    )
    .await
    .unwrap();
    let bid = order.bid(cosmwasm_std::Addr::unchecked(&provider));
    k.execute_market(
        c,
        &net.tenant,
        &market::ExecuteMsg::CreateLease { bid: bid.clone() },
        &[],
    )
    .await
    .unwrap();
    let lease: market::LeaseResponse = k
        .query_market(c, &market::QueryMsg::Lease { id: bid.clone() })
        .await
        .unwrap();
    assert_eq!(lease.lease.state, market::LeaseState::Active);

    // An hour passes on chain.
    net.devnet.app().clock_offset_secs += 3_600;
    let before = c.balance(&provider, DENOM).await.unwrap();
    let withdrawn = k
        .execute_market(
            c,
            &net.provider,
            &market::ExecuteMsg::WithdrawLease { lease: bid.clone() },
            &[],
        )
        .await
        .unwrap();
    let after = c.balance(&provider, DENOM).await.unwrap();
    let fee: u128 = (withdrawn.gas_wanted as f64 * 0.0025).ceil() as u128;
    assert!(
        after + fee > before + 3_000,
        "an hour at 1 {DENOM}/block-second pays the provider: {before} -> {after}"
    );

    let tenant_before = c.balance(&tenant, DENOM).await.unwrap();
    k.execute_market(
        c,
        &net.tenant,
        &market::ExecuteMsg::CloseDeployment { dseq },
        &[],
    )
    .await
    .unwrap();
    let tenant_after = c.balance(&tenant, DENOM).await.unwrap();
    assert!(
        tenant_after > tenant_before,
        "closing refunds the unspent deposit: {tenant_before} -> {tenant_after}"
    );
    let gone = k
        .query_market::<market::LeaseResponse>(c, &market::QueryMsg::Lease { id: bid })
        .await;
    assert!(gone.is_err(), "closed leases are deleted");
    let _ = coin(1, DENOM);
    net.devnet.stop().await;
}
