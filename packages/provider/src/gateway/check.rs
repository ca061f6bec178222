//! Does a manifest stay within what its deployment leased? (Akash `CheckAgainstGSpecs` in
//! `chain-sdk` `go/manifest/v2beta3`.)
//!
//! The manifest version on chain only proves that the tenant sent the manifest it committed to;
//! the tenant also wrote the group specs the provider bid on. Before anything runs, each manifest
//! group must therefore match a deployment group by name, and each service must use one of that
//! group's resource units with exactly its CPU, memory, GPU and storage. The replicas of all
//! services on a unit must add up to the unit's count, and their exposes must consume the unit's
//! endpoints, as Akash requires (more replicas or endpoints than leased would run resources
//! nobody pays for; fewer is what Akash calls under-utilization, and it rejects that too).

use std::collections::BTreeMap;

use kumo::{GroupSpec, ResourceUnit};
use kumo_sdl::manifest::{self, Manifest};

/// Why a manifest does not fit its deployment's groups.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestMismatch {
    #[error("the manifest has no groups")]
    Empty,
    #[error("the manifest has {manifest} groups but the deployment has {deployment}")]
    GroupCount { manifest: usize, deployment: usize },
    #[error("manifest group {group:?} appears twice")]
    DuplicateGroup { group: String },
    #[error("manifest group {group:?} is not a group of the deployment")]
    UnknownGroup { group: String },
    #[error("manifest group {group:?} has no services")]
    NoServices { group: String },
    #[error(
        "group {group:?}: service {service:?} uses resource unit {id}, which the deployment group \
         does not have"
    )]
    UnknownResourceUnit {
        group: String,
        service: String,
        id: u32,
    },
    #[error(
        "group {group:?}: service {service:?} asks for {resource} {manifest} but resource unit \
         {id} leased {deployment}"
    )]
    ResourceMismatch {
        group: String,
        service: String,
        id: u32,
        resource: &'static str,
        manifest: String,
        deployment: String,
    },
    #[error(
        "group {group:?}: the manifest runs {manifest} replicas on resource unit {id}, which was \
         leased for {leased}"
    )]
    TooManyReplicas {
        group: String,
        id: u32,
        manifest: u64,
        leased: u32,
    },
    #[error(
        "group {group:?}: the manifest runs {manifest} replicas on resource unit {id}, which was \
         leased for {leased} (Akash rejects under-used units too)"
    )]
    TooFewReplicas {
        group: String,
        id: u32,
        manifest: u64,
        leased: u32,
    },
    #[error(
        "group {group:?}: the services on resource unit {id} expose endpoints {manifest} but the \
         unit leased {deployment}"
    )]
    EndpointMismatch {
        group: String,
        id: u32,
        manifest: String,
        deployment: String,
    },
}

/// Checks `manifest` against every group of its deployment (`groups`, the on-chain specs).
pub fn check_against_groups(
    manifest: &Manifest,
    groups: &[GroupSpec],
) -> Result<(), ManifestMismatch> {
    if manifest.0.is_empty() {
        return Err(ManifestMismatch::Empty);
    }
    for (i, group) in manifest.0.iter().enumerate() {
        if manifest.0[..i].iter().any(|g| g.name == group.name) {
            return Err(ManifestMismatch::DuplicateGroup {
                group: group.name.clone(),
            });
        }
    }
    if manifest.0.len() != groups.len() {
        return Err(ManifestMismatch::GroupCount {
            manifest: manifest.0.len(),
            deployment: groups.len(),
        });
    }
    for group in &manifest.0 {
        let spec = groups
            .iter()
            .find(|g| g.name == group.name)
            .ok_or_else(|| ManifestMismatch::UnknownGroup {
                group: group.name.clone(),
            })?;
        check_group(group, spec)?;
    }
    Ok(())
}

/// Checks one manifest group against the deployment group of the same name.
pub fn check_group(group: &manifest::Group, spec: &GroupSpec) -> Result<(), ManifestMismatch> {
    if group.services.is_empty() {
        return Err(ManifestMismatch::NoServices {
            group: group.name.clone(),
        });
    }
    // Per unit id: replicas the manifest runs on it and endpoints its services expose.
    let mut replicas: BTreeMap<u32, u64> = BTreeMap::new();
    let mut endpoints: BTreeMap<u32, Vec<kumo::Endpoint>> = BTreeMap::new();
    for service in &group.services {
        let id = service.resources.id;
        let unit = spec
            .resources
            .iter()
            .find(|u| u.resources.id == id)
            .ok_or_else(|| ManifestMismatch::UnknownResourceUnit {
                group: group.name.clone(),
                service: service.name.clone(),
                id,
            })?;
        check_resources(&group.name, service, unit)?;
        let total = replicas.entry(id).or_default();
        *total = total.saturating_add(u64::from(service.count));
        if *total > u64::from(unit.count) {
            return Err(ManifestMismatch::TooManyReplicas {
                group: group.name.clone(),
                id,
                manifest: *total,
                leased: unit.count,
            });
        }
        endpoints
            .entry(id)
            .or_default()
            .extend(service.expose.iter().flat_map(|e| e.endpoints()));
    }
    for unit in &spec.resources {
        let id = unit.resources.id;
        let used = replicas.get(&id).copied().unwrap_or(0);
        if used < u64::from(unit.count) {
            return Err(ManifestMismatch::TooFewReplicas {
                group: group.name.clone(),
                id,
                manifest: used,
                leased: unit.count,
            });
        }
        let mut exposed = endpoints.remove(&id).unwrap_or_default();
        let mut leased = unit.resources.endpoints.clone();
        // Order carries no meaning (the SDL lists the spec's per sorted expose).
        exposed.sort_by_key(endpoint_key);
        leased.sort_by_key(endpoint_key);
        if exposed != leased {
            return Err(ManifestMismatch::EndpointMismatch {
                group: group.name.clone(),
                id,
                manifest: describe_endpoints(&exposed),
                deployment: describe_endpoints(&leased),
            });
        }
    }
    Ok(())
}

/// CPU, memory, GPU and storage of a service against its unit's, compared in manifest form (the
/// SDL's own conversion), attributes included.
fn check_resources(
    group: &str,
    service: &manifest::Service,
    unit: &ResourceUnit,
) -> Result<(), ManifestMismatch> {
    let leased = manifest::Resources::from(&unit.resources);
    let asked = &service.resources;
    let mismatch = |resource: &'static str, manifest: String, deployment: String| {
        Err(ManifestMismatch::ResourceMismatch {
            group: group.to_string(),
            service: service.name.clone(),
            id: asked.id,
            resource,
            manifest,
            deployment,
        })
    };
    if asked.cpu != leased.cpu {
        return mismatch("cpu", json(&asked.cpu), json(&leased.cpu));
    }
    if asked.memory != leased.memory {
        return mismatch("memory", json(&asked.memory), json(&leased.memory));
    }
    if asked.gpu != leased.gpu {
        return mismatch("gpu", json(&asked.gpu), json(&leased.gpu));
    }
    if asked.storage != leased.storage {
        return mismatch("storage", json(&asked.storage), json(&leased.storage));
    }
    Ok(())
}

fn endpoint_key(e: &kumo::Endpoint) -> (u32, u32) {
    (e.kind.as_proto(), e.sequence_number)
}

fn describe_endpoints(list: &[kumo::Endpoint]) -> String {
    let names: Vec<String> = list
        .iter()
        .map(|e| match e.kind {
            kumo::EndpointKind::SharedHttp => "shared-http".to_string(),
            kumo::EndpointKind::RandomPort => "random-port".to_string(),
            kumo::EndpointKind::LeasedIp => format!("leased-ip#{}", e.sequence_number),
        })
        .collect();
    format!("[{}]", names.join(", "))
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
version: "2.0"
services:
  web:
    image: nginx
    expose:
      - port: 80
        to: [{global: true}]
  api:
    image: api
    expose:
      - port: 8080
        as: 8080
        to: [{global: true}]
profiles:
  compute:
    small:
      resources: {cpu: {units: 0.5}, memory: {size: 512Mi}, storage: {size: 1Gi}}
  placement:
    dc:
      pricing: {small: {denom: uakt, amount: 100}}
deployment:
  web: {dc: {profile: small, count: 2}}
  api: {dc: {profile: small, count: 1}}
"#;

    fn parsed() -> (Manifest, Vec<GroupSpec>) {
        let sdl = kumo_sdl::parse(SDL).unwrap();
        (sdl.manifest, sdl.groups)
    }

    #[test]
    fn a_manifest_matches_the_groups_built_from_the_same_sdl() {
        let (manifest, groups) = parsed();
        // Two services share the profile's unit: 3 replicas, two endpoints.
        assert_eq!(groups[0].resources.len(), 1);
        assert_eq!(groups[0].resources[0].count, 3);
        check_against_groups(&manifest, &groups).unwrap();
    }

    #[test]
    fn more_replicas_than_leased_are_refused() {
        let (mut manifest, groups) = parsed();
        manifest.0[0].services[0].count += 1;
        let err = check_against_groups(&manifest, &groups).unwrap_err();
        assert!(
            matches!(err, ManifestMismatch::TooManyReplicas { leased: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn fewer_replicas_than_leased_are_refused_as_on_akash() {
        let (mut manifest, groups) = parsed();
        manifest.0[0].services[0].count -= 1;
        let err = check_against_groups(&manifest, &groups).unwrap_err();
        assert!(
            matches!(err, ManifestMismatch::TooFewReplicas { .. }),
            "{err}"
        );
    }

    #[test]
    fn bigger_resources_than_leased_are_refused() {
        let (mut manifest, groups) = parsed();
        manifest.0[0].services[1].resources.cpu.units = manifest::ResourceValue::new(4000);
        let err = check_against_groups(&manifest, &groups).unwrap_err();
        assert!(
            matches!(
                err,
                ManifestMismatch::ResourceMismatch {
                    resource: "cpu",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("4000"), "{err}");

        let (mut manifest, groups) = parsed();
        manifest.0[0].services[0].resources.memory.size = manifest::ResourceValue::new(1 << 40);
        let err = check_against_groups(&manifest, &groups).unwrap_err();
        assert!(matches!(
            err,
            ManifestMismatch::ResourceMismatch {
                resource: "memory",
                ..
            }
        ));
    }

    #[test]
    fn unknown_groups_units_and_endpoints_are_refused() {
        let (mut manifest, groups) = parsed();
        manifest.0[0].name = "elsewhere".into();
        assert!(matches!(
            check_against_groups(&manifest, &groups),
            Err(ManifestMismatch::UnknownGroup { .. })
        ));

        let (mut manifest, groups) = parsed();
        manifest.0[0].services[0].resources.id = 9;
        assert!(matches!(
            check_against_groups(&manifest, &groups),
            Err(ManifestMismatch::UnknownResourceUnit { id: 9, .. })
        ));

        let (mut manifest, groups) = parsed();
        manifest.0.push(manifest.0[0].clone());
        assert!(matches!(
            check_against_groups(&manifest, &groups),
            Err(ManifestMismatch::DuplicateGroup { .. })
        ));

        // A global port turned local no longer consumes the unit's endpoint.
        let (mut manifest, groups) = parsed();
        manifest.0[0].services[0].expose[0].global = false;
        let err = check_against_groups(&manifest, &groups).unwrap_err();
        assert!(
            matches!(err, ManifestMismatch::EndpointMismatch { .. }),
            "{err}"
        );

        assert_eq!(
            check_against_groups(&Manifest(vec![]), &groups),
            Err(ManifestMismatch::Empty)
        );
    }
}
