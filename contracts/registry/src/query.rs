//! Queries; lists take `start_after` and `limit` (default 10, at most 30).

use cosmwasm_std::{Binary, Deps, Order, StdError, StdResult};
use kumo::json::to_binary;
use kumo::registry::{
    AuditedAttributes, AuditedAttributesListResponse, AuditedAttributesResponse, ConfigResponse,
    MatchInfoResponse, ProviderResponse, ProvidersResponse, QueryMsg,
};

use crate::state::{AUDITS, CONFIG, PROVIDERS};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;
/// Auditors one `MatchInfo` may ask about: a fixed bound (the market caps a group's `signedBy`
/// at 32), independent of the governance-set limits so that lowering them cannot break bidding.
pub const MAX_MATCH_AUDITORS: usize = 64;

fn limit(l: Option<u32>) -> usize {
    l.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

pub fn dispatch(deps: Deps, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_binary(&ConfigResponse {
                owner: c.owner,
                market: c.market,
                limits: c.limits,
            })
        }
        QueryMsg::Provider { address } => {
            let addr = deps.api.addr_validate(&address)?;
            let provider = PROVIDERS
                .may_load(deps.storage, addr)?
                .ok_or_else(|| StdError::not_found(format!("provider {address}")))?;
            to_binary(&ProviderResponse { provider })
        }
        QueryMsg::Providers {
            start_after,
            limit: l,
        } => {
            let start = start_after
                .map(|a| deps.api.addr_validate(&a))
                .transpose()?;
            let providers = PROVIDERS
                .range(deps.storage, start, Order::Ascending)
                .take(limit(l))
                .map(|r| r.map(|(_, p)| p))
                .collect::<kumo::Result<_>>()?;
            to_binary(&ProvidersResponse { providers })
        }
        QueryMsg::AuditedAttributes { provider, auditor } => {
            let provider = deps.api.addr_validate(&provider)?;
            let auditor = deps.api.addr_validate(&auditor)?;
            let attributes = AUDITS
                .may_load(deps.storage, (provider.clone(), auditor.clone()))?
                .ok_or_else(|| {
                    StdError::not_found(format!("attributes {auditor} signed for {provider}"))
                })?;
            to_binary(&AuditedAttributesResponse {
                audited: AuditedAttributes {
                    provider,
                    auditor,
                    attributes,
                },
            })
        }
        QueryMsg::ProviderAudits {
            provider,
            start_after,
            limit: l,
        } => {
            let provider = deps.api.addr_validate(&provider)?;
            let start = start_after
                .map(|a| deps.api.addr_validate(&a))
                .transpose()?;
            let audits = AUDITS
                .prefix_range(deps.storage, provider.clone(), start, Order::Ascending)
                .take(limit(l))
                .map(|r| {
                    r.map(|(auditor, attributes)| AuditedAttributes {
                        provider: provider.clone(),
                        auditor,
                        attributes,
                    })
                })
                .collect::<kumo::Result<_>>()?;
            to_binary(&AuditedAttributesListResponse { audits })
        }
        QueryMsg::MatchInfo { provider, auditors } => {
            let max = MAX_MATCH_AUDITORS;
            if auditors.len() > max {
                return Err(StdError::generic_err(format!(
                    "{} auditors asked for; at most {max} are allowed",
                    auditors.len()
                )));
            }
            // Invalid addresses cannot have signed anything; a deployment may name any string.
            let provider_addr = deps.api.addr_validate(&provider)?;
            let found = PROVIDERS.may_load(deps.storage, provider_addr.clone())?;
            let mut audits = Vec::new();
            for a in auditors {
                let Ok(auditor) = deps.api.addr_validate(&a) else {
                    continue;
                };
                if let Some(attributes) =
                    AUDITS.may_load(deps.storage, (provider_addr.clone(), auditor.clone()))?
                {
                    audits.push(AuditedAttributes {
                        provider: provider_addr.clone(),
                        auditor,
                        attributes,
                    });
                }
            }
            to_binary(&MatchInfoResponse {
                provider: found,
                audits,
            })
        }
    }
}
