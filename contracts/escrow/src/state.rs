//! Storage. Accounts and payments are keyed by the printed ids (`deployment/owner/dseq`,
//! `bid/owner/dseq/gseq/oseq/provider`), which are unique; one account's payments are a prefix.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;
use cosmwasm_std::{Decimal256, StdResult, Storage, Timestamp, Uint128};
use cw_storage_plus::{Item, Map};
use kumo::escrow::{
    Account, AccountId, AccountState, Allowance, DenomConfig, DepositSource, Depositor,
    EscrowParams, Payment,
};
use kumo::{Denom, LeaseId};
use serde::{Deserialize, Serialize};

#[cw_serde]
pub struct Config {
    pub owner: Addr,
    pub market: Option<Addr>,
    pub treasury: Addr,
    pub guardian: Option<Addr>,
    pub params: EscrowParams,
    pub paused: bool,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// A denomination's configuration; kept when it stops being accepted so that existing accounts
/// run on at the take rate they had.
#[cw_serde]
pub struct DenomEntry {
    pub config: DenomConfig,
    pub accepting: bool,
}

/// By `Denom`'s printed form.
pub const DENOM_ENTRIES: Map<String, DenomEntry> = Map::new("denoms");
/// Accounts in their stored form (see [`AccountRecord`]); read and write them with
/// [`load_account`] and [`save_account`].
pub const ACCOUNTS: Map<String, AccountRecord> = Map::new("accounts");
/// `(account key, lease key)`.
pub const PAYMENTS: Map<(String, String), Payment> = Map::new("payments");
/// `(granter, grantee, denom key)`.
pub const ALLOWANCES: Map<(Addr, Addr, String), Allowance> = Map::new("allowances");

pub fn account_key(id: &AccountId) -> String {
    id.to_string()
}

pub fn denom_key(denom: &Denom) -> String {
    denom.to_string()
}

/// A lease is paid from its deployment's account.
pub fn payment_key(lease: &LeaseId) -> (String, String) {
    (
        account_key(&AccountId::Deployment(lease.deployment())),
        lease.to_string(),
    )
}

/// An account as stored: without its id (the key is the id) and with one-letter field names,
/// zero fields and the usual depositor left out. SDK gas charges 30 per byte written, so the
/// bid account a `CreateBid` opens costs about a third of the full JSON form.
#[derive(Serialize, Deserialize)]
pub struct AccountRecord {
    #[serde(rename = "o")]
    owner: Addr,
    /// `Denom`'s printed form.
    #[serde(rename = "d")]
    denom: String,
    #[serde(rename = "s", default = "open", skip_serializing_if = "is_open")]
    state: AccountState,
    #[serde(rename = "b", default, skip_serializing_if = "Decimal256::is_zero")]
    balance: Decimal256,
    #[serde(rename = "r", default, skip_serializing_if = "Decimal256::is_zero")]
    rate: Decimal256,
    #[serde(rename = "t")]
    settled_at: Timestamp,
    #[serde(rename = "x", default, skip_serializing_if = "Decimal256::is_zero")]
    transferred: Decimal256,
    #[serde(rename = "h", default, skip_serializing_if = "Uint128::is_zero")]
    held: Uint128,
    #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
    depositors: Vec<DepositorRecord>,
}

#[derive(Serialize, Deserialize)]
struct DepositorRecord {
    /// `None`: the account's owner.
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    owner: Option<Addr>,
    /// `None`: the depositor's own funds; else the grantee who spent the owner's allowance.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    grantee: Option<Addr>,
    #[serde(rename = "b")]
    balance: Decimal256,
}

fn open() -> AccountState {
    AccountState::Open
}

fn is_open(s: &AccountState) -> bool {
    *s == AccountState::Open
}

impl AccountRecord {
    fn from_account(a: &Account) -> Self {
        AccountRecord {
            owner: a.owner.clone(),
            denom: a.denom.to_string(),
            state: a.state,
            balance: a.balance,
            rate: a.rate,
            settled_at: a.settled_at,
            transferred: a.transferred,
            held: a.held,
            depositors: a
                .depositors
                .iter()
                .map(|d| DepositorRecord {
                    owner: (d.owner != a.owner).then(|| d.owner.clone()),
                    grantee: match &d.source {
                        DepositSource::Direct => None,
                        DepositSource::Allowance { grantee } => Some(grantee.clone()),
                    },
                    balance: d.balance,
                })
                .collect(),
        }
    }

    fn into_account(self, id: AccountId) -> Account {
        let owner = self.owner;
        Account {
            id,
            denom: kumo::Denom::parse(&self.denom),
            state: self.state,
            balance: self.balance,
            rate: self.rate,
            settled_at: self.settled_at,
            transferred: self.transferred,
            held: self.held,
            depositors: self
                .depositors
                .into_iter()
                .map(|d| Depositor {
                    owner: d.owner.unwrap_or_else(|| owner.clone()),
                    source: match d.grantee {
                        None => DepositSource::Direct,
                        Some(grantee) => DepositSource::Allowance { grantee },
                    },
                    balance: d.balance,
                })
                .collect(),
            owner,
        }
    }
}

pub fn load_account(
    storage: &dyn Storage,
    key: &str,
    id: &AccountId,
) -> StdResult<Option<Account>> {
    Ok(ACCOUNTS
        .may_load(storage, key.to_string())?
        .map(|r| r.into_account(id.clone())))
}

pub fn save_account(storage: &mut dyn Storage, key: &str, account: &Account) -> StdResult<()> {
    ACCOUNTS.save(
        storage,
        key.to_string(),
        &AccountRecord::from_account(account),
    )
}
