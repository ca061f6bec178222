//! Unit tests of the escrow on its own: the market is an address that sends the market-only
//! messages; bank and CW20 transfers are checked as the messages the escrow emits. The escrow
//! with the real market runs in the workspace `tests/` crate.

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, MockApi, MockQuerier, MockStorage,
};
use cosmwasm_std::{
    coins, from_json, to_json_binary, Addr, BankMsg, Binary, Coin, CosmosMsg, Decimal, Decimal256,
    DepsMut, Env, MessageInfo, OwnedDeps, Response, StdResult, Uint128, WasmMsg,
};
use cw20::Cw20ReceiveMsg;
use kumo::escrow::*;
use kumo::{Denom, DeploymentId, LeaseId};

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

struct T {
    deps: Deps,
    env: Env,
}

fn per_second(n: u128) -> Decimal256 {
    Decimal256::from_ratio(n, 1u128)
}

impl T {
    fn new() -> Self {
        let mut deps = mock_dependencies();
        let addr = |n: &str| deps.api.addr_make(n).to_string();
        let msg = InstantiateMsg {
            owner: addr("owner"),
            market: Some(addr("market")),
            treasury: addr("treasury"),
            guardian: Some(addr("guardian")),
            params: None,
            denoms: vec![
                DenomConfig {
                    denom: Denom::Native(DENOM.into()),
                    min_deposit: Uint128::new(5_000_000),
                    take_rate: Decimal::percent(2),
                },
                DenomConfig {
                    denom: Denom::Cw20(deps.api.addr_make("token")),
                    min_deposit: Uint128::new(1_000),
                    take_rate: Decimal::percent(1),
                },
            ],
        };
        let owner = deps.api.addr_make("owner");
        instantiate(deps.as_mut(), mock_env(), message_info(&owner, &[]), msg).unwrap();
        T {
            deps,
            env: mock_env(),
        }
    }

    fn addr(&self, n: &str) -> Addr {
        self.deps.api.addr_make(n)
    }

    fn exec(
        &mut self,
        who: &str,
        msg: ExecuteMsg,
        funds: &[Coin],
    ) -> Result<Response, ContractError> {
        let sender = self.addr(who);
        execute(
            self.deps.as_mut(),
            self.env.clone(),
            message_info(&sender, funds),
            msg,
        )
    }

    fn deployment(&self, dseq: u64) -> DeploymentId {
        DeploymentId::new(self.addr("tenant"), dseq)
    }

    fn lease(&self, dseq: u64, provider: &str) -> LeaseId {
        self.deployment(dseq)
            .group(1)
            .order(1)
            .bid(self.addr(provider))
    }

    fn open(&mut self, dseq: u64, amount: u128) -> Result<Response, ContractError> {
        let tenant = self.addr("tenant").to_string();
        self.exec(
            "market",
            ExecuteMsg::OpenAccount {
                id: AccountId::Deployment(self.deployment(dseq)),
                owner: tenant.clone(),
                depositor: tenant,
            },
            &coins(amount, DENOM),
        )
    }

    fn pay(&mut self, dseq: u64, provider: &str, rate: u128) -> Result<Response, ContractError> {
        let lease = self.lease(dseq, provider);
        let payee = self.addr(provider).to_string();
        self.exec(
            "market",
            ExecuteMsg::OpenPayment {
                account: AccountId::Deployment(self.deployment(dseq)),
                lease,
                payee,
                rate: per_second(rate),
            },
            &[],
        )
    }

    fn account(&self, dseq: u64) -> Option<AccountResponse> {
        query(
            self.deps.as_ref(),
            self.env.clone(),
            QueryMsg::Account {
                id: AccountId::Deployment(self.deployment(dseq)),
            },
        )
        .ok()
        .map(|b| from_json(b).unwrap())
    }

    fn advance(&mut self, seconds: u64) {
        self.env.block.time = self.env.block.time.plus_seconds(seconds);
    }
}

/// Native transfers in a response, as `(recipient, amount)`.
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
fn only_the_market_opens_accounts_and_payments() {
    let mut t = T::new();
    let tenant = t.addr("tenant").to_string();
    let open = ExecuteMsg::OpenAccount {
        id: AccountId::Deployment(t.deployment(1)),
        owner: tenant.clone(),
        depositor: tenant,
    };
    assert!(matches!(
        t.exec("tenant", open.clone(), &coins(5_000_000, DENOM))
            .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    assert!(matches!(
        t.exec("market", open.clone(), &coins(4_999_999, DENOM))
            .unwrap_err(),
        ContractError::BelowMinDeposit { .. }
    ));
    assert!(matches!(
        t.exec("market", open.clone(), &coins(5_000_000, "uatom"))
            .unwrap_err(),
        ContractError::UnknownDenom { .. }
    ));
    assert!(matches!(
        t.exec("market", open.clone(), &[]).unwrap_err(),
        ContractError::Payment(_)
    ));
    t.exec("market", open.clone(), &coins(5_000_000, DENOM))
        .unwrap();
    assert!(matches!(
        t.exec("market", open, &coins(5_000_000, DENOM))
            .unwrap_err(),
        ContractError::AccountExists { .. }
    ));
    assert!(matches!(
        t.exec(
            "tenant",
            ExecuteMsg::OpenPayment {
                account: AccountId::Deployment(t.deployment(1)),
                lease: t.lease(1, "p1"),
                payee: t.addr("p1").to_string(),
                rate: per_second(1),
            },
            &[]
        )
        .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    assert_eq!(t.pay(1, "p1", 0).unwrap_err(), ContractError::ZeroRate);
    t.pay(1, "p1", 1).unwrap();
    assert!(matches!(
        t.pay(1, "p1", 1).unwrap_err(),
        ContractError::PaymentExists { .. }
    ));
    // A payment must come from the lease's own deployment account.
    let other = t.lease(2, "p1");
    assert!(matches!(
        t.exec(
            "market",
            ExecuteMsg::OpenPayment {
                account: AccountId::Deployment(t.deployment(1)),
                lease: other,
                payee: t.addr("p1").to_string(),
                rate: per_second(1),
            },
            &[]
        )
        .unwrap_err(),
        ContractError::NotADeploymentAccount { .. }
    ));
}

#[test]
fn withdraw_pays_the_accrual_less_a_take_rounded_up() {
    let mut t = T::new();
    t.open(1, 50_000_000).unwrap();
    t.pay(1, "p1", 12).unwrap();
    t.advance(1_000);
    let res = t
        .exec(
            "keeper",
            ExecuteMsg::Withdraw {
                lease: t.lease(1, "p1"),
            },
            &[],
        )
        .unwrap();
    assert_eq!(
        transfers(&res),
        vec![
            (t.addr("p1").to_string(), 11_760),
            (t.addr("treasury").to_string(), 240)
        ]
    );
    // 0.5/s for 3 s: 1 unit paid, the half stays owed; take of 2% on 1 unit rounds up to 1.
    t.open(2, 5_000_000).unwrap();
    let lease = t.lease(2, "p1");
    let payee = t.addr("p1").to_string();
    t.exec(
        "market",
        ExecuteMsg::OpenPayment {
            account: AccountId::Deployment(t.deployment(2)),
            lease: lease.clone(),
            payee,
            rate: Decimal256::percent(50),
        },
        &[],
    )
    .unwrap();
    t.advance(3);
    let res = t
        .exec("keeper", ExecuteMsg::Withdraw { lease }, &[])
        .unwrap();
    assert_eq!(transfers(&res), vec![(t.addr("treasury").to_string(), 1)]);
    let a = t.account(2).unwrap().account;
    assert_eq!(a.held, Uint128::new(4_999_999));
}

#[test]
fn deposits_drain_first_in_first_out_and_refund_in_order() {
    let mut t = T::new();
    t.open(1, 5_000_000).unwrap();
    t.pay(1, "p1", 1_000).unwrap();
    let id = AccountId::Deployment(t.deployment(1));
    t.exec(
        "sponsor",
        ExecuteMsg::Deposit {
            id: id.clone(),
            depositor: None,
        },
        &coins(2_000_000, DENOM),
    )
    .unwrap();
    // Only the market names someone else as the depositor.
    assert!(matches!(
        t.exec(
            "sponsor",
            ExecuteMsg::Deposit {
                id: id.clone(),
                depositor: Some(t.addr("tenant").to_string()),
            },
            &coins(1, DENOM),
        )
        .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    t.advance(1_000);
    let account = t.account(1).unwrap();
    assert_eq!(account.account.depositors.len(), 2);
    assert_eq!(account.account.depositors[0].balance, per_second(4_000_000));
    assert_eq!(account.account.depositors[1].balance, per_second(2_000_000));
    // 6,000,000 left at 1000/s.
    assert_eq!(
        account.funded_until,
        Some(t.env.block.time.plus_seconds(6_000))
    );
    let res = t
        .exec("market", ExecuteMsg::CloseAccount { id: id.clone() }, &[])
        .unwrap();
    assert_eq!(
        transfers(&res),
        vec![
            (t.addr("p1").to_string(), 980_000),
            (t.addr("treasury").to_string(), 20_000),
            (t.addr("tenant").to_string(), 4_000_000),
            (t.addr("sponsor").to_string(), 2_000_000),
        ]
    );
    assert!(t.account(1).is_none());
    assert!(matches!(
        t.exec("keeper", ExecuteMsg::Settle { id }, &[])
            .unwrap_err(),
        ContractError::AccountNotFound { .. }
    ));
}

#[test]
fn an_overdrawn_account_pays_out_closes_and_tells_the_market() {
    let mut t = T::new();
    t.open(1, 5_000_000).unwrap();
    t.pay(1, "p1", 10).unwrap();
    t.advance(600_000);
    let res = t
        .exec(
            "keeper",
            ExecuteMsg::Settle {
                id: AccountId::Deployment(t.deployment(1)),
            },
            &[],
        )
        .unwrap();
    // Bounty: 0.1% of the 5,000,000 moved; the provider gets the rest less 2%.
    assert_eq!(
        transfers(&res),
        vec![
            (t.addr("keeper").to_string(), 5_000),
            (t.addr("p1").to_string(), 4_895_100),
            (t.addr("treasury").to_string(), 99_900),
        ]
    );
    let callback = res.messages.iter().find_map(|m| match &m.msg {
        CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr, msg, ..
        }) => Some((
            contract_addr.clone(),
            from_json::<kumo::market::ExecuteMsg>(msg).unwrap(),
        )),
        _ => None,
    });
    assert_eq!(
        callback,
        Some((
            t.addr("market").to_string(),
            kumo::market::ExecuteMsg::EscrowCallback(EscrowCallback::AccountOverdrawn {
                deployment: t.deployment(1)
            })
        ))
    );
    assert!(t.account(1).is_none());
    // A payment cannot be opened on an account that has run dry before it is settled.
    t.open(2, 5_000_000).unwrap();
    t.pay(2, "p1", 10).unwrap();
    t.advance(600_000);
    assert!(matches!(
        t.pay(2, "p2", 1).unwrap_err(),
        ContractError::InsufficientFunds { .. }
    ));
}

#[test]
fn bounds_on_depositors_and_payments() {
    let mut t = T::new();
    let owner_params = EscrowParams {
        max_depositors: 2,
        max_payments: 1,
        ..EscrowParams::default()
    };
    t.exec(
        "owner",
        ExecuteMsg::UpdateConfig {
            owner: None,
            market: None,
            treasury: None,
            guardian: None,
            params: Some(owner_params),
        },
        &[],
    )
    .unwrap();
    t.open(1, 5_000_000).unwrap();
    let id = AccountId::Deployment(t.deployment(1));
    let deposit = |t: &mut T, who: &str| {
        t.exec(
            who,
            ExecuteMsg::Deposit {
                id: id.clone(),
                depositor: None,
            },
            &coins(10, DENOM),
        )
    };
    deposit(&mut t, "sponsor").unwrap();
    // The same depositor merges into its entry.
    deposit(&mut t, "sponsor").unwrap();
    assert!(matches!(
        deposit(&mut t, "other").unwrap_err(),
        ContractError::TooManyDepositors { max: 2, .. }
    ));
    t.pay(1, "p1", 1).unwrap();
    assert!(matches!(
        t.pay(1, "p2", 1).unwrap_err(),
        ContractError::TooManyPayments { max: 1, .. }
    ));
    assert!(matches!(
        t.exec(
            "sponsor",
            ExecuteMsg::Deposit {
                id,
                depositor: None
            },
            &coins(10, "uatom")
        )
        .unwrap_err(),
        ContractError::WrongDenom { .. }
    ));
}

#[test]
fn allowances_fund_deposits_and_are_restored_on_refund() {
    let mut t = T::new();
    t.open(1, 5_000_000).unwrap();
    let tenant = t.addr("tenant").to_string();
    let sponsor = t.addr("sponsor").to_string();
    t.exec(
        "sponsor",
        ExecuteMsg::GrantAllowance {
            grantee: tenant.clone(),
            expires: Some(t.env.block.time.plus_seconds(100)),
        },
        &coins(3_000, DENOM),
    )
    .unwrap();
    let id = AccountId::Deployment(t.deployment(1));
    let from_allowance = |amount| ExecuteMsg::DepositFromAllowance {
        id: id.clone(),
        granter: sponsor.clone(),
        amount: Uint128::new(amount),
    };
    assert_eq!(
        t.exec("tenant", from_allowance(3_001), &[]).unwrap_err(),
        ContractError::AllowanceExceeded {
            remaining: Uint128::new(3_000),
            requested: Uint128::new(3_001)
        }
    );
    assert!(matches!(
        t.exec("stranger", from_allowance(1), &[]).unwrap_err(),
        ContractError::AllowanceNotFound { .. }
    ));
    t.exec("tenant", from_allowance(2_000), &[]).unwrap();
    let allowance = |t: &T| -> u128 {
        let res: AllowanceResponse = from_json(
            query(
                t.deps.as_ref(),
                t.env.clone(),
                QueryMsg::Allowance {
                    granter: t.addr("sponsor").to_string(),
                    grantee: t.addr("tenant").to_string(),
                    denom: Denom::Native(DENOM.into()),
                },
            )
            .unwrap(),
        )
        .unwrap();
        res.allowance.remaining.u128()
    };
    assert_eq!(allowance(&t), 1_000);
    let res = t
        .exec("market", ExecuteMsg::CloseAccount { id: id.clone() }, &[])
        .unwrap();
    // The tenant's own deposit is sent back; the sponsor's goes back into the allowance.
    assert_eq!(transfers(&res), vec![(tenant.clone(), 5_000_000)]);
    assert_eq!(allowance(&t), 3_000);
    t.advance(100);
    t.open(2, 5_000_000).unwrap();
    assert!(matches!(
        t.exec(
            "tenant",
            ExecuteMsg::DepositFromAllowance {
                id: AccountId::Deployment(t.deployment(2)),
                granter: sponsor.clone(),
                amount: Uint128::new(1),
            },
            &[]
        )
        .unwrap_err(),
        ContractError::AllowanceExpired { .. }
    ));
    let res = t
        .exec(
            "sponsor",
            ExecuteMsg::RevokeAllowance {
                grantee: tenant,
                denom: Denom::Native(DENOM.into()),
            },
            &[],
        )
        .unwrap();
    assert_eq!(transfers(&res), vec![(sponsor, 3_000)]);
}

#[test]
fn cw20_deposits_only_from_listed_tokens_and_market_opens_only_from_the_market() {
    let mut t = T::new();
    let token = t.addr("token");
    let fake = t.addr("fake");
    let tenant = t.addr("tenant").to_string();
    let open = to_json_binary(&ReceiveMsg::OpenAccount {
        id: AccountId::Deployment(t.deployment(1)),
        owner: tenant.clone(),
        depositor: tenant.clone(),
    })
    .unwrap();
    let receive = |from: &str, msg| {
        ExecuteMsg::Receive(Cw20ReceiveMsg {
            sender: from.to_string(),
            amount: Uint128::new(2_000),
            msg,
        })
    };
    let market = t.addr("market").to_string();
    let err = execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&fake, &[]),
        receive(&market, open.clone()),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::UnlistedToken { .. }));
    let err = execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&token, &[]),
        receive(&tenant, open.clone()),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::Unauthorized { .. }));
    execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&token, &[]),
        receive(&market, open),
    )
    .unwrap();
    let account = t.account(1).unwrap().account;
    assert_eq!(account.denom, Denom::Cw20(token.clone()));
    assert_eq!(account.held, Uint128::new(2_000));
    // Refunds are CW20 transfers.
    let res = t
        .exec(
            "market",
            ExecuteMsg::CloseAccount {
                id: AccountId::Deployment(t.deployment(1)),
            },
            &[],
        )
        .unwrap();
    let CosmosMsg::Wasm(WasmMsg::Execute {
        contract_addr, msg, ..
    }) = &res.messages[0].msg
    else {
        panic!("expected a CW20 transfer");
    };
    assert_eq!(contract_addr, token.as_str());
    assert_eq!(
        from_json::<cw20::Cw20ExecuteMsg>(msg).unwrap(),
        cw20::Cw20ExecuteMsg::Transfer {
            recipient: tenant,
            amount: Uint128::new(2_000)
        }
    );
}

#[test]
fn pausing_stops_openings_and_deposits_but_not_settling_or_closing() {
    let mut t = T::new();
    t.open(1, 5_000_000).unwrap();
    t.pay(1, "p1", 1).unwrap();
    assert!(matches!(
        t.exec("tenant", ExecuteMsg::Pause {}, &[]).unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    t.exec("guardian", ExecuteMsg::Pause {}, &[]).unwrap();
    assert_eq!(t.open(2, 5_000_000).unwrap_err(), ContractError::Paused);
    let id = AccountId::Deployment(t.deployment(1));
    assert_eq!(
        t.exec(
            "sponsor",
            ExecuteMsg::Deposit {
                id: id.clone(),
                depositor: None
            },
            &coins(1, DENOM)
        )
        .unwrap_err(),
        ContractError::Paused
    );
    t.advance(10);
    t.exec("keeper", ExecuteMsg::Settle { id: id.clone() }, &[])
        .unwrap();
    t.exec(
        "keeper",
        ExecuteMsg::Withdraw {
            lease: t.lease(1, "p1"),
        },
        &[],
    )
    .unwrap();
    t.exec(
        "market",
        ExecuteMsg::ClosePayment {
            lease: t.lease(1, "p1"),
            refund_since: None,
        },
        &[],
    )
    .unwrap();
    t.exec("market", ExecuteMsg::CloseAccount { id }, &[])
        .unwrap();
    t.exec("owner", ExecuteMsg::Unpause {}, &[]).unwrap();
    t.open(2, 5_000_000).unwrap();
}

#[test]
fn config_is_the_owners_and_removed_denoms_run_on() {
    let mut t = T::new();
    t.open(1, 5_000_000).unwrap();
    assert!(matches!(
        t.exec(
            "tenant",
            ExecuteMsg::SetDenom {
                config: DenomConfig {
                    denom: Denom::Native("uatom".into()),
                    min_deposit: Uint128::one(),
                    take_rate: Decimal::zero(),
                }
            },
            &[]
        )
        .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    assert!(matches!(
        t.exec(
            "owner",
            ExecuteMsg::SetDenom {
                config: DenomConfig {
                    denom: Denom::Native("uatom".into()),
                    min_deposit: Uint128::one(),
                    take_rate: Decimal::percent(60),
                }
            },
            &[]
        )
        .unwrap_err(),
        ContractError::InvalidParams { .. }
    ));
    t.exec(
        "owner",
        ExecuteMsg::RemoveDenom {
            denom: Denom::Native(DENOM.into()),
        },
        &[],
    )
    .unwrap();
    assert!(matches!(
        t.open(2, 5_000_000).unwrap_err(),
        ContractError::UnknownDenom { .. }
    ));
    // The existing account still takes deposits and pays at its take rate.
    t.pay(1, "p1", 100).unwrap();
    t.advance(10);
    let res = t
        .exec(
            "keeper",
            ExecuteMsg::Withdraw {
                lease: t.lease(1, "p1"),
            },
            &[],
        )
        .unwrap();
    assert_eq!(
        transfers(&res),
        vec![
            (t.addr("p1").to_string(), 980),
            (t.addr("treasury").to_string(), 20)
        ]
    );
    let denoms: DenomsResponse =
        from_json(query(t.deps.as_ref(), t.env.clone(), QueryMsg::Denoms {}).unwrap()).unwrap();
    assert_eq!(denoms.denoms.len(), 1);
    contract::migrate(t.deps.as_mut(), t.env.clone(), json(&MigrateMsg {})).unwrap();
}

#[test]
fn allowances_paginate_and_unknown_ids_are_errors() {
    let mut t = T::new();
    for i in 0..35 {
        let grantee = t.addr(&format!("g{i}")).to_string();
        t.exec(
            "sponsor",
            ExecuteMsg::GrantAllowance {
                grantee,
                expires: None,
            },
            &coins(1, DENOM),
        )
        .unwrap();
    }
    let page = |t: &T, start_after| -> Vec<Allowance> {
        let res: AllowancesResponse = from_json(
            query(
                t.deps.as_ref(),
                t.env.clone(),
                QueryMsg::Allowances {
                    granter: t.addr("sponsor").to_string(),
                    start_after,
                    limit: Some(100),
                },
            )
            .unwrap(),
        )
        .unwrap();
        res.allowances
    };
    let first = page(&t, None);
    assert_eq!(first.len(), 30);
    let last = &first[29];
    let rest = page(&t, Some((last.grantee.to_string(), last.denom.clone())));
    assert_eq!(rest.len(), 5);
    for msg in [
        QueryMsg::Account {
            id: AccountId::Deployment(t.deployment(9)),
        },
        QueryMsg::Payment {
            lease: t.lease(9, "p1"),
        },
        QueryMsg::Payments {
            account: AccountId::Bid(t.lease(9, "p1")),
        },
    ] {
        assert!(query(t.deps.as_ref(), t.env.clone(), msg).is_err());
    }
}

#[test]
fn a_failed_market_callback_is_recorded_not_fatal() {
    use cosmwasm_std::{Reply, SubMsgResult};
    let mut t = T::new();
    #[allow(deprecated)]
    let failed = Reply {
        id: crate::execute::CALLBACK_REPLY,
        payload: Default::default(),
        gas_used: 0,
        result: SubMsgResult::Err("market says no".into()),
    };
    let res = crate::contract::reply(t.deps.as_mut(), t.env.clone(), failed).unwrap();
    assert_eq!(res.events[0].ty, "market_callback_failed");
    #[allow(deprecated)]
    let unknown = Reply {
        id: 7,
        payload: Default::default(),
        gas_used: 0,
        result: SubMsgResult::Err("?".into()),
    };
    assert_eq!(
        crate::contract::reply(t.deps.as_mut(), t.env.clone(), unknown).unwrap_err(),
        ContractError::UnknownReply { id: 7 }
    );
}
