//! Unit tests of the staking contract on its own. The market is answered by a mock querier
//! (the real market runs with staking in the workspace `tests/` crate).

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, MockApi, MockQuerier, MockStorage,
};
use cosmwasm_std::{
    coins, from_json, to_json_binary, BankMsg, Binary, ContractResult, CosmosMsg, Decimal,
    Decimal256, DepsMut, Env, MessageInfo, OwnedDeps, Response, StdResult, SystemResult, Uint128,
    WasmQuery,
};
use kumo::market::{LeaseResponse, ProviderStats, ProviderStatsResponse, QueryMsg as MarketQuery};
use kumo::staking::*;
use kumo::Denom;

use crate::contract;
use crate::error::ContractError;

/// Every message the tests send goes through JSON as the chain would send it.
use kumo::json::as_received as json;

fn instantiate(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    contract::instantiate(deps, env, info, json(&msg))
}

fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    contract::execute(deps, env, info, json(&msg))
}

fn query(deps: cosmwasm_std::Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    contract::query(deps, env, json(&msg))
}

type Deps = OwnedDeps<MockStorage, MockApi, MockQuerier>;
const DENOM: &str = "ukumo";

fn params() -> StakingParams {
    StakingParams {
        bond_denom: Denom::Native(DENOM.into()),
        min_bond: Uint128::new(1_000),
        bond_ratio: Decimal::one(),
        bond_window: 100,
        unbonding_period: 50,
        max_unbonding_entries: 2,
        attendance_period: 10,
        grace_periods: 3,
        slash_fraction: Decimal::percent(10),
        reporter_share: Decimal::percent(10),
        compensation_share: Decimal::percent(50),
        jail_duration: 1_000,
        dispute_deposit: Uint128::new(100),
        dispute_timeout: 500,
    }
}

struct T {
    deps: Deps,
    env: Env,
}

impl T {
    fn new() -> Self {
        let mut deps = mock_dependencies();
        let a = |n: &str| deps.api.addr_make(n).to_string();
        let msg = InstantiateMsg {
            owner: a("owner"),
            market: Some(a("market")),
            treasury: a("treasury"),
            arbiter: Some(a("arbiter")),
            params: params(),
        };
        let owner = deps.api.addr_make("owner");
        instantiate(deps.as_mut(), mock_env(), message_info(&owner, &[]), msg).unwrap();
        let mut t = T {
            deps,
            env: mock_env(),
        };
        t.set_market(0, 0, None);
        t
    }

    /// What the mock market answers: the provider's counters, its lease rate in `ukumo`, and
    /// whether lease queries find a live lease.
    fn set_market(&mut self, active_leases: u64, open_bids: u64, rate: Option<u128>) {
        let lease_live = active_leases > 0;
        self.deps.querier.update_wasm(move |q| {
            let stats = ProviderStats {
                active_leases,
                open_bids,
                lease_rates: rate
                    .map(|r| {
                        vec![(
                            Denom::Native(DENOM.into()),
                            Decimal256::from_ratio(r, 1u128),
                        )]
                    })
                    .unwrap_or_default(),
                bid_deposits: vec![],
                record: Default::default(),
            };
            let msg = match q {
                // The counters are read raw from the market's `provider_stats` map.
                WasmQuery::Raw { key, .. } => {
                    let value = if key.as_slice()[2..]
                        .starts_with(kumo::market::PROVIDER_STATS_NAMESPACE.as_bytes())
                    {
                        kumo::codec::Encode::to_bytes(&stats).into()
                    } else if key.as_slice()[2..]
                        .starts_with(kumo::market::LEASES_NAMESPACE.as_bytes())
                        && lease_live
                    {
                        // The market's stored lease record starts with its state, which is all
                        // the staking contract reads.
                        kumo::codec::Encode::to_bytes(&kumo::market::LeaseHeader {
                            state: serde_json_lease().lease.state,
                        })
                        .into()
                    } else if key.as_slice()[2..]
                        .starts_with(kumo::market::LEASES_NAMESPACE.as_bytes())
                    {
                        cosmwasm_std::Binary::default()
                    } else {
                        panic!("unexpected raw key {key:?}")
                    };
                    return SystemResult::Ok(ContractResult::Ok(value));
                }
                WasmQuery::Smart { msg, .. } => msg,
                _ => panic!("unexpected query {q:?}"),
            };
            let res = match from_json(msg).unwrap() {
                MarketQuery::ProviderStats { .. } => {
                    to_json_binary(&ProviderStatsResponse::from(stats))
                }
                MarketQuery::Lease { .. } if lease_live => {
                    return SystemResult::Ok(ContractResult::Ok(
                        to_json_binary(&serde_json_lease()).unwrap(),
                    ))
                }
                MarketQuery::Lease { .. } => {
                    return SystemResult::Ok(ContractResult::Err("lease not found".into()))
                }
                other => panic!("unexpected market query {other:?}"),
            };
            SystemResult::Ok(ContractResult::Ok(res.unwrap()))
        });
    }

    fn addr(&self, n: &str) -> cosmwasm_std::Addr {
        self.deps.api.addr_make(n)
    }

    fn exec(
        &mut self,
        who: &str,
        msg: ExecuteMsg,
        funds: &[cosmwasm_std::Coin],
    ) -> Result<Response, ContractError> {
        let sender = self.addr(who);
        execute(
            self.deps.as_mut(),
            self.env.clone(),
            message_info(&sender, funds),
            msg,
        )
    }

    fn bond(&mut self, who: &str, amount: u128) {
        self.exec(who, ExecuteMsg::Bond {}, &coins(amount, DENOM))
            .unwrap();
    }

    fn provider(&self, who: &str) -> ProviderBondResponse {
        from_json(
            query(
                self.deps.as_ref(),
                self.env.clone(),
                QueryMsg::Provider {
                    provider: self.addr(who).to_string(),
                },
            )
            .unwrap(),
        )
        .unwrap()
    }

    fn lease(&self) -> kumo::LeaseId {
        kumo::DeploymentId::new(self.addr("tenant"), 1)
            .group(1)
            .order(1)
            .bid(self.addr("p1"))
    }
}

/// Any live lease: the contract only checks that the query succeeds.
fn serde_json_lease() -> LeaseResponse {
    let api = MockApi::default();
    LeaseResponse {
        lease: kumo::market::Lease {
            id: kumo::DeploymentId::new(api.addr_make("tenant"), 1)
                .group(1)
                .order(1)
                .bid(api.addr_make("p1")),
            state: kumo::market::LeaseState::Active,
            price: Decimal256::one(),
            created_at: mock_env().block.time,
            closed_at: None,
            close_reason: None,
            reclamation_window: None,
            reclaim_deadline: None,
        },
    }
}

fn transfers(res: &Response) -> Vec<(String, u128)> {
    res.messages
        .iter()
        .filter_map(|m| match &m.msg {
            CosmosMsg::Bank(BankMsg::Send { to_address, amount }) => {
                Some((to_address.clone(), amount[0].amount.u128()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn bonds_accumulate_in_the_bond_denomination_only() {
    let mut t = T::new();
    assert!(matches!(
        t.exec("p1", ExecuteMsg::Bond {}, &coins(5, "uatom"))
            .unwrap_err(),
        ContractError::WrongDenom { .. }
    ));
    assert!(matches!(
        t.exec("p1", ExecuteMsg::Bond {}, &[]).unwrap_err(),
        ContractError::Payment(_)
    ));
    t.bond("p1", 600);
    t.bond("p1", 600);
    assert_eq!(t.provider("p1").bond.bonded, Uint128::new(1_200));
    // Funds on a message that takes none are refused.
    assert!(matches!(
        t.exec("p1", ExecuteMsg::Heartbeat {}, &coins(1, DENOM))
            .unwrap_err(),
        ContractError::Payment(_)
    ));
}

#[test]
fn unbonding_keeps_what_leases_need_and_is_bounded() {
    let mut t = T::new();
    t.bond("p1", 3_000);
    // One lease at 5/s: 1,000 + 5 × 100 must stay.
    t.set_market(1, 0, Some(5));
    assert_eq!(t.provider("p1").required, Uint128::new(1_500));
    let unbond = |n: u128| ExecuteMsg::Unbond {
        amount: Uint128::new(n),
    };
    assert_eq!(
        t.exec("p1", unbond(1_501), &[]).unwrap_err(),
        ContractError::BondRequired {
            amount: Uint128::new(1_501),
            bonded: Uint128::new(3_000),
            required: Uint128::new(1_500)
        }
    );
    assert!(matches!(
        t.exec("p1", unbond(0), &[]).unwrap_err(),
        ContractError::BondRequired { .. }
    ));
    t.exec("p1", unbond(500), &[]).unwrap();
    t.exec("p1", unbond(500), &[]).unwrap();
    assert_eq!(
        t.exec("p1", unbond(500), &[]).unwrap_err(),
        ContractError::TooManyUnbondings { max: 2 }
    );
    assert_eq!(
        t.exec("p1", ExecuteMsg::Claim {}, &[]).unwrap_err(),
        ContractError::NothingToClaim
    );
    t.env.block.time = t.env.block.time.plus_seconds(50);
    let res = t.exec("p1", ExecuteMsg::Claim {}, &[]).unwrap();
    assert_eq!(transfers(&res), vec![(t.addr("p1").to_string(), 1_000)]);
    assert!(matches!(
        t.exec("p2", unbond(1), &[]).unwrap_err(),
        ContractError::NotBonded { .. }
    ));
}

#[test]
fn absence_reports_need_leases_and_missed_periods_and_split_the_slash() {
    let mut t = T::new();
    t.bond("p1", 9_999);
    let report = ExecuteMsg::ReportAbsence {
        provider: t.addr("p1").to_string(),
    };
    t.env.block.time = t.env.block.time.plus_seconds(1_000);
    assert!(matches!(
        t.exec("keeper", report.clone(), &[]).unwrap_err(),
        ContractError::NoActiveLeases { .. }
    ));
    t.set_market(3, 0, None);
    t.exec("p1", ExecuteMsg::Heartbeat {}, &[]).unwrap();
    t.env.block.time = t.env.block.time.plus_seconds(29);
    assert!(matches!(
        t.exec("keeper", report.clone(), &[]).unwrap_err(),
        ContractError::NotAbsent { .. }
    ));
    t.env.block.time = t.env.block.time.plus_seconds(1);
    let res = t.exec("keeper", report.clone(), &[]).unwrap();
    // 10% of 9,999 = 999: 99 to the reporter, 499 to tenants, 401 to the treasury.
    assert_eq!(
        transfers(&res),
        vec![
            (t.addr("keeper").to_string(), 99),
            (t.addr("treasury").to_string(), 401)
        ]
    );
    assert!(matches!(
        t.exec("keeper", report, &[]).unwrap_err(),
        ContractError::Jailed { .. }
    ));
    assert!(matches!(
        t.exec("p1", ExecuteMsg::Heartbeat {}, &[]).unwrap_err(),
        ContractError::Jailed { .. }
    ));
    // Three leases share 499: 166, 166 and the last one 167.
    let compensate = |t: &mut T| {
        let msg = ExecuteMsg::CompensateTenant {
            provider: t.addr("p1").to_string(),
            tenant: t.addr("tenant").to_string(),
        };
        t.exec("market", msg, &[]).unwrap()
    };
    assert!(matches!(
        t.exec(
            "tenant",
            ExecuteMsg::CompensateTenant {
                provider: t.addr("p1").to_string(),
                tenant: t.addr("tenant").to_string(),
            },
            &[]
        )
        .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    let paid: Vec<u128> = (0..4)
        .map(|_| {
            transfers(&compensate(&mut t))
                .first()
                .map_or(0, |(_, a)| *a)
        })
        .collect();
    assert_eq!(paid, vec![166, 166, 167, 0]);
    let eligibility: BidEligibilityResponse = from_json(
        query(
            t.deps.as_ref(),
            t.env.clone(),
            QueryMsg::BidEligibility {
                provider: t.addr("p1").to_string(),
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert!(!eligibility.eligible);
    assert_eq!(eligibility.reputation.absences, 1);
}

#[test]
fn unjail_waits_for_the_jail_time_and_a_full_bond() {
    let mut t = T::new();
    t.bond("p1", 1_000);
    t.set_market(1, 0, None);
    t.env.block.time = t.env.block.time.plus_seconds(30);
    t.exec(
        "keeper",
        ExecuteMsg::ReportAbsence {
            provider: t.addr("p1").to_string(),
        },
        &[],
    )
    .unwrap();
    assert!(matches!(
        t.exec("p1", ExecuteMsg::Unjail {}, &[]).unwrap_err(),
        ContractError::JailNotOver { .. }
    ));
    t.env.block.time = t.env.block.time.plus_seconds(1_000);
    assert_eq!(
        t.exec("p1", ExecuteMsg::Unjail {}, &[]).unwrap_err(),
        ContractError::BondTooLow {
            bonded: Uint128::new(900),
            min: Uint128::new(1_000)
        }
    );
    t.bond("p1", 100);
    t.exec("p1", ExecuteMsg::Unjail {}, &[]).unwrap();
    assert!(matches!(
        t.exec("p1", ExecuteMsg::Unjail {}, &[]).unwrap_err(),
        ContractError::NotJailed { .. }
    ));
    // The pool stays until the leases are closed; sweeping needs none left.
    let sweep = ExecuteMsg::SweepCompensation {
        provider: t.addr("p1").to_string(),
    };
    assert!(matches!(
        t.exec("keeper", sweep.clone(), &[]).unwrap_err(),
        ContractError::LeasesLeft { count: 1, .. }
    ));
    t.set_market(0, 0, None);
    let res = t.exec("keeper", sweep.clone(), &[]).unwrap();
    assert_eq!(transfers(&res), vec![(t.addr("treasury").to_string(), 50)]);
    assert!(matches!(
        t.exec("keeper", sweep, &[]).unwrap_err(),
        ContractError::NoCompensation { .. }
    ));
}

#[test]
fn disputes_check_the_tenant_the_deposit_the_text_and_the_lease() {
    let mut t = T::new();
    t.bond("p1", 1_000);
    let open = |evidence: String| ExecuteMsg::OpenDispute {
        lease: t_lease(),
        evidence,
    };
    fn t_lease() -> kumo::LeaseId {
        serde_json_lease().lease.id
    }
    // No live lease.
    assert!(matches!(
        t.exec("tenant", open("x".into()), &coins(100, DENOM))
            .unwrap_err(),
        ContractError::LeaseNotLive { .. }
    ));
    t.set_market(1, 0, None);
    assert!(matches!(
        t.exec("tenant", open(String::new()), &coins(100, DENOM))
            .unwrap_err(),
        ContractError::TextLength { .. }
    ));
    assert!(matches!(
        t.exec("tenant", open("x".repeat(1_025)), &coins(100, DENOM))
            .unwrap_err(),
        ContractError::TextLength { .. }
    ));
    assert!(matches!(
        t.exec("p1", open("x".into()), &coins(100, DENOM))
            .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    t.exec("tenant", open("down".into()), &coins(100, DENOM))
        .unwrap();
    assert_eq!(t.lease(), t_lease());
    assert!(matches!(
        t.exec(
            "tenant",
            ExecuteMsg::AnswerDispute {
                id: 1,
                answer: "no".into()
            },
            &[]
        )
        .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    assert_eq!(
        t.exec("keeper", ExecuteMsg::ExpireDispute { id: 1 }, &[])
            .unwrap_err(),
        ContractError::DisputeRunning {
            id: 1,
            deadline: t.env.block.time.plus_seconds(500).seconds()
        }
    );
    assert!(matches!(
        t.exec(
            "owner",
            ExecuteMsg::ResolveDispute { id: 1, slash: true },
            &[]
        )
        .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    let res = t
        .exec(
            "arbiter",
            ExecuteMsg::ResolveDispute { id: 1, slash: true },
            &[],
        )
        .unwrap();
    // Slash of 100: the tenant gets 60 and its 100 deposit back; the treasury 40.
    assert_eq!(
        transfers(&res),
        vec![
            (t.addr("tenant").to_string(), 160),
            (t.addr("treasury").to_string(), 40)
        ]
    );
    assert_eq!(
        t.exec(
            "arbiter",
            ExecuteMsg::ResolveDispute { id: 1, slash: true },
            &[]
        )
        .unwrap_err(),
        ContractError::DisputeClosed { id: 1 }
    );
    assert_eq!(
        t.exec(
            "arbiter",
            ExecuteMsg::ResolveDispute { id: 9, slash: true },
            &[]
        )
        .unwrap_err(),
        ContractError::DisputeNotFound { id: 9 }
    );
    let list: DisputesResponse = from_json(
        query(
            t.deps.as_ref(),
            t.env.clone(),
            QueryMsg::Disputes {
                start_after: None,
                limit: Some(100),
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(list.disputes.len(), 1);
}

#[test]
fn config_is_the_owners_and_params_are_validated() {
    let mut t = T::new();
    let update = |params: StakingParams| ExecuteMsg::UpdateConfig {
        owner: None,
        market: None,
        treasury: None,
        arbiter: None,
        params: Some(params),
    };
    assert!(matches!(
        t.exec("p1", update(params()), &[]).unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    for bad in [
        StakingParams {
            reporter_share: Decimal::percent(60),
            compensation_share: Decimal::percent(50),
            ..params()
        },
        StakingParams {
            attendance_period: 0,
            ..params()
        },
        StakingParams {
            bond_denom: Denom::Native("uatom".into()),
            ..params()
        },
    ] {
        assert!(matches!(
            t.exec("owner", update(bad), &[]).unwrap_err(),
            ContractError::InvalidParams { .. }
        ));
    }
    t.exec("owner", update(params()), &[]).unwrap();
    contract::migrate(t.deps.as_mut(), t.env.clone(), json(&MigrateMsg {})).unwrap();
}

#[test]
fn a_cw20_bond_arrives_through_receive_from_the_bond_token_only() {
    let mut deps = mock_dependencies();
    let token = deps.api.addr_make("token");
    let owner = deps.api.addr_make("owner");
    instantiate(
        deps.as_mut(),
        mock_env(),
        message_info(&owner, &[]),
        InstantiateMsg {
            owner: owner.to_string(),
            market: None,
            treasury: owner.to_string(),
            arbiter: None,
            params: StakingParams {
                bond_denom: Denom::Cw20(token.clone()),
                ..params()
            },
        },
    )
    .unwrap();
    let p1 = deps.api.addr_make("p1");
    let receive = cw20::Cw20ReceiveMsg {
        sender: p1.to_string(),
        amount: Uint128::new(5_000),
        msg: to_json_binary(&ReceiveMsg::Bond {}).unwrap(),
    };
    let fake = deps.api.addr_make("fake");
    assert!(matches!(
        execute(
            deps.as_mut(),
            mock_env(),
            message_info(&fake, &[]),
            ExecuteMsg::Receive(receive.clone())
        )
        .unwrap_err(),
        ContractError::WrongDenom { .. }
    ));
    execute(
        deps.as_mut(),
        mock_env(),
        message_info(&token, &[]),
        ExecuteMsg::Receive(receive),
    )
    .unwrap();
    // Native coins are not the bond.
    assert!(matches!(
        execute(
            deps.as_mut(),
            mock_env(),
            message_info(&p1, &coins(5, DENOM)),
            ExecuteMsg::Bond {}
        )
        .unwrap_err(),
        ContractError::WrongDenom { .. }
    ));
    let res: ProviderBondResponse = from_json(
        query(
            deps.as_ref(),
            mock_env(),
            QueryMsg::Provider {
                provider: p1.to_string(),
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(res.bond.bonded, Uint128::new(5_000));
}
