//! Config, credits through ibc-hooks, and the actions of received packets.
//!
//! A received packet runs here as `Process`, a message of the gateway to itself dispatched by
//! `ibc_packet_receive` as a submessage: every write below and every market call it emits
//! succeed together or roll back together.

use cosmwasm_std::{
    Coin, CosmosMsg, DepsMut, Env, Event, IbcMsg, IbcTimeout, MessageInfo, Response, Storage,
    Uint128, WasmMsg,
};
use kumo::entry::{addr_validate, query_balance};
use kumo::gateway::{
    AllowedCounterparty, ChannelInfo, ExecuteMsg, GatewayPacket, InstantiateMsg, PacketMsg,
    PacketResult, RemoteDeployment, SrcCallback,
};
use kumo::json;
use kumo::market::{ExecuteMsg as MarketMsg, LAST_SEQ as MARKET_LAST_SEQ};
use kumo::{BidId, DeploymentId};

use crate::error::ContractError;
use crate::hooks::{intermediary_sender, port_contract};
use crate::state::PendingResult;
use crate::state::{
    account, owner_account, Config, CHANNELS, CONFIG, CREDITS, DEFAULT_REFUND_TIMEOUT, DEPLOYMENTS,
    MAX_SENDER_LEN, OWNER_DEPLOYMENTS,
};

/// Most (connection, port) pairs the config may allow (the handshake scans them).
pub const MAX_ALLOWED: usize = 32;

pub fn instantiate(deps: DepsMut, msg: InstantiateMsg) -> Result<Response, ContractError> {
    let config = Config {
        owner: addr_validate(deps.api, &msg.owner)?,
        market: addr_validate(deps.api, &msg.market)?,
        escrow: addr_validate(deps.api, &msg.escrow)?,
        transfer_channel: validate_channel_id(msg.transfer_channel)?,
        allowed: validate_allowed(msg.allowed)?,
        refund_timeout: validate_timeout(msg.refund_timeout.unwrap_or(DEFAULT_REFUND_TIMEOUT))?,
    };
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_event(config_event(&config)))
}

pub struct ConfigUpdate {
    pub owner: Option<String>,
    pub market: Option<String>,
    pub escrow: Option<String>,
    pub transfer_channel: Option<String>,
    pub allowed: Option<Vec<AllowedCounterparty>>,
    pub refund_timeout: Option<u64>,
}

pub fn update_config(
    deps: DepsMut,
    info: MessageInfo,
    update: ConfigUpdate,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    if info.sender != config.owner {
        return Err(ContractError::unauthorized(config.owner.as_str()));
    }
    if let Some(owner) = update.owner {
        config.owner = addr_validate(deps.api, &owner)?;
    }
    if let Some(market) = update.market {
        config.market = addr_validate(deps.api, &market)?;
    }
    if let Some(escrow) = update.escrow {
        config.escrow = addr_validate(deps.api, &escrow)?;
    }
    if let Some(channel) = update.transfer_channel {
        config.transfer_channel = validate_channel_id(channel)?;
    }
    if let Some(allowed) = update.allowed {
        config.allowed = validate_allowed(allowed)?;
    }
    if let Some(timeout) = update.refund_timeout {
        config.refund_timeout = validate_timeout(timeout)?;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_event(config_event(&config)))
}

fn config_event(config: &Config) -> Event {
    let allowed: Vec<String> = config
        .allowed
        .iter()
        .map(|a| format!("{}/{}", a.connection_id, a.port_id))
        .collect();
    Event::new("gateway_config")
        .add_attribute("owner", config.owner.as_str())
        .add_attribute("market", config.market.as_str())
        .add_attribute("escrow", config.escrow.as_str())
        .add_attribute("transfer_channel", &config.transfer_channel)
        .add_attribute("allowed", allowed.join(","))
        .add_attribute("refund_timeout", config.refund_timeout.to_string())
}

fn validate_channel_id(id: String) -> Result<String, ContractError> {
    if !id.starts_with("channel-") || id.len() > 64 {
        return Err(ContractError::InvalidParams {
            reason: format!("{id:?} is not a channel id"),
        });
    }
    Ok(id)
}

fn validate_allowed(
    allowed: Vec<AllowedCounterparty>,
) -> Result<Vec<AllowedCounterparty>, ContractError> {
    if allowed.len() > MAX_ALLOWED {
        return Err(ContractError::InvalidParams {
            reason: format!("at most {MAX_ALLOWED} allowed counterparties"),
        });
    }
    if allowed
        .iter()
        .any(|a| a.connection_id.is_empty() || a.port_id.is_empty())
    {
        return Err(ContractError::InvalidParams {
            reason: "an allowed counterparty needs a connection and a port".into(),
        });
    }
    Ok(allowed)
}

fn validate_timeout(seconds: u64) -> Result<u64, ContractError> {
    if seconds == 0 {
        return Err(ContractError::InvalidParams {
            reason: "the refund timeout must be positive".into(),
        });
    }
    Ok(seconds)
}

/// A channel packets and credits may use: connected, not closed, and its (connection, port)
/// still allowed — governance revokes a client by removing it from `allowed`.
pub fn live_channel(storage: &dyn Storage, channel: &str) -> Result<ChannelInfo, ContractError> {
    let ch = CHANNELS
        .may_load(storage, channel)?
        .filter(|c| c.open)
        .ok_or_else(|| ContractError::UnknownChannel {
            channel: channel.into(),
        })?;
    let config = CONFIG.load(storage)?;
    if !config
        .allowed
        .iter()
        .any(|a| a.connection_id == ch.connection_id && a.port_id == ch.counterparty_port)
    {
        return Err(ContractError::CounterpartyNotAllowed {
            connection: ch.connection_id,
            port: ch.counterparty_port,
        });
    }
    Ok(ch)
}

/// A remote address: 1 to 128 ASCII letters and digits (bech32 and hex addresses are). It keys
/// storage and is the receiver of refund transfers.
pub fn validate_sender(sender: &str) -> Result<(), ContractError> {
    if sender.is_empty() || sender.len() > MAX_SENDER_LEN {
        return Err(ContractError::InvalidSender {
            reason: format!("length {} is outside 1..={MAX_SENDER_LEN}", sender.len()),
        });
    }
    if !sender.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ContractError::InvalidSender {
            reason: format!("{sender:?} has characters other than letters and digits"),
        });
    }
    Ok(())
}

/// ibc-hooks' call with the funds of an ICS-20 transfer: credits them to `sender`'s account on
/// `channel`, if the transfer came from `sender` itself or from the channel's client contract
/// (which attests its caller as it does in packets), over the configured transfer channel.
pub fn credit(
    deps: DepsMut,
    info: MessageInfo,
    channel: &str,
    sender: &str,
) -> Result<Response, ContractError> {
    let coin = cw_utils::one_coin(&info)?;
    validate_sender(sender)?;
    let ch = live_channel(deps.storage, channel)?;
    let config = CONFIG.load(deps.storage)?;
    let api = deps.api;
    let via = if info.sender == intermediary_sender(api, &config.transfer_channel, sender)? {
        "sender"
    } else if let Some(client) = port_contract(&ch.counterparty_port) {
        if info.sender != intermediary_sender(api, &config.transfer_channel, client)? {
            return Err(forged(&info, sender, &config));
        }
        "client"
    } else {
        return Err(forged(&info, sender, &config));
    };
    let acct = account(&ch, sender);
    let balance = add_credit(deps.storage, &acct, &coin)?;
    Ok(Response::new().add_attribute("action", "credit").add_event(
        Event::new("gateway_credit")
            .add_attribute("channel", channel)
            .add_attribute("account", &acct)
            .add_attribute("sender", sender)
            .add_attribute("amount", coin.to_string())
            .add_attribute("balance", balance.to_string())
            .add_attribute("via", via),
    ))
}

fn forged(info: &MessageInfo, sender: &str, config: &Config) -> ContractError {
    ContractError::ForgedCredit {
        caller: info.sender.to_string(),
        sender: sender.into(),
        transfer_channel: config.transfer_channel.clone(),
    }
}

fn debit(storage: &mut dyn Storage, acct: &str, coin: &Coin) -> Result<Event, ContractError> {
    if coin.amount.is_zero() {
        return Err(ContractError::InvalidPacket {
            reason: "amount must be positive".into(),
        });
    }
    let key = (acct, coin.denom.as_str());
    let available = CREDITS.may_load(storage, key)?.unwrap_or_default();
    let left =
        available
            .checked_sub(coin.amount)
            .map_err(|_| ContractError::InsufficientCredit {
                denom: coin.denom.clone(),
                available,
                needed: coin.amount,
            })?;
    if left.is_zero() {
        CREDITS.remove(storage, key);
    } else {
        CREDITS.save(storage, key, &left)?;
    }
    Ok(Event::new("gateway_debit")
        .add_attribute("account", acct)
        .add_attribute("amount", coin.to_string())
        .add_attribute("balance", left.to_string()))
}

/// The deployment, if account `acct` owns it.
fn owned(storage: &dyn Storage, acct: &str, dseq: u64) -> Result<RemoteDeployment, ContractError> {
    let deployment = DEPLOYMENTS
        .may_load(storage, dseq)?
        .ok_or(ContractError::DeploymentNotFound { dseq })?;
    if owner_account(&deployment) != acct {
        return Err(ContractError::NotOwner { dseq });
    }
    Ok(deployment)
}

fn market_msg(config: &Config, msg: &MarketMsg, funds: Vec<Coin>) -> CosmosMsg {
    WasmMsg::Execute {
        contract_addr: config.market.to_string(),
        msg: json::write(msg),
        funds,
    }
    .into()
}

/// An ICS-20 transfer of `amount` to `to`, which account `acct` pays. Its memo asks the chain's
/// IBC callbacks middleware (ADR-8) to tell the gateway how it ended
/// (`ibc::ibc_source_callback`), and names the account, so that tokens the transfer module
/// gives back after an error ack or a timeout are credited to it again.
fn transfer(env: &Env, config: &Config, to: &str, amount: Coin, acct: &str) -> CosmosMsg {
    let memo = TransferMemo {
        src_callback: Some(SrcCallback {
            address: env.contract.address.to_string(),
        }),
        kumo_gateway: Some(MemoAccount {
            account: acct.into(),
        }),
    };
    IbcMsg::Transfer {
        channel_id: config.transfer_channel.clone(),
        to_address: to.to_string(),
        amount,
        timeout: IbcTimeout::with_timestamp(env.block.time.plus_seconds(config.refund_timeout)),
        memo: Some(String::from_utf8_lossy(json::write(&memo).as_slice()).into_owned()),
    }
    .into()
}

/// The memo of the gateway's transfers, written by [`transfer`] and read back by
/// `ibc::ibc_source_callback`: `{"src_callback":{"address":<gateway>},
/// "kumo_gateway":{"account":"<connection>/<port>/<sender>"}}`.
pub struct TransferMemo {
    pub src_callback: Option<SrcCallback>,
    pub kumo_gateway: Option<MemoAccount>,
}

pub struct MemoAccount {
    pub account: String,
}

kumo::json_struct!(TransferMemo {
    src_callback,
    kumo_gateway
});
kumo::json_struct!(MemoAccount { account });

/// Adds `coin` to account `acct`'s credit; returns the new balance.
pub fn add_credit(
    storage: &mut dyn Storage,
    acct: &str,
    coin: &Coin,
) -> Result<Uint128, ContractError> {
    let key = (acct, coin.denom.as_str());
    let balance = CREDITS
        .may_load(storage, key)?
        .unwrap_or_default()
        .checked_add(coin.amount)
        .map_err(|e| kumo::Error::Overflow(e.to_string()))?;
    CREDITS.save(storage, key, &balance)?;
    Ok(balance)
}

fn lease_id(
    env: &Env,
    deps: &DepsMut,
    dseq: u64,
    gseq: u32,
    oseq: u32,
    provider: &str,
) -> Result<BidId, ContractError> {
    Ok(BidId {
        owner: env.contract.address.clone(),
        dseq,
        gseq,
        oseq,
        provider: addr_validate(deps.api, provider)?,
    })
}

/// Runs one received packet's action as the remote sender's account.
pub fn process(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    channel: &str,
    packet: GatewayPacket,
) -> Result<Response, ContractError> {
    if info.sender != env.contract.address {
        return Err(ContractError::unauthorized("the gateway itself"));
    }
    let ch = live_channel(deps.storage, channel)?;
    let sender = packet.sender.as_str();
    validate_sender(sender)?;
    let acct = account(&ch, sender);
    let config = CONFIG.load(deps.storage)?;
    let gateway = env.contract.address.clone();
    let kind = packet.msg.kind();
    let mut res = Response::new().add_attribute("action", "process");
    let result = match packet.msg {
        PacketMsg::CreateDeployment {
            deployment,
            deposit,
        } => {
            res = res.add_event(debit(deps.storage, &acct, &deposit)?);
            // The market gives a new deployment the next number of its one counter of `dseq`s and
            // order `seq`s (increasing, shared by every owner, not consecutive per owner); this
            // packet's create is the next message to run, in this same submessage, so nothing
            // takes a number in between.
            let dseq = MARKET_LAST_SEQ
                .query(&deps.querier, config.market.clone())?
                .unwrap_or_default()
                + 1;
            let record = RemoteDeployment {
                dseq,
                connection_id: ch.connection_id.clone(),
                counterparty_port: ch.counterparty_port.clone(),
                sender: sender.into(),
                denom: deposit.denom.clone(),
            };
            DEPLOYMENTS.save(deps.storage, dseq, &record)?;
            OWNER_DEPLOYMENTS.save(deps.storage, (&acct, dseq), &true)?;
            res = res.add_message(market_msg(
                &config,
                &MarketMsg::CreateDeployment(deployment),
                vec![deposit],
            ));
            PacketResult::DeploymentCreated { dseq }
        }
        PacketMsg::Deposit { dseq, amount } => {
            owned(deps.storage, &acct, dseq)?;
            res = res.add_event(debit(deps.storage, &acct, &amount)?);
            res = res.add_message(market_msg(
                &config,
                &MarketMsg::Deposit {
                    deployment: DeploymentId::new(gateway, dseq),
                },
                vec![amount],
            ));
            PacketResult::Deposited { dseq }
        }
        PacketMsg::CreateLease {
            dseq,
            gseq,
            oseq,
            provider,
        } => {
            owned(deps.storage, &acct, dseq)?;
            let bid = lease_id(&env, &deps, dseq, gseq, oseq, &provider)?;
            res = res.add_message(market_msg(&config, &MarketMsg::CreateLease { bid }, vec![]));
            PacketResult::LeaseCreated { dseq }
        }
        PacketMsg::CloseLease {
            dseq,
            gseq,
            oseq,
            provider,
        } => {
            owned(deps.storage, &acct, dseq)?;
            let lease = lease_id(&env, &deps, dseq, gseq, oseq, &provider)?;
            res = res.add_message(market_msg(
                &config,
                &MarketMsg::CloseLease { lease },
                vec![],
            ));
            PacketResult::LeaseClosed { dseq }
        }
        PacketMsg::CloseDeployment { dseq } => {
            let record = owned(deps.storage, &acct, dseq)?;
            DEPLOYMENTS.remove(deps.storage, dseq);
            OWNER_DEPLOYMENTS.remove(deps.storage, (&acct, dseq));
            // The market may have closed it already by itself (its escrow account ran dry, and
            // there is nothing to refund): the record goes, and that is all.
            let key = kumo::market::deployment_key(&gateway, dseq);
            if kumo::entry::raw_query(&deps.querier, config.market.clone(), &key)?.is_some() {
                // The escrow refunds its depositor, the gateway; what arrives during the close
                // is this deployment's refund and goes to its owner (`Refund`, after the close).
                let before = query_balance(&deps.querier, gateway.as_str(), &record.denom)?;
                res = res
                    .add_message(market_msg(
                        &config,
                        &MarketMsg::CloseDeployment { dseq },
                        vec![],
                    ))
                    .add_message(WasmMsg::Execute {
                        contract_addr: gateway.to_string(),
                        msg: json::write(&ExecuteMsg::Refund {
                            channel: channel.into(),
                            sender: sender.into(),
                            dseq,
                            denom: record.denom,
                            before,
                        }),
                        funds: vec![],
                    });
            }
            PacketResult::DeploymentClosed { dseq, refund: None }
        }
        PacketMsg::UpdateManifest { dseq, version } => {
            owned(deps.storage, &acct, dseq)?;
            res = res.add_message(market_msg(
                &config,
                &MarketMsg::UpdateDeployment { dseq, version },
                vec![],
            ));
            PacketResult::ManifestUpdated { dseq }
        }
        PacketMsg::Withdraw { amount } => {
            res = res.add_event(debit(deps.storage, &acct, &amount)?);
            res = res.add_message(transfer(&env, &config, sender, amount.clone(), &acct));
            PacketResult::Withdrawn { amount }
        }
    };
    PendingResult::save(deps.storage, &result);
    let result = String::from_utf8_lossy(json::write(&result).as_slice()).into_owned();
    Ok(res.add_event(
        Event::new("gateway_action")
            .add_attribute("channel", channel)
            .add_attribute("account", &acct)
            .add_attribute("sender", sender)
            .add_attribute("kind", kind)
            .add_attribute("result", result),
    ))
}

/// After a `CloseDeployment`: sends the deployment's refund (the balance above `before`) to its
/// remote owner over ICS-20.
#[allow(clippy::too_many_arguments)]
pub fn refund(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    channel: &str,
    sender: &str,
    dseq: u64,
    denom: &str,
    before: Uint128,
) -> Result<Response, ContractError> {
    if info.sender != env.contract.address {
        return Err(ContractError::unauthorized("the gateway itself"));
    }
    let config = CONFIG.load(deps.storage)?;
    // `Process` checked the channel in this same submessage: its record is enough here.
    let acct = account(&CHANNELS.load(deps.storage, channel)?, sender);
    let now = query_balance(&deps.querier, env.contract.address.as_str(), denom)?;
    let amount = now.saturating_sub(before);
    let mut res = Response::new().add_attribute("action", "refund");
    let refund = if amount.is_zero() {
        None
    } else {
        let coin = Coin::new(amount, denom);
        res = res
            .add_message(transfer(&env, &config, sender, coin.clone(), &acct))
            .add_event(
                Event::new("gateway_refund")
                    .add_attribute("channel", channel)
                    .add_attribute("sender", sender)
                    .add_attribute("dseq", dseq.to_string())
                    .add_attribute("amount", coin.to_string())
                    .add_attribute("transfer_channel", &config.transfer_channel),
            );
        Some(coin)
    };
    PendingResult::save(
        deps.storage,
        &PacketResult::DeploymentClosed { dseq, refund },
    );
    Ok(res)
}
