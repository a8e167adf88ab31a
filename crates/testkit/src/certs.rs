//! A throw-away certificate authority and server certificates signed by it, so tests use
//! real certificate verification (not "accept anything").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A test CA with its key, able to issue server certificates.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A server certificate written as PEM files.
pub struct IssuedCert {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new() -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Buzon Test CA");
        let cert = params.self_signed(&key).expect("CA cert");
        Self { cert, key }
    }

    /// Issues a certificate for `names`, valid from `not_before` to `not_after` (days from
    /// now; negative is the past), written into `dir`.
    pub fn issue(&self, dir: &Path, names: &[&str], valid_days: (i64, i64)) -> IssuedCert {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(valid_days.0);
        params.not_after = now + time::Duration::days(valid_days.1);
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("sign");
        std::fs::create_dir_all(dir).expect("mkdir");
        let stem = names
            .first()
            .copied()
            .unwrap_or("cert")
            .replace(['/', ':'], "_");
        let cert_path = dir.join(format!("{stem}.crt.pem"));
        let key_path = dir.join(format!("{stem}.key.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        IssuedCert {
            cert_path,
            key_path,
            der: cert.der().to_vec(),
        }
    }

    /// A self-signed certificate for `names` (no CA at all), written into `dir`.
    pub fn self_signed(dir: &Path, names: &[&str]) -> IssuedCert {
        let key = KeyPair::generate().expect("key");
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.self_signed(&key).expect("self-sign");
        std::fs::create_dir_all(dir).expect("mkdir");
        let cert_path = dir.join("self-signed.crt.pem");
        let key_path = dir.join("self-signed.key.pem");
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        IssuedCert {
            cert_path,
            key_path,
            der: cert.der().to_vec(),
        }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// Writes the CA certificate as PEM (for clients that take a CA file).
    pub fn write_pem(&self, path: &Path) {
        std::fs::write(path, self.pem()).expect("write CA");
    }

    /// A rustls client config that trusts only this CA.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(cfg)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}
