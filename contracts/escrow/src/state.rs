//! Storage. Accounts and payments are keyed by the printed ids (`deployment/owner/dseq`,
//! `bid/owner/dseq/gseq/oseq/provider`), which are unique; one account's payments are a prefix.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;
use cw_storage_plus::{Item, Map};
use kumo::escrow::{Account, AccountId, Allowance, DenomConfig, EscrowParams, Payment};
use kumo::{Denom, LeaseId};

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
pub const ACCOUNTS: Map<String, Account> = Map::new("accounts");
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
