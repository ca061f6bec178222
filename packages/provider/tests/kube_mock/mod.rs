//! A mock Kubernetes API server for the backend's and the daemon's tests.
//!
//! No Kubernetes API server can run here (no cluster, no network beyond the package registries),
//! so a small in-memory stand-in, an axum server on the loopback address, answers the requests the
//! backend makes the way the API server would: server-side apply (PATCH with
//! `application/apply-patch+yaml`, merging into the stored object and bumping the resource version
//! only when something changed), get, list with label selectors, delete (a namespace takes its
//! objects along), pod logs and event watches. It records every request, so the tests check what
//! the backend sends as well as what it makes of the answers. It does not check objects against
//! the API's schemas: the builder's own tests cover the objects.
#![allow(dead_code)] // Each test binary uses a part.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The mock API server

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub content_type: Option<String>,
    /// The `Authorization` header: the credentials the client took from its configuration.
    pub authorization: Option<String>,
    pub body: Option<Value>,
}

#[derive(Default)]
pub struct ApiState {
    /// Objects by their path, e.g. `/apis/apps/v1/namespaces/x/deployments/web`.
    pub objects: BTreeMap<String, Value>,
    /// Pod logs by pod name.
    pub logs: BTreeMap<String, String>,
    /// Watch events sent, once, to the next watch request.
    pub watch: Vec<Value>,
    pub requests: Vec<Recorded>,
    pub version: u64,
    /// Requests of this method on paths starting with this prefix fail with this code.
    pub fail: Option<(Method, String, u16)>,
}

#[derive(Clone, Default)]
pub struct Mock(Arc<Mutex<ApiState>>);

impl Mock {
    pub fn state(&self) -> std::sync::MutexGuard<'_, ApiState> {
        self.0.lock().unwrap()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// `METHOD path` of every request, for comparing sequences.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub fn object(&self, path: &str) -> Option<Value> {
        self.state().objects.get(path).cloned()
    }

    pub fn put(&self, path: &str, object: Value) {
        let mut state = self.state();
        state.version += 1;
        let mut object = object;
        object["metadata"]["resourceVersion"] = json!(state.version.to_string());
        state.objects.insert(path.to_string(), object);
    }

    /// Merges `patch` into the stored object (as a controller writing status would).
    pub fn update(&self, path: &str, patch: Value) {
        let mut object = self.object(path).unwrap_or_else(|| panic!("no {path}"));
        merge(&mut object, &patch);
        self.put(path, object);
    }
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    json_response(StatusCode::from_u16(code).unwrap(), &body)
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Objects merge key by key; anything else is replaced (enough of server-side apply for one
/// field manager that keeps sending the same fields, and for a second one adding annotations).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn matches_selector(object: &Value, selector: Option<&String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (key, value) = term.split_once('=').unwrap_or((term, ""));
        object["metadata"]["labels"][key].as_str() == Some(value)
    })
}

/// What a path names: the part after `/api/v1` or `/apis/<group>/<version>`.
fn resource_segments(path: &str) -> Option<Vec<&str>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.first() {
        Some(&"api") => Some(segments[2..].to_vec()),
        Some(&"apis") => Some(segments[3..].to_vec()),
        _ => None,
    }
}

pub async fn handle(
    State(mock): State<Mock>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = parse_query(uri.query());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body_json: Option<Value> = serde_json::from_slice(&body).ok();
    let mut state = mock.state();
    state.requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        body: body_json.clone(),
    });
    if let Some((fail_method, prefix, code)) = &state.fail {
        if *fail_method == method && path.starts_with(prefix.as_str()) {
            return status(*code, "Invalid", "injected failure");
        }
    }
    if path == "/version" {
        let info = json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "mock",
            "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24",
            "compiler": "gc", "platform": "linux/amd64",
        });
        return json_response(StatusCode::OK, &info);
    }
    let Some(segments) = resource_segments(&path) else {
        return status(404, "NotFound", "unknown path");
    };
    match (method.clone(), segments.len()) {
        // Pod logs: namespaces/<ns>/pods/<pod>/log
        (Method::GET, 5) if segments[4] == "log" => {
            let Some(text) = state.logs.get(segments[3]).cloned() else {
                return status(404, "NotFound", "pod not found");
            };
            let lines: Vec<&str> = text.lines().collect();
            let tail = query
                .get("tailLines")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(lines.len());
            let mut out = lines[lines.len().saturating_sub(tail)..].join("\n");
            out.push('\n');
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], out).into_response()
        }
        // Collections: namespaces, or namespaces/<ns>/<plural>.
        (Method::GET, 1 | 3) => {
            if query.get("watch").map(String::as_str) == Some("true") {
                let events: Vec<Value> = std::mem::take(&mut state.watch);
                let mut out = String::new();
                for event in events {
                    out.push_str(&event.to_string());
                    out.push('\n');
                }
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    out,
                )
                    .into_response();
            }
            let prefix = format!("{path}/");
            let items: Vec<Value> = state
                .objects
                .iter()
                .filter(|(key, _)| {
                    key.strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('/'))
                })
                .map(|(_, object)| object.clone())
                .filter(|object| matches_selector(object, query.get("labelSelector")))
                .collect();
            let list = json!({
                "apiVersion": "v1", "kind": "List",
                "metadata": {"resourceVersion": state.version.to_string()},
                "items": items,
            });
            json_response(StatusCode::OK, &list)
        }
        (Method::GET, 2 | 4) => match state.objects.get(&path) {
            Some(object) => json_response(StatusCode::OK, object),
            None => status(404, "NotFound", &format!("{path} not found")),
        },
        (Method::PATCH, 2 | 4) => {
            if content_type.as_deref() != Some("application/apply-patch+yaml") {
                return status(415, "UnsupportedMediaType", "only server-side apply");
            }
            let Some(patch) = body_json else {
                return status(400, "BadRequest", "no body");
            };
            let before = state.objects.get(&path).cloned();
            let mut object = before.clone().unwrap_or(json!({}));
            merge(&mut object, &patch);
            let unchanged = before.as_ref().is_some_and(|b| {
                let mut b = b.clone();
                b["metadata"]["resourceVersion"] = object["metadata"]["resourceVersion"].clone();
                b == object
            });
            if !unchanged {
                state.version += 1;
                object["metadata"]["resourceVersion"] = json!(state.version.to_string());
            }
            state.objects.insert(path, object.clone());
            json_response(StatusCode::OK, &object)
        }
        (Method::DELETE, 2 | 4) => {
            let Some(object) = state.objects.remove(&path) else {
                return status(404, "NotFound", &format!("{path} not found"));
            };
            if segments.len() == 2 {
                // A namespace's objects go with it.
                let inside = format!("/namespaces/{}/", segments[1]);
                state.objects.retain(|key, _| !key.contains(&inside));
            }
            json_response(StatusCode::OK, &object)
        }
        _ => status(405, "MethodNotAllowed", "not supported by the mock"),
    }
}

/// Serves a new mock on a free loopback port: the mock, and its address (`http://` + it is the
/// API server's URL).
pub async fn serve() -> (Mock, SocketAddr) {
    let mock = Mock::default();
    let app = Router::new().fallback(handle).with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (mock, address)
}
