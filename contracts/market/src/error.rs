use cosmwasm_std::{Decimal256, StdError, Uint128};
use cw_utils::PaymentError;
use kumo::matching::MatchError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error(transparent)]
    Std(#[from] StdError),

    /// Storage, message decoding, queries of other contracts, addresses.
    #[error(transparent)]
    Kumo(#[from] kumo::Error),

    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },

    #[error(transparent)]
    Payment(#[from] PaymentError),

    #[error("unauthorized: only {expected} may do this")]
    Unauthorized { expected: String },

    #[error("the market is paused: new deployments, bids and deposits are not accepted")]
    Paused,

    #[error("invalid parameters: {reason}")]
    InvalidParams { reason: String },

    // ---- deployments and groups ----
    #[error("invalid deployment: {reason}")]
    InvalidDeployment { reason: String },

    #[error("the manifest version must be 32 bytes (a SHA-256), got {len}")]
    InvalidVersion { len: usize },

    #[error("a deployment may have 1 to {max} groups, got {got}")]
    GroupCount { got: usize, max: u32 },

    #[error("group prices are in {price}, but the deposit is in {deposit}")]
    DenomMismatch { price: String, deposit: String },

    #[error("deployment {id} not found")]
    DeploymentNotFound { id: String },

    #[error("deployment {id} is closed")]
    DeploymentClosed { id: String },

    #[error("group {id} not found")]
    GroupNotFound { id: String },

    #[error("group {id} is {state}; this needs it {expected}")]
    GroupState {
        id: String,
        state: String,
        expected: String,
    },

    #[error("auction window {got} s exceeds the maximum of {max} s")]
    AuctionWindowTooLong { got: u64, max: u64 },

    #[error("reclamation window {got} s is outside {min}..={max} s")]
    ReclamationWindow { got: u64, min: u64, max: u64 },

    // ---- orders and bids (in the order CreateBid checks them) ----
    #[error("bid deposit in {denom} is not accepted; accepted: {accepted}")]
    BidDepositDenom { denom: String, accepted: String },

    #[error("bid deposit {got} is below the minimum {min}")]
    BidDepositTooSmall { got: Uint128, min: Uint128 },

    #[error("order {order} already has the maximum of {max} bids")]
    TooManyBids { order: String, max: u32 },

    #[error("bid {id} already exists: a provider bids once per order")]
    BidExists { id: String },

    #[error("order {id} not found")]
    OrderNotFound { id: String },

    #[error("order {id} is not open")]
    OrderNotOpen { id: String },

    #[error("the auction of order {id} ended at {ends_at}; call CloseAuction")]
    AuctionEnded { id: String, ends_at: u64 },

    #[error("bid price must be positive")]
    ZeroPrice,

    #[error(
        "bid price {} per second is above the order's {}",
        kumo::json::text(.bid),
        kumo::json::text(.max)
    )]
    BidAbovePrice { bid: Decimal256, max: Decimal256 },

    #[error("{0}")]
    Mismatch(#[from] MatchError),

    #[error("{provider} is not a registered provider")]
    ProviderNotRegistered { provider: String },

    #[error("provider {provider} may not bid or lease: {reason}")]
    NotEligible { provider: String, reason: String },

    #[error("provider {provider}'s record does not meet the deployment's: {reason}")]
    RecordTooWeak { provider: String, reason: String },

    #[error("no staking contract is configured")]
    NoStaking,

    #[error("{provider} is not jailed for absence")]
    NotAbsent { provider: String },

    #[error("provider {provider} is deregistering and may not bid")]
    ProviderDeregistering { provider: String },

    #[error("the order requires a reclamation window of at least {min} s")]
    ReclamationRequired { min: u64 },

    // ---- bids and leases ----
    #[error("bid {id} not found")]
    BidNotFound { id: String },

    #[error("bid {id} is {state}; this needs it {expected}")]
    BidState {
        id: String,
        state: String,
        expected: String,
    },

    #[error("lease {id} not found")]
    LeaseNotFound { id: String },

    #[error("lease {id} is {state}; this needs it {expected}")]
    LeaseState {
        id: String,
        state: String,
        expected: String,
    },

    #[error("order {id} has no auction window; the tenant accepts a bid with CreateLease")]
    NoAuction { id: String },

    #[error("the auction of order {id} runs until {ends_at}")]
    AuctionRunning { id: String, ends_at: u64 },

    #[error("a provider closes a lease with a provider reason (10000-10003), not {code}")]
    NotProviderReason { code: u32 },

    #[error("lease {id} promised a reclamation window: call StartReclaim and close after it")]
    ReclaimFirst { id: String },

    #[error("lease {id} is reclaiming until {deadline}")]
    ReclaimRunning { id: String, deadline: u64 },
}

pub fn not_found_deployment(id: &impl ToString) -> ContractError {
    ContractError::DeploymentNotFound { id: id.to_string() }
}

impl ContractError {
    pub fn unauthorized(expected: impl Into<String>) -> Self {
        ContractError::Unauthorized {
            expected: expected.into(),
        }
    }
}
