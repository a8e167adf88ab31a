//! The process itself: the top-level `hostname` and `[server]` (the account to run as).

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::ServerFile;
use crate::config::runtime::RunAs;

/// `hostname`: the name in greetings and Received headers; default: the machine's name.
pub(super) fn hostname(cx: &Ctx<'_>, v: &Option<String>) -> Result<String, ConfigError> {
    let hostname = v.clone().unwrap_or_else(default_hostname);
    if hostname.is_empty()
        || hostname.contains(|c: char| c.is_whitespace() || c.is_control() || c == '>' || c == '<')
    {
        return Err(cx.err(
            "hostname",
            buzon_i18n::t!(
                "config-hostname-problem",
                hostname = format!("{:?}", hostname)
            ),
            buzon_i18n::t!("config-hostname-fix"),
        ));
    }
    Ok(hostname)
}

fn default_hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// `[server] user`/`group`: syntax only; the names are looked up at start.
pub(super) fn run_as(cx: &Ctx<'_>, s: &ServerFile) -> Result<Option<RunAs>, ConfigError> {
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 32
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    let Some(user) = &s.user else {
        if s.group.is_some() {
            return Err(cx.err(
                "server.group",
                buzon_i18n::t!("config-server-group-problem"),
                buzon_i18n::t!("config-server-group-fix"),
            ));
        }
        return Ok(None);
    };
    if !valid(user) {
        return Err(cx.err(
            "server.user",
            buzon_i18n::t!("config-server-user-problem", user = format!("{:?}", user)),
            buzon_i18n::t!("config-server-user-fix"),
        ));
    }
    if user == "root" || user.trim_start_matches('0').is_empty() {
        return Err(cx.err(
            "server.user",
            buzon_i18n::t!("config-server-user-2-problem", user = format!("{:?}", user)),
            buzon_i18n::t!("config-server-user-2-fix"),
        ));
    }
    if let Some(g) = &s.group {
        if !valid(g) {
            return Err(cx.err(
                "server.group",
                buzon_i18n::t!("config-server-group-2-problem", g = format!("{:?}", g)),
                buzon_i18n::t!("config-server-group-2-fix"),
            ));
        }
        if g == "root" || g.trim_start_matches('0').is_empty() {
            return Err(cx.err(
                "server.group",
                buzon_i18n::t!("config-server-group-3-problem", g = format!("{:?}", g)),
                buzon_i18n::t!("config-server-group-3-fix"),
            ));
        }
    }
    Ok(Some(RunAs {
        user: user.clone(),
        group: s.group.clone(),
    }))
}
