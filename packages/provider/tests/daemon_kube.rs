//! The `kumo-provider` binary started with `backend.kind = "kubernetes"`, through the daemon's
//! real start-up path (a kubeconfig file and a context, read as the daemon reads them).
//!
//! The API server is the mock of `kube_mock`: no Kubernetes API server can run here (no
//! cluster, no network beyond the package registries). The kubeconfig points the daemon at it
//! over plain HTTP on the loopback address. The chain is the in-process devnet.

mod agent_common;
mod kube_mock;

use std::path::Path;
use std::time::Duration;

use agent_common::process::{eventually, free_port, ProviderProcess, Settings};
use agent_common::{hello_group, hello_sdl, Net};
use axum::http::Method;
use cosmwasm_std::Addr;
use kumo::{DeploymentId, LeaseId};
use kumo_chain::KumoContracts;
use kumo_provider::backend::Backend;
use kumo_provider::gateway::ProviderStatusResponse;
use kumo_provider::kube::builder::{labels, lease_namespace};
use kumo_provider::kube::{KubeBackend, KubeSettings};

/// A kubeconfig with one cluster at `server`, a user with a bearer token, and one context,
/// `mock`, the current one.
fn write_kubeconfig(path: &Path, server: &str) {
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: mock
  cluster:
    server: {server}
users:
- name: provider
  user:
    token: mock-token
contexts:
- name: mock
  context:
    cluster: mock
    user: provider
current-context: mock
"#
    );
    std::fs::write(path, text).unwrap();
}

/// The `[backend]` section for the kubeconfig `kubeconfig.yaml` beside the config file.
fn kube_backend(context: &str) -> Settings {
    Settings {
        backend: Some(format!(
            r#"kind = "kubernetes"
[backend.kubernetes]
kubeconfig = "kubeconfig.yaml"
context = "{context}"
public_hostname = "localhost"
ingress_domain = "localhost""#
        )),
        ..Settings::default()
    }
}

/// A provider process whose node does not answer (the tests below never reach the agent).
fn offline_provider(dir: &Path, settings: &Settings) -> ProviderProcess {
    let contracts = KumoContracts {
        registry: "kumo1r".into(),
        market: "kumo1m".into(),
        escrow: "kumo1e".into(),
        staking: String::new(),
        governance: String::new(),
    };
    ProviderProcess::for_node(
        dir.join("provider"),
        &format!("http://127.0.0.1:{}", free_port()),
        &contracts,
        2,
        settings,
    )
}

fn ns_path(lease: &LeaseId) -> String {
    format!("/api/v1/namespaces/{}", lease_namespace(lease))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_starts_on_kubernetes_from_a_kubeconfig_adopts_and_deploys() {
    let net = Net::start(91, false).await;
    let (mock, address) = kube_mock::serve().await;
    let server = format!("http://{address}");

    // What the cluster runs before the agent starts: a namespace of a lease of this provider
    // that is not on chain (left over: torn down at start), and one of another provider
    // (never touched).
    let direct = KubeBackend::connect_with(
        kube::Config::new(server.parse().unwrap()),
        KubeSettings::default(),
    )
    .await
    .unwrap();
    let manifest = kumo_sdl::parse(&hello_sdl()).unwrap().manifest;
    let group = hello_group(&manifest);
    let tenant = net.tenant_addr();
    let orphan = DeploymentId::new(tenant.clone(), 9_999)
        .group(1)
        .order(1)
        .bid(net.provider_addr());
    let foreign = DeploymentId::new(tenant.clone(), 9_998)
        .group(1)
        .order(1)
        .bid(Addr::unchecked("kumo1someoneelse"));
    direct.deploy(&orphan, &group).await.unwrap();
    direct.deploy(&foreign, &group).await.unwrap();
    mock.clear_requests();

    let mut p = ProviderProcess::new(&net, 91, &kube_backend("mock"));
    write_kubeconfig(&p.dir.join("kubeconfig.yaml"), &server);
    p.start();
    p.wait_up(Duration::from_secs(90)).await;

    // The daemon found the API server with the kubeconfig's credentials, and listed the
    // namespaces it manages by their label.
    let requests = mock.requests();
    let version = requests
        .iter()
        .find(|r| r.path == "/version")
        .unwrap_or_else(|| panic!("no /version request\n{}", p.tail()));
    assert_eq!(version.authorization.as_deref(), Some("Bearer mock-token"));
    let selector = format!("{}=true", labels::MANAGED);
    assert!(
        requests.iter().any(|r| r.method == Method::GET
            && r.path == "/api/v1/namespaces"
            && r.query.get("labelSelector") == Some(&selector)),
        "{:?}",
        mock.calls()
    );
    // The leftover lease is torn down; the other provider's namespace stays.
    eventually(
        "the leftover lease's namespace deleted",
        Duration::from_secs(60),
        || format!("{:?}\n{}", mock.calls(), p.tail()),
        || async { mock.object(&ns_path(&orphan)).is_none().then_some(()) },
    )
    .await;
    assert!(mock
        .calls()
        .contains(&format!("DELETE {}", ns_path(&orphan))));
    assert!(mock.object(&ns_path(&foreign)).is_some());

    // The lease API says which backend runs the leases.
    let tls = p.gateway_client();
    let status: ProviderStatusResponse = tls
        .get(p.gateway_url("/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status.backend, "kubernetes");
    assert_eq!(status.address, net.provider_addr().as_str());

    // A tenant's order: the daemon bids, the tenant leases and sends the manifest, and the
    // lease's objects reach the API server.
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    p.wait_metric(
        "kumo_provider_bids_placed_total",
        1.0,
        Duration::from_secs(60),
    )
    .await;
    let lease = order.bid(net.provider_addr());
    net.accept(&lease).await;
    let put = p.put_manifest(&net.tenant, tenant.as_str(), lease.dseq, &manifest);
    let status = put.await.unwrap_or_else(|e| panic!("{e}\n{}", p.tail()));
    assert!(status == 200 || status == 202, "{status}");
    let namespace = eventually(
        "the lease's namespace",
        Duration::from_secs(60),
        || format!("{:?}\n{}", mock.calls(), p.tail()),
        || async { mock.object(&ns_path(&lease)) },
    )
    .await;
    assert_eq!(
        namespace["metadata"]["labels"][labels::PROVIDER],
        net.provider_addr().as_str()
    );
    let deployment = format!(
        "/apis/apps/v1/namespaces/{}/deployments/web",
        lease_namespace(&lease)
    );
    eventually(
        "the web Deployment",
        Duration::from_secs(60),
        || format!("{:?}\n{}", mock.calls(), p.tail()),
        || async { mock.object(&deployment) },
    )
    .await;

    let exit = p.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "{exit:?}\n{}", p.output());
    net.stop().await;
}

/// A kubeconfig the daemon cannot use ends the start at once (exit 1, no panic) with what was
/// wrong and what to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_kubeconfig_stops_the_start_with_the_reason() {
    let home = tempfile::tempdir().unwrap();
    let server = format!("http://127.0.0.1:{}", free_port());
    let cases: [(&str, Option<&str>, &str, &[&str]); 3] = [
        // No file at all.
        (
            "missing",
            None,
            "mock",
            &["kubeconfig.yaml", "backend.kubernetes.kubeconfig"],
        ),
        // Not a kubeconfig.
        (
            "garbage",
            Some("clusters: [this is not: a kubeconfig"),
            "mock",
            &["kubeconfig.yaml", "backend.kubernetes.kubeconfig"],
        ),
        // A context the file does not have.
        (
            "context",
            Some(""),
            "elsewhere",
            &["elsewhere", "backend.kubernetes.context"],
        ),
    ];
    for (name, contents, context, expected) in cases {
        let mut p = offline_provider(&home.path().join(name), &kube_backend(context));
        let kubeconfig = p.dir.join("kubeconfig.yaml");
        match contents {
            None => {}
            Some("") => write_kubeconfig(&kubeconfig, &server),
            Some(text) => std::fs::write(&kubeconfig, text).unwrap(),
        }
        p.start();
        let status = eventually(
            &format!("{name}: the exit"),
            Duration::from_secs(60),
            || p.tail(),
            || async { p.exited() },
        )
        .await;
        let output = p.output();
        assert_eq!(status.code(), Some(1), "{name}: {output}");
        assert!(!output.contains("panicked"), "{name}: {output}");
        let error = output
            .lines()
            .find(|l| l.starts_with("kumo-provider: "))
            .unwrap_or_else(|| panic!("{name}: no error line\n{output}"));
        for part in expected {
            assert!(error.contains(part), "{name}: {part:?} not in {error}");
        }
    }
}

/// A kubeconfig whose server nothing listens on: the daemon says so, names what to check, and
/// keeps trying (an API server coming up after the agent, as Docker's engine may, is waited
/// for); a signal still ends the wait cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_that_does_not_answer_is_reported_and_waited_for() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut p = offline_provider(home.path(), &kube_backend("mock"));
    write_kubeconfig(
        &p.dir.join("kubeconfig.yaml"),
        &format!("http://127.0.0.1:{port}"),
    );
    p.start();
    let line = eventually(
        "a retry",
        Duration::from_secs(60),
        || p.tail(),
        || async {
            p.output()
                .lines()
                .find(|l| l.contains("connecting to the backend: cannot yet, retrying"))
                .map(String::from)
        },
    )
    .await;
    assert!(
        line.contains("cannot reach the Kubernetes engine")
            && line.contains(&format!("127.0.0.1:{port}"))
            && line.contains("backend.kubernetes.kubeconfig"),
        "{line}"
    );
    assert!(p.is_running(), "{}", p.output());
    let status = p.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", p.output());
    assert!(!p.output().contains("panicked"), "{}", p.output());
}
