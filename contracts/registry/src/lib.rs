//! Kumo registry contract: providers (host URI, attributes, info, API keys, TLS pins) and the
//! attributes auditors sign for them (Akash `x/provider` and `x/audit`). See README.md.

pub mod contract;
pub mod error;
pub mod execute;
pub mod query;
pub mod state;

#[cfg(test)]
mod tests;

pub use error::ContractError;
