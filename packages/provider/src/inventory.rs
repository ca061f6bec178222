//! The provider's allocatable resources and the reservations held against them (Akash provider
//! `cluster/inventory.go`).
//!
//! Capacity is a list of nodes (one for a single Docker host, many for a cluster), each with CPU
//! in millicores, memory and ephemeral storage in bytes and GPU pools by vendor and model, plus
//! cluster-wide pools of persistent storage per class (`beta1`, `beta2`, `beta3`, `default`, as
//! Ceph pools are on Akash). As on Akash, every replica must fit on one node, and `ram` volumes
//! (memory-backed `/dev/shm`) count against the node's memory.
//!
//! A reservation is held for an order while the bid is open ([`Inventory::reserve`]), becomes a
//! lease when the bid wins ([`Inventory::commit`]) and is returned on loss, timeout or close
//! ([`Inventory::release`]). Leases found running when the agent starts are booked with
//! [`Inventory::adopt`]. Everything is keyed by order id, so repeating a call is harmless.
//!
//! GPUs are handed out by device, not only counted: each pool's GPUs have ids (`nvidia-smi`'s
//! UUIDs when detected, the configured `devices`, else indices `0..n` across the node's pools in
//! order), a replica's [`GpuAllocation`] names the devices it got, and no device is in two
//! allocations. The Docker backend asks the engine for exactly those devices
//! ([`Reservation::gpu_devices`]), so two leases never share a GPU; a lease found running keeps
//! the devices its containers hold ([`Inventory::adopt_holding`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kumo::market::ResourceOffer;
use kumo::matching::glob_match;
use kumo::{Attribute, OrderId, ResourceUnit, Resources, StorageVolume};
use serde::{Deserialize, Serialize};

/// Most replicas one group may ask for. Akash allows 50 per unit and 20 units; placement works
/// per replica, so an order's counts are bounded before anything is allocated for them.
pub const MAX_REPLICAS: u64 = 1000;

/// The persistent class of a volume marked `persistent` without a `class` (SDL default).
pub const DEFAULT_STORAGE_CLASS: &str = "default";

/// GPUs of one kind on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuPool {
    /// Lower case, as in SDL keys: `nvidia`.
    pub vendor: String,
    /// Lower case, as in SDL keys: `a100`.
    pub model: String,
    /// Memory per GPU as the SDL writes it (`80Gi`), if advertised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram: Option<String>,
    /// `pcie` or `sxm`, if advertised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub count: u32,
    /// The ids of the pool's GPUs as the container runtime names them (`nvidia-smi`'s index
    /// or UUID), one per GPU. Empty: indices, counted across the node's pools in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}

impl GpuPool {
    /// `vendor/model`, the key used in snapshots and price tables.
    pub fn key(&self) -> String {
        format!("{}/{}", self.vendor, self.model)
    }

    /// Whether this pool satisfies a GPU unit's attributes (`vendor/nvidia/model/a100[/ram/80Gi]
    /// [/interface/sxm] = true`, `*` for any model). The requirement keys are globs, as on chain;
    /// no attributes accept any GPU.
    pub fn matches(&self, required: &[Attribute]) -> bool {
        if required.is_empty() {
            return true;
        }
        let base = format!("vendor/{}/model/{}", self.vendor, self.model);
        let mut offered = vec![base.clone()];
        if let Some(ram) = &self.ram {
            offered.push(format!("{base}/ram/{ram}"));
        }
        if let Some(iface) = &self.interface {
            offered.push(format!("{base}/interface/{iface}"));
        }
        if let (Some(ram), Some(iface)) = (&self.ram, &self.interface) {
            // The SDL keeps the keys in the order the tenant wrote them.
            offered.push(format!("{base}/ram/{ram}/interface/{iface}"));
            offered.push(format!("{base}/interface/{iface}/ram/{ram}"));
        }
        required
            .iter()
            .any(|r| r.value == "true" && offered.iter().any(|o| glob_match(&r.key, o)))
    }
}

/// One machine's allocatable resources (what is left for tenants after the system's share).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCapacity {
    pub name: String,
    pub cpu_millis: u64,
    /// Bytes.
    pub memory: u64,
    /// Bytes of node-local disk for ephemeral volumes.
    pub ephemeral_storage: u64,
    #[serde(default)]
    pub gpus: Vec<GpuPool>,
}

/// What the operator configures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryConfig {
    pub nodes: Vec<NodeCapacity>,
    /// Bytes per persistent storage class, shared by all nodes.
    #[serde(default)]
    pub storage_classes: BTreeMap<String, u64>,
}

/// How a volume is stored, from its `persistent` and `class` attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeKind {
    /// Node-local disk, gone with the container.
    Ephemeral,
    /// Memory-backed (`class: ram`): counts against the node's memory.
    Ram,
    /// A persistent class (`default` when the SDL names none).
    Persistent { class: String },
}

impl VolumeKind {
    /// The storage class name a price table or pricing script uses: `ephemeral`, `ram` or the
    /// persistent class.
    pub fn class(&self) -> &str {
        match self {
            VolumeKind::Ephemeral => "ephemeral",
            VolumeKind::Ram => "ram",
            VolumeKind::Persistent { class } => class,
        }
    }
}

/// Classifies a volume as Akash's provider does: `persistent=true` selects the class (or the
/// default one); otherwise `class=ram` is memory and anything else node-local disk.
pub fn volume_kind(volume: &StorageVolume) -> VolumeKind {
    let attr = |key: &str| {
        volume
            .attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.as_str())
    };
    let class = attr("class");
    if attr("persistent") == Some("true") {
        return VolumeKind::Persistent {
            class: class.unwrap_or(DEFAULT_STORAGE_CLASS).to_string(),
        };
    }
    if class == Some("ram") {
        VolumeKind::Ram
    } else {
        VolumeKind::Ephemeral
    }
}

/// The GPUs one replica was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuAllocation {
    pub vendor: String,
    pub model: String,
    pub ram: Option<String>,
    pub interface: Option<String>,
    pub units: u32,
    /// The devices given, `units` of them (see [`GpuPool::devices`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}

/// Persistent storage one replica was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentAllocation {
    pub class: String,
    pub size: u64,
}

/// Where one replica runs and what it takes there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The group's resource unit this replica belongs to.
    pub resource_id: u32,
    pub node: String,
    pub cpu_millis: u64,
    /// Bytes, including `ram` volumes.
    pub memory: u64,
    pub ephemeral_storage: u64,
    pub gpu: Option<GpuAllocation>,
    pub persistent: Vec<PersistentAllocation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationState {
    /// Held for an open bid.
    Reserved,
    /// The bid won: a lease runs on it.
    Committed,
}

/// Resources held for one order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub order: OrderId,
    pub state: ReservationState,
    /// One per replica, grouped by resource unit in the group's order.
    pub allocations: Vec<Allocation>,
    /// `(resource_id, count)` of every unit of the group, in the group's order.
    pub units: Vec<(u32, u32)>,
}

impl Reservation {
    /// The GPU devices of each replica, by resource unit: the i-th list of unit `r` is what
    /// the unit's i-th replica got (empty for a replica without GPUs). What a backend that
    /// places devices itself (Docker) gives each container.
    pub fn gpu_devices(&self) -> GpuDevices {
        let mut by_unit: BTreeMap<u32, Vec<Vec<String>>> = BTreeMap::new();
        for a in &self.allocations {
            by_unit.entry(a.resource_id).or_default().push(
                a.gpu
                    .as_ref()
                    .map(|g| g.devices.clone())
                    .unwrap_or_default(),
            );
        }
        GpuDevices { by_unit }
    }

    /// Every GPU device the reservation holds.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.allocations
            .iter()
            .filter_map(|a| a.gpu.as_ref())
            .flat_map(|g| g.devices.iter().map(String::as_str))
    }

    /// The bid's offer: every unit with the count reserved for it (Akash `ResourceOfferFromRU`).
    pub fn offer(&self) -> Vec<ResourceOffer> {
        self.units
            .iter()
            .map(|&(resource_id, count)| ResourceOffer { resource_id, count })
            .collect()
    }
}

/// The GPU devices of a lease's replicas, by resource unit ([`Reservation::gpu_devices`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuDevices {
    /// Per resource unit id, per replica in order, the device ids.
    pub by_unit: BTreeMap<u32, Vec<Vec<String>>>,
}

/// Which resource was short.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shortfall {
    Cpu,
    Memory,
    EphemeralStorage,
    /// No node has enough free GPUs of an acceptable model.
    Gpu,
    /// The provider has no pool of this persistent class.
    StorageClass {
        class: String,
    },
    /// The pool of this persistent class is too small.
    PersistentStorage {
        class: String,
    },
    /// Each resource is free on some node, but no single node has all of them.
    NoSingleNode,
    /// The group asks for more replicas than [`MAX_REPLICAS`].
    TooManyReplicas {
        count: u64,
    },
}

impl Shortfall {
    /// A short, bounded label (for decline counters).
    pub fn code(&self) -> &'static str {
        match self {
            Shortfall::Cpu => "insufficient-cpu",
            Shortfall::Memory => "insufficient-memory",
            Shortfall::EphemeralStorage => "insufficient-ephemeral-storage",
            Shortfall::Gpu => "insufficient-gpu",
            Shortfall::StorageClass { .. } => "unsupported-storage-class",
            Shortfall::PersistentStorage { .. } => "insufficient-persistent-storage",
            Shortfall::NoSingleNode => "no-single-node",
            Shortfall::TooManyReplicas { .. } => "too-many-replicas",
        }
    }
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortfall::Cpu => write!(f, "CPU"),
            Shortfall::Memory => write!(f, "memory"),
            Shortfall::EphemeralStorage => write!(f, "ephemeral storage"),
            Shortfall::Gpu => write!(f, "GPUs of an accepted model"),
            Shortfall::StorageClass { class } => {
                write!(f, "storage class {class:?} (none offered)")
            }
            Shortfall::PersistentStorage { class } => {
                write!(f, "persistent storage of class {class:?}")
            }
            Shortfall::NoSingleNode => write!(f, "a single node with all the resources"),
            Shortfall::TooManyReplicas { count } => {
                write!(f, "replica slots ({count} asked, at most {MAX_REPLICAS})")
            }
        }
    }
}

/// A group does not fit in what is free.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("insufficient {what} for a replica of resource unit {resource_id}")]
pub struct Insufficient {
    pub what: Shortfall,
    pub resource_id: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("invalid inventory: {reason}")]
    InvalidConfig { reason: String },
    #[error("no reservation for order {order}")]
    UnknownOrder { order: String },
}

/// Totals of every resource kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTotals {
    pub cpu_millis: u64,
    pub memory: u64,
    pub ephemeral_storage: u64,
    /// GPUs by `vendor/model`.
    pub gpus: BTreeMap<String, u64>,
    /// Bytes by persistent class (cluster totals only).
    pub persistent_storage: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    pub name: String,
    pub allocatable: ResourceTotals,
    pub allocated: ResourceTotals,
    pub available: ResourceTotals,
}

/// What `/status` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventorySnapshot {
    pub allocatable: ResourceTotals,
    /// Held by open bids and leases.
    pub allocated: ResourceTotals,
    pub available: ResourceTotals,
    pub nodes: Vec<NodeSnapshot>,
    /// Reservations for open bids.
    pub reserved: usize,
    /// Reservations of running leases.
    pub leased: usize,
}

/// What a node has handed out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct NodeUse {
    cpu: u64,
    memory: u64,
    ephemeral: u64,
    /// Per pool, in the node's pool order: the positions (in the pool's device list) of the
    /// GPUs handed out.
    gpus: Vec<BTreeSet<usize>>,
}

/// Everything handed out: the state placement works on (a scratch copy while placing).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Usage {
    nodes: Vec<NodeUse>,
    pools: BTreeMap<String, u64>,
}

/// One replica's needs.
struct Demand<'a> {
    resource_id: u32,
    cpu: u64,
    memory: u64,
    ephemeral: u64,
    gpu_units: u32,
    gpu_attributes: &'a [Attribute],
    persistent: Vec<(String, u64)>,
}

impl<'a> Demand<'a> {
    fn of(r: &'a Resources) -> Self {
        let mut memory = r.memory.size.u64();
        let mut ephemeral = 0u64;
        let mut persistent: Vec<(String, u64)> = Vec::new();
        for v in &r.storage {
            let size = v.size.u64();
            match volume_kind(v) {
                VolumeKind::Ephemeral => ephemeral = ephemeral.saturating_add(size),
                VolumeKind::Ram => memory = memory.saturating_add(size),
                VolumeKind::Persistent { class } => {
                    match persistent.iter_mut().find(|(c, _)| *c == class) {
                        Some((_, total)) => *total = total.saturating_add(size),
                        None => persistent.push((class, size)),
                    }
                }
            }
        }
        Demand {
            resource_id: r.id,
            cpu: u64::from(r.cpu.units),
            memory,
            ephemeral,
            gpu_units: r.gpu.units,
            gpu_attributes: &r.gpu.attributes,
            persistent,
        }
    }
}

/// The provider's capacity and the reservations against it.
#[derive(Clone, Debug)]
pub struct Inventory {
    config: InventoryConfig,
    /// Per node, per pool, the ids of its GPUs (explicit or numbered).
    devices: Vec<Vec<Vec<String>>>,
    usage: Usage,
    reservations: BTreeMap<OrderId, Reservation>,
}

impl Inventory {
    /// Checks that node names are unique and that no node lists the same GPU kind twice (an
    /// allocation names its node and GPU kind, so both must identify one place).
    pub fn new(config: InventoryConfig) -> Result<Self, InventoryError> {
        let invalid = |reason: String| Err(InventoryError::InvalidConfig { reason });
        for (i, node) in config.nodes.iter().enumerate() {
            if node.name.is_empty() {
                return invalid(format!("node {i} has no name"));
            }
            if config.nodes[..i].iter().any(|n| n.name == node.name) {
                return invalid(format!("node name {:?} appears twice", node.name));
            }
            for (j, pool) in node.gpus.iter().enumerate() {
                if node.gpus[..j].iter().any(|p| same_gpu_kind(p, pool)) {
                    return invalid(format!(
                        "node {:?} lists GPU {} twice",
                        node.name,
                        pool.key()
                    ));
                }
                if !pool.devices.is_empty() && pool.devices.len() != pool.count as usize {
                    return invalid(format!(
                        "node {:?}: GPU {} has count {} but {} devices; list one device id per GPU, or none to number them",
                        node.name,
                        pool.key(),
                        pool.count,
                        pool.devices.len()
                    ));
                }
            }
        }
        let devices: Vec<Vec<Vec<String>>> = config.nodes.iter().map(device_ids).collect();
        for (node, pools) in config.nodes.iter().zip(&devices) {
            let mut seen = BTreeSet::new();
            for id in pools.iter().flatten() {
                if id.is_empty() || !seen.insert(id) {
                    return invalid(format!(
                        "node {:?}: GPU device {id:?} is empty or appears twice; give every GPU its own id (list devices for every pool, or for none)",
                        node.name
                    ));
                }
            }
        }
        let usage = Usage {
            nodes: config
                .nodes
                .iter()
                .map(|n| NodeUse {
                    gpus: vec![BTreeSet::new(); n.gpus.len()],
                    ..NodeUse::default()
                })
                .collect(),
            pools: config
                .storage_classes
                .keys()
                .map(|c| (c.clone(), 0))
                .collect(),
        };
        Ok(Inventory {
            config,
            devices,
            usage,
            reservations: BTreeMap::new(),
        })
    }

    pub fn config(&self) -> &InventoryConfig {
        &self.config
    }

    /// Whether `units` would fit now, without reserving anything.
    pub fn fits(&self, units: &[ResourceUnit]) -> Result<(), Insufficient> {
        self.place(units, &BTreeSet::new()).map(|_| ())
    }

    /// Holds resources for an order's group while its bid is open. Reserving an order that
    /// already has a reservation returns that reservation unchanged.
    pub fn reserve(
        &mut self,
        order: &OrderId,
        units: &[ResourceUnit],
    ) -> Result<Reservation, Insufficient> {
        self.book(order, units, ReservationState::Reserved, &BTreeSet::new())
    }

    /// The bid won: the reservation now belongs to a lease. Committing twice is harmless.
    pub fn commit(&mut self, order: &OrderId) -> Result<&Reservation, InventoryError> {
        match self.reservations.get_mut(order) {
            Some(r) => {
                r.state = ReservationState::Committed;
                Ok(r)
            }
            None => Err(InventoryError::UnknownOrder {
                order: order.to_string(),
            }),
        }
    }

    /// Returns an order's resources (bid lost or timed out, lease closed). `None` if the order
    /// held nothing.
    pub fn release(&mut self, order: &OrderId) -> Option<Reservation> {
        let reservation = self.reservations.remove(order)?;
        for a in &reservation.allocations {
            self.usage.unapply(&self.config, &self.devices, a);
        }
        Some(reservation)
    }

    /// Books a lease found running at start-up as committed. If it was reserved, it is
    /// committed; if it no longer fits (the operator shrank the inventory), the caller decides
    /// what to do with the lease.
    pub fn adopt(
        &mut self,
        order: &OrderId,
        units: &[ResourceUnit],
    ) -> Result<Reservation, Insufficient> {
        self.book(order, units, ReservationState::Committed, &BTreeSet::new())
    }

    /// [`Inventory::adopt`] for a lease whose workloads hold the GPU devices `held` (read
    /// back from the backend after a restart): its replicas get those devices first, where they
    /// are free and of the right kind, so the running containers keep their GPUs and no other
    /// lease is given them.
    pub fn adopt_holding(
        &mut self,
        order: &OrderId,
        units: &[ResourceUnit],
        held: &[String],
    ) -> Result<Reservation, Insufficient> {
        let held: BTreeSet<&str> = held.iter().map(String::as_str).collect();
        self.book(order, units, ReservationState::Committed, &held)
    }

    pub fn reservation(&self, order: &OrderId) -> Option<&Reservation> {
        self.reservations.get(order)
    }

    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.reservations.values()
    }

    /// Reservations in `state`.
    pub fn count(&self, state: ReservationState) -> usize {
        self.reservations
            .values()
            .filter(|r| r.state == state)
            .count()
    }

    /// Whether the provider has a pool of this persistent class.
    pub fn has_storage_class(&self, class: &str) -> bool {
        self.config.storage_classes.contains_key(class)
    }

    /// Whether some node has GPUs the attributes accept, free or not.
    pub fn has_gpu(&self, attributes: &[Attribute]) -> bool {
        self.config
            .nodes
            .iter()
            .flat_map(|n| &n.gpus)
            .any(|p| p.count > 0 && p.matches(attributes))
    }

    pub fn snapshot(&self) -> InventorySnapshot {
        let mut allocatable = ResourceTotals::default();
        let mut allocated = ResourceTotals::default();
        let mut nodes = Vec::with_capacity(self.config.nodes.len());
        for (node, used) in self.config.nodes.iter().zip(&self.usage.nodes) {
            let mut cap = ResourceTotals {
                cpu_millis: node.cpu_millis,
                memory: node.memory,
                ephemeral_storage: node.ephemeral_storage,
                ..ResourceTotals::default()
            };
            let mut got = ResourceTotals {
                cpu_millis: used.cpu,
                memory: used.memory,
                ephemeral_storage: used.ephemeral,
                ..ResourceTotals::default()
            };
            for (pool, n) in node.gpus.iter().zip(&used.gpus) {
                // Pools of one model with different RAM or interface add up under one key.
                *cap.gpus.entry(pool.key()).or_default() += u64::from(pool.count);
                *got.gpus.entry(pool.key()).or_default() += n.len() as u64;
            }
            allocatable.add(&cap);
            allocated.add(&got);
            nodes.push(NodeSnapshot {
                name: node.name.clone(),
                available: cap.minus(&got),
                allocatable: cap,
                allocated: got,
            });
        }
        for (class, size) in &self.config.storage_classes {
            allocatable.persistent_storage.insert(class.clone(), *size);
            let used = self.usage.pools.get(class).copied().unwrap_or(0);
            allocated.persistent_storage.insert(class.clone(), used);
        }
        InventorySnapshot {
            available: allocatable.minus(&allocated),
            allocatable,
            allocated,
            nodes,
            reserved: self.count(ReservationState::Reserved),
            leased: self.count(ReservationState::Committed),
        }
    }

    fn book(
        &mut self,
        order: &OrderId,
        units: &[ResourceUnit],
        state: ReservationState,
        prefer: &BTreeSet<&str>,
    ) -> Result<Reservation, Insufficient> {
        if let Some(existing) = self.reservations.get_mut(order) {
            if state == ReservationState::Committed {
                existing.state = state;
            }
            return Ok(existing.clone());
        }
        let (allocations, usage) = self.place(units, prefer)?;
        self.usage = usage;
        let reservation = Reservation {
            order: order.clone(),
            state,
            allocations,
            units: units.iter().map(|u| (u.resources.id, u.count)).collect(),
        };
        self.reservations.insert(order.clone(), reservation.clone());
        Ok(reservation)
    }

    /// First-fit decreasing: the largest replicas (GPUs, then CPU, then memory) are placed
    /// first, each on the first node where it fits. Returns the allocations in the group's
    /// order and the usage after them.
    fn place(
        &self,
        units: &[ResourceUnit],
        prefer: &BTreeSet<&str>,
    ) -> Result<(Vec<Allocation>, Usage), Insufficient> {
        // Counts come from tenants: bound them before allocating anything per replica.
        let replicas: u64 = units.iter().map(|u| u64::from(u.count)).sum();
        if replicas > MAX_REPLICAS {
            return Err(Insufficient {
                what: Shortfall::TooManyReplicas { count: replicas },
                resource_id: units.first().map_or(0, |u| u.resources.id),
            });
        }
        let demands: Vec<Demand<'_>> = units.iter().map(|u| Demand::of(&u.resources)).collect();
        let mut order: Vec<usize> = (0..units.len()).collect();
        order.sort_by(|&a, &b| {
            let (da, db) = (&demands[a], &demands[b]);
            (db.gpu_units, db.cpu, db.memory).cmp(&(da.gpu_units, da.cpu, da.memory))
        });
        let mut usage = self.usage.clone();
        let mut placed: Vec<(usize, Allocation)> = Vec::new();
        for unit in order {
            let demand = &demands[unit];
            for _ in 0..units[unit].count {
                let allocation = self.place_one(&usage, demand, prefer)?;
                usage.apply(&self.config, &self.devices, &allocation);
                placed.push((unit, allocation));
            }
        }
        // Stable: replicas of one unit keep their relative order.
        placed.sort_by_key(|(unit, _)| *unit);
        Ok((placed.into_iter().map(|(_, a)| a).collect(), usage))
    }

    fn place_one(
        &self,
        usage: &Usage,
        demand: &Demand<'_>,
        prefer: &BTreeSet<&str>,
    ) -> Result<Allocation, Insufficient> {
        let short = |what| Insufficient {
            what,
            resource_id: demand.resource_id,
        };
        for (class, size) in &demand.persistent {
            let Some(capacity) = self.config.storage_classes.get(class) else {
                return Err(short(Shortfall::StorageClass {
                    class: class.clone(),
                }));
            };
            let used = usage.pools.get(class).copied().unwrap_or(0);
            if capacity.saturating_sub(used) < *size {
                return Err(short(Shortfall::PersistentStorage {
                    class: class.clone(),
                }));
            }
        }
        let fit = self
            .config
            .nodes
            .iter()
            .enumerate()
            .find_map(|(n, node)| fits_on(node, &usage.nodes[n], demand).map(|g| (n, g)));
        let Some((n, gpu_pool)) = fit else {
            return Err(short(self.shortfall(usage, demand)));
        };
        let node = &self.config.nodes[n];
        Ok(Allocation {
            resource_id: demand.resource_id,
            node: node.name.clone(),
            cpu_millis: demand.cpu,
            memory: demand.memory,
            ephemeral_storage: demand.ephemeral,
            gpu: gpu_pool.map(|p| {
                let pool = &node.gpus[p];
                let ids = &self.devices[n][p];
                let used = &usage.nodes[n].gpus[p];
                // The preferred free devices first (a running lease's own), then the lowest.
                let free = |i: &usize| !used.contains(i);
                let mut picked: Vec<usize> = (0..ids.len())
                    .filter(free)
                    .filter(|&i| prefer.contains(ids[i].as_str()))
                    .take(demand.gpu_units as usize)
                    .collect();
                for i in (0..ids.len()).filter(free) {
                    if picked.len() >= demand.gpu_units as usize {
                        break;
                    }
                    if !picked.contains(&i) {
                        picked.push(i);
                    }
                }
                picked.sort_unstable();
                GpuAllocation {
                    vendor: pool.vendor.clone(),
                    model: pool.model.clone(),
                    ram: pool.ram.clone(),
                    interface: pool.interface.clone(),
                    units: demand.gpu_units,
                    devices: picked.into_iter().map(|i| ids[i].clone()).collect(),
                }
            }),
            persistent: demand
                .persistent
                .iter()
                .map(|(class, size)| PersistentAllocation {
                    class: class.clone(),
                    size: *size,
                })
                .collect(),
        })
    }

    /// Names the resource a replica lacks: the first kind that no node has enough of on its
    /// own, or else the lack of a node with all of them.
    fn shortfall(&self, usage: &Usage, d: &Demand<'_>) -> Shortfall {
        let nodes = || self.config.nodes.iter().zip(&usage.nodes);
        if !nodes().any(|(n, u)| n.cpu_millis.saturating_sub(u.cpu) >= d.cpu) {
            Shortfall::Cpu
        } else if !nodes().any(|(n, u)| n.memory.saturating_sub(u.memory) >= d.memory) {
            Shortfall::Memory
        } else if !nodes()
            .any(|(n, u)| n.ephemeral_storage.saturating_sub(u.ephemeral) >= d.ephemeral)
        {
            Shortfall::EphemeralStorage
        } else if d.gpu_units > 0 && !nodes().any(|(n, u)| free_gpu_pool(n, u, d).is_some()) {
            Shortfall::Gpu
        } else {
            Shortfall::NoSingleNode
        }
    }
}

fn same_gpu_kind(a: &GpuPool, b: &GpuPool) -> bool {
    a.vendor == b.vendor && a.model == b.model && a.ram == b.ram && a.interface == b.interface
}

/// The first of the node's GPU pools that the demand accepts and that has enough free units.
fn free_gpu_pool(node: &NodeCapacity, used: &NodeUse, d: &Demand<'_>) -> Option<usize> {
    node.gpus.iter().zip(&used.gpus).position(|(pool, used)| {
        (pool.count as usize).saturating_sub(used.len()) >= d.gpu_units as usize
            && pool.matches(d.gpu_attributes)
    })
}

/// The ids of a node's GPUs, per pool: the configured devices, else the GPU's position among
/// all the node's GPUs (`0`, `1`, ... in pool order, as `nvidia-smi` numbers them).
fn device_ids(node: &NodeCapacity) -> Vec<Vec<String>> {
    let mut next = 0u64;
    node.gpus
        .iter()
        .map(|pool| {
            let numbered: Vec<String> = (next..next + u64::from(pool.count))
                .map(|i| i.to_string())
                .collect();
            next += u64::from(pool.count);
            if pool.devices.is_empty() {
                numbered
            } else {
                pool.devices.clone()
            }
        })
        .collect()
}

/// Whether the replica fits on the node; `Some(gpu pool)` if so (`None` inside when it needs
/// no GPU).
fn fits_on(node: &NodeCapacity, used: &NodeUse, d: &Demand<'_>) -> Option<Option<usize>> {
    let fits = node.cpu_millis.saturating_sub(used.cpu) >= d.cpu
        && node.memory.saturating_sub(used.memory) >= d.memory
        && node.ephemeral_storage.saturating_sub(used.ephemeral) >= d.ephemeral;
    if !fits {
        return None;
    }
    if d.gpu_units == 0 {
        return Some(None);
    }
    free_gpu_pool(node, used, d).map(Some)
}

impl Usage {
    fn node_index(config: &InventoryConfig, name: &str) -> Option<usize> {
        config.nodes.iter().position(|n| n.name == name)
    }

    fn gpu_index(config: &InventoryConfig, node: usize, gpu: &GpuAllocation) -> Option<usize> {
        config.nodes[node].gpus.iter().position(|p| {
            p.vendor == gpu.vendor
                && p.model == gpu.model
                && p.ram == gpu.ram
                && p.interface == gpu.interface
        })
    }

    // Allocations are only made by `place` against this config, so their node, GPU pool and
    // devices always exist; the lookups still skip quietly rather than panic.
    fn apply(&mut self, config: &InventoryConfig, devices: &[Vec<Vec<String>>], a: &Allocation) {
        if let Some(n) = Self::node_index(config, &a.node) {
            let node = &mut self.nodes[n];
            node.cpu = node.cpu.saturating_add(a.cpu_millis);
            node.memory = node.memory.saturating_add(a.memory);
            node.ephemeral = node.ephemeral.saturating_add(a.ephemeral_storage);
            if let Some(gpu) = &a.gpu {
                if let Some(p) = Self::gpu_index(config, n, gpu) {
                    for slot in slots(&devices[n][p], &gpu.devices) {
                        node.gpus[p].insert(slot);
                    }
                }
            }
        }
        for p in &a.persistent {
            let used = self.pools.entry(p.class.clone()).or_default();
            *used = used.saturating_add(p.size);
        }
    }

    fn unapply(&mut self, config: &InventoryConfig, devices: &[Vec<Vec<String>>], a: &Allocation) {
        if let Some(n) = Self::node_index(config, &a.node) {
            let node = &mut self.nodes[n];
            node.cpu = node.cpu.saturating_sub(a.cpu_millis);
            node.memory = node.memory.saturating_sub(a.memory);
            node.ephemeral = node.ephemeral.saturating_sub(a.ephemeral_storage);
            if let Some(gpu) = &a.gpu {
                if let Some(p) = Self::gpu_index(config, n, gpu) {
                    for slot in slots(&devices[n][p], &gpu.devices) {
                        node.gpus[p].remove(&slot);
                    }
                }
            }
        }
        for p in &a.persistent {
            if let Some(used) = self.pools.get_mut(&p.class) {
                *used = used.saturating_sub(p.size);
            }
        }
    }
}

/// Positions of `wanted` device ids in a pool's device list (unknown ids skipped).
fn slots<'a>(ids: &'a [String], wanted: &'a [String]) -> impl Iterator<Item = usize> + 'a {
    wanted
        .iter()
        .filter_map(move |w| ids.iter().position(|id| id == w))
}

impl ResourceTotals {
    // Saturating: capacities are operator input and may be absurdly large.
    fn add(&mut self, other: &ResourceTotals) {
        self.cpu_millis = self.cpu_millis.saturating_add(other.cpu_millis);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        for (k, v) in &other.gpus {
            let total = self.gpus.entry(k.clone()).or_default();
            *total = total.saturating_add(*v);
        }
        for (k, v) in &other.persistent_storage {
            let total = self.persistent_storage.entry(k.clone()).or_default();
            *total = total.saturating_add(*v);
        }
    }

    fn minus(&self, other: &ResourceTotals) -> ResourceTotals {
        let sub = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>| {
            a.iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(b.get(k).copied().unwrap_or(0))))
                .collect()
        };
        ResourceTotals {
            cpu_millis: self.cpu_millis.saturating_sub(other.cpu_millis),
            memory: self.memory.saturating_sub(other.memory),
            ephemeral_storage: self
                .ephemeral_storage
                .saturating_sub(other.ephemeral_storage),
            gpus: sub(&self.gpus, &other.gpus),
            persistent_storage: sub(&self.persistent_storage, &other.persistent_storage),
        }
    }
}
