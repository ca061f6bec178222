//! The agent's lease follow-up on the devnet: manifests that never come (reason 10003), leases
//! deployed from stored manifests, tear-down when a lease closes, and adoption of running
//! leases across a restart. Workloads run on the real Docker engine (`scripts/ensure-docker`)
//! with the locally built hello image; every test tears its containers down when it ends, also
//! on failure.

mod agent_common;

use std::sync::Arc;
use std::time::Duration;

use agent_common::{
    agent_with, config, container_ids, docker, engine, hello_group, hello_sdl, inventory,
    DockerCleanup, MemoryBackend, Net,
};
use kumo::market;
use kumo_provider::agent::Agent;
use kumo_provider::backend::{Backend, BackendError};
use kumo_provider::docker::group_hash;
use kumo_provider::gateway::{FileManifestStore, ManifestStore, MemoryManifestStore};
use kumo_provider::inventory::ReservationState;
use kumo_provider::journal::{IntentKind, IntentState, Journal};

fn allocated_cpu(a: &Agent) -> u64 {
    a.inventory()
        .lock()
        .unwrap()
        .snapshot()
        .allocated
        .cpu_millis
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_won_lease_whose_manifest_never_comes_is_closed_with_reason_10003() {
    let net = Net::start(10, false).await;
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let backend = Arc::new(MemoryBackend::default());
    // config(): a 30 s manifest timeout.
    let mut a = agent_with(
        &net,
        config(&net),
        engine(),
        inventory(),
        backend.clone(),
        Arc::new(MemoryManifestStore::new()),
    )
    .await
    .unwrap();
    let lease = order.bid(net.provider_addr());
    assert_eq!(a.tick().await.unwrap().bids_placed, vec![lease.clone()]);
    net.accept(&lease).await;
    let report = a.tick().await.unwrap();
    assert!(report.leases_closed.is_empty(), "{report:?}");
    assert_eq!(report.active_leases, 1);

    net.advance(31).await;
    let report = a.tick().await.unwrap();
    assert_eq!(
        report.leases_closed,
        vec![(lease.clone(), "ManifestTimeout (10003)".to_string())],
        "{report:?}"
    );
    assert_eq!(report.active_leases, 0);
    assert_eq!(allocated_cpu(&a), 0, "the lease's resources are free");
    // Closed leases are pruned; a provider close pauses the group (Akash).
    assert!(net.lease(&lease).await.is_none());
    let group: market::GroupResponse = net
        .k
        .query_market(&net.client, &market::QueryMsg::Group { id: order.group() })
        .await
        .unwrap();
    assert_eq!(group.group.state, market::GroupState::Paused);
    let report = a.tick().await.unwrap();
    assert!(report.leases_closed.is_empty(), "closed once: {report:?}");
    drop(a);
    let journal = Journal::open(&net.journal_path()).unwrap();
    let intent = journal
        .get(&format!("close-lease/{lease}"))
        .unwrap()
        .unwrap();
    assert_eq!(intent.kind, IntentKind::CloseLease { reason: 10003 });
    assert_eq!(intent.state, IntentState::Done);
    assert!(backend.deploys().is_empty());
    net.stop().await;
}

/// With a reclamation window promised (AEP-82), the manifest timeout starts the window and the
/// lease closes with reason 10003 when it ends; it is withdrawn while it runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_reclamation_window_the_manifest_timeout_closes_the_lease_at_the_window_end() {
    let net = Net::start(11, false).await;
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let mut c = config(&net);
    c.reclamation_window = Some(3600);
    c.withdraw_period = Duration::from_secs(86_400);
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
    let lease = order.bid(net.provider_addr());
    assert_eq!(a.tick().await.unwrap().bids_placed, vec![lease.clone()]);
    net.accept(&lease).await;
    a.tick().await.unwrap();

    net.advance(31).await;
    let report = a.tick().await.unwrap();
    assert!(report.leases_closed.is_empty(), "{report:?}");
    assert_eq!(report.active_leases, 1, "reclaiming still runs");
    let on_chain = net.lease(&lease).await.unwrap();
    assert_eq!(on_chain.state, market::LeaseState::Reclaiming);
    assert_eq!(on_chain.close_reason, Some(10003));
    let report = a.tick().await.unwrap();
    assert!(report.leases_closed.is_empty(), "{report:?}");

    net.advance(3600).await;
    let report = a.tick().await.unwrap();
    assert_eq!(
        report.leases_closed,
        vec![(lease.clone(), "ManifestTimeout (10003)".to_string())],
        "{report:?}"
    );
    assert!(net.lease(&lease).await.is_none());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_manifest_is_deployed_and_the_lease_torn_down_when_the_tenant_closes_it() {
    let net = Net::start(20, false).await;
    let _cleanup = DockerCleanup {
        provider: net.provider_addr(),
    };
    let docker = docker().await;
    let store = Arc::new(FileManifestStore::open(net.home.path().join("manifests")).unwrap());
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
    let (order, manifest) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let lease = order.bid(net.provider_addr());
    assert_eq!(a.tick().await.unwrap().bids_placed, vec![lease.clone()]);
    net.accept(&lease).await;

    // The lease API stored the manifest, but its deploy did not happen (it crashed).
    store.put(&lease.deployment(), &manifest).unwrap();
    // One tick of grace for a deploy the lease API may be running, then the agent deploys.
    let report = a.tick().await.unwrap();
    assert!(report.leases_deployed.is_empty(), "{report:?}");
    let report = a.tick().await.unwrap();
    assert_eq!(report.leases_deployed, vec![lease.clone()], "{report:?}");
    assert_eq!(container_ids(&docker, &lease).await.len(), 1);
    let report = a.tick().await.unwrap();
    assert!(
        report.leases_deployed.is_empty(),
        "deployed once: {report:?}"
    );
    assert!(report.leases_closed.is_empty(), "{report:?}");

    // The manifest timeout does not close a lease that runs.
    net.advance(31).await;
    let report = a.tick().await.unwrap();
    assert!(report.leases_closed.is_empty(), "{report:?}");

    net.close_lease(&lease).await;
    let report = a.tick().await.unwrap();
    assert_eq!(report.torn_down, vec![lease.clone()], "{report:?}");
    assert_eq!(report.active_leases, 0);
    assert!(matches!(
        docker.status(&lease).await,
        Err(BackendError::LeaseNotFound { .. })
    ));
    assert!(
        store.get(&lease.deployment()).unwrap().is_none(),
        "the manifest of a deployment without live leases is removed"
    );
    // The lease's resources are free (the re-listed group's new order may hold a new bid's).
    assert!(a
        .inventory()
        .lock()
        .unwrap()
        .reservation(&lease.order())
        .is_none());
    let report = a.tick().await.unwrap();
    assert!(report.torn_down.is_empty(), "{report:?}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_adopts_running_leases_and_cleans_up_what_changed_while_it_was_down() {
    let net = Net::start(21, false).await;
    let _cleanup = DockerCleanup {
        provider: net.provider_addr(),
    };
    let docker = docker().await;
    let store = Arc::new(FileManifestStore::open(net.home.path().join("manifests")).unwrap());
    let me = net.provider_addr();
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
    let mut leases = vec![];
    let mut manifests = vec![];
    for _ in 0..3 {
        let (order, manifest) = net.create_deployment(&hello_sdl(), 50_000_000).await;
        leases.push(order.bid(me.clone()));
        manifests.push(manifest);
    }
    assert_eq!(a.tick().await.unwrap().bids_placed.len(), 3);
    for lease in &leases {
        net.accept(lease).await;
    }
    // Leases 0 and 1 get their manifest through the lease API (store, then deploy).
    for i in 0..2 {
        store.put(&leases[i].deployment(), &manifests[i]).unwrap();
        docker
            .deploy(&leases[i], &hello_group(&manifests[i]))
            .await
            .unwrap();
    }
    let report = a.tick().await.unwrap();
    assert!(report.leases_deployed.is_empty(), "{report:?}");
    assert_eq!(report.active_leases, 3);
    let before = container_ids(&docker, &leases[0]).await;
    drop(a);

    // While the agent is down: the tenant closes lease 1; lease 2's manifest is stored but
    // the lease API died before deploying it.
    net.close_lease(&leases[1]).await;
    store.put(&leases[2].deployment(), &manifests[2]).unwrap();

    let mut b = agent_with(
        &net,
        config(&net),
        engine(),
        inventory(),
        docker.clone(),
        store.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        container_ids(&docker, &leases[0]).await,
        before,
        "adopted, not redeployed or restarted"
    );
    assert!(matches!(
        docker.status(&leases[1]).await,
        Err(BackendError::LeaseNotFound { .. })
    ));
    assert!(store.get(&leases[1].deployment()).unwrap().is_none());
    assert_eq!(container_ids(&docker, &leases[2]).await.len(), 1);
    // What start did is in the first tick's report.
    let report = b.tick().await.unwrap();
    assert_eq!(report.torn_down, vec![leases[1].clone()], "{report:?}");
    assert_eq!(
        report.leases_deployed,
        vec![leases[2].clone()],
        "{report:?}"
    );
    assert_eq!(report.active_leases, 2);
    assert_eq!(container_ids(&docker, &leases[0]).await, before);
    {
        let inventory = b.inventory();
        let inventory = inventory.lock().unwrap();
        for i in [0, 2] {
            let r = inventory.reservation(&leases[i].order()).unwrap();
            assert_eq!(r.state, ReservationState::Committed);
        }
        assert!(inventory.reservation(&leases[1].order()).is_none());
    }
    let report = b.tick().await.unwrap();
    assert!(
        report.torn_down.is_empty() && report.leases_deployed.is_empty(),
        "{report:?}"
    );
    net.stop().await;
}

/// Killed after the lease API stored a manifest update but before it deployed it: what runs
/// is not the stored group, and the restarted agent deploys the stored one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_running_another_group_than_its_stored_manifest_is_redeployed_on_restart() {
    let net = Net::start(22, false).await;
    let _cleanup = DockerCleanup {
        provider: net.provider_addr(),
    };
    let docker = docker().await;
    let store = Arc::new(FileManifestStore::open(net.home.path().join("manifests")).unwrap());
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
    let (order, manifest) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let lease = order.bid(net.provider_addr());
    assert_eq!(a.tick().await.unwrap().bids_placed, vec![lease.clone()]);
    net.accept(&lease).await;
    let mut old = manifest.clone();
    old.0[0].services[0].env = Some(vec!["GREETING=old".to_string()]);
    docker.deploy(&lease, &hello_group(&old)).await.unwrap();
    store.put(&lease.deployment(), &manifest).unwrap();
    drop(a);

    let mut b = agent_with(
        &net,
        config(&net),
        engine(),
        inventory(),
        docker.clone(),
        store.clone(),
    )
    .await
    .unwrap();
    let report = b.tick().await.unwrap();
    assert_eq!(report.leases_deployed, vec![lease.clone()], "{report:?}");
    let deployed = docker
        .leases()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.lease == lease)
        .unwrap();
    assert_eq!(
        deployed.manifest_hash,
        Some(group_hash(&hello_group(&manifest)))
    );
    let report = b.tick().await.unwrap();
    assert!(report.leases_deployed.is_empty(), "{report:?}");
    net.stop().await;
}

/// While the backend cannot be reached, the agent neither closes a lease for a missing
/// manifest nor tears anything down (it cannot know what runs); it catches up once the
/// backend answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_backend_is_unreachable_nothing_is_closed_or_torn_down_on_a_guess() {
    let net = Net::start(12, false).await;
    let backend = Arc::new(MemoryBackend::default());
    let store = Arc::new(MemoryManifestStore::new());
    let mut a = agent_with(
        &net,
        config(&net),
        engine(),
        inventory(),
        backend.clone(),
        store.clone(),
    )
    .await
    .unwrap();
    let me = net.provider_addr();
    let (first, manifest) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let (second, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let (running, silent) = (first.bid(me.clone()), second.bid(me.clone()));
    assert_eq!(a.tick().await.unwrap().bids_placed.len(), 2);
    net.accept(&running).await;
    net.accept(&silent).await;
    // The first lease runs (deployed through the lease API); the second never gets a manifest.
    store.put(&running.deployment(), &manifest).unwrap();
    backend
        .deploy(&running, &hello_group(&manifest))
        .await
        .unwrap();
    a.tick().await.unwrap();

    backend.set_down(true);
    net.close_lease(&running).await;
    net.advance(31).await;
    let report = a.tick().await.unwrap();
    assert!(report.leases_closed.is_empty(), "{report:?}");
    assert!(report.torn_down.is_empty(), "{report:?}");
    assert!(net.lease(&silent).await.is_some(), "still live on chain");

    backend.set_down(false);
    let report = a.tick().await.unwrap();
    assert_eq!(report.torn_down, vec![running.clone()], "{report:?}");
    assert_eq!(
        report.leases_closed,
        vec![(silent.clone(), "ManifestTimeout (10003)".to_string())],
        "{report:?}"
    );
    assert!(store.get(&running.deployment()).unwrap().is_none());
    net.stop().await;
}
