//! The JSON the Cosmos REST API (grpc-gateway) serves, read into this crate's types.
//!
//! Plain functions over `serde_json::Value`, so they are testable without a node. grpc-gateway
//! writes 64-bit integers as strings and bytes as base64, and proto3 JSON may leave zero values
//! out; numbers are accepted as strings or JSON numbers, and a missing one reads as 0 unless it
//! is required. Errors are a reason; the client adds the URL.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cosmwasm_std::{Coin, Uint128};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Account, AccountKey, BlockInfo, CodeInfo, ContractInfo, Event, NodeInfo, TxResponse};

pub type Parsed<T> = Result<T, String>;

/// One page of a listing and the key of the next page, if there is one.
pub type Page<T> = (Vec<T>, Option<String>);

/// The gRPC status code and message of an error body (`{"code":5,"message":"..","details":[]}`).
/// Bodies that are not JSON (a proxy's HTML page, say) give their first line.
pub fn api_error(body: &str) -> (Option<i64>, String) {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let code = v.get("code").and_then(Value::as_i64);
        // grpc-gateway v1 before the SDK's 0.46 bump used "error".
        let message = ["message", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(str::to_string);
        if code.is_some() || message.is_some() {
            return (code, message.unwrap_or_default());
        }
    }
    let first_line = body.lines().next().unwrap_or("").trim();
    let message = if first_line.is_empty() {
        "(empty body)".to_string()
    } else {
        first_line.chars().take(200).collect()
    };
    (None, message)
}

/// `GET /cosmos/base/tendermint/v1beta1/node_info`.
pub fn node_info(v: &Value) -> Parsed<NodeInfo> {
    let app = |key| opt_str(v, &format!("application_version.{key}"));
    Ok(NodeInfo {
        network: req_str(v, "default_node_info.network")?,
        moniker: opt_str(v, "default_node_info.moniker"),
        node_version: opt_str(v, "default_node_info.version"),
        app_name: app("app_name"),
        app_version: app("version"),
        cosmos_sdk_version: app("cosmos_sdk_version"),
    })
}

/// `GET /cosmos/base/tendermint/v1beta1/blocks/latest` (`block`, or `sdk_block` if absent).
pub fn latest_block(v: &Value) -> Parsed<BlockInfo> {
    let header = ["block.header", "sdk_block.header"]
        .iter()
        .find_map(|p| at(v, p))
        .ok_or("missing block.header")?;
    Ok(BlockInfo {
        height: req_u64(header, "height")?,
        time: req_str(header, "time")?,
        chain_id: req_str(header, "chain_id")?,
    })
}

/// `GET /cosmos/auth/v1beta1/accounts/{address}`. Module and vesting accounts nest the base
/// account (`base_account`, `base_vesting_account.base_account`); those are read too.
pub fn account(v: &Value) -> Parsed<Account> {
    let mut base = at(v, "account").ok_or("missing account")?;
    for _ in 0..3 {
        if base.get("address").is_some() {
            break;
        }
        match ["base_account", "base_vesting_account"]
            .iter()
            .find_map(|k| base.get(*k))
        {
            Some(inner) => base = inner,
            None => break,
        }
    }
    let public_key = match base.get("pub_key") {
        None | Some(Value::Null) => None,
        Some(k) => {
            let type_url = k.get("@type").and_then(Value::as_str).unwrap_or_default();
            if type_url == "/cosmos.crypto.secp256k1.PubKey" {
                let key = k
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or("pub_key without key")?;
                let bytes = B64.decode(key).map_err(|_| "pub_key.key is not base64")?;
                Some(AccountKey::Secp256k1(bytes))
            } else {
                Some(AccountKey::Other {
                    type_url: type_url.to_string(),
                })
            }
        }
    };
    Ok(Account {
        address: req_str(base, "address")?,
        account_number: u64_or_zero(base, "account_number")?,
        sequence: u64_or_zero(base, "sequence")?,
        public_key,
    })
}

/// `GET /cosmos/bank/v1beta1/balances/{address}`: one page and the next page's key.
pub fn balances(v: &Value) -> Parsed<Page<Coin>> {
    let coins = array(v, "balances")?
        .iter()
        .map(coin)
        .collect::<Parsed<Vec<_>>>()?;
    Ok((coins, next_key(v)))
}

/// `GET /cosmos/bank/v1beta1/balances/{address}/by_denom?denom=…`; no balance is 0.
pub fn balance(v: &Value) -> Parsed<u128> {
    match at(v, "balance") {
        None => Ok(0),
        Some(c) => Ok(coin(c)?.amount.u128()),
    }
}

/// `POST /cosmos/tx/v1beta1/simulate`: the gas used.
pub fn simulate(v: &Value) -> Parsed<u64> {
    if at(v, "gas_info").is_none() {
        return Err("missing gas_info".into());
    }
    u64_or_zero(v, "gas_info.gas_used")
}

/// `tx_response` of `POST /cosmos/tx/v1beta1/txs` and `GET /cosmos/tx/v1beta1/txs/{hash}`.
pub fn tx_response(v: &Value) -> Parsed<TxResponse> {
    let r = at(v, "tx_response").ok_or("missing tx_response")?;
    let events = match r.get("events") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => array(r, "events")?
            .iter()
            .map(event)
            .collect::<Parsed<Vec<_>>>()?,
    };
    Ok(TxResponse {
        height: u64_or_zero(r, "height")?,
        txhash: req_str(r, "txhash")?,
        code: u64_or_zero(r, "code")?
            .try_into()
            .map_err(|_| "tx_response.code is not a u32")?,
        codespace: opt_str(r, "codespace"),
        raw_log: opt_str(r, "raw_log"),
        gas_wanted: u64_or_zero(r, "gas_wanted")?,
        gas_used: u64_or_zero(r, "gas_used")?,
        data: opt_str(r, "data"),
        events,
    })
}

fn event(v: &Value) -> Parsed<Event> {
    let attributes = match v.get("attributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => array(v, "attributes")?
            .iter()
            .map(|a| Ok((req_str(a, "key")?, opt_str(a, "value"))))
            .collect::<Parsed<Vec<_>>>()?,
    };
    Ok(Event {
        kind: req_str(v, "type")?,
        attributes,
    })
}

/// `GET /cosmwasm/wasm/v1/contract/{address}/smart/{query}`: `data` as `T`.
pub fn smart_query<T: DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(v.get("data").unwrap_or(&Value::Null))
}

/// `GET /cosmwasm/wasm/v1/contract/{address}/raw/{key}`. An absent key reads as null, missing
/// or "" (CosmWasm stores no empty values).
pub fn raw_query(v: &Value) -> Parsed<Option<Vec<u8>>> {
    match v.get("data") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => B64
            .decode(s)
            .map(Some)
            .map_err(|e| format!("data is not base64: {e}")),
        Some(other) => Err(format!("data is not a string: {other}")),
    }
}

/// `GET /cosmwasm/wasm/v1/code/{id}` (the wasm itself, `data`, is not kept).
pub fn code_info(v: &Value) -> Parsed<CodeInfo> {
    let info = at(v, "code_info").ok_or("missing code_info")?;
    Ok(CodeInfo {
        code_id: req_u64(info, "code_id")?,
        creator: req_str(info, "creator")?,
        data_hash: opt_str(info, "data_hash"),
    })
}

/// `GET /cosmwasm/wasm/v1/contract/{address}`.
pub fn contract_info(v: &Value) -> Parsed<ContractInfo> {
    let info = at(v, "contract_info").ok_or("missing contract_info")?;
    let admin = opt_str(info, "admin");
    Ok(ContractInfo {
        address: req_str(v, "address")?,
        code_id: req_u64(info, "code_id")?,
        creator: req_str(info, "creator")?,
        admin: (!admin.is_empty()).then_some(admin),
        label: opt_str(info, "label"),
    })
}

/// `GET /cosmwasm/wasm/v1/code/{id}/contracts`: one page and the next page's key.
pub fn contracts(v: &Value) -> Parsed<Page<String>> {
    let addresses = match v.get("contracts") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => array(v, "contracts")?
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or("contracts holds a non-string")
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok((addresses, next_key(v)))
}

/// The sequence the node expects, from the SDK's "account sequence mismatch, expected 5, got 4"
/// log: it counts transactions still in the mempool, which the account endpoint does not.
pub fn expected_sequence(log: &str) -> Option<u64> {
    let (_, rest) = log.split_once("account sequence mismatch, expected ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn next_key(v: &Value) -> Option<String> {
    at(v, "pagination.next_key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
}

fn coin(v: &Value) -> Parsed<Coin> {
    let amount = req_str(v, "amount")?;
    Ok(Coin {
        denom: req_str(v, "denom")?,
        amount: amount
            .parse::<Uint128>()
            .map_err(|e| format!("coin amount {amount:?}: {e}"))?,
    })
}

/// The value at a dotted path; JSON null counts as absent.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn array<'a>(v: &'a Value, path: &str) -> Parsed<&'a Vec<Value>> {
    at(v, path)
        .ok_or_else(|| format!("missing {path}"))?
        .as_array()
        .ok_or_else(|| format!("{path} is not an array"))
}

fn req_str(v: &Value, path: &str) -> Parsed<String> {
    match at(v, path) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("{path} is not a string: {other}")),
        None => Err(format!("missing {path}")),
    }
}

fn opt_str(v: &Value, path: &str) -> String {
    at(v, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn req_u64(v: &Value, path: &str) -> Parsed<u64> {
    at(v, path)
        .ok_or_else(|| format!("missing {path}"))
        .and_then(|n| to_u64(n, path))
}

fn u64_or_zero(v: &Value, path: &str) -> Parsed<u64> {
    at(v, path).map_or(Ok(0), |n| to_u64(n, path))
}

fn to_u64(v: &Value, path: &str) -> Parsed<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| format!("{path} is not an unsigned integer: {v}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_bodies() {
        assert_eq!(
            api_error(r#"{"code":5,"message":"account wasm1x not found","details":[]}"#),
            (Some(5), "account wasm1x not found".to_string())
        );
        assert_eq!(
            api_error(r#"{"error":"old style","code":3}"#),
            (Some(3), "old style".to_string())
        );
        assert_eq!(
            api_error("<html>\n<body>Bad Gateway</body>"),
            (None, "<html>".to_string())
        );
        assert_eq!(api_error(""), (None, "(empty body)".to_string()));
    }

    #[test]
    fn node_info_example() {
        let v = json!({
            "default_node_info": {
                "protocol_version": {"p2p": "8", "block": "11", "app": "0"},
                "default_node_id": "abc",
                "listen_addr": "tcp://0.0.0.0:26656",
                "network": "kumo-devnet-1",
                "version": "0.38.12",
                "channels": "QCAhIiMwOGBhAA==",
                "moniker": "node0",
                "other": {"tx_index": "on", "rpc_address": "tcp://0.0.0.0:26657"}
            },
            "application_version": {
                "name": "wasm", "app_name": "wasmd", "version": "0.53.0",
                "git_commit": "", "build_tags": "", "go_version": "go1.22",
                "build_deps": [], "cosmos_sdk_version": "v0.50.9"
            }
        });
        let info = node_info(&v).unwrap();
        assert_eq!(info.network, "kumo-devnet-1");
        assert_eq!(info.moniker, "node0");
        assert_eq!(info.node_version, "0.38.12");
        assert_eq!(info.app_name, "wasmd");
        assert_eq!(info.app_version, "0.53.0");
        assert_eq!(info.cosmos_sdk_version, "v0.50.9");
        assert!(node_info(&json!({"default_node_info": {}})).is_err());
    }

    #[test]
    fn latest_block_example() {
        let v = json!({
            "block_id": {"hash": "AAAA"},
            "block": {"header": {"chain_id": "kumo-devnet-1", "height": "12", "time": "2026-01-01T00:00:00Z"}},
            "sdk_block": {"header": {"chain_id": "kumo-devnet-1", "height": "12", "time": "2026-01-01T00:00:00Z"}}
        });
        assert_eq!(
            latest_block(&v).unwrap(),
            BlockInfo {
                height: 12,
                time: "2026-01-01T00:00:00Z".into(),
                chain_id: "kumo-devnet-1".into()
            }
        );
        let only_sdk =
            json!({"sdk_block": {"header": {"chain_id": "c", "height": 3, "time": "t"}}});
        assert_eq!(latest_block(&only_sdk).unwrap().height, 3);
        let bad = json!({"block": {"header": {"chain_id": "c", "height": "x", "time": "t"}}});
        assert!(latest_block(&bad).unwrap_err().contains("height"));
    }

    #[test]
    fn account_examples() {
        let fresh = json!({"account": {
            "@type": "/cosmos.auth.v1beta1.BaseAccount",
            "address": "wasm1abc", "pub_key": null, "account_number": "7", "sequence": "0"
        }});
        assert_eq!(
            account(&fresh).unwrap(),
            Account {
                address: "wasm1abc".into(),
                account_number: 7,
                sequence: 0,
                public_key: None
            }
        );
        let used = json!({"account": {
            "@type": "/cosmos.auth.v1beta1.BaseAccount", "address": "wasm1abc",
            "pub_key": {"@type": "/cosmos.crypto.secp256k1.PubKey", "key": "A+Ls"},
            "account_number": "7", "sequence": "2"
        }});
        assert_eq!(account(&used).unwrap().sequence, 2);
        assert_eq!(
            account(&used).unwrap().public_key,
            Some(AccountKey::Secp256k1(vec![0x03, 0xe2, 0xec]))
        );
        let ed = json!({"account": {"address": "wasm1abc",
            "pub_key": {"@type": "/cosmos.crypto.ed25519.PubKey", "key": "AAAA"}}});
        assert_eq!(
            account(&ed).unwrap().public_key,
            Some(AccountKey::Other {
                type_url: "/cosmos.crypto.ed25519.PubKey".into()
            })
        );
        // proto3 JSON may omit zeros.
        let sparse = json!({"account": {"@type": "/cosmos.auth.v1beta1.BaseAccount", "address": "wasm1abc"}});
        assert_eq!(account(&sparse).unwrap().account_number, 0);
        let vesting = json!({"account": {
            "@type": "/cosmos.vesting.v1beta1.ContinuousVestingAccount",
            "base_vesting_account": {"base_account": {"address": "wasm1v", "account_number": "3", "sequence": "9"}},
            "start_time": "0"
        }});
        assert_eq!(
            account(&vesting).unwrap(),
            Account {
                address: "wasm1v".into(),
                account_number: 3,
                sequence: 9,
                public_key: None
            }
        );
        let module = json!({"account": {
            "@type": "/cosmos.auth.v1beta1.ModuleAccount",
            "base_account": {"address": "wasm1m", "account_number": "1", "sequence": "0"}, "name": "fee_collector"
        }});
        assert_eq!(account(&module).unwrap().address, "wasm1m");
    }

    #[test]
    fn balance_examples() {
        let v = json!({"balances": [{"denom": "ukumo", "amount": "100"}, {"denom": "uatom", "amount": "340282366920938463463374607431768211455"}],
                       "pagination": {"next_key": null, "total": "2"}});
        let (coins, next) = balances(&v).unwrap();
        assert_eq!(coins[0], Coin::new(100u128, "ukumo"));
        assert_eq!(coins[1].amount.u128(), u128::MAX);
        assert_eq!(next, None);
        let paged = json!({"balances": [], "pagination": {"next_key": "AQ==", "total": "0"}});
        assert_eq!(balances(&paged).unwrap().1.as_deref(), Some("AQ=="));
        assert!(balances(&json!({"balances": [{"denom": "u", "amount": "-1"}]})).is_err());

        assert_eq!(
            balance(&json!({"balance": {"denom": "ukumo", "amount": "100"}})).unwrap(),
            100
        );
        assert_eq!(balance(&json!({"balance": null})).unwrap(), 0);
    }

    #[test]
    fn simulate_example() {
        let v = json!({"gas_info": {"gas_wanted": "0", "gas_used": "123"}, "result": {"data": "", "log": "", "events": []}});
        assert_eq!(simulate(&v).unwrap(), 123);
        assert!(simulate(&json!({"code": 2})).is_err());
    }

    #[test]
    fn broadcast_example() {
        let v = json!({"tx_response": {
            "height": "0", "txhash": "0A1B", "codespace": "", "code": 0, "data": "",
            "raw_log": "", "logs": [], "info": "", "gas_wanted": "0", "gas_used": "0",
            "tx": null, "timestamp": "", "events": []
        }});
        let r = tx_response(&v).unwrap();
        assert_eq!((r.height, r.txhash.as_str(), r.code), (0, "0A1B", 0));
        assert!(r.events.is_empty());

        let rejected = json!({"tx_response": {
            "height": "0", "txhash": "0A1B", "codespace": "sdk", "code": 32,
            "raw_log": "account sequence mismatch, expected 5, got 4: incorrect account sequence"
        }});
        let r = tx_response(&rejected).unwrap();
        assert_eq!((r.code, r.codespace.as_str()), (32, "sdk"));
        assert_eq!(expected_sequence(&r.raw_log), Some(5));
    }

    #[test]
    fn get_tx_example() {
        let v = json!({
            "tx": {"@type": "/cosmos.tx.v1beta1.Tx", "body": {"messages": []}},
            "tx_response": {
                "height": "5", "txhash": "ABCD", "codespace": "", "code": 0,
                "data": "12260A242F636F736D7761736D2E7761736D2E76312E4D736745786563757465436F6E7472616374",
                "raw_log": "", "gas_wanted": "200000", "gas_used": "123456",
                "timestamp": "2026-01-01T00:00:05Z",
                "events": [
                    {"type": "message", "attributes": [{"key": "action", "value": "/cosmwasm.wasm.v1.MsgStoreCode", "index": true}]},
                    {"type": "store_code", "attributes": [{"key": "code_checksum", "value": "ab", "index": true}, {"key": "code_id", "value": "3", "index": true}]},
                    {"type": "wasm", "attributes": [{"key": "_contract_address", "value": "wasm1c", "index": true}, {"key": "empty", "index": true}]}
                ]
            }
        });
        let r = tx_response(&v).unwrap();
        assert_eq!((r.height, r.gas_wanted, r.gas_used), (5, 200_000, 123_456));
        assert_eq!(r.events.len(), 3);
        assert_eq!(r.events[2].kind, "wasm");
        assert_eq!(r.event_attr("store_code", "code_id"), Some("3"));
        assert_eq!(r.event_attr("wasm", "_contract_address"), Some("wasm1c"));
        assert_eq!(r.event_attr("wasm", "empty"), Some(""));
        assert_eq!(r.event_attr("instantiate", "_contract_address"), None);
        assert!(r.data.starts_with("1226"));
        assert!(tx_response(&json!({"tx_response": {"height": "1"}}))
            .unwrap_err()
            .contains("txhash"));
    }

    #[test]
    fn smart_query_example() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Config {
            owner: String,
        }
        let v = json!({"data": {"owner": "wasm1o"}});
        assert_eq!(
            smart_query::<Config>(&v).unwrap(),
            Config {
                owner: "wasm1o".into()
            }
        );
        assert!(smart_query::<Config>(&json!({"data": {"admin": 1}})).is_err());
        assert_eq!(
            smart_query::<Option<Config>>(&json!({"data": null})).unwrap(),
            None
        );
    }

    #[test]
    fn raw_query_examples() {
        assert_eq!(
            raw_query(&json!({"data": "aGk="})).unwrap(),
            Some(b"hi".to_vec())
        );
        assert_eq!(raw_query(&json!({"data": null})).unwrap(), None);
        assert_eq!(raw_query(&json!({})).unwrap(), None);
        assert_eq!(raw_query(&json!({"data": ""})).unwrap(), None);
        assert!(raw_query(&json!({"data": "!!"})).is_err());
    }

    #[test]
    fn code_and_contract_examples() {
        let code = json!({
            "code_info": {"code_id": "1", "creator": "wasm1c", "data_hash": "DEADBEEF",
                          "instantiate_permission": {"permission": "Everybody", "addresses": []}},
            "data": "AGFzbQ=="
        });
        assert_eq!(
            code_info(&code).unwrap(),
            CodeInfo {
                code_id: 1,
                creator: "wasm1c".into(),
                data_hash: "DEADBEEF".into()
            }
        );
        let contract = json!({
            "address": "wasm1k",
            "contract_info": {"code_id": "1", "creator": "wasm1c", "admin": "wasm1a", "label": "market",
                              "created": {"block_height": "5", "tx_index": "0"}, "ibc_port_id": "", "extension": null}
        });
        assert_eq!(
            contract_info(&contract).unwrap(),
            ContractInfo {
                address: "wasm1k".into(),
                code_id: 1,
                creator: "wasm1c".into(),
                admin: Some("wasm1a".into()),
                label: "market".into()
            }
        );
        let no_admin = json!({"address": "wasm1k", "contract_info": {"code_id": "1", "creator": "c", "admin": "", "label": "l"}});
        assert_eq!(contract_info(&no_admin).unwrap().admin, None);

        let list = json!({"contracts": ["wasm1a", "wasm1b"], "pagination": {"next_key": null, "total": "2"}});
        assert_eq!(
            contracts(&list).unwrap(),
            (vec!["wasm1a".to_string(), "wasm1b".to_string()], None)
        );
        assert_eq!(
            contracts(&json!({"contracts": [], "pagination": {}}))
                .unwrap()
                .0
                .len(),
            0
        );
    }

    #[test]
    fn expected_sequence_parsing() {
        assert_eq!(
            expected_sequence(
                "account sequence mismatch, expected 12, got 11: incorrect account sequence"
            ),
            Some(12)
        );
        assert_eq!(expected_sequence("out of gas"), None);
        assert_eq!(
            expected_sequence("account sequence mismatch, expected "),
            None
        );
    }
}
