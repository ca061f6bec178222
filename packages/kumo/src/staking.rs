//! The staking contract's interface: provider bonds, attendance (heartbeats, absence reports,
//! jail), slashing with tenant compensation, disputes and reputation. Akash has none of these;
//! they are what makes a Kumo provider accountable.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Decimal, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;

use crate::funds::Denom;
use crate::ids::LeaseId;

#[cw_serde]
pub struct StakingParams {
    /// What providers bond (native, IBC or CW20).
    pub bond_denom: Denom,
    /// Smallest bond that lets a provider bid.
    pub min_bond: Uint128,
    /// Extra bond per unit of active lease rate in `bond_denom` (per second), times
    /// `bond_window`: a provider must keep `bond ≥ min_bond + bond_ratio × rate × bond_window`.
    /// Leases in other denominations count towards `min_bond` only (no price oracle on chain).
    pub bond_ratio: Decimal,
    pub bond_window: u64,
    /// Seconds between the end of unbonding and the funds' release.
    pub unbonding_period: u64,
    /// Unbonding entries a provider may have at once.
    pub max_unbonding_entries: u32,
    /// A provider with active leases must send a heartbeat at least this often (seconds).
    pub attendance_period: u64,
    /// Missed periods after which anyone may report the provider absent.
    pub grace_periods: u32,
    /// Share of the bond an absence or a lost dispute slashes.
    pub slash_fraction: Decimal,
    /// Share of a slash that goes to whoever reported the absence.
    pub reporter_share: Decimal,
    /// Share of a slash shared among the affected tenants; the rest goes to the treasury.
    pub compensation_share: Decimal,
    /// Seconds a jailed provider waits before it may unjail.
    pub jail_duration: u64,
    /// What a tenant deposits to open a dispute, in `bond_denom`.
    pub dispute_deposit: Uint128,
    /// Seconds the arbiter has to resolve a dispute; after that anyone may expire it, which
    /// returns the deposit to the tenant and slashes no one.
    pub dispute_timeout: u64,
}

#[cw_serde]
pub struct InstantiateMsg {
    pub owner: String,
    /// The market contract: asked for providers' leases, and the only caller of the lease hooks.
    pub market: Option<String>,
    pub treasury: String,
    /// Resolves disputes; the owner (governance) when unset.
    pub arbiter: Option<String>,
    pub params: StakingParams,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Adds the attached native coin to the sender's bond (CW20: `ReceiveMsg::Bond`).
    Bond {},
    /// Starts unbonding `amount`; refused below what the provider's active leases require.
    Unbond {
        amount: Uint128,
    },
    /// Pays out unbonding entries whose period has passed.
    Claim {},
    /// The provider is present: one transaction covers all its leases.
    Heartbeat {},
    /// Anyone: the provider missed `grace_periods` heartbeats while it had active leases. It is
    /// jailed and slashed; the reporter is paid; the market closes its leases (reason 20001) in
    /// bounded batches and each tenant is compensated from the slash.
    ReportAbsence {
        provider: String,
    },
    /// A jailed provider returns once its jail time is over and its bond is back to `min_bond`.
    Unjail {},
    /// Tenant: disputes a live lease, with `dispute_deposit` attached.
    OpenDispute {
        lease: LeaseId,
        evidence: String,
    },
    /// The lease's provider answers a dispute.
    AnswerDispute {
        id: u64,
        answer: String,
    },
    /// The arbiter: `slash` compensates the tenant from the provider's bond and returns the
    /// deposit; otherwise the deposit goes to the provider.
    ResolveDispute {
        id: u64,
        slash: bool,
    },
    /// Anyone, after `dispute_timeout`: the deposit returns to the tenant, no one is slashed.
    ExpireDispute {
        id: u64,
    },
    /// Market only: a lease of a jailed provider was closed; pay its tenant's share of the
    /// compensation.
    CompensateTenant {
        provider: String,
        tenant: String,
    },
    /// Anyone, once the jailed provider has no active leases left: what remains of its
    /// compensation pool (leases its tenants closed themselves) goes to the treasury.
    SweepCompensation {
        provider: String,
    },
    Receive(Cw20ReceiveMsg),
    UpdateConfig {
        owner: Option<String>,
        market: Option<String>,
        treasury: Option<String>,
        arbiter: Option<String>,
        params: Option<StakingParams>,
    },
}

#[cw_serde]
pub enum ReceiveMsg {
    Bond {},
    OpenDispute { lease: LeaseId, evidence: String },
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
pub struct UnbondingEntry {
    pub amount: Uint128,
    pub release_at: Timestamp,
}

/// O(1) counters kept per provider.
#[cw_serde]
#[derive(Default)]
pub struct Reputation {
    pub slashes: u64,
    pub absences: u64,
    pub disputes_lost: u64,
    pub disputes_dismissed: u64,
}

#[cw_serde]
pub struct ProviderBond {
    pub provider: Addr,
    pub bonded: Uint128,
    pub unbonding: Vec<UnbondingEntry>,
    pub last_heartbeat: Timestamp,
    pub jailed_until: Option<Timestamp>,
    pub reputation: Reputation,
}

/// The compensation of one absence, shared per closed lease.
#[cw_serde]
pub struct CompensationPool {
    pub provider: Addr,
    /// Left to pay out.
    pub remaining: Uint128,
    /// Each closed lease's tenant receives this much (the last one the remainder).
    pub per_lease: Uint128,
    /// Leases still to close.
    pub leases_left: u64,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum DisputeState {
    Open,
    /// The provider was slashed; the tenant was compensated and got its deposit back.
    Upheld,
    /// The deposit went to the provider.
    Dismissed,
    /// Timed out: the deposit went back to the tenant.
    Expired,
}

#[cw_serde]
pub struct Dispute {
    pub id: u64,
    pub lease: LeaseId,
    pub tenant: Addr,
    pub provider: Addr,
    pub evidence: String,
    pub answer: Option<String>,
    pub deposit: Uint128,
    pub state: DisputeState,
    pub opened_at: Timestamp,
    pub deadline: Timestamp,
}

/// The one staking message the market sends ([`ExecuteMsg::CompensateTenant`], same JSON; tested):
/// its own type, so that the market's wasm writes this variant only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarketCall {
    CompensateTenant { provider: String, tenant: String },
}

crate::json_enum!(MarketCall {
    "compensate_tenant" => CompensateTenant { provider, tenant },
});

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(ProviderBondResponse)]
    Provider { provider: String },
    /// What the market asks before a bid: may this provider bid?
    #[returns(BidEligibilityResponse)]
    BidEligibility { provider: String },
    #[returns(CompensationPoolResponse)]
    Compensation { provider: String },
    #[returns(DisputeResponse)]
    Dispute { id: u64 },
    /// Disputes by id.
    #[returns(DisputesResponse)]
    Disputes {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
}

#[cw_serde]
pub struct ConfigResponse {
    pub owner: Addr,
    pub market: Option<Addr>,
    pub treasury: Addr,
    pub arbiter: Addr,
    pub params: StakingParams,
}

#[cw_serde]
pub struct ProviderBondResponse {
    pub bond: ProviderBond,
    /// What the provider's active leases require it to keep bonded.
    pub required: Uint128,
}

#[cw_serde]
pub struct BidEligibilityResponse {
    pub eligible: bool,
    /// Why not, when not eligible.
    pub reason: Option<String>,
    pub reputation: Reputation,
}

#[cw_serde]
pub struct CompensationPoolResponse {
    pub pool: Option<CompensationPool>,
}

#[cw_serde]
pub struct DisputeResponse {
    pub dispute: Dispute,
}

#[cw_serde]
pub struct DisputesResponse {
    pub disputes: Vec<Dispute>,
}

/// The staking contract's `config` item as other contracts read it raw: only its parameters,
/// which the stored config holds first (the other fields are not decoded).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct ConfigParams {
    pub params: StakingParams,
}

/// Raw-readable layout of the staking contract (the market reads a bidder's eligibility with two
/// store reads instead of a smart query), in the binary form of [`crate::codec`].
pub const CONFIG_PARAMS: crate::codec::PackedItem<ConfigParams> =
    crate::codec::PackedItem::new("config");
pub const BONDS: crate::codec::PackedMap<&Addr, ProviderBond> =
    crate::codec::PackedMap::new("bonds");

crate::codec_struct!(ConfigParams { params });
crate::codec_struct!(StakingParams {
    bond_denom,
    min_bond,
    bond_ratio,
    bond_window,
    unbonding_period,
    max_unbonding_entries,
    attendance_period,
    grace_periods,
    slash_fraction,
    reporter_share,
    compensation_share,
    jail_duration,
    dispute_deposit,
    dispute_timeout
});
crate::codec_struct!(UnbondingEntry { amount, release_at });
crate::codec_struct!(Reputation {
    slashes,
    absences,
    disputes_lost,
    disputes_dismissed
});
crate::codec_struct!(ProviderBond {
    provider,
    bonded,
    unbonding,
    last_heartbeat,
    jailed_until,
    reputation
});
crate::codec_struct!(CompensationPool {
    provider,
    remaining,
    per_lease,
    leases_left
});
crate::codec_enum!(DisputeState {
    Open,
    Upheld,
    Dismissed,
    Expired
});
crate::codec_struct!(Dispute {
    id,
    lease,
    tenant,
    provider,
    evidence,
    answer,
    deposit,
    state,
    opened_at,
    deadline
});

/// `min_bond + bond_ratio × (active lease rate in the bond denomination) × bond_window`,
/// rounded up.
pub fn bond_for(
    params: &StakingParams,
    stats: &crate::market::ProviderStats,
) -> crate::error::Result<Uint128> {
    let overflow = |e: &dyn std::fmt::Display| crate::Error::Overflow(e.to_string());
    let rate = stats.lease_rate(&params.bond_denom);
    let extra = rate
        .checked_mul(cosmwasm_std::Decimal256::from_ratio(
            params.bond_window,
            1u64,
        ))
        .and_then(|v| v.checked_mul(cosmwasm_std::Decimal256::from(params.bond_ratio)))
        .map_err(|e| overflow(&e))?
        .to_uint_ceil();
    let extra = Uint128::try_from(extra).map_err(|e| overflow(&e))?;
    params.min_bond.checked_add(extra).map_err(|e| overflow(&e))
}

/// Why a provider may not bid or be leased to (bonded, not jailed, bond covering its leases),
/// or `None`: the one rule the staking contract's `BidEligibility` and the market both apply.
pub fn refusal(
    params: &StakingParams,
    bond: Option<&ProviderBond>,
    stats: &crate::market::ProviderStats,
    now: Timestamp,
) -> crate::error::Result<Option<String>> {
    let Some(b) = bond else {
        return Ok(Some("the provider has no bond".into()));
    };
    if let Some(until) = b.jailed_until {
        return Ok(Some(if now < until {
            format!("jailed until {}", until.seconds())
        } else {
            "jailed: it must Unjail first".to_string()
        }));
    }
    let needed = bond_for(params, stats)?;
    Ok((b.bonded < needed).then(|| format!("bond {} is below the {} required", b.bonded, needed)))
}

// The responses the market reads, decoded through `crate::json`.
crate::json_struct!(UnbondingEntry { amount, release_at });
crate::json_struct!(Reputation {
    slashes,
    absences,
    disputes_lost,
    disputes_dismissed
});
crate::json_struct!(ProviderBond {
    provider,
    bonded,
    unbonding,
    last_heartbeat,
    jailed_until,
    reputation
});
crate::json_struct!(CompensationPool {
    provider,
    remaining,
    per_lease,
    leases_left
});
crate::json_struct!(ProviderBondResponse { bond, required });
crate::json_struct!(BidEligibilityResponse {
    eligible,
    reason,
    reputation
});
crate::json_struct!(CompensationPoolResponse { pool });

// The message the market sends, written through `crate::json::ToJson`.
crate::json_struct!(StakingParams {
    bond_denom,
    min_bond,
    bond_ratio,
    bond_window,
    unbonding_period,
    max_unbonding_entries,
    attendance_period,
    grace_periods,
    slash_fraction,
    reporter_share,
    compensation_share,
    jail_duration,
    dispute_deposit,
    dispute_timeout
});
crate::json_enum!(ExecuteMsg {
    "bond" => Bond {},
    "unbond" => Unbond { amount },
    "claim" => Claim {},
    "heartbeat" => Heartbeat {},
    "report_absence" => ReportAbsence { provider },
    "unjail" => Unjail {},
    "open_dispute" => OpenDispute { lease, evidence },
    "answer_dispute" => AnswerDispute { id, answer },
    "resolve_dispute" => ResolveDispute { id, slash },
    "expire_dispute" => ExpireDispute { id },
    "compensate_tenant" => CompensateTenant { provider, tenant },
    "sweep_compensation" => SweepCompensation { provider },
    "receive" => Receive(_),
    "update_config" => UpdateConfig { owner, market, treasury, arbiter, params },
});
crate::json_enum!(QueryMsg {
    "config" => Config {},
    "provider" => Provider { provider },
    "bid_eligibility" => BidEligibility { provider },
    "compensation" => Compensation { provider },
    "dispute" => Dispute { id },
    "disputes" => Disputes { start_after, limit },
});

// The staking contract's own messages and responses, through `crate::json` (one JSON visitor,
// hand-written output, instead of serde's code per type in the wasm).
crate::json_struct!(InstantiateMsg {
    owner,
    market,
    treasury,
    arbiter,
    params
});
crate::json_enum!(ReceiveMsg {
    "bond" => Bond {},
    "open_dispute" => OpenDispute { lease, evidence },
});
crate::json_struct!(MigrateMsg {});
crate::json_struct!(ConfigResponse {
    owner,
    market,
    treasury,
    arbiter,
    params
});
crate::json_enum!(DisputeState {
    "open" => Open,
    "upheld" => Upheld,
    "dismissed" => Dismissed,
    "expired" => Expired,
});
crate::json_struct!(Dispute {
    id,
    lease,
    tenant,
    provider,
    evidence,
    answer,
    deposit,
    state,
    opened_at,
    deadline
});
crate::json_struct!(DisputeResponse { dispute });
crate::json_struct!(DisputesResponse { disputes });
