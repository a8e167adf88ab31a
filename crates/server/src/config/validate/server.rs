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
            format!("is not a host name: {hostname:?}"),
            "use the server's DNS name, e.g. \"mail.example.com\"",
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
                "is set but `server.user` is not",
                "set `user` too (the group alone cannot be switched to safely), or remove `group`",
            ));
        }
        return Ok(None);
    };
    if !valid(user) {
        return Err(cx.err(
                "server.user", format!("is not a user name: {user:?}"), "use a system account name such as \"buzon\" (ASCII letters, digits, _ - .) or a numeric user id"));
    }
    if user == "root" || user.trim_start_matches('0').is_empty() {
        return Err(cx.err(
                "server.user", format!("is {user:?}, the superuser"), "create an unprivileged account (`useradd --system --no-create-home --shell /usr/sbin/nologin buzon`) and name it here"));
    }
    if let Some(g) = &s.group {
        if !valid(g) {
            return Err(cx.err(
                "server.group",
                format!("is not a group name: {g:?}"),
                "use a group name such as \"buzon\" or a numeric group id",
            ));
        }
        if g == "root" || g.trim_start_matches('0').is_empty() {
            return Err(cx.err(
                "server.group",
                format!("is {g:?}, the superuser's group"),
                "use the server account's own group, e.g. \"buzon\"",
            ));
        }
    }
    Ok(Some(RunAs {
        user: user.clone(),
        group: s.group.clone(),
    }))
}
