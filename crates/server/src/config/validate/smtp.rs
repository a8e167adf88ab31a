//! `[smtp]`: the SMTP and LMTP sessions: name, per-address connections, timeouts,
//! protocol errors before the session is closed.

use std::time::Duration;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::SmtpFile;
use crate::config::runtime::SmtpOptions;

pub(super) fn smtp(cx: &Ctx<'_>, s: &SmtpFile, hostname: &str) -> Result<SmtpOptions, ConfigError> {
    let name = s.hostname.clone().unwrap_or_else(|| hostname.to_string());
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
        return Err(cx.err(
            "smtp.hostname",
            buzon_i18n::t!("config-smtp-hostname-problem", name = format!("{:?}", name)),
            buzon_i18n::t!("config-smtp-hostname-fix"),
        ));
    }
    let max_connections_per_ip = s.max_connections_per_ip.unwrap_or(20);
    if max_connections_per_ip == 0 {
        return Err(cx.err(
            "smtp.max_connections_per_ip",
            buzon_i18n::t!("config-smtp-max-connections-per-ip-problem"),
            buzon_i18n::t!("config-smtp-max-connections-per-ip-fix"),
        ));
    }
    let command_timeout = cx.duration(
        "smtp.command_timeout",
        &s.command_timeout,
        Duration::from_secs(300),
    )?;
    let data_timeout = cx.duration(
        "smtp.data_timeout",
        &s.data_timeout,
        Duration::from_secs(300),
    )?;
    let data_deadline = cx.duration(
        "smtp.data_deadline",
        &s.data_deadline,
        Duration::from_secs(30 * 60),
    )?;
    for (key, v) in [
        ("smtp.command_timeout", command_timeout),
        ("smtp.data_timeout", data_timeout),
        ("smtp.data_deadline", data_deadline),
    ] {
        if v < Duration::from_secs(1) {
            return Err(cx.err(
                key,
                buzon_i18n::t!("config-smtp-timeout-problem", v = format!("{:?}", v)),
                buzon_i18n::t!("config-smtp-timeout-fix"),
            ));
        }
    }
    Ok(SmtpOptions {
        hostname: name,
        max_connections_per_ip,
        command_timeout,
        data_timeout,
        data_deadline,
        max_errors: s.max_errors.unwrap_or(20).max(1),
    })
}
