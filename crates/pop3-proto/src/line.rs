//! Incremental splitting of a byte stream into CRLF-terminated lines, with limits.
//!
//! "Need more input" is the normal result (`None`), not an error. Lines longer than the
//! soft limit are reported as [`LineError::TooLong`] once their end arrives, so the
//! session can answer `-ERR` and go on (RFC 2449 §4); bytes beyond the hard cap are not
//! buffered at all, and the caller should close the connection ([`LineError::Runaway`]).
//! The buffer therefore never grows past the hard cap, whatever the peer sends.

/// Limits for one [`LineReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimits {
    /// Longest acceptable line, counting its CRLF (RFC 2449 §4: 255 for commands).
    pub max_line: usize,
    /// Bytes without a line end after which the peer is considered hostile.
    pub hard_cap: usize,
    /// Accept a bare LF as a line end (lenient mode for broken clients; off by default).
    pub allow_bare_lf: bool,
    /// A line that starts with `AUTH ` may be this long (0: no exception). RFC 5034 §4
    /// wants a client whose initial response would pass the 255 octets of RFC 2449 to
    /// send it after an empty challenge instead, but OAuth clients (mpop, and the mail
    /// programs Gmail and Outlook serve) send a JWT of a kilobyte or more on the AUTH
    /// line, and those servers take it; so does this one, up to the SASL response limit.
    pub auth_line: usize,
}

impl LineLimits {
    /// RFC 2449 §4 command lines: 255 octets including CRLF, hard cap 8 KiB.
    pub const COMMAND: LineLimits = LineLimits {
        max_line: 255,
        hard_cap: 16384,
        allow_bare_lf: false,
        auth_line: 8192,
    };
    /// SASL responses inside AUTH (RFC 5034 §4) are not command lines and may be longer:
    /// up to 8 KiB; longer ones end the exchange, past 16 KiB the connection.
    pub const SASL_RESPONSE: LineLimits = LineLimits {
        max_line: 8192,
        hard_cap: 16384,
        allow_bare_lf: false,
        auth_line: 0,
    };
}

/// A line-level problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// A complete line longer than `max_line`; its bytes were dropped.
    TooLong,
    /// A line ended with a bare LF while bare LF is not accepted.
    BareLf,
    /// More than `hard_cap` bytes without any line end.
    Runaway,
}

/// What [`LineReader::skip_body_lines`] consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BodySkip {
    /// Octets consumed, as received (stuffed dots and the terminator included).
    pub wire: usize,
    /// Lines among them whose leading "." was dot-stuffing.
    pub stuffed: usize,
    /// The terminator was consumed.
    pub ended: bool,
}

/// Accumulates bytes and hands out complete lines (without their line end).
#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Start of unread data in `buf`.
    pos: usize,
    limits: LineLimits,
    /// We are skipping the rest of an overlong line.
    skipping: bool,
    /// Bytes of the overlong line skipped so far (past the hard cap it is a runaway).
    skipped: usize,
    runaway: bool,
}

impl LineReader {
    pub fn new(limits: LineLimits) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            limits,
            skipping: false,
            skipped: 0,
            runaway: false,
        }
    }

    pub fn limits(&self) -> LineLimits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: LineLimits) {
        self.limits = limits;
    }

    /// True when no unread bytes are buffered.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Drops everything buffered (RFC 2595 §4 / RFC 3207: nothing read before a TLS
    /// upgrade may be used after it).
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
        self.skipping = false;
        self.skipped = 0;
    }

    /// Releases the buffer's memory when it holds nothing (idle sessions stay small).
    pub fn shrink(&mut self) {
        if self.is_empty() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    /// Adds bytes read from the peer. Bytes past the hard cap are discarded, not stored.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.runaway {
            return;
        }
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let room = self
            .limits
            .hard_cap
            .saturating_sub(self.buf.len() - self.pos);
        if bytes.len() <= room || bytes[..room].contains(&b'\n') || self.skipping {
            // Compact before growing so the buffer stays bounded.
            if self.pos > 0 && self.buf.len() + bytes.len() > self.buf.capacity() {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.extend_from_slice(bytes);
        } else {
            self.buf.extend_from_slice(&bytes[..room]);
            self.runaway = true;
        }
    }

    /// The unread bytes, for a receiver that takes raw data rather than lines (SMTP
    /// DATA); call [`LineReader::consume`] with what it used.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Marks the first `n` unread bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    /// Consumes every complete line buffered, as the body of a multi-line reply, without
    /// copying it: the caller only learns how much arrived. Stops after the ".\r\n"
    /// terminator line (RFC 1939 §3), leaving what follows it buffered. A trailing partial
    /// line stays buffered until its end arrives. Must be called at a line start.
    pub(crate) fn skip_body_lines(&mut self) -> Result<BodySkip, LineError> {
        if self.runaway {
            return Err(LineError::Runaway);
        }
        let data = &self.buf[self.pos..];
        let mut out = BodySkip::default();
        let mut line_start = 0;
        loop {
            let rest = &data[line_start..];
            let dotted = rest.first() == Some(&b'.');
            if dotted {
                match rest.get(1..3) {
                    Some(b"\r\n") => {
                        out.wire = line_start + 3;
                        out.ended = true;
                        self.pos += out.wire;
                        return Ok(out);
                    }
                    Some(_) => {}
                    // Too short to tell the terminator from a stuffed line yet.
                    None => break,
                }
            }
            // Only lines that begin with "." matter (the terminator, or a stuffed dot),
            // so jump from one "\n." to the next; a plain line costs no work of its own.
            let (next, more_dotted) = match memchr::memmem::find(rest, b"\n.") {
                Some(i) => (i + 1, true),
                None => match memchr::memrchr(b'\n', rest) {
                    Some(i) => (i + 1, false),
                    None => break,
                },
            };
            if dotted {
                out.stuffed += 1;
            }
            line_start += next;
            if !more_dotted {
                break;
            }
        }
        out.wire = line_start;
        self.pos += line_start;
        if self.buf.len() - self.pos >= self.limits.max_line {
            return Err(LineError::TooLong);
        }
        Ok(out)
    }

    /// The longest `data`'s line may be: [`LineLimits::auth_line`] for `AUTH `, else
    /// [`LineLimits::max_line`].
    fn max_for(&self, data: &[u8]) -> usize {
        let auth = data.len() >= 5 && data[..5].eq_ignore_ascii_case(b"AUTH ");
        if auth && self.limits.auth_line > self.limits.max_line {
            self.limits.auth_line
        } else {
            self.limits.max_line
        }
    }

    /// The next complete line, `None` if more input is needed.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, LineError>> {
        let data = &self.buf[self.pos..];
        let max_line = self.max_for(data);
        let Some(i) = data.iter().position(|&b| b == b'\n') else {
            if self.skipping {
                // Keep skipping without holding the bytes, up to the hard cap.
                self.skipped = self.skipped.saturating_add(data.len());
                if self.skipped >= self.limits.hard_cap {
                    self.runaway = true;
                    return Some(Err(LineError::Runaway));
                }
                self.buf.clear();
                self.pos = 0;
                return None;
            }
            if data.len() >= self.limits.hard_cap || self.runaway {
                self.runaway = true;
                return Some(Err(LineError::Runaway));
            }
            if data.len() >= max_line {
                // Overlong: forget what we have and skip to the line end.
                self.skipping = true;
                self.skipped = data.len();
                self.buf.clear();
                self.pos = 0;
            }
            return None;
        };
        let raw_len = i + 1;
        let crlf = i > 0 && data[i - 1] == b'\r';
        let line = if crlf { &data[..i - 1] } else { &data[..i] };
        let result = if self.skipping || raw_len > max_line {
            Err(LineError::TooLong)
        } else if !crlf && !self.limits.allow_bare_lf {
            Err(LineError::BareLf)
        } else {
            Ok(line.to_vec())
        };
        self.pos += raw_len;
        self.skipping = false;
        self.skipped = 0;
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], limits: LineLimits, chunk: usize) -> Vec<Result<Vec<u8>, LineError>> {
        let mut r = LineReader::new(limits);
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            r.feed(c);
            while let Some(l) = r.next_line() {
                let stop = l == Err(LineError::Runaway);
                out.push(l);
                if stop {
                    return out;
                }
            }
        }
        out
    }

    #[test]
    fn splits_in_every_chunking() {
        let input = b"USER a\r\nPASS b c\r\n\r\nQUIT\r\npartial";
        for chunk in 1..=input.len() {
            assert_eq!(
                lines(input, LineLimits::COMMAND, chunk),
                vec![
                    Ok(b"USER a".to_vec()),
                    Ok(b"PASS b c".to_vec()),
                    Ok(vec![]),
                    Ok(b"QUIT".to_vec())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn overlong_line_is_reported_once_and_reading_continues() {
        let mut input = vec![b'A'; 300];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        for chunk in [1, 7, 64, 400] {
            assert_eq!(
                lines(&input, LineLimits::COMMAND, chunk),
                vec![Err(LineError::TooLong), Ok(b"NOOP".to_vec())],
                "chunk {chunk}"
            );
        }
        // 255 octets including CRLF is fine, 256 is not.
        let mut ok = vec![b'x'; 253];
        ok.extend_from_slice(b"\r\n");
        assert_eq!(
            lines(&ok, LineLimits::COMMAND, 10),
            vec![Ok(vec![b'x'; 253])]
        );
        let mut bad = vec![b'x'; 254];
        bad.extend_from_slice(b"\r\n");
        assert_eq!(
            lines(&bad, LineLimits::COMMAND, 10),
            vec![Err(LineError::TooLong)]
        );
    }

    #[test]
    fn skipping_an_overlong_line_holds_no_memory() {
        let mut r = LineReader::new(LineLimits::COMMAND);
        for _ in 0..80 {
            r.feed(&[b'z'; 100]);
            assert!(r.next_line().is_none());
            assert!(r.buf.len() <= 255);
        }
        r.feed(b"\r\nQUIT\r\n");
        assert_eq!(r.next_line(), Some(Err(LineError::TooLong)));
        assert_eq!(r.next_line(), Some(Ok(b"QUIT".to_vec())));
        // Past the hard cap, skipping turns into a runaway: the peer is not sending lines.
        let mut r = LineReader::new(LineLimits::COMMAND);
        let mut got = None;
        for _ in 0..1000 {
            r.feed(&[b'z'; 100]);
            if let Some(e) = r.next_line() {
                got = Some(e);
                break;
            }
        }
        assert_eq!(got, Some(Err(LineError::Runaway)));
    }

    #[test]
    fn runaway_when_one_feed_exceeds_the_hard_cap() {
        let limits = LineLimits {
            max_line: 255,
            hard_cap: 1000,
            allow_bare_lf: false,
            auth_line: 0,
        };
        let mut r = LineReader::new(limits);
        r.feed(&vec![b'q'; 5000]);
        assert_eq!(r.next_line(), Some(Err(LineError::Runaway)));
        assert!(r.buf.len() <= 1000);
    }

    #[test]
    fn auth_lines_may_carry_long_initial_responses_and_other_lines_may_not() {
        let mut input = b"auth XOAUTH2 ".to_vec();
        input.extend(vec![b'x'; 4000]);
        input.extend_from_slice(b"\r\nUSER ");
        input.extend(vec![b'y'; 300]);
        input.extend_from_slice(b"\r\nAUTH PLAIN ");
        input.extend(vec![b'z'; 9000]);
        input.extend_from_slice(b"\r\nQUIT\r\n");
        for chunk in [1, 100, 20_000] {
            let got = lines(&input, LineLimits::COMMAND, chunk);
            assert_eq!(got.len(), 4, "chunk {chunk}");
            assert_eq!(got[0].as_ref().map(|l| l.len()), Ok(4013), "chunk {chunk}");
            assert_eq!(got[1], Err(LineError::TooLong), "chunk {chunk}");
            assert_eq!(got[2], Err(LineError::TooLong), "chunk {chunk}");
            assert_eq!(got[3], Ok(b"QUIT".to_vec()), "chunk {chunk}");
        }
    }

    #[test]
    fn bare_lf_is_refused_unless_allowed() {
        assert_eq!(
            lines(b"NOOP\nQUIT\r\n", LineLimits::COMMAND, 3),
            vec![Err(LineError::BareLf), Ok(b"QUIT".to_vec())]
        );
        let lenient = LineLimits {
            allow_bare_lf: true,
            ..LineLimits::COMMAND
        };
        assert_eq!(
            lines(b"NOOP\nQUIT\r\n", lenient, 3),
            vec![Ok(b"NOOP".to_vec()), Ok(b"QUIT".to_vec())]
        );
    }

    #[test]
    fn clear_discards_pipelined_bytes() {
        let mut r = LineReader::new(LineLimits::COMMAND);
        r.feed(b"STLS\r\nUSER evil\r\n");
        assert_eq!(r.next_line(), Some(Ok(b"STLS".to_vec())));
        r.clear();
        assert!(r.next_line().is_none());
    }
}
