//! Queries. Every list takes `start_after` and `limit` (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]).

use cosmwasm_std::{Binary, Deps, Env, Order as IterOrder, StdError, StdResult};
use cw_storage_plus::Bound;
use kumo::json::to_binary;
use kumo::market::{
    BidResponse, BidsResponse, ConfigResponse, DeploymentResponse, DeploymentsResponse,
    GroupResponse, LeaseResponse, LeasesResponse, OrderResponse, OrdersResponse,
    ProviderStatsResponse, QueryMsg,
};
use kumo::{DeploymentId, GroupId};

use crate::state::{bid_of, order_key, store};
use crate::state::{
    CONFIG, DEPLOYMENTS, LEASES, OPEN_ORDERS, PROVIDER_BIDS, PROVIDER_LEASES, PROVIDER_STATS,
};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

/// The items of a page, or the first error: a loop, smaller wasm per item type than
/// `collect::<StdResult<Vec<_>>>()`.
trait Page<T>: Iterator<Item = StdResult<T>> + Sized {
    fn page(self) -> StdResult<Vec<T>> {
        let mut out = Vec::new();
        for item in self {
            out.push(item?);
        }
        Ok(out)
    }
}

impl<T, I: Iterator<Item = StdResult<T>>> Page<T> for I {}

fn limit(l: Option<u32>) -> usize {
    l.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

pub fn dispatch(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => to_binary(&config(deps)?),
        QueryMsg::Deployment { id } => to_binary(&deployment(deps, &id)?),
        QueryMsg::Deployments {
            owner,
            start_after,
            limit: l,
        } => {
            let owner = deps.api.addr_validate(&owner)?;
            let deployments = DEPLOYMENTS
                .prefix_range(
                    deps.storage,
                    owner.clone(),
                    start_after,
                    IterOrder::Ascending,
                )
                .take(limit(l))
                .map(|r| r.map(|(dseq, d)| d.restore(DeploymentId::new(owner.clone(), dseq))))
                .page()?;
            to_binary(&DeploymentsResponse { deployments })
        }
        QueryMsg::Group { id } => to_binary(&GroupResponse {
            group: load_group(deps, &id)?,
        }),
        QueryMsg::Order { id } => {
            let order = store::order(deps.storage, &id)?.ok_or_else(|| not_found("order", &id))?;
            to_binary(&OrderResponse {
                order,
                group: load_group(deps, &id.group())?,
            })
        }
        QueryMsg::OpenOrders {
            start_after,
            limit: l,
        } => {
            // The cursor is a key, not a lookup: it works after its order was deleted.
            let start = start_after
                .as_ref()
                .map(|id| Bound::exclusive(order_key(id)));
            let orders = OPEN_ORDERS
                .keys(deps.storage, start, None, IterOrder::Ascending)
                .take(limit(l))
                .map(|k| {
                    let ((owner, dseq), (gseq, oseq)) = k?;
                    let id = DeploymentId::new(owner, dseq).group(gseq).order(oseq);
                    store::order(deps.storage, &id)?.ok_or_else(|| not_found("order", &id))
                })
                .page()?;
            to_binary(&OrdersResponse { orders })
        }
        QueryMsg::Bid { id } => to_binary(&BidResponse {
            bid: store::bid(deps.storage, &id)?.ok_or_else(|| not_found("bid", &id))?,
        }),
        QueryMsg::Bids {
            order,
            start_after,
            limit: l,
        } => {
            let start = start_after
                .map(|p| deps.api.addr_validate(&p))
                .transpose()?;
            let bids = store::bids_of(deps.storage, &order, start)
                .take(limit(l))
                .page()?;
            to_binary(&BidsResponse { bids })
        }
        QueryMsg::ProviderBids {
            provider,
            start_after,
            limit: l,
        } => {
            let provider = deps.api.addr_validate(&provider)?;
            // The cursor is a key, not a lookup: it works after its bid was deleted.
            let start = start_after.map(|id| order_key(&id.order()));
            let bids = PROVIDER_BIDS
                .prefix_range(deps.storage, provider.clone(), start, IterOrder::Ascending)
                .take(limit(l))
                .map(|r| {
                    let id = bid_of(&provider, r?.0);
                    store::bid(deps.storage, &id)?.ok_or_else(|| not_found("bid", &id))
                })
                .page()?;
            to_binary(&BidsResponse { bids })
        }
        QueryMsg::Lease { id } => to_binary(&LeaseResponse {
            lease: store::lease(deps.storage, &id)?.ok_or_else(|| not_found("lease", &id))?,
        }),
        QueryMsg::OwnerLeases {
            owner,
            start_after,
            limit: l,
        } => {
            let owner = deps.api.addr_validate(&owner)?;
            let start = start_after.map(|id| (id.dseq, (id.gseq, id.oseq, id.provider)));
            let leases = LEASES
                .sub_prefix_range(deps.storage, owner.clone(), start, IterOrder::Ascending)
                .take(limit(l))
                .map(|r| {
                    r.map(|((dseq, (gseq, oseq, provider)), lease)| {
                        lease.restore(
                            DeploymentId::new(owner.clone(), dseq)
                                .group(gseq)
                                .order(oseq)
                                .bid(provider),
                        )
                    })
                })
                .page()?;
            to_binary(&LeasesResponse { leases })
        }
        QueryMsg::ProviderLeases {
            provider,
            start_after,
            limit: l,
        } => {
            let provider = deps.api.addr_validate(&provider)?;
            let start = start_after.map(|id| order_key(&id.order()));
            let leases = PROVIDER_LEASES
                .prefix_range(deps.storage, provider.clone(), start, IterOrder::Ascending)
                .take(limit(l))
                .map(|r| {
                    let id = bid_of(&provider, r?.0);
                    store::lease(deps.storage, &id)?.ok_or_else(|| not_found("lease", &id))
                })
                .page()?;
            to_binary(&LeasesResponse { leases })
        }
        QueryMsg::ProviderStats { provider } => {
            let provider = deps.api.addr_validate(&provider)?;
            let s = PROVIDER_STATS
                .may_load(deps.storage, &provider)?
                .unwrap_or_default();
            to_binary(&ProviderStatsResponse::from(s))
        }
    }
}

fn not_found(what: &str, id: &impl std::fmt::Display) -> StdError {
    StdError::not_found(format!("{what} {id}"))
}

fn config(deps: Deps) -> StdResult<ConfigResponse> {
    let c = CONFIG.load(deps.storage)?;
    Ok(ConfigResponse {
        owner: c.owner,
        registry: c.registry,
        escrow: c.escrow,
        staking: c.staking,
        guardian: c.guardian,
        params: c.params,
        paused: c.paused,
    })
}

fn deployment(deps: Deps, id: &DeploymentId) -> StdResult<DeploymentResponse> {
    let deployment =
        store::deployment(deps.storage, id)?.ok_or_else(|| not_found("deployment", id))?;
    // Bounded by `max_groups`.
    let groups = store::groups_of(deps.storage, id)?;
    Ok(DeploymentResponse { deployment, groups })
}

fn load_group(deps: Deps, id: &GroupId) -> StdResult<kumo::market::Group> {
    store::group(deps.storage, id)?.ok_or_else(|| not_found("group", id))
}
