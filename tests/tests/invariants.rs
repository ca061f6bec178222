//! Random operation sequences against the wired contracts. After every step: the escrow's books
//! match its bank balance to the unit (deposits = withdrawn + take + refunded + balances), the
//! staking contract's bonds, unbondings, compensation pools and dispute deposits match its
//! balance, nothing is minted or lost across all accounts, the market invariants I-MK-1..5 of
//! AEP-79 hold, provider counters match the lists, and nothing panicked (a contract panic fails
//! the test; errors must be typed). Providers bond, heartbeat, get reported, jailed and
//! unjailed; tenants dispute; the arbiter upholds or dismisses.
//!
//! 1,000 sequences per run; set `KUMO_PROPTEST_CASES` for more.

use cosmwasm_std::{coins, Addr, Decimal256, Uint128};
use kumo::escrow::{self, AccountId};
use kumo::market::{self, BidState, LeaseCloseReason, LeaseState, OrderState};
use kumo::staking;
use kumo::{BidId, DeploymentId};
use kumo_tests::{event_values, Suite, DENOM, FUNDED, STARTING_BALANCE};
use proptest::prelude::*;

const HELLO: &str = include_str!("../../examples/hello.yaml");
const TENANTS: [&str; 2] = ["tenant", "tenant2"];
const PROVIDERS: [&str; 3] = ["provider1", "provider2", "provider3"];

#[derive(Clone, Debug)]
enum Op {
    Create {
        tenant: usize,
        deposit: u128,
        auction: bool,
    },
    Bid {
        provider: usize,
        pick: usize,
        price: u64,
        reclaim: bool,
    },
    Lease {
        pick: usize,
    },
    CloseAuction {
        pick: usize,
    },
    CloseLease {
        pick: usize,
    },
    ProviderClose {
        provider: usize,
        pick: usize,
    },
    StartReclaim {
        pick: usize,
    },
    Deposit {
        pick: usize,
        amount: u128,
    },
    Withdraw {
        pick: usize,
    },
    Settle {
        pick: usize,
    },
    Advance {
        seconds: u64,
    },
    CloseDeployment {
        pick: usize,
    },
    PauseGroup {
        pick: usize,
    },
    StartGroup {
        pick: usize,
    },
    Grant {
        amount: u128,
    },
    Heartbeat {
        provider: usize,
    },
    ReportAbsence {
        provider: usize,
    },
    CloseAbsent {
        provider: usize,
    },
    Unjail {
        provider: usize,
    },
    Bond {
        provider: usize,
        amount: u128,
    },
    Unbond {
        provider: usize,
        amount: u128,
    },
    Claim {
        provider: usize,
    },
    OpenDispute {
        pick: usize,
    },
    ResolveDispute {
        pick: usize,
        slash: bool,
    },
    ExpireDispute {
        pick: usize,
    },
    AllowanceDeposit {
        pick: usize,
        amount: u128,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 5_000_000u128..20_000_000, any::<bool>())
            .prop_map(|(tenant, deposit, auction)| Op::Create { tenant, deposit, auction }),
        6 => (0..3usize, any::<usize>(), 1u64..=17, proptest::bool::weighted(0.2))
            .prop_map(|(provider, pick, price, reclaim)| Op::Bid { provider, pick, price, reclaim }),
        4 => any::<usize>().prop_map(|pick| Op::Lease { pick }),
        1 => any::<usize>().prop_map(|pick| Op::CloseAuction { pick }),
        1 => any::<usize>().prop_map(|pick| Op::CloseLease { pick }),
        1 => (0..3usize, any::<usize>()).prop_map(|(provider, pick)| Op::ProviderClose { provider, pick }),
        1 => any::<usize>().prop_map(|pick| Op::StartReclaim { pick }),
        1 => (any::<usize>(), 1u128..5_000_000).prop_map(|(pick, amount)| Op::Deposit { pick, amount }),
        1 => any::<usize>().prop_map(|pick| Op::Withdraw { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Settle { pick }),
        3 => prop_oneof![1u64..100, 100u64..10_000, 10_000u64..400_000]
            .prop_map(|seconds| Op::Advance { seconds }),
        1 => any::<usize>().prop_map(|pick| Op::CloseDeployment { pick }),
        1 => any::<usize>().prop_map(|pick| Op::PauseGroup { pick }),
        1 => any::<usize>().prop_map(|pick| Op::StartGroup { pick }),
        1 => (1u128..3_000_000).prop_map(|amount| Op::Grant { amount }),
        1 => (0..3usize).prop_map(|provider| Op::Heartbeat { provider }),
        2 => (0..3usize).prop_map(|provider| Op::ReportAbsence { provider }),
        2 => (0..3usize).prop_map(|provider| Op::CloseAbsent { provider }),
        1 => (0..3usize).prop_map(|provider| Op::Unjail { provider }),
        1 => (0..3usize, 1u128..5_000_000).prop_map(|(provider, amount)| Op::Bond { provider, amount }),
        1 => (0..3usize, 1u128..20_000_000).prop_map(|(provider, amount)| Op::Unbond { provider, amount }),
        1 => (0..3usize).prop_map(|provider| Op::Claim { provider }),
        1 => any::<usize>().prop_map(|pick| Op::OpenDispute { pick }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, slash)| Op::ResolveDispute { pick, slash }),
        1 => any::<usize>().prop_map(|pick| Op::ExpireDispute { pick }),
        1 => (any::<usize>(), 1u128..3_000_000)
            .prop_map(|(pick, amount)| Op::AllowanceDeposit { pick, amount }),
    ]
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

struct World {
    suite: Suite,
    /// Everything that entered escrow accounts, and everything that left them, from the events.
    deposited: u128,
    paid_out: u128,
}

impl World {
    fn new() -> Self {
        let mut suite = Suite::with_staking();
        for p in PROVIDERS {
            suite.register_provider(p, &[("region", "local")]).unwrap();
            suite.bond(p, 30_000_000).unwrap();
        }
        World {
            suite,
            deposited: 0,
            paid_out: 0,
        }
    }

    fn q<T: serde::de::DeserializeOwned>(&self, contract: &Addr, msg: &impl serde::Serialize) -> T {
        self.suite
            .app
            .wrap()
            .query_wasm_smart(contract, msg)
            .unwrap()
    }

    /// Every page of a paginated list, following `start_after`.
    fn all_pages<T, K>(
        &self,
        mut page: impl FnMut(Option<K>) -> Vec<T>,
        key: impl Fn(&T) -> K,
    ) -> Vec<T> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let items = page(start.take());
            if items.is_empty() {
                return out;
            }
            start = items.last().map(&key);
            out.extend(items);
        }
    }

    fn deployments(&self) -> Vec<DeploymentId> {
        let market = self.suite.market.clone();
        TENANTS
            .iter()
            .flat_map(|t| {
                let owner = self.suite.addr(t).to_string();
                self.all_pages(
                    |start| {
                        self.q::<market::DeploymentsResponse>(
                            &market,
                            &market::QueryMsg::Deployments {
                                owner: owner.clone(),
                                start_after: start,
                                limit: Some(7),
                            },
                        )
                        .deployments
                    },
                    |d| d.id.dseq,
                )
            })
            .map(|d| d.id)
            .collect()
    }

    fn open_orders(&self) -> Vec<market::Order> {
        let market = self.suite.market.clone();
        self.all_pages(
            |start| {
                self.q::<market::OrdersResponse>(
                    &market,
                    &market::QueryMsg::OpenOrders {
                        start_after: start,
                        limit: Some(7),
                    },
                )
                .orders
            },
            |o| o.id.clone(),
        )
    }

    fn bids_of(&self, order: &kumo::OrderId) -> Vec<market::Bid> {
        let market = self.suite.market.clone();
        self.all_pages(
            |start| {
                self.q::<market::BidsResponse>(
                    &market,
                    &market::QueryMsg::Bids {
                        order: order.clone(),
                        start_after: start,
                        limit: Some(3),
                    },
                )
                .bids
            },
            |b| b.id.provider.to_string(),
        )
    }

    fn provider_bids(&self, provider: &str) -> Vec<market::Bid> {
        let market = self.suite.market.clone();
        let addr = self.suite.addr(provider).to_string();
        self.all_pages(
            |start| {
                self.q::<market::BidsResponse>(
                    &market,
                    &market::QueryMsg::ProviderBids {
                        provider: addr.clone(),
                        start_after: start,
                        limit: Some(4),
                    },
                )
                .bids
            },
            |b| b.id.clone(),
        )
    }

    fn provider_leases(&self, provider: &str) -> Vec<market::Lease> {
        let market = self.suite.market.clone();
        let addr = self.suite.addr(provider).to_string();
        self.all_pages(
            |start| {
                self.q::<market::LeasesResponse>(
                    &market,
                    &market::QueryMsg::ProviderLeases {
                        provider: addr.clone(),
                        start_after: start,
                        limit: Some(4),
                    },
                )
                .leases
            },
            |l| l.id.clone(),
        )
    }

    fn leases(&self) -> Vec<market::Lease> {
        PROVIDERS
            .iter()
            .flat_map(|p| self.provider_leases(p))
            .collect()
    }

    fn open_bids(&self) -> Vec<market::Bid> {
        PROVIDERS
            .iter()
            .flat_map(|p| self.provider_bids(p))
            .collect()
    }

    fn run(&mut self, op: &Op) {
        let market = self.suite.market.clone();
        // Errors are expected (most random operations are invalid); panics are not.
        let r = match op.clone() {
            Op::Create {
                tenant,
                deposit,
                auction,
            } => self
                .suite
                .exec(
                    TENANTS[tenant],
                    &market,
                    &market::ExecuteMsg::CreateDeployment(market::NewDeployment {
                        groups: Suite::groups_from_sdl(HELLO, DENOM),
                        version: cosmwasm_std::HexBinary::from(vec![7u8; 32]),
                        auction_window: auction.then_some(300),
                        reclamation_min_window: None,
                        provider_record: None,
                    }),
                    &coins(deposit, DENOM),
                )
                .map(Some),
            Op::Bid {
                provider,
                pick: i,
                price,
                reclaim,
            } => {
                let Some(order) = pick(&self.open_orders(), i) else {
                    return;
                };
                self.suite
                    .exec(
                        PROVIDERS[provider],
                        &market,
                        &market::ExecuteMsg::CreateBid(market::NewBid {
                            order: order.id,
                            price: Decimal256::from_ratio(price, 1u64),
                            reclamation_window: reclaim.then_some(3_600),
                            offer: vec![],
                        }),
                        &coins(500_000, DENOM),
                    )
                    .map(Some)
            }
            Op::Lease { pick: i } => {
                let Some(bid) = pick(&self.open_bids(), i) else {
                    return;
                };
                let tenant = TENANTS
                    .iter()
                    .find(|t| self.suite.addr(t) == bid.id.owner)
                    .unwrap();
                self.suite.create_lease(tenant, &bid.id).map(Some)
            }
            Op::CloseAuction { pick: i } => {
                let Some(order) = pick(&self.open_orders(), i) else {
                    return;
                };
                self.suite
                    .exec(
                        "keeper",
                        &market,
                        &market::ExecuteMsg::CloseAuction { order: order.id },
                        &[],
                    )
                    .map(Some)
            }
            Op::CloseLease { pick: i } => {
                let Some(lease) = pick(&self.leases(), i) else {
                    return;
                };
                let tenant = TENANTS
                    .iter()
                    .find(|t| self.suite.addr(t) == lease.id.owner)
                    .unwrap();
                self.suite.close_lease(tenant, &lease.id).map(Some)
            }
            Op::ProviderClose { provider, pick: i } => {
                let p = PROVIDERS[provider];
                let mut ids: Vec<BidId> = self.provider_bids(p).into_iter().map(|b| b.id).collect();
                ids.extend(self.provider_leases(p).into_iter().map(|l| l.id));
                let Some(id) = pick(&ids, i) else { return };
                self.suite
                    .exec(
                        p,
                        &market,
                        &market::ExecuteMsg::CloseBid {
                            bid: id,
                            reason: None,
                        },
                        &[],
                    )
                    .map(Some)
            }
            Op::StartReclaim { pick: i } => {
                let Some(lease) = pick(&self.leases(), i) else {
                    return;
                };
                let p = PROVIDERS
                    .iter()
                    .find(|p| self.suite.addr(p) == lease.id.provider)
                    .unwrap();
                self.suite
                    .exec(
                        p,
                        &market,
                        &market::ExecuteMsg::StartReclaim {
                            lease: lease.id,
                            reason: LeaseCloseReason::Unstable,
                        },
                        &[],
                    )
                    .map(Some)
            }
            Op::Deposit { pick: i, amount } => {
                let Some(d) = pick(&self.deployments(), i) else {
                    return;
                };
                self.suite.deposit("sponsor", &d, amount, DENOM).map(Some)
            }
            Op::Withdraw { pick: i } => {
                let Some(lease) = pick(&self.leases(), i) else {
                    return;
                };
                self.suite.withdraw_lease("keeper", &lease.id).map(Some)
            }
            Op::Settle { pick: i } => {
                let Some(d) = pick(&self.deployments(), i) else {
                    return;
                };
                self.suite.settle("keeper", &d).map(Some)
            }
            Op::Advance { seconds } => {
                self.suite.advance_seconds(seconds);
                Ok(None)
            }
            Op::Grant { amount } => {
                let escrow = self.suite.escrow.clone();
                let grantee = self.suite.addr("tenant").to_string();
                self.suite
                    .exec(
                        "sponsor",
                        &escrow,
                        &escrow::ExecuteMsg::GrantAllowance {
                            grantee,
                            expires: None,
                        },
                        &coins(amount, DENOM),
                    )
                    .map(Some)
            }
            Op::Heartbeat { provider } => self
                .suite
                .staking_exec(PROVIDERS[provider], &staking::ExecuteMsg::Heartbeat {}, &[])
                .map(Some),
            Op::ReportAbsence { provider } => {
                let provider = self.suite.addr(PROVIDERS[provider]).to_string();
                self.suite
                    .staking_exec(
                        "keeper",
                        &staking::ExecuteMsg::ReportAbsence { provider },
                        &[],
                    )
                    .map(Some)
            }
            Op::CloseAbsent { provider: i } => {
                // Among the providers with a compensation pool (jailed with leases to close).
                let staking_addr = self.suite.staking();
                let jailed: Vec<String> = PROVIDERS
                    .iter()
                    .map(|p| self.suite.addr(p).to_string())
                    .filter(|p| {
                        self.q::<staking::CompensationPoolResponse>(
                            &staking_addr,
                            &staking::QueryMsg::Compensation {
                                provider: p.clone(),
                            },
                        )
                        .pool
                        .is_some()
                    })
                    .collect();
                let Some(provider) = pick(&jailed, i) else {
                    return;
                };
                self.suite
                    .exec(
                        "keeper",
                        &market,
                        &market::ExecuteMsg::CloseAbsentLeases {
                            provider,
                            limit: Some(2),
                        },
                        &[],
                    )
                    .map(Some)
            }
            Op::Unjail { provider } => self
                .suite
                .staking_exec(PROVIDERS[provider], &staking::ExecuteMsg::Unjail {}, &[])
                .map(Some),
            Op::Bond { provider, amount } => self.suite.bond(PROVIDERS[provider], amount).map(Some),
            Op::Unbond { provider, amount } => self
                .suite
                .staking_exec(
                    PROVIDERS[provider],
                    &staking::ExecuteMsg::Unbond {
                        amount: Uint128::new(amount),
                    },
                    &[],
                )
                .map(Some),
            Op::Claim { provider } => self
                .suite
                .staking_exec(PROVIDERS[provider], &staking::ExecuteMsg::Claim {}, &[])
                .map(Some),
            Op::OpenDispute { pick: i } => {
                let Some(lease) = pick(&self.leases(), i) else {
                    return;
                };
                let tenant = TENANTS
                    .iter()
                    .find(|t| self.suite.addr(t) == lease.id.owner)
                    .unwrap();
                self.suite
                    .staking_exec(
                        tenant,
                        &staking::ExecuteMsg::OpenDispute {
                            lease: lease.id,
                            evidence: "down".into(),
                        },
                        &coins(1_000_000, DENOM),
                    )
                    .map(Some)
            }
            Op::ResolveDispute { pick: i, slash } => {
                let Some(d) = pick(&self.open_disputes(), i) else {
                    return;
                };
                let owner = self.suite.owner.clone();
                let staking_addr = self.suite.staking();
                use cw_multi_test::Executor;
                self.suite
                    .app
                    .execute_contract(
                        owner,
                        staking_addr,
                        &staking::ExecuteMsg::ResolveDispute { id: d.id, slash },
                        &[],
                    )
                    .map(Some)
            }
            Op::ExpireDispute { pick: i } => {
                let Some(d) = pick(&self.open_disputes(), i) else {
                    return;
                };
                self.suite
                    .staking_exec(
                        "keeper",
                        &staking::ExecuteMsg::ExpireDispute { id: d.id },
                        &[],
                    )
                    .map(Some)
            }
            Op::AllowanceDeposit { pick: i, amount } => {
                let Some(d) = pick(&self.deployments(), i) else {
                    return;
                };
                let escrow = self.suite.escrow.clone();
                let granter = self.suite.addr("sponsor").to_string();
                self.suite
                    .exec(
                        "tenant",
                        &escrow,
                        &escrow::ExecuteMsg::DepositFromAllowance {
                            id: AccountId::Deployment(d),
                            granter,
                            amount: Uint128::new(amount),
                        },
                        &[],
                    )
                    .map(Some)
            }
            Op::CloseDeployment { pick: i } => {
                let Some(d) = pick(&self.deployments(), i) else {
                    return;
                };
                let tenant = TENANTS
                    .iter()
                    .find(|t| self.suite.addr(t) == d.owner)
                    .unwrap();
                self.suite.close_deployment(tenant, d.dseq).map(Some)
            }
            Op::PauseGroup { pick: i } | Op::StartGroup { pick: i } => {
                let Some(d) = pick(&self.deployments(), i) else {
                    return;
                };
                let tenant = TENANTS
                    .iter()
                    .find(|t| self.suite.addr(t) == d.owner)
                    .unwrap();
                let msg = if matches!(op, Op::PauseGroup { .. }) {
                    market::ExecuteMsg::PauseGroup {
                        dseq: d.dseq,
                        gseq: 1,
                    }
                } else {
                    market::ExecuteMsg::StartGroup {
                        dseq: d.dseq,
                        gseq: 1,
                    }
                };
                self.suite.exec(tenant, &market, &msg, &[]).map(Some)
            }
        };
        if let Ok(Some(res)) = &r {
            self.account_flows(res);
        }
        if std::env::var("KUMO_PROPTEST_TRACE").is_ok() {
            eprintln!(
                "{op:?} -> {:?}",
                r.as_ref()
                    .map(|_| ())
                    .map_err(|e| e.root_cause().to_string())
            );
        }
    }

    /// Adds what a transaction moved into and out of escrow accounts, read from the escrow's
    /// events: deposits in; payouts (gross, so take included), refunds, bounties and dust out.
    fn account_flows(&mut self, res: &cw_multi_test::AppResponse) {
        let sum = |ty: &str, key: &str| -> u128 {
            event_values(res, ty, key)
                .iter()
                .map(|v| v.parse::<u128>().unwrap())
                .sum()
        };
        self.deposited += sum("account_opened", "amount") + sum("deposit", "amount");
        self.paid_out += sum("payment_withdrawn", "gross")
            + sum("refund", "amount")
            + sum("settled", "bounty")
            + sum("account_closed", "dust");
    }

    fn disputes(&self) -> Vec<staking::Dispute> {
        let staking_addr = self.suite.staking();
        self.all_pages(
            |start| {
                self.q::<staking::DisputesResponse>(
                    &staking_addr,
                    &staking::QueryMsg::Disputes {
                        start_after: start,
                        limit: Some(5),
                    },
                )
                .disputes
            },
            |d| d.id,
        )
    }

    fn open_disputes(&self) -> Vec<staking::Dispute> {
        self.disputes()
            .into_iter()
            .filter(|d| d.state == staking::DisputeState::Open)
            .collect()
    }

    fn account(&self, id: AccountId) -> escrow::Account {
        self.q::<escrow::AccountResponse>(&self.suite.escrow, &escrow::QueryMsg::Account { id })
            .account
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let escrow_addr = self.suite.escrow.clone();
        let market_addr = self.suite.market.clone();
        let now = self.suite.app.block_info().time;
        let params: market::ConfigResponse = self.q(&market_addr, &market::QueryMsg::Config {});
        let max_bids = params.params.order_max_bids;

        // Bank conservation over everyone: nothing minted, nothing burned; the market holds
        // exactly the live bids' deposits (below).
        let mut total: u128 = FUNDED
            .iter()
            .map(|n| self.suite.balance(&self.suite.addr(n), DENOM))
            .sum();
        total += self.suite.balance(&self.suite.treasury, DENOM);
        let escrow_balance = self.suite.balance(&escrow_addr, DENOM);
        total += escrow_balance;
        let market_balance = self.suite.balance(&market_addr, DENOM);
        total += market_balance;
        let staking_addr = self.suite.staking();
        let staking_balance = self.suite.balance(&staking_addr, DENOM);
        total += staking_balance;

        // The staking contract's books: bonds, unbonding entries, compensation pools and open
        // dispute deposits are exactly its balance.
        let mut staked = 0u128;
        for p in PROVIDERS {
            let addr = self.suite.addr(p).to_string();
            let bond: Option<staking::ProviderBondResponse> = self
                .suite
                .app
                .wrap()
                .query_wasm_smart(
                    &staking_addr,
                    &staking::QueryMsg::Provider {
                        provider: addr.clone(),
                    },
                )
                .ok();
            if let Some(b) = bond {
                staked += b.bond.bonded.u128();
                staked += b
                    .bond
                    .unbonding
                    .iter()
                    .map(|e| e.amount.u128())
                    .sum::<u128>();
            }
            let pool: staking::CompensationPoolResponse = self.q(
                &staking_addr,
                &staking::QueryMsg::Compensation { provider: addr },
            );
            staked += pool.pool.map_or(0, |p| p.remaining.u128());
        }
        staked += self
            .open_disputes()
            .iter()
            .map(|d| d.deposit.u128())
            .sum::<u128>();
        prop_assert_eq!(staked, staking_balance, "staking books vs bank balance");
        prop_assert_eq!(total, STARTING_BALANCE * FUNDED.len() as u128);

        // The escrow's books: every live deployment account holds what its depositors and
        // payments are owed, and together they are exactly the escrow's balance.
        let mut held = Uint128::zero();
        let deployments = self.deployments();
        let leases = self.leases();
        for d in &deployments {
            let account = self.account(AccountId::Deployment(d.clone()));
            let depositors = account
                .depositors
                .iter()
                .fold(Decimal256::zero(), |a, d| a + d.balance);
            prop_assert_eq!(depositors, account.balance);
            let payments: escrow::PaymentsResponse = self.q(
                &escrow_addr,
                &escrow::QueryMsg::Payments {
                    account: AccountId::Deployment(d.clone()),
                },
            );
            let owed = payments
                .payments
                .iter()
                .fold(Decimal256::zero(), |a, p| a + p.balance);
            prop_assert_eq!(
                Decimal256::from_ratio(account.held, 1u128),
                account.balance + owed
            );
            held += account.held;
            // The account streams exactly its leases' prices.
            let rate = leases
                .iter()
                .filter(|l| l.id.deployment() == *d)
                .fold(Decimal256::zero(), |a, l| a + l.price);
            prop_assert_eq!(account.rate, rate);
        }
        let open_bids = self.open_bids();
        let mut bid_deposits = 0u128;
        for bid in open_bids.iter().chain(
            leases
                .iter()
                .map(|l| {
                    self.q::<market::BidResponse>(
                        &market_addr,
                        &market::QueryMsg::Bid { id: l.id.clone() },
                    )
                    .bid
                })
                .collect::<Vec<_>>()
                .iter(),
        ) {
            // I-MK-2: every open or active bid's deposit is held by the market, and no escrow
            // account is opened for it.
            let escrow_account = self
                .suite
                .app
                .wrap()
                .query_wasm_smart::<escrow::AccountResponse>(
                    &escrow_addr,
                    &escrow::QueryMsg::Account {
                        id: AccountId::Bid(bid.id.clone()),
                    },
                );
            prop_assert!(escrow_account.is_err(), "no escrow account for a bid");
            bid_deposits += bid.deposit.amount.u128();
        }
        prop_assert_eq!(
            bid_deposits,
            market_balance,
            "market bid deposits vs bank balance"
        );
        // Conservation, to the unit: deposits = withdrawn + take + refunded + bounties + dust
        // + what the accounts still hold.
        prop_assert_eq!(self.deposited, self.paid_out + held.u128());
        // The escrow's bank balance is exactly the accounts' funds and the allowances.
        let allowances: escrow::AllowancesResponse = self.q(
            &escrow_addr,
            &escrow::QueryMsg::Allowances {
                granter: self.suite.addr("sponsor").to_string(),
                start_after: None,
                limit: None,
            },
        );
        let allowed: u128 = allowances
            .allowances
            .iter()
            .map(|a| a.remaining.u128())
            .sum();
        prop_assert_eq!(
            held.u128() + allowed,
            escrow_balance,
            "escrow books vs bank balance"
        );

        // I-MK-1: an order is active iff exactly one of its bids is active iff a live lease
        // exists for that bid; open orders have only open bids. I-MK-3: at most
        // `order_max_bids` open bids.
        for order in self.open_orders() {
            let bids = self.bids_of(&order.id);
            prop_assert!(bids.iter().all(|b| b.state == BidState::Open));
            prop_assert_eq!(bids.len() as u32, order.bids);
            prop_assert!(order.bids <= max_bids);
        }
        for lease in &leases {
            prop_assert!(matches!(
                lease.state,
                LeaseState::Active | LeaseState::Reclaiming
            ));
            let order: market::OrderResponse = self.q(
                &market_addr,
                &market::QueryMsg::Order {
                    id: lease.id.order(),
                },
            );
            prop_assert_eq!(order.order.state, OrderState::Active);
            let bids = self.bids_of(&lease.id.order());
            prop_assert_eq!(bids.len(), 1);
            prop_assert_eq!(bids[0].state, BidState::Active);
            prop_assert_eq!(&bids[0].id, &lease.id);
            // I-MK-5: the lease price is the bid price.
            prop_assert_eq!(lease.price, bids[0].price);
            // I-MK-4: a reclaiming lease has a deadline one window after it started.
            if lease.state == LeaseState::Reclaiming {
                let deadline = lease.reclaim_deadline.expect("deadline");
                let window = lease.reclamation_window.unwrap_or_default();
                prop_assert!(deadline.seconds() <= now.seconds() + window);
                prop_assert!(deadline.seconds() >= lease.created_at.seconds() + window);
            }
            // The escrow pays it at its price.
            let payment: escrow::PaymentResponse = self.q(
                &escrow_addr,
                &escrow::QueryMsg::Payment {
                    lease: lease.id.clone(),
                },
            );
            prop_assert_eq!(payment.payment.rate, lease.price);
        }
        // O(1) provider counters agree with the lists.
        for p in PROVIDERS {
            let stats = self.suite.provider_stats(p);
            prop_assert_eq!(stats.open_bids, self.provider_bids(p).len() as u64);
            prop_assert_eq!(stats.active_leases, self.provider_leases(p).len() as u64);
        }
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("KUMO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_books_and_the_market_consistent(
        ops in proptest::collection::vec(op(), 5..40)
    ) {
        let mut world = World::new();
        for op in &ops {
            world.run(op);
            world.check()?;
        }
    }
}
