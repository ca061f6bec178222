//! IBC for `crate::entry`'s serde-free exports (feature `ibc`): the messages the VM passes to the
//! six IBC entry points, the responses they return, and the IBC messages a contract sends. Read
//! and written as the derived impls do, byte for byte (the tests compare).

use cosmwasm_std::{
    Addr, Binary, Ibc3ChannelOpenResponse, IbcAckCallbackMsg, IbcAcknowledgement, IbcBasicResponse,
    IbcChannel, IbcChannelCloseMsg, IbcChannelConnectMsg, IbcChannelOpenMsg, IbcEndpoint, IbcOrder,
    IbcPacket, IbcPacketAckMsg, IbcPacketReceiveMsg, IbcPacketTimeoutMsg, IbcReceiveResponse,
    IbcSourceCallbackMsg, IbcTimeout, IbcTimeoutBlock, IbcTimeoutCallbackMsg, Timestamp,
};

use super::vm::{error_result, write_messages};
use super::{error, Fields, FromJson, Json, JsonResult, Obj, Schema, ToJson};

crate::json_struct!(IbcEndpoint {
    port_id,
    channel_id
});
crate::json_struct!(IbcTimeoutBlock { revision, height });
crate::json_enum!(IbcOrder {
    "ORDER_UNORDERED" => Unordered,
    "ORDER_ORDERED" => Ordered,
});

impl FromJson for IbcChannel {
    const SCHEMA: &'static Schema = &Schema::Struct(&[
        ("endpoint", IbcEndpoint::SCHEMA),
        ("counterparty_endpoint", IbcEndpoint::SCHEMA),
        ("order", IbcOrder::SCHEMA),
        ("version", &Schema::Str),
        ("connection_id", &Schema::Str),
    ]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(IbcChannel::new(
            f.take("endpoint")?,
            f.take("counterparty_endpoint")?,
            f.take("order")?,
            f.take::<String>("version")?,
            f.take::<String>("connection_id")?,
        ))
    }
}

impl ToJson for IbcChannel {
    fn write_json(&self, out: &mut Vec<u8>) {
        Obj(&[
            ("endpoint", &self.endpoint),
            ("counterparty_endpoint", &self.counterparty_endpoint),
            ("order", &self.order),
            ("version", &self.version),
            ("connection_id", &self.connection_id),
        ])
        .write_json(out)
    }
}

crate::json_enum!(IbcChannelOpenMsg {
    "open_init" => OpenInit { channel },
    "open_try" => OpenTry { channel, counterparty_version },
});
crate::json_enum!(IbcChannelConnectMsg {
    "open_ack" => OpenAck { channel, counterparty_version },
    "open_confirm" => OpenConfirm { channel },
});
crate::json_enum!(IbcChannelCloseMsg {
    "close_init" => CloseInit { channel },
    "close_confirm" => CloseConfirm { channel },
});

impl FromJson for IbcTimeout {
    const SCHEMA: &'static Schema = &Schema::Struct(&[
        ("block", <Option<IbcTimeoutBlock>>::SCHEMA),
        ("timestamp", <Option<Timestamp>>::SCHEMA),
    ]);

    /// IBC refuses a packet with neither timeout, so the VM never passes one; `IbcTimeout` has no
    /// constructor for it either, so it is an error here (the derived impl would accept it).
    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        match (f.take("block")?, f.take("timestamp")?) {
            (Some(block), Some(time)) => Ok(IbcTimeout::with_both(block, time)),
            (Some(block), None) => Ok(IbcTimeout::with_block(block)),
            (None, Some(time)) => Ok(IbcTimeout::with_timestamp(time)),
            (None, None) => Err(error("a timeout needs", "a block or a timestamp")),
        }
    }
}

impl ToJson for IbcTimeout {
    fn write_json(&self, out: &mut Vec<u8>) {
        Obj(&[("block", &self.block()), ("timestamp", &self.timestamp())]).write_json(out)
    }
}

impl FromJson for IbcPacket {
    const SCHEMA: &'static Schema = &Schema::Struct(&[
        ("data", &Schema::Str),
        ("src", IbcEndpoint::SCHEMA),
        ("dest", IbcEndpoint::SCHEMA),
        ("sequence", &Schema::U64),
        ("timeout", IbcTimeout::SCHEMA),
    ]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(IbcPacket::new(
            f.take::<Binary>("data")?,
            f.take("src")?,
            f.take("dest")?,
            f.take("sequence")?,
            f.take::<IbcTimeout>("timeout")?,
        ))
    }
}

impl FromJson for IbcAcknowledgement {
    const SCHEMA: &'static Schema = &Schema::Struct(&[("data", &Schema::Str)]);

    fn from_json(v: Json) -> JsonResult<Self> {
        Fields::of(v)?
            .take::<Binary>("data")
            .map(IbcAcknowledgement::new)
    }
}

impl FromJson for IbcPacketReceiveMsg {
    const SCHEMA: &'static Schema =
        &Schema::Struct(&[("packet", IbcPacket::SCHEMA), ("relayer", &Schema::Str)]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(IbcPacketReceiveMsg::new(
            f.take("packet")?,
            f.take::<Addr>("relayer")?,
        ))
    }
}

impl FromJson for IbcPacketAckMsg {
    const SCHEMA: &'static Schema = &Schema::Struct(&[
        ("acknowledgement", IbcAcknowledgement::SCHEMA),
        ("original_packet", IbcPacket::SCHEMA),
        ("relayer", &Schema::Str),
    ]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(IbcPacketAckMsg::new(
            f.take("acknowledgement")?,
            f.take("original_packet")?,
            f.take::<Addr>("relayer")?,
        ))
    }
}

impl FromJson for IbcPacketTimeoutMsg {
    const SCHEMA: &'static Schema =
        &Schema::Struct(&[("packet", IbcPacket::SCHEMA), ("relayer", &Schema::Str)]);

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(IbcPacketTimeoutMsg::new(
            f.take("packet")?,
            f.take::<Addr>("relayer")?,
        ))
    }
}

impl FromJson for IbcAckCallbackMsg {
    const SCHEMA: &'static Schema = IbcPacketAckMsg::SCHEMA;

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(IbcAckCallbackMsg::new(
            f.take("acknowledgement")?,
            f.take("original_packet")?,
            f.take::<Addr>("relayer")?,
        ))
    }
}

impl FromJson for IbcTimeoutCallbackMsg {
    const SCHEMA: &'static Schema = IbcPacketTimeoutMsg::SCHEMA;

    fn from_json(v: Json) -> JsonResult<Self> {
        let mut f = Fields::of(v)?;
        Ok(IbcTimeoutCallbackMsg::new(
            f.take("packet")?,
            f.take::<Addr>("relayer")?,
        ))
    }
}

/// The message of the `ibc_source_callback` entry point (IBC callbacks, ADR-8): the outcome of a
/// packet the contract sent with a `src_callback` memo, e.g. an ICS-20 transfer.
impl FromJson for IbcSourceCallbackMsg {
    const SCHEMA: &'static Schema = &Schema::Enum(&[
        (
            "acknowledgement",
            super::Variant::Newtype(IbcAckCallbackMsg::SCHEMA),
        ),
        (
            "timeout",
            super::Variant::Newtype(IbcTimeoutCallbackMsg::SCHEMA),
        ),
    ]);

    fn from_json(v: Json) -> JsonResult<Self> {
        match super::variant(v)? {
            (name, Some(c)) if name == "acknowledgement" => {
                IbcAckCallbackMsg::from_json(c).map(IbcSourceCallbackMsg::Acknowledgement)
            }
            (name, Some(c)) if name == "timeout" => {
                IbcTimeoutCallbackMsg::from_json(c).map(IbcSourceCallbackMsg::Timeout)
            }
            (name, _) => Err(error("unknown variant", &name)),
        }
    }
}

/// `ContractResult<IbcChannelOpenResponse>`: `{"ok":null}` or `{"ok":{"version":…}}`.
pub fn channel_open_result(result: &Result<Option<Ibc3ChannelOpenResponse>, String>) -> Vec<u8> {
    match result {
        Ok(response) => {
            let mut out = b"{\"ok\":".to_vec();
            match response {
                Some(r) => Obj(&[("version", &r.version)]).write_json(&mut out),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
            out
        }
        Err(e) => error_result(e),
    }
}

/// `ContractResult<IbcBasicResponse>`.
pub fn basic_result(result: &Result<IbcBasicResponse, String>) -> Vec<u8> {
    let mut out = b"{\"ok\":{\"messages\":".to_vec();
    let written = result.as_ref().map_err(String::clone).and_then(|r| {
        write_messages(&mut out, &r.messages)?;
        out.extend_from_slice(b",\"attributes\":");
        r.attributes.write_json(&mut out);
        out.extend_from_slice(b",\"events\":");
        r.events.write_json(&mut out);
        out.extend_from_slice(b"}}");
        Ok(())
    });
    match written {
        Ok(()) => out,
        Err(e) => error_result(&e),
    }
}

/// `ContractResult<IbcReceiveResponse>`.
pub fn receive_result(result: &Result<IbcReceiveResponse, String>) -> Vec<u8> {
    let mut out = b"{\"ok\":{\"acknowledgement\":".to_vec();
    let written = result.as_ref().map_err(String::clone).and_then(|r| {
        r.acknowledgement.write_json(&mut out);
        out.extend_from_slice(b",\"messages\":");
        write_messages(&mut out, &r.messages)?;
        out.extend_from_slice(b",\"attributes\":");
        r.attributes.write_json(&mut out);
        out.extend_from_slice(b",\"events\":");
        r.events.write_json(&mut out);
        out.extend_from_slice(b"}}");
        Ok(())
    });
    match written {
        Ok(()) => out,
        Err(e) => error_result(&e),
    }
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::{
        coin, to_json_vec, ContractResult, CosmosMsg, Event, IbcMsg, SubMsg, Timestamp,
    };

    use super::*;

    fn endpoint(port: &str, channel: &str) -> IbcEndpoint {
        IbcEndpoint {
            port_id: port.into(),
            channel_id: channel.into(),
        }
    }

    fn channel(order: IbcOrder) -> IbcChannel {
        IbcChannel::new(
            endpoint("wasm.kumo1gw", "channel-0"),
            endpoint("wasm.osmo1client", "channel-7"),
            order,
            "kumo-gateway-1",
            "connection-\"3\"",
        )
    }

    fn packet(timeout: IbcTimeout) -> IbcPacket {
        IbcPacket::new(
            Binary::from(b"{\"x\":1}".as_slice()),
            endpoint("wasm.osmo1client", "channel-7"),
            endpoint("wasm.kumo1gw", "channel-0"),
            u64::MAX,
            timeout,
        )
    }

    /// Decoded by `kumo::json` as by the derived impl; returns the JSON the derived impl wrote.
    fn both<T>(v: &T) -> Vec<u8>
    where
        T: FromJson + serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let bytes = to_json_vec(v).unwrap();
        assert_eq!(&T::parse(&bytes).unwrap(), v);
        assert_eq!(&cosmwasm_std::from_json::<T>(&bytes).unwrap(), v);
        bytes
    }

    fn written<T: ToJson + serde::Serialize>(v: &T) {
        let mut out = Vec::new();
        v.write_json(&mut out);
        assert_eq!(out, to_json_vec(v).unwrap());
    }

    #[test]
    fn the_entry_point_messages_decode_as_derived() {
        for order in [IbcOrder::Unordered, IbcOrder::Ordered] {
            let c = channel(order);
            written(&c);
            both(&IbcChannelOpenMsg::new_init(c.clone()));
            both(&IbcChannelOpenMsg::new_try(c.clone(), "v\"1"));
            both(&IbcChannelConnectMsg::new_ack(c.clone(), "v1"));
            both(&IbcChannelConnectMsg::new_confirm(c.clone()));
            both(&IbcChannelCloseMsg::new_init(c.clone()));
            both(&IbcChannelCloseMsg::new_confirm(c));
        }
        let block = IbcTimeoutBlock {
            revision: 1,
            height: u64::MAX,
        };
        let time = Timestamp::from_nanos(u64::MAX);
        for timeout in [
            IbcTimeout::with_block(block),
            IbcTimeout::with_timestamp(time),
            IbcTimeout::with_both(block, time),
        ] {
            written(&timeout);
            let relayer = Addr::unchecked("relayer");
            both(&IbcPacketReceiveMsg::new(
                packet(timeout.clone()),
                relayer.clone(),
            ));
            both(&IbcPacketTimeoutMsg::new(
                packet(timeout.clone()),
                relayer.clone(),
            ));
            both(&IbcPacketAckMsg::new(
                IbcAcknowledgement::new(b"{\"result\":\"e30=\"}".as_slice()),
                packet(timeout),
                relayer,
            ));
        }
        // Unknown fields are skipped as the derived impls skip them; missing ones are refused.
        let extra = br#"{"packet":{"data":"","src":{"port_id":"p","channel_id":"c","x":1},
            "dest":{"port_id":"p","channel_id":"c"},"sequence":1,
            "timeout":{"block":null,"timestamp":"5"}},"relayer":"r","new":[]}"#;
        assert_eq!(
            IbcPacketReceiveMsg::parse(extra).unwrap(),
            cosmwasm_std::from_json::<IbcPacketReceiveMsg>(extra).unwrap()
        );
        assert!(IbcPacketReceiveMsg::parse(br#"{"packet":{"data":""},"relayer":"r"}"#).is_err());
        assert!(IbcChannelOpenMsg::parse(br#"{"open_other":{}}"#).is_err());
        // Neither timeout: IBC never delivers such a packet, and it is refused.
        let neither = br#"{"data":"","src":{"port_id":"p","channel_id":"c"},
            "dest":{"port_id":"p","channel_id":"c"},"sequence":1,
            "timeout":{"block":null,"timestamp":null}}"#;
        assert!(IbcPacket::parse(neither).is_err());
        let timeout = IbcTimeout::with_timestamp(Timestamp::from_nanos(9));
        let relayer = Addr::unchecked("relayer");
        both(&IbcSourceCallbackMsg::Acknowledgement(
            IbcAckCallbackMsg::new(
                IbcAcknowledgement::new(b"{\"error\":\"x\"}".as_slice()),
                packet(timeout.clone()),
                relayer.clone(),
            ),
        ));
        both(&IbcSourceCallbackMsg::Timeout(IbcTimeoutCallbackMsg::new(
            packet(timeout),
            relayer,
        )));
    }

    #[test]
    fn the_entry_point_results_are_written_as_derived() {
        let open = Some(Ibc3ChannelOpenResponse {
            version: "kumo-gateway-1".into(),
        });
        assert_eq!(
            channel_open_result(&Ok(open.clone())),
            to_json_vec(&ContractResult::Ok(open)).unwrap()
        );
        let none: Option<Ibc3ChannelOpenResponse> = None;
        assert_eq!(
            channel_open_result(&Ok(None)),
            to_json_vec(&ContractResult::Ok(none)).unwrap()
        );
        assert_eq!(
            channel_open_result(&Err("no \"way\"".into())),
            to_json_vec(&ContractResult::<Option<Ibc3ChannelOpenResponse>>::Err(
                "no \"way\"".into()
            ))
            .unwrap()
        );

        let transfer = IbcMsg::Transfer {
            channel_id: "channel-1".into(),
            to_address: "osmo1\"x".into(),
            amount: coin(5, "ukumo"),
            timeout: IbcTimeout::with_timestamp(Timestamp::from_seconds(9)),
            memo: Some("{\"wasm\":{}}".into()),
        };
        let plain = IbcMsg::Transfer {
            channel_id: "channel-1".into(),
            to_address: "osmo1x".into(),
            amount: coin(5, "ukumo"),
            timeout: IbcTimeout::with_block(IbcTimeoutBlock {
                revision: 2,
                height: 3,
            }),
            memo: None,
        };
        let send = IbcMsg::SendPacket {
            channel_id: "channel-0".into(),
            data: Binary::from(b"\x00\x01".as_slice()),
            timeout: IbcTimeout::with_timestamp(Timestamp::from_nanos(1)),
        };
        let close = IbcMsg::CloseChannel {
            channel_id: "channel-0".into(),
        };
        let basic = IbcBasicResponse::new()
            .add_message(transfer)
            .add_submessage(SubMsg::reply_on_success(CosmosMsg::Ibc(send.clone()), 4))
            .add_message(close)
            .add_attribute("action", "x")
            .add_event(Event::new("e").add_attribute("k", "v"));
        assert_eq!(
            basic_result(&Ok(basic.clone())),
            to_json_vec(&ContractResult::Ok(basic)).unwrap()
        );
        let empty = IbcBasicResponse::new();
        assert_eq!(
            basic_result(&Ok(empty.clone())),
            to_json_vec(&ContractResult::Ok(empty)).unwrap()
        );
        assert_eq!(
            basic_result(&Err("e".into())),
            to_json_vec(&ContractResult::<IbcBasicResponse>::Err("e".into())).unwrap()
        );

        let receive = IbcReceiveResponse::new(b"{\"result\":\"e30=\"}".as_slice())
            .add_message(plain)
            .add_submessage(SubMsg::reply_always(CosmosMsg::Ibc(send), 1))
            .add_attribute("a", "b")
            .add_event(Event::new("e"));
        assert_eq!(
            receive_result(&Ok(receive.clone())),
            to_json_vec(&ContractResult::Ok(receive)).unwrap()
        );
        let no_ack = IbcReceiveResponse::without_ack();
        assert_eq!(
            receive_result(&Ok(no_ack.clone())),
            to_json_vec(&ContractResult::Ok(no_ack)).unwrap()
        );
        assert_eq!(
            receive_result(&Err("e".into())),
            to_json_vec(&ContractResult::<IbcReceiveResponse>::Err("e".into())).unwrap()
        );
    }
}
