//! The standard policies (Akash `order.go` `shouldBid`, plus Kumo's tenant lists and lease cap).

use std::collections::BTreeSet;

use kumo::matching::{
    attributes_subset_of, match_capabilities, match_requirements, Audit, MatchError,
};
use kumo::Attribute;

use super::{BidPolicy, Ctx, Decision, OrderView};
use crate::inventory::{volume_kind, VolumeKind};

fn match_code(e: &MatchError) -> &'static str {
    match e {
        MatchError::AttributeMismatch { .. } => "attribute-mismatch",
        MatchError::NotSignedByAny { .. } => "not-signed-by-any",
        MatchError::NotSignedBy { .. } => "not-signed-by",
        MatchError::StorageCapability { .. } => "storage-capability",
        MatchError::GpuCapability { .. } => "gpu-capability",
        MatchError::OfferMismatch { .. } => "offer-mismatch",
    }
}

/// The order's placement requirements against the provider: its attributes must satisfy the
/// group's, and the auditors of `signedBy` (all of `allOf`, one of `anyOf`) must have signed
/// for it — the market's own check (`kumo::matching::match_requirements`), run before spending
/// a transaction. Optionally, as Akash's provider `--attributes` config, the provider only
/// bids on orders whose requirements include given attributes.
#[derive(Clone, Debug, Default)]
pub struct AttributesPolicy {
    order_must_require: Vec<Attribute>,
}

impl AttributesPolicy {
    pub fn new() -> AttributesPolicy {
        AttributesPolicy::default()
    }

    /// Bid only on orders whose requirements include all of `attributes`.
    pub fn requiring_order_attributes(mut self, attributes: Vec<Attribute>) -> AttributesPolicy {
        self.order_must_require = attributes;
        self
    }
}

impl BidPolicy for AttributesPolicy {
    fn name(&self) -> &str {
        "attributes"
    }

    fn check(&self, order: &OrderView, ctx: &Ctx<'_>) -> Decision {
        let audits: Vec<Audit<'_>> = ctx
            .provider
            .audits
            .iter()
            .map(|a| Audit {
                auditor: a.auditor.as_str(),
                attributes: &a.attributes,
            })
            .collect();
        if let Err(e) = match_requirements(&order.group, &ctx.provider.attributes, &audits) {
            return Decision::decline(match_code(&e), e.to_string());
        }
        if !attributes_subset_of(
            &self.order_must_require,
            &order.group.requirements.attributes,
        ) {
            return Decision::decline(
                "order-attributes",
                "the order does not require the attributes this provider serves",
            );
        }
        Decision::Accept
    }
}

/// Storage and GPU capabilities: what the provider declares on chain must cover the group (the
/// market checks it too), and the inventory must really have each persistent class and a GPU
/// model each GPU unit accepts. Optionally caps the volumes per unit (Akash
/// `MaxGroupVolumes`).
#[derive(Clone, Debug, Default)]
pub struct CapabilitiesPolicy {
    max_volumes: Option<usize>,
}

impl CapabilitiesPolicy {
    pub fn new() -> CapabilitiesPolicy {
        CapabilitiesPolicy::default()
    }

    pub fn max_volumes_per_unit(mut self, max: usize) -> CapabilitiesPolicy {
        self.max_volumes = Some(max);
        self
    }
}

impl BidPolicy for CapabilitiesPolicy {
    fn name(&self) -> &str {
        "capabilities"
    }

    fn check(&self, order: &OrderView, ctx: &Ctx<'_>) -> Decision {
        if let Err(e) = match_capabilities(&order.group, &ctx.provider.attributes) {
            return Decision::decline(match_code(&e), e.to_string());
        }
        for unit in &order.group.resources {
            let r = &unit.resources;
            if let Some(max) = self.max_volumes {
                if r.storage.len() > max {
                    return Decision::decline(
                        "too-many-volumes",
                        format!(
                            "resource unit {} has {} volumes, at most {max} are served",
                            r.id,
                            r.storage.len()
                        ),
                    );
                }
            }
            for volume in &r.storage {
                if let VolumeKind::Persistent { class } = volume_kind(volume) {
                    if !ctx.inventory.has_storage_class(&class) {
                        return Decision::decline(
                            "storage-class",
                            format!(
                                "resource unit {}'s volume {:?} needs storage class {class:?}, which this provider does not have",
                                r.id, volume.name
                            ),
                        );
                    }
                }
            }
            if r.gpu.units > 0 && !ctx.inventory.has_gpu(&r.gpu.attributes) {
                return Decision::decline(
                    "gpu-model",
                    format!("no node has a GPU model resource unit {} accepts", r.id),
                );
            }
        }
        Decision::Accept
    }
}

/// Whether the group fits in what is free now (a dry run of the reservation the engine then
/// makes). An order that already holds a reservation passes.
#[derive(Clone, Debug, Default)]
pub struct CapacityPolicy;

impl BidPolicy for CapacityPolicy {
    fn name(&self) -> &str {
        "capacity"
    }

    fn check(&self, order: &OrderView, ctx: &Ctx<'_>) -> Decision {
        if ctx.inventory.reservation(&order.id).is_some() {
            return Decision::Accept;
        }
        match ctx.inventory.fits(&order.group.resources) {
            Ok(()) => Decision::Accept,
            Err(e) => Decision::decline(e.what.code(), e.to_string()),
        }
    }
}

/// Tenants the provider refuses, or the only ones it serves.
#[derive(Clone, Debug, Default)]
pub struct TenantPolicy {
    allow: Option<BTreeSet<String>>,
    deny: BTreeSet<String>,
}

impl TenantPolicy {
    /// Serves everyone until told otherwise.
    pub fn new() -> TenantPolicy {
        TenantPolicy::default()
    }

    pub fn deny<I, S>(mut self, tenants: I) -> TenantPolicy
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.deny.extend(tenants.into_iter().map(Into::into));
        self
    }

    /// Serves only these tenants (the deny list still applies).
    pub fn allow_only<I, S>(mut self, tenants: I) -> TenantPolicy
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow = Some(tenants.into_iter().map(Into::into).collect());
        self
    }
}

impl BidPolicy for TenantPolicy {
    fn name(&self) -> &str {
        "tenants"
    }

    fn check(&self, order: &OrderView, _ctx: &Ctx<'_>) -> Decision {
        let tenant = order.owner().as_str();
        if self.deny.contains(tenant) {
            return Decision::decline("tenant-denied", format!("tenant {tenant} is denied"));
        }
        if let Some(allow) = &self.allow {
            if !allow.contains(tenant) {
                return Decision::decline(
                    "tenant-not-allowed",
                    format!("tenant {tenant} is not on the allow list"),
                );
            }
        }
        Decision::Accept
    }
}

/// At most `max` leases at once. Open bids count too: each may become a lease, and a provider
/// that could not honour all its bids would have to close leases it just won.
#[derive(Clone, Debug)]
pub struct MaxLeasesPolicy {
    max: usize,
}

impl MaxLeasesPolicy {
    pub fn new(max: usize) -> MaxLeasesPolicy {
        MaxLeasesPolicy { max }
    }
}

impl BidPolicy for MaxLeasesPolicy {
    fn name(&self) -> &str {
        "max-leases"
    }

    fn check(&self, order: &OrderView, ctx: &Ctx<'_>) -> Decision {
        let held = ctx
            .inventory
            .reservations()
            .filter(|r| r.order != order.id)
            .count();
        if held >= self.max {
            return Decision::decline(
                "max-leases",
                format!(
                    "{held} leases and open bids already held, at most {} allowed",
                    self.max
                ),
            );
        }
        Decision::Accept
    }
}
