//! Execute handlers: locking, proposals, votes, tallies, execution.

use cosmwasm_std::{
    to_json_binary, Addr, BankMsg, Coin, CosmosMsg, Decimal, Deps, DepsMut, Env, Event,
    MessageInfo, Response, Uint128, WasmMsg,
};
use cw20::{Cw20ExecuteMsg, Cw20ReceiveMsg};
use kumo::governance::{
    ExecuteMsg, GovernanceParams, Proposal, ProposalStatus, ReceiveMsg, Tally, Vote,
};
use kumo::Denom;

use crate::error::ContractError;
use crate::state::{LOCKED, OPEN_DEPOSITS, PARAMS, PROPOSALS, PROPOSAL_SEQ, TOTAL_LOCKED, VOTES};

pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 10_000;

pub struct Incoming {
    pub sender: Addr,
    pub denom: Denom,
    pub amount: Uint128,
}

impl Incoming {
    pub fn native(info: &MessageInfo) -> Result<Self, ContractError> {
        let coin = cw_utils::one_coin(info)?;
        Ok(Incoming {
            sender: info.sender.clone(),
            denom: Denom::Native(coin.denom),
            amount: coin.amount,
        })
    }
}

fn send(denom: &Denom, to: &Addr, amount: Uint128) -> Result<Option<CosmosMsg>, ContractError> {
    if amount.is_zero() {
        return Ok(None);
    }
    Ok(Some(match denom {
        Denom::Native(d) => BankMsg::Send {
            to_address: to.to_string(),
            amount: vec![Coin::new(amount, d.clone())],
        }
        .into(),
        Denom::Cw20(token) => WasmMsg::Execute {
            contract_addr: token.to_string(),
            msg: to_json_binary(&Cw20ExecuteMsg::Transfer {
                recipient: to.to_string(),
                amount,
            })?,
            funds: vec![],
        }
        .into(),
    }))
}

fn burn(denom: &Denom, amount: Uint128) -> Result<Option<CosmosMsg>, ContractError> {
    if amount.is_zero() {
        return Ok(None);
    }
    Ok(Some(match denom {
        Denom::Native(d) => BankMsg::Burn {
            amount: vec![Coin::new(amount, d.clone())],
        }
        .into(),
        Denom::Cw20(token) => WasmMsg::Execute {
            contract_addr: token.to_string(),
            msg: to_json_binary(&Cw20ExecuteMsg::Burn { amount })?,
            funds: vec![],
        }
        .into(),
    }))
}

pub fn validate_params(p: &GovernanceParams) -> Result<(), ContractError> {
    let bad = |r: &str| ContractError::InvalidParams { reason: r.into() };
    let one = Decimal::one();
    if p.quorum > one || p.threshold > one || p.veto_threshold > one {
        return Err(bad("quorum and thresholds are at most 1"));
    }
    if p.voting_period == 0 {
        return Err(bad("voting_period must be positive"));
    }
    if p.max_messages == 0 || p.max_messages > 64 {
        return Err(bad("max_messages must be 1 to 64"));
    }
    Ok(())
}

fn check_denom(params: &GovernanceParams, denom: &Denom) -> Result<(), ContractError> {
    if *denom != params.denom {
        return Err(ContractError::WrongDenom {
            expected: params.denom.to_string(),
            got: denom.to_string(),
        });
    }
    Ok(())
}

pub fn lock(deps: DepsMut, env: Env, funds: Incoming) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    check_denom(&params, &funds.denom)?;
    let height = env.block.height;
    let locked = LOCKED
        .may_load(deps.storage, funds.sender.clone())?
        .unwrap_or_default()
        .checked_add(funds.amount)?;
    LOCKED.save(deps.storage, funds.sender.clone(), &locked, height)?;
    let total = TOTAL_LOCKED
        .may_load(deps.storage)?
        .unwrap_or_default()
        .checked_add(funds.amount)?;
    TOTAL_LOCKED.save(deps.storage, &total, height)?;
    Ok(Response::new().add_attribute("action", "lock").add_event(
        Event::new("locked")
            .add_attribute("voter", funds.sender)
            .add_attribute("amount", funds.amount)
            .add_attribute("locked", locked),
    ))
}

pub fn unlock(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    amount: Uint128,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let locked = LOCKED
        .may_load(deps.storage, info.sender.clone())?
        .unwrap_or_default();
    if amount.is_zero() || amount > locked {
        return Err(ContractError::NotEnoughLocked { amount, locked });
    }
    let height = env.block.height;
    LOCKED.save(
        deps.storage,
        info.sender.clone(),
        &(locked - amount),
        height,
    )?;
    let total = TOTAL_LOCKED.may_load(deps.storage)?.unwrap_or_default();
    TOTAL_LOCKED.save(deps.storage, &total.checked_sub(amount)?, height)?;
    let mut res = Response::new().add_attribute("action", "unlock").add_event(
        Event::new("unlocked")
            .add_attribute("voter", info.sender.to_string())
            .add_attribute("amount", amount),
    );
    if let Some(m) = send(&params.denom, &info.sender, amount)? {
        res = res.add_message(m);
    }
    Ok(res)
}

pub fn propose(
    deps: DepsMut,
    env: Env,
    funds: Incoming,
    title: String,
    description: String,
    msgs: Vec<CosmosMsg>,
) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    check_denom(&params, &funds.denom)?;
    if funds.amount != params.proposal_deposit {
        return Err(ContractError::WrongDeposit {
            expected: params.proposal_deposit,
            got: funds.amount,
        });
    }
    let bad = |r: String| ContractError::InvalidProposal { reason: r };
    if title.is_empty() || title.len() > MAX_TITLE {
        return Err(bad(format!("the title must be 1 to {MAX_TITLE} bytes")));
    }
    if description.len() > MAX_DESCRIPTION {
        return Err(bad(format!(
            "the description is over {MAX_DESCRIPTION} bytes"
        )));
    }
    if msgs.len() > params.max_messages as usize {
        return Err(bad(format!("at most {} messages", params.max_messages)));
    }
    let id = PROPOSAL_SEQ.may_load(deps.storage)?.unwrap_or_default() + 1;
    PROPOSAL_SEQ.save(deps.storage, &id)?;
    // Power is read as of the start of this block: tokens locked now do not count.
    let start_height = env.block.height;
    let total_power = TOTAL_LOCKED
        .may_load_at_height(deps.storage, start_height)?
        .unwrap_or_default();
    let proposal = Proposal {
        id,
        proposer: funds.sender.clone(),
        title,
        description,
        msgs,
        deposit: funds.amount,
        status: ProposalStatus::Open,
        start_height,
        voting_ends_at: env.block.time.plus_seconds(params.voting_period),
        total_power,
        tally: Tally::default(),
        executable_at: None,
    };
    PROPOSALS.save(deps.storage, id, &proposal)?;
    let open = OPEN_DEPOSITS.may_load(deps.storage)?.unwrap_or_default();
    OPEN_DEPOSITS.save(deps.storage, &open.checked_add(funds.amount)?)?;
    Ok(Response::new()
        .add_attribute("action", "propose")
        .add_event(
            Event::new("proposal_opened")
                .add_attribute("id", id.to_string())
                .add_attribute("proposer", funds.sender)
                .add_attribute("title", proposal.title)
                .add_attribute(
                    "voting_ends_at",
                    proposal.voting_ends_at.seconds().to_string(),
                ),
        ))
}

fn load(deps: Deps, id: u64) -> Result<Proposal, ContractError> {
    PROPOSALS
        .may_load(deps.storage, id)?
        .ok_or(ContractError::ProposalNotFound { id })
}

fn wrong_status(p: &Proposal, expected: &str) -> ContractError {
    ContractError::WrongStatus {
        id: p.id,
        status: p.status.as_str().to_string(),
        expected: expected.into(),
    }
}

pub fn cast_vote(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: u64,
    vote: Vote,
) -> Result<Response, ContractError> {
    let mut p = load(deps.as_ref(), id)?;
    if p.status != ProposalStatus::Open {
        return Err(wrong_status(&p, "open"));
    }
    if env.block.time >= p.voting_ends_at {
        return Err(ContractError::VotingEnded {
            id,
            ended: p.voting_ends_at.seconds(),
        });
    }
    if VOTES.has(deps.storage, (id, info.sender.clone())) {
        return Err(ContractError::AlreadyVoted {
            id,
            voter: info.sender.to_string(),
        });
    }
    let power = LOCKED
        .may_load_at_height(deps.storage, info.sender.clone(), p.start_height)?
        .unwrap_or_default();
    if power.is_zero() {
        return Err(ContractError::NoVotingPower {
            id,
            voter: info.sender.to_string(),
        });
    }
    let t = &mut p.tally;
    let slot = match vote {
        Vote::Yes => &mut t.yes,
        Vote::No => &mut t.no,
        Vote::Abstain => &mut t.abstain,
        Vote::Veto => &mut t.veto,
    };
    *slot = slot.checked_add(power)?;
    PROPOSALS.save(deps.storage, id, &p)?;
    VOTES.save(deps.storage, (id, info.sender.clone()), &(vote, power))?;
    Ok(Response::new().add_attribute("action", "vote").add_event(
        Event::new("vote_cast")
            .add_attribute("id", id.to_string())
            .add_attribute("voter", info.sender)
            .add_attribute("vote", vote.as_str())
            .add_attribute("power", power),
    ))
}

/// Quorum is reached at `votes ≥ quorum × total`; a proposal is vetoed above
/// `veto_threshold` of the votes, passes above `threshold` of yes + no + veto.
fn outcome(params: &GovernanceParams, p: &Proposal) -> ProposalStatus {
    let t = &p.tally;
    let votes = t.yes + t.no + t.abstain + t.veto;
    if p.total_power.is_zero() || Decimal::from_ratio(votes, p.total_power) < params.quorum {
        return ProposalStatus::Rejected;
    }
    if Decimal::from_ratio(t.veto, votes) > params.veto_threshold {
        return ProposalStatus::Vetoed;
    }
    let decisive = t.yes + t.no + t.veto;
    if !decisive.is_zero() && Decimal::from_ratio(t.yes, decisive) > params.threshold {
        return ProposalStatus::Passed;
    }
    ProposalStatus::Rejected
}

pub fn close(deps: DepsMut, env: Env, id: u64) -> Result<Response, ContractError> {
    let params = PARAMS.load(deps.storage)?;
    let mut p = load(deps.as_ref(), id)?;
    if p.status != ProposalStatus::Open {
        return Err(wrong_status(&p, "open"));
    }
    if env.block.time < p.voting_ends_at {
        return Err(ContractError::VotingOpen {
            id,
            ends: p.voting_ends_at.seconds(),
        });
    }
    p.status = outcome(&params, &p);
    let mut res = Response::new().add_attribute("action", "close");
    let refund = match p.status {
        ProposalStatus::Passed => true,
        ProposalStatus::Rejected => params.refund_rejected,
        _ => false,
    };
    let msg = if refund {
        send(&params.denom, &p.proposer, p.deposit)?
    } else {
        burn(&params.denom, p.deposit)?
    };
    if let Some(m) = msg {
        res = res.add_message(m);
    }
    if p.status == ProposalStatus::Passed {
        p.executable_at = Some(env.block.time.plus_seconds(params.timelock));
    }
    let open = OPEN_DEPOSITS.may_load(deps.storage)?.unwrap_or_default();
    OPEN_DEPOSITS.save(deps.storage, &open.checked_sub(p.deposit)?)?;
    PROPOSALS.save(deps.storage, id, &p)?;
    Ok(res.add_event(
        Event::new("proposal_closed")
            .add_attribute("id", id.to_string())
            .add_attribute("status", p.status.as_str())
            .add_attribute("yes", p.tally.yes)
            .add_attribute("no", p.tally.no)
            .add_attribute("abstain", p.tally.abstain)
            .add_attribute("veto", p.tally.veto)
            .add_attribute("deposit", if refund { "refunded" } else { "burned" }),
    ))
}

/// Runs a passed proposal's messages, then `CheckSolvency` so that no proposal can spend the
/// locked tokens or open deposits the contract holds.
pub fn execute_proposal(deps: DepsMut, env: Env, id: u64) -> Result<Response, ContractError> {
    let mut p = load(deps.as_ref(), id)?;
    if p.status != ProposalStatus::Passed {
        return Err(wrong_status(&p, "passed"));
    }
    let at = p.executable_at.unwrap_or(env.block.time);
    if env.block.time < at {
        return Err(ContractError::Timelocked {
            id,
            at: at.seconds(),
        });
    }
    p.status = ProposalStatus::Executed;
    PROPOSALS.save(deps.storage, id, &p)?;
    let check = WasmMsg::Execute {
        contract_addr: env.contract.address.to_string(),
        msg: to_json_binary(&ExecuteMsg::CheckSolvency {})?,
        funds: vec![],
    };
    Ok(Response::new()
        .add_attribute("action", "execute")
        .add_messages(p.msgs)
        .add_message(check)
        .add_event(Event::new("proposal_executed").add_attribute("id", id.to_string())))
}

pub fn update_params(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    params: GovernanceParams,
) -> Result<Response, ContractError> {
    if info.sender != env.contract.address {
        return Err(ContractError::NotGovernance);
    }
    validate_params(&params)?;
    let old = PARAMS.load(deps.storage)?;
    if old.denom != params.denom {
        return Err(ContractError::InvalidParams {
            reason: "the governance token cannot change while tokens are locked in it".into(),
        });
    }
    PARAMS.save(deps.storage, &params)?;
    Ok(Response::new().add_attribute("action", "update_params"))
}

pub fn check_solvency(deps: Deps, env: Env, info: MessageInfo) -> Result<Response, ContractError> {
    if info.sender != env.contract.address {
        return Err(ContractError::NotGovernance);
    }
    let params = PARAMS.load(deps.storage)?;
    let balance = match &params.denom {
        Denom::Native(d) => deps.querier.query_balance(&env.contract.address, d)?.amount,
        Denom::Cw20(token) => {
            let res: cw20::BalanceResponse = deps.querier.query_wasm_smart(
                token,
                &cw20::Cw20QueryMsg::Balance {
                    address: env.contract.address.to_string(),
                },
            )?;
            res.balance
        }
    };
    let owed = TOTAL_LOCKED.may_load(deps.storage)?.unwrap_or_default()
        + OPEN_DEPOSITS.may_load(deps.storage)?.unwrap_or_default();
    if balance < owed {
        return Err(ContractError::Insolvent { balance, owed });
    }
    Ok(Response::new().add_attribute("action", "check_solvency"))
}

pub fn receive(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: Cw20ReceiveMsg,
) -> Result<Response, ContractError> {
    cw_utils::nonpayable(&info)?;
    let funds = Incoming {
        sender: deps.api.addr_validate(&msg.sender)?,
        denom: Denom::Cw20(info.sender.clone()),
        amount: msg.amount,
    };
    match cosmwasm_std::from_json(&msg.msg)? {
        ReceiveMsg::Lock {} => lock(deps, env, funds),
        ReceiveMsg::Propose {
            title,
            description,
            msgs,
        } => propose(deps, env, funds, title, description, msgs),
    }
}
