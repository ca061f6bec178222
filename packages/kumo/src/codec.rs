//! A compact binary encoding for stored records, and maps that store them.
//!
//! Why not serde-JSON: SDK gas charges 30 per byte written and 3 per byte read, and every
//! `#[derive(Deserialize)]` type a contract reads costs it a few KB of wasm (a map visitor with
//! field-name matching per type). Records here are written field after field, in declaration
//! order, with no names: integers as LEB128 varints, strings and lists with a varint length,
//! options with a 0/1 tag, enums by index. The writer and every reader of a layout share one
//! `Encode`/`Decode` implementation (the raw layouts other contracts read are declared in this
//! package), so the order of fields is the only contract between them. A field may be appended
//! to a record only as an option decoded as `None` at the end of the input ([`Reader::rest`]).

use cosmwasm_std::{
    Addr, CustomQuery, Decimal, Decimal256, HexBinary, Order, QuerierWrapper, Storage, Timestamp,
    Uint128, Uint256, Uint64,
};
use cw_storage_plus::{Key, Map, Prefixer, PrimaryKey, RawBound};

use crate::error::{Error, Result};

/// Appends a value's binary form to `out`.
pub trait Encode {
    fn encode(&self, out: &mut Vec<u8>);

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Reads a value back from its binary form.
pub trait Decode: Sized {
    fn decode(r: &mut Reader) -> DecodeResult<Self>;

    /// The value at the start of `bytes`; trailing bytes (fields a reader skips) are ignored.
    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self::decode(&mut Reader { buf: bytes })?)
    }
}

/// The unread rest of an encoded record.
pub struct Reader<'a> {
    buf: &'a [u8],
}

/// Why a stored record does not decode. Small (one pointer, which every field's `?` moves): it
/// becomes an [`Error`] in [`Decode::from_bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

pub type DecodeResult<T> = std::result::Result<T, Malformed>;

impl From<Malformed> for Error {
    fn from(e: Malformed) -> Self {
        Error::Malformed(e.0)
    }
}

fn truncated() -> Malformed {
    Malformed("stored record: truncated or malformed")
}

impl<'a> Reader<'a> {
    pub fn byte(&mut self) -> DecodeResult<u8> {
        let (&b, rest) = self.buf.split_first().ok_or_else(truncated)?;
        self.buf = rest;
        Ok(b)
    }

    pub fn bytes(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if self.buf.len() < n {
            return Err(truncated());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A LEB128 varint of at most 128 bits.
    pub fn varint(&mut self) -> DecodeResult<u128> {
        let mut value = 0u128;
        // At most 19 bytes of 7 bits hold 128 bits: bounded.
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            value |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(truncated())
    }

    /// Whether the record ends here (fields appended later decode as absent).
    pub fn rest(&self) -> bool {
        !self.buf.is_empty()
    }
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

macro_rules! varint_int {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                put_varint(out, u128::from(*self));
            }
        }
        impl Decode for $t {
            fn decode(r: &mut Reader) -> DecodeResult<Self> {
                <$t>::try_from(r.varint()?).map_err(|_| truncated())
            }
        }
    )*};
}
varint_int!(u8, u32, u64, u128);

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(r.byte()? != 0)
    }
}

impl Encode for [u8] {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.len() as u128);
        out.extend_from_slice(self);
    }
}

impl Encode for str {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_bytes().encode(out)
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_str().encode(out)
    }
}

impl Decode for String {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        let n = usize::try_from(r.varint()?).map_err(|_| truncated())?;
        String::from_utf8(r.bytes(n)?.to_vec()).map_err(|_| truncated())
    }
}

impl Encode for Addr {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_str().encode(out)
    }
}

impl Decode for Addr {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        // Only addresses the contract validated before storing them are read back.
        Ok(Addr::unchecked(String::decode(r)?))
    }
}

impl Encode for HexBinary {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_slice().encode(out)
    }
}

impl Decode for HexBinary {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        let n = usize::try_from(r.varint()?).map_err(|_| truncated())?;
        Ok(HexBinary::from(r.bytes(n)?))
    }
}

impl Encode for cosmwasm_std::Binary {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_slice().encode(out)
    }
}

impl Decode for cosmwasm_std::Binary {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(HexBinary::decode(r)?.to_vec().into())
    }
}

impl Encode for Uint128 {
    fn encode(&self, out: &mut Vec<u8>) {
        self.u128().encode(out)
    }
}

impl Decode for Uint128 {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(Uint128::new(u128::decode(r)?))
    }
}

impl Encode for Uint64 {
    fn encode(&self, out: &mut Vec<u8>) {
        self.u64().encode(out)
    }
}

impl Decode for Uint64 {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(Uint64::new(u64::decode(r)?))
    }
}

/// Big-endian without leading zero bytes, after a length byte: prices are mostly far below
/// 2^128 atomics.
impl Encode for Decimal256 {
    fn encode(&self, out: &mut Vec<u8>) {
        let be = self.atomics().to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push((32 - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
}

impl Decode for Decimal256 {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        let n = usize::from(r.byte()?);
        if n > 32 {
            return Err(truncated());
        }
        let mut be = [0u8; 32];
        be[32 - n..].copy_from_slice(r.bytes(n)?);
        Ok(Decimal256::new(Uint256::from_be_bytes(be)))
    }
}

impl Encode for Decimal {
    fn encode(&self, out: &mut Vec<u8>) {
        self.atomics().encode(out)
    }
}

impl Decode for Decimal {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(Decimal::new(Uint128::decode(r)?))
    }
}

impl Encode for Timestamp {
    fn encode(&self, out: &mut Vec<u8>) {
        self.nanos().encode(out)
    }
}

impl Decode for Timestamp {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(Timestamp::from_nanos(u64::decode(r)?))
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(match r.byte()? {
            0 => None,
            _ => Some(T::decode(r)?),
        })
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.len() as u128);
        for v in self {
            v.encode(out);
        }
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        let n = r.varint()?;
        // Each element takes at least one byte: a corrupt length cannot allocate beyond the
        // input.
        if n > r.buf.len() as u128 {
            return Err(truncated());
        }
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(T::decode(r)?);
        }
        Ok(out)
    }
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
        self.1.encode(out);
    }
}

impl<A: Decode, B: Decode> Decode for (A, B) {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok((A::decode(r)?, B::decode(r)?))
    }
}

impl<A: Encode, B: Encode, C: Encode, D: Encode> Encode for (A, B, C, D) {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
        self.1.encode(out);
        self.2.encode(out);
        self.3.encode(out);
    }
}

impl<A: Decode, B: Decode, C: Decode, D: Decode> Decode for (A, B, C, D) {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok((A::decode(r)?, B::decode(r)?, C::decode(r)?, D::decode(r)?))
    }
}

/// Encodes a struct's fields in order, and decodes them back in the same order.
#[macro_export]
macro_rules! codec_struct {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl $crate::codec::Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                $( $crate::codec::Encode::encode(&self.$f, out); )*
            }
        }
        impl $crate::codec::Decode for $t {
            fn decode(r: &mut $crate::codec::Reader) -> $crate::codec::DecodeResult<Self> {
                Ok(Self { $( $f: $crate::codec::Decode::decode(r)?, )* })
            }
        }
    };
}

/// Encodes a field-less enum as the index of its variant.
#[macro_export]
macro_rules! codec_enum {
    ($t:ident { $($v:ident),* $(,)? }) => {
        impl $crate::codec::Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                let all = [$($t::$v),*];
                let i = all.iter().position(|v| v == self).unwrap_or_default();
                out.push(i as u8);
            }
        }
        impl $crate::codec::Decode for $t {
            fn decode(r: &mut $crate::codec::Reader) -> $crate::codec::DecodeResult<Self> {
                let all = [$($t::$v),*];
                all.get(usize::from(r.byte()?))
                    .copied()
                    .ok_or($crate::codec::Malformed("stored record: unknown variant"))
            }
        }
    };
}

/// A `cw-storage-plus` map whose values are stored in the binary form above: the same keys
/// (prefixes and ranges work as with `Map`), smaller values, and no JSON code per value type.
pub struct PackedMap<K, T> {
    map: Map<K, cosmwasm_std::Empty>,
    value: std::marker::PhantomData<T>,
}

impl<K, T> PackedMap<K, T> {
    pub const fn new(namespace: &'static str) -> Self {
        PackedMap {
            map: Map::new(namespace),
            value: std::marker::PhantomData,
        }
    }
}

/// A `cw-storage-plus` item stored in the binary form above.
pub struct PackedItem<T> {
    key: &'static str,
    value: std::marker::PhantomData<T>,
}

impl<T: Encode + Decode> PackedItem<T> {
    pub const fn new(key: &'static str) -> Self {
        PackedItem {
            key,
            value: std::marker::PhantomData,
        }
    }

    pub fn save(&self, store: &mut dyn Storage, value: &T) -> Result<()> {
        store.set(self.key.as_bytes(), &value.to_bytes());
        Ok(())
    }

    pub fn may_load(&self, store: &dyn Storage) -> Result<Option<T>> {
        store
            .get(self.key.as_bytes())
            .map(|v| T::from_bytes(&v))
            .transpose()
    }

    pub fn load(&self, store: &dyn Storage) -> Result<T> {
        self.may_load(store)?
            .ok_or(Error::NotFound(std::any::type_name::<T>()))
    }

    pub fn remove(&self, store: &mut dyn Storage) {
        store.remove(self.key.as_bytes())
    }

    /// A raw read of another contract's item.
    pub fn query<Q: CustomQuery>(
        &self,
        querier: &QuerierWrapper<Q>,
        contract: Addr,
    ) -> Result<Option<T>> {
        crate::entry::raw_query(querier, contract, self.key.as_bytes())?
            .map(|v| T::from_bytes(&v))
            .transpose()
    }
}

/// Storage prefix of the entries whose key starts with `parts`, as `cw-storage-plus` lays it
/// out: the namespace and each part, each after its 2-byte big-endian length.
fn prefix_bytes(namespace: &[u8], parts: &[Key]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in std::iter::once(namespace).chain(parts.iter().map(Key::as_ref)) {
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

impl<'a, K: PrimaryKey<'a>, T: Encode + Decode> PackedMap<K, T> {
    /// The entry's full storage key (what a raw query of the owning contract names).
    pub fn key(&self, k: K) -> Vec<u8> {
        self.map.key(k).to_vec()
    }

    pub fn save(&self, store: &mut dyn Storage, k: K, value: &T) -> Result<()> {
        store.set(&self.key(k), &value.to_bytes());
        Ok(())
    }

    pub fn remove(&self, store: &mut dyn Storage, k: K) {
        store.remove(&self.key(k))
    }

    pub fn has(&self, store: &dyn Storage, k: K) -> bool {
        store.get(&self.key(k)).is_some()
    }

    pub fn load(&self, store: &dyn Storage, k: K) -> Result<T> {
        self.may_load(store, k)?
            .ok_or(Error::NotFound(std::any::type_name::<T>()))
    }

    pub fn may_load(&self, store: &dyn Storage, k: K) -> Result<Option<T>> {
        store
            .get(&self.key(k))
            .map(|v| T::from_bytes(&v))
            .transpose()
    }

    /// A raw read of another contract's entry (one store read, no contract instance).
    pub fn query<Q: CustomQuery>(
        &self,
        querier: &QuerierWrapper<Q>,
        contract: Addr,
        k: K,
    ) -> Result<Option<T>> {
        crate::entry::raw_query(querier, contract, &self.key(k))?
            .map(|v| T::from_bytes(&v))
            .transpose()
    }

    /// The entries under prefix `p`, keyed by the rest of their key, from `start` (exclusive).
    pub fn prefix_range<'s>(
        &self,
        store: &'s dyn Storage,
        p: K::Prefix,
        start_after: Option<K::Suffix>,
        order: Order,
    ) -> impl Iterator<Item = Result<(<K::Suffix as KeyDecode>::Output, T)>> + 's
    where
        K::Suffix: PrimaryKey<'a> + KeyDecode,
    {
        self.range_under::<K::Suffix>(
            store,
            &p.prefix(),
            start_after.map(|s| s.joined_key()),
            order,
        )
    }

    /// All entries, from `start_after` (exclusive).
    pub fn range<'s>(
        &self,
        store: &'s dyn Storage,
        start_after: Option<K>,
        order: Order,
    ) -> impl Iterator<Item = Result<(K::Output, T)>> + 's
    where
        K: KeyDecode,
    {
        self.range_under::<K>(store, &[], start_after.map(|s| s.joined_key()), order)
    }

    /// As [`Self::prefix_range`], under the first part of the key only.
    pub fn sub_prefix_range<'s>(
        &self,
        store: &'s dyn Storage,
        p: K::SubPrefix,
        start_after: Option<K::SuperSuffix>,
        order: Order,
    ) -> impl Iterator<Item = Result<(<K::SuperSuffix as KeyDecode>::Output, T)>> + 's
    where
        K::SuperSuffix: PrimaryKey<'a> + KeyDecode,
    {
        self.range_under::<K::SuperSuffix>(
            store,
            &p.prefix(),
            start_after.map(|s| s.joined_key()),
            order,
        )
    }

    fn range_under<'s, S: KeyDecode>(
        &self,
        store: &'s dyn Storage,
        parts: &[Key],
        start_after: Option<Vec<u8>>,
        order: Order,
    ) -> impl Iterator<Item = Result<(S::Output, T)>> + 's {
        let prefix = prefix_bytes(self.map.namespace_bytes(), parts);
        let start = start_after.map(RawBound::Exclusive);
        let (start, end) = match order {
            Order::Ascending => (start, None),
            Order::Descending => (None, start),
        };
        cw_storage_plus::range_with_prefix(store, &prefix, start, end, order)
            .map(|(k, v)| Ok((S::decode_key(&k)?, T::from_bytes(&v)?)))
    }
}

/// A key read back from its storage bytes, as `cw-storage-plus`'s `KeyDeserialize` reads it
/// (the same layout and outputs), with an [`Error`] instead of a `StdError` when the bytes do
/// not decode.
pub trait KeyDecode {
    type Output;
    /// How many parts the key has (`KeyDeserialize::KEY_ELEMS`).
    const PARTS: u16;

    fn decode_key(bytes: &[u8]) -> Result<Self::Output>;
}

fn bad_key() -> Error {
    Error::Malformed("stored key: truncated or malformed")
}

impl KeyDecode for () {
    type Output = ();
    const PARTS: u16 = 0;

    fn decode_key(_: &[u8]) -> Result<()> {
        Ok(())
    }
}

impl KeyDecode for String {
    type Output = String;
    const PARTS: u16 = 1;

    fn decode_key(bytes: &[u8]) -> Result<String> {
        String::from_utf8(bytes.to_vec()).map_err(|_| bad_key())
    }
}

impl KeyDecode for Addr {
    type Output = Addr;
    const PARTS: u16 = 1;

    fn decode_key(bytes: &[u8]) -> Result<Addr> {
        String::decode_key(bytes).map(Addr::unchecked)
    }
}

impl<T: KeyDecode + ?Sized> KeyDecode for &T {
    type Output = T::Output;
    const PARTS: u16 = T::PARTS;

    fn decode_key(bytes: &[u8]) -> Result<T::Output> {
        T::decode_key(bytes)
    }
}

impl KeyDecode for str {
    type Output = String;
    const PARTS: u16 = 1;

    fn decode_key(bytes: &[u8]) -> Result<String> {
        String::decode_key(bytes)
    }
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl KeyDecode for $t {
            type Output = $t;
            const PARTS: u16 = 1;

            fn decode_key(bytes: &[u8]) -> Result<$t> {
                bytes.try_into().map(<$t>::from_be_bytes).map_err(|_| bad_key())
            }
        }
    )*};
}
int_key!(u8, u16, u32, u64, u128);

/// Splits the bytes of a key's first `parts` parts (each but the last of the whole key after
/// its 2-byte length; those lengths are kept when the first key itself has several parts) from
/// the rest, as `cw-storage-plus` does.
fn split_key(parts: u16, bytes: &[u8]) -> Result<(Vec<u8>, &[u8])> {
    let mut first = Vec::new();
    let mut rest = bytes;
    for i in 0..parts {
        let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(bad_key)?;
        let n = u16::from_be_bytes(*len) as usize;
        if i + 1 < parts {
            first.extend_from_slice(len);
        }
        let part = tail.get(..n).ok_or_else(bad_key)?;
        first.extend_from_slice(part);
        rest = &tail[n..];
    }
    Ok((first, rest))
}

impl<A: KeyDecode, B: KeyDecode> KeyDecode for (A, B) {
    type Output = (A::Output, B::Output);
    const PARTS: u16 = A::PARTS + B::PARTS;

    fn decode_key(bytes: &[u8]) -> Result<Self::Output> {
        let (a, b) = split_key(A::PARTS, bytes)?;
        Ok((A::decode_key(&a)?, B::decode_key(b)?))
    }
}

impl<A: KeyDecode, B: KeyDecode, C: KeyDecode> KeyDecode for (A, B, C) {
    type Output = (A::Output, B::Output, C::Output);
    const PARTS: u16 = A::PARTS + B::PARTS + C::PARTS;

    fn decode_key(bytes: &[u8]) -> Result<Self::Output> {
        let (a, rest) = split_key(A::PARTS, bytes)?;
        let (b, c) = split_key(B::PARTS, rest)?;
        Ok((A::decode_key(&a)?, B::decode_key(&b)?, C::decode_key(c)?))
    }
}

// The shared types stored records hold.

impl Encode for crate::Denom {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            crate::Denom::Native(d) => {
                out.push(0);
                d.encode(out);
            }
            crate::Denom::Cw20(a) => {
                out.push(1);
                a.encode(out);
            }
        }
    }
}

impl Decode for crate::Denom {
    fn decode(r: &mut Reader) -> DecodeResult<Self> {
        Ok(match r.byte()? {
            0 => crate::Denom::Native(String::decode(r)?),
            _ => crate::Denom::Cw20(Addr::decode(r)?),
        })
    }
}

codec_struct!(crate::Asset { denom, amount });
codec_struct!(crate::Attribute { key, value });
codec_struct!(crate::SignedBy { all_of, any_of });
codec_struct!(crate::PlacementRequirements {
    signed_by,
    attributes
});
codec_struct!(crate::Cpu { units, attributes });
codec_struct!(crate::Memory { size, attributes });
codec_struct!(crate::StorageVolume {
    name,
    size,
    attributes
});
codec_struct!(crate::Gpu { units, attributes });
use crate::EndpointKind;
codec_enum!(EndpointKind {
    SharedHttp,
    RandomPort,
    LeasedIp
});
codec_struct!(crate::Endpoint {
    kind,
    sequence_number
});
codec_struct!(crate::Resources {
    id,
    cpu,
    memory,
    storage,
    gpu,
    endpoints
});
codec_struct!(crate::DecCoin { denom, amount });
codec_struct!(crate::ResourceUnit {
    resources,
    count,
    price
});
codec_struct!(crate::GroupSpec {
    name,
    requirements,
    resources
});
codec_struct!(crate::BidId {
    owner,
    dseq,
    gseq,
    oseq,
    provider
});
codec_struct!(crate::DeploymentId { owner, dseq });

#[cfg(test)]
mod tests {
    use super::*;

    /// `KeyDecode` reads what `cw-storage-plus`'s `KeyDeserialize` reads, for the key shapes
    /// the contracts store, and rejects truncated keys without panicking.
    #[test]
    fn keys_decode_as_cw_storage_plus_reads_them() {
        use cw_storage_plus::KeyDeserialize;

        fn same<'a, K>(k: K)
        where
            K: PrimaryKey<'a> + KeyDecode + KeyDeserialize,
            <K as KeyDecode>::Output: PartialEq<<K as KeyDeserialize>::Output> + std::fmt::Debug,
            <K as KeyDeserialize>::Output: std::fmt::Debug,
        {
            let bytes = k.joined_key();
            let ours = <K as KeyDecode>::decode_key(&bytes).unwrap();
            let theirs = <K as KeyDeserialize>::from_vec(bytes.clone()).unwrap();
            assert_eq!(ours, theirs);
            for n in 0..bytes.len() {
                // Shorter keys: an error or another key, never a panic.
                let _ = <K as KeyDecode>::decode_key(&bytes[..n]);
            }
        }

        let a = Addr::unchecked("kumo1tenant");
        let p = Addr::unchecked("kumo1provider");
        same(7u64);
        same(u32::MAX);
        same(a.clone());
        same("denom".to_string());
        same((a.clone(), 9u64));
        same(((a.clone(), 9u64), (1u32, 2u32)));
        same(((a.clone(), 9u64), (1u32, 2u32), p.clone()));
        same((a.clone(), 9u64, (1u32, 2u32, p.clone())));
        same((p.clone(), ((a.clone(), 9u64), (1u32, 2u32))));
        same(("acct".to_string(), "lease".to_string()));
        same((a.clone(), p.clone(), "ukumo".to_string()));
        assert!(<(Addr, u64)>::decode_key(&[0, 9, b'x']).is_err());
        assert!(u64::decode_key(&[1, 2, 3]).is_err());
        assert!(String::decode_key(&[0xff]).is_err());
    }

    #[test]
    fn values_round_trip() {
        let price = Decimal256::new(Uint256::from(16_666_666_666_666_666_666u128));
        let v = (
            vec![(crate::Denom::Native("ukumo".into()), price)],
            (Some(Timestamp::from_seconds(1_700_000_000)), u64::MAX),
        );
        assert_eq!(
            <(Vec<(crate::Denom, Decimal256)>, (Option<Timestamp>, u64))>::from_bytes(
                &v.to_bytes()
            )
            .unwrap(),
            v
        );
        assert_eq!(
            Decimal256::from_bytes(&Decimal256::MAX.to_bytes()).unwrap(),
            Decimal256::MAX
        );
        assert_eq!(Decimal256::zero().to_bytes(), vec![0]);
        assert!(String::from_bytes(&[5, b'a']).is_err());
        assert!(Vec::<u8>::from_bytes(&[200, 1]).is_err());
    }
}
