use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;
use cw_storage_plus::{Item, Map};
use kumo::staking::{CompensationPool, Dispute, ProviderBond, StakingParams};

#[cw_serde]
pub struct Config {
    pub owner: Addr,
    pub market: Option<Addr>,
    pub treasury: Addr,
    pub arbiter: Option<Addr>,
    pub params: StakingParams,
}

impl Config {
    /// The arbiter, or governance itself when none is set.
    pub fn arbiter(&self) -> &Addr {
        self.arbiter.as_ref().unwrap_or(&self.owner)
    }
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const BONDS: Map<Addr, ProviderBond> = Map::new("bonds");
/// The compensation of a provider's latest absence, while leases remain to be closed.
pub const POOLS: Map<Addr, CompensationPool> = Map::new("pools");
pub const DISPUTES: Map<u64, Dispute> = Map::new("disputes");
/// The open dispute of a lease, by its printed id.
pub const LEASE_DISPUTES: Map<String, u64> = Map::new("lease_disputes");
pub const DISPUTE_SEQ: Item<u64> = Item::new("dispute_seq");
