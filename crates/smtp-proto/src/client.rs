//! The client's view of replies: parsing reply lines and collecting multi-line replies
//! (RFC 5321 §4.2), for test clients and the benchmark.

use crate::reply::EnhancedCode;

/// One parsed reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine {
    pub code: u16,
    /// False for `250-` continuation lines, true for the last line `250 `.
    pub last: bool,
    pub text: String,
}

/// A complete reply as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl ParsedReply {
    /// The enhanced status code at the start of the first line, if any (RFC 2034 §3).
    pub fn status(&self) -> Option<EnhancedCode> {
        let first = self.lines.first()?.split(' ').next()?;
        let mut parts = first.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || u16::from(class) != self.code / 100 {
            return None;
        }
        Some(EnhancedCode::new(class, subject, detail))
    }
}

/// Why a line is not a reply line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadReply;

/// Parses `NNN-text`, `NNN text` or `NNN` (RFC 5321 §4.2 Reply-line).
pub fn parse_reply_line(line: &[u8]) -> Result<ReplyLine, BadReply> {
    let digits = line.get(..3).ok_or(BadReply)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return Err(BadReply);
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    let (last, text) = match line.get(3) {
        None => (true, &b""[..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(BadReply),
    };
    Ok(ReplyLine {
        code,
        last,
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

/// Collects reply lines into replies.
#[derive(Debug, Default)]
pub struct ReplyCollector {
    lines: Vec<String>,
    code: Option<u16>,
}

impl ReplyCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one line (without CRLF); returns the reply when it is complete. A line whose
    /// code differs from the earlier lines of the same reply is an error.
    pub fn push(&mut self, line: &[u8]) -> Result<Option<ParsedReply>, BadReply> {
        let l = parse_reply_line(line)?;
        if self.code.is_some_and(|c| c != l.code) {
            return Err(BadReply);
        }
        self.code = Some(l.code);
        self.lines.push(l.text);
        if l.last {
            let lines = std::mem::take(&mut self.lines);
            self.code = None;
            Ok(Some(ParsedReply {
                code: l.code,
                lines,
            }))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply;

    #[test]
    fn parses_what_the_server_encodes() {
        let mut c = ReplyCollector::new();
        let bytes = reply::Reply::plain_lines(250, &["mx".into(), "SIZE 5".into()]).to_bytes();
        let mut got = None;
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            got = c.push(&line[..line.len() - 1]).unwrap_or_else(|_| panic!());
        }
        assert_eq!(
            got,
            Some(ParsedReply {
                code: 250,
                lines: vec!["mx".into(), "SIZE 5".into()]
            })
        );
        let r = c
            .push(b"452 4.2.2 Mailbox full")
            .unwrap_or_else(|_| panic!())
            .unwrap_or_else(|| panic!());
        assert_eq!(r.status(), Some(EnhancedCode::new(4, 2, 2)));
        assert_eq!(
            parse_reply_line(b"250"),
            Ok(ReplyLine {
                code: 250,
                last: true,
                text: String::new()
            })
        );
        assert!(
            parse_reply_line(b"25").is_err()
                && parse_reply_line(b"abc def").is_err()
                && parse_reply_line(b"250x").is_err()
        );
        assert!(c.push(b"250-a").is_ok() && c.push(b"251 b").is_err());
    }
}
