//! The session's input buffer: command lines with the RFC 5321 §4.5.3.1.6 limit, and raw
//! bytes for the DATA receiver.
//!
//! "Need more input" is the normal result (`None`). A line longer than the limit is
//! skipped without being stored and reported once its end arrives, so the session can
//! answer 500 5.5.2 and go on; memory therefore never exceeds what one read delivers plus
//! the limit, whatever the peer sends.

/// RFC 5321 §4.5.3.1.6: a line is at most 1000 octets including CRLF. Buzón applies it
/// to command lines (§4.5.3.1.4's 512 octets grow with every extension's parameters).
pub const MAX_LINE: usize = 1000;

/// A line-level problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// Longer than [`MAX_LINE`]; its bytes were dropped.
    TooLong,
    /// Ended by LF without CR (RFC 5321 §2.3.8).
    BareLf,
}

/// Bytes received and not yet consumed.
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    pos: usize,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl LineBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.buf.len() + bytes.len() > self.buf.capacity() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// True when nothing unread is buffered.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// RFC 3207 §4.2: drops everything buffered, so nothing sent before the TLS
    /// handshake is read after it.
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
        self.skipping = false;
    }

    /// Releases memory when empty (idle sessions stay small).
    pub fn shrink(&mut self) {
        if self.is_empty() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    /// The next complete command line without its CRLF; `None` if more input is needed.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, LineError>> {
        let data = &self.buf[self.pos..];
        let Some(i) = data.iter().position(|&b| b == b'\n') else {
            if self.skipping || data.len() >= MAX_LINE {
                // Over-long: forget the bytes, keep skipping to the line end.
                self.skipping = true;
                self.buf.clear();
                self.pos = 0;
            }
            return None;
        };
        let raw_len = i + 1;
        let crlf = i > 0 && data[i - 1] == b'\r';
        let result = if self.skipping || raw_len > MAX_LINE {
            Err(LineError::TooLong)
        } else if !crlf {
            Err(LineError::BareLf)
        } else {
            Ok(data[..i - 1].to_vec())
        };
        self.pos += raw_len;
        self.skipping = false;
        Some(result)
    }

    /// The unread bytes, for the DATA receiver; call [`LineBuffer::consume`] with what it
    /// used.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, LineError>> {
        let mut r = LineBuffer::new();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            r.feed(c);
            while let Some(l) = r.next_line() {
                out.push(l);
            }
        }
        out
    }

    #[test]
    fn splits_in_every_chunking() {
        let input = b"EHLO a\r\nMAIL FROM:<a@b>\r\n\r\nQUIT\r\npartial";
        for chunk in 1..=input.len() {
            assert_eq!(
                lines(input, chunk),
                vec![
                    Ok(b"EHLO a".to_vec()),
                    Ok(b"MAIL FROM:<a@b>".to_vec()),
                    Ok(vec![]),
                    Ok(b"QUIT".to_vec())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn limit_is_1000_octets_including_crlf() {
        let mut ok = vec![b'x'; 998];
        ok.extend_from_slice(b"\r\n");
        let mut bad = vec![b'x'; 999];
        bad.extend_from_slice(b"\r\nNOOP\r\n");
        for chunk in [1, 3, 100, 2000] {
            assert_eq!(
                lines(&ok, chunk),
                vec![Ok(vec![b'x'; 998])],
                "chunk {chunk}"
            );
            assert_eq!(
                lines(&bad, chunk),
                vec![Err(LineError::TooLong), Ok(b"NOOP".to_vec())],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn skipping_holds_no_memory() {
        let mut r = LineBuffer::new();
        for _ in 0..1000 {
            r.feed(&[b'z'; 700]);
            assert!(r.next_line().is_none());
            assert!(r.buf.len() < MAX_LINE + 700);
        }
        r.feed(b"\r\nQUIT\r\n");
        assert_eq!(r.next_line(), Some(Err(LineError::TooLong)));
        assert_eq!(r.next_line(), Some(Ok(b"QUIT".to_vec())));
    }

    #[test]
    fn bare_lf_is_an_error_and_reading_goes_on() {
        for chunk in 1..6 {
            assert_eq!(
                lines(b"NOOP\nQUIT\r\n", chunk),
                vec![Err(LineError::BareLf), Ok(b"QUIT".to_vec())]
            );
        }
    }

    #[test]
    fn clear_discards_pipelined_bytes() {
        let mut r = LineBuffer::new();
        r.feed(b"STARTTLS\r\nRCPT TO:<evil@x>\r\n");
        assert_eq!(r.next_line(), Some(Ok(b"STARTTLS".to_vec())));
        r.clear();
        assert!(r.next_line().is_none());
        assert!(r.is_empty());
    }
}
