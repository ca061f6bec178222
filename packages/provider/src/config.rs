//! The provider's configuration: one TOML file (see [`Config::example`], also
//! `packages/provider/provider.example.toml`) with environment overrides for the settings an
//! operator changes per machine (`KUMO_PROVIDER_<NAME>`, see [`ENV_OVERRIDES`]); the key's
//! secrets come from the environment only.
//!
//! The file maps onto the modules' own settings rather than copies of them: [`ScaleRates`] per
//! denomination, [`GpuPool`]s and [`InventoryConfig`] nodes, [`DockerConfig`], [`KubeSettings`],
//! [`TlsConfig`], [`AgentConfig`], [`GatewayConfig`]. Every error names the file, the key and the
//! form expected ([`ConfigError`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cosmwasm_std::{Addr, Coin, Uint128};
use kumo::Attribute;
use kumo_chain::{ClientConfig, DeployedSuite, Key, Keyring, KumoContracts};
use serde::Deserialize;

use crate::agent::AgentConfig;
use crate::bidengine::{
    AttributesPolicy, BidEngine, CapabilitiesPolicy, CapacityPolicy, MaxLeasesPolicy, PriceUnit,
    PricingStrategy, ScalePricing, ScaleRates, ScriptPricing, TenantPolicy,
};
use crate::docker::{DockerConfig, RestartPolicy};
use crate::gateway::{GatewayConfig, TlsConfig};
use crate::inventory::{GpuPool, InventoryConfig, NodeCapacity};
use crate::kube::KubeSettings;

/// The environment variables that override the file, with the key each replaces.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("KUMO_PROVIDER_NODE", "chain.node"),
    ("KUMO_PROVIDER_CHAIN_ID", "chain.chain_id"),
    ("KUMO_PROVIDER_KEYRING", "key.keyring"),
    ("KUMO_PROVIDER_KEY_NAME", "key.name"),
    ("KUMO_PROVIDER_SUITE", "contracts.suite"),
    ("KUMO_PROVIDER_DATA_DIR", "data_dir"),
    ("KUMO_PROVIDER_GATEWAY_LISTEN", "gateway.listen"),
    ("KUMO_PROVIDER_METRICS_LISTEN", "metrics.listen"),
    ("KUMO_PROVIDER_LOG_FORMAT", "log.format"),
    ("KUMO_PROVIDER_LOG_LEVEL", "log.level"),
];
/// The provider key's mnemonic (never read from the file).
pub const ENV_MNEMONIC: &str = "KUMO_PROVIDER_MNEMONIC";
/// The keyring's password (never read from the file).
pub const ENV_KEYRING_PASSWORD: &str = "KUMO_PROVIDER_KEYRING_PASSWORD";

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "journal.redb";
/// The manifests' directory in the data directory.
pub const MANIFESTS_DIR: &str = "manifests";

const EXAMPLE: &str = include_str!("../provider.example.toml");

/// What is wrong with the configuration, and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}; pass an existing file with --config (`kumo-provider example-config > provider.toml` writes a commented one)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The TOML does not parse, or a value has the wrong type; `message` has the line and
    /// column.
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: `{key}`: {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
}

/// A secret string (mnemonic, password): never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// The whole configuration, resolved and validated.
#[derive(Debug)]
pub struct Config {
    /// Where it came from (the file's path), for messages.
    pub origin: String,
    /// Journal, manifests and the lease API certificate.
    pub data_dir: PathBuf,
    pub chain: ChainSettings,
    pub key: KeySource,
    pub contracts: ContractsSource,
    pub backend: BackendSettings,
    pub inventory: InventorySource,
    pub bidding: BiddingSettings,
    pub timeouts: Timeouts,
    pub gateway: GatewaySettings,
    /// The Prometheus endpoint's address; `None` serves no metrics.
    pub metrics_listen: Option<SocketAddr>,
    pub log: LogSettings,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChainSettings {
    /// The REST endpoint.
    pub node: String,
    /// `None`: the node's, from `node_info`.
    pub chain_id: Option<String>,
    pub prefix: String,
    pub gas_price_amount: f64,
    pub gas_denom: String,
    pub gas_adjustment: f64,
}

impl ChainSettings {
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            prefix: self.prefix.clone(),
            gas_price_amount: self.gas_price_amount,
            gas_denom: self.gas_denom.clone(),
            gas_adjustment: self.gas_adjustment,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    /// A key in an encrypted keyring file; the password from [`ENV_KEYRING_PASSWORD`].
    Keyring {
        path: PathBuf,
        name: String,
        password: Option<Secret>,
    },
    /// From [`ENV_MNEMONIC`], at m/44'/118'/0'/0/`index`.
    Mnemonic { phrase: Secret, index: u32 },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ContractsSource {
    /// A `suite.json` as `kumo devnet` and `kumo deploy-suite` write it.
    Suite(PathBuf),
    Addresses(KumoContracts),
}

#[derive(Clone, Debug)]
pub enum BackendSettings {
    Docker(DockerConfig),
    Kubernetes {
        /// `None`: where kubectl looks (`$KUBECONFIG`, `~/.kube/config`) or in-cluster.
        kubeconfig: Option<PathBuf>,
        /// `None`: the kubeconfig's current context.
        context: Option<String>,
        settings: KubeSettings,
    },
}

impl BackendSettings {
    pub fn name(&self) -> &'static str {
        match self {
            BackendSettings::Docker(_) => "docker",
            BackendSettings::Kubernetes { .. } => "kubernetes",
        }
    }

    /// The host name tenants reach published ports at.
    pub fn public_hostname(&self) -> &str {
        match self {
            BackendSettings::Docker(d) => &d.public_hostname,
            BackendSettings::Kubernetes { settings, .. } => &settings.public_hostname,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InventorySource {
    /// The nodes as configured.
    Static(InventoryConfig),
    /// One node with the Docker engine's CPUs and memory, less what is reserved for the system,
    /// and its GPUs.
    Detect {
        reserved_cpu_millis: u64,
        reserved_memory: u64,
        ephemeral_storage: u64,
        storage_classes: BTreeMap<String, u64>,
        gpus: DetectGpus,
    },
}

/// Where a detected node's GPUs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetectGpus {
    /// `nvidia-smi` ([`crate::gpu`]): `None` runs `nvidia-smi` from `PATH` (missing: no
    /// GPUs); a configured path (`inventory.nvidia_smi`) must exist.
    NvidiaSmi(Option<PathBuf>),
    /// As listed in `inventory.gpus` (`[]`: none); nothing is run.
    Listed(Vec<GpuPool>),
}

#[derive(Clone, Debug)]
pub enum PricingSettings {
    /// Rates per denomination (each validated: not all zero), in `unit`.
    Scale {
        rates: BTreeMap<String, ScaleRates>,
        unit: PriceUnit,
    },
    Script {
        path: PathBuf,
        timeout: Duration,
        unit: PriceUnit,
    },
}

#[derive(Clone, Debug)]
pub struct BiddingSettings {
    pub deposit: Coin,
    pub reclamation_window: Option<u64>,
    pub max_leases: Option<usize>,
    pub tenants_allow: Option<Vec<String>>,
    pub tenants_deny: Vec<String>,
    pub order_attributes: Vec<Attribute>,
    pub max_volumes_per_unit: Option<usize>,
    pub pricing: PricingSettings,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub bid: Duration,
    pub manifest: Duration,
    pub withdraw_period: Duration,
    /// `None`: the staking contract's attendance period.
    pub heartbeat_period: Option<Duration>,
    /// Between two agent ticks.
    pub poll_interval: Duration,
    /// Blocks a transaction may wait for inclusion; until then a restart holds its intent in
    /// doubt instead of sending it again.
    pub tx_timeout_blocks: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewaySettings {
    pub listen: SocketAddr,
    /// The names the self-signed certificate is for.
    pub hostnames: Vec<String>,
    /// An operator's certificate and key (PEM) instead of the self-signed one.
    pub pem: Option<(PathBuf, PathBuf)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// An `EnvFilter` directive: `info`, `info,kumo_provider=debug`.
    pub level: String,
}

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<String>,
    #[serde(default)]
    chain: RawChain,
    #[serde(default)]
    key: RawKey,
    #[serde(default)]
    contracts: RawContracts,
    #[serde(default)]
    backend: RawBackend,
    #[serde(default)]
    inventory: RawInventory,
    #[serde(default)]
    bidding: RawBidding,
    #[serde(default)]
    timeouts: RawTimeouts,
    #[serde(default)]
    gateway: RawGateway,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChain {
    node: Option<String>,
    chain_id: Option<String>,
    prefix: Option<String>,
    gas_price: Option<String>,
    gas_adjustment: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    keyring: Option<String>,
    name: Option<String>,
    mnemonic_index: Option<u32>,
    /// Refused: secrets come from the environment.
    mnemonic: Option<toml::Value>,
    password: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContracts {
    suite: Option<String>,
    registry: Option<String>,
    market: Option<String>,
    escrow: Option<String>,
    staking: Option<String>,
    governance: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    kind: Option<String>,
    docker: Option<RawDocker>,
    kubernetes: Option<RawKube>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocker {
    endpoint: Option<String>,
    host_ip: Option<String>,
    public_hostname: Option<String>,
    restart: Option<String>,
    on_failure_retries: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKube {
    kubeconfig: Option<String>,
    context: Option<String>,
    public_hostname: Option<String>,
    ingress_domain: Option<String>,
    ingress_class: Option<String>,
    network_policies: Option<bool>,
    ingress_controller_namespace: Option<String>,
    ingress_controller_pod_labels: Option<BTreeMap<String, String>>,
    blocked_egress_cidrs: Option<Vec<String>>,
    added_capabilities: Option<Vec<String>>,
    gpu_runtime_class: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    mode: Option<String>,
    reserved_cpu: Option<toml::Value>,
    reserved_memory: Option<toml::Value>,
    ephemeral_storage: Option<toml::Value>,
    #[serde(default)]
    storage_classes: BTreeMap<String, toml::Value>,
    /// Detect mode: the `nvidia-smi` to run.
    nvidia_smi: Option<String>,
    /// Detect mode: the GPUs, instead of asking `nvidia-smi`.
    gpus: Option<Vec<GpuPool>>,
    #[serde(default)]
    nodes: Vec<RawNode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: String,
    cpu: toml::Value,
    memory: toml::Value,
    ephemeral_storage: toml::Value,
    #[serde(default)]
    gpus: Vec<GpuPool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBidding {
    deposit: Option<String>,
    reclamation_window: Option<u64>,
    max_leases: Option<usize>,
    tenants_allow: Option<Vec<String>>,
    #[serde(default)]
    tenants_deny: Vec<String>,
    #[serde(default)]
    order_attributes: BTreeMap<String, String>,
    max_volumes_per_unit: Option<usize>,
    #[serde(default)]
    pricing: RawPricing,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPricing {
    kind: Option<String>,
    unit: Option<String>,
    block_time_ms: Option<u64>,
    script: Option<String>,
    script_timeout: Option<toml::Value>,
    #[serde(default)]
    scale: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    bid: Option<toml::Value>,
    manifest: Option<toml::Value>,
    withdraw_period: Option<toml::Value>,
    heartbeat_period: Option<toml::Value>,
    poll_interval: Option<toml::Value>,
    tx_timeout_blocks: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    listen: Option<String>,
    hostname: Option<toml::Value>,
    cert: Option<String>,
    key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

const SCALE_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "storage",
    "gpu",
    "gpu_default",
    "endpoint",
    "leased_ip",
];

// ---------------------------------------------------------------------------------------------
// Loading.

impl Config {
    /// The commented example configuration (`kumo-provider example-config`).
    pub fn example() -> &'static str {
        EXAMPLE
    }

    /// Reads `path`, with overrides and secrets from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with_env(path, |name| std::env::var(name).ok())
    }

    /// Reads `path`, with overrides and secrets from `env` (tests pass a map).
    pub fn load_with_env(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text, &path.display().to_string(), env)?;
        // Relative paths in the file are relative to the file.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            config.rebase(dir);
        }
        Ok(config)
    }

    /// Parses TOML `text`; `origin` names it in errors.
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let from_env = apply_env(&mut raw, &env);
        let cx = Cx {
            origin: origin.to_string(),
            from_env,
        };
        cx.resolve(raw, &env)
    }

    fn rebase(&mut self, dir: &Path) {
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        rebase(&mut self.data_dir);
        if let KeySource::Keyring { path, .. } = &mut self.key {
            rebase(path);
        }
        if let ContractsSource::Suite(path) = &mut self.contracts {
            rebase(path);
        }
        if let PricingSettings::Script { path, .. } = &mut self.bidding.pricing {
            rebase(path);
        }
        if let InventorySource::Detect {
            gpus: DetectGpus::NvidiaSmi(Some(path)),
            ..
        } = &mut self.inventory
        {
            // A bare name is looked up on PATH, as a shell would.
            if path.components().count() > 1 {
                rebase(path);
            }
        }
        if let Some((cert, key)) = &mut self.gateway.pem {
            rebase(cert);
            rebase(key);
        }
        if let BackendSettings::Kubernetes {
            kubeconfig: Some(path),
            ..
        } = &mut self.backend
        {
            rebase(path);
        }
    }

    fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.clone(),
            key: key.to_string(),
            problem: problem.into(),
        }
    }

    pub fn journal_path(&self) -> PathBuf {
        self.data_dir.join(JOURNAL_FILE)
    }

    pub fn manifests_dir(&self) -> PathBuf {
        self.data_dir.join(MANIFESTS_DIR)
    }

    /// The provider's key, from the keyring or the mnemonic.
    pub fn load_key(&self) -> Result<Key, ConfigError> {
        match &self.key {
            KeySource::Mnemonic { phrase, index } => {
                Key::from_mnemonic_index(phrase.expose(), *index).map_err(|e| {
                    self.invalid(
                        ENV_MNEMONIC,
                        format!("{e}; set it to the provider's BIP-39 mnemonic (12 to 24 words)"),
                    )
                })
            }
            KeySource::Keyring {
                path,
                name,
                password,
            } => {
                let password = password.as_ref().ok_or_else(|| {
                    self.invalid(
                        "key.keyring",
                        format!("the keyring {} is encrypted: set {ENV_KEYRING_PASSWORD} to its password (or use {ENV_MNEMONIC})", path.display()),
                    )
                })?;
                let keyring =
                    Keyring::open(path).map_err(|e| self.invalid("key.keyring", e.to_string()))?;
                keyring
                    .get(name, password.expose())
                    .map_err(|e| self.invalid("key.name", e.to_string()))
            }
        }
    }

    /// The contract addresses, from the suite file or as configured.
    pub fn load_contracts(&self) -> Result<KumoContracts, ConfigError> {
        match &self.contracts {
            ContractsSource::Addresses(c) => Ok(c.clone()),
            ContractsSource::Suite(path) => {
                let key = "contracts.suite";
                let text = std::fs::read_to_string(path).map_err(|e| {
                    self.invalid(
                        key,
                        format!("cannot read {}: {e}; point it at the suite.json `kumo devnet` or `kumo deploy-suite` wrote", path.display()),
                    )
                })?;
                // `kumo devnet` writes the whole suite; a bare address object is accepted too.
                if let Ok(suite) = serde_json::from_str::<DeployedSuite>(&text) {
                    return Ok(suite.contracts);
                }
                serde_json::from_str::<KumoContracts>(&text).map_err(|e| {
                    self.invalid(
                        key,
                        format!("{} is not a suite file ({e}); expected {{\"code_ids\": [...], \"contracts\": {{\"registry\": ..., \"market\": ..., \"escrow\": ..., \"staking\": ..., \"governance\": ...}}}}", path.display()),
                    )
                })
            }
        }
    }

    /// The bid engine: the configured policies in Akash's order, then pricing.
    pub fn bid_engine(&self) -> Result<BidEngine, ConfigError> {
        let b = &self.bidding;
        let pricing: Box<dyn PricingStrategy> = match &b.pricing {
            PricingSettings::Scale { rates, unit } => Box::new(
                scale_pricing(rates, *unit)
                    .map_err(|e| self.invalid("bidding.pricing.scale", e.to_string()))?,
            ),
            PricingSettings::Script {
                path,
                timeout,
                unit,
            } => Box::new(
                ScriptPricing::new(path.clone(), *timeout)
                    .and_then(|s| s.with_unit(*unit))
                    .map_err(|e| self.invalid("bidding.pricing.script", e.to_string()))?,
            ),
        };
        let mut attributes = AttributesPolicy::new();
        if !b.order_attributes.is_empty() {
            attributes = attributes.requiring_order_attributes(b.order_attributes.clone());
        }
        let mut capabilities = CapabilitiesPolicy::new();
        if let Some(max) = b.max_volumes_per_unit {
            capabilities = capabilities.max_volumes_per_unit(max);
        }
        let mut tenants = TenantPolicy::new().deny(b.tenants_deny.clone());
        if let Some(allow) = &b.tenants_allow {
            tenants = tenants.allow_only(allow.clone());
        }
        let mut engine = BidEngine::new(pricing)
            .with_policy(tenants)
            .with_policy(attributes)
            .with_policy(capabilities);
        if let Some(max) = b.max_leases {
            engine = engine.with_policy(MaxLeasesPolicy::new(max));
        }
        Ok(engine.with_policy(CapacityPolicy))
    }

    /// The agent's settings for `contracts`.
    pub fn agent_config(&self, contracts: KumoContracts) -> AgentConfig {
        let mut config = AgentConfig::new(contracts, self.bidding.deposit.clone());
        config.reclamation_window = self.bidding.reclamation_window;
        config.bid_timeout = self.timeouts.bid;
        config.manifest_timeout = self.timeouts.manifest;
        config.withdraw_period = self.timeouts.withdraw_period;
        config.heartbeat_period = self.timeouts.heartbeat_period;
        config.tx_timeout_blocks = self.timeouts.tx_timeout_blocks;
        config
    }

    /// The lease API's settings for the provider at `address`.
    pub fn gateway_config(&self, address: &str) -> GatewayConfig {
        GatewayConfig::new(Addr::unchecked(address), &self.chain.prefix)
    }

    /// Where the lease API's certificate comes from.
    pub fn tls_config(&self) -> TlsConfig {
        match &self.gateway.pem {
            Some((cert, key)) => TlsConfig::Pem {
                cert: cert.clone(),
                key: key.clone(),
            },
            None => TlsConfig::SelfSigned {
                dir: self.data_dir.clone(),
                hostnames: self.gateway.hostnames.clone(),
            },
        }
    }
}

/// Applies the environment overrides; returns the keys they replaced.
fn apply_env(
    raw: &mut RawConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut replaced = BTreeMap::new();
    for (var, key) in ENV_OVERRIDES {
        let Some(value) = env(var) else { continue };
        let slot = match *key {
            "chain.node" => &mut raw.chain.node,
            "chain.chain_id" => &mut raw.chain.chain_id,
            "key.keyring" => &mut raw.key.keyring,
            "key.name" => &mut raw.key.name,
            "contracts.suite" => &mut raw.contracts.suite,
            "data_dir" => &mut raw.data_dir,
            "gateway.listen" => &mut raw.gateway.listen,
            "metrics.listen" => &mut raw.metrics.listen,
            "log.format" => &mut raw.log.format,
            "log.level" => &mut raw.log.level,
            _ => continue,
        };
        *slot = Some(value);
        replaced.insert(key.to_string(), var.to_string());
    }
    replaced
}

/// Resolution context: names the file and the keys the environment set in errors.
struct Cx {
    origin: String,
    from_env: BTreeMap<String, String>,
}

impl Cx {
    fn err(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        let key = match self.from_env.get(key) {
            Some(var) => format!("{key}` (from the environment variable `{var}"),
            None => key.to_string(),
        };
        ConfigError::Invalid {
            origin: self.origin.clone(),
            key,
            problem: problem.into(),
        }
    }

    fn required<T>(&self, value: Option<T>, key: &str, hint: &str) -> Result<T, ConfigError> {
        value.ok_or_else(|| self.err(key, format!("missing; {hint}")))
    }

    fn resolve(
        &self,
        raw: RawConfig,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let data_dir = self.required(
            raw.data_dir,
            "data_dir",
            "set it to a directory for the journal, manifests and certificate, e.g. data_dir = \"/var/lib/kumo-provider\"",
        )?;
        if data_dir.trim().is_empty() {
            return Err(self.err("data_dir", "is empty; set it to a directory"));
        }
        let backend = self.backend(raw.backend)?;
        let inventory = self.inventory(raw.inventory, &backend)?;
        let gateway = self.gateway(raw.gateway, &backend)?;
        Ok(Config {
            origin: self.origin.clone(),
            data_dir: PathBuf::from(data_dir),
            chain: self.chain(raw.chain)?,
            key: self.key(raw.key, env)?,
            contracts: self.contracts(raw.contracts)?,
            backend,
            inventory,
            bidding: self.bidding(raw.bidding)?,
            timeouts: self.timeouts(raw.timeouts)?,
            gateway,
            metrics_listen: self.metrics(raw.metrics)?,
            log: self.log(raw.log)?,
        })
    }

    fn chain(&self, raw: RawChain) -> Result<ChainSettings, ConfigError> {
        let node = self.required(
            raw.node,
            "chain.node",
            "set it to the node's REST API, e.g. node = \"http://127.0.0.1:1317\"",
        )?;
        let url_ok = (node.starts_with("http://") || node.starts_with("https://"))
            && node.len() > "https://".len();
        if !url_ok {
            return Err(self.err(
                "chain.node",
                format!("{node:?} is not an http:// or https:// URL; expected e.g. \"http://127.0.0.1:1317\""),
            ));
        }
        let prefix = raw.prefix.unwrap_or_else(|| "kumo".to_string());
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(self.err(
                "chain.prefix",
                format!("{prefix:?} is not a bech32 prefix; expected lower-case letters such as \"kumo\" or \"wasm\""),
            ));
        }
        let gas_price = raw.gas_price.unwrap_or_else(|| "0.025ukumo".to_string());
        let (gas_price_amount, gas_denom) = parse_dec_coin(&gas_price).ok_or_else(|| {
            self.err(
                "chain.gas_price",
                format!("{gas_price:?} is not a gas price; expected an amount and a denom such as \"0.025ukumo\""),
            )
        })?;
        let gas_adjustment = raw.gas_adjustment.unwrap_or(1.3);
        if !(gas_adjustment.is_finite() && gas_adjustment >= 1.0) {
            return Err(self.err(
                "chain.gas_adjustment",
                format!("{gas_adjustment} must be a number of at least 1 (1.3 is usual)"),
            ));
        }
        if let Some(id) = &raw.chain_id {
            if id.trim().is_empty() {
                return Err(self.err(
                    "chain.chain_id",
                    "is empty; remove it to use the node's chain id",
                ));
            }
        }
        Ok(ChainSettings {
            node,
            chain_id: raw.chain_id,
            prefix,
            gas_price_amount,
            gas_denom,
            gas_adjustment,
        })
    }

    fn key(
        &self,
        raw: RawKey,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<KeySource, ConfigError> {
        if raw.mnemonic.is_some() {
            return Err(self.err(
                "key.mnemonic",
                format!("a mnemonic is never read from the config file: remove it and set the environment variable {ENV_MNEMONIC}"),
            ));
        }
        if raw.password.is_some() {
            return Err(self.err(
                "key.password",
                format!("the keyring password is never read from the config file: remove it and set the environment variable {ENV_KEYRING_PASSWORD}"),
            ));
        }
        if let Some(phrase) = env(ENV_MNEMONIC).filter(|p| !p.trim().is_empty()) {
            return Ok(KeySource::Mnemonic {
                phrase: Secret::new(phrase),
                index: raw.mnemonic_index.unwrap_or(0),
            });
        }
        match (raw.keyring, raw.name) {
            (Some(path), Some(name)) if !name.is_empty() => Ok(KeySource::Keyring {
                path: PathBuf::from(path),
                name,
                password: env(ENV_KEYRING_PASSWORD).map(Secret::new),
            }),
            (Some(_), _) => Err(self.err(
                "key.name",
                "missing; name the key in the keyring, e.g. name = \"provider\"",
            )),
            (None, _) => Err(self.err(
                "key",
                format!("no key configured: set key.keyring and key.name (the password in {ENV_KEYRING_PASSWORD}), or the environment variable {ENV_MNEMONIC}"),
            )),
        }
    }

    fn contracts(&self, raw: RawContracts) -> Result<ContractsSource, ConfigError> {
        let any_address = raw.registry.is_some()
            || raw.market.is_some()
            || raw.escrow.is_some()
            || raw.staking.is_some()
            || raw.governance.is_some();
        match raw.suite {
            Some(_) if any_address => Err(self.err(
                "contracts",
                "set either `suite` or the addresses (registry, market, escrow, staking, governance), not both",
            )),
            Some(path) => Ok(ContractsSource::Suite(PathBuf::from(path))),
            None if !any_address => Err(self.err(
                "contracts",
                "missing; set suite = \"<path to suite.json>\" (as `kumo devnet` writes) or the addresses registry, market, escrow (and staking, governance)",
            )),
            None => {
                let need = |value: Option<String>, key: &str| {
                    value.filter(|v| !v.is_empty()).ok_or_else(|| {
                        self.err(key, "missing; the registry, market and escrow addresses are required")
                    })
                };
                Ok(ContractsSource::Addresses(KumoContracts {
                    registry: need(raw.registry, "contracts.registry")?,
                    market: need(raw.market, "contracts.market")?,
                    escrow: need(raw.escrow, "contracts.escrow")?,
                    staking: raw.staking.unwrap_or_default(),
                    governance: raw.governance.unwrap_or_default(),
                }))
            }
        }
    }

    fn backend(&self, raw: RawBackend) -> Result<BackendSettings, ConfigError> {
        let kind = raw.kind.unwrap_or_else(|| "docker".to_string());
        match kind.as_str() {
            "docker" => {
                let d = raw.docker.unwrap_or_default();
                let mut config = DockerConfig {
                    endpoint: d.endpoint.filter(|e| !e.is_empty()),
                    ..DockerConfig::default()
                };
                if let Some(ip) = d.host_ip {
                    config.host_ip = ip.parse::<IpAddr>().map_err(|_| {
                        self.err(
                            "backend.docker.host_ip",
                            format!("{ip:?} is not an IP address; expected e.g. \"0.0.0.0\" or \"127.0.0.1\""),
                        )
                    })?;
                }
                if let Some(host) = d.public_hostname {
                    config.public_hostname = host;
                }
                config.restart_policy = match d.restart.as_deref() {
                    None | Some("unless-stopped") => RestartPolicy::UnlessStopped,
                    Some("on-failure") => RestartPolicy::OnFailure {
                        max_retries: d.on_failure_retries.unwrap_or(0),
                    },
                    Some(other) => {
                        return Err(self.err(
                            "backend.docker.restart",
                            format!("unknown restart policy {other:?}; expected \"unless-stopped\" or \"on-failure\""),
                        ))
                    }
                };
                Ok(BackendSettings::Docker(config))
            }
            "kubernetes" => {
                let k = raw.kubernetes.unwrap_or_default();
                let mut settings = KubeSettings::default();
                if let Some(v) = k.public_hostname {
                    settings.public_hostname = v;
                }
                if let Some(v) = k.ingress_domain {
                    settings.ingress_domain = v;
                }
                settings.ingress_class = k.ingress_class.or(settings.ingress_class);
                if let Some(v) = k.network_policies {
                    settings.network_policies = v;
                }
                if let Some(v) = k.ingress_controller_namespace {
                    settings.ingress_controller_namespace = v;
                }
                if let Some(v) = k.ingress_controller_pod_labels {
                    settings.ingress_controller_pod_labels = v;
                }
                if let Some(v) = k.blocked_egress_cidrs {
                    settings.blocked_egress_cidrs = v;
                }
                if let Some(v) = k.added_capabilities {
                    settings.added_capabilities = v;
                }
                settings.gpu_runtime_class = k.gpu_runtime_class.or(settings.gpu_runtime_class);
                Ok(BackendSettings::Kubernetes {
                    kubeconfig: k.kubeconfig.map(PathBuf::from),
                    context: k.context,
                    settings,
                })
            }
            other => Err(self.err(
                "backend.kind",
                format!("unknown backend {other:?}; expected \"docker\" or \"kubernetes\""),
            )),
        }
    }

    fn inventory(
        &self,
        raw: RawInventory,
        backend: &BackendSettings,
    ) -> Result<InventorySource, ConfigError> {
        let mut storage_classes = BTreeMap::new();
        for (class, size) in &raw.storage_classes {
            let key = format!("inventory.storage_classes.{class}");
            storage_classes.insert(class.clone(), self.size(size, &key)?);
        }
        let mode = raw.mode.unwrap_or_else(|| {
            if raw.nodes.is_empty() {
                "detect"
            } else {
                "static"
            }
            .to_string()
        });
        match mode.as_str() {
            "detect" => {
                if !raw.nodes.is_empty() {
                    return Err(self.err(
                        "inventory.nodes",
                        "nodes are listed but mode = \"detect\"; set mode = \"static\" to use them",
                    ));
                }
                if !matches!(backend, BackendSettings::Docker(_)) {
                    return Err(self.err(
                        "inventory.mode",
                        "\"detect\" reads the Docker engine and works with the Docker backend only; set mode = \"static\" and list the cluster's nodes under [[inventory.nodes]]",
                    ));
                }
                let opt =
                    |v: &Option<toml::Value>, key: &str, cpu: bool| -> Result<u64, ConfigError> {
                        match v {
                            None => Ok(0),
                            Some(v) if cpu => self.cpu(v, key),
                            Some(v) => self.size(v, key),
                        }
                    };
                let ephemeral = raw.ephemeral_storage.as_ref().ok_or_else(|| {
                    self.err(
                        "inventory.ephemeral_storage",
                        "missing; with mode = \"detect\" say how much disk ephemeral volumes may use, e.g. ephemeral_storage = \"100Gi\"",
                    )
                })?;
                let gpus = match (raw.gpus, raw.nvidia_smi) {
                    (Some(_), Some(_)) => {
                        return Err(self.err(
                            "inventory.gpus",
                            "set either `gpus` (the GPUs, nothing detected) or `nvidia_smi` (the program that detects them), not both",
                        ))
                    }
                    (Some(gpus), None) => {
                        // An allocation names its GPU kind: each kind must be one pool.
                        for (i, p) in gpus.iter().enumerate() {
                            if gpus[..i].iter().any(|q| {
                                (&q.vendor, &q.model, &q.ram, &q.interface)
                                    == (&p.vendor, &p.model, &p.ram, &p.interface)
                            }) {
                                return Err(self.err(
                                    "inventory.gpus",
                                    format!("GPU {} is listed twice; list each kind once, with its count", p.key()),
                                ));
                            }
                        }
                        DetectGpus::Listed(gpus)
                    }
                    (None, Some(path)) if path.trim().is_empty() => {
                        return Err(self.err(
                            "inventory.nvidia_smi",
                            "empty; name the program, e.g. nvidia_smi = \"/usr/bin/nvidia-smi\", or set gpus = [] to detect no GPUs",
                        ))
                    }
                    (None, path) => DetectGpus::NvidiaSmi(path.map(PathBuf::from)),
                };
                Ok(InventorySource::Detect {
                    reserved_cpu_millis: opt(&raw.reserved_cpu, "inventory.reserved_cpu", true)?,
                    reserved_memory: opt(&raw.reserved_memory, "inventory.reserved_memory", false)?,
                    ephemeral_storage: self.size(ephemeral, "inventory.ephemeral_storage")?,
                    storage_classes,
                    gpus,
                })
            }
            "static" => {
                if raw.nodes.is_empty() {
                    return Err(self.err(
                        "inventory.nodes",
                        "missing; with mode = \"static\" list at least one [[inventory.nodes]] with name, cpu, memory and ephemeral_storage",
                    ));
                }
                for key in [
                    "reserved_cpu",
                    "reserved_memory",
                    "ephemeral_storage",
                    "nvidia_smi",
                    "gpus",
                ] {
                    let set = match key {
                        "reserved_cpu" => raw.reserved_cpu.is_some(),
                        "reserved_memory" => raw.reserved_memory.is_some(),
                        "nvidia_smi" => raw.nvidia_smi.is_some(),
                        "gpus" => raw.gpus.is_some(),
                        _ => raw.ephemeral_storage.is_some(),
                    };
                    if set {
                        return Err(self.err(
                            &format!("inventory.{key}"),
                            "applies to mode = \"detect\" only; give each [[inventory.nodes]] its own values",
                        ));
                    }
                }
                let mut nodes = Vec::new();
                for (i, n) in raw.nodes.into_iter().enumerate() {
                    let at = |field: &str| format!("inventory.nodes[{i}].{field}");
                    nodes.push(NodeCapacity {
                        name: n.name,
                        cpu_millis: self.cpu(&n.cpu, &at("cpu"))?,
                        memory: self.size(&n.memory, &at("memory"))?,
                        ephemeral_storage: self
                            .size(&n.ephemeral_storage, &at("ephemeral_storage"))?,
                        gpus: n.gpus,
                    });
                }
                let config = InventoryConfig {
                    nodes,
                    storage_classes,
                };
                // The inventory's own checks (unique names, GPU kinds), reported here.
                crate::inventory::Inventory::new(config.clone())
                    .map_err(|e| self.err("inventory.nodes", e.to_string()))?;
                Ok(InventorySource::Static(config))
            }
            other => Err(self.err(
                "inventory.mode",
                format!("unknown mode {other:?}; expected \"detect\" or \"static\""),
            )),
        }
    }

    fn bidding(&self, raw: RawBidding) -> Result<BiddingSettings, ConfigError> {
        let deposit = self.required(
            raw.deposit,
            "bidding.deposit",
            "set the deposit sent with every bid, e.g. deposit = \"500000ukumo\"",
        )?;
        let deposit = parse_coin(&deposit).ok_or_else(|| {
            self.err(
                "bidding.deposit",
                format!("{deposit:?} is not a coin; expected a whole amount and a denom such as \"500000ukumo\""),
            )
        })?;
        if raw.max_leases == Some(0) {
            return Err(self.err(
                "bidding.max_leases",
                "0 would never bid; remove it for no limit or set a positive number",
            ));
        }
        for (key, list) in [
            ("bidding.tenants_deny", Some(&raw.tenants_deny)),
            ("bidding.tenants_allow", raw.tenants_allow.as_ref()),
        ] {
            if let Some(bad) = list.into_iter().flatten().find(|t| !is_address_like(t)) {
                return Err(self.err(
                    key,
                    format!("{bad:?} is not an account address; expected bech32 addresses such as \"kumo1...\""),
                ));
            }
        }
        let pricing = self.pricing(raw.pricing)?;
        Ok(BiddingSettings {
            deposit,
            reclamation_window: raw.reclamation_window,
            max_leases: raw.max_leases,
            tenants_allow: raw.tenants_allow,
            tenants_deny: raw.tenants_deny,
            order_attributes: raw
                .order_attributes
                .into_iter()
                .map(|(k, v)| Attribute::new(k, v))
                .collect(),
            max_volumes_per_unit: raw.max_volumes_per_unit,
            pricing,
        })
    }

    fn pricing(&self, raw: RawPricing) -> Result<PricingSettings, ConfigError> {
        let unit = match raw.unit.as_deref() {
            None | Some("per_second") => {
                if raw.block_time_ms.is_some() {
                    return Err(self.err(
                        "bidding.pricing.block_time_ms",
                        "applies to unit = \"per_block\" only",
                    ));
                }
                PriceUnit::PerSecond
            }
            Some("per_block") => match raw.block_time_ms {
                Some(ms) if ms > 0 => PriceUnit::PerBlock { block_time_ms: ms },
                _ => {
                    return Err(self.err(
                        "bidding.pricing.block_time_ms",
                        "missing or zero; with unit = \"per_block\" give the chain's block time, e.g. block_time_ms = 6000",
                    ))
                }
            },
            Some(other) => {
                return Err(self.err(
                    "bidding.pricing.unit",
                    format!("unknown unit {other:?}; expected \"per_second\" or \"per_block\""),
                ))
            }
        };
        let kind = raw.kind.unwrap_or_else(|| {
            if raw.script.is_some() {
                "script"
            } else {
                "scale"
            }
            .to_string()
        });
        match kind.as_str() {
            "scale" => {
                if raw.scale.is_empty() {
                    return Err(self.err(
                        "bidding.pricing.scale",
                        "missing; give the rates per denom, e.g. [bidding.pricing.scale.ukumo] cpu = \"0.001\"",
                    ));
                }
                let mut pricing = ScalePricing::new()
                    .with_unit(unit)
                    .map_err(|e| self.err("bidding.pricing.unit", e.to_string()))?;
                let mut all = BTreeMap::new();
                for (denom, table) in raw.scale {
                    let key = format!("bidding.pricing.scale.{denom}");
                    if let Some(unknown) = table.keys().find(|k| !SCALE_KEYS.contains(&k.as_str()))
                    {
                        return Err(self.err(
                            &key,
                            format!(
                                "unknown rate `{unknown}`; expected {}",
                                SCALE_KEYS.join(", ")
                            ),
                        ));
                    }
                    let rates: ScaleRates = toml::Value::Table(table).try_into().map_err(|e| {
                        self.err(
                            &key,
                            format!(
                                "{}; rates are decimal strings such as cpu = \"0.001\"",
                                first_line(&e.to_string())
                            ),
                        )
                    })?;
                    // The strategy's own checks, reported with the key.
                    pricing = pricing
                        .with_denom(denom.clone(), rates.clone())
                        .map_err(|e| self.err(&key, e.to_string()))?;
                    all.insert(denom, rates);
                }
                Ok(PricingSettings::Scale { rates: all, unit })
            }
            "script" => {
                let path = self.required(
                    raw.script,
                    "bidding.pricing.script",
                    "with kind = \"script\" give the executable, e.g. script = \"/etc/kumo-provider/price.sh\"",
                )?;
                let timeout = match &raw.script_timeout {
                    Some(v) => self.duration(v, "bidding.pricing.script_timeout")?,
                    None => Duration::from_secs(10),
                };
                Ok(PricingSettings::Script {
                    path: PathBuf::from(path),
                    timeout,
                    unit,
                })
            }
            other => Err(self.err(
                "bidding.pricing.kind",
                format!("unknown pricing {other:?}; expected \"scale\" or \"script\""),
            )),
        }
    }

    fn timeouts(&self, raw: RawTimeouts) -> Result<Timeouts, ConfigError> {
        let get = |v: &Option<toml::Value>, key: &str, default: u64| match v {
            Some(v) => self.duration(v, key),
            None => Ok(Duration::from_secs(default)),
        };
        let heartbeat_period = match &raw.heartbeat_period {
            Some(v) => Some(self.duration(v, "timeouts.heartbeat_period")?),
            None => None,
        };
        Ok(Timeouts {
            bid: get(&raw.bid, "timeouts.bid", 300)?,
            manifest: get(&raw.manifest, "timeouts.manifest", 300)?,
            withdraw_period: get(&raw.withdraw_period, "timeouts.withdraw_period", 3600)?,
            heartbeat_period,
            poll_interval: get(&raw.poll_interval, "timeouts.poll_interval", 5)?,
            tx_timeout_blocks: match raw.tx_timeout_blocks {
                Some(0) => {
                    return Err(self.err(
                        "timeouts.tx_timeout_blocks",
                        "must be at least 1 (blocks a transaction may wait for inclusion)",
                    ))
                }
                Some(n) => n,
                None => crate::agent::DEFAULT_TX_TIMEOUT_BLOCKS,
            },
        })
    }

    fn gateway(
        &self,
        raw: RawGateway,
        backend: &BackendSettings,
    ) -> Result<GatewaySettings, ConfigError> {
        let listen = raw.listen.unwrap_or_else(|| "0.0.0.0:8443".to_string());
        let listen = self.socket(&listen, "gateway.listen")?;
        let hostnames = match raw.hostname {
            None => vec![backend.public_hostname().to_string()],
            Some(toml::Value::String(s)) => vec![s],
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s),
                    other => Err(self.err(
                        "gateway.hostname",
                        format!(
                            "{other} is not a host name; expected a string or a list of strings"
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(self.err(
                    "gateway.hostname",
                    format!(
                    "{other} is not a host name; expected e.g. hostname = \"provider.example.com\""
                ),
                ))
            }
        };
        let pem = match (raw.cert, raw.key) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            (None, None) => None,
            _ => {
                return Err(self.err(
                    "gateway.cert",
                    "set both `cert` and `key` (PEM files), or neither for the self-signed certificate kept in data_dir",
                ))
            }
        };
        Ok(GatewaySettings {
            listen,
            hostnames,
            pem,
        })
    }

    fn metrics(&self, raw: RawMetrics) -> Result<Option<SocketAddr>, ConfigError> {
        match raw.listen.as_deref() {
            None => Ok(Some(SocketAddr::from(([127, 0, 0, 1], 9464)))),
            Some("") => Ok(None),
            Some(s) => self.socket(s, "metrics.listen").map(Some),
        }
    }

    fn log(&self, raw: RawLog) -> Result<LogSettings, ConfigError> {
        let format = match raw.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(self.err(
                    "log.format",
                    format!("unknown format {other:?}; expected \"text\" or \"json\""),
                ))
            }
        };
        let level = raw.level.unwrap_or_else(|| "info".to_string());
        if tracing_subscriber::EnvFilter::try_new(&level).is_err() || level.trim().is_empty() {
            return Err(self.err(
                "log.level",
                format!("{level:?} is not a level; expected error, warn, info, debug or trace (or a filter such as \"info,kumo_provider=debug\")"),
            ));
        }
        Ok(LogSettings { format, level })
    }

    fn socket(&self, text: &str, key: &str) -> Result<SocketAddr, ConfigError> {
        text.parse().map_err(|_| {
            self.err(
                key,
                format!("{text:?} is not an address; expected IP:PORT such as \"0.0.0.0:8443\""),
            )
        })
    }

    fn duration(&self, value: &toml::Value, key: &str) -> Result<Duration, ConfigError> {
        let d = match value {
            toml::Value::Integer(n) if *n >= 0 => Some(Duration::from_secs(*n as u64)),
            toml::Value::String(s) => parse_duration(s),
            _ => None,
        };
        match d {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(self.err(
                key,
                format!("{value} is not a positive duration; expected e.g. \"30s\", \"5m\", \"1h\" or a number of seconds"),
            )),
        }
    }

    fn size(&self, value: &toml::Value, key: &str) -> Result<u64, ConfigError> {
        let bad = || {
            self.err(
                key,
                format!("{value} is not a size; expected e.g. \"512Mi\", \"8Gi\", \"1T\" or a number of bytes"),
            )
        };
        match value {
            toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| bad()),
            toml::Value::String(s) => kumo_sdl::units::parse_size(s, false).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    fn cpu(&self, value: &toml::Value, key: &str) -> Result<u64, ConfigError> {
        let bad = || {
            self.err(
                key,
                format!("{value} is not a CPU quantity; expected CPUs such as 4 or \"0.5\", or millicores such as \"1500m\""),
            )
        };
        match value {
            toml::Value::Integer(n) if *n >= 0 => (*n as u64).checked_mul(1000).ok_or_else(bad),
            toml::Value::Float(f) if *f >= 0.0 => {
                kumo_sdl::units::parse_cpu(&f.to_string()).map_err(|_| bad())
            }
            toml::Value::String(s) => kumo_sdl::units::parse_cpu(s).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

fn is_address_like(s: &str) -> bool {
    s.contains('1')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn scale_pricing(
    rates: &BTreeMap<String, ScaleRates>,
    unit: PriceUnit,
) -> Result<ScalePricing, crate::bidengine::PricingError> {
    let mut pricing = ScalePricing::new().with_unit(unit)?;
    for (denom, r) in rates {
        pricing = pricing.with_denom(denom.clone(), r.clone())?;
    }
    Ok(pricing)
}

/// `"30s"`, `"5m"`, `"1h"`, `"1d"`, `"500ms"` or plain seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let secs = |m: u64| n.checked_mul(m).map(Duration::from_secs);
    match unit.trim() {
        "" | "s" => secs(1),
        "ms" => Some(Duration::from_millis(n)),
        "m" | "min" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => None,
    }
}

/// `"500000ukumo"`: a whole amount and a denom.
pub fn parse_coin(text: &str) -> Option<Coin> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (amount, denom) = text.split_at(split);
    if amount.is_empty() || !valid_denom(denom) {
        return None;
    }
    Some(Coin {
        denom: denom.to_string(),
        amount: Uint128::new(amount.parse().ok()?),
    })
}

/// `"0.025ukumo"`: a decimal amount and a denom.
fn parse_dec_coin(text: &str) -> Option<(f64, String)> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (amount, denom) = text.split_at(split);
    let amount: f64 = amount.parse().ok()?;
    (amount.is_finite() && amount >= 0.0 && valid_denom(denom)).then(|| (amount, denom.to_string()))
}

/// The Cosmos SDK's denom rule: a letter, then 2 to 127 of letters, digits, `/:._-`.
fn valid_denom(denom: &str) -> bool {
    let mut chars = denom.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && (3..=128).contains(&denom.len())
        && chars.all(|c| c.is_ascii_alphanumeric() || "/:._-".contains(c))
}

// ---------------------------------------------------------------------------------------------
// The resolved settings, for `check-config`.

fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        format!("{}ms", d.as_millis())
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "config:     {}", self.origin)?;
        writeln!(f, "data_dir:   {}", self.data_dir.display())?;
        let c = &self.chain;
        writeln!(
            f,
            "chain:      {} (chain id {}, prefix {}, gas {}{} x{})",
            c.node,
            c.chain_id.as_deref().unwrap_or("from the node"),
            c.prefix,
            c.gas_price_amount,
            c.gas_denom,
            c.gas_adjustment
        )?;
        match &self.key {
            KeySource::Keyring {
                path,
                name,
                password,
            } => writeln!(
                f,
                "key:        {name:?} in keyring {} (password {})",
                path.display(),
                if password.is_some() { "set" } else { "NOT set" }
            )?,
            KeySource::Mnemonic { index, .. } => {
                writeln!(f, "key:        from {ENV_MNEMONIC}, index {index}")?
            }
        }
        match &self.contracts {
            ContractsSource::Suite(p) => writeln!(f, "contracts:  suite {}", p.display())?,
            ContractsSource::Addresses(k) => writeln!(
                f,
                "contracts:  registry {}, market {}, escrow {}, staking {}, governance {}",
                k.registry, k.market, k.escrow, k.staking, k.governance
            )?,
        }
        match &self.backend {
            BackendSettings::Docker(d) => writeln!(
                f,
                "backend:    docker at {} (ports on {}, public host {}, restart {:?})",
                d.endpoint
                    .as_deref()
                    .unwrap_or("$DOCKER_HOST or the local socket"),
                d.host_ip,
                d.public_hostname,
                d.restart_policy
            )?,
            BackendSettings::Kubernetes {
                kubeconfig,
                context,
                settings,
            } => writeln!(
                f,
                "backend:    kubernetes ({}, context {}; public host {}, ingress domain {:?})",
                kubeconfig
                    .as_ref()
                    .map_or("inferred config".to_string(), |p| p.display().to_string()),
                context.as_deref().unwrap_or("current"),
                settings.public_hostname,
                settings.ingress_domain
            )?,
        }
        match &self.inventory {
            InventorySource::Static(inv) => {
                writeln!(f, "inventory:  {} node(s)", inv.nodes.len())?;
                for n in &inv.nodes {
                    writeln!(
                        f,
                        "  {}: {}m CPU, {} B memory, {} B ephemeral, {} GPU pool(s)",
                        n.name,
                        n.cpu_millis,
                        n.memory,
                        n.ephemeral_storage,
                        n.gpus.len()
                    )?;
                }
                for (class, size) in &inv.storage_classes {
                    writeln!(f, "  storage class {class}: {size} B")?;
                }
            }
            InventorySource::Detect {
                reserved_cpu_millis,
                reserved_memory,
                ephemeral_storage,
                storage_classes,
                gpus,
            } => {
                writeln!(
                    f,
                    "inventory:  detected from Docker, less {reserved_cpu_millis}m CPU and {reserved_memory} B memory; {ephemeral_storage} B ephemeral"
                )?;
                match gpus {
                    DetectGpus::NvidiaSmi(None) => writeln!(
                        f,
                        "  GPUs: from {} on PATH (none if it is missing)",
                        crate::gpu::NVIDIA_SMI
                    )?,
                    DetectGpus::NvidiaSmi(Some(path)) => {
                        writeln!(f, "  GPUs: from {}", path.display())?
                    }
                    DetectGpus::Listed(pools) => {
                        writeln!(f, "  GPUs: {} pool(s) as listed", pools.len())?
                    }
                }
                for (class, size) in storage_classes {
                    writeln!(f, "  storage class {class}: {size} B")?;
                }
            }
        }
        let b = &self.bidding;
        writeln!(
            f,
            "bidding:    deposit {}, reclamation window {}, max leases {}, {} denied, allow {}",
            b.deposit,
            b.reclamation_window
                .map_or("none".to_string(), |w| format!("{w}s")),
            b.max_leases
                .map_or("unlimited".to_string(), |m| m.to_string()),
            b.tenants_deny.len(),
            b.tenants_allow
                .as_ref()
                .map_or("everyone".to_string(), |a| format!("{} tenant(s)", a.len())),
        )?;
        match &b.pricing {
            PricingSettings::Scale { rates, unit } => {
                writeln!(f, "pricing:    scale, {unit:?}")?;
                for (denom, r) in rates {
                    let json = serde_json::to_string(r).unwrap_or_default();
                    writeln!(f, "  {denom}: {json}")?;
                }
            }
            PricingSettings::Script {
                path,
                timeout,
                unit,
            } => writeln!(
                f,
                "pricing:    script {} (timeout {}, {unit:?})",
                path.display(),
                duration_text(*timeout)
            )?,
        }
        let t = &self.timeouts;
        writeln!(
            f,
            "timeouts:   bid {}, manifest {}, withdraw every {}, heartbeat {}, poll every {}, transactions wait {} blocks",
            duration_text(t.bid),
            duration_text(t.manifest),
            duration_text(t.withdraw_period),
            t.heartbeat_period
                .map_or("at the attendance period".to_string(), duration_text),
            duration_text(t.poll_interval),
            t.tx_timeout_blocks
        )?;
        writeln!(
            f,
            "gateway:    https://{} for {:?}, {}",
            self.gateway.listen,
            self.gateway.hostnames,
            match &self.gateway.pem {
                Some((c, _)) => format!("certificate {}", c.display()),
                None => "self-signed certificate in data_dir".to_string(),
            }
        )?;
        match self.metrics_listen {
            Some(a) => writeln!(f, "metrics:    http://{a}/metrics")?,
            None => writeln!(f, "metrics:    off")?,
        }
        write!(
            f,
            "log:        {} at {}",
            match self.log.format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
            self.log.level
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_coins() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(
            parse_coin("500000ukumo").unwrap().to_string(),
            "500000ukumo"
        );
        assert!(parse_coin("ukumo").is_none());
        assert!(parse_coin("5.5ukumo").is_none());
        assert!(parse_coin("500000").is_none());
        assert_eq!(parse_dec_coin("0.025ukumo"), Some((0.025, "ukumo".into())));
        assert_eq!(duration_text(Duration::from_secs(3600)), "1h");
    }
}
