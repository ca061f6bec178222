//! Writes the contract's JSON schema (`scripts/schema` puts it under `schema/gateway-client/`).

use cosmwasm_schema::write_api;
use kumo::gateway::client::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};

fn main() {
    write_api! {
        instantiate: InstantiateMsg,
        execute: ExecuteMsg,
        query: QueryMsg,
        migrate: MigrateMsg,
    }
}
