//! The provider's config file: the example parses, environment overrides win, secrets stay out
//! of the file and of `Debug`, and every bad input gets an error naming the file, the key and
//! the expected form. Also the `kumo-provider example-config` and `check-config` commands.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kumo_chain::{Key, Keyring, KumoContracts};
use kumo_provider::config::{
    BackendSettings, Config, ConfigError, ContractsSource, DetectGpus, InventorySource, KeySource,
    LogFormat, PricingSettings,
};

const ABANDON: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

/// A small valid configuration; tests replace parts of it.
const MINIMAL: &str = r#"
data_dir = "data"

[chain]
node = "http://127.0.0.1:1317"

[key]
keyring = "keyring.json"
name = "provider"

[contracts]
suite = "suite.json"

[inventory]
mode = "static"
[[inventory.nodes]]
name = "node-1"
cpu = 4
memory = "8Gi"
ephemeral_storage = "100Gi"

[bidding]
deposit = "500000ukumo"

[bidding.pricing.scale.ukumo]
cpu = "0.001"
"#;

fn no_env(_: &str) -> Option<String> {
    None
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "provider.toml", no_env)
}

fn error(text: &str) -> String {
    parse(text).expect_err("the config is refused").to_string()
}

#[test]
fn the_example_parses_and_is_the_shipped_file() {
    let shipped = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("provider.example.toml"),
    )
    .unwrap();
    assert_eq!(Config::example(), shipped);
    let config = Config::parse(Config::example(), "example", no_env).unwrap();
    assert_eq!(config.chain.node, "http://127.0.0.1:1317");
    assert_eq!(config.chain.gas_denom, "ukumo");
    assert_eq!(config.chain.chain_id, None);
    assert_eq!(config.bidding.deposit.to_string(), "500000ukumo");
    assert_eq!(config.bidding.max_leases, Some(50));
    let PricingSettings::Scale { rates, .. } = &config.bidding.pricing else {
        panic!("scale pricing")
    };
    assert_eq!(rates["ukumo"].cpu.to_string(), "0.001");
    assert_eq!(rates["ukumo"].gpu["nvidia/a100"].to_string(), "5");
    assert!(matches!(config.backend, BackendSettings::Docker(_)));
    assert!(matches!(
        config.inventory,
        InventorySource::Detect {
            reserved_cpu_millis: 500,
            reserved_memory: 1073741824,
            ..
        }
    ));
    assert_eq!(config.timeouts.bid, Duration::from_secs(300));
    assert_eq!(config.timeouts.withdraw_period, Duration::from_secs(3600));
    assert_eq!(config.timeouts.heartbeat_period, None);
    assert_eq!(config.gateway.listen, "0.0.0.0:8443".parse().unwrap());
    assert_eq!(config.gateway.hostnames, vec!["provider.example.com"]);
    assert_eq!(
        config.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    assert_eq!(config.log.format, LogFormat::Text);
    // The engine builds with every configured policy, in order.
    let engine = config.bid_engine().unwrap();
    assert_eq!(
        engine.policy_names(),
        vec![
            "tenants",
            "attributes",
            "capabilities",
            "max-leases",
            "capacity"
        ]
    );
    // And the resolved summary names the settings.
    let summary = config.to_string();
    assert!(summary.contains("deposit 500000ukumo"), "{summary}");
    assert!(summary.contains("https://0.0.0.0:8443"), "{summary}");
}

#[test]
fn a_minimal_file_takes_the_defaults() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.chain.prefix, "kumo");
    assert_eq!(config.chain.gas_adjustment, 1.3);
    assert_eq!(config.timeouts.poll_interval, Duration::from_secs(5));
    let InventorySource::Static(inventory) = &config.inventory else {
        panic!("static inventory")
    };
    assert_eq!(inventory.nodes[0].cpu_millis, 4000);
    assert_eq!(inventory.nodes[0].memory, 8 << 30);
    let agent = config.agent_config(KumoContracts {
        registry: "r".into(),
        market: "m".into(),
        escrow: "e".into(),
        staking: String::new(),
        governance: String::new(),
    });
    assert_eq!(agent.bid_deposit.to_string(), "500000ukumo");
    assert_eq!(agent.manifest_timeout, Duration::from_secs(300));
}

#[test]
fn environment_overrides_win_over_the_file() {
    let config = Config::parse(
        MINIMAL,
        "provider.toml",
        env(&[
            ("KUMO_PROVIDER_NODE", "https://node.example.com"),
            ("KUMO_PROVIDER_CHAIN_ID", "kumo-1"),
            ("KUMO_PROVIDER_DATA_DIR", "/srv/provider"),
            ("KUMO_PROVIDER_GATEWAY_LISTEN", "127.0.0.1:9443"),
            ("KUMO_PROVIDER_METRICS_LISTEN", ""),
            ("KUMO_PROVIDER_LOG_FORMAT", "json"),
            ("KUMO_PROVIDER_LOG_LEVEL", "debug"),
            ("KUMO_PROVIDER_SUITE", "/srv/suite.json"),
            ("KUMO_PROVIDER_MNEMONIC", ABANDON),
        ]),
    )
    .unwrap();
    assert_eq!(config.chain.node, "https://node.example.com");
    assert_eq!(config.chain.chain_id.as_deref(), Some("kumo-1"));
    assert_eq!(config.data_dir, PathBuf::from("/srv/provider"));
    assert_eq!(
        config.gateway.listen,
        "127.0.0.1:9443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        config.metrics_listen, None,
        "an empty address turns metrics off"
    );
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "debug");
    assert_eq!(
        config.contracts,
        ContractsSource::Suite("/srv/suite.json".into())
    );
    // The mnemonic wins over the keyring, and never shows.
    assert!(matches!(config.key, KeySource::Mnemonic { index: 0, .. }));
    assert!(!format!("{config:?}").contains("abandon"));
    assert!(!config.to_string().contains("abandon"));
    let key = config.load_key().unwrap();
    assert_eq!(
        key.public_key_bytes(),
        Key::from_mnemonic(ABANDON).unwrap().public_key_bytes()
    );
}

#[test]
fn a_bad_override_names_its_environment_variable() {
    let err = Config::parse(
        MINIMAL,
        "provider.toml",
        env(&[("KUMO_PROVIDER_GATEWAY_LISTEN", "everywhere")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("gateway.listen"), "{err}");
    assert!(err.contains("KUMO_PROVIDER_GATEWAY_LISTEN"), "{err}");
    assert!(err.contains("0.0.0.0:8443"), "the expected form: {err}");
}

#[test]
fn a_missing_file_says_how_to_get_one() {
    let err = Config::load(Path::new("/nonexistent/provider.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    let text = err.to_string();
    assert!(text.contains("/nonexistent/provider.toml"), "{text}");
    assert!(text.contains("example-config"), "{text}");
}

#[test]
fn bad_toml_is_reported_with_its_line() {
    let text = MINIMAL.replace("[bidding]\n", "[bidding\n");
    let err = error(&text);
    assert!(err.starts_with("provider.toml: "), "{err}");
    assert!(err.contains("line 22"), "{err}");
}

#[test]
fn an_unknown_key_is_reported_with_its_line() {
    let text = MINIMAL.replace("[chain]\n", "[chain]\nnodes = \"x\"\n");
    let err = error(&text);
    assert!(err.contains("nodes"), "{err}");
    assert!(err.contains("line 5"), "{err}");
}

#[test]
fn an_unknown_backend_lists_the_known_ones() {
    let err = error(&format!("{MINIMAL}\n[backend]\nkind = \"podman\"\n"));
    assert!(err.contains("`backend.kind`"), "{err}");
    assert!(err.contains("\"podman\""), "{err}");
    assert!(
        err.contains("\"docker\" or \"kubernetes\""),
        "the expected values: {err}"
    );
}

#[test]
fn a_bad_coin_shows_the_expected_form() {
    for deposit in ["500000", "ukumo", "1.5ukumo", "-5ukumo"] {
        let err = error(&MINIMAL.replace("\"500000ukumo\"", &format!("{deposit:?}")));
        assert!(err.contains("`bidding.deposit`"), "{err}");
        assert!(err.contains("500000ukumo"), "the expected form: {err}");
    }
    let err = error(&MINIMAL.replace("[chain]\n", "[chain]\ngas_price = \"cheap\"\n"));
    assert!(err.contains("`chain.gas_price`"), "{err}");
    assert!(err.contains("0.025ukumo"), "{err}");
}

#[test]
fn a_missing_key_says_where_keys_come_from() {
    let text = MINIMAL.replace("keyring = \"keyring.json\"\nname = \"provider\"\n", "");
    let err = error(&text);
    assert!(err.contains("`key`"), "{err}");
    assert!(err.contains("KUMO_PROVIDER_MNEMONIC"), "{err}");
    assert!(err.contains("key.keyring"), "{err}");
    // A mnemonic in the file is refused, pointing at the environment.
    let err = error(&MINIMAL.replace("[key]\n", "[key]\nmnemonic = \"abandon ...\"\n"));
    assert!(err.contains("`key.mnemonic`"), "{err}");
    assert!(err.contains("KUMO_PROVIDER_MNEMONIC"), "{err}");
}

#[test]
fn other_mistakes_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("data_dir = \"data\"\n", "", "`data_dir`"),
        (
            "node = \"http://127.0.0.1:1317\"",
            "node = \"127.0.0.1:1317\"",
            "`chain.node`",
        ),
        ("suite = \"suite.json\"\n", "", "`contracts`"),
        (
            "memory = \"8Gi\"",
            "memory = \"lots\"",
            "`inventory.nodes[0].memory`",
        ),
        ("cpu = 4\n", "cpu = \"four\"\n", "`inventory.nodes[0].cpu`"),
        ("cpu = \"0.001\"", "cpus = \"0.001\"", "unknown rate `cpus`"),
        (
            "cpu = \"0.001\"",
            "cpu = \"0\"",
            "every rate for ukumo is zero",
        ),
        (
            "deposit = \"500000ukumo\"\n",
            "deposit = \"500000ukumo\"\nmax_leases = 0\n",
            "`bidding.max_leases`",
        ),
    ];
    for (from, to, expected) in cases {
        let text = MINIMAL.replacen(from, to, 1);
        assert_ne!(text, MINIMAL, "{from}");
        let err = error(&text);
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let err = error(&format!("{MINIMAL}\n[timeouts]\nbid = \"soon\"\n"));
    assert!(
        err.contains("`timeouts.bid`") && err.contains("\"5m\""),
        "{err}"
    );
    let err = error(&format!("{MINIMAL}\n[log]\nformat = \"xml\"\n"));
    assert!(
        err.contains("`log.format`") && err.contains("\"json\""),
        "{err}"
    );
    let detect = MINIMAL.replace("mode = \"static\"", "mode = \"detect\"");
    let err = error(&format!("{detect}\n[backend]\nkind = \"kubernetes\"\n"));
    assert!(
        err.contains("`inventory") && err.contains("static"),
        "{err}"
    );
}

/// [`MINIMAL`] with a detected inventory and `extra` lines in its `[inventory]` section.
fn detect(extra: &str) -> String {
    let start = MINIMAL.find("mode = \"static\"").unwrap();
    let end = MINIMAL.find("[bidding]").unwrap();
    format!(
        "{}mode = \"detect\"\nephemeral_storage = \"10Gi\"\n{extra}\n{}",
        &MINIMAL[..start],
        &MINIMAL[end..]
    )
}

fn detect_gpus(text: &str) -> DetectGpus {
    match parse(text).unwrap().inventory {
        InventorySource::Detect { gpus, .. } => gpus,
        other => panic!("a detected inventory: {other:?}"),
    }
}

#[test]
fn detected_gpus_come_from_nvidia_smi_unless_listed() {
    // By default `nvidia-smi` from PATH; or the program named.
    assert_eq!(detect_gpus(&detect("")), DetectGpus::NvidiaSmi(None));
    assert_eq!(
        detect_gpus(&detect("nvidia_smi = \"/usr/bin/nvidia-smi\"")),
        DetectGpus::NvidiaSmi(Some(PathBuf::from("/usr/bin/nvidia-smi")))
    );
    // Listed GPUs replace detection; `[]` detects none.
    let DetectGpus::Listed(pools) = detect_gpus(&detect(
        "gpus = [{ vendor = \"nvidia\", model = \"t4\", ram = \"16Gi\", count = 2 }]",
    )) else {
        panic!("listed GPUs")
    };
    assert_eq!(pools.len(), 1);
    assert_eq!((pools[0].key().as_str(), pools[0].count), ("nvidia/t4", 2));
    assert_eq!(pools[0].ram.as_deref(), Some("16Gi"));
    assert_eq!(
        detect_gpus(&detect("gpus = []")),
        DetectGpus::Listed(Vec::new())
    );
    let summary = parse(&detect("")).unwrap().to_string();
    assert!(
        summary.contains("GPUs: from nvidia-smi on PATH"),
        "{summary}"
    );

    // Mistakes name their key and say what to do.
    let cases: &[(&str, &[&str])] = &[
        (
            "nvidia_smi = \"/usr/bin/nvidia-smi\"\ngpus = []",
            &["`inventory.gpus`", "not both"],
        ),
        ("nvidia_smi = \"\"", &["`inventory.nvidia_smi`", "gpus = []"]),
        (
            "gpus = [{ vendor = \"nvidia\", model = \"t4\", count = 1 }, { vendor = \"nvidia\", model = \"t4\", count = 2 }]",
            &["`inventory.gpus`", "nvidia/t4 is listed twice"],
        ),
        ("gpus = [{ vendor = \"nvidia\" }]", &["missing field `model`"]),
    ];
    for (extra, expected) in cases {
        let err = error(&detect(extra));
        for e in *expected {
            assert!(err.contains(e), "{extra}: {e} in {err}");
        }
    }
    // They belong to detect mode; static nodes list their own GPUs.
    for extra in ["nvidia_smi = \"nvidia-smi\"", "gpus = []"] {
        let text = MINIMAL.replace("mode = \"static\"", &format!("mode = \"static\"\n{extra}"));
        let err = error(&text);
        let key = extra.split(' ').next().unwrap();
        assert!(
            err.contains(&format!("`inventory.{key}`")) && err.contains("mode = \"detect\" only"),
            "{err}"
        );
    }

    // A relative path is relative to the file; a bare name stays a PATH lookup.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.toml");
    for (given, resolved) in [
        ("bin/nvidia-smi", dir.path().join("bin/nvidia-smi")),
        ("nvidia-smi", PathBuf::from("nvidia-smi")),
    ] {
        std::fs::write(&path, detect(&format!("nvidia_smi = \"{given}\""))).unwrap();
        let config = Config::load_with_env(&path, no_env).unwrap();
        let InventorySource::Detect { gpus, .. } = config.inventory else {
            panic!("a detected inventory")
        };
        assert_eq!(gpus, DetectGpus::NvidiaSmi(Some(resolved)));
    }
}

#[test]
fn relative_paths_are_relative_to_the_file_and_files_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let contracts = KumoContracts {
        registry: "kumo1registry".into(),
        market: "kumo1market".into(),
        escrow: "kumo1escrow".into(),
        staking: "kumo1staking".into(),
        governance: String::new(),
    };
    // As `kumo devnet` writes it.
    let suite = serde_json::json!({"code_ids": [["registry", 1]], "contracts": contracts});
    std::fs::write(dir.path().join("suite.json"), suite.to_string()).unwrap();
    let mut keyring = Keyring::open(dir.path().join("keyring.json"))
        .unwrap()
        .with_scrypt_log_n(4);
    keyring.add("provider", ABANDON, "hunter2-pass").unwrap();

    let config = Config::load_with_env(
        &path,
        env(&[("KUMO_PROVIDER_KEYRING_PASSWORD", "hunter2-pass")]),
    )
    .unwrap();
    assert_eq!(config.data_dir, dir.path().join("data"));
    assert_eq!(config.journal_path(), dir.path().join("data/journal.redb"));
    assert_eq!(config.load_contracts().unwrap(), contracts);
    let key = config.load_key().unwrap();
    assert_eq!(
        key.public_key_bytes(),
        Key::from_mnemonic(ABANDON).unwrap().public_key_bytes()
    );
    assert!(!format!("{config:?}").contains("hunter2"));

    // Without the password: told which variable to set.
    let config = Config::load_with_env(&path, no_env).unwrap();
    let err = config.load_key().unwrap_err().to_string();
    assert!(err.contains("KUMO_PROVIDER_KEYRING_PASSWORD"), "{err}");
    // A wrong suite file: told what it should hold.
    std::fs::write(dir.path().join("suite.json"), "{}").unwrap();
    let err = config.load_contracts().unwrap_err().to_string();
    assert!(
        err.contains("`contracts.suite`") && err.contains("code_ids"),
        "{err}"
    );
}

#[test]
fn the_binary_prints_the_example_and_checks_a_config() {
    let bin = env!("CARGO_BIN_EXE_kumo-provider");
    let out = Command::new(bin).arg("example-config").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), Config::example());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    std::fs::write(
        dir.path().join("suite.json"),
        r#"{"code_ids": [], "contracts": {"registry": "kumo1r", "market": "kumo1m", "escrow": "kumo1e", "staking": "", "governance": ""}}"#,
    )
    .unwrap();
    let out = Command::new(bin)
        .args(["check-config", "--config"])
        .arg(&path)
        .env("KUMO_PROVIDER_MNEMONIC", ABANDON)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let address = Key::from_mnemonic(ABANDON)
        .unwrap()
        .address("kumo")
        .unwrap();
    assert!(stdout.contains(&address), "{stdout}");
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(!stdout.contains("abandon"), "{stdout}");

    // A broken file: non-zero, and the error on stderr.
    std::fs::write(
        &path,
        MINIMAL.replace("deposit = \"500000ukumo\"", "deposit = 5"),
    )
    .unwrap();
    let out = Command::new(bin)
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("deposit"), "{stderr}");
}

#[test]
fn the_kubernetes_section_maps_onto_the_backend_settings() {
    let text = format!(
        r#"{MINIMAL}
[backend]
kind = "kubernetes"
[backend.kubernetes]
kubeconfig = "/etc/kumo/kubeconfig"
context = "provider"
public_hostname = "nodes.example.com"
ingress_domain = "ingress.example.com"
ingress_class = "nginx"
network_policies = false
added_capabilities = ["NET_BIND_SERVICE"]
gpu_runtime_class = "nvidia"
"#
    );
    let config = parse(&text).unwrap();
    let BackendSettings::Kubernetes {
        kubeconfig,
        context,
        settings,
    } = &config.backend
    else {
        panic!("kubernetes: {:?}", config.backend)
    };
    assert_eq!(
        kubeconfig.as_deref(),
        Some(Path::new("/etc/kumo/kubeconfig"))
    );
    assert_eq!(context.as_deref(), Some("provider"));
    assert_eq!(settings.public_hostname, "nodes.example.com");
    assert_eq!(settings.ingress_domain, "ingress.example.com");
    assert_eq!(settings.ingress_class.as_deref(), Some("nginx"));
    assert!(!settings.network_policies);
    assert_eq!(settings.added_capabilities, vec!["NET_BIND_SERVICE"]);
    assert_eq!(settings.gpu_runtime_class.as_deref(), Some("nvidia"));
    // Defaults stay where the file says nothing.
    let defaults = kumo_provider::kube::KubeSettings::default();
    assert_eq!(settings.blocked_egress_cidrs, defaults.blocked_egress_cidrs);
    // The certificate is issued for the backend's public host name unless told otherwise.
    assert_eq!(config.gateway.hostnames, vec!["nodes.example.com"]);

    // Docker's settings, and a pricing script instead of scale rates.
    let text = format!(
        r#"{}
[backend.docker]
endpoint = "tcp://10.0.0.2:2375"
host_ip = "10.0.0.2"
restart = "on-failure"
on_failure_retries = 3
"#,
        MINIMAL.replace(
            "[bidding.pricing.scale.ukumo]\ncpu = \"0.001\"\n",
            "[bidding.pricing]\nscript = \"price.sh\"\nscript_timeout = \"3s\"\nunit = \"per_block\"\nblock_time_ms = 6000\n",
        )
    );
    let config = parse(&text).unwrap();
    let BackendSettings::Docker(docker) = &config.backend else {
        panic!("docker")
    };
    assert_eq!(docker.endpoint.as_deref(), Some("tcp://10.0.0.2:2375"));
    assert_eq!(docker.host_ip.to_string(), "10.0.0.2");
    assert_eq!(
        docker.restart_policy,
        kumo_provider::docker::RestartPolicy::OnFailure { max_retries: 3 }
    );
    let PricingSettings::Script {
        path,
        timeout,
        unit,
    } = &config.bidding.pricing
    else {
        panic!("script pricing")
    };
    assert_eq!(path, Path::new("price.sh"));
    assert_eq!(*timeout, Duration::from_secs(3));
    assert_eq!(
        *unit,
        kumo_provider::bidengine::PriceUnit::PerBlock {
            block_time_ms: 6000
        }
    );
    config.bid_engine().unwrap();
}
