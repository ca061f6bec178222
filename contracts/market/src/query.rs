//! Queries. Every list takes `start_after` and `limit` (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]).

use cosmwasm_std::{Binary, Deps, Env, Order as IterOrder};
use kumo::entry::addr_validate;
use kumo::json::to_binary;
use kumo::market::{
    BidResponse, BidsResponse, ConfigResponse, DeploymentResponse, DeploymentsResponse,
    GroupResponse, LeaseResponse, LeasesResponse, OrderResponse, OrdersResponse,
    ProviderStatsResponse, QueryMsg,
};
use kumo::{DeploymentId, GroupId};

use crate::error::ContractError;
use crate::state::{bid_of, order_key, store};
use crate::state::{
    CONFIG, DEPLOYMENTS, LEASES, OPEN_ORDERS, PROVIDER_BIDS, PROVIDER_LEASES, PROVIDER_STATS,
};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;

type Result<T> = std::result::Result<T, ContractError>;

/// The items of a page, or the first error: a loop, smaller wasm per item type than
/// `collect::<Result<Vec<_>>>()`.
trait Page<T, E: Into<ContractError>>: Iterator<Item = std::result::Result<T, E>> + Sized {
    fn page(self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for item in self {
            out.push(item.map_err(Into::into)?);
        }
        Ok(out)
    }
}

impl<T, E: Into<ContractError>, I: Iterator<Item = std::result::Result<T, E>>> Page<T, E> for I {}

fn limit(l: Option<u32>) -> usize {
    l.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

pub fn dispatch(deps: Deps, _env: Env, msg: QueryMsg) -> Result<Binary> {
    match msg {
        QueryMsg::Config {} => to_binary(&config(deps)?),
        QueryMsg::Deployment { id } => to_binary(&deployment(deps, &id)?),
        QueryMsg::Deployments {
            owner,
            start_after,
            limit: l,
        } => {
            let owner = addr_validate(deps.api, &owner)?;
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
            let start = start_after.as_ref().map(order_key);
            let orders = OPEN_ORDERS
                .range(deps.storage, start, IterOrder::Ascending)
                .take(limit(l))
                .map(|r| {
                    let (((owner, dseq), (gseq, oseq)), record) = r?;
                    let id = DeploymentId::new(owner, dseq).group(gseq).order(oseq);
                    store::restore_order(deps.storage, id, record)
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
                .map(|p| addr_validate(deps.api, &p))
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
            let provider = addr_validate(deps.api, &provider)?;
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
            let owner = addr_validate(deps.api, &owner)?;
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
            let provider = addr_validate(deps.api, &provider)?;
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
            let provider = addr_validate(deps.api, &provider)?;
            let s = PROVIDER_STATS
                .may_load(deps.storage, &provider)?
                .unwrap_or_default();
            to_binary(&ProviderStatsResponse::from(s))
        }
    }
}

fn not_found(what: &'static str, id: &impl std::fmt::Display) -> ContractError {
    ContractError::NotFound {
        what,
        id: id.to_string(),
    }
}

fn config(deps: Deps) -> Result<ConfigResponse> {
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

fn deployment(deps: Deps, id: &DeploymentId) -> Result<DeploymentResponse> {
    let deployment =
        store::deployment(deps.storage, id)?.ok_or_else(|| not_found("deployment", id))?;
    // Bounded by `max_groups`.
    let groups = store::groups_of(deps.storage, id)?;
    Ok(DeploymentResponse { deployment, groups })
}

fn load_group(deps: Deps, id: &GroupId) -> Result<kumo::market::Group> {
    store::group(deps.storage, id)?.ok_or_else(|| not_found("group", id))
}
