//! Storage. Keys are tuples of the id fields so that the bids of one order, the groups of one
//! deployment and the leases of one tenant are each a prefix range.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{
    Addr, Decimal256, HexBinary, Order as IterOrder, StdResult, Storage, Timestamp, Uint128,
};
use cw_storage_plus::{Bound, Item, Map};
use serde::{Deserialize, Serialize};

use kumo::market::{
    Bid, BidState, Deployment, DeploymentState, Group, GroupState, Lease, LeaseState, MarketParams,
    Order, OrderState, RecordRequirement,
};
use kumo::{Asset, BidId, Denom, DeploymentId, GroupId, GroupSpec, LeaseId, OrderId};

#[cw_serde]
pub struct Config {
    pub owner: Addr,
    pub registry: Addr,
    pub escrow: Addr,
    pub staking: Option<Addr>,
    pub guardian: Option<Addr>,
    pub paused: bool,
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

pub const DEPLOYMENTS: Map<DeploymentKey, DeploymentRecord> = Map::new("deployments");
pub const GROUPS: Map<GroupKey, GroupRecord> = Map::new("groups");
pub const ORDERS: Map<OrderKey, OrderRecord> = Map::new("orders");
pub const BIDS: Map<BidKey, BidRecord> = Map::new("bids");
pub const LEASES: Map<LeaseKey, LeaseRecord> = Map::new("leases");

/// Open orders by creation number (what providers poll).
pub const OPEN_ORDERS: Map<u64, OrderId> = Map::new("open_orders");
/// Each provider's open bids by bid number; the value names the order (the key has the
/// provider), so a bid id is not stored twice.
pub const PROVIDER_BIDS: Map<(Addr, u64), OrderRef> = Map::new("provider_bids");
/// Each provider's leases that are not closed, by bid number.
pub const PROVIDER_LEASES: Map<(Addr, u64), OrderRef> = Map::new("provider_leases");

/// An order id as a JSON array, `[owner, dseq, gseq, oseq]`.
pub type OrderRef = (Addr, u64, u32, u32);

pub fn order_ref(id: &BidId) -> OrderRef {
    (id.owner.clone(), id.dseq, id.gseq, id.oseq)
}

/// The id of `provider`'s bid on the order `r` names.
pub fn bid_of(provider: &Addr, r: OrderRef) -> BidId {
    DeploymentId::new(r.0, r.1)
        .group(r.2)
        .order(r.3)
        .bid(provider.clone())
}
pub use kumo::market::{ProviderStats, PROVIDER_STATS};

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

// Stored forms. A record leaves out the id its key already holds, uses one-letter field names
// and skips empty options: SDK gas charges 30 per byte written and 3 per byte read, and these
// records are written on every hot path (CreateDeployment, CreateBid, CreateLease).

#[derive(Serialize, Deserialize)]
pub struct DeploymentRecord {
    #[serde(rename = "s")]
    state: DeploymentState,
    #[serde(rename = "v")]
    version: HexBinary,
    /// `Denom`'s printed form.
    #[serde(rename = "d")]
    denom: String,
    #[serde(rename = "g")]
    groups: u32,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    auction_window: Option<u64>,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    reclamation_min_window: Option<u64>,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    provider_record: Option<RecordRequirement>,
    #[serde(rename = "t")]
    created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
pub struct GroupRecord {
    #[serde(rename = "s")]
    state: GroupState,
    #[serde(rename = "g")]
    spec: GroupSpec,
    #[serde(rename = "p")]
    price: Decimal256,
    #[serde(rename = "o")]
    last_oseq: u32,
    #[serde(rename = "t")]
    created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
pub struct OrderRecord {
    #[serde(rename = "q")]
    seq: u64,
    #[serde(rename = "s")]
    state: OrderState,
    #[serde(rename = "p")]
    price: Decimal256,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    auction_ends_at: Option<Timestamp>,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    reclamation_min_window: Option<u64>,
    #[serde(rename = "b")]
    bids: u32,
    #[serde(rename = "t")]
    created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
pub struct BidRecord {
    #[serde(rename = "q")]
    seq: u64,
    #[serde(rename = "s")]
    state: BidState,
    #[serde(rename = "p")]
    price: Decimal256,
    /// The deposit's printed denomination and amount.
    #[serde(rename = "d")]
    denom: String,
    #[serde(rename = "a")]
    amount: Uint128,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    reclamation_window: Option<u64>,
    #[serde(rename = "t")]
    created_at: Timestamp,
}

/// The state's field name is shared with [`kumo::market::LeaseHeader`], which the staking
/// contract reads raw.
#[derive(Serialize, Deserialize)]
pub struct LeaseRecord {
    #[serde(rename = "s")]
    state: LeaseState,
    #[serde(rename = "p")]
    price: Decimal256,
    #[serde(rename = "t")]
    created_at: Timestamp,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    closed_at: Option<Timestamp>,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    close_reason: Option<u32>,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    reclamation_window: Option<u64>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    reclaim_deadline: Option<Timestamp>,
}

impl DeploymentRecord {
    pub fn of(d: &Deployment) -> Self {
        DeploymentRecord {
            state: d.state,
            version: d.version.clone(),
            denom: d.denom.to_string(),
            groups: d.groups,
            auction_window: d.auction_window,
            reclamation_min_window: d.reclamation_min_window,
            provider_record: d.provider_record.clone(),
            created_at: d.created_at,
        }
    }

    pub fn restore(self, id: DeploymentId) -> Deployment {
        Deployment {
            id,
            state: self.state,
            version: self.version,
            denom: Denom::parse(&self.denom),
            groups: self.groups,
            auction_window: self.auction_window,
            reclamation_min_window: self.reclamation_min_window,
            provider_record: self.provider_record,
            created_at: self.created_at,
        }
    }
}

impl GroupRecord {
    pub fn of(g: &Group) -> Self {
        GroupRecord {
            state: g.state,
            spec: g.spec.clone(),
            price: g.price,
            last_oseq: g.last_oseq,
            created_at: g.created_at,
        }
    }

    pub fn restore(self, id: GroupId) -> Group {
        Group {
            id,
            state: self.state,
            spec: self.spec,
            price: self.price,
            last_oseq: self.last_oseq,
            created_at: self.created_at,
        }
    }
}

impl OrderRecord {
    pub fn of(o: &Order) -> Self {
        OrderRecord {
            seq: o.seq,
            state: o.state,
            price: o.price,
            auction_ends_at: o.auction_ends_at,
            reclamation_min_window: o.reclamation_min_window,
            bids: o.bids,
            created_at: o.created_at,
        }
    }

    pub fn restore(self, id: OrderId) -> Order {
        Order {
            id,
            seq: self.seq,
            state: self.state,
            price: self.price,
            auction_ends_at: self.auction_ends_at,
            reclamation_min_window: self.reclamation_min_window,
            bids: self.bids,
            created_at: self.created_at,
        }
    }
}

impl BidRecord {
    pub fn of(b: &Bid) -> Self {
        BidRecord {
            seq: b.seq,
            state: b.state,
            price: b.price,
            denom: b.deposit.denom.to_string(),
            amount: b.deposit.amount,
            reclamation_window: b.reclamation_window,
            created_at: b.created_at,
        }
    }

    pub fn restore(self, id: BidId) -> Bid {
        Bid {
            id,
            seq: self.seq,
            state: self.state,
            price: self.price,
            deposit: Asset {
                denom: Denom::parse(&self.denom),
                amount: self.amount,
            },
            reclamation_window: self.reclamation_window,
            created_at: self.created_at,
        }
    }
}

impl LeaseRecord {
    pub fn of(l: &Lease) -> Self {
        LeaseRecord {
            state: l.state,
            price: l.price,
            created_at: l.created_at,
            closed_at: l.closed_at,
            close_reason: l.close_reason,
            reclamation_window: l.reclamation_window,
            reclaim_deadline: l.reclaim_deadline,
        }
    }

    pub fn restore(self, id: LeaseId) -> Lease {
        Lease {
            id,
            state: self.state,
            price: self.price,
            created_at: self.created_at,
            closed_at: self.closed_at,
            close_reason: self.close_reason,
            reclamation_window: self.reclamation_window,
            reclaim_deadline: self.reclaim_deadline,
        }
    }
}

/// Typed access by id: the records above in and out of their maps.
pub mod store {
    use super::*;

    pub fn deployment(s: &dyn Storage, id: &DeploymentId) -> StdResult<Option<Deployment>> {
        Ok(DEPLOYMENTS
            .may_load(s, deployment_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_deployment(s: &mut dyn Storage, d: &Deployment) -> StdResult<()> {
        DEPLOYMENTS.save(s, deployment_key(&d.id), &DeploymentRecord::of(d))
    }

    pub fn group(s: &dyn Storage, id: &GroupId) -> StdResult<Option<Group>> {
        Ok(GROUPS
            .may_load(s, group_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_group(s: &mut dyn Storage, g: &Group) -> StdResult<()> {
        GROUPS.save(s, group_key(&g.id), &GroupRecord::of(g))
    }

    /// A deployment's groups: at most `max_groups`.
    pub fn groups_of(s: &dyn Storage, id: &DeploymentId) -> StdResult<Vec<Group>> {
        GROUPS
            .prefix((id.owner.clone(), id.dseq))
            .range(s, None, None, IterOrder::Ascending)
            .map(|r| r.map(|(gseq, g)| g.restore(id.group(gseq))))
            .collect()
    }

    pub fn order(s: &dyn Storage, id: &OrderId) -> StdResult<Option<Order>> {
        Ok(ORDERS
            .may_load(s, order_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_order(s: &mut dyn Storage, o: &Order) -> StdResult<()> {
        ORDERS.save(s, order_key(&o.id), &OrderRecord::of(o))
    }

    pub fn bid(s: &dyn Storage, id: &BidId) -> StdResult<Option<Bid>> {
        Ok(BIDS
            .may_load(s, bid_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_bid(s: &mut dyn Storage, b: &Bid) -> StdResult<()> {
        BIDS.save(s, bid_key(&b.id), &BidRecord::of(b))
    }

    /// One order's bids by provider address, from `start_after`.
    pub fn bids_of<'a>(
        s: &'a dyn Storage,
        order: &'a OrderId,
        start_after: Option<Addr>,
    ) -> impl Iterator<Item = StdResult<Bid>> + 'a {
        BIDS.prefix(order_bids_prefix(order))
            .range(
                s,
                start_after.map(Bound::exclusive),
                None,
                IterOrder::Ascending,
            )
            .map(move |r| r.map(|(provider, b)| b.restore(order.bid(provider))))
    }

    pub fn lease(s: &dyn Storage, id: &LeaseId) -> StdResult<Option<Lease>> {
        Ok(LEASES
            .may_load(s, lease_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_lease(s: &mut dyn Storage, l: &Lease) -> StdResult<()> {
        LEASES.save(s, lease_key(&l.id), &LeaseRecord::of(l))
    }
}
