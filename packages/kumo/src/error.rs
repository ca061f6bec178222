//! The errors of this package's contract-side helpers: stored records, messages, queries of
//! other contracts, addresses.
//!
//! Not `cosmwasm_std::StdError`: each construction of one captures a boxed backtrace, and that
//! alone links std's backtrace printer and symbol demangler into a contract's wasm (about 35 KB
//! of the 300 KiB a contract may take). A contract whose wasm never builds a `StdError` is that
//! much smaller. Contracts convert this into their own error, or into a `StdError`.

use cosmwasm_std::StdError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A record that must exist does not (the message `StdError::not_found` gives).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stored record or key that does not decode.
    #[error("{0}")]
    Malformed(&'static str),
    /// A message or a query response that does not decode (the message `StdError::parse_err`
    /// gives).
    #[error("Error parsing into type message: {0}")]
    Json(String),
    /// A query of another contract failed: what was asked of which contract, and why.
    #[error("{0}")]
    Query(String),
    /// An amount out of range (an overflow's message).
    #[error("{0}")]
    Overflow(String),
    /// An address the chain does not accept, and why.
    #[error("{0}")]
    Address(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for StdError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(kind) => StdError::not_found(kind),
            Error::Json(msg) => StdError::parse_err("message", msg),
            e => StdError::generic_err(e.to_string()),
        }
    }
}
