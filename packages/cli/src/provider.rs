//! `kumo provider ...`: a provider's registration, bond, and lease-API keys and TLS pins in the
//! registry.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use cosmwasm_std::{Binary, Coin, HexBinary, Uint128};
use kumo::registry::{self, KeyAlgorithm, NewApiKey, ProviderInfo};
use kumo::{staking, Attribute, Denom};
use serde_json::json;

use crate::ctx::{self, Globals};
use crate::tenant::runtime_block;

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Register the signer as a provider.
    Register(ProviderArgs),
    /// Replace the signer's host URI, attributes and info.
    Update(ProviderArgs),
    /// Stop bidding and leave the registry once no lease is active.
    Deregister {
        /// Finish a deregistration begun earlier (fails while leases are active).
        #[arg(long, conflicts_with = "cancel")]
        finish: bool,
        /// Return to active.
        #[arg(long)]
        cancel: bool,
    },
    /// Bond stake (needed to bid), e.g. 10000000ukumo.
    Bond {
        amount: String,
        /// Bond this CW20 token (the amount's denom is ignored).
        #[arg(long)]
        cw20: Option<String>,
    },
    /// Start unbonding an amount of the bond (released after the unbonding period).
    Unbond { amount: String },
    /// Show a provider's registration and bond [default: the signer's].
    Show { address: Option<String> },
    /// The lease API's signing keys and TLS pins in the registry.
    #[command(subcommand)]
    Keys(ProviderKeysCommand),
    /// Run the provider agent until Ctrl-C (as `kumo-provider run`).
    Run {
        /// The agent's TOML configuration (`kumo-provider example-config` prints a commented one).
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ProviderArgs {
    /// Where the lease API is served, e.g. https://provider.example.com:8443
    #[arg(long)]
    pub host_uri: String,
    /// An attribute KEY=VALUE (repeat), e.g. --attr region=eu-west
    #[arg(long = "attr")]
    pub attributes: Vec<String>,
    #[arg(long, default_value = "")]
    pub email: String,
    #[arg(long, default_value = "")]
    pub website: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Algorithm {
    Es256k,
    Ed25519,
}

#[derive(Debug, Subcommand)]
pub enum ProviderKeysCommand {
    /// List the signer's (or ADDR's) API keys and TLS pins.
    List { address: Option<String> },
    /// Add a key the lease API signs tokens with.
    AddApiKey {
        /// The JWT `kid`.
        #[arg(long)]
        id: String,
        #[arg(long, value_enum, default_value = "es256k")]
        algorithm: Algorithm,
        /// The public key in hex [default: the signer's own secp256k1 key]
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Revoke an API key at once.
    RevokeApiKey { id: String },
    /// Replace the TLS pins: hex SHA-256 of the certificates' SubjectPublicKeyInfo (the agent
    /// prints its pin when it starts).
    SetTlsPins {
        #[arg(required = true)]
        pins: Vec<String>,
    },
}

fn parse_attributes(list: &[String]) -> anyhow::Result<Vec<Attribute>> {
    list.iter()
        .map(|a| {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| anyhow!("attribute {a:?} is not KEY=VALUE"))?;
            Ok(Attribute {
                key: k.to_string(),
                value: v.to_string(),
            })
        })
        .collect()
}

/// An amount: `10000000ukumo`, or bare digits.
fn amount_of(s: &str) -> anyhow::Result<u128> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits
        .parse()
        .map_err(|_| anyhow!("{s:?} is not an amount: write it like 10000000ukumo"))
}

pub fn run(g: &Globals, cmd: ProviderCommand) -> anyhow::Result<ExitCode> {
    if let ProviderCommand::Run { config } = cmd {
        return run_agent(&config);
    }
    let contracts = g.contracts()?;
    let client = g.client()?;
    runtime_block(async move {
        let (_, key) = g.key()?;
        let me = g.address(&key)?;
        let reg = &contracts.registry;
        let (tx, what) = match cmd {
            ProviderCommand::Register(a) | ProviderCommand::Update(a) if a.host_uri.is_empty() => {
                bail!("--host-uri must not be empty")
            }
            ProviderCommand::Register(a) => {
                let msg = registry::ExecuteMsg::RegisterProvider {
                    host_uri: a.host_uri,
                    attributes: parse_attributes(&a.attributes)?,
                    info: ProviderInfo {
                        email: a.email,
                        website: a.website,
                    },
                };
                let tx = g.exec(&client, &key, reg, &msg, &[], "registering").await?;
                (tx, format!("registered provider {me}"))
            }
            ProviderCommand::Update(a) => {
                let msg = registry::ExecuteMsg::UpdateProvider {
                    host_uri: a.host_uri,
                    attributes: parse_attributes(&a.attributes)?,
                    info: ProviderInfo {
                        email: a.email,
                        website: a.website,
                    },
                };
                let tx = g.exec(&client, &key, reg, &msg, &[], "updating").await?;
                (tx, format!("updated provider {me}"))
            }
            ProviderCommand::Deregister { finish, cancel } => {
                let (msg, what) = if finish {
                    (
                        registry::ExecuteMsg::FinishDeregistration {},
                        "deregistered",
                    )
                } else if cancel {
                    (
                        registry::ExecuteMsg::CancelDeregistration {},
                        "cancelled the deregistration of",
                    )
                } else {
                    (
                        registry::ExecuteMsg::BeginDeregistration {},
                        "began deregistering (finish with `kumo provider deregister --finish` once no lease is active)",
                    )
                };
                g.confirm(&format!("Deregistration of {me}:"))?;
                let tx = g
                    .exec(&client, &key, reg, &msg, &[], "deregistering")
                    .await?;
                (tx, format!("{what} provider {me}"))
            }
            ProviderCommand::Bond { amount, cw20 } => {
                check_bond_denom(g, &client, &contracts, &amount, cw20.as_deref()).await?;
                let tx = match cw20 {
                    Some(token) => {
                        let n = amount_of(&amount)?;
                        crate::tenant::check_cw20_balance(g, &client, &token, &me, n).await?;
                        let msg = json!({"send": {
                            "contract": contracts.staking,
                            "amount": Uint128::new(n).to_string(),
                            "msg": Binary::from(serde_json::to_vec(&staking::ReceiveMsg::Bond {})?),
                        }});
                        g.exec(&client, &key, &token, &msg, &[], "bonding").await?
                    }
                    None => {
                        let (n, denom) = ctx::parse_coin(&amount)?;
                        g.exec(
                            &client,
                            &key,
                            &contracts.staking,
                            &staking::ExecuteMsg::Bond {},
                            &[Coin::new(n, denom)],
                            "bonding",
                        )
                        .await?
                    }
                };
                (tx, format!("bonded {amount} for provider {me}"))
            }
            ProviderCommand::Unbond { amount } => {
                let n = amount_of(&amount)?;
                let tx = g
                    .exec(
                        &client,
                        &key,
                        &contracts.staking,
                        &staking::ExecuteMsg::Unbond {
                            amount: Uint128::new(n),
                        },
                        &[],
                        "unbonding",
                    )
                    .await?;
                (tx, format!("unbonding {amount} of provider {me}"))
            }
            ProviderCommand::Run { .. } => unreachable!("handled before connecting"),
            ProviderCommand::Show { address } => {
                let addr = address.unwrap_or(me);
                show(g, &client, &contracts, &addr, false).await?;
                return Ok(ExitCode::SUCCESS);
            }
            ProviderCommand::Keys(ProviderKeysCommand::List { address }) => {
                let addr = address.unwrap_or(me);
                show(g, &client, &contracts, &addr, true).await?;
                return Ok(ExitCode::SUCCESS);
            }
            ProviderCommand::Keys(ProviderKeysCommand::AddApiKey {
                id,
                algorithm,
                public_key,
            }) => {
                let pk = match public_key {
                    Some(h) => hex::decode(h.trim())
                        .map_err(|e| anyhow!("--public-key is not hex: {e}"))?,
                    None => key.public_key_bytes().to_vec(),
                };
                let msg = registry::ExecuteMsg::AddApiKey {
                    key: NewApiKey {
                        id: id.clone(),
                        algorithm: match algorithm {
                            Algorithm::Es256k => KeyAlgorithm::Es256k,
                            Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
                        },
                        public_key: Binary::from(pk),
                    },
                };
                let tx = g
                    .exec(&client, &key, reg, &msg, &[], "adding the API key")
                    .await?;
                (tx, format!("added API key {id:?} to provider {me}"))
            }
            ProviderCommand::Keys(ProviderKeysCommand::RevokeApiKey { id }) => {
                let msg = registry::ExecuteMsg::RevokeApiKey { id: id.clone() };
                let tx = g
                    .exec(&client, &key, reg, &msg, &[], "revoking the API key")
                    .await?;
                (tx, format!("revoked API key {id:?} of provider {me}"))
            }
            ProviderCommand::Keys(ProviderKeysCommand::SetTlsPins { pins }) => {
                let pins = pins
                    .iter()
                    .map(|p| {
                        let bytes = hex::decode(p.trim()).ok().filter(|b| b.len() == 32);
                        bytes.map(HexBinary::from).ok_or_else(|| {
                            anyhow!("TLS pin {p:?} is not 64 hex digits (the SHA-256 of the certificate's SubjectPublicKeyInfo)")
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let n = pins.len();
                let msg = registry::ExecuteMsg::SetTlsPins { pins };
                let tx = g
                    .exec(&client, &key, reg, &msg, &[], "setting the TLS pins")
                    .await?;
                (tx, format!("set {n} TLS pin(s) of provider {me}"))
            }
        };
        g.emit(
            json!({"provider": g.address(&key)?, "txhash": tx.txhash, "height": tx.height}),
            || format!("{what} (tx {})", tx.txhash),
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Fails, saying what to pass, unless the bond is paid in the staking contract's bond denom:
/// `cw20` (a token address) for a CW20 bond, else the denom of `amount`.
async fn check_bond_denom(
    g: &Globals,
    client: &kumo_chain::Client,
    contracts: &kumo_chain::KumoContracts,
    amount: &str,
    cw20: Option<&str>,
) -> anyhow::Result<()> {
    if contracts.staking.is_empty() {
        bail!(
            "the suite file {} has no staking contract, so there is nothing to bond: deploy the suite with `kumo deploy-suite --staking`, or pass --suite FILE naming one",
            g.suite_path()?.display()
        );
    }
    if let Some(token) = cw20 {
        crate::tenant::check_cw20_token(g, client, token).await?;
    }
    let config: staking::ConfigResponse = g
        .query(client, &contracts.staking, &staking::QueryMsg::Config {})
        .await?;
    match (&config.params.bond_denom, cw20) {
        (Denom::Native(d), Some(token)) => bail!(
            "the staking contract bonds {d}, not the CW20 token {token}: bond {d} without --cw20, e.g. `kumo provider bond {}{d}`",
            config.params.min_bond
        ),
        (Denom::Cw20(t), Some(token)) if t.as_str() != token => bail!(
            "the staking contract bonds the CW20 token {t}, not {token}: pass --cw20 {t}"
        ),
        (Denom::Cw20(t), None) => bail!(
            "the staking contract bonds the CW20 token {t}: pass --cw20 {t}"
        ),
        (Denom::Native(d), None) => {
            let (_, given) = ctx::parse_coin(amount)?;
            if &given != d {
                bail!("the staking contract bonds {d}, not {given}: write the amount like 10000000{d}");
            }
        }
        _ => {}
    }
    Ok(())
}

async fn show(
    g: &Globals,
    client: &kumo_chain::Client,
    contracts: &kumo_chain::KumoContracts,
    address: &str,
    keys_only: bool,
) -> anyhow::Result<()> {
    let r: registry::ProviderResponse = match client
        .query_smart(
            &contracts.registry,
            &registry::QueryMsg::Provider {
                address: address.to_string(),
            },
        )
        .await
    {
        Ok(r) => r,
        Err(e) if e.to_string().contains("not found") || e.is_not_found() => bail!(
            "{address} is not a registered provider: register with `kumo provider register --host-uri URI`"
        ),
        Err(e) => return Err(g.explain(e)),
    };
    let p = r.provider;
    let bond: Option<staking::ProviderBondResponse> = if contracts.staking.is_empty() {
        None
    } else {
        client
            .query_smart(
                &contracts.staking,
                &staking::QueryMsg::Provider {
                    provider: address.to_string(),
                },
            )
            .await
            .ok()
    };
    let keys: Vec<Vec<String>> = p
        .api_keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                format!("{:?}", k.algorithm).to_lowercase(),
                hex::encode(k.public_key.as_slice()),
                if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                }
                .to_string(),
            ]
        })
        .collect();
    let pins: Vec<String> = p.tls_pins.iter().map(|h| h.to_hex()).collect();
    let doc = if keys_only {
        json!({"provider": address, "api_keys": p.api_keys, "tls_pins": pins})
    } else {
        json!({"provider": p, "bond": bond})
    };
    g.emit(doc, || {
        let mut s = String::new();
        if !keys_only {
            s.push_str(&format!(
                "provider {address}\nhost URI: {}\nstatus: {}\nattributes: {}\n",
                p.host_uri,
                match &p.status {
                    registry::ProviderStatus::Active => "active".to_string(),
                    registry::ProviderStatus::Deregistering { since } =>
                        format!("deregistering since unix time {}", since.seconds()),
                },
                p.attributes
                    .iter()
                    .map(|a| format!("{}={}", a.key, a.value))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            if let Some(b) = &bond {
                s.push_str(&format!(
                    "bond: {} (required {}), {} slashes\n",
                    b.bond.bonded, b.required, b.bond.reputation.slashes
                ));
            }
        }
        if keys.is_empty() {
            s.push_str("API keys: none\n");
        } else {
            s.push_str(&ctx::table(
                &["KEY ID", "ALGORITHM", "PUBLIC KEY", "STATE"],
                &keys,
            ));
        }
        s.push_str(&format!(
            "TLS pins: {}\n",
            if pins.is_empty() {
                "none".to_string()
            } else {
                pins.join(" ")
            }
        ));
        s
    });
    Ok(())
}

/// `kumo provider run`: the agent daemon itself, in this process.
fn run_agent(config: &std::path::Path) -> anyhow::Result<ExitCode> {
    use kumo_provider::{config::Config, daemon};
    let config = Config::load(config)?;
    daemon::init_logging(&config.log)?;
    crate::ctx::runtime()?.block_on(daemon::run(config, daemon::shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}
