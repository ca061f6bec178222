//! wasmd's default gas register and the Cosmos SDK's KV store gas, so that the devnet charges
//! what a wasmd chain with default parameters charges.

/// CosmWasm gas points per SDK gas point (wasmd `DefaultGasMultiplier`, CosmWasm 2.x).
pub const GAS_MULTIPLIER: u64 = 140_000;
/// SDK gas to load a contract instance (`DefaultInstanceCost`).
pub const INSTANCE_COST: u64 = 60_000;
/// SDK gas to load a pinned contract or to call `reply` (`DefaultInstanceCostDiscount`).
pub const INSTANCE_COST_DISCOUNT: u64 = 2_000;
/// SDK gas per byte to compile uploaded code (`DefaultCompileCost`).
pub const COMPILE_COST_PER_BYTE: u64 = 3;
/// SDK gas per byte of event attribute keys and values (`DefaultEventAttributeDataCost`).
pub const EVENT_ATTRIBUTE_DATA_COST: u64 = 1;
/// SDK gas per attribute (`DefaultPerAttributeCost`).
pub const PER_ATTRIBUTE_COST: u64 = 10;
/// SDK gas per custom event (`DefaultPerCustomEventCost`).
pub const PER_CUSTOM_EVENT_COST: u64 = 20;
/// Attribute bytes per response that are free (`DefaultEventAttributeDataFreeTier`).
pub const EVENT_ATTRIBUTE_DATA_FREE_TIER: u64 = 100;
/// SDK gas per byte of a contract result the VM deserializes (`DefaultDeserializationCostPerByte`).
pub const DESERIALIZATION_COST_PER_BYTE: u64 = 1;
/// SDK gas for the address API (`DefaultGasCostHumanAddress`, `DefaultGasCostCanonicalAddress`).
pub const HUMANIZE_COST: u64 = 5;
pub const CANONICALIZE_COST: u64 = 4;

/// Cosmos SDK `KVGasConfig` defaults.
pub const KV_HAS: u64 = 1_000;
pub const KV_DELETE: u64 = 1_000;
pub const KV_READ_FLAT: u64 = 1_000;
pub const KV_READ_PER_BYTE: u64 = 3;
pub const KV_WRITE_FLAT: u64 = 2_000;
pub const KV_WRITE_PER_BYTE: u64 = 30;
pub const KV_ITER_NEXT_FLAT: u64 = 30;

/// Cosmos SDK auth defaults: `TxSizeCostPerByte` and `SigVerifyCostSecp256k1`.
pub const TX_SIZE_COST_PER_BYTE: u64 = 10;
pub const SIG_VERIFY_SECP256K1: u64 = 1_000;

/// Setup cost of a contract call (`SetupContractCost`; message bytes are free by default).
pub fn setup_contract_cost(pinned: bool) -> u64 {
    if pinned {
        INSTANCE_COST_DISCOUNT
    } else {
        INSTANCE_COST
    }
}

/// `EventCosts`: attributes of the `wasm` event and of every custom event, with one free tier
/// for the whole response.
pub fn event_costs(attributes: &[(usize, usize)], events: &[(usize, Vec<(usize, usize)>)]) -> u64 {
    let (mut gas, mut free) = attribute_costs(attributes, EVENT_ATTRIBUTE_DATA_FREE_TIER);
    for (type_len, attrs) in events {
        gas += PER_CUSTOM_EVENT_COST + *type_len as u64 * EVENT_ATTRIBUTE_DATA_COST;
        let (g, f) = attribute_costs(attrs, free);
        gas += g;
        free = f;
    }
    gas
}

fn attribute_costs(attrs: &[(usize, usize)], free: u64) -> (u64, u64) {
    if attrs.is_empty() {
        return (0, free);
    }
    let bytes: u64 = attrs.iter().map(|(k, v)| (*k + *v) as u64).sum();
    let (charged, free) = if bytes <= free {
        (0, free - bytes)
    } else {
        (bytes - free, 0)
    };
    (
        charged * EVENT_ATTRIBUTE_DATA_COST + attrs.len() as u64 * PER_ATTRIBUTE_COST,
        free,
    )
}

/// The SDK's basic gas meter: consumption past the limit is an out-of-gas error.
#[derive(Clone, Copy, Debug)]
pub struct GasMeter {
    pub limit: u64,
    pub consumed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfGas;

impl GasMeter {
    pub fn new(limit: u64) -> Self {
        GasMeter { limit, consumed: 0 }
    }

    pub fn infinite() -> Self {
        GasMeter::new(u64::MAX)
    }

    pub fn consume(&mut self, amount: u64) -> Result<(), OutOfGas> {
        self.consumed = self.consumed.saturating_add(amount);
        if self.consumed > self.limit {
            Err(OutOfGas)
        } else {
            Ok(())
        }
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.consumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_tier_is_shared_across_the_response() {
        // 60 bytes in the wasm event and 60 in a custom one: 20 bytes over the free tier.
        let gas = event_costs(&[(10, 50)], &[(5, vec![(10, 50)])]);
        assert_eq!(gas, 10 + PER_CUSTOM_EVENT_COST + 5 + 20 + 10);
    }

    #[test]
    fn meter_reports_out_of_gas_past_the_limit() {
        let mut m = GasMeter::new(10);
        assert!(m.consume(10).is_ok());
        assert_eq!(m.consume(1), Err(OutOfGas));
    }
}
