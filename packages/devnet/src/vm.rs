//! The VM backends wasmd gives a contract: the address API, its prefixed storage, and the
//! querier (bank and wasm queries, including smart queries into other contracts).

use std::ops::Bound;
use std::sync::Arc;

use cosmwasm_std::{
    Binary, ContractResult, Order, QueryRequest, Record, SystemError, SystemResult,
};
use cosmwasm_vm::{BackendApi, BackendError, BackendResult, GasInfo, Querier, Storage};

use crate::gas::{self, GAS_MULTIPLIER};
use crate::keeper::Engine;
use crate::state::{self, prefix, Shared};
use crate::store::prefix_end;

pub type WasmCache = cosmwasm_vm::Cache<DevApi, ContractStorage, DevQuerier>;

/// Bech32 addresses with the chain's prefix, validated as the SDK's `AccAddressFromBech32`.
#[derive(Clone)]
pub struct DevApi {
    pub prefix: Arc<str>,
}

impl DevApi {
    pub fn canonicalize(&self, human: &str) -> Result<Vec<u8>, String> {
        if human.trim().is_empty() {
            return Err("empty address string is not allowed".into());
        }
        let (hrp, data) =
            bech32::decode(human).map_err(|e| format!("decoding bech32 failed: {e}"))?;
        // Decoding lower-cases an all-upper-case string; normalization is checked later.
        if hrp.to_lowercase() != *self.prefix {
            return Err(format!(
                "invalid Bech32 prefix; expected {}, got {}",
                self.prefix,
                hrp.to_lowercase()
            ));
        }
        verify_format(&data)?;
        Ok(data)
    }

    pub fn humanize(&self, canonical: &[u8]) -> Result<String, String> {
        verify_format(canonical)?;
        let hrp = bech32::Hrp::parse(&self.prefix).map_err(|e| e.to_string())?;
        bech32::encode::<bech32::Bech32>(hrp, canonical).map_err(|e| e.to_string())
    }

    /// Canonical and normalized (lower case), as wasmd's `addr_validate`.
    pub fn validate(&self, human: &str) -> Result<Vec<u8>, String> {
        let canonical = self.canonicalize(human)?;
        if self.humanize(&canonical)? != human {
            return Err("address not normalized".into());
        }
        Ok(canonical)
    }
}

fn verify_format(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("addresses cannot be empty: unknown address".into());
    }
    if bytes.len() > 255 {
        return Err(format!(
            "address max length is 255, got {}: unknown address",
            bytes.len()
        ));
    }
    Ok(())
}

impl BackendApi for DevApi {
    fn addr_validate(&self, input: &str) -> BackendResult<()> {
        let gas =
            GasInfo::with_cost((gas::HUMANIZE_COST + gas::CANONICALIZE_COST) * GAS_MULTIPLIER);
        (
            self.validate(input)
                .map(|_| ())
                .map_err(BackendError::user_err),
            gas,
        )
    }

    fn addr_canonicalize(&self, human: &str) -> BackendResult<Vec<u8>> {
        let gas = GasInfo::with_cost(gas::CANONICALIZE_COST * GAS_MULTIPLIER);
        (
            self.canonicalize(human).map_err(BackendError::user_err),
            gas,
        )
    }

    fn addr_humanize(&self, canonical: &[u8]) -> BackendResult<String> {
        let gas = GasInfo::with_cost(gas::HUMANIZE_COST * GAS_MULTIPLIER);
        (
            self.humanize(canonical).map_err(BackendError::user_err),
            gas,
        )
    }
}

struct Iter {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    order: Order,
}

/// A contract's storage: the chain store under `0x03 ‖ contract address`, metered as the SDK's
/// gas KV store meters it (full keys, prefix included).
pub struct ContractStorage {
    ctx: Shared,
    prefix: Vec<u8>,
    iterators: Vec<Iter>,
}

impl ContractStorage {
    pub fn new(ctx: Shared, contract: &[u8]) -> Self {
        ContractStorage {
            ctx,
            prefix: state::key(prefix::CONTRACT_STORE, &[contract]),
            iterators: vec![],
        }
    }

    fn full(&self, key: &[u8]) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.extend_from_slice(key);
        k
    }

    /// Runs a metered operation and reports its SDK gas to the VM as externally used.
    fn metered<T>(
        &self,
        op: impl FnOnce(&mut state::Ctx) -> Result<T, crate::gas::OutOfGas>,
    ) -> BackendResult<T> {
        let mut ctx = state::lock(&self.ctx);
        let before = ctx.meter.consumed;
        let result = op(&mut ctx);
        let used = ctx.meter.consumed.saturating_sub(before);
        let gas = GasInfo::with_externally_used(used.saturating_mul(GAS_MULTIPLIER));
        (result.map_err(|_| BackendError::out_of_gas()), gas)
    }
}

impl Storage for ContractStorage {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        let full = self.full(key);
        self.metered(|ctx| ctx.get(&full))
    }

    fn scan(
        &mut self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> BackendResult<u32> {
        let lower = Bound::Included(self.full(start.unwrap_or_default()));
        let upper = match end {
            Some(end) => Bound::Excluded(self.full(end)),
            None => match prefix_end(&self.prefix) {
                Some(e) => Bound::Excluded(e),
                None => Bound::Unbounded,
            },
        };
        self.iterators.push(Iter {
            lower,
            upper,
            order,
        });
        let id = self.iterators.len() as u32;
        self.metered(|ctx| ctx.meter.consume(gas::KV_ITER_NEXT_FLAT).map(|_| id))
    }

    fn next(&mut self, iterator_id: u32) -> BackendResult<Option<Record>> {
        let Some(it) = self.iterators.get((iterator_id as usize).wrapping_sub(1)) else {
            return (
                Err(BackendError::iterator_does_not_exist(iterator_id)),
                GasInfo::free(),
            );
        };
        let (lower, upper, order) = (it.lower.clone(), it.upper.clone(), it.order);
        let (found, gas) = self.metered(|ctx| {
            let found = ctx.store.first_in(as_ref(&lower), as_ref(&upper), order);
            let bytes = found.as_ref().map_or(0, |(k, v)| k.len() + v.len()) as u64;
            ctx.meter
                .consume(gas::KV_ITER_NEXT_FLAT + gas::KV_READ_PER_BYTE * bytes)?;
            Ok(found)
        });
        let found = match found {
            Ok(f) => f,
            Err(e) => return (Err(e), gas),
        };
        let it = &mut self.iterators[iterator_id as usize - 1];
        let record = found.map(|(k, v)| {
            match it.order {
                Order::Ascending => it.lower = Bound::Excluded(k.clone()),
                Order::Descending => it.upper = Bound::Excluded(k.clone()),
            }
            (k[self.prefix.len()..].to_vec(), v)
        });
        (Ok(record), gas)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        let full = self.full(key);
        self.metered(|ctx| ctx.set(&full, value))
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        let full = self.full(key);
        self.metered(|ctx| ctx.delete(&full))
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Bank and wasm queries, answered from the current (uncommitted) state as wasmd does.
pub struct DevQuerier {
    pub engine: Engine,
}

impl Querier for DevQuerier {
    fn query_raw(
        &self,
        request: &[u8],
        gas_limit: u64,
    ) -> BackendResult<SystemResult<ContractResult<Binary>>> {
        let request: QueryRequest = match serde_json::from_slice(request) {
            Ok(r) => r,
            Err(e) => {
                return (
                    Ok(SystemResult::Err(SystemError::InvalidRequest {
                        error: format!("Parsing query request: {e}"),
                        request: Binary::from(request),
                    })),
                    GasInfo::free(),
                )
            }
        };
        let before = state::lock(&self.engine.ctx).meter.consumed;
        let result = self.engine.query(&request, gas_limit / GAS_MULTIPLIER);
        let used = state::lock(&self.engine.ctx)
            .meter
            .consumed
            .saturating_sub(before);
        let gas = GasInfo::with_externally_used(used.saturating_mul(GAS_MULTIPLIER));
        match result {
            Ok(r) => (Ok(r), gas),
            Err(e) if e.is_out_of_gas() => (Err(BackendError::out_of_gas()), gas),
            // wasmd hands contracts only the redacted error.
            Err(e) => (Ok(SystemResult::Ok(ContractResult::Err(e.redacted()))), gas),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_sdk_rules() {
        let api = DevApi {
            prefix: "kumo".into(),
        };
        let canonical = vec![7u8; 20];
        let human = api.humanize(&canonical).unwrap();
        assert!(human.starts_with("kumo1"));
        assert_eq!(api.validate(&human).unwrap(), canonical);
        assert_eq!(
            api.validate(&human.to_uppercase()).unwrap_err(),
            "address not normalized"
        );
        assert!(api.validate("").unwrap_err().contains("empty address"));
        let other =
            bech32::encode::<bech32::Bech32>(bech32::Hrp::parse("cosmos").unwrap(), &canonical)
                .unwrap();
        assert!(api
            .validate(&other)
            .unwrap_err()
            .contains("expected kumo, got cosmos"));
        assert!(api.humanize(&[]).is_err());
    }
}
