//! Trace headers prepended to every delivered copy: `Return-Path` (RFC 5321 §4.4),
//! `Delivered-To` (the address this copy was accepted for; MTAs use it to detect loops),
//! and `Received` (RFC 5321 §4.4) for mail that arrived over SMTP or LMTP.
//!
//! Headers are written with LF line ends, like the stored message (see `spool`).

use std::net::IpAddr;

/// Where a message came from, for its `Received` header.
#[derive(Debug, Clone)]
pub struct ReceivedFrom {
    /// The name the client gave in EHLO/HELO/LHLO.
    pub helo: String,
    /// The client's address; `None` over a UNIX socket.
    pub peer: Option<IpAddr>,
    /// RFC 3848 / RFC 6531 §4.3 `with` keyword: ESMTP, ESMTPS, LMTP, UTF8SMTPS, ….
    pub protocol: &'static str,
}

/// What the trace headers of one copy say.
#[derive(Debug, Clone)]
pub struct Trace<'a> {
    /// The reverse-path without angle brackets; empty for the null path.
    pub return_path: &'a str,
    /// The recipient address this copy is for.
    pub delivered_to: &'a str,
    pub received: Option<&'a ReceivedFrom>,
    /// Our host name.
    pub by: &'a str,
    /// The message's id in our log.
    pub id: &'a str,
    /// Seconds since the Unix epoch.
    pub now: u64,
}

impl Trace<'_> {
    /// The header block, each field ending in LF.
    pub fn headers(&self) -> Vec<u8> {
        self.headers_without(false, false)
    }

    /// The header block without the Return-Path and/or Delivered-To field (when the
    /// message already carries them).
    pub fn headers_without(&self, return_path: bool, delivered_to: bool) -> Vec<u8> {
        let mut h = String::new();
        if !return_path {
            h.push_str(&format!("Return-Path: <{}>\n", self.return_path));
        }
        if !delivered_to {
            h.push_str(&format!("Delivered-To: {}\n", self.delivered_to));
        }
        if let Some(r) = self.received {
            // RFC 5321 §4.4: "from" Extended-Domain, "by" Domain, "with" Protocol, "id",
            // "for" Path, then ";" date-time. TCP-info is the address literal only: no
            // reverse lookups on the delivery path.
            let from = match r.peer {
                Some(IpAddr::V4(ip)) => format!("{} ([{ip}])", r.helo),
                Some(IpAddr::V6(ip)) => format!("{} ([IPv6:{ip}])", r.helo),
                None => r.helo.clone(),
            };
            h.push_str(&format!(
                "Received: from {from}\n\tby {} (Buzon) with {} id {}\n\tfor <{}>; {}\n",
                self.by,
                r.protocol,
                self.id,
                self.delivered_to,
                rfc5322_date(self.now)
            ));
        }
        h.into_bytes()
    }
}

/// RFC 5322 §3.3 date-time in UTC (the store's one implementation).
pub fn rfc5322_date(secs: u64) -> String {
    buzon_store::date::rfc5322(secs)
}

/// Seconds since the Unix epoch now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A message id for logs and replies: 12 hex digits of time and randomness.
pub fn new_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:06x}{:06x}",
        (nanos / 1_000_000) as u64 & 0xff_ffff,
        rand::random::<u32>() & 0xff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let r = ReceivedFrom {
            helo: "client.example".into(),
            peer: Some("192.0.2.7".parse().unwrap_or_else(|_| panic!())),
            protocol: "ESMTPS",
        };
        let t = Trace {
            return_path: "a@b.example",
            delivered_to: "pat@foo.example",
            received: Some(&r),
            by: "mx.foo.example",
            id: "abc",
            now: 0,
        };
        assert_eq!(
            String::from_utf8_lossy(&t.headers()),
            "Return-Path: <a@b.example>\nDelivered-To: pat@foo.example\nReceived: from client.example ([192.0.2.7])\n\tby mx.foo.example (Buzon) with ESMTPS id abc\n\tfor <pat@foo.example>; Thu, 1 Jan 1970 00:00:00 +0000\n"
        );
        let t = Trace {
            return_path: "",
            delivered_to: "x@y",
            received: None,
            by: "h",
            id: "i",
            now: 0,
        };
        assert_eq!(t.headers(), b"Return-Path: <>\nDelivered-To: x@y\n");
        let r6 = ReceivedFrom {
            helo: "c".into(),
            peer: Some("::1".parse().unwrap_or_else(|_| panic!())),
            protocol: "LMTP",
        };
        let t = Trace {
            received: Some(&r6),
            ..t
        };
        assert!(String::from_utf8_lossy(&t.headers()).contains("from c ([IPv6:::1])"));
    }
}
