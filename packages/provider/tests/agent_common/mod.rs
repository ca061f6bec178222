//! What the agent's devnet tests share: a devnet with the deployed suite, a registered (and,
//! with staking, bonded) provider and a tenant, with methods named after their actions, and
//! the backends the agent runs against.
//!
//! Each test passes its own provider key index: the Docker engine is shared by every test (and
//! the agent touches only its own provider's leases), so two tests never see each other's
//! containers.
#![allow(dead_code)] // Each test binary uses a part.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cosmwasm_std::{coin, coins, Addr, Decimal256, HexBinary};
use kumo::market::{self, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, BidId, DeploymentId, LeaseId, OrderId};
use kumo_chain::{deploy, tx, Client, ClientConfig, Key, KumoContracts};
use kumo_devnet::{App, Config, Devnet};
use kumo_provider::agent::{Agent, AgentConfig, AgentError};
use kumo_provider::backend::{
    Backend, BackendError, BoxFuture, DeployOutcome, DeployedLease, EventStream, Group,
    LeaseStatus, LogOptions, LogStream,
};
use kumo_provider::bidengine::{
    AttributesPolicy, BidEngine, CapacityPolicy, ScalePricing, ScaleRates,
};
use kumo_provider::docker::{
    build_hello_image, group_hash, DockerBackend, DockerConfig, HELLO_IMAGE,
};
use kumo_provider::gateway::ManifestStore;
use kumo_provider::inventory::{Inventory, InventoryConfig, NodeCapacity};
use kumo_provider::journal::Journal;
use kumo_sdl::Manifest;

pub mod process;

pub const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
pub const DENOM: &str = "ukumo";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn hello_sdl() -> String {
    std::fs::read_to_string(repo().join("examples/hello.yaml")).unwrap()
}

/// The hello SDL with a per-block price ceiling of `amount` (the example's is 100).
pub fn hello_sdl_priced(amount: u64) -> String {
    hello_sdl().replace("amount: 100", &format!("amount: {amount}"))
}

/// A devnet in `home` with 50 ms blocks, `keys` funded at genesis, and a client for it.
pub async fn devnet(home: &std::path::Path, keys: &[&Key]) -> (Devnet, Client) {
    let genesis = keys
        .iter()
        .map(|k| (k.address("kumo").unwrap(), coins(10_000_000_000_000, DENOM)))
        .collect();
    let app = App::open(Config {
        chain_id: "kumo-devnet-1".into(),
        prefix: "kumo".into(),
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
            prefix: "kumo".into(),
            gas_price_amount: 0.0025,
            gas_denom: DENOM.into(),
            gas_adjustment: 1.4,
        },
    )
    .unwrap();
    (devnet, client)
}

pub struct Net {
    pub home: tempfile::TempDir,
    pub devnet: Devnet,
    pub client: Client,
    pub k: KumoContracts,
    pub admin: Key,
    pub tenant: Key,
    pub provider: Key,
}

impl Net {
    /// A devnet with the suite (with staking when `staking`), and the provider at key index
    /// `provider` registered (and bonded, with staking).
    pub async fn start(provider: u32, staking: bool) -> Net {
        let home = tempfile::tempdir().unwrap();
        let key = |i| Key::from_mnemonic_index(MNEMONIC, i).unwrap();
        let (admin, tenant, provider) = (key(0), key(1), key(provider));
        let (devnet, client) = devnet(home.path(), &[&admin, &tenant, &provider]).await;
        let mut config = deploy::default_config(DENOM);
        if staking {
            config.staking = Some(deploy::staking_params(DENOM));
        }
        let suite = deploy::deploy_suite(&client, &admin, &repo().join("artifacts"), &config)
            .await
            .unwrap();
        let net = Net {
            home,
            devnet,
            client,
            k: suite.contracts,
            admin,
            tenant,
            provider,
        };
        net.register(&net.provider).await;
        if staking {
            net.bond(&net.provider, 100_000_000).await;
        }
        net
    }

    pub fn journal_path(&self) -> PathBuf {
        self.home.path().join("agent.redb")
    }

    pub fn provider_addr(&self) -> Addr {
        Addr::unchecked(self.client.address(&self.provider).unwrap())
    }

    pub fn tenant_addr(&self) -> Addr {
        Addr::unchecked(self.client.address(&self.tenant).unwrap())
    }

    /// A funded key at `index` (another provider, ...).
    pub async fn funded_key(&self, index: u32) -> Key {
        let key = Key::from_mnemonic_index(MNEMONIC, index).unwrap();
        let to = key.address("kumo").unwrap();
        self.client
            .send(&self.admin, &to, &coins(1_000_000_000_000, DENOM))
            .await
            .unwrap();
        key
    }

    pub async fn register(&self, provider: &Key) {
        self.k
            .execute_registry(
                &self.client,
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
    }

    pub async fn bond(&self, provider: &Key, amount: u128) {
        self.k
            .execute_staking(
                &self.client,
                provider,
                &kumo::staking::ExecuteMsg::Bond {},
                &coins(amount, DENOM),
            )
            .await
            .unwrap();
    }

    pub fn new_deployment(sdl: &str) -> (NewDeployment, Manifest) {
        let sdl = kumo_sdl::parse(sdl).unwrap();
        let version = HexBinary::from(sdl.manifest_version().to_vec());
        (
            NewDeployment {
                groups: sdl.groups,
                version,
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            },
            sdl.manifest,
        )
    }

    /// The tenant deploys `sdl` with `deposit`; returns the deployment's first order and the
    /// manifest the tenant would send.
    pub async fn create_deployment(&self, sdl: &str, deposit: u128) -> (OrderId, Manifest) {
        let (msg, manifest) = Self::new_deployment(sdl);
        let created = self
            .k
            .execute_market(
                &self.client,
                &self.tenant,
                &market::ExecuteMsg::CreateDeployment(msg),
                &coins(deposit, DENOM),
            )
            .await
            .unwrap();
        let dseq: u64 = created.event_attr("wasm", "dseq").unwrap().parse().unwrap();
        let order = DeploymentId::new(self.tenant_addr(), dseq)
            .group(1)
            .order(1);
        (order, manifest)
    }

    /// `n` deployments of `sdl` in one transaction; their orders, oldest first.
    pub async fn create_deployments(&self, sdl: &str, n: usize) -> Vec<OrderId> {
        let tenant = self.client.address(&self.tenant).unwrap();
        let msgs = (0..n)
            .map(|_| {
                let (msg, _) = Self::new_deployment(sdl);
                tx::msg_execute(
                    &tenant,
                    &self.k.market,
                    &market::ExecuteMsg::CreateDeployment(msg),
                    &[coin(5_000_000, DENOM)],
                )
                .unwrap()
            })
            .collect();
        let res = self
            .client
            .sign_and_broadcast(&self.tenant, msgs, "")
            .await
            .unwrap();
        let mut dseqs: Vec<u64> = res
            .events
            .iter()
            .filter(|e| e.kind == "wasm")
            .flat_map(|e| e.attributes.iter())
            .filter(|(k, _)| k == "dseq")
            .map(|(_, v)| v.parse().unwrap())
            .collect();
        dseqs.dedup();
        assert_eq!(dseqs.len(), n, "one dseq per deployment");
        dseqs
            .into_iter()
            .map(|d| DeploymentId::new(self.tenant_addr(), d).group(1).order(1))
            .collect()
    }

    /// `provider` bids `price` (per block) on `order` by hand, with a 500000 deposit.
    pub async fn place_bid(&self, provider: &Key, order: &OrderId, price: Decimal256) -> BidId {
        self.k
            .execute_market(
                &self.client,
                provider,
                &market::ExecuteMsg::CreateBid(market::NewBid {
                    order: order.clone(),
                    price,
                    reclamation_window: None,
                    offer: vec![],
                }),
                &coins(500_000, DENOM),
            )
            .await
            .unwrap();
        order.bid(Addr::unchecked(self.client.address(provider).unwrap()))
    }

    /// The tenant accepts a bid.
    pub async fn accept(&self, bid: &BidId) {
        self.k
            .execute_market(
                &self.client,
                &self.tenant,
                &market::ExecuteMsg::CreateLease { bid: bid.clone() },
                &[],
            )
            .await
            .unwrap();
    }

    /// The tenant closes a lease.
    pub async fn close_lease(&self, lease: &LeaseId) {
        self.k
            .execute_market(
                &self.client,
                &self.tenant,
                &market::ExecuteMsg::CloseLease {
                    lease: lease.clone(),
                },
                &[],
            )
            .await
            .unwrap();
    }

    pub async fn close_deployment(&self, deployment: &DeploymentId) {
        self.k
            .execute_market(
                &self.client,
                &self.tenant,
                &market::ExecuteMsg::CloseDeployment {
                    dseq: deployment.dseq,
                },
                &[],
            )
            .await
            .unwrap();
    }

    pub async fn lease(&self, id: &LeaseId) -> Option<market::Lease> {
        self.k
            .query_market::<market::LeaseResponse>(
                &self.client,
                &market::QueryMsg::Lease { id: id.clone() },
            )
            .await
            .ok()
            .map(|r| r.lease)
    }

    pub async fn bid(&self, id: &BidId) -> Option<market::Bid> {
        self.k
            .query_market::<market::BidResponse>(
                &self.client,
                &market::QueryMsg::Bid { id: id.clone() },
            )
            .await
            .ok()
            .map(|r| r.bid)
    }

    pub async fn bids_on(&self, order: &OrderId) -> Vec<market::Bid> {
        self.k
            .query_market::<market::BidsResponse>(
                &self.client,
                &market::QueryMsg::Bids {
                    order: order.clone(),
                    start_after: None,
                    limit: None,
                },
            )
            .await
            .unwrap()
            .bids
    }

    pub async fn payment(&self, lease: &LeaseId) -> kumo::escrow::Payment {
        self.k
            .query_escrow::<kumo::escrow::PaymentResponse>(
                &self.client,
                &kumo::escrow::QueryMsg::Payment {
                    lease: lease.clone(),
                },
            )
            .await
            .unwrap()
            .payment
    }

    pub async fn last_heartbeat(&self) -> u64 {
        self.k
            .query_staking::<kumo::staking::ProviderBondResponse>(
                &self.client,
                &kumo::staking::QueryMsg::Provider {
                    provider: self.provider_addr().to_string(),
                },
            )
            .await
            .unwrap()
            .bond
            .last_heartbeat
            .seconds()
    }

    async fn height(&self) -> u64 {
        self.client.latest_block().await.unwrap().height
    }

    /// Waits for two more blocks: what is visible then includes every earlier change.
    pub async fn next_blocks(&self) {
        let start = self.height().await;
        while self.height().await < start + 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Moves the chain's clock `secs` forward (the next blocks carry the new time).
    pub async fn advance(&self, secs: u64) {
        self.devnet.app().clock_offset_secs += secs;
        self.next_blocks().await;
    }

    pub async fn stop(self) {
        self.devnet.stop().await;
    }
}

/// Bids 1/1000 per millicpu (the hello group's 250 millicpu: 0.25 per second), or `cpu` per
/// millicpu.
pub fn engine_at(cpu: Decimal256) -> BidEngine {
    let rates = ScaleRates {
        cpu,
        storage: [("ephemeral".to_string(), Decimal256::zero())].into(),
        ..Default::default()
    };
    let pricing = ScalePricing::new().with_denom(DENOM, rates).unwrap();
    BidEngine::new(Box::new(pricing))
        .with_policy(AttributesPolicy::new())
        .with_policy(CapacityPolicy)
}

pub fn engine() -> BidEngine {
    engine_at(Decimal256::from_ratio(1u128, 1000u128))
}

pub fn inventory_of(cpu_millis: u64) -> Inventory {
    Inventory::new(InventoryConfig {
        nodes: vec![NodeCapacity {
            name: "node-1".into(),
            cpu_millis,
            memory: 64 << 30,
            ephemeral_storage: 100 << 30,
            gpus: vec![],
        }],
        storage_classes: Default::default(),
    })
    .unwrap()
}

pub fn inventory() -> Inventory {
    inventory_of(4000)
}

/// Short timeouts and periods for tests (chain seconds).
pub fn config(net: &Net) -> AgentConfig {
    let mut c = AgentConfig::new(net.k.clone(), coin(500_000, DENOM));
    c.bid_timeout = Duration::from_secs(60);
    c.manifest_timeout = Duration::from_secs(30);
    c.withdraw_period = Duration::from_secs(120);
    c
}

pub async fn agent_with(
    net: &Net,
    config: AgentConfig,
    engine: BidEngine,
    inventory: Inventory,
    backend: Arc<dyn Backend>,
    manifests: Arc<dyn ManifestStore>,
) -> Result<Agent, AgentError> {
    Agent::start(
        net.client.clone(),
        net.provider.clone(),
        config,
        engine,
        inventory,
        Journal::open(&net.journal_path()).unwrap(),
        backend,
        manifests,
    )
    .await
}

/// The hello group of a manifest.
pub fn hello_group(manifest: &Manifest) -> Group {
    manifest.0[0].clone()
}

// ---------------------------------------------------------------------------------------------
// Backends.

/// A backend that records deploys and tear-downs and "runs" what was deployed, in memory.
#[derive(Default)]
pub struct MemoryBackend {
    pub running: Mutex<BTreeMap<LeaseId, Group>>,
    pub deploys: Mutex<Vec<LeaseId>>,
    pub teardowns: Mutex<Vec<LeaseId>>,
    /// While set, every operation fails as an unreachable engine would.
    pub down: std::sync::atomic::AtomicBool,
}

fn unreachable() -> BackendError {
    BackendError::Unreachable {
        backend: "memory",
        endpoint: "memory://".into(),
        reason: "down".into(),
        hint: "",
    }
}

impl MemoryBackend {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn deploys(&self) -> Vec<LeaseId> {
        self.deploys.lock().unwrap().clone()
    }

    pub fn teardowns(&self) -> Vec<LeaseId> {
        self.teardowns.lock().unwrap().clone()
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn deploy<'a>(
        &'a self,
        lease: &'a LeaseId,
        group: &'a Group,
    ) -> BoxFuture<'a, Result<DeployOutcome, BackendError>> {
        Box::pin(async move {
            if self.is_down() {
                return Err(unreachable());
            }
            self.deploys.lock().unwrap().push(lease.clone());
            let old = self
                .running
                .lock()
                .unwrap()
                .insert(lease.clone(), group.clone());
            Ok(match old {
                None => DeployOutcome::Created,
                Some(g) if &g == group => DeployOutcome::Unchanged,
                Some(_) => DeployOutcome::Updated,
            })
        })
    }

    fn status<'a>(
        &'a self,
        lease: &'a LeaseId,
    ) -> BoxFuture<'a, Result<LeaseStatus, BackendError>> {
        Box::pin(async move {
            Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            })
        })
    }

    fn logs<'a>(
        &'a self,
        lease: &'a LeaseId,
        _options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, BackendError>> {
        Box::pin(async move {
            Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            })
        })
    }

    fn events<'a>(
        &'a self,
        lease: &'a LeaseId,
        _follow: bool,
    ) -> BoxFuture<'a, Result<EventStream, BackendError>> {
        Box::pin(async move {
            Err(BackendError::LeaseNotFound {
                lease: lease.to_string(),
            })
        })
    }

    fn teardown<'a>(&'a self, lease: &'a LeaseId) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            if self.is_down() {
                return Err(unreachable());
            }
            self.teardowns.lock().unwrap().push(lease.clone());
            self.running.lock().unwrap().remove(lease);
            Ok(())
        })
    }

    fn leases(&self) -> BoxFuture<'_, Result<Vec<DeployedLease>, BackendError>> {
        Box::pin(async move {
            if self.is_down() {
                return Err(unreachable());
            }
            Ok(self
                .running
                .lock()
                .unwrap()
                .iter()
                .map(|(id, g)| DeployedLease {
                    lease: id.clone(),
                    group: Some(g.name.clone()),
                    manifest_hash: Some(group_hash(g)),
                    services: g.services.iter().map(|s| s.name.clone()).collect(),
                })
                .collect())
        })
    }
}

static HELLO: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// The Docker backend, once the engine answers and the hello image is built.
pub async fn docker() -> Arc<DockerBackend> {
    let backend = match DockerBackend::connect(DockerConfig::default()).await {
        Ok(b) => b,
        Err(e) => panic!(
            "these tests need a running Docker engine: {e}\n\
             Start one with `scripts/ensure-docker`."
        ),
    };
    HELLO
        .get_or_init(|| async {
            let exe = std::env::current_exe().unwrap();
            let target = exe.ancestors().nth(3).map(Path::to_path_buf).unwrap();
            if let Err(e) =
                build_hello_image(backend.client(), &repo(), &target.join("kumo-images")).await
            {
                panic!("cannot build {HELLO_IMAGE}: {e}");
            }
        })
        .await;
    Arc::new(backend)
}

/// Tears down every Docker lease of `provider` when dropped, also when the test panics.
pub struct DockerCleanup {
    pub provider: Addr,
}

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        let provider = self.provider.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
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

/// The ids of the containers of a lease (for "not restarted" checks).
pub async fn container_ids(backend: &DockerBackend, lease: &LeaseId) -> Vec<String> {
    let status = backend.status(lease).await.unwrap();
    status
        .services
        .values()
        .flat_map(|s| s.replicas.iter().map(|r| r.id.clone()))
        .collect()
}
