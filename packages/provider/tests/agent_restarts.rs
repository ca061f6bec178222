//! The agent killed at random points (its future dropped mid-start or mid-tick, as a kill
//! would stop it between two steps; the journal's writes are atomic) and restarted, ten times,
//! while the tenant leases some of its bids. Afterwards the chain has exactly one bid of the
//! provider per order, the journal has nothing pending, and the inventory holds exactly what
//! the chain says the provider has (open bids and live leases). The seed is printed; set
//! `KUMO_RESTART_SEED` to replay a run.

mod agent_common;

use std::sync::Arc;
use std::time::Duration;

use agent_common::{agent_with, config, engine, hello_sdl, inventory, MemoryBackend, Net};
use kumo::market;
use kumo_provider::gateway::MemoryManifestStore;
use kumo_provider::journal::Journal;

/// xorshift64: enough randomness for cut points, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_at_random_points_and_restarted_loses_and_repeats_nothing() {
    let seed = std::env::var("KUMO_RESTART_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("KUMO_RESTART_SEED={seed}");
    let mut rng = Rng(seed);
    let net = Net::start(40, false).await;
    let orders = net.create_deployments(&hello_sdl(), 12).await;
    let me = net.provider_addr();
    let backend = Arc::new(MemoryBackend::default());
    let store = Arc::new(MemoryManifestStore::new());
    let mut c = config(&net);
    c.manifest_timeout = Duration::from_secs(86_400);

    let mut leased = 0;
    for round in 0..10 {
        let cut = Duration::from_millis(rng.next() % 600);
        let run = async {
            let mut c = config(&net);
            c.manifest_timeout = Duration::from_secs(86_400);
            let mut a = agent_with(
                &net,
                c,
                engine(),
                inventory(),
                backend.clone(),
                store.clone(),
            )
            .await
            .unwrap();
            loop {
                a.tick().await.unwrap();
            }
        };
        let _ = tokio::time::timeout(cut, run).await;
        // Between kills the tenant leases one of the provider's open bids now and then.
        if round % 3 == 2 {
            for order in &orders {
                let bid = order.bid(me.clone());
                if net
                    .bid(&bid)
                    .await
                    .is_some_and(|b| b.state == market::BidState::Open)
                {
                    net.accept(&bid).await;
                    leased += 1;
                    break;
                }
            }
        }
    }

    let mut a = agent_with(
        &net,
        c,
        engine(),
        inventory(),
        backend.clone(),
        store.clone(),
    )
    .await
    .unwrap();
    a.tick().await.unwrap();
    let report = a.tick().await.unwrap();
    assert!(report.bids_placed.is_empty(), "settled: {report:?}");
    // Every order: exactly one bid of ours, open or (leased) active.
    for order in &orders {
        let ours: Vec<_> = net
            .bids_on(order)
            .await
            .into_iter()
            .filter(|b| b.id.provider == me)
            .collect();
        assert_eq!(ours.len(), 1, "one bid on {order}");
        let leased = net.lease(&order.bid(me.clone())).await.is_some();
        let expected = if leased {
            market::BidState::Active
        } else {
            market::BidState::Open
        };
        assert_eq!(ours[0].state, expected, "{order}");
    }
    let held = orders.len() as u64;
    assert_eq!(report.active_leases, leased, "{report:?}");
    let allocated = a
        .inventory()
        .lock()
        .unwrap()
        .snapshot()
        .allocated
        .cpu_millis;
    assert_eq!(allocated, 250 * held, "the inventory is the chain's");
    drop(a);
    let journal = Journal::open(&net.journal_path()).unwrap();
    assert!(journal.pending().unwrap().is_empty());
    net.stop().await;
}
