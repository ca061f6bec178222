//! `kumo provider run`: the agent daemon behind the CLI, on a devnet child process. It starts
//! from a config file, serves its metrics, and stops cleanly on SIGTERM; a bad config is a
//! clear error before anything starts. (The agent's own behaviour is tested in
//! packages/provider.)

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{repo, DEV_MNEMONIC};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.0 (the metrics endpoint), the body if it answered.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response.split_once("\r\n\r\n")?.1.to_string())
}

fn kumo() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("kumo"));
    c.env_remove("RUST_LOG").stdin(Stdio::null());
    c
}

#[test]
fn provider_run_serves_metrics_and_stops_on_sigterm() {
    let (_devnet, env) = common::start();
    let dir = env.home.path().join("provider");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        env.home.path().join("devnet/suite.json"),
        dir.join("contracts.json"),
    )
    .unwrap();
    // The agent starts for a registered provider only: account 2 of the devnet's mnemonic.
    let config = |metrics_port: u16, gateway: u16| {
        format!(
            r#"
data_dir = "data"

[chain]
node = "{node}"
chain_id = "kumo-devnet-1"
gas_price = "0.0025ukumo"

[key]
mnemonic_index = 2

[contracts]
suite = "contracts.json"

[backend]
kind = "docker"

[inventory]
mode = "static"
[[inventory.nodes]]
name = "node-1"
cpu = 4
memory = "8Gi"
ephemeral_storage = "20Gi"

[bidding]
deposit = "500000ukumo"

[bidding.pricing.scale.ukumo]
cpu = "0.001"

[gateway]
listen = "127.0.0.1:{gateway}"
hostname = "localhost"

[metrics]
listen = "127.0.0.1:{metrics_port}"
"#,
            node = env.node.trim_end_matches('/'),
        )
    };
    let path = dir.join("provider.toml");
    std::fs::write(&path, config(free_port(), free_port())).unwrap();
    let out = kumo()
        .args(["provider", "run", "--config"])
        .arg(&path)
        .env("KUMO_PROVIDER_MNEMONIC", DEV_MNEMONIC)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let said = "is not a registered provider: register it first (kumo provider register)";
    // Said once (the error's chain does not repeat it).
    assert_eq!(err.matches(said).count(), 1, "{err}");

    env.kumo()
        .args(["keys", "add", "prov", "--recover", "--index", "2"])
        .write_stdin(format!("{DEV_MNEMONIC}\n"))
        .assert()
        .success();
    let gateway = free_port();
    let host_uri = format!("https://127.0.0.1:{gateway}");
    env.json(&[
        "--from",
        "prov",
        "provider",
        "register",
        "--host-uri",
        &host_uri,
    ]);
    let metrics_port = free_port();
    std::fs::write(&path, config(metrics_port, gateway)).unwrap();

    let mut child = kumo()
        .args(["provider", "run", "--config"])
        .arg(&path)
        .env("KUMO_PROVIDER_MNEMONIC", DEV_MNEMONIC)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let metrics = loop {
        if let Some(text) = http_get(metrics_port, "/metrics") {
            if text.contains("kumo_provider_orders_seen_total") {
                break text;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("kumo provider run exited early ({status}):\n{err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no metrics on port {metrics_port} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(metrics.contains("# TYPE"), "{metrics}");

    // SIGTERM: the daemon finishes what it is doing and exits 0.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still running 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn provider_run_rejects_a_missing_or_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let out = kumo()
        .args(["provider", "run", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope.toml"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[chain]\nnode = 5\n").unwrap();
    let out = kumo()
        .args(["provider", "run", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    // The example config the error points to is a valid starting point.
    let example = repo("packages/provider/provider.example.toml");
    assert!(example.exists());
}
