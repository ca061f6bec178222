//! Listings read every page. The contracts cap a page at 30 items (`MAX_LIMIT`), so a listing
//! that asks for more and stops at the first page shorter than it asked for shows only 30. Here
//! one tenant has more than a page of deployments, leases, bids on one order and proposals,
//! created through the chain client (many messages in one transaction where one signer can send
//! them), and the CLI must list all of them.

mod common;

use common::{client, execute_all, repo, start, DEV_MNEMONIC};
use cosmwasm_std::{coins, Addr, Decimal, Decimal256, HexBinary, Uint128};
use kumo::registry::ProviderInfo;
use kumo::{governance, market, registry, staking, Attribute, Denom, DeploymentId};
use kumo_chain::tx::{msg_execute, msg_send};
use kumo_chain::{Key, KumoContracts};
use serde_json::Value;

/// More than a page of deployments, and not a multiple of a page.
const DEPLOYMENTS: u64 = 35;
/// Leases (one per deployment, from 1), bids on one order and proposals: one more than a page.
const BEYOND_A_PAGE: u64 = 31;

fn dseqs(doc: &Value) -> Vec<u64> {
    doc.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"]["dseq"].as_u64().unwrap())
        .collect()
}

#[test]
fn status_bids_and_gov_list_show_every_item_beyond_the_first_page() {
    let (devnet, env) = start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let chain = client(&devnet.url);
    let contracts = env.suite().contracts;
    let faucet = Key::from_mnemonic(DEV_MNEMONIC).unwrap();
    let tenant = env.recover_key("tenant", DEV_MNEMONIC);
    let (provider, provider_key) = env.new_key("provider");
    let t = ["--from", "tenant"];

    // The tenant's deployments of hello.yaml, in one transaction.
    let sdl =
        kumo_sdl::parse(&std::fs::read_to_string(repo("examples/hello.yaml")).unwrap()).unwrap();
    let new = market::NewDeployment {
        groups: sdl.groups.clone(),
        version: HexBinary::from(sdl.manifest_version().to_vec()),
        auction_window: None,
        reclamation_min_window: None,
        provider_record: None,
    };
    let create = (
        market::ExecuteMsg::CreateDeployment(new),
        coins(5_000_000, "ukumo"),
    );
    rt.block_on(execute_all(
        &chain,
        &faucet,
        &contracts.market,
        &vec![create; DEPLOYMENTS as usize],
    ));
    let listed = env.json(&[&t[..], &["status"]].concat());
    // One market-wide counter numbers deployments and orders: increasing, not consecutive.
    let all = dseqs(&listed["deployments"]);
    assert_eq!(all.len(), DEPLOYMENTS as usize, "{all:?}");
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    let (first, beyond, last) = (all[0], all[BEYOND_A_PAGE as usize - 1], all[all.len() - 1]);
    let text = env.text(&[&t[..], &["status"]].concat());
    assert_eq!(text.lines().count(), 1 + DEPLOYMENTS as usize, "{text}");

    // A provider bids on the first 31 deployments' orders and the tenant leases them all: the
    // lease of deployment 31 is on the owner's second page of leases.
    rt.block_on(async {
        chain
            .send(&faucet, &provider, &coins(100_000_000, "ukumo"))
            .await
            .unwrap();
        chain
            .execute(
                &provider_key,
                &contracts.registry,
                &registry::ExecuteMsg::RegisterProvider {
                    // No TLS pin: `status` reports the lease API as untrusted without calling it.
                    host_uri: "https://127.0.0.1:9".into(),
                    attributes: vec![Attribute {
                        key: "region".into(),
                        value: "local".into(),
                    }],
                    info: ProviderInfo {
                        email: String::new(),
                        website: String::new(),
                    },
                },
                &[],
            )
            .await
            .unwrap();
        chain
            .execute(
                &provider_key,
                &contracts.staking,
                &staking::ExecuteMsg::Bond {},
                &coins(20_000_000, "ukumo"),
            )
            .await
            .unwrap();
        let order = |dseq| {
            DeploymentId::new(Addr::unchecked(&tenant), dseq)
                .group(1)
                .order(1)
        };
        let bids: Vec<_> = all[..BEYOND_A_PAGE as usize]
            .iter()
            .map(|&dseq| {
                (
                    market::ExecuteMsg::CreateBid(market::NewBid {
                        order: order(dseq),
                        price: Decimal256::permille(1),
                        reclamation_window: None,
                        offer: vec![],
                    }),
                    coins(500_000, "ukumo"),
                )
            })
            .collect();
        execute_all(&chain, &provider_key, &contracts.market, &bids).await;
        let leases: Vec<_> = all[..BEYOND_A_PAGE as usize]
            .iter()
            .map(|&dseq| {
                (
                    market::ExecuteMsg::CreateLease {
                        bid: order(dseq).bid(Addr::unchecked(&provider)),
                    },
                    vec![],
                )
            })
            .collect();
        execute_all(&chain, &faucet, &contracts.market, &leases).await;
    });
    for dseq in [first, beyond] {
        let status = env.json(&[&t[..], &["status", &dseq.to_string()]].concat());
        assert_eq!(dseqs(&status["leases"]), vec![dseq], "{status:#}");
        assert_eq!(status["leases"][0]["state"], "active");
        assert!(status["lease_status"][0]["error"]
            .as_str()
            .unwrap()
            .contains("has no TLS pin"));
    }
    // Closing the lease finds it on the second page too.
    let closed = env.json(&[&t[..], &["lease", "close", &beyond.to_string()]].concat());
    assert_eq!(closed["lease"]["dseq"], beyond);

    // More than a page of bids on one order: the market's owner lets an order take 40 bids (20
    // by default), and 31 providers register, bond and bid on deployment 35's order, each in one
    // transaction.
    rt.block_on(async {
        let config: market::ConfigResponse = chain
            .query_smart(&contracts.market, &market::QueryMsg::Config {})
            .await
            .unwrap();
        chain
            .execute(
                &faucet,
                &contracts.market,
                &market::ExecuteMsg::UpdateParams {
                    params: market::MarketParams {
                        order_max_bids: 40,
                        ..config.params
                    },
                },
                &[],
            )
            .await
            .unwrap();
        let bidders: Vec<Key> = (0..BEYOND_A_PAGE as u32)
            .map(|i| Key::from_mnemonic_index(DEV_MNEMONIC, 100 + i).unwrap())
            .collect();
        let funding = bidders
            .iter()
            .map(|k| {
                msg_send(
                    &chain.address(&faucet).unwrap(),
                    &chain.address(k).unwrap(),
                    &coins(30_000_000, "ukumo"),
                )
            })
            .collect();
        chain
            .sign_and_broadcast(&faucet, funding, "")
            .await
            .unwrap();
        let order = DeploymentId::new(Addr::unchecked(&tenant), last)
            .group(1)
            .order(1);
        for bidder in &bidders {
            let me = chain.address(bidder).unwrap();
            let register = registry::ExecuteMsg::RegisterProvider {
                host_uri: "https://127.0.0.1:9".into(),
                attributes: vec![Attribute {
                    key: "region".into(),
                    value: "local".into(),
                }],
                info: ProviderInfo {
                    email: String::new(),
                    website: String::new(),
                },
            };
            let bid = market::ExecuteMsg::CreateBid(market::NewBid {
                order: order.clone(),
                price: Decimal256::permille(1),
                reclamation_window: None,
                offer: vec![],
            });
            let msgs = vec![
                msg_execute(&me, &contracts.registry, &register, &[]).unwrap(),
                msg_execute(
                    &me,
                    &contracts.staking,
                    &staking::ExecuteMsg::Bond {},
                    &coins(20_000_000, "ukumo"),
                )
                .unwrap(),
                msg_execute(&me, &contracts.market, &bid, &coins(500_000, "ukumo")).unwrap(),
            ];
            chain.sign_and_broadcast(bidder, msgs, "").await.unwrap();
        }
    });
    let bids = env.json(&[&t[..], &["bids", &last.to_string()]].concat());
    assert_eq!(
        bids["bids"].as_array().unwrap().len(),
        BEYOND_A_PAGE as usize,
        "{bids:#}"
    );

    // Governance: more than a page of proposals.
    let gov = rt.block_on(async {
        let wasm = std::fs::read(repo("artifacts/kumo_governance.wasm")).unwrap();
        let code = chain.store_code(&faucet, wasm).await.unwrap();
        let gov = chain
            .instantiate(
                &faucet,
                code,
                &governance::InstantiateMsg {
                    params: governance::GovernanceParams {
                        denom: Denom::Native("ukumo".into()),
                        proposal_deposit: Uint128::new(1_000),
                        voting_period: 600,
                        quorum: Decimal::percent(10),
                        threshold: Decimal::percent(50),
                        veto_threshold: Decimal::percent(33),
                        timelock: 0,
                        refund_rejected: true,
                        max_messages: 10,
                    },
                },
                "kumo-governance",
                None,
                &[],
            )
            .await
            .unwrap();
        let proposals: Vec<_> = (1..=BEYOND_A_PAGE)
            .map(|i| {
                (
                    governance::ExecuteMsg::Propose {
                        title: format!("proposal {i}"),
                        description: String::new(),
                        msgs: vec![],
                    },
                    coins(1_000, "ukumo"),
                )
            })
            .collect();
        execute_all(&chain, &faucet, &gov, &proposals).await;
        gov
    });
    let gov_suite = env.home.path().join("gov-suite.json");
    std::fs::write(
        &gov_suite,
        serde_json::to_vec(&KumoContracts {
            governance: gov,
            ..contracts.clone()
        })
        .unwrap(),
    )
    .unwrap();
    let list = env.json(&[
        "--from",
        "tenant",
        "--suite",
        gov_suite.to_str().unwrap(),
        "gov",
        "list",
    ]);
    let ids: Vec<u64> = list["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=BEYOND_A_PAGE).collect::<Vec<_>>());
}
