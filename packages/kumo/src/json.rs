//! The contracts' JSON without serde's per-type code: messages decoded with one serde visitor
//! into a generic [`Json`] value ([`FromJson`]), responses and sent messages written by hand
//! ([`ToJson`]).
//!
//! Why not `#[derive(Deserialize)]` in the contracts: every derived type instantiates its own
//! visitors (field-name matching, error paths) against the JSON deserializer, a few KB of wasm
//! each. Here the deserializer is instantiated once, for one visitor that a static [`Schema`]
//! drives, and each message type converts from the [`Json`] value with a few hundred bytes of
//! [`FromJson`] (declared with [`json_struct!`] and [`json_enum!`], which also declare its
//! schema). The derived `Deserialize` impls stay: they are the JSON schema, and what clients
//! use; a contract merely does not call them.
//!
//! The JSON accepted is exactly what the derived impls accept on the chain's deserializer
//! (`serde-json-wasm`): the visitor asks the deserializer for what the derived impl asks for
//! (`deserialize_u32` for a `u32`, `deserialize_struct` for a struct, `deserialize_enum` for an
//! enum...), skips unknown fields with `IgnoredAny` as serde does (`cw_serde` does not deny them),
//! and the conversion rejects missing and repeated fields as serde does. `Uint*`, `Decimal256`,
//! `HexBinary`, `Binary`, `Timestamp` and `Addr` are strings parsed as their own impls parse them
//! (the numbers and encodings by `scalar`'s code, which accepts exactly what theirs accepts).
//!
//! [`ToJson`] writes what the derived `Serialize` writes on `serde-json-wasm`, byte for byte
//! (fields in declaration order, `None` as `null`, strings escaped as it escapes them). The
//! macros list fields in declaration order; the tests compare both ways with the derived impls.

use cosmwasm_std::{
    Addr, Binary, CustomQuery, Decimal, Decimal256, HexBinary, QuerierWrapper, StdError, Timestamp,
    Uint128, Uint64,
};
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, EnumAccess, Error as _, IgnoredAny, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};

use crate::escrow::EscrowCallback;
use crate::{Denom, EndpointKind};

#[cfg(feature = "ibc")]
pub mod ibc;
mod parse;
mod scalar;
pub mod vm;

/// A decoded JSON value: what the [`Schema`] visitor produces and [`FromJson`] converts.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    UInt(u64),
    Str(String),
    Array(Vec<Json>),
    /// A struct's known fields, in the order given (repeated ones included).
    Object(Vec<(String, Json)>),
    /// An enum variant and its content (`None` for a unit variant).
    Variant(String, Option<Box<Json>>),
}

/// How a type is read from JSON: what its derived `Deserialize` asks the deserializer for.
pub enum Schema {
    Bool,
    U32,
    U64,
    /// A string (`String`, `Addr`, and the types serialized as strings).
    Str,
    Option(&'static Schema),
    Seq(&'static Schema),
    /// A tuple of two.
    Pair(&'static Schema, &'static Schema),
    /// A struct's fields; others are skipped.
    Struct(&'static [(&'static str, &'static Schema)]),
    /// An externally tagged enum's variants.
    Enum(&'static [(&'static str, Variant)]),
    /// Any value, skipped (read as `Null`).
    Any,
}

pub enum Variant {
    Unit,
    Newtype(&'static Schema),
    /// Its fields, as a [`Schema::Struct`].
    Struct(&'static Schema),
}

/// A message as an entry point receives it: `T` decoded through [`Json`].
#[derive(Clone, Debug, PartialEq)]
pub struct Msg<T>(pub T);

impl<'de, T: FromJson> Deserialize<'de> for Msg<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Seed(T::SCHEMA).deserialize(deserializer)?;
        T::from_json(json).map(Msg).map_err(D::Error::custom)
    }
}

impl<T: FromJson> FromJson for Msg<T> {
    const SCHEMA: &'static Schema = T::SCHEMA;

    fn from_json(v: Json) -> JsonResult<Self> {
        T::from_json(v).map(Msg)
    }
}

/// A message as a contract receives it, for contract unit tests: `msg` written as JSON by its
/// derived `Serialize`, then decoded by the derived `Deserialize`, by the serde visitor native
/// entry points use and by the reader of the wasm exports; each must give `msg` back.
#[cfg(not(target_arch = "wasm32"))]
pub fn as_received<M>(msg: &M) -> Msg<M>
where
    M: serde::Serialize + serde::de::DeserializeOwned + FromJson + PartialEq + std::fmt::Debug,
{
    let bytes = cosmwasm_std::to_json_vec(msg).expect("the message serializes");
    assert_eq!(&cosmwasm_std::from_json::<M>(&bytes).expect("derived"), msg);
    let visited: Msg<M> = cosmwasm_std::from_json(&bytes).expect("kumo::json visitor");
    assert_eq!(&visited.0, msg);
    assert_eq!(&M::parse(&bytes).expect("kumo::json reader"), msg);
    visited
}

/// The one visitor: reads the value `.0` describes.
#[derive(Clone, Copy)]
struct Seed(&'static Schema);

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        match self.0 {
            Schema::Bool => d.deserialize_bool(self),
            Schema::U32 => d.deserialize_u32(self),
            Schema::U64 => d.deserialize_u64(self),
            Schema::Str => d.deserialize_string(self),
            Schema::Option(_) => d.deserialize_option(self),
            Schema::Seq(_) => d.deserialize_seq(self),
            Schema::Pair(..) => d.deserialize_tuple(2, self),
            Schema::Struct(_) => d.deserialize_struct("", &[], self),
            Schema::Enum(_) => d.deserialize_enum("", &[], self),
            Schema::Any => IgnoredAny::deserialize(d).map(|_| Json::Null),
        }
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a message")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_u32<E>(self, v: u32) -> Result<Json, E> {
        Ok(Json::UInt(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::UInt(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        match self.0 {
            Schema::Option(inner) => Seed(inner).deserialize(d),
            _ => Err(D::Error::custom("unexpected option")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let inner = match self.0 {
            Schema::Seq(inner) => inner,
            Schema::Pair(a, b) => {
                let mut next = |s| {
                    seq.next_element_seed(Seed(s))?
                        .ok_or_else(|| A::Error::custom("expected a pair"))
                };
                return Ok(Json::Array(vec![next(a)?, next(b)?]));
            }
            _ => return Err(A::Error::custom("unexpected sequence")),
        };
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed(inner))? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let Schema::Struct(fields) = self.0 else {
            return Err(A::Error::custom("unexpected map"));
        };
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match fields.iter().find(|(name, _)| *name == key) {
                Some((_, schema)) => {
                    let value = map.next_value_seed(Seed(schema))?;
                    entries.push((key, value));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Json::Object(entries))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Json, A::Error> {
        let Schema::Enum(variants) = self.0 else {
            return Err(A::Error::custom("unexpected enum"));
        };
        let (name, access) = data.variant::<String>()?;
        let Some((_, variant)) = variants.iter().find(|(v, _)| *v == name) else {
            return Err(A::Error::custom(["unknown variant ", &name].concat()));
        };
        let content = match variant {
            Variant::Unit => {
                access.unit_variant()?;
                None
            }
            Variant::Newtype(schema) => Some(access.newtype_variant_seed(Seed(schema))?),
            Variant::Struct(schema) => Some(access.struct_variant(&[], Seed(schema))?),
        };
        Ok(Json::Variant(name, content.map(Box::new)))
    }
}

/// A smart query of another contract: the request written by [`ToJson`], the response read by
/// [`FromJson`] (no serde code for either in the wasm).
pub fn query<C: CustomQuery, T: FromJson>(
    querier: &QuerierWrapper<C>,
    contract: &Addr,
    msg: &impl ToJson,
) -> crate::error::Result<T> {
    let request = vm::smart_query_request(contract.as_str(), &write(msg));
    let data = vm::answer(querier.raw_query(&request), "querying ", contract.as_str())?;
    T::parse(&data)
}

/// Why a message does not decode. Small (one `String`): every field's `?` moves it, and a large
/// error type costs wasm at each of them. It becomes a [`crate::Error`] (or a `StdError`) at
/// the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError(pub String);

pub type JsonResult<T> = Result<T, JsonError>;

impl From<JsonError> for crate::Error {
    fn from(e: JsonError) -> Self {
        crate::Error::Json(e.0)
    }
}

impl From<JsonError> for StdError {
    fn from(e: JsonError) -> Self {
        StdError::parse_err("message", e.0)
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `problem` and `what`: the field, variant or expected type.
pub fn error(problem: &str, what: &str) -> JsonError {
    JsonError([problem, " ", what].concat())
}

fn invalid(expected: &str) -> JsonError {
    error("invalid type, expected", expected)
}

/// A type decoded from a [`Json`] value, with the acceptance of its derived `Deserialize`.
pub trait FromJson: Sized {
    /// What its derived `Deserialize` reads.
    const SCHEMA: &'static Schema;

    fn from_json(v: Json) -> JsonResult<Self>;

    /// The value of a missing field: an error, except for `Option` (`None`).
    fn missing(field: &str) -> JsonResult<Self> {
        Err(error("missing field", field))
    }

    /// Parses a whole message, accepting what `cosmwasm_std::from_json` accepts, without serde.
    fn parse(bytes: &[u8]) -> crate::error::Result<Self> {
        Ok(Self::from_json(parse::parse(bytes, Self::SCHEMA)?)?)
    }
}

impl FromJson for bool {
    const SCHEMA: &'static Schema = &Schema::Bool;

    fn from_json(v: Json) -> JsonResult<Self> {
        match v {
            Json::Bool(b) => Ok(b),
            _ => Err(invalid("a boolean")),
        }
    }
}

impl FromJson for u64 {
    const SCHEMA: &'static Schema = &Schema::U64;

    fn from_json(v: Json) -> JsonResult<Self> {
        match v {
            Json::UInt(n) => Ok(n),
            _ => Err(invalid("an unsigned integer")),
        }
    }
}

impl FromJson for u32 {
    const SCHEMA: &'static Schema = &Schema::U32;

    fn from_json(v: Json) -> JsonResult<Self> {
        u32::try_from(u64::from_json(v)?).map_err(|_| invalid("a u32"))
    }
}

impl FromJson for String {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        match v {
            Json::Str(s) => Ok(s),
            _ => Err(invalid("a string")),
        }
    }
}

impl FromJson for Addr {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        String::from_json(v).map(Addr::unchecked)
    }
}

impl FromJson for Uint64 {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        let s = String::from_json(v)?;
        scalar::uint64(&s)
            .map(Uint64::new)
            .ok_or_else(|| error("invalid Uint64", &s))
    }
}

impl FromJson for Uint128 {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        let s = String::from_json(v)?;
        scalar::uint128(&s)
            .map(Uint128::new)
            .ok_or_else(|| error("invalid Uint128", &s))
    }
}

impl FromJson for Timestamp {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        Uint64::from_json(v).map(|n| Timestamp::from_nanos(n.u64()))
    }
}

impl FromJson for Decimal {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        let s = String::from_json(v)?;
        scalar::decimal(&s).ok_or_else(|| error("invalid decimal", &s))
    }
}

impl FromJson for Decimal256 {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        let s = String::from_json(v)?;
        scalar::decimal256(&s).ok_or_else(|| error("invalid decimal", &s))
    }
}

impl FromJson for HexBinary {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        let s = String::from_json(v)?;
        scalar::hex(&s)
            .map(HexBinary::from)
            .ok_or_else(|| error("invalid hex", &s))
    }
}

impl FromJson for Binary {
    const SCHEMA: &'static Schema = &Schema::Str;

    fn from_json(v: Json) -> JsonResult<Self> {
        let s = String::from_json(v)?;
        scalar::base64(&s)
            .map(Binary::new)
            .ok_or_else(|| error("invalid base64", &s))
    }
}

impl<T: FromJson> FromJson for Option<T> {
    const SCHEMA: &'static Schema = &Schema::Option(T::SCHEMA);

    fn from_json(v: Json) -> JsonResult<Self> {
        match v {
            Json::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }

    fn missing(_: &str) -> JsonResult<Self> {
        Ok(None)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    const SCHEMA: &'static Schema = &Schema::Seq(T::SCHEMA);

    fn from_json(v: Json) -> JsonResult<Self> {
        match v {
            // A loop, not `collect::<Result<_, _>>()`: smaller wasm per element type.
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(T::from_json(item)?);
                }
                Ok(out)
            }
            _ => Err(invalid("an array")),
        }
    }
}

impl<A: FromJson, B: FromJson> FromJson for (A, B) {
    const SCHEMA: &'static Schema = &Schema::Pair(A::SCHEMA, B::SCHEMA);

    fn from_json(v: Json) -> JsonResult<Self> {
        match v {
            Json::Array(items) if items.len() == 2 => {
                let mut items = items.into_iter();
                let a = A::from_json(items.next().unwrap_or(Json::Null))?;
                Ok((a, B::from_json(items.next().unwrap_or(Json::Null))?))
            }
            _ => Err(invalid("a pair")),
        }
    }
}

/// A type written as the JSON its derived `Serialize` writes on `serde-json-wasm`, byte for
/// byte, with one small function per type instead of serde's serializer instantiations.
pub trait ToJson {
    fn write_json(&self, out: &mut Vec<u8>);
}

/// A value's JSON, as `cosmwasm_std::to_json_binary` writes it.
pub fn write(v: &impl ToJson) -> Binary {
    let mut out = Vec::new();
    v.write_json(&mut out);
    Binary::new(out)
}

/// The text inside a number's or bytes' JSON string: a `Decimal256` or `Uint128` as its
/// `Display` writes it, a `HexBinary` in lower-case hex. For event attributes and error messages
/// in contracts: without the `Display` code of 256-bit numbers and the `hex` crate. (Only for
/// types whose JSON is one string with nothing to escape.)
pub fn text(v: &impl ToJson) -> String {
    let mut out = Vec::new();
    v.write_json(&mut out);
    let inner = out.get(1..out.len().saturating_sub(1)).unwrap_or_default();
    String::from_utf8_lossy(inner).into_owned()
}

/// [`write`] in the `Result` a query handler returns (of any error type: it cannot fail).
pub fn to_binary<E>(v: &impl ToJson) -> Result<Binary, E> {
    Ok(write(v))
}

/// A JSON string, escaped as `serde-json-wasm` escapes it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        let escaped = match b {
            b'\\' => b'\\',
            b'"' => b'"',
            0x08 => b'b',
            0x09 => b't',
            0x0A => b'n',
            0x0C => b'f',
            0x0D => b'r',
            0..=0x1F => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
                continue;
            }
            _ => {
                out.push(b);
                continue;
            }
        };
        out.push(b'\\');
        out.push(escaped);
    }
    out.push(b'"');
}

/// A struct's fields as a JSON object.
pub struct Obj<'a>(pub &'a [(&'static str, &'a dyn ToJson)]);

impl ToJson for Obj<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_object(out, self.0.iter().map(|(name, value)| (*name, *value)));
    }
}

/// A struct's fields as [`json_struct!`] writes them: `None` for a field its `Serialize` skips
/// (`skip_serializing_if = "Option::is_none"` on a `None`).
pub struct Members<'a>(pub &'a [(&'static str, Option<&'a dyn ToJson>)]);

impl ToJson for Members<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_object(out, self.0.iter().filter_map(|(n, v)| Some((*n, (*v)?))));
    }
}

fn write_object<'a>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'a str, &'a dyn ToJson)>) {
    out.push(b'{');
    for (i, (name, value)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        value.write_json(out);
    }
    out.push(b'}');
}

/// A field [`Members`] writes unless it is a `None` (for `skip_none` fields).
pub fn unless_none<T: ToJson>(v: &Option<T>) -> Option<&dyn ToJson> {
    v.as_ref().map(|_| v as &dyn ToJson)
}

/// An enum variant with content: `{"name":content}`.
pub fn write_variant(out: &mut Vec<u8>, name: &str, content: &dyn ToJson) {
    Obj(&[]).write_json(out);
    out.pop();
    write_str(out, name);
    out.push(b':');
    content.write_json(out);
    out.push(b'}');
}

impl ToJson for bool {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl ToJson for u64 {
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut digits = [0u8; 20];
        let mut n = *self;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[i..]);
    }
}

impl ToJson for u32 {
    fn write_json(&self, out: &mut Vec<u8>) {
        u64::from(*self).write_json(out)
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, self)
    }
}

impl ToJson for &str {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, self)
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, self)
    }
}

impl ToJson for Addr {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, self.as_str())
    }
}

impl ToJson for Uint64 {
    fn write_json(&self, out: &mut Vec<u8>) {
        scalar::write_uint(out, self.u64().into())
    }
}

impl ToJson for Uint128 {
    fn write_json(&self, out: &mut Vec<u8>) {
        scalar::write_uint(out, self.u128().into())
    }
}

impl ToJson for Decimal {
    fn write_json(&self, out: &mut Vec<u8>) {
        scalar::write_decimal(out, self.atomics().u128().into())
    }
}

impl ToJson for Decimal256 {
    fn write_json(&self, out: &mut Vec<u8>) {
        scalar::write_decimal(out, self.atomics())
    }
}

impl ToJson for Timestamp {
    fn write_json(&self, out: &mut Vec<u8>) {
        Uint64::new(self.nanos()).write_json(out)
    }
}

impl ToJson for HexBinary {
    fn write_json(&self, out: &mut Vec<u8>) {
        scalar::write_hex(out, self)
    }
}

impl ToJson for Binary {
    fn write_json(&self, out: &mut Vec<u8>) {
        scalar::write_base64(out, self)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            v.write_json(out);
        }
        out.push(b']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        self.as_slice().write_json(out)
    }
}

impl<A: ToJson, B: ToJson> ToJson for (A, B) {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        self.0.write_json(out);
        out.push(b',');
        self.1.write_json(out);
        out.push(b']');
    }
}

/// `cw20::Cw20ExecuteMsg::Transfer`'s JSON, written directly: serde's `Serialize` for the whole
/// `Cw20ExecuteMsg` (a dozen variants) costs a contract's wasm several KB for the two it sends.
pub fn cw20_transfer(recipient: &Addr, amount: Uint128) -> Binary {
    let mut out = Vec::new();
    write_variant(
        &mut out,
        "transfer",
        &Obj(&[("recipient", &recipient.as_str()), ("amount", &amount)]),
    );
    Binary::new(out)
}

/// `cw20::Cw20ExecuteMsg::Send`'s JSON (fields in its declaration order), as [`cw20_transfer`].
pub fn cw20_send(contract: &Addr, amount: Uint128, msg: Binary) -> Binary {
    let mut out = Vec::new();
    write_variant(
        &mut out,
        "send",
        &Obj(&[
            ("contract", &contract.as_str()),
            ("amount", &amount),
            ("msg", &msg),
        ]),
    );
    Binary::new(out)
}

/// A struct's fields, taken one by one (the visitor has skipped unknown ones).
pub struct Fields(Vec<(String, Json)>);

impl Fields {
    /// The fields of a struct, none repeated.
    pub fn of(v: Json) -> JsonResult<Self> {
        let Json::Object(entries) = v else {
            return Err(invalid("an object"));
        };
        for (i, (key, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(k, _)| k == key) {
                return Err(error("duplicate field", key));
            }
        }
        Ok(Fields(entries))
    }

    fn remove(&mut self, name: &str) -> Option<Json> {
        let i = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.swap_remove(i).1)
    }

    pub fn take<T: FromJson>(&mut self, name: &str) -> JsonResult<T> {
        match self.remove(name) {
            Some(v) => T::from_json(v),
            None => T::missing(name),
        }
    }

    /// A `#[serde(default)]` field.
    pub fn take_or_default<T: FromJson + Default>(&mut self, name: &str) -> JsonResult<T> {
        match self.remove(name) {
            Some(v) => T::from_json(v),
            None => Ok(T::default()),
        }
    }
}

/// An enum value: its variant's name and content (`None` for a unit variant).
pub fn variant(v: Json) -> JsonResult<(String, Option<Json>)> {
    match v {
        Json::Variant(name, content) => Ok((name, content.map(|c| *c))),
        _ => Err(invalid("a variant")),
    }
}

/// The schema of the field (or variant content) `_field` reads, from its type; `_field` is never
/// called.
pub const fn schema_of<S, T: FromJson>(_field: fn(&S) -> &T) -> &'static Schema {
    T::SCHEMA
}

/// Declares [`FromJson`] and [`ToJson`] for a `cw_serde` struct: every field by name,
/// `field: default` for a `#[serde(default)]` one, `field: skip_none` for an `Option` with
/// `#[serde(default, skip_serializing_if = "Option::is_none")]` (not written when `None`: a
/// shorter message, and transaction bytes cost gas).
#[macro_export]
macro_rules! json_struct {
    ($t:ty { $($f:ident $(: $default:ident)?),* $(,)? }) => {
        impl $crate::json::FromJson for $t {
            const SCHEMA: &'static $crate::json::Schema = &$crate::json::Schema::Struct(&[
                $( (stringify!($f), $crate::json::schema_of(|s: &Self| &s.$f)), )*
            ]);

            fn from_json(v: $crate::json::Json) -> $crate::json::JsonResult<Self> {
                #[allow(unused_mut, unused_variables)]
                let mut fields = $crate::json::Fields::of(v)?;
                Ok(Self {
                    $( $f: $crate::json_struct!(@take fields, $f $(, $default)?)?, )*
                })
            }
        }
        impl $crate::json::ToJson for $t {
            fn write_json(&self, out: &mut Vec<u8>) {
                $crate::json::ToJson::write_json(
                    &$crate::json::Members(&[$(
                        (stringify!($f), $crate::json_struct!(@member self, $f $(, $default)?)),
                    )*]),
                    out,
                )
            }
        }
    };
    (@take $fields:ident, $f:ident) => { $fields.take(stringify!($f)) };
    (@take $fields:ident, $f:ident, default) => { $fields.take_or_default(stringify!($f)) };
    (@take $fields:ident, $f:ident, skip_none) => { $fields.take(stringify!($f)) };
    (@member $s:ident, $f:ident) => { Some(&$s.$f) };
    (@member $s:ident, $f:ident, default) => { Some(&$s.$f) };
    (@member $s:ident, $f:ident, skip_none) => { $crate::json::unless_none(&$s.$f) };
}

/// Declares [`FromJson`] for a `cw_serde` enum (variants in `snake_case`): `"name" => Unit`,
/// `"name" => Newtype(_)` or `"name" => Struct { field, .. }` (fields as in [`json_struct!`]).
#[macro_export]
macro_rules! json_enum {
    ($t:ident { $($name:literal => $v:ident $(($new:tt))? $({ $($f:ident $(: $default:ident)?),* })?),* $(,)? }) => {
        impl $crate::json::FromJson for $t {
            const SCHEMA: &'static $crate::json::Schema = &$crate::json::Schema::Enum(&[
                $( ($name, $crate::json_enum!(@schema $t::$v $(($new))? $({ $($f)* })?)), )*
            ]);

            fn from_json(v: $crate::json::Json) -> $crate::json::JsonResult<Self> {
                let (name, content) = $crate::json::variant(v)?;
                match (name.as_str(), content) {
                    $( $crate::json_enum!(@pattern c $name $(($new))? $({ $($f)* })?) => {
                        $crate::json_enum!(@build c, $t::$v $(($new))? $({ $($f $(: $default)?),* })?)
                    } )*
                    (name, _) => Err($crate::json::error("unknown variant", name)),
                }
            }
        }
        impl $crate::json::ToJson for $t {
            fn write_json(&self, out: &mut Vec<u8>) {
                match self {
                    $(
                        $crate::json_enum!(@wpat x, $t::$v $(($new))? $({ $($f)* })?) =>
                            $crate::json_enum!(@wbody x, out, $name $(($new))? $({ $($f)* })?),
                    )*
                }
            }
        }
    };
    (@wpat $x:ident, $t:ident :: $v:ident) => { $t::$v };
    (@wpat $x:ident, $t:ident :: $v:ident ($new:tt)) => { $t::$v($x) };
    (@wpat $x:ident, $t:ident :: $v:ident { $($f:ident)* }) => { $t::$v { $($f),* } };
    (@wbody $x:ident, $o:ident, $name:literal) => { $crate::json::write_str($o, $name) };
    (@wbody $x:ident, $o:ident, $name:literal ($new:tt)) => {
        $crate::json::write_variant($o, $name, $x)
    };
    (@wbody $x:ident, $o:ident, $name:literal { $($f:ident)* }) => {
        $crate::json::write_variant($o, $name, &$crate::json::Obj(&[$( (stringify!($f), $f), )*]))
    };
    (@schema $t:ident :: $v:ident) => { $crate::json::Variant::Unit };
    (@schema $t:ident :: $v:ident ($new:tt)) => {
        $crate::json::Variant::Newtype($crate::json::schema_of(|e: &$t| match e {
            $t::$v(x) => x,
            #[allow(unreachable_patterns)]
            _ => unreachable!(),
        }))
    };
    (@schema $t:ident :: $v:ident { $($f:ident)* }) => {
        $crate::json::Variant::Struct(&$crate::json::Schema::Struct(&[
            $( (stringify!($f), $crate::json::schema_of(|e: &$t| match e {
                $t::$v { $f, .. } => $f,
                #[allow(unreachable_patterns)]
                _ => unreachable!(),
            })), )*
        ]))
    };
    (@pattern $c:ident $name:literal) => { ($name, None) };
    (@pattern $c:ident $name:literal $($rest:tt)+) => { ($name, Some($c)) };
    (@build $c:ident, $($p:ident)::+) => { Ok($($p)::+) };
    (@build $c:ident, $($p:ident)::+ ($new:tt)) => {
        Ok($($p)::+($crate::json::FromJson::from_json($c)?))
    };
    (@build $c:ident, $($p:ident)::+ { $($f:ident $(: $default:ident)?),* }) => {{
        #[allow(unused_mut, unused_variables)]
        let mut fields = $crate::json::Fields::of($c)?;
        Ok($($p)::+ {
            $( $f: $crate::json_struct!(@take fields, $f $(, $default)?)?, )*
        })
    }};
}

// The types of the contracts' messages that live in this package's modules or its dependencies.

json_struct!(cw20::Cw20ReceiveMsg {
    sender,
    amount,
    msg
});
json_struct!(crate::Attribute { key, value });
json_struct!(crate::SignedBy { all_of, any_of });
json_struct!(crate::PlacementRequirements {
    signed_by,
    attributes
});
json_struct!(crate::Cpu { units, attributes });
json_struct!(crate::Memory { size, attributes });
json_struct!(crate::StorageVolume {
    name,
    size,
    attributes
});
json_struct!(crate::Gpu { units, attributes });
json_enum!(EndpointKind {
    "shared_http" => SharedHttp,
    "random_port" => RandomPort,
    "leased_ip" => LeasedIp,
});
json_struct!(crate::Endpoint {
    kind,
    sequence_number
});
json_struct!(crate::Resources {
    id,
    cpu,
    memory,
    storage,
    gpu,
    endpoints
});
json_struct!(crate::DecCoin { denom, amount });
json_struct!(crate::ResourceUnit {
    resources,
    count,
    price
});
json_struct!(crate::GroupSpec {
    name,
    requirements,
    resources
});
json_struct!(crate::DeploymentId { owner, dseq });
json_struct!(crate::GroupId { owner, dseq, gseq });
json_struct!(crate::OrderId {
    owner,
    dseq,
    gseq,
    oseq
});
json_struct!(crate::BidId {
    owner,
    dseq,
    gseq,
    oseq,
    provider
});
json_enum!(Denom {
    "native" => Native(_),
    "cw20" => Cw20(_),
});
json_struct!(crate::Asset { denom, amount });
json_enum!(EscrowCallback {
    "account_overdrawn" => AccountOverdrawn { deployment },
});

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::market::{ExecuteMsg, QueryMsg, ReceiveMsg};

    /// Decodes `json` both through [`Json`] and with the derived `Deserialize` on the chain's
    /// deserializer: they must agree on whether it is accepted and on the value. Returns whether
    /// it was accepted.
    fn agree<T: DeserializeOwned + FromJson + PartialEq + std::fmt::Debug>(json: &str) -> bool {
        let derived = cosmwasm_std::from_json::<T>(json.as_bytes());
        // The serde visitor (native entry points) and the reader (the wasm's) agree first.
        let visitor = cosmwasm_std::from_json::<Msg<T>>(json.as_bytes()).map(|m| m.0);
        let ours = T::parse(json.as_bytes());
        match (&visitor, &ours) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{json}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{json}: visitor {a:?}, reader {b:?}"),
        }
        match (derived, ours) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{json}");
                true
            }
            (Err(_), Err(_)) => false,
            (a, b) => panic!(
                "{json}: derived {:?}, kumo::json {:?}",
                a.map_err(|e| e.to_string()),
                b.map_err(|e| e.to_string())
            ),
        }
    }

    const BID: &str = r#"{"owner":"t","dseq":1,"gseq":2,"oseq":3,"provider":"p"}"#;
    const ORDER: &str = r#"{"owner":"t","dseq":1,"gseq":2,"oseq":3}"#;

    fn group(cpu_extra: &str) -> String {
        format!(
            r#"{{"name":"web","requirements":{{"signed_by":{{"all_of":["a"],"any_of":[]}},
            "attributes":[{{"key":"region","value":"eu"}}]}},"resources":[{{"resources":{{"id":1,
            "cpu":{{"units":500,"attributes":[]{cpu_extra}}},"memory":{{"size":"536870912",
            "attributes":[]}},"storage":[{{"name":"default","size":"1073741824","attributes":[]}}],
            "gpu":{{"units":0,"attributes":[]}},"endpoints":[{{"kind":"shared_http",
            "sequence_number":0}}]}},"count":2,"price":{{"denom":"ukumo","amount":"1.5"}}}}]}}"#
        )
    }

    #[test]
    fn execute_messages_decode_as_derived() {
        let deployment = |extra: &str| {
            format!(
                r#"{{"create_deployment":{{"groups":[{}],"version":"{}","auction_window":null,
                "reclamation_min_window":60{extra}}}}}"#,
                group(""),
                "ab".repeat(32)
            )
        };
        let accepted = [
            deployment(""),
            deployment(r#","provider_record":null"#),
            deployment(r#","provider_record":{"min_leases_completed":1,"max_slashes":2}"#),
            r#"{"update_deployment":{"dseq":5,"version":"00ff"}}"#.into(),
            r#" { "close_deployment" : { "dseq" : 18446744073709551615 } } "#.into(),
            r#"{"close_group":{"dseq":1,"gseq":4294967295}}"#.into(),
            r#"{"pause_group":{"gseq":2,"dseq":1}}"#.into(),
            format!(
                r#"{{"create_bid":{{"order":{ORDER},"price":"0.25","reclamation_window":null}}}}"#
            ),
            format!(
                r#"{{"create_bid":{{"order":{ORDER},"price":"1","reclamation_window":7,
                "offer":[{{"resource_id":1,"count":2}}]}}}}"#
            ),
            format!(r#"{{"close_bid":{{"bid":{BID}}}}}"#),
            format!(r#"{{"close_bid":{{"bid":{BID},"reason":null}}}}"#),
            format!(r#"{{"close_bid":{{"bid":{BID},"reason":"unstable"}}}}"#),
            format!(r#"{{"create_lease":{{"bid":{BID}}}}}"#),
            format!(r#"{{"close_auction":{{"order":{ORDER}}}}}"#),
            format!(r#"{{"start_reclaim":{{"lease":{BID},"reason":"provider_absent"}}}}"#),
            r#"{"close_absent_leases":{"provider":"p","limit":3}}"#.into(),
            format!(r#"{{"withdraw_lease":{{"lease":{BID}}}}}"#),
            r#"{"deposit":{"deployment":{"owner":"t","dseq":1}}}"#.into(),
            r#"{"receive":{"sender":"t","amount":"7","msg":"eyJhIjoxfQ=="}}"#.into(),
            r#"{"escrow_callback":{"account_overdrawn":{"deployment":{"owner":"t","dseq":1}}}}"#
                .into(),
            r#"{"update_config":{"owner":"o","staking":null}}"#.into(),
            r#"{"update_params":{"params":{"block_time_ms":6000,"order_max_bids":20,
            "bid_min_deposits":[{"denom":{"native":"ukumo"},"amount":"5"},
            {"denom":{"cw20":"token"},"amount":"0"}],"max_groups":20,
            "min_reclamation_window":1,"max_reclamation_window":2,"max_auction_window":3}}}"#
                .into(),
            r#"{"pause":{}}"#.into(),
            // Unknown fields are skipped (`cw_serde` does not deny them), whatever their value:
            // serde-json-wasm skips a scalar up to the next delimiter without parsing it.
            deployment(r#","unknown":1"#),
            deployment(r#","provider_record":{"min_leases_completed":1,"slashes":2}"#),
            format!(
                r#"{{"create_deployment":{{"groups":[{}],"version":"00"}}}}"#,
                group(r#","extra":[{"a":[1.5,"x"]}]"#)
            ),
            r#"{"close_deployment":{"dseq":5,"extra":null}}"#.into(),
            r#"{"close_deployment":{"memo":1.5e3,"dseq":5,"memo":"again"}}"#.into(),
            r#"{"close_deployment":{"dseq":5,"x":not json}}"#.into(),
            r#"{"pause":{"a":1}}"#.into(),
            r#"{"unpause":{}}"#.into(),
            r#"{"update_config":{"ow\u006eer":"\u006f\n"}}"#.into(),
        ];
        for json in &accepted {
            assert!(agree::<ExecuteMsg>(json), "{json}");
        }
        let rejected = [
            deployment("").replace(r#""units":500"#, r#""units":-500"#),
            deployment("").replace(r#""536870912""#, "536870912"),
            deployment("").replace(r#""shared_http""#, r#""SharedHttp""#),
            deployment("").replace(&"ab".repeat(32), "xyz"),
            deployment("").replace(r#""1.5""#, r#""1.5.5""#),
            r#"{"close_deployment":{"dseq":5,"dseq":5}}"#.into(),
            r#"{"close_deployment":{}}"#.into(),
            r#"{"close_deployment":{"dseq":-1}}"#.into(),
            r#"{"close_deployment":{"dseq":-0}}"#.into(),
            r#"{"close_deployment":{"dseq":"5"}}"#.into(),
            r#"{"close_deployment":{"dseq":1.5}}"#.into(),
            r#"{"close_deployment":{"dseq":1e3}}"#.into(),
            r#"{"close_deployment":{"dseq":null}}"#.into(),
            r#"{"close_deployment":{"dseq":18446744073709551616}}"#.into(),
            r#"{"close_deployment":[5]}"#.into(),
            r#"{"close_group":{"dseq":1,"gseq":4294967296}}"#.into(),
            format!(r#"{{"close_bid":{{"bid":{BID},"reason":"Owner"}}}}"#),
            format!(r#"{{"close_bid":{{"bid":{BID},"reason":{{"owner":{{}}}}}}}}"#),
            format!(r#"{{"close_bid":{{"bid":{BID},"reason":7}}}}"#),
            format!(r#"{{"create_bid":{{"order":{ORDER},"price":1,"reclamation_window":null}}}}"#),
            r#"{"receive":{"sender":"t","amount":7,"msg":""}}"#.into(),
            r#"{"receive":{"sender":"t","amount":"7","msg":"!!"}}"#.into(),
            r#"{"deposit":{"deployment":{"owner":5,"dseq":1}}}"#.into(),
            r#"{"update_params":{"params":{"block_time_ms":6000}}}"#.into(),
            r#""pause""#.into(),
            r#"{"pause":null}"#.into(),
            r#"{"pause":{},"unpause":{}}"#.into(),
            r#"{"Pause":{}}"#.into(),
            r#"{"nope":{}}"#.into(),
            r#"{}"#.into(),
            r#"[]"#.into(),
            r#"null"#.into(),
            r#"{"pause":{}} x"#.into(),
            r#"{"pause":{},}"#.into(),
        ];
        for json in &rejected {
            assert!(!agree::<ExecuteMsg>(json), "{json}");
        }
    }

    /// Every one-byte deletion, insertion and replacement of a set of messages: the reader, the
    /// serde visitor and the derived impls accept and reject the same ones, with the same values.
    #[test]
    fn mutated_messages_decode_as_derived() {
        let seeds = [
            format!(
                r#"{{"create_deployment":{{"groups":[{}],"version":"0a","auction_window":5}}}}"#,
                group(r#","x":[1,{"y":"z"}]"#)
            ),
            format!(r#"{{"close_bid":{{"bid":{BID},"reason":"unstable","memo":tru}}}}"#),
            r#"{"update_config":{"owner":"a\"b\\c\u00e9\ud83d\ude00","guardian":null}}"#.into(),
            r#"{"update_params":{"params":{"block_time_ms":6000,"order_max_bids":20,
            "bid_min_deposits":[{"denom":{"native":"u"},"amount":"5"}],"max_groups":2,
            "min_reclamation_window":1,"max_reclamation_window":2,"max_auction_window":3}}}"#
                .into(),
        ];
        let inserts = b" ,:[]{}\"\\n0-9eu";
        let mut checked = 0;
        for seed in &seeds {
            let bytes = seed.as_bytes();
            for i in 0..=bytes.len() {
                let mut variants = Vec::new();
                if i < bytes.len() {
                    let mut v = bytes.to_vec();
                    v.remove(i);
                    variants.push(v);
                }
                for c in inserts {
                    let mut v = bytes.to_vec();
                    v.insert(i, *c);
                    variants.push(v.clone());
                    if i < bytes.len() {
                        v.remove(i + 1);
                        variants.push(v);
                    }
                }
                for v in variants {
                    if let Ok(json) = String::from_utf8(v) {
                        agree::<ExecuteMsg>(&json);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn strings_decode_as_derived() {
        let cases = [
            r#"a"#,
            r#"\""#,
            r#"\\"#,
            r#"\/"#,
            r#"\b\f\n\r\t"#,
            r#"\u0041"#,
            r#"\u00e9"#,
            r#"\ud83d\ude00"#,
            r#"\ud83d"#,
            r#"\ude00"#,
            r#"\ud83dx"#,
            r#"\ud83d\n\ude00"#,
            r#"\ud83d\u0041\ude00"#,
            r#"\ud83d\ud83d"#,
            r#"\u12"#,
            r#"\u12G4"#,
            r#"\x"#,
            r#"\"#,
            "\u{1}",
            "\\n\u{1}",
            "é",
            r#"\\\""#,
            r#"\u0000"#,
            "\u{7f}",
        ];
        for case in cases {
            let json = format!(r#"{{"update_config":{{"owner":"{case}"}}}}"#);
            agree::<ExecuteMsg>(&json);
            let skipped = format!(r#"{{"update_config":{{"x":"{case}","owner":"o"}}}}"#);
            agree::<ExecuteMsg>(&skipped);
        }
        // Invalid UTF-8 is rejected by both, escaped or not.
        for bytes in [
            &b"{\"update_config\":{\"owner\":\"\xff\"}}"[..],
            b"{\"update_config\":{\"owner\":\"\\n\xff\"}}",
        ] {
            assert!(cosmwasm_std::from_json::<ExecuteMsg>(bytes).is_err());
            assert!(ExecuteMsg::parse(bytes).is_err());
        }
        // Nesting deeper than the limit is rejected by both.
        let deep = format!(
            r#"{{"pause":{{"x":{}{}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(!agree::<ExecuteMsg>(&deep));
        let ok = format!(
            r#"{{"pause":{{"x":{}{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(agree::<ExecuteMsg>(&ok));
    }

    #[test]
    fn escrow_messages_and_responses_as_derived() {
        use crate::escrow::*;
        use cosmwasm_std::{Addr, Decimal, Decimal256, Timestamp, Uint128};

        for json in [
            r#"{"config":{}}"#,
            r#"{"denoms":{}}"#,
            r#"{"account":{"id":{"bid":{"owner":"t","dseq":1,"gseq":1,"oseq":1,"provider":"p"}}}}"#,
            r#"{"payments":{"account":{"deployment":{"owner":"t","dseq":1}}}}"#,
            r#"{"allowance":{"granter":"g","grantee":"h","denom":{"cw20":"x"}}}"#,
            r#"{"allowances":{"granter":"g","start_after":["h",{"native":"u"}],"limit":2}}"#,
            r#"{"allowances":{"granter":"g","start_after":["h"]}}"#,
            r#"{"allowances":{"granter":"g","start_after":["h",{"native":"u"},1]}}"#,
            r#"{"allowances":{"granter":"g","start_after":null}}"#,
        ] {
            agree::<QueryMsg>(json);
        }
        for json in [
            r#"{"owner":"o","market":null,"treasury":"t","guardian":"g","params":null,
            "denoms":[{"denom":{"native":"u"},"min_deposit":"5","take_rate":"0.02"}]}"#,
            r#"{"owner":"o","treasury":"t","denoms":[]}"#,
            r#"{"owner":"o","treasury":"t"}"#,
        ] {
            agree::<InstantiateMsg>(json);
        }
        let d = crate::DeploymentId::new(Addr::unchecked("t"), 1);
        let lease = d.group(1).order(1).bid(Addr::unchecked("p"));
        let account = AccountResponse {
            account: Account {
                id: AccountId::Deployment(d),
                owner: Addr::unchecked("t"),
                denom: Denom::Native("u".into()),
                state: AccountState::Overdrawn,
                balance: Decimal256::percent(1),
                rate: Decimal256::zero(),
                settled_at: Timestamp::from_seconds(3),
                transferred: Decimal256::one(),
                held: Uint128::new(7),
                depositors: vec![
                    Depositor {
                        owner: Addr::unchecked("a"),
                        source: DepositSource::Direct,
                        balance: Decimal256::one(),
                    },
                    Depositor {
                        owner: Addr::unchecked("b"),
                        source: DepositSource::Allowance {
                            grantee: Addr::unchecked("c"),
                        },
                        balance: Decimal256::zero(),
                    },
                ],
            },
            funded_until: Some(Timestamp::from_nanos(5)),
        };
        let payment = Payment {
            lease,
            account: account.account.id.clone(),
            payee: Addr::unchecked("p"),
            rate: Decimal256::percent(2),
            state: PaymentState::Closed,
            balance: Decimal256::zero(),
            withdrawn: Uint128::MAX,
            unsettled: Decimal256::one(),
        };
        let allowance = Allowance {
            granter: Addr::unchecked("g"),
            grantee: Addr::unchecked("h"),
            denom: Denom::Cw20(Addr::unchecked("x")),
            remaining: Uint128::one(),
            expires: None,
        };
        fn same(v: &(impl ToJson + serde::Serialize)) {
            assert_eq!(write(v).as_slice(), cosmwasm_std::to_json_vec(v).unwrap());
        }
        same(&account);
        same(&PaymentResponse {
            payment: payment.clone(),
        });
        same(&PaymentsResponse {
            payments: vec![payment.clone(), payment],
        });
        same(&AllowanceResponse {
            allowance: allowance.clone(),
        });
        same(&AllowancesResponse {
            allowances: vec![allowance],
        });
        same(&ConfigResponse {
            owner: Addr::unchecked("o"),
            market: None,
            treasury: Addr::unchecked("t"),
            guardian: Some(Addr::unchecked("g")),
            params: EscrowParams::default(),
            paused: true,
        });
        same(&DenomsResponse {
            denoms: vec![DenomConfig {
                denom: Denom::Native("u".into()),
                min_deposit: Uint128::new(5),
                take_rate: Decimal::percent(2),
            }],
        });
    }

    #[test]
    fn staking_messages_and_responses_as_derived() {
        use crate::staking::*;
        use cosmwasm_std::{Addr, Decimal, Timestamp, Uint128};

        for json in [
            r#"{"config":{}}"#,
            r#"{"provider":{"provider":"p"}}"#,
            r#"{"bid_eligibility":{"provider":"p","x":[1]}}"#,
            r#"{"compensation":{"provider":"p"}}"#,
            r#"{"dispute":{"id":18446744073709551615}}"#,
            r#"{"disputes":{}}"#,
            r#"{"disputes":{"start_after":3,"limit":null}}"#,
        ] {
            assert!(agree::<QueryMsg>(json), "{json}");
        }
        for json in [
            r#"{"disputes":{"start_after":null,"limit":4294967296}}"#,
            r#"{"dispute":{"id":"1"}}"#,
            r#"{"provider":{}}"#,
            r#""config""#,
        ] {
            assert!(!agree::<QueryMsg>(json), "{json}");
        }
        let params = r#"{"bond_denom":{"cw20":"x"},"min_bond":"1000","bond_ratio":"1.5",
            "bond_window":100,"unbonding_period":50,"max_unbonding_entries":2,
            "attendance_period":10,"grace_periods":3,"slash_fraction":"0.1",
            "reporter_share":"0.1","compensation_share":"0.5","jail_duration":1000,
            "dispute_deposit":"100","dispute_timeout":500}"#;
        for json in [
            format!(
                r#"{{"owner":"o","market":null,"treasury":"t","arbiter":"a","params":{params}}}"#
            ),
            format!(r#"{{"owner":"o","treasury":"t","params":{params}}}"#),
        ] {
            assert!(agree::<InstantiateMsg>(&json), "{json}");
        }
        assert!(!agree::<InstantiateMsg>(r#"{"owner":"o","treasury":"t"}"#));
        for json in [
            r#"{"bond":{}}"#.to_string(),
            r#"{"unbond":{"amount":"5"}}"#.into(),
            format!(r#"{{"open_dispute":{{"lease":{BID},"evidence":"e\n"}}}}"#),
            r#"{"resolve_dispute":{"id":1,"slash":true}}"#.into(),
            r#"{"receive":{"sender":"s","amount":"7","msg":"eyJib25kIjp7fX0="}}"#.into(),
            format!(r#"{{"update_config":{{"arbiter":"a","params":{params}}}}}"#),
            r#"{"update_config":{}}"#.into(),
        ] {
            assert!(agree::<ExecuteMsg>(&json), "{json}");
        }
        for json in [
            r#"{"unbond":{"amount":5}}"#,
            r#"{"resolve_dispute":{"id":1,"slash":"true"}}"#,
            r#"{"update_config":{"params":{"bond_window":1}}}"#,
            r#"{"bond":{}} {}"#,
        ] {
            assert!(!agree::<ExecuteMsg>(json), "{json}");
        }
        for json in [
            r#"{"bond":{}}"#.to_string(),
            format!(r#"{{"open_dispute":{{"lease":{BID},"evidence":""}}}}"#),
        ] {
            assert!(agree::<ReceiveMsg>(&json), "{json}");
        }
        assert!(!agree::<ReceiveMsg>(r#"{"heartbeat":{}}"#));
        let params = StakingParams {
            bond_denom: Denom::Native("u".into()),
            min_bond: Uint128::new(1_000),
            bond_ratio: Decimal::percent(150),
            bond_window: 100,
            unbonding_period: 50,
            max_unbonding_entries: 2,
            attendance_period: 10,
            grace_periods: 3,
            slash_fraction: Decimal::percent(10),
            reporter_share: Decimal::percent(10),
            compensation_share: Decimal::percent(50),
            jail_duration: 1_000,
            dispute_deposit: Uint128::new(100),
            dispute_timeout: 500,
        };
        let bond = ProviderBond {
            provider: Addr::unchecked("p"),
            bonded: Uint128::MAX,
            unbonding: vec![UnbondingEntry {
                amount: Uint128::one(),
                release_at: Timestamp::from_seconds(9),
            }],
            last_heartbeat: Timestamp::from_nanos(1),
            jailed_until: Some(Timestamp::from_seconds(2)),
            reputation: Reputation {
                slashes: 1,
                absences: 2,
                disputes_lost: 3,
                disputes_dismissed: u64::MAX,
            },
        };
        let lease = crate::DeploymentId::new(Addr::unchecked("t"), 1)
            .group(1)
            .order(1)
            .bid(Addr::unchecked("p"));
        let dispute = |state, answer| Dispute {
            id: 7,
            lease: lease.clone(),
            tenant: Addr::unchecked("t"),
            provider: Addr::unchecked("p"),
            evidence: "down \"all\" day\n".into(),
            answer,
            deposit: Uint128::new(100),
            state,
            opened_at: Timestamp::from_seconds(1),
            deadline: Timestamp::from_seconds(501),
        };
        fn same(v: &(impl ToJson + serde::Serialize)) {
            assert_eq!(write(v).as_slice(), cosmwasm_std::to_json_vec(v).unwrap());
        }
        same(&ConfigResponse {
            owner: Addr::unchecked("o"),
            market: None,
            treasury: Addr::unchecked("t"),
            arbiter: Addr::unchecked("a"),
            params: params.clone(),
        });
        same(&ConfigResponse {
            market: Some(Addr::unchecked("m")),
            params: StakingParams {
                bond_denom: Denom::Cw20(Addr::unchecked("x")),
                ..params
            },
            owner: Addr::unchecked("o"),
            treasury: Addr::unchecked("t"),
            arbiter: Addr::unchecked("a"),
        });
        same(&ProviderBondResponse {
            bond: bond.clone(),
            required: Uint128::new(5),
        });
        same(&BidEligibilityResponse {
            eligible: false,
            reason: Some("jailed".into()),
            reputation: bond.reputation.clone(),
        });
        same(&BidEligibilityResponse {
            eligible: true,
            reason: None,
            reputation: Reputation::default(),
        });
        same(&CompensationPoolResponse { pool: None });
        same(&CompensationPoolResponse {
            pool: Some(CompensationPool {
                provider: Addr::unchecked("p"),
                remaining: Uint128::new(3),
                per_lease: Uint128::one(),
                leases_left: 2,
            }),
        });
        same(&DisputeResponse {
            dispute: dispute(DisputeState::Open, None),
        });
        same(&DisputesResponse {
            disputes: vec![
                dispute(DisputeState::Upheld, Some("no".into())),
                dispute(DisputeState::Dismissed, None),
                dispute(DisputeState::Expired, Some(String::new())),
            ],
        });
        same(&DisputesResponse { disputes: vec![] });
    }

    #[test]
    fn registry_messages_and_responses_as_derived() {
        use crate::registry::*;
        use crate::Attribute;
        use cosmwasm_std::{Addr, Binary, HexBinary, Timestamp};

        for json in [
            r#"{"config":{}}"#,
            r#"{"provider":{"address":"p"}}"#,
            r#"{"providers":{}}"#,
            r#"{"providers":{"start_after":"p","limit":3}}"#,
            r#"{"audited_attributes":{"provider":"p","auditor":"a"}}"#,
            r#"{"provider_audits":{"provider":"p","start_after":"a","limit":null}}"#,
            r#"{"match_info":{"provider":"p","auditors":["a","b"]}}"#,
            r#"{"match_info":{"provider":"p","auditors":[]}}"#,
        ] {
            assert!(agree::<QueryMsg>(json), "{json}");
        }
        for json in [
            r#"{"providers":{"start_after":null,"limit":-1}}"#,
            r#"{"audited_attributes":{"provider":"p"}}"#,
            r#"{"match_info":{"provider":"p","auditors":"a"}}"#,
            r#"{"provider":{"provider":"p"}}"#,
        ] {
            assert!(!agree::<QueryMsg>(json), "{json}");
        }
        for json in [
            r#"{"owner":"o","market":null,"limits":null}"#,
            r#"{"owner":"o"}"#,
            r#"{"owner":"o","market":"m","limits":{"max_provider_attributes":24,
            "max_audited_attributes":64,"max_auditors_per_provider":32,
            "max_attribute_value_len":64,"max_api_keys":3,"max_tls_pins":8,"max_text_len":256}}"#,
        ] {
            assert!(agree::<InstantiateMsg>(json), "{json}");
        }
        assert!(!agree::<InstantiateMsg>(
            r#"{"owner":"o","limits":{"max_provider_attributes":24}}"#
        ));
        let attrs = r#"[{"key":"region","value":"eu"},{"key":"tier","value":"1"}]"#;
        for json in [
            format!(
                r#"{{"register_provider":{{"host_uri":"https://p","attributes":{attrs},
                "info":{{"email":"e","website":"w"}}}}}}"#
            ),
            r#"{"update_provider":{"host_uri":"h","attributes":[],"info":{"email":"","website":""},
            "x":1}}"#
                .into(),
            r#"{"begin_deregistration":{}}"#.into(),
            r#"{"cancel_deregistration":{}}"#.into(),
            r#"{"finish_deregistration":{}}"#.into(),
            r#"{"add_api_key":{"key":{"id":"k1","algorithm":"es256k","public_key":"AAEC"}}}"#
                .into(),
            r#"{"add_api_key":{"key":{"id":"k1","algorithm":"ed25519","public_key":"AAEC"}}}"#
                .into(),
            r#"{"revoke_api_key":{"id":"k1"}}"#.into(),
            format!(
                r#"{{"set_tls_pins":{{"pins":["{}","00"]}}}}"#,
                "ab".repeat(32)
            ),
            format!(r#"{{"sign_attributes":{{"provider":"p","attributes":{attrs}}}}}"#),
            r#"{"delete_attributes":{"provider":"p","keys":["region"]}}"#.into(),
            r#"{"update_config":{"owner":null,"market":"m","limits":{"max_provider_attributes":1,
            "max_audited_attributes":1,"max_auditors_per_provider":1,"max_attribute_value_len":1,
            "max_api_keys":1,"max_tls_pins":1,"max_text_len":1}}}"#
                .into(),
            r#"{"update_config":{}}"#.into(),
        ] {
            assert!(agree::<ExecuteMsg>(&json), "{json}");
        }
        for json in [
            r#"{"add_api_key":{"key":{"id":"k1","algorithm":"Es256k","public_key":"AAEC"}}}"#,
            r#"{"add_api_key":{"key":{"id":"k1","algorithm":"ed25519","public_key":"!"}}}"#,
            r#"{"set_tls_pins":{"pins":["0"]}}"#,
            r#"{"delete_attributes":{"provider":"p"}}"#,
            r#"{"update_provider":{"host_uri":"h","attributes":[],"info":{"email":"e"}}}"#,
        ] {
            assert!(!agree::<ExecuteMsg>(json), "{json}");
        }
        assert!(agree::<MigrateMsg>("{}"));
        assert!(!agree::<MigrateMsg>("[]"));
        let key = |revoked_at| ApiKey {
            id: "k\"1".into(),
            algorithm: KeyAlgorithm::Es256k,
            public_key: Binary::from(vec![2u8; 33]),
            added_at: Timestamp::from_seconds(4),
            revoked_at,
        };
        let provider = Provider {
            owner: Addr::unchecked("p"),
            host_uri: "https://p:8443".into(),
            attributes: vec![Attribute::new("region", "eu"), Attribute::new("t", "é\t")],
            info: ProviderInfo {
                email: "e@p".into(),
                website: String::new(),
            },
            status: ProviderStatus::Deregistering {
                since: Timestamp::from_nanos(12),
            },
            api_keys: vec![
                key(None),
                ApiKey {
                    algorithm: KeyAlgorithm::Ed25519,
                    ..key(Some(Timestamp::from_seconds(5)))
                },
            ],
            tls_pins: vec![HexBinary::from(vec![0xab; 32]), HexBinary::from(vec![])],
            registered_at: Timestamp::from_seconds(3),
        };
        let audited = AuditedAttributes {
            provider: Addr::unchecked("p"),
            auditor: Addr::unchecked("a"),
            attributes: vec![Attribute::new("tier", "1")],
        };
        fn same(v: &(impl ToJson + serde::Serialize)) {
            assert_eq!(write(v).as_slice(), cosmwasm_std::to_json_vec(v).unwrap());
        }
        same(&ConfigResponse {
            owner: Addr::unchecked("o"),
            market: Some(Addr::unchecked("m")),
            limits: RegistryLimits::default(),
        });
        same(&ConfigResponse {
            owner: Addr::unchecked("o"),
            market: None,
            limits: RegistryLimits::default(),
        });
        same(&ProviderResponse {
            provider: provider.clone(),
        });
        same(&ProvidersResponse {
            providers: vec![
                Provider {
                    status: ProviderStatus::Active,
                    api_keys: vec![],
                    ..provider.clone()
                },
                provider.clone(),
            ],
        });
        same(&AuditedAttributesResponse {
            audited: audited.clone(),
        });
        same(&AuditedAttributesListResponse {
            audits: vec![audited.clone(), audited.clone()],
        });
        same(&MatchInfoResponse {
            provider: None,
            audits: vec![],
        });
        same(&MatchInfoResponse {
            provider: Some(provider),
            audits: vec![audited],
        });
    }

    #[test]
    fn queries_and_cw20_messages_decode_as_derived() {
        for json in [
            r#"{"config":{}}"#.to_string(),
            r#"{"deployment":{"id":{"owner":"t","dseq":1}}}"#.into(),
            r#"{"deployments":{"owner":"t"}}"#.into(),
            r#"{"deployments":{"owner":"t","start_after":3,"limit":null}}"#.into(),
            r#"{"group":{"id":{"owner":"t","dseq":1,"gseq":1}}}"#.into(),
            format!(r#"{{"order":{{"id":{ORDER}}}}}"#),
            format!(r#"{{"open_orders":{{"start_after":{ORDER},"limit":5}}}}"#),
            r#"{"open_orders":{}}"#.into(),
            format!(r#"{{"bid":{{"id":{BID}}}}}"#),
            format!(r#"{{"bids":{{"order":{ORDER},"start_after":"p"}}}}"#),
            format!(r#"{{"provider_bids":{{"provider":"p","start_after":{BID}}}}}"#),
            format!(r#"{{"lease":{{"id":{BID}}}}}"#),
            r#"{"owner_leases":{"owner":"t","limit":1}}"#.into(),
            r#"{"provider_leases":{"provider":"p"}}"#.into(),
            r#"{"provider_stats":{"provider":"p"}}"#.into(),
        ] {
            assert!(agree::<QueryMsg>(&json), "{json}");
        }
        assert!(agree::<QueryMsg>(r#"{"config":{"x":1}}"#));
        assert!(agree::<QueryMsg>(
            r#"{"provider_stats":{"provider":"p","owner":"t"}}"#
        ));
        for json in [
            r#""config""#,
            r#"{"deployments":{}}"#,
            r#"{"bids":{"order":{"owner":"t","dseq":1,"gseq":2}}}"#,
        ] {
            assert!(!agree::<QueryMsg>(json), "{json}");
        }
        assert!(agree::<ReceiveMsg>(
            r#"{"deposit":{"deployment":{"owner":"t","dseq":1}}}"#
        ));
        assert!(!agree::<ReceiveMsg>(r#"{"pause":{}}"#));
    }

    #[test]
    fn responses_are_written_as_derived() {
        use crate::market::*;
        use crate::Asset;
        use cosmwasm_std::{Addr, Decimal256, HexBinary, Timestamp, Uint128};

        let group = format!(r#"{{"groups":[{}],"version":"00"}}"#, group(""));
        let spec = crate::market::NewDeployment::parse(group.as_bytes())
            .unwrap()
            .groups;
        let id = crate::DeploymentId::new(Addr::unchecked("t\"\\\u{1}\u{1f}\n\té\u{7f}"), 7);
        let response = DeploymentResponse {
            deployment: Deployment {
                id: id.clone(),
                state: DeploymentState::Active,
                version: HexBinary::from(vec![0, 255]),
                denom: Denom::Cw20(Addr::unchecked("token")),
                groups: 1,
                auction_window: None,
                reclamation_min_window: Some(u64::MAX),
                provider_record: Some(RecordRequirement::default()),
                created_at: Timestamp::from_nanos(1_234),
            },
            groups: vec![Group {
                id: id.group(1),
                state: GroupState::InsufficientFunds,
                spec: spec[0].clone(),
                price: Decimal256::percent(150),
                last_oseq: u32::MAX,
                created_at: Timestamp::from_seconds(5),
            }],
        };
        assert_eq!(
            write(&response).as_slice(),
            cosmwasm_std::to_json_vec(&response).unwrap()
        );
        let stats = ProviderStatsResponse {
            lease_rates: vec![(Denom::Native("u".into()), Decimal256::one())],
            bid_deposits: vec![(Denom::Native("u".into()), Uint128::MAX)],
            ..Default::default()
        };
        assert_eq!(
            write(&stats).as_slice(),
            cosmwasm_std::to_json_vec(&stats).unwrap()
        );
        let bid = Bid {
            id: id.group(1).order(2).bid(Addr::unchecked("p")),
            seq: 0,
            state: BidState::Lost,
            price: Decimal256::zero(),
            deposit: Asset {
                denom: Denom::Native("u".into()),
                amount: Uint128::zero(),
            },
            reclamation_window: None,
            created_at: Timestamp::default(),
        };
        let bids = BidsResponse { bids: vec![bid] };
        assert_eq!(
            write(&bids).as_slice(),
            cosmwasm_std::to_json_vec(&bids).unwrap()
        );
    }

    #[test]
    fn market_calls_are_written_as_the_execute_messages() {
        use crate::escrow::{self, AccountId};
        use cosmwasm_std::{Addr, Decimal256, Timestamp};

        let d = crate::DeploymentId::new(Addr::unchecked("t"), 1);
        let lease = d.group(1).order(1).bid(Addr::unchecked("p"));
        let id = AccountId::Deployment(d);
        let pairs = [
            (
                escrow::MarketCall::OpenAccount {
                    id: id.clone(),
                    owner: "t".into(),
                    depositor: "d\"".into(),
                },
                escrow::ExecuteMsg::OpenAccount {
                    id: id.clone(),
                    owner: "t".into(),
                    depositor: "d\"".into(),
                },
            ),
            (
                escrow::MarketCall::OpenPayment {
                    account: id.clone(),
                    lease: lease.clone(),
                    payee: "p".into(),
                    rate: Decimal256::percent(3),
                },
                escrow::ExecuteMsg::OpenPayment {
                    account: id.clone(),
                    lease: lease.clone(),
                    payee: "p".into(),
                    rate: Decimal256::percent(3),
                },
            ),
            (
                escrow::MarketCall::ClosePayment {
                    lease: lease.clone(),
                    refund_since: Some(Timestamp::from_nanos(9)),
                },
                escrow::ExecuteMsg::ClosePayment {
                    lease: lease.clone(),
                    refund_since: Some(Timestamp::from_nanos(9)),
                },
            ),
            (
                escrow::MarketCall::ClosePayment {
                    lease: lease.clone(),
                    refund_since: None,
                },
                escrow::ExecuteMsg::ClosePayment {
                    lease: lease.clone(),
                    refund_since: None,
                },
            ),
            (
                escrow::MarketCall::CloseAccount { id: id.clone() },
                escrow::ExecuteMsg::CloseAccount { id: id.clone() },
            ),
            (
                escrow::MarketCall::Deposit {
                    id: id.clone(),
                    depositor: Some("x".into()),
                },
                escrow::ExecuteMsg::Deposit {
                    id,
                    depositor: Some("x".into()),
                },
            ),
            (
                escrow::MarketCall::Withdraw {
                    lease: lease.clone(),
                },
                escrow::ExecuteMsg::Withdraw { lease },
            ),
        ];
        for (call, msg) in &pairs {
            assert_eq!(
                write(call).as_slice(),
                cosmwasm_std::to_json_vec(msg).unwrap()
            );
        }
        let call = crate::staking::MarketCall::CompensateTenant {
            provider: "p".into(),
            tenant: "t".into(),
        };
        let msg = crate::staking::ExecuteMsg::CompensateTenant {
            provider: "p".into(),
            tenant: "t".into(),
        };
        assert_eq!(
            write(&call).as_slice(),
            cosmwasm_std::to_json_vec(&msg).unwrap()
        );
    }

    #[test]
    fn sent_messages_are_written_as_derived() {
        use crate::escrow::{self, AccountId};
        use cosmwasm_std::{Addr, Decimal, Decimal256, Timestamp};

        let d = crate::DeploymentId::new(Addr::unchecked("t"), 1);
        let bid = d.group(1).order(1).bid(Addr::unchecked("p"));
        let escrow_msgs = [
            escrow::ExecuteMsg::OpenAccount {
                id: AccountId::Deployment(d.clone()),
                owner: "t".into(),
                depositor: "d\"".into(),
            },
            escrow::ExecuteMsg::OpenPayment {
                account: AccountId::Bid(bid.clone()),
                lease: bid.clone(),
                payee: "p".into(),
                rate: Decimal256::percent(3),
            },
            escrow::ExecuteMsg::ClosePayment {
                lease: bid.clone(),
                refund_since: Some(Timestamp::from_nanos(9)),
            },
            escrow::ExecuteMsg::ClosePayment {
                lease: bid.clone(),
                refund_since: None,
            },
            escrow::ExecuteMsg::CloseAccount {
                id: AccountId::Deployment(d.clone()),
            },
            escrow::ExecuteMsg::Deposit {
                id: AccountId::Deployment(d.clone()),
                depositor: None,
            },
            escrow::ExecuteMsg::Withdraw { lease: bid.clone() },
            escrow::ExecuteMsg::UpdateConfig {
                owner: None,
                market: Some("m".into()),
                treasury: None,
                guardian: None,
                params: Some(escrow::EscrowParams::default()),
            },
            escrow::ExecuteMsg::SetDenom {
                config: escrow::DenomConfig {
                    denom: Denom::Native("u".into()),
                    min_deposit: 5u128.into(),
                    take_rate: Decimal::percent(2),
                },
            },
            escrow::ExecuteMsg::Pause {},
        ];
        for msg in &escrow_msgs {
            assert_eq!(
                write(msg).as_slice(),
                cosmwasm_std::to_json_vec(msg).unwrap()
            );
        }
        let receive = escrow::ReceiveMsg::Deposit {
            id: AccountId::Bid(bid),
            depositor: Some("x".into()),
        };
        assert_eq!(
            write(&receive).as_slice(),
            cosmwasm_std::to_json_vec(&receive).unwrap()
        );
        let compensate = crate::staking::ExecuteMsg::CompensateTenant {
            provider: "p".into(),
            tenant: "t".into(),
        };
        assert_eq!(
            write(&compensate).as_slice(),
            cosmwasm_std::to_json_vec(&compensate).unwrap()
        );
    }

    #[test]
    fn cw20_messages_are_written_as_derived() {
        use cosmwasm_std::{to_json_vec, Addr, Binary, Uint128};
        use cw20::Cw20ExecuteMsg;

        let to = Addr::unchecked("kumo1\"to\\");
        let amount = Uint128::new(u128::MAX);
        let inner = Binary::from(b"{\"x\":1}".as_slice());
        let derived = Cw20ExecuteMsg::Send {
            contract: to.to_string(),
            amount,
            msg: inner.clone(),
        };
        assert_eq!(
            cw20_send(&to, amount, inner).as_slice(),
            to_json_vec(&derived).unwrap()
        );
        let derived = Cw20ExecuteMsg::Transfer {
            recipient: to.to_string(),
            amount,
        };
        assert_eq!(
            cw20_transfer(&to, amount).as_slice(),
            to_json_vec(&derived).unwrap()
        );
    }
}
