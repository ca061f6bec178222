//! The IBC gateway's interface: the packets a counterparty chain sends to order and pay for
//! compute (`kumo-gateway`, on the Kumo chain), their acknowledgements, and the client contract
//! a dApp calls on the counterparty chain (`kumo-gateway-client`).

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Coin, HexBinary, IbcChannel, IbcOrder, IbcPacket};

use crate::json;

use crate::market::NewDeployment;

/// The channel version both ends agree on in the handshake.
pub const IBC_VERSION: &str = "kumo-gateway-1";

/// What the client sends over the channel: an action and the address on the counterparty chain
/// it acts for (the client's `info.sender`; the gateway trusts the client's port to tell it).
#[cw_serde]
pub struct GatewayPacket {
    pub sender: String,
    pub msg: PacketMsg,
}

/// The actions a remote sender takes through its account at the gateway. Deployments and leases
/// are named by the `dseq` the gateway's `DeploymentCreated` result gave; the market's owner of
/// all of them is the gateway, which keeps who owns which.
#[cw_serde]
pub enum PacketMsg {
    /// Creates a deployment funded with `deposit` from the sender's credit (funds that arrived
    /// by ICS-20 with the `credit` hook).
    CreateDeployment {
        deployment: NewDeployment,
        deposit: Coin,
    },
    /// Tops up one of the sender's deployments from its credit.
    Deposit { dseq: u64, amount: Coin },
    /// Accepts a provider's open bid on one of the sender's orders.
    CreateLease {
        dseq: u64,
        gseq: u32,
        oseq: u32,
        provider: String,
    },
    CloseLease {
        dseq: u64,
        gseq: u32,
        oseq: u32,
        provider: String,
    },
    /// Closes the deployment; what the escrow refunds goes back to the sender over ICS-20.
    CloseDeployment { dseq: u64 },
    /// Replaces the deployment's manifest version (SHA-256 of the manifest, 32 bytes).
    UpdateManifest { dseq: u64, version: HexBinary },
    /// Sends unspent credit back to the sender over ICS-20.
    Withdraw { amount: Coin },
}

impl PacketMsg {
    /// The action's name, as events print it.
    pub fn kind(&self) -> &'static str {
        match self {
            PacketMsg::CreateDeployment { .. } => "create_deployment",
            PacketMsg::Deposit { .. } => "deposit",
            PacketMsg::CreateLease { .. } => "create_lease",
            PacketMsg::CloseLease { .. } => "close_lease",
            PacketMsg::CloseDeployment { .. } => "close_deployment",
            PacketMsg::UpdateManifest { .. } => "update_manifest",
            PacketMsg::Withdraw { .. } => "withdraw",
        }
    }
}

/// What a successful packet did: the `result` of its acknowledgement, JSON then base64.
#[cw_serde]
pub enum PacketResult {
    DeploymentCreated {
        dseq: u64,
    },
    Deposited {
        dseq: u64,
    },
    LeaseCreated {
        dseq: u64,
    },
    LeaseClosed {
        dseq: u64,
    },
    /// `refund`: what was sent back over ICS-20 (none if the escrow refunded nothing).
    DeploymentClosed {
        dseq: u64,
        refund: Option<Coin>,
    },
    ManifestUpdated {
        dseq: u64,
    },
    Withdrawn {
        amount: Coin,
    },
}

/// The standard acknowledgement envelope (ICS-20's, `cw-ics20`'s): `{"result":"<base64>"}` or
/// `{"error":"<message>"}`.
#[cw_serde]
pub enum Ack {
    Result(Binary),
    Error(String),
}

impl Ack {
    pub fn success(result: &PacketResult) -> Binary {
        json::write(&Ack::Result(json::write(result)))
    }

    pub fn error(message: impl Into<String>) -> Binary {
        json::write(&Ack::Error(message.into()))
    }
}

/// Why either contract refuses a channel handshake step, before its own checks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("only unordered channels are accepted")]
    OrderedChannel,

    #[error("channel version must be {expected}, got {got}")]
    InvalidVersion { expected: String, got: String },

    #[error("counterparty version must be {expected}, got {got}")]
    InvalidCounterpartyVersion { expected: String, got: String },
}

/// The checks both ends make at every handshake step: the channel is unordered and has our
/// version, and so does the counterparty once its version is known (`OpenTry`, `OpenAck`).
pub fn check_handshake(
    channel: &IbcChannel,
    counterparty_version: Option<&str>,
) -> Result<(), HandshakeError> {
    if channel.order != IbcOrder::Unordered {
        return Err(HandshakeError::OrderedChannel);
    }
    if channel.version != IBC_VERSION {
        return Err(HandshakeError::InvalidVersion {
            expected: IBC_VERSION.into(),
            got: channel.version.clone(),
        });
    }
    match counterparty_version {
        Some(version) if version != IBC_VERSION => {
            Err(HandshakeError::InvalidCounterpartyVersion {
                expected: IBC_VERSION.into(),
                got: version.into(),
            })
        }
        _ => Ok(()),
    }
}

impl ChannelInfo {
    /// A channel that has just connected, as its end on this chain sees it.
    pub fn connected(channel: &IbcChannel) -> ChannelInfo {
        ChannelInfo {
            channel_id: channel.endpoint.channel_id.clone(),
            connection_id: channel.connection_id.clone(),
            counterparty_port: channel.counterparty_endpoint.port_id.clone(),
            counterparty_channel: channel.counterparty_endpoint.channel_id.clone(),
            open: true,
        }
    }
}

/// The part of a transfer's memo that asks the IBC callbacks middleware (ADR-8) to report the
/// outcome to `address`, the sending contract (`"src_callback":{"address":…}`).
#[cw_serde]
pub struct SrcCallback {
    pub address: String,
}

crate::json_struct!(SrcCallback { address });

/// ICS-20's packet data (`FungibleTokenPacketData`): what the source callback of a transfer
/// reads to learn what came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPacket {
    pub amount: String,
    /// The denom's full trace (`transfer/channel-0/uosmo`), or a native denom.
    pub denom: String,
    pub memo: String,
    pub receiver: String,
    pub sender: String,
}

crate::json_struct!(TokenPacket {
    amount,
    denom,
    memo: default,
    receiver,
    sender
});

/// The outcome of a transfer reported to its sender's `ibc_source_callback` (IBC callbacks,
/// ADR-8): `None` if it was delivered, else its packet and why it came back (an error
/// acknowledgement's message, or `timeout`). The transfer module has by then given the tokens
/// back to the sender. An acknowledgement that is not an error is a delivery (one the transfer
/// module could not read fails its processing and never gets here).
pub fn returned_transfer(msg: cosmwasm_std::IbcSourceCallbackMsg) -> Option<(IbcPacket, String)> {
    use crate::json::FromJson;
    use cosmwasm_std::IbcSourceCallbackMsg as M;
    match msg {
        M::Acknowledgement(a) => match Ack::parse(a.acknowledgement.data.as_slice()) {
            Ok(Ack::Error(error)) => Some((a.original_packet, error)),
            _ => None,
        },
        M::Timeout(t) => Some((t.packet, "timeout".into())),
    }
}

/// The data and the coin of a returned transfer, if `sender` sent it from the transfer port on
/// `channel`; else why not. The coin is in the local denom: a voucher's is `ibc/` and the
/// upper-case hex SHA-256 of its trace, as the transfer module names it.
pub fn own_transfer(
    packet: &IbcPacket,
    channel: &str,
    sender: &Addr,
) -> Result<(TokenPacket, Coin), &'static str> {
    use crate::json::FromJson;
    if packet.src.port_id != "transfer" || packet.src.channel_id != channel {
        return Err("not on the contract's transfer channel");
    }
    let data = TokenPacket::parse(packet.data.as_slice()).map_err(|_| "not ICS-20 packet data")?;
    if data.sender != sender.as_str() {
        return Err("the contract did not send it");
    }
    let amount = cosmwasm_std::Uint128::from_json(crate::json::Json::Str(data.amount.clone()))
        .map_err(|_| "the amount is not a number")?;
    let denom = if data.denom.contains('/') {
        let hash = <sha2::Sha256 as sha2::Digest>::digest(data.denom.as_bytes());
        let hex = crate::json::text(&HexBinary::from(hash.as_slice()));
        ["ibc/", &hex.to_ascii_uppercase()].concat()
    } else {
        data.denom.clone()
    };
    Ok((data, Coin::new(amount, denom)))
}

/// A counterparty the gateway accepts channels from: a connection (a light client of one chain)
/// and the port of the client contract on it (`wasm.<address>`).
#[cw_serde]
pub struct AllowedCounterparty {
    pub connection_id: String,
    pub port_id: String,
}

#[cw_serde]
pub struct InstantiateMsg {
    /// Governance (or the deployer until governance takes over): the only one to change config.
    pub owner: String,
    pub market: String,
    pub escrow: String,
    /// The local ICS-20 channel to the counterparty chain: credits must arrive through it and
    /// refunds leave through it.
    pub transfer_channel: String,
    pub allowed: Vec<AllowedCounterparty>,
    /// Seconds before a refund transfer times out (default 86400).
    pub refund_timeout: Option<u64>,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Called by the ibc-hooks middleware with the funds of an ICS-20 transfer whose memo is
    /// `{"wasm":{"contract":"<gateway>","msg":{"credit":{"channel":..,"sender":..}}}}`: credits
    /// them to the account of `sender` behind the client of gateway channel `channel`. Accepted
    /// only from the hooks' intermediary address of `sender` or of that channel's client
    /// contract over `transfer_channel`.
    Credit { channel: String, sender: String },
    /// Owner only.
    UpdateConfig {
        owner: Option<String>,
        market: Option<String>,
        escrow: Option<String>,
        transfer_channel: Option<String>,
        allowed: Option<Vec<AllowedCounterparty>>,
        refund_timeout: Option<u64>,
    },
    /// The gateway itself only: runs a received packet in a submessage so that a failure
    /// rolls back everything it did and becomes an error acknowledgement.
    Process {
        channel: String,
        packet: GatewayPacket,
    },
    /// The gateway itself only, after a `CloseDeployment`: sends what the close refunded (the
    /// balance above `before`) to the remote owner.
    Refund {
        channel: String,
        sender: String,
        dseq: u64,
        denom: String,
        before: cosmwasm_std::Uint128,
    },
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(ChannelResponse)]
    Channel { channel_id: String },
    #[returns(ChannelsResponse)]
    Channels {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// A remote sender's unspent credit, by denomination (`channel`: any channel, open or
    /// closed, of the account's client and connection).
    #[returns(CreditsResponse)]
    Credits {
        channel: String,
        sender: String,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// A remote sender's deployments (the market's owner of each is the gateway).
    #[returns(RemoteDeploymentsResponse)]
    Deployments {
        channel: String,
        sender: String,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// Who owns one of the gateway's deployments.
    #[returns(RemoteDeploymentResponse)]
    Deployment { dseq: u64 },
}

#[cw_serde]
pub struct ConfigResponse {
    pub owner: Addr,
    pub market: Addr,
    pub escrow: Addr,
    pub transfer_channel: String,
    pub allowed: Vec<AllowedCounterparty>,
    pub refund_timeout: u64,
}

#[cw_serde]
pub struct ChannelInfo {
    pub channel_id: String,
    pub connection_id: String,
    pub counterparty_port: String,
    pub counterparty_channel: String,
    pub open: bool,
}

#[cw_serde]
pub struct ChannelResponse {
    pub channel: ChannelInfo,
}

#[cw_serde]
pub struct ChannelsResponse {
    pub channels: Vec<ChannelInfo>,
}

#[cw_serde]
pub struct CreditsResponse {
    pub credits: Vec<Coin>,
}

/// A deployment of the gateway and the account that owns it: `sender` behind the client port
/// `counterparty_port` over `connection_id` (any channel between the two reaches it).
#[cw_serde]
pub struct RemoteDeployment {
    pub dseq: u64,
    pub connection_id: String,
    pub counterparty_port: String,
    pub sender: String,
    pub denom: String,
}

#[cw_serde]
pub struct RemoteDeploymentResponse {
    pub deployment: RemoteDeployment,
}

#[cw_serde]
pub struct RemoteDeploymentsResponse {
    pub deployments: Vec<RemoteDeployment>,
}

crate::json_struct!(GatewayPacket { sender, msg });
crate::json_enum!(PacketMsg {
    "create_deployment" => CreateDeployment { deployment, deposit },
    "deposit" => Deposit { dseq, amount },
    "create_lease" => CreateLease { dseq, gseq, oseq, provider },
    "close_lease" => CloseLease { dseq, gseq, oseq, provider },
    "close_deployment" => CloseDeployment { dseq },
    "update_manifest" => UpdateManifest { dseq, version },
    "withdraw" => Withdraw { amount },
});
crate::json_enum!(PacketResult {
    "deployment_created" => DeploymentCreated { dseq },
    "deposited" => Deposited { dseq },
    "lease_created" => LeaseCreated { dseq },
    "lease_closed" => LeaseClosed { dseq },
    "deployment_closed" => DeploymentClosed { dseq, refund },
    "manifest_updated" => ManifestUpdated { dseq },
    "withdrawn" => Withdrawn { amount },
});
crate::json_enum!(Ack {
    "result" => Result(_),
    "error" => Error(_),
});
crate::json_struct!(AllowedCounterparty {
    connection_id,
    port_id
});
crate::json_struct!(InstantiateMsg {
    owner,
    market,
    escrow,
    transfer_channel,
    allowed,
    refund_timeout
});
crate::json_enum!(ExecuteMsg {
    "credit" => Credit { channel, sender },
    "update_config" => UpdateConfig { owner, market, escrow, transfer_channel, allowed, refund_timeout },
    "process" => Process { channel, packet },
    "refund" => Refund { channel, sender, dseq, denom, before },
});
crate::json_struct!(MigrateMsg {});
crate::json_enum!(QueryMsg {
    "config" => Config {},
    "channel" => Channel { channel_id },
    "channels" => Channels { start_after, limit },
    "credits" => Credits { channel, sender, start_after, limit },
    "deployments" => Deployments { channel, sender, start_after, limit },
    "deployment" => Deployment { dseq },
});
crate::json_struct!(ConfigResponse {
    owner,
    market,
    escrow,
    transfer_channel,
    allowed,
    refund_timeout
});
crate::json_struct!(ChannelInfo {
    channel_id,
    connection_id,
    counterparty_port,
    counterparty_channel,
    open
});
crate::json_struct!(ChannelResponse { channel });
crate::json_struct!(ChannelsResponse { channels });
crate::json_struct!(CreditsResponse { credits });
crate::json_struct!(RemoteDeployment {
    dseq,
    connection_id,
    counterparty_port,
    sender,
    denom
});
crate::json_struct!(RemoteDeploymentResponse { deployment });
crate::json_struct!(RemoteDeploymentsResponse { deployments });

// The records the gateway stores, in `crate::codec`'s binary form.
crate::codec_struct!(AllowedCounterparty {
    connection_id,
    port_id
});
crate::codec_struct!(ChannelInfo {
    channel_id,
    connection_id,
    counterparty_port,
    counterparty_channel,
    open
});
crate::codec_struct!(RemoteDeployment {
    dseq,
    connection_id,
    counterparty_port,
    sender,
    denom
});

/// The client contract on the counterparty chain (`kumo-gateway-client`).
pub mod client {
    use super::*;

    #[cw_serde]
    pub struct InstantiateMsg {
        pub owner: String,
        /// The local ICS-20 channel to the Kumo chain, for `Fund`.
        pub transfer_channel: String,
        /// If set, the only gateway port (`wasm.<address>`) a channel may connect to.
        pub gateway_port: Option<String>,
        /// Seconds before a packet times out when `Send` gives none (default 600).
        pub default_timeout: Option<u64>,
    }

    /// Polytone's callback request: where to report the outcome, with a message of the
    /// caller's that comes back verbatim.
    #[cw_serde]
    pub struct CallbackRequest {
        pub receiver: String,
        pub msg: Binary,
    }

    #[cw_serde]
    pub enum ExecuteMsg {
        /// Sends `msg` to the gateway as the sender's action. With `callback`, the receiver is
        /// called with `ExecuteMsg::KumoCallback` when the ack or the timeout comes back.
        Send {
            msg: PacketMsg,
            callback: Option<CallbackRequest>,
            timeout_seconds: Option<u64>,
        },
        /// Sends the attached coin (one) over ICS-20 to the gateway with the ibc-hooks memo that
        /// credits it to the sender's account there.
        Fund { timeout_seconds: Option<u64> },
        /// Owner only.
        UpdateConfig {
            owner: Option<String>,
            transfer_channel: Option<String>,
            gateway_port: Option<String>,
            default_timeout: Option<u64>,
        },
    }

    /// What a callback receiver must accept (as a variant of its own `ExecuteMsg`).
    #[cw_serde]
    pub enum CallbackMsg {
        KumoCallback(Callback),
    }

    #[cw_serde]
    pub struct Callback {
        /// Who sent the packet.
        pub initiator: Addr,
        /// The callback request's `msg`.
        pub msg: Binary,
        pub channel: String,
        pub sequence: u64,
        pub result: CallbackResult,
    }

    #[cw_serde]
    pub enum CallbackResult {
        Success(PacketResult),
        /// The gateway's error acknowledgement.
        Error(String),
        /// The packet timed out: the gateway never ran it.
        Timeout {},
    }

    #[cw_serde]
    pub struct MigrateMsg {}

    #[cw_serde]
    #[derive(QueryResponses)]
    pub enum QueryMsg {
        #[returns(ConfigResponse)]
        Config {},
        /// The channel to the gateway, if one is open.
        #[returns(ChannelResponse)]
        Channel {},
        /// A packet still waiting for its ack or timeout.
        #[returns(PendingResponse)]
        Pending { channel: String, sequence: u64 },
    }

    #[cw_serde]
    pub struct ConfigResponse {
        pub owner: Addr,
        pub transfer_channel: String,
        pub gateway_port: Option<String>,
        pub default_timeout: u64,
    }

    #[cw_serde]
    pub struct ChannelResponse {
        pub channel: Option<ChannelInfo>,
        /// Sequence of the last packet sent on it.
        pub last_sequence: u64,
    }

    #[cw_serde]
    pub struct Pending {
        pub initiator: Addr,
        pub kind: String,
        pub callback: Option<CallbackRequest>,
    }

    #[cw_serde]
    pub struct PendingResponse {
        pub pending: Option<Pending>,
    }

    crate::json_struct!(InstantiateMsg {
        owner,
        transfer_channel,
        gateway_port,
        default_timeout
    });
    crate::json_struct!(CallbackRequest { receiver, msg });
    crate::json_enum!(ExecuteMsg {
        "send" => Send { msg, callback, timeout_seconds },
        "fund" => Fund { timeout_seconds },
        "update_config" => UpdateConfig { owner, transfer_channel, gateway_port, default_timeout },
    });
    crate::json_enum!(CallbackMsg {
        "kumo_callback" => KumoCallback(_),
    });
    crate::json_struct!(Callback {
        initiator,
        msg,
        channel,
        sequence,
        result
    });
    crate::json_enum!(CallbackResult {
        "success" => Success(_),
        "error" => Error(_),
        "timeout" => Timeout {},
    });
    crate::json_struct!(MigrateMsg {});
    crate::json_enum!(QueryMsg {
        "config" => Config {},
        "channel" => Channel {},
        "pending" => Pending { channel, sequence },
    });
    crate::json_struct!(ConfigResponse {
        owner,
        transfer_channel,
        gateway_port,
        default_timeout
    });
    crate::json_struct!(ChannelResponse {
        channel,
        last_sequence
    });
    crate::json_struct!(Pending {
        initiator,
        kind,
        callback
    });
    crate::json_struct!(PendingResponse { pending });
    crate::codec_struct!(CallbackRequest { receiver, msg });
    crate::codec_struct!(Pending {
        initiator,
        kind,
        callback
    });
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::{coin, to_json_vec, Uint128};

    use super::*;
    use crate::json::{FromJson, ToJson};

    /// Written by `kumo::json` as the derived impl writes it, and read back by both.
    fn same<T>(v: T)
    where
        T: FromJson + ToJson + serde::Serialize + serde::de::DeserializeOwned,
        T: PartialEq + std::fmt::Debug,
    {
        let derived = to_json_vec(&v).unwrap();
        let mut ours = Vec::new();
        v.write_json(&mut ours);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(derived.clone()).unwrap()
        );
        assert_eq!(T::parse(&derived).unwrap(), v);
        assert_eq!(cosmwasm_std::from_json::<T>(&derived).unwrap(), v);
    }

    fn deployment() -> NewDeployment {
        NewDeployment {
            groups: vec![],
            version: HexBinary::from(vec![7u8; 32]),
            auction_window: Some(60),
            reclamation_min_window: None,
            provider_record: None,
        }
    }

    fn packets() -> Vec<PacketMsg> {
        vec![
            PacketMsg::CreateDeployment {
                deployment: deployment(),
                deposit: coin(5, "ibc/27"),
            },
            PacketMsg::Deposit {
                dseq: u64::MAX,
                amount: coin(1, "u"),
            },
            PacketMsg::CreateLease {
                dseq: 1,
                gseq: u32::MAX,
                oseq: 2,
                provider: "kumo1p\"".into(),
            },
            PacketMsg::CloseLease {
                dseq: 1,
                gseq: 1,
                oseq: 1,
                provider: "kumo1p".into(),
            },
            PacketMsg::CloseDeployment { dseq: 3 },
            PacketMsg::UpdateManifest {
                dseq: 3,
                version: HexBinary::from(vec![0xab; 32]),
            },
            PacketMsg::Withdraw {
                amount: coin(9, "u"),
            },
        ]
    }

    fn results() -> Vec<PacketResult> {
        vec![
            PacketResult::DeploymentCreated { dseq: 1 },
            PacketResult::Deposited { dseq: 2 },
            PacketResult::LeaseCreated { dseq: 3 },
            PacketResult::LeaseClosed { dseq: 4 },
            PacketResult::DeploymentClosed {
                dseq: 5,
                refund: Some(coin(3, "u")),
            },
            PacketResult::DeploymentClosed {
                dseq: 5,
                refund: None,
            },
            PacketResult::ManifestUpdated { dseq: 6 },
            PacketResult::Withdrawn {
                amount: coin(7, "u"),
            },
        ]
    }

    #[test]
    fn the_gateway_messages_are_read_and_written_as_derived() {
        for msg in packets() {
            same(GatewayPacket {
                sender: "osmo1s".into(),
                msg: msg.clone(),
            });
            same(ExecuteMsg::Process {
                channel: "channel-0".into(),
                packet: GatewayPacket {
                    sender: "osmo1s".into(),
                    msg,
                },
            });
        }
        for result in results() {
            same(result.clone());
            let ack = Ack::success(&result);
            let derived =
                to_json_vec(&Ack::Result(cosmwasm_std::to_json_binary(&result).unwrap())).unwrap();
            assert_eq!(ack.as_slice(), derived.as_slice());
        }
        same(Ack::Error("no \"credit\"".into()));
        assert_eq!(
            Ack::error("x").as_slice(),
            to_json_vec(&Ack::Error("x".into())).unwrap().as_slice()
        );
        let allowed = AllowedCounterparty {
            connection_id: "connection-0".into(),
            port_id: "wasm.osmo1c".into(),
        };
        same(InstantiateMsg {
            owner: "o".into(),
            market: "m".into(),
            escrow: "e".into(),
            transfer_channel: "channel-1".into(),
            allowed: vec![allowed.clone()],
            refund_timeout: None,
        });
        same(ExecuteMsg::Credit {
            channel: "channel-0".into(),
            sender: "osmo1s".into(),
        });
        same(ExecuteMsg::UpdateConfig {
            owner: Some("o".into()),
            market: None,
            escrow: None,
            transfer_channel: Some("channel-2".into()),
            allowed: Some(vec![allowed.clone()]),
            refund_timeout: Some(5),
        });
        same(ExecuteMsg::Refund {
            channel: "channel-0".into(),
            sender: "osmo1s".into(),
            dseq: 4,
            denom: "ibc/27".into(),
            before: Uint128::MAX,
        });
        same(MigrateMsg {});
        for query in [
            QueryMsg::Config {},
            QueryMsg::Channel {
                channel_id: "channel-0".into(),
            },
            QueryMsg::Channels {
                start_after: Some("channel-0".into()),
                limit: None,
            },
            QueryMsg::Credits {
                channel: "c".into(),
                sender: "s".into(),
                start_after: None,
                limit: Some(3),
            },
            QueryMsg::Deployments {
                channel: "c".into(),
                sender: "s".into(),
                start_after: Some(9),
                limit: None,
            },
            QueryMsg::Deployment { dseq: 2 },
        ] {
            same(query);
        }
        let info = ChannelInfo {
            channel_id: "channel-0".into(),
            connection_id: "connection-0".into(),
            counterparty_port: "wasm.osmo1c".into(),
            counterparty_channel: "channel-9".into(),
            open: true,
        };
        same(ConfigResponse {
            owner: Addr::unchecked("o"),
            market: Addr::unchecked("m"),
            escrow: Addr::unchecked("e"),
            transfer_channel: "channel-1".into(),
            allowed: vec![allowed],
            refund_timeout: 86_400,
        });
        same(ChannelResponse {
            channel: info.clone(),
        });
        same(ChannelsResponse {
            channels: vec![info.clone()],
        });
        same(CreditsResponse {
            credits: vec![coin(1, "a"), coin(2, "b")],
        });
        let remote = RemoteDeployment {
            dseq: 1,
            connection_id: "connection-0".into(),
            counterparty_port: "wasm.osmo1c".into(),
            sender: "osmo1s".into(),
            denom: "ibc/27".into(),
        };
        same(RemoteDeploymentResponse {
            deployment: remote.clone(),
        });
        same(RemoteDeploymentsResponse {
            deployments: vec![remote],
        });
    }

    #[test]
    fn the_client_messages_are_read_and_written_as_derived() {
        use client::*;
        same(InstantiateMsg {
            owner: "o".into(),
            transfer_channel: "channel-1".into(),
            gateway_port: Some("wasm.kumo1gw".into()),
            default_timeout: None,
        });
        let callback = CallbackRequest {
            receiver: "osmo1dapp".into(),
            msg: Binary::from(b"{}".as_slice()),
        };
        for msg in packets() {
            same(ExecuteMsg::Send {
                msg,
                callback: Some(callback.clone()),
                timeout_seconds: Some(60),
            });
        }
        same(ExecuteMsg::Fund {
            timeout_seconds: None,
        });
        same(ExecuteMsg::UpdateConfig {
            owner: None,
            transfer_channel: Some("channel-3".into()),
            gateway_port: None,
            default_timeout: Some(1),
        });
        let mut outcomes: Vec<CallbackResult> =
            results().into_iter().map(CallbackResult::Success).collect();
        outcomes.push(CallbackResult::Error("no \"way\"".into()));
        outcomes.push(CallbackResult::Timeout {});
        for result in outcomes {
            same(CallbackMsg::KumoCallback(Callback {
                initiator: Addr::unchecked("osmo1dapp"),
                msg: Binary::from(b"x".as_slice()),
                channel: "channel-0".into(),
                sequence: 3,
                result,
            }));
        }
        same(MigrateMsg {});
        same(QueryMsg::Config {});
        same(QueryMsg::Channel {});
        same(QueryMsg::Pending {
            channel: "channel-0".into(),
            sequence: 1,
        });
        same(ConfigResponse {
            owner: Addr::unchecked("o"),
            transfer_channel: "channel-1".into(),
            gateway_port: None,
            default_timeout: 600,
        });
        same(ChannelResponse {
            channel: None,
            last_sequence: 0,
        });
        same(PendingResponse {
            pending: Some(Pending {
                initiator: Addr::unchecked("osmo1dapp"),
                kind: "deposit".into(),
                callback: Some(callback),
            }),
        });
        same(PendingResponse { pending: None });
    }
}
