//! The lease API: what tenants talk to once they hold a lease (Akash provider `gateway/rest`).
//!
//! | Route | Auth (scope) | What |
//! | --- | --- | --- |
//! | `GET /status` | none | provider address, inventory, active leases, version |
//! | `PUT /deployment/{dseq}/manifest` | `send-manifest` | check and deploy the manifest |
//! | `GET /lease/{dseq}/{gseq}/{oseq}/status` | `status` | services, replicas, URIs, ports |
//! | `GET /lease/{dseq}/{gseq}/{oseq}/manifest` | `get-manifest` | the lease's manifest group |
//! | `GET /lease/{dseq}/{gseq}/{oseq}/logs` | `logs` | log lines, NDJSON stream |
//! | `GET /lease/{dseq}/{gseq}/{oseq}/events` | `events` | workload events, NDJSON stream |
//!
//! As on Akash the owner is not in the path: it is the token's issuer. Requests carry
//! `Authorization: Bearer <JWT>` (ES256K, see [`crate::auth`]); the issuer must own the lease
//! (else 403) and the token must grant the route's scope there (else 403); a token that does not
//! verify is a 401. Every error is JSON ([`ErrorBody`]).
//!
//! A manifest is accepted only if it hashes to the version the deployment committed to on chain
//! and fits the deployment's groups ([`check`]); then each of this provider's leases of the
//! deployment gets its group through [`Backend::deploy`], and the manifest is kept in a
//! [`ManifestStore`] for `GET manifest` and for redeploying after a restart.
//!
//! Logs and events stream as NDJSON (one JSON object per line, chunked) rather than over a
//! websocket as on Akash: they flow one way, so a plain HTTP response is enough, works with any
//! HTTP client (`curl`, reqwest) and through proxies without an upgrade, and gets TCP
//! backpressure for free. A stream ends when the backend's does, when the client goes away, or
//! when the server shuts down; a backend error mid-stream is sent as a last line
//! `{"error": "..."}`. (Akash needs websockets for `shell`, which Kumo does not serve yet.)
//!
//! Served over TLS only ([`tls`]): the provider's certificate is pinned in the registry.

pub mod chain_source;
pub mod check;
mod error;
pub mod source;
pub mod store;
pub mod tls;

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{Hash as _, Hasher as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use cosmwasm_std::Addr;
use futures_util::stream::BoxStream;
use futures_util::StreamExt as _;
use kumo::{DeploymentId, LeaseId};
use kumo_sdl::manifest::Group;
use kumo_sdl::Manifest;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::auth::{self, Claims, Scope, Verifier, VerifierConfig};
use crate::backend::{Backend, BackendError, BoxFuture, DeployOutcome, LeaseStatus, LogOptions};
use crate::inventory::{Inventory, InventorySnapshot};

pub use chain_source::ChainLeaseSource;
pub use check::{check_against_groups, ManifestMismatch};
pub use error::{ErrorBody, GatewayError};
pub use source::{
    is_live, LeaseSource, MemoryLeaseSource, OnChainDeployment, OnChainGroup, SourceError,
};
pub use store::{FileManifestStore, ManifestStore, MemoryManifestStore, StoreError};
pub use tls::{pinned_client_config, ProviderCert, TlsConfig, TlsError, TlsListener};

/// Default largest manifest body: Akash manifests are a few kilobytes; 1 MiB leaves room for
/// large `env` lists without letting a client make the provider buffer much.
pub const DEFAULT_MAX_MANIFEST_BYTES: usize = 1 << 20;
/// The most clock skew the API tolerates when checking token times, seconds.
pub const MAX_CLOCK_SKEW: u64 = 30;
/// An oversized body is read and discarded up to this much more, so that the client (still
/// sending) reads the 413 instead of a connection reset; past it the connection is dropped.
const DRAIN_LIMIT: usize = 16 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(10);
/// Concurrent manifest deploys are serialized per deployment by one of this many locks.
const DEPLOY_LOCKS: usize = 64;

/// The lease API's settings.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The provider's account address: only its leases are served.
    pub provider: Addr,
    /// Token checks; the clock skew is capped at [`MAX_CLOCK_SKEW`].
    pub verifier: VerifierConfig,
    pub max_manifest_bytes: usize,
    /// A TLS handshake that takes longer is abandoned.
    pub handshake_timeout: Duration,
    /// Longest wait for one chain query.
    pub chain_timeout: Duration,
    /// How long `PUT manifest` waits for the deploys; after that it answers 202 and the deploys
    /// go on (they are never cancelled half-way, not even when the client disconnects).
    pub deploy_wait: Duration,
}

impl GatewayConfig {
    /// Defaults for `provider` on a chain with bech32 prefix `prefix`.
    pub fn new(provider: Addr, prefix: &str) -> GatewayConfig {
        GatewayConfig {
            provider,
            verifier: VerifierConfig::new(prefix),
            max_manifest_bytes: DEFAULT_MAX_MANIFEST_BYTES,
            handshake_timeout: Duration::from_secs(10),
            chain_timeout: Duration::from_secs(15),
            deploy_wait: Duration::from_secs(120),
        }
    }
}

/// `GET /status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStatusResponse {
    pub address: String,
    /// The agent's version.
    pub version: String,
    /// `docker`, `kubernetes`.
    pub backend: String,
    /// Leases the inventory holds resources for.
    pub active_leases: usize,
    pub inventory: InventorySnapshot,
}

/// `PUT /deployment/{dseq}/manifest`: 200 once every lease is deployed, 202 if the deploys
/// outlast [`GatewayConfig::deploy_wait`] (then `leases` is empty and `status` says so).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendManifestResponse {
    /// `owner/dseq`.
    pub deployment: String,
    /// The manifest version, hex.
    pub version: String,
    /// `deployed` or `deploying`.
    pub status: String,
    pub leases: Vec<LeaseDeployment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseDeployment {
    /// `owner/dseq/gseq/oseq/provider`.
    pub lease: String,
    pub group: String,
    /// `created`, `updated` or `unchanged`.
    pub outcome: String,
}

/// `GET /lease/.../status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseStatusResponse {
    pub lease: String,
    /// Every service has all its replicas running.
    pub ready: bool,
    pub services: BTreeMap<String, ServiceView>,
    /// Published ports per service (Akash's `forwarded_ports`).
    pub forwarded_ports: BTreeMap<String, Vec<PortView>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    /// Replicas the manifest asks for.
    pub total: u32,
    /// Replicas running.
    pub ready: u32,
    pub uris: Vec<String>,
    pub replicas: Vec<ReplicaView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaView {
    pub index: u32,
    pub id: String,
    /// `running`, `exited`, ...
    pub state: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortView {
    pub replica: u32,
    pub port: u16,
    pub external_port: u32,
    pub proto: String,
    pub host: String,
    pub host_port: u16,
}

impl LeaseStatusResponse {
    pub fn new(lease: &LeaseId, status: &LeaseStatus) -> LeaseStatusResponse {
        let mut services = BTreeMap::new();
        let mut forwarded_ports = BTreeMap::new();
        for (name, s) in &status.services {
            services.insert(
                name.clone(),
                ServiceView {
                    name: s.name.clone(),
                    total: s.total,
                    ready: s.ready,
                    uris: s.uris.clone(),
                    replicas: s
                        .replicas
                        .iter()
                        .map(|r| ReplicaView {
                            index: r.index,
                            id: r.id.clone(),
                            state: r.state.to_string(),
                            detail: r.detail.clone(),
                        })
                        .collect(),
                },
            );
            if !s.forwarded_ports.is_empty() {
                forwarded_ports.insert(
                    name.clone(),
                    s.forwarded_ports
                        .iter()
                        .map(|p| PortView {
                            replica: p.replica,
                            port: p.port,
                            external_port: p.external_port,
                            proto: p.proto.clone(),
                            host: p.host.clone(),
                            host_port: p.host_port,
                        })
                        .collect(),
                );
            }
        }
        LeaseStatusResponse {
            lease: lease.to_string(),
            ready: status.is_ready(),
            services,
            forwarded_ports,
        }
    }
}

/// Failures to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("lease API: {0}")]
    Tls(#[from] TlsError),
    #[error("lease API: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The lease API server. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

struct Shared {
    config: GatewayConfig,
    verifier: Verifier,
    backend: Arc<dyn Backend>,
    source: Arc<dyn LeaseSource>,
    manifests: Arc<dyn ManifestStore>,
    inventory: Arc<Mutex<Inventory>>,
    deploy_locks: Vec<tokio::sync::Mutex<()>>,
    /// Set on shutdown: ends log and event streams, which would otherwise hold a graceful
    /// shutdown open forever.
    stop: watch::Sender<bool>,
}

impl Gateway {
    pub fn new(
        config: GatewayConfig,
        backend: Arc<dyn Backend>,
        source: Arc<dyn LeaseSource>,
        manifests: Arc<dyn ManifestStore>,
        inventory: Arc<Mutex<Inventory>>,
    ) -> Gateway {
        let mut verifier = config.verifier.clone();
        verifier.clock_skew = verifier.clock_skew.min(MAX_CLOCK_SKEW);
        let (stop, _) = watch::channel(false);
        Gateway {
            shared: Arc::new(Shared {
                verifier: Verifier::new(verifier),
                config,
                backend,
                source,
                manifests,
                inventory,
                deploy_locks: (0..DEPLOY_LOCKS)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                stop,
            }),
        }
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.shared.config
    }

    /// The routes, without TLS (to embed in another server or test in-process).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/status", get(provider_status))
            .route("/deployment/{dseq}/manifest", put(send_manifest))
            .route("/lease/{dseq}/{gseq}/{oseq}/status", get(lease_status))
            .route("/lease/{dseq}/{gseq}/{oseq}/manifest", get(lease_manifest))
            .route("/lease/{dseq}/{gseq}/{oseq}/logs", get(lease_logs))
            .route("/lease/{dseq}/{gseq}/{oseq}/events", get(lease_events))
            .fallback(no_route)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(axum::middleware::from_fn(log_request))
            .with_state(self.shared.clone())
    }

    /// Ends every open log and event stream (what shutdown does first).
    pub fn stop_streams(&self) {
        self.shared.stop.send_replace(true);
    }

    /// Serves on `listener` until `shutdown` completes, then ends the streams and waits for
    /// the requests in flight.
    pub async fn serve<F>(&self, listener: TlsListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let this = self.clone();
        let signal = async move {
            shutdown.await;
            this.stop_streams();
        };
        axum::serve(listener, self.router())
            .with_graceful_shutdown(signal)
            .await
    }

    /// Listens on `addr` with `cert` and serves in a background task until
    /// [`RunningGateway::shutdown`] (or until the handle is dropped).
    pub async fn start(
        &self,
        addr: SocketAddr,
        cert: &ProviderCert,
    ) -> Result<RunningGateway, ServeError> {
        let tls = cert.server_config()?;
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let listener = TlsListener::new(tcp, tls, self.shared.config.handshake_timeout)
            .map_err(|source| ServeError::Bind { addr, source })?;
        let local_addr = axum::serve::Listener::local_addr(&listener)
            .map_err(|source| ServeError::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let this = self.clone();
        let task = tokio::spawn(async move {
            this.serve(listener, async move {
                // A dropped handle stops the server too.
                let _ = stopped.await;
            })
            .await
        });
        tracing::info!(addr = %local_addr, pin = %cert.pin_hex(), "lease API listening");
        Ok(RunningGateway {
            local_addr,
            stop: Some(stop),
            task,
        })
    }
}

/// A server started by [`Gateway::start`].
pub struct RunningGateway {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, ends streams, waits for requests in flight.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// The verified claims of the request's bearer token.
struct Caller(Claims);

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Caller, GatewayError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(GatewayError::MissingToken)?;
        let malformed =
            |what: &str| GatewayError::Unauthenticated(auth::AuthError::Malformed(what.into()));
        let value = value
            .to_str()
            .map_err(|_| malformed("the Authorization header is not ASCII"))?;
        let (scheme, token) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| malformed("the Authorization header is not `Bearer <token>`"))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(malformed("the Authorization scheme is not Bearer"));
        }
        let parsed = shared
            .verifier
            .parse(token.trim())
            .map_err(GatewayError::Unauthenticated)?;
        let key = match parsed.embedded_key() {
            Some(key) => key.to_vec(),
            None => shared
                .chain(shared.source.public_key(parsed.issuer()))
                .await?
                .ok_or_else(|| {
                    GatewayError::Unauthenticated(auth::AuthError::UnknownIssuer {
                        iss: parsed.issuer().to_string(),
                    })
                })?,
        };
        let claims = shared
            .verifier
            .verify_parsed(parsed, &key, auth::unix_now())
            .map_err(GatewayError::Unauthenticated)?;
        Ok(Caller(claims))
    }
}

impl Shared {
    /// A chain query with the configured timeout.
    async fn chain<T>(
        &self,
        query: BoxFuture<'_, Result<T, SourceError>>,
    ) -> Result<T, GatewayError> {
        let limit = self.config.chain_timeout;
        match tokio::time::timeout(limit, query).await {
            Ok(result) => result.map_err(GatewayError::Chain),
            Err(_) => Err(GatewayError::ChainTimeout(limit)),
        }
    }

    /// The caller's live leases at this provider with `dseq` (and `gseq`/`oseq` when given),
    /// sorted. 404 if there are none at all, 403 if there are only other owners'.
    async fn leases_of(
        &self,
        claims: &Claims,
        dseq: u64,
        order: Option<(u32, u32)>,
    ) -> Result<Vec<LeaseId>, GatewayError> {
        let provider = &self.config.provider;
        let mut live: Vec<LeaseId> = self
            .chain(self.source.leases(dseq))
            .await?
            .into_iter()
            .filter(|l| {
                l.id.provider == *provider
                    && l.id.dseq == dseq
                    && is_live(l.state)
                    && order.is_none_or(|(g, o)| l.id.gseq == g && l.id.oseq == o)
            })
            .map(|l| l.id)
            .collect();
        live.sort();
        let Some(first) = live.first() else {
            let what = match order {
                Some((g, o)) => format!("no active lease {dseq}/{g}/{o}"),
                None => format!("no active lease of deployment {dseq}"),
            };
            return Err(GatewayError::NotFound(format!(
                "{what} with provider {provider}"
            )));
        };
        let other_owner = first.owner.to_string();
        let mine: Vec<LeaseId> = live
            .into_iter()
            .filter(|l| l.owner.as_str() == claims.iss)
            .collect();
        if mine.is_empty() {
            return Err(GatewayError::Forbidden(auth::AuthError::NotLeaseOwner {
                iss: claims.iss.clone(),
                owner: other_owner,
            }));
        }
        Ok(mine)
    }

    /// The one lease a `/lease/...` path names, with `scope` authorized on it.
    async fn lease(
        &self,
        claims: &Claims,
        path: Result<Path<(u64, u32, u32)>, PathRejection>,
        scope: Scope,
    ) -> Result<LeaseId, GatewayError> {
        let lease = self.lease_at(claims, path).await?;
        auth::authorize(claims, scope, &lease).map_err(GatewayError::auth)?;
        Ok(lease)
    }

    /// The one lease a `/lease/...` path names (owned by the caller; scopes not checked).
    async fn lease_at(
        &self,
        claims: &Claims,
        path: Result<Path<(u64, u32, u32)>, PathRejection>,
    ) -> Result<LeaseId, GatewayError> {
        let Path((dseq, gseq, oseq)) = path.map_err(|e| {
            GatewayError::BadRequest(format!(
                "a lease path is /lease/<dseq>/<gseq>/<oseq>/...: {}",
                e.body_text()
            ))
        })?;
        self.leases_of(claims, dseq, Some((gseq, oseq)))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| GatewayError::Internal("lease resolution returned nothing".into()))
    }

    fn deploy_lock(&self, id: &DeploymentId) -> &tokio::sync::Mutex<()> {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        let i = (hasher.finish() % DEPLOY_LOCKS as u64) as usize;
        &self.deploy_locks[i]
    }

    async fn store<T, F>(&self, op: F) -> Result<T, GatewayError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn ManifestStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.manifests.clone();
        tokio::task::spawn_blocking(move || op(store.as_ref()))
            .await
            .map_err(|e| GatewayError::Internal(format!("manifest store task: {e}")))?
            .map_err(GatewayError::Store)
    }

    /// Stores the manifest, then deploys each lease's group in order. Runs in its own task.
    async fn deploy(
        self: Arc<Self>,
        deployment: DeploymentId,
        version: String,
        manifest: Manifest,
        targets: Vec<(LeaseId, Group)>,
    ) -> Result<SendManifestResponse, GatewayError> {
        // Two manifests for one deployment must not interleave their deploys (the backend
        // does not guard against concurrent deploys of a lease).
        let _guard = self.deploy_lock(&deployment).lock().await;
        let result = self
            .deploy_locked(&deployment, version, manifest, &targets)
            .await;
        if let Err(e) = &result {
            // The client may be gone (202, or disconnected): the log is where this is seen.
            tracing::warn!(%deployment, error = %e, "manifest deploy failed");
        }
        result
    }

    async fn deploy_locked(
        &self,
        deployment: &DeploymentId,
        version: String,
        manifest: Manifest,
        targets: &[(LeaseId, Group)],
    ) -> Result<SendManifestResponse, GatewayError> {
        let id = deployment.clone();
        self.store(move |s| s.put(&id, &manifest)).await?;
        let mut leases = Vec::with_capacity(targets.len());
        for (lease, group) in targets {
            let outcome = self
                .backend
                .deploy(lease, group)
                .await
                .map_err(|e| GatewayError::backend(lease, e))?;
            tracing::info!(%lease, group = %group.name, ?outcome, "lease deployed");
            leases.push(LeaseDeployment {
                lease: lease.to_string(),
                group: group.name.clone(),
                outcome: outcome_name(outcome).to_string(),
            });
        }
        Ok(SendManifestResponse {
            deployment: deployment.to_string(),
            version,
            status: "deployed".to_string(),
            leases,
        })
    }
}

fn outcome_name(outcome: DeployOutcome) -> &'static str {
    match outcome {
        DeployOutcome::Created => "created",
        DeployOutcome::Updated => "updated",
        DeployOutcome::Unchanged => "unchanged",
    }
}

async fn provider_status(State(shared): State<Arc<Shared>>) -> Json<ProviderStatusResponse> {
    let inventory = shared
        .inventory
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .snapshot();
    Json(ProviderStatusResponse {
        address: shared.config.provider.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        backend: shared.backend.name().to_string(),
        active_leases: inventory.leased,
        inventory,
    })
}

async fn send_manifest(
    State(shared): State<Arc<Shared>>,
    Caller(claims): Caller,
    path: Result<Path<u64>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<SendManifestResponse>), GatewayError> {
    let Path(dseq) = path.map_err(|e| {
        GatewayError::BadRequest(format!(
            "the path is /deployment/<dseq>/manifest: {}",
            e.body_text()
        ))
    })?;
    let bytes = read_limited(body, &headers, shared.config.max_manifest_bytes).await?;
    let leases = shared.leases_of(&claims, dseq, None).await?;
    for lease in &leases {
        auth::authorize(&claims, Scope::SendManifest, lease).map_err(GatewayError::auth)?;
    }
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        GatewayError::InvalidManifest(format!("not a manifest in Akash's JSON form: {e}"))
    })?;
    let id = DeploymentId::new(Addr::unchecked(&claims.iss), dseq);
    let deployment = shared
        .chain(shared.source.deployment(&id))
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("deployment {id} is not on chain")))?;
    let version = manifest.version();
    if deployment.version.as_slice() != version.as_slice() {
        return Err(GatewayError::VersionMismatch {
            deployment: id.to_string(),
            expected: hex::encode(deployment.version.as_slice()),
            got: hex::encode(version),
        });
    }
    let specs: Vec<kumo::GroupSpec> = deployment.groups.iter().map(|g| g.spec.clone()).collect();
    check_against_groups(&manifest, &specs)?;
    let mut targets = Vec::with_capacity(leases.len());
    for lease in leases {
        let name = deployment
            .groups
            .iter()
            .find(|g| g.gseq == lease.gseq)
            .map(|g| g.spec.name.clone())
            .ok_or_else(|| {
                GatewayError::NotFound(format!(
                    "lease {lease} is for group {} which deployment {id} does not have",
                    lease.gseq
                ))
            })?;
        // The check matched every manifest group to a deployment group by name.
        let group = manifest
            .0
            .iter()
            .find(|g| g.name == name)
            .cloned()
            .ok_or_else(|| GatewayError::Internal(format!("manifest lost group {name:?}")))?;
        targets.push((lease, group));
    }
    let version = hex::encode(version);
    tracing::info!(deployment = %id, %version, leases = targets.len(), "manifest accepted");
    // Deploy in a task of its own: a client that disconnects must not cancel a deploy
    // half-way.
    let task = tokio::spawn(
        shared
            .clone()
            .deploy(id.clone(), version.clone(), manifest, targets),
    );
    match tokio::time::timeout(shared.config.deploy_wait, task).await {
        Ok(Ok(result)) => result.map(|r| (StatusCode::OK, Json(r))),
        Ok(Err(e)) => Err(GatewayError::Internal(format!("deploy task: {e}"))),
        Err(_) => Ok((
            StatusCode::ACCEPTED,
            Json(SendManifestResponse {
                deployment: id.to_string(),
                version,
                status: "deploying".to_string(),
                leases: Vec::new(),
            }),
        )),
    }
}

/// Reads at most `limit` bytes of body; more is a 413 (after draining, see [`DRAIN_LIMIT`]).
async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let mut stream = body.into_data_stream();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        drain(stream).await;
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| GatewayError::BadRequest(format!("reading the body: {e}")))?;
        if buf.len().saturating_add(chunk.len()) > limit {
            drain(stream).await;
            return Err(GatewayError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

async fn drain(mut stream: axum::body::BodyDataStream) {
    let discard = async move {
        let mut total = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            total = total.saturating_add(chunk.len());
            if total > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

async fn lease_status(
    State(shared): State<Arc<Shared>>,
    Caller(claims): Caller,
    path: Result<Path<(u64, u32, u32)>, PathRejection>,
) -> Result<Json<LeaseStatusResponse>, GatewayError> {
    let lease = shared.lease(&claims, path, Scope::Status).await?;
    let status = shared
        .backend
        .status(&lease)
        .await
        .map_err(|e| not_deployed(&lease, e))?;
    Ok(Json(LeaseStatusResponse::new(&lease, &status)))
}

/// A backend's "nothing here" for a lease that is live on chain: the manifest was not sent (or
/// not deployed) yet.
fn not_deployed(lease: &LeaseId, e: BackendError) -> GatewayError {
    match e {
        BackendError::LeaseNotFound { .. } => GatewayError::NotFound(format!(
            "nothing is deployed for lease {lease} yet: send the manifest first"
        )),
        e => GatewayError::backend(lease, e),
    }
}

async fn lease_manifest(
    State(shared): State<Arc<Shared>>,
    Caller(claims): Caller,
    path: Result<Path<(u64, u32, u32)>, PathRejection>,
) -> Result<Json<Manifest>, GatewayError> {
    let lease = shared.lease(&claims, path, Scope::GetManifest).await?;
    let deployment_id = lease.deployment();
    let id = deployment_id.clone();
    let manifest = shared.store(move |s| s.get(&id)).await?.ok_or_else(|| {
        GatewayError::NotFound(format!(
            "no manifest was sent for deployment {deployment_id}"
        ))
    })?;
    let deployment = shared
        .chain(shared.source.deployment(&deployment_id))
        .await?
        .ok_or_else(|| {
            GatewayError::NotFound(format!("deployment {deployment_id} is not on chain"))
        })?;
    let group = deployment
        .groups
        .iter()
        .find(|g| g.gseq == lease.gseq)
        .and_then(|g| manifest.0.iter().find(|m| m.name == g.spec.name))
        .cloned()
        .ok_or_else(|| {
            GatewayError::NotFound(format!("the manifest has no group for lease {lease}"))
        })?;
    // Akash answers with a manifest holding the lease's group only.
    Ok(Json(Manifest(vec![group])))
}

/// `?service=a,b&follow=true&tail=100` (all optional).
#[derive(Debug, Default, Deserialize)]
struct StreamQuery {
    service: Option<String>,
    follow: Option<String>,
    tail: Option<String>,
}

fn parse_query(
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<StreamQuery, GatewayError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| GatewayError::BadRequest(e.body_text()))
}

fn parse_follow(value: Option<&str>) -> Result<bool, GatewayError> {
    match value {
        None | Some("false") | Some("0") => Ok(false),
        Some("") | Some("true") | Some("1") => Ok(true),
        Some(other) => Err(GatewayError::BadRequest(format!(
            "follow must be true or false, not {other:?}"
        ))),
    }
}

fn parse_tail(value: Option<&str>) -> Result<Option<u64>, GatewayError> {
    match value {
        // Akash clients send -1 for "everything".
        None | Some("") | Some("-1") => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            GatewayError::BadRequest(format!("tail must be a number of lines, not {v:?}"))
        }),
    }
}

async fn lease_logs(
    State(shared): State<Arc<Shared>>,
    Caller(claims): Caller,
    path: Result<Path<(u64, u32, u32)>, PathRejection>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Response, GatewayError> {
    let query = parse_query(query)?;
    let services: Vec<String> = query
        .service
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let follow = parse_follow(query.follow.as_deref())?;
    let tail = parse_tail(query.tail.as_deref())?;
    let lease = shared.lease_at(&claims, path).await?;
    if services.is_empty() {
        auth::authorize(&claims, Scope::Logs, &lease).map_err(GatewayError::auth)?;
    } else {
        // A token limited to some services may read those.
        for service in &services {
            auth::authorize_service(&claims, Scope::Logs, &lease, service)
                .map_err(GatewayError::auth)?;
        }
    }
    let stream = shared
        .backend
        .logs(
            &lease,
            LogOptions {
                services,
                tail,
                follow,
            },
        )
        .await
        .map_err(|e| not_deployed(&lease, e))?;
    tracing::debug!(%lease, follow, ?tail, "streaming logs");
    Ok(ndjson(stream, shared.stop.subscribe()))
}

async fn lease_events(
    State(shared): State<Arc<Shared>>,
    Caller(claims): Caller,
    path: Result<Path<(u64, u32, u32)>, PathRejection>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Response, GatewayError> {
    let query = parse_query(query)?;
    let follow = parse_follow(query.follow.as_deref())?;
    let lease = shared.lease(&claims, path, Scope::Events).await?;
    let stream = shared
        .backend
        .events(&lease, follow)
        .await
        .map_err(|e| not_deployed(&lease, e))?;
    tracing::debug!(%lease, follow, "streaming events");
    Ok(ndjson(stream, shared.stop.subscribe()))
}

/// A chunked `application/x-ndjson` response of `stream`'s items. An error ends the stream
/// after one `{"error": ...}` line; shutdown ends it at once.
fn ndjson<T: Serialize + Send + 'static>(
    stream: BoxStream<'static, Result<T, BackendError>>,
    mut stop: watch::Receiver<bool>,
) -> Response {
    let lines = futures_util::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        let (line, next) = match stream.next().await? {
            Ok(item) => (serde_json::to_vec(&item), Some(stream)),
            Err(e) => (
                serde_json::to_vec(&serde_json::json!({ "error": e.to_string() })),
                None,
            ),
        };
        let mut line = line.unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(line)), next))
    });
    let stopped = async move {
        // Resolves when `stop` is set, or when the gateway (the sender) is gone.
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let body = Body::from_stream(lines.take_until(stopped));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies that buffer responses (nginx) would hold followed lines back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

async fn no_route(method: Method, uri: Uri) -> GatewayError {
    GatewayError::NotFound(format!("no route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let body = ErrorBody {
        code: "method_not_allowed".into(),
        message: format!("{method} is not served on {}", uri.path()),
    };
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "lease API request"
    );
    response
}
