//! Instantiation, configuration and pausing.

use cosmwasm_std::{DepsMut, MessageInfo, Response};
use kumo::entry::addr_validate;
use kumo::market::{InstantiateMsg, MarketParams};

use crate::error::ContractError;
use crate::state::{Config, CONFIG};

pub fn instantiate(deps: DepsMut, msg: InstantiateMsg) -> Result<Response, ContractError> {
    let api = deps.api;
    let params = msg.params.unwrap_or_default();
    validate_params(&params)?;
    let config = Config {
        owner: addr_validate(api, &msg.owner)?,
        registry: addr_validate(api, &msg.registry)?,
        escrow: addr_validate(api, &msg.escrow)?,
        staking: msg.staking.map(|a| addr_validate(api, &a)).transpose()?,
        guardian: msg.guardian.map(|a| addr_validate(api, &a)).transpose()?,
        paused: false,
        params,
    };
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("owner", config.owner)
        .add_attribute("registry", config.registry)
        .add_attribute("escrow", config.escrow))
}

pub fn validate_params(p: &MarketParams) -> Result<(), ContractError> {
    let bad = |reason: &str| {
        Err(ContractError::InvalidParams {
            reason: reason.to_string(),
        })
    };
    if p.block_time_ms == 0 {
        return bad("block_time_ms must be positive");
    }
    if p.order_max_bids == 0 || p.order_max_bids > 100 {
        return bad("order_max_bids must be 1 to 100 (it bounds the loops over an order's bids)");
    }
    if p.max_groups == 0 || p.max_groups > 100 {
        return bad("max_groups must be 1 to 100 (it bounds the loops over a deployment's groups)");
    }
    if p.min_reclamation_window > p.max_reclamation_window {
        return bad("min_reclamation_window exceeds max_reclamation_window");
    }
    for (i, a) in p.bid_min_deposits.iter().enumerate() {
        if p.bid_min_deposits[..i].iter().any(|b| b.denom == a.denom) {
            return bad("bid_min_deposits lists a denomination twice");
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn update_config(
    deps: DepsMut,
    info: MessageInfo,
    owner: Option<String>,
    registry: Option<String>,
    escrow: Option<String>,
    staking: Option<String>,
    guardian: Option<String>,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    if info.sender != config.owner {
        return Err(ContractError::unauthorized(config.owner));
    }
    let api = deps.api;
    if let Some(a) = owner {
        config.owner = addr_validate(api, &a)?;
    }
    if let Some(a) = registry {
        config.registry = addr_validate(api, &a)?;
    }
    if let Some(a) = escrow {
        config.escrow = addr_validate(api, &a)?;
    }
    if let Some(a) = staking {
        config.staking = Some(addr_validate(api, &a)?);
    }
    if let Some(a) = guardian {
        config.guardian = Some(addr_validate(api, &a)?);
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("owner", config.owner)
        .add_attribute("registry", config.registry)
        .add_attribute("escrow", config.escrow))
}

pub fn update_params(
    deps: DepsMut,
    info: MessageInfo,
    params: MarketParams,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    if info.sender != config.owner {
        return Err(ContractError::unauthorized(config.owner));
    }
    validate_params(&params)?;
    config.params = params;
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", "update_params"))
}

/// The guardian (or the owner) may pause; only they may unpause.
pub fn set_paused(
    deps: DepsMut,
    info: MessageInfo,
    paused: bool,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    let allowed = info.sender == config.owner || config.guardian.as_ref() == Some(&info.sender);
    if !allowed {
        return Err(ContractError::unauthorized("the owner or the guardian"));
    }
    config.paused = paused;
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", if paused { "pause" } else { "unpause" }))
}
