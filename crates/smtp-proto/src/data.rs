//! The DATA phase (RFC 5321 §4.1.1.4, §4.5.2): streaming dot-unstuffing with a size cap,
//! and the client-side encoder.
//!
//! The message ends at the first `CRLF . CRLF`, where the initial CRLF may be the one that
//! ended the DATA command. Only CRLF starts a line: a bare LF or CR never does, so
//! `LF . LF` or `LF . CRLF` inside a message cannot end it early (the SMTP smuggling
//! attack relies on receivers that disagree about this). A line starting with `.` loses
//! that first `.` (transparency, §4.5.2). Lines of any length are accepted: §4.5.3.1
//! asks receivers to impose no limit on text where they can, and Buzón stores messages
//! in streaming fashion.
//!
//! The receiver never holds more than the bytes it is handed; once the unstuffed size
//! passes the cap, it stops producing bytes but keeps reading to the terminator so the
//! session can answer 552 in step with the client (RFC 1870 §6.3).

/// What [`DataReceiver::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStatus {
    /// All input used; the terminator has not arrived yet.
    NeedMore,
    /// The terminator ended the message after `consumed` bytes of the input; anything
    /// after it belongs to the next command.
    Done { consumed: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF, or at the start of the data).
    LineStart,
    /// A `.` at the start of a line.
    Dot,
    /// `.` CR at the start of a line: LF now ends the message.
    DotCr,
    /// Inside a line.
    Mid,
    /// A CR inside a line, not yet written (it may start the CRLF that ends the line).
    Cr,
    /// The terminator was seen.
    Done,
}

/// Unstuffs one message body.
#[derive(Debug, Clone)]
pub struct DataReceiver {
    state: State,
    size: u64,
    limit: u64,
}

impl DataReceiver {
    /// `limit`: the largest message accepted, in octets after unstuffing (CRLF line ends
    /// as received).
    pub fn new(limit: u64) -> Self {
        Self {
            state: State::LineStart,
            size: 0,
            limit,
        }
    }

    /// The message's size so far (counting bytes beyond the cap too).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True once the message exceeded the limit: nothing more is written to the sink and
    /// the message must be refused.
    pub fn is_over_limit(&self) -> bool {
        self.size > self.limit
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn emit(&mut self, bytes: &[u8], sink: &mut Vec<u8>) {
        let before = self.size;
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size <= self.limit {
            sink.extend_from_slice(bytes);
        } else if before < self.limit {
            // Keep what still fits, so a caller that inspects the sink sees a prefix.
            let room = (self.limit - before) as usize;
            sink.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }

    /// Processes `input`, appending the unstuffed message bytes to `sink`.
    pub fn feed(&mut self, input: &[u8], sink: &mut Vec<u8>) -> DataStatus {
        let mut i = 0;
        // Runs of ordinary bytes inside a line are copied in one go.
        while i < input.len() {
            if self.state == State::Done {
                return DataStatus::Done { consumed: i };
            }
            if self.state == State::Mid {
                let run = input[i..]
                    .iter()
                    .position(|&b| b == b'\r')
                    .unwrap_or(input.len() - i);
                if run > 0 {
                    self.emit(&input[i..i + run], sink);
                    i += run;
                    continue;
                }
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (State::LineStart, b'.') => State::Dot,
                (State::LineStart | State::Mid, b'\r') => State::Cr,
                (State::LineStart | State::Mid, _) => {
                    self.emit(&[b], sink);
                    State::Mid
                }
                // The stuffed dot is dropped; the byte after it starts the line's text.
                (State::Dot, b'\r') => State::DotCr,
                (State::Dot, _) => {
                    self.emit(&[b], sink);
                    State::Mid
                }
                (State::DotCr, b'\n') => State::Done,
                (State::Cr, b'\n') => {
                    self.emit(b"\r\n", sink);
                    State::LineStart
                }
                // ".\r" followed by more text: the dot goes, the CR stays.
                (State::DotCr | State::Cr, b'\r') => {
                    self.emit(b"\r", sink);
                    State::Cr
                }
                (State::DotCr | State::Cr, _) => {
                    self.emit(&[b'\r', b], sink);
                    State::Mid
                }
                (State::Done, _) => State::Done,
            };
        }
        if self.state == State::Done {
            DataStatus::Done { consumed: i }
        } else {
            DataStatus::NeedMore
        }
    }
}

/// The client side: a message as DATA bytes — line ends normalised to CRLF, an
/// unterminated last line terminated, lines starting with `.` stuffed, and the
/// `.` CRLF terminator appended.
pub fn encode_data(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 5);
    let mut line_start = true;
    let mut prev_cr = false;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        line_start = false;
        match b {
            b'\n' => {
                if !prev_cr {
                    out.push(b'\r');
                }
                out.push(b'\n');
                line_start = true;
            }
            _ => out.push(b),
        }
        prev_cr = b == b'\r';
    }
    if !message.is_empty() && !message.ends_with(b"\n") {
        if prev_cr {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `chunk`; returns the message and the bytes left over.
    fn receive(input: &[u8], chunk: usize, limit: u64) -> (Vec<u8>, Option<Vec<u8>>, bool) {
        let mut r = DataReceiver::new(limit);
        let mut sink = Vec::new();
        let mut offset = 0;
        for c in input.chunks(chunk.max(1)) {
            match r.feed(c, &mut sink) {
                DataStatus::NeedMore => offset += c.len(),
                DataStatus::Done { consumed } => {
                    let rest = input[offset + consumed..].to_vec();
                    return (sink, Some(rest), r.is_over_limit());
                }
            }
        }
        (sink, None, r.is_over_limit())
    }

    #[test]
    fn known_answers_in_every_chunking() {
        type Case = (&'static [u8], &'static [u8], Option<&'static [u8]>);
        let table: &[Case] = &[
            (b".\r\n", b"", Some(b"")),
            (b"a\r\n.\r\nQUIT\r\n", b"a\r\n", Some(b"QUIT\r\n")),
            (b"..dot\r\n.\r\n", b".dot\r\n", Some(b"")),
            (b"...\r\n.\r\n", b"..\r\n", Some(b"")),
            (b"a\r\n.x\r\n.\r\n", b"a\r\nx\r\n", Some(b"")),
            // Bare LF and bare CR never start a line: no early end (SMTP smuggling).
            (b"a\n.\nb\r\n.\r\n", b"a\n.\nb\r\n", Some(b"")),
            (b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n", Some(b"")),
            (b"a\r.\r\nb\r\n.\r\n", b"a\r.\r\nb\r\n", Some(b"")),
            (b".\rx\r\n.\r\n", b"\rx\r\n", Some(b"")),
            (b"a\r\r\n.\r\n", b"a\r\r\n", Some(b"")),
            (b"no end\r\n", b"no end\r\n", None),
            (b"x\r\n.\r", b"x\r\n", None),
            (b"\r\n\r\n.\r\nMAIL", b"\r\n\r\n", Some(b"MAIL")),
        ];
        for (input, want, rest) in table {
            for chunk in 1..=input.len() {
                let (got, left, over) = receive(input, chunk, 1 << 20);
                assert_eq!(
                    got,
                    *want,
                    "{:?} chunk {chunk}",
                    String::from_utf8_lossy(input)
                );
                assert_eq!(
                    left.as_deref(),
                    *rest,
                    "{:?} chunk {chunk}",
                    String::from_utf8_lossy(input)
                );
                assert!(!over);
            }
        }
    }

    #[test]
    fn size_cap_stops_output_but_reads_to_the_end() {
        let input = b"0123456789\r\n0123456789\r\n.\r\nQUIT\r\n";
        for chunk in 1..=input.len() {
            let (got, left, over) = receive(input, chunk, 15);
            assert!(over, "chunk {chunk}");
            assert_eq!(got, b"0123456789\r\n012", "chunk {chunk}");
            assert_eq!(left.as_deref(), Some(&b"QUIT\r\n"[..]));
        }
        // Exactly at the limit is fine.
        let (_, _, over) = receive(b"0123456789\r\n.\r\n", 3, 12);
        assert!(!over);
    }

    #[test]
    fn encoder_and_receiver_agree() {
        let messages: &[&[u8]] = &[
            b"",
            b"a",
            b"a\nb\n",
            b".\n..\n.x",
            b"x\r\ny\r\n",
            b"end with cr\r",
            b"\n\n.\n",
        ];
        for m in messages {
            let wire = encode_data(m);
            let (got, left, _) = receive(&wire, 7, 1 << 20);
            assert_eq!(left.as_deref(), Some(&b""[..]), "{m:?}");
            let mut want = Vec::new();
            let mut prev_cr = false;
            for &b in *m {
                if b == b'\n' && !prev_cr {
                    want.push(b'\r');
                }
                want.push(b);
                prev_cr = b == b'\r';
            }
            if !m.is_empty() && !m.ends_with(b"\n") {
                want.extend_from_slice(if prev_cr { b"\n" } else { b"\r\n" });
            }
            assert_eq!(got, want, "{m:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_message_survives_the_round_trip(m in proptest::collection::vec(proptest::sample::select(vec![b'a', b'.', b'\r', b'\n', b' ']), 0..200), chunk in 1usize..17) {
            let wire = encode_data(&m);
            let (got, left, _) = receive(&wire, chunk, u64::MAX);
            proptest::prop_assert_eq!(left.as_deref(), Some(&b""[..]));
            let (whole, _, _) = receive(&wire, wire.len().max(1), u64::MAX);
            proptest::prop_assert_eq!(got, whole);
        }

        #[test]
        fn never_panics(input in proptest::collection::vec(proptest::num::u8::ANY, 0..300), chunk in 1usize..9, limit in 0u64..400) {
            let _ = receive(&input, chunk, limit);
        }
    }
}
