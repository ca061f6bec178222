//! Bearer tokens for the lease API: JWTs a tenant signs with its chain key (Akash AEP-64 and
//! `chain-sdk` `go/util/jwt`).
//!
//! A token is `base64url(header).base64url(claims).base64url(signature)` without padding. The
//! signature is ES256K (RFC 8812): ECDSA on secp256k1 over SHA-256 of the first two parts, as the
//! 64-byte `r || s`. The claims are Akash's: `iss` (the tenant's bech32 address), `iat`, `nbf`,
//! `exp` (Unix seconds), `version: "v1"` and `leases` (full, scoped or granular access with
//! scopes such as `send-manifest`, `logs`, `shell`).
//!
//! The verifier needs the tenant's public key. Akash providers fetch it from the chain; Kumo
//! tokens may also carry it in the header (`pk`, the 33-byte compressed key, base64url), which
//! works for accounts that never sent a transaction and saves a query. Either way the key's
//! address (RIPEMD-160(SHA-256(key)), bech32 with the chain prefix) must equal `iss`, so a token
//! cannot speak for an address whose key did not sign it.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use k256::ecdsa::signature::{Signer as _, Verifier as _};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use kumo::LeaseId;
use serde::{Deserialize, Serialize};

/// The only signing algorithm accepted.
pub const ALG: &str = "ES256K";
/// The claims version Akash defines.
pub const CLAIMS_VERSION: &str = "v1";
/// Default longest validity (`exp - iat`), seconds: AEP-64 recommends 15 minutes.
pub const DEFAULT_MAX_LIFETIME: u64 = 15 * 60;
/// Default tolerance for clocks that disagree, seconds.
pub const DEFAULT_CLOCK_SKEW: u64 = 30;
/// Default longest token, bytes. A full-access token is about 450 bytes; granular permissions
/// for many deployments stay far below this.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a token may do with a lease (Akash `PermissionScope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    SendManifest,
    GetManifest,
    Logs,
    Shell,
    Events,
    Status,
    Restart,
    HostnameMigrate,
    IpMigrate,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SendManifest => "send-manifest",
            Scope::GetManifest => "get-manifest",
            Scope::Logs => "logs",
            Scope::Shell => "shell",
            Scope::Events => "events",
            Scope::Status => "status",
            Scope::Restart => "restart",
            Scope::HostnameMigrate => "hostname-migrate",
            Scope::IpMigrate => "ip-migrate",
        }
    }
}

/// How much of the issuer's leases a token opens (Akash `AccessType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Every scope on every lease of the issuer.
    Full,
    /// The listed scopes on every lease of the issuer.
    Scoped,
    /// Per-provider permissions.
    Granular,
}

/// Rights on the leases of one deployment (Akash `PermissionDeployment`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPermission {
    pub scope: Vec<Scope>,
    pub dseq: u64,
    /// 0: every group.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub gseq: u32,
    /// 0: every order.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub oseq: u32,
    /// Empty: every service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

/// Rights at one provider (Akash `Permission`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub provider: String,
    pub access: Access,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<DeploymentPermission>,
}

/// The `leases` claim (Akash `Leases`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    pub access: Access,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
}

/// A token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The tenant's account address.
    pub iss: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub version: String,
    pub leases: Leases,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

impl Claims {
    /// Every scope on every lease of `iss`, valid from `now` for `ttl` seconds.
    pub fn full(iss: impl Into<String>, now: u64, ttl: u64) -> Claims {
        Claims::with_leases(
            iss,
            now,
            ttl,
            Leases {
                access: Access::Full,
                scope: Vec::new(),
                permissions: Vec::new(),
            },
        )
    }

    /// `scopes` on every lease of `iss`.
    pub fn scoped(iss: impl Into<String>, now: u64, ttl: u64, scopes: &[Scope]) -> Claims {
        Claims::with_leases(
            iss,
            now,
            ttl,
            Leases {
                access: Access::Scoped,
                scope: scopes.to_vec(),
                permissions: Vec::new(),
            },
        )
    }

    pub fn with_leases(iss: impl Into<String>, now: u64, ttl: u64, leases: Leases) -> Claims {
        Claims {
            iss: iss.into(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
            version: CLAIMS_VERSION.to_string(),
            leases,
        }
    }

    /// Akash's structural rules (`Leases.Validate`): full access lists nothing, scoped access
    /// lists scopes, granular access lists permissions (one per provider), and no scope repeats.
    pub fn validate(&self) -> Result<(), AuthError> {
        let bad = |reason: &str| Err(AuthError::Malformed(reason.to_string()));
        if self.version != CLAIMS_VERSION {
            return bad("unsupported claims version");
        }
        let l = &self.leases;
        match l.access {
            Access::Full if !l.scope.is_empty() || !l.permissions.is_empty() => {
                return bad("full access cannot list scopes or permissions")
            }
            Access::Scoped if l.scope.is_empty() || !l.permissions.is_empty() => {
                return bad("scoped access needs scopes and no permissions")
            }
            Access::Granular if l.permissions.is_empty() || !l.scope.is_empty() => {
                return bad("granular access needs permissions and no scopes")
            }
            _ => {}
        }
        check_unique(&l.scope)?;
        for (i, p) in l.permissions.iter().enumerate() {
            if p.provider.is_empty() {
                return bad("empty provider in permissions");
            }
            if l.permissions[..i].iter().any(|q| q.provider == p.provider) {
                return bad("duplicate provider in permissions");
            }
            match p.access {
                Access::Full if !p.scope.is_empty() || !p.deployments.is_empty() => {
                    return bad("a full-access permission cannot list scopes or deployments")
                }
                Access::Scoped if p.scope.is_empty() || !p.deployments.is_empty() => {
                    return bad("a scoped permission needs scopes and no deployments")
                }
                Access::Granular if p.deployments.is_empty() || !p.scope.is_empty() => {
                    return bad("a granular permission needs deployments and no scopes")
                }
                _ => {}
            }
            check_unique(&p.scope)?;
            for d in &p.deployments {
                if d.scope.is_empty() {
                    return bad("a deployment permission needs scopes");
                }
                if d.dseq == 0 {
                    return bad("a deployment permission needs dseq");
                }
                if d.oseq != 0 && d.gseq == 0 {
                    return bad("oseq needs gseq");
                }
                check_unique(&d.scope)?;
                for (j, s) in d.services.iter().enumerate() {
                    if s.is_empty() || d.services[..j].contains(s) {
                        return bad("empty or duplicate service");
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_unique(scopes: &[Scope]) -> Result<(), AuthError> {
    for (i, s) in scopes.iter().enumerate() {
        if scopes[..i].contains(s) {
            return Err(AuthError::Malformed(format!(
                "scope {} listed twice",
                s.as_str()
            )));
        }
    }
    Ok(())
}

/// Why a token was refused. Each failure is its own variant so that the API can log and count
/// them; only [`AuthError::WrongScope`] and [`AuthError::NotLeaseOwner`] are authorization
/// (403) failures, the rest are authentication (401) failures.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("token of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("signing algorithm {alg:?} is not allowed (only ES256K)")]
    AlgNotAllowed { alg: String },
    #[error("token type {typ:?} is not JWT")]
    UnsupportedType { typ: String },
    #[error("issuer {iss:?} is not an address with prefix {prefix:?}")]
    InvalidIssuer { iss: String, prefix: String },
    #[error("invalid secp256k1 public key")]
    InvalidPublicKey,
    #[error("invalid bech32 address prefix {prefix:?}")]
    InvalidPrefix { prefix: String },
    #[error("no public key known for issuer {iss}")]
    UnknownIssuer { iss: String },
    #[error("the signing key belongs to {key_address}, not to the issuer {iss}")]
    KeyMismatch { iss: String, key_address: String },
    #[error("bad signature")]
    BadSignature,
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: u64, now: u64 },
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid { nbf: u64, now: u64 },
    #[error("token issued in the future at {iat} (now {now})")]
    IssuedInFuture { iat: u64, now: u64 },
    #[error("token lifetime {lifetime} s exceeds the limit of {max} s")]
    LifetimeTooLong { lifetime: u64, max: u64 },
    #[error("token does not grant {scope} on this lease", scope = scope.as_str())]
    WrongScope { scope: Scope },
    #[error("issuer {iss} does not own the lease (owner {owner})")]
    NotLeaseOwner { iss: String, owner: String },
    #[error("invalid signing key")]
    InvalidSigningKey,
}

impl AuthError {
    /// Whether the caller is known but not allowed (HTTP 403) rather than not authenticated
    /// (HTTP 401).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            AuthError::WrongScope { .. } | AuthError::NotLeaseOwner { .. }
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    /// The issuer's compressed public key, base64url (Kumo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pk: Option<String>,
    /// Critical extensions: none are understood, so a token that lists any is refused
    /// (RFC 7515 §4.1.11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// The bech32 account address of a compressed secp256k1 key: RIPEMD-160(SHA-256(key)), the
/// derivation `kumo_chain::Key::address` uses.
pub fn address_of(public_key: &[u8], prefix: &str) -> Result<String, AuthError> {
    if public_key.len() != 33 {
        return Err(AuthError::InvalidPublicKey);
    }
    let key = VerifyingKey::from_sec1_bytes(public_key).map_err(|_| AuthError::InvalidPublicKey)?;
    cosmrs::crypto::PublicKey::from(key)
        .account_id(prefix)
        .map(|id| id.to_string())
        .map_err(|_| AuthError::InvalidPrefix {
            prefix: prefix.to_string(),
        })
}

/// Signs tokens as a tenant.
pub struct TokenIssuer {
    key: SigningKey,
    embed_public_key: bool,
}

impl TokenIssuer {
    /// From the 32-byte secp256k1 secret key. Tokens embed the public key.
    pub fn from_secret(secret: &[u8]) -> Result<TokenIssuer, AuthError> {
        let key = SigningKey::from_slice(secret).map_err(|_| AuthError::InvalidSigningKey)?;
        Ok(TokenIssuer {
            key,
            embed_public_key: true,
        })
    }

    /// Leave the public key out: the provider must then look it up on chain (as Akash's do).
    pub fn without_embedded_key(mut self) -> TokenIssuer {
        self.embed_public_key = false;
        self
    }

    /// The SEC1 compressed public key.
    pub fn public_key(&self) -> [u8; 33] {
        compressed(self.key.verifying_key())
    }

    pub fn address(&self, prefix: &str) -> Result<String, AuthError> {
        address_of(&self.public_key(), prefix)
    }

    pub fn issue(&self, claims: &Claims) -> String {
        let pk = self.embed_public_key.then(|| self.public_key());
        encode_and_sign(claims, pk.as_ref().map(|k| &k[..]), |input| {
            let signature: Signature = self.key.sign(input);
            signature
                .normalize_s()
                .unwrap_or(signature)
                .to_bytes()
                .to_vec()
        })
    }
}

/// Signs `claims` with a 32-byte secp256k1 secret key, embedding the public key.
pub fn issue(secret: &[u8], claims: &Claims) -> Result<String, AuthError> {
    Ok(TokenIssuer::from_secret(secret)?.issue(claims))
}

/// Signs `claims` with a keyring key (the CLI's path: it never sees the secret bytes).
pub fn issue_with_chain_key(key: &kumo_chain::Key, claims: &Claims) -> String {
    let pk = key.public_key_bytes();
    // `Key::sign` is ECDSA over SHA-256 with low s, r || s: exactly ES256K.
    encode_and_sign(claims, Some(&pk), |input| key.sign(input))
}

fn compressed(key: &VerifyingKey) -> [u8; 33] {
    let mut out = [0u8; 33];
    // A compressed point is always 33 bytes.
    out.copy_from_slice(key.to_encoded_point(true).as_bytes());
    out
}

fn encode_and_sign(
    claims: &Claims,
    public_key: Option<&[u8]>,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> String {
    let header = Header {
        alg: ALG.to_string(),
        typ: Some("JWT".to_string()),
        pk: public_key.map(|k| URL_SAFE_NO_PAD.encode(k)),
        crit: None,
    };
    // Serializing these plain structs cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let signature = sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// Where the verifier finds an issuer's public key when the token does not carry it. The agent
/// implements it over a cache of chain account queries.
pub trait PubKeyLookup {
    /// The compressed secp256k1 key of `address`, if known.
    fn public_key(&self, address: &str) -> Option<Vec<u8>>;
}

/// Accepts only tokens that embed their key.
pub struct NoLookup;

impl PubKeyLookup for NoLookup {
    fn public_key(&self, _address: &str) -> Option<Vec<u8>> {
        None
    }
}

impl PubKeyLookup for std::collections::BTreeMap<String, Vec<u8>> {
    fn public_key(&self, address: &str) -> Option<Vec<u8>> {
        self.get(address).cloned()
    }
}

impl PubKeyLookup for std::collections::HashMap<String, Vec<u8>> {
    fn public_key(&self, address: &str) -> Option<Vec<u8>> {
        self.get(address).cloned()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The chain's bech32 account prefix.
    pub prefix: String,
    pub max_lifetime: u64,
    pub clock_skew: u64,
    pub max_token_len: usize,
}

impl VerifierConfig {
    pub fn new(prefix: impl Into<String>) -> VerifierConfig {
        VerifierConfig {
            prefix: prefix.into(),
            max_lifetime: DEFAULT_MAX_LIFETIME,
            clock_skew: DEFAULT_CLOCK_SKEW,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// A token whose structure, header and claims parsed, but whose signature and times are not
/// checked yet. Split out so that an async caller can fetch the issuer's key in between.
#[derive(Clone, Debug)]
pub struct UnverifiedToken {
    claims: Claims,
    embedded_key: Option<Vec<u8>>,
    signing_input: String,
    signature: Vec<u8>,
}

impl UnverifiedToken {
    /// The claimed issuer; not authenticated yet.
    pub fn issuer(&self) -> &str {
        &self.claims.iss
    }

    /// The public key the token carries, if any; not checked yet.
    pub fn embedded_key(&self) -> Option<&[u8]> {
        self.embedded_key.as_deref()
    }
}

/// Checks lease-API tokens.
#[derive(Clone, Debug)]
pub struct Verifier {
    config: VerifierConfig,
}

impl Verifier {
    pub fn new(config: VerifierConfig) -> Verifier {
        Verifier { config }
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Parses a token without trusting it: length (before any decoding), three base64url
    /// parts, the header (`alg` must be ES256K, `typ` JWT if present, no `crit`), the claims and
    /// their structure, and the issuer's address prefix.
    pub fn parse(&self, token: &str) -> Result<UnverifiedToken, AuthError> {
        let max = self.config.max_token_len;
        if token.len() > max {
            return Err(AuthError::TooLarge {
                len: token.len(),
                max,
            });
        }
        let malformed = |what: &str| AuthError::Malformed(what.to_string());
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("a token has three dot-separated parts"));
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| malformed(&format!("{what} is not unpadded base64url")))
        };
        let header: Header = serde_json::from_slice(&decode(h, "header")?)
            .map_err(|e| AuthError::Malformed(format!("header: {e}")))?;
        if header.alg != ALG {
            return Err(AuthError::AlgNotAllowed { alg: header.alg });
        }
        if let Some(typ) = header.typ {
            if !typ.eq_ignore_ascii_case("JWT") {
                return Err(AuthError::UnsupportedType { typ });
            }
        }
        if header.crit.is_some() {
            return Err(malformed("critical header extensions are not supported"));
        }
        let embedded_key = match header.pk {
            Some(pk) => Some(decode(&pk, "header pk")?),
            None => None,
        };
        let claims: Claims = serde_json::from_slice(&decode(c, "claims")?)
            .map_err(|e| AuthError::Malformed(format!("claims: {e}")))?;
        claims.validate()?;
        let prefix_ok = claims
            .iss
            .strip_prefix(self.config.prefix.as_str())
            .is_some_and(|rest| rest.starts_with('1'));
        if !prefix_ok {
            return Err(AuthError::InvalidIssuer {
                iss: claims.iss,
                prefix: self.config.prefix.clone(),
            });
        }
        let signature = decode(s, "signature")?;
        Ok(UnverifiedToken {
            claims,
            embedded_key,
            signing_input: format!("{h}.{c}"),
            signature,
        })
    }

    /// Checks the signature with `public_key` (whose address must be the issuer), then the
    /// times against `now` (Unix seconds). The key is the token's own if it carries one.
    pub fn verify_parsed(
        &self,
        token: UnverifiedToken,
        public_key: &[u8],
        now: u64,
    ) -> Result<Claims, AuthError> {
        let key_address = address_of(public_key, &self.config.prefix)?;
        if key_address != token.claims.iss {
            return Err(AuthError::KeyMismatch {
                iss: token.claims.iss,
                key_address,
            });
        }
        let key =
            VerifyingKey::from_sec1_bytes(public_key).map_err(|_| AuthError::InvalidPublicKey)?;
        let signature =
            Signature::from_slice(&token.signature).map_err(|_| AuthError::BadSignature)?;
        // Other ES256K signers (Go's) do not always normalize s; k256 accepts only low s, and
        // the high-s twin is equally valid for authentication (no replay rides on its bytes).
        let signature = signature.normalize_s().unwrap_or(signature);
        key.verify(token.signing_input.as_bytes(), &signature)
            .map_err(|_| AuthError::BadSignature)?;
        self.check_times(&token.claims, now)?;
        Ok(token.claims)
    }

    /// Parses and verifies a token, taking the key from the token or else from `lookup`.
    pub fn verify(
        &self,
        token: &str,
        now: u64,
        lookup: &dyn PubKeyLookup,
    ) -> Result<Claims, AuthError> {
        let parsed = self.parse(token)?;
        let key = match parsed.embedded_key() {
            Some(k) => k.to_vec(),
            None => lookup
                .public_key(parsed.issuer())
                .ok_or_else(|| AuthError::UnknownIssuer {
                    iss: parsed.issuer().to_string(),
                })?,
        };
        self.verify_parsed(parsed, &key, now)
    }

    /// [`Verifier::verify`] at the system clock's time.
    pub fn verify_now(&self, token: &str, lookup: &dyn PubKeyLookup) -> Result<Claims, AuthError> {
        self.verify(token, unix_now(), lookup)
    }

    /// `iat`, `nbf` and `exp` with the configured skew, as golang-jwt checks them: valid while
    /// `now < exp + skew`, from `nbf - skew`, issued no later than `now + skew`; and a lifetime
    /// `exp - iat` of at most the configured maximum.
    fn check_times(&self, c: &Claims, now: u64) -> Result<(), AuthError> {
        let skew = self.config.clock_skew;
        if now >= c.exp.saturating_add(skew) {
            return Err(AuthError::Expired { exp: c.exp, now });
        }
        if now.saturating_add(skew) < c.nbf {
            return Err(AuthError::NotYetValid { nbf: c.nbf, now });
        }
        if now.saturating_add(skew) < c.iat {
            return Err(AuthError::IssuedInFuture { iat: c.iat, now });
        }
        let lifetime = c.exp.saturating_sub(c.iat);
        if lifetime > self.config.max_lifetime {
            return Err(AuthError::LifetimeTooLong {
                lifetime,
                max: self.config.max_lifetime,
            });
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether verified `claims` allow `scope` on `lease`: the issuer must own the lease, and the
/// token must grant the scope there (Akash `AuthorizeLeaseIDForPermissionScope`). A permission
/// limited to some services does not grant lease-wide requests; see [`authorize_service`].
pub fn authorize(claims: &Claims, scope: Scope, lease: &LeaseId) -> Result<(), AuthError> {
    authorize_inner(claims, scope, lease, None)
}

/// [`authorize`] for a request about one service of the lease (logs, shell).
pub fn authorize_service(
    claims: &Claims,
    scope: Scope,
    lease: &LeaseId,
    service: &str,
) -> Result<(), AuthError> {
    authorize_inner(claims, scope, lease, Some(service))
}

fn authorize_inner(
    claims: &Claims,
    scope: Scope,
    lease: &LeaseId,
    service: Option<&str>,
) -> Result<(), AuthError> {
    if claims.iss != lease.owner.as_str() {
        return Err(AuthError::NotLeaseOwner {
            iss: claims.iss.clone(),
            owner: lease.owner.to_string(),
        });
    }
    let leases = &claims.leases;
    let granted = match leases.access {
        Access::Full => true,
        Access::Scoped => leases.scope.contains(&scope),
        Access::Granular => leases
            .permissions
            .iter()
            .filter(|p| p.provider == lease.provider.as_str())
            .any(|p| match p.access {
                Access::Full => true,
                Access::Scoped => p.scope.contains(&scope),
                Access::Granular => p.deployments.iter().any(|d| {
                    d.dseq == lease.dseq
                        && (d.gseq == 0 || d.gseq == lease.gseq)
                        && (d.oseq == 0 || d.oseq == lease.oseq)
                        && d.scope.contains(&scope)
                        && (d.services.is_empty()
                            || service.is_some_and(|s| d.services.iter().any(|x| x == s)))
                }),
            }),
    };
    if granted {
        Ok(())
    } else {
        Err(AuthError::WrongScope { scope })
    }
}
