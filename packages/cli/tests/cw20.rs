//! The CLI's CW20 payments on a devnet: a real CW20 token (`artifacts/kumo_cw20_token.wasm`,
//! cw20-base) with balances for the tenant and the provider, listed in the escrow by its owner
//! as a chain team would; `kumo deploy --cw20`, `kumo deposit --cw20` and
//! `kumo provider bond --cw20`, and the errors for what cannot work.

mod common;

use common::{client, repo, start, DEV_MNEMONIC};
use cosmwasm_std::{coins, Addr, Decimal, Uint128};
use kumo::{escrow, market, staking, Denom, DeploymentId};
use kumo_chain::{Client, Key, KumoContracts};
use predicates::str::contains;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Balance {
    balance: Uint128,
}

async fn token_balance(chain: &Client, token: &str, address: &str) -> u128 {
    let b: Balance = chain
        .query_smart(token, &json!({"balance": {"address": address}}))
        .await
        .unwrap();
    b.balance.u128()
}

async fn escrow_balance(chain: &Client, escrow: &str, id: &DeploymentId) -> String {
    let a: escrow::AccountResponse = chain
        .query_smart(
            escrow,
            &escrow::QueryMsg::Account {
                id: escrow::AccountId::Deployment(id.clone()),
            },
        )
        .await
        .unwrap();
    a.account.balance.to_string()
}

#[test]
fn deploy_deposit_and_bond_in_a_cw20_token() {
    let (devnet, env) = start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let chain = client(&devnet.url);
    let suite = env.suite();
    let contracts = suite.contracts.clone();
    let faucet = Key::from_mnemonic(DEV_MNEMONIC).unwrap();
    let tenant = env.recover_key("tenant", DEV_MNEMONIC);
    let (provider, _) = env.new_key("provider");
    let t = ["--from", "tenant"];
    let p = ["--from", "provider"];

    // The token, with balances for the tenant and the provider (who also needs ukumo for fees).
    let token = rt.block_on(async {
        chain
            .send(&faucet, &provider, &coins(10_000_000, "ukumo"))
            .await
            .unwrap();
        let wasm = std::fs::read(repo("artifacts/kumo_cw20_token.wasm")).unwrap();
        let code = chain.store_code(&faucet, wasm).await.unwrap();
        chain
            .instantiate(
                &faucet,
                code,
                &json!({
                    "name": "Kumo test token",
                    "symbol": "KTT",
                    "decimals": 6,
                    "initial_balances": [
                        {"address": tenant, "amount": "100000000"},
                        {"address": provider, "amount": "50000000"},
                    ],
                    "mint": null,
                    "marketing": null,
                }),
                "kumo-cw20-token",
                None,
                &[],
            )
            .await
            .unwrap()
    });
    // hello.yaml priced in the token: the market takes the deposit in the SDL's denom.
    let sdl = env.home.path().join("hello-cw20.yaml");
    std::fs::write(
        &sdl,
        std::fs::read_to_string(repo("examples/hello.yaml"))
            .unwrap()
            .replace("denom: ukumo", &format!("denom: cw20:{token}")),
    )
    .unwrap();
    let sdl = sdl.to_str().unwrap();
    let hello = repo("examples/hello.yaml");
    let hello = hello.to_str().unwrap();

    // Before the escrow lists the token, and with inputs that cannot work.
    env.kumo()
        .args([&t[..], &["deploy", sdl, "--cw20", &token]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "the escrow does not accept the CW20 token {token}"
        )))
        .stderr(contains("SetDenom"));
    env.kumo()
        .args([&t[..], &["deploy", hello, "--cw20", &token]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "prices its groups in ukumo, but --cw20 pays the deposit in cw20:{token}: set `denom: cw20:{token}`"
        )));
    env.kumo()
        .args([&t[..], &["deploy", sdl]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "prices its groups in the CW20 token {token}: pay the deposit in it with --cw20 {token}"
        )));
    // An address that is not a token contract (the provider's account).
    let wrong_sdl = env.home.path().join("hello-provider.yaml");
    std::fs::write(
        &wrong_sdl,
        std::fs::read_to_string(repo("examples/hello.yaml"))
            .unwrap()
            .replace("denom: ukumo", &format!("denom: cw20:{provider}")),
    )
    .unwrap();
    env.kumo()
        .args(
            [
                &t[..],
                &["deploy", wrong_sdl.to_str().unwrap(), "--cw20", &provider],
            ]
            .concat(),
        )
        .assert()
        .failure()
        .stderr(contains(format!(
            "\"{provider}\" is not a CW20 token contract"
        )))
        .stderr(contains("pass the token contract's address to --cw20"));

    // The escrow's owner lists the token (on a real chain: a governance proposal running this).
    rt.block_on(async {
        chain
            .execute(
                &faucet,
                &contracts.escrow,
                &escrow::ExecuteMsg::SetDenom {
                    config: escrow::DenomConfig {
                        denom: Denom::Cw20(Addr::unchecked(&token)),
                        min_deposit: Uint128::new(5_000_000),
                        take_rate: Decimal::percent(2),
                    },
                },
                &[],
            )
            .await
            .unwrap();
    });

    // Deploy: the deposit defaults to the escrow's minimum for the token.
    let created = env.json(&[&t[..], &["deploy", sdl, "--cw20", &token]].concat());
    let dseq = created["dseq"].as_u64().unwrap();
    assert_eq!(created["deposit"], format!("5000000cw20:{token}"));
    let id = DeploymentId::new(Addr::unchecked(&tenant), dseq);
    rt.block_on(async {
        let d: market::DeploymentResponse = chain
            .query_smart(
                &contracts.market,
                &market::QueryMsg::Deployment { id: id.clone() },
            )
            .await
            .unwrap();
        assert_eq!(d.deployment.denom, Denom::Cw20(Addr::unchecked(&token)));
        assert_eq!(
            escrow_balance(&chain, &contracts.escrow, &id).await,
            "5000000"
        );
        assert_eq!(
            token_balance(&chain, &token, &contracts.escrow).await,
            5_000_000
        );
        assert_eq!(token_balance(&chain, &token, &tenant).await, 95_000_000);
    });
    let status = env.json(&[&t[..], &["status", &dseq.to_string()]].concat());
    assert_eq!(status["deployment"]["denom"]["cw20"], token.as_str());

    // Deposit: the escrow account and the escrow's token balance grow by the amount.
    let dep = env.json(
        &[
            &t[..],
            &["deposit", &dseq.to_string(), "2000000", "--cw20", &token],
        ]
        .concat(),
    );
    assert_eq!(dep["deposit"], format!("2000000cw20:{token}"));
    rt.block_on(async {
        assert_eq!(
            escrow_balance(&chain, &contracts.escrow, &id).await,
            "7000000"
        );
        assert_eq!(
            token_balance(&chain, &token, &contracts.escrow).await,
            7_000_000
        );
    });
    // More than the tenant has; the wrong denom for the deployment.
    env.kumo()
        .args([&t[..], &["deposit", &dseq.to_string(), "1000000000", "--cw20", &token]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "insufficient funds: {tenant} has 93000000 of the CW20 token {token} and this needs 1000000000"
        )));
    env.kumo()
        .args([&t[..], &["deposit", &dseq.to_string(), "1000000ukumo"]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "deployment {dseq} is paid in the CW20 token {token}, not ukumo: deposit it with --cw20 {token}"
        )));

    // Bond: the devnet's staking contract bonds ukumo, so a CW20 bond is refused before sending.
    env.kumo()
        .args([&p[..], &["provider", "bond", "20000000", "--cw20", &token]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "the staking contract bonds ukumo, not the CW20 token {token}: bond ukumo without --cw20"
        )));
    // A staking contract that bonds the token (instantiated from the suite's staking code), named
    // in a suite file.
    let cw20_staking = rt.block_on(async {
        let code = suite
            .code_ids
            .iter()
            .find(|(name, _)| name == "staking")
            .map(|(_, id)| *id)
            .unwrap();
        let mut params = kumo_chain::deploy::staking_params("ukumo");
        params.bond_denom = Denom::Cw20(Addr::unchecked(&token));
        chain
            .instantiate(
                &faucet,
                code,
                &staking::InstantiateMsg {
                    owner: tenant.clone(),
                    market: Some(contracts.market.clone()),
                    treasury: tenant.clone(),
                    arbiter: None,
                    params,
                },
                "kumo-staking-cw20",
                None,
                &[],
            )
            .await
            .unwrap()
    });
    let cw20_suite = env.home.path().join("cw20-suite.json");
    std::fs::write(
        &cw20_suite,
        serde_json::to_vec(&KumoContracts {
            staking: cw20_staking.clone(),
            ..contracts.clone()
        })
        .unwrap(),
    )
    .unwrap();
    let ps = [
        "--from",
        "provider",
        "--suite",
        cw20_suite.to_str().unwrap(),
    ];
    let bonded = env.json(&[&ps[..], &["provider", "bond", "20000000", "--cw20", &token]].concat());
    assert!(bonded["txhash"].is_string());
    rt.block_on(async {
        let b: staking::ProviderBondResponse = chain
            .query_smart(
                &cw20_staking,
                &staking::QueryMsg::Provider {
                    provider: provider.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(b.bond.bonded, Uint128::new(20_000_000));
        assert_eq!(token_balance(&chain, &token, &provider).await, 30_000_000);
        assert_eq!(
            token_balance(&chain, &token, &cw20_staking).await,
            20_000_000
        );
    });
    env.kumo()
        .args([&ps[..], &["provider", "bond", "20000000ukumo"]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "the staking contract bonds the CW20 token {token}: pass --cw20 {token}"
        )));
    env.kumo()
        .args([&ps[..], &["provider", "bond", "40000000", "--cw20", &token]].concat())
        .assert()
        .failure()
        .stderr(contains(format!(
            "insufficient funds: {provider} has 30000000 of the CW20 token {token} and this needs 40000000"
        )));
}
