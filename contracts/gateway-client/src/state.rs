//! Storage, in `kumo::codec`'s binary form (no JSON code per record type in the wasm).

use cosmwasm_std::Addr;
use kumo::codec::{PackedItem, PackedMap};
use kumo::gateway::client::Pending;
use kumo::gateway::ChannelInfo;

pub const DEFAULT_TIMEOUT: u64 = 600;
/// Longest packet timeout a caller may ask for, seconds.
pub const MAX_TIMEOUT: u64 = 7 * 86_400;
/// Gas a callback receiver may use; more fails the callback, not the ack.
pub const CALLBACK_GAS_LIMIT: u64 = 2_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub owner: Addr,
    pub transfer_channel: String,
    pub gateway_port: Option<String>,
    pub default_timeout: u64,
}

kumo::codec_struct!(Config {
    owner,
    transfer_channel,
    gateway_port,
    default_timeout
});

pub const CONFIG: PackedItem<Config> = PackedItem::new("config");
/// The one channel to the gateway (Polytone's note has one voice), while it is open.
pub const CHANNEL: PackedItem<ChannelInfo> = PackedItem::new("channel");
/// Sequence of the last packet sent on the channel. The client is the only sender on its
/// channel's port, so this counter is the IBC sequence (as Polytone's note counts).
pub const SEQUENCE: PackedMap<&str, u64> = PackedMap::new("sequence");
/// Packets awaiting their ack or timeout, by (channel, sequence).
pub const PENDING: PackedMap<(&str, u64), Pending> = PackedMap::new("pending");
