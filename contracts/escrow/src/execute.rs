//! Execute handlers: accounts, deposits, allowances, payments, settlement, configuration.

use cosmwasm_std::{
    Addr, BankMsg, Coin, CosmosMsg, Decimal256, DepsMut, Env, Event, MessageInfo,
    Order as IterOrder, Response, Storage, SubMsg, Timestamp, Uint128, WasmMsg,
};
use cw20::Cw20ReceiveMsg;
use kumo::escrow::{
    Account, AccountId, AccountState, Allowance, DenomConfig, DepositSource, Depositor,
    EscrowCallback, EscrowParams, InstantiateMsg, Payment, PaymentState, ReceiveMsg,
};
use kumo::json::{cw20_transfer, FromJson};
use kumo::{Denom, LeaseId};

use crate::error::ContractError;
use crate::settlement::{dec, floor, settle, take_bounty, Settlement};
use crate::state::{
    account_key, denom_key, load_account, payment_key, save_account, Config, DenomEntry, ACCOUNTS,
    ALLOWANCES, CONFIG, DENOM_ENTRIES, PAYMENTS,
};

/// Funds that arrived with a message (native coins, or a CW20 `Send`) and who sent them.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub sender: Addr,
    pub denom: Denom,
    pub amount: Uint128,
}

impl Incoming {
    /// Exactly one native coin with a positive amount.
    pub fn native(info: &MessageInfo) -> Result<Self, ContractError> {
        let coin = cw_utils::one_coin(info)?;
        Ok(Incoming {
            sender: info.sender.clone(),
            denom: Denom::Native(coin.denom),
            amount: coin.amount,
        })
    }
}

/// A transfer out of the escrow; `None` for zero amounts.
pub fn send(denom: &Denom, to: &Addr, amount: Uint128) -> Result<Option<CosmosMsg>, ContractError> {
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

/// The reply id of the overdrawn callback to the market.
pub const CALLBACK_REPLY: u64 = 1;

/// Messages and events a handler accumulates. Transfers are plain messages (they must succeed
/// or the transaction fails); the market callback is a submessage whose failure is caught.
#[derive(Default)]
pub struct Out {
    pub msgs: Vec<CosmosMsg>,
    pub submsgs: Vec<SubMsg>,
    pub events: Vec<Event>,
}

impl Out {
    fn send(&mut self, denom: &Denom, to: &Addr, amount: Uint128) -> Result<(), ContractError> {
        if let Some(m) = send(denom, to, amount)? {
            self.msgs.push(m);
        }
        Ok(())
    }

    fn into_response(self, action: &str) -> Response {
        Response::new()
            .add_attribute("action", action)
            .add_messages(self.msgs)
            .add_submessages(self.submsgs)
            .add_events(self.events)
    }
}

/// An account with its payments (at most `max_payments`), loaded for one touch.
pub struct Loaded {
    pub key: String,
    pub account: Account,
    pub payments: Vec<Payment>,
}

pub fn load(storage: &dyn Storage, id: &AccountId) -> Result<Loaded, ContractError> {
    let key = account_key(id);
    let account = load_account(storage, &key, id)?
        .ok_or_else(|| ContractError::AccountNotFound { id: id.to_string() })?;
    let payments = PAYMENTS
        .prefix_range(storage, key.clone(), None, IterOrder::Ascending)
        .map(|r| r.map(|(_, p)| p))
        .collect::<Result<_, _>>()?;
    Ok(Loaded {
        key,
        account,
        payments,
    })
}

fn save(storage: &mut dyn Storage, loaded: &Loaded) -> Result<(), ContractError> {
    save_account(storage, &loaded.key, &loaded.account)?;
    for p in &loaded.payments {
        PAYMENTS.save(storage, (loaded.key.clone(), p.lease.to_string()), p)?;
    }
    Ok(())
}

fn denom_entry(storage: &dyn Storage, denom: &Denom) -> Result<Option<DenomEntry>, ContractError> {
    Ok(DENOM_ENTRIES.may_load(storage, denom_key(denom))?)
}

fn accepted(storage: &dyn Storage, denom: &Denom) -> Result<DenomConfig, ContractError> {
    match denom_entry(storage, denom)? {
        Some(e) if e.accepting => Ok(e.config),
        _ => Err(match denom {
            Denom::Cw20(token) => ContractError::UnlistedToken {
                token: token.to_string(),
            },
            Denom::Native(d) => ContractError::UnknownDenom { denom: d.clone() },
        }),
    }
}

/// Pays a payment's whole accrued units to its payee, less the take (rounded up: in the
/// protocol's favour by under one unit) to the treasury.
fn payout(
    storage: &dyn Storage,
    config: &Config,
    account: &mut Account,
    payment: &mut Payment,
    out: &mut Out,
) -> Result<(), ContractError> {
    let gross = floor(payment.balance)?;
    if gross.is_zero() {
        return Ok(());
    }
    let rate = denom_entry(storage, &account.denom)?
        .map(|e| e.config.take_rate)
        .unwrap_or_default();
    let take = gross.mul_ceil(rate);
    let net = gross - take;
    payment.balance -= dec(gross);
    payment.withdrawn += net;
    account.held = account.held.checked_sub(gross)?;
    out.send(&account.denom, &payment.payee, net)?;
    out.send(&account.denom, &config.treasury, take)?;
    out.events.push(
        Event::new("payment_withdrawn")
            .add_attribute("lease", payment.lease.to_string())
            .add_attribute("payee", payment.payee.to_string())
            .add_attribute("gross", gross)
            .add_attribute("take", take)
            .add_attribute("net", net)
            .add_attribute("denom", account.denom.to_string()),
    );
    Ok(())
}

/// An account that ran dry: every payment is paid what it could get and closed, the sub-unit
/// remainder goes to the treasury, the account is deleted and the market is told, which closes
/// the leases (reason 20000).
fn close_overdrawn(
    storage: &mut dyn Storage,
    config: &Config,
    mut loaded: Loaded,
    out: &mut Out,
) -> Result<(), ContractError> {
    let mut payments = std::mem::take(&mut loaded.payments);
    for p in &mut payments {
        payout(storage, config, &mut loaded.account, p, out)?;
        PAYMENTS.remove(storage, (loaded.key.clone(), p.lease.to_string()));
        out.events.push(
            Event::new("payment_closed")
                .add_attribute("lease", p.lease.to_string())
                .add_attribute("state", "overdrawn")
                .add_attribute("unsettled", p.unsettled.to_string()),
        );
    }
    let dust = loaded.account.held;
    out.send(&loaded.account.denom, &config.treasury, dust)?;
    ACCOUNTS.remove(storage, loaded.key.clone());
    out.events.push(
        Event::new("account_closed")
            .add_attribute("account", loaded.key.clone())
            .add_attribute("state", "overdrawn")
            .add_attribute("transferred", loaded.account.transferred.to_string())
            .add_attribute("dust", dust),
    );
    if let (AccountId::Deployment(deployment), Some(market)) = (&loaded.account.id, &config.market)
    {
        // Settlement must never be blocked by the market: if the callback fails, its effects
        // are reverted, the reply records why, and the account stays closed and paid out.
        out.submsgs.push(SubMsg::reply_on_error(
            WasmMsg::Execute {
                contract_addr: market.to_string(),
                msg: kumo::json::write(&kumo::market::ExecuteMsg::EscrowCallback(
                    EscrowCallback::AccountOverdrawn {
                        deployment: deployment.clone(),
                    },
                )),
                funds: vec![],
            },
            CALLBACK_REPLY,
        ));
    }
    Ok(())
}

/// Settles; an overdrawn account is closed at once. Returns `None` then.
fn touch(
    storage: &mut dyn Storage,
    config: &Config,
    mut loaded: Loaded,
    now: Timestamp,
    out: &mut Out,
) -> Result<Option<(Loaded, Settlement)>, ContractError> {
    let settlement = settle(&mut loaded.account, &mut loaded.payments, now)?;
    if settlement.overdrawn {
        close_overdrawn(storage, config, loaded, out)?;
        return Ok(None);
    }
    Ok(Some((loaded, settlement)))
}

fn require_market(config: &Config, sender: &Addr) -> Result<(), ContractError> {
    match &config.market {
        Some(m) if m == sender => Ok(()),
        Some(m) => Err(ContractError::unauthorized(m.to_string())),
        None => Err(ContractError::unauthorized(
            "the market (not configured yet)",
        )),
    }
}

fn add_depositor(
    account: &mut Account,
    owner: Addr,
    source: DepositSource,
    amount: Uint128,
    params: &EscrowParams,
) -> Result<(), ContractError> {
    let value = dec(amount);
    match account
        .depositors
        .iter_mut()
        .find(|d| d.owner == owner && d.source == source)
    {
        Some(d) => d.balance = d.balance.checked_add(value)?,
        None => {
            if account.depositors.len() >= params.max_depositors as usize {
                return Err(ContractError::TooManyDepositors {
                    id: account.id.to_string(),
                    max: params.max_depositors,
                });
            }
            account.depositors.push(Depositor {
                owner,
                source,
                balance: value,
            });
        }
    }
    account.balance = account.balance.checked_add(value)?;
    account.held = account.held.checked_add(amount)?;
    Ok(())
}

// ---- instantiate and configuration ----

pub fn validate_params(p: &EscrowParams) -> Result<(), ContractError> {
    let bad = |r: &str| ContractError::InvalidParams { reason: r.into() };
    if p.max_depositors == 0 || p.max_depositors > 64 {
        return Err(bad(
            "max_depositors must be 1 to 64 (it bounds refund loops)",
        ));
    }
    if p.max_payments == 0 || p.max_payments > 100 {
        return Err(bad(
            "max_payments must be 1 to 100 (it bounds settlement loops)",
        ));
    }
    if p.settle_bounty > cosmwasm_std::Decimal::percent(10) {
        return Err(bad("settle_bounty must be at most 10%"));
    }
    Ok(())
}

fn validate_denom(api: &dyn cosmwasm_std::Api, c: &DenomConfig) -> Result<(), ContractError> {
    if c.take_rate > cosmwasm_std::Decimal::percent(50) {
        return Err(ContractError::InvalidParams {
            reason: format!("take rate of {} is above 50%", c.denom),
        });
    }
    match &c.denom {
        Denom::Native(d) if d.is_empty() => Err(ContractError::InvalidParams {
            reason: "empty denomination".into(),
        }),
        Denom::Cw20(a) => {
            api.addr_validate(a.as_str())?;
            Ok(())
        }
        _ => Ok(()),
    }
}

pub fn instantiate(deps: DepsMut, msg: InstantiateMsg) -> Result<Response, ContractError> {
    let api = deps.api;
    let params = msg.params.unwrap_or_default();
    validate_params(&params)?;
    let config = Config {
        owner: api.addr_validate(&msg.owner)?,
        market: msg.market.map(|m| api.addr_validate(&m)).transpose()?,
        treasury: api.addr_validate(&msg.treasury)?,
        guardian: msg.guardian.map(|g| api.addr_validate(&g)).transpose()?,
        params,
        paused: false,
    };
    CONFIG.save(deps.storage, &config)?;
    for c in msg.denoms {
        validate_denom(api, &c)?;
        DENOM_ENTRIES.save(
            deps.storage,
            denom_key(&c.denom),
            &DenomEntry {
                config: c,
                accepting: true,
            },
        )?;
    }
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("owner", config.owner)
        .add_attribute("treasury", config.treasury))
}

fn require_owner(config: &Config, sender: &Addr) -> Result<(), ContractError> {
    if *sender != config.owner {
        return Err(ContractError::unauthorized(config.owner.to_string()));
    }
    Ok(())
}

pub fn update_config(
    deps: DepsMut,
    info: MessageInfo,
    owner: Option<String>,
    market: Option<String>,
    treasury: Option<String>,
    guardian: Option<String>,
    params: Option<EscrowParams>,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    require_owner(&config, &info.sender)?;
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
    if let Some(a) = guardian {
        config.guardian = Some(api.addr_validate(&a)?);
    }
    if let Some(p) = params {
        validate_params(&p)?;
        config.params = p;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("owner", config.owner.to_string())
        .add_attribute(
            "market",
            config.market.map(|m| m.to_string()).unwrap_or_default(),
        )
        .add_attribute("treasury", config.treasury.to_string()))
}

pub fn set_denom(
    deps: DepsMut,
    info: MessageInfo,
    c: DenomConfig,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    require_owner(&config, &info.sender)?;
    validate_denom(deps.api, &c)?;
    let key = denom_key(&c.denom);
    let res = Response::new()
        .add_attribute("action", "set_denom")
        .add_attribute("denom", key.clone())
        .add_attribute("min_deposit", c.min_deposit)
        .add_attribute("take_rate", c.take_rate.to_string());
    DENOM_ENTRIES.save(
        deps.storage,
        key,
        &DenomEntry {
            config: c,
            accepting: true,
        },
    )?;
    Ok(res)
}

pub fn remove_denom(
    deps: DepsMut,
    info: MessageInfo,
    denom: Denom,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    require_owner(&config, &info.sender)?;
    let key = denom_key(&denom);
    let mut entry = DENOM_ENTRIES
        .may_load(deps.storage, key.clone())?
        .ok_or_else(|| ContractError::UnknownDenom { denom: key.clone() })?;
    entry.accepting = false;
    DENOM_ENTRIES.save(deps.storage, key.clone(), &entry)?;
    Ok(Response::new()
        .add_attribute("action", "remove_denom")
        .add_attribute("denom", key))
}

pub fn set_paused(
    deps: DepsMut,
    info: MessageInfo,
    paused: bool,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    if info.sender != config.owner && config.guardian.as_ref() != Some(&info.sender) {
        return Err(ContractError::unauthorized("the owner or the guardian"));
    }
    config.paused = paused;
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", if paused { "pause" } else { "unpause" }))
}

// ---- accounts and deposits ----

pub fn open_account(
    deps: DepsMut,
    env: Env,
    funds: Incoming,
    id: AccountId,
    owner: String,
    depositor: String,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    require_market(&config, &funds.sender)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    let denom = accepted(deps.storage, &funds.denom)?;
    if matches!(id, AccountId::Deployment(_)) && funds.amount < denom.min_deposit {
        return Err(ContractError::BelowMinDeposit {
            amount: funds.amount,
            min: denom.min_deposit,
            denom: funds.denom.to_string(),
        });
    }
    let key = account_key(&id);
    if ACCOUNTS.has(deps.storage, key.clone()) {
        return Err(ContractError::AccountExists { id: key });
    }
    let mut account = Account {
        id,
        owner: deps.api.addr_validate(&owner)?,
        denom: funds.denom.clone(),
        state: AccountState::Open,
        balance: Decimal256::zero(),
        rate: Decimal256::zero(),
        settled_at: env.block.time,
        transferred: Decimal256::zero(),
        held: Uint128::zero(),
        depositors: vec![],
    };
    let depositor = deps.api.addr_validate(&depositor)?;
    add_depositor(
        &mut account,
        depositor.clone(),
        DepositSource::Direct,
        funds.amount,
        &config.params,
    )?;
    save_account(deps.storage, &key, &account)?;
    Ok(Response::new()
        .add_attribute("action", "open_account")
        .add_event(
            Event::new("account_opened")
                .add_attribute("account", key)
                .add_attribute("owner", account.owner)
                .add_attribute("depositor", depositor)
                .add_attribute("amount", funds.amount)
                .add_attribute("denom", funds.denom.to_string()),
        ))
}

pub fn deposit(
    deps: DepsMut,
    env: Env,
    funds: Incoming,
    id: AccountId,
    depositor: Option<String>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    let owner = match depositor {
        Some(d) => {
            require_market(&config, &funds.sender)?;
            deps.api.addr_validate(&d)?
        }
        None => funds.sender.clone(),
    };
    let loaded = load(deps.storage, &id)?;
    if loaded.account.denom != funds.denom {
        return Err(ContractError::WrongDenom {
            id: id.to_string(),
            expected: loaded.account.denom.to_string(),
            got: funds.denom.to_string(),
        });
    }
    let mut out = Out::default();
    let Some((mut loaded, _)) = touch(deps.storage, &config, loaded, env.block.time, &mut out)?
    else {
        // The account ran dry before this deposit: it is closed, and the deposit goes back.
        out.send(&funds.denom, &owner, funds.amount)?;
        out.events.push(
            Event::new("deposit_returned")
                .add_attribute("account", id.to_string())
                .add_attribute("depositor", owner.to_string())
                .add_attribute("amount", funds.amount),
        );
        return Ok(out.into_response("deposit"));
    };
    add_depositor(
        &mut loaded.account,
        owner.clone(),
        DepositSource::Direct,
        funds.amount,
        &config.params,
    )?;
    save(deps.storage, &loaded)?;
    out.events.push(
        Event::new("deposit")
            .add_attribute("account", id.to_string())
            .add_attribute("depositor", owner.to_string())
            .add_attribute("amount", funds.amount)
            .add_attribute("denom", funds.denom.to_string()),
    );
    Ok(out.into_response("deposit"))
}

pub fn grant_allowance(
    deps: DepsMut,
    env: Env,
    funds: Incoming,
    grantee: String,
    expires: Option<Timestamp>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    accepted(deps.storage, &funds.denom)?;
    let grantee = deps.api.addr_validate(&grantee)?;
    if let Some(e) = expires {
        if e <= env.block.time {
            return Err(ContractError::AllowanceExpired {
                granter: funds.sender.to_string(),
                expires: e.seconds(),
            });
        }
    }
    let key = (
        funds.sender.clone(),
        grantee.clone(),
        denom_key(&funds.denom),
    );
    let mut allowance = ALLOWANCES
        .may_load(deps.storage, key.clone())?
        .unwrap_or(Allowance {
            granter: funds.sender.clone(),
            grantee: grantee.clone(),
            denom: funds.denom.clone(),
            remaining: Uint128::zero(),
            expires,
        });
    allowance.remaining = allowance.remaining.checked_add(funds.amount)?;
    allowance.expires = expires;
    ALLOWANCES.save(deps.storage, key, &allowance)?;
    Ok(Response::new()
        .add_attribute("action", "grant_allowance")
        .add_event(
            Event::new("allowance_granted")
                .add_attribute("granter", funds.sender.to_string())
                .add_attribute("grantee", grantee.to_string())
                .add_attribute("denom", funds.denom.to_string())
                .add_attribute("amount", funds.amount)
                .add_attribute("remaining", allowance.remaining),
        ))
}

pub fn deposit_from_allowance(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: AccountId,
    granter: String,
    amount: Uint128,
) -> Result<Response, ContractError> {
    cw_utils::nonpayable(&info)?;
    let config = CONFIG.load(deps.storage)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    if amount.is_zero() {
        return Err(cw_utils::PaymentError::NoFunds {}.into());
    }
    let granter = deps.api.addr_validate(&granter)?;
    let loaded = load(deps.storage, &id)?;
    let key = (
        granter.clone(),
        info.sender.clone(),
        denom_key(&loaded.account.denom),
    );
    let mut allowance = ALLOWANCES
        .may_load(deps.storage, key.clone())?
        .ok_or_else(|| ContractError::AllowanceNotFound {
            granter: granter.to_string(),
            grantee: info.sender.to_string(),
            denom: loaded.account.denom.to_string(),
        })?;
    if let Some(e) = allowance.expires {
        if e <= env.block.time {
            return Err(ContractError::AllowanceExpired {
                granter: granter.to_string(),
                expires: e.seconds(),
            });
        }
    }
    if allowance.remaining < amount {
        return Err(ContractError::AllowanceExceeded {
            remaining: allowance.remaining,
            requested: amount,
        });
    }
    let mut out = Out::default();
    let Some((mut loaded, _)) = touch(deps.storage, &config, loaded, env.block.time, &mut out)?
    else {
        // The account had run dry and is now closed; the allowance is untouched.
        return Ok(out.into_response("deposit_from_allowance"));
    };
    allowance.remaining -= amount;
    ALLOWANCES.save(deps.storage, key, &allowance)?;
    add_depositor(
        &mut loaded.account,
        granter.clone(),
        DepositSource::Allowance {
            grantee: info.sender.clone(),
        },
        amount,
        &config.params,
    )?;
    save(deps.storage, &loaded)?;
    out.events.push(
        Event::new("deposit")
            .add_attribute("account", id.to_string())
            .add_attribute("depositor", granter.to_string())
            .add_attribute("grantee", info.sender.to_string())
            .add_attribute("amount", amount),
    );
    Ok(out.into_response("deposit_from_allowance"))
}

pub fn revoke_allowance(
    deps: DepsMut,
    info: MessageInfo,
    grantee: String,
    denom: Denom,
) -> Result<Response, ContractError> {
    let grantee = deps.api.addr_validate(&grantee)?;
    let key = (info.sender.clone(), grantee.clone(), denom_key(&denom));
    let allowance = ALLOWANCES
        .may_load(deps.storage, key.clone())?
        .ok_or_else(|| ContractError::AllowanceNotFound {
            granter: info.sender.to_string(),
            grantee: grantee.to_string(),
            denom: denom.to_string(),
        })?;
    ALLOWANCES.remove(deps.storage, key);
    let mut out = Out::default();
    out.send(&denom, &info.sender, allowance.remaining)?;
    out.events.push(
        Event::new("allowance_revoked")
            .add_attribute("granter", info.sender.to_string())
            .add_attribute("grantee", grantee.to_string())
            .add_attribute("denom", denom.to_string())
            .add_attribute("returned", allowance.remaining),
    );
    Ok(out.into_response("revoke_allowance"))
}

// ---- payments ----

pub fn open_payment(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    account: AccountId,
    lease: LeaseId,
    payee: String,
    rate: Decimal256,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    require_market(&config, &info.sender)?;
    if account != AccountId::Deployment(lease.deployment()) {
        return Err(ContractError::NotADeploymentAccount {
            id: account.to_string(),
        });
    }
    if rate.is_zero() {
        return Err(ContractError::ZeroRate);
    }
    let payee = deps.api.addr_validate(&payee)?;
    let loaded = load(deps.storage, &account)?;
    let mut scratch = Out::default();
    let Some((mut loaded, _)) = touch(deps.storage, &config, loaded, env.block.time, &mut scratch)?
    else {
        // Failing rolls the settlement back; `Settle` closes the account for good.
        return Err(ContractError::InsufficientFunds {
            id: account.to_string(),
        });
    };
    if loaded.payments.len() >= config.params.max_payments as usize {
        return Err(ContractError::TooManyPayments {
            id: account.to_string(),
            max: config.params.max_payments,
        });
    }
    if loaded.payments.iter().any(|p| p.lease == lease) {
        return Err(ContractError::PaymentExists {
            lease: lease.to_string(),
        });
    }
    loaded.account.rate = loaded.account.rate.checked_add(rate)?;
    loaded.payments.push(Payment {
        lease: lease.clone(),
        account: account.clone(),
        payee: payee.clone(),
        rate,
        state: PaymentState::Open,
        balance: Decimal256::zero(),
        withdrawn: Uint128::zero(),
        unsettled: Decimal256::zero(),
    });
    save(deps.storage, &loaded)?;
    Ok(Response::new()
        .add_attribute("action", "open_payment")
        .add_event(
            Event::new("payment_opened")
                .add_attribute("account", account.to_string())
                .add_attribute("lease", lease.to_string())
                .add_attribute("payee", payee)
                .add_attribute("rate", rate.to_string()),
        ))
}

fn payment_index(loaded: &Loaded, lease: &LeaseId) -> Result<usize, ContractError> {
    loaded
        .payments
        .iter()
        .position(|p| p.lease == *lease)
        .ok_or_else(|| ContractError::PaymentNotFound {
            lease: lease.to_string(),
        })
}

pub fn close_payment(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    lease: LeaseId,
    refund_since: Option<Timestamp>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    require_market(&config, &info.sender)?;
    let loaded = load(deps.storage, &AccountId::Deployment(lease.deployment()))?;
    payment_index(&loaded, &lease)?;
    let mut out = Out::default();
    if let Some((mut loaded, _)) = touch(deps.storage, &config, loaded, env.block.time, &mut out)? {
        let i = payment_index(&loaded, &lease)?;
        let mut payment = loaded.payments.remove(i);
        if let Some(since) = refund_since {
            // What accrued while the provider was absent, as far as it is not yet withdrawn,
            // goes back to the depositors (`held` is unchanged: it stays in the account).
            let seconds = env.block.time.seconds().saturating_sub(since.seconds());
            let accrued = payment
                .rate
                .checked_mul(Decimal256::from_ratio(seconds, 1u64))?;
            let refund = accrued.min(payment.balance);
            payment.balance -= refund;
            return_remainder(&mut loaded.account, refund);
            out.events.push(
                Event::new("payment_refunded")
                    .add_attribute("lease", lease.to_string())
                    .add_attribute("since", since.seconds().to_string())
                    .add_attribute("amount", refund.to_string()),
            );
        }
        payout(
            deps.storage,
            &config,
            &mut loaded.account,
            &mut payment,
            &mut out,
        )?;
        loaded.account.rate = loaded.account.rate.checked_sub(payment.rate)?;
        // The payment's sub-unit remainder returns to the account, so that `held` stays the
        // exact sum of what depositors and payments are owed; it ends as dust at close.
        return_remainder(&mut loaded.account, payment.balance);
        PAYMENTS.remove(deps.storage, payment_key(&lease));
        save(deps.storage, &loaded)?;
        out.events.push(
            Event::new("payment_closed")
                .add_attribute("lease", lease.to_string())
                .add_attribute("state", "closed")
                .add_attribute("withdrawn", payment.withdrawn),
        );
    }
    Ok(out.into_response("close_payment"))
}

fn return_remainder(account: &mut Account, remainder: Decimal256) {
    if remainder.is_zero() {
        return;
    }
    account.balance += remainder;
    match account.depositors.first_mut() {
        Some(d) => d.balance += remainder,
        None => account.depositors.push(Depositor {
            owner: account.owner.clone(),
            source: DepositSource::Direct,
            balance: remainder,
        }),
    }
}

pub fn close_account(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: AccountId,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    require_market(&config, &info.sender)?;
    let loaded = load(deps.storage, &id)?;
    let mut out = Out::default();
    let Some((mut loaded, _)) = touch(deps.storage, &config, loaded, env.block.time, &mut out)?
    else {
        return Ok(out.into_response("close_account"));
    };
    let denom = loaded.account.denom.clone();
    for mut p in std::mem::take(&mut loaded.payments) {
        payout(deps.storage, &config, &mut loaded.account, &mut p, &mut out)?;
        PAYMENTS.remove(deps.storage, (loaded.key.clone(), p.lease.to_string()));
        out.events.push(
            Event::new("payment_closed")
                .add_attribute("lease", p.lease.to_string())
                .add_attribute("state", "closed")
                .add_attribute("withdrawn", p.withdrawn),
        );
    }
    // Refunds, first in first out, in whole units.
    for d in std::mem::take(&mut loaded.account.depositors) {
        let amount = floor(d.balance)?;
        if amount.is_zero() {
            continue;
        }
        loaded.account.held = loaded.account.held.checked_sub(amount)?;
        let mut to_allowance = false;
        if let DepositSource::Allowance { grantee } = &d.source {
            let key = (d.owner.clone(), grantee.clone(), denom_key(&denom));
            if let Some(mut a) = ALLOWANCES.may_load(deps.storage, key.clone())? {
                if a.expires.is_none_or(|e| e > env.block.time) {
                    a.remaining = a.remaining.checked_add(amount)?;
                    ALLOWANCES.save(deps.storage, key, &a)?;
                    to_allowance = true;
                }
            }
        }
        if !to_allowance {
            out.send(&denom, &d.owner, amount)?;
        }
        out.events.push(
            Event::new("refund")
                .add_attribute("account", loaded.key.clone())
                .add_attribute("depositor", d.owner.to_string())
                .add_attribute("amount", amount)
                .add_attribute(
                    "to",
                    if to_allowance {
                        "allowance"
                    } else {
                        "depositor"
                    },
                ),
        );
    }
    let dust = loaded.account.held;
    out.send(&denom, &config.treasury, dust)?;
    ACCOUNTS.remove(deps.storage, loaded.key.clone());
    out.events.push(
        Event::new("account_closed")
            .add_attribute("account", loaded.key.clone())
            .add_attribute("state", "closed")
            .add_attribute("transferred", loaded.account.transferred.to_string())
            .add_attribute("dust", dust),
    );
    Ok(out.into_response("close_account"))
}

pub fn withdraw(deps: DepsMut, env: Env, lease: LeaseId) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let loaded = load(deps.storage, &AccountId::Deployment(lease.deployment()))?;
    payment_index(&loaded, &lease)?;
    let mut out = Out::default();
    if let Some((mut loaded, _)) = touch(deps.storage, &config, loaded, env.block.time, &mut out)? {
        let i = payment_index(&loaded, &lease)?;
        let mut payment = loaded.payments[i].clone();
        payout(
            deps.storage,
            &config,
            &mut loaded.account,
            &mut payment,
            &mut out,
        )?;
        loaded.payments[i] = payment;
        save(deps.storage, &loaded)?;
    }
    Ok(out.into_response("withdraw"))
}

/// Anyone: settles an account and earns `settle_bounty` of what moved to its payments. An
/// overdrawn account is closed (and its leases with it).
pub fn settle_account(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: AccountId,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut loaded = load(deps.storage, &id)?;
    let mut out = Out::default();
    let settlement = settle(&mut loaded.account, &mut loaded.payments, env.block.time)?;
    let bounty = floor(
        settlement
            .moved
            .checked_mul(Decimal256::from(config.params.settle_bounty))?,
    )?;
    take_bounty(&mut loaded.payments, &settlement, bounty)?;
    loaded.account.held = loaded.account.held.checked_sub(bounty)?;
    out.send(&loaded.account.denom, &info.sender, bounty)?;
    out.events.push(
        Event::new("settled")
            .add_attribute("account", id.to_string())
            .add_attribute("moved", settlement.moved.to_string())
            .add_attribute("bounty", bounty)
            .add_attribute("settler", info.sender.to_string()),
    );
    if settlement.overdrawn {
        close_overdrawn(deps.storage, &config, loaded, &mut out)?;
    } else {
        save(deps.storage, &loaded)?;
    }
    Ok(out.into_response("settle"))
}

/// CW20 `Send`s: only from tokens on the allow-list, with no native funds attached.
pub fn receive(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: Cw20ReceiveMsg,
) -> Result<Response, ContractError> {
    cw_utils::nonpayable(&info)?;
    let denom = Denom::Cw20(info.sender.clone());
    accepted(deps.storage, &denom)?;
    if msg.amount.is_zero() {
        return Err(cw_utils::PaymentError::NoFunds {}.into());
    }
    let funds = Incoming {
        sender: deps.api.addr_validate(&msg.sender)?,
        denom,
        amount: msg.amount,
    };
    match ReceiveMsg::parse(&msg.msg)? {
        ReceiveMsg::OpenAccount {
            id,
            owner,
            depositor,
        } => open_account(deps, env, funds, id, owner, depositor),
        ReceiveMsg::Deposit { id, depositor } => deposit(deps, env, funds, id, depositor),
        ReceiveMsg::GrantAllowance { grantee, expires } => {
            grant_allowance(deps, env, funds, grantee, expires)
        }
    }
}
