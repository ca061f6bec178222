//! `kumo keys add|list|show`: the encrypted keyring of packages/chain, in HOME/keyring.json.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Subcommand;
use kumo_chain::Key;
use serde_json::json;

use crate::ctx::{self, Globals};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a key: a new 24-word mnemonic (printed once), or `--recover` one read from stdin.
    Add {
        name: String,
        /// Read an existing BIP-39 mnemonic (12 to 24 words) from stdin.
        #[arg(long)]
        recover: bool,
        /// HD account index of the key: m/44'/118'/0'/0/INDEX (with `--recover`).
        #[arg(long, default_value_t = 0, requires = "recover")]
        index: u32,
    },
    /// List the keys with their addresses.
    List,
    /// Show one key's address and public key.
    Show { name: String },
}

pub fn run(g: &Globals, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Add {
            name,
            recover,
            index,
        } => add(g, &name, recover, index),
        KeysCommand::List => {
            let ring = g.keyring()?;
            let mut rows = vec![];
            let mut out = vec![];
            for k in ring.list() {
                let address = address_of(&k.public_key_hex, &g.prefix)?;
                rows.push(vec![k.name.clone(), address.clone()]);
                out.push(
                    json!({"name": k.name, "address": address, "public_key": k.public_key_hex}),
                );
            }
            g.emit(json!({ "keys": out }), || {
                if rows.is_empty() {
                    format!(
                        "no keys in {}: add one with `kumo keys add NAME`",
                        ring.path().display()
                    )
                } else {
                    ctx::table(&["NAME", "ADDRESS"], &rows)
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Show { name } => {
            let ring = g.keyring()?;
            let info = ring
                .list()
                .into_iter()
                .find(|k| k.name == name)
                .ok_or_else(|| {
                    anyhow!(
                        "no key named {name:?} in {}: list them with `kumo keys list`",
                        ring.path().display()
                    )
                })?;
            let address = address_of(&info.public_key_hex, &g.prefix)?;
            g.emit(
                json!({"name": info.name, "address": address, "public_key": info.public_key_hex}),
                || {
                    format!(
                        "name: {}\naddress: {address}\npublic key: {}",
                        info.name, info.public_key_hex
                    )
                },
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn add(g: &Globals, name: &str, recover: bool, index: u32) -> anyhow::Result<ExitCode> {
    let mut ring = g.keyring()?;
    if ring.list().iter().any(|k| k.name == name) {
        bail!(
            "a key named {name:?} already exists in {}: pick another name",
            ring.path().display()
        );
    }
    let (mnemonic, fresh) = if recover {
        let phrase = if std::io::stdin().is_terminal() {
            ctx::read_secret("Mnemonic (12 to 24 words): ")?
        } else {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        };
        let phrase = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
        Key::from_mnemonic_index(&phrase, index).map_err(|e| {
            anyhow!("{e}: check the words and their order (a BIP-39 English mnemonic of 12, 15, 18, 21 or 24 words)")
        })?;
        (phrase, false)
    } else {
        let (_, phrase) = Key::generate();
        (phrase, true)
    };
    let password = match ctx::password_from_env()? {
        Some(p) => p,
        None => {
            let p = ctx::read_secret("New keyring password: ").map_err(|_| ctx::no_terminal())?;
            if p.is_empty() {
                bail!("the password is empty: the keyring is encrypted with it; choose one");
            }
            if ctx::read_secret("Repeat it: ")? != p {
                bail!("the passwords differ; try again");
            }
            p
        }
    };
    let info = ring.add_with_index(name, &mnemonic, index, &password)?;
    let address = address_of(&info.public_key_hex, &g.prefix)?;
    let mut doc = json!({"name": name, "address": address, "public_key": info.public_key_hex});
    if fresh {
        doc["mnemonic"] = json!(mnemonic);
    }
    g.emit(doc, || {
        let mut s = format!("added key {name:?}: {address}\n");
        if fresh {
            s.push_str(&format!(
                "\nWrite this mnemonic down and keep it safe; it is the only way to recover the key:\n\n{mnemonic}\n"
            ));
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

/// The bech32 address of a compressed public key in hex.
pub fn address_of(public_key_hex: &str, prefix: &str) -> anyhow::Result<String> {
    let bytes = hex::decode(public_key_hex)?;
    let key = cosmrs::tendermint::PublicKey::from_raw_secp256k1(&bytes)
        .ok_or_else(|| anyhow!("the keyring holds an invalid public key {public_key_hex}"))?;
    let key = cosmrs::crypto::PublicKey::from(key);
    Ok(key
        .account_id(prefix)
        .map_err(|e| anyhow!("{e}"))?
        .to_string())
}
