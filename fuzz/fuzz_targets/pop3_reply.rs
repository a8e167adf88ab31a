//! `ReplyReader` on arbitrary server bytes never panics and yields events in an order a
//! client can rely on: a status line, then for a multi-line `+OK` body lines ending in
//! CRLF and one end marker.
//!
//! Input: byte 0 says, bit by bit and cycling, whether each reply announced to the reader
//! is multi-line; byte 1 is the size of the pieces the bytes arrive in (0: all at once).
#![no_main]

use buzon_pop3_proto::client::{ReplyEvent, ReplyReader};
use buzon_pop3_proto::response::StatusLine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [flags, piece, server @ ..] = data else { return };
    let mut replies = 0u32;
    let mut announce = |r: &mut ReplyReader| {
        let multi = flags >> (replies % 8) & 1 == 1;
        replies += 1;
        r.expect(multi);
        multi
    };
    let mut reader = ReplyReader::new();
    let mut multi = announce(&mut reader);
    let mut in_body = false;
    let piece = if *piece == 0 { server.len().max(1) } else { usize::from(*piece) };
    for chunk in server.chunks(piece) {
        reader.feed(chunk);
        while let Some(event) = reader.next_event() {
            match event {
                // A client gives up on the connection here; the reader keeps reporting it.
                Err(_) => return,
                Ok(ReplyEvent::Status(status)) => {
                    assert!(!in_body, "status line inside a body");
                    if multi && matches!(status, StatusLine::Ok { .. }) {
                        in_body = true;
                    } else {
                        multi = announce(&mut reader);
                    }
                }
                Ok(ReplyEvent::Line(line)) => {
                    assert!(in_body, "body line outside a multi-line reply");
                    assert!(line.ends_with(b"\r\n"), "body line without CRLF: {line:?}");
                }
                Ok(ReplyEvent::End) => {
                    assert!(in_body, "end marker outside a multi-line reply");
                    in_body = false;
                    multi = announce(&mut reader);
                }
            }
        }
    }
});
