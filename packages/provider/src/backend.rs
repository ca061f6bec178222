//! The cluster backend: what the agent asks of the machine(s) that run leases, whatever they are.
//! Docker ([`crate::docker`]) and Kubernetes ([`crate::kube`]) implement it; the agent holds an
//! `Arc<dyn Backend>`, so the trait is object-safe (methods return boxed futures and streams).
//!
//! A lease is identified by [`LeaseId`] (owner, dseq, gseq, oseq, provider), as on chain. Every
//! operation is keyed by it, and every object a backend creates carries it, so that an agent that
//! restarts can find and adopt what it runs ([`Backend::leases`]) and never touches anything else.
//!
//! The agent serializes the operations of one lease (its per-lease state machine); a backend does
//! not guard against two concurrent deploys of the same lease.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::BoxStream;
use serde::Serialize;

pub use kumo::LeaseId;
pub use kumo_sdl::manifest::Group;

/// A boxed future, so that `Backend` can be used as `dyn Backend`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Log lines of a lease, in the order each replica wrote them (replicas interleave).
pub type LogStream = BoxStream<'static, Result<LogLine, BackendError>>;

/// Events of a lease's workloads.
pub type EventStream = BoxStream<'static, Result<LeaseEvent, BackendError>>;

pub trait Backend: Send + Sync {
    /// A short name for logs and errors: `docker`, `kubernetes`.
    fn name(&self) -> &'static str;

    /// Runs `group` for `lease`. Idempotent: deploying the group that already runs changes
    /// nothing; deploying a changed group replaces only the replicas whose service changed (and
    /// removes those of services that are gone). A first deploy that fails leaves nothing behind.
    fn deploy<'a>(
        &'a self,
        lease: &'a LeaseId,
        group: &'a Group,
    ) -> BoxFuture<'a, Result<DeployOutcome, BackendError>>;

    /// What runs for `lease`, per service. [`BackendError::LeaseNotFound`] if nothing does.
    fn status<'a>(&'a self, lease: &'a LeaseId)
        -> BoxFuture<'a, Result<LeaseStatus, BackendError>>;

    /// The lease's log lines: the last `tail` of each replica, then (with `follow`) new ones as
    /// they are written, until the replicas stop or the stream is dropped. The stream reads
    /// from the backend once it is first polled.
    fn logs<'a>(
        &'a self,
        lease: &'a LeaseId,
        options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, BackendError>>;

    /// The lease's recent events (as far back as the backend keeps them), then with `follow`
    /// new ones as they happen.
    fn events<'a>(
        &'a self,
        lease: &'a LeaseId,
        follow: bool,
    ) -> BoxFuture<'a, Result<EventStream, BackendError>>;

    /// Removes everything the backend runs or stores for `lease`: workloads, network, and
    /// volumes (persistent ones too: the lease is over). Idempotent: tearing down a lease that
    /// is not there succeeds.
    fn teardown<'a>(&'a self, lease: &'a LeaseId) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Every lease of which the backend holds anything, for adoption after an agent restart
    /// (and for cleaning up leases that closed while the agent was down).
    fn leases(&self) -> BoxFuture<'_, Result<Vec<DeployedLease>, BackendError>>;

    /// [`Backend::leases`] with, per lease and service, how many workloads exist and how many
    /// run, so that the agent redeploys (idempotently: running workloads are kept) a lease
    /// whose deploy was cut short: a container created but never started, a replica never
    /// created, a container stopped behind the provider's back.
    ///
    /// The default reports no counts (`replicas: None`: nothing to redeploy), which is the
    /// honest answer of a backend whose controllers bring every workload that exists to running
    /// by themselves: Kubernetes' Deployments and StatefulSets have no "created but not
    /// started", and a missing pod is the controller's to recreate. Docker overrides it.
    fn workloads(&self) -> BoxFuture<'_, Result<Vec<LeaseWorkloads>, BackendError>> {
        Box::pin(async move {
            Ok(self
                .leases()
                .await?
                .into_iter()
                .map(|deployed| LeaseWorkloads {
                    deployed,
                    replicas: None,
                })
                .collect())
        })
    }
}

/// What [`Backend::deploy`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployOutcome {
    /// Nothing ran for the lease before.
    Created,
    /// Some replicas were created, replaced, restarted or removed.
    Updated,
    /// The group already ran as asked: nothing changed.
    Unchanged,
}

/// A lease the backend holds something of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployedLease {
    pub lease: LeaseId,
    /// The deployment group's name, when a workload of it exists.
    pub group: Option<String>,
    /// SHA-256 (hex) of the deployed group's sorted manifest JSON, when workloads exist: the
    /// agent compares it with the group it means to run to decide whether to redeploy.
    pub manifest_hash: Option<String>,
    /// Services with at least one workload.
    pub services: Vec<String>,
}

/// A lease the backend holds something of, with the state of its workloads
/// ([`Backend::workloads`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseWorkloads {
    pub deployed: DeployedLease,
    /// Per service with workloads: how many exist and run. `None` when the backend leaves
    /// running them to its own controllers (see [`Backend::workloads`]).
    pub replicas: Option<BTreeMap<String, ReplicaCount>>,
}

impl LeaseWorkloads {
    /// Whether `group` (the group the lease is meant to run) has a service with fewer
    /// replicas running than it asks for: missing, created and never started, stopped.
    /// `false` when the backend does not count.
    pub fn short_of(&self, group: &Group) -> bool {
        let Some(counts) = &self.replicas else {
            return false;
        };
        group.services.iter().any(|service| {
            counts
                .get(&service.name)
                .is_none_or(|c| c.running < service.count)
        })
    }
}

/// The workloads (replicas) of one service of a lease.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReplicaCount {
    /// Workloads that exist, in any state.
    pub existing: u32,
    /// Those running, or being restarted by the engine's own restart policy.
    pub running: u32,
}

/// The status of a lease: one entry per service that has workloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseStatus {
    pub services: BTreeMap<String, ServiceStatus>,
}

impl LeaseStatus {
    /// Every service has all its replicas ready.
    pub fn is_ready(&self) -> bool {
        self.services.values().all(|s| s.ready >= s.total)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    /// Replicas the manifest asks for.
    pub total: u32,
    /// Replicas running.
    pub ready: u32,
    /// Where the service's HTTP endpoints are reached from outside (`http://host:port`).
    pub uris: Vec<String>,
    /// Every published port of every replica.
    pub forwarded_ports: Vec<ForwardedPort>,
    /// Sorted by index.
    pub replicas: Vec<ReplicaStatus>,
}

/// A port of a replica published on the provider's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardedPort {
    pub replica: u32,
    /// The port the container listens on.
    pub port: u16,
    /// The port the manifest asked to expose it as (`as`).
    pub external_port: u32,
    /// `TCP` or `UDP`.
    pub proto: String,
    /// The host address it is bound to.
    pub host: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaStatus {
    pub index: u32,
    /// The backend's id of the workload (a container id for Docker).
    pub id: String,
    pub state: ReplicaState,
    /// The backend's own words (`Up 3 seconds`, `Exited (1) 2 minutes ago`).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaState {
    Created,
    Running,
    Restarting,
    Paused,
    Exited,
    Dead,
    Removing,
    Unknown,
}

impl fmt::Display for ReplicaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ReplicaState::Created => "created",
            ReplicaState::Running => "running",
            ReplicaState::Restarting => "restarting",
            ReplicaState::Paused => "paused",
            ReplicaState::Exited => "exited",
            ReplicaState::Dead => "dead",
            ReplicaState::Removing => "removing",
            ReplicaState::Unknown => "unknown",
        };
        f.write_str(s)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Services to read; empty for all of the lease's.
    pub services: Vec<String>,
    /// The last `tail` lines of each replica; `None` for all of them.
    pub tail: Option<u64>,
    /// Keep the stream open and deliver new lines.
    pub follow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub service: String,
    pub replica: u32,
    pub source: LogSource,
    /// The line without its newline.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseEvent {
    /// Unix time in seconds.
    pub time: i64,
    pub service: String,
    pub replica: Option<u32>,
    /// What happened, in the backend's words (`create`, `start`, `die`, `oom`, `destroy`).
    pub reason: String,
    /// Details (`exit code 1`), may be empty.
    pub message: String,
}

/// Why a backend operation failed. Each variant says what to do about it in its message.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot reach the {backend} engine at {endpoint}: {reason}{hint}")]
    Unreachable {
        backend: &'static str,
        endpoint: String,
        reason: String,
        /// How to get one running, e.g. for Docker: `scripts/ensure-docker`.
        hint: &'static str,
    },
    #[error("manifest group {group:?} cannot be deployed: {reason}")]
    InvalidManifest { group: String, reason: String },
    #[error("image {image:?} is not on this host and could not be pulled: {reason}")]
    ImageUnavailable { image: String, reason: String },
    #[error("lease {lease} has nothing deployed here")]
    LeaseNotFound { lease: String },
    #[error("lease {lease} has no service {service:?}")]
    ServiceNotFound { lease: String, service: String },
    #[error("{object} exists but does not belong to lease {lease}; refusing to touch it")]
    Conflict { object: String, lease: String },
    #[error("{operation} failed: {reason}")]
    Engine { operation: String, reason: String },
}

/// An RFC 1123 label (lower case): what service and volume names must be in both backends
/// (container hostnames and network aliases; Kubernetes object names).
pub(crate) fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The GPU vendors a manifest service's GPU attributes name (`vendor/<vendor>/model/...`),
/// sorted and each once: what both backends map to their GPU resources.
pub fn gpu_vendors(service: &kumo_sdl::manifest::Service) -> Vec<&str> {
    let vendors: std::collections::BTreeSet<&str> = service
        .resources
        .gpu
        .attributes
        .iter()
        .filter_map(|a| a.key.strip_prefix("vendor/")?.split('/').next())
        .collect();
    vendors.into_iter().collect()
}
