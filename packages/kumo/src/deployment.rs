//! Group specs: what a deployment asks for, one order per group (Akash
//! `akash.deployment.v1beta4.GroupSpec`).

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Decimal256;

use crate::attributes::PlacementRequirements;
use crate::resources::Resources;

/// An amount of a denomination with 18 decimal places (Akash prices are `DecCoin`s).
#[cw_serde]
pub struct DecCoin {
    pub denom: String,
    pub amount: Decimal256,
}

/// `count` replicas of `resources`, each at most `price` per block.
#[cw_serde]
pub struct ResourceUnit {
    pub resources: Resources,
    pub count: u32,
    pub price: DecCoin,
}

impl ResourceUnit {
    /// Price of all replicas (Akash `ResourceUnit.FullPrice`).
    pub fn full_price(&self) -> Decimal256 {
        // Unit prices are at most 10^7 and counts at most 50, far from overflow.
        self.price
            .amount
            .saturating_mul(Decimal256::from_ratio(self.count, 1u32))
    }
}

/// A deployment group: placement requirements and the resource units it needs.
#[cw_serde]
pub struct GroupSpec {
    pub name: String,
    pub requirements: PlacementRequirements,
    pub resources: Vec<ResourceUnit>,
}

impl GroupSpec {
    /// Denomination of the group's price (all units share one; see SDL validation).
    pub fn denom(&self) -> Option<&str> {
        self.resources.first().map(|r| r.price.denom.as_str())
    }

    /// Sum of every unit's full price: the group's maximum price per block.
    pub fn price(&self) -> Decimal256 {
        self.resources.iter().fold(Decimal256::zero(), |acc, r| {
            acc.saturating_add(r.full_price())
        })
    }
}
