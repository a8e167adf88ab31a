//! `buzon_sieve::compile` on arbitrary text never panics; every error points at a line
//! and column inside the script; whatever compiles runs to an outcome with at least one
//! action, on headers parsed from the same bytes (so `parse_headers` and RFC 2047
//! decoding are fuzzed too).
#![no_main]

use buzon_sieve::{compile, parse_headers, Envelope, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers = parse_headers(data);
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match compile(src) {
        Err(e) => {
            let lines = src.split('\n').count();
            assert!(
                e.line >= 1 && (e.line as usize) <= lines && e.column >= 1,
                "{e} is outside the script"
            );
        }
        Ok(script) => {
            let envelope = Envelope {
                from: "sender@example.org",
                to: "user+detail@example.com",
            };
            let message = Message {
                headers: &headers,
                size: data.len() as u64,
            };
            let outcome = script.evaluate(&envelope, &message);
            assert!(!outcome.actions.is_empty());
            if !outcome.errors.is_empty() {
                assert_eq!(outcome.actions, vec![buzon_sieve::Action::Keep]);
            }
        }
    }
});
