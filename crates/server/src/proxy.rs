//! HAProxy PROXY protocol, versions 1 (text) and 2 (binary), as sent by load balancers in
//! front of the server. Accepted only from configured trusted networks, so the real client
//! address is what gets logged, limited and throttled.
//!
//! Pure parsing: bytes in, the client address (or "need more") out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1 headers are at most 107 bytes (the specification's limit).
const V1_MAX: usize = 107;
/// Version 2 headers larger than this are refused (TLVs are not used here).
const V2_MAX: usize = 16 + 1024;

/// What a PROXY header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The original client's address.
    Forwarded(SocketAddr),
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
            ProxyHeader::Forwarded(SocketAddr::new(ip, port))
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
            ProxyHeader::Forwarded(SocketAddr::new(IpAddr::V4(ip), port))
        }
        (0x1, 0x21) => {
            if body.len() < 36 {
                return Err(ProxyError::Malformed("v2 IPv6 block too short"));
            }
            let mut a = [0u8; 16];
            a.copy_from_slice(&body[..16]);
            let port = u16::from_be_bytes([body[32], body[33]]);
            ProxyHeader::Forwarded(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        (0x1, _) => ProxyHeader::Local,
        _ => return Err(ProxyError::Malformed("v2 command")),
    };
    Ok(Some((header, total)))
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
        let want = ProxyHeader::Forwarded("192.0.2.7:56324".parse().unwrap_or_else(|_| panic!()));
        assert_eq!(parse(h), Ok(Some((want, 45))));
        all_prefixes_need_more(&h[..45]);
        let h6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 1000 995\r\n";
        assert!(matches!(parse(h6), Ok(Some((ProxyHeader::Forwarded(a), _))) if a.ip().is_ipv6()));
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
        let want = ProxyHeader::Forwarded("203.0.113.9:8080".parse().unwrap_or_else(|_| panic!()));
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
}
