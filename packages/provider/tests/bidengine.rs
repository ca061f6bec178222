//! The bid engine: each policy, scale pricing, and the engine's order of steps and counters.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cosmwasm_std::{Addr, Decimal256, Timestamp, Uint64};
use kumo::market::{Group, GroupState, Order, OrderResponse, OrderState, ResourceOffer};
use kumo::registry::AuditedAttributes;
use kumo::{
    Attribute, Cpu, DecCoin, DeploymentId, Endpoint, EndpointKind, Gpu, GroupSpec, Memory, OrderId,
    PlacementRequirements, ResourceUnit, Resources, SignedBy, StorageVolume,
};
use kumo_provider::bidengine::{
    AttributesPolicy, BidEngine, BidOutcome, BidPolicy, CapabilitiesPolicy, CapacityPolicy, Ctx,
    Decision, DeclineCount, MaxLeasesPolicy, OrderView, PriceRequest, PriceUnit, PricingError,
    PricingStrategy, ProviderView, ScalePricing, ScaleRates, TenantPolicy, STEP_CAPACITY,
    STEP_PRICE_CEILING, STEP_PRICING,
};
use kumo_provider::inventory::{GpuPool, Inventory, InventoryConfig, NodeCapacity};

const GI: u64 = 1 << 30;
const TENANT: &str = "kumo1tenant";
const PROVIDER: &str = "kumo1provider";

fn dec(s: &str) -> Decimal256 {
    Decimal256::from_str(s).unwrap()
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<Attribute> {
    pairs.iter().map(|(k, v)| Attribute::new(*k, *v)).collect()
}

fn order_id(owner: &str, dseq: u64) -> OrderId {
    DeploymentId::new(Addr::unchecked(owner), dseq)
        .group(1)
        .order(1)
}

fn unit(id: u32, cpu: u32, memory: u64, count: u32) -> ResourceUnit {
    ResourceUnit {
        resources: Resources {
            id,
            cpu: Cpu {
                units: cpu,
                attributes: vec![],
            },
            memory: Memory {
                size: Uint64::new(memory),
                attributes: vec![],
            },
            storage: vec![StorageVolume {
                name: "default".into(),
                size: Uint64::new(GI),
                attributes: vec![],
            }],
            gpu: Gpu {
                units: 0,
                attributes: vec![],
            },
            endpoints: vec![],
        },
        count,
        price: DecCoin {
            denom: "ukumo".into(),
            amount: Decimal256::one(),
        },
    }
}

fn order_with(owner: &str, dseq: u64, units: Vec<ResourceUnit>, max: &str) -> OrderView {
    let group = GroupSpec {
        name: "web".into(),
        requirements: PlacementRequirements::default(),
        resources: units,
    };
    OrderView::new(order_id(owner, dseq), group, dec(max))
}

fn order(dseq: u64) -> OrderView {
    order_with(TENANT, dseq, vec![unit(1, 500, GI, 2)], "100")
}

fn provider() -> ProviderView {
    ProviderView::new(
        PROVIDER,
        attrs(&[
            ("region", "eu-west"),
            ("tier", "community"),
            ("capabilities/storage/1/class", "beta2"),
            ("capabilities/storage/1/persistent", "true"),
            ("capabilities/gpu/vendor/nvidia/model/a100", "true"),
        ]),
    )
}

fn nodes() -> InventoryConfig {
    InventoryConfig {
        nodes: vec![NodeCapacity {
            name: "n1".into(),
            cpu_millis: 4000,
            memory: 16 * GI,
            ephemeral_storage: 100 * GI,
            gpus: vec![GpuPool {
                vendor: "nvidia".into(),
                model: "a100".into(),
                ram: Some("80Gi".into()),
                interface: None,
                count: 2,
                devices: vec![],
            }],
        }],
        storage_classes: [("beta2".to_string(), 100 * GI)].into(),
    }
}

fn inventory() -> Inventory {
    Inventory::new(nodes()).unwrap()
}

fn check(
    policy: &dyn BidPolicy,
    order: &OrderView,
    provider: &ProviderView,
    inv: &Inventory,
) -> Decision {
    policy.check(
        order,
        &Ctx {
            provider,
            inventory: inv,
        },
    )
}

fn code(d: Decision) -> &'static str {
    match d {
        Decision::Accept => "accept",
        Decision::Decline { code, .. } => code,
    }
}

// ---- policies ----

#[test]
fn attributes_policy_matches_requirements() {
    let p = AttributesPolicy::new();
    let inv = inventory();
    let mut o = order(1);
    // Requirement keys are globs; values must be equal.
    o.group.requirements.attributes = attrs(&[("reg*", "eu-west")]);
    assert_eq!(check(&p, &o, &provider(), &inv), Decision::Accept);
    o.group.requirements.attributes = attrs(&[("region", "us-east")]);
    assert_eq!(code(check(&p, &o, &provider(), &inv)), "attribute-mismatch");
}

#[test]
fn attributes_policy_checks_signed_by() {
    let p = AttributesPolicy::new();
    let inv = inventory();
    let mut o = order(1);
    o.group.requirements.signed_by = SignedBy {
        all_of: vec!["kumo1auditor1".into()],
        any_of: vec!["kumo1auditor2".into(), "kumo1auditor3".into()],
    };
    let audit = |auditor: &str| AuditedAttributes {
        provider: Addr::unchecked(PROVIDER),
        auditor: Addr::unchecked(auditor),
        attributes: attrs(&[("region", "eu-west")]),
    };
    let audited = provider().with_audits(vec![audit("kumo1auditor1"), audit("kumo1auditor3")]);
    assert_eq!(check(&p, &o, &audited, &inv), Decision::Accept);
    let no_any = provider().with_audits(vec![audit("kumo1auditor1")]);
    assert_eq!(code(check(&p, &o, &no_any, &inv)), "not-signed-by-any");
    let no_all = provider().with_audits(vec![audit("kumo1auditor2")]);
    assert_eq!(code(check(&p, &o, &no_all, &inv)), "not-signed-by");
}

#[test]
fn attributes_policy_can_require_order_attributes() {
    let p = AttributesPolicy::new().requiring_order_attributes(attrs(&[("tier", "community")]));
    let inv = inventory();
    let mut o = order(1);
    assert_eq!(code(check(&p, &o, &provider(), &inv)), "order-attributes");
    o.group.requirements.attributes = attrs(&[("tier", "community")]);
    assert_eq!(check(&p, &o, &provider(), &inv), Decision::Accept);
}

#[test]
fn capabilities_policy_checks_declared_and_real_capabilities() {
    let p = CapabilitiesPolicy::new();
    let inv = inventory();
    let persistent = |class: &str| {
        let mut u = unit(1, 500, GI, 1);
        u.resources.storage.push(StorageVolume {
            name: "data".into(),
            size: Uint64::new(GI),
            attributes: attrs(&[("class", class), ("persistent", "true")]),
        });
        order_with(TENANT, 1, vec![u], "100")
    };
    assert_eq!(
        check(&p, &persistent("beta2"), &provider(), &inv),
        Decision::Accept
    );
    // Not declared on chain: the market would refuse the bid.
    assert_eq!(
        code(check(&p, &persistent("beta3"), &provider(), &inv)),
        "storage-capability"
    );
    // Declared, but the inventory has no such pool.
    let mut overclaiming = provider();
    overclaiming.attributes.extend(attrs(&[
        ("capabilities/storage/2/class", "beta3"),
        ("capabilities/storage/2/persistent", "true"),
    ]));
    assert_eq!(
        code(check(&p, &persistent("beta3"), &overclaiming, &inv)),
        "storage-class"
    );

    let gpu = |model: &str| {
        let mut u = unit(1, 500, GI, 1);
        u.resources.gpu = Gpu {
            units: 1,
            attributes: attrs(&[(&format!("vendor/nvidia/model/{model}"), "true")]),
        };
        order_with(TENANT, 1, vec![u], "100")
    };
    assert_eq!(check(&p, &gpu("a100"), &provider(), &inv), Decision::Accept);
    assert_eq!(
        code(check(&p, &gpu("h100"), &provider(), &inv)),
        "gpu-capability"
    );
    let mut claims_h100 = provider();
    claims_h100.attributes.push(Attribute::new(
        "capabilities/gpu/vendor/nvidia/model/h100",
        "true",
    ));
    assert_eq!(
        code(check(&p, &gpu("h100"), &claims_h100, &inv)),
        "gpu-model"
    );

    let capped = CapabilitiesPolicy::new().max_volumes_per_unit(1);
    assert_eq!(
        code(check(&capped, &persistent("beta2"), &provider(), &inv)),
        "too-many-volumes"
    );
}

#[test]
fn capacity_policy_is_a_dry_run_of_the_reservation() {
    let p = CapacityPolicy;
    let mut inv = inventory();
    let small = order(1);
    assert_eq!(check(&p, &small, &provider(), &inv), Decision::Accept);
    // The dry run reserved nothing.
    assert!(inv.reservation(&small.id).is_none());
    let big = order_with(TENANT, 2, vec![unit(1, 3000, GI, 2)], "100");
    assert_eq!(code(check(&p, &big, &provider(), &inv)), "insufficient-cpu");
    // An order that already holds its reservation passes even when the rest is full.
    inv.reserve(&small.id, &small.group.resources).unwrap();
    inv.reserve(&order_id(TENANT, 3), &[unit(1, 3000, GI, 1)])
        .unwrap();
    assert_eq!(check(&p, &small, &provider(), &inv), Decision::Accept);
    assert_eq!(
        code(check(&p, &order(4), &provider(), &inv)),
        "insufficient-cpu"
    );
}

#[test]
fn tenant_policy_applies_deny_and_allow_lists() {
    let inv = inventory();
    let open = TenantPolicy::new();
    assert_eq!(check(&open, &order(1), &provider(), &inv), Decision::Accept);
    let deny = TenantPolicy::new().deny([TENANT]);
    assert_eq!(
        code(check(&deny, &order(1), &provider(), &inv)),
        "tenant-denied"
    );
    let allow = TenantPolicy::new().allow_only(["kumo1friend"]);
    assert_eq!(
        code(check(&allow, &order(1), &provider(), &inv)),
        "tenant-not-allowed"
    );
    let friend = order_with("kumo1friend", 1, vec![unit(1, 500, GI, 1)], "100");
    assert_eq!(check(&allow, &friend, &provider(), &inv), Decision::Accept);
    let both = TenantPolicy::new()
        .allow_only(["kumo1friend"])
        .deny(["kumo1friend"]);
    assert_eq!(
        code(check(&both, &friend, &provider(), &inv)),
        "tenant-denied"
    );
}

#[test]
fn max_leases_policy_counts_leases_and_open_bids() {
    let p = MaxLeasesPolicy::new(2);
    let mut inv = inventory();
    assert_eq!(check(&p, &order(1), &provider(), &inv), Decision::Accept);
    inv.reserve(&order_id(TENANT, 10), &[unit(1, 100, GI, 1)])
        .unwrap();
    inv.adopt(&order_id(TENANT, 11), &[unit(1, 100, GI, 1)])
        .unwrap();
    assert_eq!(code(check(&p, &order(1), &provider(), &inv)), "max-leases");
    // The order's own reservation does not count against it.
    let own = order(10);
    assert_eq!(
        check(&MaxLeasesPolicy::new(2), &own, &provider(), &inv),
        Decision::Accept
    );
}

// ---- scale pricing ----

fn priced(pricing: &dyn PricingStrategy, order: &OrderView) -> Result<Decimal256, PricingError> {
    let mut inv = inventory();
    let reservation = inv.reserve(&order.id, &order.group.resources).unwrap();
    pricing.price(&PriceRequest {
        order,
        reservation: &reservation,
    })
}

fn rates() -> ScaleRates {
    ScaleRates {
        cpu: dec("0.001"),
        memory: dec("0.000000001"),
        storage: [
            ("ephemeral".to_string(), dec("0.0000000001")),
            ("beta2".to_string(), dec("0.0000000005")),
        ]
        .into(),
        gpu: [("nvidia/a100".to_string(), dec("2"))].into(),
        gpu_default: None,
        endpoint: dec("0.05"),
        leased_ip: dec("0.5"),
    }
}

#[test]
fn scale_pricing_sums_every_replica() {
    let pricing = ScalePricing::new().with_denom("ukumo", rates()).unwrap();
    // Two replicas of 500m, 1 GiB memory, 1 GiB ephemeral.
    let expected = (dec("0.5") + dec("1.073741824") + dec("0.1073741824")) * dec("2");
    assert_eq!(priced(&pricing, &order(1)), Ok(expected));
}

#[test]
fn scale_pricing_prices_gpus_storage_classes_and_endpoints() {
    let pricing = ScalePricing::new().with_denom("ukumo", rates()).unwrap();
    let mut u = unit(1, 1000, 0, 1);
    u.resources.storage = vec![StorageVolume {
        name: "data".into(),
        size: Uint64::new(2 * GI),
        attributes: attrs(&[("class", "beta2"), ("persistent", "true")]),
    }];
    u.resources.gpu = Gpu {
        units: 2,
        attributes: attrs(&[("vendor/nvidia/model/*", "true")]),
    };
    u.resources.endpoints = vec![
        Endpoint {
            kind: EndpointKind::SharedHttp,
            sequence_number: 0,
        },
        Endpoint {
            kind: EndpointKind::LeasedIp,
            sequence_number: 1,
        },
    ];
    let mut other = unit(2, 0, 0, 3);
    other.resources.storage.clear();
    other.resources.endpoints = vec![
        Endpoint {
            kind: EndpointKind::RandomPort,
            sequence_number: 0,
        },
        Endpoint {
            kind: EndpointKind::LeasedIp,
            sequence_number: 1,
        },
    ];
    let o = order_with(TENANT, 1, vec![u, other], "100");
    // cpu 1 + beta2 2Gi * 5e-10 + 2 A100 * 2 + endpoints 2 * 0.05 (not per replica) + one IP.
    let expected = dec("1") + dec("1.073741824") + dec("4") + dec("0.1") + dec("0.5");
    assert_eq!(priced(&pricing, &o), Ok(expected));
}

#[test]
fn scale_pricing_declines_what_it_has_no_rate_for() {
    let mut no_ephemeral = rates();
    no_ephemeral.storage.remove("ephemeral");
    let pricing = ScalePricing::new()
        .with_denom("ukumo", no_ephemeral)
        .unwrap();
    assert_eq!(
        priced(&pricing, &order(1)),
        Err(PricingError::NoStorageRate {
            class: "ephemeral".into()
        })
    );
    let pricing = ScalePricing::new().with_denom("uatom", rates()).unwrap();
    let err = priced(&pricing, &order(1)).unwrap_err();
    assert_eq!(err.code(), "unsupported-denom");

    let mut gpu_unit = unit(1, 100, GI, 1);
    gpu_unit.resources.gpu = Gpu {
        units: 1,
        attributes: vec![],
    };
    let gpu_order = order_with(TENANT, 1, vec![gpu_unit], "100");
    let mut no_a100 = rates();
    no_a100.gpu.clear();
    let pricing = ScalePricing::new()
        .with_denom("ukumo", no_a100.clone())
        .unwrap();
    assert_eq!(
        priced(&pricing, &gpu_order),
        Err(PricingError::NoGpuRate {
            model: "nvidia/a100".into()
        })
    );
    // A model-only key or the default rate covers it.
    no_a100.gpu.insert("a100".into(), dec("3"));
    let by_model = ScalePricing::new()
        .with_denom("ukumo", no_a100.clone())
        .unwrap();
    let with_default = {
        let mut r = no_a100;
        r.gpu.clear();
        r.gpu_default = Some(dec("3"));
        ScalePricing::new().with_denom("ukumo", r).unwrap()
    };
    assert_eq!(
        priced(&by_model, &gpu_order),
        priced(&with_default, &gpu_order)
    );
}

#[test]
fn scale_pricing_refuses_all_zero_rates_and_zero_prices() {
    assert!(matches!(
        ScalePricing::new().with_denom("ukumo", ScaleRates::default()),
        Err(PricingError::InvalidConfig { .. })
    ));
    let only_ips = ScaleRates {
        leased_ip: dec("1"),
        storage: [("ephemeral".to_string(), Decimal256::zero())].into(),
        ..ScaleRates::default()
    };
    let pricing = ScalePricing::new().with_denom("ukumo", only_ips).unwrap();
    assert_eq!(priced(&pricing, &order(1)), Err(PricingError::ZeroPrice));
    assert!(ScalePricing::new()
        .with_unit(PriceUnit::PerBlock { block_time_ms: 0 })
        .is_err());
}

#[test]
fn per_block_rates_convert_with_the_block_time() {
    let per_block = ScaleRates {
        cpu: dec("0.006"),
        storage: [("ephemeral".to_string(), Decimal256::zero())].into(),
        ..ScaleRates::default()
    };
    let pricing = ScalePricing::new()
        .with_denom("ukumo", per_block)
        .unwrap()
        .with_unit(PriceUnit::PerBlock {
            block_time_ms: 6000,
        })
        .unwrap();
    // 1000 millicores * 0.006 per block over 6 s blocks.
    assert_eq!(priced(&pricing, &order(1)), Ok(dec("1")));
    let unit = PriceUnit::PerBlock {
        block_time_ms: 7000,
    };
    // Rounded down in the last of 18 decimals, as the market converts.
    assert_eq!(
        unit.to_per_second(dec("1")),
        Ok(dec("0.142857142857142857"))
    );
    assert_eq!(unit.from_per_second(dec("1")), Ok(dec("7")));
    assert_eq!(
        PriceUnit::PerSecond.to_per_second(dec("1.5")),
        Ok(dec("1.5"))
    );
}

// ---- the engine ----

/// A fixed price, or a fixed failure.
struct Fixed(Result<Decimal256, PricingError>);

impl PricingStrategy for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }

    fn price(&self, _: &PriceRequest<'_>) -> Result<Decimal256, PricingError> {
        self.0.clone()
    }
}

/// Accepts (or declines) and counts the calls.
struct Probe {
    name: &'static str,
    decline: bool,
    calls: Arc<AtomicUsize>,
}

impl BidPolicy for Probe {
    fn name(&self) -> &str {
        self.name
    }

    fn check(&self, _: &OrderView, _: &Ctx<'_>) -> Decision {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.decline {
            Decision::decline("probe", format!("{} says no", self.name))
        } else {
            Decision::Accept
        }
    }
}

fn probe(name: &'static str, decline: bool) -> (Probe, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    (
        Probe {
            name,
            decline,
            calls: calls.clone(),
        },
        calls,
    )
}

fn declined(outcome: BidOutcome) -> (String, &'static str) {
    match outcome {
        BidOutcome::Declined(d) => (d.policy, d.code),
        BidOutcome::Bid(b) => panic!("expected a decline, got a bid at {}", b.price),
    }
}

#[test]
fn policies_run_in_order_and_the_first_decline_wins() {
    let (first, first_calls) = probe("first", false);
    let (second, second_calls) = probe("second", true);
    let (third, third_calls) = probe("third", true);
    let engine = BidEngine::new(Box::new(Fixed(Ok(dec("1")))))
        .with_policy(first)
        .with_policy(second)
        .with_policy(third);
    assert_eq!(engine.policy_names(), ["first", "second", "third"]);
    let inv = Mutex::new(inventory());
    let outcome = engine.evaluate(&order(1), &provider(), &inv);
    assert_eq!(declined(outcome), ("second".to_string(), "probe"));
    assert_eq!(first_calls.load(Ordering::SeqCst), 1);
    assert_eq!(second_calls.load(Ordering::SeqCst), 1);
    assert_eq!(third_calls.load(Ordering::SeqCst), 0);
    // Nothing was reserved for a declined order.
    assert_eq!(inv.lock().unwrap().reservations().count(), 0);
}

#[test]
fn a_bid_holds_its_reservation() {
    let engine = BidEngine::new(Box::new(Fixed(Ok(dec("2.5")))))
        .with_policy(AttributesPolicy::new())
        .with_policy(CapabilitiesPolicy::new())
        .with_policy(CapacityPolicy)
        .with_policy(TenantPolicy::new())
        .with_policy(MaxLeasesPolicy::new(10));
    let inv = Mutex::new(inventory());
    let o = order(1);
    let BidOutcome::Bid(bid) = engine.evaluate(&o, &provider(), &inv) else {
        panic!("expected a bid");
    };
    assert_eq!(bid.price, dec("2.5"));
    assert_eq!(bid.denom, "ukumo");
    assert_eq!(
        inv.lock().unwrap().reservation(&o.id),
        Some(&bid.reservation)
    );
    let msg = bid.to_msg(Some(3600));
    assert_eq!(msg.order, o.id);
    assert_eq!(msg.price, dec("2.5"));
    assert_eq!(msg.reclamation_window, Some(3600));
    assert_eq!(
        msg.offer,
        vec![ResourceOffer {
            resource_id: 1,
            count: 2
        }]
    );
    assert_eq!(engine.bids(), 1);
    assert!(engine.declines().is_empty());
    // Evaluating it again bids on the same reservation.
    let BidOutcome::Bid(again) = engine.evaluate(&o, &provider(), &inv) else {
        panic!("expected a bid");
    };
    assert_eq!(again.reservation, bid.reservation);
    assert_eq!(inv.lock().unwrap().reservations().count(), 1);
}

#[test]
fn capacity_is_checked_by_the_reservation_even_without_the_policy() {
    let engine = BidEngine::new(Box::new(Fixed(Ok(dec("1")))));
    let inv = Mutex::new(inventory());
    let big = order_with(TENANT, 1, vec![unit(1, 3000, GI, 2)], "100");
    assert_eq!(
        declined(engine.evaluate(&big, &provider(), &inv)),
        (STEP_CAPACITY.to_string(), "insufficient-cpu")
    );
}

#[test]
fn pricing_failures_decline_and_release_the_reservation() {
    let engine = BidEngine::new(Box::new(Fixed(Err(PricingError::ZeroPrice))));
    let inv = Mutex::new(inventory());
    let o = order(1);
    assert_eq!(
        declined(engine.evaluate(&o, &provider(), &inv)),
        (STEP_PRICING.to_string(), "zero-price")
    );
    assert!(inv.lock().unwrap().reservation(&o.id).is_none());
}

#[test]
fn never_bids_above_the_orders_maximum() {
    let inv = Mutex::new(inventory());
    let o = order_with(TENANT, 1, vec![unit(1, 500, GI, 1)], "0.75");
    let above = BidEngine::new(Box::new(Fixed(Ok(dec("0.750000000000000001")))));
    let BidOutcome::Declined(d) = above.evaluate(&o, &provider(), &inv) else {
        panic!("expected a decline");
    };
    assert_eq!(
        (d.policy.as_str(), d.code),
        (STEP_PRICE_CEILING, "price-above-max")
    );
    assert!(d.reason.contains("0.75"), "{}", d.reason);
    assert!(inv.lock().unwrap().reservation(&o.id).is_none());
    let at = BidEngine::new(Box::new(Fixed(Ok(dec("0.75")))));
    assert!(matches!(
        at.evaluate(&o, &provider(), &inv),
        BidOutcome::Bid(_)
    ));
}

#[test]
fn a_decline_keeps_a_reservation_made_before() {
    let inv = Mutex::new(inventory());
    let o = order(1);
    inv.lock()
        .unwrap()
        .reserve(&o.id, &o.group.resources)
        .unwrap();
    let engine = BidEngine::new(Box::new(Fixed(Err(PricingError::Overflow))));
    declined(engine.evaluate(&o, &provider(), &inv));
    assert!(inv.lock().unwrap().reservation(&o.id).is_some());
}

#[test]
fn declines_are_counted_by_policy_and_code() {
    let engine = BidEngine::new(Box::new(Fixed(Ok(dec("1")))))
        .with_policy(TenantPolicy::new().deny(["kumo1spammer"]))
        .with_policy(CapacityPolicy);
    let inv = Mutex::new(inventory());
    let spam = |dseq| order_with("kumo1spammer", dseq, vec![unit(1, 100, GI, 1)], "100");
    for dseq in 1..=3 {
        engine.evaluate(&spam(dseq), &provider(), &inv);
    }
    let big = order_with(TENANT, 9, vec![unit(1, 5000, GI, 1)], "100");
    engine.evaluate(&big, &provider(), &inv);
    let cheap = order_with(TENANT, 10, vec![unit(1, 100, GI, 1)], "0.5");
    engine.evaluate(&cheap, &provider(), &inv);
    assert!(matches!(
        engine.evaluate(&order(11), &provider(), &inv),
        BidOutcome::Bid(_)
    ));
    assert_eq!(
        engine.declines(),
        vec![
            DeclineCount {
                policy: "capacity".into(),
                code: "insufficient-cpu",
                count: 1
            },
            DeclineCount {
                policy: "price-ceiling".into(),
                code: "price-above-max",
                count: 1
            },
            DeclineCount {
                policy: "tenants".into(),
                code: "tenant-denied",
                count: 3
            },
        ]
    );
    assert_eq!(engine.bids(), 1);
}

#[test]
fn order_view_comes_from_the_markets_order_response() {
    let o = order(7);
    let response = OrderResponse {
        order: Order {
            id: o.id.clone(),
            seq: 3,
            state: OrderState::Open,
            price: dec("0.25"),
            auction_ends_at: None,
            reclamation_min_window: Some(3600),
            bids: 0,
            created_at: Timestamp::from_seconds(1),
        },
        group: Group {
            id: o.id.group(),
            state: GroupState::Open,
            spec: o.group.clone(),
            price: dec("0.25"),
            last_oseq: 1,
            created_at: Timestamp::from_seconds(1),
        },
    };
    let view = OrderView::from(response);
    assert_eq!(view.id, o.id);
    assert_eq!(view.owner().as_str(), TENANT);
    assert_eq!(view.max_price, dec("0.25"));
    assert_eq!(view.denom, "ukumo");
    assert_eq!(view.reclamation_min_window, Some(3600));
    assert_eq!(view.group, o.group);
}
