//! The configuration file as written: plain serde structs parsed from TOML, every key
//! optional (defaults are filled in by validation), unknown keys refused so typos are
//! caught. Nothing here checks a value; [`super::validate`] does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::runtime::Protocol;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerFile {
    pub address: String,
    pub protocol: Protocol,
    /// Offer STLS on a plain POP3 listener (default true).
    pub starttls: Option<bool>,
    /// Permissions of a UNIX socket (`address = "unix:/path"`), octal, default "0660".
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// "1.2" or "1.3".
    pub min_version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    pub users_file: Option<PathBuf>,
    pub credentials_dir: Option<PathBuf>,
    pub password_scheme: Option<String>,
    pub allow_plaintext_without_tls: Option<bool>,
    pub plaintext_networks: Option<Vec<String>>,
    pub apop: Option<bool>,
    pub failure_delay: Option<String>,
    pub penalty_base: Option<String>,
    pub penalty_max: Option<String>,
    pub free_failures: Option<u32>,
    pub throttle_exempt_networks: Option<Vec<String>>,
    pub max_auth_failures: Option<u32>,
    pub argon2_memory_kib: Option<u32>,
    pub argon2_iterations: Option<u32>,
    pub argon2_parallelism: Option<u32>,
    pub verify_concurrency: Option<usize>,
    pub verify_queue_timeout: Option<String>,
    pub cache_ttl: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub max_connections_per_user: Option<usize>,
    pub idle_timeout: Option<String>,
    pub handshake_timeout: Option<String>,
    pub write_timeout: Option<String>,
    pub lock_lease: Option<String>,
    pub max_bad_commands: Option<u32>,
    pub auth_timeout: Option<String>,
    pub ipv6_prefix: Option<u8>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pop3File {
    pub greeting: Option<String>,
    pub language: Option<String>,
    pub implementation: Option<String>,
    pub expire: Option<String>,
    pub login_delay: Option<u32>,
    pub lenient_bare_lf: Option<bool>,
    pub serve_folders: Option<Vec<String>>,
    pub uidl_source: Option<String>,
    pub dovecot_uidl_format: Option<String>,
}

/// A size: a number of bytes, or text with a unit ("50M", "1G").
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeFile {
    Bytes(u64),
    Text(String),
}

/// `[delivery]`: where intake puts mail.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFile {
    pub local_domains: Option<Vec<String>>,
    pub aliases_file: Option<PathBuf>,
    pub recipient_delimiter: Option<String>,
    /// Domain → user that gets mail for unknown local parts.
    pub catch_all: Option<BTreeMap<String, String>>,
    pub quota_bytes: Option<SizeFile>,
    pub quota_messages: Option<u64>,
    /// "452" (temporary, default) or "552" (permanent).
    pub over_quota_reply: Option<String>,
    pub max_message_size: Option<SizeFile>,
    pub max_recipients: Option<usize>,
    pub sieve_dir: Option<PathBuf>,
}

/// `[smtp]`: the SMTP and LMTP listeners.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFile {
    pub hostname: Option<String>,
    pub max_connections_per_ip: Option<usize>,
    pub command_timeout: Option<String>,
    pub data_timeout: Option<String>,
    pub data_deadline: Option<String>,
    pub max_errors: Option<u32>,
}

/// `[server]`: the process itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// Unprivileged user to switch to after binding the listeners (when started as root).
    pub user: Option<String>,
    /// Group to switch to; default: the user's primary group.
    pub group: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyFile {
    pub trusted_networks: Option<Vec<String>>,
}

/// `[store]`: where users, mail and POP3 locks live: local Maildirs (the default) or a
/// PostgreSQL database shared by every node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// "maildir" (default) or "postgres".
    pub kind: Option<String>,
    pub url: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub pool_size: Option<usize>,
    pub ca_file: Option<PathBuf>,
    pub lock_lease: Option<String>,
    pub connect_timeout: Option<String>,
}

/// `[oauth]`: OAuth 2.0 bearer tokens (OAUTHBEARER, XOAUTH2) from one issuer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthFile {
    pub issuer: Option<String>,
    pub audience: Option<Vec<String>>,
    pub jwks_url: Option<String>,
    pub user_claim: Option<String>,
    pub scope: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub introspection_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub clock_skew: Option<String>,
}

/// The TOML file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub hostname: Option<String>,
    /// `"text"` (the default) or `"json"`: one JSON object per log line.
    pub log_format: Option<String>,
    pub mail_dir: Option<PathBuf>,
    #[serde(default)]
    pub listen: Vec<ListenerFile>,
    #[serde(default)]
    pub tls: TlsFile,
    #[serde(default)]
    pub auth: AuthFile,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub pop3: Pop3File,
    #[serde(default)]
    pub proxy: ProxyFile,
    #[serde(default)]
    pub server: ServerFile,
    #[serde(default)]
    pub delivery: DeliveryFile,
    #[serde(default)]
    pub smtp: SmtpFile,
    #[serde(default)]
    pub store: StoreFile,
    pub oauth: Option<OAuthFile>,
    #[serde(default)]
    pub web: WebFile,
}

/// `[web]`: the account pages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebFile {
    /// Users who see the admin view.
    pub admins: Option<Vec<String>>,
}
