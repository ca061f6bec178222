//! Differential: the same scenario in cw-multi-test (the contracts as native Rust) and on the
//! devnet (the optimized wasm in wasmd's VM, through signed transactions) gives the same
//! contract events and the same state, step by step.

use cosmwasm_std::{
    coins, Addr, Api, CanonicalAddr, Coin, Decimal256, Empty, HexBinary, Storage, Timestamp,
};
use cw_multi_test::{
    AddressGenerator, App, AppBuilder, AppResponse, Executor, MockApiBech32, WasmKeeper,
};
use kumo::market::{self, NewBid, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{escrow, Attribute, DeploymentId};
use kumo_tests::devnet::{address, key, Driver};
use serde::Serialize;
use serde_json::Value;

const DENOM: &str = "ukumo";
const T0: u64 = 1_800_000_000;

/// wasmd's classic addresses: its instance sequence starts at 1, multi-test's count at 0.
struct WasmdAddresses;

impl AddressGenerator for WasmdAddresses {
    fn contract_address(
        &self,
        api: &dyn Api,
        _storage: &mut dyn Storage,
        code_id: u64,
        instance_id: u64,
    ) -> anyhow::Result<Addr> {
        let mut k = code_id.to_be_bytes().to_vec();
        k.extend_from_slice(&(instance_id + 1).to_be_bytes());
        let canonical = CanonicalAddr::from(kumo_devnet::keeper::module_address("wasm", &k));
        Ok(api.addr_humanize(&canonical)?)
    }
}

type MultiApp = App<
    cw_multi_test::BankKeeper,
    MockApiBech32,
    cosmwasm_std::testing::MockStorage,
    cw_multi_test::FailingModule<Empty, Empty, Empty>,
    WasmKeeper<Empty, Empty>,
>;

/// Both chains, driven in lockstep.
struct Both {
    multi: MultiApp,
    dev: Driver,
}

/// What a contract emitted: `wasm` and `wasm-*` events, without the devnet's `msg_index`.
fn contract_events(events: &[cosmwasm_std::Event]) -> Vec<(String, Vec<(String, String)>)> {
    events
        .iter()
        .filter(|e| e.ty.starts_with("wasm"))
        .map(|e| {
            (
                e.ty.clone(),
                e.attributes
                    .iter()
                    .filter(|a| a.key != "msg_index")
                    .map(|a| (a.key.clone(), a.value.clone()))
                    .collect(),
            )
        })
        .collect()
}

impl Both {
    fn new(accounts: &[String]) -> Both {
        let genesis: Vec<(String, Vec<Coin>)> = accounts
            .iter()
            .map(|a| (a.clone(), coins(1_000_000_000_000, DENOM)))
            .collect();
        let g = genesis.clone();
        let mut multi = AppBuilder::new()
            .with_api(MockApiBech32::new("kumo"))
            .with_wasm(WasmKeeper::new().with_address_generator(WasmdAddresses))
            .build(|router, _, storage| {
                for (a, c) in &g {
                    router
                        .bank
                        .init_balance(storage, &Addr::unchecked(a), c.clone())
                        .unwrap();
                }
            });
        multi.update_block(|b| b.time = Timestamp::from_seconds(T0));
        let mut dev = Driver::new("kumo-diff", DENOM, genesis);
        dev.app.fixed_time = Some(Timestamp::from_seconds(T0));
        Both { multi, dev }
    }

    fn store(&mut self, admin: &kumo_chain::Key, name: &str) {
        let contract = match name {
            "registry" => kumo_tests::registry_contract(),
            "escrow" => kumo_tests::escrow_contract(),
            "market" => kumo_tests::market_contract(),
            other => panic!("no contract {other}"),
        };
        let a = self.multi.store_code(contract);
        let b = self.dev.store(admin, name);
        assert_eq!(a, b, "code ids");
    }

    fn instantiate(
        &mut self,
        admin: &kumo_chain::Key,
        code: u64,
        msg: &impl Serialize,
        label: &str,
    ) -> String {
        let me = address(admin);
        let a = self
            .multi
            .instantiate_contract(
                code,
                Addr::unchecked(&me),
                msg,
                &[],
                label,
                Some(me.clone()),
            )
            .unwrap();
        let b = self.dev.instantiate(admin, code, msg, label);
        assert_eq!(a.as_str(), b, "wasmd's contract address in both");
        b
    }

    /// Runs the message on both; both must succeed with the same contract events.
    fn exec(
        &mut self,
        who: &kumo_chain::Key,
        contract: &str,
        msg: &(impl Serialize + std::fmt::Debug),
        funds: &[Coin],
    ) {
        let sender = Addr::unchecked(address(who));
        let a: AppResponse = self
            .multi
            .execute_contract(sender, Addr::unchecked(contract), msg, funds)
            .unwrap();
        let b = self.dev.exec(who, contract, msg, funds);
        assert_eq!(
            contract_events(&a.events),
            contract_events(&b.events),
            "events of {}",
            serde_json::to_string(msg).unwrap()
        );
    }

    fn query(&self, contract: &str, msg: &impl Serialize) -> Value {
        let a: Value = self.multi.wrap().query_wasm_smart(contract, msg).unwrap();
        let bytes = serde_json::to_vec(msg).unwrap();
        let b: Value = serde_json::from_slice(
            &self
                .dev
                .app
                .with_query(|e| e.query_smart(contract, &bytes))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(a, b, "query {}", serde_json::to_string(msg).unwrap());
        a
    }

    fn balance(&self, who: &str) {
        let a = self.multi.wrap().query_balance(who, DENOM).unwrap().amount;
        let b = self.dev.app.balance(who, DENOM).unwrap();
        assert_eq!(a, b, "balance of {who}");
    }

    fn advance(&mut self, secs: u64) {
        self.multi
            .update_block(|b| b.time = b.time.plus_seconds(secs));
        self.dev.advance(secs);
    }
}

#[test]
fn lease_lifecycle_matches_between_multi_test_and_the_devnet() {
    let (admin, tenant, provider) = (key(0), key(1), key(2));
    let accounts: Vec<String> = [&admin, &tenant, &provider]
        .iter()
        .map(|k| address(k))
        .collect();
    let mut both = Both::new(&accounts);
    let me = address(&admin);

    for name in ["registry", "escrow", "market"] {
        both.store(&admin, name);
    }
    let registry_addr = both.instantiate(
        &admin,
        1,
        &registry::InstantiateMsg {
            owner: me.clone(),
            market: None,
            limits: None,
        },
        "registry",
    );
    let config = kumo_chain::deploy::default_config(DENOM);
    let escrow_addr = both.instantiate(
        &admin,
        2,
        &escrow::InstantiateMsg {
            owner: me.clone(),
            market: None,
            treasury: me.clone(),
            guardian: None,
            params: None,
            denoms: config.escrow_denoms.clone(),
        },
        "escrow",
    );
    let market_addr = both.instantiate(
        &admin,
        3,
        &market::InstantiateMsg {
            owner: me.clone(),
            registry: registry_addr.clone(),
            escrow: escrow_addr.clone(),
            staking: None,
            guardian: None,
            params: Some(market::MarketParams {
                bid_min_deposits: config.bid_min_deposits.clone(),
                ..market::MarketParams::default()
            }),
        },
        "market",
    );
    both.exec(
        &admin,
        &registry_addr,
        &registry::ExecuteMsg::UpdateConfig {
            owner: None,
            market: Some(market_addr.clone()),
            limits: None,
        },
        &[],
    );
    both.exec(
        &admin,
        &escrow_addr,
        &escrow::ExecuteMsg::UpdateConfig {
            owner: None,
            market: Some(market_addr.clone()),
            treasury: None,
            guardian: None,
            params: None,
        },
        &[],
    );

    both.exec(
        &provider,
        &registry_addr,
        &registry::ExecuteMsg::RegisterProvider {
            host_uri: "https://provider.example.com:8443".into(),
            attributes: vec![Attribute::new("region", "local")],
            info: ProviderInfo::default(),
        },
        &[],
    );
    both.query(
        &registry_addr,
        &registry::QueryMsg::Provider {
            address: address(&provider),
        },
    );

    let sdl = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello.yaml"),
    )
    .unwrap();
    both.exec(
        &tenant,
        &market_addr,
        &market::ExecuteMsg::CreateDeployment(NewDeployment {
            groups: kumo_tests::Suite::groups_from_sdl(&sdl, DENOM),
            version: HexBinary::from(vec![7u8; 32]),
            auction_window: None,
            reclamation_min_window: None,
            provider_record: None,
        }),
        &coins(50_000_000, DENOM),
    );
    let deployment = DeploymentId::new(Addr::unchecked(address(&tenant)), 1);
    let order = deployment.group(1).order(1);
    both.exec(
        &provider,
        &market_addr,
        &market::ExecuteMsg::CreateBid(NewBid {
            order: order.clone(),
            price: Decimal256::one(),
            reclamation_window: None,
            offer: vec![],
        }),
        &coins(500_000, DENOM),
    );
    let lease = order.bid(Addr::unchecked(address(&provider)));
    both.exec(
        &tenant,
        &market_addr,
        &market::ExecuteMsg::CreateLease { bid: lease.clone() },
        &[],
    );
    both.query(&market_addr, &market::QueryMsg::Lease { id: lease.clone() });
    both.query(
        &escrow_addr,
        &escrow::QueryMsg::Account {
            id: escrow::AccountId::Deployment(deployment.clone()),
        },
    );

    both.advance(3_600);
    both.exec(
        &provider,
        &market_addr,
        &market::ExecuteMsg::WithdrawLease {
            lease: lease.clone(),
        },
        &[],
    );
    both.query(
        &escrow_addr,
        &escrow::QueryMsg::Payment {
            lease: lease.clone(),
        },
    );
    for who in [&accounts[1], &accounts[2], &escrow_addr, &market_addr] {
        both.balance(who);
    }

    both.advance(600);
    both.exec(
        &tenant,
        &market_addr,
        &market::ExecuteMsg::CloseDeployment { dseq: 1 },
        &[],
    );
    both.query(
        &market_addr,
        &market::QueryMsg::ProviderStats {
            provider: address(&provider),
        },
    );
    for who in [&accounts[1], &accounts[2], &escrow_addr, &market_addr, &me] {
        both.balance(who);
    }
}
