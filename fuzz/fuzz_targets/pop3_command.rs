//! `parse_command` on arbitrary bytes never panics, and whatever it accepts survives
//! `Command::encode` and a second parse unchanged (parse ∘ encode is the identity).
#![no_main]

use buzon_pop3_proto::parse_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let Ok(cmd) = parse_command(line) else { return };
    let mut wire = Vec::new();
    cmd.encode(&mut wire);
    let Some(encoded) = wire.strip_suffix(b"\r\n") else {
        panic!("{cmd:?} encoded without CRLF: {wire:?}");
    };
    assert!(
        encoded.len() >= cmd.keyword().len()
            && encoded[..cmd.keyword().len()] == *cmd.keyword().as_bytes(),
        "{cmd:?} does not start with its keyword: {wire:?}"
    );
    // The line reader never hands over a LF, so nothing parsed from such a line may
    // encode to more than one line.
    if !line.contains(&b'\n') {
        assert!(!encoded.contains(&b'\n'), "{cmd:?} encodes to several lines: {wire:?}");
    }
    assert_eq!(parse_command(encoded), Ok(cmd), "round trip through {wire:?}");
});
