//! Kumo's chain client: keys, transactions and the Cosmos REST API of any wasmd chain.
//!
//! - [`keys`]: secp256k1 [`Key`]s from BIP-39 mnemonics (m/44'/118'/0'/0/n, as the Cosmos SDK)
//!   and a [`Keyring`] that keeps them encrypted in one file (scrypt + AES-256-GCM);
//! - [`tx`]: SIGN_MODE_DIRECT transactions and the CosmWasm and bank messages;
//! - [`client`]: queries, simulation, broadcast and [`Client::sign_and_broadcast`] over REST;
//! - [`kumo`]: typed calls to Kumo's five contracts.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kumo_chain::ChainError> {
//! use kumo_chain::{Client, ClientConfig, Key};
//!
//! let client = Client::new("http://localhost:1317", ClientConfig {
//!     prefix: "wasm".into(),
//!     gas_price_amount: 0.025,
//!     gas_denom: "ukumo".into(),
//!     gas_adjustment: 1.3,
//! })?;
//! let key = Key::from_mnemonic("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")?;
//! let code_id = client.store_code(&key, std::fs::read("artifacts/kumo_registry.wasm").unwrap()).await?;
//! # Ok(()) }
//! ```

pub mod client;
pub mod deploy;
mod error;
pub mod keys;
pub mod kumo;
pub mod tx;

pub use client::{
    Account, AccountKey, BlockInfo, Client, ClientConfig, CodeInfo, ContractInfo, Event, NodeInfo,
    TxResponse,
};
pub use deploy::{deploy_suite, DeployedSuite, SuiteConfig};
pub use error::ChainError;
pub use keys::{Key, KeyInfo, Keyring};
pub use kumo::KumoContracts;
pub use tx::{build_signed_tx, build_signed_tx_with_timeout, Fee, SignerData};

/// Re-exported so callers can build messages without depending on cosmrs themselves.
pub use cosmrs::Any;
