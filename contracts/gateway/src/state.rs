use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};
use cw_storage_plus::{Item, Map};
use kumo::gateway::{AllowedCounterparty, ChannelInfo, PacketResult, RemoteDeployment};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;
pub const DEFAULT_REFUND_TIMEOUT: u64 = 86_400;
/// Longest remote sender address accepted (bech32 addresses are at most 90 characters).
pub const MAX_SENDER_LEN: usize = 128;

#[cw_serde]
pub struct Config {
    pub owner: Addr,
    pub market: Addr,
    pub escrow: Addr,
    pub transfer_channel: String,
    pub allowed: Vec<AllowedCounterparty>,
    pub refund_timeout: u64,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// Channels that completed the handshake, by local channel id (kept, `open: false`, once closed).
pub const CHANNELS: Map<&str, ChannelInfo> = Map::new("channels");
/// Packets received, by (channel, sequence): a second delivery is answered with an error ack.
pub const RECEIVED: Map<(&str, u64), ()> = Map::new("received");
/// Unspent credit per (account, denom); see [`account`].
pub const CREDITS: Map<(&str, &str), Uint128> = Map::new("credits");
/// The gateway's deployments (the market's owner is the gateway) and who owns each.
pub const DEPLOYMENTS: Map<u64, RemoteDeployment> = Map::new("deployments");
/// The same, by account, for paginated listing.
pub const OWNER_DEPLOYMENTS: Map<(&str, u64), ()> = Map::new("owner_deployments");
/// The result of the packet being processed, from `Process` (and `Refund`) to the reply that
/// turns it into the acknowledgement. Written and removed within one packet's transaction.
pub const RESULT: Item<PacketResult> = Item::new("result");

/// A remote sender's account: `<connection>/<client port>/<sender>`. Keyed by the connection and
/// the client's port rather than the channel (as Polytone keys its proxies), so that a channel
/// that closes does not lock its accounts: a new channel from the same client reaches them.
/// Unambiguous: connection ids and ports hold no `/`, senders are letters and digits.
pub fn account(channel: &ChannelInfo, sender: &str) -> String {
    format!(
        "{}/{}/{sender}",
        channel.connection_id, channel.counterparty_port
    )
}

/// The account that owns a deployment.
pub fn owner_account(deployment: &RemoteDeployment) -> String {
    format!(
        "{}/{}/{}",
        deployment.connection_id, deployment.counterparty_port, deployment.sender
    )
}
