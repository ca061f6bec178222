//! The bid engine: whether to bid on an order, and at what price (Akash provider `bidengine/`).
//!
//! An order goes through the configured [`BidPolicy`]s in order (attributes, capabilities,
//! capacity, tenants, lease count — each a small trait object, composable as yagna's negotiator
//! components are), then the engine's fixed steps, in Akash's order (`order.go`): reserve the
//! resources in the [`Inventory`], compute the price with the [`PricingStrategy`], and check it
//! against the order's maximum. The result is a [`Bid`] carrying the reservation, or a
//! [`Declined`] naming the policy or step and a reason; every decline is logged and counted by
//! `(policy, code)` for the metrics endpoint.
//!
//! The engine is synchronous (the pricing script runs as a child process it waits for); the
//! agent calls [`BidEngine::evaluate`] from `tokio::task::spawn_blocking`.

mod policies;
mod pricing;
mod script;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use cosmwasm_std::{Addr, Decimal256};
use kumo::market::{NewBid, OrderResponse};
use kumo::registry::AuditedAttributes;
use kumo::{Attribute, GroupSpec, OrderId};

use crate::inventory::{Inventory, Reservation};

pub use policies::{
    AttributesPolicy, CapabilitiesPolicy, CapacityPolicy, MaxLeasesPolicy, TenantPolicy,
};
pub use pricing::{
    PriceRequest, PriceUnit, PricingError, PricingStrategy, ScalePricing, ScaleRates,
};
pub use script::{
    ScriptGpu, ScriptGpuAttributes, ScriptGpuModel, ScriptInput, ScriptPrice, ScriptPricing,
    ScriptResource, ScriptStorage, SCRIPT_PRICE_PRECISION,
};

/// The engine's own steps, as they appear in [`Declined::policy`].
pub const STEP_CAPACITY: &str = "capacity";
pub const STEP_PRICING: &str = "pricing";
pub const STEP_PRICE_CEILING: &str = "price-ceiling";

/// What the agent knows of an on-chain order.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderView {
    pub id: OrderId,
    /// Placement requirements and resource units (with counts and per-block unit prices).
    pub group: GroupSpec,
    /// The most the tenant pays, per second, in `denom` (the market's unit for bids).
    pub max_price: Decimal256,
    pub denom: String,
    /// The shortest reclamation window the tenant accepts, seconds.
    pub reclamation_min_window: Option<u64>,
}

impl OrderView {
    pub fn new(id: OrderId, group: GroupSpec, max_price: Decimal256) -> OrderView {
        OrderView {
            denom: group.denom().unwrap_or_default().to_string(),
            id,
            group,
            max_price,
            reclamation_min_window: None,
        }
    }

    /// From the market's `Order` query response.
    pub fn from_response(response: &OrderResponse) -> OrderView {
        OrderView {
            reclamation_min_window: response.order.reclamation_min_window,
            ..OrderView::new(
                response.order.id.clone(),
                response.group.spec.clone(),
                response.order.price,
            )
        }
    }

    /// The tenant.
    pub fn owner(&self) -> &Addr {
        &self.id.owner
    }
}

impl From<OrderResponse> for OrderView {
    fn from(response: OrderResponse) -> OrderView {
        OrderView::from_response(&response)
    }
}

/// The provider as the chain knows it: what the attribute policies match orders against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderView {
    pub address: String,
    /// The provider's own attributes (registry).
    pub attributes: Vec<Attribute>,
    /// What auditors signed for the provider (registry `ProviderAudits`).
    pub audits: Vec<AuditedAttributes>,
}

impl ProviderView {
    pub fn new(address: impl Into<String>, attributes: Vec<Attribute>) -> ProviderView {
        ProviderView {
            address: address.into(),
            attributes,
            audits: Vec::new(),
        }
    }

    pub fn with_audits(mut self, audits: Vec<AuditedAttributes>) -> ProviderView {
        self.audits = audits;
        self
    }
}

/// What a policy may look at besides the order.
pub struct Ctx<'a> {
    pub provider: &'a ProviderView,
    pub inventory: &'a Inventory,
}

/// A policy's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    /// `code` is a short fixed label (a metrics label: it must come from a small set);
    /// `reason` explains this order's case for the log.
    Decline {
        code: &'static str,
        reason: String,
    },
}

impl Decision {
    pub fn decline(code: &'static str, reason: impl Into<String>) -> Decision {
        Decision::Decline {
            code,
            reason: reason.into(),
        }
    }
}

/// One rule about which orders to bid on. Policies are pure: they read the order and the
/// context and change nothing, so the engine can run them in any configured order.
pub trait BidPolicy: Send + Sync {
    /// A short name for logs and metrics (`attributes`, `tenants`).
    fn name(&self) -> &str;
    fn check(&self, order: &OrderView, ctx: &Ctx<'_>) -> Decision;
}

/// What to send: `CreateBid` at `price` per second, holding `reservation`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bid {
    pub order: OrderId,
    pub price: Decimal256,
    pub denom: String,
    pub reservation: Reservation,
}

impl Bid {
    /// The market message body, with the offer taken from the reservation.
    pub fn to_msg(&self, reclamation_window: Option<u64>) -> NewBid {
        NewBid {
            order: self.order.clone(),
            price: self.price,
            reclamation_window,
            offer: self.reservation.offer(),
        }
    }
}

/// Why the engine did not bid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declined {
    /// The policy's name or the engine step ([`STEP_CAPACITY`], [`STEP_PRICING`],
    /// [`STEP_PRICE_CEILING`]).
    pub policy: String,
    pub code: &'static str,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BidOutcome {
    Bid(Bid),
    Declined(Declined),
}

/// One row of the decline counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclineCount {
    pub policy: String,
    pub code: &'static str,
    pub count: u64,
}

pub struct BidEngine {
    policies: Vec<Box<dyn BidPolicy>>,
    pricing: Box<dyn PricingStrategy>,
    declines: Mutex<BTreeMap<(String, &'static str), u64>>,
    bids: AtomicU64,
}

/// A poisoned lock only means another evaluation panicked; the data (counters, inventory
/// bookkeeping done in single steps) is still consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BidEngine {
    /// An engine with no policies: only capacity, pricing and the price ceiling apply.
    pub fn new(pricing: Box<dyn PricingStrategy>) -> BidEngine {
        BidEngine {
            policies: Vec::new(),
            pricing,
            declines: Mutex::new(BTreeMap::new()),
            bids: AtomicU64::new(0),
        }
    }

    /// Appends a policy; policies run in the order they were added.
    pub fn with_policy(mut self, policy: impl BidPolicy + 'static) -> BidEngine {
        self.policies.push(Box::new(policy));
        self
    }

    pub fn policy_names(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.name()).collect()
    }

    /// Decides on `order`. On a bid the resources stay reserved in `inventory` (the agent
    /// commits or releases them when the bid is settled); on a decline nothing stays reserved
    /// that this call reserved.
    pub fn evaluate(
        &self,
        order: &OrderView,
        provider: &ProviderView,
        inventory: &Mutex<Inventory>,
    ) -> BidOutcome {
        // Policies and the reservation under one lock: what the capacity policy saw is what
        // gets reserved.
        let (reservation, reserved_here) = {
            let mut inv = lock(inventory);
            let ctx = Ctx {
                provider,
                inventory: &inv,
            };
            for policy in &self.policies {
                if let Decision::Decline { code, reason } = policy.check(order, &ctx) {
                    return self.decline(order, policy.name(), code, reason);
                }
            }
            let existed = inv.reservation(&order.id).is_some();
            match inv.reserve(&order.id, &order.group.resources) {
                Ok(r) => (r, !existed),
                Err(e) => return self.decline(order, STEP_CAPACITY, e.what.code(), e.to_string()),
            }
        };
        // Pricing may run a script: never under the inventory lock.
        let release = || {
            if reserved_here {
                lock(inventory).release(&order.id);
            }
        };
        let request = PriceRequest {
            order,
            reservation: &reservation,
        };
        let price = match self.pricing.price(&request) {
            Ok(p) => p,
            Err(e) => {
                release();
                return self.decline(
                    order,
                    STEP_PRICING,
                    e.code(),
                    format!("{}: {e}", self.pricing.name()),
                );
            }
        };
        if price > order.max_price {
            release();
            return self.decline(
                order,
                STEP_PRICE_CEILING,
                "price-above-max",
                format!(
                    "our price {price} {denom}/s exceeds the order's maximum {} {denom}/s",
                    order.max_price,
                    denom = order.denom
                ),
            );
        }
        self.bids.fetch_add(1, Ordering::Relaxed);
        tracing::info!(order = %order.id, %price, denom = %order.denom, "bidding");
        BidOutcome::Bid(Bid {
            order: order.id.clone(),
            price,
            denom: order.denom.clone(),
            reservation,
        })
    }

    fn decline(
        &self,
        order: &OrderView,
        policy: &str,
        code: &'static str,
        reason: String,
    ) -> BidOutcome {
        tracing::info!(order = %order.id, policy, code, %reason, "declined to bid");
        *lock(&self.declines)
            .entry((policy.to_string(), code))
            .or_default() += 1;
        BidOutcome::Declined(Declined {
            policy: policy.to_string(),
            code,
            reason,
        })
    }

    /// Declines so far by policy and code, sorted (for `kumo_bid_declines_total{policy,code}`).
    pub fn declines(&self) -> Vec<DeclineCount> {
        lock(&self.declines)
            .iter()
            .map(|((policy, code), count)| DeclineCount {
                policy: policy.clone(),
                code,
                count: *count,
            })
            .collect()
    }

    /// Bids the engine decided to place.
    pub fn bids(&self) -> u64 {
        self.bids.load(Ordering::Relaxed)
    }
}
