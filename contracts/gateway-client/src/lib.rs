//! Kumo IBC gateway client, on the counterparty chain: sends a dApp's actions to the Kumo
//! gateway as packets and calls the dApp back with the outcome (Polytone's note/callback
//! pattern). See README.md.

pub mod contract;
pub mod error;
pub mod ibc;
pub mod state;

#[cfg(test)]
mod tests;

pub use error::ContractError;
