//! Cross-contract scenarios beyond the happy path: auctions, overdrawn accounts, reclamation,
//! re-listing, deregistration, CW20 and IBC denominations, and deposit allowances.

use cosmwasm_std::{coins, to_json_binary, Decimal, Decimal256, HexBinary, Uint128};
use cw_multi_test::Executor;
use kumo::escrow::{self, AccountId};
use kumo::market::{
    self, BidState, GroupState, LeaseCloseReason, NewBid, NewDeployment, OrderState,
};
use kumo::registry;
use kumo::Denom;
use kumo_tests::{assert_fails_with, event_values, Suite, DENOM, IBC_DENOM, STARTING_BALANCE};

const HELLO: &str = include_str!("../../examples/hello.yaml");
const BID_DEPOSIT: u128 = 500_000;

fn per_second(units: u128) -> Decimal256 {
    Decimal256::from_ratio(units, 1u128)
}

/// Three registered providers and a deployment of `hello.yaml` funded with `deposit`.
fn deployed(deposit: u128, auction: Option<u64>) -> (Suite, kumo::DeploymentId) {
    let mut suite = Suite::new();
    for p in ["provider1", "provider2", "provider3"] {
        suite.register_provider(p, &[("region", "local")]).unwrap();
    }
    let groups = Suite::groups_from_sdl(HELLO, DENOM);
    let d = suite
        .create_deployment("tenant", groups, deposit, DENOM, auction)
        .unwrap();
    (suite, d)
}

#[test]
fn auction_close_leases_the_lowest_bid_and_refunds_the_rest() {
    let (mut suite, d) = deployed(50_000_000, Some(600));
    let order = suite.order(&d, 1, 1);
    let b1 = suite
        .bid("provider1", &order, per_second(9), BID_DEPOSIT, DENOM)
        .unwrap();
    let b2 = suite
        .bid("provider2", &order, per_second(7), BID_DEPOSIT, DENOM)
        .unwrap();
    let b3 = suite
        .bid("provider3", &order, per_second(7), BID_DEPOSIT, DENOM)
        .unwrap();
    let close = market::ExecuteMsg::CloseAuction {
        order: order.clone(),
    };
    let market = suite.market.clone();
    let err = suite.exec("keeper", &market, &close, &[]).unwrap_err();
    assert_fails_with(&err, "runs until");
    suite.advance_seconds(600);
    let res = suite.exec("keeper", &market, &close, &[]).unwrap();
    // A tie at 7/s goes to the earlier bid.
    assert_eq!(suite.bid_state(&b2), Some(BidState::Active));
    assert_eq!(suite.bid_state(&b1), None);
    assert_eq!(suite.bid_state(&b3), None);
    assert_eq!(
        event_values(&res, "lease_created", "lease"),
        vec![b2.to_string()]
    );
    for loser in ["provider1", "provider3"] {
        let addr = suite.addr(loser);
        assert_eq!(suite.balance(&addr, DENOM), STARTING_BALANCE);
    }
    assert_eq!(suite.provider_stats("provider2").active_leases, 1);
}

#[test]
fn overdrawn_account_closes_leases_with_reason_20000() {
    // 5,000,000 at 15/s lasts 333,333.3 s.
    let (mut suite, d) = deployed(5_000_000, None);
    let order = suite.order(&d, 1, 1);
    let bid = suite
        .bid("provider1", &order, per_second(15), BID_DEPOSIT, DENOM)
        .unwrap();
    suite.create_lease("tenant", &bid).unwrap();
    suite.advance_seconds(400_000);
    let res = suite.settle("keeper", &d).unwrap();
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["20000"]);
    assert_eq!(
        event_values(&res, "group_state", "state"),
        vec!["InsufficientFunds"]
    );
    assert!(suite.lease(&bid).is_none());
    assert!(suite.deployment(&d).is_none());
    assert_eq!(suite.provider_stats("provider1").active_leases, 0);
    // Everything the tenant deposited went out: to the provider, the take, the settler's bounty.
    let tenant = suite.addr("tenant");
    assert_eq!(suite.balance(&tenant, DENOM), STARTING_BALANCE - 5_000_000);
    let provider = suite.addr("provider1");
    let keeper = suite.addr("keeper");
    let treasury = suite.treasury.clone();
    let paid = suite.balance(&provider, DENOM) - STARTING_BALANCE;
    let bounty = suite.balance(&keeper, DENOM) - STARTING_BALANCE;
    let take = suite.balance(&treasury, DENOM);
    assert_eq!(paid + bounty + take, 5_000_000);
    assert!(take >= 5_000_000 * 2 / 100 - 1_000, "take {take}");
    let escrow = suite.escrow.clone();
    assert_eq!(suite.balance(&escrow, DENOM), 0);
}

#[test]
fn reclamation_window_keeps_the_lease_running_until_its_deadline() {
    let mut suite = Suite::new();
    suite
        .register_provider("provider1", &[("region", "local")])
        .unwrap();
    let owner = suite.addr("tenant");
    let market = suite.market.clone();
    suite
        .app
        .execute_contract(
            owner.clone(),
            market.clone(),
            &market::ExecuteMsg::CreateDeployment(NewDeployment {
                groups: Suite::groups_from_sdl(HELLO, DENOM),
                version: HexBinary::from(vec![7u8; 32]),
                auction_window: None,
                reclamation_min_window: Some(3_600),
                provider_record: None,
            }),
            &coins(50_000_000, DENOM),
        )
        .unwrap();
    let d = kumo::DeploymentId::new(owner, 1);
    let order = d.group(1).order(1);
    let new_bid = |window| {
        market::ExecuteMsg::CreateBid(NewBid {
            order: order.clone(),
            price: per_second(10),
            reclamation_window: window,
            offer: vec![],
        })
    };
    let deposit = coins(BID_DEPOSIT, DENOM);
    let err = suite
        .exec("provider1", &market, &new_bid(None), &deposit)
        .unwrap_err();
    assert_fails_with(
        &err,
        &kumo_market::ContractError::ReclamationRequired { min: 3_600 }.to_string(),
    );
    suite
        .exec("provider1", &market, &new_bid(Some(7_200)), &deposit)
        .unwrap();
    let lease = order.bid(suite.addr("provider1"));
    suite.create_lease("tenant", &lease).unwrap();
    suite
        .exec(
            "provider1",
            &market,
            &market::ExecuteMsg::StartReclaim {
                lease: lease.clone(),
                reason: LeaseCloseReason::Decommissioned,
            },
            &[],
        )
        .unwrap();
    let close = market::ExecuteMsg::CloseBid {
        bid: lease.clone(),
        reason: None,
    };
    suite.advance_seconds(3_600);
    let err = suite.exec("provider1", &market, &close, &[]).unwrap_err();
    assert_fails_with(&err, "is reclaiming until");
    suite.advance_seconds(3_600);
    let res = suite.exec("provider1", &market, &close, &[]).unwrap();
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["10001"]);
    // Paid for the whole window: 7200 s at 10/s, less the 2% take; the bid deposit is back.
    let provider = suite.addr("provider1");
    assert_eq!(
        suite.balance(&provider, DENOM),
        STARTING_BALANCE + 72_000 - 1_440
    );
    let group = suite.deployment(&d).unwrap().groups.remove(0);
    assert_eq!(group.state, GroupState::Paused);
}

#[test]
fn tenant_close_relists_the_group_for_new_bids() {
    let (mut suite, d) = deployed(50_000_000, None);
    let first = suite.order(&d, 1, 1);
    let bid = suite
        .bid("provider1", &first, per_second(10), BID_DEPOSIT, DENOM)
        .unwrap();
    suite.create_lease("tenant", &bid).unwrap();
    suite.advance_seconds(100);
    let res = suite.close_lease("tenant", &bid).unwrap();
    assert_eq!(
        event_values(&res, "order_created", "order"),
        vec![suite.order(&d, 1, 2).to_string()]
    );
    let second = suite.order(&d, 1, 2);
    assert_eq!(suite.order_state(&second), Some(OrderState::Open));
    let again = suite
        .bid("provider2", &second, per_second(8), BID_DEPOSIT, DENOM)
        .unwrap();
    suite.create_lease("tenant", &again).unwrap();
    // The first provider was paid for its 100 s when the lease closed.
    let p1 = suite.addr("provider1");
    assert_eq!(suite.balance(&p1, DENOM), STARTING_BALANCE + 1_000 - 20);
    let account = suite.account(&d).unwrap().account;
    assert_eq!(account.rate, per_second(8));
}

#[test]
fn deregistration_waits_for_active_leases() {
    let (mut suite, d) = deployed(50_000_000, None);
    let order = suite.order(&d, 1, 1);
    let bid = suite
        .bid("provider1", &order, per_second(10), BID_DEPOSIT, DENOM)
        .unwrap();
    suite.create_lease("tenant", &bid).unwrap();
    let registry = suite.registry.clone();
    suite
        .exec(
            "provider1",
            &registry,
            &registry::ExecuteMsg::BeginDeregistration {},
            &[],
        )
        .unwrap();
    let err = suite
        .exec(
            "provider1",
            &registry,
            &registry::ExecuteMsg::FinishDeregistration {},
            &[],
        )
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("active lease"),
        "unexpected error: {err:#}"
    );
    // A deregistering provider may not bid.
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
    assert_fails_with(&err, "is deregistering and may not bid");
    suite.close_lease("tenant", &bid).unwrap();
    suite
        .exec(
            "provider1",
            &registry,
            &registry::ExecuteMsg::FinishDeregistration {},
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
    assert_fails_with(&err, "is not a registered provider");
}

#[test]
fn ibc_denom_deployment_runs_the_whole_lifecycle() {
    let mut suite = Suite::new();
    suite
        .register_provider("provider1", &[("region", "local")])
        .unwrap();
    let groups = Suite::groups_from_sdl(HELLO, IBC_DENOM);
    let d = suite
        .create_deployment("tenant", groups, 20_000_000, IBC_DENOM, None)
        .unwrap();
    let order = suite.order(&d, 1, 1);
    let bid = suite
        .bid("provider1", &order, per_second(10), BID_DEPOSIT, IBC_DENOM)
        .unwrap();
    suite.create_lease("tenant", &bid).unwrap();
    suite.advance_seconds(1_000);
    suite.close_deployment("tenant", d.dseq).unwrap();
    let tenant = suite.addr("tenant");
    let provider = suite.addr("provider1");
    let treasury = suite.treasury.clone();
    assert_eq!(suite.balance(&tenant, IBC_DENOM), STARTING_BALANCE - 10_000);
    assert_eq!(
        suite.balance(&provider, IBC_DENOM),
        STARTING_BALANCE + 9_800
    );
    assert_eq!(suite.balance(&treasury, IBC_DENOM), 200);
    // The native denomination was never touched.
    assert_eq!(suite.balance(&tenant, DENOM), STARTING_BALANCE);
}

#[test]
fn cw20_deployment_pays_and_refunds_in_the_token() {
    let mut suite = Suite::new();
    suite
        .register_provider("provider1", &[("region", "local")])
        .unwrap();
    let token = suite.cw20_token("KUMOX", &["tenant", "sponsor"]);
    suite.list_denom(Denom::Cw20(token.clone()), 1_000_000, Decimal::percent(1));
    let denom = format!("cw20:{token}");
    let groups = Suite::groups_from_sdl(HELLO, &denom);
    let market = suite.market.clone();
    let send = |amount: u128, msg: &market::ReceiveMsg| cw20::Cw20ExecuteMsg::Send {
        contract: market.to_string(),
        amount: Uint128::new(amount),
        msg: to_json_binary(msg).unwrap(),
    };
    let create = send(
        3_000_000,
        &market::ReceiveMsg::CreateDeployment(NewDeployment {
            groups,
            version: HexBinary::from(vec![7u8; 32]),
            auction_window: None,
            reclamation_min_window: None,
            provider_record: None,
        }),
    );
    suite.exec("tenant", &token, &create, &[]).unwrap();
    let d = kumo::DeploymentId::new(suite.addr("tenant"), 1);
    // The bid deposit is native; the lease is paid in the token.
    let order = suite.order(&d, 1, 1);
    let bid = suite
        .bid("provider1", &order, per_second(10), BID_DEPOSIT, DENOM)
        .unwrap();
    suite.create_lease("tenant", &bid).unwrap();
    let top_up = send(
        1_000_000,
        &market::ReceiveMsg::Deposit {
            deployment: d.clone(),
        },
    );
    suite.exec("sponsor", &token, &top_up, &[]).unwrap();
    suite.advance_seconds(1_000);
    suite.withdraw_lease("keeper", &bid).unwrap();
    let provider = suite.addr("provider1");
    let treasury = suite.treasury.clone();
    assert_eq!(suite.cw20_balance(&token, &provider), 9_900);
    assert_eq!(suite.cw20_balance(&token, &treasury), 100);
    suite.close_deployment("tenant", d.dseq).unwrap();
    let tenant = suite.addr("tenant");
    let sponsor = suite.addr("sponsor");
    assert_eq!(
        suite.cw20_balance(&token, &tenant),
        STARTING_BALANCE - 10_000
    );
    assert_eq!(suite.cw20_balance(&token, &sponsor), STARTING_BALANCE);
    let escrow = suite.escrow.clone();
    assert_eq!(suite.cw20_balance(&token, &escrow), 0);
}

#[test]
fn allowance_deposits_are_refunded_into_the_allowance() {
    let (mut suite, d) = deployed(10_000_000, None);
    let escrow_addr = suite.escrow.clone();
    let tenant = suite.addr("tenant");
    suite
        .exec(
            "sponsor",
            &escrow_addr,
            &escrow::ExecuteMsg::GrantAllowance {
                grantee: tenant.to_string(),
                expires: None,
            },
            &coins(4_000_000, DENOM),
        )
        .unwrap();
    let sponsor = suite.addr("sponsor");
    suite
        .exec(
            "tenant",
            &escrow_addr,
            &escrow::ExecuteMsg::DepositFromAllowance {
                id: AccountId::Deployment(d.clone()),
                granter: sponsor.to_string(),
                amount: Uint128::new(3_000_000),
            },
            &[],
        )
        .unwrap();
    let allowance = |suite: &Suite| -> u128 {
        let res: escrow::AllowanceResponse = suite
            .app
            .wrap()
            .query_wasm_smart(
                &suite.escrow,
                &escrow::QueryMsg::Allowance {
                    granter: sponsor.to_string(),
                    grantee: tenant.to_string(),
                    denom: Denom::Native(DENOM.into()),
                },
            )
            .unwrap();
        res.allowance.remaining.u128()
    };
    assert_eq!(allowance(&suite), 1_000_000);
    // More than is left is refused.
    let err = suite
        .exec(
            "tenant",
            &escrow_addr,
            &escrow::ExecuteMsg::DepositFromAllowance {
                id: AccountId::Deployment(d.clone()),
                granter: sponsor.to_string(),
                amount: Uint128::new(1_000_001),
            },
            &[],
        )
        .unwrap_err();
    assert_fails_with(
        &err,
        "the allowance has 1000000 left, 1000001 was asked for",
    );
    suite.close_deployment("tenant", d.dseq).unwrap();
    // Nothing was spent: the granted deposit went back into the allowance.
    assert_eq!(allowance(&suite), 4_000_000);
    suite
        .exec(
            "sponsor",
            &escrow_addr,
            &escrow::ExecuteMsg::RevokeAllowance {
                grantee: tenant.to_string(),
                denom: Denom::Native(DENOM.into()),
            },
            &[],
        )
        .unwrap();
    assert_eq!(suite.balance(&sponsor, DENOM), STARTING_BALANCE);
    assert_eq!(suite.balance(&escrow_addr, DENOM), 0);
}
