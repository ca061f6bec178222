use cosmwasm_std::{
    CheckedFromRatioError, ConversionOverflowError, DivideByZeroError, OverflowError, StdError,
    Uint128,
};
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

    #[error(transparent)]
    Conversion(#[from] ConversionOverflowError),

    #[error(transparent)]
    DivideByZero(#[from] DivideByZeroError),

    #[error(transparent)]
    Ratio(#[from] CheckedFromRatioError),

    #[error("unexpected reply {id}")]
    UnknownReply { id: u64 },

    #[error("unauthorized: only {expected} may do this")]
    Unauthorized { expected: String },

    #[error("the escrow is paused: new accounts, deposits and allowances are not accepted")]
    Paused,

    #[error("invalid parameters: {reason}")]
    InvalidParams { reason: String },

    #[error("denomination {denom} is not accepted by the escrow")]
    UnknownDenom { denom: String },

    #[error("CW20 token {token} is not on the escrow's allow-list")]
    UnlistedToken { token: String },

    #[error("account {id} is in {expected}, not {got}")]
    WrongDenom {
        id: String,
        expected: String,
        got: String,
    },

    #[error("deposit {amount} is below the minimum of {min} for {denom}")]
    BelowMinDeposit {
        amount: Uint128,
        min: Uint128,
        denom: String,
    },

    #[error("account {id} already exists")]
    AccountExists { id: String },

    #[error("account {id} not found (closed accounts are deleted)")]
    AccountNotFound { id: String },

    #[error("account {id} is not a deployment account; only those pay leases")]
    NotADeploymentAccount { id: String },

    #[error("payment for lease {lease} already exists")]
    PaymentExists { lease: String },

    #[error("payment for lease {lease} not found")]
    PaymentNotFound { lease: String },

    #[error("account {id} already has the maximum of {max} payments")]
    TooManyPayments { id: String, max: u32 },

    #[error("account {id} already has the maximum of {max} depositors")]
    TooManyDepositors { id: String, max: u32 },

    #[error("a payment rate must be positive")]
    ZeroRate,

    #[error("account {id} has run out of funds; call Settle to close it")]
    InsufficientFunds { id: String },

    #[error("no allowance from {granter} to {grantee} in {denom}")]
    AllowanceNotFound {
        granter: String,
        grantee: String,
        denom: String,
    },

    #[error("the allowance from {granter} expired at {expires}")]
    AllowanceExpired { granter: String, expires: u64 },

    #[error("the allowance has {remaining} left, {requested} was asked for")]
    AllowanceExceeded {
        remaining: Uint128,
        requested: Uint128,
    },
}

impl ContractError {
    pub fn unauthorized(expected: impl Into<String>) -> Self {
        ContractError::Unauthorized {
            expected: expected.into(),
        }
    }
}
