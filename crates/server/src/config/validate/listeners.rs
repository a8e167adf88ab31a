//! `[[listen]]` (TCP and UNIX socket listeners) and `[proxy]` (who may send PROXY
//! protocol headers on them). An error names the line inside the `[[listen]]` table it is
//! about, not the first table's.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use buzon_auth::IpNet;
use buzon_units::location::KeyPath;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::{ListenerFile, ProxyFile};
use crate::config::runtime::{
    Listener, Protocol, UnixListener, DEFAULT_HTTPS, DEFAULT_LMTP, DEFAULT_POP3, DEFAULT_POP3S,
    DEFAULT_SMTP,
};

/// `key` of the `i`-th `[[listen]]` table.
fn at(i: usize, key: &str) -> KeyPath {
    KeyPath::new("listen").index(i).key(key)
}

/// The TCP listeners; without any `[[listen]]` table, the embedded defaults (loopback,
/// unprivileged ports).
pub(super) fn tcp(cx: &Ctx<'_>, listen: &[ListenerFile]) -> Result<Vec<Listener>, ConfigError> {
    if listen.is_empty() {
        return Ok(vec![
            Listener::new(parse_addr(DEFAULT_POP3), Protocol::Pop3),
            Listener::new(parse_addr(DEFAULT_POP3S), Protocol::Pop3s),
            Listener::new(parse_addr(DEFAULT_LMTP), Protocol::Lmtp),
            Listener::new(parse_addr(DEFAULT_SMTP), Protocol::Smtp),
            Listener::new(parse_addr(DEFAULT_HTTPS), Protocol::Https),
        ]);
    }
    let mut v = Vec::new();
    for (i, l) in listen.iter().enumerate() {
        if l.address.starts_with("unix:") {
            continue;
        }
        if l.mode.is_some() {
            return Err(cx.err(
                at(i, "mode"),
                buzon_i18n::t!("config-mode-problem"),
                buzon_i18n::t!("config-mode-fix"),
            ));
        }
        let address = resolve_listen_addr(&l.address).ok_or_else(|| {
            cx.err(
                at(i, "address"),
                buzon_i18n::t!("config-address-problem", v1 = format!("{:?}", l.address)),
                buzon_i18n::t!("config-address-fix"),
            )
        })?;
        v.push(Listener {
            address,
            protocol: l.protocol,
            starttls: l.starttls.unwrap_or(true),
        });
    }
    Ok(v)
}

/// `[[listen]]` entries on UNIX sockets: LMTP only (the other protocols need a client
/// address for their limits and plaintext rules).
pub(super) fn unix(
    cx: &Ctx<'_>,
    listen: &[ListenerFile],
) -> Result<Vec<UnixListener>, ConfigError> {
    let mut out = Vec::new();
    for (i, l) in listen.iter().enumerate() {
        let Some(path) = l.address.strip_prefix("unix:") else {
            continue;
        };
        if l.protocol != Protocol::Lmtp {
            return Err(cx.err(
                at(i, "address"),
                buzon_i18n::t!(
                    "config-address-2-problem",
                    v1 = format!("{:?}", l.address),
                    v2 = l.protocol.name().to_string()
                ),
                buzon_i18n::t!("config-address-2-fix"),
            ));
        }
        if !path.starts_with('/') {
            return Err(cx.err(
                at(i, "address"),
                buzon_i18n::t!("config-address-3-problem", v1 = format!("{:?}", l.address)),
                buzon_i18n::t!("config-address-3-fix"),
            ));
        }
        let mode = match &l.mode {
            None => 0o660,
            Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| {
                    cx.err(
                        at(i, "mode"),
                        buzon_i18n::t!("config-mode-2-problem", m = format!("{:?}", m)),
                        buzon_i18n::t!("config-mode-2-fix"),
                    )
                })?,
        };
        out.push(UnixListener {
            path: PathBuf::from(path),
            protocol: l.protocol,
            mode,
        });
    }
    Ok(out)
}

/// `[proxy] trusted_networks`: peers whose PROXY protocol header is believed.
pub(super) fn proxy(cx: &Ctx<'_>, p: &ProxyFile) -> Result<Vec<IpNet>, ConfigError> {
    cx.nets("proxy.trusted_networks", &p.trusted_networks, &[])
}

fn parse_addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn resolve_listen_addr(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    // "*:110" and "localhost:110" are common spellings.
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let ip: IpAddr = match host {
        "*" => IpAddr::from([0, 0, 0, 0]),
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}
