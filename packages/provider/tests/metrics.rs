//! The Prometheus exposition built from the agent's tick reports, and its HTTP endpoint.

use std::time::{Duration, Instant};

use cosmwasm_std::Addr;
use kumo::DeploymentId;
use kumo_provider::agent::TickReport;
use kumo_provider::metrics::{decline_labels, reason_label, Metrics, CONTENT_TYPE};

fn order(dseq: u64) -> kumo::OrderId {
    DeploymentId::new(Addr::unchecked("kumo1tenant"), dseq)
        .group(1)
        .order(1)
}

/// The value of the sample line `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn counters_and_gauges_follow_the_tick_reports() {
    let metrics = Metrics::new();
    let start = Instant::now();
    let provider = Addr::unchecked("kumo1provider");
    let first = TickReport {
        orders_seen: 3,
        bids_placed: vec![order(1).bid(provider.clone())],
        declined: vec![
            (
                order(2),
                "tenants (tenant-denied): tenant kumo1tenant is denied".into(),
            ),
            (
                order(3),
                "capacity (insufficient-cpu): needs 4000m, 1000m free".into(),
            ),
        ],
        refused: vec![(order(4), "order closed".into())],
        leases_closed: vec![(
            order(1).bid(provider.clone()),
            "manifest-timeout: no manifest within 300 s".into(),
        )],
        withdrawals: 2,
        heartbeat: true,
        active_leases: 1,
        ..Default::default()
    };
    metrics.observe_at(&first, start);
    let second = TickReport {
        orders_seen: 1,
        declined: vec![(order(5), "tenants (tenant-denied): again".into())],
        active_leases: 4,
        ..Default::default()
    };
    metrics.observe_at(&second, start + Duration::from_secs(1));
    metrics.tick_failed();

    let text = metrics.render_at(start + Duration::from_secs(42));
    let get = |name: &str| sample(&text, name).unwrap_or_else(|| panic!("{name} in\n{text}"));
    assert_eq!(get("kumo_provider_ticks_total"), 2.0);
    assert_eq!(get("kumo_provider_tick_errors_total"), 1.0);
    assert_eq!(get("kumo_provider_orders_seen_total"), 4.0);
    assert_eq!(get("kumo_provider_bids_placed_total"), 1.0);
    assert_eq!(
        get(r#"kumo_provider_bids_declined_total{policy="tenants",reason="tenant-denied"}"#),
        2.0
    );
    assert_eq!(
        get(r#"kumo_provider_bids_declined_total{policy="capacity",reason="insufficient-cpu"}"#),
        1.0
    );
    assert_eq!(get("kumo_provider_bids_refused_total"), 1.0);
    assert_eq!(
        get(r#"kumo_provider_leases_closed_total{reason="manifest-timeout"}"#),
        1.0
    );
    assert_eq!(get("kumo_provider_withdrawals_total"), 2.0);
    assert_eq!(get("kumo_provider_heartbeats_total"), 1.0);
    // The last report's gauge, not a sum.
    assert_eq!(get("kumo_provider_leases_active"), 4.0);
    // The heartbeat was sent at `start`.
    assert_eq!(get("kumo_provider_heartbeat_lag_seconds"), 42.0);

    // Well-formed: every sample's metric has HELP and TYPE lines before it, once.
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(kind == "counter" || kind == "gauge", "{line}");
            assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
        } else if !line.starts_with("# HELP ") {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(typed.contains(name), "no TYPE before {line}");
            assert!(name.starts_with("kumo_provider_"), "{line}");
        }
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn before_the_first_heartbeat_the_lag_counts_from_the_start() {
    let metrics = Metrics::new();
    let text = metrics.render_at(Instant::now() + Duration::from_secs(90));
    let lag = sample(&text, "kumo_provider_heartbeat_lag_seconds").unwrap();
    assert!((90.0..91.0).contains(&lag), "{text}");
    let without = Metrics::new().without_heartbeats().render();
    assert!(!without.contains("heartbeat_lag"), "{without}");
    // No declines yet: the family is announced with no samples.
    assert!(text.contains("# TYPE kumo_provider_bids_declined_total counter"));
    assert!(!text.contains("kumo_provider_bids_declined_total{"));
}

#[test]
fn labels_come_from_small_sets_and_are_escaped() {
    assert_eq!(
        decline_labels("price-ceiling (price-above-max): our price 2 exceeds 1"),
        ("price-ceiling".into(), "price-above-max".into())
    );
    assert_eq!(
        decline_labels("something free-form"),
        ("unknown".into(), "other".into())
    );
    assert_eq!(
        decline_labels("a \"b\" (c): d"),
        ("unknown".into(), "other".into())
    );
    assert_eq!(reason_label("insufficient funds"), "insufficient funds");
    assert_eq!(reason_label(&"x".repeat(100)), "other");
    assert_eq!(reason_label(""), "other");

    let metrics = Metrics::new();
    let lease = order(1).bid(Addr::unchecked("kumo1provider"));
    metrics.observe(&TickReport {
        leases_closed: vec![(lease, "the \"tenant\" said\\no".into())],
        ..Default::default()
    });
    let text = metrics.render();
    assert!(
        text.contains(r#"kumo_provider_leases_closed_total{reason="the \"tenant\" said\\no"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_endpoint_serves_the_text_format() {
    let metrics = std::sync::Arc::new(Metrics::new());
    metrics.observe(&TickReport {
        orders_seen: 7,
        ..Default::default()
    });
    let running = metrics
        .start("127.0.0.1:0".parse().unwrap(), std::future::pending())
        .await
        .unwrap();
    let base = format!("http://{}", running.local_addr());
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        CONTENT_TYPE
    );
    let text = response.text().await.unwrap();
    assert_eq!(sample(&text, "kumo_provider_orders_seen_total"), Some(7.0));
    let missing = reqwest::get(format!("{base}/other")).await.unwrap();
    assert_eq!(missing.status(), 404);
    running.shutdown().await.unwrap();
}
