//! The tenant, provider and governance commands end to end: a `kumo devnet` child process with
//! the suite deployed, and a provider's lease API (the provider crate's `Gateway` over TLS, with
//! a chain-backed lease source and an in-memory fake backend) started in this process. The
//! provider's host URI and TLS pin are registered with `kumo provider`, so `send-manifest`,
//! `status` and `logs` go through the registry's pin exactly as against a real agent.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, repo, Devnet, Env, DEV_MNEMONIC};
use cosmwasm_std::{coins, Addr, Decimal256, Uint128};
use futures_util::StreamExt as _;
use kumo::market::{self, Lease};
use kumo::{governance, Denom, DeploymentId, LeaseId};
use kumo_chain::{Client, Key, KumoContracts};
use kumo_provider::backend::{
    Backend, BackendError, BoxFuture, DeployOutcome, DeployedLease, EventStream, Group,
    LeaseStatus, LogLine, LogOptions, LogSource, LogStream, ReplicaState, ReplicaStatus,
    ServiceStatus,
};
use kumo_provider::gateway::{
    Gateway, GatewayConfig, LeaseSource, MemoryManifestStore, OnChainDeployment, SourceError,
    TlsConfig,
};
use kumo_provider::inventory::{Inventory, InventoryConfig, NodeCapacity};
use predicates::str::contains;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// The provider's side: a lease source over the chain and a fake backend.

struct ChainSource {
    client: Client,
    market: String,
    provider: String,
}

impl LeaseSource for ChainSource {
    fn leases(&self, dseq: u64) -> BoxFuture<'_, Result<Vec<Lease>, SourceError>> {
        Box::pin(async move {
            let r: market::LeasesResponse = self
                .client
                .query_smart(
                    &self.market,
                    &market::QueryMsg::ProviderLeases {
                        provider: self.provider.clone(),
                        start_after: None,
                        limit: Some(100),
                    },
                )
                .await
                .map_err(|e| SourceError::new(e.to_string()))?;
            Ok(r.leases.into_iter().filter(|l| l.id.dseq == dseq).collect())
        })
    }

    fn deployment<'a>(
        &'a self,
        id: &'a DeploymentId,
    ) -> BoxFuture<'a, Result<Option<OnChainDeployment>, SourceError>> {
        Box::pin(async move {
            let r: market::DeploymentResponse = self
                .client
                .query_smart(
                    &self.market,
                    &market::QueryMsg::Deployment { id: id.clone() },
                )
                .await
                .map_err(|e| SourceError::new(e.to_string()))?;
            Ok(Some(r.into()))
        })
    }
}

#[derive(Default)]
struct FakeBackend {
    running: Mutex<BTreeMap<LeaseId, Group>>,
}

impl FakeBackend {
    fn running(&self, lease: &LeaseId) -> Result<Group, BackendError> {
        self.running
            .lock()
            .unwrap()
            .get(lease)
            .cloned()
            .ok_or_else(|| BackendError::LeaseNotFound {
                lease: lease.to_string(),
            })
    }
}

/// `line 0` .. `line 4` of a service, then with `follow` three `tick N` lines 20 ms apart.
fn service_logs(service: String, tail: Option<u64>, follow: bool) -> LogStream {
    let line = move |message: String| LogLine {
        service: service.clone(),
        replica: 0,
        source: LogSource::Stdout,
        message,
    };
    let skip = tail.map_or(0, |t| 5u64.saturating_sub(t)) as usize;
    let history: Vec<Result<LogLine, BackendError>> = (0..5)
        .skip(skip)
        .map(|i| Ok(line(format!("line {i}"))))
        .collect();
    let history = futures_util::stream::iter(history);
    if !follow {
        return history.boxed();
    }
    let ticks = futures_util::stream::unfold(0u32, move |n| {
        let line = line.clone();
        async move {
            if n == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok(line(format!("tick {n}"))), n + 1))
        }
    });
    history.chain(ticks).boxed()
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn deploy<'a>(
        &'a self,
        lease: &'a LeaseId,
        group: &'a Group,
    ) -> BoxFuture<'a, Result<DeployOutcome, BackendError>> {
        Box::pin(async move {
            let previous = self
                .running
                .lock()
                .unwrap()
                .insert(lease.clone(), group.clone());
            Ok(match previous {
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
            let group = self.running(lease)?;
            let mut services = BTreeMap::new();
            for s in &group.services {
                services.insert(
                    s.name.clone(),
                    ServiceStatus {
                        name: s.name.clone(),
                        total: s.count,
                        ready: s.count,
                        uris: vec![format!("http://{}.provider.test", s.name)],
                        forwarded_ports: vec![],
                        replicas: (0..s.count)
                            .map(|i| ReplicaStatus {
                                index: i,
                                id: format!("{}-{i}", s.name),
                                state: ReplicaState::Running,
                                detail: "Up 3 seconds".to_string(),
                            })
                            .collect(),
                    },
                );
            }
            Ok(LeaseStatus { services })
        })
    }

    fn logs<'a>(
        &'a self,
        lease: &'a LeaseId,
        options: LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, BackendError>> {
        Box::pin(async move {
            let group = self.running(lease)?;
            if let Some(missing) = options
                .services
                .iter()
                .find(|n| !group.services.iter().any(|s| &&s.name == n))
            {
                return Err(BackendError::ServiceNotFound {
                    lease: lease.to_string(),
                    service: missing.clone(),
                });
            }
            let streams: Vec<LogStream> = group
                .services
                .iter()
                .filter(|s| options.services.is_empty() || options.services.contains(&s.name))
                .map(|s| service_logs(s.name.clone(), options.tail, options.follow))
                .collect();
            Ok(futures_util::stream::select_all(streams).boxed())
        })
    }

    fn events<'a>(
        &'a self,
        lease: &'a LeaseId,
        _follow: bool,
    ) -> BoxFuture<'a, Result<EventStream, BackendError>> {
        Box::pin(async move {
            self.running(lease)?;
            Ok(futures_util::stream::empty().boxed())
        })
    }

    fn teardown<'a>(&'a self, lease: &'a LeaseId) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            self.running.lock().unwrap().remove(lease);
            Ok(())
        })
    }

    fn leases(&self) -> BoxFuture<'_, Result<Vec<DeployedLease>, BackendError>> {
        Box::pin(async move { Ok(vec![]) })
    }
}

#[test]
fn tenant_provider_and_governance_commands_end_to_end() {
    let home = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(home.path());
    let env = Env {
        home,
        node: devnet.url.clone(),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let chain = client(&devnet.url);
    let suite: kumo_chain::DeployedSuite = serde_json::from_str(
        &std::fs::read_to_string(env.home.path().join("devnet/suite.json")).unwrap(),
    )
    .unwrap();
    let contracts = suite.contracts.clone();
    let faucet = Key::from_mnemonic(DEV_MNEMONIC).unwrap();

    // Keys: the tenant recovers the funded development account; the provider and a poor
    // account get new mnemonics.
    let tenant = env
        .kumo()
        .args(["--output", "json", "keys", "add", "tenant", "--recover"])
        .write_stdin(format!("{DEV_MNEMONIC}\n"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let tenant: Value = serde_json::from_slice(&tenant).unwrap();
    let tenant = tenant["address"].as_str().unwrap().to_string();
    assert_eq!(tenant, faucet.address("kumo").unwrap());
    let provider = env.json(&["keys", "add", "provider"]);
    assert_eq!(
        provider["mnemonic"].as_str().unwrap().split(' ').count(),
        24
    );
    let provider_key = Key::from_mnemonic(provider["mnemonic"].as_str().unwrap()).unwrap();
    let provider = provider["address"].as_str().unwrap().to_string();
    let poor = env.json(&["keys", "add", "poor"])["address"]
        .as_str()
        .unwrap()
        .to_string();
    rt.block_on(async {
        chain
            .send(&faucet, &provider, &coins(100_000_000, "ukumo"))
            .await
            .unwrap();
        chain
            .send(&faucet, &poor, &coins(1_000, "ukumo"))
            .await
            .unwrap();
    });
    let listed = env.json(&["keys", "list"]);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 3);

    // The provider's lease API, over TLS with a self-signed certificate.
    let cert_dir = tempfile::tempdir().unwrap();
    let cert = TlsConfig::SelfSigned {
        dir: cert_dir.path().to_path_buf(),
        hostnames: vec!["localhost".into()],
    }
    .load()
    .unwrap();
    let backend = Arc::new(FakeBackend::default());
    let gateway = Gateway::new(
        GatewayConfig::new(Addr::unchecked(&provider), "kumo"),
        backend.clone(),
        Arc::new(ChainSource {
            client: chain.clone(),
            market: contracts.market.clone(),
            provider: provider.clone(),
        }),
        Arc::new(MemoryManifestStore::new()),
        Arc::new(Mutex::new(
            Inventory::new(InventoryConfig {
                nodes: vec![NodeCapacity {
                    name: "node-1".into(),
                    cpu_millis: 8000,
                    memory: 16 << 30,
                    ephemeral_storage: 100 << 30,
                    gpus: vec![],
                }],
                storage_classes: BTreeMap::new(),
            })
            .unwrap(),
        )),
    );
    let running = rt
        .block_on(gateway.start("127.0.0.1:0".parse().unwrap(), &cert))
        .unwrap();
    let host_uri = format!("https://127.0.0.1:{}", running.local_addr().port());

    // Provider: register, bond, publish the TLS pin and an API key.
    let p = ["--from", "provider"];
    let out = env.json(
        &[
            &p[..],
            &[
                "provider",
                "register",
                "--host-uri",
                &host_uri,
                "--attr",
                "region=local",
            ],
        ]
        .concat(),
    );
    assert!(out["txhash"].is_string());
    env.json(
        &[
            &p[..],
            &[
                "provider",
                "update",
                "--host-uri",
                &host_uri,
                "--attr",
                "region=local",
                "--email",
                "ops@provider.test",
            ],
        ]
        .concat(),
    );
    env.json(&[&p[..], &["provider", "bond", "20000000ukumo"]].concat());
    env.json(
        &[
            &p[..],
            &["provider", "keys", "set-tls-pins", &cert.pin_hex()],
        ]
        .concat(),
    );
    env.json(
        &[
            &p[..],
            &["provider", "keys", "add-api-key", "--id", "agent-1"],
        ]
        .concat(),
    );
    let keys = env.json(&[&p[..], &["provider", "keys", "list"]].concat());
    assert_eq!(keys["tls_pins"][0], cert.pin_hex());
    assert_eq!(keys["api_keys"][0]["id"], "agent-1");
    env.json(
        &[
            &p[..],
            &["provider", "keys", "add-api-key", "--id", "agent-2"],
        ]
        .concat(),
    );
    env.json(&[&p[..], &["provider", "keys", "revoke-api-key", "agent-2"]].concat());
    let keys = env.text(&[&p[..], &["provider", "keys", "list"]].concat());
    assert!(
        keys.contains("agent-1") && keys.contains("active"),
        "{keys}"
    );
    assert!(
        keys.contains("agent-2") && keys.contains("revoked"),
        "{keys}"
    );
    let shown = env.text(&["provider", "show", &provider, "--from", "tenant"]);
    assert!(shown.contains("region=local"), "{shown}");
    assert!(shown.contains("bond: 20000000"), "{shown}");

    // Tenant: deploy hello.yaml.
    let sdl = repo("examples/hello.yaml");
    let sdl = sdl.to_str().unwrap();
    let t = ["--from", "tenant"];
    let created = env.json(&[&t[..], &["deploy", sdl, "--deposit", "5000000ukumo"]].concat());
    let dseq = created["dseq"].as_u64().unwrap();
    assert_eq!(created["owner"], tenant.as_str());
    assert_eq!(created["groups"][0]["name"], "local");
    // 100 ukumo per 6 s block, for 2 629 800 s.
    assert_eq!(created["groups"][0]["max_price_per_month"], "43830000.00");
    let dseq_s = dseq.to_string();

    // Bad inputs against the chain.
    env.kumo()
        .args(["--from", "poor", "deploy", sdl, "--deposit", "5000000ukumo"])
        .assert()
        .failure()
        .stderr(contains("insufficient funds"))
        .stderr(contains("has 1000ukumo and this needs 5000000ukumo"));
    env.kumo()
        .args(["--from", "tenant", "bids", "999"])
        .assert()
        .failure()
        .stderr(contains(format!(
            "deployment 999 of {tenant} not found: list yours with `kumo status`"
        )));

    // No bids yet; then the provider bids (as its agent would).
    let none = env.json(&[&t[..], &["bids", &dseq_s]].concat());
    assert_eq!(none["bids"].as_array().unwrap().len(), 0);
    rt.block_on(async {
        let order = DeploymentId::new(Addr::unchecked(&tenant), dseq)
            .group(1)
            .order(1);
        chain
            .execute(
                &provider_key,
                &contracts.market,
                &market::ExecuteMsg::CreateBid(market::NewBid {
                    order,
                    price: Decimal256::percent(150),
                    reclamation_window: None,
                    offer: vec![],
                }),
                &coins(500_000, "ukumo"),
            )
            .await
            .unwrap();
    });
    let bids = env.json(&[&t[..], &["bids", &dseq_s, "--wait", "--timeout", "30"]].concat());
    let bid = &bids["bids"][0];
    assert_eq!(bid["provider"], provider.as_str());
    assert_eq!(bid["price_per_second"], "1.5");
    assert_eq!(bid["price_per_month"], "3944700.00");
    assert_eq!(bid["attributes"][0], "region=local");
    assert_eq!(bid["reputation"]["slashes"], 0);
    let table = env.text(&[&t[..], &["bids", &dseq_s]].concat());
    assert!(
        table.contains("PRICE/MONTH") && table.contains("3944700.00 ukumo"),
        "{table}"
    );

    // Lease, manifest, status, logs.
    env.kumo()
        .args([&t[..], &["lease", "create", &dseq_s, "--provider", &poor]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "no bid from {poor} on order {tenant}/{dseq}/1/1"
        )));
    let lease = env.json(
        &[
            &t[..],
            &["lease", "create", &dseq_s, "--provider", &provider],
        ]
        .concat(),
    );
    assert_eq!(lease["lease"]["provider"], provider.as_str());
    let sent = env.json(&[&t[..], &["send-manifest", sdl, "--dseq", &dseq_s]].concat());
    assert_eq!(sent["providers"][0]["response"]["status"], "deployed");
    assert_eq!(
        sent["providers"][0]["response"]["leases"][0]["outcome"],
        "created"
    );
    let status = env.json(&[&t[..], &["status", &dseq_s]].concat());
    assert_eq!(status["deployment"]["state"], "active");
    assert_eq!(status["lease_status"][0]["status"]["ready"], true);
    assert_eq!(
        status["lease_status"][0]["status"]["services"]["web"]["uris"][0],
        "http://web.provider.test"
    );
    let text = env.text(&[&t[..], &["status", &dseq_s]].concat());
    assert!(
        text.contains("web: 1/1 ready, http://web.provider.test"),
        "{text}"
    );
    let logs = env.text(&[&t[..], &["logs", &dseq_s, "--tail", "2"]].concat());
    assert_eq!(logs, "web[0]: line 3\nweb[0]: line 4\n");
    let followed = env.text(&[&t[..], &["logs", &dseq_s, "-f", "--service", "web"]].concat());
    assert!(followed.ends_with("web[0]: tick 2\n"), "{followed}");
    let ndjson = env.text(
        &[
            &t[..],
            &["--output", "json", "logs", &dseq_s, "--tail", "1"],
        ]
        .concat(),
    );
    let line: Value = serde_json::from_str(ndjson.trim()).unwrap();
    assert_eq!(line["message"], "line 4");
    env.kumo()
        .args([&t[..], &["logs", &dseq_s, "--service", "db"]].concat())
        .assert()
        .failure()
        .stderr(contains("has no service \"db\""));

    // A manifest that is not the deployment's is refused before it is sent.
    let other = env.home.path().join("other.yaml");
    std::fs::write(
        &other,
        std::fs::read_to_string(sdl)
            .unwrap()
            .replace("hello from Kumo", "hello from elsewhere"),
    )
    .unwrap();
    env.kumo()
        .args(
            [
                &t[..],
                &["send-manifest", other.to_str().unwrap(), "--dseq", &dseq_s],
            ]
            .concat(),
        )
        .assert()
        .failure()
        .stderr(contains("send the SDL it was created from"));

    // Only the pinned key is trusted: with another pin in the registry, nothing is sent.
    let wrong_pin = "00".repeat(32);
    env.json(&[&p[..], &["provider", "keys", "set-tls-pins", &wrong_pin]].concat());
    env.kumo()
        .args([&t[..], &["send-manifest", sdl, "--dseq", &dseq_s]].concat())
        .assert()
        .failure()
        .stderr(contains(format!("cannot reach provider {provider}")))
        .stderr(contains(
            "does its certificate match the pin in the registry?",
        ));
    let status = env.json(&[&t[..], &["status", &dseq_s]].concat());
    assert!(status["lease_status"][0]["error"]
        .as_str()
        .unwrap()
        .contains("cannot reach provider"));
    env.json(
        &[
            &p[..],
            &["provider", "keys", "set-tls-pins", &cert.pin_hex()],
        ]
        .concat(),
    );

    // Text output: the groups and their monthly price, and what to do next; the deposit
    // defaults to the escrow's minimum.
    let out = env
        .kumo()
        .args([&t[..], &["deploy", sdl]].concat())
        .assert()
        .success()
        .stderr(contains("MAX PRICE/MONTH"))
        .stderr(contains("43830000.00 ukumo"))
        .stdout(contains("kumo bids"))
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let second: u64 = out
        .split(&format!("created deployment {tenant}/"))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no dseq in {out:?}"));
    assert!(second > dseq, "{out}");
    env.kumo()
        .args([&t[..], &["close", &second.to_string()]].concat())
        .assert()
        .success()
        .stdout(contains("closed and its escrow refunded"));

    // Deposit, list, close the lease and the deployment.
    let dep = env.json(&[&t[..], &["deposit", &dseq_s, "1000000ukumo"]].concat());
    assert_eq!(dep["deposit"], "1000000ukumo");
    let mine = env.json(&[&t[..], &["status"]].concat());
    assert_eq!(mine["deployments"][0]["id"]["dseq"], dseq);
    env.json(&[&t[..], &["lease", "close", &dseq_s]].concat());
    env.json(&[&t[..], &["close", &dseq_s]].concat());
    // Closed deployments are pruned from the market's state.
    env.kumo()
        .args([&t[..], &["close", &dseq_s]].concat())
        .assert()
        .failure()
        .stderr(contains(format!("deployment {dseq} of {tenant} not found")));

    // The provider leaves: deregister, finish (no lease is active), unbond.
    env.json(&[&p[..], &["provider", "deregister"]].concat());
    env.json(&[&p[..], &["provider", "deregister", "--finish"]].concat());
    env.json(&[&p[..], &["provider", "unbond", "1000000ukumo"]].concat());
    env.kumo()
        .args([&p[..], &["provider", "show"]].concat())
        .assert()
        .failure()
        .stderr(contains("is not a registered provider"));

    // Governance: the devnet does not deploy it, so instantiate one and name it in a suite file.
    let gov = rt.block_on(async {
        let wasm = std::fs::read(repo("artifacts/kumo_governance.wasm")).unwrap();
        let code = chain.store_code(&faucet, wasm).await.unwrap();
        chain
            .instantiate(
                &faucet,
                code,
                &governance::InstantiateMsg {
                    params: governance::GovernanceParams {
                        denom: Denom::Native("ukumo".into()),
                        proposal_deposit: Uint128::new(1_000),
                        voting_period: 6,
                        quorum: cosmwasm_std::Decimal::percent(10),
                        threshold: cosmwasm_std::Decimal::percent(50),
                        veto_threshold: cosmwasm_std::Decimal::percent(33),
                        timelock: 0,
                        refund_rejected: true,
                        max_messages: 10,
                    },
                },
                "kumo-governance",
                None,
                &[],
            )
            .await
            .unwrap()
    });
    let gov_suite = env.home.path().join("gov-suite.json");
    std::fs::write(
        &gov_suite,
        serde_json::to_vec(&KumoContracts {
            governance: gov,
            ..contracts.clone()
        })
        .unwrap(),
    )
    .unwrap();
    let gs = ["--from", "tenant", "--suite", gov_suite.to_str().unwrap()];
    env.json(&[&gs[..], &["gov", "lock", "1000000ukumo"]].concat());
    let proposed = env.json(&[&gs[..], &["gov", "propose", "--title", "A text proposal"]].concat());
    let opened = Instant::now();
    assert_eq!(proposed["proposal_id"], 1);
    env.json(&[&gs[..], &["gov", "vote", "1", "yes"]].concat());
    env.kumo()
        .args([&gs[..], &["gov", "vote", "1", "no"]].concat())
        .assert()
        .failure()
        .stderr(contains("refused: "))
        .stderr(contains("already voted on proposal 1"));
    env.kumo()
        .args([&gs[..], &["gov", "execute", "1"]].concat())
        .assert()
        .failure()
        .stderr(contains("refused: voting on proposal 1 runs until"));
    env.kumo()
        .args([&gs[..], &["gov", "execute", "7"]].concat())
        .assert()
        .failure()
        .stderr(contains("proposal 7 not found"));
    std::thread::sleep(Duration::from_secs(7).saturating_sub(opened.elapsed()));
    let executed = env.json(&[&gs[..], &["gov", "execute", "1"]].concat());
    assert_eq!(executed["status"], "executed");
    let list = env.json(&[&gs[..], &["gov", "list"]].concat());
    assert_eq!(list["proposals"][0]["status"], "executed");
    assert_eq!(list["proposals"][0]["tally"]["yes"], "1000000");

    rt.block_on(running.shutdown()).unwrap();
}
