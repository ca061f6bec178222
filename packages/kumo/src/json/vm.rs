//! The JSON the VM passes to a contract (`Env`, `MessageInfo`, `Reply`, raw query results) and
//! what the contract returns (`ContractResult` of a `Response` or of a query's `Binary`),
//! through [`FromJson`] and [`ToJson`], for `crate::entry`'s serde-free exports. Output is what
//! `cosmwasm_std::to_json_vec` writes, byte for byte (the tests compare).

#[cfg(feature = "ibc")]
use cosmwasm_std::IbcMsg;
use cosmwasm_std::{
    Attribute, BankMsg, Binary, BlockInfo, Coin, ContractInfo, ContractResult, CosmosMsg, Env,
    Event, MessageInfo, MsgResponse, QuerierResult, Reply, ReplyOn, Response, SubMsg,
    SubMsgResponse, SubMsgResult, SystemError, SystemResult, TransactionInfo, WasmMsg,
};

use super::{
    error, variant, write_str, write_variant, Fields, FromJson, Json, JsonResult, Obj, Schema,
    ToJson, Variant,
};

crate::json_struct!(Coin { denom, amount });
crate::json_struct!(MessageInfo { sender, funds });
crate::json_struct!(BlockInfo {
    height,
    time,
    chain_id
});
crate::json_struct!(TransactionInfo { index });
crate::json_struct!(ContractInfo { address });
crate::json_struct!(Env {
    block,
    transaction,
    contract
});

impl FromJson for Attribute {
    const SCHEMA: &'static Schema =
        &Schema::Struct(&[("key", &Schema::Str), ("value", &Schema::Str)]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(Attribute::new(
            f.take::<String>("key")?,
            f.take::<String>("value")?,
        ))
    }
}

impl ToJson for Attribute {
    fn write_json(&self, out: &mut Vec<u8>) {
        Obj(&[("key", &self.key), ("value", &self.value)]).write_json(out)
    }
}

impl FromJson for Event {
    const SCHEMA: &'static Schema = &Schema::Struct(&[
        ("type", &Schema::Str),
        ("attributes", <Vec<Attribute>>::SCHEMA),
    ]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        let mut event = Event::new(f.take::<String>("type")?);
        event.attributes = f.take("attributes")?;
        Ok(event)
    }
}

impl ToJson for Event {
    fn write_json(&self, out: &mut Vec<u8>) {
        Obj(&[("type", &self.ty), ("attributes", &self.attributes)]).write_json(out)
    }
}

crate::json_struct!(MsgResponse { type_url, value });

impl FromJson for SubMsgResponse {
    const SCHEMA: &'static Schema = &Schema::Struct(&[
        ("events", <Vec<Event>>::SCHEMA),
        ("data", <Option<Binary>>::SCHEMA),
        ("msg_responses", <Vec<MsgResponse>>::SCHEMA),
    ]);

    #[allow(deprecated)] // `data`: still filled by CosmWasm 1 chains.
    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(SubMsgResponse {
            events: f.take("events")?,
            data: f.take("data")?,
            msg_responses: f.take_or_default("msg_responses")?,
        })
    }
}

impl FromJson for SubMsgResult {
    const SCHEMA: &'static Schema = &Schema::Enum(&[
        ("ok", Variant::Newtype(SubMsgResponse::SCHEMA)),
        ("error", Variant::Newtype(&Schema::Str)),
    ]);

    fn from_json(v: Json) -> JsonResult<Self> {
        match variant(v)? {
            (name, Some(c)) if name == "ok" => SubMsgResponse::from_json(c).map(SubMsgResult::Ok),
            (name, Some(c)) if name == "error" => String::from_json(c).map(SubMsgResult::Err),
            (name, _) => Err(error("unknown variant", &name)),
        }
    }
}

impl FromJson for Reply {
    const SCHEMA: &'static Schema = &Schema::Struct(&[
        ("id", &Schema::U64),
        ("payload", &Schema::Str),
        ("gas_used", &Schema::U64),
        ("result", SubMsgResult::SCHEMA),
    ]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(Reply {
            id: f.take("id")?,
            payload: f.take_or_default("payload")?,
            gas_used: f.take_or_default("gas_used")?,
            result: f.take("result")?,
        })
    }
}

/// Writes the messages a contract sends: bank, wasm and (feature `ibc`) IBC messages. No Kumo
/// contract sends another kind; a contract that did would get an error result, not a wrong
/// message.
fn write_cosmos_msg(out: &mut Vec<u8>, msg: &CosmosMsg) -> Result<(), String> {
    let (kind, name, fields): (&str, &str, &[(&'static str, &dyn ToJson)]) = match msg {
        CosmosMsg::Bank(BankMsg::Send { to_address, amount }) => (
            "bank",
            "send",
            &[("to_address", to_address), ("amount", amount)],
        ),
        CosmosMsg::Bank(BankMsg::Burn { amount }) => ("bank", "burn", &[("amount", amount)]),
        CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr,
            msg,
            funds,
        }) => (
            "wasm",
            "execute",
            &[
                ("contract_addr", contract_addr),
                ("msg", msg),
                ("funds", funds),
            ],
        ),
        CosmosMsg::Wasm(WasmMsg::Instantiate {
            admin,
            code_id,
            msg,
            funds,
            label,
        }) => (
            "wasm",
            "instantiate",
            &[
                ("admin", admin),
                ("code_id", code_id),
                ("msg", msg),
                ("funds", funds),
                ("label", label),
            ],
        ),
        CosmosMsg::Wasm(WasmMsg::Migrate {
            contract_addr,
            new_code_id,
            msg,
        }) => (
            "wasm",
            "migrate",
            &[
                ("contract_addr", contract_addr),
                ("new_code_id", new_code_id),
                ("msg", msg),
            ],
        ),
        CosmosMsg::Wasm(WasmMsg::UpdateAdmin {
            contract_addr,
            admin,
        }) => (
            "wasm",
            "update_admin",
            &[("contract_addr", contract_addr), ("admin", admin)],
        ),
        CosmosMsg::Wasm(WasmMsg::ClearAdmin { contract_addr }) => {
            ("wasm", "clear_admin", &[("contract_addr", contract_addr)])
        }
        #[cfg(feature = "ibc")]
        CosmosMsg::Ibc(IbcMsg::Transfer {
            channel_id,
            to_address,
            amount,
            timeout,
            memo,
        }) => (
            "ibc",
            "transfer",
            &[
                ("channel_id", channel_id),
                ("to_address", to_address),
                ("amount", amount),
                ("timeout", timeout),
                ("memo", memo),
            ],
        ),
        #[cfg(feature = "ibc")]
        CosmosMsg::Ibc(IbcMsg::SendPacket {
            channel_id,
            data,
            timeout,
        }) => (
            "ibc",
            "send_packet",
            &[
                ("channel_id", channel_id),
                ("data", data),
                ("timeout", timeout),
            ],
        ),
        #[cfg(feature = "ibc")]
        CosmosMsg::Ibc(IbcMsg::CloseChannel { channel_id }) => {
            ("ibc", "close_channel", &[("channel_id", channel_id)])
        }
        _ => return Err("kumo::entry: the contract sent a message kind it cannot encode".into()),
    };
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\":");
    write_variant(out, name, &Obj(fields));
    out.push(b'}');
    Ok(())
}

fn write_sub_msg(out: &mut Vec<u8>, sub: &SubMsg) -> Result<(), String> {
    out.extend_from_slice(b"{\"id\":");
    sub.id.write_json(out);
    out.extend_from_slice(b",\"payload\":");
    sub.payload.write_json(out);
    out.extend_from_slice(b",\"msg\":");
    write_cosmos_msg(out, &sub.msg)?;
    out.extend_from_slice(b",\"gas_limit\":");
    sub.gas_limit.write_json(out);
    out.extend_from_slice(b",\"reply_on\":");
    write_str(
        out,
        match sub.reply_on {
            ReplyOn::Always => "always",
            ReplyOn::Error => "error",
            ReplyOn::Success => "success",
            ReplyOn::Never => "never",
        },
    );
    out.push(b'}');
    Ok(())
}

/// A response's `messages`: `[…]`.
pub(super) fn write_messages(out: &mut Vec<u8>, messages: &[SubMsg]) -> Result<(), String> {
    out.push(b'[');
    for (i, sub) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_sub_msg(out, sub)?;
    }
    out.push(b']');
    Ok(())
}

/// `ContractResult<Response>` as an entry point returns it: `{"ok":…}` or `{"error":"…"}`.
pub fn response_result(result: &Result<Response, String>) -> Vec<u8> {
    let mut out = b"{\"ok\":{\"messages\":".to_vec();
    let written = result.as_ref().map_err(String::clone).and_then(|r| {
        write_messages(&mut out, &r.messages)?;
        out.extend_from_slice(b",\"attributes\":");
        r.attributes.write_json(&mut out);
        out.extend_from_slice(b",\"events\":");
        r.events.write_json(&mut out);
        out.extend_from_slice(b",\"data\":");
        r.data.write_json(&mut out);
        out.extend_from_slice(b"}}");
        Ok(())
    });
    match written {
        Ok(()) => out,
        Err(e) => error_result(&e),
    }
}

/// `ContractResult<Binary>` as the query entry point returns it.
pub fn binary_result(result: &Result<Binary, String>) -> Vec<u8> {
    match result {
        Ok(data) => {
            let mut out = b"{\"ok\":".to_vec();
            data.write_json(&mut out);
            out.push(b'}');
            out
        }
        Err(e) => error_result(e),
    }
}

pub(super) fn error_result(e: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_variant(&mut out, "error", &e);
    out
}

/// The request of a raw query (`QueryRequest::Wasm(WasmQuery::Raw { .. })`).
pub fn raw_query_request(contract: &str, key: &[u8]) -> Vec<u8> {
    let mut out = b"{\"wasm\":".to_vec();
    let key = Binary::new(key.to_vec());
    write_variant(
        &mut out,
        "raw",
        &Obj(&[("contract_addr", &contract), ("key", &key)]),
    );
    out.push(b'}');
    out
}

/// The request of a smart query (`QueryRequest::Wasm(WasmQuery::Smart { .. })`).
pub fn smart_query_request(contract: &str, msg: &Binary) -> Vec<u8> {
    let mut out = b"{\"wasm\":".to_vec();
    write_variant(
        &mut out,
        "smart",
        &Obj(&[("contract_addr", &contract), ("msg", msg)]),
    );
    out.push(b'}');
    out
}

/// The request of a bank balance query (`QueryRequest::Bank(BankQuery::Balance { .. })`).
pub fn balance_request(address: &str, denom: &str) -> Vec<u8> {
    let mut out = b"{\"bank\":".to_vec();
    write_variant(
        &mut out,
        "balance",
        &Obj(&[("address", &address), ("denom", &denom)]),
    );
    out.push(b'}');
    out
}

/// A query's data, or a `StdError` naming `what` failed on `contract` and why (the contract's
/// error or the system's).
pub fn answer(result: QuerierResult, what: &str, contract: &str) -> crate::error::Result<Binary> {
    let failed = |e: &str| crate::Error::Query([what, contract, ": ", e].concat());
    match result {
        SystemResult::Ok(ContractResult::Ok(data)) => Ok(data),
        SystemResult::Ok(ContractResult::Err(e)) => Err(failed(&e)),
        SystemResult::Err(e) => Err(failed(&e.to_string())),
    }
}

/// A query's `SystemResult<ContractResult<Binary>>` as the VM returns it, read without serde.
/// A system error (no such contract, unsupported query...) keeps its JSON as its message.
pub fn query_result(bytes: &[u8]) -> QuerierResult {
    const INNER: &Schema = &Schema::Enum(&[
        ("ok", Variant::Newtype(&Schema::Str)),
        ("error", Variant::Newtype(&Schema::Str)),
    ]);
    const OUTER: &Schema = &Schema::Enum(&[
        ("ok", Variant::Newtype(INNER)),
        ("error", Variant::Newtype(&Schema::Any)),
    ]);
    let system_error = |error: String| {
        SystemResult::Err(SystemError::InvalidResponse {
            error,
            response: Binary::new(bytes.to_vec()),
        })
    };
    let inner = match super::parse::parse(bytes, OUTER).and_then(variant) {
        Ok((name, Some(inner))) if name == "ok" => inner,
        Ok(_) => return system_error(String::from_utf8_lossy(bytes).into_owned()),
        Err(e) => return system_error(e.0),
    };
    SystemResult::Ok(match variant(inner) {
        Ok((name, Some(data))) if name == "ok" => match Binary::from_json(data) {
            Ok(data) => ContractResult::Ok(data),
            Err(e) => return system_error(e.0),
        },
        Ok((_, Some(Json::Str(e)))) => ContractResult::Err(e),
        Ok(_) => return system_error("unexpected query result".into()),
        Err(e) => return system_error(e.0),
    })
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::testing::{message_info, mock_env};
    use cosmwasm_std::{
        coins, to_json_vec, Addr, Empty, QueryRequest, SubMsg, Timestamp, WasmQuery,
    };

    use super::*;

    fn both<
        T: FromJson + serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    >(
        v: &T,
    ) {
        let bytes = to_json_vec(v).unwrap();
        assert_eq!(&T::parse(&bytes).unwrap(), v);
        assert_eq!(&cosmwasm_std::from_json::<T>(&bytes).unwrap(), v);
    }

    #[test]
    fn the_vm_inputs_decode_as_derived() {
        let mut env = mock_env();
        env.block.time = Timestamp::from_nanos(u64::MAX);
        both(&env);
        env.transaction = None;
        both(&env);
        both(&message_info(
            &Addr::unchecked("kumo1\"s"),
            &coins(5, "ukumo"),
        ));
        // Fields a newer VM adds are skipped, as the derived impls skip them.
        let extra = br#"{"block":{"height":1,"time":"2","chain_id":"c","x":[1]},
            "transaction":null,"contract":{"address":"a"},"new":{"y":"z"}}"#;
        assert_eq!(
            Env::parse(extra).unwrap(),
            cosmwasm_std::from_json::<Env>(extra).unwrap()
        );
        #[allow(deprecated)]
        let ok = Reply {
            id: 7,
            payload: Binary::from(b"p".as_slice()),
            gas_used: 9,
            result: SubMsgResult::Ok(SubMsgResponse {
                events: vec![Event::new("e").add_attribute("k", "v\n")],
                data: Some(Binary::from(b"d".as_slice())),
                msg_responses: vec![MsgResponse {
                    type_url: "/t".into(),
                    value: Binary::default(),
                }],
            }),
        };
        both(&ok);
        both(&Reply {
            id: 1,
            payload: Binary::default(),
            gas_used: 0,
            result: SubMsgResult::Err("failed \"here\"".into()),
        });
        // `payload` and `gas_used` default (a CosmWasm 1 chain does not send them).
        let old = br#"{"id":1,"result":{"error":"x"}}"#;
        assert_eq!(
            Reply::parse(old).unwrap(),
            cosmwasm_std::from_json::<Reply>(old).unwrap()
        );
    }

    #[test]
    fn results_are_written_as_derived() {
        let transfer = BankMsg::Send {
            to_address: "t".into(),
            amount: coins(1, "u"),
        };
        let execute = WasmMsg::Execute {
            contract_addr: "c".into(),
            msg: Binary::from(b"{}".as_slice()),
            funds: vec![],
        };
        let response: Response = Response::new()
            .add_message(transfer)
            .add_message(BankMsg::Burn {
                amount: coins(2, "u"),
            })
            .add_submessage(SubMsg::reply_on_error(execute, 3).with_gas_limit(10))
            .add_submessage(SubMsg::reply_always(
                WasmMsg::Instantiate {
                    admin: Some("a".into()),
                    code_id: 4,
                    msg: Binary::default(),
                    funds: coins(3, "u"),
                    label: "l\t".into(),
                },
                5,
            ))
            .add_message(WasmMsg::Migrate {
                contract_addr: "c".into(),
                new_code_id: 6,
                msg: Binary::default(),
            })
            .add_message(WasmMsg::UpdateAdmin {
                contract_addr: "c".into(),
                admin: "a".into(),
            })
            .add_message(WasmMsg::ClearAdmin {
                contract_addr: "c".into(),
            })
            .add_attribute("action", "x\u{1}")
            .add_event(Event::new("kumo").add_attribute("a", "b"))
            .set_data(Binary::from(b"data".as_slice()));
        let derived = to_json_vec(&ContractResult::Ok(response.clone())).unwrap();
        assert_eq!(response_result(&Ok(response)), derived);
        let empty: Response = Response::new();
        let derived = to_json_vec(&ContractResult::Ok(empty.clone())).unwrap();
        assert_eq!(response_result(&Ok(empty)), derived);
        let derived = to_json_vec(&ContractResult::<Response>::Err("no \"way\"".into())).unwrap();
        assert_eq!(response_result(&Err("no \"way\"".into())), derived);
        let data = Binary::from(b"\x00\xff".as_slice());
        let derived = to_json_vec(&ContractResult::Ok(data.clone())).unwrap();
        assert_eq!(binary_result(&Ok(data)), derived);
        let derived = to_json_vec(&ContractResult::<Binary>::Err("e".into())).unwrap();
        assert_eq!(binary_result(&Err("e".into())), derived);
        // A message kind the writer does not know is an error result, never a wrong message.
        let other: Response = Response::new().add_message(CosmosMsg::Custom(Empty {}));
        assert!(String::from_utf8(response_result(&Ok(other)))
            .unwrap()
            .starts_with("{\"error\":"));
    }

    #[test]
    fn queries_are_written_and_read_as_derived() {
        let raw: QueryRequest = QueryRequest::Wasm(WasmQuery::Raw {
            contract_addr: "c\"".into(),
            key: Binary::from(b"\x00k".as_slice()),
        });
        assert_eq!(
            raw_query_request("c\"", b"\x00k"),
            to_json_vec(&raw).unwrap()
        );
        let msg = Binary::from(br#"{"config":{}}"#.as_slice());
        let smart: QueryRequest = QueryRequest::Wasm(WasmQuery::Smart {
            contract_addr: "c".into(),
            msg: msg.clone(),
        });
        assert_eq!(smart_query_request("c", &msg), to_json_vec(&smart).unwrap());
        let balance: QueryRequest = QueryRequest::Bank(cosmwasm_std::BankQuery::Balance {
            address: "a\"".into(),
            denom: "ibc/AB".into(),
        });
        assert_eq!(
            balance_request("a\"", "ibc/AB"),
            to_json_vec(&balance).unwrap()
        );

        let results: [QuerierResult; 3] = [
            SystemResult::Ok(ContractResult::Ok(Binary::from(b"v".as_slice()))),
            SystemResult::Ok(ContractResult::Err("not found".into())),
            SystemResult::Err(SystemError::NoSuchContract { addr: "x".into() }),
        ];
        for result in results {
            let bytes = to_json_vec(&result).unwrap();
            match (query_result(&bytes), result) {
                (SystemResult::Err(_), SystemResult::Err(_)) => {}
                (ours, theirs) => assert_eq!(ours, theirs),
            }
        }
        assert!(matches!(query_result(b"{\"ok\":"), SystemResult::Err(_)));
    }
}
