//! The agent killed at random points (its future dropped mid-start or mid-tick, as a kill
//! would stop it between two steps; the journal's writes are atomic) and restarted, ten times,
//! while the tenant leases some of its bids. Afterwards the chain has exactly one bid of the
//! provider per order, the journal has nothing pending, and the inventory holds exactly what
//! the chain says the provider has (open bids and live leases). The seed is printed; set
//! `KUMO_RESTART_SEED` to replay a run.
//!
//! A bid cut off after its intent was journaled is in doubt until the chain passes the
//! transaction's timeout height: the last run waits for that before it checks.
//!
//! And the Docker engine's side of a kill: a lease whose container was created but never
//! started (the deploy cut short) is started again by the restarted agent, the same container,
//! while a lease that ran across the kill is adopted as it runs, not restarted.

mod agent_common;

use std::sync::Arc;
use std::time::Duration;

use agent_common::{
    agent_with, config, container_ids, docker, engine, hello_group, hello_sdl, inventory,
    DockerCleanup, MemoryBackend, Net,
};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions,
};
use kumo::market;
use kumo_provider::agent::DEFAULT_TX_TIMEOUT_BLOCKS;
use kumo_provider::backend::Backend;
use kumo_provider::docker::DockerBackend;
use kumo_provider::gateway::{ManifestStore, MemoryManifestStore};
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
    // Intents cut off before their broadcast are in doubt until the chain passes their
    // timeout height (at most the default window above the height now); then their orders
    // are bid on again.
    let now = net.client.latest_block().await.unwrap().height;
    a.tick().await.unwrap();
    while net.client.latest_block().await.unwrap().height <= now + DEFAULT_TX_TIMEOUT_BLOCKS {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.tick().await.unwrap();
    net.next_blocks().await;
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

/// What a deploy killed between creating a container and starting it leaves: the container,
/// created and never started (it replaces the running one, with the same name, labels and
/// configuration). Returns the new container's id.
async fn created_not_started(docker: &DockerBackend, id: &str) -> String {
    let client = docker.client();
    let info = client
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .unwrap();
    let name = info.name.unwrap().trim_start_matches('/').to_string();
    let mut body = serde_json::to_value(info.config.unwrap()).unwrap();
    body["HostConfig"] = serde_json::to_value(info.host_config.unwrap()).unwrap();
    let body: ContainerCreateBody = serde_json::from_value(body).unwrap();
    client
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    client
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name),
                ..Default::default()
            }),
            body,
        )
        .await
        .unwrap()
        .id
}

/// A container's state and when it last started.
async fn state_of(docker: &DockerBackend, id: &str) -> (Option<ContainerStateStatusEnum>, String) {
    let state = docker
        .client()
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .unwrap()
        .state
        .unwrap();
    (state.status, state.started_at.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_created_but_never_started_is_started_after_a_restart_and_running_ones_are_adopted(
) {
    let net = Net::start(95, false).await;
    let me = net.provider_addr();
    let _cleanup = DockerCleanup {
        provider: me.clone(),
    };
    let docker = docker().await;
    let store = Arc::new(MemoryManifestStore::new());
    let (cut, manifest) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let (kept, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let (cut, kept) = (cut.bid(me.clone()), kept.bid(me.clone()));

    let mut a = agent_with(
        &net,
        config(&net),
        engine(),
        inventory(),
        docker.clone(),
        store.clone(),
    )
    .await
    .unwrap();
    assert_eq!(a.tick().await.unwrap().bids_placed.len(), 2);
    net.accept(&cut).await;
    net.accept(&kept).await;
    // The lease API stores the manifests and deploys both leases.
    for lease in [&cut, &kept] {
        store.put(&lease.deployment(), &manifest).unwrap();
        docker.deploy(lease, &hello_group(&manifest)).await.unwrap();
    }
    let report = a.tick().await.unwrap();
    assert!(report.leases_deployed.is_empty(), "{report:?}");
    drop(a);

    // Killed: one lease's deploy was cut between creating its container and starting it.
    let old = container_ids(&docker, &cut).await;
    assert_eq!(old.len(), 1, "one container");
    let created = created_not_started(&docker, &old[0]).await;
    assert_eq!(
        state_of(&docker, &created).await.0,
        Some(ContainerStateStatusEnum::CREATED)
    );
    let running = container_ids(&docker, &kept).await;
    assert_eq!(running.len(), 1, "one container");
    let running = running[0].clone();
    let (_, started) = state_of(&docker, &running).await;
    let workloads = docker.workloads().await.unwrap();
    let short: Vec<_> = workloads
        .iter()
        .filter(|w| w.deployed.lease.provider == me)
        .filter(|w| w.short_of(&hello_group(&manifest)))
        .map(|w| w.deployed.lease.clone())
        .collect();
    assert_eq!(
        short,
        vec![cut.clone()],
        "the backend reports what does not run"
    );

    // Restarted: the cut lease's container is started (the same one); the other is adopted.
    let mut a = agent_with(
        &net,
        config(&net),
        engine(),
        inventory(),
        docker.clone(),
        store.clone(),
    )
    .await
    .unwrap();
    let report = a.tick().await.unwrap();
    assert_eq!(report.leases_deployed, vec![cut.clone()], "{report:?}");
    assert_eq!(container_ids(&docker, &cut).await, vec![created.clone()]);
    assert_eq!(
        state_of(&docker, &created).await.0,
        Some(ContainerStateStatusEnum::RUNNING)
    );
    assert_eq!(container_ids(&docker, &kept).await, vec![running.clone()]);
    assert_eq!(
        state_of(&docker, &running).await,
        (Some(ContainerStateStatusEnum::RUNNING), started),
        "the running lease is not restarted"
    );

    // Stopped behind the agent's back while it runs: started again (after the tick of grace
    // the lease API's own deploys get), the same container.
    docker
        .client()
        .stop_container(
            &created,
            None::<bollard::query_parameters::StopContainerOptions>,
        )
        .await
        .unwrap();
    let first = a.tick().await.unwrap();
    let second = a.tick().await.unwrap();
    assert!(first.leases_deployed.is_empty(), "{first:?}");
    assert_eq!(second.leases_deployed, vec![cut.clone()], "{second:?}");
    assert_eq!(container_ids(&docker, &cut).await, vec![created.clone()]);
    assert_eq!(
        state_of(&docker, &created).await.0,
        Some(ContainerStateStatusEnum::RUNNING)
    );
    // Settled: nothing is deployed again.
    let report = a.tick().await.unwrap();
    assert!(report.leases_deployed.is_empty(), "{report:?}");
    assert_eq!(report.active_leases, 2);
    drop(a);
    net.stop().await;
}
