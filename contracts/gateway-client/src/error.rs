use cw_utils::PaymentError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    /// Storage, message decoding, queries of other contracts, addresses.
    #[error(transparent)]
    Kumo(#[from] kumo::Error),

    #[error(transparent)]
    Payment(#[from] PaymentError),

    #[error("unauthorized: only {expected} may do this")]
    Unauthorized { expected: String },

    #[error("invalid parameters: {reason}")]
    InvalidParams { reason: String },

    /// Unordered, `kumo-gateway-1` on both ends.
    #[error(transparent)]
    Handshake(#[from] kumo::gateway::HandshakeError),

    #[error("counterparty port {got} is not the gateway's {expected}")]
    WrongGatewayPort { expected: String, got: String },

    #[error("a channel to the gateway is already open: {channel}")]
    ChannelExists { channel: String },

    #[error("no channel to the gateway is open")]
    NoChannel,

    #[error("the gateway port {port} does not name a contract")]
    NotAContractPort { port: String },

    #[error("the client receives no packets")]
    NoPacketsExpected,

    #[error("IBC callback for a transfer the client did not send as a fund: {reason}")]
    UnexpectedCallback { reason: String },
}

impl ContractError {
    pub fn unauthorized(expected: impl Into<String>) -> Self {
        ContractError::Unauthorized {
            expected: expected.into(),
        }
    }
}
