//! ABCI errors: a codespace, a code and a log, with the codes wasmd and the SDK use.

use crate::gas::OutOfGas;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbciError {
    pub codespace: String,
    pub code: u32,
    pub log: String,
}

impl std::fmt::Display for AbciError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (codespace {}, code {})",
            self.log, self.codespace, self.code
        )
    }
}

impl std::error::Error for AbciError {}

macro_rules! codes {
    ($($name:ident => ($space:literal, $code:literal, $desc:literal)),* $(,)?) => {
        impl AbciError {
            $(
                pub fn $name(msg: impl Into<String>) -> Self {
                    let msg: String = msg.into();
                    AbciError {
                        codespace: $space.into(),
                        code: $code,
                        log: if msg.is_empty() { $desc.into() } else { format!("{}: {}", msg, $desc) },
                    }
                }
            )*
        }
    };
}

// The SDK's `types/errors` and wasmd's `x/wasm/types/errors.go`, with their descriptions,
// wrapped as `errorsmod.Wrap` does ("<msg>: <description>").
codes! {
    internal => ("undefined", 1, "internal"),
    tx_decode => ("sdk", 2, "tx parse error"),
    invalid_sequence => ("sdk", 3, "invalid sequence"),
    unauthorized => ("sdk", 4, "unauthorized"),
    insufficient_funds => ("sdk", 5, "insufficient funds"),
    unknown_request => ("sdk", 6, "unknown request"),
    invalid_address => ("sdk", 7, "invalid address"),
    invalid_pubkey => ("sdk", 8, "invalid pubkey"),
    unknown_address => ("sdk", 9, "unknown address"),
    invalid_coins => ("sdk", 10, "invalid coins"),
    out_of_gas_error => ("sdk", 11, "out of gas"),
    memo_too_large => ("sdk", 12, "memo too large"),
    insufficient_fee => ("sdk", 13, "insufficient fee"),
    too_many_signatures => ("sdk", 15, "maximum number of signatures exceeded"),
    no_signatures => ("sdk", 16, "no signatures supplied"),
    invalid_request => ("sdk", 18, "invalid request"),
    tx_in_mempool => ("sdk", 19, "tx already in mempool"),
    tx_too_large => ("sdk", 21, "tx too large"),
    tx_timeout_height => ("sdk", 30, "tx timeout height"),
    wrong_sequence => ("sdk", 32, "incorrect account sequence"),
    invalid_chain_id => ("sdk", 39, "invalid chain-id"),
    create_failed => ("wasm", 2, "create wasm contract failed"),
    account_exists => ("wasm", 3, "contract account already exists"),
    instantiate_failed => ("wasm", 4, "instantiate wasm contract failed"),
    execute_failed => ("wasm", 5, "execute wasm contract failed"),
    not_found => ("wasm", 8, "not found"),
    query_failed => ("wasm", 9, "query wasm contract failed"),
    invalid_msg => ("wasm", 10, "invalid CosmosMsg from the contract"),
    migration_failed => ("wasm", 11, "migrate wasm contract failed"),
    empty => ("wasm", 12, "empty"),
    limit => ("wasm", 13, "exceeds limit"),
    invalid => ("wasm", 14, "invalid"),
    duplicate => ("wasm", 15, "duplicate"),
    unknown_msg => ("wasm", 20, "unknown message from the contract"),
    invalid_event => ("wasm", 21, "invalid event"),
    no_such_contract => ("wasm", 22, "no such contract"),
    vm_error => ("wasm", 29, "wasmvm error"),
}

impl AbciError {
    pub fn out_of_gas(limit: u64, used: u64) -> Self {
        AbciError::out_of_gas_error(format!(
            "out of gas in location: wasm contract; gasWanted: {limit}, gasUsed: {used}"
        ))
    }

    pub fn is_out_of_gas(&self) -> bool {
        self.codespace == "sdk" && self.code == 11
    }

    /// `errorsmod.Wrap`: the same code with context in front.
    pub fn wrap(mut self, context: &str) -> Self {
        self.log = format!("{context}: {}", self.log);
        self
    }

    /// What a contract sees of a failed submessage or query (wasmd's `redactError`): only the
    /// codespace and code, because logs are not deterministic across nodes.
    pub fn redacted(&self) -> String {
        format!("codespace: {}, code: {}", self.codespace, self.code)
    }
}

impl From<OutOfGas> for AbciError {
    fn from(_: OutOfGas) -> Self {
        // The meter's numbers are filled in by the transaction runner, which knows them.
        AbciError::out_of_gas_error("")
    }
}
