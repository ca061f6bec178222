//! The execution context shared by the keeper and the VM backends, and the chain's stored
//! records. Keys are laid out as wasmd and the SDK lay them out where a contract or the gas
//! meter can tell (contract storage under `0x03 ‖ address`), and simply elsewhere.

use std::sync::{Arc, Mutex, MutexGuard};

use cosmwasm_std::{BlockInfo, Timestamp};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::AbciError;
use crate::gas::{self, GasMeter, OutOfGas};
use crate::store::KvStore;

pub mod prefix {
    pub const CODE: u8 = 0x01;
    pub const CONTRACT: u8 = 0x02;
    pub const CONTRACT_STORE: u8 = 0x03;
    pub const SEQUENCE: u8 = 0x04;
    pub const CONTRACT_BY_CODE: u8 = 0x05;
    pub const PINNED: u8 = 0x07;
    pub const ACCOUNT: u8 = 0x10;
    pub const BALANCE: u8 = 0x20;
    pub const SUPPLY: u8 = 0x21;
    pub const PARAMS: u8 = 0x22;
    /// Not consensus state: the tx index and the chain's own metadata.
    pub const TX: u8 = 0x30;
    pub const META: u8 = 0x31;
    /// IBC: channel ends, sequences, packet commitments, receipts, acknowledgements, denom
    /// traces (`crate::ibc`).
    pub const IBC: u8 = 0x40;
}

pub fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![prefix];
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    pub code_id: u64,
    pub creator: String,
    pub checksum: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ContractInfo {
    pub code_id: u64,
    pub creator: String,
    pub admin: Option<String>,
    pub label: String,
    pub created_height: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub address: String,
    pub account_number: u64,
    pub sequence: u64,
    /// Compressed secp256k1 key, set by the account's first transaction.
    pub pub_key: Option<Vec<u8>>,
}

impl Account {
    /// x/auth's stored form: a `BaseAccount` in an `Any`, protobuf-encoded. Its length is what
    /// the SDK's KV gas charges on every transaction's account reads and sequence write.
    pub fn encode(&self) -> Vec<u8> {
        use cosmrs::proto::cosmos::auth::v1beta1::BaseAccount;
        use cosmrs::proto::cosmos::crypto::secp256k1::PubKey;
        use cosmrs::proto::prost::Message;
        let pub_key = self.pub_key.as_ref().map(|k| cosmrs::Any {
            type_url: "/cosmos.crypto.secp256k1.PubKey".into(),
            value: PubKey { key: k.clone() }.encode_to_vec(),
        });
        let account = BaseAccount {
            address: self.address.clone(),
            pub_key,
            account_number: self.account_number,
            sequence: self.sequence,
        };
        cosmrs::Any {
            type_url: "/cosmos.auth.v1beta1.BaseAccount".into(),
            value: account.encode_to_vec(),
        }
        .encode_to_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<Account, AbciError> {
        use cosmrs::proto::cosmos::auth::v1beta1::BaseAccount;
        use cosmrs::proto::cosmos::crypto::secp256k1::PubKey;
        use cosmrs::proto::prost::Message;
        let corrupt = |e: cosmrs::proto::prost::DecodeError| {
            AbciError::internal(format!("corrupt account record: {e}"))
        };
        let any = cosmrs::Any::decode(bytes).map_err(corrupt)?;
        let account = BaseAccount::decode(any.value.as_slice()).map_err(corrupt)?;
        let pub_key = match account.pub_key {
            Some(k) => Some(PubKey::decode(k.value.as_slice()).map_err(corrupt)?.key),
            None => None,
        };
        Ok(Account {
            address: account.address,
            account_number: account.account_number,
            sequence: account.sequence,
            pub_key,
        })
    }
}

pub struct Ctx {
    pub store: KvStore,
    pub meter: GasMeter,
    pub block: BlockInfo,
    pub tx_index: Option<u32>,
}

pub type Shared = Arc<Mutex<Ctx>>;

pub fn lock(shared: &Shared) -> MutexGuard<'_, Ctx> {
    // A panic while holding the lock cannot leave the store half-written in a way a later
    // transaction would observe: layers are rolled back by the caller.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ctx {
    pub fn new(store: KvStore, chain_id: &str) -> Self {
        Ctx {
            store,
            meter: GasMeter::infinite(),
            block: BlockInfo {
                height: 0,
                time: Timestamp::from_nanos(0),
                chain_id: chain_id.to_string(),
            },
            tx_index: None,
        }
    }

    /// A metered read, as the SDK's gas KV store charges it.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, OutOfGas> {
        let before = self.meter.consumed;
        let r = self.get_inner(key);
        trace(
            "get",
            key,
            r.as_ref().ok().and_then(|v| v.as_ref()).map_or(0, Vec::len),
            self.meter.consumed - before,
        );
        r
    }

    fn get_inner(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, OutOfGas> {
        self.meter.consume(gas::KV_READ_FLAT)?;
        let v = self.store.get(key);
        self.meter
            .consume(gas::KV_READ_PER_BYTE * key.len() as u64)?;
        if let Some(v) = &v {
            self.meter.consume(gas::KV_READ_PER_BYTE * v.len() as u64)?;
        }
        Ok(v)
    }

    pub fn has(&mut self, key: &[u8]) -> Result<bool, OutOfGas> {
        trace("has", key, 0, gas::KV_HAS);
        self.meter.consume(gas::KV_HAS)?;
        Ok(self.store.get(key).is_some())
    }

    pub fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), OutOfGas> {
        trace(
            "set",
            key,
            value.len(),
            gas::KV_WRITE_FLAT + gas::KV_WRITE_PER_BYTE * (key.len() + value.len()) as u64,
        );
        self.meter.consume(gas::KV_WRITE_FLAT)?;
        self.meter
            .consume(gas::KV_WRITE_PER_BYTE * (key.len() + value.len()) as u64)?;
        self.store.set(key, value);
        Ok(())
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<(), OutOfGas> {
        trace("delete", key, 0, gas::KV_DELETE);
        self.meter.consume(gas::KV_DELETE)?;
        self.store.remove(key);
        Ok(())
    }

    pub fn load<T: DeserializeOwned>(&mut self, key: &[u8]) -> Result<Option<T>, AbciError> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| AbciError::internal(format!("corrupt record: {e}"))),
        }
    }

    pub fn load_account(&mut self, key: &[u8]) -> Result<Option<Account>, AbciError> {
        self.get(key)?.map(|v| Account::decode(&v)).transpose()
    }

    pub fn save_account(&mut self, key: &[u8], account: &Account) -> Result<(), AbciError> {
        Ok(self.set(key, &account.encode())?)
    }

    pub fn save<T: Serialize>(&mut self, key: &[u8], value: &T) -> Result<(), AbciError> {
        let bytes = serde_json::to_vec(value).map_err(|e| AbciError::internal(e.to_string()))?;
        self.set(key, &bytes)?;
        Ok(())
    }

    /// Unmetered access for the chain's own bookkeeping (the tx index, block metadata).
    pub fn load_free<T: DeserializeOwned>(&self, key: &[u8]) -> Option<T> {
        self.store
            .get(key)
            .and_then(|v| serde_json::from_slice(&v).ok())
    }

    pub fn save_free<T: Serialize>(&mut self, key: &[u8], value: &T) {
        if let Ok(bytes) = serde_json::to_vec(value) {
            self.store.set(key, &bytes);
        }
    }

    pub fn next_sequence(&mut self, name: &[u8]) -> Result<u64, AbciError> {
        let k = key(prefix::SEQUENCE, &[name]);
        let next: u64 = self.load(&k)?.unwrap_or(1);
        self.save(&k, &(next + 1))?;
        Ok(next)
    }
}

/// With `KUMO_DEVNET_TRACE_GAS` set, every metered store access is printed to stderr (for
/// finding where a transaction's gas goes).
pub fn trace(op: &str, key: &[u8], value_len: usize, gas: u64) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("KUMO_DEVNET_TRACE_GAS").is_some()) {
        let printable: String = key
            .iter()
            .map(|b| {
                if b.is_ascii_graphic() {
                    *b as char
                } else {
                    '.'
                }
            })
            .collect();
        eprintln!(
            "gas {gas:>6} {op:<6} key {:>3} B value {value_len:>5} B  {printable}",
            key.len()
        );
    }
}
