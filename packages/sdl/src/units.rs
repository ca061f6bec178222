//! Quantity, price, duration and version parsing, with the exact arithmetic of Akash's Go SDL
//! (`go/sdl/units.go`, `coin.go`, `reclamation.go`) so that sizes round the same way.

use std::str::FromStr;

use cosmwasm_std::Decimal256;

use crate::error::ErrorKind;

pub const KI: u64 = 1 << 10;
pub const MI: u64 = 1 << 20;
pub const GI: u64 = 1 << 30;
pub const TI: u64 = 1 << 40;

/// Decimal and binary size suffixes, as Akash's `unitSuffixes`.
const UNIT_SUFFIXES: [(&str, u64); 12] = [
    ("k", 1_000),
    ("Ki", KI),
    ("M", 1_000_000),
    ("Mi", MI),
    ("G", 1_000_000_000),
    ("Gi", GI),
    ("T", 1_000_000_000_000),
    ("Ti", TI),
    ("P", 1_000_000_000_000_000),
    ("Pi", 1 << 50),
    ("E", 1_000_000_000_000_000_000),
    ("Ei", 1 << 60),
];

/// Go's `strconv.ParseFloat(s, 64)` for decimal input: `None` where Go returns an error
/// (including out-of-range values, which Go reports as `ErrRange`). Hexadecimal floats, which Go
/// also accepts, are not supported.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let special = ["inf", "infinity", "nan"]
        .iter()
        .any(|w| body.eq_ignore_ascii_case(w));
    if !special
        && !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v = f64::from_str(s).ok()?;
    if v.is_infinite() && !special {
        return None;
    }
    Some(v)
}

/// CPU units: `"500m"` (millicores) or a number of CPUs (`1`, `0.5`), as Akash's
/// `cpuQuantity.UnmarshalYAML`. The float form truncates: `2.01` is 2009m there and here.
pub fn parse_cpu(text: &str) -> Result<u64, ErrorKind> {
    let invalid = |reason| ErrorKind::InvalidQuantity {
        value: text.to_string(),
        reason,
    };
    if let Some(m) = text.strip_suffix('m') {
        if m.is_empty() || !m.bytes().all(|c| c.is_ascii_digit()) {
            return Err(invalid("expected whole millicores such as \"500m\""));
        }
        return m
            .parse::<u32>()
            .map(u64::from)
            .map_err(|_| invalid("too large"));
    }
    let v =
        go_parse_float(text).ok_or_else(|| invalid("expected a number such as 0.5 or \"500m\""))?;
    // Go converts with uint32(); values it cannot represent are rejected here instead of wrapping.
    to_integer(text, v * 1000.0, 4_294_967_296.0)
}

/// Go's float-to-unsigned conversion of a parsed quantity, for values it represents.
fn to_integer(text: &str, v: f64, limit: f64) -> Result<u64, ErrorKind> {
    if v < 0.0 {
        return Err(ErrorKind::NegativeQuantity {
            value: text.to_string(),
        });
    }
    if !v.is_finite() || v >= limit {
        return Err(ErrorKind::InvalidQuantity {
            value: text.to_string(),
            reason: "too large",
        });
    }
    Ok(v as u64)
}

/// Memory and storage sizes with decimal (`k`, `M`, `G`...) or binary (`Ki`, `Mi`, `Gi`...)
/// suffixes, or plain bytes, as Akash's `parseWithSuffix`. `binary_only` restricts suffixes to
/// the binary ones (Akash's `memorySuffixes`, used for GPU RAM).
pub fn parse_size(text: &str, binary_only: bool) -> Result<u64, ErrorKind> {
    let invalid = |reason| ErrorKind::InvalidQuantity {
        value: text.to_string(),
        reason,
    };
    let mut number = text;
    let mut unit = 1u64;
    for (suffix, factor) in UNIT_SUFFIXES {
        if binary_only && !suffix.ends_with('i') {
            continue;
        }
        if let Some(n) = text.strip_suffix(suffix) {
            number = n;
            unit = factor;
            break;
        }
    }
    let reason = if binary_only {
        "expected a size such as 16Gi (binary suffixes Ki, Mi, Gi, Ti, Pi, Ei)"
    } else {
        "expected a size such as 512Mi or 1G (suffixes k, M, G, T, P, E or Ki, Mi, Gi, Ti, Pi, Ei)"
    };
    let v = go_parse_float(number).ok_or_else(|| invalid(reason))? * unit as f64;
    to_integer(text, v, 18_446_744_073_709_551_616.0)
}

/// JavaScript's `parseFloat` on text made of digits and dots: the longest decimal prefix.
fn js_parse_float(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let int = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut end = int;
    if b.get(end) == Some(&b'.') {
        let frac = b[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if int > 0 || frac > 0 {
            end += 1 + frac;
        }
    }
    if end == 0 {
        return None;
    }
    text[..end].parse().ok()
}

/// The reference SDK's `^([\d.]+)([a-z]*)$` on lowercased text: the number and the letters.
fn split_reference(text: &str) -> Option<(f64, String)> {
    let lower = text.to_ascii_lowercase();
    let digits = lower
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let (number, letters) = lower.split_at(digits);
    if digits == 0 || !letters.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((js_parse_float(number)?, letters.to_string()))
}

/// Sizes as Akash's reference SDK reads them (`convertResourceString`): case-insensitive, a
/// number then a prefix letter (`k m g t p e`) and an optional unit, binary only for `i`
/// (`16gi`, `4GB`, `512Mb`), rounded up. `None` when it does not read the text.
pub fn parse_size_reference(text: &str) -> Option<u64> {
    let (value, letters) = split_reference(text)?;
    let mut chars = letters.chars();
    let prefix = chars.next()?;
    let unit: String = chars.collect();
    let base: f64 = if unit == "i" { 1024.0 } else { 1000.0 };
    let result = match "kmgtpe".find(prefix) {
        Some(power) => value * base.powi(power as i32 + 1),
        None => value,
    };
    let result = result.ceil();
    (result.is_finite() && result < 18_446_744_073_709_551_616.0).then_some(result as u64)
}

/// CPU as Akash's reference SDK reads a string (`convertCpuResourceString`): a number with an
/// optional unit, millicores for `m` (any case), whole CPUs otherwise. Fractions of a millicore
/// are truncated.
pub fn parse_cpu_reference(text: &str) -> Option<u64> {
    let (value, unit) = split_reference(text)?;
    let millis = if unit == "m" { value } else { value * 1000.0 };
    (millis.is_finite() && millis < 4_294_967_296.0).then_some(millis as u64)
}

/// Formats a byte count the way Akash's `memoryQuantity.StringWithSuffix("Gi")` does: whole
/// gibibytes, truncated.
pub fn gibibytes(bytes: u64) -> String {
    format!("{}Gi", bytes / GI)
}

/// Akash's `LegacyNewDecFromStr`: an optional sign, digits, and at most 18 decimals.
pub fn parse_dec(text: &str) -> Result<Decimal256, ErrorKind> {
    let invalid = |reason: &str| ErrorKind::InvalidPrice {
        amount: text.to_string(),
        reason: reason.to_string(),
    };
    if text.is_empty() {
        return Err(invalid("the amount is empty"));
    }
    let (negative, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => {
            if f.is_empty() || i.is_empty() {
                return Err(invalid("a decimal point needs digits on both sides"));
            }
            (i, f)
        }
        None => (body, ""),
    };
    if frac.len() > 18 {
        return Err(invalid("more than 18 decimal places"));
    }
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return Err(invalid("expected a decimal number such as 1000 or 0.5"));
    }
    let value = Decimal256::from_str(&format!(
        "{}{}",
        int,
        if frac.is_empty() {
            String::new()
        } else {
            format!(".{frac}")
        }
    ))
    .map_err(|_| invalid("too large"))?;
    if negative && !value.is_zero() {
        return Err(ErrorKind::NegativePrice {
            amount: text.to_string(),
        });
    }
    Ok(value)
}

/// Cosmos SDK denom rule: `[a-zA-Z][a-zA-Z0-9/:._-]{2,127}`.
pub fn is_valid_denom(denom: &str) -> bool {
    let b = denom.as_bytes();
    (3..=128).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b':' | b'.' | b'_' | b'-'))
}

/// Go's `time.ParseDuration`, in nanoseconds: `"1h30m"`, `"90s"`, `"1.5h"`, `"300ms"`.
pub fn parse_duration(text: &str) -> Result<i128, ErrorKind> {
    let invalid = |reason| ErrorKind::InvalidDuration {
        value: text.to_string(),
        reason,
    };
    let (negative, mut s) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid(
            "expected a duration such as \"1h\", \"30m\" or \"1h30m\"",
        ));
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_len = s
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let number = &s[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid("expected a number before each unit"));
        }
        s = &s[num_len..];
        let unit_len = s
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(s.len(), |(i, _)| i);
        let unit = match &s[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(invalid("missing unit (use ns, us, ms, s, m or h)")),
            _ => return Err(invalid("unknown unit (use ns, us, ms, s, m or h)")),
        };
        s = &s[unit_len..];
        let value: f64 = number.parse().map_err(|_| invalid("invalid number"))?;
        total += value * unit;
        if total > i64::MAX as f64 {
            return Err(invalid("too large"));
        }
    }
    let ns = total as i128;
    Ok(if negative { -ns } else { ns })
}

/// The SDL's `version`, read as blang/semver's `ParseTolerant` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemVer {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: bool,
}

impl SemVer {
    pub fn parse_tolerant(text: &str) -> Result<Self, &'static str> {
        let s = text.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts: Vec<String> = s.splitn(3, '.').map(str::to_string).collect();
        for p in parts.iter_mut() {
            if p.len() > 1 {
                let trimmed = p.trim_start_matches('0');
                *p = if trimmed.is_empty() || !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("0{trimmed}")
                } else {
                    trimmed.to_string()
                };
            }
        }
        if parts.len() < 3 {
            if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
                return Err("a short version cannot carry pre-release or build metadata");
            }
            while parts.len() < 3 {
                parts.push("0".into());
            }
        }
        let (patch_text, build_cut) = {
            let p = &parts[2];
            let end = p.find(['+', '-']).unwrap_or(p.len());
            (&p[..end], &p[end..])
        };
        let number = |p: &str| -> Result<u64, &'static str> {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err("expected numbers such as 2.0");
            }
            if p.len() > 1 && p.starts_with('0') {
                return Err("leading zeros are not allowed");
            }
            p.parse().map_err(|_| "number too large")
        };
        let prerelease = match build_cut.strip_prefix('-') {
            Some(rest) => {
                let pre = rest.split('+').next().unwrap_or("");
                if pre.is_empty() {
                    return Err("empty pre-release");
                }
                true
            }
            None => false,
        };
        Ok(SemVer {
            major: number(&parts[0])?,
            minor: number(&parts[1])?,
            patch: number(patch_text)?,
            prerelease,
        })
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }

    /// `== 2.0.0` (build metadata ignored, a pre-release is a different version).
    pub fn is_v2_0(&self) -> bool {
        self.triple() == (2, 0, 0) && !self.prerelease
    }

    /// `>= 2.1.0` (a pre-release sorts before its release).
    pub fn at_least_v2_1(&self) -> bool {
        self.triple() > (2, 1, 0) || (self.triple() == (2, 1, 0) && !self.prerelease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_units_parse_as_akash() {
        assert_eq!(parse_cpu("500m"), Ok(500));
        assert_eq!(parse_cpu("1"), Ok(1000));
        assert_eq!(parse_cpu("0.5"), Ok(500));
        assert_eq!(parse_cpu("2.01"), Ok(2009)); // float truncation, as Go
        assert_eq!(parse_cpu("1e1"), Ok(10000));
        assert!(matches!(
            parse_cpu("-1"),
            Err(ErrorKind::NegativeQuantity { .. })
        ));
        assert!(parse_cpu("-5m").is_err());
        assert!(parse_cpu("m").is_err());
        assert!(parse_cpu("one").is_err());
        assert!(parse_cpu("").is_err());
        assert!(parse_cpu("NaN").is_err());
        assert!(parse_cpu("5000000").is_err());
    }

    #[test]
    fn sizes_parse_as_akash() {
        assert_eq!(parse_size("512Mi", false), Ok(512 * MI));
        assert_eq!(parse_size("1G", false), Ok(1_000_000_000));
        assert_eq!(parse_size("1.5Gi", false), Ok(1_610_612_736));
        assert_eq!(parse_size("100", false), Ok(100));
        assert_eq!(parse_size("1k", false), Ok(1000));
        assert_eq!(parse_size("0.1Gi", false), Ok(107_374_182));
        assert!(parse_size("32gb", false).is_err());
        assert!(parse_size("1G", true).is_err());
        assert_eq!(parse_size("80Gi", true), Ok(80 * GI));
        assert!(matches!(
            parse_size("-1Gi", false),
            Err(ErrorKind::NegativeQuantity { .. })
        ));
        assert!(parse_size("1e30", false).is_err());
    }

    #[test]
    fn reference_sizes_are_case_insensitive_and_round_up() {
        assert_eq!(parse_size_reference("6GB"), Some(6_000_000_000));
        assert_eq!(parse_size_reference("16gi"), Some(16 * GI));
        assert_eq!(parse_size_reference("512Mb"), Some(512_000_000));
        assert_eq!(parse_size_reference("512mi"), Some(512 * MI));
        assert_eq!(parse_size_reference("1.07G"), Some(1_070_000_001)); // ceil, where Go truncates
        assert_eq!(parse_size("1.07G", false), Ok(1_070_000_000));
        assert_eq!(parse_size_reference("1024"), None);
        assert_eq!(parse_size_reference("1e3Gi"), None);
        assert_eq!(parse_size_reference("Gi"), None);
        assert_eq!(parse_cpu_reference("500M"), Some(500));
        assert_eq!(parse_cpu_reference("2"), Some(2000));
        assert_eq!(parse_cpu_reference("-1"), None);
    }

    #[test]
    fn prices_parse_as_legacy_dec() {
        assert_eq!(
            parse_dec("1000").unwrap(),
            Decimal256::from_ratio(1000u32, 1u32)
        );
        assert_eq!(parse_dec("0.5").unwrap(), Decimal256::percent(50));
        assert!(parse_dec("1e3").is_err());
        assert!(parse_dec(".5").is_err());
        assert!(parse_dec("5.").is_err());
        assert!(parse_dec("0.0000000000000000001").is_err());
        assert!(matches!(
            parse_dec("-1"),
            Err(ErrorKind::NegativePrice { .. })
        ));
        assert!(parse_dec("").is_err());
    }

    #[test]
    fn durations_parse_as_go() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("90s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("-1h"), Ok(-3_600_000_000_000));
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn versions_parse_tolerantly() {
        let v = |s| SemVer::parse_tolerant(s).unwrap();
        assert!(v("2").is_v2_0());
        assert!(v("2.0").is_v2_0());
        assert!(v("v2.0.0").is_v2_0());
        assert!(v("2.1").at_least_v2_1());
        assert!(v("3.0").at_least_v2_1());
        assert!(!v("2.0.1").is_v2_0() && !v("2.0.1").at_least_v2_1());
        assert!(!v("2.1.0-beta").at_least_v2_1());
        assert!(v("2.0.0+build").is_v2_0());
        assert!(SemVer::parse_tolerant("two").is_err());
        assert!(SemVer::parse_tolerant("2-beta").is_err());
    }

    #[test]
    fn denoms_follow_the_sdk_rule() {
        assert!(is_valid_denom("uakt"));
        assert!(is_valid_denom(
            "ibc/170C677610AC31DF0904FFE09CD3B5C657492170E7E52372E48756B71E56F2F1"
        ));
        assert!(!is_valid_denom("ua"));
        assert!(!is_valid_denom("1akt"));
        assert!(!is_valid_denom("u akt"));
    }
}
