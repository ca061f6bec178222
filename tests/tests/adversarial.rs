//! Attacks on the wired contracts, each expecting a typed error and no change of state.

use cosmwasm_std::{coin, coins, to_json_binary, Decimal256, HexBinary, Uint128};
use cw_multi_test::Executor;
use kumo::escrow::{self, AccountId, EscrowCallback};
use kumo::market::{self, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::Attribute;
use kumo_market::ContractError as MarketError;
use kumo_tests::{assert_fails_with, Suite, DENOM, IBC_DENOM, STARTING_BALANCE};

const HELLO: &str = include_str!("../../examples/hello.yaml");
const BID_DEPOSIT: u128 = 500_000;

fn per_second(units: u128) -> Decimal256 {
    Decimal256::from_ratio(units, 1u128)
}

/// A deployment with a lease from provider1 and an open bid from provider2 on a second
/// deployment.
fn leased() -> (Suite, kumo::DeploymentId, kumo::BidId) {
    let mut suite = Suite::new();
    for p in ["provider1", "provider2"] {
        suite.register_provider(p, &[("region", "local")]).unwrap();
    }
    let d = suite
        .create_deployment(
            "tenant",
            Suite::groups_from_sdl(HELLO, DENOM),
            20_000_000,
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
fn escrow_hooks_reject_strangers() {
    let (mut suite, d, lease) = leased();
    let escrow_addr = suite.escrow.clone();
    let tenant = suite.addr("tenant");
    let attempts = vec![
        (
            escrow::ExecuteMsg::OpenAccount {
                id: AccountId::Deployment(kumo::DeploymentId::new(tenant.clone(), 99)),
                owner: tenant.to_string(),
                depositor: tenant.to_string(),
            },
            coins(10_000_000, DENOM),
        ),
        (
            escrow::ExecuteMsg::OpenPayment {
                account: AccountId::Deployment(d.clone()),
                lease: d.group(1).order(1).bid(suite.addr("tenant")),
                payee: tenant.to_string(),
                rate: per_second(1_000),
            },
            vec![],
        ),
        (
            escrow::ExecuteMsg::ClosePayment {
                lease: lease.clone(),
                refund_since: None,
            },
            vec![],
        ),
        (
            escrow::ExecuteMsg::CloseAccount {
                id: AccountId::Deployment(d.clone()),
            },
            vec![],
        ),
        (
            escrow::ExecuteMsg::Deposit {
                id: AccountId::Deployment(d.clone()),
                depositor: Some(suite.addr("sponsor").to_string()),
            },
            coins(1_000, DENOM),
        ),
    ];
    for (msg, funds) in attempts {
        let err = suite
            .exec("tenant", &escrow_addr, &msg, &funds)
            .unwrap_err();
        assert_fails_with(&err, "unauthorized: only");
    }
    assert_eq!(suite.balance(&tenant, DENOM), STARTING_BALANCE - 20_000_000);
}

#[test]
fn market_callback_rejects_strangers() {
    let (mut suite, d, lease) = leased();
    let market_addr = suite.market.clone();
    let err = suite
        .exec(
            "provider2",
            &market_addr,
            &market::ExecuteMsg::EscrowCallback(EscrowCallback::AccountOverdrawn {
                deployment: d.clone(),
            }),
            &[],
        )
        .unwrap_err();
    assert_fails_with(&err, "unauthorized: only");
    assert!(suite.lease(&lease).is_some());
}

#[test]
fn cw20_from_an_unlisted_token_is_refused() {
    let mut suite = Suite::new();
    let token = suite.cw20_token("FAKE", &["tenant"]);
    let create = cw20::Cw20ExecuteMsg::Send {
        contract: suite.market.to_string(),
        amount: Uint128::new(10_000_000),
        msg: to_json_binary(&market::ReceiveMsg::CreateDeployment(NewDeployment {
            groups: Suite::groups_from_sdl(HELLO, &format!("cw20:{token}")),
            version: HexBinary::from(vec![7u8; 32]),
            auction_window: None,
            reclamation_min_window: None,
            provider_record: None,
        }))
        .unwrap(),
    };
    let err = suite.exec("tenant", &token, &create, &[]).unwrap_err();
    assert_fails_with(&err, "is not on the escrow's allow-list");
    // Straight to the escrow, too.
    let direct = cw20::Cw20ExecuteMsg::Send {
        contract: suite.escrow.to_string(),
        amount: Uint128::new(10_000_000),
        msg: to_json_binary(&escrow::ReceiveMsg::GrantAllowance {
            grantee: suite.addr("tenant2").to_string(),
            expires: None,
        })
        .unwrap(),
    };
    let err = suite.exec("tenant", &token, &direct, &[]).unwrap_err();
    assert_fails_with(&err, "is not on the escrow's allow-list");
    let tenant = suite.addr("tenant");
    assert_eq!(suite.cw20_balance(&token, &tenant), STARTING_BALANCE);
}

#[test]
fn wrong_and_extra_funds_are_refused() {
    let mut suite = Suite::new();
    let market_addr = suite.market.clone();
    let create = market::ExecuteMsg::CreateDeployment(NewDeployment {
        groups: Suite::groups_from_sdl(HELLO, DENOM),
        version: HexBinary::from(vec![7u8; 32]),
        auction_window: None,
        reclamation_min_window: None,
        provider_record: None,
    });
    let mismatch = |got: &str| {
        MarketError::DenomMismatch {
            price: DENOM.into(),
            deposit: got.into(),
        }
        .to_string()
    };
    for (funds, expected) in [
        (vec![], "No funds sent".to_string()),
        (
            vec![coin(10_000_000, DENOM), coin(10_000_000, IBC_DENOM)],
            "Sent more than one denomination".to_string(),
        ),
        (coins(10_000_000, IBC_DENOM), mismatch(IBC_DENOM)),
    ] {
        let err = suite
            .exec("tenant", &market_addr, &create, &funds)
            .unwrap_err();
        assert_fails_with(&err, &expected);
    }
    // Below the escrow's minimum deposit.
    let err = suite
        .exec("tenant", &market_addr, &create, &coins(4_999_999, DENOM))
        .unwrap_err();
    assert_fails_with(&err, "is below the minimum");
    let tenant = suite.addr("tenant");
    assert_eq!(suite.balance(&tenant, DENOM), STARTING_BALANCE);
}

#[test]
fn bids_above_the_price_and_double_bids_are_refused() {
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
    let order = suite.order(&d, 1, 1);
    // hello.yaml: 100 per 6 s block = 16.67 per second.
    let err = suite
        .bid("provider2", &order, per_second(17), BID_DEPOSIT, DENOM)
        .unwrap_err();
    assert_fails_with(&err, "is above the order's");
    suite
        .bid("provider2", &order, per_second(16), BID_DEPOSIT, DENOM)
        .unwrap();
    let err = suite
        .bid("provider2", &order, per_second(15), BID_DEPOSIT, DENOM)
        .unwrap_err();
    assert_fails_with(&err, "a provider bids once per order");
    let provider2 = suite.addr("provider2");
    assert_eq!(
        suite.balance(&provider2, DENOM),
        STARTING_BALANCE - BID_DEPOSIT
    );
}

#[test]
fn nobody_closes_another_tenants_lease_or_another_providers_bid() {
    let (mut suite, d, lease) = leased();
    let err = suite.close_lease("tenant2", &lease).unwrap_err();
    assert_fails_with(&err, "unauthorized: only");
    let market_addr = suite.market.clone();
    let err = suite
        .exec(
            "provider2",
            &market_addr,
            &market::ExecuteMsg::CloseBid {
                bid: lease.clone(),
                reason: None,
            },
            &[],
        )
        .unwrap_err();
    assert_fails_with(&err, "unauthorized: only");
    // Another tenant's dseq is just not found among the sender's deployments.
    let err = suite.close_deployment("tenant2", d.dseq).unwrap_err();
    assert_fails_with(&err, "not found");
    assert!(suite.lease(&lease).is_some());
}

#[test]
fn settle_on_a_closed_account_is_an_error() {
    let (mut suite, d, _) = leased();
    suite.close_deployment("tenant", d.dseq).unwrap();
    let err = suite.settle("keeper", &d).unwrap_err();
    assert_fails_with(&err, "closed accounts are deleted");
}

#[test]
fn list_queries_cap_their_limit() {
    let mut suite = Suite::new();
    for _ in 0..40 {
        suite
            .create_deployment(
                "tenant",
                Suite::groups_from_sdl(HELLO, DENOM),
                5_000_000,
                DENOM,
                None,
            )
            .unwrap();
    }
    let res: market::DeploymentsResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.market,
            &market::QueryMsg::Deployments {
                owner: suite.addr("tenant").to_string(),
                start_after: None,
                limit: Some(u32::MAX),
            },
        )
        .unwrap();
    assert_eq!(res.deployments.len(), 30);
    let res: market::OrdersResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.market,
            &market::QueryMsg::OpenOrders {
                start_after: None,
                limit: Some(1_000),
            },
        )
        .unwrap();
    assert_eq!(res.orders.len(), 30);
    for p in ["provider1", "provider2", "provider3"] {
        suite.register_provider(p, &[]).unwrap();
    }
    let res: registry::ProvidersResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.registry,
            &registry::QueryMsg::Providers {
                start_after: None,
                limit: Some(2),
            },
        )
        .unwrap();
    assert_eq!(res.providers.len(), 2);
}

#[test]
fn oversized_attributes_are_refused() {
    let mut suite = Suite::new();
    let registry_addr = suite.registry.clone();
    let many: Vec<Attribute> = (0..25)
        .map(|i| Attribute::new(format!("key{i}"), "v"))
        .collect();
    let register = |attributes| registry::ExecuteMsg::RegisterProvider {
        host_uri: "https://provider.example.com".into(),
        attributes,
        info: ProviderInfo::default(),
    };
    let err = suite
        .exec("provider1", &registry_addr, &register(many), &[])
        .unwrap_err();
    assert_fails_with(&err, "attributes given; at most");
    let long = vec![Attribute::new("region", "x".repeat(65))];
    let err = suite
        .exec("provider1", &registry_addr, &register(long), &[])
        .unwrap_err();
    assert_fails_with(&err, "has a value of");
    // An auditor's attributes are bounded too.
    suite.register_provider("provider1", &[]).unwrap();
    let too_many: Vec<Attribute> = (0..65)
        .map(|i| Attribute::new(format!("key{i}"), "v"))
        .collect();
    let err = suite
        .exec(
            "auditor",
            &registry_addr,
            &registry::ExecuteMsg::SignAttributes {
                provider: suite.addr("provider1").to_string(),
                attributes: too_many,
            },
            &[],
        )
        .unwrap_err();
    assert_fails_with(&err, "attributes given; at most");
}

#[test]
fn a_failing_market_callback_does_not_block_settlement() {
    let (mut suite, d, _) = leased();
    // Governance points the market at another escrow by mistake: the market now rejects the
    // real escrow's callback.
    let market_addr = suite.market.clone();
    let elsewhere = suite.addr("elsewhere").to_string();
    let owner = suite.owner.clone();
    suite
        .app
        .execute_contract(
            owner,
            market_addr,
            &market::ExecuteMsg::UpdateConfig {
                owner: None,
                registry: None,
                escrow: Some(elsewhere),
                staking: None,
                guardian: None,
            },
            &[],
        )
        .unwrap();
    suite.advance_seconds(3_000_000);
    let res = suite.settle("keeper", &d).unwrap();
    assert_eq!(
        kumo_tests::event_values(&res, "market_callback_failed", "error").len(),
        1
    );
    // The escrow still paid out everything and closed the account; the market still holds the
    // bid deposit of the lease it could not close.
    let escrow = suite.escrow.clone();
    assert_eq!(suite.balance(&escrow, DENOM), 0);
    let market = suite.market.clone();
    assert_eq!(suite.balance(&market, DENOM), BID_DEPOSIT);
    assert!(suite.account(&d).is_none());
}
