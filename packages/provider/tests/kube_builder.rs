//! The Kubernetes builder: the typed objects a lease's manifest group becomes, checked field by
//! field (names, labels, resources, ports, volumes, policies, pull secrets), and the typed errors
//! of groups that cannot be deployed. Pure functions: no cluster involved.

use std::collections::BTreeMap;

use base64::Engine as _;
use cosmwasm_std::Addr;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Container, PodSpec, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kumo_provider::backend::{Group, LeaseId};
use kumo_provider::kube::builder::{
    self, ingress_hostname, labels, lease_from_namespace, lease_namespace, BuildError,
    KubeSettings, LeaseObjects, ISOLATION_POLICY,
};

fn lease() -> LeaseId {
    LeaseId {
        owner: Addr::unchecked("kumo1tenant"),
        dseq: 42,
        gseq: 1,
        oseq: 2,
        provider: Addr::unchecked("kumo1provider"),
    }
}

fn group(sdl: &str) -> Group {
    kumo_sdl::parse(sdl).unwrap().manifest.0.remove(0)
}

/// A web service (private image, HTTP ingress with an accepted host, a global UDP port, an
/// internal port, a RAM volume) and a database with persistent storage.
const APP: &str = r#"
version: "2.1"
services:
  web:
    image: registry.example.com/team/web:1.2
    credentials: {host: registry.example.com, username: alice, password: s3cret, email: a@example.com}
    env: [GREETING=hi, AKASH_OWNER=overridden, BARE]
    command: [/web]
    args: [--port, "8080"]
    expose:
      - port: 8080
        as: 80
        accept: [www.example.com]
        http_options: {max_body_size: 2097152, read_timeout: 1500, next_cases: [error, "502"]}
        to: [{global: true}]
      - port: 5353
        proto: udp
        to: [{global: true}]
      - port: 9000
        to: [{service: db}]
    params:
      storage:
        cache: {mount: /cache}
  db:
    image: postgres:16
    expose:
      - port: 5432
        to: [{service: web}]
    params:
      storage:
        data: {mount: /var/lib/postgresql/data}
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.5}
        memory: {size: 256Mi}
        storage:
          - size: 1Gi
          - name: cache
            size: 64Mi
            attributes: {class: ram}
    db:
      resources:
        cpu: {units: 1}
        memory: {size: 1Gi}
        storage:
          - size: 512Mi
          - name: data
            size: 10Gi
            attributes: {persistent: true, class: beta2}
  placement:
    dc:
      pricing:
        web: {denom: ukumo, amount: 100}
        db: {denom: ukumo, amount: 100}
deployment:
  web: {dc: {profile: web, count: 2}}
  db: {dc: {profile: db, count: 1}}
"#;

const GPU: &str = r#"
version: "2.0"
services:
  train:
    image: trainer:1
profiles:
  compute:
    train:
      resources:
        cpu: {units: 2}
        memory: {size: 4Gi}
        storage: {size: 10Gi}
        gpu:
          units: 2
          attributes: {vendor: {nvidia: [{model: a100}]}}
  placement:
    dc: {pricing: {train: {denom: ukumo, amount: 100}}}
deployment:
  train: {dc: {profile: train, count: 1}}
"#;

fn objects() -> LeaseObjects {
    builder::build(&lease(), &group(APP), &KubeSettings::default()).unwrap()
}

fn q(v: &str) -> Quantity {
    Quantity(v.to_string())
}

fn deployment<'a>(objects: &'a LeaseObjects, name: &str) -> &'a Deployment {
    objects
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no deployment {name}"))
}

fn stateful_set<'a>(objects: &'a LeaseObjects, name: &str) -> &'a StatefulSet {
    objects
        .stateful_sets
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no stateful set {name}"))
}

fn service<'a>(objects: &'a LeaseObjects, name: &str) -> &'a Service {
    objects
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no service {name}"))
}

fn pod_spec(deployment: &Deployment) -> &PodSpec {
    deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
}

fn container(deployment: &Deployment) -> &Container {
    &pod_spec(deployment).containers[0]
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn namespace_is_akash_lease_id_to_namespace() {
    // Go: strings.ToLower(base32.HexEncoding.WithPadding(NoPadding).EncodeToString(
    //     sha256.Sum224([]byte("kumo1tenant/42/1/2/kumo1provider"))))
    let ns = lease_namespace(&lease());
    assert_eq!(ns, "63ogni47vsede7682affp99g0rtfd3jvedkd9l865bt52");
    assert_eq!(objects().namespace_name(), ns);
    let mut other = lease();
    other.oseq = 3;
    assert_ne!(lease_namespace(&other), ns);
}

#[test]
fn namespace_carries_the_lease_so_the_agent_can_adopt_it() {
    let objects = objects();
    let ns = &objects.namespace;
    let name = lease_namespace(&lease());
    assert_eq!(
        ns.metadata.labels.as_ref().unwrap(),
        &map(&[
            (labels::MANAGED, "true"),
            (labels::NAMESPACE, &name),
            (labels::OWNER, "kumo1tenant"),
            (labels::DSEQ, "42"),
            (labels::GSEQ, "1"),
            (labels::OSEQ, "2"),
            (labels::PROVIDER, "kumo1provider"),
            ("pod-security.kubernetes.io/enforce", "baseline"),
        ])
    );
    assert_eq!(
        ns.metadata.annotations.as_ref().unwrap()[labels::OWNER],
        "kumo1tenant"
    );
    assert_eq!(lease_from_namespace(ns), Some(lease()));

    // The manifest annotations come in their own object, applied last.
    let recorded = objects.manifest_namespace.metadata.annotations.unwrap();
    assert_eq!(recorded[labels::GROUP], "dc");
    assert_eq!(
        recorded[labels::MANIFEST_HASH],
        kumo_provider::docker::group_hash(&group(APP))
    );
    assert_eq!(recorded[labels::SERVICES], "db,web");
    assert_eq!(objects.manifest_namespace.metadata.labels, None);
}

#[test]
fn long_addresses_stay_in_annotations_and_still_identify_the_lease() {
    let mut long = lease();
    long.owner = Addr::unchecked(format!("akash1{}", "q".repeat(60)));
    let objects = builder::build(&long, &group(APP), &KubeSettings::default()).unwrap();
    let labels = objects.namespace.metadata.labels.as_ref().unwrap();
    assert!(!labels.contains_key(labels::OWNER), "over 63 characters");
    assert_eq!(labels[labels::DSEQ], "42");
    assert_eq!(lease_from_namespace(&objects.namespace), Some(long));
}

#[test]
fn namespaces_that_do_not_hash_to_their_name_are_not_a_lease() {
    let mut ns = objects().namespace;
    ns.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(labels::DSEQ.to_string(), "43".to_string());
    assert_eq!(lease_from_namespace(&ns), None);
    let mut unmanaged = objects().namespace;
    unmanaged
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .remove(labels::MANAGED);
    assert_eq!(lease_from_namespace(&unmanaged), None);
}

#[test]
fn every_object_is_labelled_and_lives_in_the_lease_namespace() {
    let objects = objects();
    let ns = lease_namespace(&lease());
    let metas = objects
        .network_policies
        .iter()
        .map(|o| &o.metadata)
        .chain(objects.secrets.iter().map(|o| &o.metadata))
        .chain(objects.deployments.iter().map(|o| &o.metadata))
        .chain(objects.stateful_sets.iter().map(|o| &o.metadata))
        .chain(objects.services.iter().map(|o| &o.metadata))
        .chain(objects.ingresses.iter().map(|o| &o.metadata));
    let mut count = 0;
    for meta in metas {
        count += 1;
        assert_eq!(meta.namespace.as_deref(), Some(ns.as_str()), "{meta:?}");
        let l = meta.labels.as_ref().unwrap();
        assert_eq!(l[labels::MANAGED], "true");
        assert_eq!(l[labels::NAMESPACE], ns);
    }
    // 2 policies, 1 secret, 1 deployment, 1 stateful set, 3 services, 1 ingress.
    assert_eq!(count, 9);
}

#[test]
fn a_service_without_persistent_storage_is_a_deployment() {
    let objects = objects();
    assert_eq!(objects.deployments.len(), 1);
    let web = deployment(&objects, "web");
    let spec = web.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap(),
        &map(&[(labels::MANAGED, "true"), (labels::SERVICE, "web")])
    );
    let template_labels = spec.template.metadata.as_ref().unwrap().labels.as_ref();
    assert_eq!(template_labels.unwrap()[labels::SERVICE], "web");
    // Never more pods than leased while rolling out.
    let rolling = spec
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(1)));
}

#[test]
fn container_gets_image_command_args_and_the_akash_environment() {
    let objects = objects();
    let c = container(deployment(&objects, "web"));
    assert_eq!(c.name, "web");
    assert_eq!(
        c.image.as_deref(),
        Some("registry.example.com/team/web:1.2")
    );
    assert_eq!(c.command, Some(vec!["/web".to_string()]));
    assert_eq!(c.args, Some(vec!["--port".to_string(), "8080".to_string()]));
    let env: Vec<(String, String)> = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| (e.name.clone(), e.value.clone().unwrap()))
        .collect();
    let get = |name: &str| {
        let found: Vec<&String> = env
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(found.len(), 1, "{name} once in {env:?}");
        found[0].clone()
    };
    assert_eq!(get("GREETING"), "hi");
    assert_eq!(get("BARE"), "");
    // The tenant's value wins, as on Akash and in the Docker backend.
    assert_eq!(get("AKASH_OWNER"), "overridden");
    assert_eq!(get("AKASH_DEPLOYMENT_SEQUENCE"), "42");
    assert_eq!(get("AKASH_GROUP_SEQUENCE"), "1");
    assert_eq!(get("AKASH_ORDER_SEQUENCE"), "2");
    assert_eq!(get("AKASH_PROVIDER"), "kumo1provider");
    assert_eq!(get("AKASH_CLUSTER_PUBLIC_HOSTNAME"), "localhost");
    let docker = kumo_provider::docker::service_env(&lease(), &group(APP).services[1], "localhost");
    assert_eq!(
        env.len(),
        docker.len(),
        "the same variables as the Docker backend"
    );
}

#[test]
fn resources_are_the_leased_ones_with_ram_volumes_in_the_memory_limit() {
    let objects = objects();
    let r = container(deployment(&objects, "web"))
        .resources
        .clone()
        .unwrap();
    let limits = r.limits.unwrap();
    let requests = r.requests.unwrap();
    assert_eq!(limits["cpu"], q("500m"));
    assert_eq!(requests["cpu"], q("500m"));
    // 256 MiB of memory plus the 64 MiB RAM volume; the request is the memory alone.
    assert_eq!(limits["memory"], q(&(320u64 << 20).to_string()));
    assert_eq!(requests["memory"], q(&(256u64 << 20).to_string()));
    assert_eq!(limits["ephemeral-storage"], q(&(1u64 << 30).to_string()));
    assert_eq!(requests["ephemeral-storage"], limits["ephemeral-storage"]);
    assert!(!limits.contains_key("nvidia.com/gpu"));

    // The database's persistent storage is a claim, not ephemeral storage.
    let db = stateful_set(&objects, "db");
    let db_container = &db
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let db_limits = db_container
        .resources
        .as_ref()
        .unwrap()
        .limits
        .clone()
        .unwrap();
    assert_eq!(db_limits["cpu"], q("1000m"));
    assert_eq!(
        db_limits["ephemeral-storage"],
        q(&(512u64 << 20).to_string())
    );
}

#[test]
fn gpus_are_requested_by_vendor() {
    let settings = KubeSettings {
        gpu_runtime_class: Some("nvidia".to_string()),
        ..KubeSettings::default()
    };
    let nvidia = builder::build(&lease(), &group(GPU), &settings).unwrap();
    let train = deployment(&nvidia, "train");
    let r = container(train).resources.clone().unwrap();
    assert_eq!(r.limits.unwrap()["nvidia.com/gpu"], q("2"));
    assert_eq!(r.requests.unwrap()["nvidia.com/gpu"], q("2"));
    assert_eq!(
        pod_spec(train).runtime_class_name.as_deref(),
        Some("nvidia")
    );

    let mut amd = group(GPU);
    for attribute in &mut amd.services[0].resources.gpu.attributes {
        attribute.key = attribute.key.replace("nvidia", "amd");
    }
    let amd = builder::build(&lease(), &amd, &settings).unwrap();
    let r = container(deployment(&amd, "train"))
        .resources
        .clone()
        .unwrap();
    assert_eq!(r.limits.unwrap()["amd.com/gpu"], q("2"));

    // No GPU, no runtime class.
    let web = builder::build(&lease(), &group(APP), &settings).unwrap();
    assert_eq!(pod_spec(deployment(&web, "web")).runtime_class_name, None);
}

#[test]
fn ports_volumes_and_security_context_of_the_pod() {
    let objects = objects();
    let web = deployment(&objects, "web");
    let c = container(web);
    let ports: Vec<(i32, &str)> = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.container_port, p.protocol.as_deref().unwrap()))
        .collect();
    // In the manifest's order (sorted by port).
    assert_eq!(ports, [(5353, "UDP"), (8080, "TCP"), (9000, "TCP")]);

    // The RAM volume is an emptyDir in memory, capped at its size.
    let spec = pod_spec(web);
    let volumes = spec.volumes.as_ref().unwrap();
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].name, "web-cache");
    let empty_dir = volumes[0].empty_dir.as_ref().unwrap();
    assert_eq!(empty_dir.medium.as_deref(), Some("Memory"));
    assert_eq!(empty_dir.size_limit, Some(q(&(64u64 << 20).to_string())));
    let mounts = c.volume_mounts.as_ref().unwrap();
    assert_eq!(mounts[0].name, "web-cache");
    assert_eq!(mounts[0].mount_path, "/cache");

    let security = c.security_context.as_ref().unwrap();
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.privileged, Some(false));
    let capabilities = security.capabilities.as_ref().unwrap();
    assert_eq!(capabilities.drop, Some(vec!["ALL".to_string()]));
    assert_eq!(capabilities.add, None);
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(spec.enable_service_links, Some(false));
    let seccomp = spec
        .security_context
        .as_ref()
        .unwrap()
        .seccomp_profile
        .as_ref()
        .unwrap();
    assert_eq!(seccomp.type_, "RuntimeDefault");
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));

    // The provider may add capabilities back.
    let settings = KubeSettings {
        added_capabilities: vec!["NET_BIND_SERVICE".to_string()],
        ..KubeSettings::default()
    };
    let objects = builder::build(&lease(), &group(APP), &settings).unwrap();
    let c = container(deployment(&objects, "web"));
    let capabilities = c
        .security_context
        .as_ref()
        .unwrap()
        .capabilities
        .as_ref()
        .unwrap();
    assert_eq!(capabilities.add, Some(vec!["NET_BIND_SERVICE".to_string()]));
}

#[test]
fn persistent_storage_makes_a_stateful_set_with_claims_in_the_storage_class() {
    let objects = objects();
    assert_eq!(objects.stateful_sets.len(), 1);
    let db = stateful_set(&objects, "db");
    let spec = db.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    let claims = spec.volume_claim_templates.as_ref().unwrap();
    assert_eq!(claims.len(), 1);
    let claim = &claims[0];
    assert_eq!(claim.metadata.name.as_deref(), Some("db-data"));
    let claim_spec = claim.spec.as_ref().unwrap();
    assert_eq!(claim_spec.storage_class_name.as_deref(), Some("beta2"));
    assert_eq!(
        claim_spec.access_modes,
        Some(vec!["ReadWriteOnce".to_string()])
    );
    assert_eq!(
        claim_spec
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["storage"],
        q(&(10u64 << 30).to_string())
    );
    let pod = spec.template.spec.as_ref().unwrap();
    // The claim is mounted by its template's name; no pod volume is declared for it.
    assert_eq!(pod.volumes, None);
    let mount = &pod.containers[0].volume_mounts.as_ref().unwrap()[0];
    assert_eq!(mount.name, "db-data");
    assert_eq!(mount.mount_path, "/var/lib/postgresql/data");
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .unwrap();
    assert_eq!(retention.when_deleted.as_deref(), Some("Delete"));

    // Without a class (or with `default`), the cluster's default storage class.
    let mut default_class = group(APP);
    let db_service = default_class
        .services
        .iter_mut()
        .find(|s| s.name == "db")
        .unwrap();
    for storage in &mut db_service.resources.storage {
        storage.attributes.retain(|a| a.key != "class");
    }
    let objects = builder::build(&lease(), &default_class, &KubeSettings::default()).unwrap();
    let claims = stateful_set(&objects, "db")
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .clone()
        .unwrap();
    assert_eq!(claims[0].spec.as_ref().unwrap().storage_class_name, None);
}

#[test]
fn internal_ports_get_a_cluster_ip_and_global_non_http_ports_a_node_port() {
    let objects = objects();
    assert_eq!(objects.services.len(), 3);
    let ports = |s: &Service| -> (String, Vec<(i32, IntOrString, String)>) {
        let spec = s.spec.as_ref().unwrap();
        let ports = spec
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p.port,
                    p.target_port.clone().unwrap(),
                    p.protocol.clone().unwrap(),
                )
            })
            .collect();
        (spec.type_.clone().unwrap(), ports)
    };
    let tcp = || "TCP".to_string();
    // The ingress's port (80 -> 8080) and the internal one.
    assert_eq!(
        ports(service(&objects, "web")),
        (
            "ClusterIP".to_string(),
            vec![
                (80, IntOrString::Int(8080), tcp()),
                (9000, IntOrString::Int(9000), tcp())
            ]
        )
    );
    assert_eq!(
        ports(service(&objects, "web-np")),
        (
            "NodePort".to_string(),
            vec![(5353, IntOrString::Int(5353), "UDP".to_string())]
        )
    );
    assert_eq!(
        ports(service(&objects, "db")).1,
        vec![(5432, IntOrString::Int(5432), tcp())]
    );
    let selector = service(&objects, "web-np")
        .spec
        .as_ref()
        .unwrap()
        .selector
        .clone()
        .unwrap();
    assert_eq!(
        selector,
        map(&[(labels::MANAGED, "true"), (labels::SERVICE, "web")])
    );
}

#[test]
fn global_http_ports_get_an_ingress_for_generated_and_accepted_hosts() {
    let settings = KubeSettings {
        ingress_domain: "ingress.provider.example".to_string(),
        ingress_class: Some("nginx".to_string()),
        ..KubeSettings::default()
    };
    let objects = builder::build(&lease(), &group(APP), &settings).unwrap();
    assert_eq!(objects.ingresses.len(), 1);
    let ingress = &objects.ingresses[0];
    assert_eq!(ingress.metadata.name.as_deref(), Some("web"));
    let spec = ingress.spec.as_ref().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let generated = ingress_hostname(&lease(), "web", "ingress.provider.example");
    assert!(generated.ends_with(".ingress.provider.example"));
    assert_eq!(generated.split('.').next().unwrap().len(), 26);
    let rules = spec.rules.as_ref().unwrap();
    let hosts: Vec<&str> = rules.iter().map(|r| r.host.as_deref().unwrap()).collect();
    assert_eq!(hosts, [generated.as_str(), "www.example.com"]);
    for rule in rules {
        let path = &rule.http.as_ref().unwrap().paths[0];
        assert_eq!(path.path.as_deref(), Some("/"));
        assert_eq!(path.path_type, "Prefix");
        let backend = path.backend.service.as_ref().unwrap();
        assert_eq!(backend.name, "web");
        assert_eq!(backend.port.as_ref().unwrap().number, Some(80));
    }
    let annotations = ingress.metadata.annotations.as_ref().unwrap();
    let nginx = |k: &str| annotations[&format!("nginx.ingress.kubernetes.io/{k}")].clone();
    assert_eq!(nginx("proxy-body-size"), "2097152");
    // 1500 ms, rounded up to whole seconds.
    assert_eq!(nginx("proxy-read-timeout"), "2");
    assert_eq!(nginx("proxy-next-upstream"), "error http_502");

    // Without an ingress domain, only the accepted hosts.
    let no_domain = KubeSettings {
        ingress_domain: String::new(),
        ..KubeSettings::default()
    };
    let objects = builder::build(&lease(), &group(APP), &no_domain).unwrap();
    let rules = objects.ingresses[0].spec.clone().unwrap().rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].host.as_deref(), Some("www.example.com"));
}

#[test]
fn private_images_get_a_docker_config_json_pull_secret() {
    let objects = objects();
    assert_eq!(objects.secrets.len(), 1);
    let secret = &objects.secrets[0];
    assert_eq!(secret.metadata.name.as_deref(), Some("docker-creds-web"));
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    let data = &secret.data.as_ref().unwrap()[".dockerconfigjson"];
    let config: serde_json::Value = serde_json::from_slice(&data.0).unwrap();
    let entry = &config["auths"]["registry.example.com"];
    assert_eq!(entry["username"], "alice");
    assert_eq!(entry["password"], "s3cret");
    assert_eq!(entry["email"], "a@example.com");
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    assert_eq!(entry["auth"], auth.as_str());
    let pull = pod_spec(deployment(&objects, "web"))
        .image_pull_secrets
        .clone()
        .unwrap();
    assert_eq!(pull[0].name, "docker-creds-web");
    // The database's public image needs none.
    let db = stateful_set(&objects, "db");
    assert_eq!(
        db.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .image_pull_secrets,
        None
    );
}

#[test]
fn network_policies_isolate_the_lease_namespace() {
    let objects = objects();
    let ns = lease_namespace(&lease());
    assert_eq!(objects.network_policies.len(), 2);
    let isolation = &objects.network_policies[0];
    assert_eq!(isolation.metadata.name.as_deref(), Some(ISOLATION_POLICY));
    let spec = isolation.spec.as_ref().unwrap();
    assert_eq!(spec.pod_selector, Some(Default::default()), "every pod");
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );

    // In: from the lease's own namespace and from the ingress controller's pods.
    let ingress = spec.ingress.as_ref().unwrap();
    assert_eq!(ingress.len(), 2);
    let from_ns = &ingress[0].from.as_ref().unwrap()[0];
    assert_eq!(
        from_ns.namespace_selector.as_ref().unwrap().match_labels,
        Some(map(&[(labels::NAMESPACE, &ns)]))
    );
    let controller = &ingress[1].from.as_ref().unwrap()[0];
    assert_eq!(
        controller.namespace_selector.as_ref().unwrap().match_labels,
        Some(map(&[("kubernetes.io/metadata.name", "ingress-nginx")]))
    );
    assert_eq!(
        controller.pod_selector.as_ref().unwrap().match_labels,
        Some(map(&[("app.kubernetes.io/name", "ingress-nginx")]))
    );

    // Out: the lease's namespace, the cluster's DNS, and the internet but not private ranges.
    let egress = spec.egress.as_ref().unwrap();
    assert_eq!(egress.len(), 3);
    let dns_ports: Vec<(IntOrString, String)> = egress[1]
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.port.clone().unwrap(), p.protocol.clone().unwrap()))
        .collect();
    assert_eq!(
        dns_ports,
        [
            (IntOrString::Int(53), "UDP".to_string()),
            (IntOrString::Int(53), "TCP".to_string())
        ]
    );
    let block = egress[2].to.as_ref().unwrap()[0].ip_block.clone().unwrap();
    assert_eq!(block.cidr, "0.0.0.0/0");
    let except = block.except.unwrap();
    for private in [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
    ] {
        assert!(except.contains(&private.to_string()), "{private}");
    }

    // The NodePort's port is open to anyone, for the web pods only.
    let node_port = &objects.network_policies[1];
    assert_eq!(node_port.metadata.name.as_deref(), Some("kumo-web-np"));
    let spec = node_port.spec.as_ref().unwrap();
    assert_eq!(
        spec.pod_selector.as_ref().unwrap().match_labels,
        Some(map(&[(labels::SERVICE, "web")]))
    );
    let rule = &spec.ingress.as_ref().unwrap()[0];
    assert_eq!(rule.from, None);
    let port = &rule.ports.as_ref().unwrap()[0];
    assert_eq!(port.port, Some(IntOrString::Int(5353)));
    assert_eq!(port.protocol.as_deref(), Some("UDP"));

    let without = KubeSettings {
        network_policies: false,
        ..KubeSettings::default()
    };
    let objects = builder::build(&lease(), &group(APP), &without).unwrap();
    assert!(objects.network_policies.is_empty());
}

#[test]
fn objects_serialize_with_their_api_version_and_kind_for_server_side_apply() {
    let objects = objects();
    let json = serde_json::to_value(deployment(&objects, "web")).unwrap();
    assert_eq!(json["apiVersion"], "apps/v1");
    assert_eq!(json["kind"], "Deployment");
    let json = serde_json::to_value(&objects.ingresses[0]).unwrap();
    assert_eq!(json["apiVersion"], "networking.k8s.io/v1");
    let json = serde_json::to_value(&objects.manifest_namespace).unwrap();
    assert_eq!(json["kind"], "Namespace");
    assert!(json.get("spec").is_none(), "only the annotations: {json}");
}

#[test]
fn groups_that_cannot_be_deployed_give_typed_errors() {
    let base = group(APP);
    let check = |edit: &dyn Fn(&mut Group)| {
        let mut g = base.clone();
        edit(&mut g);
        builder::build(&lease(), &g, &KubeSettings::default()).unwrap_err()
    };
    let web = 1; // services are sorted by name: db, web
    assert_eq!(check(&|g| g.services.clear()), BuildError::NoServices);
    assert_eq!(
        check(&|g| g.services[web].name = "Web".into()),
        BuildError::ServiceName {
            service: "Web".into()
        }
    );
    assert_eq!(
        check(&|g| g.services[web].name = "9web".into()),
        BuildError::ServiceName {
            service: "9web".into()
        }
    );
    assert!(matches!(
        check(&|g| g.services[web].name = "w".repeat(53)),
        BuildError::ServiceName { .. }
    ));
    assert_eq!(
        check(&|g| {
            let copy = g.services[web].clone();
            g.services.push(copy);
        }),
        BuildError::DuplicateService {
            service: "web".into()
        }
    );
    assert_eq!(
        check(&|g| g.services[web].count = 0),
        BuildError::Replicas {
            service: "web".into(),
            count: 0
        }
    );
    assert!(matches!(
        check(&|g| g.services[web].image = "a b".into()),
        BuildError::Image { .. }
    ));
    assert!(matches!(
        check(&|g| g.services[web].resources.cpu.units.val = "-1".into()),
        BuildError::ResourceValue { .. }
    ));
    assert_eq!(
        check(&|g| g.services[web].env = Some(vec!["1X=y".into()])),
        BuildError::Env {
            service: "web".into(),
            entry: "1X=y".into()
        }
    );
    assert!(matches!(
        check(&|g| g.services[web]
            .expose
            .iter_mut()
            .for_each(|e| e.port = 70000)),
        BuildError::Port { port: 70000, .. }
    ));
    assert!(matches!(
        check(&|g| {
            let storage = g.services[web].params.as_mut().unwrap().storage.as_mut();
            storage.unwrap()[0].mount = "../etc".into();
        }),
        BuildError::MountPath { .. }
    ));
    assert!(matches!(
        check(&|g| {
            let storage = g.services[web].params.as_mut().unwrap().storage.as_mut();
            storage.unwrap()[0].name = "nope".into();
        }),
        BuildError::UnknownStorage { .. }
    ));
    assert!(matches!(
        check(&|g| {
            let storages = &mut g.services[web].resources.storage;
            let storage = storages.iter_mut().find(|s| s.name == "cache").unwrap();
            storage.attributes.retain(|a| a.key != "persistent");
            storage.attributes.push(kumo_sdl::manifest::Attribute {
                key: "persistent".into(),
                value: "true".into(),
            });
        }),
        BuildError::PersistentRam { .. }
    ));
    assert_eq!(
        check(&|g| {
            let ingress = g.services[web].expose.iter_mut().find(|e| e.is_ingress());
            ingress.unwrap().hosts = Some(vec!["bad_host".into()]);
        }),
        BuildError::Host {
            service: "web".into(),
            host: "bad_host".into()
        }
    );
    assert!(matches!(
        check(&|g| g.services[web].credentials.as_mut().unwrap().host = " ".into()),
        BuildError::CredentialsHost { .. }
    ));
    assert_eq!(
        check(&|g| g.services[web].resources.gpu.units.val = "1".into()),
        BuildError::GpuVendor {
            service: "web".into(),
            units: 1,
            vendors: vec![]
        }
    );
    // The errors say what is wrong in words.
    let message = check(&|g| g.services[web].count = 0).to_string();
    assert!(message.contains("replicas"), "{message}");
}

#[test]
fn unknown_gpu_vendors_are_refused() {
    let mut g = group(GPU);
    for attribute in &mut g.services[0].resources.gpu.attributes {
        attribute.key = attribute.key.replace("nvidia", "intel");
    }
    let err = builder::build(&lease(), &g, &KubeSettings::default()).unwrap_err();
    assert_eq!(
        err,
        BuildError::GpuVendor {
            service: "train".into(),
            units: 2,
            vendors: vec!["intel".into()]
        }
    );
}
