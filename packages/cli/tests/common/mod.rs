//! What the devnet tests share: a `kumo devnet` child process, the `kumo` command against it, and
//! a chain client for what the scenario does outside the CLI (another party's transactions,
//! many messages in one transaction).

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use cosmwasm_std::Coin;
use kumo_chain::{Client, ClientConfig, DeployedSuite, Key, TxResponse};
use serde::Serialize;
use serde_json::Value;

pub const DEV_MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
pub const PASSWORD: &str = "test password";

pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

// ---------------------------------------------------------------------------------------------
// A devnet child process.

pub struct Devnet {
    child: Child,
    pub url: String,
}

impl Devnet {
    /// Starts `kumo devnet` with its data in HOME/devnet and waits for the suite.
    pub fn start(home: &Path) -> Devnet {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kumo"))
            .args(["devnet", "--listen", "127.0.0.1:0", "--block-time", "0.05"])
            .arg("--home")
            .arg(home)
            .arg("--artifacts")
            .arg(repo("artifacts"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.split(" serving ").nth(1) {
                url = Some(rest.split_whitespace().next().unwrap().to_string());
            }
            if line.starts_with("suite (") {
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Devnet {
            child,
            url: url.expect("the devnet printed its URL"),
        }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers that read like the scenario.

pub struct Env {
    pub home: tempfile::TempDir,
    pub node: String,
}

impl Env {
    pub fn kumo(&self) -> Command {
        let mut c = Command::cargo_bin("kumo").unwrap();
        c.arg("--home")
            .arg(self.home.path())
            .args(["--node", &self.node, "--yes"])
            .env("KUMO_KEYRING_PASSWORD", PASSWORD)
            .timeout(Duration::from_secs(120));
        c
    }

    /// Runs `kumo --output json ARGS`, expects success, parses the one JSON document.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .kumo()
            .args(["--output", "json"])
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "kumo {args:?} printed no single JSON document ({e}):\n{}",
                String::from_utf8_lossy(&out)
            )
        })
    }

    pub fn text(&self, args: &[&str]) -> String {
        let out = self
            .kumo()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    }

    /// The suite `kumo devnet` deployed (HOME/devnet/suite.json).
    pub fn suite(&self) -> DeployedSuite {
        serde_json::from_str(
            &std::fs::read_to_string(self.home.path().join("devnet/suite.json")).unwrap(),
        )
        .unwrap()
    }

    /// Adds `mnemonic` to the keyring as `name` and returns its address.
    pub fn recover_key(&self, name: &str, mnemonic: &str) -> String {
        let out = self
            .kumo()
            .args(["--output", "json", "keys", "add", name, "--recover"])
            .write_stdin(format!("{mnemonic}\n"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        doc["address"].as_str().unwrap().to_string()
    }

    /// Adds a new key `name` to the keyring; returns its address and its key.
    pub fn new_key(&self, name: &str) -> (String, Key) {
        let doc = self.json(&["keys", "add", name]);
        let key = Key::from_mnemonic(doc["mnemonic"].as_str().unwrap()).unwrap();
        (doc["address"].as_str().unwrap().to_string(), key)
    }
}

/// A devnet in a new home, and the `kumo` command against it.
pub fn start() -> (Devnet, Env) {
    let home = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(home.path());
    let env = Env {
        home,
        node: devnet.url.clone(),
    };
    (devnet, env)
}

pub fn client(url: &str) -> Client {
    Client::new(
        url,
        ClientConfig {
            prefix: "kumo".into(),
            gas_price_amount: 0.0,
            gas_denom: "ukumo".into(),
            gas_adjustment: 1.4,
        },
    )
    .unwrap()
}

/// Executes every `(msg, funds)` on `contract` in one transaction signed by `key`.
pub async fn execute_all<M: Serialize>(
    chain: &Client,
    key: &Key,
    contract: &str,
    msgs: &[(M, Vec<Coin>)],
) -> TxResponse {
    let sender = chain.address(key).unwrap();
    let msgs = msgs
        .iter()
        .map(|(m, funds)| kumo_chain::tx::msg_execute(&sender, contract, m, funds).unwrap())
        .collect();
    chain.sign_and_broadcast(key, msgs, "").await.unwrap()
}
