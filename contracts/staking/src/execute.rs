//! Execute handlers: bonds, attendance, slashing, disputes, configuration.

use cosmwasm_std::{
    Addr, BankMsg, Coin, CosmosMsg, Decimal, Deps, DepsMut, Env, Event, MessageInfo, Response,
    Uint128, WasmMsg,
};
use cw20::Cw20ReceiveMsg;
use kumo::json::{cw20_transfer, FromJson};
use kumo::market::{self, ProviderStats};
use kumo::staking::{
    CompensationPool, Dispute, DisputeState, InstantiateMsg, ProviderBond, ReceiveMsg, Reputation,
    StakingParams, UnbondingEntry,
};
use kumo::{Denom, LeaseId};

use crate::error::ContractError;
use crate::state::{Config, BONDS, CONFIG, DISPUTES, DISPUTE_SEQ, LEASE_DISPUTES, POOLS};

/// Longest evidence or answer a dispute stores.
pub const MAX_TEXT: usize = 1024;

/// Funds that arrived (native, or a CW20 `Send`) and who sent them.
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
            msg: cw20_transfer(to, amount),
            funds: vec![],
        }
        .into(),
    }))
}

/// A response that pays out in the bond denomination.
struct Payouts {
    denom: Denom,
    res: Response,
}

impl Payouts {
    fn new(config: &Config, action: &str) -> Self {
        Payouts {
            denom: config.params.bond_denom.clone(),
            res: Response::new().add_attribute("action", action),
        }
    }

    fn pay(mut self, to: &Addr, amount: Uint128) -> Result<Self, ContractError> {
        if let Some(m) = send(&self.denom, to, amount)? {
            self.res = self.res.add_message(m);
        }
        Ok(self)
    }

    fn event(mut self, e: Event) -> Self {
        self.res = self.res.add_event(e);
        self
    }
}

pub fn validate_params(p: &StakingParams) -> Result<(), ContractError> {
    let bad = |r: &str| ContractError::InvalidParams { reason: r.into() };
    let one = Decimal::one();
    if p.slash_fraction > one || p.reporter_share > one || p.compensation_share > one {
        return Err(bad("fractions are at most 1"));
    }
    if p.reporter_share + p.compensation_share > one {
        return Err(bad("reporter_share + compensation_share is at most 1"));
    }
    if p.attendance_period == 0 || p.grace_periods == 0 {
        return Err(bad("attendance_period and grace_periods must be positive"));
    }
    if p.max_unbonding_entries == 0 || p.max_unbonding_entries > 32 {
        return Err(bad("max_unbonding_entries must be 1 to 32"));
    }
    if p.dispute_timeout == 0 {
        return Err(bad("dispute_timeout must be positive"));
    }
    Ok(())
}

pub fn instantiate(deps: DepsMut, msg: InstantiateMsg) -> Result<Response, ContractError> {
    validate_params(&msg.params)?;
    if let Denom::Cw20(token) = &msg.params.bond_denom {
        deps.api.addr_validate(token.as_str())?;
    }
    let api = deps.api;
    let config = Config {
        owner: api.addr_validate(&msg.owner)?,
        market: msg.market.map(|m| api.addr_validate(&m)).transpose()?,
        treasury: api.addr_validate(&msg.treasury)?,
        arbiter: msg.arbiter.map(|a| api.addr_validate(&a)).transpose()?,
        params: msg.params,
    };
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("owner", config.owner))
}

pub fn update_config(
    deps: DepsMut,
    info: MessageInfo,
    owner: Option<String>,
    market: Option<String>,
    treasury: Option<String>,
    arbiter: Option<String>,
    params: Option<StakingParams>,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    if info.sender != config.owner {
        return Err(ContractError::unauthorized(config.owner.to_string()));
    }
    let api = deps.api;
    if let Some(a) = owner {
        config.owner = api.addr_validate(&a)?;
    }
    if let Some(a) = market {
        config.market = Some(api.addr_validate(&a)?);
    }
    if let Some(a) = treasury {
        config.treasury = api.addr_validate(&a)?;
    }
    if let Some(a) = arbiter {
        config.arbiter = Some(api.addr_validate(&a)?);
    }
    if let Some(p) = params {
        validate_params(&p)?;
        if p.bond_denom != config.params.bond_denom {
            // Existing bonds are held in the old denomination.
            return Err(ContractError::InvalidParams {
                reason: "the bond denomination cannot change".into(),
            });
        }
        config.params = p;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", "update_config"))
}

/// The market's O(1) counters for a provider; none when no market is configured.
pub fn market_stats(
    deps: Deps,
    config: &Config,
    provider: &Addr,
) -> Result<ProviderStats, ContractError> {
    match &config.market {
        // A raw read of the market's record: a store read, not a contract call.
        Some(market) => Ok(market::PROVIDER_STATS
            .query(&deps.querier, market.clone(), provider)?
            .unwrap_or_default()),
        None => Ok(ProviderStats::default()),
    }
}

/// `min_bond + bond_ratio × (active lease rate in the bond denomination) × bond_window`,
/// rounded up (the rule shared with the market, in `kumo::staking`).
pub fn bond_for(params: &StakingParams, stats: &ProviderStats) -> Result<Uint128, ContractError> {
    kumo::staking::bond_for(params, stats).map_err(|e| ContractError::InvalidParams {
        reason: e.to_string(),
    })
}

/// What a provider must keep bonded: nothing without leases or bids.
pub fn required(params: &StakingParams, stats: &ProviderStats) -> Result<Uint128, ContractError> {
    if stats.active_leases == 0 && stats.open_bids == 0 {
        return Ok(Uint128::zero());
    }
    bond_for(params, stats)
}

fn load_bond(deps: Deps, provider: &Addr) -> Result<ProviderBond, ContractError> {
    BONDS
        .may_load(deps.storage, provider.clone())?
        .ok_or_else(|| ContractError::NotBonded {
            provider: provider.to_string(),
        })
}

// ---- bonds ----

pub fn bond(deps: DepsMut, env: Env, funds: Incoming) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if funds.denom != config.params.bond_denom {
        return Err(ContractError::WrongDenom {
            expected: config.params.bond_denom.to_string(),
            got: funds.denom.to_string(),
        });
    }
    let mut bond = BONDS
        .may_load(deps.storage, funds.sender.clone())?
        .unwrap_or(ProviderBond {
            provider: funds.sender.clone(),
            bonded: Uint128::zero(),
            unbonding: vec![],
            last_heartbeat: env.block.time,
            jailed_until: None,
            reputation: Reputation::default(),
        });
    bond.bonded = bond.bonded.checked_add(funds.amount)?;
    BONDS.save(deps.storage, funds.sender.clone(), &bond)?;
    Ok(Response::new().add_attribute("action", "bond").add_event(
        Event::new("bonded")
            .add_attribute("provider", funds.sender)
            .add_attribute("amount", funds.amount)
            .add_attribute("bonded", bond.bonded),
    ))
}

pub fn unbond(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    amount: Uint128,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut bond = load_bond(deps.as_ref(), &info.sender)?;
    let stats = market_stats(deps.as_ref(), &config, &info.sender)?;
    let required = required(&config.params, &stats)?;
    if amount.is_zero() || amount > bond.bonded || bond.bonded - amount < required {
        return Err(ContractError::BondRequired {
            amount,
            bonded: bond.bonded,
            required,
        });
    }
    if bond.unbonding.len() >= config.params.max_unbonding_entries as usize {
        return Err(ContractError::TooManyUnbondings {
            max: config.params.max_unbonding_entries,
        });
    }
    let release_at = env.block.time.plus_seconds(config.params.unbonding_period);
    bond.bonded -= amount;
    bond.unbonding.push(UnbondingEntry { amount, release_at });
    BONDS.save(deps.storage, info.sender.clone(), &bond)?;
    Ok(Response::new().add_attribute("action", "unbond").add_event(
        Event::new("unbonding")
            .add_attribute("provider", info.sender)
            .add_attribute("amount", amount)
            .add_attribute("release_at", release_at.seconds().to_string()),
    ))
}

pub fn claim(deps: DepsMut, env: Env, info: MessageInfo) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut bond = load_bond(deps.as_ref(), &info.sender)?;
    let (due, pending): (Vec<_>, Vec<_>) = bond
        .unbonding
        .into_iter()
        .partition(|e| e.release_at <= env.block.time);
    let amount = due.iter().map(|e| e.amount).sum::<Uint128>();
    if amount.is_zero() {
        return Err(ContractError::NothingToClaim);
    }
    bond.unbonding = pending;
    BONDS.save(deps.storage, info.sender.clone(), &bond)?;
    Ok(Payouts::new(&config, "claim")
        .pay(&info.sender, amount)?
        .event(
            Event::new("claimed")
                .add_attribute("provider", info.sender.to_string())
                .add_attribute("amount", amount),
        )
        .res)
}

// ---- attendance ----

pub fn heartbeat(deps: DepsMut, env: Env, info: MessageInfo) -> Result<Response, ContractError> {
    let mut bond = load_bond(deps.as_ref(), &info.sender)?;
    if bond.jailed_until.is_some() {
        return Err(ContractError::Jailed {
            provider: info.sender.to_string(),
        });
    }
    bond.last_heartbeat = env.block.time;
    BONDS.save(deps.storage, info.sender.clone(), &bond)?;
    Ok(Response::new()
        .add_attribute("action", "heartbeat")
        .add_attribute("provider", info.sender))
}

/// Splits a slash: `(to_first, to_second, to_treasury)` by two shares, rounding down the
/// shares so the treasury takes the remainder.
fn split(slash: Uint128, first: Decimal, second: Decimal) -> (Uint128, Uint128, Uint128) {
    let a = slash.mul_floor(first);
    let b = slash.mul_floor(second);
    (a, b, slash - a - b)
}

pub fn report_absence(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    provider: String,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let p = &config.params;
    let provider = deps.api.addr_validate(&provider)?;
    let mut bond = load_bond(deps.as_ref(), &provider)?;
    if bond.jailed_until.is_some() {
        return Err(ContractError::Jailed {
            provider: provider.to_string(),
        });
    }
    let stats = market_stats(deps.as_ref(), &config, &provider)?;
    if stats.active_leases == 0 {
        return Err(ContractError::NoActiveLeases {
            provider: provider.to_string(),
        });
    }
    let reportable_at = bond
        .last_heartbeat
        .plus_seconds(p.attendance_period.saturating_mul(p.grace_periods as u64));
    if env.block.time < reportable_at {
        return Err(ContractError::NotAbsent {
            provider: provider.to_string(),
            last_heartbeat: bond.last_heartbeat.seconds(),
            reportable_at: reportable_at.seconds(),
        });
    }
    let slash = bond.bonded.mul_floor(p.slash_fraction);
    let (bounty, compensation, to_treasury) = split(slash, p.reporter_share, p.compensation_share);
    bond.bonded -= slash;
    bond.jailed_until = Some(env.block.time.plus_seconds(p.jail_duration));
    bond.reputation.absences += 1;
    bond.reputation.slashes += 1;
    BONDS.save(deps.storage, provider.clone(), &bond)?;

    let mut out = Payouts::new(&config, "report_absence");
    // A pool left from an earlier absence (leases its tenants closed themselves) is swept.
    if let Some(old) = POOLS.may_load(deps.storage, provider.clone())? {
        out = out.pay(&config.treasury, old.remaining)?;
    }
    let n = stats.active_leases;
    POOLS.save(
        deps.storage,
        provider.clone(),
        &CompensationPool {
            provider: provider.clone(),
            remaining: compensation,
            per_lease: compensation / Uint128::from(n),
            leases_left: n,
        },
    )?;
    Ok(out
        .pay(&info.sender, bounty)?
        .pay(&config.treasury, to_treasury)?
        .event(
            Event::new("provider_jailed")
                .add_attribute("provider", provider.to_string())
                .add_attribute("reporter", info.sender.to_string())
                .add_attribute("last_heartbeat", bond.last_heartbeat.seconds().to_string())
                .add_attribute("slashed", slash)
                .add_attribute("bounty", bounty)
                .add_attribute("compensation", compensation)
                .add_attribute("treasury", to_treasury)
                .add_attribute("leases", n.to_string()),
        )
        .res)
}

pub fn compensate_tenant(
    deps: DepsMut,
    info: MessageInfo,
    provider: String,
    tenant: String,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.market.as_ref() != Some(&info.sender) {
        return Err(ContractError::unauthorized("the market"));
    }
    let provider = deps.api.addr_validate(&provider)?;
    let tenant = deps.api.addr_validate(&tenant)?;
    // A lease beyond those counted at the report gets nothing, but must not fail the close.
    let Some(mut pool) = POOLS.may_load(deps.storage, provider.clone())? else {
        return Ok(Response::new().add_attribute("action", "compensate_tenant"));
    };
    let pay = if pool.leases_left <= 1 {
        pool.remaining
    } else {
        pool.per_lease.min(pool.remaining)
    };
    pool.remaining -= pay;
    pool.leases_left = pool.leases_left.saturating_sub(1);
    if pool.leases_left == 0 {
        POOLS.remove(deps.storage, provider.clone());
    } else {
        POOLS.save(deps.storage, provider.clone(), &pool)?;
    }
    Ok(Payouts::new(&config, "compensate_tenant")
        .pay(&tenant, pay)?
        .event(
            Event::new("tenant_compensated")
                .add_attribute("provider", provider.to_string())
                .add_attribute("tenant", tenant.to_string())
                .add_attribute("amount", pay),
        )
        .res)
}

pub fn sweep_compensation(deps: DepsMut, provider: String) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let provider = deps.api.addr_validate(&provider)?;
    let pool = POOLS
        .may_load(deps.storage, provider.clone())?
        .ok_or_else(|| ContractError::NoCompensation {
            provider: provider.to_string(),
        })?;
    let stats = market_stats(deps.as_ref(), &config, &provider)?;
    if stats.active_leases > 0 {
        return Err(ContractError::LeasesLeft {
            provider: provider.to_string(),
            count: stats.active_leases,
        });
    }
    POOLS.remove(deps.storage, provider.clone());
    Ok(Payouts::new(&config, "sweep_compensation")
        .pay(&config.treasury, pool.remaining)?
        .event(
            Event::new("compensation_swept")
                .add_attribute("provider", provider.to_string())
                .add_attribute("amount", pool.remaining),
        )
        .res)
}

pub fn unjail(deps: DepsMut, env: Env, info: MessageInfo) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut bond = load_bond(deps.as_ref(), &info.sender)?;
    let Some(until) = bond.jailed_until else {
        return Err(ContractError::NotJailed {
            provider: info.sender.to_string(),
        });
    };
    if env.block.time < until {
        return Err(ContractError::JailNotOver {
            at: until.seconds(),
        });
    }
    if bond.bonded < config.params.min_bond {
        return Err(ContractError::BondTooLow {
            bonded: bond.bonded,
            min: config.params.min_bond,
        });
    }
    bond.jailed_until = None;
    bond.last_heartbeat = env.block.time;
    BONDS.save(deps.storage, info.sender.clone(), &bond)?;
    Ok(Response::new()
        .add_attribute("action", "unjail")
        .add_event(Event::new("provider_unjailed").add_attribute("provider", info.sender)))
}

// ---- disputes ----

fn check_text(text: &str) -> Result<(), ContractError> {
    if text.is_empty() || text.len() > MAX_TEXT {
        return Err(ContractError::TextLength { max: MAX_TEXT });
    }
    Ok(())
}

fn load_dispute(deps: Deps, id: u64) -> Result<Dispute, ContractError> {
    let d = DISPUTES
        .may_load(deps.storage, id)?
        .ok_or(ContractError::DisputeNotFound { id })?;
    if d.state != DisputeState::Open {
        return Err(ContractError::DisputeClosed { id });
    }
    Ok(d)
}

pub fn open_dispute(
    deps: DepsMut,
    env: Env,
    funds: Incoming,
    lease: LeaseId,
    evidence: String,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if funds.sender != lease.owner {
        return Err(ContractError::unauthorized(lease.owner.to_string()));
    }
    if funds.denom != config.params.bond_denom {
        return Err(ContractError::WrongDenom {
            expected: config.params.bond_denom.to_string(),
            got: funds.denom.to_string(),
        });
    }
    if funds.amount != config.params.dispute_deposit {
        return Err(ContractError::DisputeDeposit {
            expected: config.params.dispute_deposit,
            got: funds.amount,
        });
    }
    check_text(&evidence)?;
    let live = match &config.market {
        // A raw read: the market deletes leases when they close.
        Some(market) => market::LEASE_HEADERS
            .query(&deps.querier, market.clone(), market::lease_key(&lease))?
            .is_some(),
        None => false,
    };
    if !live {
        return Err(ContractError::LeaseNotLive {
            lease: lease.to_string(),
        });
    }
    if let Some(id) = LEASE_DISPUTES.may_load(deps.storage, lease.to_string())? {
        return Err(ContractError::DisputeExists {
            lease: lease.to_string(),
            id,
        });
    }
    let id = DISPUTE_SEQ.may_load(deps.storage)?.unwrap_or_default() + 1;
    DISPUTE_SEQ.save(deps.storage, &id)?;
    let dispute = Dispute {
        id,
        provider: lease.provider.clone(),
        tenant: funds.sender.clone(),
        lease: lease.clone(),
        evidence,
        answer: None,
        deposit: funds.amount,
        state: DisputeState::Open,
        opened_at: env.block.time,
        deadline: env.block.time.plus_seconds(config.params.dispute_timeout),
    };
    DISPUTES.save(deps.storage, id, &dispute)?;
    LEASE_DISPUTES.save(deps.storage, lease.to_string(), &id)?;
    Ok(Response::new()
        .add_attribute("action", "open_dispute")
        .add_event(
            Event::new("dispute_opened")
                .add_attribute("id", id.to_string())
                .add_attribute("lease", lease.to_string())
                .add_attribute("deadline", dispute.deadline.seconds().to_string()),
        ))
}

pub fn answer_dispute(
    deps: DepsMut,
    info: MessageInfo,
    id: u64,
    answer: String,
) -> Result<Response, ContractError> {
    let mut d = load_dispute(deps.as_ref(), id)?;
    if info.sender != d.provider {
        return Err(ContractError::unauthorized(d.provider.to_string()));
    }
    check_text(&answer)?;
    d.answer = Some(answer);
    DISPUTES.save(deps.storage, id, &d)?;
    Ok(Response::new()
        .add_attribute("action", "answer_dispute")
        .add_event(Event::new("dispute_answered").add_attribute("id", id.to_string())))
}

fn end_dispute(deps: DepsMut, d: &mut Dispute, state: DisputeState) -> Result<(), ContractError> {
    d.state = state;
    DISPUTES.save(deps.storage, d.id, d)?;
    LEASE_DISPUTES.remove(deps.storage, d.lease.to_string());
    Ok(())
}

pub fn resolve_dispute(
    mut deps: DepsMut,
    info: MessageInfo,
    id: u64,
    slash: bool,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != *config.arbiter() {
        return Err(ContractError::unauthorized(config.arbiter().to_string()));
    }
    let mut d = load_dispute(deps.as_ref(), id)?;
    let mut out = Payouts::new(&config, "resolve_dispute");
    let mut slashed = Uint128::zero();
    if slash {
        let mut bond = BONDS.may_load(deps.storage, d.provider.clone())?;
        let mut to_tenant = Uint128::zero();
        let mut to_treasury = Uint128::zero();
        if let Some(b) = bond.as_mut() {
            slashed = b.bonded.mul_floor(config.params.slash_fraction);
            b.bonded -= slashed;
            b.reputation.slashes += 1;
            b.reputation.disputes_lost += 1;
            // The tenant reported it, so it takes the reporter's share too.
            let p = &config.params;
            let (a, c, t) = split(slashed, p.reporter_share, p.compensation_share);
            to_tenant = a + c;
            to_treasury = t;
            BONDS.save(deps.storage, d.provider.clone(), b)?;
        }
        end_dispute(deps.branch(), &mut d, DisputeState::Upheld)?;
        out = out
            .pay(&d.tenant, d.deposit + to_tenant)?
            .pay(&config.treasury, to_treasury)?;
    } else {
        if let Some(mut b) = BONDS.may_load(deps.storage, d.provider.clone())? {
            b.reputation.disputes_dismissed += 1;
            BONDS.save(deps.storage, d.provider.clone(), &b)?;
        }
        end_dispute(deps.branch(), &mut d, DisputeState::Dismissed)?;
        out = out.pay(&d.provider, d.deposit)?;
    }
    Ok(out
        .event(
            Event::new("dispute_resolved")
                .add_attribute("id", id.to_string())
                .add_attribute("upheld", slash.to_string())
                .add_attribute("slashed", slashed),
        )
        .res)
}

pub fn expire_dispute(deps: DepsMut, env: Env, id: u64) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut d = load_dispute(deps.as_ref(), id)?;
    if env.block.time < d.deadline {
        return Err(ContractError::DisputeRunning {
            id,
            deadline: d.deadline.seconds(),
        });
    }
    end_dispute(deps, &mut d, DisputeState::Expired)?;
    Ok(Payouts::new(&config, "expire_dispute")
        .pay(&d.tenant, d.deposit)?
        .event(Event::new("dispute_expired").add_attribute("id", id.to_string()))
        .res)
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
    match ReceiveMsg::parse(&msg.msg)? {
        ReceiveMsg::Bond {} => bond(deps, env, funds),
        ReceiveMsg::OpenDispute { lease, evidence } => {
            open_dispute(deps, env, funds, lease, evidence)
        }
    }
}
