//! The SMTP/LMTP command parser on arbitrary bytes never panics; whatever it accepts
//! encodes to one CRLF-terminated line that parses back to the same command; every
//! refusal maps to a 5xx reply.
#![no_main]

use buzon_smtp_proto::parse_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    match parse_command(line) {
        Ok(cmd) => {
            let wire = cmd.to_bytes();
            let Some(encoded) = wire.strip_suffix(b"\r\n") else {
                panic!("{cmd:?} encoded without CRLF: {wire:?}");
            };
            assert!(!encoded.contains(&b'\n') || line.contains(&b'\n'), "{cmd:?} encodes to several lines");
            assert_eq!(parse_command(encoded), Ok(cmd), "round trip through {wire:?}");
        }
        Err(e) => {
            let code = e.reply().code();
            assert!((500..600).contains(&code), "{e:?} → {code}");
        }
    }
});
