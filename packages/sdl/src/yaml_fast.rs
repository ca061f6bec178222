//! A fast path for the YAML that SDL files are made of: block mappings and sequences, one-line
//! plain and quoted scalars, literal and folded block scalars, one-line flow sequences of
//! scalars, comments. It builds exactly the tree the general parser builds (tests check this on
//! every corpus file and on generated documents) and gives up, returning `None`, on anything
//! else: multi-line flow or quoted scalars, flow mappings, anchors, aliases, tags, tabs,
//! directives, explicit block indentation.
//! The general parser then reads the file. Most real SDL files take the fast path, which skips
//! the general parser's token queue and per-token allocations.

use std::borrow::Cow;

use crate::yaml::{Node, NodeKind};

const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy)]
struct Line<'a> {
    /// 1-based line number (index into the raw lines plus one).
    no: usize,
    indent: usize,
    /// The text after the indentation, trailing spaces removed.
    text: &'a str,
}

/// Parses `src` if it is within the fast path's subset.
pub(crate) fn parse(src: &str) -> Option<Node<'_>> {
    if src.contains(['\t', '\u{feff}']) {
        return None;
    }
    let mut raw_lines: Vec<&str> = src.split('\n').collect();
    if src.ends_with('\n') {
        raw_lines.pop();
    }
    for raw in raw_lines.iter_mut() {
        *raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.contains('\r') {
            return None;
        }
    }
    let mut lines = Vec::new();
    let mut started = false;
    let mut end = raw_lines.len();
    for (i, raw) in raw_lines.iter().enumerate() {
        let text = raw.trim_start_matches(' ');
        let indent = raw.len() - text.len();
        let text = text.trim_end_matches(' ');
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if indent == 0 && (text.starts_with("---") || text.starts_with("...")) {
            let rest = &text[3..];
            if !(rest.is_empty() || rest.starts_with(" #")) {
                return None;
            }
            if text.starts_with("---") && !started && lines.is_empty() {
                started = true;
                continue;
            }
            end = i;
            break; // a second document, or the end marker: only the first document counts
        }
        if indent == 0 && text.starts_with('%') {
            return None;
        }
        lines.push(Line {
            no: i + 1,
            indent,
            text,
        });
    }
    if lines.is_empty() {
        return None;
    }
    raw_lines.truncate(end);
    let mut p = Fast {
        raw: raw_lines,
        lines,
        pos: 0,
        depth: 0,
    };
    let root = p.block(0)?;
    (p.pos == p.lines.len()).then_some(root)
}

struct Fast<'a> {
    /// Every line of the document, without line breaks.
    raw: Vec<&'a str>,
    /// The lines that are not blank or comments.
    lines: Vec<Line<'a>>,
    pos: usize,
    depth: usize,
}

fn is_seq_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Strips a trailing ` # comment` (or a whole-line comment) from plain text.
fn strip_comment(text: &str) -> &str {
    if text.starts_with('#') {
        return "";
    }
    match find_pair(text, b' ', b'#') {
        Some(i) => text[..i].trim_end_matches(' '),
        None => text,
    }
}

/// Index of the first `a` immediately followed by `b`.
fn find_pair(text: &str, a: u8, b: u8) -> Option<usize> {
    text.as_bytes()
        .windows(2)
        .position(|w| w[0] == a && w[1] == b)
}

impl<'a> Fast<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// The block node starting at the current line, whose indentation must be at least `min`.
    fn block(&mut self, min: usize) -> Option<Node<'a>> {
        let line = self.peek()?;
        if line.indent < min {
            return None;
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let node = if is_seq_entry(line.text) {
            self.sequence(line.indent)
        } else {
            self.mapping(line.indent)
        };
        self.depth -= 1;
        node
    }

    fn mapping(&mut self, indent: usize) -> Option<Node<'a>> {
        let first = self.peek()?;
        let mut pairs = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent < indent || (line.indent == indent && is_seq_entry(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let (key, rest) = split_key(line.text, line.no)?;
            self.pos += 1;
            let rest = rest.trim_start_matches(' ');
            let value = if strip_comment(rest).is_empty() {
                match self.peek() {
                    Some(next) if next.indent > indent => self.block(indent + 1)?,
                    // A sequence may sit at its key's indentation.
                    Some(next) if next.indent == indent && is_seq_entry(next.text) => {
                        self.sequence(indent)?
                    }
                    _ => null(line.no),
                }
            } else if rest.starts_with(['|', '>']) {
                self.block_scalar(rest, line.no, indent)?
            } else {
                let v = inline(rest, line.no)?;
                if self.peek().is_some_and(|n| n.indent > indent) {
                    return None; // a continuation line: multi-line scalars are not handled here
                }
                v
            };
            pairs.push((key, value));
        }
        Some(Node {
            kind: NodeKind::Map(pairs),
            line: first.no,
        })
    }

    fn sequence(&mut self, indent: usize) -> Option<Node<'a>> {
        let first = self.peek()?;
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent != indent || !is_seq_entry(line.text) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            let after = &line.text[1..];
            let content = after.trim_start_matches(' ');
            let column = indent + 1 + (after.len() - content.len());
            let item = if strip_comment(content).is_empty() {
                self.pos += 1;
                match self.peek() {
                    Some(next) if next.indent > indent => self.block(indent + 1)?,
                    _ => null(line.no),
                }
            } else if is_seq_entry(content) {
                return None; // "- - x"
            } else if split_key(content, line.no).is_some() {
                // "- key: value": a mapping whose keys sit at the content's column.
                self.lines[self.pos] = Line {
                    no: line.no,
                    indent: column,
                    text: content,
                };
                self.depth += 1;
                let m = self.mapping(column);
                self.depth -= 1;
                m?
            } else if content.starts_with(['|', '>']) {
                self.pos += 1;
                self.block_scalar(content, line.no, indent)?
            } else {
                self.pos += 1;
                let v = inline(content, line.no)?;
                if self.peek().is_some_and(|n| n.indent > indent) {
                    return None;
                }
                v
            };
            items.push(item);
        }
        Some(Node {
            kind: NodeKind::Seq(items),
            line: first.no,
        })
    }
}

impl<'a> Fast<'a> {
    /// A literal (`|`) or folded (`>`) block scalar whose header is on line `header_no`, inside a
    /// collection indented by `parent`; follows libyaml's `scan_block_scalar`.
    fn block_scalar(&mut self, header: &str, header_no: usize, parent: usize) -> Option<Node<'a>> {
        let literal = header.starts_with('|');
        let chomp = match strip_comment(&header[1..]) {
            "" => 0,
            "-" => -1,
            "+" => 1,
            _ => return None, // explicit indentation, or something else
        };
        let start = header_no; // index of the first raw line after the header
                               // Indentation: that of the first non-blank line, at least parent + 1.
        let mut max_blank = 0;
        let mut indent = None;
        for raw in &self.raw[start..] {
            let spaces = raw.len() - raw.trim_start_matches(' ').len();
            if spaces == raw.len() {
                max_blank = max_blank.max(spaces);
            } else {
                indent = Some(spaces);
                break;
            }
        }
        let indent = indent.unwrap_or(0).max(parent + 1).max(1);
        if max_blank > indent {
            return None; // leading blank lines with too many spaces: an error case
        }
        let (mut out, mut leading_break, mut trailing_breaks) =
            (String::new(), String::new(), String::new());
        let mut leading_blank = false;
        let mut first_content = None;
        let mut i = start;
        while i < self.raw.len() {
            let raw = self.raw[i];
            let spaces = raw.len() - raw.trim_start_matches(' ').len();
            if spaces == raw.len() && raw.len() <= indent {
                trailing_breaks.push('\n');
                i += 1;
                continue;
            }
            if spaces < indent {
                break;
            }
            first_content.get_or_insert(i + 1);
            let content = &raw[indent..];
            let trailing_blank = content.starts_with(' ');
            if !literal && leading_break == "\n" && !leading_blank && !trailing_blank {
                if trailing_breaks.is_empty() {
                    out.push(' ');
                }
            } else {
                out.push_str(&leading_break);
            }
            leading_break.clear();
            out.push_str(&trailing_breaks);
            trailing_breaks.clear();
            leading_blank = trailing_blank;
            out.push_str(content);
            // A line break, even after a last line that has none (as the general parser does).
            leading_break.push('\n');
            i += 1;
        }
        if chomp != -1 {
            out.push_str(&leading_break);
        }
        if chomp == 1 {
            out.push_str(&trailing_breaks);
        }
        // Skip the significant lines the scalar covered.
        while self.peek().is_some_and(|l| l.no <= i) {
            self.pos += 1;
        }
        Some(Node::new_scalar(out, true, first_content?))
    }
}

fn null(line: usize) -> Node<'static> {
    Node::new_scalar("", false, line)
}

/// Splits `key: rest` (or `key:` at the end of the line). `None` if the line is not a simple
/// mapping entry.
fn split_key(text: &str, line: usize) -> Option<(Node<'_>, &str)> {
    let first = text.chars().next()?;
    if first == '"' || first == '\'' {
        let (value, len) = quoted(text)?;
        let rest = text[len..].strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        return Some((Node::new_scalar(value, true, line), rest));
    }
    if !plain_may_start(text) {
        return None;
    }
    let bytes = text.as_bytes();
    let colon = (0..bytes.len())
        .find(|&i| bytes[i] == b':' && matches!(bytes.get(i + 1), None | Some(b' ')))?;
    let key = text[..colon].trim_end_matches(' ');
    if key.is_empty() || find_pair(key, b' ', b'#').is_some() {
        return None;
    }
    Some((Node::new_scalar(key, false, line), &text[colon + 1..]))
}

/// Whether a plain scalar may start with `text` (YAML's indicator rules, conservatively).
fn plain_may_start(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        None => false,
        Some('-' | '?' | ':') => chars.next().is_some_and(|c| c != ' '),
        Some(c) => !"[]{},#&*!|>'\"%@`".contains(c),
    }
}

/// A one-line value after `key: ` or `- `.
fn inline(text: &str, line: usize) -> Option<Node<'_>> {
    match text.chars().next()? {
        '"' | '\'' => {
            let (value, len) = quoted(text)?;
            strip_comment(text[len..].trim_start_matches(' '))
                .is_empty()
                .then(|| Node::new_scalar(value, true, line))
        }
        '[' => flow_sequence(text, line),
        _ => {
            let value = strip_comment(text);
            if !plain_may_start(value)
                || find_pair(value, b':', b' ').is_some()
                || value.ends_with(':')
            {
                return None;
            }
            Some(Node::new_scalar(value, false, line))
        }
    }
}

/// `[a, "b", c]` on one line, scalars only.
fn flow_sequence(text: &str, line: usize) -> Option<Node<'_>> {
    let mut rest = text.strip_prefix('[')?.trim_start_matches(' ');
    let mut items = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix(']') {
            if !strip_comment(after.trim_start_matches(' ')).is_empty() {
                return None;
            }
            break;
        }
        let (item, len) = match rest.chars().next()? {
            '"' | '\'' => {
                let (value, len) = quoted(rest)?;
                (Node::new_scalar(value, true, line), len)
            }
            _ => {
                let len = rest.find([',', ']'])?;
                let value = rest[..len].trim_end_matches(' ');
                if value.is_empty()
                    || !plain_may_start(value)
                    || value.contains([':', '#', '[', '{', '}'])
                {
                    return None;
                }
                (Node::new_scalar(value, false, line), len)
            }
        };
        items.push(item);
        rest = rest[len..].trim_start_matches(' ');
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start_matches(' ');
            if rest.starts_with(']') {
                return None; // trailing comma
            }
        } else if !rest.starts_with(']') {
            return None;
        }
    }
    Some(Node {
        kind: NodeKind::Seq(items),
        line,
    })
}

/// A quoted scalar at the start of `text` that closes on this line: its value and the length of
/// its source text. Borrowed when it has no escapes.
fn quoted(text: &str) -> Option<(Cow<'_, str>, usize)> {
    let quote = text.chars().next()?;
    let body = &text[1..];
    if let Some(end) = body.find([quote, '\\']) {
        if body[end..].starts_with(quote) && !(quote == '\'' && body[end + 1..].starts_with('\'')) {
            return Some((Cow::Borrowed(&body[..end]), end + 2));
        }
    }
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            ('\'', '\'') => {
                if body[i + 1..].starts_with('\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    return Some((Cow::Owned(out), i + 2));
                }
            }
            ('"', '"') => return Some((Cow::Owned(out), i + 2)),
            ('"', '\\') => {
                let (_, e) = chars.next()?;
                match e {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '/' => out.push('/'),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    ' ' => out.push(' '),
                    'u' => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code).filter(|_| hex.len() == 4)?);
                    }
                    _ => return None,
                }
            }
            _ => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same tree, scalar text, resolution and lines as the general parser.
    pub(crate) fn same(a: &Node, b: &Node) -> bool {
        if a.line != b.line {
            return false;
        }
        match (&a.kind, &b.kind) {
            (
                NodeKind::Scalar {
                    value: va,
                    resolved: ra,
                },
                NodeKind::Scalar {
                    value: vb,
                    resolved: rb,
                },
            ) => va == vb && format!("{ra:?}") == format!("{rb:?}"),
            (NodeKind::Seq(x), NodeKind::Seq(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
            }
            (NodeKind::Map(x), NodeKind::Map(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
            }
            _ => false,
        }
    }

    fn check(src: &str) -> bool {
        let general = crate::yaml::parse_general(src);
        match parse(src) {
            None => false,
            Some(fast) => {
                let general = general
                    .unwrap_or_else(|e| {
                        panic!("fast path accepted what the parser rejects ({e}):\n{src}")
                    })
                    .unwrap_or_else(|| {
                        panic!("fast path built a tree for an empty document:\n{src}")
                    });
                assert!(
                    same(&fast, &general),
                    "trees differ:\n{src}\n{fast:#?}\n{general:#?}"
                );
                true
            }
        }
    }

    #[test]
    fn common_shapes_take_the_fast_path_and_match() {
        for src in [
            "a: 1\nb:\n  c: 'x'\n  d:\n  e: [x, \"y\", 3]\nf:\n- g\n- h: 1\n  i:\n- \n-\n  - j\nk: v # c\nl: \"q\\u00e9\"\n",
            "---\nversion: \"2.0\"\nservices:\n  web:\n    image: nginx:1.25\n    env:\n      - A=b#c\n      - 'it''s'\n",
            "a:\n  - b: 1\n    c: [  ]\n  -   d: x\n      e: y\n# end\n",
            "url: http://x.y/z?q=1\nneg: -1\ndash: -c\nkey with spaces: v\n",
            "a: 1\n---\nb: 2\n",
            "a: |\n  x\n\n   y\n  z\nb: >-\n  p\n  q\n\n  r\n   s\n  t\n\nc:\n  - |+\n    k\n\n  - >\n    m\n",
            "args:\n  - |\n    # not a comment\n    echo hi\n  # a comment\n  - done\n",
            "a: >\n  folded\n  text",
            "a: 1\r\nb: 2\r\n",
        ] {
            assert!(check(src), "expected the fast path:\n{src}");
        }
    }

    #[test]
    fn anything_else_falls_back() {
        for src in [
            "a: |2\n  text\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: {b: 1}\n",
            "a: multi\n  line\n",
            "a: \"open\n  quote\"\n",
            "a:\tb\n",
            "a: b: c\n",
            "? a\n: b\n",
            "- - a\n",
            "a: [b, [c]]\n",
            "%YAML 1.2\n---\na: 1\n",
            "",
        ] {
            assert!(!check(src), "expected a fallback:\n{src}");
        }
    }

    #[test]
    fn corpus_and_fixtures_parse_identically() {
        let base = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sdl");
        let Ok(entries) = std::fs::read_dir(base.join("corpus")) else {
            return; // the integration tests report missing shared data
        };
        let (mut fast, mut total) = (0, 0);
        for entry in entries {
            let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            total += 1;
            if check(&src) {
                fast += 1;
            }
        }
        // Most real files must take the fast path, or it is not worth having.
        assert!(
            fast * 10 >= total * 8,
            "only {fast} of {total} corpus files took the fast path"
        );
    }

    /// Random block-style documents, rendered with the quirks SDL authors use (comments, blank
    /// lines, compact sequences, quoted and block scalars): whenever the fast path accepts one,
    /// it must build the general parser's tree.
    mod generated {
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Doc {
            Scalar(String),
            Map(Vec<(String, Doc)>),
            Seq(Vec<Doc>),
        }

        fn scalar() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "x",
                    "80",
                    "0.5",
                    "~",
                    "",
                    "true",
                    "512Mi",
                    "a: b",
                    "a:b",
                    "#c",
                    "x #c",
                    "- x",
                    "-c",
                    "'q'",
                    "'it''s'",
                    "\"d\"",
                    "\"e\\n\"",
                    "\"\\u00e9\"",
                    "[a, b]",
                    "[]",
                    "[a, 'b', \"c\"]",
                    "[a,]",
                    "{a: 1}",
                    "&x y",
                    "*y",
                    "!!str 1",
                    "|\n",
                    ">-\n",
                    "http://h:1/p",
                    "a  b",
                    "'open",
                    "\"bad\\q\"",
                    "?x",
                    ":x",
                    "%x",
                ])
                .prop_map(str::to_string),
                "[a-z0-9 ._/:#-]{0,10}",
            ]
        }

        fn doc() -> impl Strategy<Value = Doc> {
            scalar()
                .prop_map(Doc::Scalar)
                .prop_recursive(4, 24, 4, |inner| {
                    prop_oneof![
                        prop::collection::vec(("[a-z_]{1,6}|'k q'|\"k\"", inner.clone()), 1..4)
                            .prop_map(Doc::Map),
                        prop::collection::vec(inner, 1..4).prop_map(Doc::Seq),
                    ]
                })
        }

        fn render(d: &Doc, indent: usize, out: &mut String, compact: bool) {
            let pad = " ".repeat(indent);
            match d {
                Doc::Scalar(v) => {
                    if v.ends_with('\n') {
                        // a block scalar header: give it content lines
                        out.push_str(&format!(" {}", v.trim_end()));
                        out.push_str(&format!("\n{pad}  line one\n\n{pad}   more\n{pad}  end\n"));
                    } else {
                        out.push_str(&format!(" {v}\n"));
                    }
                }
                Doc::Map(entries) => {
                    out.push('\n');
                    for (k, v) in entries {
                        out.push_str(&format!("{pad}{k}:"));
                        match v {
                            Doc::Seq(_) if compact => render(v, indent, out, compact),
                            _ => render(v, indent + 2, out, compact),
                        }
                    }
                }
                Doc::Seq(items) => {
                    out.push('\n');
                    for item in items {
                        out.push_str(&format!("{pad}-"));
                        render(item, indent + 2, out, compact);
                        out.push_str(&format!("{pad}# comment\n"));
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]

            #[test]
            fn fast_path_matches_the_general_parser(d in doc(), compact in any::<bool>()) {
                let mut src = String::from("---");
                render(&d, 0, &mut src, compact);
                if let Some(fast) = super::super::parse(&src) {
                    let general = crate::yaml::parse_general(&src);
                    let general = match general {
                        Ok(Some(g)) => g,
                        other => panic!("fast path accepted what the parser does not ({other:?}):\n{src}"),
                    };
                    prop_assert!(super::same(&fast, &general), "trees differ:\n{}", src);
                }
            }
        }
    }
}
