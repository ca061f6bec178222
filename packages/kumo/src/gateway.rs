//! The IBC gateway's interface: the packets a counterparty chain sends to order and pay for
//! compute (`kumo-gateway`, on the Kumo chain), their acknowledgements, and the client contract
//! a dApp calls on the counterparty chain (`kumo-gateway-client`).

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Coin, HexBinary, StdResult};

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
    pub fn success(result: &PacketResult) -> StdResult<Binary> {
        cosmwasm_std::to_json_binary(&Ack::Result(cosmwasm_std::to_json_binary(result)?))
    }

    pub fn error(message: impl Into<String>) -> Binary {
        // Serializing an enum of one string cannot fail.
        cosmwasm_std::to_json_binary(&Ack::Error(message.into())).unwrap_or_default()
    }
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
}
