//! `[limits]`: connections, timeouts per phase, lock lease, bad commands, the IPv6 prefix
//! that counts as one client.

use std::time::Duration;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::LimitsFile;
use crate::config::runtime::Limits;

pub(super) fn limits(cx: &Ctx<'_>, l: &LimitsFile) -> Result<Limits, ConfigError> {
    let limits = Limits {
        max_connections: l.max_connections.unwrap_or(10_000),
        max_connections_per_ip: l.max_connections_per_ip.unwrap_or(100),
        max_connections_per_user: l.max_connections_per_user.unwrap_or(10),
        idle_timeout: cx.duration(
            "limits.idle_timeout",
            &l.idle_timeout,
            Duration::from_secs(600),
        )?,
        handshake_timeout: cx.duration(
            "limits.handshake_timeout",
            &l.handshake_timeout,
            Duration::from_secs(30),
        )?,
        write_timeout: cx.duration(
            "limits.write_timeout",
            &l.write_timeout,
            Duration::from_secs(120),
        )?,
        lock_lease: cx.duration("limits.lock_lease", &l.lock_lease, Duration::from_secs(180))?,
        max_bad_commands: l.max_bad_commands.unwrap_or(20).max(1),
        auth_timeout: cx.duration(
            "limits.auth_timeout",
            &l.auth_timeout,
            Duration::from_secs(120),
        )?,
        ipv6_prefix: l.ipv6_prefix.unwrap_or(64),
    };
    if limits.auth_timeout < Duration::from_secs(1) {
        return Err(cx.err(
            "limits.auth_timeout",
            buzon_i18n::t!(
                "config-limits-auth-timeout-problem",
                v1 = format!("{:?}", limits.auth_timeout)
            ),
            buzon_i18n::t!("config-limits-auth-timeout-fix"),
        ));
    }
    if !(1..=128).contains(&limits.ipv6_prefix) {
        return Err(cx.err(
            "limits.ipv6_prefix",
            buzon_i18n::t!(
                "config-limits-ipv6-prefix-problem",
                v1 = limits.ipv6_prefix.to_string()
            ),
            buzon_i18n::t!("config-limits-ipv6-prefix-fix"),
        ));
    }
    if limits.idle_timeout < Duration::from_secs(600) {
        // RFC 1939 §3 requires at least 10 minutes; shorter values break slow clients.
        return Err(cx.err(
            "limits.idle_timeout",
            buzon_i18n::t!(
                "config-limits-idle-timeout-problem",
                v1 = format!("{:?}", limits.idle_timeout)
            ),
            buzon_i18n::t!("config-limits-idle-timeout-fix"),
        ));
    }
    for (key, v) in [
        ("limits.max_connections", limits.max_connections),
        (
            "limits.max_connections_per_ip",
            limits.max_connections_per_ip,
        ),
        (
            "limits.max_connections_per_user",
            limits.max_connections_per_user,
        ),
    ] {
        if v == 0 {
            return Err(cx.err(
                key,
                buzon_i18n::t!("config-limits-zero-problem"),
                buzon_i18n::t!("config-limits-zero-fix"),
            ));
        }
    }
    Ok(limits)
}
