//! The client side of POP3 responses: status lines and multi-line bodies, incrementally.
//!
//! A [`ReplyReader`] is fed bytes as they arrive and yields [`ReplyEvent`]s: a status
//! line, then (for a multi-line reply) body lines with dot-stuffing removed, then the end.
//! The caller says whether a multi-line body follows a `+OK`, because only it knows which
//! command it sent (RFC 1939 §3). Used by `buzon fetch`, `buzon check` and `buzon bench`.

use crate::line::{BodySkip, LineError, LineLimits, LineReader};
use crate::response::{parse_status_line, BadStatus, StatusLine};
use crate::types::{MsgNum, Uidl};

/// Limits for server replies: status lines up to 512 octets (RFC 2449 §4), message lines
/// up to 64 KiB (longer than RFC 5322's 998 because real mail breaks that rule).
pub const REPLY_LIMITS: LineLimits = LineLimits {
    max_line: 64 * 1024,
    hard_cap: 64 * 1024,
    allow_bare_lf: true,
    auth_line: 0,
};

/// One piece of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyEvent {
    Status(StatusLine),
    /// One body line, unstuffed, with its CRLF restored as sent (`\r\n`).
    Line(Vec<u8>),
    /// The ".\r\n" terminator of a multi-line reply.
    End,
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    Status(BadStatus),
    /// A line without CRLF beyond the limit.
    LineTooLong,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Status(b) => b.fmt(f),
            ReplyError::LineTooLong => f.write_str("the server sent a line longer than 64 KiB"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Idle,
    Status { multi: bool },
    Body,
}

/// How much of a multi-line body [`ReplyReader::skip_body`] consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyProgress {
    /// Body octets after dot-unstuffing, CRLFs included, terminator excluded: summed over
    /// a whole reply this is the size LIST reports for the message (RFC 1939 §5).
    pub octets: u64,
    /// Octets as received, stuffing and terminator included.
    pub wire: u64,
    /// The ".\r\n" terminator was read; the reader now expects a status line.
    pub ended: bool,
}

/// Incremental reply reader. See the module documentation.
#[derive(Debug)]
pub struct ReplyReader {
    lines: LineReader,
    expect: Expect,
}

impl Default for ReplyReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyReader {
    pub fn new() -> Self {
        Self {
            lines: LineReader::new(REPLY_LIMITS),
            expect: Expect::Idle,
        }
    }

    /// Announces the next reply: `multi` when a `+OK` to it is followed by a body
    /// (RETR, TOP, LIST and UIDL without argument, CAPA, bare AUTH).
    pub fn expect(&mut self, multi: bool) {
        self.expect = Expect::Status { multi };
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.feed(bytes);
    }

    /// Bytes received but not yet consumed (e.g. to check nothing was injected before TLS).
    pub fn has_buffered(&self) -> bool {
        !self.lines.is_empty()
    }

    pub fn clear(&mut self) {
        self.lines.clear();
    }

    /// Consumes the buffered part of a multi-line body (after its `+OK` status event) in
    /// bulk, without building lines: for clients that only count or discard message
    /// bytes, such as the benchmark. Call it again after each [`feed`](Self::feed) until
    /// `ended`. Outside a body it consumes nothing and reports `ended`.
    pub fn skip_body(&mut self) -> Result<BodyProgress, ReplyError> {
        if self.expect != Expect::Body {
            return Ok(BodyProgress {
                octets: 0,
                wire: 0,
                ended: true,
            });
        }
        let BodySkip {
            wire,
            stuffed,
            ended,
        } = self
            .lines
            .skip_body_lines()
            .map_err(|_| ReplyError::LineTooLong)?;
        if ended {
            self.expect = Expect::Idle;
        }
        let terminator = if ended { 3 } else { 0 };
        Ok(BodyProgress {
            octets: (wire - stuffed - terminator) as u64,
            wire: wire as u64,
            ended,
        })
    }

    /// The next event, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Result<ReplyEvent, ReplyError>> {
        let line = match self.lines.next_line()? {
            Ok(l) => l,
            Err(LineError::Runaway) | Err(LineError::TooLong) => {
                return Some(Err(ReplyError::LineTooLong))
            }
            Err(LineError::BareLf) => return Some(Err(ReplyError::LineTooLong)),
        };
        Some(match self.expect {
            Expect::Idle | Expect::Status { .. } => {
                let multi = matches!(self.expect, Expect::Status { multi: true });
                match parse_status_line(&line) {
                    Ok(status) => {
                        self.expect = if multi && matches!(status, StatusLine::Ok { .. }) {
                            Expect::Body
                        } else {
                            Expect::Idle
                        };
                        Ok(ReplyEvent::Status(status))
                    }
                    Err(e) => Err(ReplyError::Status(e)),
                }
            }
            Expect::Body => {
                if line == b"." {
                    self.expect = Expect::Idle;
                    Ok(ReplyEvent::End)
                } else {
                    let mut l = crate::wire::unstuff_line(&line).to_vec();
                    l.extend_from_slice(b"\r\n");
                    Ok(ReplyEvent::Line(l))
                }
            }
        })
    }
}

/// Whether a `+OK` reply to `command` carries a multi-line body (RFC 1939 §5 and §7,
/// RFC 2449 §5, RFC 5034 §4): what to pass to [`ReplyReader::expect`].
pub fn expects_body(command: &crate::Command) -> bool {
    use crate::Command as C;
    matches!(
        command,
        C::Retr(_)
            | C::Top(..)
            | C::Capa
            | C::List(None)
            | C::Uidl(None)
            | C::Auth {
                mechanism: None,
                ..
            }
    )
}

/// RFC 1939 §5: the text of a `+OK` to STAT is "nn mm" (message count, octets). Extra
/// words after the two numbers are allowed ("the server may add text after").
pub fn parse_stat(text: &str) -> Option<(u32, u64)> {
    let mut w = text.split_ascii_whitespace();
    let count =
        crate::types::parse_decimal(w.next()?.as_bytes()).and_then(|n| u32::try_from(n).ok())?;
    let octets = crate::types::parse_decimal(w.next()?.as_bytes())?;
    Some((count, octets))
}

/// RFC 1939 §5: one scan listing, "msg octets", from a LIST body line (without CRLF) or
/// the text of a `+OK` to `LIST msg`.
pub fn parse_scan_listing(line: &[u8]) -> Option<(MsgNum, u64)> {
    let line = trim_crlf(line);
    let mut w = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let n = MsgNum::parse(w.next()?)?;
    let size = crate::types::parse_decimal(w.next()?)?;
    Some((n, size))
}

/// RFC 1939 §7: one unique-id listing, "msg uid", from a UIDL body line or the text of a
/// `+OK` to `UIDL msg`. A unique-id outside 0x21–0x7E or longer than 70 octets is
/// rejected: such a server cannot be trusted to keep ids stable.
pub fn parse_uid_listing(line: &[u8]) -> Option<(MsgNum, Uidl)> {
    let line = trim_crlf(line);
    let mut w = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let n = MsgNum::parse(w.next()?)?;
    let uid = std::str::from_utf8(w.next()?).ok()?;
    if w.next().is_some() {
        return None;
    }
    Some((n, Uidl::new(uid)?))
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{encode_message, Extent};

    #[test]
    fn reads_a_retr_reply_in_every_chunking() {
        let msg = b"Subject: hi\n\n.dot\nplain\n";
        let mut wire = b"+OK 31 octets\r\n".to_vec();
        wire.extend(encode_message(msg, Extent::Whole));
        wire.extend_from_slice(b"+OK\r\n");
        for chunk in 1..wire.len() {
            let mut r = ReplyReader::new();
            r.expect(true);
            let mut events = Vec::new();
            let mut body = Vec::new();
            for c in wire.chunks(chunk) {
                r.feed(c);
                while let Some(ev) = r.next_event() {
                    match ev {
                        Ok(ReplyEvent::Line(l)) => body.extend(l),
                        Ok(ReplyEvent::End) => {
                            events.push("end");
                            r.expect(false);
                        }
                        Ok(ReplyEvent::Status(_)) => events.push("status"),
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            assert_eq!(events, ["status", "end", "status"]);
            assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\nplain\r\n");
        }
    }

    #[test]
    fn skip_body_counts_unstuffed_octets_in_every_chunking() {
        let msgs: [&[u8]; 5] = [
            b"Subject: hi\n\n.dot\nplain\n",
            b"",
            b".\n..\n.",
            b"a\r\n.\r\nb",
            b"x\n.\n",
        ];
        for msg in msgs {
            let encoded = encode_message(msg, Extent::Whole);
            let mut wire = b"+OK\r\n".to_vec();
            wire.extend_from_slice(&encoded);
            wire.extend_from_slice(b"+OK next\r\n");
            let want = crate::wire::WireSize::of(msg);
            for chunk in 1..=wire.len() {
                let mut r = ReplyReader::new();
                r.expect(true);
                let (mut octets, mut raw, mut ended, mut status) = (0, 0, false, 0);
                for c in wire.chunks(chunk) {
                    r.feed(c);
                    loop {
                        if status == 1 && !ended {
                            let p = r.skip_body().unwrap_or_else(|e| panic!("{e}"));
                            octets += p.octets;
                            raw += p.wire;
                            if p.ended {
                                ended = true;
                                continue;
                            }
                            break;
                        }
                        match r.next_event() {
                            Some(Ok(ReplyEvent::Status(_))) => status += 1,
                            Some(other) => panic!("{other:?}"),
                            None => break,
                        }
                    }
                }
                assert!(ended && status == 2, "{msg:?} chunk {chunk}");
                assert_eq!(octets, want, "{msg:?} chunk {chunk}");
                assert_eq!(raw, encoded.len() as u64, "{msg:?} chunk {chunk}");
            }
        }
    }

    #[test]
    fn skip_body_rejects_a_runaway_line() {
        let mut r = ReplyReader::new();
        r.expect(true);
        r.feed(b"+OK\r\n");
        assert!(matches!(r.next_event(), Some(Ok(ReplyEvent::Status(_)))));
        r.feed(&vec![b'x'; 70 * 1024]);
        assert_eq!(r.skip_body(), Err(ReplyError::LineTooLong));
    }

    #[test]
    fn err_to_multiline_command_has_no_body() {
        let mut r = ReplyReader::new();
        r.expect(true);
        r.feed(b"-ERR no such message\r\n+OK\r\n");
        assert!(matches!(
            r.next_event(),
            Some(Ok(ReplyEvent::Status(StatusLine::Err { .. })))
        ));
        r.expect(false);
        assert!(matches!(
            r.next_event(),
            Some(Ok(ReplyEvent::Status(StatusLine::Ok { .. })))
        ));
    }
    #[test]
    fn listings_known_answers() {
        assert_eq!(parse_stat("2 320"), Some((2, 320)));
        assert_eq!(parse_stat("0 0 mailbox empty"), Some((0, 0)));
        assert_eq!(parse_stat("x 1"), None);
        assert_eq!(parse_stat("3"), None);
        assert_eq!(parse_stat("-1 3"), None);
        let n = |i| MsgNum::new(i).unwrap_or_else(|| panic!("bad test number"));
        assert_eq!(parse_scan_listing(b"1 120\r\n"), Some((n(1), 120)));
        assert_eq!(parse_scan_listing(b"2 200"), Some((n(2), 200)));
        assert_eq!(parse_scan_listing(b"0 200"), None);
        assert_eq!(parse_scan_listing(b"1"), None);
        assert_eq!(
            parse_uid_listing(b"1 whqtswO00WBw418f9t5JxYwZ\r\n"),
            Some((
                n(1),
                Uidl::new("whqtswO00WBw418f9t5JxYwZ").unwrap_or_else(|| panic!())
            ))
        );
        assert_eq!(parse_uid_listing(b"1 a b"), None);
        assert_eq!(parse_uid_listing(b"1 \xff"), None);
        assert_eq!(
            parse_uid_listing(&[b"1 ".as_slice(), &[b'x'; 71]].concat()),
            None
        );
        assert!(expects_body(&crate::Command::Uidl(None)));
        assert!(!expects_body(&crate::Command::Uidl(Some(n(1)))));
        assert!(expects_body(&crate::Command::Top(n(1), 0)));
        assert!(!expects_body(&crate::Command::Dele(n(1))));
    }
}
