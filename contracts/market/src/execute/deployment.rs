//! Deployments and groups (Akash `x/deployment`): create, update, close, pause and start groups,
//! deposits, and the escrow's overdrawn callback.

use cosmwasm_std::{DepsMut, Env, Event, HexBinary, MessageInfo, Response};
use kumo::attributes::validate_attributes;
use kumo::escrow::{self, AccountId, EscrowCallback};
use kumo::market::{
    Deployment, DeploymentState, Group, GroupState, LeaseCloseReason, NewDeployment,
};
use kumo::{DeploymentId, GroupSpec};

use crate::error::ContractError;
use crate::execute::{
    end_group, load_active_deployment, load_group, next_seq, open_order, per_second, state_name,
    Effects, LeaseEnd,
};
use crate::funds::Incoming;
use crate::state::store;
use crate::state::{deployment_key, CONFIG, DEPLOYMENTS, GROUPS, SEQ};
use kumo::json::text;

/// Bounds on what one group spec may hold, so that storing and matching it stays cheap.
pub const MAX_GROUP_NAME_LEN: usize = 128;
pub const MAX_RESOURCE_UNITS: usize = 64;
pub const MAX_REQUIREMENT_ATTRIBUTES: usize = 64;
/// `signedBy` auditors (all of + any of): the registry answers for at most 32 at once.
pub const MAX_SIGNERS: usize = 32;

fn invalid(reason: impl Into<String>) -> ContractError {
    ContractError::InvalidDeployment {
        reason: reason.into(),
    }
}

/// What Akash's `GroupSpec.ValidateBasic` checks that a contract can check cheaply, plus Kumo's
/// size bounds. The SDL crate has already validated everything else off chain; providers check
/// the resources again before they bid.
fn validate_group(spec: &GroupSpec, denom: &str, seen: &[GroupSpec]) -> Result<(), ContractError> {
    if spec.name.is_empty() || spec.name.len() > MAX_GROUP_NAME_LEN {
        return Err(invalid(format!(
            "group names are 1 to {MAX_GROUP_NAME_LEN} bytes, got {:?}",
            spec.name
        )));
    }
    if seen.iter().any(|g| g.name == spec.name) {
        return Err(invalid(format!("group name {:?} appears twice", spec.name)));
    }
    if spec.resources.is_empty() || spec.resources.len() > MAX_RESOURCE_UNITS {
        return Err(invalid(format!(
            "group {:?} must have 1 to {MAX_RESOURCE_UNITS} resource units",
            spec.name
        )));
    }
    let req = &spec.requirements;
    if req.attributes.len() > MAX_REQUIREMENT_ATTRIBUTES {
        return Err(invalid(format!(
            "group {:?} has more than {MAX_REQUIREMENT_ATTRIBUTES} required attributes",
            spec.name
        )));
    }
    validate_attributes(&req.attributes)
        .map_err(|e| invalid(format!("group {:?}: {e}", spec.name)))?;
    if req.signed_by.all_of.len() + req.signed_by.any_of.len() > MAX_SIGNERS {
        return Err(invalid(format!(
            "group {:?} names more than {MAX_SIGNERS} auditors in signedBy",
            spec.name
        )));
    }
    for (i, unit) in spec.resources.iter().enumerate() {
        let r = &unit.resources;
        if spec.resources[..i].iter().any(|u| u.resources.id == r.id) {
            return Err(invalid(format!(
                "group {:?} has resource unit id {} twice",
                spec.name, r.id
            )));
        }
        if unit.count == 0 {
            return Err(invalid(format!(
                "group {:?} unit {}: count must be positive",
                spec.name, r.id
            )));
        }
        if r.cpu.units == 0 || r.memory.size.is_zero() {
            return Err(invalid(format!(
                "group {:?} unit {}: cpu and memory must be positive",
                spec.name, r.id
            )));
        }
        if unit.price.amount.is_zero() {
            return Err(invalid(format!(
                "group {:?} unit {}: price must be positive",
                spec.name, r.id
            )));
        }
        if unit.price.denom != denom {
            return Err(ContractError::DenomMismatch {
                price: unit.price.denom.clone(),
                deposit: denom.to_string(),
            });
        }
    }
    Ok(())
}

pub fn validate_version(version: &HexBinary) -> Result<(), ContractError> {
    if version.len() != 32 {
        return Err(ContractError::InvalidVersion { len: version.len() });
    }
    Ok(())
}

pub fn create(
    deps: DepsMut,
    env: Env,
    funds: Incoming,
    new: NewDeployment,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    let params = &config.params;
    if new.groups.is_empty() || new.groups.len() > params.max_groups as usize {
        return Err(ContractError::GroupCount {
            got: new.groups.len(),
            max: params.max_groups,
        });
    }
    validate_version(&new.version)?;
    if let Some(w) = new.auction_window {
        if w == 0 || w > params.max_auction_window {
            return Err(ContractError::AuctionWindowTooLong {
                got: w,
                max: params.max_auction_window,
            });
        }
    }
    if let Some(w) = new.reclamation_min_window {
        if w < params.min_reclamation_window || w > params.max_reclamation_window {
            return Err(ContractError::ReclamationWindow {
                got: w,
                min: params.min_reclamation_window,
                max: params.max_reclamation_window,
            });
        }
    }
    let denom = funds.denom.to_string();
    for (i, spec) in new.groups.iter().enumerate() {
        validate_group(spec, &denom, &new.groups[..i])?;
    }

    let owner = funds.sender.clone();
    // `dseq` and the orders' `seq`s: the next `1 + groups` numbers (see `SEQ`).
    let dseq = SEQ.may_load(deps.storage)?.unwrap_or_default() + 1;
    SEQ.save(deps.storage, &(dseq + new.groups.len() as u64))?;
    let id = DeploymentId::new(owner.clone(), dseq);
    let deployment = Deployment {
        id: id.clone(),
        state: DeploymentState::Active,
        version: new.version,
        denom: funds.denom.clone(),
        groups: new.groups.len() as u32,
        auction_window: new.auction_window,
        reclamation_min_window: new.reclamation_min_window,
        provider_record: new.provider_record,
        created_at: env.block.time,
    };
    store::save_deployment(deps.storage, &deployment)?;

    let mut fx = Effects::new(config.escrow.clone(), env.block.time);
    // The escrow account opens first: a deposit below its minimum fails the whole transaction.
    fx.msgs.push(funds.forward(
        &config.escrow,
        &escrow::MarketCall::OpenAccount {
            id: AccountId::Deployment(id.clone()),
            owner: owner.to_string(),
            depositor: owner.to_string(),
        },
        &escrow::ReceiveMsg::OpenAccount {
            id: AccountId::Deployment(id.clone()),
            owner: owner.to_string(),
            depositor: owner.to_string(),
        },
    ));
    for (i, spec) in new.groups.into_iter().enumerate() {
        let gid = id.group(i as u32 + 1);
        let mut group = Group {
            id: gid,
            state: GroupState::Open,
            price: per_second(spec.price(), params)?,
            spec,
            last_oseq: 0,
            created_at: env.block.time,
        };
        open_order(
            deps.storage,
            &mut fx,
            &deployment,
            &mut group,
            dseq + i as u64 + 1,
        )?;
    }
    let mut res = fx.into_response("create_deployment");
    res = res
        .add_attribute("owner", owner)
        .add_attribute("dseq", dseq.to_string())
        .add_attribute("deposit", funds.amount.to_string())
        .add_attribute("denom", denom)
        .add_attribute("version", text(&deployment.version));
    Ok(res)
}

pub fn update(
    deps: DepsMut,
    info: MessageInfo,
    dseq: u64,
    version: HexBinary,
) -> Result<Response, ContractError> {
    validate_version(&version)?;
    let id = DeploymentId::new(info.sender, dseq);
    let mut deployment = load_active_deployment(deps.storage, &id)?;
    deployment.version = version;
    store::save_deployment(deps.storage, &deployment)?;
    Ok(Response::new()
        .add_attribute("action", "update_deployment")
        .add_attribute("deployment", id.to_string())
        .add_attribute("version", text(&deployment.version)))
}

/// The groups of one deployment (at most `max_groups`).
fn groups_of(
    storage: &dyn cosmwasm_std::Storage,
    id: &DeploymentId,
) -> Result<Vec<Group>, ContractError> {
    Ok(store::groups_of(storage, id)?)
}

/// A closed deployment and its groups are deleted once their orders, bids and leases are
/// (AEP-79 REQ-EVM-024): the events are the record. `SEQ` never gives its `dseq` again.
fn delete_deployment(
    storage: &mut dyn cosmwasm_std::Storage,
    fx: &mut Effects,
    id: &DeploymentId,
) -> Result<(), ContractError> {
    for group in groups_of(storage, id)? {
        GROUPS.remove(storage, crate::state::group_key(&group.id));
    }
    DEPLOYMENTS.remove(storage, deployment_key(id));
    fx.events
        .push(Event::new("deployment_closed").add_attribute("deployment", id.to_string()));
    Ok(())
}

/// Akash cascade: every group closes (its order, bids and lease with it), then the escrow
/// account closes, paying the providers to the second and refunding the depositors.
pub fn close(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    dseq: u64,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let id = DeploymentId::new(info.sender, dseq);
    let deployment = load_active_deployment(deps.storage, &id)?;
    let mut fx = Effects::new(config.escrow, env.block.time);
    for mut group in groups_of(deps.storage, &id)? {
        if group.state != GroupState::Closed {
            end_group(
                deps.storage,
                &mut fx,
                &mut group,
                &deployment.denom,
                GroupState::Closed,
                LeaseEnd::Closed(LeaseCloseReason::Owner),
            )?;
        }
    }
    delete_deployment(deps.storage, &mut fx, &id)?;
    fx.escrow(&escrow::MarketCall::CloseAccount {
        id: AccountId::Deployment(id.clone()),
    });
    Ok(fx
        .into_response("close_deployment")
        .add_attribute("deployment", id.to_string()))
}

fn group_transition(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    dseq: u64,
    gseq: u32,
    to: GroupState,
    action: &str,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let id = DeploymentId::new(info.sender, dseq);
    let deployment = load_active_deployment(deps.storage, &id)?;
    let mut group = load_group(deps.storage, &id.group(gseq))?;
    let allowed = match to {
        GroupState::Closed => group.state != GroupState::Closed,
        GroupState::Paused => group.state == GroupState::Open,
        _ => false,
    };
    if !allowed {
        return Err(ContractError::GroupState {
            id: group.id.to_string(),
            state: state_name(group.state),
            expected: if to == GroupState::Paused {
                "open".into()
            } else {
                "not closed".into()
            },
        });
    }
    let mut fx = Effects::new(config.escrow, env.block.time);
    end_group(
        deps.storage,
        &mut fx,
        &mut group,
        &deployment.denom,
        to,
        LeaseEnd::Closed(LeaseCloseReason::Owner),
    )?;
    Ok(fx
        .into_response(action)
        .add_attribute("group", group.id.to_string()))
}

pub fn close_group(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    dseq: u64,
    gseq: u32,
) -> Result<Response, ContractError> {
    group_transition(
        deps,
        env,
        info,
        dseq,
        gseq,
        GroupState::Closed,
        "close_group",
    )
}

pub fn pause_group(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    dseq: u64,
    gseq: u32,
) -> Result<Response, ContractError> {
    group_transition(
        deps,
        env,
        info,
        dseq,
        gseq,
        GroupState::Paused,
        "pause_group",
    )
}

/// Re-lists a paused group with a new order (`oseq` + 1).
pub fn start_group(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    dseq: u64,
    gseq: u32,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let id = DeploymentId::new(info.sender, dseq);
    let deployment = load_active_deployment(deps.storage, &id)?;
    let mut group = load_group(deps.storage, &id.group(gseq))?;
    if !matches!(
        group.state,
        GroupState::Paused | GroupState::InsufficientFunds
    ) {
        return Err(ContractError::GroupState {
            id: group.id.to_string(),
            state: state_name(group.state),
            expected: "paused".into(),
        });
    }
    group.state = GroupState::Open;
    let mut fx = Effects::new(config.escrow, env.block.time);
    let seq = next_seq(deps.storage)?;
    let order = open_order(deps.storage, &mut fx, &deployment, &mut group, seq)?;
    Ok(fx
        .into_response("start_group")
        .add_attribute("group", group.id.to_string())
        .add_attribute("oseq", order.id.oseq.to_string()))
}

/// Anyone may fund any active deployment; refunds go back to each depositor.
pub fn deposit(
    deps: DepsMut,
    funds: Incoming,
    id: DeploymentId,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    let deployment = load_active_deployment(deps.storage, &id)?;
    if deployment.denom != funds.denom {
        return Err(ContractError::DenomMismatch {
            price: deployment.denom.to_string(),
            deposit: funds.denom.to_string(),
        });
    }
    let account = AccountId::Deployment(id.clone());
    let msg = funds.forward(
        &config.escrow,
        &escrow::MarketCall::Deposit {
            id: account.clone(),
            depositor: Some(funds.sender.to_string()),
        },
        &escrow::ReceiveMsg::Deposit {
            id: account,
            depositor: Some(funds.sender.to_string()),
        },
    );
    Ok(Response::new()
        .add_message(msg)
        .add_attribute("action", "deposit")
        .add_attribute("deployment", id.to_string())
        .add_attribute("depositor", funds.sender)
        .add_attribute("amount", funds.amount.to_string()))
}

/// The escrow closed a deployment's account because it ran dry. As Akash's
/// `OnEscrowAccountClosed`: the deployment closes, its groups become insufficient-funds and
/// their leases close with reason 20000. Idempotent: a closed deployment is left as it is.
pub fn escrow_callback(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    callback: EscrowCallback,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != config.escrow {
        return Err(ContractError::unauthorized(config.escrow));
    }
    let EscrowCallback::AccountOverdrawn { deployment: id } = callback;
    let mut fx = Effects::new(config.escrow, env.block.time);
    let Some(deployment) = store::deployment(deps.storage, &id)? else {
        return Ok(fx.into_response("escrow_callback"));
    };
    if deployment.state != DeploymentState::Active {
        return Ok(fx.into_response("escrow_callback"));
    }
    for mut group in groups_of(deps.storage, &id)? {
        if group.state != GroupState::Closed {
            end_group(
                deps.storage,
                &mut fx,
                &mut group,
                &deployment.denom,
                GroupState::InsufficientFunds,
                LeaseEnd::InsufficientFunds,
            )?;
        }
    }
    delete_deployment(deps.storage, &mut fx, &id)?;
    fx.events.push(
        Event::new("insufficient_funds")
            .add_attribute("deployment", id.to_string())
            .add_attribute(
                "reason",
                LeaseCloseReason::InsufficientFunds.code().to_string(),
            ),
    );
    Ok(fx.into_response("escrow_callback"))
}
