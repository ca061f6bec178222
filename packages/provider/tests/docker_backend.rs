//! The Docker backend against a real engine. CI starts one (`scripts/ensure-docker`); without
//! it these tests fail, they do not skip. Images are built here `FROM scratch` from
//! `images/hello`: nothing is pulled.
//!
//! Every test lease has an owner starting with `kumo1dockertest` and a fresh dseq; a guard tears
//! it down even when the test fails, and the first test to start removes leftovers of earlier
//! runs.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, ListNetworksOptions,
    ListVolumesOptions, RemoveContainerOptions, RestartContainerOptions, StopContainerOptions,
};
use cosmwasm_std::Addr;
use futures_util::StreamExt;
use kumo_provider::backend::{
    Backend, BackendError, DeployOutcome, Group, LeaseId, LeaseStatus, LeaseWorkloads, LogOptions,
    ReplicaCount, ReplicaState,
};
use kumo_provider::docker::{
    self, build_hello_image, container_name, lease_key, DockerBackend, DockerConfig, HELLO_IMAGE,
};

const TEST_OWNER_PREFIX: &str = "kumo1dockertest";

static SETUP: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// The backend, once the engine answers, the hello image is built and old test leases are gone.
async fn backend() -> DockerBackend {
    let backend = match DockerBackend::connect(DockerConfig::default()).await {
        Ok(backend) => backend,
        Err(e) => panic!(
            "these tests need a running Docker engine: {e}\n\
             Start one with `scripts/ensure-docker` (CI runs it before the tests)."
        ),
    };
    SETUP
        .get_or_init(|| async {
            let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            if let Err(e) =
                build_hello_image(backend.client(), &workspace, &images_target_dir()).await
            {
                panic!("cannot build {HELLO_IMAGE}: {e}");
            }
            for old in backend.leases().await.expect("list leases") {
                if old.lease.owner.as_str().starts_with(TEST_OWNER_PREFIX) {
                    backend
                        .teardown(&old.lease)
                        .await
                        .expect("remove an old test lease");
                }
            }
        })
        .await;
    backend
}

/// `<target>/kumo-images`, beside the test binary's profile directory.
fn images_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // <target>/debug/deps/docker_backend-<hash>
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("kumo-images")
}

/// A lease of this test run; torn down when dropped, also when the test panics.
struct TestLease {
    id: LeaseId,
}

impl TestLease {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        Self {
            id: LeaseId {
                owner: Addr::unchecked(format!("{TEST_OWNER_PREFIX}{name}")),
                dseq: now + NEXT.fetch_add(1, Ordering::Relaxed),
                gseq: 1,
                oseq: 1,
                provider: Addr::unchecked("kumo1dockertestprovider"),
            },
        }
    }

    fn key(&self) -> String {
        lease_key(&self.id)
    }
}

impl Drop for TestLease {
    fn drop(&mut self) {
        let id = self.id.clone();
        // Drop cannot await, and may run on the test's runtime: tear down on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(backend) = DockerBackend::connect(DockerConfig::default()).await {
                    let _ = backend.teardown(&id).await;
                }
            });
        })
        .join();
    }
}

/// A one-service group running the hello image; `extra_service` and `storage` are SDL snippets
/// spliced into the service and its resources.
fn hello_group(greeting: &str, extra_service: &str, storage: &str) -> Group {
    let storage = if storage.is_empty() {
        "storage: {size: 256Mi}".to_string()
    } else {
        storage.to_string()
    };
    let sdl = format!(
        r#"
version: "2.0"
services:
  web:
    image: {HELLO_IMAGE}
    env:
      - GREETING={greeting}
{extra_service}
    expose:
      - port: 8080
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu: {{units: 0.25}}
        memory: {{size: 128Mi}}
        {storage}
  placement:
    local:
      pricing: {{web: {{denom: ukumo, amount: 100}}}}
deployment:
  web:
    local: {{profile: web, count: 1}}
"#
    );
    let parsed = kumo_sdl::parse(&sdl).unwrap_or_else(|e| panic!("test SDL: {e}\n{sdl}"));
    parsed.manifest.0.into_iter().next().expect("one group")
}

/// Polls until every replica runs and publishes its ports (10 s at most).
async fn wait_ready(backend: &DockerBackend, lease: &LeaseId) -> LeaseStatus {
    let mut last = None;
    for _ in 0..100 {
        match backend.status(lease).await {
            Ok(status)
                if status.is_ready()
                    && status
                        .services
                        .values()
                        .all(|s| !s.forwarded_ports.is_empty()) =>
            {
                return status
            }
            other => last = Some(other),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("lease {lease} not ready after 10 s: {last:?}");
}

/// The host port of the web service's first replica.
fn web_port(status: &LeaseStatus) -> u16 {
    status.services["web"].forwarded_ports[0].host_port
}

/// `GET path` on 127.0.0.1:port; retries while the server is starting (10 s at most).
async fn http_get(port: u16, path: &str) -> (u16, String) {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        let mut last = String::new();
        for _ in 0..100 {
            match try_get(port, &path) {
                Ok(response) => return response,
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("GET http://127.0.0.1:{port}{path} failed for 10 s: {last}");
    })
    .await
    .expect("http task")
}

fn try_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    // docker-proxy accepts before the container listens, then closes without a response.
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("incomplete response {response:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    Ok((status, body.to_string()))
}

fn lease_filter(key: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{}={key}", docker::labels::LEASE)],
    )])
}

/// (containers, networks, volumes) that carry the lease's label.
async fn objects_of(backend: &DockerBackend, key: &str) -> (usize, usize, usize) {
    let docker = backend.client();
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(lease_filter(key)),
            ..Default::default()
        }))
        .await
        .unwrap();
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(lease_filter(key)),
        }))
        .await
        .unwrap();
    let volumes = docker
        .list_volumes(Some(ListVolumesOptions {
            filters: Some(lease_filter(key)),
        }))
        .await
        .unwrap()
        .volumes
        .unwrap_or_default();
    (containers.len(), networks.len(), volumes.len())
}

fn container_ids(status: &LeaseStatus) -> Vec<String> {
    status
        .services
        .values()
        .flat_map(|s| s.replicas.iter().map(|r| r.id.clone()))
        .collect()
}

#[tokio::test]
async fn hello_lease_serves_http_reports_status_redeploys_as_no_op_and_tears_down() {
    let backend = backend().await;
    let lease = TestLease::new("hello");
    let group = hello_group("hello from the docker test", "", "");

    let outcome = backend.deploy(&lease.id, &group).await.expect("deploy");
    assert_eq!(outcome, DeployOutcome::Created);
    let status = wait_ready(&backend, &lease.id).await;
    let web = &status.services["web"];
    assert_eq!((web.ready, web.total), (1, 1));
    let port = web_port(&status);
    assert_eq!(web.uris, vec![format!("http://127.0.0.1:{port}")]);
    let forwarded = &web.forwarded_ports[0];
    assert_eq!(
        (
            forwarded.port,
            forwarded.external_port,
            forwarded.proto.as_str()
        ),
        (8080, 80, "TCP")
    );

    let (code, body) = http_get(port, "/").await;
    assert_eq!(code, 200);
    assert!(body.contains("hello from the docker test"), "{body:?}");
    assert_eq!(http_get(port, "/health").await, (200, "ok\n".to_string()));

    // The leased limits, Akash's variables, the restart policy.
    let inspect = backend
        .client()
        .inspect_container(&web.replicas[0].id, None)
        .await
        .unwrap();
    let host = inspect.host_config.unwrap();
    assert_eq!(host.nano_cpus, Some(250_000_000));
    assert_eq!(host.memory, Some(128 * 1024 * 1024));
    assert_eq!(
        host.restart_policy.unwrap().name,
        Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    let env = inspect.config.unwrap().env.unwrap();
    assert!(env.contains(&format!("AKASH_DEPLOYMENT_SEQUENCE={}", lease.id.dseq)));
    assert!(env.contains(&format!("AKASH_OWNER={}", lease.id.owner)));

    // Deploying the same group again changes nothing.
    let ids = container_ids(&status);
    assert_eq!(
        backend.deploy(&lease.id, &group).await.unwrap(),
        DeployOutcome::Unchanged
    );
    assert_eq!(
        container_ids(&backend.status(&lease.id).await.unwrap()),
        ids
    );

    // An agent that restarts finds the lease, with what it deployed.
    let listed = backend.leases().await.unwrap();
    let found = listed
        .iter()
        .find(|l| l.lease == lease.id)
        .expect("lease listed for adoption");
    assert_eq!(found.group.as_deref(), Some("local"));
    assert_eq!(found.manifest_hash, Some(docker::group_hash(&group)));
    assert_eq!(found.services, vec!["web".to_string()]);

    backend.teardown(&lease.id).await.expect("teardown");
    assert_eq!(objects_of(&backend, &lease.key()).await, (0, 0, 0));
    backend.teardown(&lease.id).await.expect("second teardown");
    assert!(matches!(
        backend.status(&lease.id).await,
        Err(BackendError::LeaseNotFound { .. })
    ));
    assert!(!backend
        .leases()
        .await
        .unwrap()
        .iter()
        .any(|l| l.lease == lease.id));
}

#[tokio::test]
async fn logs_return_the_tail_and_follow_new_lines() {
    let backend = backend().await;
    let lease = TestLease::new("logs");
    backend
        .deploy(&lease.id, &hello_group("logs", "", ""))
        .await
        .unwrap();
    let port = web_port(&wait_ready(&backend, &lease.id).await);
    http_get(port, "/").await;
    http_get(port, "/health").await;

    // The engine writes a container's output asynchronously: wait until both lines are in.
    let mut tail = Vec::new();
    for _ in 0..50 {
        let lines: Vec<_> = backend
            .logs(
                &lease.id,
                LogOptions {
                    services: vec!["web".to_string()],
                    tail: Some(2),
                    follow: false,
                },
            )
            .await
            .unwrap()
            .collect()
            .await;
        tail = lines.into_iter().map(|l| l.unwrap().message).collect();
        if tail.len() == 2 && tail[1].contains("GET /health") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tail.len(), 2, "{tail:?}");
    assert!(tail[0].contains("GET / 200"), "{tail:?}");
    assert!(tail[1].contains("GET /health 200"), "{tail:?}");

    let mut follow = backend
        .logs(
            &lease.id,
            LogOptions {
                services: Vec::new(),
                tail: Some(0),
                follow: true,
            },
        )
        .await
        .unwrap();
    // The stream subscribes when first polled: request until a line arrives.
    let mut followed = None;
    for _ in 0..20 {
        http_get(port, "/followed").await;
        if let Ok(next) = tokio::time::timeout(Duration::from_millis(500), follow.next()).await {
            followed = next;
            break;
        }
    }
    let line = followed.expect("a followed line within 10 s").unwrap();
    assert_eq!((line.service.as_str(), line.replica), ("web", 0));
    assert!(line.message.contains("GET /followed 404"), "{line:?}");

    assert!(matches!(
        backend
            .logs(
                &lease.id,
                LogOptions {
                    services: vec!["db".to_string()],
                    ..Default::default()
                }
            )
            .await,
        Err(BackendError::ServiceNotFound { .. })
    ));
}

#[tokio::test]
async fn events_show_the_replica_lifecycle() {
    let backend = backend().await;
    let lease = TestLease::new("events");
    backend
        .deploy(&lease.id, &hello_group("events", "", ""))
        .await
        .unwrap();
    wait_ready(&backend, &lease.id).await;
    let events: Vec<_> = backend
        .events(&lease.id, false)
        .await
        .unwrap()
        .collect()
        .await;
    let reasons: Vec<String> = events
        .into_iter()
        .map(|e| e.unwrap())
        .inspect(|e| assert_eq!((e.service.as_str(), e.replica), ("web", Some(0))))
        .map(|e| e.reason)
        .collect();
    assert!(reasons.contains(&"create".to_string()), "{reasons:?}");
    assert!(reasons.contains(&"start".to_string()), "{reasons:?}");
}

#[tokio::test]
async fn each_lease_gets_its_own_network() {
    let backend = backend().await;
    let (a, b) = (TestLease::new("neta"), TestLease::new("netb"));
    let group = hello_group("isolated", "", "");
    backend.deploy(&a.id, &group).await.unwrap();
    backend.deploy(&b.id, &group).await.unwrap();
    let mut networks = Vec::new();
    for lease in [&a, &b] {
        let status = wait_ready(&backend, &lease.id).await;
        let inspect = backend
            .client()
            .inspect_container(&status.services["web"].replicas[0].id, None)
            .await
            .unwrap();
        let attached = inspect.network_settings.unwrap().networks.unwrap();
        let names: Vec<&String> = attached.keys().collect();
        assert_eq!(names, vec![&docker::network_name(&lease.key())]);
        // Reachable by its service name on its own network.
        let endpoint = &attached[&docker::network_name(&lease.key())];
        assert!(endpoint
            .aliases
            .as_ref()
            .is_some_and(|a| a.contains(&"web".to_string())));
        networks.push(endpoint.network_id.clone().unwrap());
    }
    assert_ne!(networks[0], networks[1]);
    // Both serve on their own host ports.
    let (pa, pb) = (
        web_port(&backend.status(&a.id).await.unwrap()),
        web_port(&backend.status(&b.id).await.unwrap()),
    );
    assert_ne!(pa, pb);
    assert_eq!(http_get(pa, "/").await.0, 200);
    assert_eq!(http_get(pb, "/").await.0, 200);
    // Tearing one down leaves the other running.
    backend.teardown(&a.id).await.unwrap();
    assert_eq!(objects_of(&backend, &a.key()).await, (0, 0, 0));
    assert_eq!(objects_of(&backend, &b.key()).await, (1, 1, 0));
}

#[tokio::test]
async fn persistent_volume_survives_a_container_restart_and_goes_with_the_lease() {
    let backend = backend().await;
    let lease = TestLease::new("volume");
    let group = hello_group(
        "volume",
        "      - HELLO_DATA=/data\n    params:\n      storage:\n        data: {mount: /data}\n        scratch: {mount: /scratch}",
        "storage:\n          - size: 256Mi\n          - name: data\n            size: 64Mi\n            attributes: {persistent: true, class: beta2}\n          - name: scratch\n            size: 16Mi\n            attributes: {class: ram}",
    );
    backend.deploy(&lease.id, &group).await.expect("deploy");
    let status = wait_ready(&backend, &lease.id).await;
    let port = web_port(&status);
    assert!(http_get(port, "/").await.1.contains("visits: 1"));
    assert!(http_get(port, "/").await.1.contains("visits: 2"));

    // The RAM volume is a tmpfs and counts against the memory limit.
    let id = status.services["web"].replicas[0].id.clone();
    let inspect = backend.client().inspect_container(&id, None).await.unwrap();
    assert_eq!(
        inspect.host_config.unwrap().memory,
        Some((128 + 16) * 1024 * 1024)
    );
    let mounts = inspect.mounts.unwrap();
    let kind = |target: &str| {
        mounts
            .iter()
            .find(|m| m.destination.as_deref() == Some(target))
            .and_then(|m| m.typ.clone())
    };
    assert_eq!(kind("/data").as_deref(), Some("volume"));
    assert_eq!(kind("/scratch").as_deref(), Some("tmpfs"));

    backend
        .client()
        .restart_container(
            &id,
            Some(RestartContainerOptions {
                t: Some(1),
                signal: None,
            }),
        )
        .await
        .unwrap();
    // The host port may change on restart: read it again.
    let port = web_port(&wait_ready(&backend, &lease.id).await);
    assert!(http_get(port, "/").await.1.contains("visits: 3"));
    assert_eq!(objects_of(&backend, &lease.key()).await, (1, 1, 1));

    backend.teardown(&lease.id).await.unwrap();
    assert_eq!(objects_of(&backend, &lease.key()).await, (0, 0, 0));
}

#[tokio::test]
async fn deploy_restarts_a_stopped_replica_replaces_a_changed_one_and_scales() {
    let backend = backend().await;
    let lease = TestLease::new("update");
    let group = hello_group("first", "", "");
    backend.deploy(&lease.id, &group).await.unwrap();
    let first = container_ids(&wait_ready(&backend, &lease.id).await);

    backend
        .client()
        .stop_container(
            &first[0],
            Some(StopContainerOptions {
                t: Some(1),
                signal: None,
            }),
        )
        .await
        .unwrap();
    let stopped = backend.status(&lease.id).await.unwrap();
    assert_eq!(stopped.services["web"].ready, 0);
    assert_eq!(
        backend.deploy(&lease.id, &group).await.unwrap(),
        DeployOutcome::Updated
    );
    let status = wait_ready(&backend, &lease.id).await;
    assert_eq!(container_ids(&status), first, "the same container, started");

    let changed = hello_group("second", "", "");
    assert_eq!(
        backend.deploy(&lease.id, &changed).await.unwrap(),
        DeployOutcome::Updated
    );
    let status = wait_ready(&backend, &lease.id).await;
    assert_ne!(container_ids(&status), first, "a new container");
    let (_, body) = http_get(web_port(&status), "/").await;
    assert!(body.contains("second"), "{body:?}");
    assert_eq!(objects_of(&backend, &lease.key()).await, (1, 1, 0));

    // Two replicas, each on its own host port; then back to one.
    let mut scaled = changed.clone();
    scaled.services[0].count = 2;
    assert_eq!(
        backend.deploy(&lease.id, &scaled).await.unwrap(),
        DeployOutcome::Updated
    );
    let status = wait_ready(&backend, &lease.id).await;
    let web = &status.services["web"];
    assert_eq!((web.ready, web.total, web.replicas.len()), (2, 2, 2));
    let ports: Vec<u16> = web.forwarded_ports.iter().map(|p| p.host_port).collect();
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1]);
    for port in ports {
        assert_eq!(http_get(port, "/").await.0, 200);
    }
    assert_eq!(
        backend.deploy(&lease.id, &changed).await.unwrap(),
        DeployOutcome::Updated
    );
    let status = wait_ready(&backend, &lease.id).await;
    assert_eq!(status.services["web"].replicas.len(), 1);
    assert_eq!(objects_of(&backend, &lease.key()).await, (1, 1, 0));
}

/// The lease's entry in [`Backend::workloads`].
async fn workloads_of(backend: &DockerBackend, lease: &LeaseId) -> LeaseWorkloads {
    backend
        .workloads()
        .await
        .unwrap()
        .into_iter()
        .find(|w| &w.deployed.lease == lease)
        .expect("the lease is listed")
}

#[tokio::test]
async fn a_replica_created_but_never_started_is_reported_and_a_deploy_starts_the_same_container() {
    let backend = backend().await;
    let lease = TestLease::new("created");
    let group = hello_group("created", "", "");
    backend.deploy(&lease.id, &group).await.unwrap();
    let first = container_ids(&wait_ready(&backend, &lease.id).await);
    let running = workloads_of(&backend, &lease.id).await;
    let counts = |existing, running| {
        Some(std::collections::BTreeMap::from([(
            "web".to_string(),
            ReplicaCount { existing, running },
        )]))
    };
    assert_eq!(running.replicas, counts(1, 1));
    assert!(!running.short_of(&group));

    // What a deploy killed between the create and the start leaves: the container (same name,
    // labels and configuration), never started.
    let client = backend.client();
    let info = client
        .inspect_container(&first[0], None::<InspectContainerOptions>)
        .await
        .unwrap();
    let name = info.name.unwrap().trim_start_matches('/').to_string();
    let mut body = serde_json::to_value(info.config.unwrap()).unwrap();
    body["HostConfig"] = serde_json::to_value(info.host_config.unwrap()).unwrap();
    let body: ContainerCreateBody = serde_json::from_value(body).unwrap();
    client
        .remove_container(
            &first[0],
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let created = client
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name),
                ..Default::default()
            }),
            body,
        )
        .await
        .unwrap()
        .id;
    let status = backend.status(&lease.id).await.unwrap();
    assert_eq!(
        status.services["web"].replicas[0].state,
        ReplicaState::Created
    );
    let cut = workloads_of(&backend, &lease.id).await;
    assert_eq!(cut.replicas, counts(1, 0));
    assert!(cut.short_of(&group), "not all running");
    // `leases` still lists it as deployed: adoption alone would leave it stopped.
    assert_eq!(cut.deployed.manifest_hash, running.deployed.manifest_hash);

    // The deploy starts it: the same container, nothing created or duplicated.
    assert_eq!(
        backend.deploy(&lease.id, &group).await.unwrap(),
        DeployOutcome::Updated
    );
    let status = wait_ready(&backend, &lease.id).await;
    assert_eq!(container_ids(&status), vec![created.clone()]);
    let (code, body) = http_get(web_port(&status), "/").await;
    assert_eq!(code, 200);
    assert!(body.contains("created"), "{body:?}");
    assert_eq!(
        workloads_of(&backend, &lease.id).await.replicas,
        counts(1, 1)
    );
    // Running: a deploy changes nothing.
    assert_eq!(
        backend.deploy(&lease.id, &group).await.unwrap(),
        DeployOutcome::Unchanged
    );
    assert_eq!(
        container_ids(&backend.status(&lease.id).await.unwrap()),
        vec![created]
    );

    // A group asking for more replicas than exist is short too.
    let mut scaled = group.clone();
    scaled.services[0].count = 2;
    assert!(workloads_of(&backend, &lease.id).await.short_of(&scaled));
}

#[tokio::test]
async fn unknown_image_fails_clearly_and_leaves_nothing_behind() {
    let backend = backend().await;
    let lease = TestLease::new("badimage");
    let mut group = hello_group("never", "", "");
    // A registry on a closed local port: the pull fails at once, and nothing leaves the host.
    group.services[0].image = "127.0.0.1:1/kumo/missing:1".to_string();
    let err = backend.deploy(&lease.id, &group).await.unwrap_err();
    match &err {
        BackendError::ImageUnavailable { image, reason } => {
            assert_eq!(image, "127.0.0.1:1/kumo/missing:1");
            assert!(!reason.is_empty());
        }
        other => panic!("expected ImageUnavailable, got {other:?}"),
    }
    assert!(err.to_string().contains("could not be pulled"), "{err}");
    assert_eq!(objects_of(&backend, &lease.key()).await, (0, 0, 0));
    assert!(!backend
        .leases()
        .await
        .unwrap()
        .iter()
        .any(|l| l.lease == lease.id));
}

#[tokio::test]
async fn invalid_manifest_is_rejected_before_anything_is_created() {
    let backend = backend().await;
    let lease = TestLease::new("invalid");
    let mut group = hello_group("never", "", "");
    group.services[0].name = "../web".to_string();
    let err = backend.deploy(&lease.id, &group).await.unwrap_err();
    assert!(
        matches!(err, BackendError::InvalidManifest { .. }),
        "{err:?}"
    );
    assert_eq!(objects_of(&backend, &lease.key()).await, (0, 0, 0));
}

#[tokio::test]
async fn foreign_containers_are_neither_listed_nor_touched() {
    let backend = backend().await;
    let lease = TestLease::new("foreign");
    let docker = backend.client();
    // Someone else's container that happens to have the name the lease's replica would get.
    let name = container_name(&lease.key(), "web", 0);
    docker
        .create_container(
            Some(bollard::query_parameters::CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            bollard::models::ContainerCreateBody {
                image: Some(HELLO_IMAGE.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let result = backend
        .deploy(&lease.id, &hello_group("never", "", ""))
        .await;
    let still_there = docker.inspect_container(&name, None).await;
    // Remove it before asserting, so that a failure leaves nothing behind.
    let _ = docker
        .remove_container(
            &name,
            Some(bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    assert!(
        matches!(result, Err(BackendError::Conflict { .. })),
        "{result:?}"
    );
    assert!(still_there.is_ok(), "the foreign container was removed");
    assert_eq!(objects_of(&backend, &lease.key()).await, (0, 0, 0));
    assert!(!backend
        .leases()
        .await
        .unwrap()
        .iter()
        .any(|l| l.lease == lease.id));
}

#[tokio::test]
async fn an_unreachable_engine_is_reported_with_how_to_start_one() {
    let config = DockerConfig {
        endpoint: Some("unix:///nonexistent/kumo-docker.sock".to_string()),
        ..Default::default()
    };
    let err = DockerBackend::connect(config)
        .await
        .err()
        .expect("no engine there");
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/kumo-docker.sock"),
        "{message}"
    );
    assert!(message.contains("scripts/ensure-docker"), "{message}");
}
