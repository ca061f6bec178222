use cosmwasm_std::StdError;
use kumo::attributes::AttributeError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error(transparent)]
    Std(#[from] StdError),

    /// Storage, message decoding, queries of other contracts.
    #[error(transparent)]
    Kumo(#[from] kumo::Error),

    #[error(transparent)]
    Payment(#[from] cw_utils::PaymentError),

    #[error("unauthorized: only {expected} may do this")]
    Unauthorized { expected: String },

    #[error("invalid limits: {reason}")]
    InvalidLimits { reason: String },

    #[error("{address} is already a registered provider")]
    AlreadyRegistered { address: String },

    #[error("{address} is not a registered provider")]
    NotRegistered { address: String },

    #[error("host URI {uri:?} is invalid: {reason}")]
    InvalidHostUri { uri: String, reason: String },

    #[error("{field} is {len} bytes; at most {max} are allowed")]
    TextTooLong { field: String, len: usize, max: u32 },

    #[error("{0}")]
    Attribute(#[from] AttributeError),

    #[error("{got} attributes given; at most {max} are allowed")]
    TooManyAttributes { got: usize, max: u32 },

    #[error("attribute {key:?} has an empty value")]
    EmptyAttributeValue { key: String },

    #[error("attribute {key:?} has a value of {len} bytes; at most {max} are allowed")]
    AttributeValueTooLong { key: String, len: usize, max: u32 },

    #[error("provider {provider} already has attributes from the maximum of {max} auditors")]
    TooManyAuditors { provider: String, max: u32 },

    #[error("{auditor} signed no attributes for {provider}")]
    NoAuditedAttributes { provider: String, auditor: String },

    #[error("{auditor} did not sign attribute {key:?} for this provider")]
    AttributeNotFound { auditor: String, key: String },

    #[error("the provider is already deregistering")]
    AlreadyDeregistering,

    #[error("the provider is not deregistering; call BeginDeregistration first")]
    NotDeregistering,

    #[error("the provider still has {count} active leases; they must end before it leaves")]
    ActiveLeases { count: u64 },

    #[error("the provider still has {count} open bids; close them before leaving")]
    OpenBids { count: u64 },

    #[error(
        "API key id {id:?} is invalid: 1 to 64 characters of letters, digits, '.', '_' or '-'"
    )]
    InvalidKeyId { id: String },

    #[error("API key {id:?} already exists (ids are never reused, even after revocation)")]
    DuplicateKeyId { id: String },

    #[error("API key {id:?} not found")]
    KeyNotFound { id: String },

    #[error("API key {id:?} is already revoked")]
    KeyRevoked { id: String },

    #[error("the provider already has the maximum of {max} API keys (revoked ones count)")]
    TooManyKeys { max: u32 },

    #[error("{algorithm} public keys are {expected}; got {len} bytes")]
    InvalidPublicKey {
        algorithm: String,
        expected: String,
        len: usize,
    },

    #[error("TLS pins are SHA-256 hashes of 32 bytes; got {len}")]
    InvalidPin { len: usize },

    #[error("TLS pin {pin} appears twice")]
    DuplicatePin { pin: String },

    #[error("{got} TLS pins given; at most {max} are allowed")]
    TooManyPins { got: usize, max: u32 },
}
