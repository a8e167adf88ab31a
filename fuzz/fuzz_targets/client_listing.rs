//! The client side's parsers for what a POP3 server sends (status lines, STAT text, LIST
//! and UIDL listings) never panic on arbitrary bytes, and what they accept is within the
//! RFC's bounds: message numbers from 1, unique-ids of 1–70 printable characters, status
//! texts without control characters (safe to print).
#![no_main]

use buzon_pop3_proto::client::{parse_scan_listing, parse_stat, parse_uid_listing};
use buzon_pop3_proto::response::{parse_status_line, StatusLine};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Ok(status) = parse_status_line(line) {
        match status {
            StatusLine::Ok { text, .. } | StatusLine::Err { text, .. } => {
                assert!(!text.chars().any(|c| c.is_control() && c != '\t'), "control character in {text:?}");
                let _ = parse_stat(&text);
            }
            StatusLine::Continue(b64) => assert!(!b64.chars().any(|c| c.is_control() && c != '\t'), "control character in {b64:?}"),
        }
    }
    if let Some((n, _size)) = parse_scan_listing(line) {
        assert!(n.get() >= 1);
    }
    if let Some((n, uid)) = parse_uid_listing(line) {
        assert!(n.get() >= 1);
        let u = uid.as_str();
        assert!(!u.is_empty() && u.len() <= 70 && u.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{u:?}");
    }
    if let Ok(text) = std::str::from_utf8(line) {
        let _ = parse_stat(text);
    }
});
