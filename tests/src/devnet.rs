//! A synchronous driver for the devnet: signs transactions with `kumo-chain`, admits them with
//! CheckTx and includes them in blocks, without the REST layer (for the gas report and the
//! differential tests; `tests/devnet.rs` goes through REST).

use std::collections::HashMap;
use std::path::PathBuf;

use cosmwasm_std::Coin;
use kumo::{escrow, market, registry};
use kumo_chain::tx::{self, Fee, SignerData};
use kumo_chain::{Any, Key};
use kumo_devnet::{App, Config, TxResult};
use serde::Serialize;

pub const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
pub const PREFIX: &str = "kumo";
/// Transactions per block when filling state.
pub const BATCH: usize = 500;

pub fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts")
}

pub fn key(index: u32) -> Key {
    Key::from_mnemonic_index(MNEMONIC, index).expect("the test mnemonic is valid")
}

pub fn address(key: &Key) -> String {
    key.address(PREFIX).expect("a valid prefix")
}

pub struct Driver {
    pub app: App,
    chain_id: String,
    /// The chain's bech32 prefix (its accounts' addresses).
    pub prefix: String,
    sequences: HashMap<String, (u64, u64)>,
    queued: Vec<String>,
    _home: tempfile::TempDir,
}

impl Driver {
    /// A fresh chain without fees whose genesis funds `accounts`.
    pub fn new(chain_id: &str, denom: &str, accounts: Vec<(String, Vec<Coin>)>) -> Driver {
        Driver::with_prefix(chain_id, denom, PREFIX, accounts)
    }

    /// A fresh chain without fees, with its own address prefix.
    pub fn with_prefix(
        chain_id: &str,
        denom: &str,
        prefix: &str,
        accounts: Vec<(String, Vec<Coin>)>,
    ) -> Driver {
        let home = tempfile::tempdir().expect("a temporary directory");
        let app = App::open(Config {
            chain_id: chain_id.into(),
            prefix: prefix.into(),
            denom: denom.into(),
            min_gas_price: 0.0,
            home: home.path().to_path_buf(),
            genesis: accounts,
        })
        .expect("the devnet opens");
        Driver {
            app,
            chain_id: chain_id.into(),
            prefix: prefix.into(),
            sequences: HashMap::new(),
            queued: vec![],
            _home: home,
        }
    }

    /// `key`'s address on this chain.
    pub fn addr(&self, key: &Key) -> String {
        key.address(&self.prefix).expect("a valid prefix")
    }

    fn sign(&mut self, key: &Key, msgs: Vec<Any>) -> Vec<u8> {
        let addr = self.addr(key);
        let (number, sequence) = *self.sequences.entry(addr.clone()).or_insert_with(|| {
            let a = self
                .app
                .account(&addr)
                .expect("a valid address")
                .expect("a funded account");
            (a.account_number, a.sequence)
        });
        self.sequences.insert(addr, (number, sequence + 1));
        tx::build_signed_tx(
            key,
            msgs,
            "",
            &SignerData {
                chain_id: self.chain_id.clone(),
                account_number: number,
                sequence,
            },
            &Fee {
                amount: vec![],
                gas_limit: 50_000_000,
            },
        )
    }

    pub fn msg(key: &Key, contract: &str, msg: &impl Serialize, funds: &[Coin]) -> Any {
        tx::msg_execute(&address(key), contract, msg, funds).expect("a serializable message")
    }

    /// Admits a transaction to the mempool (CheckTx must pass).
    pub fn queue(&mut self, key: &Key, msgs: Vec<Any>) {
        let bytes = self.sign(key, msgs);
        let r = self.app.broadcast(&bytes);
        assert_eq!(r.code, 0, "CheckTx: {}", r.raw_log);
        self.queued.push(r.txhash);
        if self.queued.len() >= BATCH {
            self.flush();
        }
    }

    /// Produces a block with what is queued; every transaction must succeed.
    pub fn flush(&mut self) -> Vec<TxResult> {
        let results = self.block();
        for r in &results {
            assert_eq!(r.code, 0, "{}", r.raw_log);
        }
        results
    }

    /// Produces a block with what is queued and returns the results, failed or not.
    pub fn block(&mut self) -> Vec<TxResult> {
        if self.queued.is_empty() {
            return vec![];
        }
        self.app.produce_block().expect("block production");
        let hashes: Vec<String> = self.queued.drain(..).collect();
        hashes
            .iter()
            .map(|h| self.app.tx(h).expect("an included transaction"))
            .collect()
    }

    /// One transaction in its own block; it must succeed.
    pub fn run(&mut self, key: &Key, msgs: Vec<Any>) -> TxResult {
        self.flush();
        self.queue(key, msgs);
        self.flush().pop().expect("one result")
    }

    /// One transaction in its own block, failed or not.
    pub fn try_run(&mut self, key: &Key, msgs: Vec<Any>) -> TxResult {
        self.flush();
        self.queue(key, msgs);
        self.block().pop().expect("one result")
    }

    pub fn exec(
        &mut self,
        key: &Key,
        contract: &str,
        msg: &impl Serialize,
        funds: &[Coin],
    ) -> TxResult {
        let m = tx::msg_execute(&self.addr(key), contract, msg, funds).expect("a message");
        self.run(key, vec![m])
    }

    pub fn instantiate(
        &mut self,
        key: &Key,
        code_id: u64,
        msg: &impl Serialize,
        label: &str,
    ) -> String {
        let me = self.addr(key);
        let m = tx::msg_instantiate(&me, Some(&me), code_id, label, msg, &[]).expect("a message");
        let r = self.run(key, vec![m]);
        attr(&r, "instantiate", "_contract_address")
    }

    pub fn store(&mut self, key: &Key, name: &str) -> u64 {
        let wasm = kumo_chain::deploy::read_artifact(&artifacts(), name).expect("the artifact");
        let r = self.run(key, vec![tx::msg_store_code(&self.addr(key), wasm)]);
        attr(&r, "store_code", "code_id")
            .parse()
            .expect("a code id")
    }

    pub fn advance(&mut self, secs: u64) {
        self.app.clock_offset_secs += secs;
    }
}

/// A devnet's registry, escrow and market, wired to each other.
pub struct Core {
    /// Their code ids: registry, escrow, market.
    pub code_ids: Vec<u64>,
    pub registry: String,
    pub escrow: String,
    pub market: String,
}

/// Stores and instantiates the registry, escrow (taking `denoms`) and market (asking
/// `bid_min_deposits` of bids) from the artifacts, owned by `admin`, and points the registry
/// and the escrow at the market: what most devnet scenarios start from.
pub fn deploy_core(
    d: &mut Driver,
    admin: &Key,
    denoms: Vec<escrow::DenomConfig>,
    bid_min_deposits: Vec<kumo::Asset>,
) -> Core {
    let me = d.addr(admin);
    let code_ids: Vec<u64> = ["registry", "escrow", "market"]
        .iter()
        .map(|name| d.store(admin, name))
        .collect();
    let registry = d.instantiate(
        admin,
        code_ids[0],
        &registry::InstantiateMsg {
            owner: me.clone(),
            market: None,
            limits: None,
        },
        "registry",
    );
    let escrow = d.instantiate(
        admin,
        code_ids[1],
        &escrow::InstantiateMsg {
            owner: me.clone(),
            market: None,
            treasury: me.clone(),
            guardian: None,
            params: None,
            denoms,
        },
        "escrow",
    );
    let market = d.instantiate(
        admin,
        code_ids[2],
        &market::InstantiateMsg {
            owner: me,
            registry: registry.clone(),
            escrow: escrow.clone(),
            staking: None,
            guardian: None,
            params: Some(market::MarketParams {
                bid_min_deposits,
                ..market::MarketParams::default()
            }),
        },
        "market",
    );
    d.exec(
        admin,
        &registry,
        &registry::ExecuteMsg::UpdateConfig {
            owner: None,
            market: Some(market.clone()),
            limits: None,
        },
        &[],
    );
    d.exec(
        admin,
        &escrow,
        &escrow::ExecuteMsg::UpdateConfig {
            owner: None,
            market: Some(market.clone()),
            treasury: None,
            guardian: None,
            params: None,
        },
        &[],
    );
    Core {
        code_ids,
        registry,
        escrow,
        market,
    }
}

/// The first `key` attribute of an event of type `ty`.
pub fn attr(r: &TxResult, ty: &str, key: &str) -> String {
    r.events
        .iter()
        .filter(|e| e.ty == ty)
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key == key)
        .map(|a| a.value.clone())
        .unwrap_or_else(|| panic!("no {ty}.{key} in {:?}", r.events))
}
