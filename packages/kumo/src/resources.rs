//! Resource units, as Akash's `akash.base.resources.v1beta4`, with plain integers instead of
//! protobuf `ResourceValue` wrappers.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Uint64;

use crate::attributes::Attribute;

/// CPU in millicores (1000 = one core).
#[cw_serde]
pub struct Cpu {
    pub units: u32,
    /// Sorted by key (Akash supports `arch`).
    pub attributes: Vec<Attribute>,
}

/// Memory in bytes.
#[cw_serde]
pub struct Memory {
    pub size: Uint64,
    pub attributes: Vec<Attribute>,
}

/// One storage volume in bytes. The unnamed volume is called `default`; `persistent` and
/// `class` are attributes, as on Akash.
#[cw_serde]
pub struct StorageVolume {
    pub name: String,
    pub size: Uint64,
    /// Sorted by key.
    pub attributes: Vec<Attribute>,
}

/// GPUs; attributes name the acceptable models (`vendor/nvidia/model/a100/ram/80Gi`).
#[cw_serde]
pub struct Gpu {
    pub units: u32,
    /// Sorted by key; empty when `units` is zero.
    pub attributes: Vec<Attribute>,
}

/// How a service is reached from outside (Akash `Endpoint.Kind`).
#[cw_serde]
#[derive(Copy, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointKind {
    /// Global port 80 over TCP: served by the provider's shared HTTP ingress.
    SharedHttp,
    /// Any other global port: a random port on the provider's public address.
    RandomPort,
    /// A dedicated IP address leased with the deployment.
    LeasedIp,
}

impl EndpointKind {
    /// The protobuf enum value Akash uses (`SHARED_HTTP = 0`, `RANDOM_PORT = 1`, `LEASED_IP = 2`).
    pub fn as_proto(self) -> u32 {
        match self {
            EndpointKind::SharedHttp => 0,
            EndpointKind::RandomPort => 1,
            EndpointKind::LeasedIp => 2,
        }
    }
}

#[cw_serde]
#[derive(Copy, Eq, Hash)]
pub struct Endpoint {
    pub kind: EndpointKind,
    /// Which leased IP this endpoint uses (1-based, in name order); 0 for other kinds.
    pub sequence_number: u32,
}

/// The resources of one replica of a service.
#[cw_serde]
pub struct Resources {
    /// 1-based index of the resource unit within its group.
    pub id: u32,
    pub cpu: Cpu,
    pub memory: Memory,
    pub storage: Vec<StorageVolume>,
    pub gpu: Gpu,
    pub endpoints: Vec<Endpoint>,
}
