//! Execute handlers: providers, their keys and pins, auditors' attributes, configuration.

use cosmwasm_std::{Addr, DepsMut, Env, Event, HexBinary, MessageInfo, Order, Response};
use kumo::attributes::validate_attributes;
use kumo::registry::{
    ApiKey, InstantiateMsg, KeyAlgorithm, NewApiKey, Provider, ProviderInfo, ProviderStatus,
    RegistryLimits,
};
use kumo::Attribute;

use crate::error::ContractError;
use crate::state::{Config, AUDITOR_COUNT, AUDITS, CONFIG, PROVIDERS};

pub fn validate_limits(l: &RegistryLimits) -> Result<(), ContractError> {
    let bad = |r: &str| ContractError::InvalidLimits { reason: r.into() };
    // Upper bounds keep every per-provider loop and stored list small.
    if l.max_provider_attributes > 128 || l.max_audited_attributes > 256 {
        return Err(bad(
            "attribute limits are capped at 128 (provider) and 256 (auditor)",
        ));
    }
    if l.max_auditors_per_provider == 0 || l.max_auditors_per_provider > 128 {
        return Err(bad("max_auditors_per_provider must be 1 to 128"));
    }
    if l.max_attribute_value_len == 0 || l.max_attribute_value_len > 1024 {
        return Err(bad("max_attribute_value_len must be 1 to 1024"));
    }
    if l.max_api_keys > 16 || l.max_tls_pins > 32 || l.max_text_len > 4096 {
        return Err(bad("at most 16 API keys, 32 TLS pins and 4096-byte texts"));
    }
    Ok(())
}

pub fn instantiate(deps: DepsMut, msg: InstantiateMsg) -> Result<Response, ContractError> {
    let limits = msg.limits.unwrap_or_default();
    validate_limits(&limits)?;
    let config = Config {
        owner: deps.api.addr_validate(&msg.owner)?,
        market: msg.market.map(|m| deps.api.addr_validate(&m)).transpose()?,
        limits,
    };
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("owner", config.owner))
}

pub fn update_config(
    deps: DepsMut,
    info: MessageInfo,
    owner: Option<String>,
    market: Option<String>,
    limits: Option<RegistryLimits>,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    if info.sender != config.owner {
        return Err(ContractError::Unauthorized {
            expected: config.owner.to_string(),
        });
    }
    if let Some(o) = owner {
        config.owner = deps.api.addr_validate(&o)?;
    }
    if let Some(m) = market {
        config.market = Some(deps.api.addr_validate(&m)?);
    }
    if let Some(l) = limits {
        validate_limits(&l)?;
        config.limits = l;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("owner", config.owner.to_string())
        .add_attribute(
            "market",
            config.market.map(|m| m.to_string()).unwrap_or_default(),
        ))
}

fn check_text(field: &str, value: &str, limits: &RegistryLimits) -> Result<(), ContractError> {
    if value.len() > limits.max_text_len as usize {
        return Err(ContractError::TextTooLong {
            field: field.into(),
            len: value.len(),
            max: limits.max_text_len,
        });
    }
    Ok(())
}

/// Akash requires an absolute URL; Kumo also requires http(s), a host and no whitespace.
fn check_host_uri(uri: &str, limits: &RegistryLimits) -> Result<(), ContractError> {
    check_text("host_uri", uri, limits)?;
    let bad = |reason: &str| ContractError::InvalidHostUri {
        uri: uri.into(),
        reason: reason.into(),
    };
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or_else(|| bad("it must start with https:// or http://"))?;
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it must not contain whitespace"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("it has no host"));
    }
    Ok(())
}

/// Akash's attribute rules (key pattern, no duplicates) plus Kumo's bounds; returns them sorted.
fn check_attributes(
    mut attributes: Vec<Attribute>,
    max: u32,
    limits: &RegistryLimits,
) -> Result<Vec<Attribute>, ContractError> {
    if attributes.len() > max as usize {
        return Err(ContractError::TooManyAttributes {
            got: attributes.len(),
            max,
        });
    }
    validate_attributes(&attributes)?;
    for a in &attributes {
        if a.value.is_empty() {
            return Err(ContractError::EmptyAttributeValue { key: a.key.clone() });
        }
        if a.value.len() > limits.max_attribute_value_len as usize {
            return Err(ContractError::AttributeValueTooLong {
                key: a.key.clone(),
                len: a.value.len(),
                max: limits.max_attribute_value_len,
            });
        }
    }
    attributes.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(attributes)
}

fn check_info(info: &ProviderInfo, limits: &RegistryLimits) -> Result<(), ContractError> {
    check_text("email", &info.email, limits)?;
    check_text("website", &info.website, limits)
}

fn provider_event(kind: &str, p: &Provider) -> Event {
    Event::new(kind)
        .add_attribute("provider", p.owner.to_string())
        .add_attribute("host_uri", p.host_uri.clone())
        .add_attribute(
            "attributes",
            p.attributes
                .iter()
                .map(|a| format!("{}={}", a.key, a.value))
                .collect::<Vec<_>>()
                .join(","),
        )
}

fn load_provider(deps: &DepsMut, addr: &Addr) -> Result<Provider, ContractError> {
    PROVIDERS
        .may_load(deps.storage, addr.clone())?
        .ok_or_else(|| ContractError::NotRegistered {
            address: addr.to_string(),
        })
}

pub fn register(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    host_uri: String,
    attributes: Vec<Attribute>,
    provider_info: ProviderInfo,
) -> Result<Response, ContractError> {
    let limits = CONFIG.load(deps.storage)?.limits;
    if PROVIDERS.has(deps.storage, info.sender.clone()) {
        return Err(ContractError::AlreadyRegistered {
            address: info.sender.to_string(),
        });
    }
    check_host_uri(&host_uri, &limits)?;
    let attributes = check_attributes(attributes, limits.max_provider_attributes, &limits)?;
    check_info(&provider_info, &limits)?;
    let provider = Provider {
        owner: info.sender.clone(),
        host_uri,
        attributes,
        info: provider_info,
        status: ProviderStatus::Active,
        api_keys: vec![],
        tls_pins: vec![],
        registered_at: env.block.time,
    };
    PROVIDERS.save(deps.storage, info.sender, &provider)?;
    Ok(Response::new()
        .add_attribute("action", "register_provider")
        .add_event(provider_event("provider_registered", &provider)))
}

pub fn update(
    deps: DepsMut,
    info: MessageInfo,
    host_uri: String,
    attributes: Vec<Attribute>,
    provider_info: ProviderInfo,
) -> Result<Response, ContractError> {
    let limits = CONFIG.load(deps.storage)?.limits;
    let mut provider = load_provider(&deps, &info.sender)?;
    check_host_uri(&host_uri, &limits)?;
    provider.attributes = check_attributes(attributes, limits.max_provider_attributes, &limits)?;
    check_info(&provider_info, &limits)?;
    provider.host_uri = host_uri;
    provider.info = provider_info;
    PROVIDERS.save(deps.storage, info.sender, &provider)?;
    Ok(Response::new()
        .add_attribute("action", "update_provider")
        .add_event(provider_event("provider_updated", &provider)))
}

pub fn begin_deregistration(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
) -> Result<Response, ContractError> {
    let mut provider = load_provider(&deps, &info.sender)?;
    if let ProviderStatus::Deregistering { .. } = provider.status {
        return Err(ContractError::AlreadyDeregistering);
    }
    provider.status = ProviderStatus::Deregistering {
        since: env.block.time,
    };
    PROVIDERS.save(deps.storage, info.sender.clone(), &provider)?;
    Ok(Response::new()
        .add_attribute("action", "begin_deregistration")
        .add_attribute("provider", info.sender))
}

pub fn cancel_deregistration(deps: DepsMut, info: MessageInfo) -> Result<Response, ContractError> {
    let mut provider = load_provider(&deps, &info.sender)?;
    if provider.status == ProviderStatus::Active {
        return Err(ContractError::NotDeregistering);
    }
    provider.status = ProviderStatus::Active;
    PROVIDERS.save(deps.storage, info.sender.clone(), &provider)?;
    Ok(Response::new()
        .add_attribute("action", "cancel_deregistration")
        .add_attribute("provider", info.sender))
}

/// Deletes the provider and every auditor's attributes for it (at most
/// `max_auditors_per_provider` entries), once the market counts no active lease and no open bid.
pub fn finish_deregistration(deps: DepsMut, info: MessageInfo) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let provider = load_provider(&deps, &info.sender)?;
    if provider.status == ProviderStatus::Active {
        return Err(ContractError::NotDeregistering);
    }
    if let Some(market) = &config.market {
        // A raw read of the market's record: a store read, not a contract call.
        let stats = kumo::market::PROVIDER_COUNTS
            .query(&deps.querier, market.clone(), &info.sender)?
            .unwrap_or_default();
        if stats.active_leases > 0 {
            return Err(ContractError::ActiveLeases {
                count: stats.active_leases,
            });
        }
        if stats.open_bids > 0 {
            return Err(ContractError::OpenBids {
                count: stats.open_bids,
            });
        }
    }
    // Bounded by `max_auditors_per_provider`.
    let auditors: Vec<Addr> = AUDITS
        .prefix_range(deps.storage, info.sender.clone(), None, Order::Ascending)
        .map(|r| r.map(|(auditor, _)| auditor))
        .collect::<Result<_, _>>()?;
    for auditor in auditors {
        AUDITS.remove(deps.storage, (info.sender.clone(), auditor));
    }
    AUDITOR_COUNT.remove(deps.storage, info.sender.clone());
    PROVIDERS.remove(deps.storage, info.sender.clone());
    Ok(Response::new()
        .add_attribute("action", "finish_deregistration")
        .add_event(Event::new("provider_deregistered").add_attribute("provider", info.sender)))
}

fn valid_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub fn add_api_key(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    key: NewApiKey,
) -> Result<Response, ContractError> {
    let limits = CONFIG.load(deps.storage)?.limits;
    let mut provider = load_provider(&deps, &info.sender)?;
    if !valid_key_id(&key.id) {
        return Err(ContractError::InvalidKeyId { id: key.id });
    }
    if provider.api_keys.iter().any(|k| k.id == key.id) {
        return Err(ContractError::DuplicateKeyId { id: key.id });
    }
    if provider.api_keys.len() >= limits.max_api_keys as usize {
        return Err(ContractError::TooManyKeys {
            max: limits.max_api_keys,
        });
    }
    let pk = key.public_key.as_slice();
    let (ok, algorithm, expected) = match key.algorithm {
        KeyAlgorithm::Es256k => (
            pk.len() == 33 && matches!(pk[0], 0x02 | 0x03),
            "ES256K",
            "33-byte compressed secp256k1 points (0x02 or 0x03 first)",
        ),
        KeyAlgorithm::Ed25519 => (pk.len() == 32, "Ed25519", "32 bytes"),
    };
    if !ok {
        return Err(ContractError::InvalidPublicKey {
            algorithm: algorithm.into(),
            expected: expected.into(),
            len: pk.len(),
        });
    }
    provider.api_keys.push(ApiKey {
        id: key.id.clone(),
        algorithm: key.algorithm,
        public_key: key.public_key.clone(),
        added_at: env.block.time,
        revoked_at: None,
    });
    PROVIDERS.save(deps.storage, info.sender.clone(), &provider)?;
    Ok(Response::new()
        .add_attribute("action", "add_api_key")
        .add_event(
            Event::new("api_key_added")
                .add_attribute("provider", info.sender)
                .add_attribute("id", key.id)
                .add_attribute("algorithm", algorithm)
                .add_attribute(
                    "public_key",
                    HexBinary::from(key.public_key.as_slice()).to_hex(),
                ),
        ))
}

pub fn revoke_api_key(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    id: String,
) -> Result<Response, ContractError> {
    let mut provider = load_provider(&deps, &info.sender)?;
    let key = provider
        .api_keys
        .iter_mut()
        .find(|k| k.id == id)
        .ok_or_else(|| ContractError::KeyNotFound { id: id.clone() })?;
    if key.revoked_at.is_some() {
        return Err(ContractError::KeyRevoked { id });
    }
    key.revoked_at = Some(env.block.time);
    PROVIDERS.save(deps.storage, info.sender.clone(), &provider)?;
    Ok(Response::new()
        .add_attribute("action", "revoke_api_key")
        .add_event(
            Event::new("api_key_revoked")
                .add_attribute("provider", info.sender)
                .add_attribute("id", id),
        ))
}

pub fn set_tls_pins(
    deps: DepsMut,
    info: MessageInfo,
    pins: Vec<HexBinary>,
) -> Result<Response, ContractError> {
    let limits = CONFIG.load(deps.storage)?.limits;
    let mut provider = load_provider(&deps, &info.sender)?;
    if pins.len() > limits.max_tls_pins as usize {
        return Err(ContractError::TooManyPins {
            got: pins.len(),
            max: limits.max_tls_pins,
        });
    }
    for (i, pin) in pins.iter().enumerate() {
        if pin.len() != 32 {
            return Err(ContractError::InvalidPin { len: pin.len() });
        }
        if pins[..i].contains(pin) {
            return Err(ContractError::DuplicatePin { pin: pin.to_hex() });
        }
    }
    let listed = pins
        .iter()
        .map(|p| p.to_hex())
        .collect::<Vec<_>>()
        .join(",");
    provider.tls_pins = pins;
    PROVIDERS.save(deps.storage, info.sender.clone(), &provider)?;
    Ok(Response::new()
        .add_attribute("action", "set_tls_pins")
        .add_event(
            Event::new("tls_pins_set")
                .add_attribute("provider", info.sender)
                .add_attribute("pins", listed),
        ))
}

/// Akash `MsgSignProviderAttributes`: upserts by key what the sender signed for `provider`.
pub fn sign_attributes(
    deps: DepsMut,
    info: MessageInfo,
    provider: String,
    attributes: Vec<Attribute>,
) -> Result<Response, ContractError> {
    let limits = CONFIG.load(deps.storage)?.limits;
    let provider = deps.api.addr_validate(&provider)?;
    load_provider(&deps, &provider)?;
    let attributes = check_attributes(attributes, limits.max_audited_attributes, &limits)?;
    let key = (provider.clone(), info.sender.clone());
    let existing = AUDITS.may_load(deps.storage, key.clone())?;
    if existing.is_none() {
        let count = AUDITOR_COUNT
            .may_load(deps.storage, provider.clone())?
            .unwrap_or_default();
        if count >= limits.max_auditors_per_provider {
            return Err(ContractError::TooManyAuditors {
                provider: provider.to_string(),
                max: limits.max_auditors_per_provider,
            });
        }
        AUDITOR_COUNT.save(deps.storage, provider.clone(), &(count + 1))?;
    }
    let mut merged = existing.unwrap_or_default();
    for a in attributes {
        match merged.iter_mut().find(|m| m.key == a.key) {
            Some(m) => m.value = a.value,
            None => merged.push(a),
        }
    }
    if merged.len() > limits.max_audited_attributes as usize {
        return Err(ContractError::TooManyAttributes {
            got: merged.len(),
            max: limits.max_audited_attributes,
        });
    }
    merged.sort_by(|a, b| a.key.cmp(&b.key));
    AUDITS.save(deps.storage, key, &merged)?;
    Ok(Response::new()
        .add_attribute("action", "sign_attributes")
        .add_event(
            Event::new("attributes_signed")
                .add_attribute("provider", provider)
                .add_attribute("auditor", info.sender)
                .add_attribute(
                    "attributes",
                    merged
                        .iter()
                        .map(|a| format!("{}={}", a.key, a.value))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
        ))
}

/// Akash `MsgDeleteProviderAttributes`: removes the listed keys, or everything when none are
/// listed.
pub fn delete_attributes(
    deps: DepsMut,
    info: MessageInfo,
    provider: String,
    keys: Vec<String>,
) -> Result<Response, ContractError> {
    let provider = deps.api.addr_validate(&provider)?;
    let key = (provider.clone(), info.sender.clone());
    let mut signed = AUDITS.may_load(deps.storage, key.clone())?.ok_or_else(|| {
        ContractError::NoAuditedAttributes {
            provider: provider.to_string(),
            auditor: info.sender.to_string(),
        }
    })?;
    for k in &keys {
        let before = signed.len();
        signed.retain(|a| &a.key != k);
        if signed.len() == before {
            return Err(ContractError::AttributeNotFound {
                auditor: info.sender.to_string(),
                key: k.clone(),
            });
        }
    }
    if keys.is_empty() || signed.is_empty() {
        AUDITS.remove(deps.storage, key);
        let count = AUDITOR_COUNT
            .may_load(deps.storage, provider.clone())?
            .unwrap_or_default();
        AUDITOR_COUNT.save(deps.storage, provider.clone(), &count.saturating_sub(1))?;
    } else {
        AUDITS.save(deps.storage, key, &signed)?;
    }
    Ok(Response::new()
        .add_attribute("action", "delete_attributes")
        .add_event(
            Event::new("attributes_deleted")
                .add_attribute("provider", provider)
                .add_attribute("auditor", info.sender)
                .add_attribute("keys", keys.join(",")),
        ))
}
