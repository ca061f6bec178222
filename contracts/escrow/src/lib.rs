//! Kumo escrow contract: accounts funded by depositors in FIFO order, payments streaming from
//! deployments to providers per second, settled lazily (Akash `x/escrow` and `x/take` as AEP-79
//! §6 adapts them). See README.md.

pub mod contract;
pub mod error;
pub mod execute;
pub mod query;
pub mod settlement;
pub mod state;

#[cfg(test)]
mod tests;

pub use error::ContractError;
