//! The governance contract's interface: voting power from locked tokens (snapshotted per
//! proposal), proposals that carry `CosmosMsg`s, a timelock before execution by anyone. It owns
//! every Kumo contract and holds the treasury.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, CosmosMsg, Decimal, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;

use crate::funds::Denom;

#[cw_serde]
pub struct GovernanceParams {
    /// The token locked for voting power (native or CW20).
    pub denom: Denom,
    /// Attached to every proposal, in `denom`.
    pub proposal_deposit: Uint128,
    /// Seconds a proposal is open for votes.
    pub voting_period: u64,
    /// Share of all locked power that must vote.
    pub quorum: Decimal,
    /// Share of yes among yes + no + veto needed to pass.
    pub threshold: Decimal,
    /// Share of veto among all votes that rejects the proposal and burns its deposit.
    pub veto_threshold: Decimal,
    /// Seconds between passing and the earliest execution.
    pub timelock: u64,
    /// Whether a rejected (not vetoed) proposal's deposit is refunded; burned otherwise.
    pub refund_rejected: bool,
    /// Messages a proposal may carry.
    pub max_messages: u32,
}

#[cw_serde]
pub struct InstantiateMsg {
    pub params: GovernanceParams,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum Vote {
    Yes,
    No,
    Abstain,
    Veto,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Locks the attached native coin for voting power (CW20: `ReceiveMsg::Lock`).
    Lock {},
    /// Returns locked tokens. Power already snapshotted for open proposals is unaffected.
    Unlock {
        amount: Uint128,
    },
    /// Opens a proposal with `proposal_deposit` attached (CW20: `ReceiveMsg::Propose`).
    Propose {
        title: String,
        description: String,
        msgs: Vec<CosmosMsg>,
    },
    /// Votes with the power the sender had locked when the proposal opened. Once.
    CastVote {
        id: u64,
        vote: Vote,
    },
    /// Anyone, after the voting period: tallies, refunds or burns the deposit, and starts the
    /// timelock of a passed proposal.
    Close {
        id: u64,
    },
    /// Anyone, after the timelock: runs the proposal's messages.
    Execute {
        id: u64,
    },
    /// Governance itself (through a proposal).
    UpdateParams {
        params: GovernanceParams,
    },
    /// Governance itself: the last message of every execution; fails it if the treasury would
    /// have spent locked tokens or deposits.
    CheckSolvency {},
    Receive(Cw20ReceiveMsg),
}

#[cw_serde]
pub enum ReceiveMsg {
    Lock {},
    Propose {
        title: String,
        description: String,
        msgs: Vec<CosmosMsg>,
    },
}

#[cw_serde]
pub struct MigrateMsg {}

impl Vote {
    /// The name used in events (as in the JSON messages).
    pub fn as_str(&self) -> &'static str {
        match self {
            Vote::Yes => "yes",
            Vote::No => "no",
            Vote::Abstain => "abstain",
            Vote::Veto => "veto",
        }
    }
}

impl ProposalStatus {
    /// The name used in events and queries (as in the JSON messages).
    pub fn as_str(&self) -> &'static str {
        match self {
            ProposalStatus::Open => "open",
            ProposalStatus::Passed => "passed",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Vetoed => "vetoed",
            ProposalStatus::Executed => "executed",
        }
    }
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum ProposalStatus {
    Open,
    /// Passed; executable from `executable_at`.
    Passed,
    Rejected,
    Vetoed,
    Executed,
}

#[cw_serde]
#[derive(Default)]
pub struct Tally {
    pub yes: Uint128,
    pub no: Uint128,
    pub abstain: Uint128,
    pub veto: Uint128,
}

#[cw_serde]
pub struct Proposal {
    pub id: u64,
    pub proposer: Addr,
    pub title: String,
    pub description: String,
    pub msgs: Vec<CosmosMsg>,
    pub deposit: Uint128,
    pub status: ProposalStatus,
    /// Voting power is read as of the start of this block.
    pub start_height: u64,
    pub voting_ends_at: Timestamp,
    /// All locked power at `start_height`.
    pub total_power: Uint128,
    pub tally: Tally,
    pub executable_at: Option<Timestamp>,
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ParamsResponse)]
    Params {},
    #[returns(ProposalResponse)]
    Proposal { id: u64 },
    #[returns(ProposalsResponse)]
    Proposals {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// Locked tokens now, or at the start of `height`.
    #[returns(VotingPowerResponse)]
    VotingPower { voter: String, height: Option<u64> },
    #[returns(VoteResponse)]
    Vote { id: u64, voter: String },
}

#[cw_serde]
pub struct ParamsResponse {
    pub params: GovernanceParams,
    pub total_locked: Uint128,
}

#[cw_serde]
pub struct ProposalResponse {
    pub proposal: Proposal,
}

#[cw_serde]
pub struct ProposalsResponse {
    pub proposals: Vec<Proposal>,
}

#[cw_serde]
pub struct VotingPowerResponse {
    pub power: Uint128,
}

#[cw_serde]
pub struct VoteResponse {
    pub vote: Option<Vote>,
    pub power: Uint128,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_json_encoding() {
        for v in [Vote::Yes, Vote::No, Vote::Abstain, Vote::Veto] {
            assert_eq!(
                cosmwasm_std::to_json_string(&v).unwrap(),
                format!("\"{}\"", v.as_str())
            );
        }
        for s in [
            ProposalStatus::Open,
            ProposalStatus::Passed,
            ProposalStatus::Rejected,
            ProposalStatus::Vetoed,
            ProposalStatus::Executed,
        ] {
            assert_eq!(
                cosmwasm_std::to_json_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
