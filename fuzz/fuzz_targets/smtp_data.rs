//! The SMTP DATA receiver (dot-unstuffing, terminator detection, size cap) gives the same
//! message, the same end and the same size however the input is split into reads.
//!
//! Input: byte 0 is the piece size (0: all at once), byte 1 scales the size cap.
#![no_main]

use buzon_smtp_proto::{DataReceiver, DataStatus};
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], piece: usize, limit: u64) -> (Vec<u8>, Option<usize>, u64, bool) {
    let mut r = DataReceiver::new(limit);
    let mut sink = Vec::new();
    let mut offset = 0;
    for chunk in data.chunks(piece.max(1)) {
        match r.feed(chunk, &mut sink) {
            DataStatus::NeedMore => offset += chunk.len(),
            DataStatus::Done { consumed } => {
                assert!(consumed <= chunk.len());
                return (sink, Some(offset + consumed), r.size(), r.is_over_limit());
            }
        }
    }
    (sink, None, r.size(), r.is_over_limit())
}

fuzz_target!(|input: &[u8]| {
    let [piece, scale, data @ ..] = input else { return };
    let limit = u64::from(*scale) * 16;
    let whole = run(data, data.len().max(1), limit);
    let split = run(data, usize::from(*piece).max(1), limit);
    assert_eq!(whole, split, "piece size {piece}");
    let one = run(data, 1, limit);
    assert_eq!(whole, one, "byte by byte");
    if let Some(end) = whole.1 {
        assert!(data[..end].ends_with(b"\r\n.\r\n") || data[..end] == *b".\r\n", "ended without a terminator");
    }
});
