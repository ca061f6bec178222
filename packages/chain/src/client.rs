//! A client for the Cosmos REST API (grpc-gateway, usually port 1317) of any wasmd chain.

pub mod parse;

use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE as B64_URL};
use base64::Engine;
use cosmrs::Any;
use cosmwasm_std::Coin;
use reqwest::{RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::tx::{self, Fee, SignerData};
use crate::{ChainError, Key};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TX_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Retries after a stale account sequence (another transaction from the key got in first).
const SEQUENCE_RETRIES: u32 = 3;
/// Bounds paginated listings in case a node keeps returning a next key.
const MAX_PAGES: usize = 1000;

/// How the client addresses accounts and prices gas on the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Bech32 prefix of account addresses, e.g. `wasm`.
    pub prefix: String,
    /// Price of one unit of gas in `gas_denom`, e.g. 0.025; at least the node's minimum.
    pub gas_price_amount: f64,
    pub gas_denom: String,
    /// Gas limit = simulated gas × this, e.g. 1.3; the margin covers state changing between
    /// simulation and inclusion.
    pub gas_adjustment: f64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The chain id.
    pub network: String,
    pub moniker: String,
    /// CometBFT's version.
    pub node_version: String,
    pub app_name: String,
    pub app_version: String,
    pub cosmos_sdk_version: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub height: u64,
    /// RFC 3339, as the node reports it.
    pub time: String,
    pub chain_id: String,
}

impl BlockInfo {
    /// The block's time in whole seconds since the Unix epoch (`None` if the node reported a
    /// time that is not RFC 3339 or is before 1970).
    pub fn unix_seconds(&self) -> Option<u64> {
        let t = cosmrs::tendermint::Time::parse_from_rfc3339(&self.time).ok()?;
        u64::try_from(t.unix_timestamp()).ok()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub address: String,
    pub account_number: u64,
    pub sequence: u64,
    /// `None` until the account's first signed transaction.
    pub public_key: Option<AccountKey>,
}

/// An account's public key, as the auth module reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountKey {
    /// A compressed secp256k1 key (33 bytes).
    Secp256k1(Vec<u8>),
    /// Another key type (multisig, ed25519, ...), by its type URL.
    Other { type_url: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    pub code_id: u64,
    pub creator: String,
    /// SHA-256 of the wasm, hex (upper case as wasmd prints it).
    pub data_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractInfo {
    pub address: String,
    pub code_id: u64,
    pub creator: String,
    pub admin: Option<String>,
    pub label: String,
}

/// A transaction's result: CheckTx only for a fresh broadcast (height 0, no events), the block's
/// result once included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxResponse {
    pub height: u64,
    pub txhash: String,
    /// 0 on success.
    pub code: u32,
    pub codespace: String,
    pub raw_log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
    /// Hex of the protobuf `TxMsgData`.
    pub data: String,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The event type, e.g. `wasm`.
    pub kind: String,
    pub attributes: Vec<(String, String)>,
}

impl TxResponse {
    /// The value of the first `key` attribute of the first `event_type` event that has one.
    pub fn event_attr(&self, event_type: &str, key: &str) -> Option<&str> {
        self.events
            .iter()
            .filter(|e| e.kind == event_type)
            .flat_map(|e| &e.attributes)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn into_result(self) -> Result<TxResponse, ChainError> {
        if self.code == 0 {
            return Ok(self);
        }
        Err(ChainError::TxFailed {
            txhash: self.txhash,
            code: self.code,
            codespace: self.codespace,
            log: self.raw_log,
        })
    }
}

/// One node's REST API. Cheap to clone; clones share the connection pool and the chain id.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    config: ClientConfig,
    chain_id: OnceCell<String>,
    tx_timeout: Duration,
}

impl Client {
    /// `base_url` is the REST endpoint, e.g. `http://localhost:1317`.
    pub fn new(base_url: &str, config: ClientConfig) -> Result<Client, ChainError> {
        let invalid = |what: String| ChainError::InvalidConfig(what);
        let base: Url = base_url.parse().map_err(|e| {
            invalid(format!(
                "node URL {base_url:?}: {e}; use e.g. http://localhost:1317"
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid(format!(
                "node URL {base_url:?} must be http:// or https://, e.g. http://localhost:1317"
            )));
        }
        if !(config.gas_price_amount.is_finite() && config.gas_price_amount >= 0.0) {
            return Err(invalid(format!(
                "gas price {} must be a non-negative number",
                config.gas_price_amount
            )));
        }
        if !(config.gas_adjustment.is_finite() && config.gas_adjustment >= 1.0) {
            return Err(invalid(format!(
                "gas adjustment {} must be at least 1 (1.3 is usual)",
                config.gas_adjustment
            )));
        }
        if config.gas_denom.is_empty() || config.prefix.is_empty() {
            return Err(invalid(
                "the gas denom and address prefix must be set".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            config,
            chain_id: OnceCell::new(),
            tx_timeout: DEFAULT_TX_TIMEOUT,
        })
    }

    /// How long [`Client::sign_and_broadcast`] waits for inclusion (default 60 s).
    pub fn with_tx_timeout(mut self, timeout: Duration) -> Client {
        self.tx_timeout = timeout;
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// The key's address on this chain.
    pub fn address(&self, key: &Key) -> Result<String, ChainError> {
        key.address(&self.config.prefix)
    }

    // Chain.

    pub async fn node_info(&self) -> Result<NodeInfo, ChainError> {
        let url = self.url("cosmos/base/tendermint/v1beta1/node_info", &[]);
        let v = self.request(self.http.get(url.clone()), &url).await?;
        parse::node_info(&v).map_err(|r| unexpected(&url, r))
    }

    /// The chain id, fetched once from the node.
    pub async fn chain_id(&self) -> Result<String, ChainError> {
        self.chain_id
            .get_or_try_init(|| async { Ok(self.node_info().await?.network) })
            .await
            .cloned()
    }

    pub async fn latest_block(&self) -> Result<BlockInfo, ChainError> {
        let url = self.url("cosmos/base/tendermint/v1beta1/blocks/latest", &[]);
        let v = self.request(self.http.get(url.clone()), &url).await?;
        parse::latest_block(&v).map_err(|r| unexpected(&url, r))
    }

    // Accounts and balances.

    /// `None` if the chain has never seen the address (it received nothing yet).
    pub async fn account(&self, address: &str) -> Result<Option<Account>, ChainError> {
        let url = self.url("cosmos/auth/v1beta1/accounts", &[address]);
        match self.request(self.http.get(url.clone()), &url).await {
            Ok(v) => parse::account(&v)
                .map(Some)
                .map_err(|r| unexpected(&url, r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn balances(&self, address: &str) -> Result<Vec<Coin>, ChainError> {
        let url = self.url("cosmos/bank/v1beta1/balances", &[address]);
        self.paginate(&url, parse::balances).await
    }

    pub async fn balance(&self, address: &str, denom: &str) -> Result<u128, ChainError> {
        let url = self.url("cosmos/bank/v1beta1/balances", &[address, "by_denom"]);
        let v = self
            .request(self.http.get(url.clone()).query(&[("denom", denom)]), &url)
            .await?;
        parse::balance(&v).map_err(|r| unexpected(&url, r))
    }

    // CosmWasm queries.

    /// A contract's smart query, answered as `T`.
    pub async fn query_smart<T: DeserializeOwned>(
        &self,
        contract: &str,
        query: &impl Serialize,
    ) -> Result<T, ChainError> {
        // URL-safe base64: a standard '/' would split the path; grpc-gateway decodes either.
        let data = B64_URL.encode(serde_json::to_vec(query)?);
        let url = self.url("cosmwasm/wasm/v1/contract", &[contract, "smart", &data]);
        let v = self.request(self.http.get(url.clone()), &url).await?;
        parse::smart_query(&v).map_err(|e| ChainError::QueryResponse {
            contract: contract.into(),
            reason: e.to_string(),
        })
    }

    /// The raw value under `key` in a contract's storage, `None` if unset.
    pub async fn query_raw(
        &self,
        contract: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, ChainError> {
        let url = self.url(
            "cosmwasm/wasm/v1/contract",
            &[contract, "raw", &B64_URL.encode(key)],
        );
        let v = self.request(self.http.get(url.clone()), &url).await?;
        parse::raw_query(&v).map_err(|r| unexpected(&url, r))
    }

    /// `None` if no code has the id.
    pub async fn code_info(&self, code_id: u64) -> Result<Option<CodeInfo>, ChainError> {
        let url = self.url("cosmwasm/wasm/v1/code", &[&code_id.to_string()]);
        match self.request(self.http.get(url.clone()), &url).await {
            Ok(v) => parse::code_info(&v)
                .map(Some)
                .map_err(|r| unexpected(&url, r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `None` if no contract has the address.
    pub async fn contract_info(&self, address: &str) -> Result<Option<ContractInfo>, ChainError> {
        let url = self.url("cosmwasm/wasm/v1/contract", &[address]);
        match self.request(self.http.get(url.clone()), &url).await {
            Ok(v) => parse::contract_info(&v)
                .map(Some)
                .map_err(|r| unexpected(&url, r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Addresses of the contracts instantiated from a code, oldest first.
    pub async fn contracts_by_code(&self, code_id: u64) -> Result<Vec<String>, ChainError> {
        let url = self.url(
            "cosmwasm/wasm/v1/code",
            &[&code_id.to_string(), "contracts"],
        );
        self.paginate(&url, parse::contracts).await
    }

    // Transactions.

    /// The gas a signed transaction uses. A failing transaction (a contract error, say) is a
    /// [`ChainError::SimulationFailed`] with the node's reason.
    pub async fn simulate(&self, tx_bytes: &[u8]) -> Result<u64, ChainError> {
        let url = self.url("cosmos/tx/v1beta1/simulate", &[]);
        let body = json!({ "tx_bytes": B64.encode(tx_bytes) });
        let v = match self
            .request(self.http.post(url.clone()).json(&body), &url)
            .await
        {
            Err(ChainError::Api { message, .. }) => {
                return Err(ChainError::SimulationFailed { message })
            }
            other => other?,
        };
        parse::simulate(&v).map_err(|r| unexpected(&url, r))
    }

    /// Submits a signed transaction (sync mode) and returns CheckTx's verdict, which may be a
    /// failure (`code != 0`); inclusion is not awaited.
    pub async fn broadcast(&self, tx_bytes: &[u8]) -> Result<TxResponse, ChainError> {
        let url = self.url("cosmos/tx/v1beta1/txs", &[]);
        let body = json!({ "tx_bytes": B64.encode(tx_bytes), "mode": "BROADCAST_MODE_SYNC" });
        let v = self
            .request(self.http.post(url.clone()).json(&body), &url)
            .await?;
        parse::tx_response(&v).map_err(|r| unexpected(&url, r))
    }

    /// An included transaction's result, `None` while it is not in a block.
    pub async fn get_tx(&self, hash: &str) -> Result<Option<TxResponse>, ChainError> {
        let url = self.url("cosmos/tx/v1beta1/txs", &[hash]);
        match self.request(self.http.get(url.clone()), &url).await {
            Ok(v) => parse::tx_response(&v)
                .map(Some)
                .map_err(|r| unexpected(&url, r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Polls every 100 ms until the transaction is in a block; its result may be a failure.
    pub async fn wait_for_tx(
        &self,
        hash: &str,
        timeout: Duration,
    ) -> Result<TxResponse, ChainError> {
        let start = Instant::now();
        loop {
            if let Some(response) = self.get_tx(hash).await? {
                return Ok(response);
            }
            if start.elapsed() >= timeout {
                return Err(ChainError::TxTimeout {
                    txhash: hash.into(),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Signs `msgs` with the gas simulation says they need (× the gas adjustment, paid at the
    /// configured price), broadcasts them and waits for the block. A failure in CheckTx or in
    /// the block is a [`ChainError::TxFailed`]; a stale sequence is retried up to 3 times.
    pub async fn sign_and_broadcast(
        &self,
        key: &Key,
        msgs: Vec<Any>,
        memo: &str,
    ) -> Result<TxResponse, ChainError> {
        self.sign_and_broadcast_with_timeout(key, msgs, memo, None)
            .await
    }

    /// [`Client::sign_and_broadcast`] with a `timeout_height` in the body: no block above that
    /// height includes the transaction (the chain refuses it with code 30, "tx timeout
    /// height", see [`ChainError::is_timeout_height`]), so a caller that lost track of it
    /// (a crash, a lost connection) knows it never landed once the chain is past that height.
    /// Retries after a stale sequence keep the same timeout height.
    pub async fn sign_and_broadcast_with_timeout(
        &self,
        key: &Key,
        msgs: Vec<Any>,
        memo: &str,
        timeout_height: Option<u64>,
    ) -> Result<TxResponse, ChainError> {
        let address = self.address(key)?;
        let chain_id = self.chain_id().await?;
        let account = self
            .account(&address)
            .await?
            .ok_or_else(|| ChainError::AccountNotFound {
                address: address.clone(),
                chain_id: chain_id.clone(),
            })?;
        let mut signer = SignerData {
            chain_id,
            account_number: account.account_number,
            sequence: account.sequence,
        };
        let mut retries = 0;
        loop {
            let error = match self
                .try_sign_and_broadcast(key, &msgs, memo, timeout_height, &signer)
                .await
            {
                Err(e) if e.is_sequence_mismatch() && retries < SEQUENCE_RETRIES => e,
                result => return result,
            };
            retries += 1;
            // The node's expected sequence counts the mempool; the account endpoint does not.
            let log = match &error {
                ChainError::TxFailed { log, .. } => log,
                ChainError::SimulationFailed { message } => message,
                _ => "",
            };
            signer.sequence = match parse::expected_sequence(log) {
                Some(sequence) => sequence,
                None => {
                    tokio::time::sleep(POLL_INTERVAL * 5).await;
                    self.account(&address)
                        .await?
                        .map_or(signer.sequence, |a| a.sequence)
                }
            };
        }
    }

    async fn try_sign_and_broadcast(
        &self,
        key: &Key,
        msgs: &[Any],
        memo: &str,
        timeout_height: Option<u64>,
        signer: &SignerData,
    ) -> Result<TxResponse, ChainError> {
        // Simulation ignores the fee and runs on an unlimited gas meter.
        let unpriced = tx::build_signed_tx_with_timeout(
            key,
            msgs.to_vec(),
            memo,
            timeout_height,
            signer,
            &Fee::default(),
        );
        let gas_used = self.simulate(&unpriced).await?;
        let gas_limit = (gas_used as f64 * self.config.gas_adjustment).ceil() as u64;
        let fee_amount = (gas_limit as f64 * self.config.gas_price_amount).ceil() as u128;
        let fee = Fee {
            // A zero-fee chain gets no coin: "0ukumo" is not a valid `sdk.Coins` entry.
            amount: (fee_amount > 0)
                .then(|| Coin::new(fee_amount, &self.config.gas_denom))
                .into_iter()
                .collect(),
            gas_limit,
        };
        let signed = tx::build_signed_tx_with_timeout(
            key,
            msgs.to_vec(),
            memo,
            timeout_height,
            signer,
            &fee,
        );
        let checked = self.broadcast(&signed).await?.into_result()?;
        self.wait_for_tx(&checked.txhash, self.tx_timeout)
            .await?
            .into_result()
    }

    // Conveniences.

    /// Uploads wasm and returns its code id.
    pub async fn store_code(&self, key: &Key, wasm: Vec<u8>) -> Result<u64, ChainError> {
        let msg = tx::msg_store_code(&self.address(key)?, wasm);
        let response = self.sign_and_broadcast(key, vec![msg], "").await?;
        required_attr(&response, "store_code", "code_id")?
            .parse()
            .map_err(|_| ChainError::MissingEvent {
                txhash: response.txhash.clone(),
                event: "store_code".into(),
                attribute: "code_id (a number)".into(),
            })
    }

    /// Instantiates a contract and returns its address.
    pub async fn instantiate(
        &self,
        key: &Key,
        code_id: u64,
        msg: &impl Serialize,
        label: &str,
        admin: Option<&str>,
        funds: &[Coin],
    ) -> Result<String, ChainError> {
        let msg = tx::msg_instantiate(&self.address(key)?, admin, code_id, label, msg, funds)?;
        let response = self.sign_and_broadcast(key, vec![msg], "").await?;
        required_attr(&response, "instantiate", "_contract_address").map(str::to_string)
    }

    pub async fn execute(
        &self,
        key: &Key,
        contract: &str,
        msg: &impl Serialize,
        funds: &[Coin],
    ) -> Result<TxResponse, ChainError> {
        self.execute_with_timeout(key, contract, msg, funds, None)
            .await
    }

    /// [`Client::execute`] with a `timeout_height` (see
    /// [`Client::sign_and_broadcast_with_timeout`]).
    pub async fn execute_with_timeout(
        &self,
        key: &Key,
        contract: &str,
        msg: &impl Serialize,
        funds: &[Coin],
        timeout_height: Option<u64>,
    ) -> Result<TxResponse, ChainError> {
        let msg = tx::msg_execute(&self.address(key)?, contract, msg, funds)?;
        self.sign_and_broadcast_with_timeout(key, vec![msg], "", timeout_height)
            .await
    }

    pub async fn migrate(
        &self,
        key: &Key,
        contract: &str,
        new_code_id: u64,
        msg: &impl Serialize,
    ) -> Result<TxResponse, ChainError> {
        let msg = tx::msg_migrate(&self.address(key)?, contract, new_code_id, msg)?;
        self.sign_and_broadcast(key, vec![msg], "").await
    }

    /// Sends native coins.
    pub async fn send(
        &self,
        key: &Key,
        to: &str,
        coins: &[Coin],
    ) -> Result<TxResponse, ChainError> {
        let msg = tx::msg_send(&self.address(key)?, to, coins);
        self.sign_and_broadcast(key, vec![msg], "").await
    }

    // HTTP.

    /// The base URL with `path` and then each of `segments` (percent-encoded) appended.
    fn url(&self, path: &str, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Never fails: `new` rejected URLs that cannot be a base.
        if let Ok(mut parts) = url.path_segments_mut() {
            parts
                .pop_if_empty()
                .extend(path.split('/'))
                .extend(segments);
        }
        url
    }

    /// Sends a request; a non-2xx answer is a [`ChainError::Api`] with the node's message.
    async fn request(&self, request: RequestBuilder, url: &Url) -> Result<Value, ChainError> {
        let unreachable = |e: reqwest::Error| ChainError::Unreachable {
            url: self.base.as_str().trim_end_matches('/').to_string(),
            reason: describe(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.text().await.map_err(unreachable)?;
        if !status.is_success() {
            let (code, message) = parse::api_error(&body);
            // A bare 404 is a route this server does not have, not a missing account or tx.
            if status == reqwest::StatusCode::NOT_FOUND && code.is_none() {
                return Err(unexpected(url, format!("HTTP 404 ({message})")));
            }
            return Err(ChainError::Api {
                url: url.to_string(),
                status: status.as_u16(),
                code,
                message,
            });
        }
        serde_json::from_str(&body).map_err(|e| unexpected(url, format!("not JSON ({e})")))
    }

    /// Follows `pagination.next_key` through every page.
    async fn paginate<T>(
        &self,
        url: &Url,
        page: fn(&Value) -> parse::Parsed<parse::Page<T>>,
    ) -> Result<Vec<T>, ChainError> {
        let mut items = Vec::new();
        let mut key: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = self.http.get(url.clone());
            if let Some(key) = &key {
                request = request.query(&[("pagination.key", key)]);
            }
            let v = self.request(request, url).await?;
            let (mut page_items, next) = page(&v).map_err(|r| unexpected(url, r))?;
            items.append(&mut page_items);
            match next {
                Some(next) if Some(&next) != key.as_ref() => key = Some(next),
                _ => return Ok(items),
            }
        }
        Err(unexpected(url, format!("more than {MAX_PAGES} pages")))
    }
}

fn required_attr<'a>(
    response: &'a TxResponse,
    event: &str,
    attribute: &str,
) -> Result<&'a str, ChainError> {
    response
        .event_attr(event, attribute)
        .ok_or_else(|| ChainError::MissingEvent {
            txhash: response.txhash.clone(),
            event: event.into(),
            attribute: attribute.into(),
        })
}

fn unexpected(url: &Url, reason: impl Into<String>) -> ChainError {
    ChainError::UnexpectedResponse {
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// The causes of a reqwest error: its own message only repeats the URL ("error sending request
/// for url …") and hides the reason ("Connection refused").
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", REQUEST_TIMEOUT.as_secs());
    }
    let mut causes: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig {
            prefix: "wasm".into(),
            gas_price_amount: 0.025,
            gas_denom: "ukumo".into(),
            gas_adjustment: 1.3,
        }
    }

    #[test]
    fn block_times_read_as_unix_seconds() {
        let at = |time: &str| BlockInfo {
            height: 1,
            time: time.into(),
            chain_id: "c".into(),
        };
        assert_eq!(at("1970-01-01T00:00:00Z").unix_seconds(), Some(0));
        assert_eq!(
            at("2026-11-29T08:03:37.123456789Z").unix_seconds(),
            Some(1_795_939_417)
        );
        assert_eq!(
            at("2000-02-29T14:00:00+02:00").unix_seconds(),
            Some(951_825_600)
        );
        assert_eq!(at("yesterday").unix_seconds(), None);
    }

    #[test]
    fn urls_are_built_and_escaped() {
        let client = Client::new("http://localhost:1317/", config()).unwrap();
        assert_eq!(
            client
                .url("cosmos/auth/v1beta1/accounts", &["wasm1abc"])
                .as_str(),
            "http://localhost:1317/cosmos/auth/v1beta1/accounts/wasm1abc"
        );
        // A segment cannot escape into another path or a query.
        assert_eq!(
            client.url("cosmwasm/wasm/v1/contract", &["a/b?c"]).as_str(),
            "http://localhost:1317/cosmwasm/wasm/v1/contract/a%2Fb%3Fc"
        );
        let proxied = Client::new("https://example.com/rest", config()).unwrap();
        assert_eq!(
            proxied.url("cosmos/tx/v1beta1/txs", &[]).as_str(),
            "https://example.com/rest/cosmos/tx/v1beta1/txs"
        );
    }

    #[test]
    fn smart_query_encoding_is_path_safe() {
        // '?' and '>' push standard base64 into '/' and '+'.
        let data = B64_URL.encode(br#"{"a":"???>>>"}"#);
        assert!(!data.contains('/') && !data.contains('+'), "{data}");
    }

    #[test]
    fn bad_configs_are_rejected() {
        assert!(Client::new("localhost:1317", config()).is_err());
        assert!(Client::new("ftp://localhost", config()).is_err());
        let mut c = config();
        c.gas_adjustment = 0.5;
        assert!(matches!(
            Client::new("http://x", c),
            Err(ChainError::InvalidConfig(_))
        ));
        let mut c = config();
        c.gas_price_amount = f64::NAN;
        assert!(Client::new("http://x", c).is_err());
    }

    #[test]
    fn failed_responses_become_tx_failed() {
        let ok = TxResponse {
            txhash: "AA".into(),
            ..Default::default()
        };
        assert!(ok.clone().into_result().is_ok());
        let failed = TxResponse {
            code: 5,
            codespace: "wasm".into(),
            raw_log: "execute wasm contract failed".into(),
            ..ok
        };
        match failed.into_result() {
            Err(ChainError::TxFailed {
                txhash,
                code,
                codespace,
                log,
            }) => {
                assert_eq!(
                    (txhash.as_str(), code, codespace.as_str()),
                    ("AA", 5, "wasm")
                );
                assert_eq!(log, "execute wasm contract failed");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn unreachable_node_says_so() {
        // A port that was just free: connecting is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::new(&format!("http://127.0.0.1:{port}"), config()).unwrap();
        let err = client.node_info().await.unwrap_err();
        assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("kumo devnet"), "{text}");
        assert!(text.contains("refused"), "the reason is shown: {text}");
    }
}
