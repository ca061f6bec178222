//! Typed SDL errors. Every rejection names the path in the SDL file it is about.

use std::fmt;
use std::rc::Rc;

use kumo::attributes::AttributeError;

/// Where in the SDL document something is, printed as `services.web.expose[0].port`.
///
/// A shared linked list, so that extending a path while decoding costs one small allocation.
#[derive(Clone, Default)]
pub struct Path(Option<Rc<Link>>);

struct Link {
    parent: Path,
    segment: Segment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(Box<str>),
    Index(usize),
}

impl Path {
    pub fn root() -> Self {
        Self::default()
    }

    /// Builds a path from keys, e.g. `Path::of(&["profiles", "compute", "web"])`.
    pub fn of(keys: &[&str]) -> Self {
        keys.iter().fold(Self::root(), |p, k| p.key(k))
    }

    fn push(&self, segment: Segment) -> Self {
        Self(Some(Rc::new(Link {
            parent: self.clone(),
            segment,
        })))
    }

    pub fn key(&self, key: &str) -> Self {
        self.push(Segment::Key(key.into()))
    }

    pub fn index(&self, index: usize) -> Self {
        self.push(Segment::Index(index))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_none()
    }

    fn segments(&self) -> Vec<&Segment> {
        let mut out = Vec::new();
        let mut cur = &self.0;
        while let Some(link) = cur {
            out.push(&link.segment);
            cur = &link.parent.0;
        }
        out.reverse();
        out
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.segments() == other.segments()
    }
}

impl Eq for Path {}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({self})")
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments().into_iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A path while decoding: lives on the stack and costs nothing to extend; turned into a [`Path`]
/// only when an error or a warning needs one.
#[derive(Clone, Copy)]
pub struct At<'a> {
    parent: Option<&'a At<'a>>,
    segment: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> At<'a> {
    pub fn root() -> At<'static> {
        At {
            parent: None,
            segment: Seg::Root,
        }
    }

    pub fn key<'b>(&'b self, key: &'b str) -> At<'b> {
        At {
            parent: Some(self),
            segment: Seg::Key(key),
        }
    }

    pub fn index(&'a self, index: usize) -> At<'a> {
        At {
            parent: Some(self),
            segment: Seg::Index(index),
        }
    }
}

impl From<At<'_>> for Path {
    fn from(at: At<'_>) -> Path {
        Path::from(&at)
    }
}

impl From<&At<'_>> for Path {
    fn from(at: &At<'_>) -> Path {
        let parent = at.parent.map(Path::from).unwrap_or_default();
        match at.segment {
            Seg::Root => parent,
            Seg::Key(k) => parent.key(k),
            Seg::Index(i) => parent.index(i),
        }
    }
}

/// An SDL rejection: what is wrong and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub path: Path,
    pub kind: ErrorKind,
}

impl Error {
    pub fn new(path: impl Into<Path>, kind: ErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

impl std::error::Error for Error {}

fn millis(m: &u64) -> String {
    format!("{m}m")
}

/// Every reason Kumo rejects an SDL file. Variants carry the values that explain the failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    // ---- YAML ----
    #[error("YAML syntax error at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the file is empty: an SDL needs version, services, profiles and deployment")]
    Empty,
    #[error("expected {expected}, found {found} (line {line})")]
    Type {
        expected: &'static str,
        found: &'static str,
        line: usize,
    },
    #[error("key {key:?} at line {line} is already defined at line {first_line}")]
    DuplicateKey {
        key: String,
        line: usize,
        first_line: usize,
    },
    #[error("{value} is out of range (line {line})")]
    IntegerOutOfRange { value: String, line: usize },

    // ---- document ----
    #[error("no version found: add `version: \"2.0\"` (or \"2.1\") at the top")]
    MissingVersion,
    #[error("version {version:?} is not a valid version: {reason}")]
    InvalidVersion { version: String, reason: String },
    #[error("unsupported version {version:?}: use \"2.0\" or \"2.1\"")]
    UnsupportedVersion { version: String },
    #[error("unexpected top-level field {field:?} (allowed: version, include, services, profiles, deployment, endpoints, reclamation)")]
    UnexpectedField { field: String },
    #[error("unsupported {what} {key:?} (allowed: {allowed})")]
    UnsupportedKey {
        what: &'static str,
        key: String,
        allowed: &'static str,
    },

    // ---- quantities ----
    #[error("{value:?} is not a valid quantity: {reason}")]
    InvalidQuantity { value: String, reason: &'static str },
    #[error("{value:?} is negative")]
    NegativeQuantity { value: String },
    #[error("{} is below the minimum of 10m", millis(.millicores))]
    CpuBelowMin { millicores: u64 },
    #[error("{} is above the maximum of 384000m (384 CPUs)", millis(.millicores))]
    CpuAboveMax { millicores: u64 },
    #[error("{bytes} bytes is below the minimum of 1Mi (1048576 bytes)")]
    MemoryBelowMin { bytes: u64 },
    #[error("{bytes} bytes is above the maximum of 2Ti (2199023255552 bytes)")]
    MemoryAboveMax { bytes: u64 },
    #[error("{bytes} bytes is below the minimum of 5Mi (5242880 bytes)")]
    StorageBelowMin { bytes: u64 },
    #[error("{bytes} bytes is above the maximum of 32Ti (35184372088832 bytes)")]
    StorageAboveMax { bytes: u64 },
    #[error("{units} GPUs is above the maximum of 24")]
    GpuAboveMax { units: u64 },
    #[error("the group's total {resource} ({total}) must be above 0 and at most {max}")]
    GroupTotalOutOfRange {
        resource: &'static str,
        total: u128,
        max: u128,
    },
    #[error("{resource} is required")]
    ResourceMissing { resource: &'static str },

    // ---- GPU ----
    #[error(
        "GPU attributes are required when units > 0: add `attributes: {{vendor: {{nvidia: }}}}`"
    )]
    GpuAttributesRequired,
    #[error("GPU attributes need at least one vendor under `vendor`")]
    GpuVendorRequired,
    #[error("unsupported GPU vendor {vendor:?} (supported: nvidia)")]
    UnsupportedGpuVendor { vendor: String },
    #[error("invalid GPU interface {value:?}: expected \"pcie\" or \"sxm\"")]
    InvalidGpuInterface { value: String },
    #[error("GPU attributes cannot be set when units is 0")]
    GpuAttributesWithoutUnits,
    #[error("{0}")]
    InvalidAttributes(#[from] AttributeError),

    // ---- storage ----
    #[error("volume name {name:?} is used more than once")]
    DuplicateVolumeName { name: String },
    #[error("storage class \"ram\" cannot be persistent")]
    RamPersistent,
    #[error("ephemeral storage cannot set a class: set `persistent: true` or remove `class`")]
    EphemeralClass,
    #[error("invalid storage class {class:?} (allowed: default, beta1, beta2, beta3, ram)")]
    InvalidStorageClass { class: String },
    #[error("invalid value {value:?} for attribute {key:?}: expected a boolean")]
    InvalidBoolAttribute { key: String, value: String },
    #[error("service {service:?} references volume {volume:?}, which its compute profile does not define")]
    UnknownVolume { service: String, volume: String },
    #[error("mount {mount:?} is not an absolute path")]
    MountNotAbsolute { mount: String },
    #[error("mount {mount:?} is already used by volume {volume:?}")]
    DuplicateMount { mount: String, volume: String },
    #[error("volume {volume:?} is persistent, so service {service:?} must mount it under params.storage.{volume}.mount")]
    PersistentWithoutMount { volume: String, service: String },
    #[error("volume {volume:?} has class \"ram\", which cannot be mounted read-only")]
    RamReadOnly { volume: String },

    // ---- pricing ----
    #[error("invalid price amount {amount:?}: {reason}")]
    InvalidPrice { amount: String, reason: String },
    #[error("price amount must be above zero")]
    ZeroPrice,
    #[error("price amount {amount} is negative")]
    NegativePrice { amount: String },
    #[error("invalid denom {denom:?}: it must be 3 to 128 characters, start with a letter and contain only letters, digits and / : . _ -")]
    InvalidDenom { denom: String },
    #[error("unit price {amount} is above the maximum of 10000000")]
    PriceAboveMax { amount: String },
    #[error("all groups must be priced in one denom, found {first:?} and {other:?}")]
    InconsistentDenom { first: String, other: String },

    // ---- services and exposes ----
    #[error("invalid service name {name:?}: use lowercase letters, digits and '-', starting with a letter")]
    InvalidServiceName { name: String },
    #[error("image is required")]
    EmptyImage,
    #[error("invalid environment variable name {name:?}")]
    InvalidEnvName { name: String },
    #[error("port {port} is out of range 1..=65535")]
    InvalidPort { port: u32 },
    #[error("unsupported protocol {proto:?} (allowed: TCP, UDP)")]
    InvalidProtocol { proto: String },
    #[error("{option} {value} is above the maximum of {max}")]
    HttpOptionTooLarge {
        option: &'static str,
        value: u32,
        max: u32,
    },
    #[error("unknown next case {case:?} (allowed: error, timeout, 500, 502, 503, 504, 403, 404, 429, off)")]
    UnknownNextCase { case: String },
    #[error("if \"off\" is in next_cases, no other case may be")]
    NextCaseOffWithOthers,
    #[error("invalid accepted host {host:?}: {reason}")]
    InvalidAccept { host: String, reason: &'static str },
    #[error(
        "invalid hostname {host:?}: it must be a lowercase DNS name of at most 253 characters"
    )]
    InvalidHostname { host: String },
    #[error("hostname {host:?} is accepted by more than one expose")]
    DuplicateHostname { host: String },
    #[error("no service is exposed globally: add `to: [{{global: true}}]` to an expose")]
    NoGlobalService,
    #[error("credentials are missing {field}")]
    CredentialsMissing { field: &'static str },

    // ---- endpoints ----
    #[error("invalid endpoint name {name:?}: use lowercase letters, digits, '-' and '_', starting with two lowercase letters")]
    InvalidEndpointName { name: String },
    #[error("endpoint {name:?} has no kind: add `kind: ip`")]
    EndpointMissingKind { name: String },
    #[error("endpoint {name:?} has unknown kind {kind:?} (allowed: ip)")]
    UnknownEndpointKind { name: String, kind: String },
    #[error("an expose that uses IP endpoint {endpoint:?} must be global")]
    IpRequiresGlobal { endpoint: String },
    #[error("no endpoint named {endpoint:?} is declared under `endpoints`")]
    UnknownEndpoint { endpoint: String },
    #[error("IP endpoint {endpoint:?} port {port} {proto} is already used by service {other:?}")]
    EndpointPortInUse {
        endpoint: String,
        port: u32,
        proto: String,
        other: String,
    },
    #[error("endpoint {name:?} is declared but never used")]
    EndpointUnused { name: String },

    // ---- references ----
    #[error("no compute profile named {profile:?}")]
    MissingComputeProfile { profile: String },
    #[error("no placement profile named {placement:?}")]
    MissingPlacementProfile { placement: String },
    #[error("placement {placement:?} has no price for compute profile {profile:?}")]
    MissingPricing { placement: String, profile: String },
    #[error("no service named {service:?}")]
    MissingService { service: String },
    #[error("the deployment section places no service: add `deployment: {{<service>: {{<placement>: {{profile: <compute>, count: 1}}}}}}`")]
    NoGroups,

    // ---- TEE and reclamation ----
    #[error("unsupported tee type {value:?} (allowed: cpu, cpu-gpu)")]
    InvalidTee { value: String },
    #[error("tee type \"cpu-gpu\" needs GPU resources in the compute profile")]
    TeeRequiresGpu,
    #[error("group {group:?} mixes tee types {first:?} and {second:?}")]
    TeeMismatch {
        group: String,
        first: String,
        second: String,
    },
    #[error("invalid duration {value:?}: {reason}")]
    InvalidDuration { value: String, reason: &'static str },
    #[error("reclamation min_window must be above zero")]
    NonPositiveReclamation,
}
