//! Sizes and durations as written in Buzón's configuration files, the accounts file of
//! `buzon fetch` and command-line flags: one meaning everywhere.
//!
//! - **Sizes** count in powers of 1024, as Dovecot and Postfix administrators expect:
//!   `k`, `M`, `G`, `T` (also written `kB`/`KiB`, `MB`/`MiB`, …, in any case) are 2¹⁰,
//!   2²⁰, 2³⁰ and 2⁴⁰ bytes; `B` or no unit is bytes. `"50M"` is 52,428,800 bytes. Until
//!   this module existed the retrieval client read `k`/`MB`/`G` as powers of 1000; such
//!   files still parse, and their limits grow by 2.4 % to 10 %.
//! - **Durations**: `ms`, `s`, `m` or `min`, `h`, `d`, `w`; no unit is seconds.
//!
//! - **Locations**: [`location`] finds the line where a key sits in a TOML file, from the
//!   parser's spans, so both files' errors name the right line.
//!
//! Parsing is pure and never panics: overflow and anything else is `None`, and the
//! caller words the error with the key it was reading.

#![forbid(unsafe_code)]

pub mod location;

use std::time::Duration;

/// Splits "50 M" into (50, "M"): the leading digits and the rest, trimmed.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    Some((num.parse().ok()?, unit.trim()))
}

/// A size: `"50M"`, `"1 GiB"`, `"512k"`, `"100B"`, `"1048576"`. Powers of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    parse_size_with(text, 1)
}

/// [`parse_size`] where a number without a unit is multiplied by `bare` (Dovecot's quota
/// rules count bare numbers in bytes, some other keys in KiB).
pub fn parse_size_with(text: &str, bare: u64) -> Option<u64> {
    let (n, unit) = number_and_unit(text)?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" => bare,
        "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A duration: `"250ms"`, `"30s"`, `"10m"`, `"5min"`, `"2h"`, `"1d"`, `"1w"`, or a bare
/// number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (n, unit) = number_and_unit(text)?;
    let secs = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "" | "s" => n,
        "m" | "min" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        "w" => n.checked_mul(7 * 86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_1024_in_every_spelling() {
        for (text, want) in [
            ("1234", Some(1234)),
            ("100B", Some(100)),
            ("512k", Some(512 << 10)),
            ("512 KiB", Some(512 << 10)),
            ("50M", Some(50 << 20)),
            ("20MB", Some(20 << 20)),
            ("1 MiB", Some(1 << 20)),
            ("1g", Some(1 << 30)),
            ("7 GiB", Some(7 << 30)),
            ("2T", Some(2 << 40)),
            ("", None),
            ("M", None),
            ("x", None),
            ("-5M", None),
            ("5 parsecs", None),
            ("99999999999T", None),
        ] {
            assert_eq!(parse_size(text), want, "{text:?}");
        }
        assert_eq!(parse_size_with("1024", 1024), Some(1 << 20));
        assert_eq!(parse_size_with("1k", 1024), Some(1 << 10));
    }

    #[test]
    fn durations_in_every_unit() {
        for (text, want) in [
            ("45", Some(Duration::from_secs(45))),
            ("250ms", Some(Duration::from_millis(250))),
            ("30s", Some(Duration::from_secs(30))),
            ("10m", Some(Duration::from_secs(600))),
            ("5min", Some(Duration::from_secs(300))),
            ("2h", Some(Duration::from_secs(7200))),
            ("1d", Some(Duration::from_secs(86_400))),
            ("1w", Some(Duration::from_secs(604_800))),
            (" 3 s ", Some(Duration::from_secs(3))),
            ("x", None),
            ("5 parsecs", None),
            ("1.5h", None),
            ("99999999999999999999", None),
            ("999999999999999999d", None),
        ] {
            assert_eq!(parse_duration(text), want, "{text:?}");
        }
    }
}
