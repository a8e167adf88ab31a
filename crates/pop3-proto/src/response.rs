//! Status lines (`+OK`, `-ERR`, `+ ` continuations) and capability lists: encoding for
//! the server, parsing for the client.

use crate::types::RespCode;

/// One status line (RFC 1939 §3, with RFC 2449 §8 response codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub ok: bool,
    pub code: Option<RespCode>,
    pub text: String,
}

impl Response {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            code: None,
            text: text.into(),
        }
    }
    pub fn err(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            code: None,
            text: text.into(),
        }
    }
    pub fn err_code(code: RespCode, text: impl Into<String>) -> Self {
        Self {
            ok: false,
            code: Some(code),
            text: text.into(),
        }
    }

    /// Appends the line with its CRLF. Control characters in the text are replaced, so a
    /// reply can never be split into two lines.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if let Some(code) = &self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.push(b']');
        }
        if !self.text.is_empty() {
            out.push(b' ');
            out.extend(
                self.text
                    .bytes()
                    .map(|b| if b < 0x20 || b == 0x7f { b' ' } else { b }),
            );
        }
        out.extend_from_slice(b"\r\n");
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// A status line as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusLine {
    Ok {
        code: Option<RespCode>,
        text: String,
    },
    Err {
        code: Option<RespCode>,
        text: String,
    },
    /// A SASL continuation (RFC 5034 §4): "+ " followed by base64 (possibly empty).
    Continue(String),
}

/// Why a server's status line could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadStatus(pub String);

impl std::fmt::Display for BadStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server sent something that is not a POP3 reply: {:?}",
            self.0
        )
    }
}

/// Parses a server status line (without CRLF). Lenient where real servers differ: the
/// status keyword is case-insensitive and the text may be missing. Control characters in
/// the text (a hostile server's terminal escapes, a stray CR or LF) become U+FFFD, so the
/// text is safe to show to a user or write to a log.
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine, BadStatus> {
    let text = String::from_utf8_lossy(line);
    let head: String = text
        .chars()
        .take(4)
        .collect::<String>()
        .to_ascii_uppercase();
    let (ok, rest) = if head.starts_with("+OK") {
        (true, &text[3..])
    } else if head == "-ERR" {
        (false, &text[4..])
    } else if text == "+" || text.starts_with("+ ") {
        return Ok(StatusLine::Continue(without_controls(
            text.get(2..).unwrap_or("").trim().to_string(),
        )));
    } else {
        return Err(BadStatus(text.chars().take(80).collect()));
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(BadStatus(text.chars().take(80).collect()));
    }
    let rest = rest.trim_start();
    let (code, text) = match rest
        .strip_prefix('[')
        .and_then(|r| r.find(']').map(|i| (r, i)))
    {
        Some((r, i)) => (
            Some(RespCode::parse(&r[..i])),
            r[i + 1..].trim_start().to_string(),
        ),
        None => (None, rest.to_string()),
    };
    let text = without_controls(text);
    Ok(if ok {
        StatusLine::Ok { code, text }
    } else {
        StatusLine::Err { code, text }
    })
}

fn without_controls(text: String) -> String {
    if text.chars().any(|c| c.is_control() && c != '\t') {
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect()
    } else {
        text
    }
}

/// The server's capabilities as a client learns them from CAPA (RFC 2449 §6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Each line, upper-cased keyword first, arguments as sent.
    pub lines: Vec<(String, Vec<String>)>,
}

impl Capabilities {
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let lines = lines
            .into_iter()
            .filter_map(|l| {
                let s = String::from_utf8_lossy(l);
                let mut words = s.split_ascii_whitespace();
                let kw = words.next()?.to_ascii_uppercase();
                Some((kw, words.map(str::to_string).collect()))
            })
            .collect();
        Self { lines }
    }
    pub fn has(&self, keyword: &str) -> bool {
        self.lines
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(keyword))
    }
    pub fn args(&self, keyword: &str) -> Option<&[String]> {
        self.lines
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, a)| a.as_slice())
    }
    /// SASL mechanisms offered (RFC 2449 §6.3), upper-cased.
    pub fn sasl(&self) -> Vec<String> {
        self.args("SASL")
            .map(|a| a.iter().map(|m| m.to_ascii_uppercase()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_from_a_hostile_server_carries_no_control_characters() {
        // Found by the client_listing fuzz target: a CR LF inside the "line".
        let r = parse_status_line(b"-ERR [IN-USE] lo0\r\nd");
        assert_eq!(
            r,
            Ok(StatusLine::Err {
                code: Some(RespCode::InUse),
                text: "lo0\u{FFFD}\u{FFFD}d".into()
            })
        );
        assert_eq!(
            parse_status_line(b"+ 220\xe9c\nud"),
            Ok(StatusLine::Continue("220\u{FFFD}c\u{FFFD}ud".into()))
        );
        let r = parse_status_line(b"+OK \x1b[2Jcleared\x07\tok");
        assert_eq!(
            r,
            Ok(StatusLine::Ok {
                code: None,
                text: "\u{FFFD}[2Jcleared\u{FFFD}\tok".into()
            })
        );
    }

    #[test]
    fn encode_with_and_without_codes() {
        assert_eq!(Response::ok("2 320").to_bytes(), b"+OK 2 320\r\n");
        assert_eq!(Response::ok("").to_bytes(), b"+OK\r\n");
        assert_eq!(
            Response::err_code(RespCode::InUse, "Mailbox locked").to_bytes(),
            b"-ERR [IN-USE] Mailbox locked\r\n"
        );
        assert_eq!(Response::err("a\r\nb").to_bytes(), b"-ERR a  b\r\n");
    }

    #[test]
    fn parse_status_lines() {
        assert_eq!(
            parse_status_line(b"+OK 2 200"),
            Ok(StatusLine::Ok {
                code: None,
                text: "2 200".into()
            })
        );
        assert_eq!(
            parse_status_line(b"+OK"),
            Ok(StatusLine::Ok {
                code: None,
                text: String::new()
            })
        );
        assert_eq!(
            parse_status_line(b"-ERR [SYS/TEMP] try later"),
            Ok(StatusLine::Err {
                code: Some(RespCode::SysTemp),
                text: "try later".into()
            })
        );
        assert_eq!(
            parse_status_line(b"-ERR [AUTH] Authentication failed."),
            Ok(StatusLine::Err {
                code: Some(RespCode::Auth),
                text: "Authentication failed.".into()
            })
        );
        assert_eq!(
            parse_status_line(b"+ "),
            Ok(StatusLine::Continue(String::new()))
        );
        assert_eq!(
            parse_status_line(b"+ VXNlcm5hbWU6"),
            Ok(StatusLine::Continue("VXNlcm5hbWU6".into()))
        );
        assert!(parse_status_line(b"* OK IMAP4 ready").is_err());
        assert!(parse_status_line(b"+OKAY").is_err());
        assert!(parse_status_line(b"220 smtp.example.com ESMTP").is_err());
    }

    #[test]
    fn round_trip() {
        for r in [
            Response::ok("x y"),
            Response::err_code(RespCode::LoginDelay, "wait"),
            Response::err_code(RespCode::SysPerm, "gone"),
        ] {
            let b = r.to_bytes();
            let parsed = parse_status_line(&b[..b.len() - 2]).unwrap_or_else(|e| panic!("{e}"));
            let want = if r.ok {
                StatusLine::Ok {
                    code: r.code.clone(),
                    text: r.text.clone(),
                }
            } else {
                StatusLine::Err {
                    code: r.code.clone(),
                    text: r.text.clone(),
                }
            };
            assert_eq!(parsed, want);
        }
    }

    #[test]
    fn capabilities() {
        let c = Capabilities::parse([&b"TOP"[..], b"SASL PLAIN login", b"STLS", b"EXPIRE 30 USER"]);
        assert!(c.has("top") && c.has("STLS") && !c.has("UIDL"));
        assert_eq!(c.sasl(), vec!["PLAIN", "LOGIN"]);
        assert_eq!(
            c.args("EXPIRE"),
            Some(&["30".to_string(), "USER".to_string()][..])
        );
    }
}
