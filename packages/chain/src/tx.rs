//! Building and signing transactions (SIGN_MODE_DIRECT, one signer), and the messages Kumo sends.

use cosmrs::proto::cosmos::bank::v1beta1::MsgSend;
use cosmrs::proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmrs::proto::cosmos::crypto::secp256k1::PubKey;
use cosmrs::proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmrs::proto::cosmos::tx::v1beta1::{
    mode_info, AuthInfo, Fee as ProtoFee, ModeInfo, SignDoc, SignerInfo, TxBody, TxRaw,
};
use cosmrs::proto::cosmwasm::wasm::v1::{
    MsgClearAdmin, MsgExecuteContract, MsgInstantiateContract, MsgInstantiateContract2,
    MsgMigrateContract, MsgStoreCode, MsgUpdateAdmin,
};
use cosmrs::proto::traits::{Message, Name};
use cosmrs::Any;
use cosmwasm_std::Coin;
use serde::Serialize;

use crate::{ChainError, Key};

/// What the signature commits to besides the transaction: the chain and the signer's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerData {
    pub chain_id: String,
    pub account_number: u64,
    pub sequence: u64,
}

/// The gas limit and what the signer pays for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fee {
    pub amount: Vec<Coin>,
    pub gas_limit: u64,
}

/// Signs `msgs` with `key` and returns the protobuf `TxRaw` bytes to simulate or broadcast.
pub fn build_signed_tx(
    key: &Key,
    msgs: Vec<Any>,
    memo: &str,
    signer: &SignerData,
    fee: &Fee,
) -> Vec<u8> {
    build_signed_tx_with_timeout(key, msgs, memo, None, signer, fee)
}

/// [`build_signed_tx`] with a `timeout_height`: the chain refuses the transaction in any block
/// above that height (the SDK's `TxTimeoutHeightDecorator`, code 30), so once the chain is past
/// it, a transaction that is not in a block never will be. `None` (or 0) sets none.
pub fn build_signed_tx_with_timeout(
    key: &Key,
    msgs: Vec<Any>,
    memo: &str,
    timeout_height: Option<u64>,
    signer: &SignerData,
    fee: &Fee,
) -> Vec<u8> {
    let body_bytes = TxBody {
        messages: msgs,
        memo: memo.into(),
        timeout_height: timeout_height.unwrap_or(0),
        ..Default::default()
    }
    .encode_to_vec();
    let public_key = PubKey {
        key: key.public_key_bytes().to_vec(),
    };
    let auth_info_bytes = AuthInfo {
        signer_infos: vec![SignerInfo {
            public_key: Some(to_any(&public_key)),
            mode_info: Some(ModeInfo {
                sum: Some(mode_info::Sum::Single(mode_info::Single {
                    mode: SignMode::Direct.into(),
                })),
            }),
            sequence: signer.sequence,
        }],
        fee: Some(ProtoFee {
            amount: proto_coins(&fee.amount),
            gas_limit: fee.gas_limit,
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let sign_doc = SignDoc {
        body_bytes: body_bytes.clone(),
        auth_info_bytes: auth_info_bytes.clone(),
        chain_id: signer.chain_id.clone(),
        account_number: signer.account_number,
    };
    let signature = key.sign(&sign_doc.encode_to_vec());
    TxRaw {
        body_bytes,
        auth_info_bytes,
        signatures: vec![signature],
    }
    .encode_to_vec()
}

/// Uploads wasm (raw or gzipped), with the chain's default instantiate permission.
pub fn msg_store_code(sender: &str, wasm_bytes: Vec<u8>) -> Any {
    to_any(&MsgStoreCode {
        sender: sender.into(),
        wasm_byte_code: wasm_bytes,
        instantiate_permission: None,
    })
}

pub fn msg_instantiate(
    sender: &str,
    admin: Option<&str>,
    code_id: u64,
    label: &str,
    msg: &impl Serialize,
    funds: &[Coin],
) -> Result<Any, ChainError> {
    Ok(to_any(&MsgInstantiateContract {
        sender: sender.into(),
        admin: admin.unwrap_or_default().into(),
        code_id,
        label: label.into(),
        msg: serde_json::to_vec(msg)?,
        funds: proto_coins(funds),
    }))
}

/// Instantiates at an address predictable from the code checksum, creator and `salt` (1 to 64
/// bytes); the message is not part of the address (`fix_msg` false).
pub fn msg_instantiate2(
    sender: &str,
    admin: Option<&str>,
    code_id: u64,
    label: &str,
    msg: &impl Serialize,
    funds: &[Coin],
    salt: &[u8],
) -> Result<Any, ChainError> {
    Ok(to_any(&MsgInstantiateContract2 {
        sender: sender.into(),
        admin: admin.unwrap_or_default().into(),
        code_id,
        label: label.into(),
        msg: serde_json::to_vec(msg)?,
        funds: proto_coins(funds),
        salt: salt.to_vec(),
        fix_msg: false,
    }))
}

pub fn msg_execute(
    sender: &str,
    contract: &str,
    msg: &impl Serialize,
    funds: &[Coin],
) -> Result<Any, ChainError> {
    Ok(to_any(&MsgExecuteContract {
        sender: sender.into(),
        contract: contract.into(),
        msg: serde_json::to_vec(msg)?,
        funds: proto_coins(funds),
    }))
}

pub fn msg_migrate(
    sender: &str,
    contract: &str,
    new_code_id: u64,
    msg: &impl Serialize,
) -> Result<Any, ChainError> {
    Ok(to_any(&MsgMigrateContract {
        sender: sender.into(),
        contract: contract.into(),
        code_id: new_code_id,
        msg: serde_json::to_vec(msg)?,
    }))
}

pub fn msg_update_admin(sender: &str, contract: &str, new_admin: &str) -> Any {
    to_any(&MsgUpdateAdmin {
        sender: sender.into(),
        new_admin: new_admin.into(),
        contract: contract.into(),
    })
}

pub fn msg_clear_admin(sender: &str, contract: &str) -> Any {
    to_any(&MsgClearAdmin {
        sender: sender.into(),
        contract: contract.into(),
    })
}

pub fn msg_send(from: &str, to: &str, coins: &[Coin]) -> Any {
    to_any(&MsgSend {
        from_address: from.into(),
        to_address: to.into(),
        amount: proto_coins(coins),
    })
}

/// Packs a message with its type URL, e.g. `/cosmwasm.wasm.v1.MsgExecuteContract`.
fn to_any<M: Message + Name>(msg: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: msg.encode_to_vec(),
    }
}

fn proto_coins(coins: &[Coin]) -> Vec<ProtoCoin> {
    coins
        .iter()
        .map(|c| ProtoCoin {
            denom: c.denom.clone(),
            amount: c.amount.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use cosmrs::bip32::secp256k1::ecdsa::{signature::Verifier, Signature, VerifyingKey};
    use cosmrs::tx::{SignerPublicKey, Tx};
    use cosmwasm_std::coins;
    use serde_json::json;

    use super::*;

    const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

    #[test]
    fn type_urls() {
        let msg = json!({});
        let cases = [
            (
                msg_store_code("a", vec![0]),
                "/cosmwasm.wasm.v1.MsgStoreCode",
            ),
            (
                msg_instantiate("a", None, 1, "l", &msg, &[]).unwrap(),
                "/cosmwasm.wasm.v1.MsgInstantiateContract",
            ),
            (
                msg_instantiate2("a", None, 1, "l", &msg, &[], b"s").unwrap(),
                "/cosmwasm.wasm.v1.MsgInstantiateContract2",
            ),
            (
                msg_execute("a", "c", &msg, &[]).unwrap(),
                "/cosmwasm.wasm.v1.MsgExecuteContract",
            ),
            (
                msg_migrate("a", "c", 2, &msg).unwrap(),
                "/cosmwasm.wasm.v1.MsgMigrateContract",
            ),
            (
                msg_update_admin("a", "c", "b"),
                "/cosmwasm.wasm.v1.MsgUpdateAdmin",
            ),
            (msg_clear_admin("a", "c"), "/cosmwasm.wasm.v1.MsgClearAdmin"),
            (msg_send("a", "b", &[]), "/cosmos.bank.v1beta1.MsgSend"),
        ];
        for (any, url) in cases {
            assert_eq!(any.type_url, url);
        }
    }

    #[test]
    fn message_fields() {
        let any = msg_execute(
            "wasm1sender",
            "wasm1contract",
            &json!({"bid": {"price": "5"}}),
            &coins(7, "ukumo"),
        )
        .unwrap();
        let decoded = MsgExecuteContract::decode(any.value.as_slice()).unwrap();
        assert_eq!(decoded.sender, "wasm1sender");
        assert_eq!(decoded.contract, "wasm1contract");
        assert_eq!(decoded.msg, br#"{"bid":{"price":"5"}}"#);
        assert_eq!(
            decoded.funds,
            [ProtoCoin {
                denom: "ukumo".into(),
                amount: "7".into()
            }]
        );

        let any = msg_instantiate2("s", Some("adm"), 3, "label", &json!({}), &[], b"salt").unwrap();
        let decoded = MsgInstantiateContract2::decode(any.value.as_slice()).unwrap();
        assert_eq!(
            (
                decoded.admin.as_str(),
                decoded.code_id,
                decoded.salt.as_slice()
            ),
            ("adm", 3, &b"salt"[..])
        );
        assert!(!decoded.fix_msg);

        let any = msg_instantiate("s", None, 3, "label", &json!({}), &[]).unwrap();
        assert_eq!(
            MsgInstantiateContract::decode(any.value.as_slice())
                .unwrap()
                .admin,
            ""
        );

        let any = msg_send("a", "b", &coins(1, "ukumo"));
        let decoded = MsgSend::decode(any.value.as_slice()).unwrap();
        assert_eq!(
            (decoded.from_address.as_str(), decoded.to_address.as_str()),
            ("a", "b")
        );
    }

    #[test]
    fn unserializable_message_is_an_error() {
        // JSON object keys must be strings.
        let map = std::collections::HashMap::from([((1u8, 2u8), 3u8)]);
        assert!(matches!(
            msg_execute("a", "c", &map, &[]),
            Err(ChainError::Json(_))
        ));
    }

    #[test]
    fn signed_tx_decodes_and_verifies() {
        let key = Key::from_mnemonic(ABANDON).unwrap();
        let sender = key.address("wasm").unwrap();
        let msgs = vec![
            msg_execute(&sender, "wasm1contract", &json!({"a": {}}), &[]).unwrap(),
            msg_send(&sender, "wasm1other", &coins(5, "ukumo")),
        ];
        let signer = SignerData {
            chain_id: "kumo-devnet-1".into(),
            account_number: 7,
            sequence: 2,
        };
        let fee = Fee {
            amount: coins(5000, "ukumo"),
            gas_limit: 200_000,
        };
        let bytes = build_signed_tx(&key, msgs.clone(), "hello", &signer, &fee);

        let tx = Tx::from_bytes(&bytes).unwrap();
        assert_eq!(tx.body.memo, "hello");
        assert_eq!(tx.body.messages, msgs);
        assert_eq!(tx.body.timeout_height.value(), 0);
        assert_eq!(tx.auth_info.fee.gas_limit, 200_000);
        assert_eq!(tx.auth_info.fee.amount.len(), 1);
        assert_eq!(tx.auth_info.fee.amount[0].amount, 5000);
        assert_eq!(tx.auth_info.fee.amount[0].denom.as_ref(), "ukumo");
        assert_eq!(tx.auth_info.signer_infos.len(), 1);
        let signer_info = &tx.auth_info.signer_infos[0];
        assert_eq!(signer_info.sequence, 2);
        assert_eq!(
            signer_info.public_key,
            Some(SignerPublicKey::Single(key.public_key()))
        );
        assert_eq!(tx.signatures.len(), 1);

        // The signature is over the SignDoc of the exact body and auth info bytes.
        let raw = TxRaw::decode(bytes.as_slice()).unwrap();
        let sign_doc = SignDoc {
            body_bytes: raw.body_bytes,
            auth_info_bytes: raw.auth_info_bytes,
            chain_id: "kumo-devnet-1".into(),
            account_number: 7,
        }
        .encode_to_vec();
        let signature = Signature::from_slice(&raw.signatures[0]).unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&key.public_key_bytes()).unwrap();
        verifying.verify(&sign_doc, &signature).unwrap();

        // Another chain id or account number would not verify: the signature binds them.
        let mut other = SignDoc::decode(sign_doc.as_slice()).unwrap();
        other.account_number = 8;
        assert!(verifying
            .verify(&other.encode_to_vec(), &signature)
            .is_err());
    }

    #[test]
    fn timeout_height_is_in_the_signed_body() {
        let key = Key::from_mnemonic(ABANDON).unwrap();
        let msg = msg_send("a", "b", &coins(1, "ukumo"));
        let signer = SignerData {
            chain_id: "test-1".into(),
            account_number: 1,
            sequence: 0,
        };
        let fee = Fee::default();
        let bytes =
            build_signed_tx_with_timeout(&key, vec![msg.clone()], "", Some(42), &signer, &fee);
        let tx = Tx::from_bytes(&bytes).unwrap();
        assert_eq!(tx.body.timeout_height.value(), 42);
        // None is the plain transaction, byte for byte.
        assert_eq!(
            build_signed_tx_with_timeout(&key, vec![msg.clone()], "", None, &signer, &fee),
            build_signed_tx(&key, vec![msg], "", &signer, &fee)
        );
    }

    #[test]
    fn matches_cosmrs_signing() {
        // cosmrs's own SignDoc::sign must produce the same bytes (RFC 6979 is deterministic).
        let key = Key::from_mnemonic(ABANDON).unwrap();
        let msg = msg_send("a", "b", &coins(1, "ukumo"));
        let signer = SignerData {
            chain_id: "test-1".into(),
            account_number: 1,
            sequence: 0,
        };
        let fee = Fee {
            amount: coins(10, "ukumo"),
            gas_limit: 100,
        };
        let ours = build_signed_tx(&key, vec![msg.clone()], "", &signer, &fee);

        let body = cosmrs::tx::Body::new(vec![msg], "", 0u32);
        let auth_info = cosmrs::tx::SignerInfo::single_direct(Some(key.public_key()), 0).auth_info(
            cosmrs::tx::Fee::from_amount_and_gas(cosmrs::Coin::new(10, "ukumo").unwrap(), 100u64),
        );
        let signing_key =
            cosmrs::crypto::secp256k1::SigningKey::from_slice(&key.signing_key_bytes()).unwrap();
        let theirs = cosmrs::tx::SignDoc::new(&body, &auth_info, &"test-1".parse().unwrap(), 1)
            .unwrap()
            .sign(&signing_key)
            .unwrap()
            .to_bytes()
            .unwrap();
        assert_eq!(ours, theirs);
    }
}
