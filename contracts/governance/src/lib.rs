//! Kumo governance contract: voting power from locked tokens, snapshotted per proposal;
//! proposals carrying messages; a timelock before anyone executes them. It owns every Kumo
//! contract and holds the treasury. See README.md.

pub mod contract;
pub mod error;
pub mod execute;
pub mod state;

#[cfg(test)]
mod tests;

pub use error::ContractError;
