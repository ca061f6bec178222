use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;
use cw_storage_plus::{Item, Map};
use kumo::codec::PackedMap;
use kumo::registry::{Provider, RegistryLimits};
use kumo::Attribute;

#[cw_serde]
pub struct Config {
    pub owner: Addr,
    pub market: Option<Addr>,
    pub limits: RegistryLimits,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// Providers and audits in the binary form of `kumo::codec`; the market reads both raw
/// (`kumo::registry::PROVIDER_MATCH`, `AUDITS`).
pub const PROVIDERS: PackedMap<Addr, Provider> = PackedMap::new("providers");
/// What each auditor signed for each provider: `(provider, auditor)`, sorted by key.
pub const AUDITS: PackedMap<(Addr, Addr), Vec<Attribute>> = PackedMap::new("audits");
/// How many auditors signed for a provider, so the bound is checked in O(1).
pub const AUDITOR_COUNT: Map<Addr, u32> = Map::new("auditor_count");
