//! Where the load goes and how it is secured: plain POP3, STLS (RFC 2595 §4) or implicit
//! TLS (RFC 8314), and the loopback-only rule.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::BenchError;

pub use buzon_pop3_proto::Security;

/// A server to load: its address, security, and the TLS client settings.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub security: Security,
    pub server_name: ServerName<'static>,
    pub tls: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("addr", &self.addr)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Builds a target; refuses an address off the loopback interface unless
    /// `allow_remote`, and TLS without either a CA file or `insecure`.
    pub fn new(
        addr: SocketAddr,
        security: Security,
        server_name: &str,
        ca_file: Option<&Path>,
        insecure: bool,
        allow_remote: bool,
    ) -> Result<Self, BenchError> {
        check_loopback(addr, allow_remote)?;
        let server_name = ServerName::try_from(server_name.to_string()).map_err(|_| {
            BenchError::Usage(format!(
                "{server_name:?} is not a valid TLS server name; use a host name or an IP address"
            ))
        })?;
        let tls = match security {
            Security::None => None,
            Security::Starttls | Security::Tls => Some(tls_config(ca_file, insecure)?),
        };
        Ok(Target {
            addr,
            security,
            server_name,
            tls,
        })
    }
}

/// Load tests aim at this machine only, unless the operator says otherwise: a benchmark
/// pointed at someone else's server by mistake is an attack.
pub fn check_loopback(addr: SocketAddr, allow_remote: bool) -> Result<(), BenchError> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(BenchError::Usage(format!(
            "{addr} is not a loopback address; benchmarks only target this machine (127.0.0.1, ::1) unless you add --allow-remote for a server you run"
        )))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config trusting the certificates in `ca_file` (PEM), or, with `insecure`,
/// any certificate — signatures are still checked, so the handshake costs what it costs
/// a real client.
pub fn tls_config(ca_file: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, BenchError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| BenchError::Tls(e.to_string()))?;
    let config = match (ca_file, insecure) {
        (Some(path), _) => {
            let pem = std::fs::read(path).map_err(|e| BenchError::io(format!("cannot read CA file {}", path.display()), e))?;
            let mut roots = rustls::RootCertStore::empty();
            let mut n = 0;
            for item in CertificateDer::pem_slice_iter(&pem) {
                let cert: CertificateDer<'static> = item.map_err(|e| BenchError::Tls(format!("{}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| BenchError::Tls(format!("{}: {e}", path.display())))?;
                n += 1;
            }
            if n == 0 {
                return Err(BenchError::Usage(format!("{} holds no PEM certificate; pass the CA certificate (e.g. tls/ca.pem of a corpus)", path.display())));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        (None, true) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth(),
        (None, false) => {
            return Err(BenchError::Usage(
                "TLS needs --ca FILE (the server's CA certificate) or --insecure to accept any certificate".into(),
            ))
        }
    };
    Ok(Arc::new(config))
}

/// Accepts any certificate chain but verifies handshake signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_allow_remote() {
        let ok: SocketAddr = "127.0.0.1:110".parse().unwrap_or_else(|e| panic!("{e}"));
        let ok6: SocketAddr = "[::1]:110".parse().unwrap_or_else(|e| panic!("{e}"));
        let far: SocketAddr = "192.0.2.1:110".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(check_loopback(ok, false).is_ok());
        assert!(check_loopback(ok6, false).is_ok());
        let e = check_loopback(far, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("--allow-remote"), "{e}");
        assert!(check_loopback(far, true).is_ok());
    }

    #[test]
    fn tls_needs_a_trust_decision() {
        assert!(tls_config(None, false).is_err());
        assert!(tls_config(None, true).is_ok());
    }
}
