//! Which mail store a node uses, as its configuration chose it (`[store]`). The server's
//! configuration parses and validates these; the store crates only read them.

use std::path::PathBuf;
use std::time::Duration;

/// `[store] kind`: the embedded Maildir store (the default) or a shared PostgreSQL store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreSettings {
    /// Local Maildirs under `mail_dir`, users in the users file, flock session locks.
    #[default]
    Maildir,
    /// Users, mail and POP3 leases in one PostgreSQL database shared by every node.
    Postgres(PgSettings),
}

/// How a node reaches its PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// `postgresql://user@host:port/dbname?sslmode=require`; may also carry the password,
    /// but `password` (read from a file or an environment variable) is preferred.
    pub url: String,
    /// The database password from `password_file` or `password_env`, when set there.
    pub password: Option<String>,
    /// Where the password came from, for messages (`file /etc/buzon/db-password`,
    /// `environment variable BUZON_DB_PASSWORD`); never the password itself.
    pub password_source: Option<String>,
    /// Connections this node keeps open at most (POP3 sessions do not each hold one).
    pub pool_size: usize,
    /// CA certificates (PEM) that sign the database server's certificate, for TLS to the
    /// database (`sslmode=require` in the URL); `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// How long a POP3 lease lasts without renewal; a session silent this long loses its
    /// mailbox to a new login on any node (without its deletions).
    pub lock_lease: Duration,
    /// How long to wait for a connection to the database before answering "temporarily
    /// unavailable".
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for PgSettings {
    /// Never shows the password, nor one embedded in the URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &redact_url(&self.url))
            .field("password_source", &self.password_source)
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .field("lock_lease", &self.lock_lease)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl PgSettings {
    /// Defaults: 16 connections, a 60-second lease, 5 seconds to connect.
    pub fn new(url: impl Into<String>) -> PgSettings {
        PgSettings {
            url: url.into(),
            password: None,
            password_source: None,
            pool_size: 16,
            ca_file: None,
            lock_lease: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// `postgresql://user:secret@host/db` → `postgresql://user:***@host/db`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgresql://buzon:s3cr:et@db.example:5432/mail?sslmode=require"),
            "postgresql://buzon:***@db.example:5432/mail?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://buzon@127.0.0.1/mail"),
            "postgresql://buzon@127.0.0.1/mail"
        );
        assert_eq!(redact_url("host=/tmp dbname=x"), "host=/tmp dbname=x");
        let mut s = PgSettings::new("postgres://u:pw@h/d");
        s.password = Some("other".into());
        let shown = format!("{s:?}");
        assert!(!shown.contains("pw") && !shown.contains("other"), "{shown}");
    }
}
