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
            buzon_i18n::t!("config-store-kind-problem", other = format!("{:?}", other)),
            buzon_i18n::t!("config-store-kind-fix"),
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
            buzon_i18n::t!("config-store-maildir-key-problem"),
            buzon_i18n::t!("config-store-maildir-key-fix"),
        )),
        None => Ok(StoreSettings::Maildir),
    }
}

fn postgres(cx: &Ctx<'_>, s: &StoreFile) -> Result<PgSettings, ConfigError> {
    let Some(url) = s.url.clone() else {
        return Err(cx.err(
            "store.kind",
            buzon_i18n::t!("config-store-kind-2-problem"),
            buzon_i18n::t!("config-store-kind-2-fix"),
        ));
    };
    let mut pg = PgSettings::new(url);
    let lower = pg.url.to_ascii_lowercase();
    if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
        return Err(cx.err(
            "store.url",
            buzon_i18n::t!(
                "config-store-url-problem",
                v1 = format!("{:?}", pg.display_url())
            ),
            buzon_i18n::t!("config-store-url-fix"),
        ));
    }
    match (&s.password_file, &s.password_env) {
        (Some(_), Some(_)) => {
            return Err(cx.err(
                "store.password_env",
                buzon_i18n::t!("config-store-password-env-problem"),
                buzon_i18n::t!("config-store-password-env-fix"),
            ))
        }
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                cx.err(
                    "store.password_file",
                    buzon_i18n::t!(
                        "config-store-password-file-problem",
                        v1 = path.display().to_string(),
                        e = e.to_string()
                    ),
                    buzon_i18n::t!("config-store-password-file-fix"),
                )
            })?;
            let password = trim_newline(&text);
            if password.is_empty() {
                return Err(cx.err(
                    "store.password_file",
                    buzon_i18n::t!(
                        "config-store-password-file-2-problem",
                        v1 = path.display().to_string()
                    ),
                    buzon_i18n::t!("config-store-password-file-2-fix"),
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
                    buzon_i18n::t!("config-store-password-env-2-problem", var = var.to_string()),
                    buzon_i18n::t!("config-store-password-env-2-fix", var = var.to_string()),
                ))
            }
            Err(_) => {
                return Err(cx.err(
                    "store.password_env",
                    buzon_i18n::t!("config-store-password-env-3-problem", var = var.to_string()),
                    buzon_i18n::t!("config-store-password-env-3-fix", var = var.to_string()),
                ))
            }
        },
        (None, None) => {}
    }
    if let Some(n) = s.pool_size {
        if n == 0 || n > MAX_POOL {
            return Err(cx.err(
                "store.pool_size",
                buzon_i18n::t!("config-store-pool-size-problem", n = n.to_string()),
                buzon_i18n::t!(
                    "config-store-pool-size-fix",
                    MAX_POOL = MAX_POOL.to_string()
                ),
            ));
        }
        pg.pool_size = n;
    }
    pg.ca_file = s.ca_file.clone();
    let lease = cx.duration("store.lock_lease", &s.lock_lease, pg.lock_lease)?;
    if !(MIN_LEASE..=MAX_LEASE).contains(&lease) {
        return Err(cx.err(
            "store.lock_lease",
            buzon_i18n::t!(
                "config-store-lock-lease-problem",
                v1 = s.lock_lease.as_deref().unwrap_or_default().to_string()
            ),
            buzon_i18n::t!("config-store-lock-lease-fix"),
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
            buzon_i18n::t!(
                "config-store-connect-timeout-problem",
                v1 = s.connect_timeout.as_deref().unwrap_or_default().to_string()
            ),
            buzon_i18n::t!("config-store-connect-timeout-fix"),
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
