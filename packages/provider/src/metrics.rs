//! Prometheus metrics of the agent, in the text exposition format (0.0.4), served on their own
//! plain-HTTP listener at `GET /metrics` (keep it on a private address: it is not
//! authenticated).
//!
//! Hand-written rather than with a metrics crate: a dozen counters and two gauges updated from
//! one place (each [`TickReport`] and each failed tick) need no registry.
//!
//! | Metric | Type | What |
//! | --- | --- | --- |
//! | `kumo_provider_ticks_total` | counter | agent passes that completed |
//! | `kumo_provider_tick_errors_total` | counter | agent passes that failed (chain unreachable, ...) |
//! | `kumo_provider_orders_seen_total` | counter | open orders looked at, summed over passes |
//! | `kumo_provider_bids_placed_total` | counter | bids sent and accepted by the chain |
//! | `kumo_provider_bids_declined_total{policy,reason}` | counter | orders not bid on, by the bid engine's policy and decline code |
//! | `kumo_provider_bids_refused_total` | counter | bids the chain refused |
//! | `kumo_provider_bids_closed_total` | counter | own bids closed after the bid timeout |
//! | `kumo_provider_leases_deployed_total` | counter | leases the agent deployed from stored manifests |
//! | `kumo_provider_leases_closed_total{reason}` | counter | leases the agent closed, by reason |
//! | `kumo_provider_leases_torn_down_total` | counter | leases removed from the backend |
//! | `kumo_provider_withdrawals_total` | counter | `WithdrawLease` transactions sent |
//! | `kumo_provider_heartbeats_total` | counter | heartbeats sent |
//! | `kumo_provider_leases_active` | gauge | active leases on chain after the last pass |
//! | `kumo_provider_heartbeat_lag_seconds` | gauge | seconds since the last heartbeat (since start before the first); absent on a suite without staking, where no heartbeats are sent |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::agent::TickReport;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest label value kept from a free-text reason; longer ones are counted as `other`.
const MAX_LABEL: usize = 64;

/// The agent's counters and gauges. Shared (`Arc`) between the agent loop and the server.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    inner: Mutex<Inner>,
}

/// Whether heartbeats are expected (a suite with a staking contract).
#[derive(Debug, Default)]
struct Flags {
    no_heartbeats: bool,
}

#[derive(Debug, Default)]
struct Inner {
    ticks: u64,
    tick_errors: u64,
    orders_seen: u64,
    bids_placed: u64,
    declined: BTreeMap<(String, String), u64>,
    refused: u64,
    bids_closed: u64,
    leases_deployed: u64,
    leases_closed: BTreeMap<String, u64>,
    torn_down: u64,
    withdrawals: u64,
    heartbeats: u64,
    leases_active: u64,
    last_heartbeat: Option<Instant>,
    flags: Flags,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts what one agent pass did.
    pub fn observe(&self, report: &TickReport) {
        self.observe_at(report, Instant::now());
    }

    /// [`Metrics::observe`] at a given time (the heartbeat's).
    pub fn observe_at(&self, report: &TickReport, now: Instant) {
        let mut m = self.lock();
        m.ticks += 1;
        m.orders_seen += report.orders_seen as u64;
        m.bids_placed += report.bids_placed.len() as u64;
        for (_, why) in &report.declined {
            *m.declined.entry(decline_labels(why)).or_default() += 1;
        }
        m.refused += report.refused.len() as u64;
        m.bids_closed += report.bids_closed.len() as u64;
        m.leases_deployed += report.leases_deployed.len() as u64;
        for (_, why) in &report.leases_closed {
            *m.leases_closed.entry(reason_label(why)).or_default() += 1;
        }
        m.torn_down += report.torn_down.len() as u64;
        m.withdrawals += report.withdrawals as u64;
        if report.heartbeat {
            m.heartbeats += 1;
            m.last_heartbeat = Some(now);
        }
        m.leases_active = report.active_leases as u64;
    }

    /// No heartbeats are sent (the suite has no staking contract): the lag gauge is left out
    /// rather than growing forever.
    pub fn without_heartbeats(self) -> Metrics {
        self.lock().flags.no_heartbeats = true;
        self
    }

    /// Counts a pass that failed.
    pub fn tick_failed(&self) {
        self.lock().tick_errors += 1;
    }

    /// The exposition text now.
    pub fn render(&self) -> String {
        self.render_at(Instant::now())
    }

    /// The exposition text as of `now` (the heartbeat lag depends on it).
    pub fn render_at(&self, now: Instant) -> String {
        let m = self.lock();
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "kumo_provider_ticks_total",
            "Agent passes that completed.",
            m.ticks,
        );
        counter(
            &mut out,
            "kumo_provider_tick_errors_total",
            "Agent passes that failed (the loop goes on).",
            m.tick_errors,
        );
        counter(
            &mut out,
            "kumo_provider_orders_seen_total",
            "Open orders looked at, summed over passes.",
            m.orders_seen,
        );
        counter(
            &mut out,
            "kumo_provider_bids_placed_total",
            "Bids the chain accepted.",
            m.bids_placed,
        );
        let name = "kumo_provider_bids_declined_total";
        let _ = writeln!(
            out,
            "# HELP {name} Orders not bid on, by bid engine policy and decline code.\n# TYPE {name} counter"
        );
        for ((policy, reason), n) in &m.declined {
            let _ = writeln!(
                out,
                "{name}{{policy=\"{}\",reason=\"{}\"}} {n}",
                escape(policy),
                escape(reason)
            );
        }
        counter(
            &mut out,
            "kumo_provider_bids_refused_total",
            "Bids the chain refused.",
            m.refused,
        );
        counter(
            &mut out,
            "kumo_provider_bids_closed_total",
            "Own bids closed after the bid timeout.",
            m.bids_closed,
        );
        counter(
            &mut out,
            "kumo_provider_leases_deployed_total",
            "Leases deployed from stored manifests.",
            m.leases_deployed,
        );
        let name = "kumo_provider_leases_closed_total";
        let _ = writeln!(
            out,
            "# HELP {name} Leases the agent closed, by reason.\n# TYPE {name} counter"
        );
        for (reason, n) in &m.leases_closed {
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {n}", escape(reason));
        }
        counter(
            &mut out,
            "kumo_provider_leases_torn_down_total",
            "Leases removed from the backend.",
            m.torn_down,
        );
        counter(
            &mut out,
            "kumo_provider_withdrawals_total",
            "WithdrawLease transactions sent.",
            m.withdrawals,
        );
        counter(
            &mut out,
            "kumo_provider_heartbeats_total",
            "Heartbeats sent to the staking contract.",
            m.heartbeats,
        );
        let name = "kumo_provider_leases_active";
        let _ = writeln!(
            out,
            "# HELP {name} Active leases of this provider on chain after the last pass.\n# TYPE {name} gauge\n{name} {}",
            m.leases_active
        );
        if !m.flags.no_heartbeats {
            let since = m.last_heartbeat.unwrap_or(self.started);
            let lag = now.saturating_duration_since(since).as_secs_f64();
            let name = "kumo_provider_heartbeat_lag_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Seconds since the last heartbeat (since the agent started, before the first).\n# TYPE {name} gauge\n{name} {lag:.3}"
            );
        }
        out
    }

    /// `GET /metrics` (anything else is a 404).
    pub fn router(self: &Arc<Self>) -> Router {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { exposition(&metrics) }
            }),
        )
    }

    /// Listens on `addr` (plain HTTP) and serves [`Metrics::router`] in a background task
    /// until [`RunningMetrics::shutdown`] or `shutdown` completes.
    pub async fn start(
        self: &Arc<Self>,
        addr: SocketAddr,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<RunningMetrics> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = self.router();
        let task = tokio::spawn(async move {
            let signal = async move {
                tokio::select! {
                    _ = stopped => {}
                    _ = shutdown => {}
                }
            };
            axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await
        });
        tracing::info!(addr = %local_addr, "metrics listening on /metrics");
        Ok(RunningMetrics {
            local_addr,
            stop: Some(stop),
            task,
        })
    }
}

fn exposition(metrics: &Metrics) -> Response {
    let mut response = metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// A server started by [`Metrics::start`].
pub struct RunningMetrics {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningMetrics {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// The agent reports a decline as `policy (code): reason`; the labels are the policy and the
/// code (both from small fixed sets). Anything else counts as `unknown`/`other`.
pub fn decline_labels(text: &str) -> (String, String) {
    let parsed = text.split_once(": ").and_then(|(head, _)| {
        let (policy, rest) = head.split_once(" (")?;
        let code = rest.strip_suffix(')')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= MAX_LABEL
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        (ok(policy) && ok(code)).then(|| (policy.to_string(), code.to_string()))
    });
    parsed.unwrap_or_else(|| ("unknown".to_string(), "other".to_string()))
}

/// A close reason as a label: the text before its first `:` (e.g. `manifest-timeout` of
/// `manifest-timeout: no manifest within 300 s`), or `other` if that is long or empty.
pub fn reason_label(text: &str) -> String {
    let head = text.split(':').next().unwrap_or("").trim();
    if head.is_empty() || head.len() > MAX_LABEL {
        "other".to_string()
    } else {
        head.to_string()
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
