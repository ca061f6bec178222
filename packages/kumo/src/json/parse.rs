//! The JSON reader: bytes to a [`Json`] value as a [`Schema`] describes, with no serde code.
//!
//! It accepts exactly what the chain's deserializer (`serde-json-wasm` 1.0, which
//! `cosmwasm_std::from_json` uses) accepts for the derived `Deserialize` impls, including its
//! leniencies: an unknown field's scalar value is skipped up to the next delimiter unparsed, a
//! list may start with a comma, and strings without escapes may hold control characters. Being
//! stricter would reject messages the derived decoders take; the differential tests in
//! `json.rs` hold the two together.

use super::{error, Json, JsonError, JsonResult, Schema, Variant};

/// How deep lists, objects and enum variants may nest (as `serde-json-wasm`).
const MAX_DEPTH: u32 = 128;

/// Reads one value of `schema` from `bytes`, then only whitespace.
pub fn parse(bytes: &[u8], schema: &'static Schema) -> JsonResult<Json> {
    let mut r = Reader {
        s: bytes,
        i: 0,
        depth: MAX_DEPTH,
    };
    let v = r.value(schema)?;
    match r.ws() {
        Some(_) => Err(fail("trailing characters")),
        None => Ok(v),
    }
}

fn fail(what: &str) -> JsonError {
    error("invalid JSON:", what)
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips whitespace; the next byte, not consumed.
    fn ws(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
        self.peek()
    }

    /// The next non-whitespace byte, not consumed; end of input is an error.
    fn next(&mut self) -> JsonResult<u8> {
        self.ws().ok_or_else(|| fail("unexpected end"))
    }

    fn ident(&mut self, rest: &[u8]) -> JsonResult<()> {
        for c in rest {
            if self.peek() != Some(*c) {
                return Err(fail("expected an identifier"));
            }
            self.i += 1;
        }
        Ok(())
    }

    fn enter(&mut self) -> JsonResult<()> {
        self.depth -= 1;
        if self.depth == 0 {
            return Err(fail("nested too deep"));
        }
        self.i += 1;
        Ok(())
    }

    fn value(&mut self, schema: &'static Schema) -> JsonResult<Json> {
        match schema {
            Schema::Bool => match self.next()? {
                b't' => {
                    self.i += 1;
                    self.ident(b"rue").map(|_| Json::Bool(true))
                }
                b'f' => {
                    self.i += 1;
                    self.ident(b"alse").map(|_| Json::Bool(false))
                }
                _ => Err(super::invalid("a boolean")),
            },
            Schema::U32 => self.unsigned(u32::MAX.into()),
            Schema::U64 => self.unsigned(u64::MAX),
            Schema::Str => self.string().map(Json::Str),
            Schema::Option(inner) => {
                if self.next()? == b'n' {
                    self.i += 1;
                    self.ident(b"ull").map(|_| Json::Null)
                } else {
                    self.value(inner)
                }
            }
            Schema::Seq(inner) => self.seq(|r, _| r.value(inner).map(Some)),
            Schema::Pair(a, b) => match self.seq(|r, n| match n {
                0 => r.value(a).map(Some),
                1 => r.value(b).map(Some),
                _ => Ok(None),
            })? {
                Json::Array(items) if items.len() == 2 => Ok(Json::Array(items)),
                _ => Err(super::invalid("a pair")),
            },
            Schema::Struct(fields) => self.object(fields),
            Schema::Enum(variants) => self.variant(variants),
            Schema::Any => self.skip().map(|_| Json::Null),
        }
    }

    fn unsigned(&mut self, max: u64) -> JsonResult<Json> {
        let mut n: u64 = match self.next()? {
            b'-' => return Err(fail("invalid number")),
            b'0' => {
                self.i += 1;
                return Ok(Json::UInt(0));
            }
            c @ b'1'..=b'9' => (c - b'0').into(),
            _ => return Err(super::invalid("an integer")),
        };
        self.i += 1;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            self.i += 1;
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add((c - b'0').into()))
                .filter(|n| *n <= max)
                .ok_or_else(|| fail("invalid number"))?;
        }
        Ok(Json::UInt(n))
    }

    /// A string value (leading whitespace skipped).
    fn string(&mut self) -> JsonResult<String> {
        if self.next()? != b'"' {
            return Err(super::invalid("a string"));
        }
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        let mut backslash = false;
        loop {
            match self.peek() {
                Some(b'"') if !escaped => break,
                Some(b'\\') => {
                    backslash = true;
                    escaped = !escaped;
                }
                Some(_) => escaped = false,
                None => return Err(fail("unterminated string")),
            }
            self.i += 1;
        }
        let raw = &self.s[start..self.i];
        self.i += 1;
        if backslash {
            unescape(raw)
        } else {
            std::str::from_utf8(raw)
                .map(str::to_owned)
                .map_err(|_| fail("invalid UTF-8"))
        }
    }

    /// A list: `item(reader, index)` reads the element at `index` or says it takes no more
    /// (`None`: a pair's third element is then trailing characters).
    fn seq(
        &mut self,
        mut item: impl FnMut(&mut Self, usize) -> JsonResult<Option<Json>>,
    ) -> JsonResult<Json> {
        if self.next()? != b'[' {
            return Err(super::invalid("a sequence"));
        }
        self.enter()?;
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = match self.ws().ok_or_else(|| fail("unterminated list"))? {
                b']' => break,
                b',' => {
                    self.i += 1;
                    self.next()?
                }
                c if first => {
                    first = false;
                    c
                }
                _ => return Err(fail("expected `,` or `]`")),
            };
            if c == b']' {
                return Err(fail("trailing comma"));
            }
            match item(self, items.len())? {
                Some(v) => items.push(v),
                None => break,
            }
        }
        self.depth += 1;
        self.end_seq()?;
        Ok(Json::Array(items))
    }

    fn end_seq(&mut self) -> JsonResult<()> {
        match self.ws().ok_or_else(|| fail("unterminated list"))? {
            b']' => {
                self.i += 1;
                Ok(())
            }
            b',' => {
                self.i += 1;
                match self.ws() {
                    Some(b']') => Err(fail("trailing comma")),
                    _ => Err(fail("trailing characters")),
                }
            }
            _ => Err(fail("trailing characters")),
        }
    }

    /// The next key of an object, or `None` at its end.
    fn key(&mut self, first: &mut bool) -> JsonResult<Option<String>> {
        let c = match self.ws().ok_or_else(|| fail("unterminated object"))? {
            b'}' => return Ok(None),
            b',' if !*first => {
                self.i += 1;
                self.ws()
            }
            c if *first => {
                *first = false;
                Some(c)
            }
            _ => return Err(fail("expected `,` or `}`")),
        };
        match c.ok_or_else(|| fail("unexpected end"))? {
            b'"' => self.string().map(Some),
            b'}' => Err(fail("trailing comma")),
            _ => Err(fail("key must be a string")),
        }
    }

    fn colon(&mut self) -> JsonResult<()> {
        match self.ws().ok_or_else(|| fail("unterminated object"))? {
            b':' => {
                self.i += 1;
                Ok(())
            }
            _ => Err(fail("expected `:`")),
        }
    }

    fn end_object(&mut self) -> JsonResult<()> {
        match self.ws().ok_or_else(|| fail("unterminated object"))? {
            b'}' => {
                self.i += 1;
                Ok(())
            }
            b',' => Err(fail("trailing comma")),
            _ => Err(fail("trailing characters")),
        }
    }

    /// A struct: its known fields in order (repeats included, for the caller to reject);
    /// unknown ones skipped.
    fn object(&mut self, fields: &'static [(&'static str, &'static Schema)]) -> JsonResult<Json> {
        if self.next()? != b'{' {
            return Err(super::invalid("an object"));
        }
        self.enter()?;
        let mut entries = Vec::new();
        let mut first = true;
        while let Some(key) = self.key(&mut first)? {
            self.colon()?;
            match fields.iter().find(|(name, _)| *name == key) {
                Some((_, schema)) => {
                    let v = self.value(schema)?;
                    entries.push((key, v));
                }
                None => self.skip()?,
            }
        }
        self.depth += 1;
        self.end_object()?;
        Ok(Json::Object(entries))
    }

    /// An externally tagged enum: `"unit"` or `{"variant": content}`.
    fn variant(&mut self, variants: &'static [(&'static str, Variant)]) -> JsonResult<Json> {
        let tagged = match self.next()? {
            b'"' => false,
            b'{' => {
                self.enter()?;
                true
            }
            _ => return Err(fail("expected an enum variant")),
        };
        let name = self.string()?;
        let Some((_, variant)) = variants.iter().find(|(v, _)| *v == name) else {
            return Err(error("unknown variant", &name));
        };
        if !tagged {
            return match variant {
                Variant::Unit => Ok(Json::Variant(name, None)),
                _ => Err(super::invalid("a variant with content")),
            };
        }
        self.colon()?;
        let content = match variant {
            Variant::Unit => return Err(super::invalid("a unit variant")),
            Variant::Newtype(schema) | Variant::Struct(schema) => self.value(schema)?,
        };
        match self.next()? {
            b'}' => self.i += 1,
            _ => return Err(fail("expected `}`")),
        }
        self.depth += 1;
        Ok(Json::Variant(name, Some(Box::new(content))))
    }

    /// Skips an unknown field's value as `serde`'s `IgnoredAny` does on `serde-json-wasm`:
    /// strings, lists and objects are parsed, anything else is skipped unparsed up to the next
    /// `,`, `}` or `]`.
    fn skip(&mut self) -> JsonResult<()> {
        match self.next()? {
            b'"' => self.string().map(drop),
            b'[' => {
                self.enter()?;
                let mut first = true;
                loop {
                    let c = match self.ws().ok_or_else(|| fail("unterminated list"))? {
                        b']' => break,
                        b',' => {
                            self.i += 1;
                            self.next()?
                        }
                        c if first => {
                            first = false;
                            c
                        }
                        _ => return Err(fail("expected `,` or `]`")),
                    };
                    if c == b']' {
                        return Err(fail("trailing comma"));
                    }
                    self.skip()?;
                }
                self.depth += 1;
                self.end_seq()
            }
            b'{' => {
                self.enter()?;
                let mut first = true;
                while self.key(&mut first)?.is_some() {
                    self.colon()?;
                    self.skip()?;
                }
                self.depth += 1;
                self.end_object()
            }
            b',' | b'}' | b']' => Err(fail("expected a value")),
            _ => loop {
                match self.peek() {
                    Some(b',' | b'}' | b']') => return Ok(()),
                    Some(_) => self.i += 1,
                    None => return Err(fail("unexpected end")),
                }
            },
        }
    }
}

/// A string's content with escapes, as `serde-json-wasm` reads it: no control characters,
/// `\u` escapes as UTF-16 (surrogate pairs combined, lone ones rejected).
fn unescape(raw: &[u8]) -> JsonResult<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut high: Option<u32> = None;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        if b <= 0x1f {
            return Err(fail("control character in string"));
        }
        if b != b'\\' {
            if high.is_some() {
                return Err(fail("lone surrogate"));
            }
            out.push(b);
            continue;
        }
        let Some(&e) = raw.get(i) else {
            return Err(fail("invalid escape"));
        };
        i += 1;
        let plain = match e {
            b'"' | b'/' | b'\\' => e,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut unit = 0u32;
                for _ in 0..4 {
                    let Some(&h) = raw.get(i) else {
                        return Err(fail("invalid escape"));
                    };
                    if h <= 0x1f {
                        return Err(fail("control character in string"));
                    }
                    let digit = match h {
                        b'0'..=b'9' => h - b'0',
                        b'a'..=b'f' => h - b'a' + 10,
                        b'A'..=b'F' => h - b'A' + 10,
                        _ => return Err(fail("invalid escape")),
                    };
                    unit = unit << 4 | u32::from(digit);
                    i += 1;
                }
                let c = match (unit, high) {
                    (0xd800..=0xdfff, Some(h)) => {
                        if unit < 0xdc00 {
                            return Err(fail("expected a low surrogate"));
                        }
                        high = None;
                        0x1_0000 + ((h - 0xd800) << 10 | (unit - 0xdc00))
                    }
                    (0xd800..=0xdbff, None) => {
                        high = Some(unit);
                        continue;
                    }
                    (0xdc00..=0xdfff, None) => return Err(fail("expected a high surrogate")),
                    (_, _) => unit,
                };
                let c = char::from_u32(c).ok_or_else(|| fail("invalid code point"))?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return Err(fail("invalid escape")),
        };
        // As `serde-json-wasm`: an escape other than `\u` after a high surrogate is not checked
        // here (the surrogate is still rejected at the next plain byte or the end).
        out.push(plain);
    }
    if high.is_some() {
        return Err(fail("lone surrogate"));
    }
    String::from_utf8(out).map_err(|_| fail("invalid UTF-8"))
}
