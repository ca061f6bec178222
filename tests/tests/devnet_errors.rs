//! Bad input on the devnet: each transaction fails with the code and log wasmd gives it, and
//! state does not change beyond what the SDK keeps of a failed transaction (its fee and
//! sequence, once it is in a block).

use cosmwasm_std::{coin, coins};
use kumo_chain::tx::{self, Fee, SignerData};
use kumo_chain::Key;
use kumo_devnet::{App, Config, TxResult};

const MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const DENOM: &str = "ukumo";
const CHAIN: &str = "kumo-devnet-1";

struct Chain {
    app: App,
    alice: Key,
    bob: Key,
    _home: tempfile::TempDir,
}

fn chain() -> Chain {
    let home = tempfile::tempdir().unwrap();
    let alice = Key::from_mnemonic_index(MNEMONIC, 0).unwrap();
    let bob = Key::from_mnemonic_index(MNEMONIC, 1).unwrap();
    let app = App::open(Config {
        chain_id: CHAIN.into(),
        prefix: "kumo".into(),
        denom: DENOM.into(),
        min_gas_price: 0.01,
        home: home.path().to_path_buf(),
        genesis: vec![(alice.address("kumo").unwrap(), coins(1_000_000_000, DENOM))],
    })
    .unwrap();
    Chain {
        app,
        alice,
        bob,
        _home: home,
    }
}

impl Chain {
    fn addr(&self, k: &Key) -> String {
        k.address("kumo").unwrap()
    }

    fn signed(
        &self,
        key: &Key,
        msgs: Vec<kumo_chain::Any>,
        sequence: u64,
        chain_id: &str,
        gas: u64,
        fee: u128,
    ) -> Vec<u8> {
        let account = self.app.account(&self.addr(&self.alice)).unwrap().unwrap();
        tx::build_signed_tx(
            key,
            msgs,
            "",
            &SignerData {
                chain_id: chain_id.into(),
                account_number: account.account_number,
                sequence,
            },
            &Fee {
                amount: coins(fee, DENOM),
                gas_limit: gas,
            },
        )
    }

    fn send(&self, amount: u128) -> kumo_chain::Any {
        tx::msg_send(
            &self.addr(&self.alice),
            &self.addr(&self.bob),
            &[coin(amount, DENOM)],
        )
    }

    fn state(&self) -> (u128, u128, u64) {
        let alice = self.addr(&self.alice);
        (
            self.app.balance(&alice, DENOM).unwrap().u128(),
            self.app
                .balance(&self.addr(&self.bob), DENOM)
                .unwrap()
                .u128(),
            self.app.account(&alice).unwrap().unwrap().sequence,
        )
    }

    /// Broadcasts and, if admitted, includes it in a block; returns the final result.
    fn submit(&mut self, bytes: &[u8]) -> TxResult {
        let checked = self.app.broadcast(bytes);
        if checked.code != 0 {
            return checked;
        }
        self.app.produce_block().unwrap();
        self.app.tx(&checked.txhash).unwrap()
    }
}

fn assert_code(r: &TxResult, codespace: &str, code: u32, log: &str) {
    assert_eq!(
        (r.codespace.as_str(), r.code),
        (codespace, code),
        "unexpected result: {}",
        r.raw_log
    );
    assert!(r.raw_log.contains(log), "log {:?} lacks {log:?}", r.raw_log);
}

#[test]
fn a_good_transaction_goes_through() {
    let mut c = chain();
    let bytes = c.signed(&c.alice, vec![c.send(5)], 0, CHAIN, 100_000, 1_000);
    let r = c.submit(&bytes);
    assert_eq!(r.code, 0, "{}", r.raw_log);
    assert_eq!(c.state(), (1_000_000_000 - 5 - 1_000, 5, 1));
}

#[test]
fn malformed_bytes_are_a_tx_parse_error() {
    let mut c = chain();
    let before = c.state();
    let r = c.submit(b"\xff\x01not a transaction");
    assert_code(&r, "sdk", 2, "tx parse error");
    assert_eq!(c.state(), before);
}

#[test]
fn a_signature_for_another_chain_is_unauthorized() {
    let mut c = chain();
    let before = c.state();
    let bytes = c.signed(
        &c.alice,
        vec![c.send(5)],
        0,
        "another-chain",
        100_000,
        1_000,
    );
    let r = c.submit(&bytes);
    assert_code(&r, "sdk", 4, "signature verification failed");
    assert!(r.raw_log.contains(&format!("chain-id ({CHAIN})")));
    assert_eq!(c.state(), before);
}

#[test]
fn a_key_that_is_not_the_signers_is_rejected() {
    let mut c = chain();
    let before = c.state();
    // Bob signs a send from Alice's account.
    let bytes = c.signed(&c.bob, vec![c.send(5)], 0, CHAIN, 100_000, 1_000);
    let r = c.submit(&bytes);
    assert_code(&r, "sdk", 8, "pubKey does not match signer address");
    assert_eq!(c.state(), before);
}

#[test]
fn a_wrong_sequence_is_rejected_with_the_expected_one() {
    let mut c = chain();
    let before = c.state();
    let bytes = c.signed(&c.alice, vec![c.send(5)], 7, CHAIN, 100_000, 1_000);
    let r = c.submit(&bytes);
    assert_code(
        &r,
        "sdk",
        32,
        "account sequence mismatch, expected 0, got 7",
    );
    assert_eq!(c.state(), before);
    // The mempool counts admitted transactions: the next one must use sequence 1.
    let first = c.signed(&c.alice, vec![c.send(1)], 0, CHAIN, 100_000, 1_000);
    assert_eq!(c.app.broadcast(&first).code, 0);
    let again = c.signed(&c.alice, vec![c.send(2)], 0, CHAIN, 100_000, 1_000);
    assert_code(&c.app.broadcast(&again), "sdk", 32, "expected 1, got 0");
}

#[test]
fn a_fee_below_the_minimum_gas_price_is_rejected() {
    let mut c = chain();
    let before = c.state();
    let bytes = c.signed(&c.alice, vec![c.send(5)], 0, CHAIN, 100_000, 999);
    let r = c.submit(&bytes);
    assert_code(
        &r,
        "sdk",
        13,
        "insufficient fees; got: 999ukumo required: 1000ukumo",
    );
    assert_eq!(c.state(), before);
}

#[test]
fn a_fee_the_account_cannot_pay_is_rejected() {
    let mut c = chain();
    let before = c.state();
    let bytes = c.signed(
        &c.alice,
        vec![c.send(5)],
        0,
        CHAIN,
        100_000_000_000,
        2_000_000_000,
    );
    let r = c.submit(&bytes);
    assert_code(&r, "sdk", 5, "insufficient funds");
    assert_eq!(c.state(), before);
}

#[test]
fn out_of_gas_keeps_the_fee_and_sequence_but_nothing_else() {
    let mut c = chain();
    let wasm = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/kumo_registry.wasm"),
    )
    .expect("artifacts are built by scripts/build-wasm");
    let size_gas = 10 * (wasm.len() as u64 + 200);
    let store = tx::msg_store_code(&c.addr(&c.alice), wasm.clone());

    // Too little for the transaction's size: CheckTx refuses it and nothing is spent.
    let bytes = c.signed(&c.alice, vec![store.clone()], 0, CHAIN, 200_000, 2_000);
    let r = c.submit(&bytes);
    assert_code(&r, "sdk", 11, "gasWanted: 200000");
    assert_eq!(c.state(), (1_000_000_000, 0, 0));

    // Enough for the ante handler but not for compiling (3 gas per byte): the block keeps the
    // fee and the sequence, and no code is stored.
    let limit = size_gas + 100_000;
    let fee = (limit as u128).div_ceil(100);
    let bytes = c.signed(&c.alice, vec![store], 0, CHAIN, limit, fee);
    let r = c.submit(&bytes);
    assert_code(&r, "sdk", 11, "out of gas");
    assert!(r.height > 0, "the failure is in a block");
    assert_eq!(r.gas_used, limit);
    assert_eq!(c.state(), (1_000_000_000 - fee, 0, 1));
    assert!(c.app.engine.code_info(1).is_err(), "no code was stored");
}

#[test]
fn invalid_wasm_is_a_create_failure() {
    let mut c = chain();
    let store = tx::msg_store_code(&c.addr(&c.alice), b"\0asm\x01\0\0\0 not really".to_vec());
    let bytes = c.signed(&c.alice, vec![store], 0, CHAIN, 2_000_000, 20_000);
    let r = c.submit(&bytes);
    assert_code(&r, "wasm", 2, "create wasm contract failed");
    assert!(r
        .raw_log
        .starts_with("failed to execute message; message index: 0: Error calling the VM"));
    // In a block, the fee and sequence are spent; nothing was stored.
    assert_eq!(c.state(), (1_000_000_000 - 20_000, 0, 1));
    assert!(c.app.engine.code_info(1).is_err());
}

#[test]
fn a_replayed_transaction_is_rejected() {
    let mut c = chain();
    let bytes = c.signed(&c.alice, vec![c.send(5)], 0, CHAIN, 100_000, 1_000);
    assert_eq!(c.submit(&bytes).code, 0);
    let after = c.state();
    let r = c.app.broadcast(&bytes);
    assert_code(&r, "sdk", 19, "tx already in mempool");
    assert_eq!(c.state(), after);
}
