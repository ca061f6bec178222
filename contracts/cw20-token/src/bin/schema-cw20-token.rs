//! Writes the contract's JSON schema (`scripts/schema` puts it under `schema/cw20-token/`).

use cosmwasm_schema::write_api;
use kumo_cw20_token::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};

fn main() {
    write_api! {
        instantiate: InstantiateMsg,
        execute: ExecuteMsg,
        query: QueryMsg,
        migrate: MigrateMsg,
    }
}
