//! The Cosmos REST API wasmd serves (grpc-gateway JSON: 64-bit integers as strings, bytes as
//! base64, errors as `{"code", "message", "details"}`), for the endpoints clients use.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use cosmwasm_std::Event;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::app::{rfc3339, App, BlockMeta, TxResult};
use crate::error::AbciError;
use crate::state::{key, prefix};

type Shared = Arc<Mutex<App>>;

/// A gRPC status as grpc-gateway renders it.
struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl ApiError {
    fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: 5,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 3,
            message: message.into(),
        }
    }
    fn unknown(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 2,
            message: message.into(),
        }
    }
}

impl From<AbciError> for ApiError {
    fn from(e: AbciError) -> Self {
        match (e.codespace.as_str(), e.code) {
            ("sdk", 7) => ApiError::invalid(e.log),
            ("wasm", 8) | ("wasm", 22) => ApiError::not_found(e.log),
            _ => ApiError::unknown(e.log),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "message": self.message, "details": []})),
        )
            .into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

fn lock(app: &Shared) -> std::sync::MutexGuard<'_, App> {
    app.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs chain work off the async threads: executing wasm may take milliseconds.
async fn blocking<T: Send + 'static>(
    app: &Shared,
    f: impl FnOnce(&mut App) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&app)))
        .await
        .map_err(|e| ApiError::unknown(e.to_string()))
}

fn b64_any(s: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .map_err(|e| ApiError::invalid(format!("invalid base64 {s:?}: {e}")))
}

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/cosmos/base/tendermint/v1beta1/node_info", get(node_info))
        .route(
            "/cosmos/base/tendermint/v1beta1/blocks/latest",
            get(latest_block),
        )
        .route(
            "/cosmos/base/tendermint/v1beta1/blocks/{height}",
            get(block_at),
        )
        .route("/cosmos/auth/v1beta1/accounts/{address}", get(account))
        .route("/cosmos/bank/v1beta1/balances/{address}", get(balances))
        .route(
            "/cosmos/bank/v1beta1/balances/{address}/by_denom",
            get(balance_by_denom),
        )
        .route("/cosmos/bank/v1beta1/supply/by_denom", get(supply))
        .route("/cosmos/tx/v1beta1/simulate", post(simulate))
        .route("/cosmos/tx/v1beta1/txs", post(broadcast))
        .route("/cosmos/tx/v1beta1/txs/{hash}", get(get_tx))
        .route("/cosmwasm/wasm/v1/code", get(codes))
        .route("/cosmwasm/wasm/v1/code/{id}", get(code))
        .route(
            "/cosmwasm/wasm/v1/code/{id}/contracts",
            get(contracts_by_code),
        )
        .route("/cosmwasm/wasm/v1/codes/pinned", get(pinned))
        .route("/cosmwasm/wasm/v1/contract/{address}", get(contract))
        .route(
            "/cosmwasm/wasm/v1/contract/{address}/smart/{query}",
            get(smart),
        )
        .route("/cosmwasm/wasm/v1/contract/{address}/raw/{key}", get(raw))
        .with_state(app)
}

async fn node_info(State(app): State<Shared>) -> ApiResult {
    let chain_id = lock(&app).config.chain_id.clone();
    Ok(Json(json!({
        "default_node_info": {
            "protocol_version": {"p2p": "8", "block": "11", "app": "0"},
            "default_node_id": "0000000000000000000000000000000000000000",
            "listen_addr": "",
            "network": chain_id,
            "version": "0.38.0",
            "channels": "",
            "moniker": "kumo-devnet",
            "other": {"tx_index": "on", "rpc_address": ""}
        },
        "application_version": {
            "name": "kumo-devnet",
            "app_name": "kumo-devnet",
            "version": env!("CARGO_PKG_VERSION"),
            "git_commit": "",
            "build_tags": "",
            "go_version": "",
            "build_deps": [],
            "cosmos_sdk_version": "v0.50"
        }
    })))
}

fn block_json(chain_id: &str, meta: &BlockMeta) -> Value {
    let hash = hex::decode(&meta.hash).unwrap_or_default();
    let block = json!({
        "header": {
            "version": {"block": "11", "app": "0"},
            "chain_id": chain_id,
            "height": meta.height.to_string(),
            "time": rfc3339(cosmwasm_std::Timestamp::from_nanos(meta.time_nanos)),
            "proposer_address": ""
        },
        "data": {"txs": []},
        "evidence": {"evidence": []},
        "last_commit": null
    });
    json!({
        "block_id": {"hash": STANDARD.encode(hash), "part_set_header": {"total": 1, "hash": ""}},
        "block": block,
        "sdk_block": block
    })
}

async fn latest_block(State(app): State<Shared>) -> ApiResult {
    let app = lock(&app);
    let meta = app
        .block(None)
        .ok_or_else(|| ApiError::not_found("no block yet"))?;
    Ok(Json(block_json(&app.config.chain_id, &meta)))
}

async fn block_at(State(app): State<Shared>, Path(height): Path<String>) -> ApiResult {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid height {height:?}")))?;
    let app = lock(&app);
    let meta = app.block(Some(height)).ok_or_else(|| {
        ApiError::invalid("requested block height is bigger then the chain length")
    })?;
    Ok(Json(block_json(&app.config.chain_id, &meta)))
}

async fn account(State(app): State<Shared>, Path(address): Path<String>) -> ApiResult {
    let app = lock(&app);
    let account = app
        .account(&address)
        .map_err(|e| ApiError::invalid(e.log))?
        .ok_or_else(|| ApiError::not_found(format!("account {address} not found")))?;
    let pub_key = account
        .pub_key
        .as_ref()
        .map(|k| json!({"@type": "/cosmos.crypto.secp256k1.PubKey", "key": STANDARD.encode(k)}));
    Ok(Json(json!({
        "account": {
            "@type": "/cosmos.auth.v1beta1.BaseAccount",
            "address": account.address,
            "pub_key": pub_key,
            "account_number": account.account_number.to_string(),
            "sequence": account.sequence.to_string()
        }
    })))
}

async fn balances(State(app): State<Shared>, Path(address): Path<String>) -> ApiResult {
    let coins = blocking(&app, move |app| {
        app.with_query(|e| e.all_balances(&address))
    })
    .await??;
    let total = coins.len();
    Ok(Json(json!({
        "balances": coins.iter().map(|c| json!({"denom": c.denom, "amount": c.amount.to_string()})).collect::<Vec<_>>(),
        "pagination": {"next_key": null, "total": total.to_string()}
    })))
}

#[derive(Deserialize)]
struct DenomQuery {
    denom: Option<String>,
}

async fn balance_by_denom(
    State(app): State<Shared>,
    Path(address): Path<String>,
    Query(q): Query<DenomQuery>,
) -> ApiResult {
    let denom = q
        .denom
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::invalid("invalid denom"))?;
    let d = denom.clone();
    let amount = blocking(&app, move |app| app.with_query(|e| e.balance(&address, &d))).await??;
    Ok(Json(
        json!({"balance": {"denom": denom, "amount": amount.to_string()}}),
    ))
}

async fn supply(State(app): State<Shared>, Query(q): Query<DenomQuery>) -> ApiResult {
    let denom = q
        .denom
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::invalid("invalid denom"))?;
    let d = denom.clone();
    let amount = blocking(&app, move |app| app.with_query(|e| e.supply(&d))).await??;
    Ok(Json(
        json!({"amount": {"denom": denom, "amount": amount.to_string()}}),
    ))
}

#[derive(Deserialize)]
struct TxBody {
    tx_bytes: Option<String>,
    mode: Option<String>,
}

fn events_json(events: &[Event]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
                json!({
                    "type": e.ty,
                    "attributes": e.attributes.iter().map(|a| json!({"key": a.key, "value": a.value, "index": true})).collect::<Vec<_>>()
                })
            })
            .collect(),
    )
}

fn tx_response_json(r: &TxResult, with_events: bool) -> Value {
    json!({
        "height": r.height.to_string(),
        "txhash": r.txhash,
        "codespace": r.codespace,
        "code": r.code,
        "data": r.data,
        "raw_log": r.raw_log,
        "logs": [],
        "info": "",
        "gas_wanted": r.gas_wanted.to_string(),
        "gas_used": r.gas_used.to_string(),
        "tx": null,
        "timestamp": r.timestamp,
        "events": if with_events { events_json(&r.events) } else { json!([]) }
    })
}

async fn simulate(State(app): State<Shared>, Json(body): Json<TxBody>) -> ApiResult {
    let bytes = b64_any(body.tx_bytes.as_deref().unwrap_or_default())?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("empty txBytes is not allowed"));
    }
    let r = blocking(&app, move |app| app.simulate(&bytes)).await?;
    if r.code != 0 {
        return Err(ApiError::unknown(format!(
            "{} With gas wanted: '{}' and gas used: '{}' ",
            r.raw_log, r.gas_wanted, r.gas_used
        )));
    }
    Ok(Json(json!({
        "gas_info": {"gas_wanted": r.gas_wanted.to_string(), "gas_used": r.gas_used.to_string()},
        "result": {
            "data": STANDARD.encode(hex::decode(&r.data).unwrap_or_default()),
            "log": "",
            "events": events_json(&r.events),
            "msg_responses": r.msg_responses.iter().map(|(t, v)| json!({"@type": t, "value": STANDARD.encode(v)})).collect::<Vec<_>>()
        }
    })))
}

async fn broadcast(State(app): State<Shared>, Json(body): Json<TxBody>) -> ApiResult {
    let bytes = b64_any(body.tx_bytes.as_deref().unwrap_or_default())?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("invalid empty tx"));
    }
    match body.mode.as_deref() {
        None | Some("BROADCAST_MODE_SYNC") | Some("BROADCAST_MODE_ASYNC") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "unsupported broadcast mode {other}; use BROADCAST_MODE_SYNC"
            )))
        }
    }
    let r = blocking(&app, move |app| app.broadcast(&bytes)).await?;
    Ok(Json(json!({"tx_response": tx_response_json(&r, false)})))
}

async fn get_tx(State(app): State<Shared>, Path(hash): Path<String>) -> ApiResult {
    let r = lock(&app)
        .tx(&hash)
        .ok_or_else(|| ApiError::not_found(format!("tx not found: {hash}")))?;
    Ok(Json(json!({
        "tx": {"tx_bytes": STANDARD.encode(&r.tx)},
        "tx_response": tx_response_json(&r, true)
    })))
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(rename = "pagination.key")]
    key: Option<String>,
    #[serde(rename = "pagination.limit")]
    limit: Option<String>,
}

impl PageQuery {
    fn limit(&self) -> Result<usize, ApiError> {
        match &self.limit {
            None => Ok(100),
            Some(l) => l
                .parse::<usize>()
                .map(|l| if l == 0 { 100 } else { l.min(1000) })
                .map_err(|_| ApiError::invalid(format!("invalid pagination.limit {l:?}"))),
        }
    }
    fn start(&self) -> Result<Option<Vec<u8>>, ApiError> {
        self.key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(b64_any)
            .transpose()
    }
}

/// One page of keys under a prefix, with grpc-gateway's `next_key`.
fn page(app: &App, pfx: &[u8], q: &PageQuery) -> Result<crate::store::PrefixPage, ApiError> {
    let limit = q.limit()?;
    let start = q.start()?.unwrap_or_default();
    Ok(crate::state::lock(&app.engine.ctx)
        .store
        .prefix_page(pfx, &start, limit))
}

fn pagination(next: Option<Vec<u8>>) -> Value {
    json!({"next_key": next.map(|k| STANDARD.encode(k)), "total": "0"})
}

fn code_info_json(info: &crate::state::CodeInfo) -> Value {
    json!({
        "code_id": info.code_id.to_string(),
        "creator": info.creator,
        "data_hash": info.checksum.to_uppercase(),
        "instantiate_permission": {"permission": "Everybody", "addresses": []}
    })
}

async fn codes(State(app): State<Shared>, Query(q): Query<PageQuery>) -> ApiResult {
    let app = lock(&app);
    let (items, next) = page(&app, &key(prefix::CODE, &[]), &q)?;
    let infos: Vec<Value> = items
        .iter()
        .filter_map(|(_, v)| serde_json::from_slice::<crate::state::CodeInfo>(v).ok())
        .map(|i| code_info_json(&i))
        .collect();
    Ok(Json(
        json!({"code_infos": infos, "pagination": pagination(next)}),
    ))
}

fn parse_id(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid(format!("invalid code id {id:?}")))
}

async fn code(State(app): State<Shared>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    let app = lock(&app);
    let info = app
        .with_query(|e| e.code_info(id))
        .map_err(|_| ApiError::not_found(format!("no such code: {id}")))?;
    let checksum = cosmwasm_std::Checksum::from_hex(&info.checksum)
        .map_err(|e| ApiError::unknown(e.to_string()))?;
    let wasm = app
        .engine
        .cache
        .load_wasm(&checksum)
        .map_err(|e| ApiError::unknown(e.to_string()))?;
    Ok(Json(
        json!({"code_info": code_info_json(&info), "data": STANDARD.encode(wasm)}),
    ))
}

async fn contracts_by_code(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let app = lock(&app);
    let (items, next) = page(
        &app,
        &key(prefix::CONTRACT_BY_CODE, &[&id.to_be_bytes()]),
        &q,
    )?;
    let contracts: Vec<String> = items
        .iter()
        .filter_map(|(k, _)| app.engine.api.humanize(k).ok())
        .collect();
    Ok(Json(
        json!({"contracts": contracts, "pagination": pagination(next)}),
    ))
}

async fn pinned(State(app): State<Shared>, Query(q): Query<PageQuery>) -> ApiResult {
    let app = lock(&app);
    let (items, next) = page(&app, &key(prefix::PINNED, &[]), &q)?;
    let ids: Vec<String> = items
        .iter()
        .filter_map(|(k, _)| <[u8; 8]>::try_from(k.as_slice()).ok())
        .map(|b| u64::from_be_bytes(b).to_string())
        .collect();
    Ok(Json(
        json!({"code_ids": ids, "pagination": pagination(next)}),
    ))
}

async fn contract(State(app): State<Shared>, Path(address): Path<String>) -> ApiResult {
    let app = lock(&app);
    let info = app.with_query(|e| e.contract_info(&address))?;
    Ok(Json(json!({
        "address": address,
        "contract_info": {
            "code_id": info.code_id.to_string(),
            "creator": info.creator,
            "admin": info.admin.unwrap_or_default(),
            "label": info.label,
            "created": {"block_height": info.created_height.to_string(), "tx_index": "0"},
            "ibc_port_id": "",
            "extension": null
        }
    })))
}

async fn smart(
    State(app): State<Shared>,
    Path((address, query)): Path<(String, String)>,
) -> ApiResult {
    let msg = b64_any(&query)?;
    if serde_json::from_slice::<Value>(&msg).is_err() {
        return Err(ApiError::invalid("query data must be json"));
    }
    let data = blocking(&app, move |app| {
        app.with_query(|e| e.query_smart(&address, &msg))
    })
    .await?;
    let data = data.map_err(|e| match (e.codespace.as_str(), e.code) {
        ("sdk", 7) => ApiError::invalid(e.log),
        ("wasm", 8) | ("wasm", 22) => ApiError::not_found(e.log),
        _ => ApiError::unknown(e.log),
    })?;
    let value: Value =
        serde_json::from_slice(&data).map_err(|e| ApiError::unknown(e.to_string()))?;
    Ok(Json(json!({"data": value})))
}

async fn raw(State(app): State<Shared>, Path((address, k)): Path<(String, String)>) -> ApiResult {
    let k = b64_any(&k)?;
    let app = lock(&app);
    app.with_query(|e| e.contract_info(&address))?;
    let value = app.with_query(|e| e.query_raw(&address, &k))?;
    Ok(Json(json!({"data": value.map(|v| STANDARD.encode(v))})))
}

/// A running devnet: the chain, its block timer and its REST server.
pub struct Devnet {
    pub app: Shared,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    blocks: Option<tokio::task::JoinHandle<()>>,
}

impl Devnet {
    /// Serves `app` on `addr` (port 0 picks a free port) and produces a block every
    /// `block_time`.
    pub async fn serve(app: App, addr: SocketAddr, block_time: Duration) -> Result<Devnet, String> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            format!("cannot listen on {addr}: {e}; is another node using the port?")
        })?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let app: Shared = Arc::new(Mutex::new(app));
        let (tx, rx) = oneshot::channel::<()>();
        let router = router(app.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let chain = app.clone();
        let blocks = tokio::spawn(async move {
            let mut tick = tokio::time::interval(block_time);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let chain = chain.clone();
                let produced =
                    tokio::task::spawn_blocking(move || lock(&chain).produce_block()).await;
                if let Ok(Err(e)) = produced {
                    eprintln!("kumo-devnet: block production stopped: {e}");
                    return;
                }
            }
        });
        Ok(Devnet {
            app,
            url: format!("http://{local}"),
            shutdown: Some(tx),
            server: Some(server),
            blocks: Some(blocks),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn app(&self) -> std::sync::MutexGuard<'_, App> {
        lock(&self.app)
    }

    /// Stops producing blocks and serving; state is already on disk.
    pub async fn stop(mut self) {
        if let Some(b) = self.blocks.take() {
            b.abort();
            let _ = b.await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Some(b) = &self.blocks {
            b.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
