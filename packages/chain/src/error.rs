use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong talking to a chain or handling keys. Each message says what was
/// wrong and, where there is one, how to fix it.
#[derive(Debug, Error)]
pub enum ChainError {
    // Keys and the keyring.
    #[error("invalid mnemonic: {0}")]
    InvalidMnemonic(String),

    #[error("could not derive a key at {path}: {reason}")]
    Derivation { path: String, reason: String },

    #[error("invalid bech32 address prefix {prefix:?}: {reason}; use the chain's prefix, e.g. \"wasm\" or \"cosmos\"")]
    InvalidPrefix { prefix: String, reason: String },

    #[error("the keyring password is wrong (or the entry for key {name:?} was modified)")]
    WrongPassword { name: String },

    #[error("a key named {name:?} already exists in the keyring; pick another name or remove the old key first")]
    KeyExists { name: String },

    #[error(
        "no key named {name:?} in the keyring at {path}; list the keyring to see the names it has"
    )]
    KeyNotFound { name: String, path: PathBuf },

    #[error("invalid key name {name:?}: {reason}")]
    InvalidKeyName { name: String, reason: String },

    #[error("keyring {path}: {reason}")]
    Keyring { path: PathBuf, reason: String },

    // Messages and configuration.
    #[error("could not encode the message as JSON: {0}")]
    Json(#[from] serde_json::Error),

    #[error("invalid client configuration: {0}")]
    InvalidConfig(String),

    // The node.
    #[error("could not reach the node at {url}: {reason}; is the chain running? start a local one with `kumo devnet`")]
    Unreachable { url: String, reason: String },

    #[error("the node answered {url} with HTTP {status}: {message}")]
    Api {
        url: String,
        status: u16,
        /// The gRPC status code of the error body (5 is NotFound), when it had one.
        code: Option<i64>,
        message: String,
    },

    #[error("unexpected response from {url}: {reason}; is it the REST API (usually port 1317) of a wasmd chain?")]
    UnexpectedResponse { url: String, reason: String },

    #[error("contract {contract} answered with JSON that does not match the expected type: {reason}; is it the right contract and version?")]
    QueryResponse { contract: String, reason: String },

    #[error(
        "account {address} does not exist on chain {chain_id}: fund it first (send it some tokens)"
    )]
    AccountNotFound { address: String, chain_id: String },

    // Transactions.
    #[error("the transaction failed in simulation, so nothing was broadcast: {message}")]
    SimulationFailed { message: String },

    #[error("transaction {txhash} failed with code {code} (codespace {codespace:?}): {log}{}", tx_hint(.codespace, *.code))]
    TxFailed {
        txhash: String,
        code: u32,
        codespace: String,
        log: String,
    },

    #[error("transaction {txhash} was not included in a block within {seconds} s; the chain may be halted or congested, look it up later by its hash")]
    TxTimeout { txhash: String, seconds: u64 },

    #[error("cannot use the contract artifact {path}: {reason}; build the artifacts with `scripts/build-wasm`")]
    Artifact { path: PathBuf, reason: String },

    #[error("transaction {txhash} succeeded but has no {event:?} event with attribute {attribute:?}; is the node's event indexing turned off?")]
    MissingEvent {
        txhash: String,
        event: String,
        attribute: String,
    },
}

/// Fixes for the Cosmos SDK's common CheckTx/DeliverTx failures.
fn tx_hint(codespace: &str, code: u32) -> &'static str {
    match (codespace, code) {
        ("sdk", 5) => "; the account cannot pay: fund it",
        ("sdk", 11) => "; out of gas: raise the gas adjustment",
        ("sdk", 13) => "; the fee is too low: raise the gas price to the node's minimum",
        ("sdk", 19) => "; the same transaction is already in the mempool",
        ("sdk", 30) => "; the chain passed the transaction's timeout height: it can never be included, sign it again",
        ("sdk", 32) => "; another transaction from this account got in first: retry",
        _ => "",
    }
}

impl ChainError {
    /// True for the node's NotFound answer (HTTP 404 with gRPC code 5): an unknown account,
    /// transaction, code or contract rather than a broken request.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ChainError::Api {
                status: 404,
                code: Some(5),
                ..
            }
        )
    }

    /// True when the account sequence the transaction was signed with is stale.
    pub(crate) fn is_sequence_mismatch(&self) -> bool {
        match self {
            ChainError::TxFailed {
                code, codespace, ..
            } => *code == 32 && codespace == "sdk",
            ChainError::SimulationFailed { message } => {
                message.contains("account sequence mismatch")
                    || message.contains("incorrect account sequence")
            }
            _ => false,
        }
    }

    /// True when the chain refused the transaction because it passed the transaction's
    /// `timeout_height` (the SDK's `ErrTxTimeoutHeight`, code 30): it was not included and
    /// never can be.
    pub fn is_timeout_height(&self) -> bool {
        match self {
            ChainError::TxFailed {
                code, codespace, ..
            } => *code == 30 && codespace == "sdk",
            ChainError::SimulationFailed { message } => message.contains("tx timeout height"),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_failed_message_has_a_hint() {
        let err = ChainError::TxFailed {
            txhash: "AB".into(),
            code: 13,
            codespace: "sdk".into(),
            log: "insufficient fees".into(),
        };
        let text = err.to_string();
        assert!(text.contains("code 13"), "{text}");
        assert!(
            text.ends_with("raise the gas price to the node's minimum"),
            "{text}"
        );
        assert!(err.to_string().contains("AB"));
    }

    #[test]
    fn sequence_mismatch_is_recognised() {
        let sim = ChainError::SimulationFailed {
            message: "account sequence mismatch, expected 3, got 2: incorrect account sequence"
                .into(),
        };
        assert!(sim.is_sequence_mismatch());
        let check = ChainError::TxFailed {
            txhash: String::new(),
            code: 32,
            codespace: "sdk".into(),
            log: String::new(),
        };
        assert!(check.is_sequence_mismatch());
        let wasm = ChainError::TxFailed {
            txhash: String::new(),
            code: 32,
            codespace: "wasm".into(),
            log: String::new(),
        };
        assert!(!wasm.is_sequence_mismatch());
    }

    #[test]
    fn timeout_height_is_recognised() {
        let check = ChainError::TxFailed {
            txhash: "AA".into(),
            code: 30,
            codespace: "sdk".into(),
            log: "block height: 12, timeout height: 11: tx timeout height".into(),
        };
        assert!(check.is_timeout_height());
        assert!(
            check.to_string().contains("can never be included"),
            "{check}"
        );
        let sim = ChainError::SimulationFailed {
            message: "block height: 12, timeout height: 11: tx timeout height".into(),
        };
        assert!(sim.is_timeout_height());
        let wasm = ChainError::TxFailed {
            txhash: "AA".into(),
            code: 30,
            codespace: "wasm".into(),
            log: String::new(),
        };
        assert!(!wasm.is_timeout_height());
    }
}
