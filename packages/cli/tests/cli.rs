//! `kumo` commands that need no chain: keys, completions, and the errors that come before (or
//! instead of) talking to a node.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

const ABANDON: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn hello() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello.yaml")
}

fn kumo(home: &Path) -> Command {
    let mut c = Command::cargo_bin("kumo").unwrap();
    c.arg("--home").arg(home).env("KUMO_KEYRING_PASSWORD", "pw");
    c
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(out)
        )
    })
}

/// A home with the `abandon` key as "tenant" and a suite file naming made-up contracts.
fn home_with_key_and_suite() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    kumo(home.path())
        .args(["keys", "add", "tenant", "--recover"])
        .write_stdin(ABANDON)
        .assert()
        .success();
    std::fs::create_dir_all(home.path().join("devnet")).unwrap();
    std::fs::write(
        home.path().join("devnet/suite.json"),
        r#"{"code_ids": [], "contracts": {"registry": "kumo1r", "market": "kumo1m", "escrow": "kumo1e", "staking": "", "governance": ""}}"#,
    )
    .unwrap();
    home
}

#[test]
fn keys_add_recover_list_and_show() {
    let home = tempfile::tempdir().unwrap();
    let added = kumo(home.path())
        .args(["--output", "json", "keys", "add", "alice", "--recover"])
        .write_stdin(format!("  {ABANDON}\n"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let added = json(&added);
    let alice = kumo_chain::Key::from_mnemonic(ABANDON)
        .unwrap()
        .address("kumo")
        .unwrap();
    assert_eq!(added["address"], alice.as_str());
    assert!(
        added.get("mnemonic").is_none(),
        "a recovered mnemonic is not printed"
    );

    // A second account of the same mnemonic, by HD index.
    let second = kumo(home.path())
        .args([
            "--output",
            "json",
            "keys",
            "add",
            "a2",
            "--recover",
            "--index",
            "1",
        ])
        .write_stdin(ABANDON)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let expected = kumo_chain::Key::from_mnemonic_index(ABANDON, 1)
        .unwrap()
        .address("kumo")
        .unwrap();
    assert_eq!(json(&second)["address"], expected.as_str());

    let new = kumo(home.path())
        .args(["keys", "add", "bob"])
        .assert()
        .success()
        .stdout(contains("Write this mnemonic down"))
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8(new)
        .unwrap()
        .contains("added key \"bob\": kumo1"));

    let list = kumo(home.path())
        .args(["keys", "list", "--output", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list = json(&list);
    let names: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a2", "alice", "bob"]);

    kumo(home.path())
        .args(["keys", "list"])
        .assert()
        .success()
        .stdout(contains("NAME"))
        .stdout(contains(format!("alice  {alice}")));
    kumo(home.path())
        .args(["keys", "show", "alice"])
        .assert()
        .success()
        .stdout(contains(format!("address: {alice}")));
    kumo(home.path())
        .args(["keys", "show", "carol"])
        .assert()
        .failure()
        .stderr(contains("no key named \"carol\""))
        .stderr(contains("kumo keys list"));
    kumo(home.path())
        .args(["keys", "add", "alice"])
        .assert()
        .failure()
        .stderr(contains("already exists"));
}

#[test]
fn a_bad_mnemonic_is_refused_with_what_to_check() {
    let home = tempfile::tempdir().unwrap();
    kumo(home.path())
        .args(["keys", "add", "x", "--recover"])
        .write_stdin("abandon abandon about")
        .assert()
        .failure()
        .stderr(contains("invalid mnemonic"))
        .stderr(contains("check the words and their order"));
    assert!(!home.path().join("keyring.json").exists());
}

#[test]
fn a_wrong_password_says_so() {
    let home = home_with_key_and_suite();
    kumo(home.path())
        .env("KUMO_KEYRING_PASSWORD", "not it")
        .args(["bids", "1"])
        .assert()
        .failure()
        .stderr(contains("password is wrong"));
}

#[test]
fn an_unreachable_node_says_how_to_start_one() {
    let home = home_with_key_and_suite();
    kumo(home.path())
        .args(["--node", "http://127.0.0.1:9", "bids", "1"])
        .assert()
        .failure()
        .stderr(contains(
            "cannot reach the node at http://127.0.0.1:9: start one with `kumo devnet`",
        ));
}

#[test]
fn a_missing_suite_file_says_where_one_comes_from() {
    let home = tempfile::tempdir().unwrap();
    kumo(home.path())
        .args(["status", "1"])
        .assert()
        .failure()
        .stderr(contains("cannot read the suite file"))
        .stderr(contains("devnet/suite.json"))
        .stderr(contains("`kumo devnet`"));
    kumo(home.path())
        .args(["--suite", "/nonexistent/suite.json", "provider", "show"])
        .assert()
        .failure()
        .stderr(contains("/nonexistent/suite.json"));
}

#[test]
fn deploy_reports_a_missing_file_and_the_path_of_an_sdl_error() {
    let home = home_with_key_and_suite();
    kumo(home.path())
        .args(["deploy", "no-such-deploy.yaml"])
        .assert()
        .failure()
        .stderr(contains("cannot read no-such-deploy.yaml: check the path"));
    let bad = home.path().join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(hello())
            .unwrap()
            .replace("port: 8080", "port: 0"),
    )
    .unwrap();
    kumo(home.path())
        .arg("deploy")
        .arg(&bad)
        .assert()
        .failure()
        .stderr(contains("services.web.expose[0].port"))
        .stderr(contains("kumo sdl check"));
    kumo(home.path())
        .args(["send-manifest", "nope.yaml", "--dseq", "1"])
        .assert()
        .failure()
        .stderr(contains("cannot read nope.yaml"));
}

#[test]
fn no_key_and_several_keys_say_what_to_pass() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("devnet")).unwrap();
    std::fs::write(
        home.path().join("devnet/suite.json"),
        r#"{"registry": "kumo1r", "market": "kumo1m", "escrow": "kumo1e", "staking": "", "governance": ""}"#,
    )
    .unwrap();
    kumo(home.path())
        .args(["bids", "1"])
        .assert()
        .failure()
        .stderr(contains("has no keys: add one with `kumo keys add NAME`"));
    for name in ["a", "b"] {
        kumo(home.path())
            .args(["keys", "add", name])
            .assert()
            .success();
    }
    kumo(home.path())
        .args(["bids", "1"])
        .assert()
        .failure()
        .stderr(contains("pass --from KEY"));
}

#[test]
fn governance_needs_a_governance_address() {
    let home = home_with_key_and_suite();
    kumo(home.path())
        .args(["gov", "list"])
        .assert()
        .failure()
        .stderr(contains("has no governance contract"));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_kumo()"),
        ("zsh", "#compdef kumo"),
        ("fish", "complete -c kumo"),
    ] {
        Command::cargo_bin("kumo")
            .unwrap()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains(marker))
            .stdout(contains("send-manifest"));
    }
}

#[test]
fn help_lists_every_command() {
    let out = Command::cargo_bin("kumo")
        .unwrap()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    for cmd in [
        "keys",
        "deploy",
        "bids",
        "lease",
        "send-manifest",
        "status",
        "logs",
        "deposit",
        "close",
        "provider",
        "gov",
        "devnet",
        "deploy-suite",
        "completions",
    ] {
        assert!(predicate::str::contains(cmd).eval(&out), "{cmd} missing");
    }
}
