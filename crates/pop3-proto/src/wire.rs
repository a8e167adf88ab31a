//! Message bytes on the wire: line-end normalisation, dot-stuffing, TOP limits.
//!
//! RFC 1939 §3: a multi-line response is a series of CRLF-terminated lines; a line that
//! begins with "." gets one more "." in front; the response ends with ".\r\n".
//! Maildir stores messages with bare LF (or CRLF, or a mix, and sometimes no final
//! newline), so one encoder turns stored bytes into wire bytes in a single pass, chunk by
//! chunk, without ever holding the whole message.
//!
//! The octet count that STAT and LIST report (RFC 1939 §5: "exact size") is the length of
//! the message *after* line-end normalisation and *before* dot-stuffing. [`WireSize`]
//! computes it with the very same rules as [`MessageEncoder`], so the two can never
//! disagree. This module must never allocate in proportion to the message size.

/// Counts the octets a stored message occupies on the wire (CRLF line ends, final line
/// terminated, not dot-stuffed): the size STAT and LIST report.
#[derive(Debug, Default, Clone)]
pub struct WireSize {
    total: u64,
    prev_cr: bool,
    any: bool,
    ends_with_lf: bool,
}

impl WireSize {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the stored message.
    pub fn update(&mut self, chunk: &[u8]) {
        let Some(&last) = chunk.last() else {
            return;
        };
        // Every byte counts once, and every LF not preceded by CR once more (the CR we
        // insert). memchr finds the LFs a word at a time.
        let mut bare_lf = 0u64;
        for at in memchr::memchr_iter(b'\n', chunk) {
            let after_cr = match at {
                0 => self.prev_cr,
                _ => chunk[at - 1] == b'\r',
            };
            bare_lf += u64::from(!after_cr);
        }
        self.total += chunk.len() as u64 + bare_lf;
        self.prev_cr = last == b'\r';
        self.ends_with_lf = last == b'\n';
        self.any = true;
    }

    /// The final count, including the CRLF added after an unterminated last line.
    pub fn finish(&self) -> u64 {
        if self.any && !self.ends_with_lf {
            if self.prev_cr {
                // A trailing bare CR becomes CRLF by adding LF.
                self.total + 1
            } else {
                self.total + 2
            }
        } else {
            self.total
        }
    }

    /// Convenience: the wire size of a complete message held in memory.
    pub fn of(message: &[u8]) -> u64 {
        let mut w = Self::new();
        w.update(message);
        w.finish()
    }
}

/// How much of a message to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// RETR: the whole message.
    Whole,
    /// TOP n k (RFC 1939 §7): the header, the blank line, then at most k body lines.
    Top(u64),
}

/// Streams a stored message as the body of a multi-line response: bare LF becomes CRLF,
/// lines starting with "." are dot-stuffed, an unterminated last line is terminated, and
/// [`MessageEncoder::finish`] appends the ".\r\n" terminator.
#[derive(Debug, Clone)]
pub struct MessageEncoder {
    extent: Extent,
    at_line_start: bool,
    prev_cr: bool,
    /// The current line so far is empty (used to find the header/body separator).
    line_empty: bool,
    in_body: bool,
    body_lines_sent: u64,
    done: bool,
    any: bool,
}

impl MessageEncoder {
    pub fn new(extent: Extent) -> Self {
        let done = false;
        Self {
            extent,
            at_line_start: true,
            prev_cr: false,
            line_empty: true,
            in_body: false,
            body_lines_sent: 0,
            done,
            any: false,
        }
    }

    /// True once a TOP limit has been reached: further input is ignored, so the caller
    /// may stop reading the file.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn body_limit_reached(&self) -> bool {
        match self.extent {
            Extent::Whole => false,
            Extent::Top(k) => self.in_body && self.body_lines_sent >= k,
        }
    }

    /// Encodes the next chunk of stored bytes, appending wire bytes to `out`.
    ///
    /// Works a line at a time: `memchr` finds each line end and the line is copied in
    /// one piece, so the cost per byte is a memory copy, not a branch.
    pub fn encode(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        out.reserve(chunk.len() + chunk.len() / 32 + 8);
        let mut i = 0;
        while i < chunk.len() {
            if self.at_line_start {
                if self.body_limit_reached() {
                    self.done = true;
                    return;
                }
                self.at_line_start = false;
                self.line_empty = true;
                self.any = true;
                if chunk[i] == b'.' {
                    out.push(b'.');
                }
            }
            let rest = &chunk[i..];
            let Some(j) = memchr::memchr(b'\n', rest) else {
                // An unfinished line: its end comes with a later chunk.
                self.note_content(rest);
                self.prev_cr = rest.last() == Some(&b'\r');
                out.extend_from_slice(rest);
                return;
            };
            let line = &rest[..j];
            self.note_content(line);
            let cr_before = match line.last() {
                Some(&b) => b == b'\r',
                None => self.prev_cr,
            };
            out.extend_from_slice(line);
            if !cr_before {
                out.push(b'\r');
            }
            out.push(b'\n');
            self.prev_cr = false;
            self.end_line();
            i += j + 1;
            if self.body_limit_reached() {
                self.done = true;
                return;
            }
        }
    }

    /// A line counts as empty (the header/body separator) while it holds nothing but CRs.
    fn note_content(&mut self, part: &[u8]) {
        if self.line_empty && part.iter().any(|&b| b != b'\r') {
            self.line_empty = false;
        }
    }

    fn end_line(&mut self) {
        // `line_empty` ignores a CR directly before this LF.
        if self.in_body {
            self.body_lines_sent += 1;
        } else if self.line_empty {
            self.in_body = true;
        }
        self.at_line_start = true;
    }

    /// Terminates an unfinished last line and appends the ".\r\n" end marker.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if !self.done && self.any && !self.at_line_start {
            if !self.prev_cr {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
        self.done = true;
        out.extend_from_slice(b".\r\n");
    }
}

/// Encodes a whole in-memory message (convenience for tests and small messages).
pub fn encode_message(message: &[u8], extent: Extent) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut enc = MessageEncoder::new(extent);
    enc.encode(message, &mut out);
    enc.finish(&mut out);
    out
}

/// Reverses dot-stuffing of a complete multi-line response body (without its ".\r\n"
/// terminator): the client side's view of [`encode_message`].
pub fn unstuff_line(line: &[u8]) -> &[u8] {
    match line {
        [b'.', rest @ ..] => rest,
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_chunked(msg: &[u8], extent: Extent, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = MessageEncoder::new(extent);
        for c in msg.chunks(chunk.max(1)) {
            e.encode(c, &mut out);
        }
        e.finish(&mut out);
        out
    }

    const CASES: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a\n", b"a\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\r", b"a\r\n.\r\n"),
        (b".\n", b"..\r\n.\r\n"),
        (b"x\n.y\n..\n", b"x\r\n..y\r\n...\r\n.\r\n"),
        (
            b"Subject: x\n\n.\nbody",
            b"Subject: x\r\n\r\n..\r\nbody\r\n.\r\n",
        ),
        (b"a\r\r\nb", b"a\r\r\nb\r\n.\r\n"),
        ("ñ\n".as_bytes(), "ñ\r\n.\r\n".as_bytes()),
    ];

    #[test]
    fn known_answers_in_every_chunking() {
        for (input, want) in CASES {
            for chunk in 1..=input.len().max(1) {
                assert_eq!(
                    enc_chunked(input, Extent::Whole, chunk),
                    *want,
                    "input {:?} chunk {chunk}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[test]
    fn wire_size_matches_unstuffed_encoding() {
        for (input, want) in CASES {
            // Size = encoded bytes minus terminator minus stuffed dots.
            let mut w = WireSize::new();
            for c in input.chunks(1) {
                w.update(c);
            }
            let body = &want[..want.len() - 3];
            let stuffed = body
                .split(|&b| b == b'\n')
                .filter(|l| l.first() == Some(&b'.'))
                .count() as u64;
            assert_eq!(w.finish(), body.len() as u64 - stuffed, "{input:?}");
            assert_eq!(WireSize::of(input), w.finish());
        }
    }

    #[test]
    fn top_sends_header_blank_line_and_k_body_lines() {
        let msg = b"A: 1\nB: 2\n\nl1\nl2\n.l3\nl4\n";
        assert_eq!(
            encode_message(msg, Extent::Top(0)),
            b"A: 1\r\nB: 2\r\n\r\n.\r\n"
        );
        assert_eq!(
            encode_message(msg, Extent::Top(1)),
            b"A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n"
        );
        assert_eq!(
            encode_message(msg, Extent::Top(3)),
            b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n"
        );
        assert_eq!(
            encode_message(msg, Extent::Top(100)),
            encode_message(msg, Extent::Whole)
        );
        for chunk in 1..msg.len() {
            assert_eq!(
                enc_chunked(msg, Extent::Top(1), chunk),
                b"A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n"
            );
        }
        // CRLF-stored header separator counts as the blank line too.
        assert_eq!(
            encode_message(b"A: 1\r\n\r\nx\r\ny\r\n", Extent::Top(1)),
            b"A: 1\r\n\r\nx\r\n.\r\n"
        );
        // No body at all: the whole header.
        assert_eq!(
            encode_message(b"A: 1\nB: 2", Extent::Top(0)),
            b"A: 1\r\nB: 2\r\n.\r\n"
        );
    }

    /// The byte-at-a-time definition the line-at-a-time encoder must match.
    fn reference_encode(msg: &[u8], extent: Extent) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut at_start, mut prev_cr, mut line_empty, mut in_body, mut sent, mut any) =
            (true, false, true, false, 0u64, false);
        let limit =
            |in_body: bool, sent: u64| matches!(extent, Extent::Top(k) if in_body && sent >= k);
        for &b in msg {
            if at_start {
                if limit(in_body, sent) {
                    out.extend_from_slice(b".\r\n");
                    return out;
                }
                at_start = false;
                line_empty = true;
                any = true;
                if b == b'.' {
                    out.push(b'.');
                }
            }
            if b == b'\n' {
                if !prev_cr {
                    out.push(b'\r');
                }
                out.push(b);
                if in_body {
                    sent += 1;
                } else if line_empty {
                    in_body = true;
                }
                at_start = true;
                prev_cr = false;
                if limit(in_body, sent) {
                    out.extend_from_slice(b".\r\n");
                    return out;
                }
                continue;
            }
            if b != b'\r' {
                line_empty = false;
            }
            prev_cr = b == b'\r';
            out.push(b);
        }
        if any && !at_start {
            if !prev_cr {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    proptest::proptest! {
        #[test]
        fn matches_the_byte_at_a_time_definition(
            msg in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b'.'), proptest::strategy::Just(b'\n'),
                proptest::strategy::Just(b'\r'), proptest::strategy::Just(b'a')], 0..120),
            chunk in 1usize..9,
            top in proptest::option::of(0u64..4),
        ) {
            let extent = top.map_or(Extent::Whole, Extent::Top);
            proptest::prop_assert_eq!(enc_chunked(&msg, extent, chunk), reference_encode(&msg, extent));
        }

        #[test]
        fn unstuffing_the_encoding_gives_back_the_normalised_message(
            msg in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b'.'), proptest::strategy::Just(b'\n'),
                proptest::strategy::Just(b'\r'), proptest::num::u8::ANY], 0..200),
            chunk in 1usize..17,
        ) {
            let wire = enc_chunked(&msg, Extent::Whole, chunk);
            proptest::prop_assert!(wire.ends_with(b".\r\n"));
            let body = &wire[..wire.len() - 3];
            // Every LF on the wire is preceded by CR, and the body ends a line.
            for (i, &b) in body.iter().enumerate() {
                if b == b'\n' { proptest::prop_assert!(i > 0 && body[i - 1] == b'\r'); }
            }
            proptest::prop_assert!(body.is_empty() || body.ends_with(b"\r\n"));
            let mut unstuffed = Vec::new();
            for line in body.split_inclusive(|&b| b == b'\n') {
                proptest::prop_assert!(line != b".\r\n");
                unstuffed.extend_from_slice(unstuff_line(line));
            }
            proptest::prop_assert_eq!(unstuffed.len() as u64, WireSize::of(&msg));
            // Fed in pieces (a CR at the end of one chunk, its LF at the start of the
            // next), the count is the same.
            let mut pieces = WireSize::new();
            for c in msg.chunks(chunk) {
                pieces.update(c);
            }
            proptest::prop_assert_eq!(pieces.finish(), WireSize::of(&msg));
            // Removing the CRs we inserted gives the original back (modulo the final line end).
            let mut normalised = Vec::new();
            let mut prev_cr = false;
            for &b in &msg {
                if b == b'\n' && !prev_cr { normalised.push(b'\r'); }
                normalised.push(b);
                prev_cr = b == b'\r';
            }
            if !msg.is_empty() && !msg.ends_with(b"\n") {
                if !prev_cr { normalised.push(b'\r'); }
                normalised.push(b'\n');
            }
            proptest::prop_assert_eq!(unstuffed, normalised);
        }
    }
}
