//! `ChainLeaseSource` against the devnet (the real contracts, over the REST API): the
//! provider's leases of a deployment, the deployment's on-chain record, tenants' public keys;
//! then the lease API on top of it, so that a manifest is checked against the version the
//! tenant committed to on chain.
//!
//! The backend here is a fake that records deploys (the Docker backend has its own tests).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cosmwasm_std::{coins, Addr, Decimal256, HexBinary};
use kumo::market::{self, LeaseState, NewBid, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, DeploymentId, LeaseId};
use kumo_chain::{deploy, Client, ClientConfig, Key, KumoContracts};
use kumo_devnet::{App, Config, Devnet};
use kumo_provider::auth::{issue_with_chain_key, unix_now, Claims};
use kumo_provider::backend::{
    Backend, BackendError, BoxFuture, DeployOutcome, DeployedLease, EventStream, Group,
    LeaseStatus, LogOptions, LogStream,
};
use kumo_provider::gateway::{
    pinned_client_config, ChainLeaseSource, Gateway, LeaseSource, MemoryManifestStore, ProviderCert,
};
use kumo_provider::inventory::{Inventory, InventoryConfig, NodeCapacity};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DENOM: &str = "ukumo";
const PREFIX: &str = "kumo";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn devnet(home: &std::path::Path, keys: &[Key]) -> (Devnet, Client) {
    let genesis = keys
        .iter()
        .map(|k| (k.address(PREFIX).unwrap(), coins(10_000_000_000_000, DENOM)))
        .collect();
    let app = App::open(Config {
        chain_id: "kumo-devnet-1".into(),
        prefix: PREFIX.into(),
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
            prefix: PREFIX.into(),
            gas_price_amount: 0.0025,
            gas_denom: DENOM.into(),
            gas_adjustment: 1.4,
        },
    )
    .unwrap();
    (devnet, client)
}

/// A tenant's deployment of `sdl` leased to `provider` (bid, then the tenant accepts).
async fn lease(
    c: &Client,
    k: &KumoContracts,
    tenant: &Key,
    provider: &Key,
    sdl: &kumo_sdl::Sdl,
) -> LeaseId {
    let created = k
        .execute_market(
            c,
            tenant,
            &market::ExecuteMsg::CreateDeployment(NewDeployment {
                groups: sdl.groups.clone(),
                version: HexBinary::from(sdl.manifest_version().to_vec()),
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            }),
            &coins(50_000_000, DENOM),
        )
        .await
        .unwrap();
    let dseq: u64 = created.event_attr("wasm", "dseq").unwrap().parse().unwrap();
    let order = DeploymentId::new(Addr::unchecked(c.address(tenant).unwrap()), dseq)
        .group(1)
        .order(1);
    k.execute_market(
        c,
        provider,
        &market::ExecuteMsg::CreateBid(NewBid {
            order: order.clone(),
            price: Decimal256::from_ratio(1u128, 4u128),
            reclamation_window: None,
            offer: vec![],
        }),
        &coins(500_000, DENOM),
    )
    .await
    .unwrap();
    let bid = order.bid(Addr::unchecked(c.address(provider).unwrap()));
    k.execute_market(
        c,
        tenant,
        &market::ExecuteMsg::CreateLease { bid: bid.clone() },
        &[],
    )
    .await
    .unwrap();
    bid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_source_reads_leases_deployments_and_keys_from_the_devnet() {
    let home = tempfile::tempdir().unwrap();
    let keys: Vec<Key> = (0..5)
        .map(|i| Key::from_mnemonic_index(MNEMONIC, i).unwrap())
        .collect();
    let (admin, tenant, provider, other_provider, silent) =
        (&keys[0], &keys[1], &keys[2], &keys[3], &keys[4]);
    let (devnet, client) = devnet(home.path(), &keys).await;
    let c = &client;
    let suite = deploy::deploy_suite(
        c,
        admin,
        &repo().join("artifacts"),
        &deploy::default_config(DENOM),
    )
    .await
    .unwrap();
    let k = &suite.contracts;
    for p in [provider, other_provider] {
        k.execute_registry(
            c,
            p,
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
    let sdl =
        kumo_sdl::parse(&std::fs::read_to_string(repo().join("examples/hello.yaml")).unwrap())
            .unwrap();
    let mine = lease(c, k, tenant, provider, &sdl).await;
    let theirs = lease(c, k, tenant, other_provider, &sdl).await;

    let provider_addr = c.address(provider).unwrap();
    let source = ChainLeaseSource::new(client.clone(), k.clone(), provider_addr.clone());

    // Only this provider's leases of that dseq.
    let leases = source.leases(mine.dseq).await.unwrap();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].id, mine);
    assert_eq!(leases[0].state, LeaseState::Active);
    assert!(source.leases(theirs.dseq).await.unwrap().is_empty());
    assert!(source.leases(9_999).await.unwrap().is_empty());

    // The deployment as the market stores it.
    let deployment = source
        .deployment(&mine.deployment())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deployment.id, mine.deployment());
    assert_eq!(deployment.version.to_vec(), sdl.manifest_version().to_vec());
    assert_eq!(deployment.groups.len(), 1);
    assert_eq!(deployment.groups[0].gseq, 1);
    assert_eq!(deployment.groups[0].spec, sdl.groups[0]);
    let unknown = DeploymentId::new(mine.owner.clone(), 9_999);
    assert_eq!(source.deployment(&unknown).await.unwrap(), None);

    // Keys: the tenant signed transactions; `silent` holds funds but never signed; the last
    // address was never seen by the chain.
    let tenant_addr = c.address(tenant).unwrap();
    assert_eq!(
        source.public_key(&tenant_addr).await.unwrap(),
        Some(tenant.public_key_bytes().to_vec())
    );
    let silent_addr = c.address(silent).unwrap();
    assert_eq!(source.public_key(&silent_addr).await.unwrap(), None);
    let stranger = Key::from_mnemonic_index(MNEMONIC, 99)
        .unwrap()
        .address(PREFIX)
        .unwrap();
    assert_eq!(source.public_key(&stranger).await.unwrap(), None);
    assert_eq!(source.public_key("not/an/address").await.unwrap(), None);

    // A closed lease is not served.
    k.execute_market(
        c,
        tenant,
        &market::ExecuteMsg::CloseLease {
            lease: mine.clone(),
        },
        &[],
    )
    .await
    .unwrap();
    let after = source.leases(mine.dseq).await.unwrap();
    assert!(
        after.iter().all(|l| l.state != LeaseState::Active),
        "{after:?}"
    );

    // The node gone: an error, not "no such lease".
    let url = devnet.url().to_string();
    devnet.stop().await;
    let err = source.leases(mine.dseq).await.unwrap_err();
    assert!(err.to_string().contains("chain query failed"), "{err}");
    let down = ChainLeaseSource::new(
        Client::new(&url, client.config().clone()).unwrap(),
        k.clone(),
        provider_addr,
    );
    assert!(down.public_key(&tenant_addr).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// The lease API over the chain source.

#[derive(Default)]
struct RecordingBackend {
    deploys: Mutex<BTreeMap<LeaseId, Group>>,
}

impl Backend for RecordingBackend {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn deploy<'a>(
        &'a self,
        lease: &'a LeaseId,
        group: &'a Group,
    ) -> BoxFuture<'a, Result<DeployOutcome, BackendError>> {
        self.deploys
            .lock()
            .unwrap()
            .insert(lease.clone(), group.clone());
        Box::pin(async { Ok(DeployOutcome::Created) })
    }

    fn status<'a>(
        &'a self,
        lease: &'a LeaseId,
    ) -> BoxFuture<'a, Result<LeaseStatus, BackendError>> {
        let lease = lease.to_string();
        Box::pin(async move { Err(BackendError::LeaseNotFound { lease }) })
    }

    fn logs<'a>(
        &'a self,
        lease: &'a LeaseId,
        _options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, BackendError>> {
        let lease = lease.to_string();
        Box::pin(async move { Err(BackendError::LeaseNotFound { lease }) })
    }

    fn events<'a>(
        &'a self,
        lease: &'a LeaseId,
        _follow: bool,
    ) -> BoxFuture<'a, Result<EventStream, BackendError>> {
        let lease = lease.to_string();
        Box::pin(async move { Err(BackendError::LeaseNotFound { lease }) })
    }

    fn teardown<'a>(&'a self, _lease: &'a LeaseId) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async { Ok(()) })
    }

    fn leases(&self) -> BoxFuture<'_, Result<Vec<DeployedLease>, BackendError>> {
        Box::pin(async { Ok(vec![]) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_api_checks_manifests_against_the_chain() {
    let home = tempfile::tempdir().unwrap();
    let keys: Vec<Key> = (0..4)
        .map(|i| Key::from_mnemonic_index(MNEMONIC, i).unwrap())
        .collect();
    let (admin, tenant, provider, stranger) = (&keys[0], &keys[1], &keys[2], &keys[3]);
    let (devnet, client) = devnet(home.path(), &keys).await;
    let c = &client;
    let suite = deploy::deploy_suite(
        c,
        admin,
        &repo().join("artifacts"),
        &deploy::default_config(DENOM),
    )
    .await
    .unwrap();
    let k = &suite.contracts;
    k.execute_registry(
        c,
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
    let sdl =
        kumo_sdl::parse(&std::fs::read_to_string(repo().join("examples/hello.yaml")).unwrap())
            .unwrap();
    let lease_id = lease(c, k, tenant, provider, &sdl).await;

    let provider_addr = c.address(provider).unwrap();
    let backend = Arc::new(RecordingBackend::default());
    let inventory = Inventory::new(InventoryConfig {
        nodes: vec![NodeCapacity {
            name: "node-1".into(),
            cpu_millis: 4000,
            memory: 8 << 30,
            ephemeral_storage: 100 << 30,
            gpus: vec![],
        }],
        storage_classes: Default::default(),
    })
    .unwrap();
    let gateway = Gateway::new(
        kumo_provider::gateway::GatewayConfig::new(Addr::unchecked(&provider_addr), PREFIX),
        backend.clone(),
        Arc::new(ChainLeaseSource::new(
            client.clone(),
            k.clone(),
            provider_addr.clone(),
        )),
        Arc::new(MemoryManifestStore::new()),
        Arc::new(Mutex::new(inventory)),
    );
    let (cert, _) = ProviderCert::generate(&["localhost".into()]).unwrap();
    let running = gateway
        .start("127.0.0.1:0".parse().unwrap(), &cert)
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(pinned_client_config(&[cert.spki_sha256()]).unwrap())
        .build()
        .unwrap();
    let url = format!(
        "https://127.0.0.1:{}/deployment/{}/manifest",
        running.local_addr().port(),
        lease_id.dseq
    );
    let tenant_addr = c.address(tenant).unwrap();
    let put = |token: String, body: Vec<u8>| {
        http.put(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    // A manifest that is not the one committed on chain: refused, nothing deployed.
    let mut altered = sdl.manifest.clone();
    altered.0[0].services[0]
        .env
        .get_or_insert_with(Vec::new)
        .push("EXTRA=1".into());
    let token = issue_with_chain_key(tenant, &Claims::full(&tenant_addr, unix_now(), 300));
    let response = put(token.clone(), serde_json::to_vec(&altered).unwrap())
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{response:?}");
    assert!(backend.deploys.lock().unwrap().is_empty());

    // Someone else's token: forbidden.
    let stranger_addr = c.address(stranger).unwrap();
    let other = issue_with_chain_key(stranger, &Claims::full(&stranger_addr, unix_now(), 300));
    let response = put(other, serde_json::to_vec(&sdl.manifest).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // The tenant's manifest: deployed for the lease the chain knows.
    let response = put(token, serde_json::to_vec(&sdl.manifest).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let deploys = backend.deploys.lock().unwrap().clone();
    assert_eq!(deploys.keys().cloned().collect::<Vec<_>>(), vec![lease_id]);

    running.shutdown().await.unwrap();
    devnet.stop().await;
}
