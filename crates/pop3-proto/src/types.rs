//! Validated POP3 values: message numbers, unique-ids, response codes, secrets.
//!
//! Each type can only hold what the RFCs allow, so code that has one never re-checks it.

use std::fmt;
use std::num::NonZeroU32;

/// A message number (RFC 1939 §5): 1-based, as typed by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgNum(NonZeroU32);

impl MsgNum {
    pub fn new(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(Self)
    }
    /// The 1-based number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
    /// The 0-based index into the session's message list.
    pub fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
    /// The message number for a 0-based index.
    pub fn from_index(index: usize) -> Option<Self> {
        u32::try_from(index)
            .ok()
            .and_then(|i| i.checked_add(1))
            .and_then(Self::new)
    }
    /// Parses the decimal form used on the wire: digits only, no sign, no leading "+".
    pub fn parse(s: &[u8]) -> Option<Self> {
        parse_decimal(s)
            .and_then(|n| u32::try_from(n).ok())
            .and_then(Self::new)
    }
}

impl fmt::Display for MsgNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parses 1–19 ASCII digits into a u64 with checked arithmetic.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// A unique-id listing value (RFC 1939 §7, UIDL): 1 to 70 characters in 0x21–0x7E.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uidl(String);

impl Uidl {
    pub const MAX_LEN: usize = 70;

    pub fn new(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        Self::is_valid(s.as_bytes()).then_some(Self(s))
    }
    pub fn is_valid(s: &[u8]) -> bool {
        !s.is_empty() && s.len() <= Self::MAX_LEN && s.iter().all(|b| (0x21..=0x7e).contains(b))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uidl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Extended response codes (RFC 2449 §8, RFC 3206), sent in brackets after +OK/-ERR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespCode {
    /// RFC 2449 §8.1.1: the maildrop is locked by another session.
    InUse,
    /// RFC 2449 §8.1.2: the user logged in too recently.
    LoginDelay,
    /// RFC 3206 §4: a temporary system problem; try again later.
    SysTemp,
    /// RFC 3206 §4: a permanent system problem; don't retry.
    SysPerm,
    /// RFC 3206 §5: the credentials were wrong (or not usable here).
    Auth,
    /// RFC 6856 §3: UTF8 needed / not permitted.
    Utf8,
    /// Any other code, as received by a client.
    Other(String),
}

impl RespCode {
    pub fn as_str(&self) -> &str {
        match self {
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::Auth => "AUTH",
            RespCode::Utf8 => "UTF8",
            RespCode::Other(s) => s,
        }
    }
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "IN-USE" => RespCode::InUse,
            "LOGIN-DELAY" => RespCode::LoginDelay,
            "SYS/TEMP" => RespCode::SysTemp,
            "SYS/PERM" => RespCode::SysPerm,
            "AUTH" => RespCode::Auth,
            "UTF8" => RespCode::Utf8,
            _ => RespCode::Other(s.to_string()),
        }
    }
}

impl fmt::Display for RespCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password or SASL payload. `Debug` prints `Secret(***)` and there is deliberately no
/// `Display`, so it never reaches a log by accident; the buffer, spare capacity included,
/// is zeroed on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }
    /// The secret bytes, for the code that really needs them (hashing, digests).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites every byte of `buf`, spare capacity included, with zeros. Growing to the
/// capacity never reallocates, so no copy is left behind.
fn wipe(buf: &mut Vec<u8>) {
    let cap = buf.capacity();
    buf.resize(cap, 0);
    for b in buf.iter_mut() {
        *b = 0;
    }
    // Keeps the optimiser from treating the stores as dead before the free.
    std::hint::black_box(&mut *buf);
}

/// How a POP3 connection is protected: the one spelling that `fetch`, `check`, `setup`
/// and `bench` all use, in flags and in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// TLS from the first byte (POP3S, port 995; RFC 8314 §3.3 recommends it).
    Tls,
    /// A plain connection upgraded with STLS (RFC 2595 §4, port 110); never downgraded.
    Starttls,
    /// No encryption at all.
    None,
}

impl Security {
    /// The IANA port for the security (RFC 8314 §7.3, RFC 1939 §3).
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 995,
            Security::Starttls | Security::None => 110,
        }
    }

    /// The canonical spelling: `tls`, `starttls` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Starttls => "starttls",
            Security::None => "none",
        }
    }

    /// Parses the canonical spelling, and the older ones still read: `stls` (for
    /// `starttls`, as `buzon bench` spelt it), `plain` (for `none`), `implicit`, `pop3s`
    /// and `ssl` (for `tls`). The second value is the canonical spelling when an older one
    /// was used, so that a caller can say so.
    pub fn parse(text: &str) -> Option<(Security, Option<&'static str>)> {
        let lower = text.trim().to_ascii_lowercase();
        let (security, canonical) = match lower.as_str() {
            "tls" => (Security::Tls, true),
            "starttls" => (Security::Starttls, true),
            "none" => (Security::None, true),
            "implicit" | "pop3s" | "ssl" => (Security::Tls, false),
            "stls" => (Security::Starttls, false),
            "plain" => (Security::None, false),
            _ => return None,
        };
        Some((security, (!canonical).then(|| security.as_str())))
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Written as its canonical spelling (`--json` output, accounts files).
impl serde::Serialize for Security {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Read from any spelling [`Security::parse`] accepts.
impl<'de> serde::Deserialize<'de> for Security {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Security {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Security::parse(text)
            .map(|(s, _)| s)
            .ok_or_else(|| format!("{text:?} is not a security: use tls, starttls or none"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgnum_parsing() {
        assert_eq!(MsgNum::parse(b"1").map(MsgNum::get), Some(1));
        assert_eq!(MsgNum::parse(b"0"), None);
        assert_eq!(MsgNum::parse(b"-1"), None);
        assert_eq!(MsgNum::parse(b"+1"), None);
        assert_eq!(MsgNum::parse(b""), None);
        assert_eq!(MsgNum::parse(b"4294967296"), None);
        assert_eq!(MsgNum::parse(b"99999999999999999999999"), None);
        assert_eq!(
            MsgNum::parse(b"4294967295").map(MsgNum::get),
            Some(u32::MAX)
        );
        assert_eq!(MsgNum::parse(b"007").map(MsgNum::index), Some(6));
    }

    #[test]
    fn security_has_one_spelling_and_reads_the_old_ones() {
        for s in [Security::Tls, Security::Starttls, Security::None] {
            assert_eq!(Security::parse(s.as_str()), Some((s, None)));
            assert_eq!(s.to_string().parse::<Security>(), Ok(s));
        }
        assert_eq!(
            Security::parse("STLS"),
            Some((Security::Starttls, Some("starttls")))
        );
        assert_eq!(
            Security::parse("plain"),
            Some((Security::None, Some("none")))
        );
        assert_eq!(Security::parse("pop3s"), Some((Security::Tls, Some("tls"))));
        assert_eq!(Security::parse("tls1.3"), None);
        assert_eq!(Security::Tls.default_port(), 995);
        assert_eq!(Security::Starttls.default_port(), 110);
    }

    #[test]
    fn uidl_rules() {
        assert!(Uidl::new("whqtswO00WBw418f9t5JxYwZ").is_some());
        assert!(Uidl::new("").is_none());
        assert!(Uidl::new("a b").is_none());
        assert!(Uidl::new("x".repeat(70)).is_some());
        assert!(Uidl::new("x".repeat(71)).is_none());
        assert!(Uidl::new("ñ").is_none());
    }

    #[test]
    fn secret_debug_hides_content() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
        assert_eq!(s.expose(), b"hunter2");
        assert_eq!(s.len(), 7);
    }

    #[test]
    fn wipe_zeroes_spare_capacity_too() {
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(b"password");
        let cap = v.capacity();
        wipe(&mut v);
        assert_eq!(v.len(), cap);
        assert!(v.iter().all(|&b| b == 0));
    }
}
