//! Bids (Akash `MsgCreateBid`, `MsgCloseBid`).

use cosmwasm_std::{DepsMut, Env, Event, MessageInfo, Response};
use kumo::market::{Bid, BidState, GroupState, LeaseCloseReason, LeaseState, NewBid, OrderState};
use kumo::matching::{match_capabilities, match_offer, match_requirements, Audit};
use kumo::registry::{self, ProviderStatus};
use kumo::{Asset, BidId};

use crate::error::ContractError;
use crate::execute::{
    close_order, end_lease, load_bid, load_deployment, load_group, load_order, staking_refusal,
    state_name, update_stats, Effects, LeaseEnd,
};
use crate::funds::Incoming;
use crate::state::store;
use crate::state::{
    bid_key, provider_order_key, BIDS, BID_SEQ, CONFIG, PROVIDER_BIDS, PROVIDER_STATS,
};
use kumo::json::text;

/// `MsgCreateBid`, with Akash's checks in Akash's order: deposit, bid count, one bid per
/// provider, order open, price, offer, provider registered, attributes and auditors,
/// capabilities. Kumo adds the auction window and the reclamation window rules.
pub fn create(
    deps: DepsMut,
    env: Env,
    funds: Incoming,
    new: NewBid,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    let params = &config.params;
    let provider = funds.sender.clone();

    // 1. The deposit: a listed denomination, at least its minimum.
    let Some(min) = params
        .bid_min_deposits
        .iter()
        .find(|a| a.denom == funds.denom)
    else {
        return Err(ContractError::BidDepositDenom {
            denom: funds.denom.to_string(),
            accepted: params
                .bid_min_deposits
                .iter()
                .map(|a| a.denom.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    if funds.amount < min.amount {
        return Err(ContractError::BidDepositTooSmall {
            got: funds.amount,
            min: min.amount,
        });
    }
    // 2. Bid count; 3. one bid per provider; 4. the order is open.
    let order_id = new.order.clone();
    let order = store::order_and_flag(deps.storage, &order_id)?;
    if let Some((order, _)) = &order {
        if order.bids >= params.order_max_bids {
            return Err(ContractError::TooManyBids {
                order: order_id.to_string(),
                max: params.order_max_bids,
            });
        }
    }
    let id = order_id.bid(provider.clone());
    if BIDS.has(deps.storage, bid_key(&id)) {
        return Err(ContractError::BidExists { id: id.to_string() });
    }
    let Some((mut order, needs_record)) = order else {
        return Err(ContractError::OrderNotFound {
            id: order_id.to_string(),
        });
    };
    if order.state != OrderState::Open {
        return Err(ContractError::OrderNotOpen {
            id: order_id.to_string(),
        });
    }
    if let Some(ends) = order.auction_ends_at {
        if env.block.time >= ends {
            return Err(ContractError::AuctionEnded {
                id: order_id.to_string(),
                ends_at: ends.seconds(),
            });
        }
    }
    // 5. The price.
    if new.price.is_zero() {
        return Err(ContractError::ZeroPrice);
    }
    if new.price > order.price {
        return Err(ContractError::BidAbovePrice {
            bid: new.price,
            max: order.price,
        });
    }
    // 6. The offer covers the group.
    let group = load_group(deps.storage, &order_id.group())?;
    let offer: Vec<(u32, u32)> = new.offer.iter().map(|o| (o.resource_id, o.count)).collect();
    match_offer(&group.spec, &offer)?;
    // Reclamation window (AEP-82): required when the order asks for one, and within bounds.
    if let Some(min_window) = order.reclamation_min_window {
        match new.reclamation_window {
            Some(w) if w >= min_window => {}
            _ => return Err(ContractError::ReclamationRequired { min: min_window }),
        }
    }
    if let Some(w) = new.reclamation_window {
        if w < params.min_reclamation_window || w > params.max_reclamation_window {
            return Err(ContractError::ReclamationWindow {
                got: w,
                min: params.min_reclamation_window,
                max: params.max_reclamation_window,
            });
        }
    }
    // 7. A registered provider that is not leaving; 8. attributes and auditors; 9. capabilities.
    // Raw reads of the registry's records (store reads, not a contract instance).
    let registered =
        registry::PROVIDER_MATCH.query(&deps.querier, config.registry.clone(), &provider)?;
    let Some(registered) = registered else {
        return Err(ContractError::ProviderNotRegistered {
            provider: provider.to_string(),
        });
    };
    if let ProviderStatus::Deregistering { .. } = registered.status {
        return Err(ContractError::ProviderDeregistering {
            provider: provider.to_string(),
        });
    }
    // Bounded: a group's `signedBy` has at most `MAX_SIGNED_BY` auditors.
    let signed_by = &group.spec.requirements.signed_by;
    let mut signed = Vec::new();
    for auditor in signed_by.all_of.iter().chain(&signed_by.any_of) {
        let auditor = cosmwasm_std::Addr::unchecked(auditor);
        if let Some(attributes) = registry::AUDITS.query(
            &deps.querier,
            config.registry.clone(),
            (&provider, &auditor),
        )? {
            signed.push((auditor, attributes));
        }
    }
    let audits: Vec<Audit> = signed
        .iter()
        .map(|(auditor, attributes)| Audit {
            auditor: auditor.as_str(),
            attributes,
        })
        .collect();
    // Bonded and not jailed (Kumo): right after "registered", as DESIGN.md orders the checks.
    // The provider's counters are read once, for this check, the record check and the update.
    let mut stats = PROVIDER_STATS
        .may_load(deps.storage, &provider)?
        .unwrap_or_default();
    if let Some(reason) = staking_refusal(
        deps.as_ref(),
        config.staking.as_ref(),
        &provider,
        Some(&stats),
        env.block.time,
    )? {
        return Err(ContractError::NotEligible {
            provider: provider.to_string(),
            reason,
        });
    }
    match_requirements(&group.spec, &registered.attributes, &audits)?;
    match_capabilities(&group.spec, &registered.attributes)?;
    // The track record the tenant asked for (Kumo); the order says whether there is one, so
    // the deployment is read only then.
    let deployment = if needs_record {
        Some(load_deployment(deps.storage, &order_id.deployment())?)
    } else {
        None
    };
    if let Some(req) = deployment.as_ref().and_then(|d| d.provider_record.as_ref()) {
        check_record(
            deps.as_ref(),
            config.staking.as_ref(),
            &provider,
            &stats.record,
            req,
        )?;
    }

    let seq = BID_SEQ.may_load(deps.storage)?.unwrap_or_default() + 1;
    BID_SEQ.save(deps.storage, &seq)?;
    let bid = Bid {
        id: id.clone(),
        seq,
        state: BidState::Open,
        price: new.price,
        deposit: Asset {
            denom: funds.denom.clone(),
            amount: funds.amount,
        },
        reclamation_window: new.reclamation_window,
        created_at: env.block.time,
    };
    store::save_bid(deps.storage, &bid)?;
    order.bids += 1;
    store::save_order_bids(deps.storage, &order)?;
    PROVIDER_BIDS.save(deps.storage, provider_order_key(&id), &true)?;
    stats.open_bids += 1;
    stats.add_deposit(&funds.denom, funds.amount);
    PROVIDER_STATS.save(deps.storage, &provider, &stats)?;

    // The deposit stays with the market (native coins in `info.funds`, or the tokens a CW20
    // `Send` brought): the bid record is its ledger entry until the bid closes, loses or its
    // lease ends, when `Effects::refund_bid` returns it.
    Ok(Response::new()
        .add_attribute("action", "create_bid")
        .add_attribute("bid", id.to_string())
        .add_attribute("price", text(&bid.price))
        .add_attribute("deposit", bid.deposit.to_string()))
}

/// Compares a provider's lease counters (and, when asked, its slashes in the staking contract)
/// with a deployment's requirement.
fn check_record(
    deps: cosmwasm_std::Deps,
    staking: Option<&cosmwasm_std::Addr>,
    provider: &cosmwasm_std::Addr,
    record: &kumo::market::LeaseRecord,
    req: &kumo::market::RecordRequirement,
) -> Result<(), ContractError> {
    let weak = |reason: String| {
        Err(ContractError::RecordTooWeak {
            provider: provider.to_string(),
            reason,
        })
    };
    if record.completed < req.min_leases_completed {
        return weak(format!(
            "{} leases completed, {} required",
            record.completed, req.min_leases_completed
        ));
    }
    if let Some(max) = req.max_closed_by_provider {
        if record.closed_by_provider > max {
            return weak(format!(
                "{} leases closed by the provider, at most {max} accepted",
                record.closed_by_provider
            ));
        }
    }
    if let (Some(max), Some(staking)) = (req.max_slashes, staking) {
        let res: kumo::staking::BidEligibilityResponse = kumo::json::query(
            &deps.querier,
            staking,
            &kumo::staking::QueryMsg::BidEligibility {
                provider: provider.to_string(),
            },
        )?;
        if res.reputation.slashes > max {
            return weak(format!(
                "{} slashes, at most {max} accepted",
                res.reputation.slashes
            ));
        }
    }
    Ok(())
}

/// `MsgCloseBid` by the provider: an open bid is withdrawn (deposit refunded); an active bid
/// closes its lease with a provider reason, after the reclamation window when one was promised,
/// and pauses the group (the tenant re-lists it with `StartGroup`), as on Akash.
pub fn close(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: BidId,
    reason: Option<LeaseCloseReason>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != id.provider {
        return Err(ContractError::unauthorized(id.provider.to_string()));
    }
    let reason = reason.unwrap_or(LeaseCloseReason::Unspecified);
    if !reason.is_provider_reason() {
        return Err(ContractError::NotProviderReason {
            code: reason.code(),
        });
    }
    let mut bid = load_bid(deps.storage, &id)?;
    let mut fx = Effects::new(config.escrow, env.block.time);
    match bid.state {
        BidState::Open => {
            BIDS.remove(deps.storage, bid_key(&id));
            PROVIDER_BIDS.remove(deps.storage, provider_order_key(&id));
            // The slot frees up for another provider.
            let mut order = load_order(deps.storage, &id.order())?;
            order.bids = order.bids.saturating_sub(1);
            store::save_order_bids(deps.storage, &order)?;
            fx.events.push(
                Event::new("bid_closed")
                    .add_attribute("bid", id.to_string())
                    .add_attribute("state", "closed"),
            );
            update_stats(deps.storage, &id.provider, |s| {
                s.open_bids = s.open_bids.saturating_sub(1);
                s.sub_deposit(&bid.deposit.denom, bid.deposit.amount);
            })?;
            fx.refund_bid(&bid);
        }
        BidState::Active => {
            let lease = store::lease(deps.storage, &id)?
                .ok_or_else(|| ContractError::LeaseNotFound { id: id.to_string() })?;
            if lease.reclamation_window.is_some() {
                match (lease.state, lease.reclaim_deadline) {
                    (LeaseState::Reclaiming, Some(deadline)) if env.block.time >= deadline => {}
                    (LeaseState::Reclaiming, Some(deadline)) => {
                        return Err(ContractError::ReclaimRunning {
                            id: id.to_string(),
                            deadline: deadline.seconds(),
                        })
                    }
                    _ => return Err(ContractError::ReclaimFirst { id: id.to_string() }),
                }
            }
            let deployment = load_deployment(deps.storage, &id.deployment())?;
            end_lease(
                deps.storage,
                &mut fx,
                &mut bid,
                &deployment.denom,
                LeaseEnd::Closed(reason),
            )?;
            close_order(deps.storage, &mut fx, &id.order());
            let mut group = load_group(deps.storage, &id.group())?;
            if group.state == GroupState::Open {
                group.state = GroupState::Paused;
                store::save_group(deps.storage, &group)?;
                fx.events.push(
                    Event::new("group_state")
                        .add_attribute("group", group.id.to_string())
                        .add_attribute("state", "Paused"),
                );
            }
        }
        state => {
            return Err(ContractError::BidState {
                id: id.to_string(),
                state: state_name(state),
                expected: "open or active".into(),
            })
        }
    }
    Ok(fx
        .into_response("close_bid")
        .add_attribute("bid", id.to_string())
        .add_attribute("reason", reason.code().to_string()))
}
