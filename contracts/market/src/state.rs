//! Storage. Keys are tuples of the id fields so that the bids of one order, the groups of one
//! deployment and the leases of one tenant are each a prefix range.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Decimal256, Uint128};
use cw_storage_plus::{Item, Map};

use kumo::market::{Bid, Deployment, Group, Lease, MarketParams, Order};
use kumo::{BidId, Denom, DeploymentId, GroupId, OrderId};

#[cw_serde]
pub struct Config {
    pub owner: Addr,
    pub registry: Addr,
    pub escrow: Addr,
    pub staking: Option<Addr>,
    pub guardian: Option<Addr>,
    pub paused: bool,
}

/// O(1) per-provider counters, kept up to date on every bid and lease transition.
#[cw_serde]
#[derive(Default)]
pub struct ProviderStats {
    pub active_leases: u64,
    pub open_bids: u64,
    pub lease_rates: Vec<(Denom, Decimal256)>,
    pub bid_deposits: Vec<(Denom, Uint128)>,
    pub record: kumo::market::LeaseRecord,
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const PARAMS: Item<MarketParams> = Item::new("params");
/// The last `dseq` each tenant was given.
pub const LAST_DSEQ: Map<Addr, u64> = Map::new("last_dseq");
pub const ORDER_SEQ: Item<u64> = Item::new("order_seq");
pub const BID_SEQ: Item<u64> = Item::new("bid_seq");

pub type DeploymentKey = (Addr, u64);
pub type GroupKey = (Addr, u64, u32);
pub type OrderKey = ((Addr, u64), (u32, u32));
/// Bids keyed so that one order's bids are `BIDS.prefix(((owner, dseq), (gseq, oseq)))`.
pub type BidKey = ((Addr, u64), (u32, u32), Addr);
/// Leases keyed so that one tenant's leases are `LEASES.sub_prefix(owner)`.
pub type LeaseKey = (Addr, u64, (u32, u32, Addr));

pub const DEPLOYMENTS: Map<DeploymentKey, Deployment> = Map::new("deployments");
pub const GROUPS: Map<GroupKey, Group> = Map::new("groups");
pub const ORDERS: Map<OrderKey, Order> = Map::new("orders");
pub const BIDS: Map<BidKey, Bid> = Map::new("bids");
pub const LEASES: Map<LeaseKey, Lease> = Map::new("leases");

/// Open orders by creation number (what providers poll).
pub const OPEN_ORDERS: Map<u64, OrderId> = Map::new("open_orders");
/// Each provider's open bids by bid number.
pub const PROVIDER_BIDS: Map<(Addr, u64), BidId> = Map::new("provider_bids");
/// Each provider's leases that are not closed, by bid number.
pub const PROVIDER_LEASES: Map<(Addr, u64), BidId> = Map::new("provider_leases");
pub const PROVIDER_STATS: Map<Addr, ProviderStats> = Map::new("provider_stats");

pub fn deployment_key(id: &DeploymentId) -> DeploymentKey {
    (id.owner.clone(), id.dseq)
}

pub fn group_key(id: &GroupId) -> GroupKey {
    (id.owner.clone(), id.dseq, id.gseq)
}

pub fn order_key(id: &OrderId) -> OrderKey {
    ((id.owner.clone(), id.dseq), (id.gseq, id.oseq))
}

pub fn bid_key(id: &BidId) -> BidKey {
    (
        (id.owner.clone(), id.dseq),
        (id.gseq, id.oseq),
        id.provider.clone(),
    )
}

pub fn lease_key(id: &BidId) -> LeaseKey {
    (
        id.owner.clone(),
        id.dseq,
        (id.gseq, id.oseq, id.provider.clone()),
    )
}

/// The prefix of one order's bids in [`BIDS`].
pub fn order_bids_prefix(id: &OrderId) -> ((Addr, u64), (u32, u32)) {
    ((id.owner.clone(), id.dseq), (id.gseq, id.oseq))
}

impl ProviderStats {
    pub fn add_rate(&mut self, denom: &Denom, rate: Decimal256) {
        match self.lease_rates.iter_mut().find(|(d, _)| d == denom) {
            Some((_, r)) => *r = r.saturating_add(rate),
            None => self.lease_rates.push((denom.clone(), rate)),
        }
    }

    pub fn sub_rate(&mut self, denom: &Denom, rate: Decimal256) {
        if let Some(i) = self.lease_rates.iter().position(|(d, _)| d == denom) {
            let left = self.lease_rates[i].1.saturating_sub(rate);
            if left.is_zero() {
                self.lease_rates.remove(i);
            } else {
                self.lease_rates[i].1 = left;
            }
        }
    }

    pub fn add_deposit(&mut self, denom: &Denom, amount: Uint128) {
        match self.bid_deposits.iter_mut().find(|(d, _)| d == denom) {
            Some((_, a)) => *a = a.saturating_add(amount),
            None => self.bid_deposits.push((denom.clone(), amount)),
        }
    }

    pub fn sub_deposit(&mut self, denom: &Denom, amount: Uint128) {
        if let Some(i) = self.bid_deposits.iter().position(|(d, _)| d == denom) {
            let left = self.bid_deposits[i].1.saturating_sub(amount);
            if left.is_zero() {
                self.bid_deposits.remove(i);
            } else {
                self.bid_deposits[i].1 = left;
            }
        }
    }
}
