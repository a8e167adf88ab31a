//! The session's input buffer: command lines with the RFC 5321 §4.5.3.1.6 limit, and raw
//! bytes for the DATA receiver ([`LineBuffer::unread`], [`LineBuffer::consume`]).
//!
//! It is the POP3 crate's [`LineReader`](buzon_pop3_proto::line::LineReader) with SMTP's
//! limits: "need more input" is the normal result (`None`); a line longer than the limit
//! is skipped without being stored and reported once its end arrives, so the session can
//! answer 500 5.5.2 and go on; a bare LF is reported as such (RFC 5321 §2.3.8). There is
//! no hard cap (a line without an end is skipped, holding no memory, until the command
//! timeout), so [`LineError::Runaway`] never occurs here.

pub use buzon_pop3_proto::line::{LineError, LineLimits, LineReader as LineBuffer};

/// RFC 5321 §4.5.3.1.6: a line is at most 1000 octets including CRLF. Buzón applies it
/// to command lines (§4.5.3.1.4's 512 octets grow with every extension's parameters).
pub const MAX_LINE: usize = 1000;

/// SMTP and LMTP command lines.
pub const LIMITS: LineLimits = LineLimits {
    max_line: MAX_LINE,
    hard_cap: usize::MAX,
    allow_bare_lf: false,
    auth_line: 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, LineError>> {
        let mut r = LineBuffer::new(LIMITS);
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
        let mut r = LineBuffer::new(LIMITS);
        for _ in 0..1000 {
            r.feed(&[b'z'; 700]);
            assert!(r.next_line().is_none());
            assert!(r.unread().len() < MAX_LINE + 700);
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
        let mut r = LineBuffer::new(LIMITS);
        r.feed(b"STARTTLS\r\nRCPT TO:<evil@x>\r\n");
        assert_eq!(r.next_line(), Some(Ok(b"STARTTLS".to_vec())));
        r.clear();
        assert!(r.next_line().is_none());
        assert!(r.is_empty());
    }
}
