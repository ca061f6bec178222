//! A YAML node tree that keeps what Akash's Go parser (gopkg.in/yaml.v3) looks at: each
//! scalar's source text, quoting style and tag, and each node's position. Scalars are resolved
//! lazily, the way yaml.v3 resolves them for the Go type being decoded into.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::error::{At, Error, ErrorKind, Path};

/// Most nodes a document may expand to, aliases included (guards against "billion laughs").
const MAX_EXPANDED_NODES: usize = 1_000_000;
/// Deepest nesting accepted; real SDL files nest about ten levels.
const MAX_DEPTH: usize = 256;

/// A YAML node. Scalars borrow their text from the source where they can.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub kind: NodeKind<'a>,
    /// 1-based line of the node's first character.
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum NodeKind<'a> {
    Scalar {
        value: Cow<'a, str>,
        /// What the scalar resolves to, computed once when the tree is built.
        resolved: Resolved,
    },
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
}

/// What a scalar resolves to, as yaml.v3's `resolve`.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    /// Integers keep their full range (yaml.v3 uses int64 or uint64).
    Int(i128),
    Float(f64),
    Timestamp,
    Str,
    Merge,
}

/// A mapping entry: the key's text, the key node and the value node.
pub type Entry<'n, 'a> = (&'n str, &'n Node<'a>, &'n Node<'a>);

impl<'a> Node<'a> {
    /// A scalar without a tag, resolved as yaml.v3 resolves it.
    pub(crate) fn new_scalar(value: impl Into<Cow<'a, str>>, quoted: bool, line: usize) -> Self {
        let value = value.into();
        let resolved = resolve_scalar(&value, quoted, None);
        Node {
            kind: NodeKind::Scalar { value, resolved },
            line,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => match self.resolve() {
                Resolved::Null => "null",
                Resolved::Bool(_) => "boolean",
                Resolved::Int(_) => "integer",
                Resolved::Float(_) => "number",
                Resolved::Timestamp => "timestamp",
                Resolved::Str | Resolved::Merge => "string",
            },
            NodeKind::Seq(_) => "sequence",
            NodeKind::Map(_) => "mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Scalar { .. }) && self.resolve() == Resolved::Null
    }

    /// The scalar's text, for scalars.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// yaml.v3's scalar resolution (`resolve.go`); strings for mappings and sequences.
    pub fn resolve(&self) -> Resolved {
        match &self.kind {
            NodeKind::Scalar { resolved, .. } => resolved.clone(),
            _ => Resolved::Str,
        }
    }
}

/// yaml.v3's scalar resolution, honouring quoting and explicit tags.
fn resolve_scalar(value: &str, quoted: bool, tag: Option<&str>) -> Resolved {
    {
        match tag {
            Some("!!str") | Some("!!binary") => return Resolved::Str,
            Some("!!null") | Some("!!bool") | Some("!!int") | Some("!!float")
            | Some("!!timestamp") | None => {}
            Some(_) => return Resolved::Str,
        }
        if quoted && tag.is_none() {
            return Resolved::Str;
        }
        resolve_plain(value)
    }
}

impl<'a> Node<'a> {
    fn unexpected(&self, path: &At<'_>, expected: &'static str) -> Error {
        Error::new(
            path,
            ErrorKind::Type {
                expected,
                found: self.kind_name(),
                line: self.line,
            },
        )
    }

    /// Mapping entries, with `<<` merge keys expanded the way yaml.v3 does: explicit keys win.
    pub fn entries(&self, path: &At<'_>) -> Result<Vec<Entry<'_, 'a>>, Error> {
        let NodeKind::Map(pairs) = &self.kind else {
            return Err(self.unexpected(path, "a mapping"));
        };
        let mut out: Vec<Entry<'_, 'a>> = Vec::with_capacity(pairs.len());
        let mut merges = Vec::new();
        for (k, v) in pairs {
            if k.resolve() == Resolved::Merge {
                merges.push(v);
                continue;
            }
            let Some(key) = k.scalar() else {
                return Err(Error::new(
                    path,
                    ErrorKind::Type {
                        expected: "a scalar mapping key",
                        found: k.kind_name(),
                        line: k.line,
                    },
                ));
            };
            if let Some((_, prev, _)) = out.iter().find(|(name, _, _)| *name == key) {
                return Err(Error::new(
                    path,
                    ErrorKind::DuplicateKey {
                        key: key.to_string(),
                        line: k.line,
                        first_line: prev.line,
                    },
                ));
            }
            out.push((key, k, v));
        }
        for merge in merges {
            let sources: Vec<&Node<'a>> = match &merge.kind {
                NodeKind::Map(_) => vec![merge],
                NodeKind::Seq(items) => items.iter().collect(),
                _ => return Err(merge.unexpected(path, "a mapping to merge")),
            };
            for source in sources {
                for (key, k, v) in source.entries(path)? {
                    if !out.iter().any(|(name, _, _)| *name == key) {
                        out.push((key, k, v));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Sequence items; yaml.v3 drops null items when decoding into a slice of non-pointers.
    pub fn items(&self, path: &At<'_>) -> Result<Vec<&Node<'a>>, Error> {
        match &self.kind {
            NodeKind::Seq(items) => Ok(items.iter().filter(|n| !n.is_null()).collect()),
            _ => Err(self.unexpected(path, "a sequence")),
        }
    }

    /// Decodes into a Go `string`: any scalar gives its text; null gives `None` (zero value).
    pub fn string(&self, path: &At<'_>) -> Result<Option<String>, Error> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => {
                if self.resolve() == Resolved::Null {
                    Ok(None)
                } else {
                    Ok(Some(value.to_string()))
                }
            }
            _ => Err(self.unexpected(path, "a string")),
        }
    }

    /// Decodes into a Go `[]string`; null gives `None` (a nil slice).
    pub fn strings(&self, path: &At<'_>) -> Result<Option<Vec<String>>, Error> {
        if self.is_null() {
            return Ok(None);
        }
        let items = self.items(path)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = item.string(&path.index(i))? {
                out.push(s);
            }
        }
        Ok(Some(out))
    }

    /// Decodes into a Go `uint32`: integers in range, and floats truncated toward zero.
    pub fn uint32(&self, path: &At<'_>) -> Result<u32, Error> {
        if self.is_null() {
            return Ok(0);
        }
        let out_of_range = |shown: String| {
            Error::new(
                path,
                ErrorKind::IntegerOutOfRange {
                    value: shown,
                    line: self.line,
                },
            )
        };
        match (&self.kind, self.resolve()) {
            (NodeKind::Scalar { value, .. }, Resolved::Int(i)) => {
                u32::try_from(i).map_err(|_| out_of_range(value.to_string()))
            }
            (NodeKind::Scalar { value, .. }, Resolved::Float(f)) => {
                if (0.0..4_294_967_296.0).contains(&f) {
                    Ok(f as u32)
                } else {
                    Err(out_of_range(value.to_string()))
                }
            }
            _ => Err(self.unexpected(path, "an unsigned integer")),
        }
    }

    /// Decodes into a Go `bool`, including YAML 1.1 spellings (`yes`, `on`, ...) as yaml.v3 does
    /// for typed bool targets.
    pub fn boolean(&self, path: &At<'_>) -> Result<bool, Error> {
        match (&self.kind, self.resolve()) {
            (_, Resolved::Null) => Ok(false),
            (_, Resolved::Bool(b)) => Ok(b),
            (NodeKind::Scalar { value, .. }, Resolved::Str) => match value.as_ref() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(false),
                _ => Err(self.unexpected(path, "a boolean")),
            },
            _ => Err(self.unexpected(path, "a boolean")),
        }
    }

    /// Decodes into a Go `map[string]string`. Null values keep their key with "" as yaml.v3 does.
    pub fn string_map(&self, path: &At<'_>) -> Result<Option<Vec<(String, String)>>, Error> {
        if self.is_null() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (key, _, value) in self.entries(path)? {
            let v = value.string(&path.key(key))?.unwrap_or_default();
            out.push((key.to_string(), v));
        }
        Ok(Some(out))
    }
}

/// yaml.v3 `resolve` for a plain scalar with no tag.
fn resolve_plain(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        "<<" => return Resolved::Merge,
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => match crate::units::go_parse_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if looks_like_timestamp(s) {
                return Resolved::Timestamp;
            }
            let plain: Cow<'_, str> = if s.contains('_') {
                Cow::Owned(s.replace('_', ""))
            } else {
                Cow::Borrowed(s)
            };
            if let Some(i) = go_parse_int_base0(&plain) {
                return Resolved::Int(i);
            }
            if is_yaml_style_float(&plain) {
                if let Some(f) = crate::units::go_parse_float(&plain) {
                    return Resolved::Float(f);
                }
            }
            for (prefix, radix, negative) in [
                ("0b", 2, false),
                ("-0b", 2, true),
                ("0o", 8, false),
                ("-0o", 8, true),
            ] {
                if let Some(digits) = plain.strip_prefix(prefix) {
                    if let Some(v) = parse_digits(digits, radix) {
                        let v = if negative { -v } else { v };
                        if (i64::MIN as i128..=u64::MAX as i128).contains(&v) {
                            return Resolved::Int(v);
                        }
                    }
                    return Resolved::Str;
                }
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-0
/// octal prefixes. Returns the value when either succeeds.
fn go_parse_int_base0(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let v = parse_digits(digits, radix)?;
    // ParseUint (the fallback above int64) takes no sign.
    if s.starts_with('+') && v > i64::MAX as i128 {
        return None;
    }
    if negative {
        (v <= -(i64::MIN as i128)).then_some(-v)
    } else {
        (v <= u64::MAX as i128).then_some(v)
    }
}

fn parse_digits(digits: &str, radix: u32) -> Option<i128> {
    if digits.is_empty() || digits.len() > 70 {
        return None;
    }
    let mut v: i128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)? as i128;
        v = v.checked_mul(radix as i128)?.checked_add(d)?;
    }
    Some(v)
}

/// yaml.v3's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// yaml.v3 treats plain scalars starting `YYYY-` that parse as one of its date/time layouts as
/// timestamps; into a string they still decode as their text, so only the shape matters here.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    // date part: YYYY-M{1,2}-D{1,2}
    let rest = &s[5..];
    let mut parts = rest.splitn(2, '-');
    let month = parts.next().unwrap_or("");
    let tail = parts.next().unwrap_or("");
    let day_len = tail.bytes().take_while(u8::is_ascii_digit).count();
    let digits_ok = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit());
    if !digits_ok(month) || !(1..=2).contains(&day_len) {
        return false;
    }
    let after = &tail[day_len..];
    after.is_empty() || after.starts_with(['T', 't', ' '])
}

fn short_tag(tag: &Tag) -> String {
    if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Parses the first document of `src` into a node tree (yaml.v3 `Unmarshal` reads only the
/// first document). Returns `None` for an empty stream.
pub fn parse(src: &str) -> Result<Option<Node<'_>>, Error> {
    match crate::yaml_fast::parse(src) {
        Some(root) => Ok(Some(root)),
        None => parse_general(src),
    }
}

/// [`parse`] without the fast path: any YAML.
pub(crate) fn parse_general(src: &str) -> Result<Option<Node<'_>>, Error> {
    let mut builder = Builder {
        anchors: HashMap::new(),
        stack: Vec::new(),
        expanded: 0,
        root: None,
    };
    for event in Parser::new_from_str(src) {
        let (event, span) = event.map_err(|e| {
            Error::new(
                Path::root(),
                ErrorKind::Syntax {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                    message: e.info().to_string(),
                },
            )
        })?;
        if builder.handle(event, span)? {
            break;
        }
    }
    Ok(builder.root)
}

enum Frame<'a> {
    Seq {
        items: Vec<Node<'a>>,
        anchor: usize,
        line: usize,
        size: usize,
    },
    Map {
        pairs: Vec<(Node<'a>, Node<'a>)>,
        pending_key: Option<Node<'a>>,
        anchor: usize,
        line: usize,
        size: usize,
    },
}

struct Builder<'a> {
    anchors: HashMap<usize, (Node<'a>, usize)>,
    stack: Vec<Frame<'a>>,
    expanded: usize,
    root: Option<Node<'a>>,
}

impl<'a> Builder<'a> {
    /// Returns true once the first document is complete.
    fn handle(&mut self, event: Event<'a>, span: Span) -> Result<bool, Error> {
        let line = span.start.line();
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| short_tag(&t));
                let resolved = resolve_scalar(&value, style != ScalarStyle::Plain, tag.as_deref());
                let node = Node {
                    kind: NodeKind::Scalar { value, resolved },
                    line,
                };
                self.push(node, anchor, 1)
            }
            Event::Alias(id) => {
                let (node, size) = self.anchors.get(&id).cloned().ok_or_else(|| {
                    Error::new(
                        Path::root(),
                        ErrorKind::Syntax {
                            line,
                            column: span.start.col() + 1,
                            message: "alias to an unknown anchor".into(),
                        },
                    )
                })?;
                self.push(node, 0, size)
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(line)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    line,
                    size: 1,
                });
                Ok(false)
            }
            Event::MappingStart(anchor, _) => {
                self.enter(line)?;
                self.stack.push(Frame::Map {
                    pairs: Vec::new(),
                    pending_key: None,
                    anchor,
                    line,
                    size: 1,
                });
                Ok(false)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, size) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        line,
                        size,
                    }) => (
                        Node {
                            kind: NodeKind::Seq(items),
                            line,
                        },
                        anchor,
                        size,
                    ),
                    Some(Frame::Map {
                        pairs,
                        anchor,
                        line,
                        size,
                        ..
                    }) => (
                        Node {
                            kind: NodeKind::Map(pairs),
                            line,
                        },
                        anchor,
                        size,
                    ),
                    None => return Ok(false),
                };
                self.push(node, anchor, size)
            }
            Event::DocumentEnd => Ok(self.root.is_some()),
            Event::StreamEnd => Ok(true),
            _ => Ok(false),
        }
    }

    fn enter(&self, line: usize) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::new(
                Path::root(),
                ErrorKind::Syntax {
                    line,
                    column: 1,
                    message: format!("nesting deeper than {MAX_DEPTH} levels"),
                },
            ));
        }
        Ok(())
    }

    fn push(&mut self, node: Node<'a>, anchor: usize, size: usize) -> Result<bool, Error> {
        self.expanded = self.expanded.saturating_add(size);
        if self.expanded > MAX_EXPANDED_NODES {
            return Err(Error::new(
                Path::root(),
                ErrorKind::Syntax {
                    line: node.line,
                    column: 1,
                    message: "document contains excessive aliasing".into(),
                },
            ));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
                Ok(false)
            }
            Some(Frame::Seq {
                items, size: total, ..
            }) => {
                *total = total.saturating_add(size);
                items.push(node);
                Ok(false)
            }
            Some(Frame::Map {
                pairs,
                pending_key,
                size: total,
                ..
            }) => {
                *total = total.saturating_add(size);
                match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => pairs.push((key, node)),
                }
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(src: &str) -> Resolved {
        let text = format!("k: {src}");
        let root = parse(&text).unwrap().unwrap();
        let entries = root.entries(&At::root()).unwrap();
        entries[0].2.resolve()
    }

    #[test]
    fn scalars_resolve_as_yaml_v3() {
        assert_eq!(scalar("80"), Resolved::Int(80));
        assert_eq!(scalar("'80'"), Resolved::Str);
        assert_eq!(scalar("!!str 80"), Resolved::Str);
        assert_eq!(scalar("0x10"), Resolved::Int(16));
        assert_eq!(scalar("010"), Resolved::Int(8));
        assert_eq!(scalar("080"), Resolved::Float(80.0));
        assert_eq!(scalar("0o17"), Resolved::Int(15));
        assert_eq!(scalar("1_000"), Resolved::Int(1000));
        assert_eq!(scalar("1.5"), Resolved::Float(1.5));
        assert_eq!(scalar("~"), Resolved::Null);
        assert_eq!(scalar("yes"), Resolved::Str);
        assert_eq!(scalar("True"), Resolved::Bool(true));
        assert_eq!(scalar("2001-12-14"), Resolved::Timestamp);
        assert_eq!(scalar("1Gi"), Resolved::Str);
        assert_eq!(scalar("-5"), Resolved::Int(-5));
        assert_eq!(
            scalar("18446744073709551615"),
            Resolved::Int(u64::MAX as i128)
        );
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let src = "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n";
        let root = parse(src).unwrap().unwrap();
        let entries = root.entries(&At::root()).unwrap();
        let derived = entries[1].2.entries(&At::root()).unwrap();
        let get = |k: &str| {
            derived
                .iter()
                .find(|(n, _, _)| *n == k)
                .map(|(_, _, v)| v.scalar().unwrap().to_string())
        };
        assert_eq!(get("x").as_deref(), Some("1"));
        assert_eq!(get("y").as_deref(), Some("3"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let root = parse("a: 1\na: 2\n").unwrap().unwrap();
        let err = root.entries(&At::root()).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::DuplicateKey { .. }), "{err}");
    }

    #[test]
    fn billion_laughs_is_rejected() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        assert!(parse(&src).is_err());
    }

    #[test]
    fn only_the_first_document_is_read() {
        let root = parse("---\na: 1\n---\nb: 2\n").unwrap().unwrap();
        let entries = root.entries(&At::root()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, "a");
    }
}
