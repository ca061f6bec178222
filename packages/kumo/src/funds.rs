//! What Kumo accounts hold: one denomination each, native (including IBC `ibc/...` denoms) or a
//! CW20 token.

use std::fmt;

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};

#[cw_serde]
#[derive(Eq, Hash, PartialOrd, Ord)]
pub enum Denom {
    /// A bank denom: `ukumo`, `uatom`, `ibc/27394FB0...`.
    Native(String),
    /// A CW20 token contract.
    Cw20(Addr),
}

impl fmt::Display for Denom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denom::Native(d) => write!(f, "{d}"),
            Denom::Cw20(a) => write!(f, "cw20:{a}"),
        }
    }
}

impl Denom {
    /// Parses the form `Display` prints: `cw20:<address>` or a native denom. The address is not
    /// validated here.
    pub fn parse(s: &str) -> Denom {
        match s.strip_prefix("cw20:") {
            Some(addr) => Denom::Cw20(Addr::unchecked(addr)),
            None => Denom::Native(s.to_string()),
        }
    }
}

/// An amount of one denomination.
#[cw_serde]
#[derive(Eq)]
pub struct Asset {
    pub denom: Denom,
    pub amount: Uint128,
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.denom)
    }
}
