//! The Kubernetes backend's client against a mock API server ([`kube_mock`]).
//!
//! No Kubernetes API server can run here (no cluster, no network beyond the package registries),
//! so a small in-memory stand-in answers the requests the backend makes the way the API server
//! would, and records them: the tests check what the backend sends as well as what it makes of
//! the answers.

mod kube_mock;

use axum::http::Method;
use cosmwasm_std::Addr;
use futures_util::StreamExt;
use kube_mock::{Mock, Recorded};
use kumo_provider::backend::{
    Backend, BackendError, DeployOutcome, Group, LeaseId, LogOptions, ReplicaState,
};
use kumo_provider::kube::builder::{self, ingress_hostname, labels, lease_namespace};
use kumo_provider::kube::{KubeBackend, KubeSettings};
use serde_json::{json, Value};

async fn start() -> (Mock, KubeBackend) {
    start_with(KubeSettings::default()).await
}

async fn start_with(settings: KubeSettings) -> (Mock, KubeBackend) {
    let (mock, address) = kube_mock::serve().await;
    let config = kube::Config::new(format!("http://{address}").parse().unwrap());
    let backend = KubeBackend::connect_with(config, settings).await.unwrap();
    mock.clear_requests();
    (mock, backend)
}

// ---------------------------------------------------------------------------------------------
// Fixtures

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

const APP: &str = r#"
version: "2.1"
services:
  web:
    image: registry.example.com/team/web:1.2
    credentials: {host: registry.example.com, username: alice, password: s3cret, email: a@example.com}
    expose:
      - port: 8080
        as: 80
        accept: [www.example.com]
        to: [{global: true}]
      - port: 5353
        proto: udp
        to: [{global: true}]
  db:
    image: postgres:16
    expose:
      - port: 5432
        to: [{service: web}]
    params:
      storage:
        data: {mount: /var/lib/postgresql/data}
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.5}
        memory: {size: 256Mi}
        storage: {size: 1Gi}
    db:
      resources:
        cpu: {units: 1}
        memory: {size: 1Gi}
        storage:
          - size: 512Mi
          - name: data
            size: 10Gi
            attributes: {persistent: true, class: beta2}
  placement:
    dc:
      pricing:
        web: {denom: ukumo, amount: 100}
        db: {denom: ukumo, amount: 100}
deployment:
  web: {dc: {profile: web, count: 2}}
  db: {dc: {profile: db, count: 1}}
"#;

/// The same group without the web service.
fn db_only() -> Group {
    let mut g = group(APP);
    g.services.retain(|s| s.name == "db");
    g
}

fn ns() -> String {
    lease_namespace(&lease())
}

fn core(rest: &str) -> String {
    format!("/api/v1/namespaces/{}/{rest}", ns())
}

fn apps(rest: &str) -> String {
    format!("/apis/apps/v1/namespaces/{}/{rest}", ns())
}

fn networking(rest: &str) -> String {
    format!("/apis/networking.k8s.io/v1/namespaces/{}/{rest}", ns())
}

fn namespace_path() -> String {
    format!("/api/v1/namespaces/{}", ns())
}

/// A pod of `service`, as a Deployment's or StatefulSet's controller would create it.
fn pod(name: &str, service: &str, phase: &str, container_state: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns(),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {labels::MANAGED: "true", labels::SERVICE: service},
        },
        "status": {
            "phase": phase,
            "containerStatuses": [{
                "name": service, "image": "x", "imageID": "", "ready": phase == "Running",
                "restartCount": 0, "state": container_state,
            }],
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Deploy

#[tokio::test]
async fn deploy_applies_every_object_in_order_with_server_side_apply() {
    let (mock, backend) = start().await;
    let outcome = backend.deploy(&lease(), &group(APP)).await.unwrap();
    assert_eq!(outcome, DeployOutcome::Created);

    let ns_path = namespace_path();
    assert_eq!(
        mock.calls(),
        [
            format!("GET {ns_path}"),
            format!("PATCH {ns_path}"),
            format!(
                "PATCH {}",
                networking("networkpolicies/kumo-deployment-restrictions")
            ),
            format!("PATCH {}", networking("networkpolicies/kumo-web-np")),
            format!("PATCH {}", core("secrets/docker-creds-web")),
            format!("PATCH {}", apps("statefulsets/db")),
            format!("PATCH {}", apps("deployments/web")),
            format!("PATCH {}", core("services/db")),
            format!("PATCH {}", core("services/web")),
            format!("PATCH {}", core("services/web-np")),
            format!("PATCH {}", networking("ingresses/web")),
            format!("PATCH {ns_path}"),
        ]
    );
    let requests = mock.requests();
    for patch in requests.iter().filter(|r| r.method == Method::PATCH) {
        assert_eq!(
            patch.content_type.as_deref(),
            Some("application/apply-patch+yaml"),
            "{}",
            patch.path
        );
        assert_eq!(patch.query["force"], "true", "{}", patch.path);
    }
    let managers: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == Method::PATCH)
        .map(|r| r.query["fieldManager"].as_str())
        .collect();
    assert!(managers[..managers.len() - 1]
        .iter()
        .all(|m| *m == builder::FIELD_MANAGER));
    // The group is recorded last, by a manager of its own.
    assert_eq!(managers.last(), Some(&builder::MANIFEST_FIELD_MANAGER));

    // The bodies are the builder's objects.
    let deployment = requests
        .iter()
        .find(|r| r.path == apps("deployments/web"))
        .unwrap();
    let body = deployment.body.as_ref().unwrap();
    assert_eq!(body["kind"], "Deployment");
    assert_eq!(body["spec"]["replicas"], 2);
    let namespace = mock.object(&ns_path).unwrap();
    assert_eq!(namespace["metadata"]["labels"][labels::DSEQ], "42");
    assert_eq!(
        namespace["metadata"]["annotations"][labels::MANIFEST_HASH],
        kumo_provider::docker::group_hash(&group(APP)).as_str()
    );
}

#[tokio::test]
async fn deploying_the_same_group_again_changes_nothing() {
    let (mock, backend) = start().await;
    backend.deploy(&lease(), &group(APP)).await.unwrap();
    let stored = mock.state().objects.clone();
    mock.clear_requests();

    let outcome = backend.deploy(&lease(), &group(APP)).await.unwrap();
    assert_eq!(outcome, DeployOutcome::Unchanged);
    assert_eq!(mock.state().objects, stored, "no object was written");
    let calls = mock.calls();
    assert!(calls.iter().all(|c| !c.starts_with("DELETE")), "{calls:?}");
    // What exists is listed (ours only) before anything is applied.
    let lists: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.path != namespace_path())
        .collect();
    assert_eq!(lists.len(), 6);
    for list in &lists {
        assert_eq!(list.query["labelSelector"], "kumo.network=true");
    }
}

#[tokio::test]
async fn deploying_a_changed_group_updates_and_removes_what_is_gone() {
    let (mock, backend) = start().await;
    backend.deploy(&lease(), &group(APP)).await.unwrap();
    mock.clear_requests();

    let outcome = backend.deploy(&lease(), &db_only()).await.unwrap();
    assert_eq!(outcome, DeployOutcome::Updated);
    let deletes: Vec<String> = mock
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("DELETE"))
        .collect();
    assert_eq!(
        deletes,
        [
            format!("DELETE {}", networking("ingresses/web")),
            format!("DELETE {}", core("services/web")),
            format!("DELETE {}", core("services/web-np")),
            format!("DELETE {}", apps("deployments/web")),
            format!("DELETE {}", core("secrets/docker-creds-web")),
            format!("DELETE {}", networking("networkpolicies/kumo-web-np")),
        ]
    );
    assert!(mock.object(&apps("statefulsets/db")).is_some());
    let namespace = mock.object(&namespace_path()).unwrap();
    assert_eq!(namespace["metadata"]["annotations"][labels::SERVICES], "db");

    // A changed replica count is an update of the workload only.
    let mut more = db_only();
    more.services[0].count = 3;
    mock.clear_requests();
    assert_eq!(
        backend.deploy(&lease(), &more).await.unwrap(),
        DeployOutcome::Updated
    );
    assert_eq!(
        mock.object(&apps("statefulsets/db")).unwrap()["spec"]["replicas"],
        3
    );
}

#[tokio::test]
async fn an_invalid_group_is_refused_before_any_request() {
    let (mock, backend) = start().await;
    let mut invalid = group(APP);
    invalid.services[0].name = "Not A Label".to_string();
    let err = backend.deploy(&lease(), &invalid).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::InvalidManifest { group, reason }
            if group == "dc" && reason.contains("DNS label")),
        "{err}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn a_first_deploy_that_fails_leaves_nothing_behind() {
    let (mock, backend) = start().await;
    mock.state().fail = Some((Method::PATCH, apps("deployments"), 422));
    let err = backend.deploy(&lease(), &group(APP)).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Engine { operation, reason }
            if operation.contains("apply Deployment web") && reason.contains("injected failure")),
        "{err}"
    );
    assert_eq!(
        mock.calls().last().unwrap(),
        &format!("DELETE {}", namespace_path())
    );
    assert!(mock.state().objects.is_empty());
}

#[tokio::test]
async fn a_namespace_of_someone_else_is_not_touched() {
    let (mock, backend) = start().await;
    mock.put(
        &namespace_path(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns()}}),
    );
    let err = backend.deploy(&lease(), &group(APP)).await.unwrap_err();
    assert!(matches!(err, BackendError::Conflict { .. }), "{err}");
    let err = backend.teardown(&lease()).await.unwrap_err();
    assert!(matches!(err, BackendError::Conflict { .. }), "{err}");
    assert_eq!(mock.calls(), vec![format!("GET {}", namespace_path()); 2]);
}

// ---------------------------------------------------------------------------------------------
// Teardown and leases

#[tokio::test]
async fn teardown_deletes_the_lease_namespace() {
    let (mock, backend) = start().await;
    backend.deploy(&lease(), &group(APP)).await.unwrap();
    mock.clear_requests();

    backend.teardown(&lease()).await.unwrap();
    assert_eq!(
        mock.calls(),
        [
            format!("GET {}", namespace_path()),
            format!("DELETE {}", namespace_path())
        ]
    );
    let delete = &mock.requests()[1];
    assert_eq!(
        delete.body.as_ref().unwrap()["propagationPolicy"],
        "Background"
    );
    assert!(mock.state().objects.is_empty());

    // Idempotent: nothing left, nothing deleted.
    mock.clear_requests();
    backend.teardown(&lease()).await.unwrap();
    assert_eq!(mock.calls(), [format!("GET {}", namespace_path())]);
    let err = backend.status(&lease()).await.unwrap_err();
    assert!(matches!(err, BackendError::LeaseNotFound { .. }), "{err}");
}

#[tokio::test]
async fn leases_lists_the_namespaces_by_label() {
    let (mock, backend) = start().await;
    backend.deploy(&lease(), &group(APP)).await.unwrap();
    let mut other = lease();
    other.dseq = 7;
    backend.deploy(&other, &db_only()).await.unwrap();
    // Labelled as ours, but its lease does not hash to its name: not adopted.
    mock.put(
        "/api/v1/namespaces/impostor",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": "impostor",
            "labels": {labels::MANAGED: "true", labels::OWNER: "kumo1tenant", labels::DSEQ: "42",
                       labels::GSEQ: "1", labels::OSEQ: "2", labels::PROVIDER: "kumo1provider"},
        }}),
    );
    // Not ours at all.
    mock.put(
        "/api/v1/namespaces/kube-system",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
    );
    mock.clear_requests();

    let leases = backend.leases().await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/api/v1/namespaces");
    assert_eq!(requests[0].query["labelSelector"], "kumo.network=true");

    assert_eq!(leases.len(), 2);
    // Sorted by lease: dseq 7 before 42.
    assert_eq!(leases[0].lease, other);
    assert_eq!(leases[0].services, ["db"]);
    assert_eq!(leases[1].lease, lease());
    assert_eq!(leases[1].group.as_deref(), Some("dc"));
    assert_eq!(
        leases[1].manifest_hash,
        Some(kumo_provider::docker::group_hash(&group(APP)))
    );
    assert_eq!(leases[1].services, ["db", "web"]);
}

// ---------------------------------------------------------------------------------------------
// Status, logs, events

#[tokio::test]
async fn status_reads_replicas_from_workloads_and_uris_from_ingress_and_node_ports() {
    let settings = KubeSettings {
        public_hostname: "provider.example".to_string(),
        ingress_domain: "ingress.example".to_string(),
        ..KubeSettings::default()
    };
    let (mock, backend) = start_with(settings).await;
    backend.deploy(&lease(), &group(APP)).await.unwrap();

    // What the controllers and the API server would write.
    mock.update(
        &apps("deployments/web"),
        json!({"status": {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1}}),
    );
    mock.update(
        &apps("statefulsets/db"),
        json!({"status": {"replicas": 1, "readyReplicas": 1}}),
    );
    let mut node_port = mock.object(&core("services/web-np")).unwrap();
    node_port["spec"]["ports"][0]["nodePort"] = json!(31053);
    mock.put(&core("services/web-np"), node_port);
    mock.put(
        &core("pods/web-5d8f7c9b6-b2x4z"),
        pod(
            "web-5d8f7c9b6-b2x4z",
            "web",
            "Running",
            json!({"running": {}}),
        ),
    );
    mock.put(
        &core("pods/web-5d8f7c9b6-k9q7m"),
        pod(
            "web-5d8f7c9b6-k9q7m",
            "web",
            "Pending",
            json!({"waiting": {"reason": "ImagePullBackOff", "message": "pull denied"}}),
        ),
    );
    let mut db_pod = pod("db-0", "db", "Running", json!({"running": {}}));
    db_pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] = json!("0");
    mock.put(&core("pods/db-0"), db_pod);

    let status = backend.status(&lease()).await.unwrap();
    assert!(!status.is_ready());
    let web = &status.services["web"];
    assert_eq!((web.total, web.ready), (2, 1));
    assert_eq!(
        web.uris,
        [
            format!(
                "http://{}",
                ingress_hostname(&lease(), "web", "ingress.example")
            ),
            "http://www.example.com".to_string()
        ]
    );
    assert_eq!(web.forwarded_ports.len(), 1);
    let port = &web.forwarded_ports[0];
    assert_eq!(
        (
            port.port,
            port.external_port,
            port.proto.as_str(),
            port.host.as_str(),
            port.host_port
        ),
        (5353, 5353, "UDP", "provider.example", 31053)
    );
    let replicas: Vec<(u32, &str, ReplicaState, &str)> = web
        .replicas
        .iter()
        .map(|r| (r.index, r.id.as_str(), r.state, r.detail.as_str()))
        .collect();
    assert_eq!(
        replicas,
        [
            (0, "web-5d8f7c9b6-b2x4z", ReplicaState::Running, "Running"),
            (
                1,
                "web-5d8f7c9b6-k9q7m",
                ReplicaState::Created,
                "ImagePullBackOff: pull denied"
            ),
        ]
    );
    let db = &status.services["db"];
    assert_eq!((db.total, db.ready), (1, 1));
    assert!(db.uris.is_empty() && db.forwarded_ports.is_empty());
    assert_eq!(db.replicas[0].id, "db-0");

    let err = backend
        .status(&LeaseId { dseq: 1, ..lease() })
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::LeaseNotFound { .. }), "{err}");
}

#[tokio::test]
async fn logs_read_each_pod_with_tail_and_follow() {
    let (mock, backend) = start().await;
    backend.deploy(&lease(), &group(APP)).await.unwrap();
    mock.put(
        &core("pods/web-a-1"),
        pod("web-a-1", "web", "Running", json!({"running": {}})),
    );
    mock.put(
        &core("pods/db-0"),
        pod("db-0", "db", "Running", json!({"running": {}})),
    );
    // Not started yet: no log to read.
    mock.put(
        &core("pods/web-a-2"),
        pod(
            "web-a-2",
            "web",
            "Pending",
            json!({"waiting": {"reason": "ContainerCreating"}}),
        ),
    );
    mock.state()
        .logs
        .insert("web-a-1".into(), "one\ntwo\r\nthree".into());
    mock.state().logs.insert("db-0".into(), "ready".into());
    mock.clear_requests();

    let options = LogOptions {
        services: vec!["web".to_string()],
        tail: Some(2),
        follow: false,
    };
    let stream = backend.logs(&lease(), options).await.unwrap();
    let lines: Vec<(String, u32, String)> = stream
        .map(|l| {
            let l = l.unwrap();
            (l.service, l.replica, l.message)
        })
        .collect()
        .await;
    assert_eq!(
        lines,
        [
            ("web".to_string(), 0, "two".to_string()),
            ("web".to_string(), 0, "three".to_string())
        ]
    );
    let log_request = mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/log"))
        .unwrap();
    assert_eq!(log_request.path, core("pods/web-a-1/log"));
    assert_eq!(log_request.query["container"], "web");
    assert_eq!(log_request.query["tailLines"], "2");
    assert!(!log_request.query.contains_key("follow"));

    // Every service, following.
    mock.clear_requests();
    let options = LogOptions {
        follow: true,
        ..LogOptions::default()
    };
    let mut lines: Vec<String> = backend
        .logs(&lease(), options)
        .await
        .unwrap()
        .map(|l| l.unwrap().message)
        .collect()
        .await;
    lines.sort();
    assert_eq!(lines, ["one", "ready", "three", "two"]);
    let log_requests: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/log"))
        .collect();
    assert_eq!(log_requests.len(), 2);
    assert!(log_requests.iter().all(|r| r.query["follow"] == "true"));

    let err = backend
        .logs(
            &lease(),
            LogOptions {
                services: vec!["cache".to_string()],
                ..LogOptions::default()
            },
        )
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, BackendError::ServiceNotFound { service, .. } if service == "cache"),
        "{err}"
    );
}

fn event(name: &str, kind: &str, object: &str, reason: &str, time: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns(), "resourceVersion": "1"},
        "involvedObject": {"kind": kind, "name": object, "namespace": ns()},
        "reason": reason, "message": format!("{reason} {object}"),
        "lastTimestamp": time, "type": "Normal",
    })
}

#[tokio::test]
async fn events_list_the_namespace_and_follow_its_watch() {
    let (mock, backend) = start().await;
    backend.deploy(&lease(), &group(APP)).await.unwrap();
    mock.put(
        &core("events/e2"),
        event("e2", "Pod", "db-0", "Started", "2026-01-01T00:00:20Z"),
    );
    mock.put(
        &core("events/e1"),
        event(
            "e1",
            "Pod",
            "web-5d8f7c9b6-b2x4z",
            "Pulled",
            "2026-01-01T00:00:10Z",
        ),
    );
    mock.put(
        &core("events/e3"),
        event(
            "e3",
            "Namespace",
            "elsewhere",
            "Ignored",
            "2026-01-01T00:00:30Z",
        ),
    );

    let events: Vec<_> = backend
        .events(&lease(), false)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    let summary: Vec<(i64, &str, Option<u32>, &str)> = events
        .iter()
        .map(|e| (e.time, e.service.as_str(), e.replica, e.reason.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (1_767_225_610, "web", None, "Pulled"),
            (1_767_225_620, "db", Some(0), "Started")
        ]
    );
    assert_eq!(events[1].message, "Started db-0");

    // Following: the listed events, then what the watch delivers.
    mock.state().watch = vec![json!({"type": "ADDED", "object":
            event("e4", "Deployment", "web", "ScalingReplicaSet", "2026-01-01T00:01:00Z")})];
    let followed: Vec<_> = backend
        .events(&lease(), true)
        .await
        .unwrap()
        .take(3)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(followed[2].reason, "ScalingReplicaSet");
    assert_eq!(followed[2].service, "web");
    let watch = mock
        .requests()
        .into_iter()
        .find(|r| r.query.get("watch").map(String::as_str) == Some("true"))
        .unwrap();
    assert_eq!(watch.path, core("events"));
}

#[tokio::test]
async fn an_unreachable_api_server_is_reported_as_such() {
    // A port that was just free: nothing listens on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let config = kube::Config::new(format!("http://{address}").parse().unwrap());
    let err = KubeBackend::connect_with(config, KubeSettings::default())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, BackendError::Unreachable { backend: "Kubernetes", endpoint, .. }
            if endpoint.contains(&address.port().to_string())),
        "{err}"
    );
}
