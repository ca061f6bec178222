//! Unit tests of governance on its own; the full flow with the other contracts is in `tests/`.

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, MockApi, MockQuerier, MockStorage,
};
use cosmwasm_std::{coins, from_json, Decimal, Env, OwnedDeps, Response, Uint128};
use kumo::governance::*;
use kumo::Denom;

use crate::contract::{execute, instantiate, query};
use crate::error::ContractError;

type Deps = OwnedDeps<MockStorage, MockApi, MockQuerier>;

fn params() -> GovernanceParams {
    GovernanceParams {
        denom: Denom::Native("ukumo".into()),
        proposal_deposit: Uint128::new(10),
        voting_period: 100,
        quorum: Decimal::percent(20),
        threshold: Decimal::percent(50),
        veto_threshold: Decimal::percent(33),
        timelock: 50,
        refund_rejected: true,
        max_messages: 2,
    }
}

struct T {
    deps: Deps,
    env: Env,
}

impl T {
    fn new() -> Self {
        let mut deps = mock_dependencies();
        let owner = deps.api.addr_make("owner");
        instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&owner, &[]),
            InstantiateMsg { params: params() },
        )
        .unwrap();
        T {
            deps,
            env: mock_env(),
        }
    }

    fn exec(
        &mut self,
        who: &str,
        msg: ExecuteMsg,
        funds: &[cosmwasm_std::Coin],
    ) -> Result<Response, ContractError> {
        let sender = self.deps.api.addr_make(who);
        execute(
            self.deps.as_mut(),
            self.env.clone(),
            message_info(&sender, funds),
            msg,
        )
    }

    fn next_block(&mut self, seconds: u64) {
        self.env.block.height += 1;
        self.env.block.time = self.env.block.time.plus_seconds(seconds);
    }

    fn propose(&mut self) -> Result<Response, ContractError> {
        self.exec(
            "alice",
            ExecuteMsg::Propose {
                title: "t".into(),
                description: "d".into(),
                msgs: vec![],
            },
            &coins(10, "ukumo"),
        )
    }

    fn vote(&mut self, who: &str, vote: Vote) -> Result<Response, ContractError> {
        self.exec(who, ExecuteMsg::CastVote { id: 1, vote }, &[])
    }

    fn status(&self) -> ProposalStatus {
        let res: ProposalResponse = from_json(
            query(
                self.deps.as_ref(),
                self.env.clone(),
                QueryMsg::Proposal { id: 1 },
            )
            .unwrap(),
        )
        .unwrap();
        res.proposal.status
    }
}

fn locked(t: &mut T, voters: &[(&str, u128)]) {
    for (who, amount) in voters {
        t.exec(who, ExecuteMsg::Lock {}, &coins(*amount, "ukumo"))
            .unwrap();
    }
    t.next_block(5);
}

#[test]
fn locking_and_unlocking() {
    let mut t = T::new();
    assert!(matches!(
        t.exec("alice", ExecuteMsg::Lock {}, &coins(5, "uatom"))
            .unwrap_err(),
        ContractError::WrongDenom { .. }
    ));
    locked(&mut t, &[("alice", 100)]);
    assert_eq!(
        t.exec(
            "alice",
            ExecuteMsg::Unlock {
                amount: Uint128::new(101)
            },
            &[]
        )
        .unwrap_err(),
        ContractError::NotEnoughLocked {
            amount: Uint128::new(101),
            locked: Uint128::new(100)
        }
    );
    t.exec(
        "alice",
        ExecuteMsg::Unlock {
            amount: Uint128::new(40),
        },
        &[],
    )
    .unwrap();
    let power: VotingPowerResponse = from_json(
        query(
            t.deps.as_ref(),
            t.env.clone(),
            QueryMsg::VotingPower {
                voter: t.deps.api.addr_make("alice").to_string(),
                height: None,
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(power.power, Uint128::new(60));
}

#[test]
fn proposals_need_the_exact_deposit_and_bounded_content() {
    let mut t = T::new();
    assert!(matches!(
        t.exec(
            "alice",
            ExecuteMsg::Propose {
                title: "t".into(),
                description: "d".into(),
                msgs: vec![]
            },
            &coins(9, "ukumo")
        )
        .unwrap_err(),
        ContractError::WrongDeposit { .. }
    ));
    assert!(matches!(
        t.exec(
            "alice",
            ExecuteMsg::Propose {
                title: String::new(),
                description: "d".into(),
                msgs: vec![]
            },
            &coins(10, "ukumo")
        )
        .unwrap_err(),
        ContractError::InvalidProposal { .. }
    ));
    let msg: cosmwasm_std::CosmosMsg = cosmwasm_std::BankMsg::Send {
        to_address: "x".into(),
        amount: coins(1, "ukumo"),
    }
    .into();
    assert!(matches!(
        t.exec(
            "alice",
            ExecuteMsg::Propose {
                title: "t".into(),
                description: "d".into(),
                msgs: vec![msg.clone(), msg.clone(), msg]
            },
            &coins(10, "ukumo")
        )
        .unwrap_err(),
        ContractError::InvalidProposal { .. }
    ));
}

#[test]
fn tallies_follow_quorum_veto_and_threshold() {
    // Passed: 60 yes of 100 locked.
    let mut t = T::new();
    locked(&mut t, &[("a", 60), ("b", 40)]);
    t.propose().unwrap();
    t.vote("a", Vote::Yes).unwrap();
    assert!(matches!(
        t.vote("a", Vote::No).unwrap_err(),
        ContractError::AlreadyVoted { .. }
    ));
    assert!(matches!(
        t.vote("nobody", Vote::No).unwrap_err(),
        ContractError::NoVotingPower { .. }
    ));
    assert!(matches!(
        t.exec("x", ExecuteMsg::Close { id: 1 }, &[]).unwrap_err(),
        ContractError::VotingOpen { .. }
    ));
    t.next_block(100);
    assert!(matches!(
        t.vote("b", Vote::No).unwrap_err(),
        ContractError::VotingEnded { .. }
    ));
    t.exec("x", ExecuteMsg::Close { id: 1 }, &[]).unwrap();
    assert_eq!(t.status(), ProposalStatus::Passed);
    assert!(matches!(
        t.exec("x", ExecuteMsg::Execute { id: 1 }, &[]).unwrap_err(),
        ContractError::Timelocked { .. }
    ));
    t.next_block(50);
    let res = t.exec("x", ExecuteMsg::Execute { id: 1 }, &[]).unwrap();
    // The solvency check always runs last.
    assert_eq!(res.messages.len(), 1);

    // Vetoed: 40 veto of 100 votes.
    let mut t = T::new();
    locked(&mut t, &[("a", 60), ("b", 40)]);
    t.propose().unwrap();
    t.vote("a", Vote::Yes).unwrap();
    t.vote("b", Vote::Veto).unwrap();
    t.next_block(100);
    let res = t.exec("x", ExecuteMsg::Close { id: 1 }, &[]).unwrap();
    assert_eq!(t.status(), ProposalStatus::Vetoed);
    assert!(matches!(
        res.messages[0].msg,
        cosmwasm_std::CosmosMsg::Bank(cosmwasm_std::BankMsg::Burn { .. })
    ));

    // Below quorum: 10 of 100 voted.
    let mut t = T::new();
    locked(&mut t, &[("a", 10), ("b", 90)]);
    t.propose().unwrap();
    t.vote("a", Vote::Yes).unwrap();
    t.next_block(100);
    let res = t.exec("x", ExecuteMsg::Close { id: 1 }, &[]).unwrap();
    assert_eq!(t.status(), ProposalStatus::Rejected);
    // refund_rejected: the deposit goes back.
    assert!(matches!(
        res.messages[0].msg,
        cosmwasm_std::CosmosMsg::Bank(cosmwasm_std::BankMsg::Send { .. })
    ));

    // A tie is not a majority.
    let mut t = T::new();
    locked(&mut t, &[("a", 50), ("b", 50)]);
    t.propose().unwrap();
    t.vote("a", Vote::Yes).unwrap();
    t.vote("b", Vote::No).unwrap();
    t.next_block(100);
    t.exec("x", ExecuteMsg::Close { id: 1 }, &[]).unwrap();
    assert_eq!(t.status(), ProposalStatus::Rejected);
}

#[test]
fn tokens_locked_in_the_proposal_block_do_not_vote() {
    let mut t = T::new();
    locked(&mut t, &[("a", 10)]);
    t.propose().unwrap();
    t.exec("late", ExecuteMsg::Lock {}, &coins(1_000, "ukumo"))
        .unwrap();
    assert!(matches!(
        t.vote("late", Vote::Yes).unwrap_err(),
        ContractError::NoVotingPower { .. }
    ));
    let res: ProposalResponse =
        from_json(query(t.deps.as_ref(), t.env.clone(), QueryMsg::Proposal { id: 1 }).unwrap())
            .unwrap();
    assert_eq!(res.proposal.total_power, Uint128::new(10));
}

#[test]
fn only_governance_itself_updates_params_or_checks_solvency() {
    let mut t = T::new();
    assert_eq!(
        t.exec("alice", ExecuteMsg::UpdateParams { params: params() }, &[])
            .unwrap_err(),
        ContractError::NotGovernance
    );
    assert_eq!(
        t.exec("alice", ExecuteMsg::CheckSolvency {}, &[])
            .unwrap_err(),
        ContractError::NotGovernance
    );
    let contract = t.env.contract.address.clone();
    let bad = GovernanceParams {
        quorum: Decimal::percent(101),
        ..params()
    };
    assert!(matches!(
        execute(
            t.deps.as_mut(),
            t.env.clone(),
            message_info(&contract, &[]),
            ExecuteMsg::UpdateParams { params: bad }
        )
        .unwrap_err(),
        ContractError::InvalidParams { .. }
    ));
    execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&contract, &[]),
        ExecuteMsg::UpdateParams { params: params() },
    )
    .unwrap();
    crate::contract::migrate(t.deps.as_mut(), t.env.clone(), MigrateMsg {}).unwrap();
}

#[test]
fn a_cw20_governance_token_locks_through_receive() {
    let mut deps = mock_dependencies();
    let token = deps.api.addr_make("token");
    let owner = deps.api.addr_make("owner");
    instantiate(
        deps.as_mut(),
        mock_env(),
        message_info(&owner, &[]),
        InstantiateMsg {
            params: GovernanceParams {
                denom: Denom::Cw20(token.clone()),
                ..params()
            },
        },
    )
    .unwrap();
    let alice = deps.api.addr_make("alice");
    let lock = |amount: u128| {
        ExecuteMsg::Receive(cw20::Cw20ReceiveMsg {
            sender: alice.to_string(),
            amount: Uint128::new(amount),
            msg: cosmwasm_std::to_json_binary(&ReceiveMsg::Lock {}).unwrap(),
        })
    };
    let fake = deps.api.addr_make("fake");
    assert!(matches!(
        execute(deps.as_mut(), mock_env(), message_info(&fake, &[]), lock(5)).unwrap_err(),
        ContractError::WrongDenom { .. }
    ));
    execute(
        deps.as_mut(),
        mock_env(),
        message_info(&token, &[]),
        lock(5),
    )
    .unwrap();
    let res: ParamsResponse =
        from_json(query(deps.as_ref(), mock_env(), QueryMsg::Params {}).unwrap()).unwrap();
    assert_eq!(res.total_locked, Uint128::new(5));
    // Unlocking pays back in the token.
    let res = execute(
        deps.as_mut(),
        mock_env(),
        message_info(&alice, &[]),
        ExecuteMsg::Unlock {
            amount: Uint128::new(5),
        },
    )
    .unwrap();
    assert!(matches!(
        &res.messages[0].msg,
        cosmwasm_std::CosmosMsg::Wasm(cosmwasm_std::WasmMsg::Execute { contract_addr, .. })
            if *contract_addr == token.to_string()
    ));
}
