//! The agent against the devnet (the real contracts in wasmd's VM, signed transactions over
//! REST): it bids on a tenant's order through its journal, and a restarted agent neither bids
//! twice nor loses what its open bid holds.

use std::sync::Arc;

use cosmwasm_std::{coin, coins, Decimal256, HexBinary};
use kumo::market::{self, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, DeploymentId};
use kumo_chain::{deploy, Client, Key, KumoContracts};
use kumo_provider::agent::{Agent, AgentConfig, AgentError};
use kumo_provider::gateway::MemoryManifestStore;
use kumo_provider::journal::Journal;

mod agent_common;

use agent_common::{devnet, engine, inventory, repo, MemoryBackend, DENOM, MNEMONIC};

async fn agent(
    client: &Client,
    key: &Key,
    contracts: &KumoContracts,
    journal: &std::path::Path,
) -> Result<Agent, AgentError> {
    Agent::start(
        client.clone(),
        key.clone(),
        AgentConfig::new(contracts.clone(), coin(500_000, DENOM)),
        engine(),
        inventory(),
        Journal::open(journal).unwrap(),
        Arc::new(MemoryBackend::default()),
        Arc::new(MemoryManifestStore::new()),
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
    let (devnet, client) = devnet(home.path(), &keys.iter().collect::<Vec<_>>()).await;
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
    let (devnet, client) = devnet(home.path(), &keys.iter().collect::<Vec<_>>()).await;
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

mod follow_up {
    use std::sync::mpsc;

    use kumo_provider::bidengine::{BidPolicy, Ctx, Decision, OrderView};
    use kumo_provider::inventory::ReservationState;
    use kumo_provider::journal::IntentState;

    use super::agent_common::{agent_with, config, hello_sdl, inventory_of, Net};
    use super::*;

    fn memory() -> (Arc<MemoryBackend>, Arc<MemoryManifestStore>) {
        (
            Arc::new(MemoryBackend::default()),
            Arc::new(MemoryManifestStore::new()),
        )
    }

    /// An agent with the test config, the default engine, 4 CPUs and in-memory backend and
    /// manifest store.
    async fn plain_agent(net: &Net) -> Agent {
        agent_of(net, config(net), 4000).await
    }

    /// An agent with `config`, the default engine, `cpu_millis` and in-memory backend and
    /// manifest store.
    async fn agent_of(net: &Net, config: AgentConfig, cpu_millis: u64) -> Agent {
        let (backend, store) = memory();
        agent_with(
            net,
            config,
            engine(),
            inventory_of(cpu_millis),
            backend,
            store,
        )
        .await
        .unwrap()
    }

    fn allocated_cpu(a: &Agent) -> u64 {
        a.inventory()
            .lock()
            .unwrap()
            .snapshot()
            .allocated
            .cpu_millis
    }

    /// A pass's bids go in one transaction (one block for all, not one block each). When the
    /// chain refuses it (here the market refuses one bid: its deployment asks for a track
    /// record the bid engine does not check), each bid is sent alone: the others land and the
    /// refused one is reported with the market's reason, its resources freed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pass_sends_its_bids_in_one_transaction_and_alone_when_it_is_refused() {
        let net = Net::start(3, false).await;
        let orders = net.create_deployments(&hello_sdl(), 2).await;
        let mut a = plain_agent(&net).await;
        let report = a.tick().await.unwrap();
        let me = net.provider_addr();
        assert_eq!(
            report.bids_placed,
            vec![orders[0].bid(me.clone()), orders[1].bid(me.clone())],
            "{report:?}"
        );
        let created_at = |id: kumo::BidId| async {
            let bid: market::BidResponse = net
                .k
                .query_market(&net.client, &market::QueryMsg::Bid { id })
                .await
                .unwrap();
            bid.bid.created_at
        };
        let per_bid = allocated_cpu(&a) / 2;
        assert!(per_bid > 0);
        // One block: the same block time.
        assert_eq!(
            created_at(orders[0].bid(me.clone())).await,
            created_at(orders[1].bid(me.clone())).await
        );

        let (good, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
        let (mut picky, _) = Net::new_deployment(&hello_sdl());
        picky.provider_record = Some(market::RecordRequirement {
            min_leases_completed: 5,
            ..Default::default()
        });
        let created = net
            .k
            .execute_market(
                &net.client,
                &net.tenant,
                &market::ExecuteMsg::CreateDeployment(picky),
                &coins(50_000_000, DENOM),
            )
            .await
            .unwrap();
        let dseq: u64 = created.event_attr("wasm", "dseq").unwrap().parse().unwrap();
        let picky = DeploymentId::new(net.tenant_addr(), dseq).group(1).order(1);
        let report = a.tick().await.unwrap();
        assert_eq!(report.bids_placed, vec![good.bid(me.clone())], "{report:?}");
        assert_eq!(report.refused.len(), 1, "{report:?}");
        assert_eq!(report.refused[0].0, picky);
        // Three bids' resources held: the refused one's reservation is gone.
        assert_eq!(allocated_cpu(&a), 3 * per_bid, "{report:?}");
        drop(a);
        // Journaled one by one: the three placed bids are done, the refused one is gone.
        let journal = Journal::open(&net.journal_path()).unwrap();
        for order in [&orders[0], &orders[1], &good] {
            let intent = journal.get(&format!("bid/{order}")).unwrap().unwrap();
            assert_eq!(intent.state, IntentState::Done, "{order}");
        }
        assert!(journal.get(&format!("bid/{picky}")).unwrap().is_none());
        drop(journal);
        net.devnet.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn won_leases_commit_their_reservation_and_lost_bids_release_theirs() {
        let net = Net::start(3, false).await;
        let (won, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
        let (lost, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
        let mut a = plain_agent(&net).await;
        let report = a.tick().await.unwrap();
        assert_eq!(report.bids_placed.len(), 2, "{report:?}");
        assert_eq!(allocated_cpu(&a), 500);

        // A rival bids lower on the second order and the tenant takes it.
        let rival = net.funded_key(4).await;
        net.register(&rival).await;
        net.k
            .execute_market(
                &net.client,
                &rival,
                &market::ExecuteMsg::CreateBid(market::NewBid {
                    order: lost.clone(),
                    price: Decimal256::from_ratio(1u128, 10u128),
                    reclamation_window: None,
                    offer: vec![],
                }),
                &coins(500_000, DENOM),
            )
            .await
            .unwrap();
        let me = net.provider_addr();
        let rival_addr = cosmwasm_std::Addr::unchecked(rival.address("kumo").unwrap());
        net.accept(&won.bid(me.clone())).await;
        net.accept(&lost.bid(rival_addr)).await;

        let report = a.tick().await.unwrap();
        assert_eq!(report.active_leases, 1, "{report:?}");
        {
            let inventory = a.inventory();
            let inventory = inventory.lock().unwrap();
            let held = inventory.reservation(&won).expect("the won order holds");
            assert_eq!(held.state, ReservationState::Committed);
            assert!(inventory.reservation(&lost).is_none(), "the lost bid freed");
        }
        assert_eq!(allocated_cpu(&a), 250);
        drop(a);

        // After a restart the lease is booked again, as committed.
        let mut b = plain_agent(&net).await;
        let report = b.tick().await.unwrap();
        assert!(report.bids_placed.is_empty(), "{report:?}");
        assert_eq!(
            b.inventory()
                .lock()
                .unwrap()
                .reservation(&won)
                .unwrap()
                .state,
            ReservationState::Committed
        );
        assert_eq!(allocated_cpu(&b), 250);
        net.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_bids_older_than_the_bid_timeout_are_closed_once() {
        let net = Net::start(5, false).await;
        let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
        // config(): a 60 s bid timeout.
        let mut a = plain_agent(&net).await;
        let bid = order.bid(net.provider_addr());
        assert_eq!(a.tick().await.unwrap().bids_placed, vec![bid.clone()]);
        let report = a.tick().await.unwrap();
        assert!(report.bids_closed.is_empty(), "{report:?}");

        net.advance(61).await;
        let report = a.tick().await.unwrap();
        assert_eq!(report.bids_closed, vec![bid.clone()], "{report:?}");
        assert!(report.bids_placed.is_empty(), "not bid again: {report:?}");
        assert_eq!(allocated_cpu(&a), 0, "the reservation is released");
        assert!(net.bid(&bid).await.is_none(), "the bid is closed on chain");
        let report = a.tick().await.unwrap();
        assert!(report.bids_closed.is_empty() && report.bids_placed.is_empty());
        drop(a);

        let journal = Journal::open(&net.journal_path()).unwrap();
        let intent = journal.get(&format!("close-bid/{bid}")).unwrap().unwrap();
        assert_eq!(intent.state, IntentState::Done);
        drop(journal);
        // A restarted agent does not bid on the order again either.
        let mut b = plain_agent(&net).await;
        let report = b.tick().await.unwrap();
        assert!(report.bids_placed.is_empty(), "{report:?}");
        assert!(net.bids_on(&order).await.is_empty());
        net.stop().await;
    }

    /// Holds the evaluation of one order until the test has closed that order's deployment.
    struct Gate {
        dseq: u64,
        reached: Mutex<mpsc::Sender<()>>,
        resume: Mutex<mpsc::Receiver<()>>,
    }

    impl BidPolicy for Gate {
        fn name(&self) -> &str {
            "gate"
        }

        fn check(&self, order: &OrderView, _ctx: &Ctx<'_>) -> Decision {
            if order.id.dseq == self.dseq {
                self.reached.lock().unwrap().send(()).unwrap();
                self.resume.lock().unwrap().recv().unwrap();
            }
            Decision::Accept
        }
    }

    use std::sync::Mutex;

    /// `OpenOrders` pages start after the last order of the previous page; when that order is
    /// pruned meanwhile, markets before the fix refuse the page: the agent lists again from the
    /// start and decides every order once (with the fix, the listing just goes on).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pruned_order_at_a_page_boundary_restarts_the_listing_without_losing_orders() {
        let net = Net::start(6, false).await;
        let orders = net.create_deployments(&hello_sdl(), 35).await;
        // The last order of the first page (30 a page).
        let boundary = orders[29].clone();
        let (reached_tx, reached_rx) = mpsc::channel();
        let (resume_tx, resume_rx) = mpsc::channel();
        let engine = engine().with_policy(Gate {
            dseq: boundary.dseq,
            reached: Mutex::new(reached_tx),
            resume: Mutex::new(resume_rx),
        });
        let (backend, store) = memory();
        let mut a = agent_with(
            &net,
            config(&net),
            engine,
            inventory_of(16_000),
            backend,
            store,
        )
        .await
        .unwrap();
        let tick = tokio::spawn(async move { (a.tick().await, a) });
        tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
            .await
            .unwrap();
        net.close_deployment(&boundary.deployment()).await;
        resume_tx.send(()).unwrap();
        let (report, mut a) = tick.await.unwrap();
        let report = report.unwrap();
        assert_eq!(report.orders_seen, 35, "{report:?}");
        assert_eq!(report.bids_placed.len(), 34, "{report:?}");
        let me = net.provider_addr();
        for order in orders.iter().filter(|o| **o != boundary) {
            assert!(
                report.bids_placed.contains(&order.bid(me.clone())),
                "{order}"
            );
        }
        assert_eq!(report.refused.len(), 1, "{report:?}");
        assert_eq!(report.refused[0].0, boundary);
        let again = a.tick().await.unwrap();
        assert!(again.bids_placed.is_empty() && again.refused.is_empty());
        assert_eq!(again.orders_seen, 34);
        net.stop().await;
    }

    /// The market answers at most its own maximum (30) per page whatever the query's limit, so
    /// a page shorter than the limit is not the last one. The agent asks for 100 a page here:
    /// every page it gets is short, and a listing that stopped at the first short page saw 30
    /// of the 35 orders, bids and leases. Listings go on until an empty page.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listings_go_on_past_pages_shorter_than_the_limit_until_an_empty_page() {
        let net = Net::start(8, false).await;
        let orders = net.create_deployments(&hello_sdl(), 35).await;
        let above_the_cap = || {
            let mut c = config(&net);
            c.page_limit = 100;
            c
        };
        // 35 replicas of 250 millicpu fit in 16 CPUs.
        let mut a = agent_of(&net, above_the_cap(), 16_000).await;
        // `OpenOrders`: 30, then 5, then an empty page.
        let report = a.tick().await.unwrap();
        assert_eq!(report.orders_seen, 35, "{report:?}");
        assert_eq!(report.bids_placed.len(), 35, "{report:?}");
        drop(a);

        // `ProviderBids`: a restarted agent holds all 35 open bids again.
        let mut b = agent_of(&net, above_the_cap(), 16_000).await;
        assert_eq!(allocated_cpu(&b), 35 * 250);

        // `ProviderLeases`: the tenant accepts every bid (one transaction); all 35 are live.
        let tenant = net.client.address(&net.tenant).unwrap();
        let me = net.provider_addr();
        let accepts = orders
            .iter()
            .map(|o| {
                kumo_chain::tx::msg_execute(
                    &tenant,
                    &net.k.market,
                    &market::ExecuteMsg::CreateLease {
                        bid: o.bid(me.clone()),
                    },
                    &[],
                )
                .unwrap()
            })
            .collect();
        net.client
            .sign_and_broadcast(&net.tenant, accepts, "")
            .await
            .unwrap();
        let report = b.tick().await.unwrap();
        assert_eq!(report.active_leases, 35, "{report:?}");
        assert!(report.bids_placed.is_empty(), "{report:?}");
        assert_eq!(allocated_cpu(&b), 35 * 250);
        net.stop().await;
    }
}

mod sequences {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::agent_common::{agent_with, config, inventory_of, Net};
    use super::*;

    /// Another process signs with the provider's key while the agent bids: the stale
    /// sequences this causes are recovered (account read again, transaction retried).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transactions_from_another_process_with_the_same_key_do_not_break_the_agent() {
        let net = Net::start(7, false).await;
        let orders = net.create_deployments(&agent_common::hello_sdl(), 8).await;
        let stop = Arc::new(AtomicBool::new(false));
        let other = {
            let (client, key, stop) = (net.client.clone(), net.provider.clone(), stop.clone());
            let to = net.client.address(&net.admin).unwrap();
            tokio::spawn(async move {
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) {
                    if client.send(&key, &to, &coins(1, DENOM)).await.is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
        };
        let mut a = agent_with(
            &net,
            config(&net),
            engine(),
            inventory_of(4000),
            Arc::new(MemoryBackend::default()),
            Arc::new(MemoryManifestStore::new()),
        )
        .await
        .unwrap();
        let report = a.tick().await.unwrap();
        stop.store(true, Ordering::Relaxed);
        let sent = other.await.unwrap();
        assert!(sent > 0, "the other process got transactions in");
        assert!(report.refused.is_empty(), "{report:?}");
        // A bid whose sequence was taken even after the retry is not lost: the next tick,
        // with the other process gone, places it.
        let next = a.tick().await.unwrap();
        assert!(next.refused.is_empty(), "{next:?}");
        let placed: std::collections::BTreeSet<_> =
            report.bids_placed.iter().chain(&next.bids_placed).collect();
        assert_eq!(placed.len(), orders.len(), "{report:?} {next:?}");
        assert_eq!(
            report.bids_placed.len() + next.bids_placed.len(),
            orders.len(),
            "no order is bid on twice"
        );
        net.stop().await;
    }
}
