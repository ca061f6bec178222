//! Entry points: each delegates to cw20-base's function of the same name.
//!
//! The workspace depends on cw20-base with its "library" feature (the cross-contract tests use it
//! as a library), which compiles its `#[entry_point]`s out; without these wrappers the wasm would
//! export no `instantiate`, `execute` or `query` and the chain would refuse to store it.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use cw20_base::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use cw20_base::ContractError;

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    cw20_base::contract::instantiate(deps, env, info, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    cw20_base::contract::execute(deps, env, info, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    cw20_base::contract::query(deps, env, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, env: Env, msg: MigrateMsg) -> Result<Response, ContractError> {
    cw20_base::contract::migrate(deps, env, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env};
    use cosmwasm_std::{from_json, Uint128};
    use cw20_base::msg::QueryMsg;

    #[test]
    fn instantiates_with_initial_balances_and_transfers() {
        let mut deps = mock_dependencies();
        let alice = deps.api.addr_make("alice");
        let bob = deps.api.addr_make("bob");
        instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&alice, &[]),
            InstantiateMsg {
                name: "Kumo test token".into(),
                symbol: "KTT".into(),
                decimals: 6,
                initial_balances: vec![cw20::Cw20Coin {
                    address: alice.to_string(),
                    amount: Uint128::new(1_000),
                }],
                mint: None,
                marketing: None,
            },
        )
        .unwrap();
        execute(
            deps.as_mut(),
            mock_env(),
            message_info(&alice, &[]),
            ExecuteMsg::Transfer {
                recipient: bob.to_string(),
                amount: Uint128::new(400),
            },
        )
        .unwrap();
        let balance = |who: &cosmwasm_std::Addr| -> Uint128 {
            let r: cw20::BalanceResponse = from_json(
                query(
                    deps.as_ref(),
                    mock_env(),
                    QueryMsg::Balance {
                        address: who.to_string(),
                    },
                )
                .unwrap(),
            )
            .unwrap();
            r.balance
        };
        assert_eq!(balance(&alice), Uint128::new(600));
        assert_eq!(balance(&bob), Uint128::new(400));
    }
}
