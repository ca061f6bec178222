//! Execute handlers, one module per concept, and the close cascade they share.

pub mod admin;
pub mod bid;
pub mod deployment;
pub mod lease;

use cosmwasm_std::{Addr, CosmosMsg, Decimal256, Event, Response, Storage, Timestamp, Uint256};
use kumo::escrow;
use kumo::market::{
    Bid, BidState, Deployment, DeploymentState, Group, GroupState, LeaseCloseReason, LeaseState,
    MarketParams, Order, OrderState,
};
use kumo::{BidId, Denom, DeploymentId, GroupId, OrderId};

use crate::error::ContractError;
use crate::funds::escrow_call;
use crate::state::store;
use crate::state::{
    bid_key, lease_key, order_key, ProviderStats, BIDS, LEASES, OPEN_ORDERS, ORDERS, ORDER_BIDS,
    PROVIDER_BIDS, PROVIDER_LEASES, PROVIDER_STATS, SEQ,
};
use kumo::json::text;

/// Messages and events a handler accumulates while it cascades through objects.
pub struct Effects {
    pub escrow: Addr,
    pub now: Timestamp,
    pub msgs: Vec<CosmosMsg>,
    pub events: Vec<Event>,
}

impl Effects {
    pub fn new(escrow: Addr, now: Timestamp) -> Self {
        Effects {
            escrow,
            now,
            msgs: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn escrow(&mut self, msg: &escrow::MarketCall) {
        self.msgs.push(escrow_call(&self.escrow, msg));
    }

    /// Returns a bid's deposit to its provider. The market holds bid deposits itself (its bid
    /// record is the ledger entry), so that `CreateBid` needs no escrow call (README).
    pub fn refund_bid(&mut self, bid: &Bid) {
        let m = crate::funds::send(&bid.deposit.denom, &bid.id.provider, bid.deposit.amount);
        self.msgs.push(m);
        self.events.push(
            Event::new("bid_deposit_refunded")
                .add_attribute("bid", bid.id.to_string())
                .add_attribute("denom", bid.deposit.denom.to_string())
                .add_attribute("amount", bid.deposit.amount),
        );
    }

    pub fn into_response(self, action: &str) -> Response {
        Response::new()
            .add_attribute("action", action)
            .add_messages(self.msgs)
            .add_events(self.events)
    }
}

/// How a lease ends in a cascade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    Closed(LeaseCloseReason),
    /// The escrow account ran dry (reason 20000); the escrow already closed the payment.
    InsufficientFunds,
    /// The provider was jailed for absence (reason 20001); what accrued since `since`, its
    /// last heartbeat, goes back to the tenant.
    Absent {
        since: Timestamp,
    },
}

pub fn load_deployment(
    storage: &dyn Storage,
    id: &DeploymentId,
) -> Result<Deployment, ContractError> {
    store::deployment(storage, id)?
        .ok_or_else(|| ContractError::DeploymentNotFound { id: id.to_string() })
}

pub fn load_active_deployment(
    storage: &dyn Storage,
    id: &DeploymentId,
) -> Result<Deployment, ContractError> {
    let d = load_deployment(storage, id)?;
    if d.state != DeploymentState::Active {
        return Err(ContractError::DeploymentClosed { id: id.to_string() });
    }
    Ok(d)
}

pub fn load_group(storage: &dyn Storage, id: &GroupId) -> Result<Group, ContractError> {
    store::group(storage, id)?.ok_or_else(|| ContractError::GroupNotFound { id: id.to_string() })
}

pub fn load_order(storage: &dyn Storage, id: &OrderId) -> Result<Order, ContractError> {
    store::order(storage, id)?.ok_or_else(|| ContractError::OrderNotFound { id: id.to_string() })
}

pub fn load_bid(storage: &dyn Storage, id: &BidId) -> Result<Bid, ContractError> {
    store::bid(storage, id)?.ok_or_else(|| ContractError::BidNotFound { id: id.to_string() })
}

/// The bids of one order: at most `order_max_bids`, so loading them all is bounded.
pub fn order_bids(storage: &dyn Storage, order: &OrderId) -> kumo::Result<Vec<Bid>> {
    store::bids_of(storage, order, None).collect()
}

pub fn update_stats(
    storage: &mut dyn Storage,
    provider: &Addr,
    f: impl FnOnce(&mut ProviderStats),
) -> kumo::Result<()> {
    let mut stats = PROVIDER_STATS
        .may_load(storage, provider)?
        .unwrap_or_default();
    f(&mut stats);
    PROVIDER_STATS.save(storage, provider, &stats)
}

/// Converts a price per block into a price per second, rounding down (in the tenant's favour:
/// bids may not exceed the rounded price).
pub fn per_second(
    per_block: Decimal256,
    params: &MarketParams,
) -> Result<Decimal256, ContractError> {
    let atomics = per_block
        .atomics()
        .checked_mul(Uint256::from(1000u64))
        .map_err(|e| ContractError::InvalidDeployment {
            reason: format!("price overflows: {e}"),
        })?
        .checked_div(Uint256::from(params.block_time_ms))
        .map_err(|e| ContractError::InvalidParams {
            reason: e.to_string(),
        })?;
    Ok(Decimal256::new(atomics))
}

/// The next number of `SEQ`, for an order that re-lists a group.
pub fn next_seq(storage: &mut dyn Storage) -> kumo::Result<u64> {
    let seq = SEQ.may_load(storage)?.unwrap_or_default() + 1;
    SEQ.save(storage, &seq)?;
    Ok(seq)
}

/// Opens a new order numbered `seq` for `group` (its first, or a re-list after a lease or pause
/// ended).
pub fn open_order(
    storage: &mut dyn Storage,
    fx: &mut Effects,
    deployment: &Deployment,
    group: &mut Group,
    seq: u64,
) -> Result<Order, ContractError> {
    group.last_oseq += 1;
    let order = Order {
        id: group.id.order(group.last_oseq),
        seq,
        state: OrderState::Open,
        price: group.price,
        auction_ends_at: deployment.auction_window.map(|w| fx.now.plus_seconds(w)),
        reclamation_min_window: deployment.reclamation_min_window,
        bids: 0,
        created_at: fx.now,
    };
    // A new order: its bid count is absent (0), so only the record is written.
    store::save_order(storage, &order, deployment.provider_record.is_some())?;
    store::save_group(storage, group)?;
    let mut event = Event::new("order_created")
        .add_attribute("order", order.id.to_string())
        .add_attribute("price", text(&order.price));
    if let Some(ends) = order.auction_ends_at {
        event = event.add_attribute("auction_ends_at", ends.seconds().to_string());
    }
    fx.events.push(event);
    Ok(order)
}

/// Ends every open bid of an order but `winner`: `Lost` when another bid won, `Closed` when the
/// order closed. Their deposits are refunded.
pub fn end_open_bids(
    storage: &mut dyn Storage,
    fx: &mut Effects,
    order: &OrderId,
    state: BidState,
    winner: Option<&Addr>,
) -> Result<(), ContractError> {
    for bid in order_bids(storage, order)? {
        if bid.state != BidState::Open || Some(&bid.id.provider) == winner {
            continue;
        }
        // Terminal: the event is the record (AEP-79 REQ-EVM-029).
        BIDS.remove(storage, bid_key(&bid.id));
        PROVIDER_BIDS.remove(storage, crate::state::provider_order_key(&bid.id));
        update_stats(storage, &bid.id.provider, |s| {
            s.open_bids = s.open_bids.saturating_sub(1);
            s.sub_deposit(&bid.deposit.denom, bid.deposit.amount);
        })?;
        fx.refund_bid(&bid);
        fx.events.push(
            Event::new("bid_closed")
                .add_attribute("bid", bid.id.to_string())
                .add_attribute("state", state_name(state)),
        );
    }
    Ok(())
}

/// Closes the lease made from `bid` and the bid itself (refunding its deposit); with
/// `close_payment` also the escrow payment, which pays the provider to the second.
pub fn end_lease(
    storage: &mut dyn Storage,
    fx: &mut Effects,
    bid: &mut Bid,
    denom: &Denom,
    end: LeaseEnd,
) -> Result<(), ContractError> {
    let key = lease_key(&bid.id);
    let Some(lease) = store::lease(storage, &bid.id)? else {
        return Err(ContractError::LeaseNotFound {
            id: bid.id.to_string(),
        });
    };
    if matches!(
        lease.state,
        LeaseState::Closed | LeaseState::InsufficientFunds
    ) {
        return Ok(());
    }
    let (state, code) = match end {
        LeaseEnd::Closed(reason) => {
            // A reclaiming lease keeps the reason its provider gave when it started.
            let code = match (lease.state, lease.close_reason) {
                (LeaseState::Reclaiming, Some(code)) if reason != LeaseCloseReason::Owner => code,
                _ => reason.code(),
            };
            (LeaseState::Closed, code)
        }
        LeaseEnd::InsufficientFunds => (
            LeaseState::InsufficientFunds,
            LeaseCloseReason::InsufficientFunds.code(),
        ),
        LeaseEnd::Absent { .. } => (LeaseState::Closed, LeaseCloseReason::ProviderAbsent.code()),
    };
    // Terminal: the lease and its bid are deleted once the events below are emitted; the escrow
    // closes the payment in the same transaction (AEP-79 REQ-EVM-029).
    LEASES.remove(storage, key);
    PROVIDER_LEASES.remove(storage, crate::state::provider_order_key(&bid.id));
    bid.state = BidState::Closed;
    BIDS.remove(storage, bid_key(&bid.id));
    update_stats(storage, &bid.id.provider, |s| {
        s.active_leases = s.active_leases.saturating_sub(1);
        s.sub_rate(denom, lease.price);
        s.sub_deposit(&bid.deposit.denom, bid.deposit.amount);
        match code {
            10_000..=19_999 => s.record.closed_by_provider += 1,
            20_001 => s.record.closed_absent += 1,
            1 => {
                s.record.completed += 1;
                s.record.closed_by_tenant += 1;
            }
            _ => s.record.completed += 1,
        }
    })?;
    match end {
        LeaseEnd::InsufficientFunds => {}
        LeaseEnd::Closed(_) => fx.escrow(&escrow::MarketCall::ClosePayment {
            lease: bid.id.clone(),
            refund_since: None,
        }),
        LeaseEnd::Absent { since } => fx.escrow(&escrow::MarketCall::ClosePayment {
            lease: bid.id.clone(),
            refund_since: Some(since),
        }),
    }
    fx.refund_bid(bid);
    fx.events.push(
        Event::new("lease_closed")
            .add_attribute("lease", bid.id.to_string())
            .add_attribute("state", format!("{state:?}"))
            .add_attribute("reason", code.to_string())
            .add_attribute("price", text(&lease.price))
            .add_attribute("created_at", lease.created_at.seconds().to_string()),
    );
    Ok(())
}

/// Closes a group's current order: its open bids close (deposits refunded), its lease ends.
pub fn close_current_order(
    storage: &mut dyn Storage,
    fx: &mut Effects,
    group: &Group,
    denom: &Denom,
    end: LeaseEnd,
) -> Result<(), ContractError> {
    if group.last_oseq == 0 {
        return Ok(());
    }
    let id = group.id.order(group.last_oseq);
    // Closed orders are deleted.
    let Some(order) = store::order(storage, &id)? else {
        return Ok(());
    };
    match order.state {
        OrderState::Open => {
            end_open_bids(storage, fx, &id, BidState::Closed, None)?;
            if order.bids > 0 {
                ORDER_BIDS.remove(storage, order.seq);
            }
            // An open order's record is in OPEN_ORDERS only.
            OPEN_ORDERS.remove(storage, order_key(&id));
            fx.events.push(order_closed(&id));
        }
        OrderState::Active | OrderState::Closed => {
            for mut bid in order_bids(storage, &id)? {
                if bid.state == BidState::Active {
                    end_lease(storage, fx, &mut bid, denom, end)?;
                }
            }
            close_order(storage, fx, &id);
        }
    }
    Ok(())
}

/// Orders are deleted when they close (AEP-79 REQ-EVM-029). For an order that is not open (an
/// open one is removed from `OPEN_ORDERS`).
pub fn close_order(storage: &mut dyn Storage, fx: &mut Effects, id: &OrderId) {
    ORDERS.remove(storage, order_key(id));
    fx.events.push(order_closed(id));
}

fn order_closed(id: &OrderId) -> Event {
    Event::new("order_closed").add_attribute("order", id.to_string())
}

/// Moves a group to `state`, closing its current order (and lease) first.
pub fn end_group(
    storage: &mut dyn Storage,
    fx: &mut Effects,
    group: &mut Group,
    denom: &Denom,
    state: GroupState,
    end: LeaseEnd,
) -> Result<(), ContractError> {
    close_current_order(storage, fx, group, denom, end)?;
    group.state = state;
    store::save_group(storage, group)?;
    fx.events.push(
        Event::new("group_state")
            .add_attribute("group", group.id.to_string())
            .add_attribute("state", format!("{state:?}")),
    );
    Ok(())
}

/// Asks the staking contract, when one is configured, whether `provider` is bonded, not
/// jailed and bonded enough for its leases; returns why not.
pub fn staking_refusal(
    deps: cosmwasm_std::Deps,
    staking: Option<&Addr>,
    provider: &Addr,
    stats: Option<&ProviderStats>,
    now: cosmwasm_std::Timestamp,
) -> Result<Option<String>, ContractError> {
    let Some(staking) = staking else {
        return Ok(None);
    };
    // Raw reads of the staking contract's parameters and the provider's bond, and the market's
    // own counters: the staking contract's rule without a contract call.
    let params = kumo::staking::CONFIG_PARAMS
        .query(&deps.querier, staking.clone())?
        .ok_or(kumo::Error::NotFound("staking config"))?
        .params;
    let bond = kumo::staking::BONDS.query(&deps.querier, staking.clone(), provider)?;
    let stats = match (&bond, stats) {
        (_, Some(stats)) => stats.clone(),
        (Some(_), None) => PROVIDER_STATS
            .may_load(deps.storage, provider)?
            .unwrap_or_default(),
        (None, None) => Default::default(),
    };
    Ok(kumo::staking::refusal(&params, bond.as_ref(), &stats, now)?)
}

/// A state's variant name in lower case (`InsufficientFunds` is `insufficientfunds`). ASCII
/// lowering: `str::to_lowercase` would bring Unicode's case tables into the wasm.
pub fn state_name<T: std::fmt::Debug>(state: T) -> String {
    let mut name = format!("{state:?}");
    name.make_ascii_lowercase();
    name
}
