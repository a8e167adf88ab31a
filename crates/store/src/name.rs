//! Maildir file names: base names, `,W=` sizes, delivery times, UIDLs, folder names.
//!
//! Pure functions over bytes: nothing here touches the filesystem. A Maildir file name is
//! `<base>[,<attr>=<value>…][:2,<flags>]`. The base is chosen by the delivering program
//! and never changes afterwards; attributes such as `S=` (file size) and `W=` (POP3 wire
//! size) follow it, and the `:2,` info part carries flags that mail clients rewrite.
//!
//! # UIDL format
//!
//! RFC 1939 §7 requires a unique-id listing of 1 to 70 characters in the range 0x21–0x7E
//! that never changes for a message and is never reused. Buzón derives it from the name
//! alone, so listing a mailbox never reads a message:
//!
//! 1. **Base**: the file name up to its first `:` and, within that, up to its first `,`.
//!    Moving a message from `new/` to `cur/`, changing its flags, adding `S=`/`W=`
//!    attributes or moving it to another Maildir++ folder leaves the base untouched, so
//!    the UIDL stays the same.
//! 2. **Primary UIDL**: the base itself if it is 1–70 bytes, each in 0x21–0x7E.
//!    Otherwise (too long, empty, spaces, control bytes, non-ASCII or non-UTF-8) it is
//!    `"X"` followed by the first 40 hex digits of SHA-256(base): 41 characters.
//! 3. **Duplicates**: two files in one listing (for a merged session: across INBOX and
//!    all merged folders) can share a base when a file was copied. Listing order decides:
//!    the first keeps the primary UIDL; each later one gets the primary truncated to 57
//!    characters, `"-"`, and the first 12 hex digits of SHA-256 of a discriminator. The
//!    discriminator is tried in this order until the result is unused and equal to no
//!    primary UIDL of the listing: the file name up to its first `:` (so flag changes do
//!    not alter it), the full file name, `"<folder>/<full file name>"` (INBOX counts as an
//!    empty folder name), then that followed by `"#<n>"` for n = 3, 4, ….

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use sha2::{Digest, Sha256};

use crate::StoreError;

/// RFC 1939 §7: the longest unique-id listing allowed.
pub const MAX_UIDL_LEN: usize = 70;

/// Length kept from a primary UIDL before a duplicate's `-<12 hex>` suffix.
const DUP_PREFIX_LEN: usize = MAX_UIDL_LEN - 13;

/// Longest folder name accepted (one path component of 255 bytes, minus the leading dot).
pub const MAX_FOLDER_NAME_LEN: usize = 254;

/// The part of a file name before the `:` info separator.
pub(crate) fn before_info(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b':') {
        Some(i) => &name[..i],
        None => name,
    }
}

/// The base name: up to the first `:` or `,`.
pub(crate) fn base_of(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b':' || b == b',') {
        Some(i) => &name[..i],
        None => name,
    }
}

/// The `W=<n>` attribute (wire size written by Buzón and Dovecot), if present and valid.
pub(crate) fn wire_size_attr(name: &[u8]) -> Option<u64> {
    before_info(name)
        .split(|&b| b == b',')
        .skip(1)
        .find_map(|attr| attr.strip_prefix(b"W="))
        .and_then(parse_decimal)
}

/// The `S=<n>` attribute (the file's length in bytes, written by Buzón, Dovecot and
/// Courier), if present and valid.
pub(crate) fn file_size_attr(name: &[u8]) -> Option<u64> {
    before_info(name)
        .split(|&b| b == b',')
        .skip(1)
        .find_map(|attr| attr.strip_prefix(b"S="))
        .and_then(parse_decimal)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Sort key "delivery time, then name": the leading `<secs>` and the `M<usecs>` of the
/// second dot-separated part. Names that do not start with a time sort last.
pub(crate) fn delivery_time(name: &[u8]) -> (u64, u64) {
    let mut parts = name.split(|&b| b == b'.');
    let secs = match parts.next().and_then(parse_decimal) {
        Some(s) => s,
        None => return (u64::MAX, u64::MAX),
    };
    let usecs = parts
        .next()
        .and_then(|unique| {
            let m = unique.iter().position(|&b| b == b'M')?;
            let digits = &unique[m + 1..];
            let end = digits
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(digits.len());
            parse_decimal(&digits[..end])
        })
        .unwrap_or(0);
    (secs, usecs)
}

/// RFC 1939 §7: 1–70 characters, each in 0x21–0x7E.
pub fn is_valid_uidl(uidl: &str) -> bool {
    is_uidl_bytes(uidl.as_bytes())
}

fn is_uidl_bytes(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= MAX_UIDL_LEN && b.iter().all(|&c| (0x21..=0x7e).contains(&c))
}

/// The primary UIDL of a Maildir file name (steps 1 and 2 of the module documentation).
pub fn uidl_of_file_name(name: &OsStr) -> String {
    uidl_of_base(base_of(name.as_bytes()))
}

pub(crate) fn uidl_of_base(base: &[u8]) -> String {
    if is_uidl_bytes(base) {
        // Checked above: every byte is printable ASCII.
        base.iter().map(|&b| char::from(b)).collect()
    } else {
        let digest = Sha256::digest(base);
        let mut s = String::with_capacity(41);
        s.push('X');
        s.push_str(&hex::encode(&digest[..20]));
        s
    }
}

/// True when `uidl` is the primary UIDL of a message with this base name (what
/// [`assign_uidls`] gives when nothing collides and nothing was adopted).
pub(crate) fn is_primary_uidl(uidl: &str, base: &[u8]) -> bool {
    if is_uidl_bytes(base) {
        uidl.as_bytes() == base
    } else {
        uidl == uidl_of_base(base)
    }
}

/// True when a primary UIDL has the shape of a digest one (`X` and 40 hex digits): it
/// may then equal the digest UIDL of another, unprintable base name.
pub(crate) fn looks_like_digest_uidl(uidl: &str) -> bool {
    uidl.len() == 41 && uidl.starts_with('X') && uidl[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// One message as seen by [`assign_uidls`].
pub(crate) struct UidlInput<'a> {
    pub file_name: &'a [u8],
    pub folder: Option<&'a str>,
    /// A UIDL given from outside (`adopt`): `(uidl, recorded)`. A recorded UIDL was served
    /// before and is kept whatever comes before it in the listing; an adopted one (what
    /// another server served) replaces the base name as the primary UIDL.
    pub given: Option<(&'a str, bool)>,
}

/// Step 3 of the module documentation: primary UIDLs, made unique in listing order.
pub(crate) fn assign_uidls(items: &[UidlInput<'_>]) -> Vec<String> {
    use std::collections::HashSet;
    let primaries: Vec<String> = items
        .iter()
        .map(|i| match i.given {
            Some((u, _)) => u.to_string(),
            None => uidl_of_base(base_of(i.file_name)),
        })
        .collect();
    let all: HashSet<&str> = primaries.iter().map(String::as_str).collect();
    if all.len() == primaries.len() {
        // The usual case: no copies, nothing to resolve.
        drop(all);
        return primaries;
    }
    let mut used: HashSet<String> = HashSet::with_capacity(items.len());
    // Recorded UIDLs were served already: they keep their value (the first of a
    // duplicated one, should the record hold one twice).
    let mut kept = vec![false; items.len()];
    for (i, (item, primary)) in items.iter().zip(&primaries).enumerate() {
        if matches!(item.given, Some((_, true))) && used.insert(primary.clone()) {
            kept[i] = true;
        }
    }
    let mut out = Vec::with_capacity(items.len());
    for ((item, primary), kept) in items.iter().zip(&primaries).zip(kept) {
        if kept {
            out.push(primary.clone());
            continue;
        }
        if !used.contains(primary.as_str()) {
            used.insert(primary.clone());
            out.push(primary.clone());
            continue;
        }
        let prefix = &primary[..primary.len().min(DUP_PREFIX_LEN)];
        let mut round: u64 = 0;
        let uidl = loop {
            let mut h = Sha256::new();
            match round {
                0 => h.update(before_info(item.file_name)),
                1 => h.update(item.file_name),
                n => {
                    h.update(item.folder.unwrap_or("").as_bytes());
                    h.update(b"/");
                    h.update(item.file_name);
                    if n > 2 {
                        h.update(format!("#{n}").as_bytes());
                    }
                }
            }
            let digest = h.finalize();
            let candidate = format!("{prefix}-{}", hex::encode(&digest[..6]));
            if !all.contains(candidate.as_str()) && !used.contains(&candidate) {
                break candidate;
            }
            round += 1;
        };
        used.insert(uidl.clone());
        out.push(uidl);
    }
    out
}

/// Checks a Maildir++ folder name such as `Work` or `Work.Projects` (stored as the
/// directory `.Work.Projects` under the Maildir root).
pub fn validate_folder_name(name: &str) -> Result<(), StoreError> {
    let refuse = |why: &str| {
        Err(StoreError::Invalid(format!(
            "invalid folder name {name:?}: {why}"
        )))
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_FOLDER_NAME_LEN {
        return refuse("it is longer than 254 bytes");
    }
    if name.starts_with('.') {
        return refuse("it starts with '.'");
    }
    if name.ends_with('.') || name.contains("..") {
        return refuse("'.' separates folder levels, so no level may be empty");
    }
    if name.contains('/') {
        return refuse("it contains '/'; use '.' to separate folder levels");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains control characters");
    }
    Ok(())
}

/// Maildir convention: '/', ':' and ',' in the host name become octal escapes so they
/// cannot be mistaken for path, info or attribute separators.
pub(crate) fn escape_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for c in host.chars() {
        match c {
            '/' => out.push_str("\\057"),
            ':' => out.push_str("\\072"),
            ',' => out.push_str("\\054"),
            c if c.is_control() || c == ' ' => out.push('_'),
            c => out.push(c),
        }
    }
    if out.is_empty() {
        out.push_str("localhost");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn uidl(name: &[u8]) -> String {
        uidl_of_file_name(OsStr::from_bytes(name))
    }

    #[test]
    fn recorded_uidls_are_kept_wherever_they_are_and_adopted_ones_yield_to_them() {
        let items = [
            // A new message whose base name is the UIDL recorded for a later one.
            UidlInput {
                file_name: b"X1:2,",
                folder: None,
                given: None,
            },
            UidlInput {
                file_name: b"a:2,",
                folder: None,
                given: Some(("X1", true)),
            },
            // Adopted from the other server, clashing with the recorded one.
            UidlInput {
                file_name: b"b:2,",
                folder: None,
                given: Some(("X1", false)),
            },
            UidlInput {
                file_name: b"c:2,",
                folder: None,
                given: Some(("0000000300000007", false)),
            },
        ];
        let u = assign_uidls(&items);
        assert_eq!(u[1], "X1");
        assert_eq!(u[3], "0000000300000007");
        assert!(u[0] != "X1" && u[2] != "X1" && u[0] != u[2], "{u:?}");
    }

    #[test]
    fn base_ignores_attributes_and_info() {
        assert_eq!(base_of(b"1.M2P3.host,S=10,W=12:2,S"), b"1.M2P3.host");
        assert_eq!(base_of(b"1.M2P3.host:2,S"), b"1.M2P3.host");
        assert_eq!(base_of(b"plain"), b"plain");
        assert_eq!(uidl(b"a,S=1:2,"), uidl(b"a:2,RS"));
        assert_eq!(uidl(b"a"), "a");
    }

    #[test]
    fn wire_size_attribute() {
        assert_eq!(wire_size_attr(b"1.x,S=10,W=12:2,S"), Some(12));
        assert_eq!(wire_size_attr(b"1.x,W=0"), Some(0));
        assert_eq!(wire_size_attr(b"1.x,S=10"), None);
        assert_eq!(wire_size_attr(b"1.x,W=1x"), None);
        assert_eq!(wire_size_attr(b"1.x,W="), None);
        assert_eq!(wire_size_attr(b"1.x,W=99999999999999999999999"), None);
        // W= inside the info part is a flag string, not an attribute.
        assert_eq!(wire_size_attr(b"1.x:2,W=5"), None);
        assert_eq!(wire_size_attr(b"W=5"), None);
    }

    #[test]
    fn delivery_times() {
        assert_eq!(
            delivery_time(b"1700000000.M123P4Q5R0a.h,S=1"),
            (1_700_000_000, 123)
        );
        assert_eq!(delivery_time(b"1700000000.4711_1.host"), (1_700_000_000, 0));
        assert_eq!(delivery_time(b"notatime"), (u64::MAX, u64::MAX));
        assert_eq!(delivery_time(b""), (u64::MAX, u64::MAX));
    }

    #[test]
    fn long_or_unprintable_bases_are_hashed() {
        let long = vec![b'a'; 71];
        let u = uidl(&long);
        assert!(u.starts_with('X') && u.len() == 41, "{u}");
        assert_eq!(uidl(&[b'a'; 70]).len(), 70);
        for bad in [
            &b"with space"[..],
            b"tab\there",
            b"\xff\xfe",
            "ñ".as_bytes(),
            b"",
            b":2,S",
        ] {
            let u = uidl(bad);
            assert!(u.starts_with('X') && u.len() == 41, "{bad:?} -> {u}");
            assert!(is_valid_uidl(&u));
        }
        assert_ne!(uidl(b"a b"), uidl(b"a c"));
    }

    #[test]
    fn duplicates_get_distinct_stable_suffixes() {
        let names: [&[u8]; 4] = [b"a,S=1:2,S", b"a,S=1,W=3:2,", b"a:2,", b"b"];
        let items: Vec<_> = names
            .iter()
            .map(|n| UidlInput {
                file_name: n,
                folder: None,
                given: None,
            })
            .collect();
        let u = assign_uidls(&items);
        assert_eq!(u[0], "a");
        assert!(u[1].starts_with("a-") && u[1].len() == 14, "{}", u[1]);
        assert!(u[2].starts_with("a-"));
        assert_ne!(u[1], u[2]);
        assert_eq!(u[3], "b");
        // Changing the flags of a duplicate keeps its UIDL.
        let renamed: [&[u8]; 2] = [b"a,S=1:2,S", b"a,S=1,W=3:2,RS"];
        let items: Vec<_> = renamed
            .iter()
            .map(|n| UidlInput {
                file_name: n,
                folder: None,
                given: None,
            })
            .collect();
        assert_eq!(assign_uidls(&items)[1], u[1]);
    }

    #[test]
    fn identical_names_in_different_folders_are_told_apart() {
        let items = [
            UidlInput {
                file_name: b"a:2,S",
                folder: None,
                given: None,
            },
            UidlInput {
                file_name: b"a:2,S",
                folder: Some("F"),
                given: None,
            },
            UidlInput {
                file_name: b"a:2,S",
                folder: Some("G"),
                given: None,
            },
        ];
        let u = assign_uidls(&items);
        assert_eq!(u[0], "a");
        assert!(u[1] != u[2] && u[1] != u[0] && u[2] != u[0]);
    }

    #[test]
    fn suffix_never_collides_with_a_primary() {
        // A literal file named like the suffix a duplicate would get.
        let first = assign_uidls(&[
            UidlInput {
                file_name: b"a",
                folder: None,
                given: None,
            },
            UidlInput {
                file_name: b"a",
                folder: Some("F"),
                given: None,
            },
        ]);
        let squatter = first[1].clone();
        let items = [
            UidlInput {
                file_name: b"a",
                folder: None,
                given: None,
            },
            UidlInput {
                file_name: b"a",
                folder: Some("F"),
                given: None,
            },
            UidlInput {
                file_name: squatter.as_bytes(),
                folder: Some("F"),
                given: None,
            },
        ];
        let u = assign_uidls(&items);
        assert_eq!(u[2], squatter);
        assert_ne!(u[1], squatter);
    }

    #[test]
    fn folder_names() {
        for ok in ["Work", "Work.Projects", "Señal", "a b", "x-y_z"] {
            assert!(validate_folder_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(255);
        for bad in [
            "",
            ".Work",
            "Work.",
            "a..b",
            "a/b",
            "..",
            "a\0b",
            "a\nb",
            long.as_str(),
        ] {
            assert!(
                matches!(validate_folder_name(bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn host_escaping() {
        assert_eq!(escape_host("mx/1:2,3"), "mx\\0571\\0722\\0543");
        assert_eq!(escape_host(""), "localhost");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn every_name_gives_a_valid_uidl(name in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let u = uidl(&name);
            proptest::prop_assert!(is_valid_uidl(&u), "{:?}", u);
        }

        /// A tiny alphabet and short names make copies (shared bases, identical names,
        /// names equal to another's suffix) frequent.
        #[test]
        fn assigned_uidls_are_valid_and_unique(
            names in proptest::collection::vec(
                (proptest::collection::vec(proptest::prop_oneof![
                    proptest::strategy::Just(b'a'), proptest::strategy::Just(b','),
                    proptest::strategy::Just(b':'), proptest::strategy::Just(b'-'),
                    proptest::strategy::Just(0xffu8)], 0..6),
                 proptest::option::of(proptest::prop_oneof![
                    proptest::strategy::Just("F"), proptest::strategy::Just("G")])),
                0..30),
        ) {
            let items: Vec<_> = names.iter()
                .map(|(n, folder)| UidlInput { file_name: n, folder: *folder, given: None })
                .collect();
            let u = assign_uidls(&items);
            let set: std::collections::HashSet<_> = u.iter().collect();
            proptest::prop_assert_eq!(set.len(), u.len());
            for x in &u { proptest::prop_assert!(is_valid_uidl(x), "{:?}", x); }
            // The first holder of a primary UIDL keeps it.
            let mut firsts = std::collections::HashSet::new();
            for (item, got) in items.iter().zip(&u) {
                let primary = uidl_of_base(base_of(item.file_name));
                if firsts.insert(primary.clone()) {
                    proptest::prop_assert_eq!(got, &primary);
                }
            }
        }
    }
}
