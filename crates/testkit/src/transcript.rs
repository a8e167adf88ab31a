//! Transcript files: example sessions written as `C:`/`S:` lines, as in the RFCs.
//!
//! Dev-only (it is no part of any protocol crate's API): used by the in-memory replay of
//! the POP3 state machine (`crates/pop3-proto/tests/transcripts.rs`), by the loopback
//! replay against the real server (`crates/server/tests/it/transcripts_tcp.rs`) and by the
//! SMTP/LMTP transcripts, so one set of files checks all of them. Format, one item per line:
//! - `C: text` — a line the client sends (CRLF added); `\r`, `\n`, `\\` and `\xHH` escapes.
//! - `S: text` — a line the server must send; a trailing `...` matches any rest of line.
//! - `@key value` — setup directives, interpreted by the runner (users, messages, options).
//! - `#` comments and blank lines are ignored.

/// One item of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Client(Vec<u8>),
    Server(Expect),
    Directive { key: String, value: String },
}

/// An expected server line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
}

impl Expect {
    pub fn matches(&self, line: &[u8]) -> bool {
        match self {
            Expect::Exact(e) => e == line,
            Expect::Prefix(p) => line.starts_with(p),
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Exact(e) => write!(f, "{:?}", String::from_utf8_lossy(e)),
            Expect::Prefix(p) => write!(f, "{:?}...", String::from_utf8_lossy(p)),
        }
    }
}

/// Parses a transcript; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('@') {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            items.push(Item::Directive {
                key: key.to_string(),
                value: value.to_string(),
            });
        } else if let Some(rest) = strip_tag(t, "C:") {
            items.push(Item::Client(
                unescape(rest).map_err(|e| format!("line {}: {e}", no + 1))?,
            ));
        } else if let Some(rest) = strip_tag(t, "S:") {
            let (body, prefix) = match rest.strip_suffix("...") {
                Some(p) => (p, true),
                None => (rest, false),
            };
            let b = unescape(body).map_err(|e| format!("line {}: {e}", no + 1))?;
            items.push(Item::Server(if prefix {
                Expect::Prefix(b)
            } else {
                Expect::Exact(b)
            }));
        } else {
            return Err(format!(
                "line {}: expected C:, S:, @directive or #comment",
                no + 1
            ));
        }
    }
    Ok(items)
}

fn strip_tag<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(tag)?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// Decodes `\r`, `\n`, `\t`, `\\`, `\xHH`.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'r') => out.push(b'\r'),
                Some(b'n') => out.push(b'\n'),
                Some(b't') => out.push(b'\t'),
                Some(b'\\') => out.push(b'\\'),
                Some(b'x') => {
                    let h = s.get(i + 2..i + 4).ok_or("short \\x escape")?;
                    out.push(u8::from_str_radix(h, 16).map_err(|_| "bad \\x escape")?);
                    i += 2;
                }
                _ => return Err("unknown escape".into()),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_items() {
        let t = "# c\n@user a b\nC: USER a\nS: +OK...\nS: +OK\\x41\n";
        let items = parse(t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.len(), 4);
        assert_eq!(items[1], Item::Client(b"USER a".to_vec()));
        assert!(matches!(&items[2], Item::Server(Expect::Prefix(p)) if p == b"+OK"));
        assert_eq!(items[3], Item::Server(Expect::Exact(b"+OKA".to_vec())));
        assert!(parse("X: nope").is_err());
    }
}
