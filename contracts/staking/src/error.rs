use cosmwasm_std::{OverflowError, StdError, Uint128};
use cw_utils::PaymentError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error(transparent)]
    Std(#[from] StdError),

    /// Storage, message decoding, queries of other contracts.
    #[error(transparent)]
    Kumo(#[from] kumo::Error),

    #[error(transparent)]
    Payment(#[from] PaymentError),

    #[error(transparent)]
    Overflow(#[from] OverflowError),

    #[error("unauthorized: only {expected} may do this")]
    Unauthorized { expected: String },

    #[error("invalid parameters: {reason}")]
    InvalidParams { reason: String },

    #[error("the bond is in {expected}, not {got}")]
    WrongDenom { expected: String, got: String },

    #[error("{provider} has no bond")]
    NotBonded { provider: String },

    #[error("cannot unbond {amount}: {bonded} is bonded and the provider's leases and bids need {required}")]
    BondRequired {
        amount: Uint128,
        bonded: Uint128,
        required: Uint128,
    },

    #[error("the provider already has the maximum of {max} unbonding entries; claim first")]
    TooManyUnbondings { max: u32 },

    #[error("nothing to claim yet")]
    NothingToClaim,

    #[error("{provider} is jailed")]
    Jailed { provider: String },

    #[error("{provider} is not jailed")]
    NotJailed { provider: String },

    #[error("the provider may unjail at {at}")]
    JailNotOver { at: u64 },

    #[error("the bond is {bonded}; {min} is needed to unjail")]
    BondTooLow { bonded: Uint128, min: Uint128 },

    #[error("{provider} has no active leases, so its absence harms no tenant")]
    NoActiveLeases { provider: String },

    #[error("{provider} was present at {last_heartbeat}; it may be reported absent from {reportable_at}")]
    NotAbsent {
        provider: String,
        last_heartbeat: u64,
        reportable_at: u64,
    },

    #[error("no compensation is being paid for {provider}")]
    NoCompensation { provider: String },

    #[error("{provider} still has {count} active leases to close (market CloseAbsentLeases)")]
    LeasesLeft { provider: String, count: u64 },

    #[error("a dispute deposit of {expected} is required, got {got}")]
    DisputeDeposit { expected: Uint128, got: Uint128 },

    #[error("lease {lease} is not live in the market")]
    LeaseNotLive { lease: String },

    #[error("lease {lease} already has an open dispute ({id})")]
    DisputeExists { lease: String, id: u64 },

    #[error("dispute {id} not found")]
    DisputeNotFound { id: u64 },

    #[error("dispute {id} is not open")]
    DisputeClosed { id: u64 },

    #[error("dispute {id} runs until {deadline}")]
    DisputeRunning { id: u64, deadline: u64 },

    #[error("evidence and answers are 1 to {max} bytes")]
    TextLength { max: usize },
}

impl ContractError {
    pub fn unauthorized(expected: impl Into<String>) -> Self {
        ContractError::Unauthorized {
            expected: expected.into(),
        }
    }
}
