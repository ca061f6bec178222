//! Unit tests of the market on its own. The registry is answered by a mock querier (the real
//! registry and escrow run together with the market in the workspace `tests/` crate); escrow
//! calls are checked as the messages the market emits.

use cosmwasm_std::testing::{
    message_info, mock_dependencies, mock_env, MockApi, MockQuerier, MockStorage,
};
use cosmwasm_std::{
    coin, coins, from_json, to_json_binary, to_json_vec, Addr, Binary, ContractResult, CosmosMsg,
    Decimal256, DepsMut, Env, HexBinary, MessageInfo, OwnedDeps, Response, SystemResult, Timestamp,
    Uint128, Uint64, WasmMsg, WasmQuery,
};
use kumo::attributes::{PlacementRequirements, SignedBy};
use kumo::escrow::{self, AccountId, EscrowCallback};
use kumo::market::*;
use kumo::registry::{Provider, ProviderInfo, ProviderStatus};
use kumo::{
    Asset, Attribute, BidId, Cpu, DecCoin, Denom, DeploymentId, Gpu, GroupSpec, Memory, OrderId,
    ResourceUnit, Resources, StorageVolume,
};

use crate::contract;
use crate::error::ContractError;

type Deps = OwnedDeps<MockStorage, MockApi, MockQuerier>;

const DENOM: &str = "ukumo";

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

fn query(deps: cosmwasm_std::Deps, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    contract::query(deps, env, json(&msg))
}

struct T {
    deps: Deps,
    env: Env,
    escrow: Addr,
}

fn addr(deps: &Deps, name: &str) -> Addr {
    deps.api.addr_make(name)
}

fn spec(name: &str, price_per_block: u128, requirements: &[(&str, &str)]) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        requirements: PlacementRequirements {
            signed_by: SignedBy::default(),
            attributes: requirements
                .iter()
                .map(|(k, v)| Attribute::new(*k, *v))
                .collect(),
        },
        resources: vec![ResourceUnit {
            resources: Resources {
                id: 1,
                cpu: Cpu {
                    units: 250,
                    attributes: vec![],
                },
                memory: Memory {
                    size: Uint64::new(128 << 20),
                    attributes: vec![],
                },
                storage: vec![StorageVolume {
                    name: "default".into(),
                    size: Uint64::new(256 << 20),
                    attributes: vec![],
                }],
                gpu: Gpu {
                    units: 0,
                    attributes: vec![],
                },
                endpoints: vec![],
            },
            count: 1,
            price: DecCoin {
                denom: DENOM.into(),
                amount: Decimal256::from_ratio(price_per_block, 1u128),
            },
        }],
    }
}

/// Registered providers and their attributes, as the market reads them raw from the registry's
/// `providers` and `audits` maps.
fn set_registry(deps: &mut Deps, registry: Addr, providers: Vec<(Addr, Vec<Attribute>, bool)>) {
    deps.querier.update_wasm(move |q| {
        let WasmQuery::Raw { contract_addr, key } = q else {
            panic!("unexpected query {q:?}");
        };
        assert_eq!(contract_addr, registry.as_str());
        let key = key.as_slice();
        let value = if let Some(rest) = key.strip_prefix(b"\0\x09providers".as_slice()) {
            providers
                .iter()
                .find(|(a, _, _)| a.as_bytes() == rest)
                .map(|(a, attrs, leaving)| {
                    kumo::codec::Encode::to_bytes(&Provider {
                        owner: a.clone(),
                        host_uri: "https://p.example.com".into(),
                        attributes: attrs.clone(),
                        info: ProviderInfo::default(),
                        status: if *leaving {
                            ProviderStatus::Deregistering {
                                since: Timestamp::from_seconds(1),
                            }
                        } else {
                            ProviderStatus::Active
                        },
                        api_keys: vec![],
                        tls_pins: vec![],
                        registered_at: Timestamp::from_seconds(1),
                    })
                    .into()
                })
        } else if let Some(rest) = key.strip_prefix(b"\0\x06audits".as_slice()) {
            // `(provider, auditor)`: every auditor named `auditor…` signed the region.
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            let auditor = &rest[2 + len..];
            auditor.starts_with(b"auditor").then(|| {
                kumo::codec::Encode::to_bytes(&vec![Attribute::new("region", "eu")]).into()
            })
        } else {
            panic!("unexpected raw key {key:?}")
        };
        SystemResult::Ok(ContractResult::Ok(value.unwrap_or_default()))
    });
}

fn setup() -> T {
    let mut deps = mock_dependencies();
    let owner = addr(&deps, "owner");
    let registry = addr(&deps, "registry");
    let escrow = addr(&deps, "escrow");
    let msg = InstantiateMsg {
        owner: owner.to_string(),
        registry: registry.to_string(),
        escrow: escrow.to_string(),
        staking: None,
        guardian: Some(addr(&deps, "guardian").to_string()),
        params: Some(MarketParams {
            bid_min_deposits: vec![Asset {
                denom: Denom::Native(DENOM.into()),
                amount: Uint128::new(500_000),
            }],
            ..MarketParams::default()
        }),
    };
    instantiate(deps.as_mut(), mock_env(), message_info(&owner, &[]), msg).unwrap();
    let providers = ["p1", "p2", "p3", "leaving"]
        .iter()
        .map(|p| {
            (
                addr(&deps, p),
                vec![Attribute::new("region", "eu")],
                *p == "leaving",
            )
        })
        .collect();
    set_registry(&mut deps, registry, providers);
    T {
        deps,
        env: mock_env(),
        escrow,
    }
}

impl T {
    fn exec(
        &mut self,
        who: &str,
        msg: ExecuteMsg,
        funds: &[cosmwasm_std::Coin],
    ) -> Result<Response, ContractError> {
        let sender = addr(&self.deps, who);
        execute(
            self.deps.as_mut(),
            self.env.clone(),
            message_info(&sender, funds),
            msg,
        )
    }

    /// A query's response, checked to be byte for byte what the derived `Serialize` writes
    /// (the contract writes it with `kumo::json::ToJson`).
    fn q<R: serde::de::DeserializeOwned + serde::Serialize>(&self, msg: QueryMsg) -> R {
        let bytes = query(self.deps.as_ref(), self.env.clone(), msg).unwrap();
        let response = from_json(&bytes).unwrap();
        assert_eq!(to_json_vec(&response).unwrap(), bytes.as_slice());
        response
    }

    fn deploy(&mut self, groups: Vec<GroupSpec>, auction: Option<u64>) -> DeploymentId {
        self.deploy_with(groups, auction, None).unwrap()
    }

    fn deploy_with(
        &mut self,
        groups: Vec<GroupSpec>,
        auction_window: Option<u64>,
        reclamation_min_window: Option<u64>,
    ) -> Result<DeploymentId, ContractError> {
        let res = self.exec(
            "tenant",
            ExecuteMsg::CreateDeployment(NewDeployment {
                groups,
                version: HexBinary::from(vec![1u8; 32]),
                auction_window,
                reclamation_min_window,
                provider_record: None,
            }),
            &coins(5_000_000, DENOM),
        )?;
        let dseq = res
            .attributes
            .iter()
            .find(|a| a.key == "dseq")
            .unwrap()
            .value
            .parse()
            .unwrap();
        Ok(DeploymentId::new(addr(&self.deps, "tenant"), dseq))
    }

    fn bid(
        &mut self,
        provider: &str,
        order: &OrderId,
        price: u128,
    ) -> Result<BidId, ContractError> {
        self.bid_with(provider, order, Decimal256::from_ratio(price, 1u128), None)
    }

    fn bid_with(
        &mut self,
        provider: &str,
        order: &OrderId,
        price: Decimal256,
        reclamation_window: Option<u64>,
    ) -> Result<BidId, ContractError> {
        self.exec(
            provider,
            ExecuteMsg::CreateBid(NewBid {
                order: order.clone(),
                price,
                reclamation_window,
                offer: vec![],
            }),
            &coins(500_000, DENOM),
        )?;
        Ok(order.bid(addr(&self.deps, provider)))
    }

    /// `None` once the bid is deleted (lost and closed bids are terminal).
    fn bid_state(&self, id: &BidId) -> Option<BidState> {
        query(
            self.deps.as_ref(),
            self.env.clone(),
            QueryMsg::Bid { id: id.clone() },
        )
        .ok()
        .map(|b| from_json::<BidResponse>(b).unwrap().bid.state)
    }

    fn order(&self, id: &OrderId) -> Option<Order> {
        query(
            self.deps.as_ref(),
            self.env.clone(),
            QueryMsg::Order { id: id.clone() },
        )
        .ok()
        .map(|b| from_json::<OrderResponse>(b).unwrap().order)
    }

    fn lease(&self, id: &BidId) -> Option<Lease> {
        query(
            self.deps.as_ref(),
            self.env.clone(),
            QueryMsg::Lease { id: id.clone() },
        )
        .ok()
        .map(|b| from_json::<LeaseResponse>(b).unwrap().lease)
    }

    fn stats(&self, provider: &str) -> ProviderStatsResponse {
        self.q(QueryMsg::ProviderStats {
            provider: addr(&self.deps, provider).to_string(),
        })
    }

    fn advance(&mut self, seconds: u64) {
        self.env.block.time = self.env.block.time.plus_seconds(seconds);
        self.env.block.height += seconds / 6;
    }
}

/// The values of `key` in the response's events of type `ty`.
fn event_values(res: &Response, ty: &str, key: &str) -> Vec<String> {
    res.events
        .iter()
        .filter(|e| e.ty == ty)
        .flat_map(|e| e.attributes.iter().filter(|a| a.key == key))
        .map(|a| a.value.clone())
        .collect()
}

/// The bid deposits a response returns: bank sends from the market, as (recipient, amount).
fn refunds(t: &T, res: &Response) -> Vec<(Addr, u128)> {
    res.messages
        .iter()
        .filter_map(|m| match &m.msg {
            CosmosMsg::Bank(cosmwasm_std::BankMsg::Send { to_address, amount }) => {
                assert_eq!(amount.len(), 1);
                assert_eq!(amount[0].denom, DENOM);
                let to = ["p1", "p2", "p3"]
                    .iter()
                    .map(|p| addr(&t.deps, p))
                    .find(|a| a.as_str() == to_address)
                    .expect("a provider");
                Some((to, amount[0].amount.u128()))
            }
            _ => None,
        })
        .collect()
}

/// The escrow messages a response sends, decoded.
fn escrow_msgs(
    res: &Response,
    escrow: &Addr,
) -> Vec<(escrow::ExecuteMsg, Vec<cosmwasm_std::Coin>)> {
    res.messages
        .iter()
        .filter_map(|m| match &m.msg {
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr,
                msg,
                funds,
            }) if contract_addr == escrow.as_str() => {
                Some((from_json(msg).unwrap(), funds.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn create_deployment_opens_one_order_per_group_and_an_escrow_account() {
    let mut t = setup();
    let res = t
        .exec(
            "tenant",
            ExecuteMsg::CreateDeployment(NewDeployment {
                groups: vec![spec("a", 100, &[]), spec("b", 60, &[])],
                version: HexBinary::from(vec![1u8; 32]),
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            }),
            &coins(5_000_000, DENOM),
        )
        .unwrap();
    let tenant = addr(&t.deps, "tenant");
    let d = DeploymentId::new(tenant.clone(), 1);
    let msgs = escrow_msgs(&res, &t.escrow);
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0],
        (
            escrow::ExecuteMsg::OpenAccount {
                id: AccountId::Deployment(d.clone()),
                owner: tenant.to_string(),
                depositor: tenant.to_string(),
            },
            coins(5_000_000, DENOM)
        )
    );
    let dep: DeploymentResponse = t.q(QueryMsg::Deployment { id: d.clone() });
    assert_eq!(dep.groups.len(), 2);
    // 100 per 6 s block is 16.666… per second, rounded down.
    assert_eq!(
        dep.groups[0].price,
        "16.666666666666666666".parse::<Decimal256>().unwrap()
    );
    assert_eq!(dep.groups[1].price, Decimal256::from_ratio(10u128, 1u128));
    let open: OrdersResponse = t.q(QueryMsg::OpenOrders {
        start_after: None,
        limit: None,
    });
    assert_eq!(
        open.orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
        vec![d.group(1).order(1), d.group(2).order(1)]
    );
    // The next deployment gets the next number after this one's dseq and its two orders'
    // seqs (one counter for both; see state::SEQ).
    assert_eq!(d.dseq, 1);
    assert_eq!(t.deploy(vec![spec("a", 100, &[])], None).dseq, 4);
}

#[test]
fn invalid_deployments_are_rejected_with_typed_errors() {
    let mut t = setup();
    let create = |groups, version: Vec<u8>, funds: Vec<cosmwasm_std::Coin>, t: &mut T| {
        t.exec(
            "tenant",
            ExecuteMsg::CreateDeployment(NewDeployment {
                groups,
                version: HexBinary::from(version),
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            }),
            &funds,
        )
        .unwrap_err()
    };
    let ok = coins(5_000_000, DENOM);
    assert_eq!(
        create(vec![], vec![1; 32], ok.clone(), &mut t),
        ContractError::GroupCount { got: 0, max: 20 }
    );
    assert_eq!(
        create(vec![spec("a", 1, &[])], vec![1; 31], ok.clone(), &mut t),
        ContractError::InvalidVersion { len: 31 }
    );
    assert_eq!(
        create(
            vec![spec("a", 1, &[])],
            vec![1; 32],
            coins(5_000_000, "uatom"),
            &mut t
        ),
        ContractError::DenomMismatch {
            price: DENOM.into(),
            deposit: "uatom".into()
        }
    );
    assert!(matches!(
        create(vec![spec("a", 0, &[])], vec![1; 32], ok.clone(), &mut t),
        ContractError::InvalidDeployment { .. }
    ));
    assert!(matches!(
        create(
            vec![spec("a", 1, &[]), spec("a", 1, &[])],
            vec![1; 32],
            ok.clone(),
            &mut t
        ),
        ContractError::InvalidDeployment { .. }
    ));
    assert!(matches!(
        create(
            vec![spec("a", 1, &[("1bad", "x")])],
            vec![1; 32],
            ok.clone(),
            &mut t
        ),
        ContractError::InvalidDeployment { .. }
    ));
    assert!(matches!(
        create(vec![spec("a", 1, &[])], vec![1; 32], vec![], &mut t),
        ContractError::Payment(_)
    ));
    assert!(matches!(
        create(
            vec![spec("a", 1, &[])],
            vec![1; 32],
            vec![coin(5, DENOM), coin(5, "uatom")],
            &mut t
        ),
        ContractError::Payment(_)
    ));
    let too_many = (0..21).map(|i| spec(&format!("g{i}"), 1, &[])).collect();
    assert_eq!(
        create(too_many, vec![1; 32], ok, &mut t),
        ContractError::GroupCount { got: 21, max: 20 }
    );
}

#[test]
fn create_bid_checks_run_in_akash_order() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[("region", "eu")])], None);
    let order = d.group(1).order(1);
    let bid =
        |t: &mut T, who: &str, order: &OrderId, price: u128, deposit: Vec<cosmwasm_std::Coin>| {
            t.exec(
                who,
                ExecuteMsg::CreateBid(NewBid {
                    order: order.clone(),
                    price: Decimal256::from_ratio(price, 1u128),
                    reclamation_window: None,
                    offer: vec![],
                }),
                &deposit,
            )
            .unwrap_err()
        };
    // 1. Deposit denomination, then amount.
    assert!(matches!(
        bid(&mut t, "p1", &order, 5, coins(500_000, "uatom")),
        ContractError::BidDepositDenom { .. }
    ));
    assert_eq!(
        bid(&mut t, "p1", &order, 5, coins(499_999, DENOM)),
        ContractError::BidDepositTooSmall {
            got: Uint128::new(499_999),
            min: Uint128::new(500_000)
        }
    );
    // 4. Unknown order.
    assert!(matches!(
        bid(&mut t, "p1", &d.group(1).order(9), 5, coins(500_000, DENOM)),
        ContractError::OrderNotFound { .. }
    ));
    // 5. Price: positive and at most the order's (60 per block = 10 per second).
    assert_eq!(
        bid(&mut t, "p1", &order, 0, coins(500_000, DENOM)),
        ContractError::ZeroPrice
    );
    assert_eq!(
        bid(&mut t, "p1", &order, 11, coins(500_000, DENOM)),
        ContractError::BidAbovePrice {
            bid: Decimal256::from_ratio(11u128, 1u128),
            max: Decimal256::from_ratio(10u128, 1u128)
        }
    );
    // 6. The offer must match the group's units.
    let err = t
        .exec(
            "p1",
            ExecuteMsg::CreateBid(NewBid {
                order: order.clone(),
                price: Decimal256::one(),
                reclamation_window: None,
                offer: vec![ResourceOffer {
                    resource_id: 1,
                    count: 3,
                }],
            }),
            &coins(500_000, DENOM),
        )
        .unwrap_err();
    assert!(matches!(err, ContractError::Mismatch(_)));
    // 7. Registered, and not deregistering.
    assert!(matches!(
        bid(&mut t, "stranger", &order, 5, coins(500_000, DENOM)),
        ContractError::ProviderNotRegistered { .. }
    ));
    assert!(matches!(
        bid(&mut t, "leaving", &order, 5, coins(500_000, DENOM)),
        ContractError::ProviderDeregistering { .. }
    ));
    // 3. One bid per provider.
    t.bid("p1", &order, 5).unwrap();
    assert!(matches!(
        bid(&mut t, "p1", &order, 5, coins(500_000, DENOM)),
        ContractError::BidExists { .. }
    ));
    assert_eq!(t.stats("p1").open_bids, 1);
}

#[test]
fn attributes_and_auditors_must_match() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[("region", "us")])], None);
    assert!(matches!(
        t.bid("p1", &d.group(1).order(1), 5).unwrap_err(),
        ContractError::Mismatch(kumo::matching::MatchError::AttributeMismatch { .. })
    ));
    let mut signed = spec("a", 60, &[("region", "eu")]);
    signed.requirements.signed_by = SignedBy {
        all_of: vec!["auditor1".into(), "nobody".into()],
        any_of: vec![],
    };
    let d = t.deploy(vec![signed], None);
    assert!(matches!(
        t.bid("p1", &d.group(1).order(1), 5).unwrap_err(),
        ContractError::Mismatch(kumo::matching::MatchError::NotSignedBy { .. })
    ));
    let mut gpu = spec("a", 60, &[]);
    gpu.resources[0].resources.gpu = Gpu {
        units: 1,
        attributes: vec![Attribute::new("vendor/nvidia/model/*", "true")],
    };
    let d = t.deploy(vec![gpu], None);
    assert!(matches!(
        t.bid("p1", &d.group(1).order(1), 5).unwrap_err(),
        ContractError::Mismatch(kumo::matching::MatchError::GpuCapability { .. })
    ));
}

#[test]
fn order_max_bids_bounds_an_order() {
    let mut t = setup();
    let owner = addr(&t.deps, "owner");
    let mut params: ConfigResponse = t.q(QueryMsg::Config {});
    params.params.order_max_bids = 2;
    execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&owner, &[]),
        ExecuteMsg::UpdateParams {
            params: params.params,
        },
    )
    .unwrap();
    let d = t.deploy(vec![spec("a", 60, &[])], None);
    let order = d.group(1).order(1);
    t.bid("p1", &order, 5).unwrap();
    t.bid("p2", &order, 5).unwrap();
    assert!(matches!(
        t.bid("p3", &order, 5).unwrap_err(),
        ContractError::TooManyBids { max: 2, .. }
    ));
}

#[test]
fn tenant_lease_makes_other_bids_lose_and_starts_the_payment() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[])], None);
    let order = d.group(1).order(1);
    let b1 = t.bid("p1", &order, 5).unwrap();
    let b2 = t.bid("p2", &order, 4).unwrap();
    let b3 = t.bid("p3", &order, 6).unwrap();
    // Only the tenant may accept.
    assert!(matches!(
        t.exec("p1", ExecuteMsg::CreateLease { bid: b1.clone() }, &[])
            .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    let res = t
        .exec("tenant", ExecuteMsg::CreateLease { bid: b1.clone() }, &[])
        .unwrap();
    let msgs: Vec<_> = escrow_msgs(&res, &t.escrow)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    // The losing bids' deposits go back from the market, which holds them.
    assert_eq!(
        refunds(&t, &res),
        vec![
            (b2.provider.clone(), 500_000),
            (b3.provider.clone(), 500_000)
        ]
    );
    assert_eq!(
        msgs,
        vec![escrow::ExecuteMsg::OpenPayment {
            account: AccountId::Deployment(d.clone()),
            lease: b1.clone(),
            payee: b1.provider.to_string(),
            rate: Decimal256::from_ratio(5u128, 1u128),
        },]
    );
    assert_eq!(t.bid_state(&b1), Some(BidState::Active));
    // Lost bids are deleted; the events record them.
    assert_eq!(t.bid_state(&b2), None);
    assert_eq!(t.bid_state(&b3), None);
    assert_eq!(
        event_values(&res, "bid_closed", "state"),
        vec!["lost", "lost"]
    );
    assert_eq!(t.order(&order).unwrap().state, OrderState::Active);
    assert_eq!(t.lease(&b1).unwrap().state, LeaseState::Active);
    assert_eq!(t.stats("p1").active_leases, 1);
    assert_eq!(t.stats("p1").open_bids, 0);
    assert_eq!(t.stats("p2").open_bids, 0);
    assert!(t.stats("p2").bid_deposits.is_empty());
    // The order left the open list; a lost bid cannot be leased.
    let open: OrdersResponse = t.q(QueryMsg::OpenOrders {
        start_after: None,
        limit: None,
    });
    assert!(open.orders.is_empty());
    assert!(matches!(
        t.exec("tenant", ExecuteMsg::CreateLease { bid: b2 }, &[])
            .unwrap_err(),
        ContractError::BidNotFound { .. }
    ));
}

#[test]
fn auction_leases_the_lowest_bid_earliest_on_a_tie() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[])], Some(300));
    let order = d.group(1).order(1);
    let b1 = t.bid("p1", &order, 5).unwrap();
    let b2 = t.bid("p2", &order, 4).unwrap();
    let b3 = t.bid("p3", &order, 4).unwrap();
    assert!(matches!(
        t.exec(
            "keeper",
            ExecuteMsg::CloseAuction {
                order: order.clone()
            },
            &[]
        )
        .unwrap_err(),
        ContractError::AuctionRunning { .. }
    ));
    t.advance(300);
    // Bids are closed once the window has passed.
    assert!(matches!(
        t.bid("leaving", &order, 1).unwrap_err(),
        ContractError::AuctionEnded { .. }
    ));
    t.exec(
        "keeper",
        ExecuteMsg::CloseAuction {
            order: order.clone(),
        },
        &[],
    )
    .unwrap();
    assert_eq!(t.bid_state(&b2), Some(BidState::Active));
    assert_eq!(t.bid_state(&b1), None);
    assert_eq!(t.bid_state(&b3), None);
    assert_eq!(
        t.lease(&b2).unwrap().price,
        Decimal256::from_ratio(4u128, 1u128)
    );
}

#[test]
fn auction_without_bids_runs_another_window() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[])], Some(300));
    let order = d.group(1).order(1);
    t.advance(301);
    t.exec(
        "keeper",
        ExecuteMsg::CloseAuction {
            order: order.clone(),
        },
        &[],
    )
    .unwrap();
    let ends = t.order(&order).unwrap().auction_ends_at.unwrap();
    assert_eq!(ends, t.env.block.time.plus_seconds(300));
    t.bid("p1", &order, 3).unwrap();
    // Without an auction window, CloseAuction does not apply.
    let plain = t.deploy(vec![spec("a", 60, &[])], None);
    assert!(matches!(
        t.exec(
            "keeper",
            ExecuteMsg::CloseAuction {
                order: plain.group(1).order(1)
            },
            &[]
        )
        .unwrap_err(),
        ContractError::NoAuction { .. }
    ));
}

#[test]
fn tenant_close_lease_relists_the_group() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[])], None);
    let order = d.group(1).order(1);
    let b1 = t.bid("p1", &order, 5).unwrap();
    t.exec("tenant", ExecuteMsg::CreateLease { bid: b1.clone() }, &[])
        .unwrap();
    // Strangers and the provider may not close it as the tenant.
    assert!(matches!(
        t.exec("p2", ExecuteMsg::CloseLease { lease: b1.clone() }, &[])
            .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    let res = t
        .exec("tenant", ExecuteMsg::CloseLease { lease: b1.clone() }, &[])
        .unwrap();
    let msgs: Vec<_> = escrow_msgs(&res, &t.escrow)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(
        msgs,
        vec![escrow::ExecuteMsg::ClosePayment {
            lease: b1.clone(),
            refund_since: None,
        },]
    );
    assert_eq!(refunds(&t, &res), vec![(b1.provider.clone(), 500_000)]);
    assert_eq!(t.lease(&b1), None);
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["1"]);
    assert_eq!(t.order(&order), None);
    let relisted = d.group(1).order(2);
    assert_eq!(t.order(&relisted).unwrap().state, OrderState::Open);
    assert_eq!(t.stats("p1").active_leases, 0);
    // Closing it again is an error.
    assert!(matches!(
        t.exec("tenant", ExecuteMsg::CloseLease { lease: b1 }, &[])
            .unwrap_err(),
        ContractError::LeaseNotFound { .. }
    ));
}

#[test]
fn provider_close_pauses_the_group_and_respects_reclamation() {
    let mut t = setup();
    let d = t
        .deploy_with(vec![spec("a", 60, &[])], None, Some(3_600))
        .unwrap();
    let order = d.group(1).order(1);
    assert_eq!(
        t.bid("p1", &order, 5).unwrap_err(),
        ContractError::ReclamationRequired { min: 3_600 }
    );
    assert!(matches!(
        t.bid_with("p1", &order, Decimal256::one(), Some(10_000_000))
            .unwrap_err(),
        ContractError::ReclamationWindow { .. }
    ));
    let b1 = t
        .bid_with("p1", &order, Decimal256::one(), Some(7_200))
        .unwrap();
    t.exec("tenant", ExecuteMsg::CreateLease { bid: b1.clone() }, &[])
        .unwrap();
    let close = ExecuteMsg::CloseBid {
        bid: b1.clone(),
        reason: Some(LeaseCloseReason::Decommissioned),
    };
    assert!(matches!(
        t.exec("p1", close.clone(), &[]).unwrap_err(),
        ContractError::ReclaimFirst { .. }
    ));
    // A provider may not give the tenant's reason.
    assert_eq!(
        t.exec(
            "p1",
            ExecuteMsg::StartReclaim {
                lease: b1.clone(),
                reason: LeaseCloseReason::Owner
            },
            &[]
        )
        .unwrap_err(),
        ContractError::NotProviderReason { code: 1 }
    );
    t.exec(
        "p1",
        ExecuteMsg::StartReclaim {
            lease: b1.clone(),
            reason: LeaseCloseReason::Decommissioned,
        },
        &[],
    )
    .unwrap();
    assert_eq!(t.lease(&b1).unwrap().state, LeaseState::Reclaiming);
    t.advance(7_199);
    assert!(matches!(
        t.exec("p1", close.clone(), &[]).unwrap_err(),
        ContractError::ReclaimRunning { .. }
    ));
    t.advance(1);
    // Only the provider may close its bid.
    assert!(matches!(
        t.exec("tenant", close.clone(), &[]).unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    let res = t.exec("p1", close, &[]).unwrap();
    assert_eq!(t.lease(&b1), None);
    // The reason given when reclaiming started.
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["10001"]);
    let group: GroupResponse = t.q(QueryMsg::Group { id: d.group(1) });
    assert_eq!(group.group.state, GroupState::Paused);
    // The tenant re-lists it.
    t.exec(
        "tenant",
        ExecuteMsg::StartGroup {
            dseq: d.dseq,
            gseq: 1,
        },
        &[],
    )
    .unwrap();
    assert_eq!(
        t.order(&d.group(1).order(2)).unwrap().state,
        OrderState::Open
    );
}

#[test]
fn provider_withdraws_an_open_bid_and_gets_its_deposit_back() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[])], None);
    let b1 = t.bid("p1", &d.group(1).order(1), 5).unwrap();
    let res = t
        .exec(
            "p1",
            ExecuteMsg::CloseBid {
                bid: b1.clone(),
                reason: None,
            },
            &[],
        )
        .unwrap();
    assert!(escrow_msgs(&res, &t.escrow).is_empty());
    assert_eq!(refunds(&t, &res), vec![(b1.provider.clone(), 500_000)]);
    assert_eq!(t.bid_state(&b1), None);
    assert_eq!(t.stats("p1").open_bids, 0);
    assert!(matches!(
        t.exec(
            "p1",
            ExecuteMsg::CloseBid {
                bid: b1,
                reason: None
            },
            &[]
        )
        .unwrap_err(),
        ContractError::BidNotFound { .. }
    ));
}

#[test]
fn overdrawn_callback_closes_leases_with_reason_20000_and_only_from_the_escrow() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[]), spec("b", 60, &[])], None);
    let b1 = t.bid("p1", &d.group(1).order(1), 5).unwrap();
    let b2 = t.bid("p2", &d.group(2).order(1), 5).unwrap();
    t.exec("tenant", ExecuteMsg::CreateLease { bid: b1.clone() }, &[])
        .unwrap();
    let callback = ExecuteMsg::EscrowCallback(EscrowCallback::AccountOverdrawn {
        deployment: d.clone(),
    });
    assert!(matches!(
        t.exec("tenant", callback.clone(), &[]).unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    let escrow = t.escrow.clone();
    let res = execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&escrow, &[]),
        callback.clone(),
    )
    .unwrap();
    // The escrow already closed the payment; only the bid deposits are refunded.
    assert!(escrow_msgs(&res, &escrow).is_empty());
    assert_eq!(
        refunds(&t, &res),
        vec![
            (b1.provider.clone(), 500_000),
            (b2.provider.clone(), 500_000)
        ]
    );
    assert_eq!(t.lease(&b1), None);
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["20000"]);
    assert_eq!(
        event_values(&res, "lease_closed", "state"),
        vec!["InsufficientFunds"]
    );
    assert_eq!(
        event_values(&res, "group_state", "state"),
        vec!["InsufficientFunds", "InsufficientFunds"]
    );
    assert!(query(
        t.deps.as_ref(),
        t.env.clone(),
        QueryMsg::Deployment { id: d.clone() }
    )
    .is_err());
    assert_eq!(t.stats("p1").active_leases, 0);
    // Idempotent.
    let again = execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&escrow, &[]),
        callback,
    )
    .unwrap();
    assert!(again.messages.is_empty());
}

#[test]
fn close_deployment_cascades_and_closes_the_escrow_account_last() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[]), spec("b", 60, &[])], None);
    let b1 = t.bid("p1", &d.group(1).order(1), 5).unwrap();
    let b2 = t.bid("p2", &d.group(2).order(1), 5).unwrap();
    t.exec("tenant", ExecuteMsg::CreateLease { bid: b1.clone() }, &[])
        .unwrap();
    assert!(matches!(
        t.exec("p1", ExecuteMsg::CloseDeployment { dseq: d.dseq }, &[])
            .unwrap_err(),
        ContractError::DeploymentNotFound { .. }
    ));
    let res = t
        .exec("tenant", ExecuteMsg::CloseDeployment { dseq: d.dseq }, &[])
        .unwrap();
    let msgs: Vec<_> = escrow_msgs(&res, &t.escrow)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(
        msgs,
        vec![
            escrow::ExecuteMsg::ClosePayment {
                lease: b1.clone(),
                refund_since: None,
            },
            escrow::ExecuteMsg::CloseAccount {
                id: AccountId::Deployment(d.clone())
            },
        ]
    );
    assert_eq!(
        refunds(&t, &res),
        vec![
            (b1.provider.clone(), 500_000),
            (b2.provider.clone(), 500_000)
        ]
    );
    assert_eq!(t.bid_state(&b2), None);
    assert_eq!(t.lease(&b1), None);
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["1"]);
    // The deployment and its groups are deleted too; the dseq is never reused.
    assert!(query(
        t.deps.as_ref(),
        t.env.clone(),
        QueryMsg::Deployment { id: d.clone() }
    )
    .is_err());
    let next = t.deploy(vec![spec("a", 60, &[])], None).dseq;
    assert!(next > d.dseq, "{next} after {}", d.dseq);
    // Closed deployments take no deposits and no bids.
    assert!(matches!(
        t.exec(
            "sponsor",
            ExecuteMsg::Deposit {
                deployment: d.clone()
            },
            &coins(10, DENOM)
        )
        .unwrap_err(),
        ContractError::DeploymentNotFound { .. }
    ));
    assert!(matches!(
        t.bid("p3", &d.group(1).order(1), 1).unwrap_err(),
        ContractError::OrderNotFound { .. }
    ));
}

#[test]
fn pause_blocks_creations_and_deposits_but_not_closing() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[])], None);
    assert!(matches!(
        t.exec("tenant", ExecuteMsg::Pause {}, &[]).unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    t.exec("guardian", ExecuteMsg::Pause {}, &[]).unwrap();
    assert_eq!(
        t.deploy_with(vec![spec("a", 60, &[])], None, None)
            .unwrap_err(),
        ContractError::Paused
    );
    assert_eq!(
        t.bid("p1", &d.group(1).order(1), 5).unwrap_err(),
        ContractError::Paused
    );
    assert_eq!(
        t.exec(
            "sponsor",
            ExecuteMsg::Deposit {
                deployment: d.clone()
            },
            &coins(10, DENOM)
        )
        .unwrap_err(),
        ContractError::Paused
    );
    t.exec("tenant", ExecuteMsg::CloseDeployment { dseq: d.dseq }, &[])
        .unwrap();
    t.exec("guardian", ExecuteMsg::Unpause {}, &[]).unwrap();
    t.deploy(vec![spec("a", 60, &[])], None);
}

#[test]
fn deposits_are_forwarded_with_the_depositor_named() {
    let mut t = setup();
    let d = t.deploy(vec![spec("a", 60, &[])], None);
    let res = t
        .exec(
            "sponsor",
            ExecuteMsg::Deposit {
                deployment: d.clone(),
            },
            &coins(1_000, DENOM),
        )
        .unwrap();
    assert_eq!(
        escrow_msgs(&res, &t.escrow),
        vec![(
            escrow::ExecuteMsg::Deposit {
                id: AccountId::Deployment(d.clone()),
                depositor: Some(addr(&t.deps, "sponsor").to_string()),
            },
            coins(1_000, DENOM)
        )]
    );
    assert!(matches!(
        t.exec(
            "sponsor",
            ExecuteMsg::Deposit { deployment: d },
            &coins(1_000, "uatom")
        )
        .unwrap_err(),
        ContractError::DenomMismatch { .. }
    ));
}

#[test]
fn lists_paginate() {
    let mut t = setup();
    let dseqs: Vec<u64> = (0..35)
        .map(|_| t.deploy(vec![spec("a", 60, &[])], None).dseq)
        .collect();
    let tenant = addr(&t.deps, "tenant").to_string();
    let page: DeploymentsResponse = t.q(QueryMsg::Deployments {
        owner: tenant.clone(),
        start_after: None,
        limit: None,
    });
    assert_eq!(page.deployments.len(), 10);
    let page: DeploymentsResponse = t.q(QueryMsg::Deployments {
        owner: tenant.clone(),
        start_after: Some(dseqs[29]),
        limit: Some(100),
    });
    assert_eq!(
        page.deployments
            .iter()
            .map(|d| d.id.dseq)
            .collect::<Vec<_>>(),
        dseqs[30..]
    );
    let first: OrdersResponse = t.q(QueryMsg::OpenOrders {
        start_after: None,
        limit: Some(1000),
    });
    assert_eq!(first.orders.len(), 30);
    let rest: OrdersResponse = t.q(QueryMsg::OpenOrders {
        start_after: Some(first.orders[29].id.clone()),
        limit: Some(1000),
    });
    assert_eq!(rest.orders.len(), 5);
    assert_eq!(rest.orders[0].id.dseq, dseqs[30]);
}

#[test]
fn open_orders_resume_after_a_cursor_whose_order_was_closed_and_deleted() {
    let mut t = setup();
    let ids: Vec<_> = (0..4)
        .map(|_| t.deploy(vec![spec("a", 60, &[])], None))
        .collect();
    let first: OrdersResponse = t.q(QueryMsg::OpenOrders {
        start_after: None,
        limit: Some(2),
    });
    let cursor = first.orders[1].id.clone();
    assert_eq!(cursor, ids[1].group(1).order(1));
    // The cursor's order closes (and is deleted) between two pages.
    t.exec(
        "tenant",
        ExecuteMsg::CloseDeployment { dseq: ids[1].dseq },
        &[],
    )
    .unwrap();
    assert!(query(
        t.deps.as_ref(),
        t.env.clone(),
        QueryMsg::Order { id: cursor.clone() }
    )
    .is_err());
    let rest: OrdersResponse = t.q(QueryMsg::OpenOrders {
        start_after: Some(cursor),
        limit: None,
    });
    assert_eq!(
        rest.orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
        vec![ids[2].group(1).order(1), ids[3].group(1).order(1)]
    );
}

#[test]
fn provider_lists_resume_after_a_cursor_whose_bid_or_lease_was_deleted() {
    let mut t = setup();
    let ds: Vec<_> = (0..4)
        .map(|_| t.deploy(vec![spec("a", 60, &[])], None))
        .collect();
    let bids: Vec<_> = ds
        .iter()
        .map(|d| t.bid("p1", &d.group(1).order(1), 5).unwrap())
        .collect();
    let p1 = addr(&t.deps, "p1").to_string();
    let first: BidsResponse = t.q(QueryMsg::ProviderBids {
        provider: p1.clone(),
        start_after: None,
        limit: Some(2),
    });
    let cursor = first.bids[1].id.clone();
    assert_eq!(cursor, bids[1]);
    // The cursor's bid is withdrawn (and deleted) between two pages.
    t.exec(
        "p1",
        ExecuteMsg::CloseBid {
            bid: cursor.clone(),
            reason: None,
        },
        &[],
    )
    .unwrap();
    assert_eq!(t.bid_state(&cursor), None);
    let rest: BidsResponse = t.q(QueryMsg::ProviderBids {
        provider: p1.clone(),
        start_after: Some(cursor),
        limit: None,
    });
    let ids: Vec<_> = rest.bids.iter().map(|b| b.id.clone()).collect();
    assert_eq!(ids, vec![bids[2].clone(), bids[3].clone()]);

    // The same for leases: the cursor's lease closes (and is deleted) between two pages.
    for b in [&bids[0], &bids[2], &bids[3]] {
        t.exec("tenant", ExecuteMsg::CreateLease { bid: b.clone() }, &[])
            .unwrap();
    }
    let first: LeasesResponse = t.q(QueryMsg::ProviderLeases {
        provider: p1.clone(),
        start_after: None,
        limit: Some(2),
    });
    let cursor = first.leases[1].id.clone();
    assert_eq!(cursor, bids[2]);
    t.exec(
        "tenant",
        ExecuteMsg::CloseLease {
            lease: cursor.clone(),
        },
        &[],
    )
    .unwrap();
    assert!(t.lease(&cursor).is_none());
    let rest: LeasesResponse = t.q(QueryMsg::ProviderLeases {
        provider: p1,
        start_after: Some(cursor),
        limit: None,
    });
    let ids: Vec<_> = rest.leases.iter().map(|l| l.id.clone()).collect();
    assert_eq!(ids, vec![bids[3].clone()]);
}

#[test]
fn config_changes_only_by_the_owner_and_migrate_keeps_the_name() {
    let mut t = setup();
    assert!(matches!(
        t.exec(
            "tenant",
            ExecuteMsg::UpdateConfig {
                owner: Some("x".into()),
                registry: None,
                escrow: None,
                staking: None,
                guardian: None
            },
            &[]
        )
        .unwrap_err(),
        ContractError::Unauthorized { .. }
    ));
    let params = MarketParams {
        order_max_bids: 0,
        ..MarketParams::default()
    };
    assert!(matches!(
        t.exec("owner", ExecuteMsg::UpdateParams { params }, &[])
            .unwrap_err(),
        ContractError::InvalidParams { .. }
    ));
    let res = contract::migrate(t.deps.as_mut(), t.env.clone(), json(&MigrateMsg {})).unwrap();
    assert!(res.attributes.iter().any(|a| a.key == "to_version"));
}

#[test]
fn queries_of_unknown_ids_are_errors_not_panics() {
    let t = setup();
    let nobody = DeploymentId::new(addr(&t.deps, "nobody"), 1);
    for msg in [
        QueryMsg::Deployment { id: nobody.clone() },
        QueryMsg::Group {
            id: nobody.group(1),
        },
        QueryMsg::Order {
            id: nobody.group(1).order(1),
        },
        QueryMsg::Bid {
            id: nobody.group(1).order(1).bid(addr(&t.deps, "p1")),
        },
        QueryMsg::Lease {
            id: nobody.group(1).order(1).bid(addr(&t.deps, "p1")),
        },
        QueryMsg::ProviderStats {
            provider: "not an address".into(),
        },
    ] {
        assert!(query(t.deps.as_ref(), t.env.clone(), msg).is_err());
    }
}

#[test]
fn cw20_deployments_are_forwarded_to_the_escrow_as_a_send() {
    let mut t = setup();
    let token = addr(&t.deps, "token");
    let mut s = spec("a", 60, &[]);
    s.resources[0].price.denom = format!("cw20:{token}");
    let tenant = addr(&t.deps, "tenant");
    let res = execute(
        t.deps.as_mut(),
        t.env.clone(),
        message_info(&token, &[]),
        ExecuteMsg::Receive(cw20::Cw20ReceiveMsg {
            sender: tenant.to_string(),
            amount: Uint128::new(7_000_000),
            msg: to_json_binary(&ReceiveMsg::CreateDeployment(NewDeployment {
                groups: vec![s],
                version: HexBinary::from(vec![1u8; 32]),
                auction_window: None,
                reclamation_min_window: None,
                provider_record: None,
            }))
            .unwrap(),
        }),
    )
    .unwrap();
    let CosmosMsg::Wasm(WasmMsg::Execute {
        contract_addr, msg, ..
    }) = &res.messages[0].msg
    else {
        panic!("expected a wasm message");
    };
    assert_eq!(contract_addr, token.as_str());
    let cw20::Cw20ExecuteMsg::Send {
        contract,
        amount,
        msg,
    } = from_json(msg).unwrap()
    else {
        panic!("expected a CW20 Send");
    };
    assert_eq!(contract, t.escrow.to_string());
    assert_eq!(amount, Uint128::new(7_000_000));
    let inner: escrow::ReceiveMsg = from_json(&msg).unwrap();
    assert_eq!(
        inner,
        escrow::ReceiveMsg::OpenAccount {
            id: AccountId::Deployment(DeploymentId::new(tenant.clone(), 1)),
            owner: tenant.to_string(),
            depositor: tenant.to_string(),
        }
    );
    let dep: DeploymentResponse = t.q(QueryMsg::Deployment {
        id: DeploymentId::new(tenant, 1),
    });
    assert_eq!(dep.deployment.denom, Denom::Cw20(token));
}
