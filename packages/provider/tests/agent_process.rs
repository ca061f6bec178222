//! The real `kumo-provider` process (Docker backend, an in-process devnet), killed and cut off
//! from the chain (issue 6, "Acceptance"):
//!
//! - killed with SIGKILL ten times at random moments (seeded; the seed is printed, set
//!   `KUMO_PROCESS_SEED` to replay a run) while bidding, right after a lease is created and
//!   while a manifest deploys, and started again each time on the same data directory: every
//!   order ends with exactly one bid of the provider, the provider's account sent exactly one
//!   transaction per order (no bid went out twice), nothing is pending in the journal, every
//!   lease with a manifest serves HTTP from exactly one container, and a container that ran
//!   before a kill is the same one, never restarted, afterwards (adopted);
//! - the chain's REST server stopped for longer than several agent passes and served again on
//!   the same port with the same state: the lease's container runs and answers throughout, the
//!   lease stays active on chain, and withdrawals and heartbeats go out again once it is back.
//!
//! A Docker engine outage is covered with a fake backend in `agent_leases.rs`: the shared engine
//! is never stopped here. The tests run one at a time (a lock) and remove their containers when
//! they end, also on failure. The hello image is built locally (`FROM scratch`).

mod agent_common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use agent_common::process::{
    eventually, http_get, sample, started_at, stop_chain, workloads, ProviderProcess, Settings,
    Workload,
};
use agent_common::{docker, hello_sdl, DockerCleanup, Net};
use kumo::market;
use kumo::{LeaseId, OrderId};
use kumo_provider::docker::{lease_key, DockerBackend};
use kumo_provider::journal::Journal;
use kumo_sdl::Manifest;

/// One test at a time: each runs a devnet, a provider process and containers on two shared
/// cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const GREETING: &str = "hello from Kumo";

/// xorshift64: enough randomness for kill moments, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn seed() -> u64 {
    std::env::var("KUMO_PROCESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

fn hello_manifest() -> Manifest {
    kumo_sdl::parse(&hello_sdl()).unwrap().manifest
}

/// The tenant sends the manifest until the lease API takes it (a tenant retries a `PUT` that
/// failed because the provider went away).
async fn deliver(p: &ProviderProcess, net: &Net, dseq: u64, manifest: &Manifest) {
    let tenant = net.tenant_addr().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match p.put_manifest(&net.tenant, &tenant, dseq, manifest).await {
            Ok(_) => return,
            Err(e) => assert!(
                Instant::now() < deadline,
                "the manifest of {dseq} was not taken in 60 s: {e}\n{}",
                p.tail()
            ),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The one running container of the lease with key `key`, once it answers HTTP.
async fn serving(docker: &DockerBackend, provider: &str, key: &str) -> Option<Workload> {
    let mine: Vec<Workload> = workloads(docker, provider)
        .await
        .into_iter()
        .filter(|w| w.lease_key == key)
        .collect();
    let [w] = mine.as_slice() else { return None };
    if !w.running {
        return None;
    }
    http_get(w.host_port?)
        .await
        .filter(|body| body.contains(GREETING))
        .map(|_| w.clone())
}

/// (lease key, service, replica) of a container.
type Slot = (String, String, String);

fn slot(w: &Workload) -> Slot {
    (w.lease_key.clone(), w.service.clone(), w.replica.clone())
}

/// Records the running containers not seen before (id and start time), and checks that those
/// seen before are still the same containers, not restarted.
async fn check_adopted(
    docker: &DockerBackend,
    provider: &str,
    seen: &mut BTreeMap<Slot, (String, String)>,
    when: &str,
) {
    for w in workloads(docker, provider).await {
        let started = started_at(docker, &w.id).await.unwrap_or_default();
        match seen.get(&slot(&w)) {
            Some((id, at)) => {
                assert_eq!(
                    &w.id,
                    id,
                    "{when}: the container of {:?} was replaced",
                    slot(&w)
                );
                assert_eq!(&started, at, "{when}: {} was restarted", w.id);
            }
            None if w.running => {
                seen.insert(slot(&w), (w.id.clone(), started));
            }
            None => {}
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// New orders were just created: the agent is bidding.
    Bidding,
    /// The tenant just accepted one of the provider's bids.
    Leased,
    /// The tenant just sent a lease's manifest (the `PUT` is in flight).
    Deploying,
}

/// Ten kills: the phases in turn, so that containers deployed early live through many kills.
const KILLS: [Phase; 10] = [
    Phase::Bidding,
    Phase::Leased,
    Phase::Deploying,
    Phase::Bidding,
    Phase::Leased,
    Phase::Deploying,
    Phase::Bidding,
    Phase::Leased,
    Phase::Deploying,
    Phase::Bidding,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_process_killed_ten_times_loses_and_repeats_nothing_and_adopts_containers() {
    let _serial = SERIAL.lock().await;
    let t0 = Instant::now();
    let seed = seed();
    println!("KUMO_PROCESS_SEED={seed}");
    let mut rng = Rng(seed);

    let net = Net::start(60, false).await;
    let me = net.provider_addr();
    let cleanup = DockerCleanup {
        provider: me.clone(),
    };
    let docker = docker().await;
    let manifest = hello_manifest();
    // Register was the provider's only transaction so far.
    let sequence = || async {
        net.client
            .account(me.as_str())
            .await
            .unwrap()
            .map_or(0, |a| a.sequence)
    };
    let start_sequence = sequence().await;
    let mut p = ProviderProcess::new(
        &net,
        60,
        &Settings {
            poll_interval: "500ms",
            ..Settings::default()
        },
    );
    p.start();

    let mut orders: Vec<OrderId> = vec![];
    let mut leases: Vec<LeaseId> = vec![];
    let mut with_manifest: Vec<LeaseId> = vec![];
    let mut undelivered: Vec<u64> = vec![];
    let mut seen = BTreeMap::new();
    for (round, phase) in KILLS.iter().enumerate() {
        p.wait_up(Duration::from_secs(60)).await;
        for dseq in std::mem::take(&mut undelivered) {
            deliver(&p, &net, dseq, &manifest).await;
        }
        check_adopted(&docker, me.as_str(), &mut seen, &format!("round {round}")).await;
        let window = match phase {
            Phase::Deploying => 1500,
            Phase::Bidding | Phase::Leased => 1000,
        };
        let delay = Duration::from_millis(rng.next() % window);
        let mut put = None;
        match phase {
            Phase::Bidding => orders.extend(net.create_deployments(&hello_sdl(), 2).await),
            Phase::Leased => {
                let open = eventually(
                    "an open bid of the provider to accept",
                    Duration::from_secs(60),
                    || p.tail(),
                    || async {
                        for order in orders
                            .iter()
                            .filter(|o| !leases.contains(&o.bid(me.clone())))
                        {
                            let bid = order.bid(me.clone());
                            if net
                                .bid(&bid)
                                .await
                                .is_some_and(|b| b.state == market::BidState::Open)
                            {
                                return Some(bid);
                            }
                        }
                        None
                    },
                )
                .await;
                net.accept(&open).await;
                leases.push(open);
            }
            Phase::Deploying => {
                let lease = leases
                    .iter()
                    .find(|l| !with_manifest.contains(l))
                    .expect("a lease without a manifest")
                    .clone();
                let send = p.put_manifest(
                    &net.tenant,
                    net.tenant_addr().as_str(),
                    lease.dseq,
                    &manifest,
                );
                put = Some((lease.dseq, tokio::spawn(send)));
                with_manifest.push(lease);
            }
        }
        tokio::time::sleep(delay).await;
        p.kill9();
        // Where the kill landed, as the chain and the engine saw it then.
        let mut note = match phase {
            Phase::Bidding => {
                let mut bids = 0;
                for order in &orders[orders.len() - 2..] {
                    bids += usize::from(net.bid(&order.bid(me.clone())).await.is_some());
                }
                format!(" ({bids} of its 2 orders bid on)")
            }
            Phase::Leased => String::new(),
            Phase::Deploying => {
                let key = lease_key(with_manifest.last().unwrap());
                let states: Vec<&str> = workloads(&docker, me.as_str())
                    .await
                    .iter()
                    .filter(|w| w.lease_key == key)
                    .map(|w| if w.running { "running" } else { "not running" })
                    .collect();
                format!(" (its container: {states:?})")
            }
        };
        if let Some((dseq, put)) = put {
            if let Err(e) = put.await.unwrap() {
                note += &format!(" (the PUT failed: {e}; the tenant sends it again)");
                undelivered.push(dseq);
            }
        }
        println!(
            "kill {}: {phase:?}, {} ms after the action{note}",
            round + 1,
            delay.as_millis()
        );
        p.start();
    }

    // Settled: the restarted agent bids where it had not yet, manifests taken.
    p.wait_up(Duration::from_secs(60)).await;
    for dseq in std::mem::take(&mut undelivered) {
        deliver(&p, &net, dseq, &manifest).await;
    }
    eventually(
        "a bid of the provider on every order",
        Duration::from_secs(60),
        || p.tail(),
        || async {
            for order in &orders {
                net.bid(&order.bid(me.clone())).await?;
            }
            Some(())
        },
    )
    .await;
    let keys: BTreeSet<String> = with_manifest.iter().map(lease_key).collect();
    for key in &keys {
        eventually(
            &format!("lease {key} serving HTTP"),
            Duration::from_secs(60),
            || p.tail(),
            || serving(&docker, me.as_str(), key),
        )
        .await;
    }
    // A few more passes: nothing else happens.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Exactly one bid per order, open or (leased) active.
    for order in &orders {
        let ours: Vec<market::Bid> = net
            .bids_on(order)
            .await
            .into_iter()
            .filter(|b| b.id.provider == me)
            .collect();
        assert_eq!(ours.len(), 1, "one bid on {order}: {ours:?}");
        let expected = if leases.contains(&ours[0].id) {
            market::BidState::Active
        } else {
            market::BidState::Open
        };
        assert_eq!(ours[0].state, expected, "{order}");
    }
    // Nothing sent twice: the account's sequence counts every transaction that reached a
    // block, failed ones too; bids are the only ones here (the bid, manifest and withdrawal
    // periods are an hour). A pass sends its bids in one transaction, so there are at most as
    // many transactions as orders (one bid each at least), and at least one.
    let transactions = sequence().await - start_sequence;
    assert!(
        (1..=orders.len() as u64).contains(&transactions),
        "{transactions} transactions for {} orders\n{}",
        orders.len(),
        p.tail()
    );
    // A bid broadcast just before a kill carries a timeout height; the next start holds its
    // intent in doubt until the bid lands or the height passes, so no second bid is tried.
    // Refusals are counted and printed (0 expected; the sequence above is the assertion).
    let mut refused = 0;
    for run in 1..=p.runs() {
        for line in p.output_of(run).lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                refused += v["fields"]["refused"].as_u64().unwrap_or(0);
            }
        }
    }
    // Exactly one container per lease with a manifest (the hello group has one replica), and
    // none for the others; those that ran before a kill are the same, never restarted.
    let all = workloads(&docker, me.as_str()).await;
    let per_lease: BTreeMap<&str, usize> = all.iter().fold(BTreeMap::new(), |mut m, w| {
        *m.entry(w.lease_key.as_str()).or_default() += 1;
        m
    });
    assert_eq!(
        per_lease
            .keys()
            .map(|k| k.to_string())
            .collect::<BTreeSet<_>>(),
        keys,
        "{all:?}"
    );
    assert!(per_lease.values().all(|n| *n == 1), "duplicates: {all:?}");
    check_adopted(&docker, me.as_str(), &mut seen, "at the end").await;
    let adopted_before_last_kill = seen.len();
    assert!(
        adopted_before_last_kill >= 1,
        "no container ran across a kill"
    );
    let adopted = p.output().matches("adopted a running lease").count();
    assert!(
        adopted >= adopted_before_last_kill,
        "the last start adopted {adopted} leases\n{}",
        p.tail()
    );

    // A clean stop; the journal has nothing left to resolve.
    let status = p.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}\n{}", p.tail());
    let journal = Journal::open(&p.journal_path()).unwrap();
    let pending = journal.pending().unwrap();
    assert!(pending.is_empty(), "pending intents: {pending:?}");
    drop(journal);

    drop(p);
    drop(cleanup);
    assert!(workloads(&docker, me.as_str()).await.is_empty());
    net.stop().await;
    println!(
        "{} orders, {} leases, {} containers adopted across kills, {refused} bid attempts refused in simulation; {:.0} s",
        orders.len(),
        leases.len(),
        adopted_before_last_kill,
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_outage_leaves_the_lease_running_and_the_agent_resumes_when_the_chain_returns() {
    let _serial = SERIAL.lock().await;
    let t0 = Instant::now();
    let net = Net::start(61, true).await;
    let me = net.provider_addr();
    let cleanup = DockerCleanup {
        provider: me.clone(),
    };
    let docker = docker().await;
    let mut p = ProviderProcess::new(
        &net,
        61,
        &Settings {
            poll_interval: "500ms",
            withdraw_period: "3s",
            heartbeat_period: "3s",
            // 2.5 ukumo a second for the hello group: every withdrawal pays something.
            cpu_price: "0.01",
            ..Settings::default()
        },
    );
    p.start();
    p.wait_up(Duration::from_secs(60)).await;

    let (order, manifest) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let lease = order.bid(me.clone());
    eventually(
        "the provider's bid",
        Duration::from_secs(60),
        || p.tail(),
        || async { net.bid(&lease).await.map(|_| ()) },
    )
    .await;
    net.accept(&lease).await;
    deliver(&p, &net, lease.dseq, &manifest).await;
    let key = lease_key(&lease);
    let running = eventually(
        "the lease serving HTTP",
        Duration::from_secs(60),
        || p.tail(),
        || serving(&docker, me.as_str(), &key),
    )
    .await;
    let started = started_at(&docker, &running.id).await.unwrap();
    let port = running.host_port.unwrap();
    // The schedules run before the outage.
    eventually(
        "a withdrawal and a heartbeat",
        Duration::from_secs(30),
        || p.tail(),
        || async {
            let m = p.metrics().await?;
            (sample(&m, "kumo_provider_withdrawals_total")? >= 1.0
                && sample(&m, "kumo_provider_heartbeats_total")? >= 1.0)
                .then_some(())
        },
    )
    .await;
    let withdrawn = net.payment(&lease).await.withdrawn;
    let heartbeat = net.last_heartbeat().await;
    let errors_before = p.metric("kumo_provider_tick_errors_total").await.unwrap();
    let client = net.client.clone();

    // The chain goes away for 8 s: 16 poll intervals, more than two withdrawal and heartbeat
    // periods. The workload keeps running and answering; the agent keeps trying.
    let stopped = stop_chain(net).await;
    assert!(
        client.latest_block().await.is_err(),
        "the chain still answers"
    );
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(8) {
        assert!(p.is_running(), "the agent exited\n{}", p.tail());
        let now = workloads(&docker, me.as_str()).await;
        assert!(
            matches!(now.as_slice(), [w] if w.id == running.id && w.running),
            "during the outage: {now:?}\n{}",
            p.tail()
        );
        assert!(
            http_get(port).await.is_some_and(|b| b.contains(GREETING)),
            "the workload stopped answering during the outage"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let m = p.metrics().await.expect("metrics during the outage");
    let errors = sample(&m, "kumo_provider_tick_errors_total").unwrap();
    assert!(
        errors >= errors_before + 5.0,
        "failed passes during the outage: {errors_before} -> {errors}\n{m}"
    );
    let withdrawals = sample(&m, "kumo_provider_withdrawals_total").unwrap();
    let heartbeats = sample(&m, "kumo_provider_heartbeats_total").unwrap();

    // Back on the same port with the same state: the agent resumes.
    let net = stopped.serve().await;
    let back = Instant::now();
    eventually(
        "a withdrawal and a heartbeat after the chain returned",
        Duration::from_secs(30),
        || p.tail(),
        || async {
            let m = p.metrics().await?;
            (sample(&m, "kumo_provider_withdrawals_total")? > withdrawals
                && sample(&m, "kumo_provider_heartbeats_total")? > heartbeats)
                .then_some(())
        },
    )
    .await;
    println!(
        "{} failed passes during the 8 s outage; withdrawal and heartbeat {} ms after the chain returned",
        errors - errors_before,
        back.elapsed().as_millis()
    );
    assert!(net.payment(&lease).await.withdrawn > withdrawn);
    assert!(net.last_heartbeat().await > heartbeat);
    let on_chain = net
        .lease(&lease)
        .await
        .expect("the lease is still on chain");
    assert_eq!(on_chain.state, market::LeaseState::Active);
    let m = p.metrics().await.unwrap();
    assert_eq!(
        sample(&m, "kumo_provider_leases_torn_down_total"),
        Some(0.0),
        "{m}"
    );
    assert!(!m.contains("kumo_provider_leases_closed_total{"), "{m}");
    // The same container, never restarted.
    let now = workloads(&docker, me.as_str()).await;
    assert!(
        matches!(now.as_slice(), [w] if w.id == running.id && w.running),
        "{now:?}"
    );
    assert_eq!(started_at(&docker, &running.id).await.unwrap(), started);
    assert!(http_get(port).await.is_some_and(|b| b.contains(GREETING)));

    let status = p.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}\n{}", p.tail());
    drop(p);
    drop(cleanup);
    assert!(workloads(&docker, me.as_str()).await.is_empty());
    net.stop().await;
    println!("{:.0} s", t0.elapsed().as_secs_f64());
}
