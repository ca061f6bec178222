//! Kumo market contract: deployments, groups, orders, bids and leases — the reverse auction of
//! Akash `x/deployment` and `x/market`, with escrow in its own contract. See README.md.

pub mod contract;
pub mod error;
pub mod execute;
pub mod funds;
pub mod query;
pub mod state;

#[cfg(test)]
mod tests;

pub use error::ContractError;
