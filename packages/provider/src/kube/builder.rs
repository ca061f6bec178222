//! Pure functions from a lease and its manifest group to the Kubernetes objects that run it, after
//! Akash's `cluster/kube/builder`: no I/O, so that every object can be checked in tests.
//!
//! Per lease: a namespace named after a hash of the lease id ([`lease_namespace`], Akash's
//! `LeaseIDToNamespace`), network policies that isolate it, and per service a Deployment (a
//! StatefulSet when it has persistent storage), a ClusterIP Service for its internal ports (and the
//! port the ingress forwards to), a NodePort Service for its global non-HTTP ports, an Ingress for
//! its global HTTP port and a `kubernetes.io/dockerconfigjson` Secret for private images.
//! Every object carries `kumo.network/...` labels (Akash's `akash.network/...`); the namespace
//! also carries the lease id, which is how the agent finds and adopts its leases after a restart.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use cosmwasm_std::Addr;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, LocalObjectReference,
    Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec,
    PodTemplateSpec, ResourceRequirements, SeccompProfile, Secret, SecurityContext, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
    ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::ByteString;
use kumo_sdl::manifest::{Group, HttpOptions, ImageCredentials, Protocol, Service as MService};
use sha2::{Digest, Sha224, Sha256};

use crate::backend::LeaseId;

/// Labels and annotations of the objects the backend creates: Akash's `akash.network/...` ones
/// under `kumo.network/...`.
pub mod labels {
    /// `"true"` on every object the backend owns (Akash `akash.network`): what every list filters on.
    pub const MANAGED: &str = "kumo.network";
    /// The lease's namespace, on every object (Akash `akash.network/namespace`); network policies
    /// select the lease's namespace by it.
    pub const NAMESPACE: &str = "kumo.network/namespace";
    /// The manifest service an object belongs to (Akash `akash.network/manifest-service`).
    pub const SERVICE: &str = "kumo.network/manifest-service";
    /// The lease id, on the namespace (Akash `akash.network/lease.id.*`). Label values are at most
    /// 63 characters, so the owner and provider are labels only when their address fits; the
    /// annotations of the same names always hold all five.
    pub const OWNER: &str = "kumo.network/lease.id.owner";
    pub const DSEQ: &str = "kumo.network/lease.id.dseq";
    pub const GSEQ: &str = "kumo.network/lease.id.gseq";
    pub const OSEQ: &str = "kumo.network/lease.id.oseq";
    pub const PROVIDER: &str = "kumo.network/lease.id.provider";
    /// Namespace annotations written once a deploy has applied every object (by a field manager of
    /// their own, see [`super::MANIFEST_FIELD_MANAGER`]): the deployed group's name, its hash
    /// (Akash `akash.network/manifest.version`, as the Docker backend computes it) and its services.
    pub const GROUP: &str = "kumo.network/group";
    pub const MANIFEST_HASH: &str = "kumo.network/manifest.version";
    pub const SERVICES: &str = "kumo.network/services";
}

/// The field manager of the backend's server-side applies.
pub const FIELD_MANAGER: &str = "kumo-provider";

/// The field manager of the namespace's manifest annotations, applied last: a deploy that fails
/// midway leaves the previous hash in place, so the agent sees that the group still differs.
pub const MANIFEST_FIELD_MANAGER: &str = "kumo-provider-manifest";

/// The network policy that isolates every lease namespace (Akash `akash-deployment-restrictions`).
pub const ISOLATION_POLICY: &str = "kumo-deployment-restrictions";

/// Service names become object names with suffixes: `-np` for the NodePort Service, and a
/// StatefulSet's name plus `-` and a 10-character revision hash must fit a 63-character label.
pub const MAX_SERVICE_NAME: usize = 52;

/// How the provider's cluster is set up, as far as the objects depend on it (Akash's builder
/// `Settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeSettings {
    /// The host name tenants reach NodePorts at: status and `AKASH_CLUSTER_PUBLIC_HOSTNAME`.
    pub public_hostname: String,
    /// Generated ingress hosts are `<hash>.<ingress_domain>` (Akash `DeploymentIngressDomain`);
    /// empty for none (a service then gets an Ingress only for the hosts its manifest accepts).
    pub ingress_domain: String,
    /// The Ingresses' class; `None` for the cluster's default class.
    pub ingress_class: Option<String>,
    /// Write network policies (Akash `NetworkPoliciesEnabled`); without a CNI that enforces them
    /// they do nothing, with one they isolate every lease.
    pub network_policies: bool,
    /// The namespace of the ingress controller (matched by its `kubernetes.io/metadata.name`) ...
    pub ingress_controller_namespace: String,
    /// ... and the labels of its pods: the only pods outside a lease that may connect to it.
    pub ingress_controller_pod_labels: BTreeMap<String, String>,
    /// Where a lease may not connect to: cluster-internal and private address ranges (other
    /// leases, nodes, the API server, cloud metadata). Everything else is allowed.
    pub blocked_egress_cidrs: Vec<String>,
    /// Linux capabilities added back after dropping all of them (e.g. `NET_BIND_SERVICE`,
    /// `CHOWN`, `SETUID`, `SETGID` for images such as nginx that start as root and drop
    /// privileges). Akash's manifests cannot ask for capabilities, so this is the provider's call.
    pub added_capabilities: Vec<String>,
    /// The RuntimeClass of pods that use GPUs (Akash: `nvidia`); `None` for the node's default.
    pub gpu_runtime_class: Option<String>,
}

impl Default for KubeSettings {
    fn default() -> Self {
        Self {
            public_hostname: "localhost".to_string(),
            // `*.localhost` resolves to the loopback address: a local cluster works as is.
            ingress_domain: "localhost".to_string(),
            ingress_class: None,
            network_policies: true,
            ingress_controller_namespace: "ingress-nginx".to_string(),
            ingress_controller_pod_labels: BTreeMap::from([(
                "app.kubernetes.io/name".to_string(),
                "ingress-nginx".to_string(),
            )]),
            // Akash's three private ranges, plus link-local (cloud metadata endpoints) and the
            // shared address space that some clusters use for pods and services.
            blocked_egress_cidrs: [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "169.254.0.0/16",
                "100.64.0.0/10",
            ]
            .map(String::from)
            .to_vec(),
            added_capabilities: Vec::new(),
            gpu_runtime_class: None,
        }
    }
}

/// Why a manifest group cannot become Kubernetes objects. The manifest comes from the tenant and
/// its hash only proves the tenant wrote it, so the builder checks what the API server would
/// reject (or, worse, accept with another meaning) before anything is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the group has no services")]
    NoServices,
    #[error(
        "service name {service:?} is not a DNS label that starts with a letter (lowercase \
         letters, digits and '-', at most {MAX_SERVICE_NAME} characters)"
    )]
    ServiceName { service: String },
    #[error("service {service:?} appears twice")]
    DuplicateService { service: String },
    #[error("service {service:?} asks for {count} replicas (1 to {})", i32::MAX)]
    Replicas { service: String, count: u32 },
    #[error("service {service:?} has an invalid image {image:?}")]
    Image { service: String, image: String },
    #[error("service {service:?}: {resource} {value:?} is not a whole number")]
    ResourceValue {
        service: String,
        resource: String,
        value: String,
    },
    #[error(
        "service {service:?} has an invalid environment entry {entry:?} (the name must be \
         letters, digits, '_', '-' and '.', not starting with a digit)"
    )]
    Env { service: String, entry: String },
    #[error("service {service:?} exposes port {port} as {external}: ports are 1 to 65535")]
    Port {
        service: String,
        port: u32,
        external: u32,
    },
    #[error("service {service:?} mounts storage {storage:?} that its resources do not have")]
    UnknownStorage { service: String, storage: String },
    #[error("service {service:?}: storage name {storage:?} is not a DNS label")]
    StorageName { service: String, storage: String },
    #[error("service {service:?}: mount path {mount:?} is not an absolute path below /")]
    MountPath { service: String, mount: String },
    #[error("service {service:?} mounts two volumes at {mount:?}")]
    DuplicateMount { service: String, mount: String },
    #[error("service {service:?}: storage {storage:?} of class ram cannot be persistent")]
    PersistentRam { service: String, storage: String },
    #[error(
        "service {service:?} asks for {units} GPUs but not of exactly one vendor this backend \
         supports (nvidia, amd): {vendors:?}"
    )]
    GpuVendor {
        service: String,
        units: u64,
        vendors: Vec<String>,
    },
    #[error("service {service:?} accepts host {host:?}, which is not a DNS name")]
    Host { service: String, host: String },
    #[error("service {service:?}: image credentials need a registry host")]
    CredentialsHost { service: String },
}

/// Everything that runs a lease, in the order it is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseObjects {
    pub namespace: Namespace,
    pub network_policies: Vec<NetworkPolicy>,
    /// Image pull secrets, one per service with credentials.
    pub secrets: Vec<Secret>,
    /// Services without persistent storage.
    pub deployments: Vec<Deployment>,
    /// Services with persistent storage: one claim per replica and storage.
    pub stateful_sets: Vec<StatefulSet>,
    /// ClusterIP then NodePort Service of each service that has any.
    pub services: Vec<Service>,
    pub ingresses: Vec<Ingress>,
    /// The namespace again, with only the manifest annotations, applied last by
    /// [`MANIFEST_FIELD_MANAGER`].
    pub manifest_namespace: Namespace,
}

impl LeaseObjects {
    pub fn namespace_name(&self) -> &str {
        self.namespace.metadata.name.as_deref().unwrap_or_default()
    }
}

/// The lease's namespace, as Akash's `LeaseIDToNamespace`: SHA-224 of the lease id as Akash prints
/// it (`owner/dseq/gseq/oseq/provider`), in lower-case base32 (extended hex alphabet) without
/// padding: 45 characters, a valid DNS label.
pub fn lease_namespace(lease: &LeaseId) -> String {
    base32_hex_lower(&Sha224::digest(lease.to_string().as_bytes()))
}

/// The generated host of a service's ingress: `<hash>.<domain>`, one per lease and service.
/// Akash hashes the same input (lease id then service name) into a UUIDv5 (SHA-1); SHA-256 needs
/// no extra crate, and the host lives under the provider's own domain anyway.
pub fn ingress_hostname(lease: &LeaseId, service: &str, domain: &str) -> String {
    let digest = Sha256::digest(format!("{lease}{service}").as_bytes());
    format!("{}.{domain}", base32_hex_lower(&digest[..16]))
}

/// RFC 4648 base32 with the extended hex alphabet, lower case, no padding (Go's
/// `base32.HexEncoding.WithPadding(NoPadding)` then `ToLower`).
fn base32_hex_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The name of a service's image pull secret (Akash `docker-creds-<service>`).
pub fn pull_secret_name(service: &str) -> String {
    format!("docker-creds-{service}")
}

/// The name of a service's NodePort Service (Akash: `<service>-np`).
pub fn node_port_service_name(service: &str) -> String {
    format!("{service}-np")
}

/// The name of the claim template (and volume) of a service's storage (Akash `<service>-<storage>`).
pub fn volume_name(service: &str, storage: &str) -> String {
    format!("{service}-{storage}")
}

/// Builds every object of `group` for `lease`.
pub fn build(
    lease: &LeaseId,
    group: &Group,
    settings: &KubeSettings,
) -> Result<LeaseObjects, BuildError> {
    validate(group)?;
    let ns = lease_namespace(lease);
    let mut objects = LeaseObjects {
        namespace: namespace(lease, &ns),
        network_policies: if settings.network_policies {
            network_policies(&ns, group, settings)
        } else {
            Vec::new()
        },
        secrets: Vec::new(),
        deployments: Vec::new(),
        stateful_sets: Vec::new(),
        services: Vec::new(),
        ingresses: Vec::new(),
        manifest_namespace: manifest_namespace(&ns, group),
    };
    for service in &group.services {
        let credentials = credentials_of(service);
        if let Some(credentials) = credentials {
            objects
                .secrets
                .push(pull_secret(&ns, service, credentials)?);
        }
        let pod = pod_template(lease, &ns, service, settings, credentials.is_some())?;
        let claims = volume_claims(&ns, service);
        if claims.is_empty() {
            objects.deployments.push(deployment(&ns, service, pod));
        } else {
            objects
                .stateful_sets
                .push(stateful_set(&ns, service, pod, claims));
        }
        objects.services.extend(services(&ns, service));
        if let Some(ingress) = ingress(lease, &ns, service, settings) {
            objects.ingresses.push(ingress);
        }
    }
    Ok(objects)
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Akash's rules for what may be deployed, and the API server's for what the objects may hold.
pub fn validate(group: &Group) -> Result<(), BuildError> {
    if group.services.is_empty() {
        return Err(BuildError::NoServices);
    }
    let mut names = BTreeSet::new();
    for service in &group.services {
        let name = service.name.clone();
        if !is_service_name(&name) {
            return Err(BuildError::ServiceName { service: name });
        }
        if !names.insert(service.name.as_str()) {
            return Err(BuildError::DuplicateService { service: name });
        }
        if service.count == 0 || i32::try_from(service.count).is_err() {
            return Err(BuildError::Replicas {
                service: name,
                count: service.count,
            });
        }
        if service.image.trim().is_empty() || service.image.chars().any(char::is_whitespace) {
            return Err(BuildError::Image {
                service: name,
                image: service.image.clone(),
            });
        }
        let resources = &service.resources;
        let mut values = vec![
            ("CPU units".to_string(), &resources.cpu.units.val),
            ("memory size".to_string(), &resources.memory.size.val),
            ("GPU units".to_string(), &resources.gpu.units.val),
        ];
        for storage in &resources.storage {
            values.push((
                format!("size of storage {:?}", storage.name),
                &storage.size.val,
            ));
        }
        for (resource, value) in values {
            if value.parse::<u64>().is_err() {
                return Err(BuildError::ResourceValue {
                    service: name,
                    resource,
                    value: value.clone(),
                });
            }
        }
        gpu_resource(service)?;
        for entry in service.env.iter().flatten() {
            let var = entry.split_once('=').map_or(entry.as_str(), |(n, _)| n);
            if !is_env_name(var) || entry.contains('\0') {
                return Err(BuildError::Env {
                    service: name,
                    entry: entry.clone(),
                });
            }
        }
        for expose in &service.expose {
            let valid = |p: u32| (1..=65535).contains(&p);
            if !valid(expose.port) || !valid(expose.external_port()) {
                return Err(BuildError::Port {
                    service: name,
                    port: expose.port,
                    external: expose.external_port(),
                });
            }
            if expose.is_ingress() {
                for host in expose.hosts.iter().flatten() {
                    if !is_host(&host.to_ascii_lowercase()) {
                        return Err(BuildError::Host {
                            service: name,
                            host: host.clone(),
                        });
                    }
                }
            }
        }
        for storage in &resources.storage {
            if !crate::backend::is_dns_label(&storage.name) {
                return Err(BuildError::StorageName {
                    service: name,
                    storage: storage.name.clone(),
                });
            }
            if storage_class(storage) == Some("ram") && is_persistent(storage) {
                return Err(BuildError::PersistentRam {
                    service: name,
                    storage: storage.name.clone(),
                });
            }
        }
        let mut mounts = BTreeSet::new();
        for param in storage_params(service) {
            if !resources.storage.iter().any(|s| s.name == param.name) {
                return Err(BuildError::UnknownStorage {
                    service: name,
                    storage: param.name.clone(),
                });
            }
            let mount = &param.mount;
            if !mount.starts_with('/')
                || mount == "/"
                || mount.contains('\0')
                || mount.split('/').any(|part| part == "..")
            {
                return Err(BuildError::MountPath {
                    service: name,
                    mount: mount.clone(),
                });
            }
            if !mounts.insert(mount.trim_end_matches('/')) {
                return Err(BuildError::DuplicateMount {
                    service: name,
                    mount: mount.clone(),
                });
            }
        }
        if let Some(credentials) = credentials_of(service) {
            if credentials.host.trim().is_empty() {
                return Err(BuildError::CredentialsHost { service: name });
            }
        }
    }
    Ok(())
}

/// A DNS-1035 label (Services need a leading letter) short enough for every derived name.
fn is_service_name(name: &str) -> bool {
    crate::backend::is_dns_label(name)
        && name.len() <= MAX_SERVICE_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Kubernetes' environment variable names before 1.34 (`[-._a-zA-Z][-._a-zA-Z0-9]*`).
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b"-._".contains(&b))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// An Ingress rule host: a DNS subdomain, optionally with a `*.` wildcard first label, not an IP.
fn is_host(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(crate::backend::is_dns_label)
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// A label value: at most 63 characters, alphanumerics with `-`, `_`, `.` inside.
fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && value
            .bytes()
            .next()
            .is_none_or(|b| b.is_ascii_alphanumeric())
        && value
            .bytes()
            .last()
            .is_none_or(|b| b.is_ascii_alphanumeric())
}

// ---------------------------------------------------------------------------------------------
// Manifest helpers

fn storage_attribute<'s>(storage: &'s kumo_sdl::manifest::Storage, key: &str) -> Option<&'s str> {
    storage
        .attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

fn storage_class(storage: &kumo_sdl::manifest::Storage) -> Option<&str> {
    storage_attribute(storage, "class")
}

fn is_persistent(storage: &kumo_sdl::manifest::Storage) -> bool {
    storage_attribute(storage, "persistent") == Some("true")
}

fn storage_params(service: &MService) -> impl Iterator<Item = &kumo_sdl::manifest::StorageParams> {
    service
        .params
        .as_ref()
        .and_then(|p| p.storage.as_ref())
        .into_iter()
        .flatten()
}

/// The credentials of a private image: the service's own, else those in its params (where SDL
/// 2.1 puts them).
fn credentials_of(service: &MService) -> Option<&ImageCredentials> {
    service
        .credentials
        .as_ref()
        .or_else(|| service.params.as_ref()?.credentials.as_ref())
}

fn value(val: &str) -> u64 {
    // Validated before any object is built.
    val.parse().unwrap_or(0)
}

/// The GPU resource name and count a service asks for, from the vendor in its GPU attributes
/// (`vendor/<vendor>/model/...`).
fn gpu_resource(service: &MService) -> Result<Option<(&'static str, u64)>, BuildError> {
    let units = value(&service.resources.gpu.units.val);
    if units == 0 {
        return Ok(None);
    }
    let vendors = crate::backend::gpu_vendors(service);
    let resource = match vendors[..] {
        ["nvidia"] => "nvidia.com/gpu",
        ["amd"] => "amd.com/gpu",
        _ => {
            return Err(BuildError::GpuVendor {
                service: service.name.clone(),
                units,
                vendors: vendors.into_iter().map(String::from).collect(),
            })
        }
    };
    Ok(Some((resource, units)))
}

// ---------------------------------------------------------------------------------------------
// Objects

fn managed_labels(ns: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::MANAGED.to_string(), "true".to_string()),
        (labels::NAMESPACE.to_string(), ns.to_string()),
    ])
}

fn service_labels(ns: &str, service: &str) -> BTreeMap<String, String> {
    let mut l = managed_labels(ns);
    l.insert(labels::SERVICE.to_string(), service.to_string());
    l
}

/// What a workload's selector matches: fixed for the life of the lease (selectors are immutable).
fn selector_labels(service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::MANAGED.to_string(), "true".to_string()),
        (labels::SERVICE.to_string(), service.to_string()),
    ])
}

fn meta(ns: &str, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        labels: Some(labels),
        ..Default::default()
    }
}

fn lease_fields(lease: &LeaseId) -> [(&'static str, String); 5] {
    [
        (labels::OWNER, lease.owner.to_string()),
        (labels::DSEQ, lease.dseq.to_string()),
        (labels::GSEQ, lease.gseq.to_string()),
        (labels::OSEQ, lease.oseq.to_string()),
        (labels::PROVIDER, lease.provider.to_string()),
    ]
}

fn namespace(lease: &LeaseId, ns: &str) -> Namespace {
    let mut ns_labels = managed_labels(ns);
    // Defence in depth where Pod Security Admission runs: the API server itself refuses a
    // privileged pod in a lease's namespace (the builder never writes one).
    ns_labels.insert(
        "pod-security.kubernetes.io/enforce".to_string(),
        "baseline".to_string(),
    );
    let mut annotations = BTreeMap::new();
    for (key, value) in lease_fields(lease) {
        if is_label_value(&value) {
            ns_labels.insert(key.to_string(), value.clone());
        }
        annotations.insert(key.to_string(), value);
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(ns.to_string()),
            labels: Some(ns_labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn manifest_namespace(ns: &str, group: &Group) -> Namespace {
    let services: Vec<&str> = group.services.iter().map(|s| s.name.as_str()).collect();
    Namespace {
        metadata: ObjectMeta {
            name: Some(ns.to_string()),
            annotations: Some(BTreeMap::from([
                (labels::GROUP.to_string(), group.name.clone()),
                (
                    labels::MANIFEST_HASH.to_string(),
                    crate::docker::group_hash(group),
                ),
                (labels::SERVICES.to_string(), services.join(",")),
            ])),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The lease a namespace belongs to, from its annotations (or labels), if it is one of ours: the
/// id must hash back to the namespace's name.
pub fn lease_from_namespace(namespace: &Namespace) -> Option<LeaseId> {
    let meta = &namespace.metadata;
    if meta
        .labels
        .as_ref()?
        .get(labels::MANAGED)
        .map(String::as_str)
        != Some("true")
    {
        return None;
    }
    let get = |key: &str| {
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .or_else(|| meta.labels.as_ref()?.get(key))
    };
    let lease = LeaseId {
        owner: Addr::unchecked(get(labels::OWNER)?),
        dseq: get(labels::DSEQ)?.parse().ok()?,
        gseq: get(labels::GSEQ)?.parse().ok()?,
        oseq: get(labels::OSEQ)?.parse().ok()?,
        provider: Addr::unchecked(get(labels::PROVIDER)?),
    };
    (meta.name.as_deref() == Some(lease_namespace(&lease).as_str())).then_some(lease)
}

fn pull_secret(
    ns: &str,
    service: &MService,
    credentials: &ImageCredentials,
) -> Result<Secret, BuildError> {
    // The `.dockerconfigjson` format of `kubectl create secret docker-registry`.
    let (username, password) = (credentials.username.trim(), credentials.password.trim());
    let mut entry = serde_json::Map::new();
    for (key, value) in [
        ("username", username),
        ("password", password),
        ("email", credentials.email.trim()),
    ] {
        if !value.is_empty() {
            entry.insert(key.to_string(), value.into());
        }
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    entry.insert("auth".to_string(), auth.into());
    let config = serde_json::json!({ "auths": { credentials.host.trim(): entry } });
    Ok(Secret {
        metadata: meta(
            ns,
            &pull_secret_name(&service.name),
            service_labels(ns, &service.name),
        ),
        type_: Some("kubernetes.io/dockerconfigjson".to_string()),
        data: Some(BTreeMap::from([(
            ".dockerconfigjson".to_string(),
            ByteString(config.to_string().into_bytes()),
        )])),
        ..Default::default()
    })
}

fn quantity(v: impl ToString) -> Quantity {
    Quantity(v.to_string())
}

fn pod_template(
    lease: &LeaseId,
    ns: &str,
    service: &MService,
    settings: &KubeSettings,
    has_pull_secret: bool,
) -> Result<PodTemplateSpec, BuildError> {
    let resources = &service.resources;
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    let millicpu = value(&resources.cpu.units.val);
    if millicpu > 0 {
        limits.insert("cpu".to_string(), quantity(format!("{millicpu}m")));
    }
    let memory = value(&resources.memory.size.val);
    let mut ram_volumes = 0u64;
    let mut ephemeral = 0u64;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for storage in &resources.storage {
        let size = value(&storage.size.val);
        match (storage_class(storage), is_persistent(storage)) {
            // RAM volumes count against the memory limit, as on Akash.
            (Some("ram"), _) => ram_volumes = ram_volumes.saturating_add(size),
            (_, false) => ephemeral = ephemeral.saturating_add(size),
            (_, true) => {}
        }
    }
    for param in storage_params(service) {
        let Some(storage) = resources.storage.iter().find(|s| s.name == param.name) else {
            continue;
        };
        let name = volume_name(&service.name, &storage.name);
        let size = value(&storage.size.val);
        let source = match (storage_class(storage), is_persistent(storage)) {
            // A claim of the StatefulSet's template, which Kubernetes names the same.
            (_, true) => None,
            (Some("ram"), _) => Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_string()),
                size_limit: Some(quantity(size)),
            }),
            // Mounted ephemeral storage: a scratch directory on the node's disk, capped.
            _ => Some(EmptyDirVolumeSource {
                medium: None,
                size_limit: Some(quantity(size)),
            }),
        };
        if let Some(empty_dir) = source {
            volumes.push(Volume {
                name: name.clone(),
                empty_dir: Some(empty_dir),
                ..Default::default()
            });
        }
        mounts.push(VolumeMount {
            name,
            mount_path: param.mount.clone(),
            read_only: param.read_only.then_some(true),
            ..Default::default()
        });
    }
    if memory > 0 {
        requests.insert("memory".to_string(), quantity(memory));
        limits.insert(
            "memory".to_string(),
            quantity(memory.saturating_add(ram_volumes)),
        );
    }
    if ephemeral > 0 {
        limits.insert("ephemeral-storage".to_string(), quantity(ephemeral));
    }
    let gpu = gpu_resource(service)?;
    if let Some((name, units)) = gpu {
        limits.insert(name.to_string(), quantity(units));
    }
    // The leased resources are reserved in full: requests equal limits (Kubernetes would default
    // a missing request to the limit; memory's request leaves out the RAM volumes, as on Akash).
    for (name, limit) in &limits {
        requests
            .entry(name.clone())
            .or_insert_with(|| limit.clone());
    }

    let mut ports: Vec<ContainerPort> = Vec::new();
    for expose in &service.expose {
        let port = ContainerPort {
            container_port: expose.port as i32,
            protocol: Some(expose.proto.as_str().to_string()),
            ..Default::default()
        };
        if !ports.contains(&port) {
            ports.push(port);
        }
    }

    // The same environment as the Docker backend: the manifest's, then Akash's variables.
    let env = crate::docker::service_env(lease, service, &settings.public_hostname)
        .into_iter()
        .map(|entry| {
            let (name, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            EnvVar {
                name: name.to_string(),
                value: Some(value.to_string()),
                ..Default::default()
            }
        })
        .collect();

    let mut capabilities = Capabilities {
        drop: Some(vec!["ALL".to_string()]),
        add: None,
    };
    if !settings.added_capabilities.is_empty() {
        capabilities.add = Some(settings.added_capabilities.clone());
    }
    let container = Container {
        name: service.name.clone(),
        image: Some(service.image.clone()),
        // Kubernetes' command/args are the manifest's: `command` replaces the entrypoint.
        command: service.command.clone().filter(|c| !c.is_empty()),
        args: service.args.clone().filter(|a| !a.is_empty()),
        env: Some(env),
        ports: (!ports.is_empty()).then_some(ports),
        resources: Some(ResourceRequirements {
            limits: Some(limits),
            requests: Some(requests),
            ..Default::default()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        image_pull_policy: Some("IfNotPresent".to_string()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            capabilities: Some(capabilities),
            ..Default::default()
        }),
        ..Default::default()
    };

    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(service_labels(ns, &service.name)),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            volumes: (!volumes.is_empty()).then_some(volumes),
            image_pull_secrets: has_pull_secret.then(|| {
                vec![LocalObjectReference {
                    name: pull_secret_name(&service.name),
                }]
            }),
            // Tenants get no credentials for the cluster's API (Akash grants `permissions`
            // through a service account; Kumo does not), and no variables of other services.
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                // What Docker applies by default; Kubernetes runs unconfined unless asked.
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            runtime_class_name: gpu.and(settings.gpu_runtime_class.clone()),
            ..Default::default()
        }),
    })
}

/// One claim template per persistent storage (mounted or not, as Akash), in the storage's class.
fn volume_claims(ns: &str, service: &MService) -> Vec<PersistentVolumeClaim> {
    service
        .resources
        .storage
        .iter()
        .filter(|s| is_persistent(s))
        .map(|storage| PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(volume_name(&service.name, &storage.name)),
                labels: Some(service_labels(ns, &service.name)),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".to_string()]),
                volume_mode: Some("Filesystem".to_string()),
                // `default` (or no class) is the cluster's default storage class.
                storage_class_name: storage_class(storage)
                    .filter(|c| *c != "default")
                    .map(String::from),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "storage".to_string(),
                        quantity(value(&storage.size.val)),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect()
}

fn deployment(ns: &str, service: &MService, pod: PodTemplateSpec) -> Deployment {
    Deployment {
        metadata: meta(ns, &service.name, service_labels(ns, &service.name)),
        spec: Some(DeploymentSpec {
            replicas: Some(service.count as i32),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&service.name)),
                ..Default::default()
            },
            // Never more pods than leased: replace one at a time, no surge (Akash's strategy).
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(0)),
                    max_unavailable: Some(IntOrString::Int(1)),
                }),
            }),
            revision_history_limit: Some(10),
            template: pod,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn stateful_set(
    ns: &str,
    service: &MService,
    pod: PodTemplateSpec,
    claims: Vec<PersistentVolumeClaim>,
) -> StatefulSet {
    StatefulSet {
        metadata: meta(ns, &service.name, service_labels(ns, &service.name)),
        spec: Some(StatefulSetSpec {
            replicas: Some(service.count as i32),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&service.name)),
                ..Default::default()
            },
            template: pod,
            volume_claim_templates: Some(claims),
            // The claims go with their replicas: storage the lease no longer pays for is freed
            // (the Docker backend removes the volumes of replicas and services that are gone).
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Delete".to_string()),
                    when_scaled: Some("Delete".to_string()),
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The ClusterIP Service (internal ports and the ingress's target) and the NodePort Service
/// (global non-HTTP ports) of a service, each when it has ports (Akash's `BuildService`).
fn services(ns: &str, service: &MService) -> Vec<Service> {
    let ports = |node_port: bool| {
        let mut ports: Vec<ServicePort> = Vec::new();
        for (index, expose) in service.expose.iter().enumerate() {
            let wanted = if node_port {
                expose.global && !expose.is_ingress()
            } else {
                !expose.global || expose.is_ingress()
            };
            let external = expose.external_port() as i32;
            let proto = expose.proto.as_str();
            if !wanted
                || ports
                    .iter()
                    .any(|p| p.port == external && p.protocol.as_deref() == Some(proto))
            {
                continue;
            }
            ports.push(ServicePort {
                name: Some(format!("{index}-{external}")),
                port: external,
                target_port: Some(IntOrString::Int(expose.port as i32)),
                protocol: Some(proto.to_string()),
                ..Default::default()
            });
        }
        ports
    };
    let mut out = Vec::new();
    for (node_port, name, kind) in [
        (false, service.name.clone(), "ClusterIP"),
        (true, node_port_service_name(&service.name), "NodePort"),
    ] {
        let ports = ports(node_port);
        if ports.is_empty() {
            continue;
        }
        out.push(Service {
            metadata: meta(ns, &name, service_labels(ns, &service.name)),
            spec: Some(ServiceSpec {
                type_: Some(kind.to_string()),
                selector: Some(selector_labels(&service.name)),
                ports: Some(ports),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    out
}

/// ingress-nginx annotations from the expose's HTTP options, as Akash writes them (timeouts in
/// whole seconds, rounded up; zero values are left to the controller's defaults).
fn ingress_annotations(options: &HttpOptions) -> BTreeMap<String, String> {
    const ROOT: &str = "nginx.ingress.kubernetes.io";
    let seconds = |ms: u32| ms.div_ceil(1000).to_string();
    let mut out = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        out.insert(format!("{ROOT}/{key}"), value);
    };
    if options.read_timeout > 0 {
        put("proxy-read-timeout", seconds(options.read_timeout));
    }
    if options.send_timeout > 0 {
        put("proxy-send-timeout", seconds(options.send_timeout));
    }
    if options.next_tries > 0 {
        put("proxy-next-upstream-tries", options.next_tries.to_string());
    }
    if options.max_body_size > 0 {
        put("proxy-body-size", options.max_body_size.to_string());
    }
    // 0 disables the limit.
    put("proxy-next-upstream-timeout", seconds(options.next_timeout));
    let cases: Vec<String> = options
        .next_cases
        .iter()
        .map(|case| {
            if case.starts_with(|c: char| c.is_ascii_digit()) {
                format!("http_{case}")
            } else {
                case.clone()
            }
        })
        .collect();
    if !cases.is_empty() {
        put("proxy-next-upstream", cases.join(" "));
    }
    out
}

/// The Ingress of a service's global HTTP port: the generated host, then the hosts the manifest
/// accepts, all to the ClusterIP Service's port 80.
fn ingress(
    lease: &LeaseId,
    ns: &str,
    service: &MService,
    settings: &KubeSettings,
) -> Option<Ingress> {
    let exposes: Vec<_> = service.expose.iter().filter(|e| e.is_ingress()).collect();
    let first = exposes.first()?;
    // Without a domain, only the hosts the manifest accepts.
    let mut hosts = Vec::new();
    if !settings.ingress_domain.is_empty() {
        hosts.push(ingress_hostname(
            lease,
            &service.name,
            &settings.ingress_domain,
        ));
    }
    for host in exposes.iter().flat_map(|e| e.hosts.iter().flatten()) {
        let host = host.to_ascii_lowercase();
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return None;
    }
    let rules = hosts
        .into_iter()
        .map(|host| IngressRule {
            host: Some(host),
            http: Some(HTTPIngressRuleValue {
                paths: vec![HTTPIngressPath {
                    path: Some("/".to_string()),
                    path_type: "Prefix".to_string(),
                    backend: IngressBackend {
                        service: Some(IngressServiceBackend {
                            name: service.name.clone(),
                            port: Some(ServiceBackendPort {
                                number: Some(80),
                                name: None,
                            }),
                        }),
                        resource: None,
                    },
                }],
            }),
        })
        .collect();
    let mut metadata = meta(ns, &service.name, service_labels(ns, &service.name));
    metadata.annotations = Some(ingress_annotations(&first.http_options));
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: settings.ingress_class.clone(),
            rules: Some(rules),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn selector(labels: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn policy_port(port: u32, proto: Protocol) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port as i32)),
        protocol: Some(proto.as_str().to_string()),
        ..Default::default()
    }
}

/// Akash's network policies: the lease's pods accept connections from the lease's namespace and
/// the ingress controller only, and may connect to the lease's namespace, the cluster's DNS and
/// anywhere outside the blocked ranges; a service's global non-HTTP ports (NodePorts) accept
/// connections from anywhere.
fn network_policies(ns: &str, group: &Group, settings: &KubeSettings) -> Vec<NetworkPolicy> {
    let same_namespace = NetworkPolicyPeer {
        namespace_selector: Some(selector(&[(labels::NAMESPACE, ns)])),
        ..Default::default()
    };
    let controller_pods: Vec<(&str, &str)> = settings
        .ingress_controller_pod_labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ingress_controller = NetworkPolicyPeer {
        namespace_selector: Some(selector(&[(
            "kubernetes.io/metadata.name",
            &settings.ingress_controller_namespace,
        )])),
        pod_selector: Some(selector(&controller_pods)),
        ..Default::default()
    };
    let dns = NetworkPolicyEgressRule {
        ports: Some(vec![
            policy_port(53, Protocol::Udp),
            policy_port(53, Protocol::Tcp),
        ]),
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(selector(&[("kubernetes.io/metadata.name", "kube-system")])),
            pod_selector: Some(selector(&[("k8s-app", "kube-dns")])),
            ..Default::default()
        }]),
    };
    let outside = NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: "0.0.0.0/0".to_string(),
                except: (!settings.blocked_egress_cidrs.is_empty())
                    .then(|| settings.blocked_egress_cidrs.clone()),
            }),
            ..Default::default()
        }]),
        ports: None,
    };
    let mut out = vec![NetworkPolicy {
        metadata: meta(ns, ISOLATION_POLICY, managed_labels(ns)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![same_namespace.clone()]),
                    ports: None,
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![ingress_controller]),
                    ports: None,
                },
            ]),
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![same_namespace]),
                    ports: None,
                },
                dns,
                outside,
            ]),
        }),
    }];
    for service in &group.services {
        let mut ports: Vec<NetworkPolicyPort> = Vec::new();
        for expose in service
            .expose
            .iter()
            .filter(|e| e.global && !e.is_ingress())
        {
            let port = policy_port(expose.port, expose.proto);
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        if ports.is_empty() {
            continue;
        }
        out.push(NetworkPolicy {
            metadata: meta(
                ns,
                &format!("kumo-{}-np", service.name),
                service_labels(ns, &service.name),
            ),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(selector(&[(labels::SERVICE, &service.name)])),
                policy_types: Some(vec!["Ingress".to_string()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: None,
                    ports: Some(ports),
                }]),
                egress: None,
            }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_extended_hex_vectors() {
        // RFC 4648 section 10, lower-cased, without padding.
        for (input, expected) in [
            ("", ""),
            ("f", "co"),
            ("fo", "cpng"),
            ("foo", "cpnmu"),
            ("foob", "cpnmuog"),
            ("fooba", "cpnmuoj1"),
            ("foobar", "cpnmuoj1e8"),
        ] {
            assert_eq!(base32_hex_lower(input.as_bytes()), expected);
        }
    }

    #[test]
    fn label_values_follow_kubernetes_rules() {
        assert!(is_label_value("kumo1abc"));
        assert!(is_label_value(""));
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(!is_label_value("-a"));
        assert!(!is_label_value("a/b"));
    }

    #[test]
    fn hosts_must_be_dns_names() {
        assert!(is_host("example.com"));
        assert!(is_host("*.example.com"));
        assert!(!is_host("localhost"));
        assert!(!is_host("10.0.0.1"));
        assert!(!is_host("exa_mple.com"));
    }
}
