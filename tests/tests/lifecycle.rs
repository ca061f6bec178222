//! The full lease lifecycle with every contract wired together: deploy → three bids → lease →
//! payment streams → withdraw → top-up by someone else → close → refunds.

use cosmwasm_std::Decimal256;
use kumo::market::{BidState, LeaseState};
use kumo_tests::{event_values, Suite, DENOM, STARTING_BALANCE};

const HELLO: &str = include_str!("../../examples/hello.yaml");
const BID_DEPOSIT: u128 = 500_000;

fn per_second(units: u128) -> Decimal256 {
    Decimal256::from_ratio(units, 1u128)
}

#[test]
fn deploy_bid_lease_stream_withdraw_top_up_close_and_refund() {
    let mut suite = Suite::new();
    for p in ["provider1", "provider2", "provider3"] {
        suite.register_provider(p, &[("region", "local")]).unwrap();
    }
    let tenant = suite.addr("tenant");
    let groups = Suite::groups_from_sdl(HELLO, DENOM);
    let d = suite
        .create_deployment("tenant", groups, 50_000_000, DENOM, None)
        .unwrap();
    assert_eq!(suite.balance(&tenant, DENOM), STARTING_BALANCE - 50_000_000);

    // hello.yaml asks at most 100 per 6 s block: 16.67 per second.
    let order = suite.order(&d, 1, 1);
    let bids: Vec<_> = [("provider1", 15), ("provider2", 12), ("provider3", 14)]
        .into_iter()
        .map(|(p, price)| {
            suite
                .bid(p, &order, per_second(price), BID_DEPOSIT, DENOM)
                .unwrap()
        })
        .collect();
    for p in ["provider1", "provider2", "provider3"] {
        let addr = suite.addr(p);
        assert_eq!(suite.balance(&addr, DENOM), STARTING_BALANCE - BID_DEPOSIT);
    }

    let res = suite.create_lease("tenant", &bids[1]).unwrap();
    assert_eq!(suite.lease(&bids[1]).unwrap().state, LeaseState::Active);
    assert_eq!(suite.bid_state(&bids[1]), Some(BidState::Active));
    assert_eq!(
        event_values(&res, "bid_closed", "state"),
        vec!["lost", "lost"]
    );
    for lost in [&bids[0], &bids[2]] {
        assert_eq!(suite.bid_state(lost), None, "lost bids are deleted");
        let addr = lost.provider.clone();
        assert_eq!(
            suite.balance(&addr, DENOM),
            STARTING_BALANCE,
            "deposit refunded"
        );
    }
    assert_eq!(suite.provider_stats("provider2").active_leases, 1);

    // 1000 s at 12/s: 12000 accrued; the take is 2% (240) to the treasury.
    suite.advance_seconds(1_000);
    suite.withdraw_lease("keeper", &bids[1]).unwrap();
    let provider2 = suite.addr("provider2");
    let treasury = suite.treasury.clone();
    assert_eq!(
        suite.balance(&provider2, DENOM),
        STARTING_BALANCE - BID_DEPOSIT + 11_760
    );
    assert_eq!(suite.balance(&treasury, DENOM), 240);

    // Anyone may top up; refunds go back to each depositor, first in first out.
    let sponsor = suite.addr("sponsor");
    suite.deposit("sponsor", &d, 10_000_000, DENOM).unwrap();
    suite.advance_seconds(500);
    let res = suite.close_deployment("tenant", d.dseq).unwrap();
    assert_eq!(event_values(&res, "lease_closed", "reason"), vec!["1"]);
    assert_eq!(event_values(&res, "group_state", "state"), vec!["Closed"]);
    // Closed objects are deleted; the events above are the record.
    assert!(suite.deployment(&d).is_none());
    assert!(suite.lease(&bids[1]).is_none());
    assert!(suite.account(&d).is_none());
    assert_eq!(suite.provider_stats("provider2").active_leases, 0);

    // 1500 s in all: 18000 gross, 360 take; the bid deposit comes back.
    assert_eq!(suite.balance(&provider2, DENOM), STARTING_BALANCE + 17_640);
    assert_eq!(suite.balance(&treasury, DENOM), 360);
    // The tenant's deposit was drawn first; the sponsor gets everything back.
    assert_eq!(suite.balance(&tenant, DENOM), STARTING_BALANCE - 18_000);
    assert_eq!(suite.balance(&sponsor, DENOM), STARTING_BALANCE);
    // Nothing is left behind in the contracts.
    let escrow = suite.escrow.clone();
    let market = suite.market.clone();
    assert_eq!(suite.balance(&escrow, DENOM), 0);
    assert_eq!(suite.balance(&market, DENOM), 0);
}
