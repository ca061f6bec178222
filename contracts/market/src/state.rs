//! Storage. Keys are tuples of the id fields so that the bids of one order, the groups of one
//! deployment and the leases of one tenant are each a prefix range.

use cosmwasm_std::{Addr, Decimal256, HexBinary, Order as IterOrder, Storage, Timestamp, Uint128};
use kumo::codec::{PackedItem, PackedMap};
use kumo::codec_struct;

use kumo::market::{
    Bid, BidState, Deployment, DeploymentState, Group, GroupState, Lease, LeaseState, MarketParams,
    Order, OrderState, RecordRequirement,
};
use kumo::{Asset, BidId, Denom, DeploymentId, GroupId, GroupSpec, LeaseId, OrderId};

/// Addresses, the pause flag and the parameters in one item: every handler reads it, and
/// `CreateBid` and `CreateDeployment` need both halves (one store read, not two).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub owner: Addr,
    pub registry: Addr,
    pub escrow: Addr,
    pub staking: Option<Addr>,
    pub guardian: Option<Addr>,
    pub paused: bool,
    pub params: MarketParams,
}

codec_struct!(Config {
    owner,
    registry,
    escrow,
    staking,
    guardian,
    paused,
    params
});

pub const CONFIG: PackedItem<Config> = PackedItem::new("config");
// The counters and indexes every `CreateDeployment`, `CreateBid` and `CreateLease` writes have
// two-letter namespaces: SDK gas charges 30 per byte of key written (3 per byte read).

/// The last number given to a deployment (its `dseq`) or an order (its `seq`). A new deployment
/// takes the next `1 + groups` numbers at once, `dseq` and its orders' `seq`s: one counter read
/// and written, where a per-tenant `dseq` counter and an order counter cost two each (SDK gas:
/// 1,000 per read, 2,000 per write, besides the bytes). `dseq`s are therefore unique across
/// tenants, as Akash's block-height `dseq`s usually are, and not consecutive per tenant.
/// Other contracts read it raw as `kumo::market::LAST_SEQ`.
pub const SEQ: PackedItem<u64> = PackedItem::new(kumo::market::SEQ_KEY);
pub const BID_SEQ: PackedItem<u64> = PackedItem::new("bs");

pub type DeploymentKey = (Addr, u64);
pub type GroupKey = (Addr, u64, u32);
pub type OrderKey = ((Addr, u64), (u32, u32));
/// Bids keyed so that one order's bids are `BIDS.prefix(((owner, dseq), (gseq, oseq)))`.
pub type BidKey = ((Addr, u64), (u32, u32), Addr);
/// Leases keyed so that one tenant's leases are `LEASES.sub_prefix(owner)`.
pub type LeaseKey = (Addr, u64, (u32, u32, Addr));

// Records in the binary form of `kumo::codec`: a third to a tenth of their JSON size (gas), and
// no JSON code per record type (wasm size).
// One-letter namespaces: every key of these maps carries it, and SDK gas charges 30 per byte of
// key written (3 per byte read).
/// The namespace of `kumo::market::deployment_key`, which the gateway reads raw.
pub const DEPLOYMENTS: PackedMap<DeploymentKey, DeploymentRecord> =
    PackedMap::new(kumo::market::DEPLOYMENTS_NAMESPACE);
pub const GROUPS: PackedMap<GroupKey, GroupRecord> = PackedMap::new("g");
pub const ORDERS: PackedMap<OrderKey, OrderRecord> = PackedMap::new("o");
pub const BIDS: PackedMap<BidKey, BidRecord> = PackedMap::new("b");
/// The namespace of `kumo::market::LEASE_HEADERS`, which other contracts read raw.
pub const LEASES: PackedMap<LeaseKey, LeaseRecord> = PackedMap::new(kumo::market::LEASES_NAMESPACE);

/// The bid count of an open order (`Order::bids`), by the order's `seq`: `CreateBid` bumps this
/// small entry (a short numeric key) instead of rewriting the order record. Absent means 0.
pub const ORDER_BIDS: PackedMap<u64, u32> = PackedMap::new("ob");
/// Open orders, keyed by the order id so that an `OpenOrders` cursor naming an order that has
/// closed and been deleted since still has a place to resume. An open order's record lives
/// here only ([`ORDERS`] has the active ones): a new order is one write, not a record and an
/// index entry (SDK gas: 2,000 per write and 30 per byte of its long key).
pub const OPEN_ORDERS: PackedMap<OrderKey, OrderRecord> = PackedMap::new("oo");
/// Each provider's open bids, keyed by the provider and the order (the value is always `true`:
/// the store takes no empty values): a `ProviderBids` cursor is the key itself, so it still
/// resumes after its bid has closed and been deleted (bid numbers, the previous key, needed the
/// deleted record to look up).
pub const PROVIDER_BIDS: PackedMap<ProviderOrderKey, bool> = PackedMap::new("pb");
/// Each provider's leases that are not closed, keyed as [`PROVIDER_BIDS`].
pub const PROVIDER_LEASES: PackedMap<ProviderOrderKey, bool> = PackedMap::new("pl");

/// A provider and an order: the key of its bid or lease in the provider's indexes.
pub type ProviderOrderKey = (Addr, OrderKey);

pub fn provider_order_key(id: &BidId) -> ProviderOrderKey {
    (id.provider.clone(), order_key(&id.order()))
}

/// The id of `provider`'s bid on the order `k` names.
pub fn bid_of(provider: &Addr, k: OrderKey) -> BidId {
    let ((owner, dseq), (gseq, oseq)) = k;
    DeploymentId::new(owner, dseq)
        .group(gseq)
        .order(oseq)
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

// Stored forms. A record leaves out the id its key already holds; fields are encoded in
// declaration order (`kumo::codec`): these records are written on every hot path
// (CreateDeployment, CreateBid, CreateLease), at 30 gas per byte.

pub struct DeploymentRecord {
    state: DeploymentState,
    version: HexBinary,
    denom: Denom,
    groups: u32,
    auction_window: Option<u64>,
    reclamation_min_window: Option<u64>,
    provider_record: Option<RecordRequirement>,
    created_at: Timestamp,
}

pub struct GroupRecord {
    state: GroupState,
    spec: GroupSpec,
    price: Decimal256,
    last_oseq: u32,
    created_at: Timestamp,
}

pub struct OrderRecord {
    seq: u64,
    state: OrderState,
    price: Decimal256,
    auction_ends_at: Option<Timestamp>,
    reclamation_min_window: Option<u64>,
    /// Whether the deployment asks for a provider track record: `CreateBid` reads the
    /// deployment only then. (The bid count is in [`ORDER_BIDS`].)
    needs_record: bool,
    created_at: Timestamp,
}

pub struct BidRecord {
    seq: u64,
    state: BidState,
    price: Decimal256,
    /// The deposit.
    denom: Denom,
    amount: Uint128,
    reclamation_window: Option<u64>,
    created_at: Timestamp,
}

/// Starts with the state: [`kumo::market::LeaseHeader`], which the staking contract reads raw,
/// decodes that first field only.
pub struct LeaseRecord {
    state: LeaseState,
    price: Decimal256,
    created_at: Timestamp,
    closed_at: Option<Timestamp>,
    close_reason: Option<u32>,
    reclamation_window: Option<u64>,
    reclaim_deadline: Option<Timestamp>,
}

codec_struct!(DeploymentRecord {
    state,
    version,
    denom,
    groups,
    auction_window,
    reclamation_min_window,
    provider_record,
    created_at
});
codec_struct!(GroupRecord {
    state,
    spec,
    price,
    last_oseq,
    created_at
});
codec_struct!(OrderRecord {
    seq,
    state,
    price,
    auction_ends_at,
    reclamation_min_window,
    needs_record,
    created_at
});
codec_struct!(BidRecord {
    seq,
    state,
    price,
    denom,
    amount,
    reclamation_window,
    created_at
});
codec_struct!(LeaseRecord {
    state,
    price,
    created_at,
    closed_at,
    close_reason,
    reclamation_window,
    reclaim_deadline
});

impl DeploymentRecord {
    pub fn of(d: &Deployment) -> Self {
        DeploymentRecord {
            state: d.state,
            version: d.version.clone(),
            denom: d.denom.clone(),
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
            denom: self.denom,
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
    pub fn of(o: &Order, needs_record: bool) -> Self {
        OrderRecord {
            seq: o.seq,
            state: o.state,
            price: o.price,
            auction_ends_at: o.auction_ends_at,
            reclamation_min_window: o.reclamation_min_window,
            needs_record,
            created_at: o.created_at,
        }
    }

    pub fn restore(self, id: OrderId, bids: u32) -> Order {
        Order {
            id,
            seq: self.seq,
            state: self.state,
            price: self.price,
            auction_ends_at: self.auction_ends_at,
            reclamation_min_window: self.reclamation_min_window,
            bids,
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
            denom: b.deposit.denom.clone(),
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
                denom: self.denom,
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

    pub fn deployment(s: &dyn Storage, id: &DeploymentId) -> kumo::Result<Option<Deployment>> {
        Ok(DEPLOYMENTS
            .may_load(s, deployment_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_deployment(s: &mut dyn Storage, d: &Deployment) -> kumo::Result<()> {
        DEPLOYMENTS.save(s, deployment_key(&d.id), &DeploymentRecord::of(d))
    }

    pub fn group(s: &dyn Storage, id: &GroupId) -> kumo::Result<Option<Group>> {
        Ok(GROUPS
            .may_load(s, group_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_group(s: &mut dyn Storage, g: &Group) -> kumo::Result<()> {
        GROUPS.save(s, group_key(&g.id), &GroupRecord::of(g))
    }

    /// A deployment's groups: at most `max_groups`.
    pub fn groups_of(s: &dyn Storage, id: &DeploymentId) -> kumo::Result<Vec<Group>> {
        GROUPS
            .prefix_range(s, (id.owner.clone(), id.dseq), None, IterOrder::Ascending)
            .map(|r| r.map(|(gseq, g)| g.restore(id.group(gseq))))
            .collect()
    }

    pub fn order(s: &dyn Storage, id: &OrderId) -> kumo::Result<Option<Order>> {
        Ok(order_and_flag(s, id)?.map(|(o, _)| o))
    }

    /// The order, and whether its deployment asks for a provider track record. Open orders are
    /// looked up first: they are what bids read.
    pub fn order_and_flag(s: &dyn Storage, id: &OrderId) -> kumo::Result<Option<(Order, bool)>> {
        let key = order_key(id);
        let r = match OPEN_ORDERS.may_load(s, key.clone())? {
            Some(r) => r,
            None => match ORDERS.may_load(s, key)? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        let needs_record = r.needs_record;
        Ok(Some((restore_order(s, id.clone(), r)?, needs_record)))
    }

    /// An order from its record and its bid count.
    pub fn restore_order(s: &dyn Storage, id: OrderId, r: OrderRecord) -> kumo::Result<Order> {
        let bids = ORDER_BIDS.may_load(s, r.seq)?.unwrap_or_default();
        Ok(r.restore(id, bids))
    }

    /// Saves the order record, not its bid count (`needs_record` as in [`order_and_flag`]): in
    /// [`OPEN_ORDERS`] while it is open, else in [`ORDERS`]. The caller that ends an open order
    /// removes it from [`OPEN_ORDERS`].
    pub fn save_order(s: &mut dyn Storage, o: &Order, needs_record: bool) -> kumo::Result<()> {
        let record = OrderRecord::of(o, needs_record);
        if o.state == OrderState::Open {
            OPEN_ORDERS.save(s, order_key(&o.id), &record)
        } else {
            ORDERS.save(s, order_key(&o.id), &record)
        }
    }

    /// Saves only the order's bid count (what `CreateBid`, `CloseBid` and a lease change). An
    /// order that closes while open has its count removed by `close_current_order`; an active
    /// order's count is already gone (a lease sets it to 0).
    pub fn save_order_bids(s: &mut dyn Storage, o: &Order) -> kumo::Result<()> {
        if o.bids == 0 {
            ORDER_BIDS.remove(s, o.seq);
            Ok(())
        } else {
            ORDER_BIDS.save(s, o.seq, &o.bids)
        }
    }

    pub fn bid(s: &dyn Storage, id: &BidId) -> kumo::Result<Option<Bid>> {
        Ok(BIDS
            .may_load(s, bid_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_bid(s: &mut dyn Storage, b: &Bid) -> kumo::Result<()> {
        BIDS.save(s, bid_key(&b.id), &BidRecord::of(b))
    }

    /// One order's bids by provider address, from `start_after`.
    pub fn bids_of<'a>(
        s: &'a dyn Storage,
        order: &'a OrderId,
        start_after: Option<Addr>,
    ) -> impl Iterator<Item = kumo::Result<Bid>> + 'a {
        BIDS.prefix_range(
            s,
            order_bids_prefix(order),
            start_after,
            IterOrder::Ascending,
        )
        .map(move |r| r.map(|(provider, b)| b.restore(order.bid(provider))))
    }

    pub fn lease(s: &dyn Storage, id: &LeaseId) -> kumo::Result<Option<Lease>> {
        Ok(LEASES
            .may_load(s, lease_key(id))?
            .map(|r| r.restore(id.clone())))
    }

    pub fn save_lease(s: &mut dyn Storage, l: &Lease) -> kumo::Result<()> {
        LEASES.save(s, lease_key(&l.id), &LeaseRecord::of(l))
    }
}
