//! Storage, in `kumo::codec`'s binary form: no JSON code per record type in the wasm, and
//! smaller values (SDK gas charges per byte written).

use cosmwasm_std::{Addr, Storage, Uint128};
use kumo::codec::{PackedItem, PackedMap};
use kumo::gateway::{AllowedCounterparty, ChannelInfo, PacketResult, RemoteDeployment};
use kumo::json::{self, FromJson};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 30;
pub const DEFAULT_REFUND_TIMEOUT: u64 = 86_400;
/// Longest remote sender address accepted (bech32 addresses are at most 90 characters).
pub const MAX_SENDER_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub owner: Addr,
    pub market: Addr,
    pub escrow: Addr,
    pub transfer_channel: String,
    pub allowed: Vec<AllowedCounterparty>,
    pub refund_timeout: u64,
}

kumo::codec_struct!(Config {
    owner,
    market,
    escrow,
    transfer_channel,
    allowed,
    refund_timeout
});

pub const CONFIG: PackedItem<Config> = PackedItem::new("config");
/// Channels that completed the handshake, by local channel id (kept, `open: false`, once closed).
pub const CHANNELS: PackedMap<&str, ChannelInfo> = PackedMap::new("channels");
/// Packets received, by (channel, sequence): a second delivery is answered with an error ack.
/// (The value is always `true`: the store takes no empty values.)
pub const RECEIVED: PackedMap<(&str, u64), bool> = PackedMap::new("received");
/// Unspent credit per (account, denom); see [`account`].
pub const CREDITS: PackedMap<(&str, &str), Uint128> = PackedMap::new("credits");
/// The gateway's deployments (the market's owner is the gateway) and who owns each.
pub const DEPLOYMENTS: PackedMap<u64, RemoteDeployment> = PackedMap::new("deployments");
/// The same, by account, for paginated listing (values always `true`).
pub const OWNER_DEPLOYMENTS: PackedMap<(&str, u64), bool> = PackedMap::new("owner_deployments");

/// The result of the packet being processed, from `Process` (and `Refund`) to the reply that
/// turns it into the acknowledgement. Written and removed within one packet's transaction, as
/// the JSON the acknowledgement carries.
pub struct PendingResult;

const RESULT_KEY: &[u8] = b"result";

impl PendingResult {
    pub fn save(storage: &mut dyn Storage, result: &PacketResult) {
        storage.set(RESULT_KEY, json::write(result).as_slice());
    }

    /// Takes the result out of storage.
    pub fn take(storage: &mut dyn Storage) -> kumo::Result<Option<PacketResult>> {
        let Some(bytes) = storage.get(RESULT_KEY) else {
            return Ok(None);
        };
        storage.remove(RESULT_KEY);
        PacketResult::parse(&bytes).map(Some)
    }
}

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
