//! Leases (Akash `MsgCreateLease`, `MsgCloseLease`, `MsgWithdrawLease`) and Kumo's auction close
//! and reclamation start (AEP-82).

use cosmwasm_std::{DepsMut, Env, Event, MessageInfo, Response};
use kumo::escrow::{self, AccountId};
use kumo::market::{
    Bid, BidState, DeploymentState, GroupState, Lease, LeaseCloseReason, LeaseState, OrderState,
};
use kumo::{BidId, OrderId};

use crate::error::ContractError;
use crate::execute::{
    close_order, end_lease, end_open_bids, load_active_deployment, load_bid, load_group,
    load_order, next_seq, open_order, order_bids, staking_refusal, state_name, update_stats,
    Effects, LeaseEnd,
};
use crate::state::store;
use crate::state::{CONFIG, OPEN_ORDERS, PROVIDER_BIDS, PROVIDER_LEASES};
use kumo::json::text;

/// Makes a lease from an open bid: the bid wins, the order becomes active, every other open bid
/// of the order loses and is refunded (at most `order_max_bids`), and the escrow starts paying.
fn lease_bid(deps: DepsMut, fx: &mut Effects, mut bid: Bid) -> Result<Lease, ContractError> {
    let id = bid.id.clone();
    let deployment = load_active_deployment(deps.storage, &id.deployment())?;
    let group = load_group(deps.storage, &id.group())?;
    if group.state != GroupState::Open {
        return Err(ContractError::GroupState {
            id: group.id.to_string(),
            state: state_name(group.state),
            expected: "open".into(),
        });
    }
    let mut order = load_order(deps.storage, &id.order())?;
    if order.state != OrderState::Open {
        return Err(ContractError::OrderNotOpen {
            id: order.id.to_string(),
        });
    }
    if bid.state != BidState::Open {
        return Err(ContractError::BidState {
            id: id.to_string(),
            state: state_name(bid.state),
            expected: "open".into(),
        });
    }

    end_open_bids(
        deps.storage,
        fx,
        &order.id,
        BidState::Lost,
        Some(&id.provider),
    )?;
    bid.state = BidState::Active;
    store::save_bid(deps.storage, &bid)?;
    PROVIDER_BIDS.remove(deps.storage, crate::state::provider_order_key(&id));
    PROVIDER_LEASES.save(deps.storage, crate::state::provider_order_key(&id), &true)?;
    order.state = OrderState::Active;
    order.bids = 0;
    store::save_order(deps.storage, &order, deployment.provider_record.is_some())?;
    store::save_order_bids(deps.storage, &order)?;
    OPEN_ORDERS.remove(deps.storage, crate::state::order_key(&order.id));

    let lease = Lease {
        id: id.clone(),
        state: LeaseState::Active,
        price: bid.price,
        created_at: fx.now,
        closed_at: None,
        close_reason: None,
        reclamation_window: bid.reclamation_window,
        reclaim_deadline: None,
    };
    store::save_lease(deps.storage, &lease)?;
    update_stats(deps.storage, &id.provider, |s| {
        s.open_bids = s.open_bids.saturating_sub(1);
        s.active_leases += 1;
        s.add_rate(&deployment.denom, lease.price);
    })?;
    fx.escrow(&escrow::MarketCall::OpenPayment {
        account: AccountId::Deployment(id.deployment()),
        lease: id.clone(),
        payee: id.provider.to_string(),
        rate: lease.price,
    });
    fx.events.push(
        Event::new("lease_created")
            .add_attribute("lease", id.to_string())
            .add_attribute("price", text(&lease.price)),
    );
    Ok(lease)
}

/// The tenant accepts any open bid of its order.
pub fn create(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: BidId,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != id.owner {
        return Err(ContractError::unauthorized(id.owner.to_string()));
    }
    let bid = load_bid(deps.storage, &id)?;
    // A provider jailed since it bid cannot be leased to.
    if let Some(reason) = staking_refusal(
        deps.as_ref(),
        config.staking.as_ref(),
        &id.provider,
        None,
        env.block.time,
    )? {
        return Err(ContractError::NotEligible {
            provider: id.provider.to_string(),
            reason,
        });
    }
    let mut fx = Effects::new(config.escrow, env.block.time);
    lease_bid(deps, &mut fx, bid)?;
    Ok(fx
        .into_response("create_lease")
        .add_attribute("lease", id.to_string()))
}

/// Anyone, once an order's auction window has passed: the lowest price wins, the earliest bid
/// on a tie. With no bids the auction runs for another window instead.
pub fn close_auction(
    deps: DepsMut,
    env: Env,
    _info: MessageInfo,
    order_id: OrderId,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut order = load_order(deps.storage, &order_id)?;
    let deployment = load_active_deployment(deps.storage, &order_id.deployment())?;
    if order.state != OrderState::Open {
        return Err(ContractError::OrderNotOpen {
            id: order_id.to_string(),
        });
    }
    let (Some(ends), Some(window)) = (order.auction_ends_at, deployment.auction_window) else {
        return Err(ContractError::NoAuction {
            id: order_id.to_string(),
        });
    };
    if env.block.time < ends {
        return Err(ContractError::AuctionRunning {
            id: order_id.to_string(),
            ends_at: ends.seconds(),
        });
    }
    let mut open: Vec<_> = order_bids(deps.storage, &order_id)?
        .into_iter()
        .filter(|b| b.state == BidState::Open)
        .collect();
    open.sort_by(|a, b| a.price.cmp(&b.price).then(a.seq.cmp(&b.seq)));
    // The best bid from a provider still eligible (not jailed since it bid); at most
    // `order_max_bids` queries.
    let mut winner = None;
    for bid in open {
        if staking_refusal(
            deps.as_ref(),
            config.staking.as_ref(),
            &bid.id.provider,
            None,
            env.block.time,
        )?
        .is_none()
        {
            winner = Some(bid);
            break;
        }
    }
    let mut fx = Effects::new(config.escrow, env.block.time);
    let Some(winner) = winner else {
        order.auction_ends_at = Some(env.block.time.plus_seconds(window));
        store::save_order(deps.storage, &order, deployment.provider_record.is_some())?;
        return Ok(fx
            .into_response("close_auction")
            .add_attribute("order", order_id.to_string())
            .add_attribute("result", "no_bids")
            .add_attribute(
                "auction_ends_at",
                (env.block.time.seconds() + window).to_string(),
            ));
    };
    let lease = lease_bid(deps, &mut fx, winner)?;
    Ok(fx
        .into_response("close_auction")
        .add_attribute("order", order_id.to_string())
        .add_attribute("lease", lease.id.to_string()))
}

/// The tenant closes a lease (reason 1); its group, if still open, is re-listed at once.
pub fn close(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: BidId,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != id.owner {
        return Err(ContractError::unauthorized(id.owner.to_string()));
    }
    let lease = store::lease(deps.storage, &id)?
        .ok_or_else(|| ContractError::LeaseNotFound { id: id.to_string() })?;
    if !matches!(lease.state, LeaseState::Active | LeaseState::Reclaiming) {
        return Err(ContractError::LeaseState {
            id: id.to_string(),
            state: state_name(lease.state),
            expected: "active".into(),
        });
    }
    let deployment = crate::execute::load_deployment(deps.storage, &id.deployment())?;
    let mut bid = load_bid(deps.storage, &id)?;
    let mut fx = Effects::new(config.escrow, env.block.time);
    end_lease(
        deps.storage,
        &mut fx,
        &mut bid,
        &deployment.denom,
        LeaseEnd::Closed(LeaseCloseReason::Owner),
    )?;
    close_order(deps.storage, &mut fx, &id.order());
    let mut group = load_group(deps.storage, &id.group())?;
    if deployment.state == DeploymentState::Active && group.state == GroupState::Open {
        let seq = next_seq(deps.storage)?;
        open_order(deps.storage, &mut fx, &deployment, &mut group, seq)?;
    }
    Ok(fx
        .into_response("close_lease")
        .add_attribute("lease", id.to_string()))
}

/// Anyone, once the staking contract jailed `provider` for absence: closes a bounded batch of
/// its leases (reason 20001), refunds each tenant what accrued since the last heartbeat, has the
/// staking contract pay each tenant its share of the slash, and re-lists the groups.
pub fn close_absent_leases(
    deps: DepsMut,
    env: Env,
    provider: String,
    limit: Option<u32>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let staking = config.staking.clone().ok_or(ContractError::NoStaking)?;
    let provider = kumo::entry::addr_validate(deps.api, &provider)?;
    let pool: kumo::staking::CompensationPoolResponse = kumo::json::query(
        &deps.querier,
        &staking,
        &kumo::staking::QueryMsg::Compensation {
            provider: provider.to_string(),
        },
    )?;
    let bond: kumo::staking::ProviderBondResponse = kumo::json::query(
        &deps.querier,
        &staking,
        &kumo::staking::QueryMsg::Provider {
            provider: provider.to_string(),
        },
    )?;
    if pool.pool.is_none() || bond.bond.jailed_until.is_none() {
        return Err(ContractError::NotAbsent {
            provider: provider.to_string(),
        });
    }
    let since = bond.bond.last_heartbeat;
    let limit = limit.unwrap_or(10).min(30) as usize;
    let ids: Vec<BidId> = PROVIDER_LEASES
        .prefix_range(
            deps.storage,
            provider.clone(),
            None,
            cosmwasm_std::Order::Ascending,
        )
        .take(limit)
        .map(|r| r.map(|(k, _)| crate::state::bid_of(&provider, k)))
        .collect::<Result<_, _>>()?;
    let mut fx = Effects::new(config.escrow.clone(), env.block.time);
    for id in &ids {
        let deployment = crate::execute::load_deployment(deps.storage, &id.deployment())?;
        let mut bid = load_bid(deps.storage, id)?;
        end_lease(
            deps.storage,
            &mut fx,
            &mut bid,
            &deployment.denom,
            LeaseEnd::Absent { since },
        )?;
        close_order(deps.storage, &mut fx, &id.order());
        let mut group = load_group(deps.storage, &id.group())?;
        if group.state == GroupState::Open {
            let seq = next_seq(deps.storage)?;
            open_order(deps.storage, &mut fx, &deployment, &mut group, seq)?;
        }
        fx.msgs.push(
            cosmwasm_std::WasmMsg::Execute {
                contract_addr: staking.to_string(),
                msg: kumo::json::write(&kumo::staking::MarketCall::CompensateTenant {
                    provider: provider.to_string(),
                    tenant: id.owner.to_string(),
                }),
                funds: vec![],
            }
            .into(),
        );
    }
    Ok(fx
        .into_response("close_absent_leases")
        .add_attribute("provider", provider)
        .add_attribute("closed", ids.len().to_string()))
}

/// The provider starts the reclamation window it promised (AEP-82); the lease keeps running and
/// paying until the deadline, after which `CloseBid` closes it with `reason`.
pub fn start_reclaim(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: BidId,
    reason: LeaseCloseReason,
) -> Result<Response, ContractError> {
    if info.sender != id.provider {
        return Err(ContractError::unauthorized(id.provider.to_string()));
    }
    if !reason.is_provider_reason() {
        return Err(ContractError::NotProviderReason {
            code: reason.code(),
        });
    }
    let mut lease = store::lease(deps.storage, &id)?
        .ok_or_else(|| ContractError::LeaseNotFound { id: id.to_string() })?;
    if lease.state != LeaseState::Active {
        return Err(ContractError::LeaseState {
            id: id.to_string(),
            state: state_name(lease.state),
            expected: "active".into(),
        });
    }
    let window = lease.reclamation_window.unwrap_or_default();
    let deadline = env.block.time.plus_seconds(window);
    lease.state = LeaseState::Reclaiming;
    lease.reclaim_deadline = Some(deadline);
    lease.close_reason = Some(reason.code());
    store::save_lease(deps.storage, &lease)?;
    Ok(Response::new()
        .add_attribute("action", "start_reclaim")
        .add_attribute("lease", id.to_string())
        .add_attribute("reason", reason.code().to_string())
        .add_attribute("deadline", deadline.seconds().to_string()))
}

/// Anyone: the escrow pays the provider what the lease has accrued, less the take.
pub fn withdraw(deps: DepsMut, _info: MessageInfo, id: BidId) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let lease = store::lease(deps.storage, &id)?
        .ok_or_else(|| ContractError::LeaseNotFound { id: id.to_string() })?;
    if !matches!(lease.state, LeaseState::Active | LeaseState::Reclaiming) {
        return Err(ContractError::LeaseState {
            id: id.to_string(),
            state: state_name(lease.state),
            expected: "active".into(),
        });
    }
    let msg = crate::funds::escrow_call(
        &config.escrow,
        &escrow::MarketCall::Withdraw { lease: id.clone() },
    );
    Ok(Response::new()
        .add_message(msg)
        .add_attribute("action", "withdraw_lease")
        .add_attribute("lease", id.to_string()))
}
