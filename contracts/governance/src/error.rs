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

    #[error("unauthorized: only governance itself (a passed proposal) may do this")]
    NotGovernance,

    #[error("invalid parameters: {reason}")]
    InvalidParams { reason: String },

    #[error("governance uses {expected}, not {got}")]
    WrongDenom { expected: String, got: String },

    #[error("cannot unlock {amount}: {locked} is locked")]
    NotEnoughLocked { amount: Uint128, locked: Uint128 },

    #[error("a proposal deposit of {expected} is required, got {got}")]
    WrongDeposit { expected: Uint128, got: Uint128 },

    #[error("invalid proposal: {reason}")]
    InvalidProposal { reason: String },

    #[error("proposal {id} not found")]
    ProposalNotFound { id: u64 },

    #[error("proposal {id} is {status}; this needs it {expected}")]
    WrongStatus {
        id: u64,
        status: String,
        expected: String,
    },

    #[error("voting on proposal {id} ended at {ended}")]
    VotingEnded { id: u64, ended: u64 },

    #[error("voting on proposal {id} runs until {ends}")]
    VotingOpen { id: u64, ends: u64 },

    #[error("{voter} already voted on proposal {id}")]
    AlreadyVoted { id: u64, voter: String },

    #[error("{voter} had no tokens locked when proposal {id} opened")]
    NoVotingPower { id: u64, voter: String },

    #[error("proposal {id} is timelocked until {at}")]
    Timelocked { id: u64, at: u64 },

    #[error("the execution would spend locked tokens or deposits: {balance} held, {owed} owed")]
    Insolvent { balance: Uint128, owed: Uint128 },
}
