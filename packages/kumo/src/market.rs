//! The market contract's interface: deployments, groups, orders, bids and leases — the reverse
//! auction (Akash `x/deployment` and `x/market` as AEP-79 §4–§5 adapts them to contracts).

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Decimal256, HexBinary, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;

use crate::deployment::GroupSpec;
use crate::escrow::EscrowCallback;
use crate::funds::{Asset, Denom};
use crate::ids::{BidId, DeploymentId, GroupId, LeaseId, OrderId};

/// Why a lease closed. The numeric codes are Akash's (`LeaseClosedReason`): 0–9999 the tenant,
/// 10000–19999 the provider, 20000–29999 the network.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum LeaseCloseReason {
    /// 1: the tenant closed it.
    Owner,
    /// 10000: the provider found the workload unstable.
    Unstable,
    /// 10001: the provider is decommissioning the capacity.
    Decommissioned,
    /// 10002: the provider gave no reason.
    Unspecified,
    /// 10003: the tenant never sent the manifest.
    ManifestTimeout,
    /// 20000: the deployment's escrow account ran out of funds.
    InsufficientFunds,
    /// 20001 (Kumo): the provider missed its heartbeats and was jailed.
    ProviderAbsent,
}

impl LeaseCloseReason {
    pub fn code(self) -> u32 {
        match self {
            LeaseCloseReason::Owner => 1,
            LeaseCloseReason::Unstable => 10000,
            LeaseCloseReason::Decommissioned => 10001,
            LeaseCloseReason::Unspecified => 10002,
            LeaseCloseReason::ManifestTimeout => 10003,
            LeaseCloseReason::InsufficientFunds => 20000,
            LeaseCloseReason::ProviderAbsent => 20001,
        }
    }

    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => LeaseCloseReason::Owner,
            10000 => LeaseCloseReason::Unstable,
            10001 => LeaseCloseReason::Decommissioned,
            10002 => LeaseCloseReason::Unspecified,
            10003 => LeaseCloseReason::ManifestTimeout,
            20000 => LeaseCloseReason::InsufficientFunds,
            20001 => LeaseCloseReason::ProviderAbsent,
            _ => return None,
        })
    }

    /// Whether a provider may give this reason (Akash's provider range).
    pub fn is_provider_reason(self) -> bool {
        (10000..20000).contains(&self.code())
    }
}

#[cw_serde]
pub struct MarketParams {
    /// Milliseconds per block, to turn the SDL's per-block prices into per-second rates.
    pub block_time_ms: u64,
    /// Bids an order accepts (Akash: 20).
    pub order_max_bids: u32,
    /// Smallest bid deposit per denomination (Akash: 500000 base units).
    pub bid_min_deposits: Vec<Asset>,
    /// Groups a deployment may have.
    pub max_groups: u32,
    /// Bounds on a provider's reclamation window, seconds (Akash: 1 h and 720 h).
    pub min_reclamation_window: u64,
    pub max_reclamation_window: u64,
    /// Longest auction window a deployment may ask for, seconds.
    pub max_auction_window: u64,
}

crate::codec_struct!(MarketParams {
    block_time_ms,
    order_max_bids,
    bid_min_deposits,
    max_groups,
    min_reclamation_window,
    max_reclamation_window,
    max_auction_window
});

impl Default for MarketParams {
    fn default() -> Self {
        Self {
            block_time_ms: 6_000,
            order_max_bids: 20,
            bid_min_deposits: Vec::new(),
            max_groups: 20,
            min_reclamation_window: 3_600,
            max_reclamation_window: 2_592_000,
            max_auction_window: 86_400,
        }
    }
}

#[cw_serde]
pub struct InstantiateMsg {
    pub owner: String,
    pub registry: String,
    pub escrow: String,
    /// The staking contract, asked whether a provider is bonded (and not jailed) when it bids.
    pub staking: Option<String>,
    pub guardian: Option<String>,
    pub params: Option<MarketParams>,
}

#[cw_serde]
pub struct NewDeployment {
    /// One order per group; the SDL's group specs (`kumo sdl groups`).
    pub groups: Vec<GroupSpec>,
    /// The manifest version: SHA-256 of the sorted manifest JSON (32 bytes).
    pub version: HexBinary,
    /// If set, bids are collected for this many seconds and `CloseAuction` then leases the
    /// lowest price; without it the tenant picks any open bid (Akash's behaviour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auction_window: Option<u64>,
    /// The shortest reclamation window the tenant accepts from providers, seconds; `None` means
    /// none is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclamation_min_window: Option<u64>,
    /// The track record a provider needs to bid (Kumo); `None` accepts any provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_record: Option<RecordRequirement>,
}

/// A minimum track record, checked against the market's lease counters and the staking
/// contract's reputation when a provider bids.
#[cw_serde]
#[derive(Default)]
pub struct RecordRequirement {
    /// Leases the provider completed (closed by their tenants or by running out of funds).
    pub min_leases_completed: u64,
    /// At most this many leases closed by the provider itself (reasons 10000-10003).
    pub max_closed_by_provider: Option<u64>,
    /// At most this many slashes (absences and lost disputes), from the staking contract.
    pub max_slashes: Option<u64>,
}

#[cw_serde]
pub struct NewBid {
    pub order: OrderId,
    /// Per second, in the deployment's denomination; at most the order's price.
    pub price: Decimal256,
    /// Seconds the provider promises to keep running after it starts reclaiming the lease;
    /// required (and bounded) when the order asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclamation_window: Option<u64>,
    /// What the provider offers per resource unit of the group (Akash `ResourcesOffer`); when
    /// given, it must name every unit once with the count the group asks for.
    #[serde(default)]
    pub offer: Vec<ResourceOffer>,
}

/// A provider's offer for one resource unit of a group.
#[cw_serde]
pub struct ResourceOffer {
    /// The unit's `id` in the group spec.
    pub resource_id: u32,
    pub count: u32,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Creates a deployment owned by the sender, funded by the attached native coin (or a CW20
    /// `Send` carrying `ReceiveMsg::CreateDeployment`).
    CreateDeployment(NewDeployment),
    /// Replaces the manifest version (the tenant sends the new manifest to its providers).
    UpdateDeployment {
        dseq: u64,
        version: HexBinary,
    },
    /// Closes the deployment, its groups, orders, bids and leases, and refunds the escrow.
    CloseDeployment {
        dseq: u64,
    },
    CloseGroup {
        dseq: u64,
        gseq: u32,
    },
    /// Closes the group's order (and lease) but keeps the group for `StartGroup`.
    PauseGroup {
        dseq: u64,
        gseq: u32,
    },
    /// Re-lists a paused or insufficient-funds group with a new order (`oseq` + 1).
    StartGroup {
        dseq: u64,
        gseq: u32,
    },
    /// Bids on an order as the sender, a registered and bonded provider, with the attached
    /// native coin as the bid deposit (or a CW20 `Send` carrying `ReceiveMsg::CreateBid`).
    CreateBid(NewBid),
    /// Provider: withdraws an open bid, or closes the lease made from it (after the reclamation
    /// window, when one was promised).
    CloseBid {
        bid: BidId,
        reason: Option<LeaseCloseReason>,
    },
    /// Tenant: accepts an open bid; the other bids lose and get their deposits back.
    CreateLease {
        bid: BidId,
    },
    /// Anyone, once an auction window has passed: leases the lowest bid (earliest on a tie).
    CloseAuction {
        order: OrderId,
    },
    /// Tenant: closes a lease; the group is re-listed if it is still open.
    CloseLease {
        lease: LeaseId,
    },
    /// Provider: starts the reclamation window of a lease.
    StartReclaim {
        lease: LeaseId,
        reason: LeaseCloseReason,
    },
    /// Anyone, once the staking contract has jailed `provider` for absence: closes up to
    /// `limit` (at most 30) of its leases with reason 20001, returns to each tenant what it paid
    /// since the provider's last heartbeat, has the staking contract compensate it, and
    /// re-lists the groups.
    CloseAbsentLeases {
        provider: String,
        limit: Option<u32>,
    },
    /// Anyone: pays the provider what the lease has accrued.
    WithdrawLease {
        lease: LeaseId,
    },
    /// Adds the attached native coin to a deployment's escrow account (anyone).
    Deposit {
        deployment: DeploymentId,
    },
    Receive(Cw20ReceiveMsg),
    /// Escrow only.
    EscrowCallback(EscrowCallback),
    UpdateConfig {
        owner: Option<String>,
        registry: Option<String>,
        escrow: Option<String>,
        staking: Option<String>,
        guardian: Option<String>,
    },
    UpdateParams {
        params: MarketParams,
    },
    /// Guardian or owner: stops new deployments, bids and deposits. Closing and settling never
    /// pause.
    Pause {},
    Unpause {},
}

/// The `msg` of a CW20 `Send` to the market.
#[cw_serde]
pub enum ReceiveMsg {
    CreateDeployment(NewDeployment),
    CreateBid(NewBid),
    Deposit { deployment: DeploymentId },
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum DeploymentState {
    Active,
    Closed,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum GroupState {
    Open,
    Paused,
    InsufficientFunds,
    Closed,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum OrderState {
    Open,
    /// A lease was made from one of its bids.
    Active,
    Closed,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum BidState {
    Open,
    /// Won: a lease was made from it.
    Active,
    /// Another bid won.
    Lost,
    Closed,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum LeaseState {
    Active,
    /// The provider started reclaiming; it runs until `reclaim_deadline`.
    Reclaiming,
    InsufficientFunds,
    Closed,
}

#[cw_serde]
pub struct Deployment {
    pub id: DeploymentId,
    pub state: DeploymentState,
    pub version: HexBinary,
    pub denom: Denom,
    pub groups: u32,
    pub auction_window: Option<u64>,
    pub reclamation_min_window: Option<u64>,
    pub provider_record: Option<RecordRequirement>,
    pub created_at: Timestamp,
}

#[cw_serde]
pub struct Group {
    pub id: GroupId,
    pub state: GroupState,
    pub spec: GroupSpec,
    /// The group's maximum price per second (its spec's per-block price over the block time).
    pub price: Decimal256,
    /// `oseq` of the group's latest order.
    pub last_oseq: u32,
    pub created_at: Timestamp,
}

#[cw_serde]
pub struct Order {
    pub id: OrderId,
    /// Global creation number (orders are numbered in the order they were created).
    pub seq: u64,
    pub state: OrderState,
    pub price: Decimal256,
    /// When `CloseAuction` may be called, for orders of auctioned deployments.
    pub auction_ends_at: Option<Timestamp>,
    pub reclamation_min_window: Option<u64>,
    /// Bids placed on the order, whatever became of them (at most `order_max_bids`).
    pub bids: u32,
    pub created_at: Timestamp,
}

#[cw_serde]
pub struct Bid {
    pub id: BidId,
    /// Global creation number: auctions break price ties in its favour (earliest wins).
    pub seq: u64,
    pub state: BidState,
    /// Per second.
    pub price: Decimal256,
    pub deposit: Asset,
    pub reclamation_window: Option<u64>,
    pub created_at: Timestamp,
}

#[cw_serde]
pub struct Lease {
    pub id: LeaseId,
    pub state: LeaseState,
    /// Per second, the winning bid's price.
    pub price: Decimal256,
    pub created_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// Akash's numeric reason code.
    pub close_reason: Option<u32>,
    pub reclamation_window: Option<u64>,
    pub reclaim_deadline: Option<Timestamp>,
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(DeploymentResponse)]
    Deployment { id: DeploymentId },
    /// One owner's deployments by `dseq`.
    #[returns(DeploymentsResponse)]
    Deployments {
        owner: String,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(GroupResponse)]
    Group { id: GroupId },
    #[returns(OrderResponse)]
    Order { id: OrderId },
    /// Open orders by id (owner, then `dseq`, `gseq`, `oseq`): what providers watch. A
    /// `start_after` naming an order that has closed since still resumes after it.
    #[returns(OrdersResponse)]
    OpenOrders {
        start_after: Option<OrderId>,
        limit: Option<u32>,
    },
    #[returns(BidResponse)]
    Bid { id: BidId },
    /// The bids of one order (at most `order_max_bids`).
    #[returns(BidsResponse)]
    Bids {
        order: OrderId,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// One provider's bids that are still open, by order id. `start_after` is the last bid of
    /// the previous page; it resumes after that bid's order even once the bid has closed.
    #[returns(BidsResponse)]
    ProviderBids {
        provider: String,
        start_after: Option<BidId>,
        limit: Option<u32>,
    },
    #[returns(LeaseResponse)]
    Lease { id: LeaseId },
    /// A tenant's leases.
    #[returns(LeasesResponse)]
    OwnerLeases {
        owner: String,
        start_after: Option<LeaseId>,
        limit: Option<u32>,
    },
    /// A provider's leases that are not closed, by order id (`start_after` as `ProviderBids`).
    #[returns(LeasesResponse)]
    ProviderLeases {
        provider: String,
        start_after: Option<LeaseId>,
        limit: Option<u32>,
    },
    /// O(1) counters the registry and staking contracts read.
    #[returns(ProviderStatsResponse)]
    ProviderStats { provider: String },
}

#[cw_serde]
pub struct ConfigResponse {
    pub owner: Addr,
    pub registry: Addr,
    pub escrow: Addr,
    pub staking: Option<Addr>,
    pub guardian: Option<Addr>,
    pub params: MarketParams,
    pub paused: bool,
}

#[cw_serde]
pub struct DeploymentResponse {
    pub deployment: Deployment,
    pub groups: Vec<Group>,
}

#[cw_serde]
pub struct DeploymentsResponse {
    pub deployments: Vec<Deployment>,
}

#[cw_serde]
pub struct GroupResponse {
    pub group: Group,
}

#[cw_serde]
pub struct OrderResponse {
    pub order: Order,
    pub group: Group,
}

#[cw_serde]
pub struct OrdersResponse {
    pub orders: Vec<Order>,
}

#[cw_serde]
pub struct BidResponse {
    pub bid: Bid,
}

#[cw_serde]
pub struct BidsResponse {
    pub bids: Vec<Bid>,
}

#[cw_serde]
pub struct LeaseResponse {
    pub lease: Lease,
}

#[cw_serde]
pub struct LeasesResponse {
    pub leases: Vec<Lease>,
}

/// Where the market keeps each provider's counters: the registry and the staking contract read
/// them raw (one store read) rather than through a smart query (a whole contract instance).
/// Stored in the binary form of [`crate::codec`]: every `CreateBid` writes this record (30 gas
/// per byte).
/// The namespace of the market's provider counters: short, as every key of the market's hot
/// paths (SDK gas charges 30 per byte written, key included).
pub const PROVIDER_STATS_NAMESPACE: &str = "ps";

pub const PROVIDER_STATS: crate::codec::PackedMap<&cosmwasm_std::Addr, ProviderStats> =
    crate::codec::PackedMap::new(PROVIDER_STATS_NAMESPACE);

/// A provider's counters as the market stores them, kept up to date on every bid and lease
/// transition (O(1)); `ProviderStats` queries answer them as [`ProviderStatsResponse`]. The two
/// counters come first: [`ProviderCounts`] decodes only them.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ProviderStats {
    #[serde(rename = "a", default, skip_serializing_if = "is_zero")]
    pub active_leases: u64,
    #[serde(rename = "b", default, skip_serializing_if = "is_zero")]
    pub open_bids: u64,
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub lease_rates: Vec<(Denom, Decimal256)>,
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    pub bid_deposits: Vec<(Denom, Uint128)>,
    #[serde(rename = "c", default, skip_serializing_if = "LeaseRecord::is_empty")]
    pub record: LeaseRecord,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl LeaseRecord {
    fn is_empty(&self) -> bool {
        *self == LeaseRecord::default()
    }
}

impl ProviderStats {
    /// The active leases' rate per second in `denom`.
    pub fn lease_rate(&self, denom: &Denom) -> Decimal256 {
        self.lease_rates
            .iter()
            .find(|(d, _)| d == denom)
            .map(|(_, r)| *r)
            .unwrap_or_default()
    }

    pub fn add_rate(&mut self, denom: &Denom, rate: Decimal256) {
        match self.lease_rates.iter_mut().find(|(d, _)| d == denom) {
            Some((_, r)) => *r = r.saturating_add(rate),
            None => self.lease_rates.push((denom.clone(), rate)),
        }
    }

    pub fn sub_rate(&mut self, denom: &Denom, rate: Decimal256) {
        if let Some(i) = self.lease_rates.iter().position(|(d, _)| d == denom) {
            let left = self.lease_rates[i].1.saturating_sub(rate);
            if left.is_zero() {
                self.lease_rates.remove(i);
            } else {
                self.lease_rates[i].1 = left;
            }
        }
    }

    pub fn add_deposit(&mut self, denom: &Denom, amount: Uint128) {
        match self.bid_deposits.iter_mut().find(|(d, _)| d == denom) {
            Some((_, a)) => *a = a.saturating_add(amount),
            None => self.bid_deposits.push((denom.clone(), amount)),
        }
    }

    pub fn sub_deposit(&mut self, denom: &Denom, amount: Uint128) {
        if let Some(i) = self.bid_deposits.iter().position(|(d, _)| d == denom) {
            let left = self.bid_deposits[i].1.saturating_sub(amount);
            if left.is_zero() {
                self.bid_deposits.remove(i);
            } else {
                self.bid_deposits[i].1 = left;
            }
        }
    }
}

impl From<ProviderStats> for ProviderStatsResponse {
    fn from(s: ProviderStats) -> Self {
        ProviderStatsResponse {
            active_leases: s.active_leases,
            open_bids: s.open_bids,
            lease_rates: s.lease_rates,
            bid_deposits: s.bid_deposits,
            record: s.record,
        }
    }
}

/// The two counters the registry needs before deregistering a provider, read from the same
/// record with the other fields skipped (less code and gas than the whole record).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProviderCounts {
    #[serde(rename = "a", default)]
    pub active_leases: u64,
    #[serde(rename = "b", default)]
    pub open_bids: u64,
}

pub const PROVIDER_COUNTS: crate::codec::PackedMap<&cosmwasm_std::Addr, ProviderCounts> =
    crate::codec::PackedMap::new(PROVIDER_STATS_NAMESPACE);

crate::codec_struct!(ProviderStats {
    active_leases,
    open_bids,
    lease_rates,
    bid_deposits,
    record
});
crate::codec_struct!(ProviderCounts {
    active_leases,
    open_bids
});
crate::codec_struct!(LeaseRecord {
    completed,
    closed_by_tenant,
    closed_by_provider,
    closed_absent
});

/// A lease's state, read from the market's `leases` map with the other fields skipped; closed
/// leases are deleted, so a missing entry is a lease that is not live. The market's stored
/// lease record starts with this state ([`crate::codec`]).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseHeader {
    #[serde(rename = "s")]
    pub state: LeaseState,
}

crate::codec_struct!(LeaseHeader { state });
crate::codec_enum!(DeploymentState { Active, Closed });
crate::codec_enum!(GroupState {
    Open,
    Paused,
    InsufficientFunds,
    Closed
});
crate::codec_enum!(OrderState {
    Open,
    Active,
    Closed
});
crate::codec_enum!(BidState {
    Open,
    Active,
    Lost,
    Closed
});
crate::codec_enum!(LeaseState {
    Active,
    Reclaiming,
    InsufficientFunds,
    Closed
});
crate::codec_struct!(RecordRequirement {
    min_leases_completed,
    max_closed_by_provider,
    max_slashes
});

pub type LeaseKey<'a> = (
    &'a cosmwasm_std::Addr,
    u64,
    (u32, u32, &'a cosmwasm_std::Addr),
);

/// The market's leases, keyed so that one tenant's leases are a prefix (raw reads only).
pub const LEASE_HEADERS: crate::codec::PackedMap<LeaseKey<'static>, LeaseHeader> =
    crate::codec::PackedMap::new(LEASES_NAMESPACE);

/// The namespace of the market's lease map (one letter: every lease key carries it).
pub const LEASES_NAMESPACE: &str = "l";

/// The key of the market's one counter of `dseq`s and order `seq`s (`kumo-market`
/// `state::SEQ`).
pub const SEQ_KEY: &str = "sq";

/// The last number the market gave to a deployment (its `dseq`) or an order (its `seq`): a new
/// deployment's `dseq` is the next one. Read raw by the gateway to learn the `dseq` of the create
/// it is about to send (`dseq`s increase but are not consecutive per owner).
pub const LAST_SEQ: crate::codec::PackedItem<u64> = crate::codec::PackedItem::new(SEQ_KEY);

/// The namespace of the market's deployment records, keyed by (owner, `dseq`). The market
/// deletes a deployment when it closes, whoever closed it: another contract learns whether a
/// deployment is still open from whether [`deployment_key`] is set (one raw read).
pub const DEPLOYMENTS_NAMESPACE: &str = "d";

/// The storage key of a deployment's record in the market.
pub fn deployment_key(owner: &cosmwasm_std::Addr, dseq: u64) -> Vec<u8> {
    crate::codec::PackedMap::<(&cosmwasm_std::Addr, u64), bool>::new(DEPLOYMENTS_NAMESPACE)
        .key((owner, dseq))
}

pub fn lease_key(id: &crate::BidId) -> LeaseKey<'_> {
    (&id.owner, id.dseq, (id.gseq, id.oseq, &id.provider))
}

#[cw_serde]
#[derive(Default)]
pub struct ProviderStatsResponse {
    /// Leases that are active or reclaiming.
    pub active_leases: u64,
    pub open_bids: u64,
    /// Sum of the active leases' rates, per second, per denomination.
    pub lease_rates: Vec<(Denom, Decimal256)>,
    /// Deposits of open bids, per denomination.
    pub bid_deposits: Vec<(Denom, Uint128)>,
    /// How the provider's past leases ended (O(1) counters, the market's half of its
    /// reputation; slashes are in the staking contract).
    #[serde(default)]
    pub record: LeaseRecord,
}

#[cw_serde]
#[derive(Default)]
pub struct LeaseRecord {
    /// Ended without fault of the provider: closed by the tenant (reason 1) or by the tenant's
    /// account running dry (20000).
    pub completed: u64,
    /// Of those, closed by the tenant (reason 1).
    pub closed_by_tenant: u64,
    /// Closed by the provider (10000-10003).
    pub closed_by_provider: u64,
    /// Closed because the provider was absent (20001).
    pub closed_absent: u64,
}

// The market's messages, decoded through `crate::json` (one JSON visitor instead of one per type).
crate::json_struct!(MarketParams {
    block_time_ms,
    order_max_bids,
    bid_min_deposits,
    max_groups,
    min_reclamation_window,
    max_reclamation_window,
    max_auction_window
});
crate::json_struct!(InstantiateMsg {
    owner,
    registry,
    escrow,
    staking,
    guardian,
    params
});
// Absent options are left out of these two: they are the transactions tenants and providers
// send most, and every byte of a transaction costs 10 gas.
crate::json_struct!(NewDeployment {
    groups,
    version,
    auction_window: skip_none,
    reclamation_min_window: skip_none,
    provider_record: skip_none
});
crate::json_struct!(RecordRequirement {
    min_leases_completed,
    max_closed_by_provider,
    max_slashes
});
crate::json_struct!(NewBid {
    order,
    price,
    reclamation_window: skip_none,
    offer: default
});
crate::json_struct!(ResourceOffer { resource_id, count });
crate::json_struct!(MigrateMsg {});
crate::json_enum!(LeaseCloseReason {
    "owner" => Owner,
    "unstable" => Unstable,
    "decommissioned" => Decommissioned,
    "unspecified" => Unspecified,
    "manifest_timeout" => ManifestTimeout,
    "insufficient_funds" => InsufficientFunds,
    "provider_absent" => ProviderAbsent,
});
crate::json_enum!(ExecuteMsg {
    "create_deployment" => CreateDeployment(_),
    "update_deployment" => UpdateDeployment { dseq, version },
    "close_deployment" => CloseDeployment { dseq },
    "close_group" => CloseGroup { dseq, gseq },
    "pause_group" => PauseGroup { dseq, gseq },
    "start_group" => StartGroup { dseq, gseq },
    "create_bid" => CreateBid(_),
    "close_bid" => CloseBid { bid, reason },
    "create_lease" => CreateLease { bid },
    "close_auction" => CloseAuction { order },
    "close_lease" => CloseLease { lease },
    "start_reclaim" => StartReclaim { lease, reason },
    "close_absent_leases" => CloseAbsentLeases { provider, limit },
    "withdraw_lease" => WithdrawLease { lease },
    "deposit" => Deposit { deployment },
    "receive" => Receive(_),
    "escrow_callback" => EscrowCallback(_),
    "update_config" => UpdateConfig { owner, registry, escrow, staking, guardian },
    "update_params" => UpdateParams { params },
    "pause" => Pause {},
    "unpause" => Unpause {},
});
crate::json_enum!(ReceiveMsg {
    "create_deployment" => CreateDeployment(_),
    "create_bid" => CreateBid(_),
    "deposit" => Deposit { deployment },
});
crate::json_enum!(QueryMsg {
    "config" => Config {},
    "deployment" => Deployment { id },
    "deployments" => Deployments { owner, start_after, limit },
    "group" => Group { id },
    "order" => Order { id },
    "open_orders" => OpenOrders { start_after, limit },
    "bid" => Bid { id },
    "bids" => Bids { order, start_after, limit },
    "provider_bids" => ProviderBids { provider, start_after, limit },
    "lease" => Lease { id },
    "owner_leases" => OwnerLeases { owner, start_after, limit },
    "provider_leases" => ProviderLeases { provider, start_after, limit },
    "provider_stats" => ProviderStats { provider },
});
crate::json_enum!(DeploymentState {
    "active" => Active,
    "closed" => Closed,
});
crate::json_enum!(GroupState {
    "open" => Open,
    "paused" => Paused,
    "insufficient_funds" => InsufficientFunds,
    "closed" => Closed,
});
crate::json_enum!(OrderState {
    "open" => Open,
    "active" => Active,
    "closed" => Closed,
});
crate::json_enum!(BidState {
    "open" => Open,
    "active" => Active,
    "lost" => Lost,
    "closed" => Closed,
});
crate::json_enum!(LeaseState {
    "active" => Active,
    "reclaiming" => Reclaiming,
    "insufficient_funds" => InsufficientFunds,
    "closed" => Closed,
});

// The market's query responses, written through `crate::json::ToJson`.
crate::json_struct!(Deployment {
    id,
    state,
    version,
    denom,
    groups,
    auction_window,
    reclamation_min_window,
    provider_record,
    created_at
});
crate::json_struct!(Group {
    id,
    state,
    spec,
    price,
    last_oseq,
    created_at
});
crate::json_struct!(Order {
    id,
    seq,
    state,
    price,
    auction_ends_at,
    reclamation_min_window,
    bids,
    created_at
});
crate::json_struct!(Bid {
    id,
    seq,
    state,
    price,
    deposit,
    reclamation_window,
    created_at
});
crate::json_struct!(Lease {
    id,
    state,
    price,
    created_at,
    closed_at,
    close_reason,
    reclamation_window,
    reclaim_deadline
});
crate::json_struct!(ConfigResponse {
    owner,
    registry,
    escrow,
    staking,
    guardian,
    params,
    paused
});
crate::json_struct!(DeploymentResponse { deployment, groups });
crate::json_struct!(DeploymentsResponse { deployments });
crate::json_struct!(GroupResponse { group });
crate::json_struct!(OrderResponse { order, group });
crate::json_struct!(OrdersResponse { orders });
crate::json_struct!(BidResponse { bid });
crate::json_struct!(BidsResponse { bids });
crate::json_struct!(LeaseResponse { lease });
crate::json_struct!(LeasesResponse { leases });
crate::json_struct!(ProviderStatsResponse {
    active_leases,
    open_bids,
    lease_rates,
    bid_deposits,
    record: default
});
crate::json_struct!(LeaseRecord {
    completed,
    closed_by_tenant,
    closed_by_provider,
    closed_absent
});
