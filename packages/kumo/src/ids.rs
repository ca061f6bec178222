//! Ids as on Akash: a deployment is `(owner, dseq)`; groups, orders and bids extend it. A lease
//! has the id of the bid it was made from. `Display` prints them as Akash does:
//! `owner/dseq/gseq/oseq/provider`.

use std::fmt;

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Addr;

#[cw_serde]
#[derive(Eq, Hash, PartialOrd, Ord)]
pub struct DeploymentId {
    pub owner: Addr,
    pub dseq: u64,
}

#[cw_serde]
#[derive(Eq, Hash, PartialOrd, Ord)]
pub struct GroupId {
    pub owner: Addr,
    pub dseq: u64,
    pub gseq: u32,
}

#[cw_serde]
#[derive(Eq, Hash, PartialOrd, Ord)]
pub struct OrderId {
    pub owner: Addr,
    pub dseq: u64,
    pub gseq: u32,
    pub oseq: u32,
}

#[cw_serde]
#[derive(Eq, Hash, PartialOrd, Ord)]
pub struct BidId {
    pub owner: Addr,
    pub dseq: u64,
    pub gseq: u32,
    pub oseq: u32,
    pub provider: Addr,
}

/// A lease is identified by the bid it was created from.
pub type LeaseId = BidId;

impl DeploymentId {
    pub fn new(owner: Addr, dseq: u64) -> Self {
        Self { owner, dseq }
    }

    pub fn group(&self, gseq: u32) -> GroupId {
        GroupId {
            owner: self.owner.clone(),
            dseq: self.dseq,
            gseq,
        }
    }
}

impl GroupId {
    pub fn deployment(&self) -> DeploymentId {
        DeploymentId::new(self.owner.clone(), self.dseq)
    }

    pub fn order(&self, oseq: u32) -> OrderId {
        OrderId {
            owner: self.owner.clone(),
            dseq: self.dseq,
            gseq: self.gseq,
            oseq,
        }
    }
}

impl OrderId {
    pub fn deployment(&self) -> DeploymentId {
        DeploymentId::new(self.owner.clone(), self.dseq)
    }

    pub fn group(&self) -> GroupId {
        GroupId {
            owner: self.owner.clone(),
            dseq: self.dseq,
            gseq: self.gseq,
        }
    }

    pub fn bid(&self, provider: Addr) -> BidId {
        BidId {
            owner: self.owner.clone(),
            dseq: self.dseq,
            gseq: self.gseq,
            oseq: self.oseq,
            provider,
        }
    }
}

impl BidId {
    pub fn deployment(&self) -> DeploymentId {
        DeploymentId::new(self.owner.clone(), self.dseq)
    }

    pub fn group(&self) -> GroupId {
        GroupId {
            owner: self.owner.clone(),
            dseq: self.dseq,
            gseq: self.gseq,
        }
    }

    pub fn order(&self) -> OrderId {
        OrderId {
            owner: self.owner.clone(),
            dseq: self.dseq,
            gseq: self.gseq,
            oseq: self.oseq,
        }
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.dseq)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.owner, self.dseq, self.gseq)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.owner, self.dseq, self.gseq, self.oseq
        )
    }
}

impl fmt::Display for BidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}/{}",
            self.owner, self.dseq, self.gseq, self.oseq, self.provider
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_akash() {
        let d = DeploymentId::new(Addr::unchecked("kumo1tenant"), 7);
        let bid = d.group(1).order(2).bid(Addr::unchecked("kumo1prov"));
        assert_eq!(d.to_string(), "kumo1tenant/7");
        assert_eq!(bid.to_string(), "kumo1tenant/7/1/2/kumo1prov");
        assert_eq!(bid.order().group().deployment(), d);
    }
}
