//! The network side of the client: name resolution (the system's, or a given DNS server),
//! TCP with a connect timeout, and TLS with rustls (system roots, an extra CA file, or a
//! pinned SHA-256 certificate fingerprint), each phase bounded by a timeout.
//!
//! Errors are classified here, once, into the [`ClientError`] variants `buzon check`
//! explains: unknown host, refused, timeout, TLS spoken to a plain port, expired or
//! wrong-name or self-signed certificates (with the fingerprint to pin).

use buzon_i18n::t;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::error::{CertProblem, ClientError, Result};

/// How the connection is protected; one type for the client, `bench` and the flags.
pub use buzon_pop3_proto::Security;

/// A SHA-256 certificate fingerprint, for pinning a self-signed server certificate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Accepts `sha256:` followed by 64 hex digits, with or without `:` between pairs.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = s
            .strip_prefix("sha256:")
            .or_else(|| s.strip_prefix("SHA256:"))
            .unwrap_or(s);
        let hex_digits: String = s.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(hex_digits).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Which certificates to trust.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// A PEM file of extra certificate authorities, trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Accept exactly the certificate with this fingerprint (the name and dates are then
    /// not checked, the handshake signature still is).
    pub fingerprint: Option<Fingerprint>,
    /// The name to send as SNI and to check the certificate against, when it differs
    /// from the host connected to.
    pub server_name: Option<String>,
    /// Do not load the system's root certificates (only `ca_file`).
    pub no_system_roots: bool,
}

/// Time limits for each phase of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub handshake: Duration,
    /// Each read of a reply (not the whole reply: a large RETR may take longer).
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(20),
            handshake: Duration::from_secs(20),
            read: Duration::from_secs(60),
        }
    }
}

/// Resolves host names, SRV and MX records: through the system, or through one given DNS
/// server (for `buzon setup --dns-server`, and tests).
#[derive(Clone)]
pub struct Resolver {
    inner: ResolverKind,
}

#[derive(Clone)]
enum ResolverKind {
    System,
    Dns(Arc<TokioResolver>),
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner {
            ResolverKind::System => f.write_str("Resolver(system)"),
            ResolverKind::Dns(_) => f.write_str("Resolver(dns server)"),
        }
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::system()
    }
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

impl Resolver {
    /// Host names through the system (`/etc/hosts`, nsswitch); SRV and MX through the
    /// name servers in `/etc/resolv.conf`.
    pub fn system() -> Self {
        Self {
            inner: ResolverKind::System,
        }
    }

    /// Everything through the DNS server at `addr` (UDP, falling back to TCP).
    pub fn with_name_server(addr: SocketAddr) -> Self {
        let group = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
        let config = ResolverConfig::from_parts(None, vec![], group);
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(3);
        opts.attempts = 2;
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        let r = TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(opts)
            .build();
        Self {
            inner: ResolverKind::Dns(Arc::new(r)),
        }
    }

    fn dns(&self) -> std::result::Result<Arc<TokioResolver>, String> {
        match &self.inner {
            ResolverKind::Dns(r) => Ok(r.clone()),
            ResolverKind::System => TokioResolver::builder_tokio()
                .map(|b| Arc::new(b.build()))
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}")),
        }
    }

    /// The addresses of `host` (an IP literal is returned as is).
    pub async fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let unknown = |reason: String| ClientError::UnknownHost {
            host: host.to_string(),
            reason,
        };
        match &self.inner {
            ResolverKind::System => {
                let addrs = tokio::time::timeout(
                    Duration::from_secs(15),
                    tokio::net::lookup_host((host, port)),
                )
                .await
                .map_err(|_| unknown(t!("dns-timeout")))?
                .map_err(|e| {
                    // glibc's words for NXDOMAIN, through the catalog (English: the same).
                    let text = e.to_string();
                    unknown(if text.ends_with("Name or service not known") {
                        t!("dns-no-such-name")
                    } else {
                        text
                    })
                })?
                .collect::<Vec<_>>();
                if addrs.is_empty() {
                    return Err(unknown(t!("dns-no-addresses")));
                }
                Ok(addrs)
            }
            ResolverKind::Dns(r) => {
                let ips = r
                    .lookup_ip(host)
                    .await
                    .map_err(|e| unknown(describe_dns_error(&e)))?;
                let addrs: Vec<SocketAddr> =
                    ips.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                if addrs.is_empty() {
                    return Err(unknown(t!("dns-no-addresses")));
                }
                Ok(addrs)
            }
        }
    }

    /// SRV records for `name` (e.g. `_pop3s._tcp.example.com`), sorted by priority and
    /// then weight (highest first). No records is `Ok(vec![])`.
    pub async fn srv(&self, name: &str) -> std::result::Result<Vec<SrvRecord>, String> {
        let r = self.dns()?;
        match r.srv_lookup(name).await {
            Ok(l) => {
                let mut v: Vec<SrvRecord> = l
                    .iter()
                    .map(|s| SrvRecord {
                        priority: s.priority(),
                        weight: s.weight(),
                        port: s.port(),
                        target: s.target().to_utf8().trim_end_matches('.').to_string(),
                    })
                    .collect();
                v.sort_by_key(|s| (s.priority, std::cmp::Reverse(s.weight)));
                Ok(v)
            }
            Err(e) if e.is_no_records_found() => Ok(vec![]),
            Err(e) => Err(describe_dns_error(&e)),
        }
    }

    /// MX hosts for `domain`, most preferred first. No records is `Ok(vec![])`.
    pub async fn mx(&self, domain: &str) -> std::result::Result<Vec<String>, String> {
        let r = self.dns()?;
        match r.mx_lookup(domain).await {
            Ok(l) => {
                let mut v: Vec<(u16, String)> = l
                    .iter()
                    .map(|m| {
                        (
                            m.preference(),
                            m.exchange().to_utf8().trim_end_matches('.').to_string(),
                        )
                    })
                    .collect();
                v.sort();
                Ok(v.into_iter().map(|(_, h)| h).collect())
            }
            Err(e) if e.is_no_records_found() => Ok(vec![]),
            Err(e) => Err(describe_dns_error(&e)),
        }
    }
}

fn describe_dns_error(e: &hickory_resolver::ResolveError) -> String {
    if e.is_no_records_found() {
        "the name does not exist in DNS".into()
    } else {
        e.to_string()
    }
}

/// Anything a POP3 session can run over: a TCP stream or a TLS stream.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to the first address of `host:port` that answers, within `timeout` each.
pub async fn connect_tcp(
    resolver: &Resolver,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr)> {
    let addrs = resolver.lookup(host, port).await?;
    let mut last = None;
    for addr in addrs.iter().take(8) {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok((s, *addr));
            }
            Ok(Err(e)) => {
                last = Some(match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => ClientError::Refused {
                        addr: format!("{host}:{port}"),
                    },
                    std::io::ErrorKind::TimedOut => ClientError::ConnectTimeout {
                        addr: format!("{host}:{port}"),
                        secs: timeout.as_secs(),
                    },
                    _ => ClientError::Connect {
                        addr: format!("{host}:{port} ({addr})"),
                        reason: format!("{e} — check the network connection"),
                    },
                })
            }
            Err(_) => {
                last = Some(ClientError::ConnectTimeout {
                    addr: format!("{host}:{port}"),
                    secs: timeout.as_secs().max(1),
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| ClientError::UnknownHost {
        host: host.into(),
        reason: t!("dns-no-addresses"),
    }))
}

/// A TLS client configuration for one server, and the certificate the server presented
/// (kept even when verification fails, so `buzon check` can print its fingerprint).
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
    pinned: bool,
}

impl TlsClient {
    pub fn new(settings: &TlsSettings) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = Arc::new(Mutex::new(None));
        let inner: Arc<dyn ServerCertVerifier> = match settings.fingerprint {
            Some(fp) => Arc::new(PinnedVerifier {
                fingerprint: fp,
                provider: provider.clone(),
            }),
            None => {
                let mut roots = rustls::RootCertStore::empty();
                if !settings.no_system_roots {
                    let found = rustls_native_certs::load_native_certs();
                    for c in found.certs {
                        let _ = roots.add(c);
                    }
                }
                let mut own = Vec::new();
                if let Some(path) = &settings.ca_file {
                    let pem = std::fs::read(path).map_err(|e| {
                        ClientError::Config(t!(
                            "tls-ca-unreadable",
                            path = path.display().to_string(),
                            reason = e.to_string()
                        ))
                    })?;
                    let mut n = 0;
                    for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
                        let c: CertificateDer<'static> = c.map_err(|e| {
                            ClientError::Config(t!(
                                "tls-ca-not-pem",
                                path = path.display().to_string(),
                                reason = e.to_string()
                            ))
                        })?;
                        roots.add(c.clone()).map_err(|e| {
                            ClientError::Config(t!(
                                "tls-ca-unusable",
                                path = path.display().to_string(),
                                reason = tls_error_words(&e)
                            ))
                        })?;
                        own.push(c);
                        n += 1;
                    }
                    if n == 0 {
                        return Err(ClientError::Config(t!(
                            "tls-ca-empty",
                            path = path.display().to_string()
                        )));
                    }
                }
                if roots.is_empty() {
                    return Err(ClientError::Config(t!("tls-no-roots")));
                }
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| {
                    ClientError::Config(format!("cannot set up certificate verification: {e}"))
                })?;
                Arc::new(CaFileVerifier { inner: webpki, own })
            }
        };
        let verifier = Arc::new(Recording {
            inner,
            seen: seen.clone(),
        });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Config(format!("TLS setup: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            seen,
            pinned: settings.fingerprint.is_some(),
        })
    }

    /// The fingerprint of the last certificate a server presented.
    pub fn seen_fingerprint(&self) -> Option<Fingerprint> {
        self.seen
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|d| Fingerprint::of(d)))
    }

    /// Performs the TLS handshake over `io` for `name`.
    pub async fn handshake<S: Io + 'static>(
        &self,
        io: S,
        name: &str,
        timeout: Duration,
    ) -> Result<tokio_rustls::client::TlsStream<S>> {
        let server_name = ServerName::try_from(
            name.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|_| ClientError::Config(t!("tls-bad-server-name", name = format!("{name:?}"))))?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        match tokio::time::timeout(timeout, connector.connect(server_name, io)).await {
            Err(_) => Err(ClientError::Tls {
                host: name.into(),
                detail: t!("tls-timeout", secs = timeout.as_secs()),
                fix: t!("tls-timeout-fix"),
                problem: None,
                fingerprint: None,
            }),
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(self.classify(name, e)),
        }
    }

    fn classify(&self, host: &str, e: std::io::Error) -> ClientError {
        let fingerprint = self.seen_fingerprint().map(|f| f.to_string());
        let pin_fix = |fp: &Option<String>| match fp {
            Some(fp) => t!("tls-pin-fix", fingerprint = fp),
            None => t!("tls-ca-fix"),
        };
        let tls_err = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned();
        let (detail, fix, problem) = match tls_err {
            Some(rustls::Error::InvalidCertificate(ce)) => match ce {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                    t!("tls-expired"),
                    t!("tls-expired-fix"),
                    CertProblem::Expired,
                ),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                    t!("tls-not-yet-valid"),
                    t!("tls-not-yet-valid-fix"),
                    CertProblem::NotYetValid,
                ),
                CertificateError::NotValidForName => (
                    t!("tls-wrong-name", host = host),
                    t!("tls-wrong-name-fix"),
                    CertProblem::WrongName { presented: vec![] },
                ),
                CertificateError::NotValidForNameContext { presented, .. } => {
                    let presented: Vec<String> = presented.iter().map(|p| presented_name(p)).collect();
                    (
                    t!("tls-wrong-name-for", names = presented.join(", "), host = host),
                    match presented.first() {
                        Some(name) => t!("tls-wrong-name-for-fix", name = name),
                        None => t!("tls-wrong-name-fix"),
                    },
                    CertProblem::WrongName { presented },
                )},
                CertificateError::UnknownIssuer => (
                    t!("tls-unknown-issuer"),
                    pin_fix(&fingerprint),
                    CertProblem::UnknownIssuer,
                ),
                CertificateError::ApplicationVerificationFailure if self.pinned => (
                    t!("tls-pin-mismatch"),
                    t!("tls-pin-mismatch-fix"),
                    CertProblem::PinMismatch,
                ),
                other if is_ca_used_as_end_entity(&other) => (
                    "the server presents a certificate authority (CA:TRUE) as its own certificate, as `openssl req -x509` makes by default".into(),
                    format!("if you trust this server, put exactly that certificate in ca_file (Buzón then accepts it as itself){}; the server's administrator should rather issue a server certificate (openssl req -x509 -addext basicConstraints=critical,CA:FALSE …)", match &fingerprint {
                        Some(fp) => format!(", or pin it: fingerprint = \"{fp}\""),
                        None => String::new(),
                    }),
                    CertProblem::Other("a CA certificate used as the server's certificate".into()),
                ),
                other => {
                    let words = certificate_error_words(&other);
                    (t!("tls-not-acceptable", words = &words), pin_fix(&fingerprint), CertProblem::Other(words))
                }
            },
            Some(rustls::Error::InvalidMessage(_)) => {
                return ClientError::Tls {
                    host: host.into(),
                    detail: t!("tls-not-tls"),
                    fix: t!("tls-not-tls-fix"),
                    problem: None,
                    fingerprint,
                }
            }
            Some(other) => {
                return ClientError::Tls {
                    host: host.into(),
                    detail: tls_error_words(&other),
                    fix: t!("tls-incompatible-fix"),
                    problem: None,
                    fingerprint,
                }
            }
            None => {
                return ClientError::Tls {
                    host: host.into(),
                    detail: t!("tls-handshake-failed", reason = e.to_string()),
                    fix: t!("tls-handshake-failed-fix"),
                    problem: None,
                    fingerprint,
                }
            }
        };
        ClientError::Tls {
            host: host.into(),
            detail,
            fix,
            problem: Some(problem),
            fingerprint,
        }
    }
}

/// webpki describes the names a certificate is for as `DnsName("mail.example.com")` or
/// `IpAddress(…)`; users read only the name.
fn presented_name(p: &str) -> String {
    match p.split_once('(') {
        Some((kind, rest)) if kind.chars().all(|c| c.is_ascii_alphabetic()) => {
            let inner = rest.strip_suffix(')').unwrap_or(rest);
            inner.trim_matches('"').to_string()
        }
        _ => p.to_string(),
    }
}

/// Whether a certificate error is webpki's "a CA certificate was presented as the server's
/// own" (a certificate with `CA:TRUE`, what `openssl req -x509` makes by default).
fn is_ca_used_as_end_entity(e: &CertificateError) -> bool {
    match e {
        CertificateError::Other(o) => matches!(
            o.0.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

/// A certificate problem in words (never a Rust `Debug` rendering).
pub(crate) fn certificate_error_words(e: &CertificateError) -> String {
    use CertificateError as C;
    match e {
        C::BadEncoding => "it is not a well-formed X.509 certificate".into(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".into(),
        C::Revoked => "it has been revoked".into(),
        C::UnhandledCriticalExtension => {
            "it has a critical extension Buzón does not understand".into()
        }
        C::UnknownIssuer => "it is signed by an authority Buzón does not trust".into(),
        C::UnknownRevocationStatus => "its revocation status is unknown".into(),
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            "the revocation list has expired".into()
        }
        C::BadSignature => "its signature does not verify".into(),
        C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "it is signed with an algorithm Buzón does not support".into()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is issued for another name".into()
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "it is not issued for TLS servers: its extended key usage does not allow it".into()
        }
        C::ApplicationVerificationFailure => "it was refused by Buzón's own checks".into(),
        C::Other(o) => match o.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => {
                "it is a certificate authority (CA:TRUE), not a server certificate".into()
            }
            Some(webpki::Error::EndEntityUsedAsCa) => {
                "a server certificate was used to sign another certificate".into()
            }
            Some(webpki::Error::PathLenConstraintViolated) => {
                "the chain of authorities is longer than they allow".into()
            }
            Some(webpki::Error::NameConstraintViolation) => {
                "the authority is not allowed to issue certificates for this name".into()
            }
            Some(webpki::Error::MaximumPathDepthExceeded)
            | Some(webpki::Error::MaximumPathBuildCallsExceeded) => {
                "its chain of authorities is too long".into()
            }
            _ => "it failed a certificate check".into(),
        },
        _ => "it failed a certificate check".into(),
    }
}

/// A rustls error in words (never a Rust `Debug` rendering).
pub(crate) fn tls_error_words(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => {
            format!("the certificate is not acceptable: {}", certificate_error_words(c))
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the other side does not speak TLS correctly".into()
        }
        rustls::Error::AlertReceived(_) => {
            "the server ended the TLS handshake with an alert (it may not support TLS 1.2 or newer, or rejected this client's settings)".into()
        }
        rustls::Error::PeerIncompatible(_) => {
            "the server's TLS settings are not compatible (TLS 1.2 or newer with modern ciphers is required)".into()
        }
        rustls::Error::PeerMisbehaved(_) => {
            "the server broke the TLS protocol during the handshake".into()
        }
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        rustls::Error::DecryptError | rustls::Error::EncryptError => {
            "the encrypted data could not be processed (corrupted on the way?)".into()
        }
        _ => "the TLS connection failed".into(),
    }
}

/// The handshake-signature half of a verifier that only changes how certificates are
/// judged: signatures are verified by `self.inner`, exactly as without the wrapper.
macro_rules! delegate_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(m, c, d)
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(m, c, d)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

/// The verifier for system roots plus `ca_file`: webpki's, and one exception. A
/// certificate given in `ca_file` and presented by the server as its own is accepted
/// even with `CA:TRUE` (what `openssl req -x509` makes, and what OpenSSL-based clients
/// accept): the user named that very certificate. Its validity period and the server
/// name are still checked here, and the handshake signature is verified against it by
/// webpki's signature checks as for any certificate.
#[derive(Debug)]
struct CaFileVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    /// The certificates of `ca_file`, as DER.
    own: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for CaFileVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(e))
                if is_ca_used_as_end_entity(&e)
                    && self.own.iter().any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                check_validity(end_entity, now)?;
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    delegate_signatures!();
}

/// RFC 5280 §4.1.2.5: the certificate's notBefore ≤ now ≤ notAfter.
fn check_validity(der: &[u8], now: UnixTime) -> std::result::Result<(), rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let (not_before, not_after) = validity_of(der).ok_or_else(bad)?;
    let now = now.as_secs();
    if now < not_before {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

/// One DER element: (tag, contents, rest).
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// notBefore and notAfter of an X.509 certificate, as Unix seconds.
fn validity_of(der: &[u8]) -> Option<(u64, u64)> {
    let (0x30, cert, _) = der_next(der)? else {
        return None;
    };
    let (0x30, tbs, _) = der_next(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    let (tag, _, r) = der_next(rest)?;
    rest = r;
    if tag == 0xa0 {
        let (_, _, r) = der_next(rest)?;
        rest = r;
    }
    let (_, _, r) = der_next(rest)?;
    let (_, _, r) = der_next(r)?;
    let (0x30, validity, _) = der_next(r)? else {
        return None;
    };
    let (t1, v1, r) = der_next(validity)?;
    let (t2, v2, _) = der_next(r)?;
    Some((der_time(t1, v1)?, der_time(t2, v2)?))
}

/// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as Unix seconds.
fn der_time(tag: u8, v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy: i64 = s[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        0x18 if s.len() == 14 => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |i: usize| rest[i..i + 2].parse::<i64>().ok();
    let (mo, d, h, mi, se) = (num(0)?, num(2)?, num(4)?, num(6)?, num(8)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if mo <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()
}

/// Remembers the presented end-entity certificate, then defers to the real verifier.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut g) = self.seen.lock() {
            *g = Some(end_entity.to_vec());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }
    delegate_signatures!();
}

/// Accepts exactly one certificate, by SHA-256 fingerprint. The handshake signature is
/// still verified against that certificate's key, so only its owner can use it.
#[derive(Debug)]
struct PinnedVerifier {
    fingerprint: Fingerprint,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if Fingerprint::of(end_entity) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_and_tls_errors_read_as_words() {
        use rustls::{CertificateError as C, OtherError};
        let webpki_errors = [
            webpki::Error::CaUsedAsEndEntity,
            webpki::Error::EndEntityUsedAsCa,
            webpki::Error::PathLenConstraintViolated,
            webpki::Error::NameConstraintViolation,
            webpki::Error::MaximumPathDepthExceeded,
            webpki::Error::BadDer,
        ];
        let mut all = vec![
            C::BadEncoding,
            C::Expired,
            C::NotValidYet,
            C::Revoked,
            C::UnhandledCriticalExtension,
            C::UnknownIssuer,
            C::UnknownRevocationStatus,
            C::ExpiredRevocationList,
            C::BadSignature,
            C::NotValidForName,
            C::InvalidPurpose,
            C::ApplicationVerificationFailure,
        ];
        for w in webpki_errors {
            all.push(C::Other(OtherError(Arc::new(w))));
        }
        for c in all {
            for text in [
                certificate_error_words(&c),
                tls_error_words(&rustls::Error::InvalidCertificate(c.clone())),
            ] {
                for shape in ["Other(", "Error {", "Kind(", "Os {", "{"] {
                    assert!(!text.contains(shape), "{text}");
                }
            }
        }
        for e in [
            rustls::Error::DecryptError,
            rustls::Error::NoCertificatesPresented,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
            rustls::Error::General("x".into()),
        ] {
            let text = tls_error_words(&e);
            assert!(
                !text.contains("Other(") && !text.contains("Alert"),
                "{text}"
            );
        }
        assert_eq!(
            presented_name("DnsName(\"mail.example.com\")"),
            "mail.example.com"
        );
        assert_eq!(presented_name("mail.example.com"), "mail.example.com");
    }

    #[test]
    fn der_times() {
        assert_eq!(der_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(der_time(0x17, b"240229120000Z"), Some(1_709_208_000));
        assert_eq!(der_time(0x18, b"20240229120000Z"), Some(1_709_208_000));
        assert_eq!(der_time(0x17, b"2402291200Z"), None);
        assert_eq!(der_time(0x18, b"20241329120000Z"), None);
    }

    #[test]
    fn fingerprints_parse_and_print() {
        let fp = Fingerprint::of(b"abc");
        let s = fp.to_string();
        assert!(s.starts_with("sha256:BA:78:16:BF"), "{s}");
        assert_eq!(Fingerprint::parse(&s), Some(fp));
        assert_eq!(
            Fingerprint::parse(&s.replace(':', "").replace("sha256", "")),
            Some(fp)
        );
        assert_eq!(Fingerprint::parse("sha256:zz"), None);
        assert_eq!(Fingerprint::parse("sha256:abcd"), None);
    }
}
