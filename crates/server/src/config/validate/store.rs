//! `[store]`: the embedded Maildir store (the default) or a PostgreSQL database shared by
//! every node. The password comes from a file or an environment variable and never
//! appears in a message; keys that only a PostgreSQL store reads are refused with
//! `kind = "maildir"` (as Dovecot refuses settings that would be silently ignored).

use std::time::Duration;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::StoreFile;
use crate::config::runtime::{PgSettings, StoreSettings};

/// The most connections one node may keep to the database.
const MAX_POOL: usize = 1000;
/// A lease shorter than this would be lost by a healthy session between two renewals.
const MIN_LEASE: Duration = Duration::from_secs(5);
/// A lease longer than this keeps a mailbox locked too long after its node died.
const MAX_LEASE: Duration = Duration::from_secs(3600);

pub(super) fn store(cx: &Ctx<'_>, s: &StoreFile) -> Result<StoreSettings, ConfigError> {
    match s.kind.as_deref() {
        None | Some("maildir") => maildir(cx, s),
        Some("postgres") => postgres(cx, s).map(StoreSettings::Postgres),
        Some(other) => Err(cx.err(
            "store.kind",
            format!("is {other:?}"),
            "use \"maildir\" (local Maildirs, the default) or \"postgres\" (a database shared by several nodes)",
        )),
    }
}

/// The Maildir store: no PostgreSQL key may be set, so a forgotten `kind` is not taken for
/// a working database setup.
fn maildir(cx: &Ctx<'_>, s: &StoreFile) -> Result<StoreSettings, ConfigError> {
    let set = [
        ("store.url", s.url.is_some()),
        ("store.password_file", s.password_file.is_some()),
        ("store.password_env", s.password_env.is_some()),
        ("store.pool_size", s.pool_size.is_some()),
        ("store.ca_file", s.ca_file.is_some()),
        ("store.lock_lease", s.lock_lease.is_some()),
        ("store.connect_timeout", s.connect_timeout.is_some()),
    ];
    match set.iter().find(|(_, is_set)| *is_set) {
        Some((key, _)) => Err(cx.err(
            *key,
            "is set, but the store is Maildir (`kind` is \"maildir\" or not set) and would ignore it",
            "add kind = \"postgres\" to [store] to use a PostgreSQL database, or remove the key",
        )),
        None => Ok(StoreSettings::Maildir),
    }
}

fn postgres(cx: &Ctx<'_>, s: &StoreFile) -> Result<PgSettings, ConfigError> {
    let Some(url) = s.url.clone() else {
        return Err(cx.err(
            "store.kind",
            "is \"postgres\" but `url` is not set",
            "add url = \"postgresql://buzon@db.example:5432/buzon?sslmode=require\" to [store]",
        ));
    };
    let mut pg = PgSettings::new(url);
    let lower = pg.url.to_ascii_lowercase();
    if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
        return Err(cx.err(
            "store.url",
            format!("is {:?}, not a PostgreSQL URL", pg.display_url()),
            "write postgresql://user@host:port/database (the password goes in password_file or password_env)",
        ));
    }
    match (&s.password_file, &s.password_env) {
        (Some(_), Some(_)) => {
            return Err(cx.err(
                "store.password_env",
                "is set together with `password_file`",
                "keep one of the two: the password comes from a file or from an environment variable",
            ))
        }
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                cx.err(
                    "store.password_file",
                    format!("names {}, which cannot be read: {e}", path.display()),
                    "create the file with the database password on one line, readable by the account buzon runs as",
                )
            })?;
            let password = trim_newline(&text);
            if password.is_empty() {
                return Err(cx.err(
                    "store.password_file",
                    format!("names {}, which is empty", path.display()),
                    "write the database password on the file's first line",
                ));
            }
            pg.password = Some(password.to_string());
            pg.password_source = Some(format!("file {}", path.display()));
        }
        (None, Some(var)) => match std::env::var(var) {
            Ok(password) if !password.is_empty() => {
                pg.password = Some(password);
                pg.password_source = Some(format!("environment variable {var}"));
            }
            Ok(_) => {
                return Err(cx.err(
                    "store.password_env",
                    format!("names the environment variable {var}, which is empty"),
                    format!("set {var} to the database password in the environment buzon starts in"),
                ))
            }
            Err(_) => {
                return Err(cx.err(
                    "store.password_env",
                    format!("names the environment variable {var}, which is not set"),
                    format!("set {var} to the database password in the environment buzon starts in, or use password_file"),
                ))
            }
        },
        (None, None) => {}
    }
    if let Some(n) = s.pool_size {
        if n == 0 || n > MAX_POOL {
            return Err(cx.err(
                "store.pool_size",
                format!("is {n}"),
                format!("use 1 to {MAX_POOL} connections (the default is 16); nodes × pool_size must stay below the database's max_connections"),
            ));
        }
        pg.pool_size = n;
    }
    pg.ca_file = s.ca_file.clone();
    let lease = cx.duration("store.lock_lease", &s.lock_lease, pg.lock_lease)?;
    if !(MIN_LEASE..=MAX_LEASE).contains(&lease) {
        return Err(cx.err(
            "store.lock_lease",
            format!("is {}", s.lock_lease.as_deref().unwrap_or_default()),
            "use 5s to 1h (the default is 60s): shorter leases are lost between renewals, longer ones keep a dead node's mailboxes locked",
        ));
    }
    pg.lock_lease = lease;
    let connect = cx.duration(
        "store.connect_timeout",
        &s.connect_timeout,
        pg.connect_timeout,
    )?;
    if connect.is_zero() || connect > Duration::from_secs(300) {
        return Err(cx.err(
            "store.connect_timeout",
            format!("is {}", s.connect_timeout.as_deref().unwrap_or_default()),
            "use 1s to 5m (the default is 5s)",
        ));
    }
    pg.connect_timeout = connect;
    Ok(pg)
}

/// The file's text without one trailing newline (`\n` or `\r\n`); other spaces are part of
/// the password.
fn trim_newline(text: &str) -> &str {
    let t = text.strip_suffix('\n').unwrap_or(text);
    t.strip_suffix('\r').unwrap_or(t)
}
