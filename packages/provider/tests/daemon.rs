//! The `kumo-provider` binary end to end: `run` against an in-process devnet with the Docker
//! backend (inventory detected from the real engine; nothing is deployed, so no image is
//! needed). It serves `/status` over TLS with the certificate it generated in its data
//! directory, `/metrics` in plain HTTP, bids on a tenant's order, and exits 0 on SIGTERM.

mod agent_common;

use std::net::TcpStream;
use std::time::Duration;

use agent_common::process::{eventually, free_port, sample, stop_chain, ProviderProcess, Settings};
use agent_common::{hello_sdl, Net};
use kumo::market;
use kumo_chain::KumoContracts;
use kumo_provider::gateway::ProviderStatusResponse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_lease_api_and_metrics_bids_and_stops_on_sigterm() {
    let net = Net::start(70, false).await;
    let mut p = ProviderProcess::new(
        &net,
        70,
        &Settings {
            detect_inventory: true,
            ..Settings::default()
        },
    );

    // The wrong chain (here through the environment override): refused at start, exit 1.
    let wrong = p
        .command()
        .env("KUMO_PROVIDER_CHAIN_ID", "other-chain-1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"kumo-devnet-1\"") && stderr.contains("chain.chain_id"),
        "{stderr}"
    );

    p.start();

    // Metrics answer once the agent runs, and count its passes.
    let text = p
        .wait_metric("kumo_provider_ticks_total", 1.0, Duration::from_secs(90))
        .await;
    assert_eq!(
        sample(&text, "kumo_provider_tick_errors_total"),
        Some(0.0),
        "{text}"
    );
    // The suite has no staking contract: no heartbeats, so no lag to report.
    assert!(!text.contains("heartbeat_lag"), "{text}");

    // The certificate was generated in the data directory; its pin was printed.
    assert!(p.output().contains(&p.cert().pin_hex()), "{}", p.output());
    let tls = p.gateway_client();
    let status: ProviderStatusResponse = tls
        .get(p.gateway_url("/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status.address, net.provider_addr().as_str());
    assert_eq!(status.backend, "docker");
    assert_eq!(status.active_leases, 0);

    // A tenant's order: the daemon bids on it.
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    p.wait_metric(
        "kumo_provider_bids_placed_total",
        1.0,
        Duration::from_secs(60),
    )
    .await;
    let bid = net.bid(&order.bid(net.provider_addr())).await.unwrap();
    assert_eq!(bid.state, market::BidState::Open);

    // The chain goes away: passes fail and are counted, the daemon stays up and serves.
    let _stopped = stop_chain(net).await;
    p.wait_metric(
        "kumo_provider_tick_errors_total",
        1.0,
        Duration::from_secs(60),
    )
    .await;
    let response = tls.get(p.gateway_url("/status")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // SIGTERM: a clean exit, and both listeners closed.
    let status = p.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", p.output());
    for port in [p.metrics_port, p.gateway_port] {
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "{port}");
    }
    let output = p.output();
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

/// A node that cannot be reached at start is waited for (not an exit), and SIGINT still ends
/// the wait cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_node_is_waited_for_and_sigterm_still_exits_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let contracts = KumoContracts {
        registry: "kumo1r".into(),
        market: "kumo1m".into(),
        escrow: "kumo1e".into(),
        staking: String::new(),
        governance: String::new(),
    };
    let mut p = ProviderProcess::for_node(
        home.path().join("provider"),
        &format!("http://127.0.0.1:{}", free_port()),
        &contracts,
        2,
        &Settings::default(),
    );
    p.start();
    eventually(
        "a retry",
        Duration::from_secs(30),
        || p.tail(),
        || async {
            p.output()
                .contains("starting the agent: cannot yet, retrying")
                .then_some(())
        },
    )
    .await;
    assert!(
        p.output().contains("is the chain running?"),
        "{}",
        p.output()
    );
    let status = p.stop_with(libc::SIGINT, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", p.output());
}
