//! The agent's payments and attendance on the devnet: heartbeats at the staking contract's
//! attendance period, withdrawals every period and early when a deployment's escrow runs dry
//! first, and the journal's pending intents of each kind resolved from chain state on restart.
//! Time moves with the devnet's clock; no workloads run (an in-memory backend), and the
//! manifest timeout is long enough not to interfere.

mod agent_common;

use std::sync::Arc;
use std::time::Duration;

use agent_common::{
    agent_with, config, engine, engine_at, hello_sdl, hello_sdl_priced, inventory, MemoryBackend,
    Net,
};
use cosmwasm_std::{Decimal256, Uint128};
use kumo_provider::agent::{Agent, AgentConfig};
use kumo_provider::bidengine::BidEngine;
use kumo_provider::gateway::MemoryManifestStore;
use kumo_provider::journal::{Intent, IntentKind, IntentState, Journal};

fn patient(net: &Net) -> AgentConfig {
    let mut c = config(net);
    c.manifest_timeout = Duration::from_secs(30 * 86_400);
    c.bid_timeout = Duration::from_secs(30 * 86_400);
    c
}

async fn start(net: &Net, config: AgentConfig, engine: BidEngine) -> Agent {
    agent_with(
        net,
        config,
        engine,
        inventory(),
        Arc::new(MemoryBackend::default()),
        Arc::new(MemoryManifestStore::new()),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_go_out_every_attendance_period_read_from_the_staking_contract() {
    let net = Net::start(30, true).await;
    let mut a = start(&net, patient(&net), engine()).await;
    assert_eq!(
        a.heartbeat_period(),
        Some(300),
        "the staking contract's period"
    );
    // Bonding counts as presence: nothing is due yet.
    let report = a.tick().await.unwrap();
    assert!(!report.heartbeat, "{report:?}");
    let bonded_at = net.last_heartbeat().await;

    net.advance(300).await;
    let report = a.tick().await.unwrap();
    assert!(report.heartbeat, "{report:?}");
    let beat = net.last_heartbeat().await;
    assert!(beat >= bonded_at + 300, "{beat} after {bonded_at}");
    let report = a.tick().await.unwrap();
    assert!(!report.heartbeat, "one per period: {report:?}");
    drop(a);

    // A restart sends nothing until the period is over (the chain has the last heartbeat).
    let mut b = start(&net, patient(&net), engine()).await;
    assert!(!b.tick().await.unwrap().heartbeat);
    assert_eq!(net.last_heartbeat().await, beat);
    // A configured period wins over the contract's.
    drop(b);
    let mut c = patient(&net);
    c.heartbeat_period = Some(Duration::from_secs(60));
    let mut b = start(&net, c, engine()).await;
    assert_eq!(b.heartbeat_period(), Some(60));
    net.advance(60).await;
    assert!(b.tick().await.unwrap().heartbeat);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_leases_are_withdrawn_every_withdraw_period_across_restarts() {
    let net = Net::start(31, false).await;
    // patient(): withdrawals every 120 s.
    let mut a = start(&net, patient(&net), engine()).await;
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let lease = order.bid(net.provider_addr());
    assert_eq!(a.tick().await.unwrap().bids_placed, vec![lease.clone()]);
    net.accept(&lease).await;
    let report = a.tick().await.unwrap();
    assert_eq!(report.withdrawals, 0, "{report:?}");
    assert_eq!(net.payment(&lease).await.withdrawn, Uint128::zero());

    net.advance(121).await;
    let report = a.tick().await.unwrap();
    assert_eq!(report.withdrawals, 1, "{report:?}");
    let paid = net.payment(&lease).await.withdrawn;
    assert!(paid > Uint128::zero());
    assert_eq!(a.tick().await.unwrap().withdrawals, 0, "once per period");
    drop(a);

    // The journal remembers the last withdrawal: a restart does not withdraw again at once.
    let mut b = start(&net, patient(&net), engine()).await;
    assert_eq!(b.tick().await.unwrap().withdrawals, 0);
    net.advance(121).await;
    assert_eq!(b.tick().await.unwrap().withdrawals, 1);
    assert!(net.payment(&lease).await.withdrawn > paid);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_withdrawn_early_once_when_its_escrow_runs_dry_before_the_next_withdrawal() {
    let net = Net::start(32, false).await;
    let mut c = patient(&net);
    // Hourly withdrawals: the early one comes a tenth of that (360 s) before the funds end.
    c.withdraw_period = Duration::from_secs(3600);
    // 20 per millicpu: 5000 per second for the hello group; the ceiling is 100000 per 6 s.
    let mut a = start(&net, c, engine_at(Decimal256::from_ratio(20u128, 1u128))).await;
    // 5 denom at 5000 per second: about 1000 s of funds.
    let (order, _) = net
        .create_deployment(&hello_sdl_priced(100_000), 5_000_000)
        .await;
    let lease = order.bid(net.provider_addr());
    assert_eq!(a.tick().await.unwrap().bids_placed, vec![lease.clone()]);
    net.accept(&lease).await;
    assert_eq!(a.tick().await.unwrap().withdrawals, 0);

    net.advance(700).await;
    let report = a.tick().await.unwrap();
    assert_eq!(report.withdrawals, 1, "early: {report:?}");
    assert!(net.payment(&lease).await.withdrawn > Uint128::zero());
    net.advance(60).await;
    assert_eq!(a.tick().await.unwrap().withdrawals, 0, "early only once");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_closes_withdrawals_and_heartbeats_are_resolved_from_chain_state_on_restart() {
    let net = Net::start(33, true).await;
    let mut a = start(&net, patient(&net), engine()).await;
    let (won, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let (open, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let me = net.provider_addr();
    assert_eq!(a.tick().await.unwrap().bids_placed.len(), 2);
    let lease = won.bid(me.clone());
    let bid = open.bid(me.clone());
    net.accept(&lease).await;
    a.tick().await.unwrap();
    drop(a);

    // Killed after journaling, before broadcasting: a close of the open bid, a close of the
    // lease, a withdrawal and a heartbeat.
    let now = net.last_heartbeat().await;
    {
        let journal = Journal::open(&net.journal_path()).unwrap();
        let pending = |key: String, kind| Intent {
            key,
            kind,
            state: IntentState::Pending,
            at: now,
        };
        journal
            .record(&pending(
                format!("close-bid/{bid}"),
                IntentKind::CloseBid {},
            ))
            .unwrap();
        journal
            .record(&pending(
                format!("close-lease/{lease}"),
                IntentKind::CloseLease { reason: 10003 },
            ))
            .unwrap();
        journal
            .record(&pending(
                format!("withdraw/{lease}"),
                IntentKind::Withdraw {},
            ))
            .unwrap();
        journal
            .record(&pending("heartbeat".into(), IntentKind::Heartbeat {}))
            .unwrap();
    }
    let mut b = start(&net, patient(&net), engine()).await;
    let report = b.tick().await.unwrap();
    // Nothing is redone that chain state does not ask for.
    assert!(report.bids_closed.is_empty(), "{report:?}");
    assert!(report.leases_closed.is_empty(), "{report:?}");
    assert_eq!(report.withdrawals, 0, "{report:?}");
    assert!(!report.heartbeat, "{report:?}");
    assert_eq!(report.active_leases, 1);
    assert!(net.bid(&bid).await.is_some());
    assert!(net.lease(&lease).await.is_some());
    drop(b);
    let journal = Journal::open(&net.journal_path()).unwrap();
    assert!(
        journal.pending().unwrap().is_empty(),
        "every intent resolved"
    );
    // The withdrawal counts as done at its time; closes that never landed are forgotten.
    let w = journal.get(&format!("withdraw/{lease}")).unwrap().unwrap();
    assert_eq!((w.state, w.at), (IntentState::Done, now));
    assert!(journal.get(&format!("close-bid/{bid}")).unwrap().is_none());
    assert!(journal
        .get(&format!("close-lease/{lease}"))
        .unwrap()
        .is_none());
    assert!(journal.get("heartbeat").unwrap().is_none());
    net.stop().await;
}
