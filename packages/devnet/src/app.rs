//! The chain: transactions (decoding, the SDK's ante handler — size gas, fee, signature,
//! sequence — and message routing), the mempool, blocks, the tx index and persistence.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cosmrs::proto::cosmos::bank::v1beta1::MsgSend;
use cosmrs::proto::cosmos::base::abci::v1beta1::TxMsgData;
use cosmrs::proto::cosmos::tx::v1beta1::{AuthInfo, SignDoc, TxBody, TxRaw};
use cosmrs::proto::cosmwasm::wasm::v1 as wasmpb;
use cosmrs::proto::prost::Message;
use cosmrs::Any;
use cosmwasm_std::{Coin, Event, Timestamp, Uint128};
use k256::ecdsa::signature::Verifier;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AbciError;
use crate::gas::{self, GasMeter};
use crate::keeper::{coins_string, Engine, Outcome};
use crate::state::{self, key, prefix, Account, Ctx, Shared};
use crate::store::KvStore;
use crate::vm::{DevApi, WasmCache};

const MAX_MEMO: usize = 256;
const MAX_TX_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Config {
    pub chain_id: String,
    pub prefix: String,
    /// The fee and staking denom.
    pub denom: String,
    /// The node's minimum gas price in `denom` (checked on broadcast, as `minimum-gas-prices`).
    pub min_gas_price: f64,
    /// Where state, the wasm cache and the log live.
    pub home: PathBuf,
    pub genesis: Vec<(String, Vec<Coin>)>,
}

/// The result of a transaction, in the shape of the SDK's `TxResponse`.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct TxResult {
    pub height: u64,
    pub txhash: String,
    pub codespace: String,
    pub code: u32,
    pub data: String,
    pub raw_log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
    pub timestamp: String,
    pub events: Vec<Event>,
    pub tx: Vec<u8>,
    pub msg_responses: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct BlockMeta {
    pub height: u64,
    pub time_nanos: u64,
    pub hash: String,
    pub num_txs: u32,
}

struct Decoded {
    body_bytes: Vec<u8>,
    auth_info_bytes: Vec<u8>,
    body: TxBody,
    auth_info: AuthInfo,
    signature: Vec<u8>,
    signer: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Check,
    Simulate,
    Deliver,
}

pub struct App {
    pub engine: Engine,
    pub config: Config,
    mempool: Vec<(String, Vec<u8>)>,
    /// CheckTx's view of sequences, ahead of committed state by the pending transactions.
    check_sequences: HashMap<String, u64>,
    log: Option<BufWriter<File>>,
    /// Added to the clock, so tests can move time forward.
    pub clock_offset_secs: u64,
    /// A fixed clock instead of the wall clock (deterministic tests): blocks keep its time until
    /// `clock_offset_secs` moves it.
    pub fixed_time: Option<Timestamp>,
    fee_collector: String,
}

impl App {
    /// Opens the chain in `config.home`, replaying its log, or starts it from genesis.
    pub fn open(config: Config) -> Result<App, String> {
        fs::create_dir_all(&config.home)
            .map_err(|e| format!("cannot create {}: {e}", config.home.display()))?;
        let log_path = config.home.join("state.log");
        let base = read_log(&log_path)?;
        let fresh = base.is_empty();
        let options = cosmwasm_vm::CacheOptions::new(
            config.home.join("wasm"),
            cosmwasm_vm::capabilities_from_csv(
                "iterator,staking,stargate,cosmwasm_1_1,cosmwasm_1_2,cosmwasm_1_3,cosmwasm_1_4,cosmwasm_2_0,cosmwasm_2_1,cosmwasm_2_2",
            ),
            cosmwasm_vm::Size::mebi(256),
            cosmwasm_vm::Size::mebi(32),
        );
        // SAFETY: the cache directory is the devnet's own; nothing else writes compiled modules
        // into it.
        let cache: WasmCache =
            unsafe { cosmwasm_vm::Cache::new(options) }.map_err(|e| format!("wasm cache: {e}"))?;
        let api = DevApi {
            prefix: config.prefix.as_str().into(),
        };
        let ctx: Shared = Arc::new(std::sync::Mutex::new(Ctx::new(
            KvStore::from_base(base),
            &config.chain_id,
        )));
        let engine = Engine {
            ctx,
            cache: Arc::new(cache),
            api: api.clone(),
        };
        let fee_collector = api
            .humanize(&module_address_20("fee_collector"))
            .map_err(|e| e.to_string())?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let mut app = App {
            engine,
            config,
            mempool: vec![],
            check_sequences: HashMap::new(),
            log: Some(BufWriter::new(log)),
            clock_offset_secs: 0,
            fixed_time: None,
            fee_collector,
        };
        if fresh {
            app.genesis()?;
        } else {
            let meta: Option<BlockMeta> = app.ctx().load_free(&key(prefix::META, &[b"latest"]));
            if let Some(meta) = meta {
                let mut ctx = app.ctx();
                ctx.block.height = meta.height;
                ctx.block.time = Timestamp::from_nanos(meta.time_nanos);
            }
            app.repin()?;
        }
        Ok(app)
    }

    fn ctx(&self) -> std::sync::MutexGuard<'_, Ctx> {
        state::lock(&self.engine.ctx)
    }

    fn genesis(&mut self) -> Result<(), String> {
        self.ctx().store.begin();
        // x/auth params (max memo, sig limit, size cost, ed25519 and secp256k1 costs), about
        // the size of their protobuf encoding.
        self.ctx()
            .store
            .set(&key(prefix::PARAMS, &[b"auth"]), b"[256,7,10,590,1000]");
        for (address, coins) in self.config.genesis.clone() {
            self.engine
                .mint(&address, &coins)
                .map_err(|e| format!("genesis account {address}: {e}"))?;
        }
        self.engine
            .ensure_account(&self.fee_collector.clone())
            .map_err(|e| e.to_string())?;
        let now = self.now();
        self.finish_block(0, now, 0)
    }

    fn repin(&mut self) -> Result<(), String> {
        let (pinned, _) = self
            .ctx()
            .store
            .prefix_page(&key(prefix::PINNED, &[]), &[], usize::MAX);
        let ids: Vec<u64> = pinned
            .iter()
            .filter_map(|(k, _)| <[u8; 8]>::try_from(k.as_slice()).ok())
            .map(u64::from_be_bytes)
            .collect();
        for id in ids {
            self.engine.pin(id).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub fn now(&self) -> Timestamp {
        if let Some(t) = self.fixed_time {
            return t.plus_seconds(self.clock_offset_secs);
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        Timestamp::from_nanos(nanos).plus_seconds(self.clock_offset_secs)
    }

    pub fn height(&self) -> u64 {
        self.ctx().block.height
    }

    pub fn block_time(&self) -> Timestamp {
        self.ctx().block.time
    }

    pub fn fee_collector(&self) -> &str {
        &self.fee_collector
    }

    // ---------------------------------------------------------------- transactions

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, AbciError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(AbciError::tx_too_large(format!(
                "tx of {} bytes is larger than {MAX_TX_BYTES}",
                bytes.len()
            )));
        }
        let raw = TxRaw::decode(bytes).map_err(|e| AbciError::tx_decode(e.to_string()))?;
        let body = TxBody::decode(raw.body_bytes.as_slice())
            .map_err(|e| AbciError::tx_decode(e.to_string()))?;
        let auth_info = AuthInfo::decode(raw.auth_info_bytes.as_slice())
            .map_err(|e| AbciError::tx_decode(e.to_string()))?;
        if body.messages.is_empty() {
            return Err(AbciError::invalid_request(
                "must contain at least one message",
            ));
        }
        if body.memo.chars().count() > MAX_MEMO {
            return Err(AbciError::memo_too_large(format!(
                "maximum number of characters is {MAX_MEMO} but received {} characters",
                body.memo.chars().count()
            )));
        }
        if raw.signatures.is_empty() {
            return Err(AbciError::no_signatures(""));
        }
        if raw.signatures.len() != 1 || auth_info.signer_infos.len() != 1 {
            return Err(AbciError::unauthorized(format!(
                "the devnet accepts one signer per transaction, got {} signatures and {} signer infos",
                raw.signatures.len(),
                auth_info.signer_infos.len()
            )));
        }
        let mut signer: Option<String> = None;
        for any in &body.messages {
            let s = msg_signer(any)?;
            match &signer {
                None => signer = Some(s),
                Some(prev) if *prev != s => {
                    return Err(AbciError::unauthorized(format!(
                        "messages are signed by {prev} and {s}; one signer per transaction"
                    )))
                }
                _ => {}
            }
        }
        Ok(Decoded {
            body_bytes: raw.body_bytes,
            auth_info_bytes: raw.auth_info_bytes,
            body,
            auth_info,
            signature: raw.signatures[0].clone(),
            signer: signer.unwrap_or_default(),
        })
    }

    /// The SDK's ante handler chain, in its order.
    fn ante(&mut self, tx: &Decoded, tx_len: usize, mode: Mode) -> Result<Vec<Event>, AbciError> {
        // TxTimeoutHeightDecorator: CheckTx and simulation run at the latest committed height
        // (the SDK's check state), DeliverTx at the block's; a tx past its timeout fails before
        // it pays a fee or uses its sequence.
        let height = self.height();
        let timeout = tx.body.timeout_height;
        if timeout > 0 && height > timeout {
            return Err(AbciError::tx_timeout_height(format!(
                "block height: {height}, timeout height: {timeout}"
            )));
        }
        let e = &self.engine;
        let fee = tx.auth_info.fee.clone().unwrap_or_default();
        let gas_limit = fee.gas_limit;
        let fee_coins = fee
            .amount
            .iter()
            .map(|c| {
                c.amount
                    .parse::<u128>()
                    .map(|a| Coin::new(a, c.denom.clone()))
                    .map_err(|_| AbciError::invalid_coins(format!("fee amount {}", c.amount)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if mode == Mode::Check {
            let required = (gas_limit as f64 * self.config.min_gas_price).ceil() as u128;
            let paid = fee_coins
                .iter()
                .filter(|c| c.denom == self.config.denom)
                .map(|c| c.amount.u128())
                .sum::<u128>();
            if paid < required {
                return Err(AbciError::insufficient_fee(format!(
                    "insufficient fees; got: {} required: {required}{}",
                    coins_string(&fee_coins),
                    self.config.denom
                )));
            }
        }
        let canonical = e.canonical(&tx.signer)?;
        let account_key = key(prefix::ACCOUNT, &[&canonical]);
        // The SDK's decorators read the auth params and the signer's account several times
        // each (ValidateMemo, ConsumeTxSize, SetPubKey, ValidateSigCount, SigGasConsume,
        // SigVerification, IncrementSequence); those reads are charged as they are there.
        let params_key = key(prefix::PARAMS, &[b"auth"]);
        {
            let mut ctx = state::lock(&e.ctx);
            ctx.get(&params_key)?;
            ctx.get(&params_key)?;
            ctx.meter
                .consume(gas::TX_SIZE_COST_PER_BYTE * tx_len as u64)?;
        }
        let mut account = state::lock(&e.ctx)
            .load_account(&account_key)?
            .ok_or_else(|| {
                AbciError::unknown_address(format!("account {} not found", tx.signer))
            })?;
        let mut events = vec![];
        if fee_coins.iter().any(|c| !c.amount.is_zero()) {
            let fee_coins: Vec<Coin> = fee_coins
                .iter()
                .filter(|c| !c.amount.is_zero())
                .cloned()
                .collect();
            events.extend(
                e.bank_send(&tx.signer, &self.fee_collector, &fee_coins)
                    .map_err(|err| err.wrap("failed to deduct fees"))?,
            );
        }
        events.push(
            Event::new("tx")
                .add_attribute("fee", coins_string(&fee_coins))
                .add_attribute("fee_payer", &tx.signer),
        );
        let info = &tx.auth_info.signer_infos[0];
        let pub_key = match &info.public_key {
            Some(any) => Some(decode_pubkey(any)?),
            None => None,
        };
        match (&account.pub_key, &pub_key) {
            (None, None) => {
                return Err(AbciError::invalid_pubkey(
                    "pubkey on the account is not set; the first transaction must carry it",
                ))
            }
            (None, Some(pk)) => {
                let derived = pubkey_address(pk, &self.config.prefix)?;
                if derived != tx.signer {
                    return Err(AbciError::invalid_pubkey(format!(
                        "pubKey does not match signer address {} with signer index: 0",
                        tx.signer
                    )));
                }
                account.pub_key = Some(pk.clone());
            }
            (Some(stored), Some(pk)) if stored != pk => {
                return Err(AbciError::invalid_pubkey(format!(
                    "pubKey does not match signer address {} with signer index: 0",
                    tx.signer
                )));
            }
            _ => {}
        }
        {
            let mut ctx = state::lock(&e.ctx);
            ctx.get(&account_key)?; // SetPubKey
            ctx.get(&params_key)?; // ValidateSigCount
            ctx.get(&params_key)?; // SigGasConsume
            ctx.get(&account_key)?;
            ctx.meter.consume(gas::SIG_VERIFY_SECP256K1)?;
            ctx.get(&account_key)?; // SigVerification
            ctx.get(&account_key)?; // IncrementSequence
        }
        let expected = match mode {
            Mode::Check => *self
                .check_sequences
                .get(&tx.signer)
                .unwrap_or(&account.sequence)
                .max(&account.sequence),
            _ => account.sequence,
        };
        if info.sequence != expected {
            return Err(AbciError::wrong_sequence(format!(
                "account sequence mismatch, expected {expected}, got {}",
                info.sequence
            )));
        }
        if mode != Mode::Simulate {
            let sign_doc = SignDoc {
                body_bytes: tx.body_bytes.clone(),
                auth_info_bytes: tx.auth_info_bytes.clone(),
                chain_id: self.config.chain_id.clone(),
                account_number: account.account_number,
            };
            let key_bytes = account.pub_key.clone().unwrap_or_default();
            if !verify(&key_bytes, &sign_doc.encode_to_vec(), &tx.signature) {
                return Err(AbciError::unauthorized(format!(
                    "signature verification failed; please verify account number ({}), sequence ({}) and chain-id ({})",
                    account.account_number, account.sequence, self.config.chain_id
                )));
            }
        }
        events.push(
            Event::new("tx")
                .add_attribute("acc_seq", format!("{}/{}", tx.signer, account.sequence)),
        );
        account.sequence += 1;
        state::lock(&e.ctx).save_account(&account_key, &account)?;
        if mode == Mode::Check {
            self.check_sequences
                .insert(tx.signer.clone(), info.sequence + 1);
        }
        Ok(events)
    }

    fn route(&self, any: &Any) -> Result<Outcome, AbciError> {
        let e = &self.engine;
        let bad = |err: cosmrs::proto::prost::DecodeError| AbciError::tx_decode(err.to_string());
        let coins =
            |v: &[cosmrs::proto::cosmos::base::v1beta1::Coin]| -> Result<Vec<Coin>, AbciError> {
                let coins = v
                    .iter()
                    .map(|c| {
                        c.amount
                            .parse::<u128>()
                            .map(|a| Coin::new(a, c.denom.clone()))
                            .map_err(|_| {
                                AbciError::invalid_coins(format!("{}{}", c.amount, c.denom))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                validate_coins(&coins)?;
                Ok(coins)
            };
        match any.type_url.as_str() {
            "/cosmwasm.wasm.v1.MsgStoreCode" => {
                let m = wasmpb::MsgStoreCode::decode(any.value.as_slice()).map_err(bad)?;
                e.store_code(&m.sender, &m.wasm_byte_code)
            }
            "/cosmwasm.wasm.v1.MsgInstantiateContract" => {
                let m =
                    wasmpb::MsgInstantiateContract::decode(any.value.as_slice()).map_err(bad)?;
                let admin = (!m.admin.is_empty()).then_some(m.admin.as_str());
                e.instantiate(
                    &m.sender,
                    admin,
                    m.code_id,
                    &m.label,
                    &m.msg,
                    &coins(&m.funds)?,
                    None,
                )
            }
            "/cosmwasm.wasm.v1.MsgInstantiateContract2" => {
                let m =
                    wasmpb::MsgInstantiateContract2::decode(any.value.as_slice()).map_err(bad)?;
                let admin = (!m.admin.is_empty()).then_some(m.admin.as_str());
                e.instantiate(
                    &m.sender,
                    admin,
                    m.code_id,
                    &m.label,
                    &m.msg,
                    &coins(&m.funds)?,
                    Some((&m.salt, m.fix_msg)),
                )
            }
            "/cosmwasm.wasm.v1.MsgExecuteContract" => {
                let m = wasmpb::MsgExecuteContract::decode(any.value.as_slice()).map_err(bad)?;
                e.execute(&m.sender, &m.contract, &m.msg, &coins(&m.funds)?)
            }
            "/cosmwasm.wasm.v1.MsgMigrateContract" => {
                let m = wasmpb::MsgMigrateContract::decode(any.value.as_slice()).map_err(bad)?;
                e.migrate(&m.sender, &m.contract, m.code_id, &m.msg)
            }
            "/cosmwasm.wasm.v1.MsgUpdateAdmin" => {
                let m = wasmpb::MsgUpdateAdmin::decode(any.value.as_slice()).map_err(bad)?;
                e.set_admin(&m.sender, &m.contract, Some(&m.new_admin))
            }
            "/cosmwasm.wasm.v1.MsgClearAdmin" => {
                let m = wasmpb::MsgClearAdmin::decode(any.value.as_slice()).map_err(bad)?;
                e.set_admin(&m.sender, &m.contract, None)
            }
            "/cosmos.bank.v1beta1.MsgSend" => {
                let m = MsgSend::decode(any.value.as_slice()).map_err(bad)?;
                let amount = coins(&m.amount)?;
                if amount.is_empty() {
                    return Err(AbciError::invalid_coins("send amount is empty"));
                }
                let events = e.bank_send(&m.from_address, &m.to_address, &amount)?;
                Ok(Outcome {
                    events,
                    data: None,
                    msg_responses: vec![cosmwasm_std::MsgResponse {
                        type_url: "/cosmos.bank.v1beta1.MsgSendResponse".into(),
                        value: Default::default(),
                    }],
                })
            }
            other => Err(AbciError::unknown_request(format!(
                "unrecognized message type: {other}; the devnet routes wasm and bank messages"
            ))),
        }
    }

    /// Runs a transaction against the current state: ante, then the messages, each stage in
    /// its own layer so that a failed message keeps the fee and sequence but nothing else.
    fn run(&mut self, bytes: &[u8], mode: Mode) -> TxResult {
        let txhash = hex::encode_upper(Sha256::digest(bytes));
        let mut result = TxResult {
            txhash,
            tx: bytes.to_vec(),
            ..TxResult::default()
        };
        let tx = match self.decode(bytes) {
            Ok(t) => t,
            Err(e) => return fail(result, e),
        };
        let gas_limit = tx.auth_info.fee.as_ref().map_or(0, |f| f.gas_limit);
        result.gas_wanted = gas_limit;
        {
            let mut ctx = self.ctx();
            ctx.meter = if mode == Mode::Simulate {
                GasMeter::infinite()
            } else {
                GasMeter::new(gas_limit)
            };
            ctx.store.begin();
        }
        let ante = self.ante(&tx, bytes.len(), mode);
        let ante_events = match ante {
            Ok(ev) => {
                self.ctx().store.commit();
                ev
            }
            Err(e) => {
                self.ctx().store.rollback();
                return self.failed(result, e);
            }
        };
        result.events = ante_events;
        if mode == Mode::Check {
            result.gas_used = self.ctx().meter.consumed;
            return result;
        }
        self.ctx().store.begin();
        let mut responses = vec![];
        for (i, any) in tx.body.messages.iter().enumerate() {
            let outcome = self.route(any).and_then(|o| {
                // Out of gas inside a message that the keeper caught still fails the tx.
                let meter = self.ctx().meter;
                if meter.consumed > meter.limit {
                    Err(AbciError::from(crate::gas::OutOfGas))
                } else {
                    Ok(o)
                }
            });
            match outcome {
                Ok(o) => {
                    result.events.push(
                        Event::new("message")
                            .add_attribute("action", &any.type_url)
                            .add_attribute("sender", &tx.signer)
                            .add_attribute("module", module_of(&any.type_url))
                            .add_attribute("msg_index", i.to_string()),
                    );
                    result.events.extend(
                        o.events
                            .into_iter()
                            .map(|ev| ev.add_attribute("msg_index", i.to_string())),
                    );
                    responses.extend(o.msg_responses);
                }
                Err(e) => {
                    self.ctx().store.rollback();
                    result.events.clear();
                    let e = if e.is_out_of_gas() {
                        e
                    } else {
                        e.wrap(&format!("failed to execute message; message index: {i}"))
                    };
                    return self.failed(result, e);
                }
            }
        }
        self.ctx().store.commit();
        result.gas_used = self.ctx().meter.consumed;
        result.msg_responses = responses
            .iter()
            .map(|r| (r.type_url.clone(), r.value.to_vec()))
            .collect();
        let data = TxMsgData {
            #[allow(deprecated)]
            data: vec![],
            msg_responses: responses
                .into_iter()
                .map(|r| cosmrs::proto::Any {
                    type_url: r.type_url,
                    value: r.value.to_vec(),
                })
                .collect(),
        };
        result.data = hex::encode_upper(data.encode_to_vec());
        result
    }

    fn failed(&self, mut result: TxResult, e: AbciError) -> TxResult {
        let meter = self.ctx().meter;
        result.gas_used = meter.consumed.min(meter.limit);
        let e = if e.is_out_of_gas() {
            AbciError::out_of_gas(meter.limit, meter.consumed)
        } else {
            e
        };
        fail(result, e)
    }

    /// `CheckTx` and mempool admission (BROADCAST_MODE_SYNC). State is not changed.
    pub fn broadcast(&mut self, bytes: &[u8]) -> TxResult {
        let hash = hex::encode_upper(Sha256::digest(bytes));
        if self.mempool.iter().any(|(h, _)| *h == hash) || self.tx(&hash).is_some() {
            let result = TxResult {
                txhash: hash,
                ..TxResult::default()
            };
            return fail(result, AbciError::tx_in_mempool(""));
        }
        self.ctx().store.begin();
        let result = self.run(bytes, Mode::Check);
        self.ctx().store.rollback();
        if result.code == 0 {
            self.mempool.push((hash, bytes.to_vec()));
        }
        TxResult {
            events: vec![],
            ..result
        }
    }

    /// `Simulate`: runs the tx with an infinite meter and no signature check, then discards it.
    pub fn simulate(&mut self, bytes: &[u8]) -> TxResult {
        self.ctx().store.begin();
        let result = self.run(bytes, Mode::Simulate);
        self.ctx().store.rollback();
        result
    }

    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// Produces a block with every pending transaction.
    pub fn produce_block(&mut self) -> Result<BlockMeta, String> {
        let (height, prev_time) = {
            let ctx = self.ctx();
            (ctx.block.height + 1, ctx.block.time)
        };
        let mut time = self.now();
        // Block times increase, except on a fixed clock, where they stay put until advanced.
        if time <= prev_time && self.fixed_time.is_none() {
            time = prev_time.plus_nanos(1);
        }
        time = time.max(prev_time);
        {
            let mut ctx = self.ctx();
            ctx.block.height = height;
            ctx.block.time = time;
            ctx.store.begin();
        }
        let txs = std::mem::take(&mut self.mempool);
        self.check_sequences.clear();
        let n = txs.len() as u32;
        for (index, (hash, bytes)) in txs.into_iter().enumerate() {
            self.ctx().tx_index = Some(index as u32);
            let mut result = self.run(&bytes, Mode::Deliver);
            result.height = height;
            result.timestamp = rfc3339(time);
            let mut ctx = self.ctx();
            ctx.save_free(&key(prefix::TX, &[hash.as_bytes()]), &result);
        }
        self.ctx().tx_index = None;
        self.finish_block(height, time, n)?;
        Ok(self
            .ctx()
            .load_free(&key(prefix::META, &[b"latest"]))
            .expect("just written"))
    }

    fn finish_block(&mut self, height: u64, time: Timestamp, num_txs: u32) -> Result<(), String> {
        let meta = BlockMeta {
            height,
            time_nanos: time.nanos(),
            hash: hex::encode_upper(Sha256::digest(format!(
                "{}/{height}/{}",
                self.config.chain_id,
                time.nanos()
            ))),
            num_txs,
        };
        let mut ctx = self.ctx();
        ctx.block.height = height;
        ctx.block.time = time;
        ctx.save_free(&key(prefix::META, &[b"latest"]), &meta);
        ctx.save_free(
            &key(prefix::META, &[b"block", &height.to_be_bytes()]),
            &meta,
        );
        let changes = ctx.store.commit();
        drop(ctx);
        if let Some(log) = &mut self.log {
            write_block(log, &changes).map_err(|e| format!("writing the state log: {e}"))?;
        }
        Ok(())
    }

    pub fn tx(&self, hash: &str) -> Option<TxResult> {
        self.ctx()
            .load_free(&key(prefix::TX, &[hash.to_uppercase().as_bytes()]))
    }

    pub fn block(&self, height: Option<u64>) -> Option<BlockMeta> {
        let k = match height {
            None => key(prefix::META, &[b"latest"]),
            Some(h) => key(prefix::META, &[b"block", &h.to_be_bytes()]),
        };
        self.ctx().load_free(&k)
    }

    pub fn account(&self, address: &str) -> Result<Option<Account>, AbciError> {
        let canonical = self.engine.canonical(address)?;
        let mut ctx = self.ctx();
        ctx.meter = GasMeter::infinite();
        ctx.load_account(&key(prefix::ACCOUNT, &[&canonical]))
    }

    /// A read-only query with wasmd's default smart-query gas limit, against committed state.
    pub fn with_query<T>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, AbciError>,
    ) -> Result<T, AbciError> {
        {
            let mut ctx = self.ctx();
            ctx.meter = GasMeter::new(3_000_000);
            ctx.store.begin();
        }
        let result = f(&self.engine);
        self.ctx().store.rollback();
        result
    }

    /// Gives coins to an address outside of any transaction (the devnet faucet).
    pub fn fund(&mut self, address: &str, coins: &[Coin]) -> Result<(), String> {
        self.ctx().meter = GasMeter::infinite();
        self.operator(|e| e.mint(address, coins))
    }

    /// Pins a code (wasmd's `MsgPinCodes`, a governance action on real chains).
    pub fn pin_code(&mut self, code_id: u64) -> Result<(), String> {
        self.operator(|e| e.pin(code_id))
    }

    pub fn unpin_code(&mut self, code_id: u64) -> Result<(), String> {
        self.operator(|e| e.unpin(code_id))
    }

    /// IBC handler steps, as the relayer's messages run them (`crate::ibc`): applied and logged
    /// whole, or not at all, against the latest block; outside any transaction (no fee, no
    /// signature), under an unlimited meter.
    pub fn ibc<T>(&mut self, f: impl FnOnce(&Engine) -> Result<T, AbciError>) -> Result<T, String> {
        self.ctx().meter = GasMeter::infinite();
        self.ctx().store.begin();
        let value = match f(&self.engine) {
            Ok(v) => v,
            Err(e) => {
                self.ctx().store.rollback();
                return Err(e.to_string());
            }
        };
        let changes = self.ctx().store.commit();
        if let Some(log) = &mut self.log {
            write_block(log, &changes).map_err(|e| e.to_string())?;
        }
        Ok(value)
    }

    /// The state of an IBC channel end, if it exists.
    pub fn ibc_channel_state(
        &self,
        port: &str,
        channel: &str,
    ) -> Result<Option<crate::ibc::ChannelState>, String> {
        self.with_query(|e| e.ibc_channel(port, channel))
            .map(|end| end.map(|e| e.state))
            .map_err(|e| e.to_string())
    }

    /// An operator action outside any transaction: applied and logged whole, or not at all.
    fn operator(&mut self, f: impl FnOnce(&Engine) -> Result<(), AbciError>) -> Result<(), String> {
        self.ctx().store.begin();
        if let Err(e) = f(&self.engine) {
            self.ctx().store.rollback();
            return Err(e.to_string());
        }
        let changes = self.ctx().store.commit();
        if let Some(log) = &mut self.log {
            write_block(log, &changes).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub fn balance(&self, address: &str, denom: &str) -> Result<Uint128, AbciError> {
        self.with_query(|e| e.balance(address, denom))
    }
}

fn fail(mut result: TxResult, e: AbciError) -> TxResult {
    result.code = e.code;
    result.codespace = e.codespace;
    result.raw_log = e.log;
    result
}

fn module_of(type_url: &str) -> &'static str {
    if type_url.starts_with("/cosmwasm.wasm") {
        "wasm"
    } else {
        "bank"
    }
}

fn msg_signer(any: &Any) -> Result<String, AbciError> {
    let bad = |e: cosmrs::proto::prost::DecodeError| AbciError::tx_decode(e.to_string());
    let v = any.value.as_slice();
    Ok(match any.type_url.as_str() {
        "/cosmwasm.wasm.v1.MsgStoreCode" => wasmpb::MsgStoreCode::decode(v).map_err(bad)?.sender,
        "/cosmwasm.wasm.v1.MsgInstantiateContract" => {
            wasmpb::MsgInstantiateContract::decode(v)
                .map_err(bad)?
                .sender
        }
        "/cosmwasm.wasm.v1.MsgInstantiateContract2" => {
            wasmpb::MsgInstantiateContract2::decode(v)
                .map_err(bad)?
                .sender
        }
        "/cosmwasm.wasm.v1.MsgExecuteContract" => {
            wasmpb::MsgExecuteContract::decode(v).map_err(bad)?.sender
        }
        "/cosmwasm.wasm.v1.MsgMigrateContract" => {
            wasmpb::MsgMigrateContract::decode(v).map_err(bad)?.sender
        }
        "/cosmwasm.wasm.v1.MsgUpdateAdmin" => {
            wasmpb::MsgUpdateAdmin::decode(v).map_err(bad)?.sender
        }
        "/cosmwasm.wasm.v1.MsgClearAdmin" => wasmpb::MsgClearAdmin::decode(v).map_err(bad)?.sender,
        "/cosmos.bank.v1beta1.MsgSend" => MsgSend::decode(v).map_err(bad)?.from_address,
        other => {
            return Err(AbciError::unknown_request(format!(
                "unrecognized message type: {other}; the devnet routes wasm and bank messages"
            )))
        }
    })
}

fn decode_pubkey(any: &cosmrs::proto::Any) -> Result<Vec<u8>, AbciError> {
    if any.type_url != "/cosmos.crypto.secp256k1.PubKey" {
        return Err(AbciError::invalid_pubkey(format!(
            "unsupported key type {}; the devnet verifies secp256k1 keys",
            any.type_url
        )));
    }
    let pk = cosmrs::proto::cosmos::crypto::secp256k1::PubKey::decode(any.value.as_slice())
        .map_err(|e| AbciError::invalid_pubkey(e.to_string()))?;
    if pk.key.len() != 33 {
        return Err(AbciError::invalid_pubkey(format!(
            "secp256k1 keys are 33 bytes, got {}",
            pk.key.len()
        )));
    }
    Ok(pk.key)
}

pub fn pubkey_address(pk: &[u8], prefix: &str) -> Result<String, AbciError> {
    let key = cosmrs::crypto::secp256k1::VerifyingKey::from_sec1_bytes(pk)
        .map_err(|e| AbciError::invalid_pubkey(e.to_string()))?;
    let public = cosmrs::crypto::PublicKey::from(key);
    public
        .account_id(prefix)
        .map(|id| id.to_string())
        .map_err(|e| AbciError::invalid_pubkey(e.to_string()))
}

fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = k256::ecdsa::VerifyingKey::from_sec1_bytes(pk) else {
        return false;
    };
    let Ok(sig) = k256::ecdsa::Signature::from_slice(sig) else {
        return false;
    };
    // The SDK rejects high-S signatures (malleability).
    if sig.normalize_s().is_some() {
        return false;
    }
    key.verify(msg, &sig).is_ok()
}

fn validate_coins(coins: &[Coin]) -> Result<(), AbciError> {
    for (i, c) in coins.iter().enumerate() {
        if c.amount.is_zero() {
            return Err(AbciError::invalid_coins(format!(
                "coin {}{} is not positive",
                c.amount, c.denom
            )));
        }
        if !valid_denom(&c.denom) {
            return Err(AbciError::invalid_coins(format!(
                "invalid denom: {}",
                c.denom
            )));
        }
        if i > 0 && coins[i - 1].denom >= c.denom {
            return Err(AbciError::invalid_coins(format!(
                "{}: coins are not sorted by denom or have duplicates",
                coins_string(coins)
            )));
        }
    }
    Ok(())
}

/// The SDK's default denom rule: `[a-zA-Z][a-zA-Z0-9/:._-]{2,127}`.
fn valid_denom(d: &str) -> bool {
    let b = d.as_bytes();
    (3..=128).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"/:._-".contains(c))
}

/// A 20-byte module account address (`authtypes.NewModuleAddress`).
fn module_address_20(name: &str) -> Vec<u8> {
    Sha256::digest(name.as_bytes())[..20].to_vec()
}

pub fn rfc3339(t: Timestamp) -> String {
    let secs = t.seconds() as i64;
    let nanos = t.subsec_nanos();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

// ---------------------------------------------------------------- the state log

/// One record per block: its write set. A torn last record (a crash mid-write) is ignored.
fn write_block(
    log: &mut BufWriter<File>,
    changes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> std::io::Result<()> {
    let mut buf = vec![];
    for (k, v) in changes {
        buf.extend_from_slice(&(k.len() as u32).to_le_bytes());
        buf.extend_from_slice(k);
        match v {
            Some(v) => {
                buf.push(1);
                buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
                buf.extend_from_slice(v);
            }
            None => buf.push(0),
        }
    }
    let checksum = Sha256::digest(&buf);
    log.write_all(&(buf.len() as u64).to_le_bytes())?;
    log.write_all(&buf)?;
    log.write_all(&checksum[..8])?;
    log.flush()?;
    log.get_ref().sync_data()
}

fn read_log(path: &Path) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
    let mut state = BTreeMap::new();
    let Ok(file) = File::open(path) else {
        return Ok(state);
    };
    let mut r = BufReader::new(file);
    loop {
        let mut len = [0u8; 8];
        if r.read_exact(&mut len).is_err() {
            break;
        }
        let mut buf = vec![0u8; u64::from_le_bytes(len) as usize];
        let mut sum = [0u8; 8];
        if r.read_exact(&mut buf).is_err() || r.read_exact(&mut sum).is_err() {
            break;
        }
        if Sha256::digest(&buf)[..8] != sum {
            break;
        }
        let mut i = 0;
        let take = |i: &mut usize, n: usize| -> Option<&[u8]> {
            let s = buf.get(*i..*i + n)?;
            *i += n;
            Some(s)
        };
        while i < buf.len() {
            let parsed = (|| {
                let kl = u32::from_le_bytes(take(&mut i, 4)?.try_into().ok()?) as usize;
                let k = take(&mut i, kl)?.to_vec();
                let tag = take(&mut i, 1)?[0];
                let v = if tag == 1 {
                    let vl = u32::from_le_bytes(take(&mut i, 4)?.try_into().ok()?) as usize;
                    Some(take(&mut i, vl)?.to_vec())
                } else {
                    None
                };
                Some((k, v))
            })();
            let Some((k, v)) = parsed else {
                return Err(format!("{} is corrupt", path.display()));
            };
            match v {
                Some(v) => state.insert(k, v),
                None => state.remove(&k),
            };
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(
            rfc3339(Timestamp::from_seconds(1_700_000_000)),
            "2023-11-14T22:13:20.000000000Z"
        );
    }

    /// A chain with one funded secp256k1 account; the tempdir keeps its home alive.
    fn funded_chain() -> (
        App,
        cosmrs::crypto::secp256k1::SigningKey,
        tempfile::TempDir,
    ) {
        let home = tempfile::tempdir().unwrap();
        let key = cosmrs::crypto::secp256k1::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let address = key.public_key().account_id("kumo").unwrap().to_string();
        let app = App::open(Config {
            chain_id: "kumo-devnet-1".into(),
            prefix: "kumo".into(),
            denom: "ukumo".into(),
            min_gas_price: 0.0,
            home: home.path().to_path_buf(),
            genesis: vec![(address, vec![Coin::new(1_000_000u128, "ukumo")])],
        })
        .unwrap();
        (app, key, home)
    }

    /// A signed `MsgSend` of 1ukumo to another account, with `timeout_height` (0: none).
    fn send_tx(
        app: &App,
        key: &cosmrs::crypto::secp256k1::SigningKey,
        sequence: u64,
        timeout_height: u32,
    ) -> Vec<u8> {
        let from = key.public_key().account_id("kumo").unwrap();
        let account = app.account(from.as_ref()).unwrap().unwrap();
        let to = cosmrs::crypto::secp256k1::SigningKey::from_slice(&[8u8; 32])
            .unwrap()
            .public_key()
            .account_id("kumo")
            .unwrap();
        let msg = cosmrs::bank::MsgSend {
            from_address: from,
            to_address: to,
            amount: vec![cosmrs::Coin::new(1, "ukumo").unwrap()],
        };
        use cosmrs::tx::Msg;
        let body = cosmrs::tx::Body::new(vec![msg.to_any().unwrap()], "", timeout_height);
        let auth_info = cosmrs::tx::SignerInfo::single_direct(Some(key.public_key()), sequence)
            .auth_info(cosmrs::tx::Fee::from_amount_and_gas(
                cosmrs::Coin::new(1000, "ukumo").unwrap(),
                200_000u64,
            ));
        cosmrs::tx::SignDoc::new(
            &body,
            &auth_info,
            &"kumo-devnet-1".parse().unwrap(),
            account.account_number,
        )
        .unwrap()
        .sign(key)
        .unwrap()
        .to_bytes()
        .unwrap()
    }

    fn sequence(app: &App, key: &cosmrs::crypto::secp256k1::SigningKey) -> u64 {
        let address = key.public_key().account_id("kumo").unwrap();
        app.account(address.as_ref()).unwrap().unwrap().sequence
    }

    #[test]
    fn timeout_height_is_enforced_in_check_tx_simulation_and_deliver_tx() {
        let (mut app, key, _home) = funded_chain();
        app.produce_block().unwrap();
        app.produce_block().unwrap();
        let height = app.height();
        assert_eq!(height, 2);

        // Already past it: CheckTx and simulation refuse it (code 30, sdk), nothing is kept.
        let late = send_tx(&app, &key, 0, 1);
        let checked = app.broadcast(&late);
        assert_eq!((checked.codespace.as_str(), checked.code), ("sdk", 30));
        assert_eq!(
            checked.raw_log,
            "block height: 2, timeout height: 1: tx timeout height"
        );
        let simulated = app.simulate(&late);
        assert_eq!((simulated.codespace.as_str(), simulated.code), ("sdk", 30));
        assert_eq!(app.mempool_len(), 0);

        // At the committed height: CheckTx takes it (the SDK's check state is at the last
        // block), but the next block is past it: DeliverTx refuses it, and it neither pays its
        // fee nor uses its sequence.
        let balance = app.balance(app.fee_collector(), "ukumo").unwrap();
        let edge = send_tx(&app, &key, 0, 2);
        let checked = app.broadcast(&edge);
        assert_eq!(checked.code, 0, "{}", checked.raw_log);
        app.produce_block().unwrap();
        let delivered = app.tx(&checked.txhash).expect("in the block, failed");
        assert_eq!((delivered.codespace.as_str(), delivered.code), ("sdk", 30));
        assert_eq!(delivered.height, 3);
        assert_eq!(
            delivered.raw_log,
            "block height: 3, timeout height: 2: tx timeout height"
        );
        assert_eq!(sequence(&app, &key), 0);
        assert_eq!(app.balance(app.fee_collector(), "ukumo").unwrap(), balance);

        // Ahead of the chain, or none at all: included.
        let ahead = send_tx(&app, &key, 0, 10);
        let checked = app.broadcast(&ahead);
        assert_eq!(checked.code, 0, "{}", checked.raw_log);
        app.produce_block().unwrap();
        assert_eq!(app.tx(&checked.txhash).unwrap().code, 0);
        let none = send_tx(&app, &key, 1, 0);
        let checked = app.broadcast(&none);
        assert_eq!(checked.code, 0, "{}", checked.raw_log);
        app.produce_block().unwrap();
        assert_eq!(app.tx(&checked.txhash).unwrap().code, 0);
        assert_eq!(sequence(&app, &key), 2);
    }

    #[test]
    fn denoms_follow_the_sdk_rule() {
        assert!(valid_denom("ukumo"));
        assert!(valid_denom(
            "ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2"
        ));
        assert!(!valid_denom("u"));
        assert!(!valid_denom("1abc"));
    }
}
