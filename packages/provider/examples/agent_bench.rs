//! The provider agent's benchmarks (`scripts/provider-bench`; issue 6): the real
//! `kumo-provider` binary against an in-process devnet, with the Docker backend. A report, not
//! a test: nothing here asserts a time.
//!
//! 1. Order -> bid latency: the daemon runs (poll interval `--poll-ms`); a tenant creates
//!    `--latency-orders` orders at random intervals; for each, the chain time from the block
//!    that created the order to the block that includes the provider's bid (both
//!    `created_at`, i.e. block times; they include waiting for the bid's block).
//! 2. Lease -> serving: on `--serving` of those orders the tenant creates a lease, then PUTs the
//!    manifest (hello image, built locally) to the daemon's lease API; wall time from the PUT
//!    until the container answers HTTP on its published port. The leases are closed and the
//!    daemon tears the containers down (checked; leftovers are removed).
//! 3. RSS at scale: a fresh chain pre-populated in-process (the devnet `App` directly, as the
//!    gas report does) with `--leases` active leases of the provider (manifests never sent; a
//!    manifest timeout of 1000 days keeps them) and `--orders` open orders; the daemon starts,
//!    reconciles and runs `--ticks` + 2 passes; its VmHWM/VmRSS from /proc, the time to its
//!    first full pass, the time per pass after the second and the bids it placed. Bidding is capped with `bidding.max_leases` = leases +
//!    `--bid-cap`: it bids on `--bid-cap` orders and declines the rest (each order is still read
//!    and evaluated).
//!
//! Usage: `agent_bench [--orders N] [--leases N] [--latency-orders N] [--serving N] ...`
//! (`--help`). The daemon binary is `--bin`, by default `kumo-provider` next to this example's
//! directory (build both: `cargo build -p kumo-provider --bin kumo-provider --example
//! agent_bench`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clap::Parser;
use cosmwasm_std::{coins, Addr, Coin, Decimal256, HexBinary};
use kumo::market::{self, NewBid, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, DeploymentId, LeaseId, OrderId};
use kumo_chain::tx::{self, Fee, SignerData};
use kumo_chain::{deploy, Any, Client, ClientConfig, Key, KumoContracts};
use kumo_devnet::{App, Config, Devnet, TxResult};
use kumo_provider::auth::{issue_with_chain_key, unix_now, Claims};
use kumo_provider::backend::Backend;
use kumo_provider::docker::{build_hello_image, DockerBackend, DockerConfig};
use kumo_provider::gateway::{pinned_client_config, ProviderCert};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DENOM: &str = "ukumo";
const PREFIX: &str = "kumo";
const CHAIN_ID: &str = "kumo-devnet-1";
/// Key indexes of the benchmark's provider accounts: not used by the tests, whose Docker
/// leases share the engine (the daemon touches only its own provider's containers).
const LATENCY_PROVIDER: u32 = 77;
const RSS_PROVIDER: u32 = 78;
/// Messages per transaction and transactions per block when filling the chain.
const MSGS_PER_TX: usize = 50;
const TXS_PER_BLOCK: usize = 20;

#[derive(Parser, Debug)]
#[command(about = "Benchmarks of the kumo-provider daemon (a report; nothing is asserted)")]
struct Args {
    /// Open orders on chain for the RSS measurement.
    #[arg(long, default_value_t = 10_000)]
    orders: usize,
    /// Active leases of the provider for the RSS measurement.
    #[arg(long, default_value_t = 1_000)]
    leases: usize,
    /// Orders created one by one for the order -> bid latency.
    #[arg(long, default_value_t = 100)]
    latency_orders: usize,
    /// Leases deployed with the hello image for lease -> serving.
    #[arg(long, default_value_t = 5)]
    serving: usize,
    /// Bids the daemon may place at scale (bidding.max_leases = leases + this).
    #[arg(long, default_value_t = 100)]
    bid_cap: usize,
    /// Passes timed at scale, after the daemon's first two.
    #[arg(long, default_value_t = 5)]
    ticks: u64,
    /// The devnet's block time.
    #[arg(long, default_value_t = 100)]
    block_ms: u64,
    /// The daemon's poll interval (timeouts.poll_interval).
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Mean interval between two latency orders (uniform in [0.2, 1.8] x this).
    #[arg(long, default_value_t = 700)]
    order_interval_ms: u64,
    /// Run only these parts: latency (with serving), rss.
    #[arg(long, value_delimiter = ',', default_value = "latency,rss")]
    only: Vec<String>,
    /// The kumo-provider binary.
    #[arg(long)]
    bin: Option<PathBuf>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target directory this example was built in (`target/<profile>/examples/agent_bench`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the current executable");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("a target directory")
}

fn key(index: u32) -> Key {
    Key::from_mnemonic_index(MNEMONIC, index).expect("the test mnemonic is valid")
}

fn address(key: &Key) -> String {
    key.address(PREFIX).expect("a valid prefix")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A small xorshift generator: the intervals between orders need no more.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn hello() -> kumo_sdl::Sdl {
    let text = std::fs::read_to_string(repo().join("examples/hello.yaml")).expect("hello.yaml");
    kumo_sdl::parse(&text).expect("hello.yaml parses")
}

fn new_deployment(sdl: &kumo_sdl::Sdl) -> market::ExecuteMsg {
    market::ExecuteMsg::CreateDeployment(NewDeployment {
        groups: sdl.groups.clone(),
        version: HexBinary::from(sdl.manifest_version().to_vec()),
        auction_window: None,
        reclamation_min_window: None,
        provider_record: None,
    })
}

// ---------------------------------------------------------------------------------------------
// The chain: a devnet served over REST, also driven in-process for bulk transactions.

struct Chain {
    home: tempfile::TempDir,
    devnet: Devnet,
    client: Client,
    contracts: KumoContracts,
    suite_file: PathBuf,
    tenant: Key,
    provider: Key,
    /// Next sequence of the keys that sign in-process (account number, sequence).
    sequences: Mutex<HashMap<String, (u64, u64)>>,
}

fn lock(app: &Arc<Mutex<App>>) -> MutexGuard<'_, App> {
    app.lock().unwrap_or_else(|e| e.into_inner())
}

impl Chain {
    async fn start(provider_index: u32, block_ms: u64) -> Chain {
        let home = tempfile::tempdir().expect("a temporary directory");
        let (admin, tenant, provider) = (key(0), key(1), key(provider_index));
        let app = App::open(Config {
            chain_id: CHAIN_ID.into(),
            prefix: PREFIX.into(),
            denom: DENOM.into(),
            // In-process transactions pay no fee; the daemon pays its usual gas price.
            min_gas_price: 0.0,
            home: home.path().join("chain"),
            genesis: [&admin, &tenant, &provider]
                .iter()
                .map(|k| (address(k), coins(1_000_000_000_000_000, DENOM)))
                .collect(),
        })
        .expect("the devnet opens");
        let devnet = Devnet::serve(
            app,
            "127.0.0.1:0".parse().expect("an address"),
            Duration::from_millis(block_ms),
        )
        .await
        .expect("the devnet serves");
        let client = Client::new(
            devnet.url(),
            ClientConfig {
                prefix: PREFIX.into(),
                gas_price_amount: 0.0025,
                gas_denom: DENOM.into(),
                gas_adjustment: 1.4,
            },
        )
        .expect("a client");
        let suite = deploy::deploy_suite(
            &client,
            &admin,
            &repo().join("artifacts"),
            &deploy::default_config(DENOM),
        )
        .await
        .expect("the suite deploys (scripts/build-wasm builds the artifacts)");
        suite
            .contracts
            .execute_registry(
                &client,
                &provider,
                &registry::ExecuteMsg::RegisterProvider {
                    host_uri: "https://localhost:8443".into(),
                    attributes: vec![Attribute::new("region", "local")],
                    info: ProviderInfo::default(),
                },
                &[],
            )
            .await
            .expect("the provider registers");
        let suite_file = home.path().join("suite.json");
        std::fs::write(
            &suite_file,
            serde_json::to_vec_pretty(&suite).expect("the suite serializes"),
        )
        .expect("suite.json");
        Chain {
            home,
            devnet,
            client,
            contracts: suite.contracts,
            suite_file,
            tenant,
            provider,
            sequences: Mutex::new(HashMap::new()),
        }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn tenant_addr(&self) -> Addr {
        Addr::unchecked(address(&self.tenant))
    }

    fn provider_addr(&self) -> Addr {
        Addr::unchecked(address(&self.provider))
    }

    fn market_msg(&self, key: &Key, msg: &market::ExecuteMsg, funds: &[Coin]) -> Any {
        tx::msg_execute(&address(key), &self.contracts.market, msg, funds)
            .expect("a serializable message")
    }

    /// Signs with the next in-process sequence of `key` (read from the chain on first use: the
    /// key must not sign over REST afterwards).
    fn sign(&self, app: &App, key: &Key, msgs: Vec<Any>) -> Vec<u8> {
        let addr = address(key);
        let mut sequences = self.sequences.lock().unwrap_or_else(|e| e.into_inner());
        let (number, sequence) = *sequences.entry(addr.clone()).or_insert_with(|| {
            let a = app
                .account(&addr)
                .expect("a valid address")
                .expect("a funded account");
            (a.account_number, a.sequence)
        });
        sequences.insert(addr, (number, sequence + 1));
        tx::build_signed_tx(
            key,
            msgs,
            "",
            &SignerData {
                chain_id: CHAIN_ID.into(),
                account_number: number,
                sequence,
            },
            &Fee {
                amount: vec![],
                gas_limit: 1_000_000_000,
            },
        )
    }

    /// Runs `txs` (signer, messages) in blocks of [`TXS_PER_BLOCK`], holding the chain (the
    /// block timer waits); every transaction must succeed. Blocking: call off the runtime.
    fn bulk(&self, txs: Vec<(Key, Vec<Any>)>) -> Vec<TxResult> {
        let mut out = vec![];
        let mut txs = txs.into_iter().peekable();
        while txs.peek().is_some() {
            let mut app = lock(&self.devnet.app);
            let mut hashes = vec![];
            for (key, msgs) in txs.by_ref().take(TXS_PER_BLOCK) {
                let bytes = self.sign(&app, &key, msgs);
                let r = app.broadcast(&bytes);
                assert_eq!(r.code, 0, "CheckTx: {}", r.raw_log);
                hashes.push(r.txhash);
            }
            app.produce_block().expect("block production");
            for h in hashes {
                let r = app.tx(&h).expect("an included transaction");
                assert_eq!(r.code, 0, "{}", r.raw_log);
                out.push(r);
            }
        }
        out
    }

    /// Admits one transaction to the mempool (the block timer includes it); its hash.
    fn submit(&self, key: &Key, msgs: Vec<Any>) -> String {
        let mut app = lock(&self.devnet.app);
        let bytes = self.sign(&app, key, msgs);
        let r = app.broadcast(&bytes);
        assert_eq!(r.code, 0, "CheckTx: {}", r.raw_log);
        r.txhash
    }

    /// Waits for a submitted transaction's result; it must succeed.
    async fn included(&self, hash: &str) -> TxResult {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(r) = lock(&self.devnet.app).tx(hash) {
                assert_eq!(r.code, 0, "{}", r.raw_log);
                return r;
            }
            assert!(Instant::now() < deadline, "transaction {hash} not included");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `n` deployments of `sdl` by the tenant, in bulk; their first orders, oldest first.
    fn create_deployments(&self, sdl: &kumo_sdl::Sdl, n: usize) -> Vec<OrderId> {
        let msg = new_deployment(sdl);
        let funds = coins(5_000_000, DENOM);
        let txs: Vec<(Key, Vec<Any>)> = (0..n)
            .collect::<Vec<_>>()
            .chunks(MSGS_PER_TX)
            .map(|c| {
                let msgs = c
                    .iter()
                    .map(|_| self.market_msg(&self.tenant, &msg, &funds))
                    .collect();
                (self.tenant.clone(), msgs)
            })
            .collect();
        let dseqs: BTreeSet<u64> = self
            .bulk(txs)
            .iter()
            .flat_map(|r| r.events.iter())
            .filter(|e| e.ty == "wasm")
            .flat_map(|e| e.attributes.iter())
            .filter(|a| a.key == "dseq")
            .map(|a| a.value.parse().expect("a dseq"))
            .collect();
        assert_eq!(dseqs.len(), n, "one dseq per deployment");
        dseqs
            .into_iter()
            .map(|d| DeploymentId::new(self.tenant_addr(), d).group(1).order(1))
            .collect()
    }

    /// The provider bids on `orders` and the tenant accepts every bid, in bulk.
    fn lease_all(&self, orders: &[OrderId]) {
        let price = Decimal256::from_ratio(1u128, 4u128);
        let bids = orders
            .chunks(MSGS_PER_TX)
            .map(|c| {
                let msgs = c
                    .iter()
                    .map(|o| {
                        let bid = market::ExecuteMsg::CreateBid(NewBid {
                            order: o.clone(),
                            price,
                            reclamation_window: None,
                            offer: vec![],
                        });
                        self.market_msg(&self.provider, &bid, &coins(500_000, DENOM))
                    })
                    .collect();
                (self.provider.clone(), msgs)
            })
            .collect();
        self.bulk(bids);
        let leases = orders
            .chunks(MSGS_PER_TX)
            .map(|c| {
                let msgs = c
                    .iter()
                    .map(|o| {
                        let lease = market::ExecuteMsg::CreateLease {
                            bid: o.bid(self.provider_addr()),
                        };
                        self.market_msg(&self.tenant, &lease, &[])
                    })
                    .collect();
                (self.tenant.clone(), msgs)
            })
            .collect();
        self.bulk(leases);
    }

    async fn order(&self, id: &OrderId) -> market::OrderResponse {
        self.contracts
            .query_market(&self.client, &market::QueryMsg::Order { id: id.clone() })
            .await
            .expect("the order")
    }

    async fn bid(&self, order: &OrderId) -> Option<market::Bid> {
        self.contracts
            .query_market::<market::BidResponse>(
                &self.client,
                &market::QueryMsg::Bid {
                    id: order.bid(self.provider_addr()),
                },
            )
            .await
            .ok()
            .map(|r| r.bid)
    }
}

// ---------------------------------------------------------------------------------------------
// The daemon.

struct Settings {
    poll_ms: u64,
    max_leases: Option<usize>,
}

struct Daemon {
    child: Option<Child>,
    log: PathBuf,
    started: Instant,
    metrics_url: String,
    gateway_port: u16,
    data_dir: PathBuf,
    http: reqwest::Client,
}

impl Daemon {
    fn spawn(bin: &Path, chain: &Chain, settings: &Settings) -> Daemon {
        let (gateway_port, metrics_port) = (free_port(), free_port());
        let max_leases = settings
            .max_leases
            .map(|m| format!("max_leases = {m}"))
            .unwrap_or_default();
        let config = format!(
            r#"
data_dir = "provider"

[chain]
node = "{node}"
chain_id = "{CHAIN_ID}"
gas_price = "0.0025ukumo"
gas_adjustment = 1.4

[key]
mnemonic_index = {index}

[contracts]
suite = "{suite}"

[backend]
kind = "docker"
[backend.docker]
host_ip = "127.0.0.1"
public_hostname = "localhost"

[inventory]
mode = "static"
[[inventory.nodes]]
name = "bench"
cpu = 100000
memory = "100000Gi"
ephemeral_storage = "1000000Gi"

[bidding]
deposit = "500000ukumo"
{max_leases}

[bidding.pricing.scale.ukumo]
cpu = "0.001"
storage = {{ ephemeral = "0" }}

[timeouts]
bid = "1d"
manifest = "1000d"
withdraw_period = "1d"
poll_interval = "{poll}ms"

[gateway]
listen = "127.0.0.1:{gateway_port}"
hostname = "localhost"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[log]
format = "json"
level = "info"
"#,
            node = chain.devnet.url().trim_end_matches('/'),
            index = key_index(chain),
            suite = chain.suite_file.display(),
            poll = settings.poll_ms,
        );
        let config_path = chain.dir().join("provider.toml");
        std::fs::write(&config_path, config).expect("provider.toml");
        let log = chain.dir().join("daemon.log");
        let out = std::fs::File::create(&log).expect("daemon.log");
        let started = Instant::now();
        let child = Command::new(bin)
            .args(["run", "--config"])
            .arg(&config_path)
            .env("KUMO_PROVIDER_MNEMONIC", MNEMONIC)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        Daemon {
            child: Some(child),
            log,
            started,
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
            gateway_port,
            data_dir: chain.dir().join("provider"),
            http: reqwest::Client::new(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the daemon's log.
    fn tail(&self, n: usize) -> String {
        let out = self.output();
        let lines: Vec<&str> = out.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Panics with the daemon's log if it exited.
    fn check_alive(&mut self) {
        if let Some(status) = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            self.child = None;
            panic!("the daemon exited ({status}):\n{}", self.tail(30));
        }
    }

    async fn metrics(&self) -> Option<String> {
        let r = self.http.get(&self.metrics_url).send().await.ok()?;
        r.status().is_success().then_some(())?;
        r.text().await.ok()
    }

    /// `(VmHWM, VmRSS)` in KiB.
    fn memory(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// Waits until the metrics show `ticks` passes; the metrics text then.
    async fn wait_ticks(&mut self, ticks: f64, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive();
            if let Some(text) = self.metrics().await {
                if sample(&text, "kumo_provider_ticks_total").unwrap_or(0.0) >= ticks {
                    return text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not reach {ticks} passes in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, and the exit.
    async fn stop(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: a plain signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("the daemon did not stop on SIGTERM: killed");
        let _ = child.kill();
        let _ = child.wait();
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

fn key_index(chain: &Chain) -> u32 {
    [LATENCY_PROVIDER, RSS_PROVIDER]
        .into_iter()
        .find(|i| address(&key(*i)) == address(&chain.provider))
        .expect("a benchmark provider")
}

/// A metric's value, summed over its label sets.
fn sample(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            if !(rest.starts_with(' ') || rest.starts_with('{')) {
                return None;
            }
            rest.rsplit(' ').next()?.parse().ok()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

// ---------------------------------------------------------------------------------------------
// Docker clean-up.

/// Tears down every Docker lease of `provider` when dropped (also on a panic).
struct DockerCleanup {
    provider: Addr,
}

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        let provider = self.provider.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if let Ok(backend) = DockerBackend::connect(DockerConfig::default()).await {
                    for l in backend.leases().await.unwrap_or_default() {
                        if l.lease.provider == provider {
                            let _ = backend.teardown(&l.lease).await;
                        }
                    }
                }
            });
        })
        .join();
    }
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: order -> bid latency, lease -> serving.

struct LatencyReport {
    bid_ms: Vec<f64>,
    missing: usize,
    serving_ms: Vec<f64>,
    put_ms: Vec<f64>,
    torn_down: bool,
}

async fn latency_and_serving(args: &Args, bin: &Path) -> LatencyReport {
    let docker = DockerBackend::connect(DockerConfig::default())
        .await
        .unwrap_or_else(|e| panic!("a Docker engine is needed ({e}); scripts/ensure-docker"));
    if args.serving > 0 {
        eprintln!("building the hello image…");
        build_hello_image(docker.client(), &repo(), &target_dir().join("kumo-images"))
            .await
            .unwrap_or_else(|e| panic!("cannot build the hello image: {e}"));
    }
    let chain = Chain::start(LATENCY_PROVIDER, args.block_ms).await;
    let _cleanup = DockerCleanup {
        provider: chain.provider_addr(),
    };
    let mut daemon = Daemon::spawn(
        bin,
        &chain,
        &Settings {
            poll_ms: args.poll_ms,
            max_leases: None,
        },
    );
    daemon.wait_ticks(1.0, Duration::from_secs(120)).await;

    // Orders at random intervals, so that they fall anywhere in the daemon's poll period.
    eprintln!(
        "order -> bid: {} orders, one every ~{} ms…",
        args.latency_orders, args.order_interval_ms
    );
    let sdl = hello();
    let msg = new_deployment(&sdl);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut hashes = vec![];
    for _ in 0..args.latency_orders {
        let m = chain.market_msg(&chain.tenant, &msg, &coins(5_000_000, DENOM));
        hashes.push(chain.submit(&chain.tenant, vec![m]));
        let wait = args.order_interval_ms as f64 * (0.2 + 1.6 * rng.next_f64());
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        daemon.check_alive();
    }
    let mut orders = vec![];
    for h in &hashes {
        let r = chain.included(h).await;
        let dseq: u64 = r
            .events
            .iter()
            .filter(|e| e.ty == "wasm")
            .flat_map(|e| e.attributes.iter())
            .find(|a| a.key == "dseq")
            .and_then(|a| a.value.parse().ok())
            .expect("a dseq");
        orders.push(
            DeploymentId::new(chain.tenant_addr(), dseq)
                .group(1)
                .order(1),
        );
    }
    let mut bid_ms = vec![];
    let mut missing = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    for order in &orders {
        let created = chain.order(order).await.order.created_at;
        let bid = loop {
            if let Some(b) = chain.bid(order).await {
                break Some(b);
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        match bid {
            Some(b) => {
                bid_ms.push(b.created_at.nanos().saturating_sub(created.nanos()) as f64 / 1e6);
            }
            None => missing += 1,
        }
    }

    // Lease -> serving, one lease at a time.
    let cert = ProviderCert::load(
        &daemon.data_dir.join("gateway-cert.pem"),
        &daemon.data_dir.join("gateway-key.pem"),
    )
    .expect("the daemon's certificate");
    let tls = reqwest::Client::builder()
        .use_preconfigured_tls(
            pinned_client_config(&[cert.spki_sha256()]).expect("a pinned TLS config"),
        )
        .build()
        .expect("an HTTPS client");
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let tenant = address(&chain.tenant);
    let body = serde_json::to_vec(&sdl.manifest).expect("the manifest serializes");
    let mut serving_ms = vec![];
    let mut put_ms = vec![];
    let mut leases: Vec<LeaseId> = vec![];
    for order in orders.iter().take(args.serving) {
        if chain.bid(order).await.is_none() {
            continue;
        }
        let lease = order.bid(chain.provider_addr());
        let m = chain.market_msg(
            &chain.tenant,
            &market::ExecuteMsg::CreateLease { bid: lease.clone() },
            &[],
        );
        let h = chain.submit(&chain.tenant, vec![m]);
        chain.included(&h).await;
        leases.push(lease.clone());
        let token = issue_with_chain_key(&chain.tenant, &Claims::full(&tenant, unix_now(), 300));
        let base = format!("https://127.0.0.1:{}", daemon.gateway_port);
        let start = Instant::now();
        let response = tls
            .put(format!("{base}/deployment/{}/manifest", lease.dseq))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("the lease API answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "PUT manifest: {status} {text}");
        put_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let status_url = format!(
            "{base}/lease/{}/{}/{}/status",
            lease.dseq, lease.gseq, lease.oseq
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut port = None;
        let mut last_status = None;
        loop {
            if port.is_none() {
                let v: Option<serde_json::Value> =
                    match tls.get(&status_url).bearer_auth(&token).send().await {
                        Ok(r) => r.json().await.ok(),
                        Err(_) => None,
                    };
                port = v.as_ref().and_then(host_port);
                last_status = v;
            }
            assert!(
                Instant::now() < deadline,
                "lease {lease} did not serve in 60 s; status {last_status:?}; daemon log:\n{}",
                daemon.tail(20)
            );
            if let Some(p) = port {
                let ok = plain
                    .get(format!("http://127.0.0.1:{p}/"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        serving_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }

    // Tear-down: the tenant closes the leases, the daemon removes the containers.
    for lease in &leases {
        let m = chain.market_msg(
            &chain.tenant,
            &market::ExecuteMsg::CloseLease {
                lease: lease.clone(),
            },
            &[],
        );
        let h = chain.submit(&chain.tenant, vec![m]);
        chain.included(&h).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let torn_down = loop {
        let left = docker
            .leases()
            .await
            .map(|l| l.iter().any(|l| l.lease.provider == chain.provider_addr()))
            .unwrap_or(true);
        if !left {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    daemon.stop().await;
    chain.devnet.stop().await;
    LatencyReport {
        bid_ms,
        missing,
        serving_ms,
        put_ms,
        torn_down,
    }
}

/// The first published host port in a lease status answer (`forwarded_ports`: per service, a
/// list of ports).
fn host_port(status: &serde_json::Value) -> Option<u16> {
    status
        .get("forwarded_ports")?
        .as_object()?
        .values()
        .filter_map(|ports| ports.as_array())
        .flatten()
        .find_map(|p| p.get("host_port")?.as_u64())
        .and_then(|p| u16::try_from(p).ok())
}

// ---------------------------------------------------------------------------------------------
// 3: RSS at scale.

struct RssReport {
    fill_s: f64,
    started_s: Option<f64>,
    first_tick_s: f64,
    later_tick_s: f64,
    hwm_kib: u64,
    rss_kib: u64,
    bids: f64,
    declined: f64,
    /// `policy="...",reason="..."` label sets of the declines.
    declined_by: Vec<String>,
    orders_seen: f64,
    active: f64,
}

async fn rss(args: &Args, bin: &Path) -> RssReport {
    let chain = Arc::new(Chain::start(RSS_PROVIDER, args.block_ms).await);
    eprintln!(
        "filling the chain: {} leases, {} open orders…",
        args.leases, args.orders
    );
    let fill = Instant::now();
    let (leases, orders) = (args.leases, args.orders);
    let c = chain.clone();
    tokio::task::spawn_blocking(move || {
        let sdl = hello();
        let leased = c.create_deployments(&sdl, leases);
        c.lease_all(&leased);
        c.create_deployments(&sdl, orders);
    })
    .await
    .expect("the fill");
    let fill_s = fill.elapsed().as_secs_f64();
    eprintln!("filled in {fill_s:.1} s; starting the daemon");

    let mut daemon = Daemon::spawn(
        bin,
        &chain,
        &Settings {
            poll_ms: args.poll_ms,
            max_leases: Some(args.leases + args.bid_cap),
        },
    );
    // Sampled while it runs: VmHWM is the kernel's own peak, this only shows progress.
    let mut started_s = None;
    let first = loop {
        daemon.check_alive();
        if started_s.is_none() && daemon.output().contains("agent started") {
            started_s = Some(daemon.started.elapsed().as_secs_f64());
        }
        if let Some(text) = daemon.metrics().await {
            if sample(&text, "kumo_provider_ticks_total").unwrap_or(0.0) >= 1.0 {
                break daemon.started.elapsed().as_secs_f64();
            }
        }
        assert!(
            daemon.started.elapsed() < Duration::from_secs(1800),
            "no first pass in 30 min"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("first pass after {first:.1} s; {} more…", args.ticks);
    // The pass after a long first one starts at once: time the ones after it.
    daemon.wait_ticks(2.0, Duration::from_secs(1800)).await;
    let before = Instant::now();
    let text = daemon
        .wait_ticks(2.0 + args.ticks as f64, Duration::from_secs(1800))
        .await;
    let later_tick_s = before.elapsed().as_secs_f64() / args.ticks.max(1) as f64;
    let (hwm_kib, rss_kib) = daemon.memory().expect("/proc/<pid>/status");
    let report = RssReport {
        fill_s,
        started_s,
        first_tick_s: first,
        later_tick_s,
        hwm_kib,
        rss_kib,
        bids: sample(&text, "kumo_provider_bids_placed_total").unwrap_or(0.0),
        declined: sample(&text, "kumo_provider_bids_declined_total").unwrap_or(0.0),
        declined_by: text
            .lines()
            .filter_map(|l| l.strip_prefix("kumo_provider_bids_declined_total{"))
            .map(|l| l.replace("} ", ": "))
            .collect(),
        orders_seen: sample(&text, "kumo_provider_orders_seen_total").unwrap_or(0.0),
        active: sample(&text, "kumo_provider_leases_active").unwrap_or(0.0),
    };
    daemon.stop().await;
    if let Ok(chain) = Arc::try_unwrap(chain) {
        chain.devnet.stop().await;
    }
    report
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args = Args::parse();
    let bin = args.bin.clone().unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("the current executable");
        // target/<profile>/examples/agent_bench -> target/<profile>/kumo-provider
        exe.parent()
            .and_then(Path::parent)
            .map(|d| d.join("kumo-provider"))
            .expect("a target directory")
    });
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p kumo-provider --bin kumo-provider",
        bin.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let run = |part: &str| args.only.iter().any(|o| o == part);
    let latency = run("latency").then(|| runtime.block_on(latency_and_serving(&args, &bin)));
    let rss = run("rss").then(|| runtime.block_on(rss(&args, &bin)));

    println!();
    println!(
        "kumo-provider benchmarks ({cores} cores; devnet block time {} ms, daemon poll interval {} ms; binary {})",
        args.block_ms,
        args.poll_ms,
        bin.display()
    );
    println!();
    println!("| measurement | value |");
    println!("| --- | ---: |");
    let mut rows: BTreeMap<usize, (String, String)> = BTreeMap::new();
    let mut row = |label: String, value: String| {
        let n = rows.len();
        rows.insert(n, (label, value));
    };
    if let Some(l) = &latency {
        let b = sorted(l.bid_ms.clone());
        row(
            format!(
                "order -> bid, chain time, {} orders ~{} ms apart: p50 / p95 / max",
                b.len(),
                args.order_interval_ms
            ),
            format!(
                "{:.0} / {:.0} / {:.0} ms",
                percentile(&b, 50.0),
                percentile(&b, 95.0),
                percentile(&b, 100.0)
            ),
        );
        if l.missing > 0 {
            row(
                "orders without a bid after 60 s".into(),
                l.missing.to_string(),
            );
        }
        let s = sorted(l.serving_ms.clone());
        let p = sorted(l.put_ms.clone());
        if !s.is_empty() {
            row(
                format!("manifest PUT -> HTTP answer, {} leases: p50 / max", s.len()),
                format!(
                    "{:.0} / {:.0} ms",
                    percentile(&s, 50.0),
                    percentile(&s, 100.0)
                ),
            );
            row(
                "  of which the PUT itself: p50 / max".into(),
                format!(
                    "{:.0} / {:.0} ms",
                    percentile(&p, 50.0),
                    percentile(&p, 100.0)
                ),
            );
        }
        row(
            "containers torn down after the leases closed".into(),
            if l.torn_down {
                "yes"
            } else {
                "NO (removed by the bench)"
            }
            .into(),
        );
    }
    if let Some(r) = &rss {
        row(
            format!(
                "chain filled in-process ({} leases, {} open orders)",
                args.leases, args.orders
            ),
            format!("{:.1} s", r.fill_s),
        );
        if let Some(s) = r.started_s {
            row(
                "daemon start -> agent started (reconciled)".into(),
                format!("{s:.1} s"),
            );
        }
        row(
            "daemon start -> first full pass done".into(),
            format!("{:.1} s", r.first_tick_s),
        );
        row(
            format!(
                "time per later pass, mean of {} (at least the poll interval)",
                args.ticks
            ),
            format!("{:.2} s", r.later_tick_s),
        );
        row(
            "peak RSS (VmHWM)".into(),
            format!("{:.1} MiB", r.hwm_kib as f64 / 1024.0),
        );
        row(
            "current RSS (VmRSS)".into(),
            format!("{:.1} MiB", r.rss_kib as f64 / 1024.0),
        );
        row(
            format!(
                "bids placed (max_leases = {} + {})",
                args.leases, args.bid_cap
            ),
            format!("{:.0}", r.bids),
        );
        row(
            format!("orders declined ({})", r.declined_by.join("; ")),
            format!("{:.0}", r.declined),
        );
        row(
            "orders seen (all passes) / leases active".into(),
            format!("{:.0} / {:.0}", r.orders_seen, r.active),
        );
    }
    for (label, value) in rows.values() {
        println!("| {label} | {value} |");
    }
}
