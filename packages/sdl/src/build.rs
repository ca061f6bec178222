//! From the decoded SDL to group specs and the manifest.
//!
//! Validation is Akash's Go implementation (`go/sdl/v2.go` `validate`,
//! `go/node/deployment/v1beta4` group validation, `go/manifest/v2beta3` manifest validation).
//! Construction follows Akash's reference SDK (`@akashnetwork/chain-sdk` `generateManifest`),
//! whose manifest versions Kumo reproduces byte for byte; on every one of Akash's parity fixtures
//! the two implementations build the same manifest. Where they differ (volume and GPU-model
//! order, exposes without `to`, resource units shared by compute profile in v2.0, empty lists
//! written as `null`), Kumo builds what the reference builds.

use std::collections::{BTreeMap, HashMap, HashSet};

use cosmwasm_std::{Decimal256, Uint64};
use kumo::{
    Attribute, Cpu, Endpoint, EndpointKind, GroupSpec, Memory, PlacementRequirements, ResourceUnit,
    Resources, SignedBy, StorageVolume,
};

use crate::error::{Error, ErrorKind, Path};
use crate::input::{Compute, ComputeResources, Expose, Input, Service, Version};
use crate::manifest::{self, Manifest, Protocol, ServiceExpose};
use crate::units::{MI, TI};
use crate::Warning;

pub const MIN_UNIT_CPU: u64 = 10;
pub const MAX_UNIT_CPU: u64 = 384_000;
pub const MAX_UNIT_GPU: u64 = 24;
pub const MIN_UNIT_MEMORY: u64 = MI;
pub const MAX_UNIT_MEMORY: u64 = 2 * TI;
pub const MIN_UNIT_STORAGE: u64 = 5 * MI;
pub const MAX_UNIT_STORAGE: u64 = 32 * TI;
/// Akash's group limits are the unit limits times its maximum count of 50 replicas.
const MAX_UNIT_COUNT: u128 = 50;
pub const MAX_UNIT_PRICE: u64 = 10_000_000;

const DEFAULT_MAX_BODY_SIZE: u32 = 1_048_576;
const MAX_BODY_SIZE: u32 = 104_857_600;
const MAX_PROXY_BUFFER_SIZE: u32 = 1_048_576;
const DEFAULT_TIMEOUT: u32 = 60_000;
const DEFAULT_NEXT_TRIES: u32 = 3;

fn compute_path(profile: &str) -> Path {
    Path::of(&["profiles", "compute", profile, "resources"])
}

fn service_path(name: &str) -> Path {
    Path::of(&["services", name])
}

/// Akash's `validate()`: references between sections, credentials, IP endpoints, storage params.
pub(crate) fn validate(
    input: &Input,
    version: Version,
    warnings: &mut Vec<Warning>,
) -> Result<(), Error> {
    for (name, endpoint) in &input.endpoints {
        let path = Path::of(&["endpoints", name]);
        if !is_valid_endpoint_name(name) {
            return Err(Error::new(
                path,
                ErrorKind::InvalidEndpointName { name: name.clone() },
            ));
        }
        if endpoint.kind.is_empty() {
            return Err(Error::new(
                path,
                ErrorKind::EndpointMissingKind { name: name.clone() },
            ));
        }
        if endpoint.kind != "ip" {
            return Err(Error::new(
                path.key("kind"),
                ErrorKind::UnknownEndpointKind {
                    name: name.clone(),
                    kind: endpoint.kind.clone(),
                },
            ));
        }
    }

    let mut endpoints_used = HashSet::new();
    let mut ports_used: HashMap<(String, u32, String), String> = HashMap::new();
    for (svc_name, placements) in &input.deployment {
        for (placement_name, depl) in placements {
            let depl_path = Path::of(&["deployment", svc_name, placement_name]);
            let Some(compute) = input.compute.get(&depl.profile) else {
                return Err(Error::new(
                    depl_path.key("profile"),
                    ErrorKind::MissingComputeProfile {
                        profile: depl.profile.clone(),
                    },
                ));
            };
            let Some(placement) = input.placement.get(placement_name) else {
                return Err(Error::new(
                    depl_path,
                    ErrorKind::MissingPlacementProfile {
                        placement: placement_name.clone(),
                    },
                ));
            };
            if !placement.pricing.contains_key(&depl.profile) {
                return Err(Error::new(
                    Path::of(&["profiles", "placement", placement_name, "pricing"]),
                    ErrorKind::MissingPricing {
                        placement: placement_name.clone(),
                        profile: depl.profile.clone(),
                    },
                ));
            }
            let Some(svc) = input.services.get(svc_name) else {
                return Err(Error::new(
                    Path::of(&["deployment", svc_name]),
                    ErrorKind::MissingService {
                        service: svc_name.clone(),
                    },
                ));
            };
            let svc_path = service_path(svc_name);
            if let Some(c) = &svc.credentials {
                let missing = [
                    ("host", &c.host),
                    ("username", &c.username),
                    ("password", &c.password),
                ]
                .into_iter()
                .find(|(_, v)| v.trim().is_empty());
                if let Some((field, _)) = missing {
                    return Err(Error::new(
                        svc_path.key("credentials"),
                        ErrorKind::CredentialsMissing { field },
                    ));
                }
            }
            for expose in &svc.expose {
                for (i, to) in expose.to.iter().enumerate() {
                    if to.ip.is_empty() {
                        continue;
                    }
                    let to_path = expose.path.key("to").index(i).key("ip");
                    if !to.global {
                        return Err(Error::new(
                            to_path,
                            ErrorKind::IpRequiresGlobal {
                                endpoint: to.ip.clone(),
                            },
                        ));
                    }
                    if !input.endpoints.contains_key(&to.ip) {
                        return Err(Error::new(
                            to_path,
                            ErrorKind::UnknownEndpoint {
                                endpoint: to.ip.clone(),
                            },
                        ));
                    }
                    endpoints_used.insert(to.ip.clone());
                    let key = (to.ip.clone(), expose.as_port, expose.proto.clone());
                    if let Some(other) = ports_used.get(&key) {
                        return Err(Error::new(
                            to_path,
                            ErrorKind::EndpointPortInUse {
                                endpoint: to.ip.clone(),
                                port: expose.port,
                                proto: expose.proto.clone(),
                                other: other.clone(),
                            },
                        ));
                    }
                    ports_used.insert(key, svc_name.clone());
                }
            }
            let resources = resources_of(compute, &depl.profile)?;
            validate_storage_params(svc, svc_name, resources, version, warnings)?;
        }
    }

    for name in input.endpoints.keys() {
        if !endpoints_used.contains(name) {
            return Err(Error::new(
                Path::of(&["endpoints", name]),
                ErrorKind::EndpointUnused { name: name.clone() },
            ));
        }
    }
    Ok(())
}

fn resources_of<'a>(compute: &'a Compute, profile: &str) -> Result<&'a ComputeResources, Error> {
    compute.resources.as_ref().ok_or_else(|| {
        Error::new(
            compute_path(profile),
            ErrorKind::ResourceMissing {
                resource: "resources (cpu, memory and storage)",
            },
        )
    })
}

/// The v2.0 and v2.1 rules for `params.storage` differ; both are kept as Akash has them.
fn validate_storage_params(
    svc: &Service,
    svc_name: &str,
    resources: &ComputeResources,
    version: Version,
    warnings: &mut Vec<Warning>,
) -> Result<(), Error> {
    let volumes = resources.storage.as_deref().unwrap_or_default();
    let params_path = service_path(svc_name).key("params").key("storage");
    let storage = svc.params.as_ref().map(|p| &p.storage);
    let mut mounts: HashMap<&str, &str> = HashMap::new();
    for (name, params) in storage.into_iter().flatten() {
        let path = params_path.key(name);
        let Some(volume) = volumes.iter().find(|v| &v.name == name) else {
            // Akash's Go parser rejects this; its reference SDK (Akash Console) accepts it and
            // the provider ignores the entry, so Kumo accepts it with a warning.
            warnings.push(Warning {
                path,
                message: ErrorKind::UnknownVolume {
                    service: svc_name.to_string(),
                    volume: name.clone(),
                }
                .to_string(),
            });
            continue;
        };
        if !params.mount.starts_with('/') {
            return Err(Error::new(
                path.key("mount"),
                ErrorKind::MountNotAbsolute {
                    mount: params.mount.clone(),
                },
            ));
        }
        if let Some(other) = mounts.insert(&params.mount, name) {
            return Err(Error::new(
                path.key("mount"),
                ErrorKind::DuplicateMount {
                    mount: params.mount.clone(),
                    volume: other.to_string(),
                },
            ));
        }
        if version == Version::V2_1 && volume.class == "ram" && params.read_only {
            return Err(Error::new(
                path.key("readOnly"),
                ErrorKind::RamReadOnly {
                    volume: name.clone(),
                },
            ));
        }
    }
    // A persistent volume must be mounted. Akash's Go parser only checks this in v2.0, and
    // there only that the service mounts *some* volume (its attribute map is shared across
    // volumes); its reference SDK checks every volume, as Kumo does.
    if let Some(volume) = volumes
        .iter()
        .find(|v| v.persistent && !mounts.values().any(|name| *name == v.name))
    {
        return Err(Error::new(
            compute_path_storage(svc_name, &volume.name),
            ErrorKind::PersistentWithoutMount {
                volume: volume.name.clone(),
                service: svc_name.to_string(),
            },
        ));
    }
    Ok(())
}

fn compute_path_storage(svc_name: &str, volume: &str) -> Path {
    service_path(svc_name)
        .key("params")
        .key("storage")
        .key(volume)
}

/// Endpoint names: `^[[:lower:]]+[[:lower:]-_\d]+$`.
fn is_valid_endpoint_name(name: &str) -> bool {
    let b = name.as_bytes();
    let lead = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
    lead >= 1
        && b.len() >= 2
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_'))
}

/// Leased-IP sequence numbers (`computeEndpointSequenceNumbers`): the IP names of every global
/// `to` entry of every service, sorted and numbered from 1, a repeated name keeping its last
/// number. (Akash's Go parser also counts non-global entries, under an empty name; the reference
/// does not, and its numbering is what ends up in manifests.)
fn endpoint_sequence_numbers(input: &Input) -> HashMap<String, u32> {
    let mut names: Vec<&str> = input
        .services
        .values()
        .flat_map(|svc| &svc.expose)
        .flat_map(|e| &e.to)
        .filter(|to| to.global && !to.ip.is_empty())
        .map(|to| to.ip.as_str())
        .collect();
    names.sort_unstable();
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), i as u32 + 1))
        .collect()
}

fn http_options(
    h: &crate::input::HttpOptions,
    path: &Path,
) -> Result<manifest::HttpOptions, Error> {
    let path = path.key("http_options");
    let check = |option, value: Option<u32>, max| match value {
        Some(v) if v > max => Err(Error::new(
            path.key(option),
            ErrorKind::HttpOptionTooLarge {
                option,
                value: v,
                max,
            },
        )),
        _ => Ok(()),
    };
    check("max_body_size", h.max_body_size, MAX_BODY_SIZE)?;
    check(
        "proxy_buffer_size",
        h.proxy_buffer_size,
        MAX_PROXY_BUFFER_SIZE,
    )?;
    check("read_timeout", h.read_timeout, DEFAULT_TIMEOUT)?;
    check("send_timeout", h.send_timeout, DEFAULT_TIMEOUT)?;
    let next_cases = match &h.next_cases {
        Some(cases) if !cases.is_empty() => {
            for case in cases {
                match case.as_str() {
                    "off" if cases.len() != 1 => {
                        return Err(Error::new(
                            path.key("next_cases"),
                            ErrorKind::NextCaseOffWithOthers,
                        ))
                    }
                    "off" | "error" | "timeout" | "500" | "502" | "503" | "504" | "403" | "404"
                    | "429" => {}
                    _ => {
                        return Err(Error::new(
                            path.key("next_cases"),
                            ErrorKind::UnknownNextCase { case: case.clone() },
                        ))
                    }
                }
            }
            cases.clone()
        }
        _ => vec!["error".to_string(), "timeout".to_string()],
    };
    // An option that is set, even to 0, is kept (the reference's `??`); unset ones default.
    Ok(manifest::HttpOptions {
        max_body_size: h.max_body_size.unwrap_or(DEFAULT_MAX_BODY_SIZE),
        read_timeout: h.read_timeout.unwrap_or(DEFAULT_TIMEOUT),
        send_timeout: h.send_timeout.unwrap_or(DEFAULT_TIMEOUT),
        next_tries: h.next_tries.unwrap_or(DEFAULT_NEXT_TRIES),
        next_timeout: h.next_timeout.unwrap_or(0),
        next_cases,
        proxy_buffer_size: h.proxy_buffer_size.unwrap_or(0),
    })
}

/// The manifest's exposes (`buildManifestExpose`): one per `to` entry, sorted by service, port,
/// protocol, global first. An expose without `to` has no entry: it only opens the port inside
/// the deployment, which needs nothing from the provider. The sort is stable.
fn manifest_exposes(
    exposes: &[Expose],
    seq: &HashMap<String, u32>,
) -> Result<Vec<ServiceExpose>, Error> {
    let mut out = Vec::new();
    for expose in exposes {
        let proto = match expose.proto.to_uppercase().as_str() {
            "" | "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            _ => {
                return Err(Error::new(
                    expose.path.key("proto"),
                    ErrorKind::InvalidProtocol {
                        proto: expose.proto.clone(),
                    },
                ))
            }
        };
        if expose.port == 0 || expose.port > 65535 {
            return Err(Error::new(
                expose.path.key("port"),
                ErrorKind::InvalidPort { port: expose.port },
            ));
        }
        let http = http_options(&expose.http_options, &expose.path)?;
        let hosts = expose.accept.clone().filter(|h| !h.is_empty());
        for to in &expose.to {
            out.push(ServiceExpose {
                port: expose.port,
                external_port: expose.as_port,
                proto,
                service: to.service.clone(),
                global: to.global,
                hosts: hosts.clone(),
                http_options: http.clone(),
                ip: to.ip.clone(),
                endpoint_sequence_number: seq.get(&to.ip).copied().unwrap_or_default(),
            });
        }
    }
    out.sort_by(|a, b| {
        a.service
            .cmp(&b.service)
            .then(a.port.cmp(&b.port))
            .then(a.proto.as_str().cmp(b.proto.as_str()))
            .then(b.global.cmp(&a.global))
    });
    Ok(out)
}

/// The endpoints a service's exposes consume, in written order (`buildServiceEndpoints`).
fn service_endpoints(exposes: &[Expose], seq: &HashMap<String, u32>) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for expose in exposes {
        for to in expose.to.iter().filter(|to| to.global) {
            let external = if expose.as_port == 0 {
                expose.port
            } else {
                expose.as_port
            };
            let tcp = matches!(expose.proto.to_uppercase().as_str(), "" | "TCP");
            let kind = if tcp && external == 80 {
                EndpointKind::SharedHttp
            } else {
                EndpointKind::RandomPort
            };
            out.push(Endpoint {
                kind,
                sequence_number: 0,
            });
            if !to.ip.is_empty() {
                out.push(Endpoint {
                    kind: EndpointKind::LeasedIp,
                    sequence_number: seq.get(&to.ip).copied().unwrap_or_default(),
                });
            }
        }
    }
    out
}

/// A unit's resources and where in the SDL they came from, for error paths.
struct Built {
    group: GroupSpec,
    manifest: manifest::Group,
    /// Compute profile of each resource unit, in order.
    profiles: Vec<String>,
    tee: Option<String>,
}

fn to_resources(
    r: &ComputeResources,
    profile: &str,
    endpoints: Vec<Endpoint>,
) -> Result<Resources, Error> {
    let path = compute_path(profile);
    let missing = |resource| Error::new(path.clone(), ErrorKind::ResourceMissing { resource });
    let cpu = r.cpu.as_ref().ok_or_else(|| missing("cpu"))?;
    let memory = r.memory.ok_or_else(|| missing("memory"))?;
    let storage = r.storage.as_ref().ok_or_else(|| missing("storage"))?;
    let (gpu_units, gpu_attributes) = r
        .gpu
        .as_ref()
        .map(|g| (g.units, g.attributes.clone()))
        .unwrap_or_default();
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(Resources {
        id: 0,
        cpu: Cpu {
            units: clamp(cpu.millicores),
            attributes: cpu.attributes.clone(),
        },
        memory: Memory {
            size: Uint64::new(memory),
            attributes: Vec::new(),
        },
        storage: storage
            .iter()
            .map(|v| StorageVolume {
                name: v.name.clone(),
                size: Uint64::new(v.size),
                attributes: v.attributes.clone(),
            })
            .collect(),
        gpu: kumo::Gpu {
            units: clamp(gpu_units),
            attributes: gpu_attributes,
        },
        endpoints,
    })
}

/// Builds the groups and the manifest (`generateManifest`). `validate` must have passed, so every
/// reference resolves. Resource units are shared by compute profile within a group, in v2.0 as in
/// v2.1, as the reference builds them (Akash's Go parser shares them in v2.1 only).
pub(crate) fn build(
    input: &Input,
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<GroupSpec>, Manifest), Error> {
    let seq = endpoint_sequence_numbers(input);
    let mut groups: BTreeMap<String, Built> = BTreeMap::new();

    for name in input.services.keys() {
        if !input.deployment.contains_key(name) {
            warnings.push(Warning {
                path: service_path(name),
                message: format!("service {name:?} is not deployed: no `deployment.{name}` entry"),
            });
        }
    }

    for (svc_name, placements) in &input.deployment {
        let svc = &input.services[svc_name];
        let endpoints = service_endpoints(&svc.expose, &seq);
        let exposes = manifest_exposes(&svc.expose, &seq)?;
        // Group specs list endpoints as Akash's Go builder does: per sorted expose (the manifest
        // service lists them in written order, as the reference does; order carries no meaning).
        let spec_endpoints: Vec<Endpoint> = exposes.iter().flat_map(|e| e.endpoints()).collect();
        for (placement_name, depl) in placements {
            let compute = resources_of(&input.compute[&depl.profile], &depl.profile)?;
            let placement = &input.placement[placement_name];
            let price = placement.pricing[&depl.profile].clone();

            let built = groups
                .entry(placement_name.clone())
                .or_insert_with(|| Built {
                    group: GroupSpec {
                        name: placement_name.clone(),
                        requirements: PlacementRequirements {
                            signed_by: SignedBy {
                                all_of: placement.all_of.clone(),
                                any_of: placement.any_of.clone(),
                            },
                            attributes: placement.attributes.clone(),
                        },
                        resources: Vec::new(),
                    },
                    manifest: manifest::Group {
                        name: placement_name.clone(),
                        services: Vec::new(),
                    },
                    profiles: Vec::new(),
                    tee: None,
                });

            let tee = svc.params.as_ref().map_or("", |p| p.tee.as_str());
            if !tee.is_empty() {
                project_tee(built, svc_name, tee, compute)?;
            }

            let mut resources = to_resources(compute, &depl.profile, endpoints.clone())?;
            match built.profiles.iter().position(|p| p == &depl.profile) {
                Some(location) => {
                    let unit = &mut built.group.resources[location];
                    resources.id = unit.resources.id;
                    unit.count = unit.count.saturating_add(depl.count);
                    unit.resources
                        .endpoints
                        .extend(spec_endpoints.iter().copied());
                    unit.resources.endpoints.sort_by_key(|e| e.sequence_number);
                }
                None => {
                    resources.id = built.group.resources.len() as u32 + 1;
                    let mut unit_resources = resources.clone();
                    unit_resources.endpoints = spec_endpoints.clone();
                    built.group.resources.push(ResourceUnit {
                        resources: unit_resources,
                        count: depl.count,
                        price,
                    });
                    built.profiles.push(depl.profile.clone());
                }
            }

            built.manifest.services.push(manifest_service(
                svc,
                svc_name,
                &resources,
                depl.count,
                exposes.clone(),
            ));
        }
    }

    let mut specs = Vec::with_capacity(groups.len());
    let mut manifest = Vec::with_capacity(groups.len());
    let mut first_denom: Option<String> = None;
    for (_, mut built) in groups {
        built.manifest.services.sort_by(|a, b| a.name.cmp(&b.name));
        validate_group(&built, &mut first_denom)?;
        specs.push(built.group);
        manifest.push(built.manifest);
    }
    if specs.is_empty() {
        return Err(Error::new(Path::of(&["deployment"]), ErrorKind::NoGroups));
    }
    let manifest = Manifest(manifest);
    validate_manifest(&manifest, warnings)?;
    Ok((specs, manifest))
}

/// Confidential compute (Akash Go `groupBuilder`): checks the type and projects it as the group
/// requirement `tee/type`, so only providers that offer it bid.
fn project_tee(
    built: &mut Built,
    svc_name: &str,
    tee: &str,
    compute: &ComputeResources,
) -> Result<(), Error> {
    let tee_path = service_path(svc_name).key("params").key("tee");
    if tee != "cpu" && tee != "cpu-gpu" {
        return Err(Error::new(
            tee_path,
            ErrorKind::InvalidTee {
                value: tee.to_string(),
            },
        ));
    }
    let has_gpu = compute.gpu.as_ref().is_some_and(|g| g.units > 0);
    if tee == "cpu-gpu" && !has_gpu {
        return Err(Error::new(tee_path, ErrorKind::TeeRequiresGpu));
    }
    match &built.tee {
        Some(first) if first != tee => Err(Error::new(
            tee_path,
            ErrorKind::TeeMismatch {
                group: built.group.name.clone(),
                first: first.clone(),
                second: tee.to_string(),
            },
        )),
        Some(_) => Ok(()),
        None => {
            built.tee = Some(tee.to_string());
            let attrs = &mut built.group.requirements.attributes;
            attrs.push(Attribute::new("tee/type", tee));
            attrs.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(())
        }
    }
}

fn manifest_service(
    svc: &Service,
    name: &str,
    resources: &Resources,
    count: u32,
    expose: Vec<ServiceExpose>,
) -> manifest::Service {
    let params = svc.params.as_ref().map(|p| manifest::ServiceParams {
        // Names sorted. An empty list is `[]` as the reference SDK release that Kumo matches
        // writes it; with `tee` (which that release predates) it is `null`, as Akash's Go
        // implementation and later SDK releases write it.
        storage: (!p.storage.is_empty() || p.tee.is_empty()).then(|| {
            p.storage
                .iter()
                .map(|(name, sp)| manifest::StorageParams {
                    name: name.clone(),
                    mount: sp.mount.clone(),
                    read_only: sp.read_only,
                })
                .collect()
        }),
        credentials: None,
        permissions: p
            .permissions
            .as_ref()
            .map(|read| manifest::ServicePermissions {
                read: read.clone().unwrap_or_default(),
            }),
        tee: (!p.tee.is_empty()).then(|| manifest::TeeParams {
            tee_type: p.tee.clone(),
            attestation: true,
        }),
    });
    let credentials = svc
        .credentials
        .as_ref()
        .map(|c| manifest::ImageCredentials {
            host: c.host.clone(),
            email: c.email.clone(),
            username: c.username.clone(),
            password: c.password.clone(),
        });
    // Empty lists are written as null, as nil slices are in Go.
    let list = |l: &Option<Vec<String>>| l.clone().filter(|v| !v.is_empty());
    manifest::Service {
        name: name.to_string(),
        image: svc.image.clone(),
        command: list(&svc.command),
        args: list(&svc.args),
        env: list(&svc.env),
        resources: manifest::Resources::from(resources),
        count,
        expose,
        params,
        credentials,
    }
}

/// Akash `ValidateDeploymentGroups` and `GroupSpec.ValidateBasic` for one group.
fn validate_group(built: &Built, first_denom: &mut Option<String>) -> Result<(), Error> {
    let group = &built.group;
    let group_path = Path::of(&["profiles", "placement", &group.name]);
    let denom = group.denom().unwrap_or_default().to_string();
    match first_denom {
        None => *first_denom = Some(denom.clone()),
        Some(first) if *first != denom => {
            return Err(Error::new(
                group_path.key("pricing"),
                ErrorKind::InconsistentDenom {
                    first: first.clone(),
                    other: denom,
                },
            ))
        }
        Some(_) => {}
    }

    let (mut cpu, mut gpu, mut memory) = (0u128, 0u128, 0u128);
    for (unit, profile) in group.resources.iter().zip(&built.profiles) {
        let path = compute_path(profile);
        validate_unit(&unit.resources, &path)?;
        let count = u128::from(unit.count);
        cpu += u128::from(unit.resources.cpu.units) * count;
        gpu += u128::from(unit.resources.gpu.units) * count;
        memory += u128::from(unit.resources.memory.size.u64()) * count;
    }
    let check_total = |resource, total: u128, max: u128, required: bool| {
        if (required || total != 0) && (total == 0 || total > max) {
            return Err(Error::new(
                group_path.clone(),
                ErrorKind::GroupTotalOutOfRange {
                    resource,
                    total,
                    max,
                },
            ));
        }
        Ok(())
    };
    check_total(
        "cpu (millicores)",
        cpu,
        MAX_UNIT_CPU as u128 * MAX_UNIT_COUNT,
        true,
    )?;
    check_total("gpu", gpu, MAX_UNIT_GPU as u128 * MAX_UNIT_COUNT, false)?;
    check_total(
        "memory (bytes)",
        memory,
        MAX_UNIT_MEMORY as u128 * MAX_UNIT_COUNT,
        true,
    )?;

    let max_price = Decimal256::from_ratio(MAX_UNIT_PRICE, 1u32);
    for (unit, profile) in group.resources.iter().zip(&built.profiles) {
        let price_path = group_path.key("pricing").key(profile);
        if unit.price.amount > max_price {
            return Err(Error::new(
                price_path,
                ErrorKind::PriceAboveMax {
                    amount: unit.price.amount.to_string(),
                },
            ));
        }
        if unit.price.denom != denom {
            return Err(Error::new(
                price_path,
                ErrorKind::InconsistentDenom {
                    first: denom.clone(),
                    other: unit.price.denom.clone(),
                },
            ));
        }
    }
    Ok(())
}

fn validate_unit(r: &Resources, path: &Path) -> Result<(), Error> {
    let cpu = u64::from(r.cpu.units);
    let cpu_path = path.key("cpu").key("units");
    if cpu < MIN_UNIT_CPU {
        return Err(Error::new(
            cpu_path,
            ErrorKind::CpuBelowMin { millicores: cpu },
        ));
    }
    if cpu > MAX_UNIT_CPU {
        return Err(Error::new(
            cpu_path,
            ErrorKind::CpuAboveMax { millicores: cpu },
        ));
    }
    kumo::attributes::validate_attributes(&r.cpu.attributes)
        .map_err(|e| Error::new(path.key("cpu").key("attributes"), e.into()))?;

    let gpu = u64::from(r.gpu.units);
    if gpu > MAX_UNIT_GPU {
        return Err(Error::new(
            path.key("gpu").key("units"),
            ErrorKind::GpuAboveMax { units: gpu },
        ));
    }
    if gpu == 0 && !r.gpu.attributes.is_empty() {
        return Err(Error::new(
            path.key("gpu"),
            ErrorKind::GpuAttributesWithoutUnits,
        ));
    }

    let memory = r.memory.size.u64();
    let memory_path = path.key("memory").key("size");
    if memory < MIN_UNIT_MEMORY {
        return Err(Error::new(
            memory_path,
            ErrorKind::MemoryBelowMin { bytes: memory },
        ));
    }
    if memory > MAX_UNIT_MEMORY {
        return Err(Error::new(
            memory_path,
            ErrorKind::MemoryAboveMax { bytes: memory },
        ));
    }

    for (i, volume) in r.storage.iter().enumerate() {
        let size = volume.size.u64();
        let storage_path = if r.storage.len() == 1 {
            path.key("storage").key("size")
        } else {
            path.key("storage").index(i).key("size")
        };
        if size < MIN_UNIT_STORAGE {
            return Err(Error::new(
                storage_path,
                ErrorKind::StorageBelowMin { bytes: size },
            ));
        }
        if size > MAX_UNIT_STORAGE {
            return Err(Error::new(
                storage_path,
                ErrorKind::StorageAboveMax { bytes: size },
            ));
        }
        kumo::attributes::validate_attributes(&volume.attributes)
            .map_err(|e| Error::new(path.key("storage"), e.into()))?;
    }
    Ok(())
}

/// Akash `Manifest.Validate`: names, images, env names, ports, hostnames, one global expose.
fn validate_manifest(m: &Manifest, warnings: &mut Vec<Warning>) -> Result<(), Error> {
    let mut hosts: HashSet<&str> = HashSet::new();
    let mut global = 0usize;
    for group in &m.0 {
        for svc in &group.services {
            let path = service_path(&svc.name);
            if !is_valid_service_name(&svc.name) {
                return Err(Error::new(
                    path,
                    ErrorKind::InvalidServiceName {
                        name: svc.name.clone(),
                    },
                ));
            }
            if svc.image.is_empty() {
                return Err(Error::new(path.key("image"), ErrorKind::EmptyImage));
            }
            for (i, var) in svc.env.iter().flatten().enumerate() {
                let name = var.split('=').next().unwrap_or_default();
                if !is_valid_env_name(name) {
                    return Err(Error::new(
                        path.key("env").index(i),
                        ErrorKind::InvalidEnvName {
                            name: name.to_string(),
                        },
                    ));
                }
            }
            for expose in &svc.expose {
                if expose.port == 0 || expose.port > 65535 {
                    return Err(Error::new(
                        path.key("expose"),
                        ErrorKind::InvalidPort { port: expose.port },
                    ));
                }
                if expose.global {
                    global += 1;
                }
                for host in expose.hosts.iter().flatten() {
                    if host.len() > 253 || !is_dns1123_subdomain(host) {
                        return Err(Error::new(
                            path.key("expose"),
                            ErrorKind::InvalidHostname { host: host.clone() },
                        ));
                    }
                    if !hosts.insert(host) {
                        return Err(Error::new(
                            path.key("expose"),
                            ErrorKind::DuplicateHostname { host: host.clone() },
                        ));
                    }
                }
            }
        }
    }
    if global == 0 {
        // Akash's Go validation rejects this, its reference SDK accepts it; a deployment of
        // workers with nothing to serve is legitimate, so Kumo only warns.
        warnings.push(Warning {
            path: Path::of(&["services"]),
            message: ErrorKind::NoGlobalService.to_string(),
        });
    }
    Ok(())
}

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`
fn is_valid_service_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Kubernetes `IsEnvVarName`: `^[-._a-zA-Z][-._a-zA-Z0-9]*$`, not `.`, `..` or `..`-prefixed.
fn is_valid_env_name(name: &str) -> bool {
    let b = name.as_bytes();
    let ok = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_');
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter().all(ok)
        && name != "."
        && !name.starts_with("..")
}

/// Kubernetes `IsDNS1123Subdomain` (length checked by the caller).
fn is_dns1123_subdomain(host: &str) -> bool {
    host.split('.').all(|label| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && !b[0].is_ascii_uppercase()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && !b[b.len() - 1].is_ascii_uppercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    })
}
