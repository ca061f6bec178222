use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;
use cw_storage_plus::{Item, Map};
use kumo::gateway::client::Pending;
use kumo::gateway::ChannelInfo;

pub const DEFAULT_TIMEOUT: u64 = 600;
/// Longest packet timeout a caller may ask for, seconds.
pub const MAX_TIMEOUT: u64 = 7 * 86_400;
/// Gas a callback receiver may use; more fails the callback, not the ack.
pub const CALLBACK_GAS_LIMIT: u64 = 2_000_000;

#[cw_serde]
pub struct Config {
    pub owner: Addr,
    pub transfer_channel: String,
    pub gateway_port: Option<String>,
    pub default_timeout: u64,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// The one channel to the gateway (Polytone's note has one voice), while it is open.
pub const CHANNEL: Item<ChannelInfo> = Item::new("channel");
/// Sequence of the last packet sent on the channel. The client is the only sender on its
/// channel's port, so this counter is the IBC sequence (as Polytone's note counts).
pub const SEQUENCE: Map<&str, u64> = Map::new("sequence");
/// Packets awaiting their ack or timeout, by (channel, sequence).
pub const PENDING: Map<(&str, u64), Pending> = Map::new("pending");
