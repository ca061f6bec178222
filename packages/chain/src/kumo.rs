//! Typed access to Kumo's five contracts: their `ExecuteMsg`s and `QueryMsg`s from the `kumo`
//! crate, sent to the addresses of one deployment.

use ::kumo::{escrow, governance, market, registry, staking};
use cosmwasm_std::Coin;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{ChainError, Client, Key, TxResponse};

/// The addresses of one Kumo deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KumoContracts {
    pub registry: String,
    pub market: String,
    pub escrow: String,
    pub staking: String,
    pub governance: String,
}

/// `execute_*` sends a contract's `ExecuteMsg` signed by `key`; `query_*` answers a `QueryMsg`
/// as `T`, the response type its variant names (`#[returns(..)]` in the `kumo` crate).
impl KumoContracts {
    pub async fn execute_registry(
        &self,
        client: &Client,
        key: &Key,
        msg: &registry::ExecuteMsg,
        funds: &[Coin],
    ) -> Result<TxResponse, ChainError> {
        client.execute(key, &self.registry, msg, funds).await
    }

    pub async fn query_registry<T: DeserializeOwned>(
        &self,
        client: &Client,
        msg: &registry::QueryMsg,
    ) -> Result<T, ChainError> {
        client.query_smart(&self.registry, msg).await
    }

    pub async fn execute_market(
        &self,
        client: &Client,
        key: &Key,
        msg: &market::ExecuteMsg,
        funds: &[Coin],
    ) -> Result<TxResponse, ChainError> {
        client.execute(key, &self.market, msg, funds).await
    }

    pub async fn query_market<T: DeserializeOwned>(
        &self,
        client: &Client,
        msg: &market::QueryMsg,
    ) -> Result<T, ChainError> {
        client.query_smart(&self.market, msg).await
    }

    pub async fn execute_escrow(
        &self,
        client: &Client,
        key: &Key,
        msg: &escrow::ExecuteMsg,
        funds: &[Coin],
    ) -> Result<TxResponse, ChainError> {
        client.execute(key, &self.escrow, msg, funds).await
    }

    pub async fn query_escrow<T: DeserializeOwned>(
        &self,
        client: &Client,
        msg: &escrow::QueryMsg,
    ) -> Result<T, ChainError> {
        client.query_smart(&self.escrow, msg).await
    }

    pub async fn execute_staking(
        &self,
        client: &Client,
        key: &Key,
        msg: &staking::ExecuteMsg,
        funds: &[Coin],
    ) -> Result<TxResponse, ChainError> {
        client.execute(key, &self.staking, msg, funds).await
    }

    pub async fn query_staking<T: DeserializeOwned>(
        &self,
        client: &Client,
        msg: &staking::QueryMsg,
    ) -> Result<T, ChainError> {
        client.query_smart(&self.staking, msg).await
    }

    pub async fn execute_governance(
        &self,
        client: &Client,
        key: &Key,
        msg: &governance::ExecuteMsg,
        funds: &[Coin],
    ) -> Result<TxResponse, ChainError> {
        client.execute(key, &self.governance, msg, funds).await
    }

    pub async fn query_governance<T: DeserializeOwned>(
        &self,
        client: &Client,
        msg: &governance::QueryMsg,
    ) -> Result<T, ChainError> {
        client.query_smart(&self.governance, msg).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_as_json() {
        let contracts = KumoContracts {
            registry: "wasm1r".into(),
            market: "wasm1m".into(),
            escrow: "wasm1e".into(),
            staking: "wasm1s".into(),
            governance: "wasm1g".into(),
        };
        let text = serde_json::to_string(&contracts).unwrap();
        assert_eq!(
            serde_json::from_str::<KumoContracts>(&text).unwrap(),
            contracts
        );
    }

    #[test]
    fn messages_encode_as_the_contracts_expect() {
        // What msg_execute puts in MsgExecuteContract.msg for a registry message.
        let msg = registry::ExecuteMsg::BeginDeregistration {};
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"begin_deregistration":{}}"#
        );
        let any = crate::tx::msg_execute("wasm1s", "wasm1r", &msg, &[]).unwrap();
        assert_eq!(any.type_url, "/cosmwasm.wasm.v1.MsgExecuteContract");
    }
}
