//! A minimal HTTPS client (HTTP/1.0 over rustls) for autoconfig documents (GET) and OAuth
//! token endpoints (POST of a form): one request, no redirects, a 1 MiB cap on the answer,
//! a timeout on the whole exchange. Enough for a small XML or JSON document, nothing more;
//! plain `http:` is refused because an attacker could then redirect the user's mail or
//! read the user's tokens.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::{connect_tcp, Resolver, TlsClient};

/// The most an answer may hold.
pub const MAX_RESPONSE: usize = 1024 * 1024;

/// The parts of an `https://host[:port]/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("{url}: only https:// URLs are used"))?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) => (h.to_string(), p),
                Err(_) => (authority.to_string(), 443),
            },
            _ => (authority.to_string(), 443),
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Url { host, port, target })
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// GETs `url`; returns the status code and body.
pub async fn get(
    url: &str,
    tls: &TlsClient,
    resolver: &Resolver,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    request(
        url,
        None,
        "application/xml, text/xml",
        tls,
        resolver,
        timeout,
    )
    .await
}

/// POSTs a form (`application/x-www-form-urlencoded`) to `url`, with HTTP Basic
/// credentials when `basic` is given (an OAuth client's id and secret, RFC 6749 §2.3.1);
/// returns the status code and body (JSON expected).
pub async fn post_form(
    url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    tls: &TlsClient,
    resolver: &Resolver,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut head = format!(
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((id, secret)) = basic {
        let cred = buzon_pop3_proto::sasl::encode_base64(
            format!("{}:{}", form_escape(id), form_escape(secret)).as_bytes(),
        );
        head.push_str(&format!("Authorization: Basic {cred}\r\n"));
    }
    request(
        url,
        Some((head, body)),
        "application/json",
        tls,
        resolver,
        timeout,
    )
    .await
}

/// `application/x-www-form-urlencoded` escaping (spaces as `%20`, which every server
/// reads as a space too).
fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One HTTP/1.0 exchange over TLS: GET, or POST of `post` (extra header lines, body).
async fn request(
    url: &str,
    post: Option<(String, String)>,
    accept: &str,
    tls: &TlsClient,
    resolver: &Resolver,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let u = Url::parse(url)?;
    let work = async {
        let (tcp, _) = connect_tcp(resolver, &u.host, u.port, timeout)
            .await
            .map_err(|e| e.to_string())?;
        let mut s = tls
            .handshake(tcp, &u.host, timeout)
            .await
            .map_err(|e| e.to_string())?;
        let host_header = if u.port == 443 {
            u.host.clone()
        } else {
            format!("{}:{}", u.host, u.port)
        };
        let (method, extra, body) = match post {
            Some((head, body)) => ("POST", head, body),
            None => ("GET", String::new(), String::new()),
        };
        let req = format!("{method} {} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: buzon\r\nAccept: {accept}\r\n{extra}Connection: close\r\n\r\n{body}", u.target);
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = match s.read(&mut chunk).await {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e.to_string()),
            };
            if n == 0 {
                break;
            }
            if buf.len() + n > MAX_RESPONSE {
                return Err(format!("the answer is larger than {MAX_RESPONSE} bytes"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        parse_response(&buf)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
}

fn parse_response(buf: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no complete header")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let status_line = head.lines().next().unwrap_or_default();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &buf[end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((code, body))
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let nl = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunked encoding")?;
        let size_text = String::from_utf8_lossy(&b[..nl]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or_default();
    }
    Err("too many chunks".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Url::parse("https://autoconfig.example.com/mail/config-v1.1.xml?emailaddress=a%40b"),
            Ok(Url {
                host: "autoconfig.example.com".into(),
                port: 443,
                target: "/mail/config-v1.1.xml?emailaddress=a%40b".into()
            })
        );
        assert_eq!(
            Url::parse("https://127.0.0.1:8443"),
            Ok(Url {
                host: "127.0.0.1".into(),
                port: 8443,
                target: "/".into()
            })
        );
        assert!(Url::parse("http://example.com/").is_err());
        assert_eq!(query_escape("a b@c.de"), "a%20b@c.de");
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
            Ok((200, b"hi".to_vec()))
        );
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n1\r\n!\r\n0\r\n\r\n"), Ok((200, b"hi!".to_vec())));
        assert!(parse_response(b"garbage").is_err());
    }
}
