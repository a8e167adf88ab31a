//! TLS for the listeners: rustls with the ring provider, TLS 1.2 and 1.3 only.
//!
//! The certificate comes from PEM files, or — when none is configured — from a self-signed
//! certificate generated once in the data folder. It sits behind a resolver that can swap
//! it at run time, so SIGHUP reloads renewed certificates without dropping sessions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::config::TlsSource;

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
    let (cert_path, key_path) = match source {
        TlsSource::Files { certificate, key } => (certificate.clone(), key.clone()),
        TlsSource::SelfSigned { dir } => ensure_self_signed(dir, hostname)?,
    };
    let cert_pem = std::fs::read(&cert_path).map_err(|source| TlsError::Read {
        what: "certificate",
        path: cert_path.clone(),
        source,
    })?;
    let key_pem = std::fs::read(&key_path).map_err(|source| TlsError::Read {
        what: "key",
        path: key_path.clone(),
        source,
    })?;
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

/// Creates `cert.pem` and `key.pem` in `dir` unless both exist; returns their paths.
pub fn ensure_self_signed(dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let gen_err = |detail: String| TlsError::Generate {
        dir: dir.to_path_buf(),
        detail,
    };
    std::fs::create_dir_all(dir).map_err(|e| gen_err(e.to_string()))?;
    let mut names = vec![
        hostname.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.dedup();
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| gen_err(e.to_string()))?;
    write_private(&key, certified.key_pair.serialize_pem().as_bytes())
        .map_err(|e| gen_err(e.to_string()))?;
    write_private(&cert, certified.cert.pem().as_bytes()).map_err(|e| gen_err(e.to_string()))?;
    tracing::info!(
        certificate = %cert.display(),
        sha256 = %fingerprint_of(certified.cert.der()),
        "generated a self-signed TLS certificate; clients must pin this fingerprint or trust the file"
    );
    Ok((cert, key))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
