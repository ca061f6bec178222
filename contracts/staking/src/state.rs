use cosmwasm_std::Addr;
use cw_storage_plus::{Item, Map};
use kumo::codec::{PackedItem, PackedMap};
use kumo::staking::{CompensationPool, Dispute, ProviderBond, StakingParams};

/// Stored in the binary form of `kumo::codec`, parameters first: the market reads them raw as
/// `kumo::staking::CONFIG_PARAMS`.
#[derive(Clone, Debug, PartialEq)]
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

kumo::codec_struct!(Config {
    params,
    owner,
    market,
    treasury,
    arbiter
});

pub const CONFIG: PackedItem<Config> = PackedItem::new("config");
/// The same layout as `kumo::staking::BONDS`, which the market reads raw.
pub const BONDS: PackedMap<Addr, ProviderBond> = PackedMap::new("bonds");
/// The compensation of a provider's latest absence, while leases remain to be closed.
pub const POOLS: PackedMap<Addr, CompensationPool> = PackedMap::new("pools");
pub const DISPUTES: PackedMap<u64, Dispute> = PackedMap::new("disputes");
/// The open dispute of a lease, by its printed id.
pub const LEASE_DISPUTES: Map<String, u64> = Map::new("lease_disputes");
pub const DISPUTE_SEQ: Item<u64> = Item::new("dispute_seq");
