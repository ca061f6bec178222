//! Whether a provider may bid on a group: the pure checks the market runs in `CreateBid`,
//! mirroring Akash's `Order.MatchRequirements`, `Order.MatchResourcesRequirements` and
//! `ResourcesOffer.MatchGSpec` (node v1.2 `x/market/types`, `akash-api` `base/attributes`).

use std::collections::BTreeMap;

use crate::attributes::Attribute;
use crate::deployment::GroupSpec;

/// Go's `path/filepath.Match` on attribute keys: `*` is any run of characters other than `/`,
/// `?` one such character, `\` escapes the next one. Character classes are not supported (the
/// attribute key pattern does not allow `[`), so `[` matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => {
                // Try every split that keeps the starred run free of separators.
                let mut i = 0;
                loop {
                    if rec(rest, &n[i..]) {
                        return true;
                    }
                    if i == n.len() || n[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some((b'?', rest)) => match n.split_first() {
                Some((c, n_rest)) if *c != b'/' => rec(rest, n_rest),
                _ => false,
            },
            Some((b'\\', rest)) => match (rest.split_first(), n.split_first()) {
                (Some((pc, p_rest)), Some((nc, n_rest))) if pc == nc => rec(p_rest, n_rest),
                _ => false,
            },
            Some((pc, rest)) => match n.split_first() {
                Some((nc, n_rest)) if pc == nc => rec(rest, n_rest),
                _ => false,
            },
        }
    }
    rec(pattern.as_bytes(), name.as_bytes())
}

/// Akash `Attribute.SubsetOf`: the requirement's key (a glob) matches the offered key and the
/// values are equal.
pub fn attribute_subset_of(required: &Attribute, offered: &Attribute) -> bool {
    required.value == offered.value && glob_match(&required.key, &offered.key)
}

/// Akash `AttributesSubsetOf`: every required attribute is matched by one offered attribute.
pub fn attributes_subset_of(required: &[Attribute], offered: &[Attribute]) -> bool {
    required
        .iter()
        .all(|r| offered.iter().any(|o| attribute_subset_of(r, o)))
}

/// Attributes signed by one auditor for a provider.
pub struct Audit<'a> {
    pub auditor: &'a str,
    pub attributes: &'a [Attribute],
}

/// Why a provider may not bid on a group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("the provider's attributes do not satisfy the group's requirement {key}={value}")]
    AttributeMismatch { key: String, value: String },
    #[error(
        "no auditor in the group's signedBy.anyOf ({any_of:?}) signed attributes for the provider"
    )]
    NotSignedByAny { any_of: Vec<String> },
    #[error("auditor {auditor} (signedBy.allOf) signed no attributes for the provider")]
    NotSignedBy { auditor: String },
    #[error("the provider offers no storage class matching resource unit {resource_id}'s volume {volume:?}")]
    StorageCapability { resource_id: u32, volume: String },
    #[error("the provider offers none of the GPU models resource unit {resource_id} accepts")]
    GpuCapability { resource_id: u32 },
    #[error("the offer does not cover the group: {reason}")]
    OfferMismatch { reason: String },
}

/// Akash `Order.MatchRequirements`: the group's `signedBy` auditors must each (all of) or one of
/// them (any of) have signed attributes for the provider, and the group's attributes must be a
/// subset of the provider's own. As on Akash, the auditors' signatures are checked for presence
/// only; the attributes are matched against what the provider declares.
pub fn match_requirements(
    group: &GroupSpec,
    provider_attributes: &[Attribute],
    audits: &[Audit<'_>],
) -> Result<(), MatchError> {
    let signed_by = &group.requirements.signed_by;
    let signed = |auditor: &str| {
        audits
            .iter()
            .any(|a| a.auditor == auditor && !a.attributes.is_empty())
    };
    if !signed_by.any_of.is_empty() && !signed_by.any_of.iter().any(|a| signed(a)) {
        return Err(MatchError::NotSignedByAny {
            any_of: signed_by.any_of.clone(),
        });
    }
    if let Some(missing) = signed_by.all_of.iter().find(|a| !signed(a)) {
        return Err(MatchError::NotSignedBy {
            auditor: missing.clone(),
        });
    }
    if let Some(r) = group.requirements.attributes.iter().find(|r| {
        !provider_attributes
            .iter()
            .any(|o| attribute_subset_of(r, o))
    }) {
        return Err(MatchError::AttributeMismatch {
            key: r.key.clone(),
            value: r.value.clone(),
        });
    }
    Ok(())
}

/// Akash `Attributes.GetCapabilitiesGroup("storage")`: `capabilities/storage/<n>/<name>` keys,
/// grouped by `<n>` with `<name>` as the key. Keys of another shape are skipped, as on Akash.
fn storage_capabilities(attributes: &[Attribute]) -> BTreeMap<&str, Vec<Attribute>> {
    let mut groups: BTreeMap<&str, Vec<Attribute>> = BTreeMap::new();
    for a in attributes {
        let Some(rest) = a.key.strip_prefix("capabilities/storage/") else {
            continue;
        };
        let mut parts = rest.split('/');
        if let (Some(n), Some(name), None) = (parts.next(), parts.next(), parts.next()) {
            groups
                .entry(n)
                .or_default()
                .push(Attribute::new(name, a.value.clone()));
        }
    }
    groups
}

/// Akash `Attributes.GetCapabilitiesMap("gpu")`: `capabilities/gpu/<rest>` keys as `<rest>`
/// (at least two segments after `capabilities/`).
fn gpu_capabilities(attributes: &[Attribute]) -> Vec<Attribute> {
    attributes
        .iter()
        .filter_map(|a| {
            let rest = a.key.strip_prefix("capabilities/gpu/")?;
            (rest.contains('/')).then(|| Attribute::new(rest, a.value.clone()))
        })
        .collect()
}

/// Akash `Order.MatchResourcesRequirements`: every storage volume with attributes (class,
/// persistence) needs a provider storage capability group that has them all, and a GPU unit with
/// model attributes needs the provider to offer one of those models.
pub fn match_capabilities(
    group: &GroupSpec,
    provider_attributes: &[Attribute],
) -> Result<(), MatchError> {
    let storage = storage_capabilities(provider_attributes);
    let gpus = gpu_capabilities(provider_attributes);
    for unit in &group.resources {
        let r = &unit.resources;
        for volume in &r.storage {
            if volume.attributes.is_empty() {
                continue;
            }
            if !storage
                .values()
                .any(|offered| attributes_subset_of(&volume.attributes, offered))
            {
                return Err(MatchError::StorageCapability {
                    resource_id: r.id,
                    volume: volume.name.clone(),
                });
            }
        }
        if r.gpu.units > 0
            && !r.gpu.attributes.is_empty()
            && !r
                .gpu
                .attributes
                .iter()
                .any(|req| gpus.iter().any(|o| attribute_subset_of(req, o)))
        {
            return Err(MatchError::GpuCapability { resource_id: r.id });
        }
    }
    Ok(())
}

/// Akash `ResourcesOffer.MatchGSpec`: an empty offer covers any group; otherwise each offered
/// unit must name a unit of the group, once, with the group's count.
pub fn match_offer(group: &GroupSpec, offer: &[(u32, u32)]) -> Result<(), MatchError> {
    let mismatch = |reason: String| Err(MatchError::OfferMismatch { reason });
    for (i, (id, count)) in offer.iter().enumerate() {
        if offer[..i].iter().any(|(seen, _)| seen == id) {
            return mismatch(format!("resource unit {id} is offered twice"));
        }
        match group.resources.iter().find(|u| u.resources.id == *id) {
            None => return mismatch(format!("the group has no resource unit {id}")),
            Some(unit) if unit.count != *count => {
                return mismatch(format!(
                    "resource unit {id} needs {} replicas, the offer has {count}",
                    unit.count
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::{Decimal256, Uint64};

    use super::*;
    use crate::attributes::{PlacementRequirements, SignedBy};
    use crate::deployment::{DecCoin, ResourceUnit};
    use crate::resources::{Cpu, Gpu, Memory, Resources, StorageVolume};

    fn attrs(pairs: &[(&str, &str)]) -> Vec<Attribute> {
        pairs.iter().map(|(k, v)| Attribute::new(*k, *v)).collect()
    }

    fn group(
        requirements: &[(&str, &str)],
        storage: Vec<Attribute>,
        gpu: Vec<Attribute>,
    ) -> GroupSpec {
        GroupSpec {
            name: "g".into(),
            requirements: PlacementRequirements {
                signed_by: SignedBy::default(),
                attributes: attrs(requirements),
            },
            resources: vec![ResourceUnit {
                resources: Resources {
                    id: 1,
                    cpu: Cpu {
                        units: 100,
                        attributes: vec![],
                    },
                    memory: Memory {
                        size: Uint64::new(1 << 20),
                        attributes: vec![],
                    },
                    storage: vec![StorageVolume {
                        name: "data".into(),
                        size: Uint64::new(1 << 30),
                        attributes: storage,
                    }],
                    gpu: Gpu {
                        units: if gpu.is_empty() { 0 } else { 1 },
                        attributes: gpu,
                    },
                    endpoints: vec![],
                },
                count: 2,
                price: DecCoin {
                    denom: "ukumo".into(),
                    amount: Decimal256::one(),
                },
            }],
        }
    }

    #[test]
    fn glob_follows_go_filepath_match() {
        assert!(glob_match("region", "region"));
        assert!(glob_match("reg*", "region"));
        assert!(glob_match(
            "vendor/nvidia/model/*",
            "vendor/nvidia/model/a100"
        ));
        assert!(!glob_match(
            "vendor/nvidia/model/*",
            "vendor/nvidia/model/a100/ram/80Gi"
        ));
        assert!(glob_match(
            "vendor/*/model/a100",
            "vendor/nvidia/model/a100"
        ));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("a\\*", "ab"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("region", "regions"));
    }

    #[test]
    fn requirements_are_a_subset_of_the_providers_attributes() {
        let g = group(&[("region", "eu"), ("tier*", "1")], vec![], vec![]);
        let ok = attrs(&[("region", "eu"), ("tier-a", "1"), ("extra", "x")]);
        assert_eq!(match_requirements(&g, &ok, &[]), Ok(()));
        let wrong_value = attrs(&[("region", "us"), ("tier-a", "1")]);
        assert_eq!(
            match_requirements(&g, &wrong_value, &[]),
            Err(MatchError::AttributeMismatch {
                key: "region".into(),
                value: "eu".into()
            })
        );
    }

    #[test]
    fn signed_by_checks_any_of_and_all_of() {
        let mut g = group(&[], vec![], vec![]);
        g.requirements.signed_by = SignedBy {
            all_of: vec!["a1".into(), "a2".into()],
            any_of: vec!["b1".into(), "b2".into()],
        };
        let signed = attrs(&[("region", "eu")]);
        let audit = |auditor| Audit {
            auditor,
            attributes: &signed,
        };
        assert_eq!(
            match_requirements(&g, &[], &[audit("a1"), audit("a2"), audit("b2")]),
            Ok(())
        );
        assert_eq!(
            match_requirements(&g, &[], &[audit("a1"), audit("a2")]),
            Err(MatchError::NotSignedByAny {
                any_of: vec!["b1".into(), "b2".into()]
            })
        );
        assert_eq!(
            match_requirements(&g, &[], &[audit("a1"), audit("b1")]),
            Err(MatchError::NotSignedBy {
                auditor: "a2".into()
            })
        );
    }

    #[test]
    fn storage_classes_need_a_matching_capability_group() {
        let g = group(
            &[],
            attrs(&[("class", "beta2"), ("persistent", "true")]),
            vec![],
        );
        let ok = attrs(&[
            ("capabilities/storage/1/class", "beta1"),
            ("capabilities/storage/1/persistent", "true"),
            ("capabilities/storage/2/class", "beta2"),
            ("capabilities/storage/2/persistent", "true"),
        ]);
        assert_eq!(match_capabilities(&g, &ok), Ok(()));
        // Class and persistence must come from the same group.
        let split = attrs(&[
            ("capabilities/storage/1/class", "beta2"),
            ("capabilities/storage/2/persistent", "true"),
        ]);
        assert!(matches!(
            match_capabilities(&g, &split),
            Err(MatchError::StorageCapability { resource_id: 1, .. })
        ));
    }

    #[test]
    fn gpu_models_match_any_offered_model() {
        let g = group(&[], vec![], attrs(&[("vendor/nvidia/model/*", "true")]));
        let a100 = attrs(&[("capabilities/gpu/vendor/nvidia/model/a100", "true")]);
        assert_eq!(match_capabilities(&g, &a100), Ok(()));
        let amd = attrs(&[("capabilities/gpu/vendor/amd/model/mi300", "true")]);
        assert_eq!(
            match_capabilities(&g, &amd),
            Err(MatchError::GpuCapability { resource_id: 1 })
        );
        let specific = group(
            &[],
            vec![],
            attrs(&[("vendor/nvidia/model/a100/ram/80Gi", "true")]),
        );
        assert!(match_capabilities(&specific, &a100).is_err());
    }

    #[test]
    fn offers_must_name_each_unit_with_its_count() {
        let g = group(&[], vec![], vec![]);
        assert_eq!(match_offer(&g, &[]), Ok(()));
        assert_eq!(match_offer(&g, &[(1, 2)]), Ok(()));
        assert!(match_offer(&g, &[(1, 1)]).is_err());
        assert!(match_offer(&g, &[(2, 2)]).is_err());
        assert!(match_offer(&g, &[(1, 2), (1, 2)]).is_err());
    }
}
