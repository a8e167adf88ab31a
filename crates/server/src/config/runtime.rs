//! The runtime view: the validated [`Config`] and its parts, as the server uses them.
//! Every value here has been checked; nothing here reads the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use buzon_auth::{HashParams, IpNet};
use serde::Deserialize;

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
    /// HTTPS: mail-client autoconfiguration (Thunderbird autoconfig, Outlook
    /// Autodiscover) for the local domains; port 443.
    Https,
    /// Plain HTTP: the autoconfiguration paths (clients fetch them over HTTP too), every
    /// other path redirected to HTTPS; port 80.
    Http,
    /// Prometheus metrics (`GET /metrics`); keep it on loopback or a private network.
    Metrics,
}

impl Protocol {
    /// The name `buzon serve` prints.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Pop3 => "POP3",
            Protocol::Pop3s => "POP3S",
            Protocol::Lmtp => "LMTP",
            Protocol::Smtp => "SMTP",
            Protocol::Https => "HTTPS",
            Protocol::Http => "HTTP",
            Protocol::Metrics => "metrics",
        }
    }
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
    /// What the listener offers, in words: "POP3 with STLS", "POP3S", "LMTP", ….
    pub fn kind(&self) -> &'static str {
        match self.protocol {
            Protocol::Pop3 if self.starttls => "POP3 with STLS",
            p => p.name(),
        }
    }

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

/// `[store]`, validated (the store crates' own settings type).
pub use buzon_store::{PgSettings, StoreSettings};

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
    /// App passwords and two-step verification secrets, one file per user (Maildir
    /// store; with PostgreSQL they are in the database).
    pub credentials_dir: PathBuf,
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
    /// The scheme of passwords set from now on (`buzon user add|passwd`, the demo user).
    pub password_scheme: buzon_auth::NewPasswordScheme,
    pub verify_concurrency: usize,
    /// How long a login waits for a verification slot before `-ERR [SYS/TEMP]`.
    pub verify_queue_timeout: Duration,
    pub cache_ttl: Duration,
}

/// POP3 protocol options.
#[derive(Debug, Clone)]
pub struct Pop3Options {
    pub greeting: String,
    /// RFC 6856 §3: the language of the greeting and of responses before LANG.
    pub language: buzon_i18n::Lang,
    pub implementation: Option<String>,
    pub expire: Option<String>,
    pub login_delay: Option<u32>,
    pub lenient_bare_lf: bool,
    /// Maildir++ folders served after INBOX in the one POP3 mailbox.
    pub serve_folders: Vec<String>,
    /// Where existing messages' UIDLs come from (taking over from Dovecot).
    pub uidl_source: buzon_store::UidlSource,
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
    /// Log lines as text (the default) or one JSON object each.
    pub log_json: bool,
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
    /// `[store]`: the embedded Maildir store (default) or a shared PostgreSQL database.
    pub store: StoreSettings,
    /// `[oauth]`: bearer tokens of one issuer (OAUTHBEARER, XOAUTH2); `None`: not offered.
    pub oauth: Option<OAuthPolicy>,
    /// `[web] admins`: users who see the admin view of the account pages.
    pub web_admins: Vec<String>,
}

/// How bearer tokens are checked: as JWTs signed by the issuer's keys (JWKS), or, when
/// `introspection` is set, by asking the issuer (RFC 7662).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthPolicy {
    /// Tokens' `iss` must be exactly this (an https URL).
    pub issuer: String,
    /// Tokens' `aud` must hold one of these.
    pub audience: Vec<String>,
    /// Where the signing keys are; `None`: the `jwks_uri` of the issuer's discovery
    /// document (`<issuer>/.well-known/openid-configuration`).
    pub jwks_url: Option<String>,
    /// The claim that names the user (`email` by default).
    pub user_claim: String,
    /// The scope named in the RFC 7628 error challenge.
    pub scope: String,
    /// Extra certificate authorities for the issuer's HTTPS (else the system's).
    pub ca_file: Option<PathBuf>,
    pub introspection: Option<Introspection>,
    /// Clock difference allowed on `exp` and `nbf`.
    pub clock_skew: std::time::Duration,
}

/// RFC 7662 token introspection, authenticated as a client with HTTP Basic.
#[derive(Clone, PartialEq, Eq)]
pub struct Introspection {
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
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
pub const DEFAULT_HTTPS: &str = "127.0.0.1:1443";
