//! Script pricing: Akash's stdin/stdout contract, and every way a script can fail.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cosmwasm_std::{Addr, Decimal256, Uint64};
use kumo::{
    Attribute, Cpu, DecCoin, DeploymentId, Endpoint, EndpointKind, Gpu, GroupSpec, Memory,
    PlacementRequirements, ResourceUnit, Resources, StorageVolume,
};
use kumo_provider::bidengine::{
    BidEngine, BidOutcome, OrderView, PriceRequest, PriceUnit, PricingError, PricingStrategy,
    ProviderView, ScriptPricing, STEP_PRICING,
};
use kumo_provider::inventory::{GpuPool, Inventory, InventoryConfig, NodeCapacity};
use tempfile::TempDir;

const GI: u64 = 1 << 30;
const TENANT: &str = "kumo1tenant";

/// Scripts are written then executed: while one test holds a script open for writing, another
/// test's fork could inherit that descriptor and make the exec fail with ETXTBSY. One test at a
/// time in this file.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn dec(s: &str) -> Decimal256 {
    Decimal256::from_str(s).unwrap()
}

fn script(dir: &TempDir, body: &str) -> PathBuf {
    let path = dir.path().join("price.sh");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn order(max: &str) -> OrderView {
    let resources = Resources {
        id: 1,
        cpu: Cpu {
            units: 500,
            attributes: vec![],
        },
        memory: Memory {
            size: Uint64::new(GI),
            attributes: vec![],
        },
        storage: vec![
            StorageVolume {
                name: "default".into(),
                size: Uint64::new(GI),
                attributes: vec![],
            },
            StorageVolume {
                name: "data".into(),
                size: Uint64::new(10 * GI),
                attributes: vec![
                    Attribute::new("class", "beta2"),
                    Attribute::new("persistent", "true"),
                ],
            },
        ],
        gpu: Gpu {
            units: 1,
            attributes: vec![Attribute::new("vendor/nvidia/model/*", "true")],
        },
        endpoints: vec![
            Endpoint {
                kind: EndpointKind::SharedHttp,
                sequence_number: 0,
            },
            Endpoint {
                kind: EndpointKind::LeasedIp,
                sequence_number: 1,
            },
        ],
    };
    let group = GroupSpec {
        name: "web".into(),
        requirements: PlacementRequirements::default(),
        resources: vec![ResourceUnit {
            resources,
            count: 2,
            price: DecCoin {
                denom: "ukumo".into(),
                amount: Decimal256::one(),
            },
        }],
    };
    let id = DeploymentId::new(Addr::unchecked(TENANT), 5)
        .group(1)
        .order(1);
    OrderView::new(id, group, dec(max))
}

fn inventory() -> Inventory {
    Inventory::new(InventoryConfig {
        nodes: vec![NodeCapacity {
            name: "n1".into(),
            cpu_millis: 8000,
            memory: 32 * GI,
            ephemeral_storage: 100 * GI,
            gpus: vec![GpuPool {
                vendor: "nvidia".into(),
                model: "a100".into(),
                ram: Some("80Gi".into()),
                interface: None,
                count: 4,
                devices: vec![],
            }],
        }],
        storage_classes: [("beta2".to_string(), 100 * GI)].into(),
    })
    .unwrap()
}

fn price_with(pricing: &ScriptPricing, order: &OrderView) -> Result<Decimal256, PricingError> {
    let mut inv = inventory();
    let reservation = inv.reserve(&order.id, &order.group.resources).unwrap();
    pricing.price(&PriceRequest {
        order,
        reservation: &reservation,
    })
}

fn run(body: &str) -> Result<Decimal256, PricingError> {
    let dir = TempDir::new().unwrap();
    let pricing = ScriptPricing::new(script(&dir, body), Duration::from_secs(10)).unwrap();
    price_with(&pricing, &order("100"))
}

#[test]
fn the_script_reads_the_group_and_prints_the_price() {
    let _serial = serial();
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("stdin.json");
    let env = dir.path().join("env.txt");
    let body = format!(
        "cat > {}\necho \"$KUMO_OWNER $KUMO_DENOM $KUMO_PRICE_UNIT $AKASH_OWNER $AKASH_DENOM\" > {}\necho '  1.25 '",
        input.display(),
        env.display()
    );
    let pricing = ScriptPricing::new(script(&dir, &body), Duration::from_secs(10)).unwrap();
    assert_eq!(price_with(&pricing, &order("100")), Ok(dec("1.25")));

    let json: serde_json::Value = serde_json::from_slice(&fs::read(&input).unwrap()).unwrap();
    let expected = serde_json::json!({
        "resources": [{
            "memory": GI,
            "cpu": 500,
            "gpu": {"units": 1, "attributes": {"vendor": {"nvidia": {"model": "a100", "ram": "80Gi"}}}},
            "storage": [{"class": "ephemeral", "size": GI}, {"class": "beta2", "size": 10 * GI}],
            "count": 2,
            "endpoint_quantity": 2,
            "ip_lease_quantity": 1
        }],
        "price": {"denom": "ukumo", "amount": "100"},
        "price_precision": 18,
        "confidential_compute": false
    });
    assert_eq!(json, expected);
    assert_eq!(
        fs::read_to_string(&env).unwrap().trim(),
        format!("{TENANT} ukumo second {TENANT} ukumo")
    );
}

#[test]
fn per_block_scripts_see_and_print_per_block_prices() {
    let _serial = serial();
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("stdin.json");
    let body = format!("cat > {}\necho 12", input.display());
    let pricing = ScriptPricing::new(script(&dir, &body), Duration::from_secs(10))
        .unwrap()
        .with_unit(PriceUnit::PerBlock {
            block_time_ms: 6000,
        })
        .unwrap();
    // 12 per 6 s block is 2 per second.
    assert_eq!(price_with(&pricing, &order("0.5")), Ok(dec("2")));
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&input).unwrap()).unwrap();
    assert_eq!(json["price"]["amount"], "3");
}

#[test]
fn a_script_that_ignores_stdin_is_fine() {
    let _serial = serial();
    assert_eq!(
        run("echo 0.000000000000000001"),
        Ok(dec("0.000000000000000001"))
    );
}

#[test]
fn bad_output_declines() {
    let _serial = serial();
    for body in [
        "echo",
        "echo abc",
        "echo -1",
        "echo 1e3",
        "echo 1.5 2",
        "echo 0.0000000000000000001",
        "printf '\\377\\n'",
        "head -c 5000 /dev/zero | tr '\\0' '1'",
    ] {
        let err = run(body).unwrap_err();
        assert_eq!(err.code(), "script-bad-output", "{body}: {err}");
    }
    assert_eq!(run("echo 0"), Err(PricingError::ZeroPrice));
    assert_eq!(run("echo 0.000"), Err(PricingError::ZeroPrice));
}

#[test]
fn a_non_zero_exit_declines_with_its_stderr() {
    let _serial = serial();
    match run("echo 'no price feed' >&2\necho 1\nexit 3") {
        Err(PricingError::ScriptFailed { status, stderr }) => {
            assert_eq!(status, "exit status 3");
            assert_eq!(stderr, "no price feed");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(matches!(
        run("kill -9 $$"),
        Err(PricingError::ScriptFailed { status, .. }) if status == "killed by a signal"
    ));
}

#[test]
fn a_missing_script_declines() {
    let _serial = serial();
    let pricing = ScriptPricing::new("/nonexistent/price.sh", Duration::from_secs(1)).unwrap();
    let err = price_with(&pricing, &order("100")).unwrap_err();
    assert_eq!(err.code(), "script-spawn");
    assert!(ScriptPricing::new("", Duration::from_secs(1)).is_err());
    assert!(ScriptPricing::new("/bin/true", Duration::ZERO).is_err());
    assert!(ScriptPricing::new("/bin/true", Duration::from_secs(1))
        .unwrap()
        .with_max_processes(0)
        .is_err());
}

#[test]
fn a_slow_script_times_out() {
    let _serial = serial();
    let dir = TempDir::new().unwrap();
    let pricing =
        ScriptPricing::new(script(&dir, "sleep 30\necho 1"), Duration::from_millis(300)).unwrap();
    assert_eq!(
        price_with(&pricing, &order("100")),
        Err(PricingError::ScriptTimeout { timeout_ms: 300 })
    );
}

/// Whether a process still runs (a zombie waiting for its reaper does not).
#[cfg(target_os = "linux")]
fn running(pid: &str) -> bool {
    match fs::read_to_string(Path::new("/proc").join(pid).join("stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}

/// Whether the process stops running within a few seconds. SIGKILL is delivered asynchronously:
/// wait for it rather than race it.
#[cfg(target_os = "linux")]
fn ends(pid: &str) -> bool {
    (0..500).any(|_| {
        let gone = !running(pid);
        if !gone {
            std::thread::sleep(Duration::from_millis(10));
        }
        gone
    })
}

#[cfg(target_os = "linux")]
#[test]
fn a_timeout_kills_what_the_script_started() {
    let _serial = serial();
    let dir = TempDir::new().unwrap();
    let pidfile = dir.path().join("child.pid");
    let body = format!("sleep 60 &\necho $! > {}\nwait", pidfile.display());
    let pricing = ScriptPricing::new(script(&dir, &body), Duration::from_millis(500)).unwrap();
    assert!(matches!(
        price_with(&pricing, &order("100")),
        Err(PricingError::ScriptTimeout { .. })
    ));
    let pid = fs::read_to_string(&pidfile).unwrap().trim().to_string();
    assert!(ends(&pid), "the script's child {pid} survived the timeout");
}

#[test]
fn the_engine_declines_on_script_failure_and_releases() {
    let _serial = serial();
    let dir = TempDir::new().unwrap();
    let pricing = ScriptPricing::new(script(&dir, "exit 1"), Duration::from_secs(10)).unwrap();
    let engine = BidEngine::new(Box::new(pricing));
    let inv = Mutex::new(inventory());
    let o = order("100");
    let provider = ProviderView::new("kumo1provider", vec![]);
    let BidOutcome::Declined(d) = engine.evaluate(&o, &provider, &inv) else {
        panic!("expected a decline");
    };
    assert_eq!((d.policy.as_str(), d.code), (STEP_PRICING, "script-failed"));
    assert!(d.reason.starts_with("script:"), "{}", d.reason);
    assert!(inv.lock().unwrap().reservation(&o.id).is_none());
    assert_eq!(engine.declines()[0].count, 1);

    // And bids, capped by the order's maximum, when it works.
    let ok = ScriptPricing::new(script(&dir, "echo 3"), Duration::from_secs(10)).unwrap();
    let engine = BidEngine::new(Box::new(ok));
    assert!(matches!(
        engine.evaluate(&order("2.99"), &provider, &inv),
        BidOutcome::Declined(_)
    ));
    assert!(matches!(
        engine.evaluate(&order("3"), &provider, &inv),
        BidOutcome::Bid(b) if b.price == dec("3")
    ));
}

#[cfg(target_os = "linux")]
#[test]
fn commands_left_running_do_not_hold_up_the_price() {
    let _serial = serial();
    let dir = TempDir::new().unwrap();
    let pidfile = dir.path().join("child.pid");
    // The background sleep inherits stdout; without the group kill the read would wait for it
    // and the script would time out.
    let body = format!("sleep 60 &\necho $! > {}\necho 2", pidfile.display());
    let pricing = ScriptPricing::new(script(&dir, &body), Duration::from_secs(5)).unwrap();
    assert_eq!(price_with(&pricing, &order("100")), Ok(dec("2")));
    let pid = fs::read_to_string(&pidfile).unwrap().trim().to_string();
    assert!(ends(&pid), "the script's child {pid} outlived it");
}
