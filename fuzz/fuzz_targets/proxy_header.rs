//! The HAProxy PROXY header parser (v1 text, v2 binary) on arbitrary bytes never panics;
//! a header it accepts lies inside the input and parses the same from exactly its own
//! bytes; every proper prefix of an accepted header asks for more input or is refused,
//! never accepted as something else.
#![no_main]

use buzon_server::proxy::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Some((header, len))) => {
            assert!(len > 0 && len <= data.len());
            assert_eq!(parse(&data[..len]), Ok(Some((header, len))));
            for cut in [len - 1, len / 2, 1] {
                if cut < len {
                    assert!(!matches!(parse(&data[..cut]), Ok(Some(_))), "prefix {cut} of {len} accepted");
                }
            }
        }
        Ok(None) => assert!(data.len() < 16 + 1024 + 1, "needs more after {} bytes", data.len()),
        Err(_) => {}
    }
});
