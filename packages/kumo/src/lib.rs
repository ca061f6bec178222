//! Kumo's interfaces: the types every contract, the provider agent and the CLI share.
//!
//! - what an SDL maps into and the market stores per group: [`resources`], [`attributes`],
//!   [`deployment`];
//! - ids and funds: [`ids`], [`funds`];
//! - whether a provider may bid on a group: [`matching`];
//! - each contract's messages, queries and responses: [`registry`], [`market`], [`escrow`],
//!   [`staking`], [`governance`], [`gateway`] (and its client).

pub mod attributes;
pub mod codec;
pub mod deployment;
pub mod entry;
pub mod error;
pub mod escrow;
pub mod funds;
pub mod gateway;
pub mod governance;
pub mod ids;
pub mod json;
pub mod market;
pub mod matching;
pub mod registry;
pub mod resources;
pub mod staking;

pub use attributes::{Attribute, PlacementRequirements, SignedBy};
pub use deployment::{DecCoin, GroupSpec, ResourceUnit};
pub use error::{Error, Result};
pub use funds::{Asset, Denom};
pub use ids::{BidId, DeploymentId, GroupId, LeaseId, OrderId};
pub use resources::{Cpu, Endpoint, EndpointKind, Gpu, Memory, Resources, StorageVolume};
