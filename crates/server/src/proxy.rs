//! HAProxy PROXY protocol, versions 1 (text) and 2 (binary), as sent by load balancers in
//! front of the server. Accepted only from configured trusted networks, so the real client
//! address is what gets logged, limited and throttled.
//!
//! Pure parsing: bytes in, the client address (or "need more") out. Of a v2 header's TLVs
//! only `PP2_TYPE_SSL` is read: its `PP2_CLIENT_SSL` bit says the client spoke TLS to the
//! balancer (HAProxy's `send-proxy-v2-ssl` with TLS terminated there), which makes the
//! connection secure for the login policy, as Dovecot does for `haproxy_trusted_networks`.
//! Other TLVs, and malformed ones, are skipped; they never make a connection secure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1 headers are at most 107 bytes (the specification's limit).
const V1_MAX: usize = 107;
/// Version 2 headers larger than this are refused (HAProxy's SSL TLV with version, cipher
/// and key names stays well below it).
const V2_MAX: usize = 16 + 1024;
/// PROXY v2 TLV type: information about the client's TLS connection to the balancer.
const PP2_TYPE_SSL: u8 = 0x20;
/// In the SSL TLV's `client` field: the client connected over TLS.
const PP2_CLIENT_SSL: u8 = 0x01;

/// What a PROXY header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The original client's address, and whether the client spoke TLS to the balancer
    /// (the v2 SSL TLV with `PP2_CLIENT_SSL`; never for v1).
    Forwarded { addr: SocketAddr, client_tls: bool },
    /// A health check or an unknown family: the client's address is unknown. The
    /// connection keeps the balancer's own address for logs and connection limits, but
    /// that address never makes it trusted (plaintext logins, throttle exemption).
    Local,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("malformed PROXY header: {0}")]
    Malformed(&'static str),
}

/// Parses a header at the start of `buf`. `Ok(None)` means more bytes are needed;
/// `Ok(Some((header, n)))` means the first `n` bytes were the header.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'\r' {
        return parse_v2(buf);
    }
    if buf[0] == b'P' {
        return parse_v1(buf);
    }
    Err(ProxyError::Malformed(
        "expected a PROXY header from a trusted proxy",
    ))
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let prefix = &b"PROXY "[..buf.len().min(6)];
    if !buf.starts_with(prefix) {
        return Err(ProxyError::Malformed("bad v1 signature"));
    }
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Err(ProxyError::Malformed("v1 header too long"))
        } else {
            Ok(None)
        };
    };
    if end + 2 > V1_MAX {
        return Err(ProxyError::Malformed("v1 header too long"));
    }
    let line = std::str::from_utf8(&buf[6..end])
        .map_err(|_| ProxyError::Malformed("v1 header is not ASCII"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let header = match parts.as_slice() {
        ["UNKNOWN", ..] => ProxyHeader::Local,
        [fam @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let ip: IpAddr = src
                .parse()
                .map_err(|_| ProxyError::Malformed("v1 source address"))?;
            if (*fam == "TCP4") != ip.is_ipv4() {
                return Err(ProxyError::Malformed("v1 address family mismatch"));
            }
            let port: u16 = sport
                .parse()
                .map_err(|_| ProxyError::Malformed("v1 source port"))?;
            ProxyHeader::Forwarded {
                addr: SocketAddr::new(ip, port),
                client_tls: false,
            }
        }
        _ => return Err(ProxyError::Malformed("v1 fields")),
    };
    Ok(Some((header, end + 2)))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let n = buf.len().min(12);
    if buf[..n] != V2_SIGNATURE[..n] {
        return Err(ProxyError::Malformed("bad v2 signature"));
    }
    if buf.len() < 16 {
        return Ok(None);
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::Malformed("v2 version"));
    }
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = 16 + len;
    if total > V2_MAX {
        return Err(ProxyError::Malformed("v2 header too long"));
    }
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[16..total];
    let header = match (ver_cmd & 0x0f, buf[13]) {
        (0x0, _) => ProxyHeader::Local,
        (0x1, 0x11) => {
            if body.len() < 12 {
                return Err(ProxyError::Malformed("v2 IPv4 block too short"));
            }
            let ip = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
            let port = u16::from_be_bytes([body[8], body[9]]);
            ProxyHeader::Forwarded {
                addr: SocketAddr::new(IpAddr::V4(ip), port),
                client_tls: client_tls(&body[12..]),
            }
        }
        (0x1, 0x21) => {
            if body.len() < 36 {
                return Err(ProxyError::Malformed("v2 IPv6 block too short"));
            }
            let mut a = [0u8; 16];
            a.copy_from_slice(&body[..16]);
            let port = u16::from_be_bytes([body[32], body[33]]);
            ProxyHeader::Forwarded {
                addr: SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port),
                client_tls: client_tls(&body[36..]),
            }
        }
        (0x1, _) => ProxyHeader::Local,
        _ => return Err(ProxyError::Malformed("v2 command")),
    };
    Ok(Some((header, total)))
}

/// Whether the TLVs after a v2 address block hold an SSL TLV whose `client` field has
/// `PP2_CLIENT_SSL`. A TLV running past the header ends the walk: what follows is not
/// trusted, and an SSL TLV too short for its `client` and `verify` fields counts as none.
fn client_tls(mut tlvs: &[u8]) -> bool {
    while let [kind, hi, lo, rest @ ..] = tlvs {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let Some((value, next)) = rest.split_at_checked(len) else {
            return false;
        };
        if *kind == PP2_TYPE_SSL {
            // client (1 byte), verify (4 bytes), then sub-TLVs (version, cipher, …).
            return value.len() >= 5 && value[0] & PP2_CLIENT_SSL != 0;
        }
        tlvs = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_prefixes_need_more(full: &[u8]) {
        for i in 0..full.len() {
            assert_eq!(parse(&full[..i]), Ok(None), "prefix {i}");
        }
    }

    #[test]
    fn v1() {
        let h = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\nCAPA\r\n";
        let want = ProxyHeader::Forwarded {
            addr: "192.0.2.7:56324".parse().unwrap_or_else(|_| panic!()),
            client_tls: false,
        };
        assert_eq!(parse(h), Ok(Some((want, 45))));
        all_prefixes_need_more(&h[..45]);
        let h6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 1000 995\r\n";
        assert!(
            matches!(parse(h6), Ok(Some((ProxyHeader::Forwarded { addr, .. }, _))) if addr.ip().is_ipv6())
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n"),
            Ok(Some((ProxyHeader::Local, 15)))
        );
        assert!(parse(b"PROXY TCP4 ::1 ::1 1 2\r\n").is_err());
        assert!(parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n").is_err());
        assert!(parse(b"USER x\r\n").is_err());
        assert!(parse(&[b'P'; 200]).is_err());
        let mut long = b"PROXY ".to_vec();
        long.extend(vec![b'1'; 200]);
        assert!(parse(&long).is_err());
    }

    #[test]
    fn v2() {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend_from_slice(&[
            0x21, 0x11, 0, 12, 203, 0, 113, 9, 127, 0, 0, 1, 0x1f, 0x90, 0, 110,
        ]);
        let want = ProxyHeader::Forwarded {
            addr: "203.0.113.9:8080".parse().unwrap_or_else(|_| panic!()),
            client_tls: false,
        };
        assert_eq!(parse(&h), Ok(Some((want, 28))));
        all_prefixes_need_more(&h);
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(parse(&local), Ok(Some((ProxyHeader::Local, 16))));
        let mut bad = V2_SIGNATURE.to_vec();
        bad.extend_from_slice(&[0x21, 0x11, 0, 4, 1, 2, 3, 4]);
        assert!(parse(&bad).is_err());
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(parse(&huge).is_err());
    }

    /// A v2 PROXY header for 203.0.113.9:8080 (IPv4, or IPv6 2001:db8::9) with `tlvs` after
    /// the address block.
    fn v2_with(tlvs: &[u8], v6: bool) -> Vec<u8> {
        let mut body = Vec::new();
        if v6 {
            body.extend_from_slice(
                &"2001:db8::9"
                    .parse::<Ipv6Addr>()
                    .map(|a| a.octets())
                    .unwrap_or_default(),
            );
            body.extend_from_slice(&[0; 16]);
        } else {
            body.extend_from_slice(&[203, 0, 113, 9, 127, 0, 0, 1]);
        }
        body.extend_from_slice(&[0x1f, 0x90, 0, 110]);
        body.extend_from_slice(tlvs);
        let mut h = V2_SIGNATURE.to_vec();
        h.extend_from_slice(&[0x21, if v6 { 0x21 } else { 0x11 }]);
        h.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
        h.extend_from_slice(&body);
        h
    }

    fn tls_of(h: &[u8]) -> Option<bool> {
        match parse(h) {
            Ok(Some((ProxyHeader::Forwarded { client_tls, .. }, n))) if n == h.len() => {
                Some(client_tls)
            }
            _ => None,
        }
    }

    /// What HAProxy 2.6 sends with `send-proxy-v2-ssl` for a TLS client: an ALPN-less
    /// header with PP2_TYPE_SSL (client = PP2_CLIENT_SSL, verify = 0) holding the
    /// PP2_SUBTYPE_SSL_VERSION "TLSv1.3" sub-TLV.
    fn ssl_tlv(client: u8) -> Vec<u8> {
        let mut v = vec![client, 0, 0, 0, 0, 0x21, 0, 7];
        v.extend_from_slice(b"TLSv1.3");
        let mut t = vec![PP2_TYPE_SSL];
        t.extend_from_slice(&u16::try_from(v.len()).unwrap_or(0).to_be_bytes());
        t.extend_from_slice(&v);
        t
    }

    #[test]
    fn v2_ssl_tlv_marks_the_client_as_tls() {
        for v6 in [false, true] {
            let h = v2_with(&ssl_tlv(PP2_CLIENT_SSL), v6);
            assert_eq!(tls_of(&h), Some(true), "v6 {v6}");
            all_prefixes_need_more(&h);
            // Behind other TLVs (ALPN 0x01, unique id 0x05, a NOOP 0x04).
            let mut t = vec![
                0x01, 0, 4, b'p', b'o', b'p', b'3', 0x04, 0, 0, 0x05, 0, 2, 9, 9,
            ];
            t.extend(ssl_tlv(PP2_CLIENT_SSL | 0x04));
            assert_eq!(tls_of(&v2_with(&t, v6)), Some(true));
            // The SSL TLV without the client bit (a plain client; HAProxy sends the TLV
            // for `send-proxy-v2-ssl` only when TLS was used, but a balancer may).
            assert_eq!(tls_of(&v2_with(&ssl_tlv(0x04), v6)), Some(false));
            // No TLV at all.
            assert_eq!(tls_of(&v2_with(&[], v6)), Some(false));
        }
        // LOCAL with an SSL TLV stays LOCAL: no address, nothing trusted.
        let mut local = V2_SIGNATURE.to_vec();
        let t = ssl_tlv(PP2_CLIENT_SSL);
        local.extend_from_slice(&[0x20, 0x00, 0, u8::try_from(t.len()).unwrap_or(0)]);
        local.extend_from_slice(&t);
        assert_eq!(parse(&local), Ok(Some((ProxyHeader::Local, local.len()))));
    }

    #[test]
    fn garbage_tlvs_are_skipped_and_never_mean_tls() {
        let garbage: Vec<Vec<u8>> = vec![
            // An SSL TLV claiming more bytes than the header holds.
            vec![PP2_TYPE_SSL, 0x03, 0xff, PP2_CLIENT_SSL, 0, 0, 0, 0],
            // An SSL TLV too short for its client and verify fields.
            vec![PP2_TYPE_SSL, 0, 1, PP2_CLIENT_SSL],
            vec![PP2_TYPE_SSL, 0, 0],
            // A truncated TLV head, then nothing.
            vec![PP2_TYPE_SSL],
            vec![PP2_TYPE_SSL, 0],
            // Another TLV overrunning the header hides an SSL TLV after it.
            [vec![0x05, 0x7f, 0xff], ssl_tlv(PP2_CLIENT_SSL)].concat(),
        ];
        for (i, t) in garbage.iter().enumerate() {
            for v6 in [false, true] {
                assert_eq!(tls_of(&v2_with(t, v6)), Some(false), "case {i} v6 {v6}");
            }
        }
        // Every byte string after an address block parses without panicking: all short
        // ones exhaustively, then a deterministic pseudo-random sweep of longer ones.
        for a in 0..=255u8 {
            for b in [0u8, 1, 5, 0xff] {
                for c in [0u8, 1, 5, 0xff] {
                    let _ = tls_of(&v2_with(&[a, b, c, PP2_CLIENT_SSL, 0, 0], false));
                }
            }
        }
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..2000 {
            let len = (x % 64) as usize;
            let mut t = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                t.push((x >> 24) as u8);
            }
            let h = v2_with(&t, x.is_multiple_of(2));
            assert!(tls_of(&h).is_some());
        }
    }
}
