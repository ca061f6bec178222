//! A plain CW20 token for local devnets and tests: cw20-base's behaviour behind this crate's own
//! entry points. See README.md.

pub mod contract;

pub use cw20_base::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
pub use cw20_base::ContractError;
