//! Kumo's devnet: a single-node chain that runs CosmWasm contracts in the VM wasmd embeds
//! (cosmwasm-vm 2.2.10), with wasmd's message semantics and gas, served over the Cosmos REST API.

pub mod app;
pub mod error;
pub mod gas;
pub mod ibc;
pub mod keeper;
pub mod server;
pub mod state;
pub mod store;
pub mod vm;

pub use app::{App, Config, TxResult};
pub use error::AbciError;
pub use server::Devnet;
