//! The lease API end to end over TLS: a reqwest client that trusts (or pins) the provider's
//! certificate, real ES256K tokens, an in-memory chain and a fake backend.
//!
//! The backend here is an in-memory fake that records deploys and emits log lines and events
//! over time; the real Docker backend is covered by `tests/docker_backend.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cosmwasm_std::{Addr, HexBinary};
use futures_util::StreamExt as _;
use k256::ecdsa::signature::Signer as _;
use k256::ecdsa::{Signature, SigningKey};
use kumo::market::LeaseState;
use kumo::{DeploymentId, LeaseId};
use kumo_provider::auth::{
    issue_with_chain_key, unix_now, Access, Claims, DeploymentPermission, Leases, Permission,
    Scope, TokenIssuer,
};
use kumo_provider::backend::{
    Backend, BackendError, BoxFuture, DeployOutcome, DeployedLease, EventStream, ForwardedPort,
    Group, LeaseEvent, LeaseStatus, LogLine, LogOptions, LogSource, LogStream, ReplicaState,
    ReplicaStatus, ServiceStatus,
};
use kumo_provider::gateway::{
    pinned_client_config, ErrorBody, FileManifestStore, Gateway, GatewayConfig,
    LeaseStatusResponse, ManifestStore, MemoryLeaseSource, MemoryManifestStore, OnChainDeployment,
    OnChainGroup, ProviderCert, ProviderStatusResponse, RunningGateway, SendManifestResponse,
    TlsConfig, DEFAULT_MAX_MANIFEST_BYTES,
};
use kumo_provider::inventory::{Inventory, InventoryConfig, NodeCapacity};
use kumo_sdl::Manifest;
use reqwest::StatusCode;
use serde_json::Value;

const PREFIX: &str = "kumo";
const TENANT: [u8; 32] = [7u8; 32];
const PROVIDER: [u8; 32] = [3u8; 32];
const ABANDON: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DSEQ: u64 = 7;

const SDL: &str = r#"
version: "2.0"
services:
  web:
    image: nginx:1.27
    expose:
      - port: 80
        to: [{global: true}]
  api:
    image: example/api:2
    env: [MODE=prod]
    expose:
      - port: 8080
        as: 8080
        to: [{global: true}]
profiles:
  compute:
    small:
      resources: {cpu: {units: 0.5}, memory: {size: 512Mi}, storage: {size: 1Gi}}
  placement:
    dc:
      pricing: {small: {denom: uakt, amount: 100}}
deployment:
  web: {dc: {profile: small, count: 1}}
  api: {dc: {profile: small, count: 1}}
"#;

// ---------------------------------------------------------------------------------------------
// A fake backend.

#[derive(Default)]
struct FakeBackend {
    /// Every deploy call, in order.
    deploys: Mutex<Vec<(LeaseId, Group)>>,
    running: Mutex<BTreeMap<LeaseId, Group>>,
    /// The next deploys fail with this.
    fail: Mutex<Option<fn() -> BackendError>>,
    /// When set, each deploy waits for a permit first.
    gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
}

impl FakeBackend {
    fn deploys(&self) -> Vec<(LeaseId, Group)> {
        self.deploys.lock().unwrap().clone()
    }

    fn running(&self, lease: &LeaseId) -> Result<Group, BackendError> {
        self.running
            .lock()
            .unwrap()
            .get(lease)
            .cloned()
            .ok_or_else(|| BackendError::LeaseNotFound {
                lease: lease.to_string(),
            })
    }
}

/// Log lines of one service: `line 0` .. `line 4`, then with `follow` a `tick N` every 20 ms
/// for as long as the client reads.
fn service_logs(service: String, tail: Option<u64>, follow: bool) -> LogStream {
    let line = move |message: String| LogLine {
        service: service.clone(),
        replica: 0,
        source: LogSource::Stdout,
        message,
    };
    let skip = tail.map_or(0, |t| 5u64.saturating_sub(t)) as usize;
    let history: Vec<Result<LogLine, BackendError>> = (0..5)
        .skip(skip)
        .map(|i| Ok(line(format!("line {i}"))))
        .collect();
    let history = futures_util::stream::iter(history);
    if !follow {
        return history.boxed();
    }
    let ticks = futures_util::stream::unfold(0u32, move |n| {
        let line = line.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok(line(format!("tick {n}"))), n + 1))
        }
    });
    history.chain(ticks).boxed()
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn deploy<'a>(
        &'a self,
        lease: &'a LeaseId,
        group: &'a Group,
    ) -> BoxFuture<'a, Result<DeployOutcome, BackendError>> {
        Box::pin(async move {
            let gate = self.gate.lock().unwrap().clone();
            if let Some(gate) = gate {
                gate.acquire().await.unwrap().forget();
            }
            if let Some(fail) = *self.fail.lock().unwrap() {
                return Err(fail());
            }
            self.deploys
                .lock()
                .unwrap()
                .push((lease.clone(), group.clone()));
            let previous = self
                .running
                .lock()
                .unwrap()
                .insert(lease.clone(), group.clone());
            Ok(match previous {
                None => DeployOutcome::Created,
                Some(g) if &g == group => DeployOutcome::Unchanged,
                Some(_) => DeployOutcome::Updated,
            })
        })
    }

    fn status<'a>(
        &'a self,
        lease: &'a LeaseId,
    ) -> BoxFuture<'a, Result<LeaseStatus, BackendError>> {
        Box::pin(async move {
            let group = self.running(lease)?;
            let mut services = BTreeMap::new();
            for s in &group.services {
                let forwarded_ports = s
                    .expose
                    .iter()
                    .filter(|e| e.global && !e.is_ingress())
                    .map(|e| ForwardedPort {
                        replica: 0,
                        port: e.port as u16,
                        external_port: e.external_port(),
                        proto: e.proto.as_str().to_string(),
                        host: "203.0.113.7".to_string(),
                        host_port: 31000,
                    })
                    .collect();
                services.insert(
                    s.name.clone(),
                    ServiceStatus {
                        name: s.name.clone(),
                        total: s.count,
                        ready: s.count,
                        uris: vec![format!("http://{}.provider.test", s.name)],
                        forwarded_ports,
                        replicas: (0..s.count)
                            .map(|i| ReplicaStatus {
                                index: i,
                                id: format!("{}-{i}", s.name),
                                state: ReplicaState::Running,
                                detail: "Up 3 seconds".to_string(),
                            })
                            .collect(),
                    },
                );
            }
            Ok(LeaseStatus { services })
        })
    }

    fn logs<'a>(
        &'a self,
        lease: &'a LeaseId,
        options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, BackendError>> {
        Box::pin(async move {
            let group = self.running(lease)?;
            let mut streams = Vec::new();
            for s in &group.services {
                if options.services.is_empty() || options.services.contains(&s.name) {
                    streams.push(service_logs(s.name.clone(), options.tail, options.follow));
                }
            }
            if let Some(missing) = options
                .services
                .iter()
                .find(|n| !group.services.iter().any(|s| &&s.name == n))
            {
                return Err(BackendError::ServiceNotFound {
                    lease: lease.to_string(),
                    service: missing.clone(),
                });
            }
            Ok(futures_util::stream::select_all(streams).boxed())
        })
    }

    fn events<'a>(
        &'a self,
        lease: &'a LeaseId,
        follow: bool,
    ) -> BoxFuture<'a, Result<EventStream, BackendError>> {
        Box::pin(async move {
            self.running(lease)?;
            let event = |time: i64, reason: &str| LeaseEvent {
                time,
                service: "web".to_string(),
                replica: Some(0),
                reason: reason.to_string(),
                message: String::new(),
            };
            let past =
                futures_util::stream::iter(vec![Ok(event(1, "create")), Ok(event(2, "start"))]);
            if !follow {
                return Ok(past.boxed());
            }
            let later = futures_util::stream::once(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                Ok(event(3, "die"))
            })
            .chain(futures_util::stream::pending());
            Ok(past.chain(later).boxed())
        })
    }

    fn teardown<'a>(&'a self, lease: &'a LeaseId) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            self.running.lock().unwrap().remove(lease);
            Ok(())
        })
    }

    fn leases(&self) -> BoxFuture<'_, Result<Vec<DeployedLease>, BackendError>> {
        Box::pin(async move {
            Ok(self
                .running
                .lock()
                .unwrap()
                .iter()
                .map(|(lease, g)| DeployedLease {
                    lease: lease.clone(),
                    group: Some(g.name.clone()),
                    manifest_hash: None,
                    services: g.services.iter().map(|s| s.name.clone()).collect(),
                })
                .collect())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The suite: a gateway over TLS with one tenant lease of deployment DSEQ.

struct Suite {
    gateway: Option<RunningGateway>,
    addr: SocketAddr,
    cert: ProviderCert,
    backend: Arc<FakeBackend>,
    source: Arc<MemoryLeaseSource>,
    store: Arc<MemoryManifestStore>,
    tenant: TokenIssuer,
    tenant_addr: String,
    provider: Addr,
    manifest: Manifest,
    lease: LeaseId,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

struct Options {
    /// Applied to the on-chain group specs only (the manifest stays as the SDL built it).
    tamper_groups: fn(&mut Vec<kumo::GroupSpec>),
    deploy_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tamper_groups: |_| {},
            deploy_wait: Duration::from_secs(120),
        }
    }
}

fn address(secret: &[u8; 32]) -> String {
    TokenIssuer::from_secret(secret)
        .unwrap()
        .address(PREFIX)
        .unwrap()
}

impl Suite {
    async fn new() -> Suite {
        Suite::with(Options::default()).await
    }

    async fn with(options: Options) -> Suite {
        let dir = tempfile::tempdir().unwrap();
        let sdl = kumo_sdl::parse(SDL).unwrap();
        let tenant = TokenIssuer::from_secret(&TENANT).unwrap();
        let tenant_addr = tenant.address(PREFIX).unwrap();
        let provider = Addr::unchecked(address(&PROVIDER));
        let deployment = DeploymentId::new(Addr::unchecked(&tenant_addr), DSEQ);
        let lease = deployment.group(1).order(1).bid(provider.clone());

        let source = Arc::new(MemoryLeaseSource::new());
        source.add_lease(lease.clone());
        let mut groups = sdl.groups.clone();
        (options.tamper_groups)(&mut groups);
        source.insert_deployment(OnChainDeployment {
            id: deployment,
            version: HexBinary::from(sdl.manifest_version().to_vec()),
            groups: groups
                .into_iter()
                .enumerate()
                .map(|(i, spec)| OnChainGroup {
                    gseq: i as u32 + 1,
                    spec,
                })
                .collect(),
        });

        let mut inventory = Inventory::new(InventoryConfig {
            nodes: vec![NodeCapacity {
                name: "node-1".into(),
                cpu_millis: 8000,
                memory: 16 << 30,
                ephemeral_storage: 100 << 30,
                gpus: vec![],
            }],
            storage_classes: BTreeMap::new(),
        })
        .unwrap();
        inventory
            .adopt(&lease.order(), &sdl.groups[0].resources)
            .unwrap();

        let backend = Arc::new(FakeBackend::default());
        let store = Arc::new(MemoryManifestStore::new());
        let mut config = GatewayConfig::new(provider.clone(), PREFIX);
        config.deploy_wait = options.deploy_wait;
        let gateway = Gateway::new(
            config,
            backend.clone(),
            source.clone(),
            store.clone(),
            Arc::new(Mutex::new(inventory)),
        );
        let cert = TlsConfig::SelfSigned {
            dir: dir.path().to_path_buf(),
            hostnames: vec!["provider.test".into()],
        }
        .load()
        .unwrap();
        let running = gateway
            .start("127.0.0.1:0".parse().unwrap(), &cert)
            .await
            .unwrap();
        let addr = running.local_addr();
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(cert.cert_pem().as_bytes()).unwrap(),
            )
            .resolve("provider.test", addr)
            .build()
            .unwrap();
        Suite {
            gateway: Some(running),
            addr,
            cert,
            backend,
            source,
            store,
            tenant,
            tenant_addr,
            provider,
            manifest: sdl.manifest,
            lease,
            client,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://provider.test:{}{path}", self.addr.port())
    }

    fn token(&self, claims: &Claims) -> String {
        self.tenant.issue(claims)
    }

    fn full_token(&self) -> String {
        self.token(&Claims::full(&self.tenant_addr, unix_now(), 600))
    }

    fn scoped_token(&self, scopes: &[Scope]) -> String {
        self.token(&Claims::scoped(&self.tenant_addr, unix_now(), 600, scopes))
    }

    fn lease_path(&self, what: &str) -> String {
        format!("/lease/{DSEQ}/1/1/{what}")
    }

    fn manifest_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.manifest).unwrap()
    }

    async fn put_manifest(&self, dseq: u64, token: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .put(self.url(&format!("/deployment/{dseq}/manifest")))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn send_manifest(&self) -> SendManifestResponse {
        let response = self
            .put_manifest(DSEQ, &self.full_token(), self.manifest_json())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

/// The status and JSON error body of a refused request.
async fn error_of(response: reqwest::Response) -> (StatusCode, ErrorBody) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "error bodies are JSON"
    );
    (status, response.json().await.unwrap())
}

/// Reads NDJSON lines until `n` were read or the stream ends.
async fn read_lines(response: &mut reqwest::Response, n: usize) -> Vec<Value> {
    let mut buf = Vec::new();
    let mut lines = Vec::new();
    while lines.len() < n {
        let Some(chunk) = response.chunk().await.unwrap() else {
            break;
        };
        buf.extend_from_slice(&chunk);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            lines.push(serde_json::from_slice(&line).unwrap());
        }
    }
    lines
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this header and these claims, signed by `secret`.
fn signed_with_header(secret: &[u8; 32], header: &str, claims: &Claims) -> String {
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(&serde_json::to_vec(claims).unwrap())
    );
    let signature: Signature = SigningKey::from_slice(secret)
        .unwrap()
        .sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn provider_status_needs_no_token() {
    let suite = Suite::new().await;
    let response = suite.get("/status", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let status: ProviderStatusResponse = response.json().await.unwrap();
    assert_eq!(status.address, suite.provider.as_str());
    assert_eq!(status.backend, "fake");
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.active_leases, 1);
    // The lease's two replicas of 500m are booked.
    assert_eq!(status.inventory.allocated.cpu_millis, 1000);
    assert_eq!(status.inventory.available.cpu_millis, 7000);
}

#[tokio::test]
async fn manifest_is_checked_deployed_kept_and_served_back() {
    let suite = Suite::new().await;

    let before = suite
        .get(&suite.lease_path("status"), Some(&suite.full_token()))
        .await;
    let (status, body) = error_of(before).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.message.contains("send the manifest"),
        "{}",
        body.message
    );

    let sent = suite.send_manifest().await;
    assert_eq!(sent.status, "deployed");
    assert_eq!(sent.version, hex::encode(suite.manifest.version()));
    assert_eq!(sent.leases.len(), 1);
    assert_eq!(sent.leases[0].lease, suite.lease.to_string());
    assert_eq!(sent.leases[0].group, "dc");
    assert_eq!(sent.leases[0].outcome, "created");

    // The backend got the lease's group, exactly as the manifest has it.
    let deploys = suite.backend.deploys();
    assert_eq!(deploys.len(), 1);
    assert_eq!(deploys[0].0, suite.lease);
    assert_eq!(deploys[0].1, suite.manifest.0[0]);

    // The manifest is kept, and served back as the lease's group.
    let deployment = suite.lease.deployment();
    assert_eq!(
        suite.store.get(&deployment).unwrap().unwrap(),
        suite.manifest
    );
    let token = suite.scoped_token(&[Scope::GetManifest]);
    let response = suite.get(&suite.lease_path("manifest"), Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let served: Manifest = response.json().await.unwrap();
    assert_eq!(served, suite.manifest);
    assert_eq!(served.version(), suite.manifest.version());

    // The lease's status comes from the backend.
    let token = suite.scoped_token(&[Scope::Status]);
    let response = suite.get(&suite.lease_path("status"), Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let status: LeaseStatusResponse = response.json().await.unwrap();
    assert!(status.ready);
    assert_eq!(status.lease, suite.lease.to_string());
    assert_eq!(status.services.len(), 2);
    let web = &status.services["web"];
    assert_eq!((web.total, web.ready), (1, 1));
    assert_eq!(web.uris, vec!["http://web.provider.test".to_string()]);
    assert_eq!(web.replicas[0].state, "running");
    let api_ports = &status.forwarded_ports["api"];
    assert_eq!(api_ports.len(), 1);
    assert_eq!(api_ports[0].external_port, 8080);
    assert_eq!(api_ports[0].host_port, 31000);
    assert!(
        !status.forwarded_ports.contains_key("web"),
        "port 80 goes through the ingress"
    );

    // Sending it again changes nothing.
    let again = suite.send_manifest().await;
    assert_eq!(again.leases[0].outcome, "unchanged");
}

#[tokio::test]
async fn version_mismatch_is_a_400_and_deploys_nothing() {
    let suite = Suite::new().await;
    let mut other = suite.manifest.clone();
    other.0[0].services[1].image = "nginx:evil".into();
    let response = suite
        .put_manifest(
            DSEQ,
            &suite.full_token(),
            serde_json::to_vec(&other).unwrap(),
        )
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.code, "manifest_version_mismatch");
    assert!(
        body.message.contains(&hex::encode(other.version())),
        "{}",
        body.message
    );
    assert!(body
        .message
        .contains(&hex::encode(suite.manifest.version())));
    assert!(suite.backend.deploys().is_empty());
    assert!(suite
        .store
        .get(&suite.lease.deployment())
        .unwrap()
        .is_none());

    // Not JSON, or not a manifest: a 400 too.
    for garbage in [&b"{not json"[..], br#"{"name":"dc"}"#, b""] {
        let response = suite
            .put_manifest(DSEQ, &suite.full_token(), garbage.to_vec())
            .await;
        let (status, body) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body.code, "invalid_manifest");
    }
    assert!(suite.backend.deploys().is_empty());
}

#[tokio::test]
async fn manifest_exceeding_the_lease_is_a_400_and_deploys_nothing() {
    // The tenant committed to this manifest but leased one replica fewer than it runs.
    let suite = Suite::with(Options {
        tamper_groups: |groups| groups[0].resources[0].count = 1,
        ..Options::default()
    })
    .await;
    let response = suite
        .put_manifest(DSEQ, &suite.full_token(), suite.manifest_json())
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.code, "manifest_exceeds_lease");
    assert!(body.message.contains("leased for 1"), "{}", body.message);
    assert!(suite.backend.deploys().is_empty());

    // Or leased less CPU than each replica uses.
    let suite = Suite::with(Options {
        tamper_groups: |groups| groups[0].resources[0].resources.cpu.units = 100,
        ..Options::default()
    })
    .await;
    let response = suite
        .put_manifest(DSEQ, &suite.full_token(), suite.manifest_json())
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.message.contains("cpu"), "{}", body.message);
    assert!(suite.backend.deploys().is_empty());
}

#[tokio::test]
async fn bad_tokens_are_401_and_deploy_nothing() {
    let suite = Suite::new().await;
    let now = unix_now();
    let claims = Claims::full(&suite.tenant_addr, now, 600);
    let attacker = [9u8; 32];
    let tenant_pk = b64(&suite.tenant.public_key());
    let attacker_pk = b64(&TokenIssuer::from_secret(&attacker).unwrap().public_key());

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signed by another key, claiming the tenant's",
            signed_with_header(
                &attacker,
                &format!(r#"{{"alg":"ES256K","typ":"JWT","pk":"{tenant_pk}"}}"#),
                &claims,
            ),
            "bad signature",
        ),
        (
            "signed by another key, embedding it",
            signed_with_header(
                &attacker,
                &format!(r#"{{"alg":"ES256K","typ":"JWT","pk":"{attacker_pk}"}}"#),
                &claims,
            ),
            "not to the issuer",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(&serde_json::to_vec(&claims).unwrap())
            ),
            "only ES256K",
        ),
        (
            "expired",
            suite.token(&Claims::full(&suite.tenant_addr, now - 1000, 600)),
            "expired",
        ),
        ("garbage", "not-a-jwt".to_string(), "malformed"),
    ];
    for (case, token, says) in cases {
        let response = suite
            .put_manifest(DSEQ, &token, suite.manifest_json())
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
        let (_, body) = error_of(response).await;
        assert_eq!(body.code, "invalid_token", "{case}");
        assert!(body.message.contains(says), "{case}: {}", body.message);
        // The lease routes refuse it the same way.
        let response = suite.get(&suite.lease_path("status"), Some(&token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    }

    // No token at all.
    let response = suite
        .client
        .put(suite.url(&format!("/deployment/{DSEQ}/manifest")))
        .body(suite.manifest_json())
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body.code, "missing_token");

    assert!(suite.backend.deploys().is_empty());
}

#[tokio::test]
async fn wrong_scope_is_403_and_deploys_nothing() {
    let suite = Suite::new().await;
    let token = suite.scoped_token(&[Scope::Status, Scope::Logs]);
    let response = suite
        .put_manifest(DSEQ, &token, suite.manifest_json())
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body.code, "insufficient_scope");
    assert!(body.message.contains("send-manifest"), "{}", body.message);
    assert!(suite.backend.deploys().is_empty());

    suite.send_manifest().await;
    for (route, scope) in [("manifest", "get-manifest"), ("events", "events")] {
        let response = suite.get(&suite.lease_path(route), Some(&token)).await;
        let (status, body) = error_of(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}");
        assert!(body.message.contains(scope), "{route}: {}", body.message);
    }

    // A granular token for the web service's logs reads those, and nothing else.
    let granular = suite.token(&Claims::with_leases(
        &suite.tenant_addr,
        unix_now(),
        600,
        Leases {
            access: Access::Granular,
            scope: vec![],
            permissions: vec![Permission {
                provider: suite.provider.to_string(),
                access: Access::Granular,
                scope: vec![],
                deployments: vec![DeploymentPermission {
                    scope: vec![Scope::Logs],
                    dseq: DSEQ,
                    gseq: 0,
                    oseq: 0,
                    services: vec!["web".into()],
                }],
            }],
        },
    ));
    let logs = suite.lease_path("logs");
    let mut response = suite
        .get(&format!("{logs}?service=web"), Some(&granular))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let lines = read_lines(&mut response, 100).await;
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l["service"] == "web"));
    for path in [
        logs.clone(),
        format!("{logs}?service=api"),
        format!("{logs}?service=web,api"),
    ] {
        let response = suite.get(&path, Some(&granular)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

/// Leases are looked up under the token's issuer: another tenant finds no lease at that dseq
/// (404, as if it did not exist, so it learns nothing of other tenants' deployments).
#[tokio::test]
async fn another_tenants_token_finds_no_lease_and_deploys_nothing() {
    let suite = Suite::new().await;
    // Tenant B signs with a keyring key, as the CLI does.
    let key = kumo_chain::Key::from_mnemonic(ABANDON).unwrap();
    let other = key.address(PREFIX).unwrap();
    assert_ne!(other, suite.tenant_addr);
    let token = issue_with_chain_key(&key, &Claims::full(&other, unix_now(), 600));

    let response = suite
        .put_manifest(DSEQ, &token, suite.manifest_json())
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body.code, "not_found");
    assert!(body.message.contains(&other), "{}", body.message);
    assert!(body.message.contains("owner"), "{}", body.message);
    assert!(suite.backend.deploys().is_empty());

    suite.send_manifest().await;
    for route in ["status", "manifest", "logs", "events"] {
        let response = suite.get(&suite.lease_path(route), Some(&token)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{route}");
    }
}

#[tokio::test]
async fn oversized_manifest_is_413() {
    let suite = Suite::new().await;
    let mut body = suite.manifest_json();
    body.resize(DEFAULT_MAX_MANIFEST_BYTES + 1, b' ');
    let response = suite.put_manifest(DSEQ, &suite.full_token(), body).await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body.code, "payload_too_large");
    assert!(suite.backend.deploys().is_empty());

    // Without a Content-Length (chunked), the limit holds as the body arrives.
    let chunks =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let response = suite
        .client
        .put(suite.url(&format!("/deployment/{DSEQ}/manifest")))
        .bearer_auth(suite.full_token())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(suite.backend.deploys().is_empty());

    // A manifest of exactly the limit is read (padding is valid JSON whitespace).
    let mut body = suite.manifest_json();
    body.resize(DEFAULT_MAX_MANIFEST_BYTES, b' ');
    let response = suite.put_manifest(DSEQ, &suite.full_token(), body).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_and_closed_leases_are_404() {
    let suite = Suite::new().await;
    let token = suite.full_token();
    let response = suite.put_manifest(999, &token, suite.manifest_json()).await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.message.contains("999"), "{}", body.message);
    for path in [
        "/lease/999/1/1/status",
        "/lease/7/2/1/status",
        "/lease/7/1/2/logs",
    ] {
        let response = suite.get(path, Some(&token)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // A lease of the same deployment with another provider is not served here.
    let elsewhere = suite
        .lease
        .deployment()
        .group(2)
        .order(1)
        .bid(Addr::unchecked(address(&[4u8; 32])));
    suite.source.add_lease(elsewhere);
    let response = suite.get("/lease/7/2/1/status", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Once the lease closes, its deployment has no lease here.
    assert!(suite
        .source
        .set_lease_state(&suite.lease, LeaseState::Closed));
    let response = suite
        .put_manifest(DSEQ, &token, suite.manifest_json())
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(suite.backend.deploys().is_empty());

    // Bad paths and unknown routes are JSON errors too.
    let response = suite.get("/lease/seven/1/1/status", Some(&token)).await;
    let (status, _) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let response = suite.get("/nowhere", None).await;
    let (status, _) = error_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = suite
        .client
        .delete(suite.url("/status"))
        .send()
        .await
        .unwrap();
    let (status, _) = error_of(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn logs_stream_the_tail_then_follow() {
    let suite = Suite::new().await;
    suite.send_manifest().await;
    let token = suite.scoped_token(&[Scope::Logs]);
    let logs = suite.lease_path("logs");

    // The last two lines of each service, then the end.
    let mut response = suite.get(&format!("{logs}?tail=2"), Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines = read_lines(&mut response, 100).await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    for service in ["web", "api"] {
        let messages: Vec<&str> = lines
            .iter()
            .filter(|l| l["service"] == service)
            .map(|l| l["message"].as_str().unwrap())
            .collect();
        assert_eq!(messages, ["line 3", "line 4"], "{service}");
    }
    assert_eq!(lines[0]["source"], "stdout");

    // Following one service: its history, then lines as they are written.
    let mut response = suite
        .get(
            &format!("{logs}?service=api&tail=1&follow=true"),
            Some(&token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let lines = read_lines(&mut response, 4).await;
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["line 4", "tick 0", "tick 1", "tick 2"]);
    assert!(lines.iter().all(|l| l["service"] == "api"));
    drop(response);

    // Bad parameters and unknown services are refused before anything streams.
    for (query, expected) in [
        ("?tail=lots", StatusCode::BAD_REQUEST),
        ("?follow=maybe", StatusCode::BAD_REQUEST),
        ("?service=db", StatusCode::NOT_FOUND),
    ] {
        let response = suite.get(&format!("{logs}{query}"), Some(&token)).await;
        let (status, _) = error_of(response).await;
        assert_eq!(status, expected, "{query}");
    }
}

#[tokio::test]
async fn events_stream_and_follow() {
    let suite = Suite::new().await;
    suite.send_manifest().await;
    let token = suite.scoped_token(&[Scope::Events]);
    let events = suite.lease_path("events");

    let mut response = suite.get(&events, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let lines = read_lines(&mut response, 100).await;
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["create", "start"]);

    let mut response = suite
        .get(&format!("{events}?follow=true"), Some(&token))
        .await;
    let lines = read_lines(&mut response, 3).await;
    assert_eq!(lines[2]["reason"], "die");
    assert_eq!(lines[2]["replica"], 0);
}

#[tokio::test]
async fn shutdown_ends_open_follow_streams() {
    let mut suite = Suite::new().await;
    suite.send_manifest().await;
    let mut response = suite
        .get(
            &format!("{}?follow=1", suite.lease_path("logs")),
            Some(&suite.full_token()),
        )
        .await;
    assert_eq!(read_lines(&mut response, 12).await.len(), 12);
    let gateway = suite.gateway.take().unwrap();
    // A guard against a hang, not a timing assertion.
    tokio::time::timeout(Duration::from_secs(30), gateway.shutdown())
        .await
        .expect("shutdown waits for no follow stream")
        .unwrap();
    // The stream ended cleanly: what is left is read to its end.
    while response.chunk().await.unwrap().is_some() {}
}

#[tokio::test]
async fn deploy_failures_are_reported_as_json() {
    let suite = Suite::new().await;
    *suite.backend.fail.lock().unwrap() = Some(|| BackendError::ImageUnavailable {
        image: "nginx:1.27".into(),
        reason: "manifest unknown".into(),
    });
    let response = suite
        .put_manifest(DSEQ, &suite.full_token(), suite.manifest_json())
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body.code, "image_unavailable");
    assert!(body.message.contains("nginx:1.27"), "{}", body.message);

    *suite.backend.fail.lock().unwrap() = Some(|| BackendError::Engine {
        operation: "create container".into(),
        reason: "secret detail of /var/run/docker.sock".into(),
    });
    let response = suite
        .put_manifest(DSEQ, &suite.full_token(), suite.manifest_json())
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.message.contains("docker.sock"), "{}", body.message);
}

#[tokio::test]
async fn slow_deploys_answer_202_and_finish_in_the_background() {
    let suite = Suite::with(Options {
        deploy_wait: Duration::from_millis(10),
        ..Options::default()
    })
    .await;
    // The deploy cannot finish before the test lets it: the 202 does not depend on timing.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *suite.backend.gate.lock().unwrap() = Some(gate.clone());
    let response = suite
        .put_manifest(DSEQ, &suite.full_token(), suite.manifest_json())
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let sent: SendManifestResponse = response.json().await.unwrap();
    assert_eq!(sent.status, "deploying");
    assert!(suite.backend.deploys().is_empty());

    // The client is gone; the deploy goes on once the backend proceeds.
    gate.add_permits(1);
    tokio::time::timeout(Duration::from_secs(30), async {
        while suite.backend.deploys().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the deploy finishes");
    assert_eq!(suite.backend.deploys()[0].0, suite.lease);
}

#[tokio::test]
async fn tokens_without_a_key_are_checked_with_the_key_on_chain() {
    let suite = Suite::new().await;
    let issuer = TokenIssuer::from_secret(&TENANT)
        .unwrap()
        .without_embedded_key();
    let token = issuer.issue(&Claims::full(&suite.tenant_addr, unix_now(), 600));
    let response = suite
        .put_manifest(DSEQ, &token, suite.manifest_json())
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.message.contains("no public key"), "{}", body.message);

    suite
        .source
        .insert_public_key(&suite.tenant_addr, issuer.public_key().to_vec());
    let response = suite
        .put_manifest(DSEQ, &token, suite.manifest_json())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn only_clients_that_trust_or_pin_the_certificate_connect() {
    let suite = Suite::new().await;
    let url = suite.url("/status");

    // The public roots do not vouch for a self-signed certificate.
    let untrusting = reqwest::Client::builder()
        .resolve("provider.test", suite.addr)
        .build()
        .unwrap();
    let err = untrusting.get(&url).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");

    // Pinned by the key's hash, as the registry publishes it.
    let pin = suite.cert.spki_sha256();
    assert_eq!(suite.cert.pin().as_slice(), pin);
    let pinned = reqwest::Client::builder()
        .use_preconfigured_tls(pinned_client_config(&[pin]).unwrap())
        .resolve("provider.test", suite.addr)
        .build()
        .unwrap();
    let response = pinned.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The pin holds whatever name the client used.
    let by_ip = format!("https://127.0.0.1:{}/status", suite.addr.port());
    assert_eq!(
        pinned.get(&by_ip).send().await.unwrap().status(),
        StatusCode::OK
    );

    let wrong = reqwest::Client::builder()
        .use_preconfigured_tls(pinned_client_config(&[[0u8; 32]]).unwrap())
        .resolve("provider.test", suite.addr)
        .build()
        .unwrap();
    assert!(wrong.get(&url).send().await.is_err());
}

#[test]
fn self_signed_certificate_is_generated_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = TlsConfig::SelfSigned {
        dir: dir.path().join("tls"),
        hostnames: vec!["provider.test".into()],
    };
    let first = config.load().unwrap();
    let second = config.load().unwrap();
    assert_eq!(first.pin_hex(), second.pin_hex());
    assert_eq!(first.cert_sha256_hex(), second.cert_sha256_hex());
    assert_eq!(first.pin_hex().len(), 64);
    assert_ne!(first.pin_hex(), first.cert_sha256_hex());

    use std::os::unix::fs::PermissionsExt as _;
    let key = dir
        .path()
        .join("tls")
        .join(kumo_provider::gateway::tls::KEY_FILE);
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The same files as operator-provided PEM give the same certificate.
    let pem = TlsConfig::Pem {
        cert: dir
            .path()
            .join("tls")
            .join(kumo_provider::gateway::tls::CERT_FILE),
        key,
    }
    .load()
    .unwrap();
    assert_eq!(pem.pin_hex(), first.pin_hex());

    // A key that is not the certificate's is refused at load time.
    let (other, other_key) = ProviderCert::generate(&[]).unwrap();
    assert_ne!(other.pin_hex(), first.pin_hex());
    assert!(ProviderCert::from_pem(first.cert_pem(), &other_key).is_err());
    assert!(ProviderCert::from_pem("", &other_key).is_err());
}

#[test]
fn file_manifest_store_keeps_manifests_across_instances() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = kumo_sdl::parse(SDL).unwrap().manifest;
    let owner = Addr::unchecked(address(&TENANT));
    let a = DeploymentId::new(owner.clone(), 7);
    let b = DeploymentId::new(owner, 8);
    {
        let store = FileManifestStore::open(dir.path().join("manifests")).unwrap();
        assert_eq!(store.get(&a).unwrap(), None);
        store.put(&a, &manifest).unwrap();
        store.put(&b, &manifest).unwrap();
    }
    let store = FileManifestStore::open(dir.path().join("manifests")).unwrap();
    let kept = store.get(&a).unwrap().unwrap();
    assert_eq!(kept, manifest);
    assert_eq!(kept.version(), manifest.version());
    let listed = store.list().unwrap();
    assert_eq!(
        listed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        vec![a.clone(), b.clone()]
    );
    store.remove(&a).unwrap();
    store.remove(&a).unwrap();
    assert_eq!(store.get(&a).unwrap(), None);
    assert_eq!(store.list().unwrap().len(), 1);

    // An owner that is no address cannot name a file.
    let bad = DeploymentId::new(Addr::unchecked("../etc"), 1);
    assert!(store.put(&bad, &manifest).is_err());
}
