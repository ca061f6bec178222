//! A bid in flight when the agent dies: its intent is journaled with the transaction's timeout
//! height, the transaction left the agent, and no block has it yet. The race is made
//! deterministic by holding the signed transaction in the test (where a mempool would hold it)
//! and delivering it, or not, after the restart:
//!
//! - delivered after the restart: the restarted agent keeps the order decided while the bid may
//!   still land, sends nothing for it, and resolves the intent done once the bid is on chain;
//!   the provider's account sent exactly one transaction for the order;
//! - never delivered, the chain already past the timeout height at the restart: the intent is
//!   dropped and the order bid on again, once; the held transaction can no longer be included;
//! - never delivered, the chain passing the timeout height while the agent runs: nothing is sent
//!   while it is in doubt, then the order is bid on again, once.
//!
//! The other intents follow the same rule; a heartbeat in doubt stands for them.

mod agent_common;

use std::sync::Arc;
use std::time::Duration;

use agent_common::{agent_with, config, engine, hello_sdl, inventory, MemoryBackend, Net, DENOM};
use cosmwasm_std::{coin, coins, Decimal256};
use kumo::market;
use kumo::OrderId;
use kumo_chain::tx::{self, Fee, SignerData};
use kumo_provider::agent::Agent;
use kumo_provider::gateway::MemoryManifestStore;
use kumo_provider::journal::{Intent, IntentKind, IntentState, Journal};

/// A `CreateBid` the agent signed and broadcast: its journal intent and its signed bytes.
struct InFlight {
    intent: Intent,
    timeout_height: u64,
    tx: Vec<u8>,
}

async fn height(net: &Net) -> u64 {
    net.client.latest_block().await.unwrap().height
}

async fn sequence(net: &Net) -> u64 {
    let me = net.provider_addr();
    net.client
        .account(me.as_str())
        .await
        .unwrap()
        .unwrap()
        .sequence
}

async fn wait_for_height(net: &Net, above: u64) {
    while height(net).await <= above {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the agent does before broadcasting a bid on `order`: journal the pending intent with
/// the timeout height, and sign the transaction with it (at the account's next sequence).
async fn bid_in_flight(net: &Net, order: &OrderId, timeout_height: u64) -> InFlight {
    let me = net.provider_addr();
    let account = net.client.account(me.as_str()).await.unwrap().unwrap();
    let deposit = coin(500_000, DENOM);
    let msg = tx::msg_execute(
        me.as_str(),
        &net.k.market,
        &market::ExecuteMsg::CreateBid(market::NewBid {
            order: order.clone(),
            price: Decimal256::from_ratio(1u128, 4u128),
            reclamation_window: None,
            offer: vec![],
        }),
        std::slice::from_ref(&deposit),
    )
    .unwrap();
    let tx = tx::build_signed_tx_with_timeout(
        &net.provider,
        vec![msg],
        "",
        Some(timeout_height),
        &SignerData {
            chain_id: "kumo-devnet-1".into(),
            account_number: account.account_number,
            sequence: account.sequence,
        },
        &Fee {
            amount: coins(10_000, DENOM),
            gas_limit: 4_000_000,
        },
    );
    let intent = Intent {
        key: format!("bid/{order}"),
        kind: IntentKind::CreateBid {
            price: "0.25".into(),
            deposit: deposit.to_string(),
        },
        state: IntentState::Pending,
        at: 1,
    };
    let journal = Journal::open(&net.journal_path()).unwrap();
    journal.record_in_flight(&intent, timeout_height).unwrap();
    InFlight {
        intent,
        timeout_height,
        tx,
    }
}

async fn start(net: &Net) -> Agent {
    agent_with(
        net,
        config(net),
        engine(),
        inventory(),
        Arc::new(MemoryBackend::default()),
        Arc::new(MemoryManifestStore::new()),
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

async fn provider_bids_on(net: &Net, order: &OrderId) -> usize {
    let me = net.provider_addr();
    net.bids_on(order)
        .await
        .into_iter()
        .filter(|b| b.id.provider == me)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bid_in_flight_at_a_kill_is_not_sent_again_and_resolves_done_when_it_lands() {
    let net = Net::start(90, false).await;
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let before = sequence(&net).await;
    // Far enough ahead for the restart and a few ticks on a busy machine (blocks every 50 ms).
    let in_flight = bid_in_flight(&net, &order, height(&net).await + 400).await;

    // Restarted with the bid in flight: the order stays decided, its resources held, and
    // nothing is sent for it.
    let mut a = start(&net).await;
    assert_eq!(
        allocated_cpu(&a),
        250,
        "the bid in doubt holds its resources"
    );
    for _ in 0..3 {
        let report = a.tick().await.unwrap();
        assert!(report.bids_placed.is_empty(), "{report:?}");
        assert!(report.declined.is_empty(), "{report:?}");
        assert!(report.refused.is_empty(), "{report:?}");
        net.next_blocks().await;
    }
    assert_eq!(sequence(&net).await, before, "the agent sent nothing");
    assert_eq!(provider_bids_on(&net, &order).await, 0);
    assert_eq!(allocated_cpu(&a), 250);

    // The bid lands (the mempool delivers it).
    let sent = net.client.broadcast(&in_flight.tx).await.unwrap();
    assert_eq!(sent.code, 0, "{}", sent.raw_log);
    let included = net
        .client
        .wait_for_tx(&sent.txhash, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(included.code, 0, "{}", included.raw_log);
    assert!(included.height <= in_flight.timeout_height);

    for _ in 0..2 {
        let report = a.tick().await.unwrap();
        assert!(report.bids_placed.is_empty(), "{report:?}");
        assert!(report.refused.is_empty(), "{report:?}");
        net.next_blocks().await;
    }
    assert_eq!(allocated_cpu(&a), 250, "held once, by the open bid");
    drop(a);

    // One transaction for the order: the bid that was in flight.
    assert_eq!(sequence(&net).await, before + 1);
    assert_eq!(provider_bids_on(&net, &order).await, 1);
    let me = net.provider_addr();
    assert_eq!(
        net.bid(&order.bid(me)).await.unwrap().state,
        market::BidState::Open
    );
    let journal = Journal::open(&net.journal_path()).unwrap();
    assert!(journal.pending().unwrap().is_empty());
    assert_eq!(
        journal.get(&in_flight.intent.key).unwrap().map(|i| i.state),
        Some(IntentState::Done),
        "resolved done once the bid landed"
    );
    drop(journal);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bid_past_its_timeout_height_at_the_restart_is_dropped_and_the_order_bid_on_again() {
    let net = Net::start(91, false).await;
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let before = sequence(&net).await;
    let in_flight = bid_in_flight(&net, &order, height(&net).await + 2).await;
    // The transaction was lost, and the chain went past its timeout height.
    wait_for_height(&net, in_flight.timeout_height).await;

    let mut a = start(&net).await;
    let report = a.tick().await.unwrap();
    let me = net.provider_addr();
    assert_eq!(
        report.bids_placed,
        vec![order.bid(me.clone())],
        "decided again: {report:?}"
    );
    net.next_blocks().await;
    let report = a.tick().await.unwrap();
    assert!(report.bids_placed.is_empty(), "{report:?}");
    assert_eq!(allocated_cpu(&a), 250);
    drop(a);

    // The lost transaction can never be included now (the SDK's code 30).
    let late = net.client.broadcast(&in_flight.tx).await.unwrap();
    assert_eq!(
        (late.codespace.as_str(), late.code),
        ("sdk", 30),
        "{}",
        late.raw_log
    );
    assert_eq!(sequence(&net).await, before + 1);
    assert_eq!(provider_bids_on(&net, &order).await, 1);
    let journal = Journal::open(&net.journal_path()).unwrap();
    assert!(journal.pending().unwrap().is_empty());
    drop(journal);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bid_in_doubt_that_never_lands_is_bid_again_once_the_chain_passes_its_timeout() {
    let net = Net::start(92, false).await;
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let before = sequence(&net).await;
    let in_flight = bid_in_flight(&net, &order, height(&net).await + 100).await;

    let mut a = start(&net).await;
    let report = a.tick().await.unwrap();
    assert!(report.bids_placed.is_empty(), "in doubt: {report:?}");
    assert!(height(&net).await <= in_flight.timeout_height, "too slow");
    assert_eq!(allocated_cpu(&a), 250);

    // The transaction never reaches a block; the chain passes its timeout height.
    wait_for_height(&net, in_flight.timeout_height).await;
    let report = a.tick().await.unwrap();
    let me = net.provider_addr();
    assert_eq!(report.bids_placed, vec![order.bid(me)], "{report:?}");
    net.next_blocks().await;
    let report = a.tick().await.unwrap();
    assert!(report.bids_placed.is_empty(), "{report:?}");
    assert_eq!(allocated_cpu(&a), 250, "held once");
    drop(a);

    assert_eq!(sequence(&net).await, before + 1);
    assert_eq!(provider_bids_on(&net, &order).await, 1);
    let journal = Journal::open(&net.journal_path()).unwrap();
    assert!(journal.pending().unwrap().is_empty());
    drop(journal);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_in_doubt_is_not_sent_again_until_the_chain_passes_its_timeout() {
    let net = Net::start(93, true).await;
    let before = sequence(&net).await;
    let timeout_height = height(&net).await + 100;
    {
        let journal = Journal::open(&net.journal_path()).unwrap();
        let intent = Intent {
            key: "heartbeat".into(),
            kind: IntentKind::Heartbeat {},
            state: IntentState::Pending,
            at: net.last_heartbeat().await,
        };
        journal.record_in_flight(&intent, timeout_height).unwrap();
    }
    // Due by chain state (the last heartbeat is a period old), but one may be in flight.
    let mut c = config(&net);
    c.heartbeat_period = Some(Duration::from_secs(60));
    net.advance(60).await;
    let mut a = agent_with(
        &net,
        c,
        engine(),
        inventory(),
        Arc::new(MemoryBackend::default()),
        Arc::new(MemoryManifestStore::new()),
    )
    .await
    .unwrap();
    let report = a.tick().await.unwrap();
    assert!(!report.heartbeat, "in doubt: {report:?}");
    assert!(height(&net).await <= timeout_height, "too slow");
    assert_eq!(sequence(&net).await, before, "nothing sent");

    // It never lands; once the chain is past its timeout height, the heartbeat goes out.
    wait_for_height(&net, timeout_height).await;
    let report = a.tick().await.unwrap();
    assert!(report.heartbeat, "{report:?}");
    let report = a.tick().await.unwrap();
    assert!(!report.heartbeat, "{report:?}");
    drop(a);
    assert_eq!(sequence(&net).await, before + 1);
    let journal = Journal::open(&net.journal_path()).unwrap();
    assert!(journal.pending().unwrap().is_empty());
    drop(journal);
    net.stop().await;
}
