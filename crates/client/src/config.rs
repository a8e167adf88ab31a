//! Accounts: the TOML file (`~/.config/buzon/accounts.toml`), shared defaults, and
//! validation into [`Account`] values, in two steps (plain serde structs, then
//! `validate`), with errors that name the account, the key and the fix.
//!
//! Passwords are never read from this file: an account names a command that prints the
//! password, or an environment variable, or (the default) the user is asked.

use buzon_i18n::t;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use buzon_pop3_proto::Secret;
use serde::Deserialize;

use crate::deliver::Destination;
use crate::error::{ClientError, Result};
use crate::net::{Fingerprint, Security, Timeouts, TlsSettings};
use crate::pop3::{AuthMethod, ServerSpec};

/// A size written as a number of bytes or as text with a unit ("20MB", "500k").
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    pub fn bytes(&self) -> Option<u64> {
        match self {
            SizeValue::Bytes(b) => Some(*b),
            SizeValue::Text(t) => parse_size(t),
        }
    }
}

/// As the user wrote it: `0` or `"20 parsecs"`.
impl std::fmt::Display for SizeValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SizeValue::Bytes(b) => write!(f, "{b}"),
            SizeValue::Text(t) => write!(f, "\"{t}\""),
        }
    }
}

/// Sizes (powers of 1024) and durations have one meaning for the client and the server.
pub use buzon_units::{parse_duration, parse_size};

use buzon_units::location::line_at;

/// What to do with a message larger than `max_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Oversize {
    /// Leave it on the server, untouched.
    #[default]
    Skip,
    /// Store only its header (TOP n 0); the message stays on the server.
    Headers,
}

/// One account as written in the file (every field optional; defaults fill in).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFields {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<Security>,
    pub user: Option<String>,
    pub auth: Option<AuthMethod>,
    pub password_command: Option<Vec<String>>,
    pub password_env: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub fingerprint: Option<String>,
    pub tls_server_name: Option<String>,
    pub allow_plaintext: Option<bool>,
    pub maildir: Option<PathBuf>,
    pub mbox: Option<PathBuf>,
    pub mda: Option<Vec<String>>,
    pub keep: Option<bool>,
    pub delete_after_days: Option<u32>,
    pub max_size: Option<SizeValue>,
    pub oversize: Option<Oversize>,
    pub limit: Option<u32>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    /// OAuth 2.0 (auth = "oauthbearer" or "xoauth2"): a preset ("gmail", "microsoft")
    /// or the endpoints, and the OAuth client's id (and secret, where the provider gives
    /// one).
    pub oauth_provider: Option<crate::oauth::Preset>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret: Option<String>,
    pub oauth_device_url: Option<String>,
    pub oauth_token_url: Option<String>,
    pub oauth_scope: Option<String>,
    pub oauth_ca_file: Option<PathBuf>,
}

macro_rules! merge_fields {
    ($a:expr, $d:expr, $($f:ident),*) => { $( if $a.$f.is_none() { $a.$f = $d.$f.clone(); } )* };
}

impl AccountFields {
    /// Fills every unset field from `defaults`.
    pub fn with_defaults(mut self, d: &AccountFields) -> Self {
        merge_fields!(
            self,
            d,
            host,
            port,
            security,
            user,
            auth,
            password_command,
            password_env,
            ca_file,
            fingerprint,
            tls_server_name,
            allow_plaintext,
            keep,
            delete_after_days,
            max_size,
            oversize,
            limit,
            timeout,
            connect_timeout,
            oauth_provider,
            oauth_client_id,
            oauth_client_secret,
            oauth_device_url,
            oauth_token_url,
            oauth_scope,
            oauth_ca_file
        );
        if self.maildir.is_none() && self.mbox.is_none() && self.mda.is_none() {
            self.maildir = d.maildir.clone();
            self.mbox = d.mbox.clone();
            self.mda = d.mda.clone();
        }
        self
    }
}

/// The accounts file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where ledgers live (default `$XDG_STATE_HOME/buzon/ledger`).
    pub ledger_dir: Option<PathBuf>,
    #[serde(default)]
    pub defaults: AccountFields,
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountFields>,
}

/// Where the password comes from.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// Ask on the terminal (the binary does that; the library cannot).
    Prompt,
    /// Run this program (no shell) and use the first line it prints.
    Command(Vec<String>),
    /// Read this environment variable.
    Env(String),
    /// Already known (from a library caller).
    Given(Secret),
}

impl PasswordSource {
    /// The password, or `None` for [`PasswordSource::Prompt`].
    pub fn resolve(&self, account: &str) -> Result<Option<Secret>> {
        match self {
            PasswordSource::Prompt => Ok(None),
            PasswordSource::Given(s) => Ok(Some(s.clone())),
            PasswordSource::Env(var) => match std::env::var_os(var) {
                Some(v) => Ok(Some(Secret::new(
                    std::os::unix::ffi::OsStringExt::into_vec(v),
                ))),
                None => Err(ClientError::Config(t!(
                    "accounts-password-env-unset",
                    account = account,
                    var = var.as_str()
                ))),
            },
            PasswordSource::Command(argv) => {
                let Some((prog, args)) = argv.split_first() else {
                    return Err(ClientError::Config(t!(
                        "accounts-password-command-is-empty",
                        account = account
                    )));
                };
                let out = std::process::Command::new(prog)
                    .args(args)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .map_err(|e| {
                        ClientError::Config(t!(
                            "accounts-password-command-cannot-run",
                            account = account,
                            program = prog.as_str(),
                            reason = e.to_string()
                        ))
                    })?;
                if !out.status.success() {
                    return Err(ClientError::Config(t!(
                        "accounts-password-command-failed",
                        account = account,
                        program = prog.as_str(),
                        status = out.status.to_string()
                    )));
                }
                let line = out.stdout.split(|&b| b == b'\n').next().unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                Ok(Some(Secret::new(line)))
            }
        }
    }
}

/// How long fetched messages stay on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Delete after download (POP3's default way of working).
    Delete,
    /// Leave a copy; only new messages (by UIDL) are fetched.
    Keep,
    /// Leave a copy, and delete it this many days after it was first downloaded.
    DeleteAfterDays(u32),
}

/// What to fetch and what to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub retention: Retention,
    /// Messages larger than this (RFC 1939 size) are not downloaded whole.
    pub max_size: Option<u64>,
    pub oversize: Oversize,
    /// At most this many new messages per run.
    pub limit: Option<u32>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            retention: Retention::Delete,
            max_size: None,
            oversize: Oversize::Skip,
            limit: None,
        }
    }
}

/// A validated account.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub server: ServerSpec,
    pub user: String,
    pub auth: AuthMethod,
    pub password: PasswordSource,
    pub allow_plaintext: bool,
    pub destination: Destination,
    pub policy: Policy,
    /// Where OAuth tokens come from (auth = "oauthbearer"/"xoauth2" without a
    /// password_command or password_env, which would give the token themselves).
    pub oauth: Option<crate::oauth::OAuthSettings>,
}

/// Replaces a leading `~/` with the home folder.
pub fn expand_home(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(rest),
            None => p.to_path_buf(),
        },
        Err(_) => p.to_path_buf(),
    }
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => expand_home(Path::new(fallback)),
    }
}

/// `$XDG_CONFIG_HOME/buzon/accounts.toml` (default `~/.config/buzon/accounts.toml`).
pub fn default_config_path() -> PathBuf {
    xdg("XDG_CONFIG_HOME", "~/.config")
        .join("buzon")
        .join("accounts.toml")
}

/// `$XDG_STATE_HOME/buzon/ledger` (default `~/.local/state/buzon/ledger`).
pub fn default_ledger_dir() -> PathBuf {
    xdg("XDG_STATE_HOME", "~/.local/state")
        .join("buzon")
        .join("ledger")
}

impl FileConfig {
    /// Reads and parses the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
            Err(e) => {
                return Err(ClientError::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        Self::parse(&text).map_err(|e| ClientError::Config(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> std::result::Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| {
            // The parser's span, counted as the server's config errors count it (an
            // unknown key at the start of a line is on that line, not the one before).
            let line = e.span().map(|s| line_at(text, s.start));
            match line {
                Some(l) => t!("accounts-syntax-line", line = l, message = e.message()),
                None => e.message().to_string(),
            }
        })
    }

    pub fn ledger_dir(&self) -> PathBuf {
        self.ledger_dir
            .as_deref()
            .map(expand_home)
            .unwrap_or_else(default_ledger_dir)
    }

    /// The named account with defaults applied, validated.
    pub fn account(&self, name: &str) -> Result<Account> {
        let Some(f) = self.accounts.get(name) else {
            let known: Vec<&str> = self.accounts.keys().map(String::as_str).collect();
            return Err(ClientError::Config(if known.is_empty() {
                t!("accounts-none", name = format!("{name:?}"))
            } else {
                t!(
                    "accounts-unknown",
                    name = format!("{name:?}"),
                    known = known.join(", ")
                )
            }));
        };
        f.clone().with_defaults(&self.defaults).validate(name)
    }
}

impl AccountFields {
    /// Checks the fields and builds the account.
    pub fn validate(self, name: &str) -> Result<Account> {
        self.validate_with(name, true)
    }

    /// Like [`AccountFields::validate`] for a diagnosis (`buzon check`), which stores
    /// nothing: an account without a destination is fine (it gets the default `~/Maildir`,
    /// which is never touched).
    pub fn validate_for_check(self, name: &str) -> Result<Account> {
        self.validate_with(name, false)
    }

    fn validate_with(self, name: &str, need_destination: bool) -> Result<Account> {
        let bad = |key: &str, what: String| {
            ClientError::Config(t!("accounts-field", account = name, key = key, what = what))
        };
        let host = self
            .host
            .filter(|h| !h.trim().is_empty())
            .ok_or_else(|| bad("host", t!("accounts-host-missing")))?;
        let user = self
            .user
            .filter(|u| !u.is_empty())
            .ok_or_else(|| bad("user", t!("accounts-user-missing")))?;
        let security = self.security.unwrap_or(Security::Tls);
        let port = self.port.unwrap_or(security.default_port());
        if port == 0 {
            return Err(bad("port", t!("accounts-port-range")));
        }
        let fingerprint = match &self.fingerprint {
            None => None,
            Some(s) => Some(Fingerprint::parse(s).ok_or_else(|| {
                bad(
                    "fingerprint",
                    t!("accounts-bad-fingerprint", value = format!("{s:?}")),
                )
            })?),
        };
        if security == Security::None && (fingerprint.is_some() || self.ca_file.is_some()) {
            return Err(bad("security", t!("accounts-security-none-with-tls")));
        }
        let mut timeouts = Timeouts::default();
        if let Some(t) = &self.timeout {
            timeouts.read = parse_duration(t).filter(|d| !d.is_zero()).ok_or_else(|| {
                bad(
                    "timeout",
                    t!("accounts-bad-timeout", value = format!("{t:?}")),
                )
            })?;
        }
        if let Some(t) = &self.connect_timeout {
            let d = parse_duration(t).filter(|d| !d.is_zero()).ok_or_else(|| {
                bad(
                    "connect_timeout",
                    t!("accounts-bad-connect-timeout", value = format!("{t:?}")),
                )
            })?;
            timeouts.connect = d;
            timeouts.handshake = d;
        }
        let tls = TlsSettings {
            ca_file: self.ca_file.as_deref().map(expand_home),
            fingerprint,
            server_name: self.tls_server_name.clone(),
            no_system_roots: false,
        };
        let destination = match (self.maildir, self.mbox, self.mda) {
            (Some(m), None, None) => Destination::Maildir(expand_home(&m)),
            (None, Some(m), None) => Destination::Mbox(expand_home(&m)),
            (None, None, Some(argv)) => {
                let Some((program, args)) = argv.split_first() else {
                    return Err(bad("mda", t!("accounts-mda-empty")));
                };
                Destination::Mda {
                    program: program.clone(),
                    args: args.to_vec(),
                }
            }
            (None, None, None) if !need_destination => {
                Destination::Maildir(expand_home(Path::new("~/Maildir")))
            }
            (None, None, None) => return Err(bad("maildir", t!("accounts-no-destination"))),
            _ => return Err(bad("maildir", t!("accounts-many-destinations"))),
        };
        let retention = match (self.keep, self.delete_after_days) {
            (Some(false), Some(_)) => {
                return Err(bad("delete_after_days", t!("accounts-days-without-keep")))
            }
            (_, Some(0)) => return Err(bad("delete_after_days", t!("accounts-days-zero"))),
            (_, Some(n)) => Retention::DeleteAfterDays(n),
            (Some(true), None) => Retention::Keep,
            _ => Retention::Delete,
        };
        let max_size =
            match &self.max_size {
                None => None,
                Some(v) => Some(v.bytes().filter(|b| *b > 0).ok_or_else(|| {
                    bad("max_size", t!("accounts-bad-size", value = v.to_string()))
                })?),
            };
        let password = match (self.password_command, self.password_env) {
            (Some(_), Some(_)) => {
                return Err(bad("password_command", t!("accounts-two-passwords")))
            }
            (Some(c), None) => {
                if c.is_empty() {
                    return Err(bad(
                        "password_command",
                        t!("accounts-password-command-empty"),
                    ));
                }
                PasswordSource::Command(c)
            }
            (None, Some(v)) => PasswordSource::Env(v),
            (None, None) => PasswordSource::Prompt,
        };
        let auth = self.auth.unwrap_or(AuthMethod::Auto);
        let any_oauth = self.oauth_provider.is_some()
            || self.oauth_client_id.is_some()
            || self.oauth_device_url.is_some()
            || self.oauth_token_url.is_some();
        let oauth = if any_oauth {
            let client_id = self
                .oauth_client_id
                .clone()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| bad("oauth_client_id", t!("accounts-oauth-client-id")))?;
            let preset = self.oauth_provider.map(|p| p.endpoints());
            let device_url = self
                .oauth_device_url
                .clone()
                .or(preset.map(|p| p.0.to_string()))
                .ok_or_else(|| bad("oauth_device_url", t!("accounts-oauth-endpoints")))?;
            let token_url = self
                .oauth_token_url
                .clone()
                .or(preset.map(|p| p.1.to_string()))
                .ok_or_else(|| bad("oauth_token_url", t!("accounts-oauth-endpoints")))?;
            for (key, url) in [
                ("oauth_device_url", &device_url),
                ("oauth_token_url", &token_url),
            ] {
                if !url.starts_with("https://") {
                    return Err(bad(key, t!("accounts-oauth-https", url = url.as_str())));
                }
            }
            Some(crate::oauth::OAuthSettings {
                client_id,
                client_secret: self.oauth_client_secret.clone(),
                device_url,
                token_url,
                scope: self
                    .oauth_scope
                    .clone()
                    .or(preset.map(|p| p.2.to_string()))
                    .unwrap_or_default(),
                ca_file: self.oauth_ca_file.as_deref().map(expand_home),
            })
        } else {
            None
        };
        if auth.uses_token() && oauth.is_none() && matches!(password, PasswordSource::Prompt) {
            return Err(bad("auth", t!("accounts-oauth-needs-source")));
        }
        Ok(Account {
            name: name.to_string(),
            server: ServerSpec {
                host,
                port,
                security,
                tls,
                timeouts,
            },
            user,
            auth,
            password,
            oauth,
            allow_plaintext: self.allow_plaintext.unwrap_or(false),
            destination,
            policy: Policy {
                retention,
                max_size,
                oversize: self.oversize.unwrap_or_default(),
                limit: self.limit,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn defaults_and_validation() {
        let cfg = FileConfig::parse(
            r#"
ledger_dir = "/tmp/l"
[defaults]
maildir = "/mail"
keep = true
[accounts.work]
host = "pop.example.com"
user = "me@example.com"
password_env = "PW"
max_size = "20MB"
[accounts.home]
host = "mail.example.net"
security = "starttls"
user = "me"
mbox = "/var/mail/me"
delete_after_days = 14
[accounts.bad]
host = "x"
user = "y"
keep = false
delete_after_days = 3
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let w = cfg.account("work").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((w.server.port, w.server.security), (995, Security::Tls));
        assert_eq!(w.destination, Destination::Maildir("/mail".into()));
        assert_eq!(w.policy.retention, Retention::Keep);
        assert_eq!(w.policy.max_size, Some(20 << 20));
        let h = cfg.account("home").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (h.server.port, h.server.security),
            (110, Security::Starttls)
        );
        assert_eq!(h.destination, Destination::Mbox("/var/mail/me".into()));
        assert_eq!(h.policy.retention, Retention::DeleteAfterDays(14));
        let e = cfg
            .account("bad")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("delete_after_days"), "{e}");
        let e = cfg
            .account("nope")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("known accounts: bad, home, work"), "{e}");
        let e = FileConfig::parse("[accounts.x]\nhots = 1\n")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("line ") && e.contains("hots"), "{e}");
    }

    #[test]
    fn syntax_errors_name_the_line_of_the_key() {
        let text = "[accounts.a]\nhost = \"pop.example.com\"\n\n[accounts.b]\nhots = \"x\"\n";
        let e = FileConfig::parse(text).err().unwrap_or_default();
        assert!(e.starts_with("line 5: unknown field `hots`"), "{e}");
        let text = "[defaults]\nkeep = true\n[accounts.a]\nport = \"pop3s\"\n";
        let e = FileConfig::parse(text).err().unwrap_or_default();
        assert!(e.starts_with("line 4: "), "{e}");
        // A value on the first line, and one after a multi-byte character.
        let e = FileConfig::parse("ledger_dir = 5\n")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("line 1: "), "{e}");
        let text = "# Buzón\n[accounts.\"ñ\"]\nkeep = \"yes\"\n";
        let e = FileConfig::parse(text).err().unwrap_or_default();
        assert!(e.starts_with("line 3: "), "{e}");
    }

    #[test]
    fn sizes_and_durations() {
        // One meaning with the server's files: powers of 1024 (buzon-units).
        assert_eq!(parse_size("20MB"), Some(20 << 20));
        assert_eq!(parse_size("1 MiB"), Some(1 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    }
}
