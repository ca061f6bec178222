//! GPU detection for `inventory.mode = "detect"` with a fake `nvidia-smi`: shell scripts in a
//! temporary directory print canned CSV, fail, print garbage or hang. There is no GPU here.
//!
//! One test: the scripts are all written before any is run, so that no script is still open for
//! writing while another thread forks (exec would fail with ETXTBSY).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kumo_provider::config::{BackendSettings, DetectGpus, InventorySource};
use kumo_provider::daemon::resolve_inventory;
use kumo_provider::docker::DockerConfig;
use kumo_provider::gpu::{detect_nvidia, GpuDetectError, NVIDIA_SMI_TIMEOUT};
use kumo_provider::inventory::GpuPool;

/// An executable `name` in `dir` that runs `body` with /bin/sh.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Prints its output only when called with nvidia-smi's query arguments.
const EIGHT_A100S_AND_A_4090: &str = r#"
[ "$*" = "--query-gpu=name,memory.total --format=csv,noheader,nounits" ] || { echo "unexpected arguments: $*" >&2; exit 2; }
for i in 1 2 3 4 5 6 7 8; do echo "NVIDIA A100-SXM4-80GB, 81920"; done
echo "NVIDIA GeForce RTX 4090, 24564"
"#;

fn detect(program: &Path) -> Result<Vec<GpuPool>, GpuDetectError> {
    detect_nvidia(program, true, NVIDIA_SMI_TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nvidia_smi_output_becomes_gpu_pools_and_its_failures_are_startup_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gpus = script(d, "gpus", EIGHT_A100S_AND_A_4090);
    let none = script(d, "none", "exit 0");
    let broken = script(
        d,
        "broken",
        "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9",
    );
    let garbage = script(d, "garbage", "echo 'NVIDIA A100-SXM4-80GB, [N/A]'");
    let hangs = script(d, "hangs", "exec sleep 30");

    // Identical GPUs pool together, named as SDLs name them.
    let pools = detect(&gpus).unwrap();
    assert_eq!(
        pools,
        vec![
            GpuPool {
                vendor: "nvidia".into(),
                model: "a100".into(),
                ram: Some("80Gi".into()),
                interface: Some("sxm".into()),
                count: 8,
            },
            GpuPool {
                vendor: "nvidia".into(),
                model: "rtx4090".into(),
                ram: Some("24Gi".into()),
                interface: None,
                count: 1,
            },
        ]
    );
    // No GPU listed: none.
    assert_eq!(detect(&none).unwrap(), vec![]);

    // A failing nvidia-smi is an error naming the command, the status and what it printed.
    let err = detect(&broken).unwrap_err().to_string();
    assert!(
        err.contains(&broken.display().to_string())
            && err.contains("--query-gpu=name,memory.total")
            && err.contains("exit status 9")
            && err.contains("couldn't communicate with the NVIDIA driver")
            && err.contains("inventory.gpus"),
        "{err}"
    );
    // So is a line that does not parse, quoted.
    let err = detect(&garbage).unwrap_err().to_string();
    assert!(
        err.contains(&garbage.display().to_string())
            && err.contains("\"NVIDIA A100-SXM4-80GB, [N/A]\"")
            && err.contains("MiB"),
        "{err}"
    );
    // And one that hangs, killed after the timeout.
    let started = Instant::now();
    let err = detect_nvidia(&hangs, true, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, GpuDetectError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // No nvidia-smi on PATH: a host without NVIDIA GPUs. A program the operator named must
    // exist.
    let missing = d.join("missing-nvidia-smi");
    assert_eq!(
        detect_nvidia(
            Path::new("kumo-test-no-such-nvidia-smi"),
            false,
            NVIDIA_SMI_TIMEOUT
        )
        .unwrap(),
        vec![]
    );
    let err = detect(&missing).unwrap_err().to_string();
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("not found"),
        "{err}"
    );

    // The daemon's detected inventory: the Docker engine's CPUs and memory and the GPUs, from
    // nvidia-smi or as listed. Needs a Docker engine (`scripts/ensure-docker`).
    let backend = BackendSettings::Docker(DockerConfig::default());
    let source = |gpus| InventorySource::Detect {
        reserved_cpu_millis: 0,
        reserved_memory: 0,
        ephemeral_storage: 1 << 30,
        storage_classes: BTreeMap::new(),
        gpus,
    };
    let inventory = resolve_inventory(&source(DetectGpus::NvidiaSmi(Some(gpus))), &backend)
        .await
        .unwrap();
    assert_eq!(inventory.nodes.len(), 1);
    assert!(inventory.nodes[0].cpu_millis > 0);
    assert_eq!(inventory.nodes[0].gpus, pools);
    let listed = vec![GpuPool {
        vendor: "nvidia".into(),
        model: "t4".into(),
        ram: Some("16Gi".into()),
        interface: None,
        count: 2,
    }];
    let inventory = resolve_inventory(&source(DetectGpus::Listed(listed.clone())), &backend)
        .await
        .unwrap();
    assert_eq!(inventory.nodes[0].gpus, listed);
    let err = resolve_inventory(&source(DetectGpus::NvidiaSmi(Some(broken))), &backend)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("inventory: ") && err.contains("exit status 9"),
        "{err}"
    );
}
