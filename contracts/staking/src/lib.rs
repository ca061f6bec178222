//! Kumo staking contract: provider bonds, attendance (heartbeats, absence reports, jail),
//! slashing with tenant compensation, disputes and reputation. See README.md.

pub mod contract;
pub mod error;
pub mod execute;
pub mod query;
pub mod state;

#[cfg(test)]
mod tests;

pub use error::ContractError;
