//! The deployment manifest a tenant sends to its providers, in Akash's `v2beta3` JSON form, and
//! its version: the SHA-256 of the manifest's sorted JSON, byte-identical to Akash's
//! `Manifest.Version()` so that manifests move between Akash and Kumo tooling unchanged.
//!
//! Field names, `null`s and omitted fields follow the Go struct tags of
//! `go/manifest/v2beta3/*.pb.go`: a nil slice is `null`, `omitempty` fields are left out when
//! empty or zero. Fields are declared in bytewise order of their JSON names, so serializing them
//! directly yields the sorted JSON that is hashed (a test checks this against a generic sort).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A manifest: one entry per deployment group, sorted by group name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Manifest(pub Vec<Group>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// Sorted by name.
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub args: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub count: u32,
    pub credentials: Option<ImageCredentials>,
    pub env: Option<Vec<String>>,
    pub expose: Vec<ServiceExpose>,
    pub image: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<ServiceParams>,
    pub resources: Resources,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceExpose {
    #[serde(rename = "endpointSequenceNumber")]
    pub endpoint_sequence_number: u32,
    #[serde(rename = "externalPort")]
    pub external_port: u32,
    pub global: bool,
    pub hosts: Option<Vec<String>>,
    #[serde(rename = "httpOptions")]
    pub http_options: HttpOptions,
    pub ip: String,
    pub port: u32,
    pub proto: Protocol,
    pub service: String,
}

impl ServiceExpose {
    /// The port the service is reached on from outside (`as`, defaulting to `port`).
    pub fn external_port(&self) -> u32 {
        if self.external_port == 0 {
            self.port
        } else {
            self.external_port
        }
    }

    /// Served by the provider's shared HTTP ingress: global TCP on external port 80.
    pub fn is_ingress(&self) -> bool {
        self.proto == Protocol::Tcp && self.global && self.external_port() == 80
    }

    /// The endpoints this expose consumes (Akash `ServiceExpose.GetEndpoints`).
    pub fn endpoints(&self) -> Vec<kumo::Endpoint> {
        if !self.global {
            return Vec::new();
        }
        let kind = if self.is_ingress() {
            kumo::EndpointKind::SharedHttp
        } else {
            kumo::EndpointKind::RandomPort
        };
        let mut out = vec![kumo::Endpoint {
            kind,
            sequence_number: 0,
        }];
        if !self.ip.is_empty() {
            // Sorted by sequence number: the port endpoint (0) first.
            out.push(kumo::Endpoint {
                kind: kumo::EndpointKind::LeasedIp,
                sequence_number: self.endpoint_sequence_number,
            });
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpOptions {
    #[serde(rename = "maxBodySize")]
    pub max_body_size: u32,
    #[serde(rename = "nextCases", default, skip_serializing_if = "Vec::is_empty")]
    pub next_cases: Vec<String>,
    #[serde(rename = "nextTimeout")]
    pub next_timeout: u32,
    #[serde(rename = "nextTries")]
    pub next_tries: u32,
    #[serde(rename = "proxyBufferSize", default, skip_serializing_if = "is_zero")]
    pub proxy_buffer_size: u32,
    #[serde(rename = "readTimeout")]
    pub read_timeout: u32,
    #[serde(rename = "sendTimeout")]
    pub send_timeout: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<ImageCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<ServicePermissions>,
    pub storage: Option<Vec<StorageParams>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tee: Option<TeeParams>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageParams {
    pub mount: String,
    pub name: String,
    #[serde(rename = "readOnly")]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicePermissions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeeParams {
    pub attestation: bool,
    #[serde(rename = "type")]
    pub tee_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageCredentials {
    pub email: String,
    pub host: String,
    pub password: String,
    pub username: String,
}

/// Akash's protobuf `ResourceValue`: an integer carried as a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceValue {
    pub val: String,
}

impl ResourceValue {
    pub fn new(v: u64) -> Self {
        Self { val: v.to_string() }
    }
}

/// An attribute in Akash JSON form (`key` and `value` are omitted when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    pub units: ResourceValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    pub size: ResourceValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    pub name: String,
    pub size: ResourceValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Protobuf enum value: 0 shared HTTP (omitted), 1 random port, 2 leased IP.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kind: u32,
    pub sequence_number: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu: Cpu,
    pub endpoints: Vec<Endpoint>,
    pub gpu: Gpu,
    pub id: u32,
    pub memory: Memory,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage: Vec<Storage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    pub units: ResourceValue,
}

fn attrs(list: &[kumo::Attribute]) -> Vec<Attribute> {
    list.iter()
        .map(|a| Attribute {
            key: a.key.clone(),
            value: a.value.clone(),
        })
        .collect()
}

impl From<&kumo::Resources> for Resources {
    fn from(r: &kumo::Resources) -> Self {
        Resources {
            id: r.id,
            cpu: Cpu {
                units: ResourceValue::new(r.cpu.units.into()),
                attributes: attrs(&r.cpu.attributes),
            },
            memory: Memory {
                size: ResourceValue::new(r.memory.size.u64()),
                attributes: attrs(&r.memory.attributes),
            },
            storage: r
                .storage
                .iter()
                .map(|s| Storage {
                    name: s.name.clone(),
                    size: ResourceValue::new(s.size.u64()),
                    attributes: attrs(&s.attributes),
                })
                .collect(),
            gpu: Gpu {
                units: ResourceValue::new(r.gpu.units.into()),
                attributes: attrs(&r.gpu.attributes),
            },
            endpoints: r
                .endpoints
                .iter()
                .map(|e| Endpoint {
                    kind: e.kind.as_proto(),
                    sequence_number: e.sequence_number,
                })
                .collect(),
        }
    }
}

impl Manifest {
    /// The canonical bytes that are hashed: JSON with keys sorted bytewise, no whitespace, and
    /// Go's `encoding/json` escaping (`<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`), exactly as
    /// Akash's `sdk.SortJSON(json.Marshal(manifest))`.
    pub fn sorted_json(&self) -> String {
        let mut out = Vec::with_capacity(4096);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
        // Our plain structs always serialize, into a Vec that cannot fail to grow.
        let _ = self.serialize(&mut ser);
        String::from_utf8(out).unwrap_or_default()
    }

    /// The manifest version: SHA-256 of [`Manifest::sorted_json`].
    pub fn version(&self) -> [u8; 32] {
        Sha256::digest(self.sorted_json().as_bytes()).into()
    }
}

/// Compact JSON with Go's extra escapes (`<`, `>`, `&`, U+2028, U+2029); serde_json already
/// escapes the rest as Go 1.22+ does (`\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX`).
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            let escaped = match bytes[i] {
                b'<' | b'>' | b'&' => Some((bytes[i] as u32, 1)),
                0xE2 if bytes.get(i + 1) == Some(&0x80)
                    && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
                {
                    Some((0x2000 + u32::from(bytes[i + 2]) - 0xA8 + 0x28, 3))
                }
                _ => None,
            };
            match escaped {
                Some((code, len)) => {
                    writer.write_all(&bytes[start..i])?;
                    write!(writer, "\\u{code:04x}")?;
                    i += len;
                    start = i;
                }
                None => i += 1,
            }
        }
        writer.write_all(&bytes[start..])
    }
}

/// Writes `value` as Go's `json.Marshal` of an `interface{}` would: map keys sorted (serde_json's
/// map is a BTreeMap, which orders keys bytewise as Go does), HTML-safe escaping.
pub fn write_go_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                write_go_json(v, out);
            }
            out.push('}');
        }
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_go() {
        let mut out = String::new();
        write_go_string("a<b>&c\"\\\n\t\u{1}\u{2028}é\u{7f}", &mut out);
        assert_eq!(
            out,
            "\"a\\u003cb\\u003e\\u0026c\\\"\\\\\\n\\t\\u0001\\u2028é\u{7f}\""
        );
    }

    #[test]
    fn direct_serialization_is_sorted_and_escaped_like_go() {
        let sdl = crate::parse(
            r#"
version: "2.1"
services:
  web:
    image: "nginx<1>&2\u2028"
    command: [sh]
    env: ["A=<b>"]
    credentials: {host: h, username: u, password: p, email: e}
    params:
      storage: {data: {mount: /d, readOnly: true}}
      permissions: {read: [logs]}
    expose:
      - port: 80
        accept: [a.example.com]
        http_options: {proxy_buffer_size: 4096, next_cases: [error, "500"]}
        to: [{global: true, ip: myip}]
      - port: 5432
        to: [{service: db}]
profiles:
  compute:
    web:
      resources:
        cpu: {units: 1, attributes: {arch: amd64}}
        memory: {size: 1Gi}
        storage: [{size: 1Gi}, {name: data, size: 2Gi, attributes: {persistent: true, class: beta2}}]
        gpu: {units: 1, attributes: {vendor: {nvidia: [{model: a100, ram: 80Gi, interface: sxm}]}}}
  placement:
    dc: {pricing: {web: {denom: uakt, amount: 1}}}
deployment:
  web: {dc: {profile: web, count: 2}}
endpoints:
  myip: {kind: ip}
"#,
        )
        .unwrap();
        let value = serde_json::to_value(&sdl.manifest).unwrap();
        let mut generic = String::new();
        write_go_json(&value, &mut generic);
        assert_eq!(sdl.manifest.sorted_json(), generic);
        assert!(generic.contains("nginx\\u003c1\\u003e\\u00262\\u2028"));
    }

    #[test]
    fn keys_sort_bytewise() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"B":2,"a":[null,true]}"#).unwrap();
        let mut out = String::new();
        write_go_json(&v, &mut out);
        assert_eq!(out, r#"{"B":2,"a":[null,true],"b":1}"#);
    }
}
