//! Lease-API tokens: issuing, verifying and authorizing.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cosmwasm_std::Addr;
use k256::ecdsa::signature::Signer as _;
use k256::ecdsa::{Signature, SigningKey};
use kumo::{DeploymentId, LeaseId};
use kumo_provider::auth::{
    authorize, authorize_service, issue, issue_with_chain_key, Access, AuthError, Claims,
    DeploymentPermission, Leases, NoLookup, Permission, Scope, TokenIssuer, Verifier,
    VerifierConfig, DEFAULT_MAX_TOKEN_LEN,
};

const NOW: u64 = 1_750_000_000;
const PREFIX: &str = "kumo";
const SECRET_A: [u8; 32] = [7u8; 32];
const SECRET_B: [u8; 32] = [9u8; 32];
const ABANDON: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn tenant(secret: &[u8; 32]) -> (TokenIssuer, String) {
    let issuer = TokenIssuer::from_secret(secret).unwrap();
    let address = issuer.address(PREFIX).unwrap();
    (issuer, address)
}

fn verifier() -> Verifier {
    Verifier::new(VerifierConfig::new(PREFIX))
}

fn lease(owner: &str, provider: &str) -> LeaseId {
    DeploymentId::new(Addr::unchecked(owner), 42)
        .group(1)
        .order(1)
        .bid(Addr::unchecked(provider))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_string).collect()
}

/// A token with this header and these claims, signed with `secret` like a real one.
fn signed_with_header(secret: &[u8; 32], header: &str, claims: &Claims) -> String {
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(&serde_json::to_vec(claims).unwrap())
    );
    let key = SigningKey::from_slice(secret).unwrap();
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn embedded_header(secret: &[u8; 32]) -> String {
    let (issuer, _) = tenant(secret);
    format!(
        r#"{{"alg":"ES256K","typ":"JWT","pk":"{}"}}"#,
        b64(&issuer.public_key())
    )
}

#[test]
fn round_trip_with_embedded_key() {
    let (issuer, address) = tenant(&SECRET_A);
    assert!(address.starts_with("kumo1"));
    let claims = Claims::full(&address, NOW, 600);
    let token = issuer.issue(&claims);
    let verified = verifier().verify(&token, NOW, &NoLookup).unwrap();
    assert_eq!(verified, claims);
    // The free function signs the same way (RFC 6979: deterministic).
    assert_eq!(issue(&SECRET_A, &claims).unwrap(), token);
}

#[test]
fn key_from_lookup_when_the_token_carries_none() {
    let (issuer, address) = tenant(&SECRET_A);
    let issuer = issuer.without_embedded_key();
    let token = issuer.issue(&Claims::full(&address, NOW, 600));
    assert_eq!(
        verifier().verify(&token, NOW, &NoLookup),
        Err(AuthError::UnknownIssuer {
            iss: address.clone()
        })
    );
    let mut chain = BTreeMap::new();
    chain.insert(address.clone(), issuer.public_key().to_vec());
    assert!(verifier().verify(&token, NOW, &chain).is_ok());

    // A lookup that answers with another account's key is caught too.
    let (other, _) = tenant(&SECRET_B);
    chain.insert(address.clone(), other.public_key().to_vec());
    assert!(matches!(
        verifier().verify(&token, NOW, &chain),
        Err(AuthError::KeyMismatch { .. })
    ));
}

#[test]
fn chain_keyring_keys_issue_verifiable_tokens() {
    let key = kumo_chain::Key::from_mnemonic(ABANDON).unwrap();
    let address = key.address(PREFIX).unwrap();
    let claims = Claims::scoped(&address, NOW, 300, &[Scope::SendManifest, Scope::Status]);
    let token = issue_with_chain_key(&key, &claims);
    assert_eq!(verifier().verify(&token, NOW, &NoLookup).unwrap(), claims);
}

#[test]
fn alg_none_is_rejected() {
    let (_, address) = tenant(&SECRET_A);
    let claims = Claims::full(&address, NOW, 600);
    let token = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(&serde_json::to_vec(&claims).unwrap())
    );
    assert_eq!(
        verifier().verify(&token, NOW, &NoLookup),
        Err(AuthError::AlgNotAllowed { alg: "none".into() })
    );
}

#[test]
fn alg_hs256_and_es256_are_rejected() {
    let (_, address) = tenant(&SECRET_A);
    let claims = Claims::full(&address, NOW, 600);
    for alg in ["HS256", "ES256", "es256k", "RS256"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let token = signed_with_header(&SECRET_A, &header, &claims);
        assert_eq!(
            verifier().verify(&token, NOW, &NoLookup),
            Err(AuthError::AlgNotAllowed { alg: alg.into() }),
            "{alg}"
        );
    }
}

#[test]
fn other_token_types_and_critical_extensions_are_rejected() {
    let (issuer, address) = tenant(&SECRET_A);
    let claims = Claims::full(&address, NOW, 600);
    let pk = b64(&issuer.public_key());
    let typ = format!(r#"{{"alg":"ES256K","typ":"at+jwt","pk":"{pk}"}}"#);
    assert_eq!(
        verifier().verify(
            &signed_with_header(&SECRET_A, &typ, &claims),
            NOW,
            &NoLookup
        ),
        Err(AuthError::UnsupportedType {
            typ: "at+jwt".into()
        })
    );
    let crit = format!(r#"{{"alg":"ES256K","pk":"{pk}","crit":["exp"]}}"#);
    assert!(matches!(
        verifier().verify(
            &signed_with_header(&SECRET_A, &crit, &claims),
            NOW,
            &NoLookup
        ),
        Err(AuthError::Malformed(_))
    ));
    // Without `typ` the token is fine.
    let bare = format!(r#"{{"alg":"ES256K","pk":"{pk}"}}"#);
    assert!(verifier()
        .verify(
            &signed_with_header(&SECRET_A, &bare, &claims),
            NOW,
            &NoLookup
        )
        .is_ok());
}

#[test]
fn tampered_payload_fails_the_signature() {
    let (issuer, address) = tenant(&SECRET_A);
    let token = issuer.issue(&Claims::scoped(&address, NOW, 600, &[Scope::Status]));
    let p = parts(&token);
    let mut claims: Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&p[1]).unwrap()).unwrap();
    claims.leases = Leases {
        access: Access::Full,
        scope: vec![],
        permissions: vec![],
    };
    let forged = format!(
        "{}.{}.{}",
        p[0],
        b64(&serde_json::to_vec(&claims).unwrap()),
        p[2]
    );
    assert_eq!(
        verifier().verify(&forged, NOW, &NoLookup),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn tampered_signature_and_header_fail() {
    let (issuer, address) = tenant(&SECRET_A);
    let token = issuer.issue(&Claims::full(&address, NOW, 600));
    let p = parts(&token);
    let mut sig = URL_SAFE_NO_PAD.decode(&p[2]).unwrap();
    sig[10] ^= 1;
    let forged = format!("{}.{}.{}", p[0], p[1], b64(&sig));
    assert_eq!(
        verifier().verify(&forged, NOW, &NoLookup),
        Err(AuthError::BadSignature)
    );
    let short = format!("{}.{}.{}", p[0], p[1], b64(&sig[..63]));
    assert_eq!(
        verifier().verify(&short, NOW, &NoLookup),
        Err(AuthError::BadSignature)
    );
    // The header is signed too: dropping `typ` keeps it valid JSON but breaks the signature.
    let header = format!(r#"{{"alg":"ES256K","pk":"{}"}}"#, b64(&issuer.public_key()));
    let reheadered = format!("{}.{}.{}", b64(header.as_bytes()), p[1], p[2]);
    assert_eq!(
        verifier().verify(&reheadered, NOW, &NoLookup),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn high_s_twin_of_a_valid_signature_is_accepted() {
    let (issuer, address) = tenant(&SECRET_A);
    let token = issuer.issue(&Claims::full(&address, NOW, 600));
    let p = parts(&token);
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(&p[2]).unwrap()).unwrap();
    let (r, s) = sig.split_scalars();
    let high = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    assert!(high.normalize_s().is_some(), "the twin has a high s");
    let twin = format!("{}.{}.{}", p[0], p[1], b64(&high.to_bytes()));
    assert!(verifier().verify(&twin, NOW, &NoLookup).is_ok());
}

#[test]
fn a_key_that_is_not_the_issuers_is_refused() {
    let (_, address_a) = tenant(&SECRET_A);
    let (_, address_b) = tenant(&SECRET_B);
    // Signed by A, embedding A's key, claiming to be B.
    let token = signed_with_header(
        &SECRET_A,
        &embedded_header(&SECRET_A),
        &Claims::full(&address_b, NOW, 600),
    );
    assert_eq!(
        verifier().verify(&token, NOW, &NoLookup),
        Err(AuthError::KeyMismatch {
            iss: address_b.clone(),
            key_address: address_a
        })
    );
    // Signed by A, embedding B's key, claiming to be B: the key matches, the signature not.
    let token = signed_with_header(
        &SECRET_A,
        &embedded_header(&SECRET_B),
        &Claims::full(&address_b, NOW, 600),
    );
    assert_eq!(
        verifier().verify(&token, NOW, &NoLookup),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn invalid_embedded_keys_and_issuers_are_refused() {
    let (_, address) = tenant(&SECRET_A);
    let claims = Claims::full(&address, NOW, 600);
    // A bad SEC1 tag, and a key of the wrong length.
    for pk in [vec![5u8; 33], vec![2u8; 32]] {
        let header = format!(r#"{{"alg":"ES256K","pk":"{}"}}"#, b64(&pk));
        let token = signed_with_header(&SECRET_A, &header, &claims);
        assert_eq!(
            verifier().verify(&token, NOW, &NoLookup),
            Err(AuthError::InvalidPublicKey)
        );
    }
    let wrong_prefix = Claims::full(address.replacen("kumo", "cosmos", 1), NOW, 600);
    let token = signed_with_header(&SECRET_A, &embedded_header(&SECRET_A), &wrong_prefix);
    assert!(matches!(
        verifier().verify(&token, NOW, &NoLookup),
        Err(AuthError::InvalidIssuer { .. })
    ));
}

#[test]
fn expired_and_not_yet_valid_tokens_are_refused() {
    let (issuer, address) = tenant(&SECRET_A);
    let v = verifier();
    let token = issuer.issue(&Claims::full(&address, NOW, 600));
    assert_eq!(
        v.verify(&token, NOW + 600 + 30, &NoLookup),
        Err(AuthError::Expired {
            exp: NOW + 600,
            now: NOW + 630
        })
    );
    let mut later = Claims::full(&address, NOW, 600);
    later.nbf = NOW + 120;
    assert_eq!(
        v.verify(&issuer.issue(&later), NOW, &NoLookup),
        Err(AuthError::NotYetValid {
            nbf: NOW + 120,
            now: NOW
        })
    );
    let future = Claims::full(&address, NOW + 120, 600);
    let mut future_iat = future.clone();
    future_iat.nbf = NOW;
    assert_eq!(
        v.verify(&issuer.issue(&future_iat), NOW, &NoLookup),
        Err(AuthError::IssuedInFuture {
            iat: NOW + 120,
            now: NOW
        })
    );
}

#[test]
fn clock_skew_of_thirty_seconds_is_tolerated_and_no_more() {
    let (issuer, address) = tenant(&SECRET_A);
    let v = verifier();
    let token = issuer.issue(&Claims::full(&address, NOW, 600));
    let exp = NOW + 600;
    assert!(v.verify(&token, exp, &NoLookup).is_ok());
    assert!(v.verify(&token, exp + 29, &NoLookup).is_ok());
    assert!(matches!(
        v.verify(&token, exp + 30, &NoLookup),
        Err(AuthError::Expired { .. })
    ));
    // Issued by a clock 30 s ahead of ours: fine; 31 s: not yet.
    assert!(v.verify(&token, NOW - 30, &NoLookup).is_ok());
    assert!(matches!(
        v.verify(&token, NOW - 31, &NoLookup),
        Err(AuthError::NotYetValid { .. })
    ));
}

#[test]
fn lifetime_is_capped() {
    let (issuer, address) = tenant(&SECRET_A);
    let ok = issuer.issue(&Claims::full(&address, NOW, 900));
    assert!(verifier().verify(&ok, NOW, &NoLookup).is_ok());
    let long = issuer.issue(&Claims::full(&address, NOW, 901));
    assert_eq!(
        verifier().verify(&long, NOW, &NoLookup),
        Err(AuthError::LifetimeTooLong {
            lifetime: 901,
            max: 900
        })
    );
    let mut config = VerifierConfig::new(PREFIX);
    config.max_lifetime = 3600;
    assert!(Verifier::new(config).verify(&long, NOW, &NoLookup).is_ok());
}

#[test]
fn garbage_is_malformed() {
    let v = verifier();
    let (issuer, address) = tenant(&SECRET_A);
    let token = issuer.issue(&Claims::full(&address, NOW, 600));
    let p = parts(&token);
    let cases = [
        String::new(),
        "no-dots".to_string(),
        "a.b".to_string(),
        format!("{token}.extra"),
        format!("{}.{}!.{}", p[0], p[1], p[2]),
        format!("{}=.{}.{}", p[0], p[1], p[2]),
        format!("{}.{}.{}", p[0], b64(b"not json"), p[2]),
        format!("{}.{}.{}", b64(b"[1,2]"), p[1], p[2]),
        format!("{}.{}.{}", p[0], p[1], "***"),
    ];
    for case in cases {
        assert!(
            matches!(
                v.verify(&case, NOW, &NoLookup),
                Err(AuthError::Malformed(_))
            ),
            "{case:?}: {:?}",
            v.verify(&case, NOW, &NoLookup)
        );
    }
}

#[test]
fn claims_must_follow_akash_rules() {
    let (_, address) = tenant(&SECRET_A);
    let header = embedded_header(&SECRET_A);
    let mut cases = Vec::new();
    let mut version = Claims::full(&address, NOW, 600);
    version.version = "v2".into();
    cases.push(version);
    let mut full_with_scope = Claims::full(&address, NOW, 600);
    full_with_scope.leases.scope = vec![Scope::Logs];
    cases.push(full_with_scope);
    cases.push(Claims::scoped(&address, NOW, 600, &[]));
    cases.push(Claims::scoped(
        &address,
        NOW,
        600,
        &[Scope::Logs, Scope::Logs],
    ));
    let mut granular_empty = Claims::full(&address, NOW, 600);
    granular_empty.leases.access = Access::Granular;
    cases.push(granular_empty);
    for claims in cases {
        let token = signed_with_header(&SECRET_A, &header, &claims);
        assert!(
            matches!(
                verifier().verify(&token, NOW, &NoLookup),
                Err(AuthError::Malformed(_))
            ),
            "{claims:?}"
        );
    }
    // Unknown scopes and missing times do not parse.
    let raw = format!(
        r#"{{"iss":"{address}","iat":{NOW},"nbf":{NOW},"exp":{},"version":"v1","leases":{{"access":"scoped","scope":["admin"]}}}}"#,
        NOW + 60
    );
    let missing_exp = format!(
        r#"{{"iss":"{address}","iat":{NOW},"nbf":{NOW},"version":"v1","leases":{{"access":"full"}}}}"#
    );
    for json in [raw, missing_exp] {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(json.as_bytes()));
        let sig: Signature = SigningKey::from_slice(&SECRET_A)
            .unwrap()
            .sign(input.as_bytes());
        let token = format!("{input}.{}", b64(&sig.to_bytes()));
        assert!(matches!(
            verifier().verify(&token, NOW, &NoLookup),
            Err(AuthError::Malformed(_))
        ));
    }
}

#[test]
fn oversize_token_is_rejected_before_decoding() {
    let huge = "!".repeat(DEFAULT_MAX_TOKEN_LEN + 1);
    assert_eq!(
        verifier().verify(&huge, NOW, &NoLookup),
        Err(AuthError::TooLarge {
            len: DEFAULT_MAX_TOKEN_LEN + 1,
            max: DEFAULT_MAX_TOKEN_LEN
        })
    );
    // At the limit, the same garbage is judged on its content.
    let at_limit = "!".repeat(DEFAULT_MAX_TOKEN_LEN);
    assert!(matches!(
        verifier().verify(&at_limit, NOW, &NoLookup),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn scopes_are_enforced_per_lease() {
    let (_, address) = tenant(&SECRET_A);
    let l = lease(&address, "kumo1provider");
    let scoped = Claims::scoped(&address, NOW, 600, &[Scope::SendManifest, Scope::Status]);
    assert_eq!(authorize(&scoped, Scope::SendManifest, &l), Ok(()));
    assert_eq!(authorize(&scoped, Scope::Status, &l), Ok(()));
    let err = authorize(&scoped, Scope::Shell, &l).unwrap_err();
    assert_eq!(
        err,
        AuthError::WrongScope {
            scope: Scope::Shell
        }
    );
    assert!(err.is_forbidden());
    let full = Claims::full(&address, NOW, 600);
    for scope in [Scope::Shell, Scope::Logs, Scope::GetManifest, Scope::Events] {
        assert_eq!(authorize(&full, scope, &l), Ok(()));
    }
}

#[test]
fn only_the_lease_owner_is_authorized() {
    let (_, address) = tenant(&SECRET_A);
    let (_, other) = tenant(&SECRET_B);
    let claims = Claims::full(&address, NOW, 600);
    let err = authorize(&claims, Scope::Status, &lease(&other, "kumo1provider")).unwrap_err();
    assert_eq!(
        err,
        AuthError::NotLeaseOwner {
            iss: address,
            owner: other
        }
    );
    assert!(err.is_forbidden());
    assert!(!AuthError::BadSignature.is_forbidden());
}

#[test]
fn granular_permissions_name_provider_deployment_and_services() {
    let (issuer, address) = tenant(&SECRET_A);
    let leases = Leases {
        access: Access::Granular,
        scope: vec![],
        permissions: vec![
            Permission {
                provider: "kumo1alpha".into(),
                access: Access::Granular,
                scope: vec![],
                deployments: vec![DeploymentPermission {
                    scope: vec![Scope::Logs],
                    dseq: 42,
                    gseq: 1,
                    oseq: 0,
                    services: vec!["web".into()],
                }],
            },
            Permission {
                provider: "kumo1beta".into(),
                access: Access::Scoped,
                scope: vec![Scope::Status],
                deployments: vec![],
            },
        ],
    };
    let claims = Claims::with_leases(&address, NOW, 600, leases);
    // It survives the wire.
    let claims = verifier()
        .verify(&issuer.issue(&claims), NOW, &NoLookup)
        .unwrap();
    let alpha = lease(&address, "kumo1alpha");
    assert_eq!(
        authorize_service(&claims, Scope::Logs, &alpha, "web"),
        Ok(())
    );
    assert!(authorize_service(&claims, Scope::Logs, &alpha, "db").is_err());
    // Limited to a service: a lease-wide request is not covered.
    assert!(authorize(&claims, Scope::Logs, &alpha).is_err());
    assert!(authorize_service(&claims, Scope::Shell, &alpha, "web").is_err());
    let mut other_group = alpha.clone();
    other_group.gseq = 2;
    assert!(authorize_service(&claims, Scope::Logs, &other_group, "web").is_err());
    let beta = lease(&address, "kumo1beta");
    assert_eq!(authorize(&claims, Scope::Status, &beta), Ok(()));
    assert!(authorize(&claims, Scope::Logs, &beta).is_err());
    assert!(authorize(&claims, Scope::Status, &lease(&address, "kumo1gamma")).is_err());
}

#[test]
fn parse_then_verify_lets_the_caller_fetch_the_key() {
    let (issuer, address) = tenant(&SECRET_A);
    let token = issuer
        .without_embedded_key()
        .issue(&Claims::full(&address, NOW, 600));
    let v = verifier();
    let parsed = v.parse(&token).unwrap();
    assert_eq!(parsed.issuer(), address);
    assert!(parsed.embedded_key().is_none());
    let key = TokenIssuer::from_secret(&SECRET_A).unwrap().public_key();
    assert!(v.verify_parsed(parsed, &key, NOW).is_ok());
    assert_eq!(
        TokenIssuer::from_secret(&[0u8; 32]).err(),
        Some(AuthError::InvalidSigningKey)
    );
}
