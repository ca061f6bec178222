//! The gas report (`scripts/gas-report`): each user operation on the devnet, in SDK gas as a
//! wasmd chain with default parameters charges it, unpinned and pinned, after 10, 1,000 and
//! 10,000 existing deployments with a bid and a lease each. Usage: `gas_report [MAX]`.

use cosmwasm_std::{coins, Decimal, Decimal256, HexBinary, Uint128};
use kumo::market::{self, NewBid, NewDeployment};
use kumo::registry::{self, ProviderInfo};
use kumo::{escrow, governance, staking, Attribute, Denom, DeploymentId, GroupSpec};
use kumo_chain::{tx, Key};
use kumo_devnet::TxResult;
use kumo_tests::devnet::{address, attr, deploy_core, key, Driver, BATCH};

const DENOM: &str = "ukumo";
const CHAIN: &str = "kumo-gas";

struct Suite {
    registry: String,
    market: String,
    escrow: String,
    staking: String,
    governance: String,
    code_ids: Vec<u64>,
}

fn groups(n: usize) -> Vec<GroupSpec> {
    let sdl = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello.yaml"),
    )
    .unwrap();
    let one = kumo_tests::Suite::groups_from_sdl(&sdl, DENOM).remove(0);
    (0..n)
        .map(|i| GroupSpec {
            name: format!("g{i}"),
            ..one.clone()
        })
        .collect()
}

fn new_deployment(n: usize, auction: Option<u64>) -> market::ExecuteMsg {
    market::ExecuteMsg::CreateDeployment(NewDeployment {
        groups: groups(n),
        version: HexBinary::from(vec![7u8; 32]),
        auction_window: auction,
        reclamation_min_window: None,
        provider_record: None,
    })
}

fn deploy(d: &mut Driver, admin: &Key) -> Suite {
    let me = address(admin);
    let core = deploy_core(
        d,
        admin,
        vec![escrow::DenomConfig {
            denom: Denom::Native(DENOM.into()),
            min_deposit: Uint128::new(5_000_000),
            take_rate: Decimal::percent(2),
        }],
        vec![kumo::Asset {
            denom: Denom::Native(DENOM.into()),
            amount: Uint128::new(500_000),
        }],
    );
    let (registry, escrow, market) = (core.registry, core.escrow, core.market);
    let mut code_ids = core.code_ids;
    code_ids.extend(
        ["staking", "governance"]
            .iter()
            .map(|name| d.store(admin, name)),
    );
    let staking = d.instantiate(
        admin,
        code_ids[3],
        &staking::InstantiateMsg {
            owner: me.clone(),
            market: Some(market.clone()),
            treasury: me.clone(),
            arbiter: None,
            params: staking::StakingParams {
                bond_ratio: Decimal::zero(),
                ..kumo_tests::staking_params()
            },
        },
        "staking",
    );
    let governance = d.instantiate(
        admin,
        code_ids[4],
        &governance::InstantiateMsg {
            params: governance::GovernanceParams {
                denom: Denom::Native(DENOM.into()),
                proposal_deposit: Uint128::new(1_000_000),
                voting_period: 86_400,
                quorum: Decimal::percent(20),
                threshold: Decimal::percent(50),
                veto_threshold: Decimal::permille(334),
                timelock: 3_600,
                refund_rejected: false,
                max_messages: 8,
            },
        },
        "governance",
    );
    d.exec(
        admin,
        &market,
        &market::ExecuteMsg::UpdateConfig {
            owner: None,
            registry: None,
            escrow: None,
            staking: Some(staking.clone()),
            guardian: None,
        },
        &[],
    );
    Suite {
        registry,
        market,
        escrow,
        staking,
        governance,
        code_ids,
    }
}

struct Actors {
    tenant: Key,
    provider: Key,
    bidder: Key,
    voter: Key,
}

fn dseq_of(r: &TxResult) -> u64 {
    attr(r, "wasm", "dseq").parse().unwrap()
}

/// Fills the market up to `target` deployments, each with a bid and a lease.
fn fill(d: &mut Driver, s: &Suite, a: &Actors, from: usize, target: usize) {
    let tenant = address(&a.tenant);
    let provider = address(&a.provider);
    // Deployments first (their dseqs come from events), then bids, then leases.
    let mut dseqs = vec![];
    let mut start = from;
    while start < target {
        let n = BATCH.min(target - start);
        for _ in 0..n {
            let m = Driver::msg(
                &a.tenant,
                &s.market,
                &new_deployment(1, None),
                &coins(50_000_000, DENOM),
            );
            d.queue(&a.tenant, vec![m]);
        }
        dseqs.extend(d.flush().iter().map(dseq_of));
        start += n;
    }
    for dseq in &dseqs {
        let order = DeploymentId::new(cosmwasm_std::Addr::unchecked(&tenant), *dseq)
            .group(1)
            .order(1);
        let m = Driver::msg(
            &a.provider,
            &s.market,
            &market::ExecuteMsg::CreateBid(NewBid {
                order,
                price: Decimal256::one(),
                reclamation_window: None,
                offer: vec![],
            }),
            &coins(500_000, DENOM),
        );
        d.queue(&a.provider, vec![m]);
    }
    d.flush();
    for dseq in &dseqs {
        let bid = DeploymentId::new(cosmwasm_std::Addr::unchecked(&tenant), *dseq)
            .group(1)
            .order(1)
            .bid(cosmwasm_std::Addr::unchecked(&provider));
        let m = Driver::msg(
            &a.tenant,
            &s.market,
            &market::ExecuteMsg::CreateLease { bid },
            &[],
        );
        d.queue(&a.tenant, vec![m]);
    }
    d.flush();
}

const OPS: [&str; 13] = [
    "create deployment (1 group)",
    "create deployment (5 groups)",
    "create bid",
    "create lease",
    "close auction",
    "withdraw lease",
    "deposit",
    "settle",
    "close lease",
    "heartbeat",
    "bond",
    "vote",
    "bank send (reference)",
];

/// Runs every operation once on fresh objects; gas of each, in `OPS` order.
fn measure(d: &mut Driver, s: &Suite, a: &Actors, proposal: u64) -> Vec<u64> {
    let tenant = address(&a.tenant);
    let bidder = address(&a.bidder);
    let mut gas = vec![];
    let r = d.exec(
        &a.tenant,
        &s.market,
        &new_deployment(1, None),
        &coins(50_000_000, DENOM),
    );
    gas.push(r.gas_used);
    let dseq = dseq_of(&r);
    gas.push(
        d.exec(
            &a.tenant,
            &s.market,
            &new_deployment(5, None),
            &coins(50_000_000, DENOM),
        )
        .gas_used,
    );
    let deployment = DeploymentId::new(cosmwasm_std::Addr::unchecked(&tenant), dseq);
    let order = deployment.group(1).order(1);
    let bid = NewBid {
        order: order.clone(),
        price: Decimal256::one(),
        reclamation_window: None,
        offer: vec![],
    };
    gas.push(
        d.exec(
            &a.bidder,
            &s.market,
            &market::ExecuteMsg::CreateBid(bid.clone()),
            &coins(500_000, DENOM),
        )
        .gas_used,
    );
    let lease = order.bid(cosmwasm_std::Addr::unchecked(&bidder));
    gas.push(
        d.exec(
            &a.tenant,
            &s.market,
            &market::ExecuteMsg::CreateLease { bid: lease.clone() },
            &[],
        )
        .gas_used,
    );
    // An auctioned deployment: one bid, then the window passes.
    let r = d.exec(
        &a.tenant,
        &s.market,
        &new_deployment(1, Some(1)),
        &coins(50_000_000, DENOM),
    );
    let auctioned = DeploymentId::new(cosmwasm_std::Addr::unchecked(&tenant), dseq_of(&r))
        .group(1)
        .order(1);
    d.exec(
        &a.bidder,
        &s.market,
        &market::ExecuteMsg::CreateBid(NewBid {
            order: auctioned.clone(),
            ..bid
        }),
        &coins(500_000, DENOM),
    );
    d.advance(2);
    gas.push(
        d.exec(
            &a.bidder,
            &s.market,
            &market::ExecuteMsg::CloseAuction { order: auctioned },
            &[],
        )
        .gas_used,
    );
    d.advance(60);
    gas.push(
        d.exec(
            &a.bidder,
            &s.market,
            &market::ExecuteMsg::WithdrawLease {
                lease: lease.clone(),
            },
            &[],
        )
        .gas_used,
    );
    gas.push(
        d.exec(
            &a.tenant,
            &s.market,
            &market::ExecuteMsg::Deposit {
                deployment: deployment.clone(),
            },
            &coins(5_000_000, DENOM),
        )
        .gas_used,
    );
    d.advance(60);
    gas.push(
        d.exec(
            &a.bidder,
            &s.escrow,
            &escrow::ExecuteMsg::Settle {
                id: escrow::AccountId::Deployment(deployment),
            },
            &[],
        )
        .gas_used,
    );
    gas.push(
        d.exec(
            &a.tenant,
            &s.market,
            &market::ExecuteMsg::CloseLease { lease },
            &[],
        )
        .gas_used,
    );
    gas.push(
        d.exec(
            &a.bidder,
            &s.staking,
            &staking::ExecuteMsg::Heartbeat {},
            &[],
        )
        .gas_used,
    );
    gas.push(
        d.exec(
            &a.bidder,
            &s.staking,
            &staking::ExecuteMsg::Bond {},
            &coins(1_000_000, DENOM),
        )
        .gas_used,
    );
    let _ = proposal;
    let r = d.exec(
        &a.voter,
        &s.governance,
        &governance::ExecuteMsg::Propose {
            title: "measure".into(),
            description: "a proposal to vote on".into(),
            msgs: vec![],
        },
        &coins(1_000_000, DENOM),
    );
    let id: u64 = attr(&r, "wasm-proposal_opened", "id").parse().unwrap();
    gas.push(
        d.exec(
            &a.voter,
            &s.governance,
            &governance::ExecuteMsg::CastVote {
                id,
                vote: governance::Vote::Yes,
            },
            &[],
        )
        .gas_used,
    );
    let send = tx::msg_send(&tenant, &bidder, &coins(1, DENOM));
    gas.push(d.run(&a.tenant, vec![send]).gas_used);
    gas
}

fn main() {
    let max: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("MAX is a number of deployments"))
        .unwrap_or(10_000);
    let levels: Vec<usize> = [10, 1_000, 10_000]
        .into_iter()
        .filter(|l| *l <= max)
        .collect();
    let keys: Vec<Key> = (0..5).map(key).collect();
    let mut d = Driver::new(
        CHAIN,
        DENOM,
        keys.iter()
            .map(|k| (address(k), coins(1_000_000_000_000_000, DENOM)))
            .collect(),
    );
    let mut keys = keys.into_iter();
    let admin = keys.next().unwrap();
    let a = Actors {
        tenant: keys.next().unwrap(),
        provider: keys.next().unwrap(),
        bidder: keys.next().unwrap(),
        voter: keys.next().unwrap(),
    };
    let s = deploy(&mut d, &admin);
    for p in [&a.provider, &a.bidder] {
        d.exec(
            p,
            &s.registry,
            &registry::ExecuteMsg::RegisterProvider {
                host_uri: "https://provider.example.com:8443".into(),
                attributes: vec![Attribute::new("region", "local")],
                info: ProviderInfo::default(),
            },
            &[],
        );
        d.exec(
            p,
            &s.staking,
            &staking::ExecuteMsg::Bond {},
            &coins(100_000_000, DENOM),
        );
    }
    d.exec(
        &a.voter,
        &s.governance,
        &governance::ExecuteMsg::Lock {},
        &coins(10_000_000, DENOM),
    );

    let mut table: Vec<(usize, Vec<u64>, Vec<u64>)> = vec![];
    let mut filled = 0;
    for level in &levels {
        eprintln!("filling to {level} deployments, bids and leases…");
        fill(&mut d, &s, &a, filled, *level);
        filled = *level;
        let unpinned = measure(&mut d, &s, &a, 0);
        for id in &s.code_ids {
            d.app.pin_code(*id).unwrap();
        }
        let pinned = measure(&mut d, &s, &a, 0);
        for id in &s.code_ids {
            d.app.unpin_code(*id).unwrap();
        }
        table.push((*level, unpinned, pinned));
    }

    println!("SDK gas per transaction (wasmd default gas parameters), after N existing deployments, bids and leases:\n");
    let mut header = String::from("| operation |");
    let mut rule = String::from("| --- |");
    for (level, _, _) in &table {
        header += &format!(" {level} unpinned | {level} pinned |");
        rule += " ---: | ---: |";
    }
    if table.len() > 1 {
        header += " pinned growth |";
        rule += " ---: |";
    }
    println!("{header}\n{rule}");
    for (i, op) in OPS.iter().enumerate() {
        let mut row = format!("| {op} |");
        for (_, u, p) in &table {
            row += &format!(" {} | {} |", u[i], p[i]);
        }
        if table.len() > 1 {
            let first = table[0].2[i] as f64;
            let last = table[table.len() - 1].2[i] as f64;
            row += &format!(" {:+.1}% |", (last - first) / first * 100.0);
        }
        println!("{row}");
    }
}
