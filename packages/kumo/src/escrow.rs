//! The escrow contract's interface: accounts (one per deployment, one per bid) funded by
//! depositors in FIFO order, and payments streaming from a deployment's account to the providers
//! of its leases at a per-second rate (Akash `x/escrow` as AEP-79 §6 adapts it to contracts).

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Decimal, Decimal256, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;

use crate::funds::Denom;
use crate::ids::{BidId, DeploymentId, LeaseId};

/// What an account backs: a deployment (paying its leases) or a bid (its deposit).
#[cw_serde]
#[derive(Eq, Hash, PartialOrd, Ord)]
pub enum AccountId {
    Deployment(DeploymentId),
    Bid(BidId),
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountId::Deployment(d) => write!(f, "deployment/{d}"),
            AccountId::Bid(b) => write!(f, "bid/{b}"),
        }
    }
}

/// A denomination the escrow accepts, with its governance-set parameters.
#[cw_serde]
pub struct DenomConfig {
    pub denom: Denom,
    /// Smallest deposit that opens a deployment account.
    pub min_deposit: Uint128,
    /// Share of each provider withdrawal that goes to the treasury (Akash `x/take`).
    pub take_rate: Decimal,
}

#[cw_serde]
pub struct EscrowParams {
    /// Depositors an account may have (merged per depositor and source; AEP-79: 16).
    pub max_depositors: u32,
    /// Payments an account may have open at once (one per lease of a deployment).
    pub max_payments: u32,
    /// Share of what a permissionless `Settle` moves to providers that goes to its caller, taken
    /// from the providers' accrued balances (they are the ones settlement protects).
    pub settle_bounty: Decimal,
}

impl Default for EscrowParams {
    fn default() -> Self {
        Self {
            max_depositors: 16,
            max_payments: 20,
            settle_bounty: Decimal::permille(1),
        }
    }
}

#[cw_serde]
pub struct InstantiateMsg {
    pub owner: String,
    /// The market contract: the only caller of the account and payment lifecycle messages. Can
    /// be set later with `UpdateConfig`.
    pub market: Option<String>,
    /// Where take-rate income goes (the governance treasury).
    pub treasury: String,
    /// May pause openings and deposits.
    pub guardian: Option<String>,
    pub params: Option<EscrowParams>,
    pub denoms: Vec<DenomConfig>,
}

#[cw_serde]
pub enum ExecuteMsg {
    // ---- market only ----
    /// Opens an account funded by the attached native coin (or by a CW20 `Send` carrying
    /// `ReceiveMsg::OpenAccount`). `depositor` is who the deposit is refunded to.
    OpenAccount {
        id: AccountId,
        owner: String,
        depositor: String,
    },
    /// Starts a payment from a deployment's account to `payee` at `rate` per second.
    OpenPayment {
        account: AccountId,
        lease: LeaseId,
        payee: String,
        rate: Decimal256,
    },
    /// Settles, pays the provider what it is owed and closes the payment. With `refund_since`,
    /// what accrued after that time and is not yet withdrawn goes back to the account first
    /// (the provider was absent).
    ClosePayment {
        lease: LeaseId,
        #[serde(default)]
        refund_since: Option<Timestamp>,
    },
    /// Settles, closes every payment and refunds the depositors (first in, first out).
    CloseAccount {
        id: AccountId,
    },

    // ---- anyone ----
    /// Adds the attached native coin to an open account. `depositor` (who refunds go to)
    /// defaults to the sender; only the market may name someone else, for deposits it forwards.
    Deposit {
        id: AccountId,
        depositor: Option<String>,
    },
    /// Deposits from an allowance a granter gave the sender.
    DepositFromAllowance {
        id: AccountId,
        granter: String,
        amount: Uint128,
    },
    /// Lets `grantee` deposit up to the attached funds into any account on the sender's behalf;
    /// attaching more tops the allowance up. Refunds of such deposits restore the allowance.
    GrantAllowance {
        grantee: String,
        expires: Option<Timestamp>,
    },
    /// Ends an allowance and returns what is left of it to the granter.
    RevokeAllowance {
        grantee: String,
        denom: Denom,
    },
    /// Pays a lease's provider what has accrued (less the take).
    Withdraw {
        lease: LeaseId,
    },
    /// Settles an account; closes its leases if it is overdrawn. Pays the caller a bounty.
    Settle {
        id: AccountId,
    },
    /// CW20 deposits: `msg` is a [`ReceiveMsg`].
    Receive(Cw20ReceiveMsg),

    // ---- governance and guardian ----
    UpdateConfig {
        owner: Option<String>,
        market: Option<String>,
        treasury: Option<String>,
        guardian: Option<String>,
        params: Option<EscrowParams>,
    },
    /// Adds or replaces a denomination's parameters (owner only).
    SetDenom {
        config: DenomConfig,
    },
    /// Stops accepting a denomination for new accounts (owner only); existing ones run on.
    RemoveDenom {
        denom: Denom,
    },
    /// Pauses openings and deposits (guardian or owner). Settle, withdraw, refund and close
    /// never pause.
    Pause {},
    Unpause {},
}

/// The escrow messages the market sends: these [`ExecuteMsg`] variants, same JSON (tested), as
/// their own type so that the market's wasm writes these six only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarketCall {
    OpenAccount {
        id: AccountId,
        owner: String,
        depositor: String,
    },
    OpenPayment {
        account: AccountId,
        lease: LeaseId,
        payee: String,
        rate: Decimal256,
    },
    ClosePayment {
        lease: LeaseId,
        refund_since: Option<Timestamp>,
    },
    CloseAccount {
        id: AccountId,
    },
    Deposit {
        id: AccountId,
        depositor: Option<String>,
    },
    Withdraw {
        lease: LeaseId,
    },
}

crate::json_enum!(MarketCall {
    "open_account" => OpenAccount { id, owner, depositor },
    "open_payment" => OpenPayment { account, lease, payee, rate },
    "close_payment" => ClosePayment { lease, refund_since: default },
    "close_account" => CloseAccount { id },
    "deposit" => Deposit { id, depositor },
    "withdraw" => Withdraw { lease },
});

/// The `msg` of a CW20 `Send` to the escrow.
#[cw_serde]
pub enum ReceiveMsg {
    /// Market only (the CW20 `Send` comes from the token, on the market's behalf).
    OpenAccount {
        id: AccountId,
        owner: String,
        depositor: String,
    },
    Deposit {
        id: AccountId,
        depositor: Option<String>,
    },
    GrantAllowance {
        grantee: String,
        expires: Option<Timestamp>,
    },
}

/// What the escrow tells the market when settlement closes things, sent as
/// `market::ExecuteMsg::EscrowCallback`.
#[cw_serde]
pub enum EscrowCallback {
    /// A deployment's account ran out of funds: the escrow has settled what it could, closed
    /// every payment and the account; the market closes the leases with reason 20000 and marks
    /// the groups insufficient-funds.
    AccountOverdrawn { deployment: DeploymentId },
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(DenomsResponse)]
    Denoms {},
    /// The account as it would be if settled now (without writing anything).
    #[returns(AccountResponse)]
    Account { id: AccountId },
    #[returns(PaymentResponse)]
    Payment { lease: LeaseId },
    /// The payments of one account (bounded by `max_payments`).
    #[returns(PaymentsResponse)]
    Payments { account: AccountId },
    #[returns(AllowanceResponse)]
    Allowance {
        granter: String,
        grantee: String,
        denom: Denom,
    },
    /// A granter's allowances, by grantee.
    #[returns(AllowancesResponse)]
    Allowances {
        granter: String,
        start_after: Option<(String, Denom)>,
        limit: Option<u32>,
    },
}

#[cw_serde]
pub struct ConfigResponse {
    pub owner: Addr,
    pub market: Option<Addr>,
    pub treasury: Addr,
    pub guardian: Option<Addr>,
    pub params: EscrowParams,
    pub paused: bool,
}

#[cw_serde]
pub struct DenomsResponse {
    pub denoms: Vec<DenomConfig>,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum AccountState {
    Open,
    /// Ran out of funds; terminal.
    Overdrawn,
    Closed,
}

#[cw_serde]
pub enum DepositSource {
    /// The depositor's own funds.
    Direct,
    /// A granter's allowance, spent by `grantee`.
    Allowance { grantee: Addr },
}

#[cw_serde]
pub struct Depositor {
    /// Who the funds are refunded to.
    pub owner: Addr,
    pub source: DepositSource,
    /// What is left of this deposit (18-decimal precision; refunds truncate to base units).
    pub balance: Decimal256,
}

#[cw_serde]
pub struct Account {
    pub id: AccountId,
    pub owner: Addr,
    pub denom: Denom,
    pub state: AccountState,
    /// Funds left: the sum of the depositors' balances.
    pub balance: Decimal256,
    /// Sum of the open payments' rates, per second.
    pub rate: Decimal256,
    pub settled_at: Timestamp,
    /// Everything ever moved from this account to its payments.
    pub transferred: Decimal256,
    /// Base units the escrow holds for this account: its depositors' balances plus what its
    /// payments have accrued and not paid out, exactly. Across all accounts and allowances this
    /// is the escrow's bank balance, to the unit.
    pub held: Uint128,
    /// First in, first out: deductions drain the first depositor first.
    pub depositors: Vec<Depositor>,
}

#[cw_serde]
pub struct AccountResponse {
    pub account: Account,
    /// When the account runs dry at its current rate; `None` if nothing is streaming.
    pub funded_until: Option<Timestamp>,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum PaymentState {
    Open,
    Overdrawn,
    Closed,
}

#[cw_serde]
pub struct Payment {
    pub lease: LeaseId,
    pub account: AccountId,
    pub payee: Addr,
    /// Per second.
    pub rate: Decimal256,
    pub state: PaymentState,
    /// Accrued and not yet withdrawn.
    pub balance: Decimal256,
    /// Paid out to the provider so far (after the take), in base units.
    pub withdrawn: Uint128,
    /// Owed but unpaid when the account ran dry.
    pub unsettled: Decimal256,
}

#[cw_serde]
pub struct PaymentResponse {
    pub payment: Payment,
}

#[cw_serde]
pub struct PaymentsResponse {
    pub payments: Vec<Payment>,
}

#[cw_serde]
pub struct Allowance {
    pub granter: Addr,
    pub grantee: Addr,
    pub denom: Denom,
    /// What the grantee may still deposit (funds the escrow holds for the granter).
    pub remaining: Uint128,
    pub expires: Option<Timestamp>,
}

#[cw_serde]
pub struct AllowanceResponse {
    pub allowance: Allowance,
}

#[cw_serde]
pub struct AllowancesResponse {
    pub allowances: Vec<Allowance>,
}

// The escrow's stored records (`kumo::codec`).
crate::codec_struct!(DenomConfig {
    denom,
    min_deposit,
    take_rate
});
crate::codec_struct!(EscrowParams {
    max_depositors,
    max_payments,
    settle_bounty
});
crate::codec_enum!(AccountState {
    Open,
    Overdrawn,
    Closed
});
crate::codec_enum!(PaymentState {
    Open,
    Overdrawn,
    Closed
});
crate::codec_struct!(Payment {
    lease,
    account,
    payee,
    rate,
    state,
    balance,
    withdrawn,
    unsettled
});
crate::codec_struct!(Allowance {
    granter,
    grantee,
    denom,
    remaining,
    expires
});

impl crate::codec::Encode for AccountId {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            AccountId::Deployment(d) => {
                out.push(0);
                d.encode(out);
            }
            AccountId::Bid(b) => {
                out.push(1);
                b.encode(out);
            }
        }
    }
}

impl crate::codec::Decode for AccountId {
    fn decode(r: &mut crate::codec::Reader) -> crate::codec::DecodeResult<Self> {
        Ok(match r.byte()? {
            0 => AccountId::Deployment(crate::codec::Decode::decode(r)?),
            _ => AccountId::Bid(crate::codec::Decode::decode(r)?),
        })
    }
}

// The messages the market sends, written through `crate::json::ToJson`.
crate::json_enum!(AccountId {
    "deployment" => Deployment(_),
    "bid" => Bid(_),
});
crate::json_struct!(DenomConfig {
    denom,
    min_deposit,
    take_rate
});
crate::json_struct!(EscrowParams {
    max_depositors,
    max_payments,
    settle_bounty
});
crate::json_enum!(ExecuteMsg {
    "open_account" => OpenAccount { id, owner, depositor },
    "open_payment" => OpenPayment { account, lease, payee, rate },
    "close_payment" => ClosePayment { lease, refund_since: default },
    "close_account" => CloseAccount { id },
    "deposit" => Deposit { id, depositor },
    "deposit_from_allowance" => DepositFromAllowance { id, granter, amount },
    "grant_allowance" => GrantAllowance { grantee, expires },
    "revoke_allowance" => RevokeAllowance { grantee, denom },
    "withdraw" => Withdraw { lease },
    "settle" => Settle { id },
    "receive" => Receive(_),
    "update_config" => UpdateConfig { owner, market, treasury, guardian, params },
    "set_denom" => SetDenom { config },
    "remove_denom" => RemoveDenom { denom },
    "pause" => Pause {},
    "unpause" => Unpause {},
});
crate::json_enum!(ReceiveMsg {
    "open_account" => OpenAccount { id, owner, depositor },
    "deposit" => Deposit { id, depositor },
    "grant_allowance" => GrantAllowance { grantee, expires },
});

// The escrow's own messages and responses, through `crate::json` (one JSON visitor, hand-written
// output, instead of serde's code per type in the wasm).
crate::json_struct!(InstantiateMsg {
    owner,
    market,
    treasury,
    guardian,
    params,
    denoms
});
crate::json_struct!(MigrateMsg {});
crate::json_enum!(QueryMsg {
    "config" => Config {},
    "denoms" => Denoms {},
    "account" => Account { id },
    "payment" => Payment { lease },
    "payments" => Payments { account },
    "allowance" => Allowance { granter, grantee, denom },
    "allowances" => Allowances { granter, start_after, limit },
});
crate::json_struct!(ConfigResponse {
    owner,
    market,
    treasury,
    guardian,
    params,
    paused
});
crate::json_struct!(DenomsResponse { denoms });
crate::json_enum!(AccountState {
    "open" => Open,
    "overdrawn" => Overdrawn,
    "closed" => Closed,
});
crate::json_enum!(DepositSource {
    "direct" => Direct,
    "allowance" => Allowance { grantee },
});
crate::json_struct!(Depositor {
    owner,
    source,
    balance
});
crate::json_struct!(Account {
    id,
    owner,
    denom,
    state,
    balance,
    rate,
    settled_at,
    transferred,
    held,
    depositors
});
crate::json_struct!(AccountResponse {
    account,
    funded_until
});
crate::json_enum!(PaymentState {
    "open" => Open,
    "overdrawn" => Overdrawn,
    "closed" => Closed,
});
crate::json_struct!(Payment {
    lease,
    account,
    payee,
    rate,
    state,
    balance,
    withdrawn,
    unsettled
});
crate::json_struct!(PaymentResponse { payment });
crate::json_struct!(PaymentsResponse { payments });
crate::json_struct!(Allowance {
    granter,
    grantee,
    denom,
    remaining,
    expires
});
crate::json_struct!(AllowanceResponse { allowance });
crate::json_struct!(AllowancesResponse { allowances });
