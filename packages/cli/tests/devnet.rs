//! `kumo devnet` and `kumo deploy-suite` from the command line.

use assert_cmd::Command;
use predicates::str::contains;

fn artifacts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts")
}

#[test]
fn devnet_starts_deploys_the_suite_and_keeps_it_across_restarts() {
    let home = tempfile::tempdir().unwrap();
    let run = || {
        Command::cargo_bin("kumo")
            .unwrap()
            .args(["devnet", "--listen", "127.0.0.1:0", "--block-time", "0.05"])
            .arg("--home")
            .arg(home.path())
            .arg("--artifacts")
            .arg(artifacts())
            .arg("--exit-after-deploy")
            .assert()
            .success()
    };
    run()
        .stdout(contains("account 0: kumo1"))
        .stdout(contains("\"market\": \"kumo1"));
    let suite = std::fs::read_to_string(home.path().join("devnet/suite.json")).unwrap();
    // A restart reopens the same chain and does not deploy again.
    run().stdout(contains(suite.trim()));
}

#[test]
fn devnet_rejects_a_bad_block_time() {
    let home = tempfile::tempdir().unwrap();
    Command::cargo_bin("kumo")
        .unwrap()
        .args(["devnet", "--block-time", "0"])
        .arg("--home")
        .arg(home.path())
        .assert()
        .failure()
        .stderr(contains("--block-time must be between 0 and 600 seconds"));
}

#[test]
fn devnet_rejects_a_bad_mnemonic() {
    let home = tempfile::tempdir().unwrap();
    Command::cargo_bin("kumo")
        .unwrap()
        .args(["devnet", "--mnemonic", "not a real mnemonic"])
        .arg("--home")
        .arg(home.path())
        .assert()
        .failure()
        .stderr(contains("invalid mnemonic"));
}

#[test]
fn deploy_suite_says_where_the_mnemonic_goes() {
    Command::cargo_bin("kumo")
        .unwrap()
        .args(["deploy-suite", "--mnemonic-env", "KUMO_TEST_UNSET_MNEMONIC"])
        .env_remove("KUMO_TEST_UNSET_MNEMONIC")
        .assert()
        .failure()
        .stderr(contains(
            "set KUMO_TEST_UNSET_MNEMONIC to the deployer's mnemonic",
        ));
}

#[test]
fn deploy_suite_says_when_the_node_is_unreachable() {
    Command::cargo_bin("kumo")
        .unwrap()
        .args(["deploy-suite", "--node", "http://127.0.0.1:9"])
        .arg("--artifacts")
        .arg(artifacts())
        .env(
            "KUMO_MNEMONIC",
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        )
        .assert()
        .failure()
        .stderr(contains(
            "cannot reach the node at http://127.0.0.1:9: start one with `kumo devnet`",
        ));
}

#[test]
fn deploy_suite_says_how_to_build_missing_artifacts() {
    let empty = tempfile::tempdir().unwrap();
    Command::cargo_bin("kumo")
        .unwrap()
        .args(["deploy-suite", "--node", "http://127.0.0.1:9"])
        .arg("--artifacts")
        .arg(empty.path())
        .env(
            "KUMO_MNEMONIC",
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        )
        .assert()
        .failure()
        .stderr(contains("kumo_registry.wasm"))
        .stderr(contains("build the artifacts with `scripts/build-wasm`"));
}
