//! Trace headers prepended to every delivered copy: `Return-Path` (RFC 5321 §4.4),
//! `Delivered-To` (the address this copy was accepted for; MTAs use it to detect loops),
//! and `Received` (RFC 5321 §4.4) for mail that arrived over SMTP or LMTP.
//!
//! Headers are written with LF line ends, like the stored message (see `spool`).
//!
//! What is trusted: the envelope only (the reverse-path of MAIL FROM, or `buzon deliver
//! --from`/`$SENDER`; the recipient of RCPT TO, or `--to`). A message's own header is
//! never read as trace: every `Return-Path` field it carries is removed, since only the
//! delivering server knows the envelope sender (RFC 5321 §4.4 lets it remove them, and
//! Postfix, Exim and Dovecot do), and a `Delivered-To` for the very address of this copy
//! among its leading trace fields (one an MTA prepended before running `buzon deliver`)
//! is replaced by ours instead of repeated. Other `Delivered-To` fields stay: they are
//! the history MTAs detect loops with.

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
        let mut h = String::new();
        h.push_str(&format!("Return-Path: <{}>\n", self.return_path));
        h.push_str(&format!("Delivered-To: {}\n", self.delivered_to));
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

/// Fields an MTA prepends in front of a message before final delivery.
const LEADING_TRACE: [&[u8]; 4] = [
    b"return-path",
    b"delivered-to",
    b"x-original-to",
    b"received",
];

/// The message's header section as it is to be stored for a copy delivered to
/// `delivered_to`, or `None` when it stays as it is (the usual case). `header` is the
/// start of the message ([`super::spool::Spool::header_section`]); the result replaces
/// exactly those bytes. Removed: every `Return-Path` field, and `Delivered-To` fields
/// naming `delivered_to` among the leading trace fields (see the module documentation).
/// A field that runs to the end of `header` without the blank line that ends a header
/// section may continue beyond it and is kept.
pub fn filter_header(header: &[u8], delivered_to: &str) -> Option<Vec<u8>> {
    // Fields as (start, end, name); a field is a line plus its continuation lines.
    let mut fields: Vec<(usize, usize, &[u8])> = Vec::new();
    let mut pos = 0;
    let mut ended = false;
    while pos < header.len() {
        let end = memchr_nl(&header[pos..]).map_or(header.len(), |i| pos + i + 1);
        let line = &header[pos..end];
        if line == b"\n" || line == b"\r\n" {
            ended = true;
            break;
        }
        match (line.first(), fields.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => last.1 = end,
            _ => {
                let name = line
                    .iter()
                    .position(|&b| b == b':')
                    .map_or(&line[..0], |i| trim_end(&line[..i]));
                fields.push((pos, end, name));
            }
        }
        pos = end;
    }
    let open = if ended {
        None
    } else {
        fields.len().checked_sub(1)
    };
    let mut leading = true;
    let mut drop = Vec::new();
    for (i, (start, end, name)) in fields.iter().enumerate() {
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        leading = leading && LEADING_TRACE.iter().any(|n| is(n));
        let value = || {
            let v = &header[*start + name.len()..*end];
            let v = String::from_utf8_lossy(v);
            let v = v.trim_start_matches(|c: char| c == ':' || c.is_whitespace());
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        };
        let unwanted = is(b"return-path")
            || (leading && is(b"delivered-to") && value().eq_ignore_ascii_case(delivered_to));
        if unwanted && Some(i) != open {
            drop.push((*start, *end));
        }
    }
    if drop.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(header.len());
    let mut from = 0;
    for (start, end) in drop {
        out.extend_from_slice(&header[from..start]);
        from = end;
    }
    out.extend_from_slice(&header[from..]);
    Some(out)
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..n]
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
    fn the_messages_own_return_path_and_our_delivered_to_are_left_out() {
        let f = |h: &str, to: &str| {
            filter_header(h.as_bytes(), to).map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        // Nothing to remove: unchanged (None).
        assert_eq!(f("Subject: s\nFrom: a@b\n\n", "x@y"), None);
        // Every Return-Path goes, leading or not, in any case, with continuation lines.
        assert_eq!(
            f(
                "Return-Path: <ceo@bank.example>\nSubject: s\nreturn-path :\n <x@y>\nFrom: a@b\n\n",
                "x@y"
            )
            .as_deref(),
            Some("Subject: s\nFrom: a@b\n\n")
        );
        // A leading Delivered-To for this copy's address is replaced (dropped here, ours is
        // added in front); others, and later ones, stay.
        assert_eq!(
            f("Return-Path: <a@b>\nX-Original-To: X@Y\nDelivered-To: <X@y>\nDelivered-To: other@y\nReceived: by z\nSubject: s\nDelivered-To: x@y\n\n", "x@y").as_deref(),
            Some("X-Original-To: X@Y\nDelivered-To: other@y\nReceived: by z\nSubject: s\nDelivered-To: x@y\n\n")
        );
        // CRLF line ends and a header section cut short: the last field may continue
        // beyond the bytes seen and is kept.
        assert_eq!(
            f("Return-Path: <a@b>\r\nSubject: s\r\n\r\n", "x@y").as_deref(),
            Some("Subject: s\r\n\r\n")
        );
        assert_eq!(f("Subject: s\nReturn-Path: <a@", "x@y"), None);
        assert_eq!(
            f("Return-Path: <a@b>\nSubject: s\n", "x@y").as_deref(),
            Some("Subject: s\n")
        );
        // No header section at all.
        assert_eq!(f("just a line\n\n", "x@y"), None);
    }

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
