//! Provider bonds, attendance, slashing and disputes with every contract wired together.

use cosmwasm_std::{coins, Decimal256, Uint128};
use kumo::market;
use kumo::staking::{DisputeResponse, DisputeState, ExecuteMsg, QueryMsg};
use kumo_tests::{assert_fails_with, event_values, Suite, DENOM, STARTING_BALANCE};

const HELLO: &str = include_str!("../../examples/hello.yaml");
const BID_DEPOSIT: u128 = 500_000;
const BOND: u128 = 20_000_000;

fn per_second(units: u128) -> Decimal256 {
    Decimal256::from_ratio(units, 1u128)
}

/// A staking suite with provider1 bonded and leasing `hello.yaml` to the tenant at 10/s.
fn leased() -> (Suite, kumo::DeploymentId, kumo::BidId) {
    let mut suite = Suite::with_staking();
    for p in ["provider1", "provider2"] {
        suite.register_provider(p, &[("region", "local")]).unwrap();
    }
    suite.bond("provider1", BOND).unwrap();
    let d = suite
        .create_deployment(
            "tenant",
            Suite::groups_from_sdl(HELLO, DENOM),
            50_000_000,
            DENOM,
            None,
        )
        .unwrap();
    let bid = suite
        .bid(
            "provider1",
            &suite.order(&d, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap();
    suite.create_lease("tenant", &bid).unwrap();
    (suite, d, bid)
}

#[test]
fn unbonded_providers_cannot_bid() {
    let (mut suite, _, _) = leased();
    let d = suite
        .create_deployment(
            "tenant2",
            Suite::groups_from_sdl(HELLO, DENOM),
            10_000_000,
            DENOM,
            None,
        )
        .unwrap();
    let err = suite
        .bid(
            "provider2",
            &suite.order(&d, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap_err();
    assert_fails_with(&err, "may not bid or lease: the provider has no bond");
    // Below the minimum bond.
    suite.bond("provider2", 9_999_999).unwrap();
    let err = suite
        .bid(
            "provider2",
            &suite.order(&d, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap_err();
    assert_fails_with(&err, "is below the 10000000 required");
    suite.bond("provider2", 1).unwrap();
    suite
        .bid(
            "provider2",
            &suite.order(&d, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap();
}

#[test]
fn an_absent_provider_is_jailed_slashed_and_its_tenants_made_whole() {
    let (mut suite, d, lease) = leased();
    suite.advance_seconds(100);
    suite
        .staking_exec("provider1", &ExecuteMsg::Heartbeat {}, &[])
        .unwrap();
    let heartbeat_at = suite.app.block_info().time;

    // A heartbeat from someone else changes nothing for provider1.
    let err = suite
        .staking_exec("provider2", &ExecuteMsg::Heartbeat {}, &[])
        .unwrap_err();
    assert_fails_with(&err, "has no bond");

    // Three periods of 300 s must pass before anyone may report.
    suite.advance_seconds(899);
    let report = ExecuteMsg::ReportAbsence {
        provider: suite.addr("provider1").to_string(),
    };
    let err = suite.staking_exec("keeper", &report, &[]).unwrap_err();
    assert_fails_with(&err, "may be reported absent from");
    suite.advance_seconds(1);
    let res = suite.staking_exec("keeper", &report, &[]).unwrap();
    // 10% of 20,000,000: 200,000 to the reporter, 1,000,000 for the tenant, 800,000 to the
    // treasury.
    assert_eq!(
        event_values(&res, "provider_jailed", "slashed"),
        vec!["2000000"]
    );
    let keeper = suite.addr("keeper");
    let treasury = suite.treasury.clone();
    assert_eq!(suite.balance(&keeper, DENOM), STARTING_BALANCE + 200_000);
    assert_eq!(suite.balance(&treasury, DENOM), 800_000);
    // No double slash.
    let err = suite.staking_exec("keeper", &report, &[]).unwrap_err();
    assert_fails_with(&err, "is jailed");

    // Anyone closes the absent provider's leases; the group is re-listed.
    let market_addr = suite.market.clone();
    let res = suite
        .exec(
            "keeper",
            &market_addr,
            &market::ExecuteMsg::CloseAbsentLeases {
                provider: suite.addr("provider1").to_string(),
                limit: None,
            },
            &[],
        )
        .unwrap();
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["20001"]);
    assert_eq!(
        event_values(&res, "tenant_compensated", "amount"),
        vec!["1000000"]
    );
    assert!(suite.lease(&lease).is_none());
    assert_eq!(
        suite.order_state(&suite.order(&d, 1, 2)),
        Some(market::OrderState::Open)
    );
    // The provider is paid up to its last heartbeat only: 100 s at 10/s, less 2%.
    let provider = suite.addr("provider1");
    assert_eq!(
        heartbeat_at.seconds() + 900,
        suite.app.block_info().time.seconds()
    );
    assert_eq!(
        suite.balance(&provider, DENOM),
        STARTING_BALANCE - BOND + 980
    );
    assert_eq!(suite.balance(&treasury, DENOM), 800_000 + 20);
    // The tenant paid for those 100 s and was compensated, to the unit.
    suite.close_deployment("tenant", d.dseq).unwrap();
    let tenant = suite.addr("tenant");
    assert_eq!(
        suite.balance(&tenant, DENOM),
        STARTING_BALANCE - 1_000 + 1_000_000
    );

    // Jailed providers cannot bid; they unjail after the jail time with enough bond.
    let d2 = suite
        .create_deployment(
            "tenant2",
            Suite::groups_from_sdl(HELLO, DENOM),
            10_000_000,
            DENOM,
            None,
        )
        .unwrap();
    let err = suite
        .bid(
            "provider1",
            &suite.order(&d2, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap_err();
    assert_fails_with(&err, "jailed until");
    let err = suite
        .staking_exec("provider1", &ExecuteMsg::Unjail {}, &[])
        .unwrap_err();
    assert_fails_with(&err, "may unjail at");
    suite.advance_seconds(86_400);
    suite
        .staking_exec("provider1", &ExecuteMsg::Unjail {}, &[])
        .unwrap();
    suite
        .bid(
            "provider1",
            &suite.order(&d2, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap();
    let bond = suite.provider_bond("provider1").bond;
    assert_eq!(bond.bonded, Uint128::new(BOND - 2_000_000));
    assert_eq!(bond.reputation.absences, 1);
}

#[test]
fn unbonding_is_blocked_while_leases_need_the_bond() {
    let (mut suite, d, _) = leased();
    // 10/s × 86,400 s × 1 on top of the 10,000,000 minimum: 10,864,000 must stay.
    assert_eq!(
        suite.provider_bond("provider1").required,
        Uint128::new(10_864_000)
    );
    let unbond = |amount: u128| ExecuteMsg::Unbond {
        amount: Uint128::new(amount),
    };
    let err = suite
        .staking_exec("provider1", &unbond(BOND - 10_863_999), &[])
        .unwrap_err();
    assert_fails_with(&err, "the provider's leases and bids need 10864000");
    suite
        .staking_exec("provider1", &unbond(BOND - 10_864_000), &[])
        .unwrap();
    suite.close_deployment("tenant", d.dseq).unwrap();
    // No leases or bids left: everything may go.
    suite
        .staking_exec("provider1", &unbond(10_864_000), &[])
        .unwrap();
    let err = suite
        .staking_exec("provider1", &ExecuteMsg::Claim {}, &[])
        .unwrap_err();
    assert_fails_with(&err, "nothing to claim yet");
    suite.advance_seconds(604_800);
    suite
        .staking_exec("provider1", &ExecuteMsg::Claim {}, &[])
        .unwrap();
    let provider = suite.addr("provider1");
    // The bond is back; the lease paid 0 s (closed at once), the bid deposit was refunded.
    assert_eq!(suite.balance(&provider, DENOM), STARTING_BALANCE);
}

#[test]
fn disputes_are_upheld_dismissed_or_expire() {
    let (mut suite, _, lease) = leased();
    let open = |evidence: &str| ExecuteMsg::OpenDispute {
        lease: lease.clone(),
        evidence: evidence.into(),
    };
    let deposit = coins(1_000_000, DENOM);
    // Only the lease's tenant may dispute it, with exactly the deposit.
    let err = suite
        .staking_exec("tenant2", &open("x"), &deposit)
        .unwrap_err();
    assert_fails_with(&err, "unauthorized");
    let err = suite
        .staking_exec("tenant", &open("x"), &coins(999_999, DENOM))
        .unwrap_err();
    assert_fails_with(&err, "a dispute deposit of 1000000 is required");
    suite
        .staking_exec("tenant", &open("the service never answered"), &deposit)
        .unwrap();
    let err = suite
        .staking_exec("tenant", &open("again"), &deposit)
        .unwrap_err();
    assert_fails_with(&err, "already has an open dispute");
    suite
        .staking_exec(
            "provider1",
            &ExecuteMsg::AnswerDispute {
                id: 1,
                answer: "it did".into(),
            },
            &[],
        )
        .unwrap();
    // Only the arbiter (governance by default) resolves.
    let uphold = ExecuteMsg::ResolveDispute { id: 1, slash: true };
    let err = suite.staking_exec("tenant", &uphold, &[]).unwrap_err();
    assert_fails_with(&err, "unauthorized");
    let owner = suite.owner.clone();
    let staking = suite.staking();
    use cw_multi_test::Executor;
    suite
        .app
        .execute_contract(owner.clone(), staking.clone(), &uphold, &[])
        .unwrap();
    // Upheld: 2,000,000 slashed; the tenant gets its deposit, the reporter's and the
    // compensation shares (60%); the treasury the rest.
    let tenant = suite.addr("tenant");
    assert_eq!(
        suite.balance(&tenant, DENOM),
        STARTING_BALANCE - 50_000_000 + 1_200_000
    );
    let treasury = suite.treasury.clone();
    assert_eq!(suite.balance(&treasury, DENOM), 800_000);

    // Dismissed: the deposit goes to the provider.
    suite
        .staking_exec("tenant", &open("still slow"), &deposit)
        .unwrap();
    suite
        .app
        .execute_contract(
            owner,
            staking.clone(),
            &ExecuteMsg::ResolveDispute {
                id: 2,
                slash: false,
            },
            &[],
        )
        .unwrap();
    let provider = suite.addr("provider1");
    assert_eq!(
        suite.balance(&provider, DENOM),
        STARTING_BALANCE - BOND - BID_DEPOSIT + 1_000_000
    );

    // Unresolved: after the timeout anyone expires it and the tenant gets the deposit back.
    suite
        .staking_exec("tenant", &open("third time"), &deposit)
        .unwrap();
    let expire = ExecuteMsg::ExpireDispute { id: 3 };
    let err = suite.staking_exec("keeper", &expire, &[]).unwrap_err();
    assert_fails_with(&err, "runs until");
    suite.advance_seconds(604_800);
    suite.staking_exec("keeper", &expire, &[]).unwrap();
    let d: DisputeResponse = suite
        .app
        .wrap()
        .query_wasm_smart(&staking, &QueryMsg::Dispute { id: 3 })
        .unwrap();
    assert_eq!(d.dispute.state, DisputeState::Expired);
    let reputation = suite.provider_bond("provider1").bond.reputation;
    assert_eq!(
        (reputation.disputes_lost, reputation.disputes_dismissed),
        (1, 1)
    );
}

#[test]
fn only_the_market_pays_compensation() {
    let (mut suite, _, _) = leased();
    let err = suite
        .staking_exec(
            "tenant",
            &ExecuteMsg::CompensateTenant {
                provider: suite.addr("provider1").to_string(),
                tenant: suite.addr("tenant").to_string(),
            },
            &[],
        )
        .unwrap_err();
    assert_fails_with(&err, "unauthorized: only the market");
    // And leases are only closed for absence once the provider was jailed.
    let market_addr = suite.market.clone();
    let err = suite
        .exec(
            "keeper",
            &market_addr,
            &market::ExecuteMsg::CloseAbsentLeases {
                provider: suite.addr("provider1").to_string(),
                limit: None,
            },
            &[],
        )
        .unwrap_err();
    assert_fails_with(&err, "is not jailed for absence");
}

#[test]
fn a_tenant_may_require_a_track_record() {
    let (mut suite, _, lease) = leased();
    let demanding = |suite: &mut Suite, record: market::RecordRequirement| {
        let tenant2 = suite.addr("tenant2");
        let market_addr = suite.market.clone();
        use cw_multi_test::Executor;
        let res = suite
            .app
            .execute_contract(
                tenant2.clone(),
                market_addr,
                &market::ExecuteMsg::CreateDeployment(market::NewDeployment {
                    groups: Suite::groups_from_sdl(HELLO, DENOM),
                    version: cosmwasm_std::HexBinary::from(vec![1u8; 32]),
                    auction_window: None,
                    reclamation_min_window: None,
                    provider_record: Some(record),
                }),
                &coins(10_000_000, DENOM),
            )
            .unwrap();
        let dseq: u64 = event_values(&res, "order_created", "order")[0]
            .split('/')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        kumo::DeploymentId::new(tenant2, dseq)
    };
    let d = demanding(
        &mut suite,
        market::RecordRequirement {
            min_leases_completed: 1,
            ..Default::default()
        },
    );
    let err = suite
        .bid(
            "provider1",
            &suite.order(&d, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap_err();
    assert_fails_with(&err, "0 leases completed, 1 required");
    // Once a tenant closes its lease the provider has one completed lease.
    suite.advance_seconds(60);
    suite.close_lease("tenant", &lease).unwrap();
    let record = suite.provider_stats("provider1").record;
    assert_eq!((record.completed, record.closed_by_tenant), (1, 1));
    suite
        .bid(
            "provider1",
            &suite.order(&d, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap();
    // A slashed provider is refused by a tenant that accepts none.
    let d2 = demanding(
        &mut suite,
        market::RecordRequirement {
            max_slashes: Some(0),
            ..Default::default()
        },
    );
    let staking = suite.staking();
    let owner = suite.owner.clone();
    use cw_multi_test::Executor;
    let new_lease = suite.order(&d, 1, 1).bid(suite.addr("provider1"));
    suite.create_lease("tenant2", &new_lease).unwrap();
    suite
        .staking_exec(
            "tenant2",
            &ExecuteMsg::OpenDispute {
                lease: new_lease,
                evidence: "down".into(),
            },
            &coins(1_000_000, DENOM),
        )
        .unwrap();
    suite
        .app
        .execute_contract(
            owner,
            staking,
            &ExecuteMsg::ResolveDispute { id: 1, slash: true },
            &[],
        )
        .unwrap();
    let err = suite
        .bid(
            "provider1",
            &suite.order(&d2, 1, 1),
            per_second(10),
            BID_DEPOSIT,
            DENOM,
        )
        .unwrap_err();
    assert_fails_with(&err, "1 slashes, at most 0 accepted");
}
