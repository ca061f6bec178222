//! The provider daemon: everything the agent needs, wired from a [`Config`], and run until
//! shutdown (`kumo-provider run`, or `kumo provider run` through [`run`]).
//!
//! Start-up, in order: the data directory; the lease API certificate (generated once and kept
//! there; its SPKI pin is printed, for the registry's `SetTlsPins`); the key and the contract
//! addresses; the chain client (the node's chain id checked against the configured one); the
//! backend (Docker or Kubernetes) and the inventory (configured, or detected from the Docker
//! engine); the journal and the manifest store; then the agent, whose start (reconciliation)
//! is retried while the chain cannot be reached. Then the lease API, the metrics endpoint, and
//! the agent loop: one [`Agent::tick`] every `timeouts.poll_interval`, whose errors are logged
//! and counted and never end the loop (a node outage only delays the agent).
//!
//! Shutdown (the `shutdown` future, SIGINT/SIGTERM in the binary): a pass in progress gets
//! [`SHUTDOWN_GRACE`] to finish (the journal makes an interrupted one safe anyway), then the
//! lease API stops accepting, ends its streams and finishes the requests in flight, and the
//! metrics server stops. Workloads keep running: a restarted agent adopts them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kumo_chain::{ChainError, Client, Key, KumoContracts};

use crate::agent::{Agent, AgentError, TickReport};
use crate::backend::{Backend, BackendError};
use crate::config::{
    BackendSettings, Config, ConfigError, DetectGpus, InventorySource, LogFormat, LogSettings,
};
use crate::docker::DockerBackend;
use crate::gateway::{
    ChainLeaseSource, FileManifestStore, Gateway, ManifestStore, ServeError, SourceError,
    StoreError, TlsError,
};
use crate::inventory::{Inventory, InventoryConfig, NodeCapacity};
use crate::journal::{Journal, JournalError};
use crate::kube::KubeBackend;
use crate::metrics::Metrics;

/// How long a pass in progress may go on after shutdown was asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Longest wait between two attempts to start the agent while the chain is unreachable.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "cannot create the data directory {path}: {source}; check data_dir and its permissions"
    )]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("lease API certificate: {0}")]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("the node at {node} serves chain {actual:?}, but chain.chain_id is {expected:?}; fix chain.node or chain.chain_id")]
    WrongChain {
        node: String,
        expected: String,
        actual: String,
    },
    // The prefixed variants hold their error without making it the `source`: printed with its
    // chain (`{:#}`), a source would repeat the message after the prefix.
    #[error("backend: {0}")]
    Backend(BackendError),
    #[error("kubernetes configuration: {0}")]
    Kubeconfig(String),
    #[error("inventory: {0}")]
    Inventory(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("lease API: {0}")]
    Source(SourceError),
    #[error("agent: {0}")]
    Agent(AgentError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("metrics: {0}")]
    Metrics(std::io::Error),
    #[error("logging: {0}")]
    Logging(String),
}

impl From<BackendError> for DaemonError {
    fn from(e: BackendError) -> Self {
        DaemonError::Backend(e)
    }
}

impl From<SourceError> for DaemonError {
    fn from(e: SourceError) -> Self {
        DaemonError::Source(e)
    }
}

impl From<AgentError> for DaemonError {
    fn from(e: AgentError) -> Self {
        DaemonError::Agent(e)
    }
}

/// Installs the global `tracing` subscriber: text or JSON lines on stderr, filtered by
/// `settings.level` (`RUST_LOG` wins when set). Call once, before [`run`].
pub fn init_logging(settings: &LogSettings) -> Result<(), DaemonError> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(v),
        _ => EnvFilter::try_new(&settings.level),
    }
    .map_err(|e| DaemonError::Logging(e.to_string()))?;
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| DaemonError::Logging(e.to_string()))
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => tracing::info!("SIGINT: shutting down"),
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The backend the configuration names, connected.
pub async fn connect_backend(settings: &BackendSettings) -> Result<Arc<dyn Backend>, DaemonError> {
    match settings {
        BackendSettings::Docker(config) => {
            Ok(Arc::new(DockerBackend::connect(config.clone()).await?))
        }
        BackendSettings::Kubernetes {
            kubeconfig,
            context,
            settings,
        } => {
            let options = kube::config::KubeConfigOptions {
                context: context.clone(),
                ..Default::default()
            };
            let config = match (kubeconfig, context) {
                (Some(path), _) => {
                    let file = kube::config::Kubeconfig::read_from(path)
                        .map_err(|e| DaemonError::Kubeconfig(format!("{}: {e}", path.display())))?;
                    kube::Config::from_custom_kubeconfig(file, &options)
                        .await
                        .map_err(|e| DaemonError::Kubeconfig(format!("{}: {e}", path.display())))?
                }
                (None, Some(_)) => kube::Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| DaemonError::Kubeconfig(e.to_string()))?,
                (None, None) => return Ok(Arc::new(KubeBackend::connect(settings.clone()).await?)),
            };
            Ok(Arc::new(
                KubeBackend::connect_with(config, settings.clone()).await?,
            ))
        }
    }
}

/// The inventory the configuration describes; `detect` asks the Docker engine for its CPUs and
/// memory (one node, named after the engine's host) and `nvidia-smi` for its GPUs (unless the
/// configuration lists them).
pub async fn resolve_inventory(
    source: &InventorySource,
    backend: &BackendSettings,
) -> Result<InventoryConfig, DaemonError> {
    match source {
        InventorySource::Static(config) => Ok(config.clone()),
        InventorySource::Detect {
            reserved_cpu_millis,
            reserved_memory,
            ephemeral_storage,
            storage_classes,
            gpus,
        } => {
            let BackendSettings::Docker(docker) = backend else {
                return Err(DaemonError::Inventory(
                    "detect works with the Docker backend only: list the nodes".into(),
                ));
            };
            let client = crate::docker::connect(docker.endpoint.as_deref()).await?;
            let info = client.info().await.map_err(|e| BackendError::Engine {
                operation: "reading the Docker engine's info".into(),
                reason: e.to_string(),
            })?;
            let cpus = info.ncpu.unwrap_or(0).max(0) as u64;
            let memory = info.mem_total.unwrap_or(0).max(0) as u64;
            let cpu_millis = (cpus * 1000)
                .checked_sub(*reserved_cpu_millis)
                .filter(|c| *c > 0);
            let memory_left = memory.checked_sub(*reserved_memory).filter(|m| *m > 0);
            let (Some(cpu_millis), Some(memory_left)) = (cpu_millis, memory_left) else {
                return Err(DaemonError::Inventory(format!(
                    "the Docker engine has {cpus} CPUs and {memory} bytes of memory, no more than inventory.reserved_cpu ({reserved_cpu_millis}m) and reserved_memory ({reserved_memory} B); lower them"
                )));
            };
            let name = info
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "docker".to_string());
            let gpus = match gpus {
                DetectGpus::Listed(pools) => pools.clone(),
                DetectGpus::NvidiaSmi(program) => {
                    let program = program.clone();
                    // Runs a program (30 s at most): off the async threads.
                    tokio::task::spawn_blocking(move || {
                        crate::gpu::detect_configured(program.as_ref())
                    })
                    .await
                    .map_err(|e| DaemonError::Inventory(format!("detecting GPUs: {e}")))?
                    .map_err(|e| DaemonError::Inventory(e.to_string()))?
                }
            };
            let gpu_list: Vec<String> = gpus
                .iter()
                .map(|p| {
                    format!(
                        "{} x{}{}{}",
                        p.key(),
                        p.count,
                        p.ram.as_deref().map_or(String::new(), |r| format!(" {r}")),
                        p.interface
                            .as_deref()
                            .map_or(String::new(), |i| format!(" {i}"))
                    )
                })
                .collect();
            tracing::info!(
                node = %name,
                cpu_millis,
                memory = memory_left,
                ephemeral_storage,
                gpus = ?gpu_list,
                "inventory detected from the Docker engine"
            );
            Ok(InventoryConfig {
                nodes: vec![NodeCapacity {
                    name,
                    cpu_millis,
                    memory: memory_left,
                    ephemeral_storage: *ephemeral_storage,
                    gpus,
                }],
                storage_classes: storage_classes.clone(),
            })
        }
    }
}

/// Runs the provider until `shutdown` completes (or a start-up step fails for good).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    // Everything below may wait (the chain, the engine); shutdown ends those waits too.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    std::fs::create_dir_all(&config.data_dir).map_err(|source| DaemonError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let cert = config.tls_config().load()?;
    println!(
        "lease API certificate pin (SHA-256 of its SubjectPublicKeyInfo): {}",
        cert.pin_hex()
    );
    tracing::info!(pin = %cert.pin_hex(), "publish this pin in the registry (SetTlsPins) so tenants trust the lease API");

    let key = config.load_key()?;
    let contracts = config.load_contracts()?;
    let client = Client::new(&config.chain.node, config.chain.client_config())?;
    let address = client.address(&key)?;
    tracing::info!(%address, node = %config.chain.node, "provider account");

    let manifests: Arc<dyn ManifestStore> =
        Arc::new(FileManifestStore::open(config.manifests_dir())?);
    config.bid_engine()?;
    // The engine and the node may come up after the agent (a machine's boot): waited for.
    let startup = async {
        let backend = retrying("connecting to the backend", || {
            connect_backend(&config.backend)
        })
        .await?;
        let inventory = retrying("reading the inventory", || {
            resolve_inventory(&config.inventory, &config.backend)
        })
        .await?;
        // Checked now, not on the first order.
        Inventory::new(inventory.clone()).map_err(|e| DaemonError::Inventory(e.to_string()))?;
        let agent = retrying("starting the agent", || {
            start_agent(
                &config, &client, &key, &contracts, &inventory, &backend, &manifests,
            )
        })
        .await?;
        Ok::<_, DaemonError>((backend, agent))
    };
    let started = tokio::select! {
        started = startup => Some(started?),
        _ = stopped() => None,
    };
    let Some((backend, mut agent)) = started else {
        tracing::info!("stopped before the agent started");
        return Ok(());
    };

    let source = ChainLeaseSource::new(client.clone(), contracts.clone(), address.clone());
    let gateway = Gateway::new(
        config.gateway_config(&address),
        backend.clone(),
        Arc::new(source),
        manifests.clone(),
        agent.inventory(),
    );
    let running_gateway = gateway.start(config.gateway.listen, &cert).await?;
    println!(
        "lease API listening on https://{}",
        running_gateway.local_addr()
    );

    let metrics = if contracts.staking.is_empty() {
        Arc::new(Metrics::new().without_heartbeats())
    } else {
        Arc::new(Metrics::new())
    };
    let running_metrics = match config.metrics_listen {
        Some(addr) => {
            let m = metrics
                .start(addr, stopped())
                .await
                .map_err(DaemonError::Metrics)?;
            println!("metrics on http://{}/metrics", m.local_addr());
            Some(m)
        }
        None => None,
    };

    agent_loop(&mut agent, &metrics, config.timeouts.poll_interval, stopped).await;

    tracing::info!("stopping the lease API and the metrics endpoint");
    if let Err(e) = running_gateway.shutdown().await {
        tracing::warn!(error = %e, "lease API shutdown");
    }
    if let Some(m) = running_metrics {
        if let Err(e) = m.shutdown().await {
            tracing::warn!(error = %e, "metrics shutdown");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Runs `attempt` until it succeeds or fails for good; failures that time may fix
/// ([`is_transient`]) are retried with a growing delay.
async fn retrying<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, DaemonError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DaemonError>>,
{
    let mut delay = Duration::from_secs(1);
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) => {
                tracing::warn!(error = %e, retry_in_s = delay.as_secs(), "{what}: cannot yet, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Checks the chain id, then starts the agent (its reconciliation makes a retry safe).
///
/// This is the one place that knows [`Agent::start`]'s signature.
async fn start_agent(
    config: &Config,
    client: &Client,
    key: &Key,
    contracts: &KumoContracts,
    inventory: &InventoryConfig,
    backend: &Arc<dyn Backend>,
    manifests: &Arc<dyn ManifestStore>,
) -> Result<Agent, DaemonError> {
    let chain_id = client.chain_id().await?;
    if let Some(expected) = &config.chain.chain_id {
        if *expected != chain_id {
            return Err(DaemonError::WrongChain {
                node: config.chain.node.clone(),
                expected: expected.clone(),
                actual: chain_id,
            });
        }
    }
    let journal = Journal::open(&config.journal_path())?;
    let inventory =
        Inventory::new(inventory.clone()).map_err(|e| DaemonError::Inventory(e.to_string()))?;
    let agent = Agent::start(
        client.clone(),
        key.clone(),
        config.agent_config(contracts.clone()),
        config.bid_engine()?,
        inventory,
        journal,
        backend.clone(),
        manifests.clone(),
    )
    .await?;
    tracing::info!(%chain_id, address = %agent.address(), "agent started");
    Ok(agent)
}

/// A failure that time may fix: the node or the backend could not be reached, or a proxy in
/// front of the node answered that it is unavailable. (A contract's own error is not: it would
/// fail the same way forever.)
fn is_transient(e: &DaemonError) -> bool {
    let chain = |c: &ChainError| {
        matches!(
            c,
            ChainError::Unreachable { .. } | ChainError::TxTimeout { .. }
        ) || matches!(
            c,
            ChainError::Api {
                status: 429 | 502 | 503 | 504,
                ..
            }
        )
    };
    match e {
        DaemonError::Chain(c) => chain(c),
        DaemonError::Agent(AgentError::Chain(c)) => chain(c),
        DaemonError::Backend(BackendError::Unreachable { .. }) => true,
        _ => false,
    }
}

/// One pass every `period` until `stopped`; a failed pass is logged and counted, and the next
/// one comes after the same period.
async fn agent_loop<F, S>(agent: &mut Agent, metrics: &Metrics, period: Duration, stopped: S)
where
    S: Fn() -> F,
    F: Future<Output = ()>,
{
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = stopped();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = interval.tick() => {}
        }
        let tick = agent.tick();
        tokio::pin!(tick);
        let result = tokio::select! {
            r = &mut tick => r,
            _ = &mut stop => {
                tracing::info!(grace_s = SHUTDOWN_GRACE.as_secs(), "letting the current pass finish");
                match tokio::time::timeout(SHUTDOWN_GRACE, &mut tick).await {
                    Ok(r) => {
                        observe(metrics, r);
                    }
                    Err(_) => tracing::warn!("the current pass did not finish in time; the journal resolves it on the next start"),
                }
                return;
            }
        };
        observe(metrics, result);
    }
}

fn observe(metrics: &Metrics, result: Result<TickReport, AgentError>) {
    match result {
        Ok(report) => {
            metrics.observe(&report);
            let busy = !(report.bids_placed.is_empty()
                && report.declined.is_empty()
                && report.refused.is_empty()
                && report.leases_deployed.is_empty()
                && report.leases_closed.is_empty()
                && report.torn_down.is_empty()
                && report.bids_closed.is_empty()
                && report.withdrawals == 0
                && !report.heartbeat);
            if busy {
                tracing::info!(
                    orders_seen = report.orders_seen,
                    bids = report.bids_placed.len(),
                    declined = report.declined.len(),
                    refused = report.refused.len(),
                    deployed = report.leases_deployed.len(),
                    closed = report.leases_closed.len(),
                    torn_down = report.torn_down.len(),
                    bids_closed = report.bids_closed.len(),
                    withdrawals = report.withdrawals,
                    heartbeat = report.heartbeat,
                    active_leases = report.active_leases,
                    "agent pass"
                );
            } else {
                tracing::debug!(
                    orders_seen = report.orders_seen,
                    active_leases = report.active_leases,
                    "agent pass"
                );
            }
        }
        Err(e) => {
            metrics.tick_failed();
            tracing::warn!(error = %e, "agent pass failed; retrying at the next one");
        }
    }
}
