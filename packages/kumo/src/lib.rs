//! Kumo's interfaces: the types every contract, the provider agent and the CLI share.
//!
//! This first slice holds what an SDL file maps into and what the market contract stores for a
//! deployment group: resource units, attributes, placement requirements, group specs and prices.

pub mod attributes;
pub mod deployment;
pub mod resources;

pub use attributes::{Attribute, PlacementRequirements, SignedBy};
pub use deployment::{DecCoin, GroupSpec, ResourceUnit};
pub use resources::{Cpu, Endpoint, EndpointKind, Gpu, Memory, Resources, StorageVolume};
