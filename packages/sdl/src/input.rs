//! The SDL document as written, decoded from the YAML tree with the rules of Akash's Go types
//! (`go/sdl/v2.go` and the custom `UnmarshalYAML` methods): unknown keys are ignored with a
//! warning except where Akash rejects them, nulls leave zero values, type mismatches are errors.

use std::collections::BTreeMap;

use kumo::Attribute;

use crate::error::{At, Error, ErrorKind, Path};
use crate::units;
use crate::yaml::{Node, NodeKind};
use crate::Warning;

/// SDL schema version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    #[serde(rename = "2.0")]
    V2_0,
    #[serde(rename = "2.1")]
    V2_1,
}

#[derive(Debug, Default)]
pub(crate) struct Input {
    pub services: BTreeMap<String, Service>,
    pub compute: BTreeMap<String, Compute>,
    pub placement: BTreeMap<String, Placement>,
    /// service -> placement -> deployment
    pub deployment: BTreeMap<String, BTreeMap<String, ServiceDeployment>>,
    pub endpoints: BTreeMap<String, EndpointDecl>,
    pub reclamation: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Service {
    pub image: String,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub expose: Vec<Expose>,
    pub params: Option<Params>,
    pub credentials: Option<Credentials>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Expose {
    pub port: u32,
    pub as_port: u32,
    pub proto: String,
    pub to: Vec<ExposeTo>,
    pub accept: Option<Vec<String>>,
    pub http_options: HttpOptions,
    pub path: Path,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct ExposeTo {
    pub service: String,
    pub global: bool,
    pub ip: String,
}

/// `None` where the SDL does not set the option (or sets it to null).
#[derive(Debug, Default, Clone)]
pub(crate) struct HttpOptions {
    pub max_body_size: Option<u32>,
    pub proxy_buffer_size: Option<u32>,
    pub read_timeout: Option<u32>,
    pub send_timeout: Option<u32>,
    pub next_tries: Option<u32>,
    pub next_timeout: Option<u32>,
    pub next_cases: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    /// volume name -> mount
    pub storage: BTreeMap<String, StorageParams>,
    pub permissions: Option<Option<Vec<String>>>,
    pub tee: String,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct StorageParams {
    pub mount: String,
    pub read_only: bool,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Credentials {
    pub host: String,
    pub email: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Compute {
    /// `None` when the profile has no `resources` (Akash's Go parser crashes on that).
    pub resources: Option<ComputeResources>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct ComputeResources {
    pub cpu: Option<CpuInput>,
    pub memory: Option<u64>,
    /// `None` when absent or null; Akash requires storage.
    pub storage: Option<Vec<Volume>>,
    pub gpu: Option<GpuInput>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct CpuInput {
    pub millicores: u64,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct GpuInput {
    pub units: u64,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Volume {
    pub name: String,
    pub size: u64,
    /// As the manifest carries them: the attributes written, sorted by key, plus
    /// `persistent=false` for a `ram` volume that does not say (Akash's `buildStorageAttributes`).
    pub attributes: Vec<Attribute>,
    /// Whether attributes were given at all (Akash's Go rules differ for a volume without).
    pub has_attributes: bool,
    pub persistent: bool,
    pub class: String,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Placement {
    /// Sorted by key.
    pub attributes: Vec<Attribute>,
    pub all_of: Vec<String>,
    pub any_of: Vec<String>,
    /// compute profile -> price
    pub pricing: BTreeMap<String, kumo::DecCoin>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct ServiceDeployment {
    pub profile: String,
    pub count: u32,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct EndpointDecl {
    pub kind: String,
}

/// Decoding state: the warnings collected so far.
pub(crate) struct Decoder {
    pub warnings: Vec<Warning>,
}

type Fields<'n, 'a> = Vec<(&'n str, &'n Node<'a>)>;

impl Decoder {
    /// A Go struct: keeps known keys, warns about the rest (yaml.v3 ignores unknown fields).
    fn fields<'n, 'a>(
        &mut self,
        node: &'n Node<'a>,
        path: &At<'_>,
        known: &[&str],
    ) -> Result<Fields<'n, 'a>, Error> {
        if node.is_null() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (key, _, value) in node.entries(path)? {
            if known.contains(&key) {
                out.push((key, value));
            } else {
                self.warnings.push(Warning {
                    path: path.key(key).into(),
                    message: format!(
                        "unknown key {key:?} ignored (known here: {})",
                        known.join(", ")
                    ),
                });
            }
        }
        Ok(out)
    }

    /// A Go map keyed by string; null is an empty map.
    fn map<T>(
        &mut self,
        node: &Node,
        path: &At<'_>,
        mut item: impl FnMut(&mut Self, &Node, &At<'_>, &str) -> Result<T, Error>,
    ) -> Result<BTreeMap<String, T>, Error> {
        let mut out = BTreeMap::new();
        if node.is_null() {
            return Ok(out);
        }
        for (key, _, value) in node.entries(path)? {
            let p = path.key(key);
            let v = item(self, value, &p, key)?;
            out.insert(key.to_string(), v);
        }
        Ok(out)
    }

    /// Top level, after the version has been read (Akash `v2.UnmarshalYAML`).
    pub fn document(&mut self, root: &Node) -> Result<Input, Error> {
        let mut input = Input::default();
        let root_path = At::root();
        for (key, _, value) in root.entries(&root_path)? {
            let p = root_path.key(key);
            match key {
                "version" => {}
                "include" => {
                    value.strings(&p)?;
                }
                "services" => input.services = self.map(value, &p, |d, n, p, _| d.service(n, p))?,
                "profiles" => {
                    for (k, v) in self.fields(value, &p, &["compute", "placement"])? {
                        let pp = p.key(k);
                        if k == "compute" {
                            input.compute = self.map(v, &pp, |d, n, p, _| d.compute(n, p))?;
                        } else {
                            input.placement = self.map(v, &pp, |d, n, p, _| d.placement(n, p))?;
                        }
                    }
                }
                "deployment" => {
                    input.deployment = self.map(value, &p, |d, n, p, _| {
                        d.map(n, p, |d, n, p, _| d.service_deployment(n, p))
                    })?
                }
                "endpoints" => {
                    input.endpoints = self.map(value, &p, |d, n, p, _| {
                        let mut e = EndpointDecl::default();
                        for (k, v) in d.fields(n, p, &["kind"])? {
                            e.kind = v.string(&p.key(k))?.unwrap_or_default();
                        }
                        Ok(e)
                    })?
                }
                "reclamation" => {
                    let mut window = String::new();
                    for (k, v) in self.fields(value, &p, &["min_window"])? {
                        window = v.string(&p.key(k))?.unwrap_or_default();
                    }
                    input.reclamation = Some(window);
                }
                _ => {
                    return Err(Error::new(
                        p,
                        ErrorKind::UnexpectedField {
                            field: key.to_string(),
                        },
                    ));
                }
            }
        }
        Ok(input)
    }

    fn service(&mut self, node: &Node, path: &At<'_>) -> Result<Service, Error> {
        let mut svc = Service::default();
        let known = [
            "image",
            "command",
            "args",
            "env",
            "expose",
            "dependencies",
            "params",
            "credentials",
        ];
        for (k, v) in self.fields(node, path, &known)? {
            let p = path.key(k);
            match k {
                "image" => svc.image = v.string(&p)?.unwrap_or_default(),
                "command" => svc.command = v.strings(&p)?,
                "args" => svc.args = v.strings(&p)?,
                "env" => svc.env = v.strings(&p)?,
                "expose" if !v.is_null() => {
                    for (i, item) in v.items(&p)?.iter().enumerate() {
                        svc.expose.push(self.expose(item, &p.index(i))?);
                    }
                }
                "dependencies" if !v.is_null() => {
                    for (i, item) in v.items(&p)?.iter().enumerate() {
                        let ip = p.index(i);
                        for (k, v) in self.fields(item, &ip, &["service"])? {
                            v.string(&ip.key(k))?;
                        }
                    }
                }
                "params" if !v.is_null() => {
                    svc.params = Some(self.params(v, &p)?);
                }
                "credentials" if !v.is_null() => {
                    let mut c = Credentials::default();
                    let known = ["host", "email", "username", "password"];
                    for (k, v) in self.fields(v, &p, &known)? {
                        let s = v.string(&p.key(k))?.unwrap_or_default();
                        match k {
                            "host" => c.host = s,
                            "email" => c.email = s,
                            "username" => c.username = s,
                            _ => c.password = s,
                        }
                    }
                    svc.credentials = Some(c);
                }
                _ => {}
            }
        }
        Ok(svc)
    }

    fn expose(&mut self, node: &Node, path: &At<'_>) -> Result<Expose, Error> {
        let mut e = Expose {
            path: path.into(),
            ..Expose::default()
        };
        let known = ["port", "as", "proto", "to", "accept", "http_options"];
        for (k, v) in self.fields(node, path, &known)? {
            let p = path.key(k);
            match k {
                "port" => e.port = v.uint32(&p)?,
                "as" => e.as_port = v.uint32(&p)?,
                "proto" => e.proto = v.string(&p)?.unwrap_or_default(),
                "to" if !v.is_null() => {
                    for (i, item) in v.items(&p)?.iter().enumerate() {
                        e.to.push(self.expose_to(item, &p.index(i))?);
                    }
                }
                "accept" => {
                    // Akash's v2Accept decodes a []string and checks each as a URL host.
                    if let Some(hosts) = v.strings(&p)? {
                        for (i, host) in hosts.iter().enumerate() {
                            check_accept_host(host).map_err(|reason| {
                                Error::new(
                                    p.index(i),
                                    ErrorKind::InvalidAccept {
                                        host: host.clone(),
                                        reason,
                                    },
                                )
                            })?;
                        }
                        e.accept = Some(hosts);
                    }
                }
                "http_options" => e.http_options = self.http_options(v, &p)?,
                _ => {}
            }
        }
        Ok(e)
    }

    fn expose_to(&mut self, node: &Node, path: &At<'_>) -> Result<ExposeTo, Error> {
        let mut to = ExposeTo::default();
        for (k, v) in self.fields(node, path, &["service", "global", "http_options", "ip"])? {
            let p = path.key(k);
            match k {
                "service" => to.service = v.string(&p)?.unwrap_or_default(),
                "global" => to.global = v.boolean(&p)?,
                "ip" => to.ip = v.string(&p)?.unwrap_or_default(),
                // Decoded (so type errors still fail, as in Go) but unused, as in Akash.
                _ => {
                    self.http_options(v, &p)?;
                }
            }
        }
        Ok(to)
    }

    fn http_options(&mut self, node: &Node, path: &At<'_>) -> Result<HttpOptions, Error> {
        let mut h = HttpOptions::default();
        let known = [
            "max_body_size",
            "proxy_buffer_size",
            "read_timeout",
            "send_timeout",
            "next_tries",
            "next_timeout",
            "next_cases",
        ];
        for (k, v) in self.fields(node, path, &known)? {
            let p = path.key(k);
            if k == "next_cases" {
                h.next_cases = v.strings(&p)?;
                continue;
            }
            let value = if v.is_null() {
                None
            } else {
                Some(v.uint32(&p)?)
            };
            match k {
                "max_body_size" => h.max_body_size = value,
                "proxy_buffer_size" => h.proxy_buffer_size = value,
                "read_timeout" => h.read_timeout = value,
                "send_timeout" => h.send_timeout = value,
                "next_tries" => h.next_tries = value,
                _ => h.next_timeout = value,
            }
        }
        Ok(h)
    }

    fn params(&mut self, node: &Node, path: &At<'_>) -> Result<Params, Error> {
        let mut params = Params::default();
        for (k, v) in self.fields(node, path, &["storage", "permissions", "tee"])? {
            let p = path.key(k);
            match k {
                "storage" => {
                    params.storage = self.map(v, &p, |d, n, p, _| {
                        let mut sp = StorageParams::default();
                        for (k, v) in d.fields(n, p, &["mount", "readOnly"])? {
                            let pp = p.key(k);
                            if k == "mount" {
                                sp.mount = v.string(&pp)?.unwrap_or_default();
                            } else {
                                sp.read_only = v.boolean(&pp)?;
                            }
                        }
                        Ok(sp)
                    })?
                }
                "permissions" => {
                    if !v.is_null() {
                        let mut read = None;
                        for (k, v) in self.fields(v, &p, &["read"])? {
                            read = v.strings(&p.key(k))?;
                        }
                        params.permissions = Some(read);
                    }
                }
                _ => params.tee = v.string(&p)?.unwrap_or_default(),
            }
        }
        Ok(params)
    }

    fn service_deployment(
        &mut self,
        node: &Node,
        path: &At<'_>,
    ) -> Result<ServiceDeployment, Error> {
        let mut d = ServiceDeployment::default();
        for (k, v) in self.fields(node, path, &["profile", "count"])? {
            let p = path.key(k);
            if k == "profile" {
                d.profile = v.string(&p)?.unwrap_or_default();
            } else {
                d.count = v.uint32(&p)?;
            }
        }
        Ok(d)
    }

    fn placement(&mut self, node: &Node, path: &At<'_>) -> Result<Placement, Error> {
        let mut pl = Placement::default();
        for (k, v) in self.fields(node, path, &["attributes", "signedBy", "pricing"])? {
            let p = path.key(k);
            match k {
                "attributes" => pl.attributes = sorted_attributes(v.string_map(&p)?),
                "signedBy" => {
                    for (k, v) in self.fields(v, &p, &["allOf", "anyOf"])? {
                        let list = v.strings(&p.key(k))?.unwrap_or_default();
                        if k == "allOf" {
                            pl.all_of = list;
                        } else {
                            pl.any_of = list;
                        }
                    }
                }
                _ => pl.pricing = self.map(v, &p, |d, n, p, _| d.coin(n, p))?,
            }
        }
        Ok(pl)
    }

    /// Akash `v2Coin.UnmarshalYAML`: amount as a decimal string, non-zero, non-negative.
    fn coin(&mut self, node: &Node, path: &At<'_>) -> Result<kumo::DecCoin, Error> {
        let (mut amount, mut denom) = (String::new(), String::new());
        for (k, v) in self.fields(node, path, &["amount", "denom"])? {
            let s = v.string(&path.key(k))?.unwrap_or_default();
            if k == "amount" {
                amount = s;
            } else {
                denom = s;
            }
        }
        let amount_path = path.key("amount");
        let value = units::parse_dec(&amount).map_err(|k| Error::new(amount_path, k))?;
        if value.is_zero() {
            return Err(Error::new(amount_path, ErrorKind::ZeroPrice));
        }
        // Go panics here on a bad denom (sdk.NewDecCoinFromDec); we reject it.
        if !units::is_valid_denom(&denom) {
            return Err(Error::new(
                path.key("denom"),
                ErrorKind::InvalidDenom { denom },
            ));
        }
        Ok(kumo::DecCoin {
            denom,
            amount: value,
        })
    }

    fn compute(&mut self, node: &Node, path: &At<'_>) -> Result<Compute, Error> {
        let mut c = Compute::default();
        for (k, v) in self.fields(node, path, &["resources"])? {
            if !v.is_null() {
                c.resources = Some(self.resources(v, &path.key(k))?);
            }
        }
        Ok(c)
    }

    fn resources(&mut self, node: &Node, path: &At<'_>) -> Result<ComputeResources, Error> {
        let mut r = ComputeResources::default();
        for (k, v) in self.fields(node, path, &["cpu", "gpu", "memory", "storage"])? {
            let p = path.key(k);
            if v.is_null() {
                continue;
            }
            match k {
                "cpu" => r.cpu = Some(self.cpu(v, &p)?),
                "gpu" => r.gpu = Some(self.gpu(v, &p)?),
                "memory" => {
                    let mut size = 0;
                    for (k, v) in self.fields(v, &p, &["size"])? {
                        size = self.size(v, &p.key(k))?;
                    }
                    r.memory = Some(size);
                }
                _ => r.storage = self.storage(v, &p)?,
            }
        }
        Ok(r)
    }

    /// Memory and storage sizes: Akash Console's reading (case-insensitive suffixes, rounded up)
    /// where it reads the text, whose manifest versions Kumo reproduces; otherwise Akash's Go
    /// reading (plain bytes, exponents).
    fn size(&mut self, node: &Node, path: &At<'_>) -> Result<u64, Error> {
        let go = quantity(node, path, |t| units::parse_size(t, false));
        let text = node.scalar().unwrap_or_default();
        match (units::parse_size_reference(text), go) {
            (Some(bytes), Ok(_)) => Ok(bytes),
            (Some(bytes), Err(_)) => {
                self.warnings.push(Warning {
                    path: path.into(),
                    message: format!(
                        "{text:?} read as {bytes} bytes as Akash Console does; Akash's CLI rejects it (suffixes are k, M, G, T or Ki, Mi, Gi, Ti)"
                    ),
                });
                Ok(bytes)
            }
            (None, go) => go,
        }
    }

    fn cpu(&mut self, node: &Node, path: &At<'_>) -> Result<CpuInput, Error> {
        let mut cpu = CpuInput::default();
        for (k, v) in self.fields(node, path, &["units", "attributes"])? {
            let p = path.key(k);
            if k == "units" {
                cpu.millicores = match quantity(v, &p, units::parse_cpu) {
                    Ok(m) => m,
                    Err(err) => {
                        let text = v.scalar().unwrap_or_default();
                        let m = units::parse_cpu_reference(text).ok_or(err)?;
                        self.warnings.push(Warning {
                            path: p.into(),
                            message: format!(
                                "{text:?} read as {m}m as Akash Console does; Akash's CLI rejects it (write \"{m}m\")"
                            ),
                        });
                        m
                    }
                };
            } else if !v.is_null() {
                // Akash `v2CPUAttributes`: only `arch`.
                for (key, _, value) in v.entries(&p)? {
                    if key != "arch" {
                        return Err(Error::new(
                            p.key(key),
                            ErrorKind::UnsupportedKey {
                                what: "cpu attribute",
                                key: key.to_string(),
                                allowed: "arch",
                            },
                        ));
                    }
                    let value = value.string(&p.key(key))?.unwrap_or_default();
                    cpu.attributes.push(Attribute::new(key, value));
                }
            }
        }
        Ok(cpu)
    }

    /// Akash `v2ResourceGPU` and `v2GPUAttributes`.
    fn gpu(&mut self, node: &Node, path: &At<'_>) -> Result<GpuInput, Error> {
        let mut gpu = GpuInput::default();
        let mut has_attributes = false;
        for (key, _, v) in node.entries(path)? {
            let p = path.key(key);
            match key {
                "units" => {
                    gpu.units = quantity(v, &p, |t| {
                        let digits = !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
                        digits
                            .then(|| t.parse::<u64>().ok())
                            .flatten()
                            .ok_or_else(|| ErrorKind::InvalidQuantity {
                                value: t.to_string(),
                                reason: "expected a whole number of GPUs",
                            })
                    })?
                }
                "attributes" => {
                    if !v.is_null() {
                        gpu.attributes = gpu_attributes(v, &p, &mut self.warnings)?;
                        // Akash's Go parser reads any vendor list as at least "any model".
                        has_attributes = true;
                    }
                }
                _ => {
                    return Err(Error::new(
                        p,
                        ErrorKind::UnsupportedKey {
                            what: "GPU field",
                            key: key.to_string(),
                            allowed: "units, attributes",
                        },
                    ))
                }
            }
        }
        if gpu.units > 0 && !has_attributes {
            return Err(Error::new(*path, ErrorKind::GpuAttributesRequired));
        }
        Ok(gpu)
    }

    /// Akash `v2ResourceStorageArray`: one volume as a mapping, or a sequence of volumes.
    fn storage(&mut self, node: &Node, path: &At<'_>) -> Result<Option<Vec<Volume>>, Error> {
        let mut volumes = Vec::new();
        match &node.kind {
            NodeKind::Seq(_) => {
                for (i, item) in node.items(path)?.iter().enumerate() {
                    let mut v = self.volume(item, &path.index(i))?;
                    if v.name.is_empty() {
                        v.name = "default".into();
                    }
                    volumes.push(v);
                }
            }
            NodeKind::Map(_) => {
                // Akash's Go parser renames a single volume "default"; the reference keeps a
                // given name, and the manifest hash follows the reference.
                let mut v = self.volume(node, path)?;
                if v.name.is_empty() {
                    v.name = "default".into();
                }
                volumes.push(v);
            }
            NodeKind::Scalar { .. } => return Err(node_type(node, path, "a mapping or sequence")),
        }
        for (i, v) in volumes.iter().enumerate() {
            if volumes[..i].iter().any(|o| o.name == v.name) {
                return Err(Error::new(
                    *path,
                    ErrorKind::DuplicateVolumeName {
                        name: v.name.clone(),
                    },
                ));
            }
        }
        // Kept in written order: Akash's Go parser sorts volumes, its reference SDK (whose
        // manifest versions Kumo reproduces) does not.
        Ok((!volumes.is_empty()).then_some(volumes))
    }

    fn volume(&mut self, node: &Node, path: &At<'_>) -> Result<Volume, Error> {
        let mut vol = Volume::default();
        for (k, v) in self.fields(node, path, &["name", "size", "attributes"])? {
            let p = path.key(k);
            match k {
                "name" => vol.name = v.string(&p)?.unwrap_or_default(),
                "size" => vol.size = self.size(v, &p)?,
                _ => {
                    if let Some(map) = v.string_map(&p)? {
                        storage_attributes(&mut vol, map).map_err(|k| Error::new(p, k))?;
                    }
                }
            }
        }
        Ok(vol)
    }
}

fn node_type(node: &Node, path: &At<'_>, expected: &'static str) -> Error {
    Error::new(
        *path,
        ErrorKind::Type {
            expected,
            found: node.kind_name(),
            line: node.line,
        },
    )
}

/// A quantity with a custom Go unmarshaler: not called for null (zero value); called with the
/// node's text otherwise, which is empty for mappings and sequences.
fn quantity(
    node: &Node,
    path: &At<'_>,
    parse: impl Fn(&str) -> Result<u64, ErrorKind>,
) -> Result<u64, Error> {
    if node.is_null() {
        return Ok(0);
    }
    let text = node.scalar().unwrap_or_default();
    parse(text).map_err(|k| Error::new(*path, k))
}

fn sorted_attributes(map: Option<Vec<(String, String)>>) -> Vec<Attribute> {
    let mut attrs: Vec<Attribute> = map
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| Attribute::new(k, v))
        .collect();
    attrs.sort_by(|a, b| a.key.cmp(&b.key));
    attrs
}

/// YAML booleans as Akash's `unifyStringAsBool`.
fn unify_bool(v: &str) -> Option<&'static str> {
    match v {
        "true" | "on" | "yes" => Some("true"),
        "false" | "off" | "no" => Some("false"),
        _ => None,
    }
}

/// Storage attributes. Validation is Akash's Go `v2StorageAttributes.UnmarshalYAML`
/// (`persistent` defaults to false; a class needs persistence, except `ram`, which forbids it; only
/// `persistent` and `class`). The manifest form is the reference's: the attributes as written,
/// booleans spelled `true`/`false`, sorted by key, with `persistent=false` added for `ram`.
fn storage_attributes(vol: &mut Volume, map: Vec<(String, String)>) -> Result<(), ErrorKind> {
    let get = |k: &str| {
        map.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let persistent_text = get("persistent").unwrap_or("false");
    let class = get("class").unwrap_or("");
    match class {
        "" => {}
        "ram" => {
            if persistent_text != "false" {
                return Err(ErrorKind::RamPersistent);
            }
        }
        _ => {
            if persistent_text == "false" {
                return Err(ErrorKind::EphemeralClass);
            }
        }
    }
    let mut attrs = Vec::with_capacity(map.len() + 1);
    for (key, value) in &map {
        let value = match key.as_str() {
            "persistent" => unify_bool(value)
                .ok_or_else(|| ErrorKind::InvalidBoolAttribute {
                    key: key.clone(),
                    value: value.clone(),
                })?
                .to_string(),
            "class" => {
                if !matches!(
                    value.as_str(),
                    "default" | "beta1" | "beta2" | "beta3" | "ram"
                ) {
                    return Err(ErrorKind::InvalidStorageClass {
                        class: value.clone(),
                    });
                }
                value.clone()
            }
            _ => {
                return Err(ErrorKind::UnsupportedKey {
                    what: "storage attribute",
                    key: key.clone(),
                    allowed: "persistent, class",
                })
            }
        };
        attrs.push(Attribute::new(key.clone(), value));
    }
    if class == "ram" && get("persistent").is_none() {
        attrs.push(Attribute::new("persistent", "false"));
    }
    attrs.sort_by(|a, b| a.key.cmp(&b.key));
    vol.persistent = unify_bool(persistent_text) == Some("true");
    vol.class = if class.is_empty() && vol.persistent {
        "default".to_string()
    } else {
        class.to_string()
    };
    vol.attributes = attrs;
    vol.has_attributes = true;
    Ok(())
}

/// GPU attributes: `vendor: {nvidia: [{model, ram, interface}]}` becomes
/// `vendor/nvidia/model/<model>[/ram/<ram>][/interface/<pcie|sxm>] = true`, no model meaning any.
/// Checks are Akash's Go `v2GPUAttributes.UnmarshalYAML`; the keys keep the written order and
/// the written `ram` text, as Akash's reference SDK writes them into the manifest.
fn gpu_attributes(
    node: &Node,
    path: &At<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Attribute>, Error> {
    let mut vendor: Option<&Node> = None;
    for (key, _, v) in node.entries(path)? {
        if key != "vendor" {
            return Err(Error::new(
                path.key(key),
                ErrorKind::UnsupportedKey {
                    what: "GPU attribute",
                    key: key.to_string(),
                    allowed: "vendor",
                },
            ));
        }
        vendor = Some(v);
    }
    let vendor_path = path.key("vendor");
    let vendor = match vendor {
        Some(v) if !v.is_null() => v,
        _ => return Err(Error::new(*path, ErrorKind::GpuVendorRequired)),
    };
    let mut attrs = Vec::new();
    for (name, _, models) in vendor.entries(&vendor_path)? {
        let p = vendor_path.key(name);
        if name != "nvidia" {
            // Akash's Go parser silently turns any other vendor into "any NVIDIA GPU"; a tenant
            // asking for AMD must not be matched with NVIDIA, so Kumo rejects it instead.
            return Err(Error::new(
                p,
                ErrorKind::UnsupportedGpuVendor {
                    vendor: name.to_string(),
                },
            ));
        }
        if models.is_null() {
            attrs.push(Attribute::new("vendor/nvidia/model/*", "true"));
            continue;
        }
        for (i, model) in models.items(&p)?.iter().enumerate() {
            let mp = p.index(i);
            let mut key = String::from("vendor/nvidia/model/");
            let (mut ram, mut iface) = (None, None);
            for (k, _, v) in model.entries(&mp)? {
                let kp = mp.key(k);
                match k {
                    "model" => key.push_str(&v.string(&kp)?.unwrap_or_default()),
                    "ram" if !v.is_null() => {
                        let text = v.scalar().unwrap_or_default().to_string();
                        let bytes = quantity(v, &kp, |t| units::parse_size(t, true))?;
                        let canonical = units::gibibytes(bytes);
                        if canonical != text {
                            warnings.push(Warning {
                                path: kp.into(),
                                message: format!(
                                    "GPU RAM {text:?} is matched literally; providers advertise it as {canonical:?}"
                                ),
                            });
                        }
                        ram = Some(text);
                    }
                    "interface" if !v.is_null() => {
                        let s = v.scalar().unwrap_or_default();
                        if s != "pcie" && s != "sxm" {
                            return Err(Error::new(
                                kp,
                                ErrorKind::InvalidGpuInterface {
                                    value: s.to_string(),
                                },
                            ));
                        }
                        iface = Some(s.to_string());
                    }
                    _ => {}
                }
            }
            if let Some(r) = ram {
                key = format!("{key}/ram/{r}");
            }
            if let Some(i) = iface {
                key = format!("{key}/interface/{i}");
            }
            attrs.push(Attribute::new(key, "true"));
        }
    }
    kumo::attributes::validate_attributes(&attrs).map_err(|e| Error::new(*path, e.into()))?;
    Ok(attrs)
}

/// Akash checks each `accept` entry with Go's `url.ParseRequestURI("http://" + host)`; this
/// rejects what that rejects in practice (control characters, bad escapes, bad ports).
fn check_accept_host(host: &str) -> Result<(), &'static str> {
    if host.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return Err("contains a control character");
    }
    let authority = host.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let bytes = hostport.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |c: u8| c.is_ascii_hexdigit();
            if i + 2 >= bytes.len() || !(hex(bytes[i + 1]) && hex(bytes[i + 2])) {
                return Err("invalid percent escape");
            }
            i += 3;
            continue;
        }
        if bytes[i] == b' ' {
            return Err("contains a space");
        }
        i += 1;
    }
    if let Some(rest) = hostport.strip_prefix('[') {
        if !rest.contains(']') {
            return Err("missing ']' in IPv6 host");
        }
    } else if let Some((_, port)) = hostport.rsplit_once(':') {
        if !port.bytes().all(|c| c.is_ascii_digit()) {
            return Err("invalid port");
        }
    }
    Ok(())
}
