//! `ChainLeaseSource` against the devnet (the real contracts, over the REST API): the
//! provider's leases of a deployment, the deployment's on-chain record, tenants' public keys;
//! then the lease API on top of it, so that a manifest is checked against the version the
//! tenant committed to on chain. A lease lookup costs queries for the tenant's deployment only,
//! counted by a proxy in front of the devnet.
//!
//! The backend here is a fake that records deploys (the Docker backend has its own tests).

mod agent_common;

use std::sync::{Arc, Mutex};

use agent_common::proxy::RecordingProxy;
use agent_common::{hello_sdl, inventory, MemoryBackend, Net, DENOM, MNEMONIC};
use cosmwasm_std::{coin, Addr, Decimal256};
use kumo::market::{self, LeaseState};
use kumo::{DeploymentId, LeaseId, OrderId};
use kumo_chain::{tx, Client, Key};
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

    // Only this provider's leases of that deployment.
    let tenant = mine.owner.to_string();
    let leases = source.leases(&tenant, mine.dseq).await.unwrap();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].id, mine);
    assert_eq!(leases[0].state, LeaseState::Active);
    assert!(source
        .leases(&tenant, theirs.dseq)
        .await
        .unwrap()
        .is_empty());
    assert!(source.leases(&tenant, 9_999).await.unwrap().is_empty());
    // Not an address: no leases, not a chain error.
    assert!(source
        .leases("Not/An/Address", mine.dseq)
        .await
        .unwrap()
        .is_empty());

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
    let after = source.leases(&tenant, mine.dseq).await.unwrap();
    assert!(
        after.iter().all(|l| l.state != LeaseState::Active),
        "{after:?}"
    );

    // The node gone: an error, not "no such lease".
    let url = net.devnet.url().to_string();
    let (config, k) = (net.client.config().clone(), net.k.clone());
    net.stop().await;
    let err = source.leases(&tenant, mine.dseq).await.unwrap_err();
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

/// `n` deployments of the hello SDL by `tenant` in one transaction; their orders, oldest first.
async fn deployments(net: &Net, tenant: &Key, n: usize) -> Vec<OrderId> {
    let owner = net.client.address(tenant).unwrap();
    let msgs = (0..n)
        .map(|_| {
            let (msg, _) = Net::new_deployment(&hello_sdl());
            tx::msg_execute(
                &owner,
                &net.k.market,
                &market::ExecuteMsg::CreateDeployment(msg),
                &[coin(5_000_000, DENOM)],
            )
            .unwrap()
        })
        .collect();
    let res = net
        .client
        .sign_and_broadcast(tenant, msgs, "")
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
    assert_eq!(dseqs.len(), n);
    let owner = Addr::unchecked(owner);
    dseqs
        .into_iter()
        .map(|d| DeploymentId::new(owner.clone(), d).group(1).order(1))
        .collect()
}

/// `provider` bids on every order in one transaction, and their tenant accepts them all in
/// another: one lease per order.
async fn lease_all(net: &Net, provider: &Key, tenant: &Key, orders: &[OrderId]) -> Vec<LeaseId> {
    let provider_addr = net.client.address(provider).unwrap();
    let bids = orders
        .iter()
        .map(|order| {
            tx::msg_execute(
                &provider_addr,
                &net.k.market,
                &market::ExecuteMsg::CreateBid(market::NewBid {
                    order: order.clone(),
                    price: Decimal256::from_ratio(1u128, 4u128),
                    reclamation_window: None,
                    offer: vec![],
                }),
                &[coin(500_000, DENOM)],
            )
            .unwrap()
        })
        .collect();
    net.client
        .sign_and_broadcast(provider, bids, "")
        .await
        .unwrap();
    let ids: Vec<LeaseId> = orders
        .iter()
        .map(|o| o.bid(Addr::unchecked(provider_addr.clone())))
        .collect();
    let tenant_addr = net.client.address(tenant).unwrap();
    let accepts = ids
        .iter()
        .map(|bid| {
            tx::msg_execute(
                &tenant_addr,
                &net.k.market,
                &market::ExecuteMsg::CreateLease { bid: bid.clone() },
                &[],
            )
            .unwrap()
        })
        .collect();
    net.client
        .sign_and_broadcast(tenant, accepts, "")
        .await
        .unwrap();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_lookup_reads_only_the_deployments_leases() {
    let net = Net::start(85, false).await;
    let other_provider = net.funded_key(86).await;
    net.register(&other_provider).await;
    let other_tenant = net.funded_key(87).await;

    // The tenant's 80 deployments, another tenant's 40 in between (dseqs are global), then more
    // of the tenant's. This provider leases all of the other tenant's and three in four of the
    // tenant's (60); the other provider every fourth of the tenant's (20).
    let mut tenant_orders = deployments(&net, &net.tenant, 40).await;
    let other_orders = deployments(&net, &other_tenant, 40).await;
    tenant_orders.extend(deployments(&net, &net.tenant, 40).await);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for (i, order) in tenant_orders.iter().enumerate() {
        if i % 4 == 3 { &mut theirs } else { &mut ours }.push(order.clone());
    }
    let mine = lease_all(&net, &net.provider, &net.tenant, &ours).await;
    let other_provider_leases = lease_all(&net, &other_provider, &net.tenant, &theirs).await;
    let other_owner_leases = lease_all(&net, &net.provider, &other_tenant, &other_orders).await;

    let provider_addr = net.provider_addr().to_string();
    let proxy = RecordingProxy::start(net.devnet.url()).await;
    let client = Client::new(&proxy.url, net.client.config().clone()).unwrap();
    let source = ChainLeaseSource::new(client, net.k.clone(), provider_addr.clone());

    // What the provider-wide listing cost per request: every page of its 100 leases.
    let mut provider_pages = 0;
    let mut provider_leases = 0;
    let mut start_after = None;
    loop {
        let page: market::LeasesResponse = net
            .k
            .query_market(
                &net.client,
                &market::QueryMsg::ProviderLeases {
                    provider: provider_addr.clone(),
                    start_after: start_after.clone(),
                    limit: Some(30),
                },
            )
            .await
            .unwrap();
        provider_pages += 1;
        provider_leases += page.leases.len();
        match page.leases.last() {
            Some(last) => start_after = Some(last.id.clone()),
            None => break,
        }
    }
    assert_eq!(provider_leases, mine.len() + other_owner_leases.len());
    assert_eq!(provider_leases, 60 + 40);
    assert_eq!(
        provider_pages,
        4 + 1,
        "100 leases in pages of 30, then an empty one"
    );

    // Each of the tenant's deployments: exactly this provider's lease, in one query (two for
    // the tenant's last deployment, whose page ends without a later one).
    let tenant = net.tenant_addr().to_string();
    let last_dseq = tenant_orders.last().unwrap().dseq;
    for lease in &mine {
        let found = source.leases(&tenant, lease.dseq).await.unwrap();
        let ids: Vec<&LeaseId> = found.iter().map(|l| &l.id).collect();
        assert_eq!(ids, vec![lease], "deployment {}", lease.dseq);
        let queries = proxy.take_requests();
        let bound = if lease.dseq == last_dseq { 2 } else { 1 };
        assert!(queries <= bound, "{queries} queries for {lease}");
    }
    // The other provider's leases of the tenant: not this provider's.
    for lease in &other_provider_leases {
        assert!(source.leases(&tenant, lease.dseq).await.unwrap().is_empty());
        assert!(proxy.take_requests() <= 2);
    }
    // The other tenant's deployments are never the tenant's, though this provider leases them.
    for lease in &other_owner_leases {
        assert!(source.leases(&tenant, lease.dseq).await.unwrap().is_empty());
        assert!(proxy.take_requests() <= 2);
        let found = source
            .leases(lease.owner.as_str(), lease.dseq)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(&found[0].id, lease);
        assert!(proxy.take_requests() <= 2);
    }
    // Nor is any of the tenant's the other tenant's.
    let other_tenant = net.client.address(&other_tenant).unwrap();
    for lease in &mine {
        assert!(source
            .leases(&other_tenant, lease.dseq)
            .await
            .unwrap()
            .is_empty());
    }
    // dseq 0 (no cursor) and a dseq past every deployment.
    assert!(source.leases(&tenant, 0).await.unwrap().is_empty());
    assert!(source
        .leases(&tenant, last_dseq + 1_000)
        .await
        .unwrap()
        .is_empty());

    drop(proxy);
    net.stop().await;
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

    // Someone else's token: the lease is looked up under its issuer, who has none.
    let stranger_addr = net.client.address(&stranger).unwrap();
    let other = issue_with_chain_key(&stranger, &Claims::full(&stranger_addr, unix_now(), 300));
    let response = put(other, serde_json::to_vec(&manifest).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(backend.deploys().is_empty());

    // The tenant's manifest: deployed for the lease the chain knows.
    let response = put(token, serde_json::to_vec(&manifest).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(backend.deploys(), vec![lease_id]);

    running.shutdown().await.unwrap();
    net.stop().await;
}
