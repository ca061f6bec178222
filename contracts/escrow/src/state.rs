//! Storage. Accounts and payments are keyed by the printed ids (`deployment/owner/dseq`,
//! `bid/owner/dseq/gseq/oseq/provider`), which are unique; one account's payments are a prefix.

use cosmwasm_std::Addr;
use cosmwasm_std::{Decimal256, Storage, Timestamp, Uint128};
use kumo::codec::{PackedItem, PackedMap};
use kumo::codec_struct;
use kumo::escrow::{
    Account, AccountId, AccountState, Allowance, DenomConfig, DepositSource, Depositor,
    EscrowParams, Payment,
};
use kumo::{Denom, LeaseId};

/// Stored in the binary form of `kumo::codec`, as every record of the escrow.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub owner: Addr,
    pub market: Option<Addr>,
    pub treasury: Addr,
    pub guardian: Option<Addr>,
    pub params: EscrowParams,
    pub paused: bool,
}

codec_struct!(Config {
    owner,
    market,
    treasury,
    guardian,
    params,
    paused
});

pub const CONFIG: PackedItem<Config> = PackedItem::new("config");
/// A denomination's configuration; kept when it stops being accepted so that existing accounts
/// run on at the take rate they had.
#[derive(Clone, Debug, PartialEq)]
pub struct DenomEntry {
    pub config: DenomConfig,
    pub accepting: bool,
}

codec_struct!(DenomEntry { config, accepting });

// One-letter namespaces for the maps deployments and leases write: each key carries it, and
// SDK gas charges 30 per byte of key written (3 per byte read).

/// By `Denom`'s printed form.
pub const DENOM_ENTRIES: PackedMap<String, DenomEntry> = PackedMap::new("n");
/// Accounts in their stored form (see [`AccountRecord`]); read and write them with
/// [`load_account`] and [`save_account`].
pub const ACCOUNTS: PackedMap<String, AccountRecord> = PackedMap::new("a");
/// `(account key, lease key)`.
pub const PAYMENTS: PackedMap<(String, String), Payment> = PackedMap::new("p");
/// `(granter, grantee, denom key)`.
pub const ALLOWANCES: PackedMap<(Addr, Addr, String), Allowance> = PackedMap::new("allowances");

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
/// An account as stored: without its id (the key is the id), the usual depositor left out, in
/// the binary form of `kumo::codec`. SDK gas charges 30 per byte written.
pub struct AccountRecord {
    owner: Addr,
    denom: Denom,
    state: AccountState,
    balance: Decimal256,
    rate: Decimal256,
    settled_at: Timestamp,
    transferred: Decimal256,
    held: Uint128,
    depositors: Vec<DepositorRecord>,
}

struct DepositorRecord {
    /// `None`: the account's owner.
    owner: Option<Addr>,
    /// `None`: the depositor's own funds; else the grantee who spent the owner's allowance.
    grantee: Option<Addr>,
    balance: Decimal256,
}

codec_struct!(AccountRecord {
    owner,
    denom,
    state,
    balance,
    rate,
    settled_at,
    transferred,
    held,
    depositors
});
codec_struct!(DepositorRecord {
    owner,
    grantee,
    balance
});

impl AccountRecord {
    fn from_account(a: &Account) -> Self {
        AccountRecord {
            owner: a.owner.clone(),
            denom: a.denom.clone(),
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
            denom: self.denom,
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
) -> kumo::Result<Option<Account>> {
    Ok(ACCOUNTS
        .may_load(storage, key.to_string())?
        .map(|r| r.into_account(id.clone())))
}

pub fn save_account(storage: &mut dyn Storage, key: &str, account: &Account) -> kumo::Result<()> {
    ACCOUNTS.save(
        storage,
        key.to_string(),
        &AccountRecord::from_account(account),
    )
}
