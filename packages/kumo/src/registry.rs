//! The registry contract's interface: providers (host URI, attributes, info, API signing keys,
//! TLS pins) and auditors' signed attributes (Akash `x/provider` and `x/audit`).

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, HexBinary, Timestamp};

use crate::attributes::Attribute;

/// Size limits for everything a provider or an auditor stores; set by the owner (governance).
#[cw_serde]
pub struct RegistryLimits {
    /// Attributes a provider declares about itself (Akash AEP-79: 24).
    pub max_provider_attributes: u32,
    /// Attributes one auditor signs for one provider (AEP-79: 64).
    pub max_audited_attributes: u32,
    /// Auditors that may sign for one provider (AEP-79: 32).
    pub max_auditors_per_provider: u32,
    /// Bytes in an attribute key or value (AEP-79: 64 for values; keys are also capped at 128 by
    /// Akash's key pattern).
    pub max_attribute_value_len: u32,
    /// API signing keys per provider, revoked ones included (AEP-79: 3).
    pub max_api_keys: u32,
    /// TLS SPKI pins per provider (AEP-79: 8).
    pub max_tls_pins: u32,
    /// Bytes in the host URI, email and website.
    pub max_text_len: u32,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        Self {
            max_provider_attributes: 24,
            max_audited_attributes: 64,
            max_auditors_per_provider: 32,
            max_attribute_value_len: 64,
            max_api_keys: 3,
            max_tls_pins: 8,
            max_text_len: 256,
        }
    }
}

#[cw_serde]
pub struct InstantiateMsg {
    /// Who may change the config: governance, a multisig or a DAO.
    pub owner: String,
    /// The market contract, asked for a provider's active leases before deregistration. Can be
    /// set later with `UpdateConfig` (the market is instantiated after the registry).
    pub market: Option<String>,
    pub limits: Option<RegistryLimits>,
}

#[cw_serde]
#[derive(Default)]
pub struct ProviderInfo {
    pub email: String,
    pub website: String,
}

/// Algorithms a provider may sign its lease-API tokens with.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum KeyAlgorithm {
    /// secp256k1 (ES256K), the algorithm of Cosmos account keys; 33-byte compressed keys.
    Es256k,
    /// Ed25519; 32-byte keys.
    Ed25519,
}

#[cw_serde]
pub struct NewApiKey {
    /// The JWT `kid`; unique per provider, 1 to 64 characters.
    pub id: String,
    pub algorithm: KeyAlgorithm,
    pub public_key: Binary,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// Registers the sender as a provider.
    RegisterProvider {
        host_uri: String,
        attributes: Vec<Attribute>,
        info: ProviderInfo,
    },
    /// Replaces the sender's host URI, attributes and info.
    UpdateProvider {
        host_uri: String,
        attributes: Vec<Attribute>,
        info: ProviderInfo,
    },
    /// Stops the sender from bidding; `FinishDeregistration` removes it once it has no active
    /// leases.
    BeginDeregistration {},
    /// Returns a deregistering provider to active.
    CancelDeregistration {},
    /// Deletes the sender's registration (and the attributes auditors signed for it). Fails while
    /// the market counts active leases for the provider.
    FinishDeregistration {},
    /// Adds a key the provider's lease API signs tokens with.
    AddApiKey { key: NewApiKey },
    /// Revokes a key at once; it stays listed (as revoked) so tokens it signed are rejected.
    RevokeApiKey { id: String },
    /// Replaces the SHA-256 hashes of the SubjectPublicKeyInfo of the provider's TLS certificates.
    SetTlsPins { pins: Vec<HexBinary> },
    /// Signs (upserts) attributes for a provider as the sender, an auditor. Any address may
    /// audit; orders choose which auditors they trust (`signedBy`).
    SignAttributes {
        provider: String,
        attributes: Vec<Attribute>,
    },
    /// Removes the listed keys from what the sender signed for `provider`; all of them when
    /// `keys` is empty.
    DeleteAttributes { provider: String, keys: Vec<String> },
    /// Owner only.
    UpdateConfig {
        owner: Option<String>,
        market: Option<String>,
        limits: Option<RegistryLimits>,
    },
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(ProviderResponse)]
    Provider { address: String },
    /// Providers by address.
    #[returns(ProvidersResponse)]
    Providers {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    #[returns(AuditedAttributesResponse)]
    AuditedAttributes { provider: String, auditor: String },
    /// Every auditor's attributes for one provider, by auditor address.
    #[returns(AuditedAttributesListResponse)]
    ProviderAudits {
        provider: String,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// What the market needs to check a bid, in one query: the provider and the attributes each
    /// of `auditors` signed for it (auditors who signed nothing are left out).
    #[returns(MatchInfoResponse)]
    MatchInfo {
        provider: String,
        auditors: Vec<String>,
    },
}

#[cw_serde]
pub struct ConfigResponse {
    pub owner: Addr,
    pub market: Option<Addr>,
    pub limits: RegistryLimits,
}

#[cw_serde]
pub enum ProviderStatus {
    Active,
    /// Not bidding; waiting for its leases to end.
    Deregistering {
        since: Timestamp,
    },
}

#[cw_serde]
pub struct ApiKey {
    pub id: String,
    pub algorithm: KeyAlgorithm,
    pub public_key: Binary,
    pub added_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[cw_serde]
pub struct Provider {
    pub owner: Addr,
    pub host_uri: String,
    /// Sorted by key.
    pub attributes: Vec<Attribute>,
    pub info: ProviderInfo,
    pub status: ProviderStatus,
    pub api_keys: Vec<ApiKey>,
    pub tls_pins: Vec<HexBinary>,
    pub registered_at: Timestamp,
}

#[cw_serde]
pub struct ProviderResponse {
    pub provider: Provider,
}

#[cw_serde]
pub struct ProvidersResponse {
    pub providers: Vec<Provider>,
}

#[cw_serde]
pub struct AuditedAttributes {
    pub provider: Addr,
    pub auditor: Addr,
    /// Sorted by key.
    pub attributes: Vec<Attribute>,
}

#[cw_serde]
pub struct AuditedAttributesResponse {
    pub audited: AuditedAttributes,
}

#[cw_serde]
pub struct AuditedAttributesListResponse {
    pub audits: Vec<AuditedAttributes>,
}

#[cw_serde]
pub struct MatchInfoResponse {
    /// `None` if the address is not a registered provider.
    pub provider: Option<Provider>,
    pub audits: Vec<AuditedAttributes>,
}

/// What the market needs of a provider to check a bid, read raw from the registry's
/// `providers` map: a store read instead of a smart query, which would load a whole contract
/// instance on every `CreateBid`. The stored provider ([`crate::codec`]) starts with these two
/// fields; the others are not decoded.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct ProviderMatch {
    pub attributes: Vec<Attribute>,
    pub status: ProviderStatus,
}

/// The registry's providers by address (raw reads only).
pub const PROVIDER_MATCH: crate::codec::PackedMap<&Addr, ProviderMatch> =
    crate::codec::PackedMap::new("providers");
/// What each auditor signed for each provider, `(provider, auditor)` (raw reads only).
pub const AUDITS: crate::codec::PackedMap<(&Addr, &Addr), Vec<Attribute>> =
    crate::codec::PackedMap::new("audits");

// The registry's stored records (`kumo::codec`); a provider's attributes and status first, for
// `ProviderMatch`.
crate::codec_struct!(ProviderMatch { attributes, status });
crate::codec_struct!(Provider {
    attributes,
    status,
    owner,
    host_uri,
    info,
    api_keys,
    tls_pins,
    registered_at
});
crate::codec_struct!(ProviderInfo { email, website });
crate::codec_enum!(KeyAlgorithm { Es256k, Ed25519 });
crate::codec_struct!(ApiKey {
    id,
    algorithm,
    public_key,
    added_at,
    revoked_at
});

impl crate::codec::Encode for ProviderStatus {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ProviderStatus::Active => out.push(0),
            ProviderStatus::Deregistering { since } => {
                out.push(1);
                since.encode(out);
            }
        }
    }
}

impl crate::codec::Decode for ProviderStatus {
    fn decode(r: &mut crate::codec::Reader) -> crate::codec::DecodeResult<Self> {
        Ok(match r.byte()? {
            0 => ProviderStatus::Active,
            _ => ProviderStatus::Deregistering {
                since: crate::codec::Decode::decode(r)?,
            },
        })
    }
}

// The registry's messages and responses, through `crate::json` (one JSON visitor, hand-written
// output, instead of serde's code per type in the wasm).
crate::json_struct!(RegistryLimits {
    max_provider_attributes,
    max_audited_attributes,
    max_auditors_per_provider,
    max_attribute_value_len,
    max_api_keys,
    max_tls_pins,
    max_text_len
});
crate::json_struct!(InstantiateMsg {
    owner,
    market,
    limits
});
crate::json_struct!(ProviderInfo { email, website });
crate::json_enum!(KeyAlgorithm {
    "es256k" => Es256k,
    "ed25519" => Ed25519,
});
crate::json_struct!(NewApiKey {
    id,
    algorithm,
    public_key
});
crate::json_enum!(ExecuteMsg {
    "register_provider" => RegisterProvider { host_uri, attributes, info },
    "update_provider" => UpdateProvider { host_uri, attributes, info },
    "begin_deregistration" => BeginDeregistration {},
    "cancel_deregistration" => CancelDeregistration {},
    "finish_deregistration" => FinishDeregistration {},
    "add_api_key" => AddApiKey { key },
    "revoke_api_key" => RevokeApiKey { id },
    "set_tls_pins" => SetTlsPins { pins },
    "sign_attributes" => SignAttributes { provider, attributes },
    "delete_attributes" => DeleteAttributes { provider, keys },
    "update_config" => UpdateConfig { owner, market, limits },
});
crate::json_struct!(MigrateMsg {});
crate::json_enum!(QueryMsg {
    "config" => Config {},
    "provider" => Provider { address },
    "providers" => Providers { start_after, limit },
    "audited_attributes" => AuditedAttributes { provider, auditor },
    "provider_audits" => ProviderAudits { provider, start_after, limit },
    "match_info" => MatchInfo { provider, auditors },
});
crate::json_struct!(ConfigResponse {
    owner,
    market,
    limits
});
crate::json_enum!(ProviderStatus {
    "active" => Active,
    "deregistering" => Deregistering { since },
});
crate::json_struct!(ApiKey {
    id,
    algorithm,
    public_key,
    added_at,
    revoked_at
});
crate::json_struct!(Provider {
    owner,
    host_uri,
    attributes,
    info,
    status,
    api_keys,
    tls_pins,
    registered_at
});
crate::json_struct!(ProviderResponse { provider });
crate::json_struct!(ProvidersResponse { providers });
crate::json_struct!(AuditedAttributes {
    provider,
    auditor,
    attributes
});
crate::json_struct!(AuditedAttributesResponse { audited });
crate::json_struct!(AuditedAttributesListResponse { audits });
crate::json_struct!(MatchInfoResponse { provider, audits });
