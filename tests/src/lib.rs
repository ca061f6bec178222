//! A `Suite` that instantiates Kumo's contracts in cw-multi-test, wires them together and offers
//! methods named after what users do (`suite.create_deployment(..)`, `suite.bid(..)`,
//! `suite.advance_seconds(..)`), so scenarios read like the story they test.

pub mod devnet;

use anyhow::Result as AnyResult;
use cosmwasm_std::{coin, coins, Addr, Decimal, Decimal256, Empty, HexBinary, Uint128};
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};

use kumo::escrow::{self, AccountId, DenomConfig};
use kumo::market::{self, NewBid, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{Attribute, BidId, Denom, DeploymentId, GroupSpec, OrderId};

/// The suite's default denomination.
pub const DENOM: &str = "ukumo";
/// An IBC denomination the suite also accepts.
pub const IBC_DENOM: &str = "ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2";

pub fn registry_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            kumo_registry::contract::execute,
            kumo_registry::contract::instantiate,
            kumo_registry::contract::query,
        )
        .with_migrate(kumo_registry::contract::migrate),
    )
}

pub fn escrow_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            kumo_escrow::contract::execute,
            kumo_escrow::contract::instantiate,
            kumo_escrow::contract::query,
        )
        .with_reply(kumo_escrow::contract::reply)
        .with_migrate(kumo_escrow::contract::migrate),
    )
}

pub fn market_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            kumo_market::contract::execute,
            kumo_market::contract::instantiate,
            kumo_market::contract::query,
        )
        .with_migrate(kumo_market::contract::migrate),
    )
}

pub fn staking_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            kumo_staking::contract::execute,
            kumo_staking::contract::instantiate,
            kumo_staking::contract::query,
        )
        .with_migrate(kumo_staking::contract::migrate),
    )
}

pub fn governance_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            kumo_governance::contract::execute,
            kumo_governance::contract::instantiate,
            kumo_governance::contract::query,
        )
        .with_migrate(kumo_governance::contract::migrate),
    )
}

/// Staking parameters the suite uses: a 10,000,000 `DENOM` minimum bond, heartbeats every
/// 300 s with 3 periods of grace, a 10% slash of which 10% goes to the reporter and 50% to
/// the tenants.
pub fn staking_params() -> kumo::staking::StakingParams {
    kumo_chain::deploy::staking_params(DENOM)
}

pub struct Suite {
    pub app: App,
    pub owner: Addr,
    pub treasury: Addr,
    pub registry: Addr,
    pub escrow: Addr,
    pub market: Addr,
    /// Set by [`Suite::with_staking`].
    pub staking: Option<Addr>,
}

/// Accounts every suite funds with `DENOM` and `IBC_DENOM`.
pub const FUNDED: &[&str] = &[
    "tenant",
    "tenant2",
    "provider1",
    "provider2",
    "provider3",
    "auditor",
    "keeper",
    "sponsor",
];
pub const STARTING_BALANCE: u128 = 1_000_000_000_000;

impl Suite {
    pub fn new() -> Self {
        let mut app = App::new(|router, api, storage| {
            for name in FUNDED {
                let addr = api.addr_make(name);
                router
                    .bank
                    .init_balance(
                        storage,
                        &addr,
                        vec![
                            coin(STARTING_BALANCE, DENOM),
                            coin(STARTING_BALANCE, IBC_DENOM),
                        ],
                    )
                    .unwrap();
            }
        });
        let owner = app.api().addr_make("governance");
        let treasury = app.api().addr_make("treasury");

        let registry_code = app.store_code(registry_contract());
        let escrow_code = app.store_code(escrow_contract());
        let market_code = app.store_code(market_contract());

        let registry = app
            .instantiate_contract(
                registry_code,
                owner.clone(),
                &registry::InstantiateMsg {
                    owner: owner.to_string(),
                    market: None,
                    limits: None,
                },
                &[],
                "registry",
                Some(owner.to_string()),
            )
            .unwrap();
        let denoms = [DENOM, IBC_DENOM]
            .iter()
            .map(|d| DenomConfig {
                denom: Denom::Native(d.to_string()),
                min_deposit: Uint128::new(5_000_000),
                take_rate: Decimal::percent(2),
            })
            .collect();
        let escrow = app
            .instantiate_contract(
                escrow_code,
                owner.clone(),
                &escrow::InstantiateMsg {
                    owner: owner.to_string(),
                    market: None,
                    treasury: treasury.to_string(),
                    guardian: None,
                    params: None,
                    denoms,
                },
                &[],
                "escrow",
                Some(owner.to_string()),
            )
            .unwrap();
        let market = app
            .instantiate_contract(
                market_code,
                owner.clone(),
                &market::InstantiateMsg {
                    owner: owner.to_string(),
                    registry: registry.to_string(),
                    escrow: escrow.to_string(),
                    staking: None,
                    guardian: None,
                    params: Some(market::MarketParams {
                        bid_min_deposits: vec![
                            kumo::Asset {
                                denom: Denom::Native(DENOM.into()),
                                amount: Uint128::new(500_000),
                            },
                            kumo::Asset {
                                denom: Denom::Native(IBC_DENOM.into()),
                                amount: Uint128::new(500_000),
                            },
                        ],
                        ..market::MarketParams::default()
                    }),
                },
                &[],
                "market",
                Some(owner.to_string()),
            )
            .unwrap();

        // The market is created last; tell the others where it is.
        app.execute_contract(
            owner.clone(),
            registry.clone(),
            &registry::ExecuteMsg::UpdateConfig {
                owner: None,
                market: Some(market.to_string()),
                limits: None,
            },
            &[],
        )
        .unwrap();
        app.execute_contract(
            owner.clone(),
            escrow.clone(),
            &escrow::ExecuteMsg::UpdateConfig {
                owner: None,
                market: Some(market.to_string()),
                treasury: None,
                guardian: None,
                params: None,
            },
            &[],
        )
        .unwrap();

        Suite {
            app,
            owner,
            treasury,
            registry,
            escrow,
            market,
            staking: None,
        }
    }

    /// The suite with the staking contract wired in: providers must bond to bid.
    pub fn with_staking() -> Self {
        let mut suite = Suite::new();
        let code = suite.app.store_code(staking_contract());
        let owner = suite.owner.clone();
        let staking = suite
            .app
            .instantiate_contract(
                code,
                owner.clone(),
                &kumo::staking::InstantiateMsg {
                    owner: owner.to_string(),
                    market: Some(suite.market.to_string()),
                    treasury: suite.treasury.to_string(),
                    arbiter: None,
                    params: staking_params(),
                },
                &[],
                "staking",
                Some(owner.to_string()),
            )
            .unwrap();
        suite
            .app
            .execute_contract(
                owner,
                suite.market.clone(),
                &market::ExecuteMsg::UpdateConfig {
                    owner: None,
                    registry: None,
                    escrow: None,
                    staking: Some(staking.to_string()),
                    guardian: None,
                },
                &[],
            )
            .unwrap();
        suite.staking = Some(staking);
        suite
    }

    pub fn staking(&self) -> Addr {
        self.staking.clone().expect("a suite with staking")
    }

    pub fn bond(&mut self, provider: &str, amount: u128) -> AnyResult<AppResponse> {
        let staking = self.staking();
        self.exec(
            provider,
            &staking,
            &kumo::staking::ExecuteMsg::Bond {},
            &coins(amount, DENOM),
        )
    }

    pub fn staking_exec(
        &mut self,
        who: &str,
        msg: &kumo::staking::ExecuteMsg,
        funds: &[cosmwasm_std::Coin],
    ) -> AnyResult<AppResponse> {
        let staking = self.staking();
        self.exec(who, &staking, msg, funds)
    }

    pub fn provider_bond(&self, provider: &str) -> kumo::staking::ProviderBondResponse {
        self.app
            .wrap()
            .query_wasm_smart(
                self.staking(),
                &kumo::staking::QueryMsg::Provider {
                    provider: self.addr(provider).to_string(),
                },
            )
            .unwrap()
    }

    /// A CW20 token (cw20-base) with `STARTING_BALANCE` for each named account.
    pub fn cw20_token(&mut self, symbol: &str, holders: &[&str]) -> Addr {
        let code = self.app.store_code(Box::new(ContractWrapper::new(
            cw20_base::contract::execute,
            cw20_base::contract::instantiate,
            cw20_base::contract::query,
        )));
        let initial_balances = holders
            .iter()
            .map(|h| cw20::Cw20Coin {
                address: self.addr(h).to_string(),
                amount: Uint128::new(STARTING_BALANCE),
            })
            .collect();
        self.app
            .instantiate_contract(
                code,
                self.owner.clone(),
                &cw20_base::msg::InstantiateMsg {
                    name: format!("{symbol} token"),
                    symbol: symbol.to_string(),
                    decimals: 6,
                    initial_balances,
                    mint: None,
                    marketing: None,
                },
                &[],
                symbol,
                None,
            )
            .unwrap()
    }

    /// Governance lists a denomination in the escrow (and, for bid deposits, in the market).
    pub fn list_denom(&mut self, denom: Denom, min_deposit: u128, take_rate: Decimal) {
        self.app
            .execute_contract(
                self.owner.clone(),
                self.escrow.clone(),
                &escrow::ExecuteMsg::SetDenom {
                    config: DenomConfig {
                        denom,
                        min_deposit: Uint128::new(min_deposit),
                        take_rate,
                    },
                },
                &[],
            )
            .unwrap();
    }

    pub fn exec<T: serde::Serialize + std::fmt::Debug>(
        &mut self,
        who: &str,
        contract: &Addr,
        msg: &T,
        funds: &[cosmwasm_std::Coin],
    ) -> AnyResult<AppResponse> {
        let sender = self.addr(who);
        self.app
            .execute_contract(sender, contract.clone(), msg, funds)
    }

    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn balance(&self, who: &Addr, denom: &str) -> u128 {
        self.app
            .wrap()
            .query_balance(who, denom)
            .map(|c| c.amount.u128())
            .unwrap_or_default()
    }

    pub fn advance_seconds(&mut self, seconds: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(seconds);
            b.height += seconds.div_ceil(6).max(1);
        });
    }

    // ---- providers ----

    pub fn register_provider(
        &mut self,
        name: &str,
        attributes: &[(&str, &str)],
    ) -> AnyResult<AppResponse> {
        let sender = self.addr(name);
        self.app.execute_contract(
            sender,
            self.registry.clone(),
            &registry::ExecuteMsg::RegisterProvider {
                host_uri: format!("https://{name}.example.com:8443"),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| Attribute::new(*k, *v))
                    .collect(),
                info: ProviderInfo::default(),
            },
            &[],
        )
    }

    // ---- tenants ----

    /// Group specs of an SDL, priced in `denom` instead of what the file says.
    pub fn groups_from_sdl(sdl: &str, denom: &str) -> Vec<GroupSpec> {
        let mut groups = kumo_sdl::parse(sdl).expect("valid SDL").groups;
        for g in &mut groups {
            for unit in &mut g.resources {
                unit.price.denom = denom.to_string();
            }
        }
        groups
    }

    /// Creates a deployment with a native deposit; returns its id.
    pub fn create_deployment(
        &mut self,
        tenant: &str,
        groups: Vec<GroupSpec>,
        deposit: u128,
        denom: &str,
        auction_window: Option<u64>,
    ) -> AnyResult<DeploymentId> {
        let owner = self.addr(tenant);
        let res = self.app.execute_contract(
            owner.clone(),
            self.market.clone(),
            &market::ExecuteMsg::CreateDeployment(NewDeployment {
                groups,
                version: HexBinary::from(vec![7u8; 32]),
                auction_window,
                reclamation_min_window: None,
                provider_record: None,
            }),
            &coins(deposit, denom),
        )?;
        let dseq = res
            .events
            .iter()
            .flat_map(|e| e.attributes.iter())
            .find(|a| a.key == "dseq")
            .and_then(|a| a.value.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no dseq attribute in {:?}", res.events))?;
        Ok(DeploymentId::new(owner, dseq))
    }

    pub fn order(&self, deployment: &DeploymentId, gseq: u32, oseq: u32) -> OrderId {
        deployment.group(gseq).order(oseq)
    }

    pub fn bid(
        &mut self,
        provider: &str,
        order: &OrderId,
        price: Decimal256,
        deposit: u128,
        denom: &str,
    ) -> AnyResult<BidId> {
        let sender = self.addr(provider);
        self.app.execute_contract(
            sender.clone(),
            self.market.clone(),
            &market::ExecuteMsg::CreateBid(NewBid {
                order: order.clone(),
                price,
                reclamation_window: None,
                offer: vec![],
            }),
            &coins(deposit, denom),
        )?;
        Ok(order.bid(sender))
    }

    pub fn create_lease(&mut self, tenant: &str, bid: &BidId) -> AnyResult<AppResponse> {
        let sender = self.addr(tenant);
        self.app.execute_contract(
            sender,
            self.market.clone(),
            &market::ExecuteMsg::CreateLease { bid: bid.clone() },
            &[],
        )
    }

    pub fn close_lease(&mut self, tenant: &str, lease: &BidId) -> AnyResult<AppResponse> {
        let sender = self.addr(tenant);
        self.app.execute_contract(
            sender,
            self.market.clone(),
            &market::ExecuteMsg::CloseLease {
                lease: lease.clone(),
            },
            &[],
        )
    }

    pub fn close_deployment(&mut self, tenant: &str, dseq: u64) -> AnyResult<AppResponse> {
        let sender = self.addr(tenant);
        self.app.execute_contract(
            sender,
            self.market.clone(),
            &market::ExecuteMsg::CloseDeployment { dseq },
            &[],
        )
    }

    pub fn withdraw_lease(&mut self, caller: &str, lease: &BidId) -> AnyResult<AppResponse> {
        let sender = self.addr(caller);
        self.app.execute_contract(
            sender,
            self.market.clone(),
            &market::ExecuteMsg::WithdrawLease {
                lease: lease.clone(),
            },
            &[],
        )
    }

    pub fn deposit(
        &mut self,
        who: &str,
        deployment: &DeploymentId,
        amount: u128,
        denom: &str,
    ) -> AnyResult<AppResponse> {
        let sender = self.addr(who);
        self.app.execute_contract(
            sender,
            self.market.clone(),
            &market::ExecuteMsg::Deposit {
                deployment: deployment.clone(),
            },
            &coins(amount, denom),
        )
    }

    pub fn settle(&mut self, caller: &str, deployment: &DeploymentId) -> AnyResult<AppResponse> {
        let sender = self.addr(caller);
        self.app.execute_contract(
            sender,
            self.escrow.clone(),
            &escrow::ExecuteMsg::Settle {
                id: AccountId::Deployment(deployment.clone()),
            },
            &[],
        )
    }

    // ---- queries ----

    /// `None` once the lease is closed (terminal objects are deleted; events keep the record).
    /// Also checks the raw layout other contracts read (`kumo::market::LEASE_HEADERS`).
    pub fn lease(&self, id: &BidId) -> Option<market::Lease> {
        let lease = self
            .app
            .wrap()
            .query_wasm_smart::<market::LeaseResponse>(
                &self.market,
                &market::QueryMsg::Lease { id: id.clone() },
            )
            .ok()
            .map(|r| r.lease);
        let header = market::LEASE_HEADERS
            .query(&self.app.wrap(), self.market.clone(), market::lease_key(id))
            .unwrap();
        assert_eq!(
            header.map(|h| h.state),
            lease.as_ref().map(|l| l.state),
            "the raw layout of the market's leases"
        );
        lease
    }

    /// `None` once the bid lost or closed.
    pub fn bid_state(&self, id: &BidId) -> Option<market::BidState> {
        self.app
            .wrap()
            .query_wasm_smart::<market::BidResponse>(
                &self.market,
                &market::QueryMsg::Bid { id: id.clone() },
            )
            .ok()
            .map(|r| r.bid.state)
    }

    pub fn order_state(&self, id: &OrderId) -> Option<market::OrderState> {
        self.app
            .wrap()
            .query_wasm_smart::<market::OrderResponse>(
                &self.market,
                &market::QueryMsg::Order { id: id.clone() },
            )
            .ok()
            .map(|r| r.order.state)
    }

    /// `None` once the deployment is closed.
    pub fn deployment(&self, id: &DeploymentId) -> Option<market::DeploymentResponse> {
        self.app
            .wrap()
            .query_wasm_smart(
                &self.market,
                &market::QueryMsg::Deployment { id: id.clone() },
            )
            .ok()
    }

    /// `None` once the account is closed.
    pub fn account(&self, id: &DeploymentId) -> Option<escrow::AccountResponse> {
        self.escrow_account(&AccountId::Deployment(id.clone()))
    }

    pub fn escrow_account(&self, id: &AccountId) -> Option<escrow::AccountResponse> {
        self.app
            .wrap()
            .query_wasm_smart(&self.escrow, &escrow::QueryMsg::Account { id: id.clone() })
            .ok()
    }

    pub fn cw20_balance(&self, token: &Addr, who: &Addr) -> u128 {
        let res: cw20::BalanceResponse = self
            .app
            .wrap()
            .query_wasm_smart(
                token,
                &cw20::Cw20QueryMsg::Balance {
                    address: who.to_string(),
                },
            )
            .unwrap();
        res.balance.u128()
    }

    /// The provider's counters; also checks that the raw layout other contracts read
    /// (`kumo::market::PROVIDER_STATS`) says the same as the query.
    pub fn provider_stats(&self, provider: &str) -> market::ProviderStatsResponse {
        let smart: market::ProviderStatsResponse = self
            .app
            .wrap()
            .query_wasm_smart(
                &self.market,
                &market::QueryMsg::ProviderStats {
                    provider: self.addr(provider).to_string(),
                },
            )
            .unwrap();
        let raw = market::PROVIDER_STATS
            .query(&self.app.wrap(), self.market.clone(), &self.addr(provider))
            .unwrap()
            .unwrap_or_default();
        assert_eq!(
            market::ProviderStatsResponse::from(raw),
            smart,
            "the raw layout of the market's provider stats"
        );
        let counts = market::PROVIDER_COUNTS
            .query(&self.app.wrap(), self.market.clone(), &self.addr(provider))
            .unwrap()
            .unwrap_or_default();
        assert_eq!(
            (counts.active_leases, counts.open_bids),
            (smart.active_leases, smart.open_bids)
        );
        smart
    }
}

/// The message of the contract error at the root of a failed execution. cw-multi-test keeps
/// only the `Display` of a contract's error (its `ContractWrapper` wraps errors with `anyhow!`),
/// so tests compare the typed errors' messages.
pub fn root_cause(err: &anyhow::Error) -> String {
    err.root_cause().to_string()
}

/// Asserts that `err`'s root cause contains `fragment` (from the error type's message).
#[track_caller]
pub fn assert_fails_with(err: &anyhow::Error, fragment: &str) {
    let cause = root_cause(err);
    assert!(
        cause.contains(fragment),
        "expected an error containing {fragment:?}, got {cause:?} ({err:#})"
    );
}

/// The values of `key` in the response's events of contract type `ty` (`wasm-<ty>`).
pub fn event_values(res: &AppResponse, ty: &str, key: &str) -> Vec<String> {
    let ty = format!("wasm-{ty}");
    res.events
        .iter()
        .filter(|e| e.ty == ty)
        .flat_map(|e| e.attributes.iter().filter(|a| a.key == key))
        .map(|a| a.value.clone())
        .collect()
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}
