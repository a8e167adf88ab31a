//! `MessageEncoder` on arbitrary stored bytes, in arbitrary pieces: the wire form is the
//! same however the input is cut, it is CRLF lines, no line before the terminator is a
//! lone "." (every line starting with "." is stuffed), the unstuffed size equals
//! `WireSize`, and TOP sends a prefix of RETR that ends at a line end.
//!
//! Input: byte 0 chooses the extent (high bit set: TOP with the low 4 bits as line count,
//! otherwise RETR), byte 1 the piece size (0: all at once); the rest is the stored message.
#![no_main]

use buzon_pop3_proto::wire::{encode_message, unstuff_line, Extent, MessageEncoder, WireSize};
use libfuzzer_sys::fuzz_target;

fn encode_in_pieces(message: &[u8], extent: Extent, piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = MessageEncoder::new(extent);
    for chunk in message.chunks(piece.max(1)) {
        encoder.encode(chunk, &mut out);
    }
    encoder.finish(&mut out);
    out
}

/// The body of a multi-line response without its ".\r\n", after checking its form.
fn body(wire: &[u8]) -> &[u8] {
    let body = wire.strip_suffix(b".\r\n").expect("no terminator");
    assert!(body.is_empty() || body.ends_with(b"\r\n"), "last line not terminated: {wire:?}");
    for line in body.split_inclusive(|&b| b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "line without CRLF: {line:?}");
        if line.first() == Some(&b'.') {
            assert_eq!(line.get(1), Some(&b'.'), "unstuffed dot line: {line:?}");
        }
    }
    body
}

fuzz_target!(|data: &[u8]| {
    let [how, piece, message @ ..] = data else { return };
    let piece = if *piece == 0 { message.len().max(1) } else { usize::from(*piece) };
    let extent = if how & 0x80 != 0 { Extent::Top(u64::from(how & 0x0f)) } else { Extent::Whole };

    let whole = encode_message(message, Extent::Whole);
    for p in [piece, 1] {
        assert_eq!(encode_in_pieces(message, Extent::Whole, p), whole, "RETR differs in pieces of {p}");
    }
    let whole_body = body(&whole);
    let unstuffed: usize = whole_body.split_inclusive(|&b| b == b'\n').map(|l| unstuff_line(l).len()).sum();
    let mut size = WireSize::new();
    for chunk in message.chunks(piece) {
        size.update(chunk);
    }
    assert_eq!(size.finish(), WireSize::of(message));
    assert_eq!(unstuffed as u64, WireSize::of(message), "size differs from what is sent");

    if let Extent::Top(_) = extent {
        let top = encode_message(message, extent);
        for p in [piece, 1] {
            assert_eq!(encode_in_pieces(message, extent, p), top, "TOP differs in pieces of {p}");
        }
        let top_body = body(&top);
        assert!(whole_body.starts_with(top_body), "TOP is not a prefix of RETR");
    }
});
