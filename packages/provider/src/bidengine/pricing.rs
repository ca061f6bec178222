//! Pricing strategies (Akash `bidengine/pricing.go`) and the linear `scale` strategy.
//!
//! Prices are what the market takes in `CreateBid`: an amount per second in the order's
//! denomination, with 18 decimals. Strategies may be configured per block instead, as Akash's
//! are; [`PriceUnit`] converts with the market's block time, rounding down as the market does
//! when it turns an SDL's per-block price into the order's per-second maximum.

use std::collections::{BTreeMap, BTreeSet};

use cosmwasm_std::{Decimal256, Uint256};
use kumo::EndpointKind;
use serde::{Deserialize, Serialize};

use super::OrderView;
use crate::inventory::Reservation;

/// What a strategy prices: the order, and what the inventory reserved for it (which GPU model
/// each replica got, on which node).
pub struct PriceRequest<'a> {
    pub order: &'a OrderView,
    pub reservation: &'a Reservation,
}

/// Computes our price for an order.
pub trait PricingStrategy: Send + Sync {
    fn name(&self) -> &str;
    /// The price per second in the order's denomination.
    fn price(&self, request: &PriceRequest<'_>) -> Result<Decimal256, PricingError>;
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("invalid pricing configuration: {reason}")]
    InvalidConfig { reason: String },
    #[error("no prices are configured for denomination {denom:?}")]
    UnsupportedDenom { denom: String },
    #[error("no price is configured for storage class {class:?}")]
    NoStorageRate { class: String },
    #[error("no price is configured for GPU {model:?} and there is no default")]
    NoGpuRate { model: String },
    #[error("the computed price is zero")]
    ZeroPrice,
    #[error("the price overflows")]
    Overflow,
    #[error("the pricing script could not run: {reason}")]
    ScriptSpawn { reason: String },
    #[error("the pricing script did not finish within {timeout_ms} ms")]
    ScriptTimeout { timeout_ms: u64 },
    #[error("the pricing script failed ({status}): {stderr}")]
    ScriptFailed { status: String, stderr: String },
    #[error("the pricing script printed no valid price ({reason}): {output:?}")]
    ScriptOutput { output: String, reason: String },
}

impl PricingError {
    /// A short fixed label for decline counters.
    pub fn code(&self) -> &'static str {
        match self {
            PricingError::InvalidConfig { .. } => "invalid-config",
            PricingError::UnsupportedDenom { .. } => "unsupported-denom",
            PricingError::NoStorageRate { .. } => "no-storage-rate",
            PricingError::NoGpuRate { .. } => "no-gpu-rate",
            PricingError::ZeroPrice => "zero-price",
            PricingError::Overflow => "overflow",
            PricingError::ScriptSpawn { .. } => "script-spawn",
            PricingError::ScriptTimeout { .. } => "script-timeout",
            PricingError::ScriptFailed { .. } => "script-failed",
            PricingError::ScriptOutput { .. } => "script-bad-output",
        }
    }
}

/// The time unit a configured price or a script's price is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceUnit {
    /// The market's unit.
    #[default]
    PerSecond,
    /// Akash's unit, converted with the market's `block_time_ms`.
    PerBlock { block_time_ms: u64 },
}

impl PriceUnit {
    pub(crate) fn validate(self) -> Result<(), PricingError> {
        match self {
            PriceUnit::PerBlock { block_time_ms: 0 } => Err(PricingError::InvalidConfig {
                reason: "block_time_ms must be positive".into(),
            }),
            _ => Ok(()),
        }
    }

    /// An amount in this unit as a per-second amount, rounded down (as the market's
    /// `per_second`).
    pub fn to_per_second(self, amount: Decimal256) -> Result<Decimal256, PricingError> {
        match self {
            PriceUnit::PerSecond => Ok(amount),
            PriceUnit::PerBlock { block_time_ms } => scale_atomics(amount, 1000, block_time_ms),
        }
    }

    /// A per-second amount in this unit, rounded down.
    pub fn from_per_second(self, amount: Decimal256) -> Result<Decimal256, PricingError> {
        match self {
            PriceUnit::PerSecond => Ok(amount),
            PriceUnit::PerBlock { block_time_ms } => scale_atomics(amount, block_time_ms, 1000),
        }
    }
}

fn scale_atomics(amount: Decimal256, mul: u64, div: u64) -> Result<Decimal256, PricingError> {
    let atomics = amount
        .atomics()
        .checked_mul(Uint256::from(mul))
        .map_err(|_| PricingError::Overflow)?
        .checked_div(Uint256::from(div))
        .map_err(|_| PricingError::Overflow)?;
    Ok(Decimal256::new(atomics))
}

/// A quantity as a decimal.
pub(crate) fn quantity(n: u64) -> Result<Decimal256, PricingError> {
    Decimal256::checked_from_ratio(n, 1u64).map_err(|_| PricingError::Overflow)
}

/// Rates for one denomination, each per unit per second (or per block, see [`ScalePricing`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleRates {
    /// Per millicore.
    #[serde(default)]
    pub cpu: Decimal256,
    /// Per byte (`ram` volumes are memory and priced here).
    #[serde(default)]
    pub memory: Decimal256,
    /// Per byte, by class: `ephemeral` for node-local volumes, else the persistent class
    /// (`default`, `beta1`, `beta2`, `beta3`).
    #[serde(default)]
    pub storage: BTreeMap<String, Decimal256>,
    /// Per GPU, by `vendor/model` (`nvidia/a100`) or model (`a100`).
    #[serde(default)]
    pub gpu: BTreeMap<String, Decimal256>,
    /// Per GPU of a model not listed; without it such GPUs are not priced (decline).
    #[serde(default)]
    pub gpu_default: Option<Decimal256>,
    /// Per endpoint that is not a leased IP (per service expose, not per replica).
    #[serde(default)]
    pub endpoint: Decimal256,
    /// Per leased IP of the group.
    #[serde(default)]
    pub leased_ip: Decimal256,
}

impl ScaleRates {
    fn all_zero(&self) -> bool {
        self.cpu.is_zero()
            && self.memory.is_zero()
            && self.storage.values().all(Decimal256::is_zero)
            && self.gpu.values().all(Decimal256::is_zero)
            && self.gpu_default.is_none_or(|d| d.is_zero())
            && self.endpoint.is_zero()
            && self.leased_ip.is_zero()
    }

    fn storage_rate(&self, class: &str) -> Result<Decimal256, PricingError> {
        self.storage
            .get(class)
            .copied()
            .ok_or_else(|| PricingError::NoStorageRate {
                class: class.to_string(),
            })
    }

    fn gpu_rate(&self, vendor: &str, model: &str) -> Result<Decimal256, PricingError> {
        self.gpu
            .get(&format!("{vendor}/{model}"))
            .or_else(|| self.gpu.get(model))
            .copied()
            .or(self.gpu_default)
            .ok_or_else(|| PricingError::NoGpuRate {
                model: format!("{vendor}/{model}"),
            })
    }
}

/// Akash's `scale` pricing: a linear price per unit of each resource, summed over every
/// replica, with rates per denomination (Kumo orders come in several; a rate in one means
/// nothing in another).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScalePricing {
    rates: BTreeMap<String, ScaleRates>,
    unit: PriceUnit,
}

impl ScalePricing {
    pub fn new() -> ScalePricing {
        ScalePricing::default()
    }

    /// Adds the rates for `denom`. At least one rate must be positive (Akash
    /// `errAllScalesZero`).
    pub fn with_denom(
        mut self,
        denom: impl Into<String>,
        rates: ScaleRates,
    ) -> Result<ScalePricing, PricingError> {
        let denom = denom.into();
        if rates.all_zero() {
            return Err(PricingError::InvalidConfig {
                reason: format!("every rate for {denom} is zero"),
            });
        }
        self.rates.insert(denom, rates);
        Ok(self)
    }

    /// The unit the rates are in (per second by default).
    pub fn with_unit(mut self, unit: PriceUnit) -> Result<ScalePricing, PricingError> {
        unit.validate()?;
        self.unit = unit;
        Ok(self)
    }
}

fn add(total: Decimal256, qty: u64, rate: Decimal256) -> Result<Decimal256, PricingError> {
    if qty == 0 || rate.is_zero() {
        return Ok(total);
    }
    quantity(qty)?
        .checked_mul(rate)
        .and_then(|v| total.checked_add(v))
        .map_err(|_| PricingError::Overflow)
}

impl PricingStrategy for ScalePricing {
    fn name(&self) -> &str {
        "scale"
    }

    fn price(&self, request: &PriceRequest<'_>) -> Result<Decimal256, PricingError> {
        let order = request.order;
        let rates = self
            .rates
            .get(&order.denom)
            .ok_or_else(|| PricingError::UnsupportedDenom {
                denom: order.denom.clone(),
            })?;
        let mut total = Decimal256::zero();
        // Per replica, from what was actually allocated (the GPU model in particular).
        for a in &request.reservation.allocations {
            total = add(total, a.cpu_millis, rates.cpu)?;
            total = add(total, a.memory, rates.memory)?;
            if a.ephemeral_storage > 0 {
                total = add(total, a.ephemeral_storage, rates.storage_rate("ephemeral")?)?;
            }
            for p in &a.persistent {
                total = add(total, p.size, rates.storage_rate(&p.class)?)?;
            }
            if let Some(gpu) = &a.gpu {
                let rate = rates.gpu_rate(&gpu.vendor, &gpu.model)?;
                total = add(total, u64::from(gpu.units), rate)?;
            }
        }
        // Endpoints belong to services, not replicas (as Akash counts them); a leased IP is
        // one per distinct sequence number however many services share it.
        let mut endpoints = 0u64;
        let mut ips = BTreeSet::new();
        for unit in &order.group.resources {
            for e in &unit.resources.endpoints {
                if e.kind == EndpointKind::LeasedIp {
                    ips.insert(e.sequence_number);
                } else {
                    endpoints += 1;
                }
            }
        }
        total = add(total, endpoints, rates.endpoint)?;
        total = add(total, ips.len() as u64, rates.leased_ip)?;
        let total = self.unit.to_per_second(total)?;
        if total.is_zero() {
            return Err(PricingError::ZeroPrice);
        }
        Ok(total)
    }
}
