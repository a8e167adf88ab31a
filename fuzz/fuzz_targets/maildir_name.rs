//! Maildir file-name parsing on arbitrary bytes: the UIDL derived from any file name is a
//! valid RFC 1939 §7 unique-id, and it depends only on the base name, so flag changes
//! (`:2,…`) and size attributes (`,S=`, `,W=`) never change it. Folder-name validation
//! never panics and never accepts a name that could leave the Maildir.
#![no_main]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use buzon_store::name::{is_valid_uidl, uidl_of_file_name, validate_folder_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let uidl = uidl_of_file_name(OsStr::from_bytes(data));
    assert!(is_valid_uidl(&uidl), "invalid UIDL {uidl:?} for {data:?}");
    let base_len = data.iter().position(|&b| b == b':' || b == b',').unwrap_or(data.len());
    let base = &data[..base_len];
    for suffix in [&b",S=123,W=130"[..], b":2,", b":2,FRS", b",W=1:2,T"] {
        let mut renamed = base.to_vec();
        renamed.extend_from_slice(suffix);
        assert_eq!(uidl_of_file_name(OsStr::from_bytes(&renamed)), uidl_of_file_name(OsStr::from_bytes(base)), "{renamed:?}");
    }
    if let Ok(name) = std::str::from_utf8(data) {
        if validate_folder_name(name).is_ok() {
            assert!(!name.is_empty() && !name.contains('/') && !name.contains('\0'), "{name:?} accepted");
            assert!(!name.split('.').any(|part| part.is_empty() || part == ".."), "{name:?} accepted");
        }
    }
});
