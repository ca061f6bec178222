//! Talking to providers' lease APIs: `send-manifest`, the provider half of `status`, `logs`.
//!
//! Each provider's host URI and TLS SPKI pins come from the registry; the connection is rustls
//! accepting only a certificate whose key has one of those pins (no CA is trusted). Requests
//! carry an ES256K JWT signed by the tenant's key, scoped to what the command needs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use clap::Args;
use kumo::market::{Lease, LeaseState};
use kumo::registry;
use kumo_chain::{Client, Key, KumoContracts};
use kumo_provider::auth::{self, Claims, Scope};
use kumo_provider::gateway::pinned_client_config;
use serde_json::{json, Value};

use crate::ctx::{self, Globals};
use crate::tenant;

/// Tokens live this long (seconds); a command makes its requests at once.
const TOKEN_TTL: u64 = 300;

#[derive(Debug, Args)]
pub struct SendManifestArgs {
    /// The SDL the deployment was created from.
    pub sdl: PathBuf,
    #[arg(long)]
    pub dseq: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The deployment [default: list the signer's deployments]
    pub dseq: Option<u64>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub dseq: u64,
    /// Only this service (repeat for several).
    #[arg(long)]
    pub service: Vec<String>,
    /// Keep streaming new lines.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// The last N lines of each replica.
    #[arg(long)]
    pub tail: Option<u64>,
}

/// One provider's lease API.
struct ProviderApi {
    address: String,
    base: String,
    http: reqwest::Client,
}

impl ProviderApi {
    async fn connect(
        g: &Globals,
        client: &Client,
        contracts: &KumoContracts,
        provider: &str,
    ) -> anyhow::Result<ProviderApi> {
        let r: registry::ProviderResponse = g
            .query(
                client,
                &contracts.registry,
                &registry::QueryMsg::Provider {
                    address: provider.to_string(),
                },
            )
            .await
            .with_context(|| format!("looking up provider {provider} in the registry"))?;
        let p = r.provider;
        let pins: Vec<[u8; 32]> = p
            .tls_pins
            .iter()
            .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
            .collect();
        if pins.is_empty() {
            bail!(
                "provider {provider} has no TLS pin in the registry, so its lease API cannot be trusted: it must publish one (`kumo provider keys set-tls-pins PIN`)"
            );
        }
        let base = p.host_uri.trim_end_matches('/').to_string();
        if !base.starts_with("https://") {
            bail!("provider {provider}'s host URI {base:?} is not https://: its lease API is served over TLS only");
        }
        let tls =
            pinned_client_config(&pins).map_err(|e| anyhow!("TLS for provider {provider}: {e}"))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(ProviderApi {
            address: provider.to_string(),
            base,
            http,
        })
    }

    fn token(key: &Key, me: &str, scope: Scope) -> String {
        let claims = Claims::scoped(me, auth::unix_now(), TOKEN_TTL, &[scope]);
        auth::issue_with_chain_key(key, &claims)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| {
            anyhow!(
                "cannot reach provider {} at {} ({}): is its agent running, and does its certificate match the pin in the registry?",
                self.address,
                self.base,
                describe(&e)
            )
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or(body);
        bail!(
            "provider {} answered HTTP {}: {message}",
            self.address,
            status.as_u16()
        )
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The live leases, grouped by provider.
fn by_provider(leases: &[Lease]) -> BTreeMap<String, Vec<&Lease>> {
    let mut m: BTreeMap<String, Vec<&Lease>> = BTreeMap::new();
    for l in leases {
        m.entry(l.id.provider.to_string()).or_default().push(l);
    }
    m
}

pub fn send_manifest(g: &Globals, args: SendManifestArgs) -> anyhow::Result<ExitCode> {
    let sdl = tenant::load_sdl(&args.sdl)?;
    let contracts = g.contracts()?;
    let client = g.client()?;
    tenant::runtime_block(async move {
        let (key, me) = tenant::signer(g)?;
        let (d, leases) = tenant::live_leases(g, &client, &contracts, &me, args.dseq).await?;
        let version = sdl.version_hex();
        if d.deployment.version.to_hex() != version {
            bail!(
                "{} has manifest version {}, but deployment {} was created with {}: send the SDL it was created from",
                args.sdl.display(),
                &version[..16],
                args.dseq,
                &d.deployment.version.to_hex()[..16.min(d.deployment.version.to_hex().len())]
            );
        }
        if leases.is_empty() {
            bail!(
                "deployment {} has no active lease yet: accept a bid with `kumo lease create {} --provider ADDR`",
                args.dseq,
                args.dseq
            );
        }
        let body = serde_json::to_vec(&sdl.manifest)?;
        let mut results = vec![];
        let mut text = String::new();
        for provider in by_provider(&leases).keys() {
            let api = ProviderApi::connect(g, &client, &contracts, provider).await?;
            let token = ProviderApi::token(&key, &me, Scope::SendManifest);
            let url = format!("{}/deployment/{}/manifest", api.base, args.dseq);
            let resp = ctx::spin(
                format!("sending the manifest to {provider} and waiting for the deploy"),
                api.send(
                    api.http
                        .put(&url)
                        .bearer_auth(token)
                        .header("content-type", "application/json")
                        .body(body.clone()),
                ),
            )
            .await?;
            let answer: Value = resp.json().await.context("reading the provider's answer")?;
            text.push_str(&format!(
                "{provider}: {}\n",
                answer["status"].as_str().unwrap_or("sent")
            ));
            if let Some(ls) = answer["leases"].as_array() {
                for l in ls {
                    text.push_str(&format!(
                        "  {} group {}: {}\n",
                        l["lease"].as_str().unwrap_or_default(),
                        l["group"].as_str().unwrap_or_default(),
                        l["outcome"].as_str().unwrap_or_default()
                    ));
                }
            }
            results.push(json!({"provider": provider, "response": answer}));
        }
        text.push_str(&format!("next: `kumo status {}`", args.dseq));
        g.emit(
            json!({"dseq": args.dseq, "version": version, "providers": results}),
            || text,
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn status(g: &Globals, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let contracts = g.contracts()?;
    let client = g.client()?;
    tenant::runtime_block(async move {
        let (key, me) = tenant::signer(g)?;
        let Some(dseq) = args.dseq else {
            tenant::list_deployments(g, &client, &contracts, &me).await?;
            return Ok(ExitCode::SUCCESS);
        };
        let (mut doc, mut text, leases) =
            tenant::chain_status(g, &client, &contracts, &me, dseq).await?;
        let live: Vec<Lease> = leases
            .into_iter()
            .filter(|l| matches!(l.state, LeaseState::Active | LeaseState::Reclaiming))
            .collect();
        let mut statuses = vec![];
        for (provider, ls) in by_provider(&live) {
            let api = match ProviderApi::connect(g, &client, &contracts, &provider).await {
                Ok(a) => a,
                Err(e) => {
                    text.push_str(&format!("{provider}: {e:#}\n"));
                    statuses.push(json!({"provider": provider, "error": format!("{e:#}")}));
                    continue;
                }
            };
            for l in ls {
                let url = format!(
                    "{}/lease/{}/{}/{}/status",
                    api.base, l.id.dseq, l.id.gseq, l.id.oseq
                );
                let token = ProviderApi::token(&key, &me, Scope::Status);
                let answer = ctx::spin(
                    format!("asking {provider} for the status of lease {}", l.id),
                    async {
                        let r = api.send(api.http.get(&url).bearer_auth(token)).await?;
                        r.json::<Value>().await.map_err(anyhow::Error::from)
                    },
                )
                .await;
                match answer {
                    Ok(v) => {
                        text.push_str(&lease_text(&l.id.to_string(), &v));
                        statuses.push(json!({"lease": l.id, "provider": provider, "status": v}));
                    }
                    Err(e) => {
                        text.push_str(&format!("lease {}: {e:#}\n", l.id));
                        statuses.push(
                            json!({"lease": l.id, "provider": provider, "error": format!("{e:#}")}),
                        );
                    }
                }
            }
        }
        doc["lease_status"] = json!(statuses);
        g.emit(doc, || text);
        Ok(ExitCode::SUCCESS)
    })
}

fn lease_text(lease: &str, v: &Value) -> String {
    let mut s = format!(
        "lease {lease}: {}\n",
        if v["ready"].as_bool() == Some(true) {
            "ready"
        } else {
            "starting"
        }
    );
    if let Some(services) = v["services"].as_object() {
        for (name, sv) in services {
            let uris: Vec<&str> = sv["uris"]
                .as_array()
                .map(|a| a.iter().filter_map(|u| u.as_str()).collect())
                .unwrap_or_default();
            s.push_str(&format!(
                "  {name}: {}/{} ready{}\n",
                sv["ready"],
                sv["total"],
                if uris.is_empty() {
                    String::new()
                } else {
                    format!(", {}", uris.join(" "))
                }
            ));
        }
    }
    if let Some(ports) = v["forwarded_ports"].as_object() {
        for (name, ps) in ports {
            for p in ps.as_array().into_iter().flatten() {
                s.push_str(&format!(
                    "  {name}: port {} -> {}:{} ({})\n",
                    p["port"],
                    p["host"].as_str().unwrap_or_default(),
                    p["host_port"],
                    p["proto"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    s
}

pub fn logs(g: &Globals, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let contracts = g.contracts()?;
    let client = g.client()?;
    tenant::runtime_block(async move {
        let (key, me) = tenant::signer(g)?;
        let (_, leases) = tenant::live_leases(g, &client, &contracts, &me, args.dseq).await?;
        if leases.is_empty() {
            bail!(
                "deployment {} has no active lease, so nothing runs: see `kumo status {}`",
                args.dseq,
                args.dseq
            );
        }
        let mut query: Vec<(String, String)> = vec![("follow".into(), args.follow.to_string())];
        if !args.service.is_empty() {
            query.push(("service".into(), args.service.join(",")));
        }
        if let Some(t) = args.tail {
            query.push(("tail".into(), t.to_string()));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (provider, ls) in by_provider(&leases) {
            let api =
                std::sync::Arc::new(ProviderApi::connect(g, &client, &contracts, &provider).await?);
            for l in ls {
                let url = format!(
                    "{}/lease/{}/{}/{}/logs",
                    api.base, l.id.dseq, l.id.gseq, l.id.oseq
                );
                let token = ProviderApi::token(&key, &me, Scope::Logs);
                let req = api.http.get(&url).query(&query).bearer_auth(token);
                let resp = api.send(req).await?;
                let json = g.json();
                tasks.spawn(stream_lines(resp, json));
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| anyhow!("log stream task: {e}"))??;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints a lease's NDJSON log stream: each object as is (`--output json`) or as
/// `service[replica]: message`.
async fn stream_lines(mut resp: reqwest::Response, json: bool) -> anyhow::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let print = |line: &[u8]| -> anyhow::Result<()> {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        let v: Value = serde_json::from_str(line).unwrap_or(Value::String(line.to_string()));
        if let Some(err) = v.get("error").and_then(Value::as_str) {
            bail!("the provider's log stream failed: {err}");
        }
        if json {
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{}[{}]: {}",
                v["service"].as_str().unwrap_or("?"),
                v["replica"],
                v["message"].as_str().unwrap_or(line)
            )?;
        }
        out.flush()?;
        Ok(())
    };
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| anyhow!("reading the log stream: {}", describe(&e)))?
    {
        buf.extend_from_slice(&chunk);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            print(&line)?;
        }
    }
    print(&buf)?;
    Ok(())
}
