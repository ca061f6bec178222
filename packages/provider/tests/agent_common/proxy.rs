//! An HTTP proxy in front of a node's REST API that counts the requests it forwards and keeps
//! the bytes of every transaction broadcast through it: what a client asked of the chain, seen
//! from outside the code under test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;

/// The broadcast route of the Cosmos REST API (`POST`, `{"tx_bytes": base64, "mode": ..}`).
const BROADCAST: &str = "/cosmos/tx/v1beta1/txs";

pub struct RecordingProxy {
    /// `http://127.0.0.1:<port>`: give it to the client instead of the node's URL.
    pub url: String,
    requests: Arc<AtomicUsize>,
    broadcasts: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    /// Forwards to `upstream` (the node's URL) from a free loopback port.
    pub async fn start(upstream: &str) -> RecordingProxy {
        let requests = Arc::new(AtomicUsize::new(0));
        let broadcasts = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.trim_end_matches('/').to_string();
        let http = reqwest::Client::new();
        let (count, recorded) = (requests.clone(), broadcasts.clone());
        let app = axum::Router::new().fallback(move |req: Request| {
            let (count, recorded) = (count.clone(), recorded.clone());
            let (upstream, http) = (upstream.clone(), http.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                forward(req, &upstream, &http, &recorded)
                    .await
                    .unwrap_or_else(|e| {
                        let mut r = Response::new(Body::from(format!("proxy: {e}")));
                        *r.status_mut() = StatusCode::BAD_GATEWAY;
                        r
                    })
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RecordingProxy {
            url,
            requests,
            broadcasts,
            task,
        }
    }

    /// Requests forwarded since the last call.
    pub fn take_requests(&self) -> usize {
        self.requests.swap(0, Ordering::SeqCst)
    }

    /// The bytes of every transaction broadcast so far, in order (a rebroadcast twice).
    pub fn broadcasts(&self) -> Vec<Vec<u8>> {
        self.broadcasts.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    req: Request,
    upstream: &str,
    http: &reqwest::Client,
    recorded: &Mutex<Vec<Vec<u8>>>,
) -> Result<Response, String> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    // Kept before it is forwarded: a client killed while waiting for the answer still sent
    // it, and the node may still include it.
    if parts.method == axum::http::Method::POST && parts.uri.path() == BROADCAST {
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let tx = base64::engine::general_purpose::STANDARD
            .decode(json["tx_bytes"].as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        recorded.lock().unwrap().push(tx);
    }
    let answer = http
        .request(parts.method, format!("{upstream}{path}"))
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let kind = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(kind) = kind {
        response.headers_mut().insert("content-type", kind);
    }
    Ok(response)
}
