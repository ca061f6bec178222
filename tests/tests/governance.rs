//! Governance owning every contract (config and wasm admin) and holding the treasury: a
//! proposal that changes a market parameter and migrates the market, with the timelock
//! respected; a failed proposal; vote power snapshotted against tokens moving mid-vote; the
//! treasury unable to spend locked tokens.

use cosmwasm_std::{coins, to_json_binary, BankMsg, CosmosMsg, Decimal, Uint128, WasmMsg};
use cw_multi_test::Executor;
use kumo::governance::{
    ExecuteMsg, GovernanceParams, InstantiateMsg, ProposalResponse, ProposalStatus, QueryMsg, Vote,
};
use kumo::market;
use kumo::Denom;
use kumo_tests::{
    assert_fails_with, event_values, governance_contract, market_contract, Suite, DENOM,
    STARTING_BALANCE,
};

const DEPOSIT: u128 = 1_000_000;

fn params() -> GovernanceParams {
    GovernanceParams {
        denom: Denom::Native(DENOM.into()),
        proposal_deposit: Uint128::new(DEPOSIT),
        voting_period: 600,
        quorum: Decimal::percent(20),
        threshold: Decimal::percent(50),
        veto_threshold: Decimal::permille(334),
        timelock: 3_600,
        refund_rejected: false,
        max_messages: 8,
    }
}

/// The suite with a governance contract that owns the market (config and wasm admin), and
/// voters with tokens locked.
fn governed() -> (Suite, cosmwasm_std::Addr) {
    let mut suite = Suite::with_staking();
    let code = suite.app.store_code(governance_contract());
    let owner = suite.owner.clone();
    let gov = suite
        .app
        .instantiate_contract(
            code,
            owner.clone(),
            &InstantiateMsg { params: params() },
            &[],
            "governance",
            None,
        )
        .unwrap();
    // Governance becomes the owner and the wasm admin of every contract, and the treasury.
    let g = || Some(gov.to_string());
    let handovers: Vec<(cosmwasm_std::Addr, cosmwasm_std::Binary)> = vec![
        (
            suite.registry.clone(),
            to_json_binary(&kumo::registry::ExecuteMsg::UpdateConfig {
                owner: g(),
                market: None,
                limits: None,
            })
            .unwrap(),
        ),
        (
            suite.market.clone(),
            to_json_binary(&market::ExecuteMsg::UpdateConfig {
                owner: g(),
                registry: None,
                escrow: None,
                staking: None,
                guardian: None,
            })
            .unwrap(),
        ),
        (
            suite.escrow.clone(),
            to_json_binary(&kumo::escrow::ExecuteMsg::UpdateConfig {
                owner: g(),
                market: None,
                treasury: g(),
                guardian: None,
                params: None,
            })
            .unwrap(),
        ),
        (
            suite.staking(),
            to_json_binary(&kumo::staking::ExecuteMsg::UpdateConfig {
                owner: g(),
                market: None,
                treasury: g(),
                arbiter: None,
                params: None,
            })
            .unwrap(),
        ),
    ];
    for (contract, msg) in handovers {
        suite
            .app
            .execute(
                owner.clone(),
                CosmosMsg::Wasm(WasmMsg::Execute {
                    contract_addr: contract.to_string(),
                    msg,
                    funds: vec![],
                }),
            )
            .unwrap();
        suite
            .app
            .execute(
                owner.clone(),
                CosmosMsg::Wasm(WasmMsg::UpdateAdmin {
                    contract_addr: contract.to_string(),
                    admin: gov.to_string(),
                }),
            )
            .unwrap();
    }
    suite.treasury = gov.clone();
    for (who, amount) in [
        ("tenant", 100_000_000),
        ("tenant2", 50_000_000),
        ("sponsor", 10_000_000),
    ] {
        suite
            .exec(who, &gov, &ExecuteMsg::Lock {}, &coins(amount, DENOM))
            .unwrap();
    }
    suite.advance_seconds(6);
    (suite, gov)
}

fn propose(suite: &mut Suite, gov: &cosmwasm_std::Addr, msgs: Vec<CosmosMsg>) -> u64 {
    let res = suite
        .exec(
            "sponsor",
            gov,
            &ExecuteMsg::Propose {
                title: "change the market".into(),
                description: "".into(),
                msgs,
            },
            &coins(DEPOSIT, DENOM),
        )
        .unwrap();
    event_values(&res, "proposal_opened", "id")[0]
        .parse()
        .unwrap()
}

fn status(suite: &Suite, gov: &cosmwasm_std::Addr, id: u64) -> ProposalStatus {
    let res: ProposalResponse = suite
        .app
        .wrap()
        .query_wasm_smart(gov, &QueryMsg::Proposal { id })
        .unwrap();
    res.proposal.status
}

#[test]
fn a_proposal_changes_a_market_parameter_and_migrates_the_market_after_the_timelock() {
    let (mut suite, gov) = governed();
    let mut new_params = market::MarketParams {
        order_max_bids: 5,
        ..market::MarketParams::default()
    };
    let current: market::ConfigResponse = suite
        .app
        .wrap()
        .query_wasm_smart(&suite.market, &market::QueryMsg::Config {})
        .unwrap();
    new_params.bid_min_deposits = current.params.bid_min_deposits;
    let new_code = suite.app.store_code(market_contract());
    let msgs = vec![
        WasmMsg::Execute {
            contract_addr: suite.market.to_string(),
            msg: to_json_binary(&market::ExecuteMsg::UpdateParams { params: new_params }).unwrap(),
            funds: vec![],
        }
        .into(),
        WasmMsg::Migrate {
            contract_addr: suite.market.to_string(),
            new_code_id: new_code,
            msg: to_json_binary(&market::MigrateMsg {}).unwrap(),
        }
        .into(),
    ];
    let id = propose(&mut suite, &gov, msgs);

    // tenant2 moves its tokens mid-vote: they vote once, with the power it had at the start.
    suite
        .exec(
            "tenant2",
            &gov,
            &ExecuteMsg::Unlock {
                amount: Uint128::new(50_000_000),
            },
            &[],
        )
        .unwrap();
    let tenant2 = suite.addr("tenant2");
    let keeper = suite.addr("keeper");
    suite
        .app
        .send_tokens(tenant2, keeper, &coins(50_000_000, DENOM))
        .unwrap();
    suite
        .exec(
            "keeper",
            &gov,
            &ExecuteMsg::Lock {},
            &coins(50_000_000, DENOM),
        )
        .unwrap();
    let vote = |v| ExecuteMsg::CastVote { id, vote: v };
    let err = suite
        .exec("keeper", &gov, &vote(Vote::Yes), &[])
        .unwrap_err();
    assert_fails_with(&err, "had no tokens locked when proposal 1 opened");
    suite.exec("tenant2", &gov, &vote(Vote::No), &[]).unwrap();
    suite.exec("tenant", &gov, &vote(Vote::Yes), &[]).unwrap();
    let err = suite
        .exec("tenant", &gov, &vote(Vote::No), &[])
        .unwrap_err();
    assert_fails_with(&err, "already voted on proposal 1");

    let close = ExecuteMsg::Close { id };
    let err = suite.exec("keeper", &gov, &close, &[]).unwrap_err();
    assert_fails_with(&err, "runs until");
    suite.advance_seconds(600);
    let res = suite.exec("keeper", &gov, &close, &[]).unwrap();
    assert_eq!(
        event_values(&res, "proposal_closed", "yes"),
        vec!["100000000"]
    );
    assert_eq!(
        event_values(&res, "proposal_closed", "no"),
        vec!["50000000"]
    );
    assert_eq!(status(&suite, &gov, id), ProposalStatus::Passed);
    // The deposit of a passed proposal comes back.
    let sponsor = suite.addr("sponsor");
    assert_eq!(
        suite.balance(&sponsor, DENOM),
        STARTING_BALANCE - 10_000_000
    );

    let execute = ExecuteMsg::Execute { id };
    let err = suite.exec("keeper", &gov, &execute, &[]).unwrap_err();
    assert_fails_with(&err, "is timelocked until");
    suite.advance_seconds(3_600);
    suite.exec("keeper", &gov, &execute, &[]).unwrap();
    assert_eq!(status(&suite, &gov, id), ProposalStatus::Executed);
    let config: market::ConfigResponse = suite
        .app
        .wrap()
        .query_wasm_smart(&suite.market, &market::QueryMsg::Config {})
        .unwrap();
    assert_eq!(config.params.order_max_bids, 5);
    let info = suite
        .app
        .wrap()
        .query_wasm_contract_info(&suite.market)
        .unwrap();
    assert_eq!(info.code_id, new_code);
    // Executed once only.
    let err = suite.exec("keeper", &gov, &execute, &[]).unwrap_err();
    assert_fails_with(&err, "this needs it passed");
}

#[test]
fn a_rejected_proposal_burns_its_deposit_and_changes_nothing() {
    let (mut suite, gov) = governed();
    let msgs = vec![WasmMsg::Execute {
        contract_addr: suite.market.to_string(),
        msg: to_json_binary(&market::ExecuteMsg::Pause {}).unwrap(),
        funds: vec![],
    }
    .into()];
    let id = propose(&mut suite, &gov, msgs);
    suite
        .exec(
            "tenant",
            &gov,
            &ExecuteMsg::CastVote { id, vote: Vote::No },
            &[],
        )
        .unwrap();
    suite.advance_seconds(600);
    suite
        .exec("keeper", &gov, &ExecuteMsg::Close { id }, &[])
        .unwrap();
    assert_eq!(status(&suite, &gov, id), ProposalStatus::Rejected);
    let sponsor = suite.addr("sponsor");
    assert_eq!(
        suite.balance(&sponsor, DENOM),
        STARTING_BALANCE - 10_000_000 - DEPOSIT
    );
    let err = suite
        .exec("keeper", &gov, &ExecuteMsg::Execute { id }, &[])
        .unwrap_err();
    assert_fails_with(&err, "this needs it passed");
    // Without votes the quorum fails too.
    let id = propose(&mut suite, &gov, vec![]);
    suite.advance_seconds(600);
    suite
        .exec("keeper", &gov, &ExecuteMsg::Close { id }, &[])
        .unwrap();
    assert_eq!(status(&suite, &gov, id), ProposalStatus::Rejected);
}

#[test]
fn the_treasury_cannot_spend_locked_tokens() {
    let (mut suite, gov) = governed();
    // Governance is the treasury: 10/s for 25,000,000 s accrues 250,000,000, whose 2% take
    // (5,000,000) it receives when the provider withdraws.
    suite
        .register_provider("provider1", &[("region", "local")])
        .unwrap();
    suite.bond("provider1", 20_000_000).unwrap();
    let d = suite
        .create_deployment(
            "tenant2",
            Suite::groups_from_sdl(include_str!("../../examples/hello.yaml"), DENOM),
            300_000_000,
            DENOM,
            None,
        )
        .unwrap();
    let bid = suite
        .bid(
            "provider1",
            &suite.order(&d, 1, 1),
            cosmwasm_std::Decimal256::from_ratio(10u128, 1u128),
            500_000,
            DENOM,
        )
        .unwrap();
    suite.create_lease("tenant2", &bid).unwrap();
    suite.advance_seconds(25_000_000);
    suite
        .staking_exec("provider1", &kumo::staking::ExecuteMsg::Heartbeat {}, &[])
        .unwrap();
    suite.withdraw_lease("keeper", &bid).unwrap();
    let locked = 100_000_000 + 50_000_000 + 10_000_000;
    assert_eq!(suite.balance(&gov, DENOM), locked + 5_000_000);
    // A proposal that sends 6,000,000 would reach into locked tokens.
    let spend = |amount: u128, to: &cosmwasm_std::Addr| -> CosmosMsg {
        BankMsg::Send {
            to_address: to.to_string(),
            amount: coins(amount, DENOM),
        }
        .into()
    };
    let keeper = suite.addr("keeper");
    let too_much = propose(&mut suite, &gov, vec![spend(6_000_000, &keeper)]);
    let fine = propose(&mut suite, &gov, vec![spend(5_000_000, &keeper)]);
    for id in [too_much, fine] {
        suite
            .exec(
                "tenant",
                &gov,
                &ExecuteMsg::CastVote {
                    id,
                    vote: Vote::Yes,
                },
                &[],
            )
            .unwrap();
    }
    suite.advance_seconds(600);
    for id in [too_much, fine] {
        suite
            .exec("keeper", &gov, &ExecuteMsg::Close { id }, &[])
            .unwrap();
    }
    suite.advance_seconds(3_600);
    let err = suite
        .exec("keeper", &gov, &ExecuteMsg::Execute { id: too_much }, &[])
        .unwrap_err();
    assert_fails_with(&err, "would spend locked tokens or deposits");
    assert_eq!(status(&suite, &gov, too_much), ProposalStatus::Passed);
    suite
        .exec("keeper", &gov, &ExecuteMsg::Execute { id: fine }, &[])
        .unwrap();
    assert_eq!(suite.balance(&keeper, DENOM), STARTING_BALANCE + 5_000_000);
    assert_eq!(suite.balance(&gov, DENOM), locked);
    // Only governance itself changes its parameters.
    let err = suite
        .exec(
            "tenant",
            &gov,
            &ExecuteMsg::UpdateParams { params: params() },
            &[],
        )
        .unwrap_err();
    assert_fails_with(&err, "only governance itself");
}
