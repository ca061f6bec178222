//! GPU leases on the devnet: every lease gets its own GPU devices from the inventory, the
//! backend is given exactly those, and after a restart a running lease keeps them.
//!
//! There is no GPU on this machine: the inventory lists four by id, and the backend is the
//! in-memory one, which records the devices it was given and reports them back as the Docker
//! backend reads them from its containers' labels. The orders ask for GPUs without naming a
//! model (the group spec is edited after the SDL is parsed), which the market accepts from a
//! provider that registered no GPU capabilities.

mod agent_common;

use std::sync::Arc;

use agent_common::{agent_with, config, hello_sdl, MemoryBackend, Net, DENOM};
use cosmwasm_std::{coins, Decimal256};
use kumo::market;
use kumo::{DeploymentId, OrderId};
use kumo_provider::agent::Agent;
use kumo_provider::bidengine::{
    AttributesPolicy, BidEngine, CapacityPolicy, ScalePricing, ScaleRates,
};
use kumo_provider::gateway::{ManifestStore, MemoryManifestStore};
use kumo_provider::inventory::{GpuPool, Inventory, InventoryConfig, NodeCapacity};

/// One node with four A100s, named by id as `nvidia-smi` would name them.
fn gpu_inventory() -> Inventory {
    Inventory::new(InventoryConfig {
        nodes: vec![NodeCapacity {
            name: "gpu-node".into(),
            cpu_millis: 16_000,
            memory: 64 << 30,
            ephemeral_storage: 100 << 30,
            gpus: vec![GpuPool {
                vendor: "nvidia".into(),
                model: "a100".into(),
                ram: Some("80Gi".into()),
                interface: None,
                count: 4,
                devices: (0..4).map(|i| format!("GPU-{i}")).collect(),
            }],
        }],
        storage_classes: Default::default(),
    })
    .unwrap()
}

fn gpu_engine() -> BidEngine {
    let rates = ScaleRates {
        cpu: Decimal256::from_ratio(1u128, 1000u128),
        storage: [("ephemeral".to_string(), Decimal256::zero())].into(),
        gpu_default: Some(Decimal256::from_ratio(1u128, 100u128)),
        ..Default::default()
    };
    let pricing = ScalePricing::new().with_denom(DENOM, rates).unwrap();
    BidEngine::new(Box::new(pricing))
        .with_policy(AttributesPolicy::new())
        .with_policy(CapacityPolicy)
}

/// The tenant deploys the hello SDL with two GPUs per replica; its order.
async fn gpu_deployment(net: &Net) -> OrderId {
    let (mut msg, _) = Net::new_deployment(&hello_sdl());
    msg.groups[0].resources[0].resources.gpu.units = 2;
    let created = net
        .k
        .execute_market(
            &net.client,
            &net.tenant,
            &market::ExecuteMsg::CreateDeployment(msg),
            &coins(50_000_000, DENOM),
        )
        .await
        .unwrap();
    let dseq: u64 = created.event_attr("wasm", "dseq").unwrap().parse().unwrap();
    DeploymentId::new(net.tenant_addr(), dseq).group(1).order(1)
}

fn devices(agent: &Agent, order: &OrderId) -> Vec<String> {
    let inventory = agent.inventory();
    let inventory = inventory.lock().unwrap();
    let reservation = inventory.reservation(order).expect("a reservation");
    reservation.devices().map(String::from).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_leases_get_their_own_devices_and_keep_them_across_a_restart() {
    let net = Net::start(95, false).await;
    let backend = Arc::new(MemoryBackend::default());
    let manifests = Arc::new(MemoryManifestStore::new());
    let first = gpu_deployment(&net).await;
    let second = gpu_deployment(&net).await;

    let mut a = agent_with(
        &net,
        config(&net),
        gpu_engine(),
        gpu_inventory(),
        backend.clone(),
        manifests.clone(),
    )
    .await
    .unwrap();
    let report = a.tick().await.unwrap();
    assert_eq!(report.bids_placed.len(), 2, "{report:?}");
    // Two open bids, two GPUs each: disjoint devices, all four held.
    let (d1, d2) = (devices(&a, &first), devices(&a, &second));
    assert_eq!(d1, ["GPU-0", "GPU-1"]);
    assert_eq!(d2, ["GPU-2", "GPU-3"]);

    // The tenant leases the second and sends its manifest: deployed with that bid's devices.
    let lease = second.bid(net.provider_addr());
    net.accept(&lease).await;
    let (_, manifest) = Net::new_deployment(&hello_sdl());
    manifests.put(&lease.deployment(), &manifest).unwrap();
    // (A stored manifest is deployed on the pass after the one that first sees it: the lease
    // API deploys a manifest it receives itself.)
    a.tick().await.unwrap();
    let report = a.tick().await.unwrap();
    assert_eq!(report.leases_deployed, vec![lease.clone()], "{report:?}");
    assert_eq!(backend.gpus.lock().unwrap()[&lease], d2);

    // The first deployment goes away (its bid with it), and the agent restarts with a fresh
    // inventory: a new placement would give the lease GPU-0 and GPU-1, but it keeps the two
    // its workload holds.
    net.close_deployment(&first.deployment()).await;
    drop(a);
    let mut a = agent_with(
        &net,
        config(&net),
        gpu_engine(),
        gpu_inventory(),
        backend.clone(),
        manifests.clone(),
    )
    .await
    .unwrap();
    assert_eq!(devices(&a, &lease.order()), ["GPU-2", "GPU-3"]);
    a.tick().await.unwrap();
    assert_eq!(backend.gpus.lock().unwrap()[&lease], d2, "not redeployed");

    // A new order gets the two free devices, never the lease's.
    let third = gpu_deployment(&net).await;
    let report = a.tick().await.unwrap();
    assert_eq!(report.bids_placed.len(), 1, "{report:?}");
    assert_eq!(devices(&a, &third), ["GPU-0", "GPU-1"]);
    // No fifth and sixth GPU: a fourth order is declined.
    let fourth = gpu_deployment(&net).await;
    let report = a.tick().await.unwrap();
    assert!(report.bids_placed.is_empty(), "{report:?}");
    assert!(a.inventory().lock().unwrap().reservation(&fourth).is_none());

    // The lease closes: torn down, its devices free again.
    net.close_lease(&lease).await;
    let report = a.tick().await.unwrap();
    assert_eq!(report.torn_down, vec![lease.clone()], "{report:?}");
    assert!(!backend.gpus.lock().unwrap().contains_key(&lease));
    let snapshot = a.inventory().lock().unwrap().snapshot();
    assert_eq!(snapshot.available.gpus["nvidia/a100"], 2);
    net.stop().await;
}
