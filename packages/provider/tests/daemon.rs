//! The `kumo-provider` binary end to end: `run` against an in-process devnet with the Docker
//! backend (inventory detected from the real engine; nothing is deployed, so no image is
//! needed). It serves `/status` over TLS with the certificate it generated in its data
//! directory, `/metrics` in plain HTTP, bids on a tenant's order, and exits 0 on SIGTERM.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cosmwasm_std::{coins, Addr, HexBinary};
use kumo::market::{self, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, DeploymentId};
use kumo_chain::{deploy, Client, ClientConfig, Key};
use kumo_devnet::{App, Config, Devnet};
use kumo_provider::gateway::{pinned_client_config, ProviderCert, ProviderStatusResponse};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DENOM: &str = "ukumo";
const PREFIX: &str = "kumo";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port nobody listens on now (the daemon binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn devnet(home: &Path, keys: &[Key]) -> (Devnet, Client) {
    let genesis = keys
        .iter()
        .map(|k| (k.address(PREFIX).unwrap(), coins(10_000_000_000_000, DENOM)))
        .collect();
    let app = App::open(Config {
        chain_id: "kumo-devnet-1".into(),
        prefix: PREFIX.into(),
        denom: DENOM.into(),
        min_gas_price: 0.0025,
        home: home.to_path_buf(),
        genesis,
    })
    .unwrap();
    let devnet = Devnet::serve(
        app,
        "127.0.0.1:0".parse().unwrap(),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    let client = Client::new(
        devnet.url(),
        ClientConfig {
            prefix: PREFIX.into(),
            gas_price_amount: 0.0025,
            gas_denom: DENOM.into(),
            gas_adjustment: 1.4,
        },
    )
    .unwrap();
    (devnet, client)
}

/// Kills the daemon if the test fails before it stops it.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Waits for the process to exit, polling (the devnet runs on this test's runtime).
    async fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` until it returns `Some`, for at most `timeout`.
async fn eventually<T, F, Fut>(daemon: &Daemon, what: &str, timeout: Duration, check: F) -> T
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
            "timed out waiting for {what}; daemon output:\n{}",
            daemon.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_lease_api_and_metrics_bids_and_stops_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let keys: Vec<Key> = (0..3)
        .map(|i| Key::from_mnemonic_index(MNEMONIC, i).unwrap())
        .collect();
    let (admin, tenant, provider) = (&keys[0], &keys[1], &keys[2]);
    let (devnet, client) = devnet(&home.path().join("chain"), &keys).await;
    let c = &client;
    let suite = deploy::deploy_suite(
        c,
        admin,
        &repo().join("artifacts"),
        &deploy::default_config(DENOM),
    )
    .await
    .unwrap();
    let k = &suite.contracts;
    k.execute_registry(
        c,
        provider,
        &registry::ExecuteMsg::RegisterProvider {
            host_uri: "https://provider.example.com:8443".into(),
            attributes: vec![Attribute::new("region", "local")],
            info: ProviderInfo::default(),
        },
        &[],
    )
    .await
    .unwrap();
    let suite_file = home.path().join("suite.json");
    std::fs::write(&suite_file, serde_json::to_vec_pretty(&suite).unwrap()).unwrap();

    let (gateway_port, metrics_port) = (free_port(), free_port());
    let data_dir = home.path().join("provider");
    let config = format!(
        r#"
data_dir = "provider"

[chain]
node = "{node}"
chain_id = "kumo-devnet-1"
gas_price = "0.0025ukumo"
gas_adjustment = 1.4

[key]
mnemonic_index = 2

[contracts]
suite = "suite.json"

[backend]
kind = "docker"
[backend.docker]
host_ip = "127.0.0.1"
public_hostname = "localhost"

[inventory]
mode = "detect"
ephemeral_storage = "10Gi"

[bidding]
deposit = "500000ukumo"

[bidding.pricing.scale.ukumo]
cpu = "0.001"
storage = {{ ephemeral = "0" }}

[timeouts]
poll_interval = "1s"

[gateway]
listen = "127.0.0.1:{gateway_port}"
hostname = "localhost"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[log]
format = "json"
level = "info"
"#,
        node = devnet.url().trim_end_matches('/'),
    );
    let config_path = home.path().join("provider.toml");
    std::fs::write(&config_path, config).unwrap();

    // The wrong chain (here through the environment override): refused at start, exit 1.
    let wrong = Command::new(env!("CARGO_BIN_EXE_kumo-provider"))
        .args(["run", "--config"])
        .arg(&config_path)
        .env("KUMO_PROVIDER_MNEMONIC", MNEMONIC)
        .env("KUMO_PROVIDER_CHAIN_ID", "other-chain-1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"kumo-devnet-1\"") && stderr.contains("chain.chain_id"),
        "{stderr}"
    );

    let log = home.path().join("daemon.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kumo-provider"))
        .args(["run", "--config"])
        .arg(&config_path)
        .env("KUMO_PROVIDER_MNEMONIC", MNEMONIC)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut daemon = Daemon {
        child: Some(child),
        log,
    };

    // Metrics answer once the agent runs, and count its passes.
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let http = reqwest::Client::new();
    let metrics = || async {
        let response = http.get(&metrics_url).send().await.ok()?;
        response.status().is_success().then_some(())?;
        response.text().await.ok()
    };
    let text = eventually(
        &daemon,
        "the first agent pass",
        Duration::from_secs(90),
        || async {
            let text = metrics().await?;
            (sample(&text, "kumo_provider_ticks_total")? >= 1.0).then_some(text)
        },
    )
    .await;
    assert_eq!(
        sample(&text, "kumo_provider_tick_errors_total"),
        Some(0.0),
        "{text}"
    );
    // The suite has no staking contract: no heartbeats, so no lag to report.
    assert!(!text.contains("heartbeat_lag"), "{text}");

    // The certificate was generated in the data directory; its pin was printed.
    let cert = ProviderCert::load(
        &data_dir.join("gateway-cert.pem"),
        &data_dir.join("gateway-key.pem"),
    )
    .unwrap();
    assert!(
        daemon.output().contains(&cert.pin_hex()),
        "{}",
        daemon.output()
    );
    let tls = reqwest::Client::builder()
        .use_preconfigured_tls(pinned_client_config(&[cert.spki_sha256()]).unwrap())
        .build()
        .unwrap();
    let status: ProviderStatusResponse = tls
        .get(format!("https://127.0.0.1:{gateway_port}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let provider_addr = c.address(provider).unwrap();
    assert_eq!(status.address, provider_addr);
    assert_eq!(status.backend, "docker");
    assert_eq!(status.active_leases, 0);

    // A tenant's order: the daemon bids on it.
    let sdl = std::fs::read_to_string(repo().join("examples/hello.yaml")).unwrap();
    let sdl = kumo_sdl::parse(&sdl).unwrap();
    let created = k
        .execute_market(
            c,
            tenant,
            &market::ExecuteMsg::CreateDeployment(NewDeployment {
                groups: sdl.groups.clone(),
                version: HexBinary::from(sdl.manifest_version().to_vec()),
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            }),
            &coins(50_000_000, DENOM),
        )
        .await
        .unwrap();
    let dseq: u64 = created.event_attr("wasm", "dseq").unwrap().parse().unwrap();
    eventually(
        &daemon,
        "a bid in the metrics",
        Duration::from_secs(60),
        || async {
            let text = metrics().await?;
            (sample(&text, "kumo_provider_bids_placed_total")? >= 1.0).then_some(())
        },
    )
    .await;
    let order = DeploymentId::new(Addr::unchecked(c.address(tenant).unwrap()), dseq)
        .group(1)
        .order(1);
    let bid: market::BidResponse = k
        .query_market(
            c,
            &market::QueryMsg::Bid {
                id: order.bid(Addr::unchecked(&provider_addr)),
            },
        )
        .await
        .unwrap();
    assert_eq!(bid.bid.state, market::BidState::Open);

    // The chain goes away: passes fail and are counted, the daemon stays up and serves.
    devnet.stop().await;
    eventually(
        &daemon,
        "a failed pass",
        Duration::from_secs(60),
        || async {
            let text = metrics().await?;
            (sample(&text, "kumo_provider_tick_errors_total")? >= 1.0).then_some(())
        },
    )
    .await;
    let response = tls
        .get(format!("https://127.0.0.1:{gateway_port}/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // SIGTERM: a clean exit, and both listeners closed.
    assert_eq!(unsafe { libc::kill(daemon.pid(), libc::SIGTERM) }, 0);
    let status = daemon.wait(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", daemon.output());
    assert!(http.get(&metrics_url).send().await.is_err());
    assert!(std::net::TcpStream::connect(("127.0.0.1", gateway_port)).is_err());
    let output = daemon.output();
    assert!(output.contains("SIGTERM"), "{output}");
    // JSON logs, one object per line (the pin and address lines are plain stdout).
    assert!(
        output
            .lines()
            .filter(|l| l.starts_with('{'))
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{output}"
    );
}

/// A node that cannot be reached at start is waited for (not an exit), and SIGTERM still ends
/// the wait cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_node_is_waited_for_and_sigterm_still_exits_cleanly() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("suite.json"),
        r#"{"code_ids": [], "contracts": {"registry": "kumo1r", "market": "kumo1m", "escrow": "kumo1e", "staking": "", "governance": ""}}"#,
    )
    .unwrap();
    let config = format!(
        r#"
data_dir = "provider"
[chain]
node = "http://127.0.0.1:{node_port}"
[contracts]
suite = "suite.json"
[inventory]
mode = "static"
[[inventory.nodes]]
name = "node-1"
cpu = 2
memory = "4Gi"
ephemeral_storage = "10Gi"
[bidding]
deposit = "500000ukumo"
[bidding.pricing.scale.ukumo]
cpu = "0.001"
[gateway]
listen = "127.0.0.1:{gateway_port}"
[metrics]
listen = ""
"#,
        node_port = free_port(),
        gateway_port = free_port(),
    );
    let config_path = home.path().join("provider.toml");
    std::fs::write(&config_path, config).unwrap();
    let log = home.path().join("daemon.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kumo-provider"))
        .args(["run", "--config"])
        .arg(&config_path)
        .env("KUMO_PROVIDER_MNEMONIC", MNEMONIC)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut daemon = Daemon {
        child: Some(child),
        log,
    };
    eventually(&daemon, "a retry", Duration::from_secs(30), || async {
        daemon
            .output()
            .contains("starting the agent: cannot yet, retrying")
            .then_some(())
    })
    .await;
    assert!(
        daemon.output().contains("is the chain running?"),
        "{}",
        daemon.output()
    );
    assert_eq!(unsafe { libc::kill(daemon.pid(), libc::SIGINT) }, 0);
    let status = daemon.wait(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", daemon.output());
}
