use cosmwasm_std::Uint128;
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

    // ---- handshake ----
    /// Unordered, `kumo-gateway-1` on both ends.
    #[error(transparent)]
    Handshake(#[from] kumo::gateway::HandshakeError),

    #[error("counterparty port {port} on connection {connection} is not allowed")]
    CounterpartyNotAllowed { connection: String, port: String },

    // ---- packets ----
    #[error("channel {channel} is not an open gateway channel")]
    UnknownChannel { channel: String },

    #[error(
        "packet from port {got} on channel {channel}; the channel's counterparty is {expected}"
    )]
    WrongSource {
        channel: String,
        expected: String,
        got: String,
    },

    #[error("packet {sequence} on channel {channel} was already received")]
    Replayed { channel: String, sequence: u64 },

    #[error("invalid packet: {reason}")]
    InvalidPacket { reason: String },

    #[error("invalid remote sender: {reason}")]
    InvalidSender { reason: String },

    #[error("deployment {dseq} not found")]
    DeploymentNotFound { dseq: u64 },

    #[error("deployment {dseq} belongs to another account")]
    NotOwner { dseq: u64 },

    #[error("credit of {denom} is {available}, {needed} needed")]
    InsufficientCredit {
        denom: String,
        available: Uint128,
        needed: Uint128,
    },

    #[error("the gateway sends no packets on its channels; an ack or timeout is unexpected")]
    UnexpectedAck,

    #[error("IBC callback for a packet the gateway did not send as a refund: {reason}")]
    UnexpectedCallback { reason: String },

    // ---- credits through ibc-hooks ----
    #[error("credit caller {caller} is not the ibc-hooks intermediary of {sender} or of the channel's client over {transfer_channel}")]
    ForgedCredit {
        caller: String,
        sender: String,
        transfer_channel: String,
    },
}

impl ContractError {
    pub fn unauthorized(expected: impl Into<String>) -> Self {
        ContractError::Unauthorized {
            expected: expected.into(),
        }
    }
}
