//! The inventory: placement, reservations and their life cycle.

use std::collections::BTreeMap;

use cosmwasm_std::{Addr, Decimal256, Uint64};
use kumo::market::ResourceOffer;
use kumo::{
    Attribute, Cpu, DecCoin, DeploymentId, Gpu, Memory, OrderId, ResourceUnit, Resources,
    StorageVolume,
};
use kumo_provider::inventory::{
    GpuPool, Insufficient, Inventory, InventoryConfig, InventoryError, NodeCapacity,
    ReservationState, Shortfall, MAX_REPLICAS,
};
use proptest::prelude::*;

const GI: u64 = 1 << 30;

fn order(n: u32) -> OrderId {
    DeploymentId::new(Addr::unchecked("kumo1tenant"), 1)
        .group(n)
        .order(1)
}

fn node(name: &str, cpu_millis: u64, memory: u64, ephemeral: u64) -> NodeCapacity {
    NodeCapacity {
        name: name.into(),
        cpu_millis,
        memory,
        ephemeral_storage: ephemeral,
        gpus: vec![],
    }
}

fn gpu_pool(model: &str, ram: Option<&str>, count: u32) -> GpuPool {
    GpuPool {
        vendor: "nvidia".into(),
        model: model.into(),
        ram: ram.map(str::to_string),
        interface: None,
        count,
        devices: vec![],
    }
}

fn unit(id: u32, cpu: u32, memory: u64, count: u32) -> ResourceUnit {
    ResourceUnit {
        resources: Resources {
            id,
            cpu: Cpu {
                units: cpu,
                attributes: vec![],
            },
            memory: Memory {
                size: Uint64::new(memory),
                attributes: vec![],
            },
            storage: vec![],
            gpu: Gpu {
                units: 0,
                attributes: vec![],
            },
            endpoints: vec![],
        },
        count,
        price: DecCoin {
            denom: "ukumo".into(),
            amount: Decimal256::one(),
        },
    }
}

fn with_volume(mut u: ResourceUnit, name: &str, size: u64, attrs: &[(&str, &str)]) -> ResourceUnit {
    u.resources.storage.push(StorageVolume {
        name: name.into(),
        size: Uint64::new(size),
        attributes: attrs.iter().map(|(k, v)| Attribute::new(*k, *v)).collect(),
    });
    u
}

fn with_gpu(mut u: ResourceUnit, units: u32, keys: &[&str]) -> ResourceUnit {
    u.resources.gpu = Gpu {
        units,
        attributes: keys.iter().map(|k| Attribute::new(*k, "true")).collect(),
    };
    u
}

fn inventory(nodes: Vec<NodeCapacity>, classes: &[(&str, u64)]) -> Inventory {
    Inventory::new(InventoryConfig {
        nodes,
        storage_classes: classes.iter().map(|(c, s)| (c.to_string(), *s)).collect(),
    })
    .unwrap()
}

#[test]
fn reserve_then_release_restores_the_inventory() {
    let mut inv = inventory(vec![node("n1", 4000, 8 * GI, 100 * GI)], &[]);
    let before = inv.snapshot();
    let r = inv.reserve(&order(1), &[unit(1, 1500, 2 * GI, 2)]).unwrap();
    assert_eq!(r.state, ReservationState::Reserved);
    assert_eq!(r.allocations.len(), 2);
    let snap = inv.snapshot();
    assert_eq!(snap.allocated.cpu_millis, 3000);
    assert_eq!(snap.allocated.memory, 4 * GI);
    assert_eq!(snap.available.cpu_millis, 1000);
    assert_eq!(snap.reserved, 1);
    assert_eq!(snap.leased, 0);
    assert_eq!(inv.release(&order(1)), Some(r));
    assert_eq!(inv.snapshot(), before);
    assert_eq!(inv.release(&order(1)), None);
}

// ---------------------------------------------------------------------------------------------
// GPU devices. There is no GPU on this machine: the devices are ids in the configuration.

/// The devices of every allocation of a reservation, in order.
fn devices_of(r: &kumo_provider::inventory::Reservation) -> Vec<String> {
    r.devices().map(String::from).collect()
}

#[test]
fn two_gpu_leases_get_disjoint_devices_and_release_frees_them() {
    let mut g = node("gpu", 64000, 256 * GI, 1000 * GI);
    g.gpus = vec![gpu_pool("a100", Some("80Gi"), 4)];
    let mut inv = inventory(vec![g], &[]);
    let two = || [with_gpu(unit(1, 1000, GI, 1), 2, &[])];
    let a = inv.reserve(&order(1), &two()).unwrap();
    let b = inv.reserve(&order(2), &two()).unwrap();
    // Unlisted devices are numbered: the first lease gets 0 and 1, the second 2 and 3.
    assert_eq!(devices_of(&a), ["0", "1"]);
    assert_eq!(devices_of(&b), ["2", "3"]);
    // All four are taken: a third lease does not fit, though it asks for only one.
    assert_eq!(
        inv.reserve(&order(3), &[with_gpu(unit(1, 1000, GI, 1), 1, &[])])
            .unwrap_err()
            .what,
        Shortfall::Gpu
    );
    // Repeating a reservation books nothing more.
    assert_eq!(inv.reserve(&order(1), &two()).unwrap(), a);
    inv.commit(&order(1)).unwrap();
    assert_eq!(inv.snapshot().available.gpus["nvidia/a100"], 0);

    // The first lease closes: its devices, and only those, are free again.
    inv.release(&order(1)).unwrap();
    let c = inv.reserve(&order(3), &two()).unwrap();
    assert_eq!(devices_of(&c), ["0", "1"]);
    inv.release(&order(2)).unwrap();
    let d = inv
        .reserve(&order(4), &[with_gpu(unit(1, 1000, GI, 1), 1, &[])])
        .unwrap();
    assert_eq!(devices_of(&d), ["2"]);
}

#[test]
fn replicas_of_one_lease_never_share_a_device() {
    let mut g = node("gpu", 64000, 256 * GI, 1000 * GI);
    g.gpus = vec![gpu_pool("a100", None, 2), gpu_pool("t4", None, 3)];
    g.gpus[1].devices = vec!["GPU-t4-a".into(), "GPU-t4-b".into(), "GPU-t4-c".into()];
    let mut inv = inventory(vec![g], &[]);
    let t4 = "vendor/nvidia/model/t4";
    let r = inv
        .reserve(
            &order(1),
            &[
                with_gpu(unit(1, 1000, GI, 2), 1, &["vendor/nvidia/model/a100"]),
                with_gpu(unit(2, 1000, GI, 3), 1, &[t4]),
            ],
        )
        .unwrap();
    // Each replica its own device; listed ids are used as given.
    let per_replica: Vec<Vec<String>> = r
        .allocations
        .iter()
        .map(|a| a.gpu.as_ref().unwrap().devices.clone())
        .collect();
    assert_eq!(
        per_replica,
        [
            vec!["0"],
            vec!["1"],
            vec!["GPU-t4-a"],
            vec!["GPU-t4-b"],
            vec!["GPU-t4-c"]
        ]
    );
    // What the Docker backend gets: per resource unit, per replica.
    let by_unit = r.gpu_devices().by_unit;
    assert_eq!(by_unit[&1], [vec!["0".to_string()], vec!["1".to_string()]]);
    assert_eq!(by_unit[&2].len(), 3);
    assert_eq!(by_unit[&2][2], ["GPU-t4-c"]);
}

#[test]
fn numbering_runs_across_a_nodes_pools_and_ids_must_be_unique() {
    let mut g = node("gpu", 64000, 256 * GI, 1000 * GI);
    g.gpus = vec![gpu_pool("a100", None, 2), gpu_pool("t4", None, 2)];
    let mut inv = inventory(vec![g.clone()], &[]);
    let r = inv
        .reserve(
            &order(1),
            &[with_gpu(
                unit(1, 1000, GI, 1),
                2,
                &["vendor/nvidia/model/t4"],
            )],
        )
        .unwrap();
    // As nvidia-smi numbers a node's GPUs: the T4s after the two A100s.
    assert_eq!(devices_of(&r), ["2", "3"]);

    // One id per GPU, or none.
    let mut wrong = g.clone();
    wrong.gpus[0].devices = vec!["GPU-x".into()];
    let err = Inventory::new(InventoryConfig {
        nodes: vec![wrong],
        storage_classes: BTreeMap::new(),
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("count 2 but 1 devices"), "{err}");
    // An id given twice (here a listed "2" that numbering also gives the T4s).
    let mut twice = g.clone();
    twice.gpus[0].devices = vec!["2".into(), "5".into()];
    let err = Inventory::new(InventoryConfig {
        nodes: vec![twice],
        storage_classes: BTreeMap::new(),
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("\"2\"") && err.contains("twice"), "{err}");
}

#[test]
fn an_adopted_lease_keeps_the_devices_its_containers_hold() {
    let mut g = node("gpu", 64000, 256 * GI, 1000 * GI);
    g.gpus = vec![gpu_pool("a100", None, 4)];
    let mut inv = inventory(vec![g], &[]);
    let two = || [with_gpu(unit(1, 1000, GI, 1), 2, &[])];
    // After a restart: a lease whose container holds GPUs 2 and 3 is booked with them ...
    let held = vec!["2".to_string(), "3".to_string()];
    let adopted = inv.adopt_holding(&order(1), &two(), &held).unwrap();
    assert_eq!(adopted.state, ReservationState::Committed);
    assert_eq!(devices_of(&adopted), held);
    // ... and a new bid gets the others, never those.
    let new = inv.reserve(&order(2), &two()).unwrap();
    assert_eq!(devices_of(&new), ["0", "1"]);
    // A held device another lease already has is not given twice: the lease gets a free one.
    inv.release(&order(1)).unwrap();
    let overlap = inv
        .adopt_holding(&order(3), &two(), &["1".to_string(), "3".to_string()])
        .unwrap();
    assert_eq!(devices_of(&overlap), ["2", "3"]);
}

#[test]
fn each_replica_fits_on_one_node() {
    // Two nodes of 1 CPU: 1.5 CPU does not fit though 2 CPUs are free.
    let mut inv = inventory(
        vec![
            node("a", 1000, 4 * GI, 10 * GI),
            node("b", 1000, 4 * GI, 10 * GI),
        ],
        &[],
    );
    assert_eq!(
        inv.reserve(&order(1), &[unit(1, 1500, GI, 1)]),
        Err(Insufficient {
            what: Shortfall::Cpu,
            resource_id: 1
        })
    );
    // Two replicas of 0.6 CPU go one per node; a third does not fit.
    let r = inv.reserve(&order(2), &[unit(1, 600, GI, 2)]).unwrap();
    let nodes: Vec<&str> = r.allocations.iter().map(|a| a.node.as_str()).collect();
    assert_eq!(nodes, ["a", "b"]);
    assert!(inv.reserve(&order(3), &[unit(1, 600, GI, 1)]).is_err());
    assert!(inv.reserve(&order(3), &[unit(1, 400, GI, 2)]).is_ok());
}

#[test]
fn resources_split_across_nodes_are_no_single_node() {
    let mut inv = inventory(
        vec![
            node("cpu-rich", 8000, GI, 10 * GI),
            node("mem-rich", 500, 32 * GI, 10 * GI),
        ],
        &[],
    );
    assert_eq!(
        inv.reserve(&order(1), &[unit(1, 1000, 4 * GI, 1)]),
        Err(Insufficient {
            what: Shortfall::NoSingleNode,
            resource_id: 1
        })
    );
}

#[test]
fn the_shortfall_names_the_missing_resource() {
    let mut inv = inventory(vec![node("n", 4000, 4 * GI, 10 * GI)], &[]);
    let short =
        |inv: &mut Inventory, u: ResourceUnit| inv.reserve(&order(9), &[u]).unwrap_err().what;
    assert_eq!(short(&mut inv, unit(1, 1000, 8 * GI, 1)), Shortfall::Memory);
    assert_eq!(
        short(
            &mut inv,
            with_volume(unit(1, 1000, GI, 1), "tmp", 20 * GI, &[])
        ),
        Shortfall::EphemeralStorage
    );
    assert_eq!(
        short(&mut inv, with_gpu(unit(1, 1000, GI, 1), 1, &[])),
        Shortfall::Gpu
    );
    assert_eq!(Shortfall::Memory.code(), "insufficient-memory");
}

#[test]
fn reserving_an_order_twice_returns_the_same_reservation() {
    let mut inv = inventory(vec![node("n", 4000, 8 * GI, 100 * GI)], &[]);
    let first = inv.reserve(&order(1), &[unit(1, 1000, GI, 1)]).unwrap();
    let snap = inv.snapshot();
    // Even with other units: the existing reservation stands.
    let second = inv.reserve(&order(1), &[unit(1, 3000, GI, 1)]).unwrap();
    assert_eq!(first, second);
    assert_eq!(inv.snapshot(), snap);
}

#[test]
fn capacity_is_never_double_booked() {
    let mut inv = inventory(vec![node("n", 2000, 4 * GI, 10 * GI)], &[]);
    inv.reserve(&order(1), &[unit(1, 2000, GI, 1)]).unwrap();
    assert_eq!(
        inv.reserve(&order(2), &[unit(1, 1, GI, 1)])
            .unwrap_err()
            .what,
        Shortfall::Cpu
    );
    // A failed reservation leaves nothing behind.
    assert!(inv.reservation(&order(2)).is_none());
    inv.release(&order(1));
    assert!(inv.reserve(&order(2), &[unit(1, 2000, GI, 1)]).is_ok());
}

#[test]
fn a_failed_group_reserves_none_of_its_units() {
    let mut inv = inventory(vec![node("n", 2000, 4 * GI, 10 * GI)], &[]);
    let before = inv.snapshot();
    assert!(inv
        .reserve(&order(1), &[unit(1, 1000, GI, 1), unit(2, 1500, GI, 1)])
        .is_err());
    assert_eq!(inv.snapshot(), before);
}

#[test]
fn commit_release_and_adopt_follow_the_lease() {
    let mut inv = inventory(vec![node("n", 4000, 8 * GI, 100 * GI)], &[]);
    assert_eq!(
        inv.commit(&order(1)),
        Err(InventoryError::UnknownOrder {
            order: order(1).to_string()
        })
    );
    inv.reserve(&order(1), &[unit(1, 1000, GI, 1)]).unwrap();
    assert_eq!(
        inv.commit(&order(1)).unwrap().state,
        ReservationState::Committed
    );
    // Committing again is harmless.
    assert!(inv.commit(&order(1)).is_ok());
    // Reserving a leased order does not turn it back into a bid.
    assert_eq!(
        inv.reserve(&order(1), &[unit(1, 1000, GI, 1)])
            .unwrap()
            .state,
        ReservationState::Committed
    );
    // A lease found running at start-up is booked as committed.
    let adopted = inv.adopt(&order(2), &[unit(1, 1000, GI, 2)]).unwrap();
    assert_eq!(adopted.state, ReservationState::Committed);
    // Adopting an open bid's reservation commits it.
    inv.reserve(&order(3), &[unit(1, 500, GI, 1)]).unwrap();
    assert_eq!(
        inv.adopt(&order(3), &[unit(1, 500, GI, 1)]).unwrap().state,
        ReservationState::Committed
    );
    let snap = inv.snapshot();
    assert_eq!((snap.reserved, snap.leased), (0, 3));
    assert_eq!(snap.allocated.cpu_millis, 3500);
    assert_eq!(inv.count(ReservationState::Committed), 3);
    // A lease that no longer fits is reported, not booked.
    assert!(inv.adopt(&order(4), &[unit(1, 1000, GI, 1)]).is_err());
    assert!(inv.reservation(&order(4)).is_none());
}

#[test]
fn gpus_are_matched_by_model() {
    let mut a100 = node("gpu", 16000, 64 * GI, 100 * GI);
    a100.gpus = vec![gpu_pool("a100", Some("80Gi"), 2), gpu_pool("t4", None, 4)];
    let mut inv = inventory(vec![node("cpu", 16000, 64 * GI, 100 * GI), a100], &[]);
    assert!(inv.has_gpu(&[Attribute::new("vendor/nvidia/model/a100", "true")]));
    assert!(!inv.has_gpu(&[Attribute::new("vendor/nvidia/model/h100", "true")]));

    let r = inv
        .reserve(
            &order(1),
            &[with_gpu(
                unit(1, 1000, GI, 1),
                2,
                &["vendor/nvidia/model/a100/ram/80Gi"],
            )],
        )
        .unwrap();
    let gpu = r.allocations[0].gpu.as_ref().unwrap();
    assert_eq!((gpu.model.as_str(), gpu.units), ("a100", 2));
    assert_eq!(r.allocations[0].node, "gpu");
    // The A100s are taken; a wildcard falls back to the T4s.
    assert_eq!(
        inv.reserve(
            &order(2),
            &[with_gpu(
                unit(1, 1000, GI, 1),
                1,
                &["vendor/nvidia/model/a100"]
            )]
        )
        .unwrap_err()
        .what,
        Shortfall::Gpu
    );
    let r = inv
        .reserve(
            &order(3),
            &[with_gpu(
                unit(1, 1000, GI, 1),
                4,
                &["vendor/nvidia/model/*"],
            )],
        )
        .unwrap();
    assert_eq!(r.allocations[0].gpu.as_ref().unwrap().model, "t4");
    let snap = inv.snapshot();
    assert_eq!(snap.allocated.gpus["nvidia/a100"], 2);
    assert_eq!(snap.available.gpus["nvidia/t4"], 0);
    // A replica's GPUs come from one pool: 2 A100s and 4 T4s free do not make 5.
    inv.release(&order(1));
    inv.release(&order(3));
    assert_eq!(
        inv.reserve(&order(4), &[with_gpu(unit(1, 1000, GI, 1), 5, &[])])
            .unwrap_err()
            .what,
        Shortfall::Gpu
    );
}

#[test]
fn persistent_storage_comes_from_class_pools() {
    let mut inv = inventory(
        vec![node("n", 8000, 16 * GI, 10 * GI)],
        &[("beta2", 100 * GI), ("default", 10 * GI)],
    );
    assert!(inv.has_storage_class("beta2"));
    assert!(!inv.has_storage_class("beta3"));
    let beta2 = |size| {
        with_volume(
            unit(1, 100, GI, 2),
            "data",
            size,
            &[("class", "beta2"), ("persistent", "true")],
        )
    };
    let r = inv.reserve(&order(1), &[beta2(40 * GI)]).unwrap();
    assert_eq!(r.allocations[0].persistent[0].class, "beta2");
    assert_eq!(
        inv.snapshot().available.persistent_storage["beta2"],
        20 * GI
    );
    assert_eq!(
        inv.reserve(&order(2), &[beta2(20 * GI)]).unwrap_err().what,
        Shortfall::PersistentStorage {
            class: "beta2".into()
        }
    );
    // Persistent without a class is the default class.
    let default = with_volume(unit(1, 100, GI, 1), "d", 5 * GI, &[("persistent", "true")]);
    assert!(inv.reserve(&order(3), &[default]).is_ok());
    assert_eq!(
        inv.snapshot().allocated.persistent_storage["default"],
        5 * GI
    );
    let beta3 = with_volume(
        unit(1, 100, GI, 1),
        "d",
        GI,
        &[("class", "beta3"), ("persistent", "true")],
    );
    assert_eq!(
        inv.reserve(&order(4), &[beta3]).unwrap_err(),
        Insufficient {
            what: Shortfall::StorageClass {
                class: "beta3".into()
            },
            resource_id: 1
        }
    );
}

#[test]
fn ram_volumes_count_against_memory() {
    let mut inv = inventory(vec![node("n", 8000, 4 * GI, 10 * GI)], &[]);
    let shm = with_volume(
        unit(1, 100, 2 * GI, 1),
        "shm",
        2 * GI,
        &[("class", "ram"), ("persistent", "false")],
    );
    let r = inv.reserve(&order(1), &[shm]).unwrap();
    assert_eq!(r.allocations[0].memory, 4 * GI);
    assert_eq!(r.allocations[0].ephemeral_storage, 0);
    assert_eq!(inv.snapshot().available.memory, 0);
}

#[test]
fn offers_list_every_unit_with_its_count() {
    let mut inv = inventory(vec![node("n", 8000, 16 * GI, 10 * GI)], &[]);
    let r = inv
        .reserve(&order(1), &[unit(1, 100, GI, 2), unit(2, 2000, GI, 1)])
        .unwrap();
    assert_eq!(
        r.offer(),
        vec![
            ResourceOffer {
                resource_id: 1,
                count: 2
            },
            ResourceOffer {
                resource_id: 2,
                count: 1
            }
        ]
    );
    // Allocations come back in the group's order even though the big unit was placed first.
    let ids: Vec<u32> = r.allocations.iter().map(|a| a.resource_id).collect();
    assert_eq!(ids, [1, 1, 2]);
}

#[test]
fn absurd_replica_counts_are_refused_up_front() {
    let mut inv = inventory(vec![node("n", u64::MAX, u64::MAX, u64::MAX)], &[]);
    let err = inv
        .reserve(&order(1), &[unit(1, 0, 0, u32::MAX)])
        .unwrap_err();
    assert_eq!(
        err.what,
        Shortfall::TooManyReplicas {
            count: u64::from(u32::MAX)
        }
    );
    let at_limit = u32::try_from(MAX_REPLICAS).unwrap();
    assert!(inv.reserve(&order(2), &[unit(1, 1, 1, at_limit)]).is_ok());
}

#[test]
fn invalid_configurations_are_refused() {
    let dup = InventoryConfig {
        nodes: vec![node("n", 1, 1, 1), node("n", 1, 1, 1)],
        storage_classes: BTreeMap::new(),
    };
    assert!(matches!(
        Inventory::new(dup),
        Err(InventoryError::InvalidConfig { .. })
    ));
    let mut twice = node("g", 1, 1, 1);
    twice.gpus = vec![gpu_pool("a100", None, 1), gpu_pool("a100", None, 1)];
    assert!(Inventory::new(InventoryConfig {
        nodes: vec![twice],
        storage_classes: BTreeMap::new(),
    })
    .is_err());
    // Same model, other RAM: two kinds.
    let mut mixed = node("g", 1, 1, 1);
    mixed.gpus = vec![
        gpu_pool("a100", Some("40Gi"), 1),
        gpu_pool("a100", Some("80Gi"), 1),
    ];
    assert!(Inventory::new(InventoryConfig {
        nodes: vec![mixed],
        storage_classes: BTreeMap::new(),
    })
    .is_ok());
}

#[test]
fn snapshot_reports_nodes() {
    let mut g = node("g", 4000, 8 * GI, 10 * GI);
    g.gpus = vec![gpu_pool("a100", None, 2)];
    let mut inv = inventory(vec![node("c", 2000, 4 * GI, 10 * GI), g], &[("beta1", GI)]);
    inv.reserve(&order(1), &[with_gpu(unit(1, 1000, GI, 1), 1, &[])])
        .unwrap();
    let snap = inv.snapshot();
    assert_eq!(snap.allocatable.cpu_millis, 6000);
    assert_eq!(snap.allocatable.gpus["nvidia/a100"], 2);
    assert_eq!(snap.allocatable.persistent_storage["beta1"], GI);
    assert_eq!(snap.nodes.len(), 2);
    assert_eq!(snap.nodes[1].allocated.cpu_millis, 1000);
    assert_eq!(snap.nodes[1].available.gpus["nvidia/a100"], 1);
    assert_eq!(snap.nodes[0].allocated.cpu_millis, 0);
    // It serializes for /status.
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["available"]["cpu_millis"], 5000);
}

#[derive(Clone, Debug)]
enum Op {
    Reserve {
        order: u32,
        cpu: u32,
        memory_gi: u64,
        disk_gi: u64,
        persistent_gi: u64,
        gpus: u32,
        count: u32,
    },
    Commit(u32),
    Release(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u32..12, 0u32..3000, 0u64..6, 0u64..30, 0u64..20, 0u32..3, 1u32..4).prop_map(
            |(order, cpu, memory_gi, disk_gi, persistent_gi, gpus, count)| Op::Reserve {
                order,
                cpu,
                memory_gi,
                disk_gi,
                persistent_gi,
                gpus,
                count
            }
        ),
        1 => (0u32..12).prop_map(Op::Commit),
        2 => (0u32..12).prop_map(Op::Release),
    ]
}

fn fresh() -> Inventory {
    let mut g = node("g", 8000, 16 * GI, 100 * GI);
    g.gpus = vec![gpu_pool("a100", None, 2), gpu_pool("t4", None, 3)];
    inventory(
        vec![
            node("a", 4000, 8 * GI, 50 * GI),
            node("b", 2000, 16 * GI, 20 * GI),
            g,
        ],
        &[("beta2", 60 * GI)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_reservations_never_exceed_capacity_and_release_to_the_start(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut inv = fresh();
        let start = inv.snapshot();
        for op in ops {
            match op {
                Op::Reserve { order: o, cpu, memory_gi, disk_gi, persistent_gi, gpus, count } => {
                    let mut u = with_volume(unit(1, cpu, memory_gi * GI, count), "tmp", disk_gi * GI, &[]);
                    if persistent_gi > 0 {
                        u = with_volume(u, "data", persistent_gi * GI, &[("class", "beta2"), ("persistent", "true")]);
                    }
                    if gpus > 0 {
                        u = with_gpu(u, gpus, &["vendor/nvidia/model/*"]);
                    }
                    let before = inv.snapshot();
                    let existed = inv.reservation(&order(o)).cloned();
                    match inv.reserve(&order(o), &[u]) {
                        Ok(r) => {
                            if let Some(old) = existed {
                                prop_assert_eq!(&r, &old);
                                prop_assert_eq!(inv.snapshot(), before);
                            }
                        }
                        Err(_) => prop_assert_eq!(inv.snapshot(), before),
                    }
                }
                Op::Commit(o) => {
                    let known = inv.reservation(&order(o)).is_some();
                    prop_assert_eq!(inv.commit(&order(o)).is_ok(), known);
                }
                Op::Release(o) => {
                    inv.release(&order(o));
                }
            }
            let snap = inv.snapshot();
            // Per node and per pool, nothing is handed out beyond capacity...
            for n in &snap.nodes {
                prop_assert!(n.allocated.cpu_millis <= n.allocatable.cpu_millis);
                prop_assert!(n.allocated.memory <= n.allocatable.memory);
                prop_assert!(n.allocated.ephemeral_storage <= n.allocatable.ephemeral_storage);
                for (model, used) in &n.allocated.gpus {
                    prop_assert!(*used <= n.allocatable.gpus[model]);
                }
            }
            for (class, used) in &snap.allocated.persistent_storage {
                prop_assert!(*used <= snap.allocatable.persistent_storage[class]);
            }
            // ...and what is handed out is exactly what the reservations hold.
            let held: u64 = inv.reservations().flat_map(|r| &r.allocations).map(|a| a.cpu_millis).sum();
            prop_assert_eq!(held, snap.allocated.cpu_millis);
            let held: u64 = inv.reservations().flat_map(|r| &r.allocations).map(|a| a.memory).sum();
            prop_assert_eq!(held, snap.allocated.memory);
        }
        let orders: Vec<OrderId> = inv.reservations().map(|r| r.order.clone()).collect();
        for o in orders {
            prop_assert!(inv.release(&o).is_some());
        }
        prop_assert_eq!(inv.snapshot(), start);
    }
}
