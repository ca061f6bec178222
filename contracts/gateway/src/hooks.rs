//! ibc-hooks (Osmosis `x/ibc-hooks`): an ICS-20 transfer whose receiver is a contract and whose
//! memo is `{"wasm":{"contract":..,"msg":..}}` executes `msg` on the contract with the
//! transferred funds. The caller is not the remote sender but an intermediary account derived
//! from the local channel the transfer arrived on and the remote sender:
//! `bech32(prefix, sha256(sha256("ibc-wasm-hook-intermediary") || "<channel>/<sender>"))`
//! (`keeper.DeriveIntermediateSender`). Recomputing it is how the gateway knows who paid.

use cosmwasm_std::{Addr, Api};
use sha2::{Digest, Sha256};

pub const SENDER_PREFIX: &str = "ibc-wasm-hook-intermediary";

/// The address ibc-hooks executes as for `remote_sender`'s transfers over local `channel`.
pub fn intermediary_sender(
    api: &dyn Api,
    channel: &str,
    remote_sender: &str,
) -> kumo::Result<Addr> {
    let type_hash = Sha256::digest(SENDER_PREFIX.as_bytes());
    let mut hasher = Sha256::new();
    hasher.update(type_hash);
    hasher.update(format!("{channel}/{remote_sender}").as_bytes());
    let bytes = hasher.finalize();
    kumo::entry::addr_humanize(api, bytes.as_slice())
}

/// The contract address a `wasm.<address>` port belongs to.
pub fn port_contract(port_id: &str) -> Option<&str> {
    port_id.strip_prefix("wasm.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::testing::MockApi;

    #[test]
    fn intermediary_depends_on_channel_and_sender() {
        let api = MockApi::default();
        let a = intermediary_sender(&api, "channel-0", "osmo1alice").unwrap();
        assert_eq!(
            a,
            intermediary_sender(&api, "channel-0", "osmo1alice").unwrap()
        );
        assert_ne!(
            a,
            intermediary_sender(&api, "channel-1", "osmo1alice").unwrap()
        );
        assert_ne!(
            a,
            intermediary_sender(&api, "channel-0", "osmo1bob").unwrap()
        );
    }

    #[test]
    fn ports_name_their_contract() {
        assert_eq!(port_contract("wasm.osmo1client"), Some("osmo1client"));
        assert_eq!(port_contract("transfer"), None);
    }
}
