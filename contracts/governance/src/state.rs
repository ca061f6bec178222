use cosmwasm_std::{Addr, Uint128};
use cw_storage_plus::{Item, Map, SnapshotItem, SnapshotMap, Strategy};
use kumo::governance::{GovernanceParams, Proposal, Vote};

pub const PARAMS: Item<GovernanceParams> = Item::new("params");
/// Locked tokens per voter, with their history so that power is read as of a proposal's start.
pub const LOCKED: SnapshotMap<Addr, Uint128> = SnapshotMap::new(
    "locked",
    "locked__checkpoints",
    "locked__changelog",
    Strategy::EveryBlock,
);
pub const TOTAL_LOCKED: SnapshotItem<Uint128> = SnapshotItem::new(
    "total_locked",
    "total_locked__checkpoints",
    "total_locked__changelog",
    Strategy::EveryBlock,
);
/// Deposits of open proposals, which the treasury may not spend.
pub const OPEN_DEPOSITS: Item<Uint128> = Item::new("open_deposits");
pub const PROPOSALS: Map<u64, Proposal> = Map::new("proposals");
pub const PROPOSAL_SEQ: Item<u64> = Item::new("proposal_seq");
pub const VOTES: Map<(u64, Addr), (Vote, Uint128)> = Map::new("votes");
