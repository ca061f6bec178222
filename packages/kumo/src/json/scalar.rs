//! The scalars written as JSON strings (`Uint64`, `Uint128`, `Decimal`, `Decimal256`,
//! `HexBinary`, `Binary`), read and written without cosmwasm-std's parsers and formatters.
//!
//! Those build a `StdError` on failure (which links std's backtrace printer), and use the
//! `base64` crate and bnum's radix conversions; here a few loops over 64-bit limbs do the same.
//! What is accepted is exactly what cosmwasm-std 2.2 accepts, and what is written is exactly
//! what its `Serialize` impls write; the tests compare both with it.

use std::num::{NonZeroU128, NonZeroU64};

use cosmwasm_std::{Decimal, Decimal256, Uint256};

/// A 256-bit number as four 64-bit limbs, most significant first.
type Limbs = [u64; 4];

/// 10^18: a decimal's one, in atomics.
const ONE: NonZeroU64 = NonZeroU64::new(1_000_000_000_000_000_000).unwrap();

/// 10^19, the largest power of ten in a `u64`: numbers are printed 19 digits at a time.
const CHUNK: NonZeroU64 = NonZeroU64::new(10_000_000_000_000_000_000).unwrap();

/// An unsigned integer as cosmwasm-std reads one (`u64`/`u128::from_str`, and bnum's
/// `from_str_radix(_, 10)` for `Uint256`): an optional `+`, then one or more ASCII digits.
fn uint(s: &str) -> Option<Limbs> {
    let digits = s.strip_prefix('+').unwrap_or(s).as_bytes();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold([0; 4], |n, &c| {
        let digit = c.is_ascii_digit().then(|| u64::from(c - b'0'))?;
        mul_add(n, 10, digit)
    })
}

pub fn uint64(s: &str) -> Option<u64> {
    match uint(s)? {
        [0, 0, 0, n] => Some(n),
        _ => None,
    }
}

pub fn uint128(s: &str) -> Option<u128> {
    match uint(s)? {
        [0, 0, hi, lo] => Some(u128::from(hi) << 64 | u128::from(lo)),
        _ => None,
    }
}

/// A decimal's atomics (its value times 10^18), as `Decimal::from_str` and
/// `Decimal256::from_str` read them: a whole part read as an integer ([`uint`]), then optionally
/// a `.` and a fractional part of at most 18 bytes, also read as an integer and scaled by
/// 10^(18 - its length). So `1.` and `.5` are rejected, and a `+` after the `.` counts as a
/// leading zero (`1.+5` is 1.05), as there.
fn atomics(s: &str) -> Option<Limbs> {
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    let whole = uint(whole)?;
    let fraction = match fraction {
        None => 0,
        Some(f) => {
            let places = 18u32.checked_sub(u32::try_from(f.len()).ok()?)?;
            // Below 10^18: at most 18 digits.
            let [0, 0, 0, n] = uint(f)? else {
                return None;
            };
            n.checked_mul(10u64.checked_pow(places)?)?
        }
    };
    mul_add(whole, ONE.get(), fraction)
}

pub fn decimal(s: &str) -> Option<Decimal> {
    match atomics(s)? {
        [0, 0, hi, lo] => Some(Decimal::new((u128::from(hi) << 64 | u128::from(lo)).into())),
        _ => None,
    }
}

pub fn decimal256(s: &str) -> Option<Decimal256> {
    atomics(s).map(|n| Decimal256::new(from_limbs(n)))
}

/// `n * m + a`, or `None` if that does not fit in 256 bits.
fn mul_add(mut n: Limbs, m: u64, a: u64) -> Option<Limbs> {
    let mut carry = u128::from(a);
    for limb in n.iter_mut().rev() {
        // At most (2^64 - 1)^2 + 2^64 - 1 < 2^128.
        let v = u128::from(*limb) * u128::from(m) + carry;
        *limb = v as u64;
        carry = v >> 64;
    }
    (carry == 0).then_some(n)
}

/// Divides `n` by `d` in place; returns the remainder.
fn div_rem(n: &mut Limbs, d: NonZeroU64) -> u64 {
    let d = NonZeroU128::from(d);
    let mut rem = 0u128;
    for limb in n.iter_mut() {
        // `rem < d <= 2^64`, so the quotient fits in 64 bits.
        let v = rem << 64 | u128::from(*limb);
        *limb = (v / d) as u64;
        rem = v % d;
    }
    rem as u64
}

fn to_limbs(n: Uint256) -> Limbs {
    let bytes = n.to_be_bytes();
    let mut limbs = [0; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        *limb = chunk.iter().fold(0, |v, &b| v << 8 | u64::from(b));
    }
    limbs
}

fn from_limbs(limbs: Limbs) -> Uint256 {
    let mut bytes = [0; 32];
    for (b, l) in bytes
        .iter_mut()
        .zip(limbs.iter().flat_map(|l| l.to_be_bytes()))
    {
        *b = l;
    }
    Uint256::from_be_bytes(bytes)
}

/// Fills `digits` with the last `digits.len()` decimal digits of `n`, zero-padded.
fn fill(digits: &mut [u8], mut n: u64) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends `n` in decimal, as `Display` writes it.
fn write_digits(out: &mut Vec<u8>, mut n: Limbs) {
    const CHUNKS: usize = 5; // 2^256 < 10^78 <= 10^(19 * 5)
    let mut buf = [b'0'; 19 * CHUNKS];
    for digits in buf.rchunks_exact_mut(19) {
        fill(digits, div_rem(&mut n, CHUNK));
        if n == [0; 4] {
            break;
        }
    }
    let first = buf.iter().position(|&d| d != b'0').unwrap_or(buf.len() - 1);
    out.extend_from_slice(buf.get(first..).unwrap_or(b"0"));
}

/// `"n"`: a `Uint64`, `Uint128` or `Uint256` as its `Serialize` writes it.
pub fn write_uint(out: &mut Vec<u8>, n: Uint256) {
    out.push(b'"');
    write_digits(out, to_limbs(n));
    out.push(b'"');
}

/// A decimal of these atomics as `Decimal`'s and `Decimal256`'s `Serialize` write it: the
/// whole part, then only if it is not zero a `.` and the fraction without trailing zeros.
pub fn write_decimal(out: &mut Vec<u8>, atomics: Uint256) {
    let mut whole = to_limbs(atomics);
    let fraction = div_rem(&mut whole, ONE);
    out.push(b'"');
    write_digits(out, whole);
    if fraction != 0 {
        let mut digits = [b'0'; 18];
        fill(&mut digits, fraction);
        let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
        out.push(b'.');
        out.extend_from_slice(digits.get(..end).unwrap_or_default());
    }
    out.push(b'"');
}

/// Hex as `HexBinary::from_hex` reads it (the `hex` crate): pairs of digits, either case.
pub fn hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let pairs = s.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 2);
    for pair in pairs {
        let [hi, lo] = pair else { return None };
        out.push(nibble(*hi)? << 4 | nibble(*lo)?);
    }
    Some(out)
}

/// `"hex"`: lower case, as `HexBinary`'s `Serialize` writes it.
pub fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    out.push(b'"');
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 as `Binary::from_base64` reads it: the `base64` crate's standard alphabet with
/// padding optional (`DecodePaddingMode::Indifferent`) and no trailing bits allowed. The last
/// group of up to four symbols (the last 1-3 if the length is not a multiple of 4, else the
/// last 4) may end in `=`s, if at least two symbols stay in it; `=` is nowhere else; the bits
/// of the last symbol past the last whole byte must be zero.
pub fn base64(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    let last_group = match s.len() % 4 {
        0 => s.len().min(4),
        rem => rem,
    };
    let padding = s
        .iter()
        .rev()
        .take(last_group)
        .take_while(|&&c| c == b'=')
        .count();
    if last_group - padding < 2 && !s.is_empty() {
        return None;
    }
    let symbols = s.get(..s.len() - padding)?;
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3 + 2);
    // The bits read and not yet written, `bits` of them.
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in symbols {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = acc << 6 | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// `"base64"`: standard alphabet, padded, as `Binary`'s `Serialize` writes it.
pub fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .zip([16, 8, 0])
            .fold(0u32, |n, (&b, shift)| n | u32::from(b) << shift);
        // n bytes take n + 1 symbols; `=`s pad to 4.
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                BASE64[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::super::{FromJson, Json, ToJson};
    use cosmwasm_std::{
        Binary, Decimal, Decimal256, HexBinary, Timestamp, Uint128, Uint256, Uint64,
    };
    use proptest::prelude::*;
    use serde::{de::DeserializeOwned, Serialize};
    use std::fmt::Debug;

    /// `s` read as a `T` by [`FromJson`] and by the derived `Deserialize` (cosmwasm-std's
    /// parser, on the chain's deserializer): both reject it, or both give the same value.
    /// Whether it was accepted.
    fn agree<T: FromJson + DeserializeOwned + PartialEq + Debug>(s: &str) -> bool {
        let json = cosmwasm_std::to_json_vec(s).unwrap();
        let theirs = cosmwasm_std::from_json::<T>(&json).ok();
        let ours = T::from_json(Json::Str(s.to_owned())).ok();
        assert_eq!(ours, theirs, "{s:?} as {}", std::any::type_name::<T>());
        ours.is_some()
    }

    /// `s` read as each of the scalars.
    fn agree_all(s: &str) {
        agree::<Uint64>(s);
        agree::<Uint128>(s);
        agree::<Timestamp>(s);
        agree::<Decimal>(s);
        agree::<Decimal256>(s);
        agree::<HexBinary>(s);
        agree::<Binary>(s);
    }

    /// `v` written by [`ToJson`] as by its derived `Serialize`, and read back.
    fn written<T: ToJson + Serialize + FromJson + PartialEq + Debug>(v: &T) {
        let mut ours = Vec::new();
        v.write_json(&mut ours);
        let theirs = cosmwasm_std::to_json_vec(v).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        assert_eq!(&T::parse(&ours).unwrap(), v);
    }

    const U64_MAX: &str = "18446744073709551615";
    const U128_MAX: &str = "340282366920938463463374607431768211455";
    const U256_MAX: &str =
        "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    const DECIMAL_MAX: &str = "340282366920938463463.374607431768211455";
    const DECIMAL256_MAX: &str =
        "115792089237316195423570985008687907853269984665640564039457.584007913129639935";

    #[test]
    fn tricky_strings_are_read_as_cosmwasm_std_reads_them() {
        let zeros = "0".repeat(100);
        let mut inputs: Vec<String> = [
            "",
            "+",
            "-",
            "0",
            "1",
            "+1",
            "-1",
            "-0",
            "+0",
            "++1",
            "+-1",
            "01",
            "00",
            " 1",
            "1 ",
            "1\n",
            "1_000",
            "1e3",
            "0x10",
            "\u{661}",
            "\u{ff11}",
            "1.",
            ".1",
            ".",
            "+.5",
            "1.0",
            "1.5",
            "1.+5",
            "1.-5",
            "1.++5",
            "1.+",
            "+1.5",
            "1..5",
            "1.5.",
            "1.2.3",
            "0.000000000000000001",
            "1.000000000000000000",
            "1.0000000000000000001",
            "1.+00000000000000001",
            "1.+0000000000000001",
            "1.+000000000000000001",
            "1.12345678901234567",
            "18446744073709551616",
            "18446744073709551615.5",
            "340282366920938463463374607431768211456",
            "340282366920938463463",
            "340282366920938463464",
            "340282366920938463463.374607431768211456",
            "340282366920938463463.37460743176821145",
            "340282366920938463463.4",
            "115792089237316195423570985008687907853269984665640564039457.584007913129639936",
            "115792089237316195423570985008687907853269984665640564039457",
            "115792089237316195423570985008687907853269984665640564039458",
            "115792089237316195423570985008687907853269984665640564039457584007913129639936",
            // hex
            "0x",
            "00",
            "abc",
            "ABcd",
            "aBcD12",
            "zz",
            "0g",
            " 00",
            "00 ",
            "ff00FF",
            // base64
            "QQ",
            "QQ=",
            "QQ==",
            "QQ===",
            "QR==",
            "QR=",
            "QR",
            "QUI",
            "QUI=",
            "QUJ=",
            "QUJ",
            "QUJD",
            "QUJD=",
            "QUJD==",
            "QUJDRA",
            "QUJDRA=",
            "QUJDRA==",
            "Q",
            "Q=",
            "Q==",
            "Q===",
            "=",
            "==",
            "===",
            "====",
            "QUJD====",
            "QU=D",
            "=QUJ",
            "QUJD\n",
            " QUJD",
            "QUJD ",
            "QU JD",
            "-_",
            "+/+/",
            "////",
            "//8=",
            "//9=",
            "AAAA",
            "AA==AA==",
            "QQ==QQ==",
            "\u{e9}",
            "QUJD\u{e9}",
        ]
        .map(String::from)
        .to_vec();
        inputs.extend([
            U64_MAX.into(),
            U128_MAX.into(),
            U256_MAX.into(),
            DECIMAL_MAX.into(),
            DECIMAL256_MAX.into(),
            format!("+{DECIMAL_MAX}"),
            format!("+{DECIMAL256_MAX}"),
            format!("{zeros}1"),
            format!("{zeros}{U256_MAX}"),
            format!("{zeros}{DECIMAL256_MAX}"),
            format!("1.{zeros}"),
            "A".repeat(400),
            "A".repeat(401),
        ]);
        for s in &inputs {
            agree_all(s);
        }

        // What that acceptance is, spelled out.
        for ok in ["+1", "01", U64_MAX] {
            assert!(agree::<Uint64>(ok), "{ok}");
        }
        for bad in ["", "+", "-1", " 1", "1 ", "18446744073709551616"] {
            assert!(!agree::<Uint64>(bad), "{bad}");
        }
        assert!(agree::<Uint128>(U128_MAX));
        assert!(!agree::<Uint128>("340282366920938463463374607431768211456"));
        for ok in [
            "1",
            "+1.5",
            "1.+5",
            "1.000000000000000000",
            "1.+00000000000000001",
        ] {
            assert!(agree::<Decimal>(ok), "{ok}");
            assert!(agree::<Decimal256>(ok), "{ok}");
        }
        for bad in [
            "1.",
            ".1",
            "1.0000000000000000001",
            "1.+000000000000000001",
            "1.2.3",
        ] {
            assert!(!agree::<Decimal>(bad), "{bad}");
            assert!(!agree::<Decimal256>(bad), "{bad}");
        }
        assert_eq!(super::decimal("1.+5"), Some(Decimal::percent(105)));
        assert!(agree::<Decimal>(DECIMAL_MAX));
        assert!(!agree::<Decimal>(
            "340282366920938463463.374607431768211456"
        ));
        assert!(agree::<Decimal256>(DECIMAL256_MAX));
        assert!(!agree::<Decimal256>(
            "115792089237316195423570985008687907853269984665640564039457.584007913129639936"
        ));
        for ok in ["", "00", "ABcd"] {
            assert!(agree::<HexBinary>(ok), "{ok}");
        }
        for bad in ["0", "0x", "zz"] {
            assert!(!agree::<HexBinary>(bad), "{bad}");
        }
        for ok in ["", "QQ", "QQ=", "QQ==", "QUI", "QUI=", "QUJD"] {
            assert!(agree::<Binary>(ok), "{ok}");
        }
        for bad in ["Q", "QR==", "QQ===", "=", "QUJD=", "QU=D", "-_", " QUJD"] {
            assert!(!agree::<Binary>(bad), "{bad}");
        }
    }

    #[test]
    fn tricky_values_are_written_as_derived() {
        for n in [0, 1, 10, u64::MAX] {
            written(&Uint64::new(n));
            written(&Timestamp::from_nanos(n));
        }
        for n in [0, 1, 9_999_999_999_999_999_999, 10u128.pow(19), u128::MAX] {
            written(&Uint128::new(n));
            written(&Decimal::new(Uint128::new(n)));
            written(&Decimal256::new(Uint256::from(n)));
        }
        for d in [
            Decimal::zero(),
            Decimal::one(),
            Decimal::percent(150),
            Decimal::MAX,
        ] {
            written(&d);
        }
        for d in [
            Decimal256::zero(),
            Decimal256::one(),
            Decimal256::percent(3),
            Decimal256::new(Uint256::one()),
            Decimal256::new(Uint256::from(10u128.pow(37))),
            Decimal256::new(Uint256::from(10u128.pow(37)) * Uint256::from(10u128.pow(37))),
            Decimal256::MAX,
        ] {
            written(&d);
        }
        for bytes in [
            &b""[..],
            b"\0",
            b"\xff",
            b"ab",
            b"abc",
            b"abcd",
            &[0xfb, 0xff, 0xbf],
        ] {
            written(&HexBinary::from(bytes));
            written(&Binary::from(bytes));
        }
    }

    /// A 256-bit number whose first `zeros` bytes are zero: of any magnitude.
    fn uint256() -> impl Strategy<Value = Uint256> {
        (any::<[u8; 32]>(), 0..=32usize).prop_map(|(mut bytes, zeros)| {
            for b in bytes.iter_mut().take(zeros) {
                *b = 0;
            }
            Uint256::from_be_bytes(bytes)
        })
    }

    proptest! {
        #[test]
        fn strings_are_read_as_cosmwasm_std_reads_them(
            s in "[0-9.+\\-a-fA-FQRxz=/ ]{0,24}",
        ) {
            agree_all(&s);
        }

        #[test]
        fn numbers_are_read_as_cosmwasm_std_reads_them(
            s in "[+]?[0-9]{0,42}([.][+]?[0-9]{0,19})?",
            near_u64 in "1844674407370955[0-9]{4}",
            near_u128 in "3402823669209384634[0-9]{20}",
            near_decimal in "3402823669209384634[0-9]{2}([.][0-9]{0,19})?",
            near_decimal256 in
                "11579208923731619542357098500868790785326998466564056[0-9]{7}([.][0-9]{0,19})?",
        ) {
            agree_all(&s);
            agree_all(&near_u64);
            agree_all(&near_u128);
            agree_all(&near_decimal);
            agree_all(&near_decimal256);
        }

        #[test]
        fn encodings_are_read_as_cosmwasm_std_reads_them(
            base64 in "[A-Za-z0-9+/=]{0,13}",
            hex in "[0-9a-fA-Fg]{0,9}",
        ) {
            agree::<Binary>(&base64);
            agree::<HexBinary>(&hex);
        }

        #[test]
        fn values_are_written_as_derived(
            n in any::<u64>(),
            m in any::<u128>(),
            atomics in uint256(),
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            written(&Uint64::new(n));
            written(&Timestamp::from_nanos(n));
            written(&Uint128::new(m));
            written(&Decimal::new(Uint128::new(m)));
            written(&Decimal256::new(Uint256::from(m)));
            written(&Decimal256::new(atomics));
            written(&HexBinary::from(bytes.clone()));
            written(&Binary::from(bytes));
        }
    }
}
