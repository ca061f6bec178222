//! Unit tests of the registry on its own. Deregistration against the real market runs in the
//! workspace `tests/` crate.

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, MockApi, MockQuerier, MockStorage,
};
use cosmwasm_std::{
    coins, from_json, Binary, DepsMut, Env, HexBinary, MessageInfo, OwnedDeps, Response, StdResult,
};
use kumo::registry::*;
use kumo::Attribute;

use crate::contract;
use crate::error::ContractError;

/// Every message the tests send goes through JSON as the chain would send it.
use kumo::json::as_received as json;

fn instantiate(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    contract::instantiate(deps, env, info, json(&msg))
}

fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    contract::execute(deps, env, info, json(&msg))
}

fn query(deps: cosmwasm_std::Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    contract::query(deps, env, json(&msg))
}

type Deps = OwnedDeps<MockStorage, MockApi, MockQuerier>;

fn setup(limits: Option<RegistryLimits>) -> Deps {
    let mut deps = mock_dependencies();
    let owner = deps.api.addr_make("owner");
    instantiate(
        deps.as_mut(),
        mock_env(),
        message_info(&owner, &[]),
        InstantiateMsg {
            owner: owner.to_string(),
            market: None,
            limits,
        },
    )
    .unwrap();
    deps
}

fn exec(deps: &mut Deps, who: &str, msg: ExecuteMsg) -> Result<Response, ContractError> {
    let sender = deps.api.addr_make(who);
    execute(deps.as_mut(), mock_env(), message_info(&sender, &[]), msg)
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<Attribute> {
    pairs.iter().map(|(k, v)| Attribute::new(*k, *v)).collect()
}

fn register_msg(host: &str, attributes: Vec<Attribute>) -> ExecuteMsg {
    ExecuteMsg::RegisterProvider {
        host_uri: host.into(),
        attributes,
        info: ProviderInfo {
            email: "ops@example.com".into(),
            website: "https://example.com".into(),
        },
    }
}

fn register(deps: &mut Deps, who: &str) {
    exec(
        deps,
        who,
        register_msg("https://p.example.com:8443", attrs(&[("region", "eu")])),
    )
    .unwrap();
}

fn provider(deps: &Deps, who: &str) -> Provider {
    let res: ProviderResponse = from_json(
        query(
            deps.as_ref(),
            mock_env(),
            QueryMsg::Provider {
                address: deps.api.addr_make(who).to_string(),
            },
        )
        .unwrap(),
    )
    .unwrap();
    res.provider
}

#[test]
fn register_stores_sorted_attributes_and_rejects_a_second_registration() {
    let mut deps = setup(None);
    exec(
        &mut deps,
        "p1",
        register_msg(
            "https://p1.example.com",
            attrs(&[("tier", "1"), ("region", "eu")]),
        ),
    )
    .unwrap();
    let p = provider(&deps, "p1");
    assert_eq!(p.attributes, attrs(&[("region", "eu"), ("tier", "1")]));
    assert_eq!(p.status, ProviderStatus::Active);
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            register_msg("https://x.example.com", vec![])
        )
        .unwrap_err(),
        ContractError::AlreadyRegistered { .. }
    ));
    // Update replaces everything; a stranger cannot update.
    exec(
        &mut deps,
        "p1",
        ExecuteMsg::UpdateProvider {
            host_uri: "https://new.example.com".into(),
            attributes: attrs(&[("region", "us")]),
            info: ProviderInfo::default(),
        },
    )
    .unwrap();
    assert_eq!(provider(&deps, "p1").host_uri, "https://new.example.com");
    assert!(matches!(
        exec(
            &mut deps,
            "p2",
            ExecuteMsg::UpdateProvider {
                host_uri: "https://new.example.com".into(),
                attributes: vec![],
                info: ProviderInfo::default(),
            }
        )
        .unwrap_err(),
        ContractError::NotRegistered { .. }
    ));
}

#[test]
fn bad_provider_input_gets_typed_errors() {
    let mut deps = setup(None);
    for host in [
        "",
        "p.example.com",
        "ftp://p.example.com",
        "https://",
        "https://:8443",
        "https://p.example .com",
    ] {
        assert!(
            matches!(
                exec(&mut deps, "p1", register_msg(host, vec![])).unwrap_err(),
                ContractError::InvalidHostUri { .. }
            ),
            "{host:?}"
        );
    }
    let long_host = format!("https://{}.com", "a".repeat(300));
    assert!(matches!(
        exec(&mut deps, "p1", register_msg(&long_host, vec![])).unwrap_err(),
        ContractError::TextTooLong { .. }
    ));
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            register_msg("https://p.example.com", attrs(&[("1region", "eu")]))
        )
        .unwrap_err(),
        ContractError::Attribute(_)
    ));
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            register_msg(
                "https://p.example.com",
                attrs(&[("region", "eu"), ("region", "us")])
            )
        )
        .unwrap_err(),
        ContractError::Attribute(_)
    ));
    let many: Vec<_> = (0..25)
        .map(|i| Attribute::new(format!("k{i}"), "v"))
        .collect();
    assert_eq!(
        exec(&mut deps, "p1", register_msg("https://p.example.com", many)).unwrap_err(),
        ContractError::TooManyAttributes { got: 25, max: 24 }
    );
    assert_eq!(
        exec(
            &mut deps,
            "p1",
            register_msg(
                "https://p.example.com",
                vec![Attribute::new("region", "x".repeat(65))]
            )
        )
        .unwrap_err(),
        ContractError::AttributeValueTooLong {
            key: "region".into(),
            len: 65,
            max: 64
        }
    );
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            register_msg("https://p.example.com", attrs(&[("region", "")]))
        )
        .unwrap_err(),
        ContractError::EmptyAttributeValue { .. }
    ));
    // Funds are refused, not kept.
    let p1 = deps.api.addr_make("p1");
    assert!(matches!(
        execute(
            deps.as_mut(),
            mock_env(),
            message_info(&p1, &coins(5, "ukumo")),
            register_msg("https://p.example.com", vec![])
        )
        .unwrap_err(),
        ContractError::Payment(_)
    ));
}

#[test]
fn api_keys_are_bounded_validated_and_revocable() {
    let mut deps = setup(None);
    register(&mut deps, "p1");
    let key = |id: &str, algorithm, bytes: Vec<u8>| ExecuteMsg::AddApiKey {
        key: NewApiKey {
            id: id.into(),
            algorithm,
            public_key: Binary::from(bytes),
        },
    };
    let mut secp = vec![0x02u8];
    secp.extend([7u8; 32]);
    exec(
        &mut deps,
        "p1",
        key("k1", KeyAlgorithm::Es256k, secp.clone()),
    )
    .unwrap();
    exec(
        &mut deps,
        "p1",
        key("k2", KeyAlgorithm::Ed25519, vec![1u8; 32]),
    )
    .unwrap();
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            key("k1", KeyAlgorithm::Ed25519, vec![1u8; 32])
        )
        .unwrap_err(),
        ContractError::DuplicateKeyId { .. }
    ));
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            key("bad id", KeyAlgorithm::Ed25519, vec![1u8; 32])
        )
        .unwrap_err(),
        ContractError::InvalidKeyId { .. }
    ));
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            key("k3", KeyAlgorithm::Es256k, vec![0x04u8; 33])
        )
        .unwrap_err(),
        ContractError::InvalidPublicKey { len: 33, .. }
    ));
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            key("k3", KeyAlgorithm::Ed25519, vec![1u8; 31])
        )
        .unwrap_err(),
        ContractError::InvalidPublicKey { len: 31, .. }
    ));
    exec(
        &mut deps,
        "p1",
        ExecuteMsg::RevokeApiKey { id: "k1".into() },
    )
    .unwrap();
    assert!(provider(&deps, "p1").api_keys[0].revoked_at.is_some());
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            ExecuteMsg::RevokeApiKey { id: "k1".into() }
        )
        .unwrap_err(),
        ContractError::KeyRevoked { .. }
    ));
    assert!(matches!(
        exec(
            &mut deps,
            "p1",
            ExecuteMsg::RevokeApiKey { id: "nope".into() }
        )
        .unwrap_err(),
        ContractError::KeyNotFound { .. }
    ));
    // Revoked keys still count and their ids are not reused.
    exec(
        &mut deps,
        "p1",
        key("k3", KeyAlgorithm::Ed25519, vec![2u8; 32]),
    )
    .unwrap();
    assert_eq!(
        exec(
            &mut deps,
            "p1",
            key("k4", KeyAlgorithm::Ed25519, vec![3u8; 32])
        )
        .unwrap_err(),
        ContractError::TooManyKeys { max: 3 }
    );
}

#[test]
fn tls_pins_are_32_bytes_unique_and_bounded() {
    let mut deps = setup(None);
    register(&mut deps, "p1");
    let pins = |v: Vec<Vec<u8>>| ExecuteMsg::SetTlsPins {
        pins: v.into_iter().map(HexBinary::from).collect(),
    };
    exec(&mut deps, "p1", pins(vec![vec![1; 32], vec![2; 32]])).unwrap();
    assert_eq!(provider(&deps, "p1").tls_pins.len(), 2);
    assert_eq!(
        exec(&mut deps, "p1", pins(vec![vec![1; 31]])).unwrap_err(),
        ContractError::InvalidPin { len: 31 }
    );
    assert!(matches!(
        exec(&mut deps, "p1", pins(vec![vec![1; 32], vec![1; 32]])).unwrap_err(),
        ContractError::DuplicatePin { .. }
    ));
    assert_eq!(
        exec(
            &mut deps,
            "p1",
            pins((0..9u8).map(|i| vec![i; 32]).collect())
        )
        .unwrap_err(),
        ContractError::TooManyPins { got: 9, max: 8 }
    );
}

#[test]
fn auditors_upsert_and_delete_what_they_signed() {
    let mut deps = setup(Some(RegistryLimits {
        max_auditors_per_provider: 2,
        ..RegistryLimits::default()
    }));
    let p1 = deps.api.addr_make("p1").to_string();
    let sign = |pairs: &[(&str, &str)]| ExecuteMsg::SignAttributes {
        provider: p1.clone(),
        attributes: attrs(pairs),
    };
    assert!(matches!(
        exec(&mut deps, "a1", sign(&[("region", "eu")])).unwrap_err(),
        ContractError::NotRegistered { .. }
    ));
    register(&mut deps, "p1");
    exec(&mut deps, "a1", sign(&[("region", "eu"), ("tier", "1")])).unwrap();
    exec(&mut deps, "a1", sign(&[("tier", "2")])).unwrap();
    let audited: AuditedAttributesResponse = from_json(
        query(
            deps.as_ref(),
            mock_env(),
            QueryMsg::AuditedAttributes {
                provider: p1.clone(),
                auditor: deps.api.addr_make("a1").to_string(),
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        audited.audited.attributes,
        attrs(&[("region", "eu"), ("tier", "2")])
    );
    exec(&mut deps, "a2", sign(&[("region", "eu")])).unwrap();
    assert!(matches!(
        exec(&mut deps, "a3", sign(&[("region", "eu")])).unwrap_err(),
        ContractError::TooManyAuditors { max: 2, .. }
    ));
    let delete = |keys: Vec<&str>| ExecuteMsg::DeleteAttributes {
        provider: p1.clone(),
        keys: keys.into_iter().map(String::from).collect(),
    };
    assert!(matches!(
        exec(&mut deps, "a1", delete(vec!["nope"])).unwrap_err(),
        ContractError::AttributeNotFound { .. }
    ));
    assert!(matches!(
        exec(&mut deps, "a3", delete(vec![])).unwrap_err(),
        ContractError::NoAuditedAttributes { .. }
    ));
    exec(&mut deps, "a1", delete(vec!["tier"])).unwrap();
    // Deleting everything frees the auditor's slot.
    exec(&mut deps, "a2", delete(vec![])).unwrap();
    exec(&mut deps, "a3", sign(&[("region", "eu")])).unwrap();
    let info: MatchInfoResponse = from_json(
        query(
            deps.as_ref(),
            mock_env(),
            QueryMsg::MatchInfo {
                provider: p1.clone(),
                auditors: vec![
                    deps.api.addr_make("a1").to_string(),
                    deps.api.addr_make("a2").to_string(),
                    "not an address".into(),
                ],
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert!(info.provider.is_some());
    assert_eq!(info.audits.len(), 1);
    assert_eq!(info.audits[0].attributes, attrs(&[("region", "eu")]));
    // Asking for more auditors than a provider may have is refused.
    assert!(query(
        deps.as_ref(),
        mock_env(),
        QueryMsg::MatchInfo {
            provider: p1,
            auditors: vec!["a".into(); 65],
        },
    )
    .is_err());
}

#[test]
fn deregistration_is_two_steps_and_deletes_signed_attributes() {
    let mut deps = setup(None);
    register(&mut deps, "p1");
    let p1 = deps.api.addr_make("p1").to_string();
    exec(
        &mut deps,
        "a1",
        ExecuteMsg::SignAttributes {
            provider: p1.clone(),
            attributes: attrs(&[("region", "eu")]),
        },
    )
    .unwrap();
    assert_eq!(
        exec(&mut deps, "p1", ExecuteMsg::FinishDeregistration {}).unwrap_err(),
        ContractError::NotDeregistering
    );
    assert_eq!(
        exec(&mut deps, "p1", ExecuteMsg::CancelDeregistration {}).unwrap_err(),
        ContractError::NotDeregistering
    );
    exec(&mut deps, "p1", ExecuteMsg::BeginDeregistration {}).unwrap();
    assert_eq!(
        exec(&mut deps, "p1", ExecuteMsg::BeginDeregistration {}).unwrap_err(),
        ContractError::AlreadyDeregistering
    );
    exec(&mut deps, "p1", ExecuteMsg::CancelDeregistration {}).unwrap();
    exec(&mut deps, "p1", ExecuteMsg::BeginDeregistration {}).unwrap();
    // Without a market configured there are no leases to wait for.
    exec(&mut deps, "p1", ExecuteMsg::FinishDeregistration {}).unwrap();
    assert!(query(
        deps.as_ref(),
        mock_env(),
        QueryMsg::Provider {
            address: p1.clone()
        }
    )
    .is_err());
    let audits: AuditedAttributesListResponse = from_json(
        query(
            deps.as_ref(),
            mock_env(),
            QueryMsg::ProviderAudits {
                provider: p1,
                start_after: None,
                limit: None,
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert!(audits.audits.is_empty());
    // It may register again.
    register(&mut deps, "p1");
}

#[test]
fn providers_paginate() {
    let mut deps = setup(None);
    for i in 0..35 {
        register(&mut deps, &format!("p{i}"));
    }
    let page = |deps: &Deps, start_after: Option<String>, limit| -> Vec<Provider> {
        let res: ProvidersResponse = from_json(
            query(
                deps.as_ref(),
                mock_env(),
                QueryMsg::Providers { start_after, limit },
            )
            .unwrap(),
        )
        .unwrap();
        res.providers
    };
    assert_eq!(page(&deps, None, None).len(), 10);
    let first = page(&deps, None, Some(100));
    assert_eq!(first.len(), 30);
    let rest = page(&deps, Some(first[29].owner.to_string()), Some(100));
    assert_eq!(rest.len(), 5);
    assert!(rest.iter().all(|p| p.owner > first[29].owner));
}

#[test]
fn only_the_owner_changes_config_and_migrate_checks_the_name() {
    let mut deps = setup(None);
    let update = ExecuteMsg::UpdateConfig {
        owner: None,
        market: Some(deps.api.addr_make("market").to_string()),
        limits: None,
    };
    assert!(matches!(
        exec(&mut deps, "p1", update.clone()).unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    exec(&mut deps, "owner", update).unwrap();
    assert!(matches!(
        exec(
            &mut deps,
            "owner",
            ExecuteMsg::UpdateConfig {
                owner: None,
                market: None,
                limits: Some(RegistryLimits {
                    max_auditors_per_provider: 0,
                    ..RegistryLimits::default()
                }),
            }
        )
        .unwrap_err(),
        ContractError::InvalidLimits { .. }
    ));
    contract::migrate(deps.as_mut(), mock_env(), json(&MigrateMsg {})).unwrap();
    cw2::set_contract_version(deps.as_mut().storage, "crates.io:other", "1.0.0").unwrap();
    assert!(contract::migrate(deps.as_mut(), mock_env(), json(&MigrateMsg {})).is_err());
}
