//! Kumo IBC gateway: dApps on other chains create deployments, fund them, accept bids and close
//! leases with IBC packets, through an account per (channel, remote sender). See README.md.

pub mod contract;
pub mod error;
pub mod execute;
pub mod hooks;
pub mod ibc;
pub mod query;
pub mod state;

#[cfg(test)]
mod tests;

pub use error::ContractError;
