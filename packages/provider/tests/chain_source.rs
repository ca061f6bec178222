//! `ChainLeaseSource` against the devnet (the real contracts, over the REST API): the
//! provider's leases of a deployment, the deployment's on-chain record, tenants' public keys;
//! then the lease API on top of it, so that a manifest is checked against the version the
//! tenant committed to on chain.
//!
//! The backend here is a fake that records deploys (the Docker backend has its own tests).

mod agent_common;

use std::sync::{Arc, Mutex};

use agent_common::{hello_sdl, inventory, MemoryBackend, Net, MNEMONIC};
use cosmwasm_std::Decimal256;
use kumo::market::LeaseState;
use kumo::{DeploymentId, LeaseId};
use kumo_chain::{Client, Key};
use kumo_provider::auth::{issue_with_chain_key, unix_now, Claims};
use kumo_provider::gateway::{
    pinned_client_config, ChainLeaseSource, Gateway, GatewayConfig, LeaseSource,
    MemoryManifestStore, ProviderCert,
};

/// A tenant's deployment of the hello SDL leased to `provider` (bid, then the tenant accepts).
async fn lease(net: &Net, provider: &Key) -> LeaseId {
    let (order, _) = net.create_deployment(&hello_sdl(), 50_000_000).await;
    let bid = net
        .place_bid(provider, &order, Decimal256::from_ratio(1u128, 4u128))
        .await;
    net.accept(&bid).await;
    bid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_source_reads_leases_deployments_and_keys_from_the_devnet() {
    let net = Net::start(80, false).await;
    let other_provider = net.funded_key(81).await;
    net.register(&other_provider).await;
    let silent = net.funded_key(82).await;
    let sdl = kumo_sdl::parse(&hello_sdl()).unwrap();
    let mine = lease(&net, &net.provider).await;
    let theirs = lease(&net, &other_provider).await;

    let provider_addr = net.provider_addr().to_string();
    let source = ChainLeaseSource::new(net.client.clone(), net.k.clone(), provider_addr.clone());

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
    let tenant_addr = net.tenant_addr().to_string();
    let net_tenant_key = net.tenant.public_key_bytes().to_vec();
    assert_eq!(
        source.public_key(&tenant_addr).await.unwrap(),
        Some(net.tenant.public_key_bytes().to_vec())
    );
    let silent_addr = net.client.address(&silent).unwrap();
    assert_eq!(source.public_key(&silent_addr).await.unwrap(), None);
    let stranger = Key::from_mnemonic_index(MNEMONIC, 99)
        .unwrap()
        .address("kumo")
        .unwrap();
    assert_eq!(source.public_key(&stranger).await.unwrap(), None);
    assert_eq!(source.public_key("not/an/address").await.unwrap(), None);

    // A closed lease is not served.
    net.close_lease(&mine).await;
    let after = source.leases(mine.dseq).await.unwrap();
    assert!(
        after.iter().all(|l| l.state != LeaseState::Active),
        "{after:?}"
    );

    // The node gone: an error, not "no such lease".
    let url = net.devnet.url().to_string();
    let (config, k) = (net.client.config().clone(), net.k.clone());
    net.stop().await;
    let err = source.leases(mine.dseq).await.unwrap_err();
    assert!(err.to_string().contains("chain query failed"), "{err}");
    let down = ChainLeaseSource::new(Client::new(&url, config).unwrap(), k, provider_addr);
    assert!(down.public_key(&tenant_addr).await.is_err());
    // A key once found is kept (an account's key never changes): the tenant's still checks
    // tokens; an account that had none is asked again, and the node is gone.
    assert_eq!(
        source.public_key(&tenant_addr).await.unwrap(),
        Some(net_tenant_key)
    );
    assert!(source.public_key(&silent_addr).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// The lease API over the chain source.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_api_checks_manifests_against_the_chain() {
    let net = Net::start(83, false).await;
    let stranger = net.funded_key(84).await;
    let lease_id = lease(&net, &net.provider).await;
    let manifest = kumo_sdl::parse(&hello_sdl()).unwrap().manifest;

    let provider_addr = net.provider_addr();
    let backend = Arc::new(MemoryBackend::default());
    let gateway = Gateway::new(
        GatewayConfig::new(provider_addr.clone(), "kumo"),
        backend.clone(),
        Arc::new(ChainLeaseSource::new(
            net.client.clone(),
            net.k.clone(),
            provider_addr.to_string(),
        )),
        Arc::new(MemoryManifestStore::new()),
        Arc::new(Mutex::new(inventory())),
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
    let tenant_addr = net.tenant_addr().to_string();
    let put = |token: String, body: Vec<u8>| {
        http.put(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    // A manifest that is not the one committed on chain: refused, nothing deployed.
    let mut altered = manifest.clone();
    altered.0[0].services[0]
        .env
        .get_or_insert_with(Vec::new)
        .push("EXTRA=1".into());
    let token = issue_with_chain_key(&net.tenant, &Claims::full(&tenant_addr, unix_now(), 300));
    let response = put(token.clone(), serde_json::to_vec(&altered).unwrap())
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{response:?}");
    assert!(backend.deploys().is_empty());

    // Someone else's token: forbidden.
    let stranger_addr = net.client.address(&stranger).unwrap();
    let other = issue_with_chain_key(&stranger, &Claims::full(&stranger_addr, unix_now(), 300));
    let response = put(other, serde_json::to_vec(&manifest).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // The tenant's manifest: deployed for the lease the chain knows.
    let response = put(token, serde_json::to_vec(&manifest).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(backend.deploys(), vec![lease_id]);

    running.shutdown().await.unwrap();
    net.stop().await;
}
