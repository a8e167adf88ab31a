//! The client side of POP3 responses: status lines and multi-line bodies, incrementally.
//!
//! A [`ReplyReader`] is fed bytes as they arrive and yields [`ReplyEvent`]s: a status
//! line, then (for a multi-line reply) body lines with dot-stuffing removed, then the end.
//! The caller says whether a multi-line body follows a `+OK`, because only it knows which
//! command it sent (RFC 1939 §3). Used by `buzon fetch`, `buzon check` and `buzon bench`.

use crate::line::{LineError, LineLimits, LineReader};
use crate::response::{parse_status_line, BadStatus, StatusLine};

/// Limits for server replies: status lines up to 512 octets (RFC 2449 §4), message lines
/// up to 64 KiB (longer than RFC 5322's 998 because real mail breaks that rule).
pub const REPLY_LIMITS: LineLimits = LineLimits { max_line: 64 * 1024, hard_cap: 64 * 1024, allow_bare_lf: true };

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
        Self { lines: LineReader::new(REPLY_LIMITS), expect: Expect::Idle }
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

    /// The next event, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Result<ReplyEvent, ReplyError>> {
        let line = match self.lines.next_line()? {
            Ok(l) => l,
            Err(LineError::Runaway) | Err(LineError::TooLong) => return Some(Err(ReplyError::LineTooLong)),
            Err(LineError::BareLf) => return Some(Err(ReplyError::LineTooLong)),
        };
        Some(match self.expect {
            Expect::Idle | Expect::Status { .. } => {
                let multi = matches!(self.expect, Expect::Status { multi: true });
                match parse_status_line(&line) {
                    Ok(status) => {
                        self.expect = if multi && matches!(status, StatusLine::Ok { .. }) { Expect::Body } else { Expect::Idle };
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
    fn err_to_multiline_command_has_no_body() {
        let mut r = ReplyReader::new();
        r.expect(true);
        r.feed(b"-ERR no such message\r\n+OK\r\n");
        assert!(matches!(r.next_event(), Some(Ok(ReplyEvent::Status(StatusLine::Err { .. })))));
        r.expect(false);
        assert!(matches!(r.next_event(), Some(Ok(ReplyEvent::Status(StatusLine::Ok { .. })))));
    }
}
