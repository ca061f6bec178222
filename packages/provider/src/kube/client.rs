//! [`KubeBackend`]: the [`Backend`] on a Kubernetes cluster.
//!
//! Deploys are server-side applies of the [`builder`](super::builder)'s objects, forced (the
//! manifest wins over anyone who edited them), so deploying the same group twice changes nothing;
//! objects of the lease that the group no longer has are deleted. Whether anything changed is read
//! from the resource versions: the API server does not write an apply that changes nothing.
//! Tear-down deletes the lease's namespace, which takes every object in it along.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::time::Duration;

use ::kube::api::{
    Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, WatchEvent, WatchParams,
};
use ::kube::{Client, Resource};
use futures_util::io::{AsyncBufRead, AsyncBufReadExt};
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::builder::{
    self, labels, lease_from_namespace, lease_namespace, node_port_service_name, KubeSettings,
    LeaseObjects, FIELD_MANAGER, MANIFEST_FIELD_MANAGER,
};
use crate::backend::{
    Backend, BackendError, BoxFuture, DeployOutcome, DeployedLease, EventStream, ForwardedPort,
    Group, LeaseEvent, LeaseId, LeaseStatus, LogLine, LogOptions, LogSource, LogStream,
    ReplicaState, ReplicaStatus, ServiceStatus,
};

const HINT: &str =
    " (set KUBECONFIG to a kubeconfig, or run the agent in the cluster with a service account)";

/// How long to wait before watching events again after the API server closed a watch (it does
/// so every few minutes), so that a server that closes at once is not polled in a loop.
const REWATCH_DELAY: Duration = Duration::from_secs(1);

/// Namespaces are listed in pages of this many.
const PAGE: u32 = 500;

pub struct KubeBackend {
    client: Client,
    settings: KubeSettings,
}

impl KubeBackend {
    /// Connects with the configuration found where kubectl finds it (`$KUBECONFIG`,
    /// `~/.kube/config`) or, inside a pod, the service account's; fails early when no API server
    /// answers.
    pub async fn connect(settings: KubeSettings) -> Result<Self, BackendError> {
        let config = ::kube::Config::infer()
            .await
            .map_err(|e| unreachable("(kubeconfig or in-cluster)", e.to_string()))?;
        Self::connect_with(config, settings).await
    }

    /// Connects with an explicit configuration, and checks that an API server answers.
    pub async fn connect_with(
        config: ::kube::Config,
        settings: KubeSettings,
    ) -> Result<Self, BackendError> {
        let endpoint = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| unreachable(&endpoint, describe(&e)))?;
        client
            .apiserver_version()
            .await
            .map_err(|e| unreachable(&endpoint, describe(&e)))?;
        Ok(Self { client, settings })
    }

    /// Uses an existing client as is.
    pub fn with_client(client: Client, settings: KubeSettings) -> Self {
        Self { client, settings }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn settings(&self) -> &KubeSettings {
        &self.settings
    }

    fn namespaces(&self) -> Api<Namespace> {
        Api::all(self.client.clone())
    }

    fn api<K>(&self, ns: &str) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), ns)
    }

    async fn deploy_group(
        &self,
        lease: &LeaseId,
        group: &Group,
    ) -> Result<DeployOutcome, BackendError> {
        // Every check happens before the first request: an invalid group touches nothing.
        let objects = builder::build(lease, group, &self.settings).map_err(|e| {
            BackendError::InvalidManifest {
                group: group.name.clone(),
                reason: e.to_string(),
            }
        })?;
        let ns = objects.namespace_name().to_string();
        let current = self
            .namespaces()
            .get_opt(&ns)
            .await
            .map_err(|e| engine(format!("get namespace {ns}"), &e))?;
        let version = match &current {
            None => None,
            Some(existing) => {
                if lease_from_namespace(existing).as_ref() != Some(lease) {
                    return Err(BackendError::Conflict {
                        object: format!("namespace {ns}"),
                        lease: lease.to_string(),
                    });
                }
                if existing.metadata.deletion_timestamp.is_some() {
                    return Err(BackendError::Engine {
                        operation: format!("kubernetes: deploy into namespace {ns}"),
                        reason: "the namespace is still being deleted (the lease was torn down); \
                                 deploy again once it is gone"
                            .to_string(),
                    });
                }
                Some(
                    existing
                        .metadata
                        .resource_version
                        .clone()
                        .unwrap_or_default(),
                )
            }
        };
        let fresh = version.is_none();
        match self.converge(&objects, version).await {
            Ok(_) if fresh => Ok(DeployOutcome::Created),
            Ok(true) => Ok(DeployOutcome::Updated),
            Ok(false) => Ok(DeployOutcome::Unchanged),
            Err(e) => {
                if fresh {
                    // Best effort: the error that matters is the deploy's.
                    let _ = self.delete_namespace(&ns).await;
                }
                Err(e)
            }
        }
    }

    /// Applies every object, removes those the group no longer has, and records the group on
    /// the namespace; true if anything changed. `ns_version` is the namespace's resource version
    /// when it already exists.
    async fn converge(
        &self,
        objects: &LeaseObjects,
        ns_version: Option<String>,
    ) -> Result<bool, BackendError> {
        let ns = objects.namespace_name();
        let policies = self.api::<NetworkPolicy>(ns);
        let secrets = self.api::<Secret>(ns);
        let stateful_sets = self.api::<StatefulSet>(ns);
        let deployments = self.api::<Deployment>(ns);
        let services = self.api::<Service>(ns);
        let ingresses = self.api::<Ingress>(ns);

        // What the lease has now (nothing, in a namespace about to be created).
        let before = match ns_version {
            Some(_) => Existing {
                policies: versions(&policies).await?,
                secrets: versions(&secrets).await?,
                stateful_sets: versions(&stateful_sets).await?,
                deployments: versions(&deployments).await?,
                services: versions(&services).await?,
                ingresses: versions(&ingresses).await?,
            },
            None => Existing::default(),
        };

        let namespaces = self.namespaces();
        let (ns_applied, mut changed) = apply(
            &namespaces,
            &objects.namespace,
            FIELD_MANAGER,
            ns_version.as_ref(),
        )
        .await?;
        changed |= apply_all(&policies, &objects.network_policies, &before.policies).await?;
        changed |= apply_all(&secrets, &objects.secrets, &before.secrets).await?;
        changed |= apply_all(
            &stateful_sets,
            &objects.stateful_sets,
            &before.stateful_sets,
        )
        .await?;
        changed |= apply_all(&deployments, &objects.deployments, &before.deployments).await?;
        changed |= apply_all(&services, &objects.services, &before.services).await?;
        changed |= apply_all(&ingresses, &objects.ingresses, &before.ingresses).await?;

        // What the group no longer has (a service, its ports, hosts or credentials; a service
        // that gained or lost persistent storage changes kind), the most dependent first.
        changed |= prune(&ingresses, &before.ingresses, &objects.ingresses).await?;
        changed |= prune(&services, &before.services, &objects.services).await?;
        changed |= prune(&deployments, &before.deployments, &objects.deployments).await?;
        changed |= prune(
            &stateful_sets,
            &before.stateful_sets,
            &objects.stateful_sets,
        )
        .await?;
        changed |= prune(&secrets, &before.secrets, &objects.secrets).await?;
        changed |= prune(&policies, &before.policies, &objects.network_policies).await?;

        // Last: the group is deployed only once everything above succeeded.
        let (_, recorded) = apply(
            &namespaces,
            &objects.manifest_namespace,
            MANIFEST_FIELD_MANAGER,
            Some(&ns_applied),
        )
        .await?;
        Ok(changed || recorded)
    }

    /// The lease's namespace if it exists and is the lease's, else [`BackendError::LeaseNotFound`].
    async fn lease_namespace_of(&self, lease: &LeaseId) -> Result<String, BackendError> {
        let ns = lease_namespace(lease);
        let found = self
            .namespaces()
            .get_opt(&ns)
            .await
            .map_err(|e| engine(format!("get namespace {ns}"), &e))?;
        match found {
            Some(namespace) if lease_from_namespace(&namespace).as_ref() == Some(lease) => Ok(ns),
            _ => Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            }),
        }
    }

    async fn delete_namespace(&self, ns: &str) -> Result<(), BackendError> {
        match self
            .namespaces()
            .delete(ns, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine(format!("delete namespace {ns}"), &e)),
        }
    }

    async fn teardown_lease(&self, lease: &LeaseId) -> Result<(), BackendError> {
        let ns = lease_namespace(lease);
        let found = self
            .namespaces()
            .get_opt(&ns)
            .await
            .map_err(|e| engine(format!("get namespace {ns}"), &e))?;
        match found {
            None => Ok(()),
            Some(namespace) if lease_from_namespace(&namespace).as_ref() != Some(lease) => {
                Err(BackendError::Conflict {
                    object: format!("namespace {ns}"),
                    lease: lease.to_string(),
                })
            }
            // Already on its way out: deleting again would only be refused.
            Some(namespace) if namespace.metadata.deletion_timestamp.is_some() => Ok(()),
            Some(_) => self.delete_namespace(&ns).await,
        }
    }

    /// The lease's workloads: (service, replicas asked for, replicas ready), by service.
    async fn workloads(&self, ns: &str) -> Result<BTreeMap<String, (u32, u32)>, BackendError> {
        let mut out = BTreeMap::new();
        for deployment in list(&self.api::<Deployment>(ns)).await? {
            let total = deployment.spec.as_ref().and_then(|s| s.replicas);
            let ready = deployment.status.as_ref().and_then(|s| s.ready_replicas);
            out.insert(service_of_object(&deployment), counts(total, ready));
        }
        for set in list(&self.api::<StatefulSet>(ns)).await? {
            let total = set.spec.as_ref().and_then(|s| s.replicas);
            let ready = set.status.as_ref().and_then(|s| s.ready_replicas);
            out.insert(service_of_object(&set), counts(total, ready));
        }
        Ok(out)
    }

    /// The lease's pods by service, each with its replica index, sorted by index.
    async fn pods(&self, ns: &str) -> Result<BTreeMap<String, Vec<(u32, Pod)>>, BackendError> {
        let mut by_service: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
        for pod in list(&self.api::<Pod>(ns)).await? {
            by_service
                .entry(service_of_object(&pod))
                .or_default()
                .push(pod);
        }
        Ok(by_service
            .into_iter()
            .map(|(service, pods)| (service, index_pods(pods)))
            .collect())
    }

    async fn lease_status(&self, lease: &LeaseId) -> Result<LeaseStatus, BackendError> {
        let ns = self.lease_namespace_of(lease).await?;
        let workloads = self.workloads(&ns).await?;
        if workloads.is_empty() {
            return Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            });
        }
        let mut pods = self.pods(&ns).await?;
        let mut services: BTreeMap<String, ServiceStatus> = workloads
            .into_iter()
            .map(|(name, (total, ready))| {
                let replicas = pods
                    .remove(&name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(index, pod)| replica_status(index, &pod))
                    .collect();
                let status = ServiceStatus {
                    name: name.clone(),
                    total,
                    ready,
                    uris: Vec::new(),
                    forwarded_ports: Vec::new(),
                    replicas,
                };
                (name, status)
            })
            .collect();
        for ingress in list(&self.api::<Ingress>(&ns)).await? {
            let Some(status) = services.get_mut(&service_of_object(&ingress)) else {
                continue;
            };
            let rules = ingress.spec.iter().flat_map(|s| s.rules.iter().flatten());
            for host in rules.filter_map(|r| r.host.as_ref()) {
                status.uris.push(format!("http://{host}"));
            }
        }
        for service in list(&self.api::<Service>(&ns)).await? {
            let name = service_of_object(&service);
            let Some(status) = services.get_mut(&name) else {
                continue;
            };
            if service.metadata.name.as_deref() != Some(node_port_service_name(&name).as_str()) {
                continue;
            }
            let ports = service.spec.iter().flat_map(|s| s.ports.iter().flatten());
            for port in ports {
                let (Some(node_port), Some(target)) = (port.node_port, &port.target_port) else {
                    continue;
                };
                let target = match target {
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(p) => *p,
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(_) => {
                        port.port
                    }
                };
                // A NodePort reaches every replica: it is reported once, as replica 0's.
                status.forwarded_ports.push(ForwardedPort {
                    replica: 0,
                    port: u16::try_from(target).unwrap_or_default(),
                    external_port: u32::try_from(port.port).unwrap_or_default(),
                    proto: port.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                    host: self.settings.public_hostname.clone(),
                    host_port: u16::try_from(node_port).unwrap_or_default(),
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
        let ns = self.lease_namespace_of(lease).await?;
        let workloads = self.workloads(&ns).await?;
        if workloads.is_empty() {
            return Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            });
        }
        for service in &options.services {
            if !workloads.contains_key(service) {
                return Err(BackendError::ServiceNotFound {
                    lease: lease.to_string(),
                    service: service.clone(),
                });
            }
        }
        let pods_api = self.api::<Pod>(&ns);
        let mut streams = Vec::new();
        for (service, pods) in self.pods(&ns).await? {
            if !workloads.contains_key(&service)
                || (!options.services.is_empty() && !options.services.contains(&service))
            {
                continue;
            }
            // A container that never started has no log yet (the API server would refuse).
            for (replica, pod) in pods.into_iter().filter(|(_, pod)| has_started(pod)) {
                let pod = pod.metadata.name.unwrap_or_default();
                let params = LogParams {
                    container: Some(service.clone()),
                    follow: options.follow,
                    tail_lines: options.tail.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
                    ..Default::default()
                };
                let api = pods_api.clone();
                let service = service.clone();
                let operation = format!("read logs of pod {pod}");
                // Opened on first poll, as the trait promises.
                let lines = stream::once(async move {
                    api.log_stream(&pod, &params)
                        .await
                        .map_err(|e| engine(operation.clone(), &e))
                        .map(|reader| (reader, operation))
                })
                .flat_map(move |opened| match opened {
                    Ok((reader, operation)) => {
                        log_lines(reader, service.clone(), replica, operation).boxed()
                    }
                    Err(e) => stream::iter([Err(e)]).boxed(),
                });
                streams.push(lines.boxed());
            }
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
        let ns = self.lease_namespace_of(lease).await?;
        let mut services: Vec<String> = self.workloads(&ns).await?.into_keys().collect();
        // Longest first: an object is its longest matching service's (`web-api` before `web`).
        services.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let api = self.api::<Event>(&ns);
        // Events are the cluster's, not ours: no label to select them by; the namespace is the
        // lease's alone.
        let listed = api
            .list(&ListParams::default())
            .await
            .map_err(|e| engine("list events", &e))?;
        let version = listed.metadata.resource_version.clone().unwrap_or_default();
        let mut recent: Vec<LeaseEvent> = listed
            .items
            .iter()
            .filter_map(|e| lease_event(e, &services))
            .collect();
        recent.sort_by_key(|e| e.time);
        let recent = stream::iter(recent.into_iter().map(Ok));
        if !follow {
            return Ok(recent.boxed());
        }
        Ok(recent.chain(watch_events(api, version, services)).boxed())
    }

    async fn deployed_leases(&self) -> Result<Vec<DeployedLease>, BackendError> {
        let api = self.namespaces();
        let mut params = managed().limit(PAGE);
        let mut out = Vec::new();
        loop {
            let page = api
                .list(&params)
                .await
                .map_err(|e| engine("list namespaces", &e))?;
            for namespace in &page.items {
                // A namespace being deleted is a lease already torn down.
                if namespace.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let Some(lease) = lease_from_namespace(namespace) else {
                    continue;
                };
                let annotations = namespace.metadata.annotations.clone().unwrap_or_default();
                let mut services: Vec<String> = annotations
                    .get(labels::SERVICES)
                    .map(|s| {
                        s.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                services.sort();
                out.push(DeployedLease {
                    lease,
                    group: annotations.get(labels::GROUP).cloned(),
                    manifest_hash: annotations.get(labels::MANIFEST_HASH).cloned(),
                    services,
                });
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.lease.cmp(&b.lease));
        Ok(out)
    }
}

impl Backend for KubeBackend {
    fn name(&self) -> &'static str {
        "kubernetes"
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
        Box::pin(self.teardown_lease(lease))
    }

    fn leases(&self) -> BoxFuture<'_, Result<Vec<DeployedLease>, BackendError>> {
        Box::pin(self.deployed_leases())
    }
}

// ---------------------------------------------------------------------------------------------
// Applying and pruning

/// Resource versions of a kind's objects in the lease's namespace, by name.
type Versions = BTreeMap<String, String>;

#[derive(Default)]
struct Existing {
    policies: Versions,
    secrets: Versions,
    stateful_sets: Versions,
    deployments: Versions,
    services: Versions,
    ingresses: Versions,
}

/// Every object of ours: the backend never lists, changes or deletes anything else.
fn managed() -> ListParams {
    ListParams::default().labels(&format!("{}=true", labels::MANAGED))
}

fn name_of<K: Resource>(object: &K) -> String {
    object.meta().name.clone().unwrap_or_default()
}

fn kind_of<K: Resource<DynamicType = ()>>() -> String {
    K::kind(&()).into_owned()
}

async fn list<K>(api: &Api<K>) -> Result<Vec<K>, BackendError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    api.list(&managed())
        .await
        .map(|l| l.items)
        .map_err(|e| engine(format!("list {}", kind_of::<K>()), &e))
}

async fn versions<K>(api: &Api<K>) -> Result<Versions, BackendError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    Ok(list(api)
        .await?
        .iter()
        .map(|o| {
            let version = o.meta().resource_version.clone().unwrap_or_default();
            (name_of(o), version)
        })
        .collect())
}

/// Server-side applies `object`; returns its resource version after, and whether it changed
/// (it did not exist, or its version moved from `before`).
async fn apply<K>(
    api: &Api<K>,
    object: &K,
    manager: &str,
    before: Option<&String>,
) -> Result<(String, bool), BackendError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
{
    let name = name_of(object);
    let applied = api
        .patch(
            &name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(object),
        )
        .await
        .map_err(|e| engine(format!("apply {} {name}", kind_of::<K>()), &e))?;
    let version = applied.meta().resource_version.clone().unwrap_or_default();
    let changed = before != Some(&version);
    Ok((version, changed))
}

async fn apply_all<K>(api: &Api<K>, objects: &[K], before: &Versions) -> Result<bool, BackendError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
{
    let mut changed = false;
    for object in objects {
        let (_, c) = apply(api, object, FIELD_MANAGER, before.get(&name_of(object))).await?;
        changed |= c;
    }
    Ok(changed)
}

/// Deletes the objects in `before` that `wanted` does not have; true if any.
async fn prune<K>(api: &Api<K>, before: &Versions, wanted: &[K]) -> Result<bool, BackendError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let wanted: BTreeSet<String> = wanted.iter().map(name_of).collect();
    let mut changed = false;
    for name in before.keys().filter(|name| !wanted.contains(*name)) {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(engine(format!("delete {} {name}", kind_of::<K>()), &e)),
        }
        changed = true;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------------------------
// Reading the cluster's state

/// The manifest service an object belongs to (its label; its name for objects without one).
fn service_of_object<K: Resource>(object: &K) -> String {
    object
        .meta()
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::SERVICE))
        .cloned()
        .unwrap_or_else(|| name_of(object))
}

fn counts(total: Option<i32>, ready: Option<i32>) -> (u32, u32) {
    let count = |v: Option<i32>, default: i32| u32::try_from(v.unwrap_or(default)).unwrap_or(0);
    // A workload without `replicas` runs one (the API server's default).
    (count(total, 1), count(ready, 0))
}

/// The ordinal of a StatefulSet's pod (`<name>-<n>`), from the label Kubernetes sets on it.
fn pod_ordinal(pod: &Pod) -> Option<u32> {
    let labels = pod.metadata.labels.as_ref()?;
    labels.get("apps.kubernetes.io/pod-index")?.parse().ok()
}

/// Replica indexes: a StatefulSet pod's ordinal; the other pods of the service numbered in the
/// order they were created.
fn index_pods(mut pods: Vec<Pod>) -> Vec<(u32, Pod)> {
    pods.sort_by(|a, b| {
        let key = |p: &Pod| {
            (
                pod_ordinal(p),
                p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                p.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    pods.into_iter()
        .enumerate()
        .map(|(position, pod)| {
            let index = pod_ordinal(&pod).unwrap_or(position as u32);
            (index, pod)
        })
        .collect()
}

fn replica_status(index: u32, pod: &Pod) -> ReplicaStatus {
    let (state, detail) = pod_state(pod);
    ReplicaStatus {
        index,
        id: pod.metadata.name.clone().unwrap_or_default(),
        state,
        detail,
    }
}

/// Whether the pod's container has run at all (it is running, or has exited once).
fn has_started(pod: &Pod) -> bool {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    statuses.into_iter().flatten().any(|c| {
        let state = c.state.as_ref();
        state.is_some_and(|s| s.running.is_some() || s.terminated.is_some())
            || c.last_state
                .as_ref()
                .is_some_and(|s| s.terminated.is_some())
    })
}

/// The state of a pod's (only) container, in the Docker backend's terms, and the cluster's words.
fn pod_state(pod: &Pod) -> (ReplicaState, String) {
    if pod.metadata.deletion_timestamp.is_some() {
        return (ReplicaState::Removing, "Terminating".to_string());
    }
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".to_string());
    let container = status.and_then(|s| s.container_statuses.as_ref()?.first());
    let words = |reason: &Option<String>, message: &Option<String>| match (
        reason.as_deref(),
        message.as_deref(),
    ) {
        (Some(r), Some(m)) if !m.is_empty() => format!("{r}: {m}"),
        (Some(r), _) => r.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => phase.clone(),
    };
    if let Some(state) = container.and_then(|c| c.state.as_ref()) {
        if state.running.is_some() {
            return (ReplicaState::Running, "Running".to_string());
        }
        if let Some(waiting) = &state.waiting {
            let detail = words(&waiting.reason, &waiting.message);
            let restarting = waiting.reason.as_deref() == Some("CrashLoopBackOff");
            let state = if restarting {
                ReplicaState::Restarting
            } else {
                ReplicaState::Created
            };
            return (state, detail);
        }
        if let Some(terminated) = &state.terminated {
            let reason = terminated.reason.as_deref().unwrap_or("Terminated");
            return (
                ReplicaState::Exited,
                format!("{reason} (exit code {})", terminated.exit_code),
            );
        }
    }
    let state = match phase.as_str() {
        "Pending" => ReplicaState::Created,
        "Running" => ReplicaState::Running,
        "Succeeded" | "Failed" => ReplicaState::Exited,
        _ => ReplicaState::Unknown,
    };
    let detail = status.map_or(phase.clone(), |s| words(&s.reason, &s.message));
    (state, detail)
}

/// A log's lines: split on `\n`, decoded lossily (a log is whatever the workload wrote).
fn log_lines<R>(
    reader: R,
    service: String,
    replica: u32,
    operation: String,
) -> impl Stream<Item = Result<LogLine, BackendError>> + Send
where
    R: AsyncBufRead + Send + 'static,
{
    stream::unfold(Some(Box::pin(reader)), move |reader| {
        let (service, operation) = (service.clone(), operation.clone());
        async move {
            let mut reader = reader?;
            let mut buf = Vec::new();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) => None,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let line = text.strip_suffix('\n').unwrap_or(&text);
                    let line = line.strip_suffix('\r').unwrap_or(line);
                    let line = LogLine {
                        service,
                        replica,
                        // The API server merges a container's stdout and stderr.
                        source: LogSource::Stdout,
                        message: line.to_string(),
                    };
                    Some((Ok(line), Some(reader)))
                }
                Err(e) => Some((
                    Err(BackendError::Engine {
                        operation: format!("kubernetes: {operation}"),
                        reason: e.to_string(),
                    }),
                    None,
                )),
            }
        }
    })
}

/// The service an event is about: the longest of `services` that the involved object's name is,
/// or starts with followed by `-` (pods, replica sets, claims and the `-np` Service are named
/// after their service). `services` is sorted longest first.
fn event_service<'s>(object: &str, services: &'s [String]) -> Option<&'s String> {
    services.iter().find(|s| {
        object == s.as_str()
            || object
                .strip_prefix(s.as_str())
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

fn lease_event(event: &Event, services: &[String]) -> Option<LeaseEvent> {
    let object = event.involved_object.name.as_deref()?;
    let service = event_service(object, services)?;
    let time = event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .map_or(0, |t| t.as_second());
    // Only a StatefulSet's pods (`<service>-<n>`) say which replica they are.
    let replica = match event.involved_object.kind.as_deref() {
        Some("Pod") => object
            .strip_prefix(service.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|n| n.parse().ok()),
        _ => None,
    };
    Some(LeaseEvent {
        time,
        service: service.clone(),
        replica,
        reason: event.reason.clone().unwrap_or_default(),
        message: event.message.clone().unwrap_or_default(),
    })
}

enum Watch {
    Start(String),
    Open(
        String,
        BoxStream<'static, Result<WatchEvent<Event>, ::kube::Error>>,
    ),
    Done,
}

/// New events from resource version `version` on, watching again whenever the API server
/// closes the watch, until an error.
fn watch_events(
    api: Api<Event>,
    version: String,
    services: Vec<String>,
) -> impl Stream<Item = Result<LeaseEvent, BackendError>> + Send {
    stream::unfold(Watch::Start(version), move |mut state| {
        let (api, services) = (api.clone(), services.clone());
        async move {
            loop {
                state = match state {
                    Watch::Done => return None,
                    Watch::Start(version) => {
                        match api.watch(&WatchParams::default(), &version).await {
                            Ok(events) => Watch::Open(version, events.boxed()),
                            Err(e) => return Some((Err(engine("watch events", &e)), Watch::Done)),
                        }
                    }
                    Watch::Open(version, mut events) => match events.next().await {
                        None => {
                            tokio::time::sleep(REWATCH_DELAY).await;
                            Watch::Start(version)
                        }
                        Some(Ok(WatchEvent::Added(event) | WatchEvent::Modified(event))) => {
                            let next = event.metadata.resource_version.clone().unwrap_or(version);
                            match lease_event(&event, &services) {
                                Some(found) => return Some((Ok(found), Watch::Open(next, events))),
                                None => Watch::Open(next, events),
                            }
                        }
                        Some(Ok(WatchEvent::Bookmark(mark))) => {
                            Watch::Open(mark.metadata.resource_version, events)
                        }
                        Some(Ok(WatchEvent::Deleted(_))) => Watch::Open(version, events),
                        Some(Ok(WatchEvent::Error(status))) => {
                            let e = BackendError::Engine {
                                operation: "kubernetes: watch events".to_string(),
                                reason: format!("{} (HTTP {})", status.message, status.code),
                            };
                            return Some((Err(e), Watch::Done));
                        }
                        Some(Err(e)) => {
                            return Some((Err(engine("watch events", &e)), Watch::Done))
                        }
                    },
                };
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Errors

fn is_not_found(e: &::kube::Error) -> bool {
    matches!(e, ::kube::Error::Api(status) if status.code == 404)
}

/// The API server's own message when it gave one, else the client's error.
fn describe(e: &::kube::Error) -> String {
    match e {
        ::kube::Error::Api(status) => {
            format!(
                "{} (HTTP {}, {})",
                status.message, status.code, status.reason
            )
        }
        e => e.to_string(),
    }
}

fn engine(operation: impl Into<String>, e: &::kube::Error) -> BackendError {
    BackendError::Engine {
        operation: format!("kubernetes: {}", operation.into()),
        reason: describe(e),
    }
}

fn unreachable(endpoint: &str, reason: String) -> BackendError {
    BackendError::Unreachable {
        backend: "Kubernetes",
        endpoint: endpoint.to_string(),
        reason,
        hint: HINT,
    }
}
