//! An example dApp on a counterparty chain: it funds its account at the Kumo gateway, orders
//! compute with gateway packets through `kumo-gateway-client`, and keeps the callbacks the client
//! calls it back with. It is what a dApp developer writes; the two-chain devnet test
//! (`tests/tests/ibc.rs`) runs it as the ordering contract. Written the ordinary way (serde
//! entry points, cw-storage-plus), as a dApp would be.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{
    to_json_binary, Addr, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response, StdError,
    StdResult, WasmMsg,
};
use cw_storage_plus::{Bound, Item, Map};
use kumo::gateway::client::{self, Callback, CallbackRequest};
use kumo::gateway::PacketMsg;

#[cw_serde]
pub struct InstantiateMsg {
    /// The `kumo-gateway-client` contract on this chain.
    pub client: String,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Sends `msg` to Kumo through the client, with a callback to this contract that carries
    /// the order's number.
    Order {
        msg: PacketMsg,
        timeout_seconds: Option<u64>,
    },
    /// Forwards the attached coin to the client's `Fund`: credit at the gateway for this
    /// contract's account.
    Fund {},
    /// The client's callback (the variant of `kumo::gateway::client::CallbackMsg`).
    KumoCallback(Callback),
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    /// Callbacks received, oldest first.
    #[returns(CallbacksResponse)]
    Callbacks {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
}

#[cw_serde]
pub struct CallbacksResponse {
    /// (number, callback): the number counts callbacks from 1.
    pub callbacks: Vec<(u64, Callback)>,
}

#[derive(thiserror::Error, Debug, PartialEq)]
pub enum ContractError {
    #[error(transparent)]
    Std(#[from] StdError),
    #[error("only the gateway client {client} may call back")]
    NotTheClient { client: String },
}

const CLIENT: Item<Addr> = Item::new("client");
const ORDERS: Item<u64> = Item::new("orders");
const CALLBACKS: Map<u64, Callback> = Map::new("callbacks");
const CALLBACK_COUNT: Item<u64> = Item::new("callback_count");

#[cfg_attr(not(feature = "library"), cosmwasm_std::entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    CLIENT.save(deps.storage, &deps.api.addr_validate(&msg.client)?)?;
    Ok(Response::new().add_attribute("action", "instantiate"))
}

#[cfg_attr(not(feature = "library"), cosmwasm_std::entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    let client = CLIENT.load(deps.storage)?;
    match msg {
        ExecuteMsg::Order {
            msg,
            timeout_seconds,
        } => {
            let number = ORDERS.may_load(deps.storage)?.unwrap_or_default() + 1;
            ORDERS.save(deps.storage, &number)?;
            let send = client::ExecuteMsg::Send {
                msg,
                callback: Some(CallbackRequest {
                    receiver: env.contract.address.to_string(),
                    msg: to_json_binary(&number)?,
                }),
                timeout_seconds,
            };
            Ok(Response::new()
                .add_message(WasmMsg::Execute {
                    contract_addr: client.to_string(),
                    msg: to_json_binary(&send)?,
                    funds: vec![],
                })
                .add_attribute("action", "order")
                .add_attribute("order", number.to_string()))
        }
        ExecuteMsg::Fund {} => Ok(Response::new()
            .add_message(WasmMsg::Execute {
                contract_addr: client.to_string(),
                msg: to_json_binary(&client::ExecuteMsg::Fund {
                    timeout_seconds: None,
                })?,
                funds: info.funds,
            })
            .add_attribute("action", "fund")),
        ExecuteMsg::KumoCallback(callback) => {
            if info.sender != client {
                return Err(ContractError::NotTheClient {
                    client: client.to_string(),
                });
            }
            let number = CALLBACK_COUNT.may_load(deps.storage)?.unwrap_or_default() + 1;
            CALLBACK_COUNT.save(deps.storage, &number)?;
            CALLBACKS.save(deps.storage, number, &callback)?;
            Ok(Response::new()
                .add_attribute("action", "kumo_callback")
                .add_attribute("callback", number.to_string()))
        }
    }
}

#[cfg_attr(not(feature = "library"), cosmwasm_std::entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Callbacks { start_after, limit } => {
            let limit = limit.unwrap_or(10).min(30) as usize;
            let callbacks = CALLBACKS
                .range(
                    deps.storage,
                    start_after.map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit)
                .collect::<StdResult<_>>()?;
            to_json_binary(&CallbacksResponse { callbacks })
        }
    }
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env};
    use cosmwasm_std::{coins, from_json, CosmosMsg};
    use kumo::gateway::client::CallbackResult;
    use kumo::gateway::PacketResult;

    use super::*;

    #[test]
    fn orders_go_through_the_client_and_only_the_client_calls_back() {
        let mut deps = mock_dependencies();
        let client = deps.api.addr_make("client");
        let user = deps.api.addr_make("user");
        let env = mock_env();
        instantiate(
            deps.as_mut(),
            env.clone(),
            message_info(&user, &[]),
            InstantiateMsg {
                client: client.to_string(),
            },
        )
        .unwrap();
        let res = execute(
            deps.as_mut(),
            env.clone(),
            message_info(&user, &[]),
            ExecuteMsg::Order {
                msg: PacketMsg::CloseDeployment { dseq: 4 },
                timeout_seconds: Some(60),
            },
        )
        .unwrap();
        let CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr, msg, ..
        }) = &res.messages[0].msg
        else {
            panic!("{:?}", res.messages)
        };
        assert_eq!(contract_addr, client.as_str());
        let client::ExecuteMsg::Send { callback, .. } = from_json(msg).unwrap() else {
            panic!("not a send")
        };
        let callback = callback.unwrap();
        assert_eq!(callback.receiver, env.contract.address.to_string());
        assert_eq!(from_json::<u64>(&callback.msg).unwrap(), 1);

        let res = execute(
            deps.as_mut(),
            env.clone(),
            message_info(&user, &coins(5, "uosmo")),
            ExecuteMsg::Fund {},
        )
        .unwrap();
        let CosmosMsg::Wasm(WasmMsg::Execute { funds, .. }) = &res.messages[0].msg else {
            panic!("{:?}", res.messages)
        };
        assert_eq!(funds, &coins(5, "uosmo"));

        let answer = Callback {
            initiator: env.contract.address.clone(),
            msg: callback.msg,
            channel: "channel-0".into(),
            sequence: 1,
            result: CallbackResult::Success(PacketResult::DeploymentClosed {
                dseq: 4,
                refund: None,
            }),
        };
        let err = execute(
            deps.as_mut(),
            env.clone(),
            message_info(&user, &[]),
            ExecuteMsg::KumoCallback(answer.clone()),
        )
        .unwrap_err();
        assert!(matches!(err, ContractError::NotTheClient { .. }));
        execute(
            deps.as_mut(),
            env.clone(),
            message_info(&client, &[]),
            ExecuteMsg::KumoCallback(answer.clone()),
        )
        .unwrap();
        let got: CallbacksResponse = from_json(
            query(
                deps.as_ref(),
                env,
                QueryMsg::Callbacks {
                    start_after: None,
                    limit: None,
                },
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(got.callbacks, vec![(1, answer)]);
    }
}
