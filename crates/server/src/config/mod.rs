//! Configuration in two steps: plain serde structs parsed from TOML ([`FileConfig`]), then
//! [`FileConfig::validate`] into the runtime [`Config`] whose errors say what is wrong,
//! where (key and line) and how to fix it. Every key, with its default, is documented in
//! `docs/buzon.sample.toml`; keep the two in step.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use buzon_auth::{HashParams, IpNet};
use serde::Deserialize;

/// A configuration problem, phrased for the person who edits the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source} — check the path and its permissions")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}{line}: `{key}` {problem} — {fix}")]
    Invalid {
        path: String,
        line: LineRef,
        key: String,
        problem: String,
        fix: String,
    },
}

/// "line N" where the offending key is, when it can be found.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineRef(pub Option<usize>);

impl std::fmt::Display for LineRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, " line {n}"),
            None => Ok(()),
        }
    }
}

/// What a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// POP3 on a plain port, upgraded with STLS (RFC 2595); port 110.
    Pop3,
    /// POP3 over implicit TLS (RFC 8314); port 995.
    Pop3s,
    /// LMTP (RFC 2033): mail handed over by an MTA; TCP or a UNIX socket.
    Lmtp,
    /// SMTP (RFC 5321) for the local domains only, with STARTTLS; port 25.
    Smtp,
}

impl Protocol {
    /// The name `buzon serve` prints.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Pop3 => "POP3",
            Protocol::Pop3s => "POP3S",
            Protocol::Lmtp => "LMTP",
            Protocol::Smtp => "SMTP",
        }
    }
}

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
    pub implementation: Option<String>,
    pub expire: Option<String>,
    pub login_delay: Option<u32>,
    pub lenient_bare_lf: Option<bool>,
    pub serve_folders: Option<Vec<String>>,
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

/// The TOML file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub hostname: Option<String>,
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
}

/// A validated listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub address: SocketAddr,
    pub protocol: Protocol,
    /// Offer the in-protocol TLS upgrade (STLS) on a plain listener; off for a listener
    /// behind a TLS-terminating proxy, or to keep a legacy plain-only port.
    pub starttls: bool,
}

impl Listener {
    pub fn new(address: SocketAddr, protocol: Protocol) -> Self {
        Self {
            address,
            protocol,
            starttls: true,
        }
    }
}

/// A validated UNIX socket listener (LMTP only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixListener {
    pub path: PathBuf,
    pub protocol: Protocol,
    /// Permission bits of the socket file.
    pub mode: u32,
}

/// `[delivery]`, validated (the engine's own settings type).
pub use buzon_intake::Delivery;

/// `[smtp]`, validated.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// Name in the greeting, EHLO reply and Received headers.
    pub hostname: String,
    pub max_connections_per_ip: usize,
    /// RFC 5321 §4.5.3.2.7: the time a whole command line may take to arrive, counted
    /// from when the server starts waiting for it (a deadline, not a per-read timer).
    pub command_timeout: Duration,
    /// Waiting for the next bytes of a message.
    pub data_timeout: Duration,
    /// The whole DATA phase, from the 354 reply to the final ".".
    pub data_deadline: Duration,
    /// Protocol errors before the session is closed with 421.
    pub max_errors: u32,
}

/// Limits on sessions; every one is documented in the sample config.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_connections_per_user: usize,
    /// RFC 1939 §3: the autologout timer is at least 10 minutes.
    pub idle_timeout: Duration,
    pub handshake_timeout: Duration,
    pub write_timeout: Duration,
    /// A session idle this long loses its mailbox lock to a newer login.
    pub lock_lease: Duration,
    pub max_bad_commands: u32,
    /// A POP3 session must have logged in this long after connecting, whatever it sends
    /// meanwhile (Dovecot's login processes do the same).
    pub auth_timeout: Duration,
    /// Per-address connection limits count IPv6 clients per network of this prefix
    /// length (IPv4 clients per address).
    pub ipv6_prefix: u8,
}

/// Authentication policy.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub users_file: PathBuf,
    /// Plaintext logins on unencrypted connections from anywhere (off by default).
    pub allow_plaintext_without_tls: bool,
    /// Networks where plaintext logins without TLS are fine (loopback by default).
    pub plaintext_networks: Vec<IpNet>,
    /// APOP also on unencrypted connections from other networks (weak: a listener can
    /// crack the password offline from the greeting and the digest; off by default, so
    /// APOP is accepted only where a plaintext login would be).
    pub apop: bool,
    pub throttle: buzon_auth::ThrottleConfig,
    pub max_auth_failures: u32,
    pub hash: HashParams,
    pub verify_concurrency: usize,
    /// How long a login waits for a verification slot before `-ERR [SYS/TEMP]`.
    pub verify_queue_timeout: Duration,
    pub cache_ttl: Duration,
}

/// POP3 protocol options.
#[derive(Debug, Clone)]
pub struct Pop3Options {
    pub greeting: String,
    pub implementation: Option<String>,
    pub expire: Option<String>,
    pub login_delay: Option<u32>,
    pub lenient_bare_lf: bool,
    /// Maildir++ folders served after INBOX in the one POP3 mailbox.
    pub serve_folders: Vec<String>,
}

/// TLS material: files, or a self-signed certificate generated in the data folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    Files { certificate: PathBuf, key: PathBuf },
    SelfSigned { dir: PathBuf },
}

/// The runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub mail_dir: PathBuf,
    pub hostname: String,
    pub listeners: Vec<Listener>,
    pub tls: TlsSource,
    pub tls13_only: bool,
    pub auth: AuthPolicy,
    pub limits: Limits,
    pub pop3: Pop3Options,
    pub proxy_trusted: Vec<IpNet>,
    /// `[server] user`/`group`: who the server runs as once its listeners are bound.
    pub run_as: Option<RunAs>,
    /// `[[listen]]` entries with `address = "unix:/path"`.
    pub unix_listeners: Vec<UnixListener>,
    pub delivery: Delivery,
    pub smtp: SmtpOptions,
}

/// The account `buzon serve` switches to after binding its listeners as root. Names are
/// resolved when the server starts (the config may be checked on another machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// A user name, or a numeric user id.
    pub user: String,
    /// A group name or numeric id; `None`: the user's primary group.
    pub group: Option<String>,
}

/// The embedded defaults: loopback, unprivileged ports, `./buzon-data`.
pub const DEFAULT_POP3: &str = "127.0.0.1:1110";
pub const DEFAULT_POP3S: &str = "127.0.0.1:1995";
pub const DEFAULT_LMTP: &str = "127.0.0.1:1024";
pub const DEFAULT_SMTP: &str = "127.0.0.1:1025";

impl Config {
    /// The zero-config setup `buzon serve` uses without a file.
    pub fn embedded_default(data_dir: &Path) -> Config {
        // The embedded defaults are valid by construction; a failure here is a bug that a
        // unit test catches.
        FileConfig::default()
            .validate("(defaults)", "", Some(data_dir))
            .unwrap_or_else(|e| panic!("embedded defaults invalid: {e}"))
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses config text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_string(),
            message: one_line(&e.to_string()),
        })?;
        file.validate(origin, text, None)
    }
}

fn one_line(s: &str) -> String {
    // toml's messages span several lines with a source excerpt; keep the first line and
    // the message proper.
    let lines: Vec<&str> = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|'))
        .collect();
    lines.join(" ").replace("  ", " ")
}

struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        section: &str,
        key: &str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        let full = if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        };
        ConfigError::Invalid {
            path: self.origin.to_string(),
            line: LineRef(find_key_line(self.text, section, key)),
            key: full,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    fn duration(
        &self,
        section: &str,
        key: &str,
        v: &Option<String>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(s) => parse_duration(s).ok_or_else(|| {
                self.err(
                    section,
                    key,
                    format!("is not a duration: {s:?}"),
                    "write a number with a unit, e.g. \"30s\", \"10m\", \"2h\"",
                )
            }),
        }
    }

    fn nets(
        &self,
        section: &str,
        key: &str,
        v: &Option<Vec<String>>,
        default: &[&str],
    ) -> Result<Vec<IpNet>, ConfigError> {
        let items: Vec<String> = match v {
            Some(v) => v.clone(),
            None => default.iter().map(|s| s.to_string()).collect(),
        };
        items
            .iter()
            .map(|s| {
                s.parse::<IpNet>().map_err(|_| {
                    self.err(
                        section,
                        key,
                        format!("has an invalid network {s:?}"),
                        "use an address or CIDR network, e.g. \"10.0.0.0/8\" or \"2001:db8::/32\"",
                    )
                })
            })
            .collect()
    }
}

/// Finds the 1-based line where `key` is set inside `[section]` (or at top level).
fn find_key_line(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            current = h.trim().to_string();
        } else if let Some(h) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = h.trim().to_string();
        } else if current == section {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim() == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// Durations and sizes have one meaning for the server and the client.
pub use buzon_units::{parse_duration, parse_size_with};

impl FileConfig {
    /// Checks every value and fills in defaults. `data_dir_override` (the zero-config run)
    /// takes precedence over the file's `data_dir`.
    pub fn validate(
        self,
        origin: &str,
        text: &str,
        data_dir_override: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let cx = Ctx { origin, text };
        let data_dir = data_dir_override
            .map(Path::to_path_buf)
            .or(self.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./buzon-data"));
        let mail_dir = self
            .mail_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("mail"));
        let hostname = self.hostname.clone().unwrap_or_else(default_hostname);
        if hostname.is_empty()
            || hostname
                .contains(|c: char| c.is_whitespace() || c.is_control() || c == '>' || c == '<')
        {
            return Err(cx.err(
                "",
                "hostname",
                format!("is not a host name: {hostname:?}"),
                "use the server's DNS name, e.g. \"mail.example.com\"",
            ));
        }

        let listeners = if self.listen.is_empty() {
            vec![
                Listener::new(parse_addr(DEFAULT_POP3), Protocol::Pop3),
                Listener::new(parse_addr(DEFAULT_POP3S), Protocol::Pop3s),
                Listener::new(parse_addr(DEFAULT_LMTP), Protocol::Lmtp),
                Listener::new(parse_addr(DEFAULT_SMTP), Protocol::Smtp),
            ]
        } else {
            let mut v = Vec::new();
            for l in &self.listen {
                if l.address.starts_with("unix:") {
                    continue;
                }
                if l.mode.is_some() {
                    return Err(cx.err("listen", "mode", "is set on a TCP listener", "`mode` applies to UNIX sockets (`address = \"unix:/path\"`) only; remove it"));
                }
                let address = resolve_listen_addr(&l.address).ok_or_else(|| {
                    cx.err(
                        "listen",
                        "address",
                        format!("is not an address with a port: {:?}", l.address),
                        "write \"IP:PORT\", e.g. \"0.0.0.0:995\" or \"[::]:110\"",
                    )
                })?;
                v.push(Listener {
                    address,
                    protocol: l.protocol,
                    starttls: l.starttls.unwrap_or(true),
                });
            }
            v
        };

        let tls = match (&self.tls.certificate, &self.tls.key) {
            (Some(c), Some(k)) => TlsSource::Files {
                certificate: c.clone(),
                key: k.clone(),
            },
            (None, None) => TlsSource::SelfSigned {
                dir: data_dir.join("tls"),
            },
            (Some(_), None) => {
                return Err(cx.err(
                    "tls",
                    "certificate",
                    "is set but `tls.key` is not",
                    "set both, or neither to use a generated self-signed certificate",
                ))
            }
            (None, Some(_)) => {
                return Err(cx.err(
                    "tls",
                    "key",
                    "is set but `tls.certificate` is not",
                    "set both, or neither to use a generated self-signed certificate",
                ))
            }
        };
        let tls13_only = match self.tls.min_version.as_deref() {
            None | Some("1.2") => false,
            Some("1.3") => true,
            Some(other) => {
                return Err(cx.err(
                    "tls",
                    "min_version",
                    format!("is {other:?}"),
                    "use \"1.2\" (default) or \"1.3\"; older versions are not supported",
                ))
            }
        };

        let a = &self.auth;
        let throttle = buzon_auth::ThrottleConfig {
            failure_delay: cx.duration(
                "auth",
                "failure_delay",
                &a.failure_delay,
                Duration::from_secs(2),
            )?,
            penalty_base: cx.duration(
                "auth",
                "penalty_base",
                &a.penalty_base,
                Duration::from_secs(2),
            )?,
            penalty_max: cx.duration(
                "auth",
                "penalty_max",
                &a.penalty_max,
                Duration::from_secs(60),
            )?,
            free_failures: a.free_failures.unwrap_or(3),
            forget_after: Duration::from_secs(15 * 60),
            trusted: cx.nets(
                "auth",
                "throttle_exempt_networks",
                &a.throttle_exempt_networks,
                &[],
            )?,
        };
        let hash = HashParams {
            m_cost_kib: a
                .argon2_memory_kib
                .unwrap_or(HashParams::default().m_cost_kib),
            t_cost: a.argon2_iterations.unwrap_or(HashParams::default().t_cost),
            p_cost: a.argon2_parallelism.unwrap_or(HashParams::default().p_cost),
        };
        if hash.m_cost_kib < 8 * hash.p_cost.max(1) || hash.t_cost == 0 || hash.p_cost == 0 {
            return Err(cx.err("auth", "argon2_memory_kib", "with the iteration and parallelism settings is not a valid Argon2 parameter set", "use at least 8 KiB per lane and 1 iteration; the default is 19456 KiB, 2 iterations, 1 lane"));
        }
        let verify_concurrency = a.verify_concurrency.unwrap_or(2);
        if verify_concurrency == 0 {
            return Err(cx.err(
                "auth",
                "verify_concurrency",
                "is 0",
                "allow at least 1 concurrent password verification",
            ));
        }
        let auth = AuthPolicy {
            users_file: a
                .users_file
                .clone()
                .unwrap_or_else(|| data_dir.join("users")),
            allow_plaintext_without_tls: a.allow_plaintext_without_tls.unwrap_or(false),
            plaintext_networks: cx.nets(
                "auth",
                "plaintext_networks",
                &a.plaintext_networks,
                &["127.0.0.0/8", "::1/128"],
            )?,
            apop: a.apop.unwrap_or(false),
            throttle,
            max_auth_failures: a.max_auth_failures.unwrap_or(3).max(1),
            hash,
            verify_concurrency,
            verify_queue_timeout: cx.duration(
                "auth",
                "verify_queue_timeout",
                &a.verify_queue_timeout,
                Duration::from_secs(10),
            )?,
            cache_ttl: cx.duration("auth", "cache_ttl", &a.cache_ttl, Duration::from_secs(60))?,
        };

        let l = &self.limits;
        let limits = Limits {
            max_connections: l.max_connections.unwrap_or(10_000),
            max_connections_per_ip: l.max_connections_per_ip.unwrap_or(100),
            max_connections_per_user: l.max_connections_per_user.unwrap_or(10),
            idle_timeout: cx.duration(
                "limits",
                "idle_timeout",
                &l.idle_timeout,
                Duration::from_secs(600),
            )?,
            handshake_timeout: cx.duration(
                "limits",
                "handshake_timeout",
                &l.handshake_timeout,
                Duration::from_secs(30),
            )?,
            write_timeout: cx.duration(
                "limits",
                "write_timeout",
                &l.write_timeout,
                Duration::from_secs(120),
            )?,
            lock_lease: cx.duration(
                "limits",
                "lock_lease",
                &l.lock_lease,
                Duration::from_secs(180),
            )?,
            max_bad_commands: l.max_bad_commands.unwrap_or(20).max(1),
            auth_timeout: cx.duration(
                "limits",
                "auth_timeout",
                &l.auth_timeout,
                Duration::from_secs(120),
            )?,
            ipv6_prefix: l.ipv6_prefix.unwrap_or(64),
        };
        if limits.auth_timeout < Duration::from_secs(1) {
            return Err(cx.err(
                "limits",
                "auth_timeout",
                format!("is {:?}", limits.auth_timeout),
                "use at least \"1s\"; the default is \"2m\"",
            ));
        }
        if !(1..=128).contains(&limits.ipv6_prefix) {
            return Err(cx.err(
                "limits",
                "ipv6_prefix",
                format!("is {}", limits.ipv6_prefix),
                "use a prefix length from 1 to 128: 64 (the default) counts one /64, 128 each address",
            ));
        }
        if limits.idle_timeout < Duration::from_secs(600) {
            // RFC 1939 §3 requires at least 10 minutes; shorter values break slow clients.
            return Err(cx.err(
                "limits",
                "idle_timeout",
                format!(
                    "is {:?}, shorter than the 10 minutes RFC 1939 §3 requires",
                    limits.idle_timeout
                ),
                "use \"10m\" or more",
            ));
        }
        for (key, v) in [
            ("max_connections", limits.max_connections),
            ("max_connections_per_ip", limits.max_connections_per_ip),
            ("max_connections_per_user", limits.max_connections_per_user),
        ] {
            if v == 0 {
                return Err(cx.err(
                    "limits",
                    key,
                    "is 0, so nobody could connect",
                    "use a positive number",
                ));
            }
        }

        let p = &self.pop3;
        if let Some(e) = &p.expire {
            let ok = e == "NEVER" || e.parse::<u32>().is_ok();
            if !ok {
                return Err(cx.err(
                    "pop3",
                    "expire",
                    format!("is {e:?}"),
                    "use \"NEVER\" or a number of days (RFC 2449 §6.7)",
                ));
            }
        }
        let pop3 = Pop3Options {
            greeting: p.greeting.clone().unwrap_or_else(|| "Buzon ready.".into()),
            implementation: p.implementation.clone(),
            expire: p.expire.clone(),
            login_delay: p.login_delay,
            lenient_bare_lf: p.lenient_bare_lf.unwrap_or(false),
            serve_folders: {
                let folders = p.serve_folders.clone().unwrap_or_default();
                for f in &folders {
                    if let Err(e) = buzon_store::name::validate_folder_name(f) {
                        return Err(cx.err("pop3", "serve_folders", e.to_string(), "name Maildir++ folders as mail clients show them, e.g. \"Junk\" or \"Lists.rust\""));
                    }
                }
                folders
            },
        };
        let unix_listeners = unix_listeners(&cx, &self.listen)?;
        let delivery = delivery(&cx, &self.delivery, &data_dir)?;
        let smtp = smtp_options(&cx, &self.smtp, &hostname)?;

        Ok(Config {
            data_dir,
            mail_dir,
            hostname,
            listeners,
            tls,
            tls13_only,
            auth,
            limits,
            pop3,
            proxy_trusted: cx.nets(
                "proxy",
                "trusted_networks",
                &self.proxy.trusted_networks,
                &[],
            )?,
            run_as: run_as(&cx, &self.server)?,
            unix_listeners,
            delivery,
            smtp,
        })
    }
}

/// `[[listen]]` entries on UNIX sockets: LMTP only (the other protocols need a client
/// address for their limits and plaintext rules).
fn unix_listeners(cx: &Ctx<'_>, listen: &[ListenerFile]) -> Result<Vec<UnixListener>, ConfigError> {
    let mut out = Vec::new();
    for l in listen {
        let Some(path) = l.address.strip_prefix("unix:") else {
            continue;
        };
        if l.protocol != Protocol::Lmtp {
            return Err(cx.err(
                "listen",
                "address",
                format!("{:?} is a UNIX socket for {}", l.address, l.protocol.name()),
                "UNIX sockets are for LMTP only; give POP3 and SMTP listeners an IP:PORT",
            ));
        }
        if !path.starts_with('/') {
            return Err(cx.err(
                "listen",
                "address",
                format!("{:?} is not an absolute path", l.address),
                "write \"unix:/run/buzon/lmtp\"",
            ));
        }
        let mode = match &l.mode {
            None => 0o660,
            Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| {
                    cx.err(
                        "listen",
                        "mode",
                        format!("is not an octal permission: {m:?}"),
                        "write e.g. \"0660\" (owner and group may connect)",
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

impl Ctx<'_> {
    fn size(
        &self,
        section: &str,
        key: &str,
        v: &Option<SizeFile>,
        default: u64,
    ) -> Result<u64, ConfigError> {
        match v {
            None => Ok(default),
            Some(SizeFile::Bytes(n)) => Ok(*n),
            Some(SizeFile::Text(t)) => parse_size_with(t, 1).ok_or_else(|| {
                self.err(
                    section,
                    key,
                    format!("is not a size: {t:?}"),
                    "write a number of bytes or a number with a unit, e.g. \"50M\" or \"1G\"",
                )
            }),
        }
    }
}

fn delivery(cx: &Ctx<'_>, d: &DeliveryFile, data_dir: &Path) -> Result<Delivery, ConfigError> {
    use buzon_intake::route::normalize_domain;
    let local_domains: Vec<String> = d
        .local_domains
        .clone()
        .unwrap_or_else(|| vec!["localhost".into()])
        .iter()
        .map(|s| normalize_domain(s))
        .collect();
    if local_domains.is_empty() {
        return Err(cx.err(
            "delivery",
            "local_domains",
            "is empty, so no mail could be accepted",
            "list the domains this server receives mail for, e.g. [\"example.com\"]",
        ));
    }
    if let Some(bad) = local_domains
        .iter()
        .find(|d| !buzon_smtp_proto::address::is_domain(d))
    {
        return Err(cx.err(
            "delivery",
            "local_domains",
            format!("has {bad:?}, which is not a domain name"),
            "write domain names such as \"example.com\"",
        ));
    }
    let recipient_delimiter = match d.recipient_delimiter.as_deref() {
        None => Some("+".to_string()),
        Some("") => None,
        Some(s) if s.chars().count() == 1 && !s.contains(|c: char| c.is_alphanumeric() || c == '@' || c.is_whitespace()) => Some(s.to_string()),
        Some(s) => return Err(cx.err("delivery", "recipient_delimiter", format!("is {s:?}"), "use one punctuation character such as \"+\" or \"-\" (RFC 5233), or \"\" to turn sub-addressing off")),
    };
    let mut catch_all = HashMap::new();
    for (domain, user) in d.catch_all.clone().unwrap_or_default() {
        let domain = normalize_domain(&domain);
        if !local_domains.contains(&domain) {
            return Err(cx.err(
                "delivery",
                "catch_all",
                format!("names {domain:?}, which is not in local_domains"),
                "add the domain to `local_domains` or remove its catch-all",
            ));
        }
        if buzon_auth::validate_username(&user).is_err() {
            return Err(cx.err(
                "delivery",
                "catch_all",
                format!("names {user:?}, which is not a user name"),
                "give the name of a user in the users file",
            ));
        }
        catch_all.insert(domain, user);
    }
    let over_quota_permanent = match d.over_quota_reply.as_deref() {
        None | Some("452") => false,
        Some("552") => true,
        Some(other) => return Err(cx.err("delivery", "over_quota_reply", format!("is {other:?}"), "use \"452\" (temporary: the sender retries, the default) or \"552\" (permanent: the sender bounces the message)")),
    };
    let quota_bytes = cx.size("delivery", "quota_bytes", &d.quota_bytes, 0)?;
    let quota_messages = d.quota_messages.unwrap_or(0);
    let max_message_size = cx.size(
        "delivery",
        "max_message_size",
        &d.max_message_size,
        50 * 1024 * 1024,
    )?;
    if max_message_size < 64 * 1024 {
        return Err(cx.err(
            "delivery",
            "max_message_size",
            format!("is {max_message_size} bytes"),
            "allow at least 64K (RFC 5321 §4.5.3.1.7); the default is 50M",
        ));
    }
    let max_recipients = d.max_recipients.unwrap_or(100);
    if max_recipients < 100 {
        return Err(cx.err(
            "delivery",
            "max_recipients",
            format!("is {max_recipients}"),
            "RFC 5321 §4.5.3.1.8 requires accepting at least 100 recipients",
        ));
    }
    Ok(Delivery {
        routing: buzon_intake::route::RoutingConfig {
            local_domains,
            recipient_delimiter,
            catch_all,
        },
        aliases_file: d.aliases_file.clone(),
        quota: buzon_intake::quota::QuotaLimits {
            bytes: (quota_bytes > 0).then_some(quota_bytes),
            messages: (quota_messages > 0).then_some(quota_messages),
        },
        over_quota_permanent,
        max_message_size,
        max_recipients,
        sieve_dir: d
            .sieve_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("sieve")),
        spool_dir: data_dir.join("spool"),
    })
}

fn smtp_options(cx: &Ctx<'_>, s: &SmtpFile, hostname: &str) -> Result<SmtpOptions, ConfigError> {
    let name = s.hostname.clone().unwrap_or_else(|| hostname.to_string());
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
        return Err(cx.err(
            "smtp",
            "hostname",
            format!("is not a host name: {name:?}"),
            "use the server's DNS name, e.g. \"mx.example.com\"",
        ));
    }
    let max_connections_per_ip = s.max_connections_per_ip.unwrap_or(20);
    if max_connections_per_ip == 0 {
        return Err(cx.err(
            "smtp",
            "max_connections_per_ip",
            "is 0, so nobody could connect",
            "use a positive number",
        ));
    }
    let command_timeout = cx.duration(
        "smtp",
        "command_timeout",
        &s.command_timeout,
        Duration::from_secs(300),
    )?;
    let data_timeout = cx.duration(
        "smtp",
        "data_timeout",
        &s.data_timeout,
        Duration::from_secs(300),
    )?;
    let data_deadline = cx.duration(
        "smtp",
        "data_deadline",
        &s.data_deadline,
        Duration::from_secs(30 * 60),
    )?;
    for (key, v) in [
        ("command_timeout", command_timeout),
        ("data_timeout", data_timeout),
        ("data_deadline", data_deadline),
    ] {
        if v < Duration::from_secs(1) {
            return Err(cx.err(
                "smtp",
                key,
                format!("is {v:?}"),
                "use at least \"1s\"; RFC 5321 §4.5.3.2.7 recommends 5 minutes (the default)",
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

/// `[server] user`/`group`: syntax only; the names are looked up at start.
fn run_as(cx: &Ctx<'_>, s: &ServerFile) -> Result<Option<RunAs>, ConfigError> {
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
                "server",
                "group",
                "is set but `server.user` is not",
                "set `user` too (the group alone cannot be switched to safely), or remove `group`",
            ));
        }
        return Ok(None);
    };
    if !valid(user) {
        return Err(cx.err("server", "user", format!("is not a user name: {user:?}"), "use a system account name such as \"buzon\" (ASCII letters, digits, _ - .) or a numeric user id"));
    }
    if user == "root" || user.trim_start_matches('0').is_empty() {
        return Err(cx.err("server", "user", format!("is {user:?}, the superuser"), "create an unprivileged account (`useradd --system --no-create-home --shell /usr/sbin/nologin buzon`) and name it here"));
    }
    if let Some(g) = &s.group {
        if !valid(g) {
            return Err(cx.err(
                "server",
                "group",
                format!("is not a group name: {g:?}"),
                "use a group name such as \"buzon\" or a numeric group id",
            ));
        }
        if g == "root" || g.trim_start_matches('0').is_empty() {
            return Err(cx.err(
                "server",
                "group",
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

fn default_hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_loopback_unprivileged() {
        let c = Config::embedded_default(Path::new("/tmp/x"));
        assert_eq!(c.listeners.len(), 4);
        assert!(c
            .listeners
            .iter()
            .all(|l| l.address.ip().is_loopback() && l.address.port() >= 1024));
        let by = |p: Protocol| {
            c.listeners
                .iter()
                .find(|l| l.protocol == p)
                .map(|l| l.address.port())
        };
        assert_eq!(
            (by(Protocol::Lmtp), by(Protocol::Smtp)),
            (Some(1024), Some(1025))
        );
        assert_eq!(
            c.delivery.routing.local_domains,
            vec!["localhost".to_string()]
        );
        assert_eq!(c.delivery.routing.recipient_delimiter.as_deref(), Some("+"));
        assert_eq!(c.delivery.max_message_size, 50 * 1024 * 1024);
        assert_eq!(c.delivery.max_recipients, 100);
        assert!(c.delivery.quota.is_unlimited() && !c.delivery.over_quota_permanent);
        assert_eq!(c.delivery.sieve_dir, Path::new("/tmp/x/sieve"));
        assert_eq!(c.smtp.command_timeout, Duration::from_secs(300));
        assert_eq!(c.smtp.data_deadline, Duration::from_secs(1800));
        assert_eq!(c.limits.auth_timeout, Duration::from_secs(120));
        assert_eq!(c.limits.ipv6_prefix, 64);
        assert!(c.unix_listeners.is_empty() && c.pop3.serve_folders.is_empty());
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(600));
        assert!(!c.auth.allow_plaintext_without_tls);
        assert_eq!(c.auth.users_file, Path::new("/tmp/x/users"));
        assert_eq!(
            c.tls,
            TlsSource::SelfSigned {
                dir: PathBuf::from("/tmp/x/tls")
            }
        );
    }

    #[test]
    fn errors_name_key_line_and_fix() {
        let text =
            "hostname = \"mx\"\n\n[limits]\nmax_connections = 5\nidle_timeout = \"ten minutes\"\n";
        let e = Config::parse(text, "buzon.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("buzon.toml line 5"), "{e}");
        assert!(e.contains("limits.idle_timeout"), "{e}");
        assert!(e.contains("e.g. \"30s\""), "{e}");

        let e = Config::parse("[limits]\nmax_conections = 5\n", "f")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("max_conections") && e.contains("line 2"), "{e}");

        let e = Config::parse(
            "[[listen]]\naddress = \"nowhere\"\nprotocol = \"pop3\"\n",
            "f",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("listen.address") && e.contains("line 2"), "{e}");

        let e = Config::parse(
            "[[listen]]\naddress = \"[::1]:110\"\nprotocol = \"imap\"\n",
            "f",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("imap"), "{e}");

        let e = Config::parse("[tls]\ncertificate = \"a.pem\"\n", "f")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("tls.certificate") && e.contains("set both"),
            "{e}"
        );

        let e = Config::parse("[limits]\nidle_timeout = \"1m\"\n", "f")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("RFC 1939"), "{e}");
    }

    #[test]
    fn full_file_parses() {
        let text = r#"
data_dir = "/var/lib/buzon"
hostname = "mail.example.com"
[[listen]]
address = "[::]:995"
protocol = "pop3s"
[[listen]]
address = "*:110"
protocol = "pop3"
[tls]
certificate = "/etc/ssl/c.pem"
key = "/etc/ssl/k.pem"
min_version = "1.3"
[auth]
allow_plaintext_without_tls = true
plaintext_networks = ["10.0.0.0/8"]
apop = true
failure_delay = "500ms"
[limits]
idle_timeout = "30m"
[pop3]
expire = "NEVER"
login_delay = 60
implementation = "Buzon"
[proxy]
trusted_networks = ["192.0.2.0/24"]
"#;
        let c = Config::parse(text, "f").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.listeners[0].address,
            "[::]:995".parse().unwrap_or_else(|_| panic!())
        );
        assert_eq!(c.listeners[1].address.port(), 110);
        assert!(c.tls13_only);
        assert_eq!(c.auth.throttle.failure_delay, Duration::from_millis(500));
        assert!(c.auth.apop);
        assert_eq!(c.mail_dir, Path::new("/var/lib/buzon/mail"));
        assert_eq!(c.pop3.login_delay, Some(60));
        assert_eq!(c.proxy_trusted.len(), 1);
    }

    #[test]
    fn the_sample_file_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/buzon.sample.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let d = Config::embedded_default(Path::new("./buzon-data"));
        assert_eq!(c.listeners, d.listeners);
        assert_eq!(c.data_dir, d.data_dir);
        assert_eq!(c.mail_dir, d.mail_dir);
        assert_eq!(c.auth.users_file, d.auth.users_file);
        assert_eq!(c.auth.throttle, d.auth.throttle);
        assert_eq!(c.auth.hash, d.auth.hash);
        assert_eq!(c.auth.verify_queue_timeout, d.auth.verify_queue_timeout);
        assert_eq!(c.auth.verify_queue_timeout, Duration::from_secs(10));
        assert_eq!(c.auth.plaintext_networks, d.auth.plaintext_networks);
        assert!(!c.auth.apop && !d.auth.apop);
        assert_eq!(c.limits.idle_timeout, d.limits.idle_timeout);
        assert_eq!(c.limits.lock_lease, d.limits.lock_lease);
        assert_eq!(c.limits.auth_timeout, d.limits.auth_timeout);
        assert_eq!(c.limits.ipv6_prefix, d.limits.ipv6_prefix);
        assert_eq!(c.limits.max_connections, d.limits.max_connections);
        assert_eq!(c.pop3.greeting, d.pop3.greeting);
        assert_eq!(c.tls, d.tls);
        assert_eq!(c.pop3.serve_folders, d.pop3.serve_folders);
        assert_eq!(
            c.delivery.routing.local_domains,
            d.delivery.routing.local_domains
        );
        assert_eq!(
            c.delivery.routing.recipient_delimiter,
            d.delivery.routing.recipient_delimiter
        );
        assert_eq!(c.delivery.quota, d.delivery.quota);
        assert_eq!(
            c.delivery.over_quota_permanent,
            d.delivery.over_quota_permanent
        );
        assert_eq!(c.delivery.max_message_size, d.delivery.max_message_size);
        assert_eq!(c.delivery.max_recipients, d.delivery.max_recipients);
        assert_eq!(c.delivery.sieve_dir, d.delivery.sieve_dir);
        assert_eq!(c.smtp.max_connections_per_ip, d.smtp.max_connections_per_ip);
        assert_eq!(c.smtp.command_timeout, d.smtp.command_timeout);
        assert_eq!(c.smtp.data_timeout, d.smtp.data_timeout);
        assert_eq!(c.smtp.data_deadline, d.smtp.data_deadline);
        assert_eq!(c.smtp.max_errors, d.smtp.max_errors);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }

    #[test]
    fn server_user_and_group() {
        let c =
            Config::parse("[server]\nuser = \"buzon\"\n", "f").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.run_as,
            Some(RunAs {
                user: "buzon".into(),
                group: None
            })
        );
        let c = Config::parse("[server]\nuser = \"998\"\ngroup = \"mail\"\n", "f")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.run_as,
            Some(RunAs {
                user: "998".into(),
                group: Some("mail".into())
            })
        );
        assert_eq!(Config::parse("", "f").map(|c| c.run_as).ok(), Some(None));
        for (text, want) in [
            ("[server]\nuser = \"root\"\n", "superuser"),
            ("[server]\nuser = \"0\"\n", "superuser"),
            (
                "[server]\nuser = \"buzon\"\ngroup = \"0\"\n",
                "superuser's group",
            ),
            ("[server]\nuser = \"../x\"\n", "not a user name"),
            ("[server]\nuser = \"\"\n", "not a user name"),
            ("[server]\nuser = \"-rf\"\n", "not a user name"),
            ("[server]\ngroup = \"buzon\"\n", "`server.user` is not"),
            (
                "[server]\nuser = \"a\"\ngroup = \"b c\"\n",
                "not a group name",
            ),
        ] {
            let e = Config::parse(text, "f")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.contains(want) && (e.contains("line 2") || e.contains("line 3")),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn intake_sections() {
        let text = r#"
hostname = "mx.example.com"
[[listen]]
address = "unix:/run/buzon/lmtp"
protocol = "lmtp"
mode = "0666"
[[listen]]
address = "[::]:25"
protocol = "smtp"
[delivery]
local_domains = ["Example.COM.", "example.org"]
aliases_file = "/etc/buzon/aliases"
recipient_delimiter = "-"
catch_all = { "example.org" = "postmaster" }
quota_bytes = "1G"
quota_messages = 10000
over_quota_reply = "552"
max_message_size = 26214400
max_recipients = 500
sieve_dir = "/var/lib/buzon/sieve"
[smtp]
hostname = "mx1.example.com"
max_connections_per_ip = 5
command_timeout = "10m"
[pop3]
serve_folders = ["Junk", "Lists.rust"]
"#;
        let c = Config::parse(text, "f").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.unix_listeners,
            vec![UnixListener {
                path: PathBuf::from("/run/buzon/lmtp"),
                protocol: Protocol::Lmtp,
                mode: 0o666
            }]
        );
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(
            c.delivery.routing.local_domains,
            vec!["example.com".to_string(), "example.org".to_string()]
        );
        assert_eq!(c.delivery.routing.recipient_delimiter.as_deref(), Some("-"));
        assert_eq!(
            c.delivery
                .routing
                .catch_all
                .get("example.org")
                .map(String::as_str),
            Some("postmaster")
        );
        assert_eq!(c.delivery.quota.bytes, Some(1 << 30));
        assert_eq!(c.delivery.quota.messages, Some(10_000));
        assert!(c.delivery.over_quota_permanent);
        assert_eq!(c.delivery.max_message_size, 25 << 20);
        assert_eq!(c.smtp.hostname, "mx1.example.com");
        assert_eq!(c.smtp.command_timeout, Duration::from_secs(600));
        assert_eq!(
            c.pop3.serve_folders,
            vec!["Junk".to_string(), "Lists.rust".to_string()]
        );

        for (text, want) in [
            (
                "[[listen]]\naddress = \"unix:/x\"\nprotocol = \"pop3\"\n",
                "LMTP only",
            ),
            (
                "[[listen]]\naddress = \"unix:rel\"\nprotocol = \"lmtp\"\n",
                "absolute path",
            ),
            (
                "[[listen]]\naddress = \"unix:/x\"\nprotocol = \"lmtp\"\nmode = \"999\"\n",
                "octal",
            ),
            ("[delivery]\nover_quota_reply = \"550\"\n", "\"452\""),
            ("[delivery]\nmax_message_size = \"huge\"\n", "not a size"),
            ("[delivery]\nmax_recipients = 10\n", "at least 100"),
            ("[delivery]\nlocal_domains = []\n", "is empty"),
            (
                "[delivery]\ncatch_all = { \"other.org\" = \"bob\" }\n",
                "not in local_domains",
            ),
            ("[delivery]\nrecipient_delimiter = \"ab\"\n", "punctuation"),
            (
                "[pop3]\nserve_folders = [\"../x\"]\n",
                "invalid folder name",
            ),
            ("[smtp]\ncommand_timeout = \"0s\"\n", "at least"),
            ("[smtp]\ndata_deadline = \"0s\"\n", "at least"),
            ("[limits]\nauth_timeout = \"0s\"\n", "at least"),
            ("[limits]\nipv6_prefix = 0\n", "from 1 to 128"),
        ] {
            let e = Config::parse(text, "f")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(want) && e.contains("line "), "{text:?}: {e}");
        }
        assert_eq!(parse_size_with("50M", 1), Some(50 << 20));
        assert_eq!(parse_size_with("1024", 1024), Some(1 << 20));
        assert_eq!(parse_size_with("7 GiB", 1), Some(7 << 30));
        assert_eq!(parse_size_with("x", 1), None);
        assert_eq!(parse_size_with("99999999999T", 1), None);
    }
}
