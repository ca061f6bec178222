//! The real `kumo-provider` binary against a [`Net`] (or any node): a config file with short
//! periods, the process started, killed with SIGKILL, stopped with a signal and started again on
//! the same data directory; its metrics, its lease API (the tenant's manifest `PUT`), the
//! containers it runs (read from the Docker engine by the `kumo.provider` label), and a chain
//! that goes down and comes back on the same port with the same state.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use kumo_chain::{Client, Key, KumoContracts};
use kumo_devnet::{App, Devnet};
use kumo_provider::auth::{issue_with_chain_key, unix_now, Claims};
use kumo_provider::docker::{labels, DockerBackend};
use kumo_provider::gateway::{pinned_client_config, ProviderCert};
use kumo_sdl::Manifest;

use super::{Net, MNEMONIC};

/// A port nobody listens on now (the daemon binds it a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What differs between the tests' provider configs.
pub struct Settings {
    /// `timeouts.poll_interval`.
    pub poll_interval: &'static str,
    /// `timeouts.withdraw_period`.
    pub withdraw_period: &'static str,
    /// `timeouts.heartbeat_period` (used with a staking contract only).
    pub heartbeat_period: &'static str,
    /// The scale price per millicpu-second.
    pub cpu_price: &'static str,
    /// `inventory.mode = "detect"` (the Docker engine's capacity, 10Gi of ephemeral storage)
    /// instead of one static node of 16 CPUs.
    pub detect_inventory: bool,
}

impl Default for Settings {
    /// A 1 s poll, hourly withdrawals and heartbeats, 1/1000 per millicpu, a static node.
    fn default() -> Settings {
        Settings {
            poll_interval: "1s",
            withdraw_period: "1h",
            heartbeat_period: "1h",
            cpu_price: "0.001",
            detect_inventory: false,
        }
    }
}

/// The `kumo-provider` process of `net`'s provider (or of any node), across its restarts. Each
/// run logs (JSON lines) to its own file in the provider's directory. Killed when dropped.
pub struct ProviderProcess {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub gateway_port: u16,
    pub metrics_port: u16,
    child: Mutex<Option<Child>>,
    runs: usize,
    http: reqwest::Client,
}

impl ProviderProcess {
    /// Writes the config (and the contracts' addresses) into `<net home>/provider`.
    pub fn new(net: &Net, provider_index: u32, settings: &Settings) -> ProviderProcess {
        ProviderProcess::for_node(
            net.home.path().join("provider"),
            net.devnet.url(),
            &net.k,
            provider_index,
            settings,
        )
    }

    /// Writes the config (and `contracts`) into `dir`, for the chain node at `node` (which
    /// need not answer).
    pub fn for_node(
        dir: PathBuf,
        node: &str,
        contracts: &KumoContracts,
        provider_index: u32,
        settings: &Settings,
    ) -> ProviderProcess {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("contracts.json"),
            serde_json::to_vec_pretty(contracts).unwrap(),
        )
        .unwrap();
        let (gateway_port, metrics_port) = (free_port(), free_port());
        let inventory = if settings.detect_inventory {
            r#"mode = "detect"
ephemeral_storage = "10Gi""#
        } else {
            r#"mode = "static"
[[inventory.nodes]]
name = "node-1"
cpu = 16
memory = "64Gi"
ephemeral_storage = "100Gi""#
        };
        let config = format!(
            r#"
data_dir = "data"

[chain]
node = "{node}"
chain_id = "kumo-devnet-1"
gas_price = "0.0025ukumo"
gas_adjustment = 1.4

[key]
mnemonic_index = {provider_index}

[contracts]
suite = "contracts.json"

[backend]
kind = "docker"
[backend.docker]
host_ip = "127.0.0.1"
public_hostname = "localhost"

[inventory]
{inventory}

[bidding]
deposit = "500000ukumo"

[bidding.pricing.scale.ukumo]
cpu = "{cpu}"
storage = {{ ephemeral = "0" }}

[timeouts]
bid = "1h"
manifest = "1h"
withdraw_period = "{withdraw}"
heartbeat_period = "{heartbeat}"
poll_interval = "{poll}"

[gateway]
listen = "127.0.0.1:{gateway_port}"
hostname = "localhost"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[log]
format = "json"
level = "info"
"#,
            node = node.trim_end_matches('/'),
            cpu = settings.cpu_price,
            withdraw = settings.withdraw_period,
            heartbeat = settings.heartbeat_period,
            poll = settings.poll_interval,
        );
        let config_path = dir.join("provider.toml");
        std::fs::write(&config_path, config).unwrap();
        ProviderProcess {
            data_dir: dir.join("data"),
            dir,
            config: config_path,
            gateway_port,
            metrics_port,
            child: Mutex::new(None),
            runs: 0,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    fn log_path(&self, run: usize) -> PathBuf {
        self.dir.join(format!("run-{run}.log"))
    }

    /// How many times the process was started.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// `kumo-provider run` on this config, with the key's mnemonic in the environment: for a
    /// run outside [`start`](Self::start) (another environment, its output captured).
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kumo-provider"));
        command
            .args(["run", "--config"])
            .arg(&self.config)
            .env("KUMO_PROVIDER_MNEMONIC", MNEMONIC)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        command
    }

    /// Starts the process (again), on the same config and data directory.
    pub fn start(&mut self) {
        assert!(self.child.lock().unwrap().is_none(), "already running");
        self.runs += 1;
        let out = std::fs::File::create(self.log_path(self.runs)).unwrap();
        let child = self
            .command()
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        *self.child.lock().unwrap() = Some(child);
    }

    /// The output of run `run` (1-based).
    pub fn output_of(&self, run: usize) -> String {
        std::fs::read_to_string(self.log_path(run)).unwrap_or_default()
    }

    /// The output of the latest run.
    pub fn output(&self) -> String {
        self.output_of(self.runs)
    }

    /// The last lines of the latest run, for failure messages.
    pub fn tail(&self) -> String {
        let out = self.output();
        let lines: Vec<&str> = out.lines().collect();
        let from = lines.len().saturating_sub(60);
        format!(
            "--- kumo-provider run {} (last lines) ---\n{}",
            self.runs,
            lines[from..].join("\n")
        )
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap();
        let status = child.as_mut()?.try_wait().unwrap();
        if status.is_some() {
            *child = None;
        }
        status
    }

    pub fn is_running(&self) -> bool {
        let mut child = self.child.lock().unwrap();
        child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// `kill -9`, and reaps the process.
    pub fn kill9(&mut self) {
        let mut child = self.child.lock().unwrap().take().expect("running");
        let pid = child.id() as i32;
        // SAFETY: a plain kill(2) of our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        child.wait().unwrap();
    }

    /// SIGTERM, then waits (polling: the devnet runs on the caller's runtime) for the exit.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.stop_with(libc::SIGTERM, timeout).await
    }

    /// Sends `signal` (SIGTERM, SIGINT, ...), then waits for the exit as `terminate` does.
    pub async fn stop_with(&mut self, signal: libc::c_int, timeout: Duration) -> ExitStatus {
        let pid = self.child.lock().unwrap().as_ref().expect("running").id() as i32;
        // SAFETY: as in `kill9`.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after signal {signal}\n{}",
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The Prometheus text, once the metrics endpoint answers.
    pub async fn metrics(&self) -> Option<String> {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let response = self.http.get(url).send().await.ok()?;
        response.status().is_success().then_some(())?;
        response.text().await.ok()
    }

    pub async fn metric(&self, name: &str) -> Option<f64> {
        sample(&self.metrics().await?, name)
    }

    /// Waits until the (unlabelled) sample `name` is at least `min`; the metrics text then.
    pub async fn wait_metric(&self, name: &str, min: f64, timeout: Duration) -> String {
        eventually(
            &format!("{name} >= {min}"),
            timeout,
            || self.tail(),
            || async {
                let text = self.metrics().await?;
                (sample(&text, name)? >= min).then_some(text)
            },
        )
        .await
    }

    /// Waits until the agent runs (the metrics endpoint answers: it starts after the agent
    /// and the lease API). Fails at once if the process exited.
    pub async fn wait_up(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "kumo-provider exited ({status}) while starting\n{}",
                    self.tail()
                );
            }
            if self.metrics().await.is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kumo-provider not up after {timeout:?}\n{}",
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn journal_path(&self) -> PathBuf {
        self.data_dir.join(kumo_provider::config::JOURNAL_FILE)
    }

    /// The lease API's certificate, as the daemon generated it in its data directory.
    pub fn cert(&self) -> ProviderCert {
        ProviderCert::load(
            &self.data_dir.join("gateway-cert.pem"),
            &self.data_dir.join("gateway-key.pem"),
        )
        .unwrap()
    }

    /// `https://127.0.0.1:<gateway port><path>`.
    pub fn gateway_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.gateway_port)
    }

    /// A client of the lease API that trusts (only) the certificate the daemon generated.
    pub fn gateway_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(pinned_client_config(&[self.cert().spki_sha256()]).unwrap())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// The tenant's `PUT /deployment/{dseq}/manifest` with a fresh JWT: the HTTP status, or
    /// the transport error.
    pub fn put_manifest(
        &self,
        tenant: &Key,
        tenant_addr: &str,
        dseq: u64,
        manifest: &Manifest,
    ) -> impl std::future::Future<Output = Result<u16, String>> + Send + 'static {
        let http = self.gateway_client();
        let url = self.gateway_url(&format!("/deployment/{dseq}/manifest"));
        let token = issue_with_chain_key(tenant, &Claims::full(tenant_addr, unix_now(), 300));
        let body = serde_json::to_vec(manifest).unwrap();
        async move {
            let response = http
                .put(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            if status >= 300 {
                let text = response.text().await.unwrap_or_default();
                return Err(format!("{status}: {text}"));
            }
            Ok(status)
        }
    }
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.get_mut().ok().and_then(Option::as_mut) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A sample's value in Prometheus text (unlabelled series).
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `check` (every 200 ms) until it returns `Some`, for at most `timeout`; the failure
/// message ends with `context()`.
pub async fn eventually<T, F, Fut>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    check: F,
) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Containers, as the engine sees them.

/// A container of the provider's leases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub id: String,
    /// The `kumo.lease` label (a hash of the lease id).
    pub lease_key: String,
    pub service: String,
    pub replica: String,
    pub running: bool,
    /// The first port published on the host.
    pub host_port: Option<u16>,
}

/// Every container (stopped ones too) labelled with `provider` (`kumo.provider`).
pub async fn workloads(docker: &DockerBackend, provider: &str) -> Vec<Workload> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={provider}", labels::PROVIDER)],
    )]);
    let containers: Vec<ContainerSummary> = docker
        .client()
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .unwrap();
    containers
        .into_iter()
        .map(|c| {
            let label = |name: &str| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get(name))
                    .cloned()
                    .unwrap_or_default()
            };
            Workload {
                id: c.id.clone().unwrap_or_default(),
                lease_key: label(labels::LEASE),
                service: label(labels::SERVICE),
                replica: label(labels::REPLICA),
                running: c.state == Some(ContainerSummaryStateEnum::RUNNING),
                host_port: c
                    .ports
                    .as_ref()
                    .and_then(|ports| ports.iter().find_map(|p| p.public_port)),
            }
        })
        .collect()
}

/// When the container last started (Docker's `State.StartedAt`): a restart changes it.
pub async fn started_at(docker: &DockerBackend, id: &str) -> Option<String> {
    docker
        .client()
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .ok()?
        .state?
        .started_at
}

/// `GET /` on a published port: the body if the answer is 200.
pub async fn http_get(port: u16) -> Option<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let response = http
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.text().await.ok()
}

// ---------------------------------------------------------------------------------------------
// A chain outage.

/// A [`Net`] whose REST server and block production are stopped; its state is kept.
pub struct StoppedNet {
    home: tempfile::TempDir,
    app: App,
    addr: SocketAddr,
    client: Client,
    k: KumoContracts,
    admin: Key,
    tenant: Key,
    provider: Key,
}

/// Stops serving `net`'s chain (nothing answers on its port any more).
pub async fn stop_chain(net: Net) -> StoppedNet {
    let Net {
        home,
        devnet,
        client,
        k,
        admin,
        tenant,
        provider,
    } = net;
    let addr: SocketAddr = devnet
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let mut shared = devnet.app.clone();
    devnet.stop().await;
    // The server's and the block timer's handles are gone once they finish.
    let deadline = Instant::now() + Duration::from_secs(10);
    let app = loop {
        match std::sync::Arc::try_unwrap(shared) {
            Ok(mutex) => break mutex.into_inner().unwrap_or_else(|e| e.into_inner()),
            Err(back) => shared = back,
        }
        assert!(
            Instant::now() < deadline,
            "the stopped devnet's app is still shared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    StoppedNet {
        home,
        app,
        addr,
        client,
        k,
        admin,
        tenant,
        provider,
    }
}

impl StoppedNet {
    /// Serves the same chain again, on the same port.
    pub async fn serve(self) -> Net {
        let devnet = Devnet::serve(self.app, self.addr, Duration::from_millis(50))
            .await
            .unwrap();
        Net {
            home: self.home,
            devnet,
            client: self.client,
            k: self.k,
            admin: self.admin,
            tenant: self.tenant,
            provider: self.provider,
        }
    }
}
