//! TLS for the listeners: rustls with the ring provider, TLS 1.2 and 1.3 only.
//!
//! The certificate comes from PEM files, or — when none is configured — from a self-signed
//! certificate generated once in the data folder. It sits behind a resolver that can swap
//! it at run time, so SIGHUP reloads renewed certificates without dropping sessions.

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::config::TlsSource;
use crate::safe_fs::{self, SafeFsError};

/// A TLS setup problem, phrased for the administrator.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS {what} {path}: {source} — check `tls.certificate`/`tls.key` and the file permissions")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS {what} {path} holds no usable PEM data: {detail} — it must be a PEM file (\"-----BEGIN ...\")")]
    Pem {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "the TLS key {path} does not fit the certificate or is of an unsupported type: {detail}"
    )]
    Key { path: PathBuf, detail: String },
    #[error("cannot create a self-signed certificate in {dir}: {detail}")]
    Generate { dir: PathBuf, detail: String },
    #[error("refusing the TLS {what} {path}: {link} is a symbolic link in a folder that {owner} can change, and buzon serve reads it as root, so {owner} could point it at any file, such as a key only root may read — put the file itself there, or point `tls.{what}` at a file reached only through folders that root alone can change")]
    ForeignLink {
        what: &'static str,
        path: PathBuf,
        link: PathBuf,
        owner: String,
    },
    #[error("{path} is a symbolic link or of the wrong type, not the self-signed TLS {what} Buzón made: it is not followed, as the server's account could have planted it — remove it (`rm {path}`) and start again: a new self-signed certificate is generated")]
    SelfSignedLink { what: &'static str, path: PathBuf },
}

/// The loaded certificate and what it takes to reload it.
pub struct TlsState {
    source: TlsSource,
    hostname: String,
    resolver: Arc<SwappableCert>,
    config: Arc<rustls::ServerConfig>,
    fingerprint: RwLock<String>,
}

impl std::fmt::Debug for TlsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsState")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct SwappableCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|k| Arc::clone(&k))
    }
}

impl TlsState {
    pub fn new(source: &TlsSource, hostname: &str, tls13_only: bool) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (key, fp) = load(source, hostname, &provider)?;
        let resolver = Arc::new(SwappableCert(RwLock::new(key)));
        let versions: &[&rustls::SupportedProtocolVersion] = if tls13_only {
            &[&rustls::version::TLS13]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| TlsError::Key {
                path: PathBuf::new(),
                detail: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // Session tickets make reconnecting clients (fetchmail, mpop on a timer) cheap.
        config.session_storage = rustls::server::ServerSessionMemoryCache::new(4096);
        Ok(Self {
            source: source.clone(),
            hostname: hostname.to_string(),
            resolver,
            config: Arc::new(config),
            fingerprint: RwLock::new(fp),
        })
    }

    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }

    /// SHA-256 fingerprint of the certificate in use, as `AA:BB:…`.
    pub fn fingerprint(&self) -> String {
        self.fingerprint
            .read()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// When the certificate in use expires (Unix time), read from its DER.
    pub fn not_after(&self) -> Option<i64> {
        let key = self.resolver.0.read().ok()?.clone();
        not_after_of(key.cert.first()?.as_ref())
    }

    /// Re-reads the certificate and key; on error the old ones stay in use.
    pub fn reload(&self) -> Result<String, TlsError> {
        let provider = rustls::crypto::ring::default_provider();
        let (key, fp) = load(&self.source, &self.hostname, &provider)?;
        if let Ok(mut k) = self.resolver.0.write() {
            *k = key;
        }
        if let Ok(mut f) = self.fingerprint.write() {
            f.clone_from(&fp);
        }
        Ok(fp)
    }
}

/// One DER element: (tag, contents, what follows).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
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
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The `notAfter` of an X.509 certificate (RFC 5280 §4.1.2.5) as Unix time.
fn not_after_of(cert: &[u8]) -> Option<i64> {
    let (_, certificate, _) = der(cert)?;
    let (_, tbs, _) = der(certificate)?;
    let mut rest = tbs;
    // [0] version is optional; then serialNumber, signature, issuer, validity.
    let (tag, _, after) = der(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..3 {
        rest = der(rest)?.2;
    }
    let (_, validity, _) = der(rest)?;
    let after_not_before = der(validity)?.2;
    let (tag, time, _) = der(after_not_before)?;
    let text = std::str::from_utf8(time).ok()?;
    let digits = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match tag {
        // UTCTime: YYMMDDHHMMSSZ, years 1950–2049.
        0x17 => {
            let yy = digits(text.get(0..2)?)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        // GeneralizedTime: YYYYMMDDHHMMSSZ.
        0x18 => (digits(text.get(0..4)?)?, text.get(4..)?),
        _ => return None,
    };
    let f = |i: usize| digits(rest.get(i..i + 2)?);
    let (month, day, hour, minute, second) = (f(0)?, f(2)?, f(4)?, f(6)?, f(8)?);
    // Days from 1970-01-01 (civil calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Formats a SHA-256 fingerprint of DER bytes as colon-separated upper-case hex.
pub fn fingerprint_of(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut s = String::with_capacity(95);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn load(
    source: &TlsSource,
    hostname: &str,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<(Arc<CertifiedKey>, String), TlsError> {
    let pair = match source {
        TlsSource::Files { certificate, key } => Pem {
            cert: read_configured("certificate", certificate)?,
            cert_path: certificate.clone(),
            key: read_configured("key", key)?,
            key_path: key.clone(),
        },
        TlsSource::SelfSigned { dir } => ensure_self_signed(dir, hostname)?,
    };
    let Pem {
        cert_path,
        cert: cert_pem,
        key_path,
        key: key_pem,
    } = pair;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            what: "certificate",
            path: cert_path.clone(),
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            what: "certificate",
            path: cert_path,
            detail: "no CERTIFICATE block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        what: "key",
        path: key_path.clone(),
        detail: e.to_string(),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Key {
            path: key_path.clone(),
            detail: e.to_string(),
        })?;
    let fp = fingerprint_of(chain[0].as_ref());
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| TlsError::Key {
        path: key_path,
        detail: e.to_string(),
    })?;
    Ok((Arc::new(certified), fp))
}

/// A certificate chain and its key, as PEM, with the files they came from.
pub struct Pem {
    pub cert_path: PathBuf,
    pub cert: Vec<u8>,
    pub key_path: PathBuf,
    pub key: Vec<u8>,
}

/// Reads a configured certificate or key file. As root (before the switch to the
/// server's account) no symbolic link is followed that someone other than root could
/// have planted or changed ([`safe_fs::read_without_foreign_links`]); certbot's links in
/// root's own folders are fine.
fn read_configured(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    if !safe_fs::running_as_root() {
        return std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        });
    }
    safe_fs::read_without_foreign_links(path).map_err(|e| match e {
        SafeFsError::ForeignLink { link, owner } => TlsError::ForeignLink {
            what,
            path: path.to_path_buf(),
            link,
            owner,
        },
        SafeFsError::Io { source, .. } => TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        },
        other => TlsError::Read {
            what,
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// Creates `cert.pem` and `key.pem` in `dir` unless both exist, and reads them.
///
/// `dir` is `<data_dir>/tls`, which belongs to the server's account while this runs as
/// root: the folder is opened without following a link, the files are read with
/// `O_NOFOLLOW`, and a new pair is written to fresh temporary files (`O_EXCL`,
/// `O_NOFOLLOW`) renamed into place, so nothing the account planted there is followed.
pub fn ensure_self_signed(dir: &Path, hostname: &str) -> Result<Pem, TlsError> {
    let gen_err = |detail: String| TlsError::Generate {
        dir: dir.to_path_buf(),
        detail,
    };
    let refuse = |what: &'static str, e: SafeFsError| match e {
        SafeFsError::Link(path) | SafeFsError::NotAFile { path } => {
            TlsError::SelfSignedLink { what, path }
        }
        SafeFsError::ForeignLink { link, .. } => TlsError::SelfSignedLink { what, path: link },
        SafeFsError::Io { path, source } => TlsError::Read { what, path, source },
    };
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| gen_err(e.to_string()))?;
    let existed = std::fs::symlink_metadata(dir).is_ok();
    let fd = safe_fs::create_dir_nofollow(dir).map_err(|e| match e {
        SafeFsError::Link(path) => TlsError::SelfSignedLink {
            what: "folder",
            path,
        },
        other => gen_err(other.to_string()),
    })?;
    // Root making the pair in the data folder of the account it is about to become gives
    // the folder it made and the files to that account, so it can reload them (SIGHUP).
    let owner = std::fs::metadata(parent)
        .ok()
        .filter(|m| safe_fs::running_as_root() && m.uid() != 0)
        .map(|m| (m.uid(), m.gid()));
    if let Some((uid, gid)) = owner {
        if !existed {
            std::os::unix::fs::fchown(&fd, Some(uid), Some(gid))
                .map_err(|e| gen_err(format!("cannot give {} to uid {uid}: {e}", dir.display())))?;
        }
    }
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if safe_fs::exists_at(&fd, "cert.pem") && safe_fs::exists_at(&fd, "key.pem") {
        let cert = safe_fs::read_at(&fd, dir, "cert.pem").map_err(|e| refuse("certificate", e))?;
        let key = safe_fs::read_at(&fd, dir, "key.pem").map_err(|e| refuse("key", e))?;
        return Ok(Pem {
            cert_path,
            cert,
            key_path,
            key,
        });
    }
    let mut names = vec![
        hostname.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.dedup();
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| gen_err(e.to_string()))?;
    let key = certified.key_pair.serialize_pem().into_bytes();
    let cert = certified.cert.pem().into_bytes();
    safe_fs::write_new_at(&fd, dir, "key.pem", &key, 0o600, owner)
        .map_err(|e| gen_err(e.to_string()))?;
    safe_fs::write_new_at(&fd, dir, "cert.pem", &cert, 0o600, owner)
        .map_err(|e| gen_err(e.to_string()))?;
    tracing::info!(
        certificate = %cert_path.display(),
        sha256 = %fingerprint_of(certified.cert.der()),
        "generated a self-signed TLS certificate; clients must pin this fingerprint or trust the file"
    );
    Ok(Pem {
        cert_path,
        cert,
        key_path,
        key,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod expiry_tests {
    use super::*;

    fn cert_until(y: i32, m: u8, d: u8) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["x.test".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(y, m, d);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn not_after_is_read_from_utc_and_generalized_times() {
        assert_eq!(not_after_of(&cert_until(2031, 7, 15)), Some(1_941_840_000));
        assert_eq!(not_after_of(&cert_until(2051, 1, 2)), Some(2_556_230_400));
        assert_eq!(not_after_of(b"\x30\x03\x02\x01"), None);
        assert_eq!(not_after_of(b""), None);
    }
}
