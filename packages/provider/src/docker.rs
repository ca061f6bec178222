//! The Docker backend: runs a lease's manifest group on one Docker engine, through its API
//! (bollard), as Akash's Kubernetes builder does on a cluster.
//!
//! Per lease: one bridge network (leases cannot reach each other), one container per service
//! replica, reachable on the lease network by its service name; one named volume per persistent
//! storage and replica (as a StatefulSet's claims), tmpfs for `ram` storage. Global exposes are
//! published on a random port of `host_ip`. Every object carries `kumo.*` labels that name its
//! lease, which is how the backend finds what it runs after a restart and why it never touches
//! anything else: every list, update and removal is filtered by those labels.
//!
//! Engines differ in API version: Debian 12's docker.io speaks 1.41 at most, Docker 29 refuses
//! clients below 1.44. bollard sends unversioned request paths, which every engine answers in
//! its own version; [`connect`] records that version, and the backend uses only endpoints and
//! fields that 1.41 already has.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerSummaryStateEnum, DeviceRequest,
    EndpointSettings, EventMessage, HostConfig, HostConfigLogConfig, Mount, MountTmpfsOptions,
    MountType, NetworkCreateRequest, NetworkingConfig, PortBinding,
    RestartPolicy as DockerRestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, EventsOptions,
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, LogsOptions,
    RemoveContainerOptions, RemoveVolumeOptions,
};
use bollard::Docker;
use cosmwasm_std::Addr;
use futures_util::stream::{self, StreamExt};
use kumo_sdl::manifest::{Group, ImageCredentials, Protocol, Service};
use sha2::{Digest, Sha256};

use crate::backend::{
    Backend, BackendError, BoxFuture, DeployOutcome, DeployedLease, EventStream, ForwardedPort,
    LeaseEvent, LeaseId, LeaseStatus, LeaseWorkloads, LogLine, LogOptions, LogSource, LogStream,
    ReplicaState, ReplicaStatus, ServiceStatus,
};

/// The demo image: [`build_hello_image`] builds it, `examples/hello.yaml` deploys it.
pub const HELLO_IMAGE: &str = "kumo/hello:latest";

/// The most replicas of one service a Docker host runs.
pub const MAX_REPLICAS: u32 = 100;

/// Bumped whenever the way containers are built changes, so that a redeploy replaces containers
/// built the old way (it is part of every container's spec hash).
const SPEC_VERSION: &str = "kumo-docker-1";

const HINT: &str = " (is dockerd running? `scripts/ensure-docker` starts one)";

/// Labels on every object the backend creates.
pub mod labels {
    /// A short hash of the lease id: the one label every lookup filters on.
    pub const LEASE: &str = "kumo.lease";
    pub const OWNER: &str = "kumo.owner";
    pub const DSEQ: &str = "kumo.dseq";
    pub const GSEQ: &str = "kumo.gseq";
    pub const OSEQ: &str = "kumo.oseq";
    pub const PROVIDER: &str = "kumo.provider";
    /// Containers only, from here on.
    pub const GROUP: &str = "kumo.group";
    pub const SERVICE: &str = "kumo.service";
    pub const REPLICA: &str = "kumo.replica";
    /// How many replicas the manifest asks for (status reports it as `total`).
    pub const REPLICAS: &str = "kumo.replicas";
    /// Hash of everything the container was built from: unchanged hash, untouched container.
    pub const SPEC_HASH: &str = "kumo.spec-hash";
    /// Hash of the deployed group (SHA-256 of its sorted manifest JSON).
    pub const MANIFEST_HASH: &str = "kumo.manifest-hash";
    /// The published ports and what they are exposed as: `8080/tcp=80,53/udp=53`.
    pub const EXPOSE: &str = "kumo.expose";
    /// Volumes only: the storage's name in the manifest, and whether it is persistent.
    pub const STORAGE: &str = "kumo.storage";
    pub const PERSISTENT: &str = "kumo.persistent";
}

/// How containers restart when they exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Always, and after an engine restart, unless the provider stopped them.
    UnlessStopped,
    /// Only after a non-zero exit, at most `max_retries` times (0: without limit).
    OnFailure { max_retries: u32 },
}

#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// The engine: `unix:///var/run/docker.sock`, `tcp://host:2375`. `None`: `$DOCKER_HOST`,
    /// else the local socket.
    pub endpoint: Option<String>,
    /// Where global ports are published.
    pub host_ip: IpAddr,
    /// The host name tenants reach published ports at: status URIs and
    /// `AKASH_CLUSTER_PUBLIC_HOSTNAME`.
    pub public_hostname: String,
    pub restart_policy: RestartPolicy,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            public_hostname: "127.0.0.1".to_string(),
            restart_policy: RestartPolicy::UnlessStopped,
        }
    }
}

/// Connects to a Docker engine and settles the API version with it.
pub async fn connect(endpoint: Option<&str>) -> Result<Docker, BackendError> {
    let endpoint = endpoint
        .map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
    let unreachable = |reason: String| BackendError::Unreachable {
        backend: "Docker",
        endpoint: endpoint.clone(),
        reason,
        hint: HINT,
    };
    let docker = Docker::connect_with_host(&endpoint).map_err(|e| unreachable(e.to_string()))?;
    // Records the engine's API version in the client (down from bollard's 1.53 on older
    // engines), and fails early when what answers is not a Docker engine.
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(describe(&e)))?;
    docker.ping().await.map_err(|e| unreachable(describe(&e)))?;
    Ok(docker)
}

pub struct DockerBackend {
    docker: Docker,
    config: DockerConfig,
}

impl DockerBackend {
    pub async fn connect(config: DockerConfig) -> Result<Self, BackendError> {
        let docker = connect(config.endpoint.as_deref()).await?;
        Ok(Self { docker, config })
    }

    /// Uses an existing connection (e.g. one shared with an image build).
    pub fn with_client(docker: Docker, config: DockerConfig) -> Self {
        Self { docker, config }
    }

    pub fn client(&self) -> &Docker {
        &self.docker
    }

    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    async fn deploy_group(
        &self,
        lease: &LeaseId,
        group: &Group,
    ) -> Result<DeployOutcome, BackendError> {
        validate_group(group)?;
        let key = lease_key(lease);
        // Images first: a missing image fails the deploy before anything exists.
        for service in &group.services {
            self.ensure_image(service).await?;
        }
        let existing = self.lease_containers(&key).await?;
        let fresh = existing.is_empty()
            && self.lease_networks(&key).await?.is_empty()
            && self.lease_volumes(&key).await?.is_empty();
        match self.converge(lease, &key, group, existing).await {
            Ok(_) if fresh => Ok(DeployOutcome::Created),
            Ok(true) => Ok(DeployOutcome::Updated),
            Ok(false) => Ok(DeployOutcome::Unchanged),
            Err(e) => {
                if fresh {
                    // Best effort: the error that matters is the deploy's.
                    let _ = self.teardown_lease(&key).await;
                }
                Err(e)
            }
        }
    }

    /// Brings the lease's objects to `group`; true if anything changed.
    async fn converge(
        &self,
        lease: &LeaseId,
        key: &str,
        group: &Group,
        existing: Vec<ContainerSummary>,
    ) -> Result<bool, BackendError> {
        let mut changed = false;
        let network = network_name(key);
        changed |= self.ensure_network(lease, key, &network).await?;

        let manifest_hash = group_hash(group);
        let mut wanted: BTreeMap<String, (&Service, u32, String)> = BTreeMap::new();
        for service in &group.services {
            let spec = spec_hash(key, service, &self.config);
            for index in 0..service.count {
                wanted.insert(
                    container_name(key, &service.name, index),
                    (service, index, spec.clone()),
                );
            }
        }

        // Containers that are not wanted, or were built from another spec, go first.
        let mut kept: HashMap<String, ContainerSummary> = HashMap::new();
        for container in existing {
            let name = summary_name(&container);
            let keep = match wanted.get(&name) {
                Some((_, _, spec)) => label(&container, labels::SPEC_HASH) == Some(spec.as_str()),
                None => false,
            };
            if keep && container.state != Some(ContainerSummaryStateEnum::REMOVING) {
                kept.insert(name, container);
            } else {
                self.remove_container(container.id.as_deref().unwrap_or(&name))
                    .await?;
                changed = true;
            }
        }

        let mut volumes_wanted = BTreeSet::new();
        for (name, (service, index, spec)) in &wanted {
            for (volume, storage, persistent) in volumes_of(key, service, *index) {
                self.ensure_volume(lease, key, &volume, service, &storage, persistent)
                    .await?;
                volumes_wanted.insert(volume);
            }
            match kept.get(name) {
                Some(container) => {
                    let id = container.id.clone().unwrap_or_else(|| name.clone());
                    match container.state {
                        Some(ContainerSummaryStateEnum::RUNNING)
                        | Some(ContainerSummaryStateEnum::RESTARTING) => {}
                        Some(ContainerSummaryStateEnum::PAUSED) => {
                            self.docker
                                .unpause_container(&id)
                                .await
                                .map_err(|e| engine(format!("unpause container {name}"), &e))?;
                            changed = true;
                        }
                        _ => {
                            self.start_container(&id, name).await?;
                            changed = true;
                        }
                    }
                }
                None => {
                    let body = container_body(
                        lease,
                        key,
                        group,
                        service,
                        *index,
                        spec,
                        &manifest_hash,
                        &self.config,
                    )?;
                    let options = CreateContainerOptions {
                        name: Some(name.clone()),
                        ..Default::default()
                    };
                    let created = self
                        .docker
                        .create_container(Some(options), body)
                        .await
                        .map_err(|e| match e {
                            DockerError::DockerResponseServerError {
                                status_code: 409, ..
                            } => BackendError::Conflict {
                                object: format!("container {name}"),
                                lease: lease.to_string(),
                            },
                            e => engine(format!("create container {name}"), &e),
                        })?;
                    self.start_container(&created.id, name).await?;
                    changed = true;
                }
            }
        }

        // Volumes of services or storage that are gone (their containers went above).
        for volume in self.lease_volumes(key).await? {
            if !volumes_wanted.contains(&volume) {
                self.remove_volume(&volume).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    async fn ensure_image(&self, service: &Service) -> Result<(), BackendError> {
        let image = service.image.as_str();
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(engine(format!("inspect image {image}"), &e)),
        }
        let (from_image, tag) = split_reference(image);
        let options = CreateImageOptions {
            from_image: Some(from_image.to_string()),
            tag: Some(tag.to_string()),
            ..Default::default()
        };
        let credentials = service
            .credentials
            .as_ref()
            .or_else(|| service.params.as_ref()?.credentials.as_ref())
            .map(registry_credentials);
        let unavailable = |e: &DockerError| BackendError::ImageUnavailable {
            image: image.to_string(),
            reason: describe(e),
        };
        let mut pull = self.docker.create_image(Some(options), None, credentials);
        while let Some(progress) = pull.next().await {
            progress.map_err(|e| unavailable(&e))?;
        }
        self.docker
            .inspect_image(image)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }

    async fn ensure_network(
        &self,
        lease: &LeaseId,
        key: &str,
        name: &str,
    ) -> Result<bool, BackendError> {
        match self.docker.inspect_network(name, None).await {
            Ok(network) => {
                let owned = network
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(labels::LEASE))
                    .is_some_and(|v| v == key);
                if owned {
                    Ok(false)
                } else {
                    Err(BackendError::Conflict {
                        object: format!("network {name}"),
                        lease: lease.to_string(),
                    })
                }
            }
            Err(e) if is_not_found(&e) => {
                let request = NetworkCreateRequest {
                    name: name.to_string(),
                    driver: Some("bridge".to_string()),
                    labels: Some(lease_labels(lease, key)),
                    ..Default::default()
                };
                self.docker
                    .create_network(request)
                    .await
                    .map_err(|e| engine(format!("create network {name}"), &e))?;
                Ok(true)
            }
            Err(e) => Err(engine(format!("inspect network {name}"), &e)),
        }
    }

    async fn ensure_volume(
        &self,
        lease: &LeaseId,
        key: &str,
        name: &str,
        service: &Service,
        storage: &str,
        persistent: bool,
    ) -> Result<(), BackendError> {
        match self.docker.inspect_volume(name).await {
            Ok(volume) if volume.labels.get(labels::LEASE).map(String::as_str) == Some(key) => {
                Ok(())
            }
            Ok(_) => Err(BackendError::Conflict {
                object: format!("volume {name}"),
                lease: lease.to_string(),
            }),
            Err(e) if is_not_found(&e) => {
                let mut volume_labels = lease_labels(lease, key);
                volume_labels.insert(labels::SERVICE.to_string(), service.name.clone());
                volume_labels.insert(labels::STORAGE.to_string(), storage.to_string());
                volume_labels.insert(labels::PERSISTENT.to_string(), persistent.to_string());
                let request = VolumeCreateRequest {
                    name: Some(name.to_string()),
                    driver: Some("local".to_string()),
                    labels: Some(volume_labels),
                    ..Default::default()
                };
                self.docker
                    .create_volume(request)
                    .await
                    .map(|_| ())
                    .map_err(|e| engine(format!("create volume {name}"), &e))
            }
            Err(e) => Err(engine(format!("inspect volume {name}"), &e)),
        }
    }

    async fn start_container(&self, id: &str, name: &str) -> Result<(), BackendError> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| engine(format!("start container {name}"), &e))
    }

    async fn remove_container(&self, id: &str) -> Result<(), BackendError> {
        let options = RemoveContainerOptions {
            force: true,
            // Anonymous volumes that the image declares go with the container.
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) || is_removal_in_progress(&e) => Ok(()),
            Err(e) => Err(engine(format!("remove container {id}"), &e)),
        }
    }

    async fn remove_volume(&self, name: &str) -> Result<(), BackendError> {
        let options = RemoveVolumeOptions { force: true };
        match self.docker.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine(format!("remove volume {name}"), &e)),
        }
    }

    /// Containers of a lease, stopped ones too, sorted by service and replica.
    async fn lease_containers(&self, key: &str) -> Result<Vec<ContainerSummary>, BackendError> {
        let mut containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(label_filter(&format!("{}={key}", labels::LEASE))),
                ..Default::default()
            }))
            .await
            .map_err(|e| engine("list containers", &e))?;
        containers.sort_by_key(|c| {
            (
                label(c, labels::SERVICE).unwrap_or_default().to_string(),
                replica_of(c),
            )
        });
        Ok(containers)
    }

    async fn lease_networks(&self, key: &str) -> Result<Vec<String>, BackendError> {
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(label_filter(&format!("{}={key}", labels::LEASE))),
            }))
            .await
            .map_err(|e| engine("list networks", &e))?;
        Ok(networks.into_iter().filter_map(|n| n.id).collect())
    }

    async fn lease_volumes(&self, key: &str) -> Result<Vec<String>, BackendError> {
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(label_filter(&format!("{}={key}", labels::LEASE))),
            }))
            .await
            .map_err(|e| engine("list volumes", &e))?;
        Ok(volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    async fn teardown_lease(&self, key: &str) -> Result<(), BackendError> {
        for container in self.lease_containers(key).await? {
            let id = container.id.unwrap_or_default();
            self.remove_container(&id).await?;
        }
        for network in self.lease_networks(key).await? {
            match self.docker.remove_network(&network).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(engine(format!("remove network {network}"), &e)),
            }
        }
        for volume in self.lease_volumes(key).await? {
            self.remove_volume(&volume).await?;
        }
        Ok(())
    }

    async fn lease_status(&self, lease: &LeaseId) -> Result<LeaseStatus, BackendError> {
        let containers = self.lease_containers(&lease_key(lease)).await?;
        if containers.is_empty() {
            return Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            });
        }
        let mut services: BTreeMap<String, ServiceStatus> = BTreeMap::new();
        for container in &containers {
            let name = label(container, labels::SERVICE).unwrap_or_default();
            let index = replica_of(container);
            let service = services
                .entry(name.to_string())
                .or_insert_with(|| ServiceStatus {
                    name: name.to_string(),
                    total: 0,
                    ready: 0,
                    uris: Vec::new(),
                    forwarded_ports: Vec::new(),
                    replicas: Vec::new(),
                });
            let total = label(container, labels::REPLICAS)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            service.total = service.total.max(total);
            let state = replica_state(container.state);
            if state == ReplicaState::Running {
                service.ready += 1;
            }
            service.replicas.push(ReplicaStatus {
                index,
                id: container.id.clone().unwrap_or_default(),
                state,
                detail: container.status.clone().unwrap_or_default(),
            });
            let exposed = parse_expose_label(label(container, labels::EXPOSE).unwrap_or(""));
            let mut seen = BTreeSet::new();
            for port in container.ports.iter().flatten() {
                let Some(host_port) = port.public_port else {
                    continue;
                };
                let proto = match port.typ {
                    Some(bollard::models::PortSummaryTypeEnum::UDP) => Protocol::Udp,
                    _ => Protocol::Tcp,
                };
                // An engine lists a port once per address family it is bound on.
                if !seen.insert((port.private_port, proto.as_str(), host_port)) {
                    continue;
                }
                let external_port = exposed
                    .get(&(port.private_port, proto_suffix(proto)))
                    .copied()
                    .unwrap_or(u32::from(port.private_port));
                if proto == Protocol::Tcp && external_port == 80 {
                    service.uris.push(format!(
                        "http://{}:{host_port}",
                        self.config.public_hostname
                    ));
                }
                service.forwarded_ports.push(ForwardedPort {
                    replica: index,
                    port: port.private_port,
                    external_port,
                    proto: proto.as_str().to_string(),
                    host: self.config.public_hostname.clone(),
                    host_port,
                });
            }
        }
        Ok(LeaseStatus { services })
    }

    async fn lease_logs(
        &self,
        lease: &LeaseId,
        options: LogOptions,
    ) -> Result<LogStream, BackendError> {
        let containers = self.lease_containers(&lease_key(lease)).await?;
        if containers.is_empty() {
            return Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            });
        }
        for service in &options.services {
            if !containers
                .iter()
                .any(|c| label(c, labels::SERVICE) == Some(service.as_str()))
            {
                return Err(BackendError::ServiceNotFound {
                    lease: lease.to_string(),
                    service: service.clone(),
                });
            }
        }
        let mut streams = Vec::new();
        for container in containers {
            let service = label(&container, labels::SERVICE)
                .unwrap_or_default()
                .to_string();
            if !options.services.is_empty() && !options.services.contains(&service) {
                continue;
            }
            let replica = replica_of(&container);
            let id = container.id.clone().unwrap_or_default();
            let logs = self.docker.logs(
                &id,
                Some(LogsOptions {
                    follow: options.follow,
                    stdout: true,
                    stderr: true,
                    tail: options
                        .tail
                        .map_or_else(|| "all".to_string(), |n| n.to_string()),
                    ..Default::default()
                }),
            );
            let operation = format!("read logs of {}", summary_name(&container));
            let lines = logs.flat_map(move |chunk| {
                let lines: Vec<Result<LogLine, BackendError>> = match chunk {
                    Ok(output) => {
                        let (source, bytes) = match output {
                            bollard::container::LogOutput::StdErr { message } => {
                                (LogSource::Stderr, message)
                            }
                            bollard::container::LogOutput::StdOut { message }
                            | bollard::container::LogOutput::Console { message }
                            | bollard::container::LogOutput::StdIn { message } => {
                                (LogSource::Stdout, message)
                            }
                        };
                        // The json-file driver stores one line per entry; a line over 16 KiB
                        // arrives in several entries and shows as several lines.
                        String::from_utf8_lossy(&bytes)
                            .split_terminator('\n')
                            .map(|line| {
                                Ok(LogLine {
                                    service: service.clone(),
                                    replica,
                                    source,
                                    message: line.strip_suffix('\r').unwrap_or(line).to_string(),
                                })
                            })
                            .collect()
                    }
                    Err(e) => vec![Err(engine(operation.clone(), &e))],
                };
                stream::iter(lines)
            });
            streams.push(lines.boxed());
        }
        if options.follow {
            Ok(stream::select_all(streams).boxed())
        } else {
            // Replica after replica: each one's lines stay together.
            Ok(stream::iter(streams).flatten().boxed())
        }
    }

    async fn lease_events(
        &self,
        lease: &LeaseId,
        follow: bool,
    ) -> Result<EventStream, BackendError> {
        let key = lease_key(lease);
        if self.lease_containers(&key).await?.is_empty()
            && self.lease_networks(&key).await?.is_empty()
        {
            return Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            });
        }
        let mut filters = label_filter(&format!("{}={key}", labels::LEASE));
        filters.insert("type".to_string(), vec!["container".to_string()]);
        let until = if follow {
            None
        } else {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            // Up to and including the current second.
            Some((now + 1).to_string())
        };
        let events = self.docker.events(Some(EventsOptions {
            // From the oldest event the engine still keeps.
            since: Some("0".to_string()),
            until,
            filters: Some(filters),
        }));
        Ok(events
            .filter_map(|event| async move {
                match event {
                    Ok(event) => lease_event(event).map(Ok),
                    Err(e) => Some(Err(engine("read events", &e))),
                }
            })
            .boxed())
    }

    async fn deployed_leases(&self) -> Result<Vec<DeployedLease>, BackendError> {
        Ok(self
            .lease_workloads()
            .await?
            .into_iter()
            .map(|w| w.deployed)
            .collect())
    }

    /// Every lease with anything on the engine, with its containers counted per service and
    /// state (one listing of each kind of object).
    async fn lease_workloads(&self) -> Result<Vec<LeaseWorkloads>, BackendError> {
        let any = label_filter(labels::LEASE);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(any.clone()),
                ..Default::default()
            }))
            .await
            .map_err(|e| engine("list containers", &e))?;
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(any.clone()),
            }))
            .await
            .map_err(|e| engine("list networks", &e))?;
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptions { filters: Some(any) }))
            .await
            .map_err(|e| engine("list volumes", &e))?
            .volumes
            .unwrap_or_default();

        let mut leases: BTreeMap<String, LeaseWorkloads> = BTreeMap::new();
        let all_labels = containers
            .iter()
            .filter_map(|c| Some((c.labels.as_ref()?, Some(c.state))))
            .chain(
                networks
                    .iter()
                    .filter_map(|n| Some((n.labels.as_ref()?, None))),
            )
            .chain(volumes.iter().map(|v| (&v.labels, None)));
        for (object_labels, container_state) in all_labels {
            let Some(lease) = lease_from_labels(object_labels) else {
                continue;
            };
            let workloads = leases
                .entry(lease_key(&lease))
                .or_insert_with(|| LeaseWorkloads {
                    deployed: DeployedLease {
                        lease,
                        group: None,
                        manifest_hash: None,
                        services: Vec::new(),
                    },
                    replicas: Some(BTreeMap::new()),
                });
            let entry = &mut workloads.deployed;
            // What follows only containers carry (volumes name their service too).
            if !object_labels.contains_key(labels::REPLICA) {
                continue;
            }
            if let Some(group) = object_labels.get(labels::GROUP) {
                entry.group = Some(group.clone());
            }
            if let Some(hash) = object_labels.get(labels::MANIFEST_HASH) {
                entry.manifest_hash = Some(hash.clone());
            }
            if let Some(service) = object_labels.get(labels::SERVICE) {
                if !entry.services.contains(service) {
                    entry.services.push(service.clone());
                }
                if let (Some(state), Some(counts)) = (container_state, &mut workloads.replicas) {
                    let count = counts.entry(service.clone()).or_default();
                    count.existing += 1;
                    if self.counts_as_running(state) {
                        count.running += 1;
                    }
                }
            }
        }
        let mut out: Vec<LeaseWorkloads> = leases.into_values().collect();
        for lease in &mut out {
            lease.deployed.services.sort();
        }
        out.sort_by(|a, b| a.deployed.lease.cmp(&b.deployed.lease));
        Ok(out)
    }

    /// Whether a container in `state` is as the deploy left it: running, or in the hands of
    /// the engine's restart policy (restarting; with `on-failure`, also exited, which is the
    /// policy's verdict: a clean exit or retries used up). A container created and never
    /// started, stopped behind the provider's back, paused or dead is not: a deploy starts it.
    fn counts_as_running(&self, state: Option<ContainerSummaryStateEnum>) -> bool {
        match state {
            Some(ContainerSummaryStateEnum::RUNNING)
            | Some(ContainerSummaryStateEnum::RESTARTING) => true,
            Some(ContainerSummaryStateEnum::EXITED) => {
                matches!(self.config.restart_policy, RestartPolicy::OnFailure { .. })
            }
            _ => false,
        }
    }
}

impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn deploy<'a>(
        &'a self,
        lease: &'a LeaseId,
        group: &'a Group,
    ) -> BoxFuture<'a, Result<DeployOutcome, BackendError>> {
        Box::pin(self.deploy_group(lease, group))
    }

    fn status<'a>(
        &'a self,
        lease: &'a LeaseId,
    ) -> BoxFuture<'a, Result<LeaseStatus, BackendError>> {
        Box::pin(self.lease_status(lease))
    }

    fn logs<'a>(
        &'a self,
        lease: &'a LeaseId,
        options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, BackendError>> {
        Box::pin(self.lease_logs(lease, options))
    }

    fn events<'a>(
        &'a self,
        lease: &'a LeaseId,
        follow: bool,
    ) -> BoxFuture<'a, Result<EventStream, BackendError>> {
        Box::pin(self.lease_events(lease, follow))
    }

    fn teardown<'a>(&'a self, lease: &'a LeaseId) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { self.teardown_lease(&lease_key(lease)).await })
    }

    fn leases(&self) -> BoxFuture<'_, Result<Vec<DeployedLease>, BackendError>> {
        Box::pin(self.deployed_leases())
    }

    fn workloads(&self) -> BoxFuture<'_, Result<Vec<LeaseWorkloads>, BackendError>> {
        Box::pin(self.lease_workloads())
    }
}

/// The short, name-safe key of a lease: 24 hex digits of the SHA-256 of its id as Akash prints
/// it. Names of its objects start with `kumo-{key}`; the `kumo.lease` label holds it.
pub fn lease_key(lease: &LeaseId) -> String {
    let digest = Sha256::digest(lease.to_string().as_bytes());
    hex::encode(&digest[..12])
}

pub fn network_name(key: &str) -> String {
    format!("kumo-{key}")
}

pub fn container_name(key: &str, service: &str, replica: u32) -> String {
    format!("kumo-{key}-{service}-{replica}")
}

pub fn volume_name(key: &str, service: &str, replica: u32, storage: &str) -> String {
    format!("kumo-{key}-{service}-{replica}-{storage}")
}

fn lease_labels(lease: &LeaseId, key: &str) -> HashMap<String, String> {
    HashMap::from([
        (labels::LEASE.to_string(), key.to_string()),
        (labels::OWNER.to_string(), lease.owner.to_string()),
        (labels::DSEQ.to_string(), lease.dseq.to_string()),
        (labels::GSEQ.to_string(), lease.gseq.to_string()),
        (labels::OSEQ.to_string(), lease.oseq.to_string()),
        (labels::PROVIDER.to_string(), lease.provider.to_string()),
    ])
}

fn lease_from_labels(object_labels: &HashMap<String, String>) -> Option<LeaseId> {
    let get = |name: &str| object_labels.get(name);
    let lease = LeaseId {
        owner: Addr::unchecked(get(labels::OWNER)?),
        dseq: get(labels::DSEQ)?.parse().ok()?,
        gseq: get(labels::GSEQ)?.parse().ok()?,
        oseq: get(labels::OSEQ)?.parse().ok()?,
        provider: Addr::unchecked(get(labels::PROVIDER)?),
    };
    // Labels that do not hash back to their key were not written by this backend.
    (get(labels::LEASE).map(String::as_str) == Some(lease_key(&lease).as_str())).then_some(lease)
}

fn label_filter(value: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![value.to_string()])])
}

fn label<'c>(container: &'c ContainerSummary, name: &str) -> Option<&'c str> {
    container.labels.as_ref()?.get(name).map(String::as_str)
}

fn replica_of(container: &ContainerSummary) -> u32 {
    label(container, labels::REPLICA)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn summary_name(container: &ContainerSummary) -> String {
    container
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

fn replica_state(state: Option<ContainerSummaryStateEnum>) -> ReplicaState {
    match state {
        Some(ContainerSummaryStateEnum::CREATED) => ReplicaState::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => ReplicaState::Running,
        Some(ContainerSummaryStateEnum::RESTARTING) => ReplicaState::Restarting,
        Some(ContainerSummaryStateEnum::PAUSED) => ReplicaState::Paused,
        Some(ContainerSummaryStateEnum::EXITED) => ReplicaState::Exited,
        Some(ContainerSummaryStateEnum::DEAD) => ReplicaState::Dead,
        Some(ContainerSummaryStateEnum::REMOVING) => ReplicaState::Removing,
        _ => ReplicaState::Unknown,
    }
}

fn lease_event(event: EventMessage) -> Option<LeaseEvent> {
    let actor = event.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    let service = attributes.get(labels::SERVICE)?.clone();
    let action = event.action.unwrap_or_default();
    // `exec_start: sh -c ...` and the like: the command is detail, not the reason.
    let (reason, detail) = match action.split_once(": ") {
        Some((reason, detail)) => (reason.to_string(), detail.to_string()),
        None => (action, String::new()),
    };
    let message = match attributes.get("exitCode") {
        Some(code) => format!("exit code {code}"),
        None => detail,
    };
    Some(LeaseEvent {
        time: event.time.unwrap_or(0),
        service,
        replica: attributes.get(labels::REPLICA).and_then(|r| r.parse().ok()),
        reason,
        message,
    })
}

/// The group's hash: SHA-256 of its sorted manifest JSON, as Akash hashes a whole manifest.
pub fn group_hash(group: &Group) -> String {
    hex::encode(kumo_sdl::Manifest(vec![group.clone()]).version())
}

/// Everything one service's containers are built from, hashed.
fn spec_hash(key: &str, service: &Service, config: &DockerConfig) -> String {
    let mut hasher = Sha256::new();
    hasher.update(SPEC_VERSION);
    hasher.update([0]);
    hasher.update(key);
    hasher.update([0]);
    // Field order is declaration order: the same service always serializes the same.
    hasher.update(serde_json::to_vec(service).unwrap_or_default());
    hasher.update([0]);
    hasher.update(config.host_ip.to_string());
    hasher.update([0]);
    hasher.update(&config.public_hostname);
    hasher.update([0]);
    hasher.update(format!("{:?}", config.restart_policy));
    if gpu_units(service) > 0 {
        // Containers of GPU services built before they got their GPUs are replaced; the
        // hashes of all others stay as they were.
        hasher.update([0]);
        hasher.update(GPU_DRIVER);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Akash's rules for what may be deployed, checked again here: the manifest comes from the
/// tenant, and its hash only proves the tenant wrote it, not that an SDL parser accepted it.
pub fn validate_group(group: &Group) -> Result<(), BackendError> {
    let invalid = |reason: String| BackendError::InvalidManifest {
        group: group.name.clone(),
        reason,
    };
    if group.services.is_empty() {
        return Err(invalid("it has no services".to_string()));
    }
    let mut names = BTreeSet::new();
    for service in &group.services {
        let name = &service.name;
        if !crate::backend::is_dns_label(name) {
            return Err(invalid(format!(
                "service name {name:?} is not a DNS label (lowercase letters, digits and '-', \
                 at most 63)"
            )));
        }
        if !names.insert(name) {
            return Err(invalid(format!("service {name:?} appears twice")));
        }
        if service.count == 0 || service.count > MAX_REPLICAS {
            return Err(invalid(format!(
                "service {name:?} asks for {} replicas (1 to {MAX_REPLICAS})",
                service.count
            )));
        }
        if service.image.trim().is_empty() || service.image.chars().any(char::is_whitespace) {
            return Err(invalid(format!(
                "service {name:?} has an invalid image {:?}",
                service.image
            )));
        }
        resource_value(&service.resources.cpu.units.val)
            .ok_or_else(|| invalid(format!("service {name:?}: bad CPU units")))?;
        resource_value(&service.resources.memory.size.val)
            .ok_or_else(|| invalid(format!("service {name:?}: bad memory size")))?;
        let gpus = resource_value(&service.resources.gpu.units.val)
            .ok_or_else(|| invalid(format!("service {name:?}: bad GPU units")))?;
        if gpus > 0 {
            let vendors = crate::backend::gpu_vendors(service);
            if vendors != [GPU_DRIVER] {
                return Err(invalid(format!(
                    "service {name:?} asks for {gpus} GPU(s) of vendor(s) {vendors:?}; the \
                     Docker backend runs NVIDIA GPUs only"
                )));
            }
            if i64::try_from(gpus).is_err() {
                return Err(invalid(format!("service {name:?}: bad GPU units")));
            }
        }
        for storage in &service.resources.storage {
            resource_value(&storage.size.val).ok_or_else(|| {
                invalid(format!(
                    "service {name:?}: bad size of storage {:?}",
                    storage.name
                ))
            })?;
        }
        for env in service.env.iter().flatten() {
            let var = env.split('=').next().unwrap_or("");
            if var.is_empty() || var.contains('\0') || env.contains('\0') {
                return Err(invalid(format!(
                    "service {name:?} has an invalid environment entry {env:?}"
                )));
            }
        }
        for expose in &service.expose {
            if expose.port == 0 || expose.port > 65535 || expose.external_port() > 65535 {
                return Err(invalid(format!(
                    "service {name:?} exposes an invalid port {} (as {})",
                    expose.port,
                    expose.external_port()
                )));
            }
        }
        let mut mounts = BTreeSet::new();
        let params = service.params.as_ref().and_then(|p| p.storage.as_ref());
        for param in params.into_iter().flatten() {
            let Some(storage) = service
                .resources
                .storage
                .iter()
                .find(|s| s.name == param.name)
            else {
                return Err(invalid(format!(
                    "service {name:?} mounts storage {:?} that its resources do not have",
                    param.name
                )));
            };
            if !crate::backend::is_dns_label(&storage.name) {
                return Err(invalid(format!(
                    "service {name:?}: storage name {:?} is not a DNS label",
                    storage.name
                )));
            }
            let mount = &param.mount;
            if !mount.starts_with('/')
                || mount == "/"
                || mount.contains('\0')
                || mount.split('/').any(|part| part == "..")
            {
                return Err(invalid(format!(
                    "service {name:?}: mount path {mount:?} is not an absolute path below /"
                )));
            }
            if !mounts.insert(mount.trim_end_matches('/')) {
                return Err(invalid(format!(
                    "service {name:?} mounts two volumes at {mount:?}"
                )));
            }
            let class = storage_attribute(storage, "class");
            if class == Some("ram") && storage_attribute(storage, "persistent") == Some("true") {
                return Err(invalid(format!(
                    "service {name:?}: storage {:?} of class ram cannot be persistent",
                    storage.name
                )));
            }
        }
    }
    Ok(())
}

fn resource_value(val: &str) -> Option<u64> {
    val.parse().ok()
}

/// The engine's device driver for NVIDIA GPUs (the NVIDIA Container Toolkit's), and the only
/// GPU vendor this backend runs.
const GPU_DRIVER: &str = "nvidia";

/// GPUs per replica (0 when none or unreadable: [`validate_group`] refuses those).
fn gpu_units(service: &Service) -> u64 {
    resource_value(&service.resources.gpu.units.val).unwrap_or(0)
}

/// The GPUs a replica's container gets, as `docker run --gpus <units>` asks for them: a device
/// request to the engine's `nvidia` driver for `units` GPUs with the `gpu` capability. `None`
/// when the service asks for none. Needs the NVIDIA Container Toolkit on the host.
pub fn gpu_device_requests(service: &Service) -> Option<Vec<DeviceRequest>> {
    let units = i64::try_from(gpu_units(service)).ok().filter(|u| *u > 0)?;
    Some(vec![DeviceRequest {
        driver: Some(GPU_DRIVER.to_string()),
        count: Some(units),
        capabilities: Some(vec![vec!["gpu".to_string()]]),
        ..Default::default()
    }])
}

fn storage_attribute<'s>(storage: &'s kumo_sdl::manifest::Storage, key: &str) -> Option<&'s str> {
    storage
        .attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

/// The named volumes of one replica: (volume name, storage name, persistent). Only mounted
/// storage that is not `ram` gets a volume; unmounted storage is the container's own
/// filesystem (Docker cannot cap its size on most storage drivers, so it is not enforced).
fn volumes_of(key: &str, service: &Service, replica: u32) -> Vec<(String, String, bool)> {
    let params = service.params.as_ref().and_then(|p| p.storage.as_ref());
    params
        .into_iter()
        .flatten()
        .filter_map(|param| {
            let storage = service
                .resources
                .storage
                .iter()
                .find(|s| s.name == param.name)?;
            if storage_attribute(storage, "class") == Some("ram") {
                return None;
            }
            let persistent = storage_attribute(storage, "persistent") == Some("true");
            Some((
                volume_name(key, &service.name, replica, &storage.name),
                storage.name.clone(),
                persistent,
            ))
        })
        .collect()
}

/// The service's environment: the manifest's entries, then Akash's `AKASH_*` variables that the
/// manifest does not set (as Akash's builder does: the tenant's value wins).
pub fn service_env(lease: &LeaseId, service: &Service, public_hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = BTreeSet::new();
    for entry in service.env.iter().flatten() {
        let (name, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        set.insert(name.to_string());
        // A bare `NAME` is an empty variable, as in Kubernetes (Docker would unset it).
        env.push(format!("{name}={value}"));
    }
    let akash = [
        ("AKASH_GROUP_SEQUENCE", lease.gseq.to_string()),
        ("AKASH_DEPLOYMENT_SEQUENCE", lease.dseq.to_string()),
        ("AKASH_ORDER_SEQUENCE", lease.oseq.to_string()),
        ("AKASH_OWNER", lease.owner.to_string()),
        ("AKASH_PROVIDER", lease.provider.to_string()),
        ("AKASH_CLUSTER_PUBLIC_HOSTNAME", public_hostname.to_string()),
    ];
    for (name, value) in akash {
        if !set.contains(name) {
            env.push(format!("{name}={value}"));
        }
    }
    env
}

/// `repo[:tag]` or `repo@digest` → (repo, tag or digest); no tag means `latest`.
pub fn split_reference(image: &str) -> (&str, &str) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, digest);
    }
    // A ':' after the last '/' is a tag; before it, a registry port.
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (&image[..name_start + i], &image[name_start + i + 1..]),
        None => (image, "latest"),
    }
}

fn registry_credentials(credentials: &ImageCredentials) -> DockerCredentials {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    DockerCredentials {
        username: non_empty(&credentials.username),
        password: non_empty(&credentials.password),
        email: non_empty(&credentials.email),
        serveraddress: non_empty(&credentials.host),
        ..Default::default()
    }
}

fn proto_suffix(proto: Protocol) -> &'static str {
    match proto {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

fn parse_expose_label(value: &str) -> HashMap<(u16, &'static str), u32> {
    value
        .split(',')
        .filter_map(|item| {
            let (port, external) = item.split_once('=')?;
            let (port, proto) = port.split_once('/')?;
            let proto = match proto {
                "tcp" => proto_suffix(Protocol::Tcp),
                "udp" => proto_suffix(Protocol::Udp),
                _ => return None,
            };
            Some(((port.parse().ok()?, proto), external.parse().ok()?))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn container_body(
    lease: &LeaseId,
    key: &str,
    group: &Group,
    service: &Service,
    replica: u32,
    spec: &str,
    manifest_hash: &str,
    config: &DockerConfig,
) -> Result<ContainerCreateBody, BackendError> {
    let network = network_name(key);
    let mut exposed_ports = BTreeSet::new();
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut expose_label = Vec::new();
    for expose in &service.expose {
        let port = format!("{}/{}", expose.port, proto_suffix(expose.proto));
        exposed_ports.insert(port.clone());
        if expose.global && !port_bindings.contains_key(&port) {
            expose_label.push(format!("{port}={}", expose.external_port()));
            // No host port: the engine picks a free one, which status reports.
            port_bindings.insert(
                port,
                Some(vec![PortBinding {
                    host_ip: Some(config.host_ip.to_string()),
                    host_port: None,
                }]),
            );
        }
    }

    let resources = &service.resources;
    let millicpu = resource_value(&resources.cpu.units.val).unwrap_or(0);
    let mut memory = resource_value(&resources.memory.size.val).unwrap_or(0);
    let mut mounts = Vec::new();
    let params = service.params.as_ref().and_then(|p| p.storage.as_ref());
    for param in params.into_iter().flatten() {
        let Some(storage) = resources.storage.iter().find(|s| s.name == param.name) else {
            continue;
        };
        let size = resource_value(&storage.size.val).unwrap_or(0);
        if storage_attribute(storage, "class") == Some("ram") {
            // RAM volumes count against the memory limit, as on Akash.
            memory = memory.saturating_add(size);
            mounts.push(Mount {
                target: Some(param.mount.clone()),
                typ: Some(MountType::TMPFS),
                read_only: Some(param.read_only),
                tmpfs_options: Some(MountTmpfsOptions {
                    size_bytes: i64::try_from(size).ok().filter(|s| *s > 0),
                    ..Default::default()
                }),
                ..Default::default()
            });
        } else {
            mounts.push(Mount {
                target: Some(param.mount.clone()),
                source: Some(volume_name(key, &service.name, replica, &storage.name)),
                typ: Some(MountType::VOLUME),
                read_only: Some(param.read_only),
                ..Default::default()
            });
        }
    }
    let memory = i64::try_from(memory).ok().filter(|m| *m > 0);
    let nano_cpus = i64::try_from(millicpu.saturating_mul(1_000_000))
        .ok()
        .filter(|n| *n > 0);

    let mut container_labels = lease_labels(lease, key);
    for (name, value) in [
        (labels::GROUP, group.name.clone()),
        (labels::SERVICE, service.name.clone()),
        (labels::REPLICA, replica.to_string()),
        (labels::REPLICAS, service.count.to_string()),
        (labels::SPEC_HASH, spec.to_string()),
        (labels::MANIFEST_HASH, manifest_hash.to_string()),
        (labels::EXPOSE, expose_label.join(",")),
    ] {
        container_labels.insert(name.to_string(), value);
    }

    let restart_policy = match config.restart_policy {
        RestartPolicy::UnlessStopped => DockerRestartPolicy {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: None,
        },
        RestartPolicy::OnFailure { max_retries } => DockerRestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(i64::from(max_retries)),
        },
    };

    Ok(ContainerCreateBody {
        image: Some(service.image.clone()),
        hostname: Some(format!("{}-{replica}", service.name)),
        // Kubernetes' command/args: `command` replaces the entrypoint, `args` the image's CMD.
        entrypoint: service.command.clone().filter(|c| !c.is_empty()),
        cmd: service.args.clone().filter(|a| !a.is_empty()),
        env: Some(service_env(lease, service, &config.public_hostname)),
        exposed_ports: Some(exposed_ports.into_iter().collect()),
        labels: Some(container_labels),
        host_config: Some(HostConfig {
            nano_cpus,
            memory,
            // No swap beyond the memory limit.
            memory_swap: memory,
            mounts: Some(mounts),
            device_requests: gpu_device_requests(service),
            network_mode: Some(network.clone()),
            port_bindings: Some(port_bindings),
            restart_policy: Some(restart_policy),
            // Akash's pods run with allowPrivilegeEscalation false.
            security_opt: Some(vec!["no-new-privileges".to_string()]),
            // Bounded logs: a tenant must not fill the provider's disk through stdout.
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".to_string()),
                config: Some(HashMap::from([
                    ("max-size".to_string(), "10m".to_string()),
                    ("max-file".to_string(), "3".to_string()),
                ])),
            }),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network,
                EndpointSettings {
                    // Other services of the lease reach this one by its name.
                    aliases: Some(vec![service.name.clone()]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    })
}

fn is_not_found(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn is_removal_in_progress(e: &DockerError) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code: 409, message }
        if message.contains("already in progress"))
}

/// The engine's own message when it gave one, else the client's error.
fn describe(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (HTTP {status_code})"),
        DockerError::DockerStreamError { error } => error.clone(),
        e => e.to_string(),
    }
}

fn engine(operation: impl Into<String>, e: &DockerError) -> BackendError {
    BackendError::Engine {
        operation: format!("docker: {}", operation.into()),
        reason: describe(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Local images: the demo and the tests cannot pull, so they build `FROM scratch` images from
// static binaries compiled in this workspace.

#[derive(Debug, thiserror::Error)]
pub enum ImageBuildError {
    #[error("cargo could not build {package} for {target}: {reason}\n{output}")]
    Cargo {
        package: String,
        target: String,
        reason: String,
        output: String,
    },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid image: {0}")]
    Invalid(String),
    #[error("the Docker engine could not build {tag}: {reason}")]
    Engine { tag: String, reason: String },
}

/// A `FROM scratch` image whose only file is a static executable, which is its entrypoint.
#[derive(Debug, Clone)]
pub struct ScratchImage<'a> {
    /// e.g. `kumo/hello:latest`.
    pub tag: &'a str,
    /// Absolute path of the executable in the image, e.g. `/hello`.
    pub path: &'a str,
    pub executable: &'a [u8],
    /// Ports the image declares (`EXPOSE`), TCP.
    pub expose: &'a [u16],
}

/// Builds `image` on the engine from an in-memory build context (a Dockerfile and the
/// executable, as a tar), with the classic builder every engine has. Returns the image id.
pub async fn build_scratch_image(
    docker: &Docker,
    image: &ScratchImage<'_>,
) -> Result<String, ImageBuildError> {
    let path = image.path;
    let safe_path = path.starts_with('/')
        && path.len() > 1
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        && !path.split('/').any(|p| p == "..");
    if !safe_path {
        return Err(ImageBuildError::Invalid(format!(
            "executable path {path:?} must be absolute and plain"
        )));
    }
    let mut dockerfile = format!("FROM scratch\nCOPY app {path}\nENTRYPOINT [\"{path}\"]\n");
    for port in image.expose {
        dockerfile.push_str(&format!("EXPOSE {port}/tcp\n"));
    }
    let context = tar_context(&[
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("app", image.executable, 0o755),
    ])
    .map_err(|e| ImageBuildError::Invalid(format!("build context: {e}")))?;

    let engine_error = |reason: String| ImageBuildError::Engine {
        tag: image.tag.to_string(),
        reason,
    };
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_string(),
        t: Some(image.tag.to_string()),
        rm: true,
        forcerm: true,
        ..Default::default()
    };
    let mut build = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(step) = build.next().await {
        step.map_err(|e| engine_error(describe(&e)))?;
    }
    let built = docker
        .inspect_image(image.tag)
        .await
        .map_err(|e| engine_error(describe(&e)))?;
    built
        .id
        .ok_or_else(|| engine_error("the built image has no id".to_string()))
}

fn tar_context(files: &[(&str, &[u8], u32)]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        builder.append_data(&mut header, name, *data)?;
    }
    builder.into_inner()
}

/// The Rust target of static Linux binaries for this machine's architecture.
pub fn static_target() -> String {
    format!("{}-unknown-linux-musl", std::env::consts::ARCH)
}

/// Compiles `package`'s binary `bin` of the workspace at `workspace` as a static executable
/// (release, [`static_target`]) into `target_dir`, and returns its path. Blocking.
pub fn build_static_binary(
    workspace: &Path,
    package: &str,
    bin: &str,
    target_dir: &Path,
) -> Result<PathBuf, ImageBuildError> {
    let target = static_target();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let failed = |reason: String, output: String| ImageBuildError::Cargo {
        package: package.to_string(),
        target: target.clone(),
        reason,
        output,
    };
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "--package",
            package,
            "--bin",
            bin,
        ])
        .args(["--target", &target])
        .arg("--target-dir")
        .arg(target_dir)
        .output()
        .map_err(|e| failed(format!("cannot run cargo: {e}"), String::new()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let reason = if stderr.contains("target may not be installed") {
            format!("the target is missing: `rustup target add {target}`")
        } else {
            format!("cargo exited with {}", output.status)
        };
        return Err(failed(reason, stderr));
    }
    Ok(target_dir.join(&target).join("release").join(bin))
}

/// Builds [`HELLO_IMAGE`] from `images/hello` of the workspace at `workspace`, compiling into
/// `target_dir`. Returns the image id.
pub async fn build_hello_image(
    docker: &Docker,
    workspace: &Path,
    target_dir: &Path,
) -> Result<String, ImageBuildError> {
    let (workspace, target_dir) = (workspace.to_path_buf(), target_dir.to_path_buf());
    let binary = tokio::task::spawn_blocking(move || {
        build_static_binary(&workspace, "kumo-hello", "hello", &target_dir)
    })
    .await
    .map_err(|e| ImageBuildError::Invalid(format!("build task: {e}")))??;
    let executable = std::fs::read(&binary).map_err(|source| ImageBuildError::Io {
        path: binary.clone(),
        source,
    })?;
    build_scratch_image(
        docker,
        &ScratchImage {
            tag: HELLO_IMAGE,
            path: "/hello",
            executable: &executable,
            expose: &[8080],
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease() -> LeaseId {
        LeaseId {
            owner: Addr::unchecked("kumo1tenant"),
            dseq: 42,
            gseq: 1,
            oseq: 2,
            provider: Addr::unchecked("kumo1provider"),
        }
    }

    fn group(sdl: &str) -> Group {
        kumo_sdl::parse(sdl).unwrap().manifest.0.remove(0)
    }

    const WEB: &str = r#"
version: "2.0"
services:
  web:
    image: kumo/hello:latest
    env: [GREETING=hi, AKASH_OWNER=overridden, BARE]
    command: [/hello]
    args: [--flag]
    expose:
      - port: 8080
        as: 80
        to: [{global: true}]
      - port: 9000
        to: [{service: web}]
    params:
      storage:
        data: {mount: /data}
        cache: {mount: /cache}
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.25}
        memory: {size: 128Mi}
        storage:
          - size: 256Mi
          - name: data
            size: 1Gi
            attributes: {persistent: true, class: beta2}
          - name: cache
            size: 64Mi
            attributes: {class: ram}
  placement:
    local:
      pricing: {web: {denom: ukumo, amount: 100}}
deployment:
  web: {local: {profile: web, count: 2}}
"#;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(split_reference("nginx"), ("nginx", "latest"));
        assert_eq!(split_reference("nginx:1.25"), ("nginx", "1.25"));
        assert_eq!(
            split_reference("127.0.0.1:5000/kumo/hello"),
            ("127.0.0.1:5000/kumo/hello", "latest")
        );
        assert_eq!(
            split_reference("registry:5000/a/b:v2"),
            ("registry:5000/a/b", "v2")
        );
        assert_eq!(split_reference("a/b@sha256:abcd"), ("a/b", "sha256:abcd"));
    }

    #[test]
    fn env_keeps_the_tenants_values_and_adds_akash_variables() {
        let g = group(WEB);
        let env = service_env(&lease(), &g.services[0], "provider.example");
        assert_eq!(env[..3], ["GREETING=hi", "AKASH_OWNER=overridden", "BARE="]);
        for expected in [
            "AKASH_GROUP_SEQUENCE=1",
            "AKASH_DEPLOYMENT_SEQUENCE=42",
            "AKASH_ORDER_SEQUENCE=2",
            "AKASH_PROVIDER=kumo1provider",
            "AKASH_CLUSTER_PUBLIC_HOSTNAME=provider.example",
        ] {
            assert!(env.contains(&expected.to_string()), "{expected} in {env:?}");
        }
        assert_eq!(
            env.iter().filter(|e| e.starts_with("AKASH_OWNER=")).count(),
            1
        );
    }

    #[test]
    fn container_gets_the_leased_limits_ports_mounts_and_labels() {
        let g = group(WEB);
        let lease = lease();
        let key = lease_key(&lease);
        let config = DockerConfig::default();
        let body = container_body(
            &lease,
            &key,
            &g,
            &g.services[0],
            1,
            "spec",
            "manifest",
            &config,
        )
        .unwrap();
        let host = body.host_config.as_ref().unwrap();
        assert_eq!(host.nano_cpus, Some(250_000_000));
        // 128 MiB of memory plus the 64 MiB RAM volume.
        assert_eq!(host.memory, Some(192 * 1024 * 1024));
        let bindings = host.port_bindings.as_ref().unwrap();
        assert_eq!(bindings.len(), 1, "only the global port is published");
        let binding = &bindings["8080/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            body.exposed_ports.as_ref().unwrap(),
            &vec!["8080/tcp".to_string(), "9000/tcp".to_string()]
        );
        let mounts = host.mounts.as_ref().unwrap();
        let data = mounts
            .iter()
            .find(|m| m.target.as_deref() == Some("/data"))
            .unwrap();
        assert_eq!(data.typ, Some(MountType::VOLUME));
        assert_eq!(data.source, Some(volume_name(&key, "web", 1, "data")));
        let cache = mounts
            .iter()
            .find(|m| m.target.as_deref() == Some("/cache"))
            .unwrap();
        assert_eq!(cache.typ, Some(MountType::TMPFS));
        assert_eq!(
            cache.tmpfs_options.as_ref().unwrap().size_bytes,
            Some(64 * 1024 * 1024)
        );
        assert_eq!(body.entrypoint, Some(vec!["/hello".to_string()]));
        assert_eq!(body.cmd, Some(vec!["--flag".to_string()]));
        let l = body.labels.as_ref().unwrap();
        assert_eq!(l[labels::LEASE], key);
        assert_eq!(l[labels::SERVICE], "web");
        assert_eq!(l[labels::REPLICA], "1");
        assert_eq!(l[labels::REPLICAS], "2");
        assert_eq!(l[labels::EXPOSE], "8080/tcp=80");
        assert_eq!(lease_from_labels(l), Some(lease));
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints[&network_name(&key)].aliases,
            Some(vec!["web".to_string()])
        );
    }

    /// The built `HostConfig` is checked directly: there is no GPU here, and the test engine
    /// has no `nvidia` runtime, so no such container is ever created.
    #[test]
    fn a_gpu_service_gets_its_gpus_through_the_nvidia_driver() {
        let sdl = WEB.replace(
            "memory: {size: 128Mi}",
            "memory: {size: 128Mi}\n        gpu: {units: 2, attributes: {vendor: {nvidia: [{model: a100}]}}}",
        );
        let g = group(&sdl);
        validate_group(&g).unwrap();
        let lease = lease();
        let key = lease_key(&lease);
        let config = DockerConfig::default();
        let service = &g.services[0];
        let body =
            container_body(&lease, &key, &g, service, 0, "spec", "manifest", &config).unwrap();
        let requests = body.host_config.unwrap().device_requests.unwrap();
        assert_eq!(
            requests,
            vec![DeviceRequest {
                driver: Some("nvidia".to_string()),
                count: Some(2),
                capabilities: Some(vec![vec!["gpu".to_string()]]),
                ..Default::default()
            }]
        );

        // Without GPUs, no device request.
        let plain = group(WEB);
        let body = container_body(
            &lease,
            &key,
            &plain,
            &plain.services[0],
            0,
            "spec",
            "manifest",
            &config,
        )
        .unwrap();
        assert_eq!(body.host_config.unwrap().device_requests, None);

        // Another vendor's GPUs cannot run here (the SDL parser knows only NVIDIA's: the
        // manifest is changed by hand, as a tenant could send it).
        let mut amd = g.clone();
        for a in &mut amd.services[0].resources.gpu.attributes {
            a.key = a.key.replace("vendor/nvidia/", "vendor/amd/");
        }
        let err = validate_group(&amd).unwrap_err().to_string();
        assert!(err.contains("NVIDIA GPUs only"), "{err}");
    }

    #[test]
    fn only_mounted_non_ram_storage_gets_volumes() {
        let g = group(WEB);
        let volumes = volumes_of("k", &g.services[0], 0);
        assert_eq!(
            volumes,
            vec![("kumo-k-web-0-data".to_string(), "data".to_string(), true)]
        );
    }

    #[test]
    fn labels_that_do_not_hash_to_their_key_are_not_a_lease() {
        let lease = lease();
        let mut l = lease_labels(&lease, &lease_key(&lease));
        assert_eq!(lease_from_labels(&l), Some(lease));
        l.insert(labels::DSEQ.to_string(), "43".to_string());
        assert_eq!(lease_from_labels(&l), None);
    }

    #[test]
    fn spec_hash_changes_with_the_service_only() {
        let g = group(WEB);
        let config = DockerConfig::default();
        let a = spec_hash("k", &g.services[0], &config);
        assert_eq!(a, spec_hash("k", &g.services[0], &config));
        let mut changed = g.services[0].clone();
        changed.env = Some(vec!["GREETING=bye".to_string()]);
        assert_ne!(a, spec_hash("k", &changed, &config));
    }

    #[test]
    fn manifests_that_akash_would_reject_are_rejected() {
        let base = group(WEB);
        let check = |edit: &dyn Fn(&mut Group)| {
            let mut g = base.clone();
            edit(&mut g);
            validate_group(&g).unwrap_err().to_string()
        };
        assert!(validate_group(&base).is_ok());
        assert!(check(&|g| g.services[0].name = "Web".into()).contains("DNS label"));
        assert!(check(&|g| g.services[0].count = 0).contains("replicas"));
        assert!(check(&|g| g.services[0].image = "a b".into()).contains("image"));
        assert!(check(&|g| g.services[0].expose[0].port = 70000).contains("port"));
        assert!(check(&|g| {
            let storage = g.services[0]
                .params
                .as_mut()
                .unwrap()
                .storage
                .as_mut()
                .unwrap();
            storage[0].mount = "../etc".into();
        })
        .contains("mount path"));
        assert!(check(&|g| {
            let storage = g.services[0]
                .params
                .as_mut()
                .unwrap()
                .storage
                .as_mut()
                .unwrap();
            storage[0].name = "nope".into();
        })
        .contains("do not have"));
        assert!(check(&|g| g.services.push(g.services[0].clone())).contains("twice"));
    }

    #[test]
    fn expose_label_round_trips() {
        let parsed = parse_expose_label("8080/tcp=80,53/udp=5353,bad");
        assert_eq!(parsed[&(8080, "tcp")], 80);
        assert_eq!(parsed[&(53, "udp")], 5353);
        assert_eq!(parsed.len(), 2);
    }

    #[test]
    fn build_context_is_a_tar_of_the_files() {
        let tar = tar_context(&[
            ("Dockerfile", b"FROM scratch\n", 0o644),
            ("app", b"x", 0o755),
        ])
        .unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", "app"]);
    }
}
