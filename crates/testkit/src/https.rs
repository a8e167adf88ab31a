//! A small HTTPS server on 127.0.0.1 for autoconfig tests: serves fixed bodies by path
//! (query strings ignored) over real TLS with a certificate from a [`TestCa`], and 404
//! for anything else. One thread per connection, every read with a timeout.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::certs::TestCa;

pub struct TestHttps {
    pub addr: SocketAddr,
    /// Paths requested so far (with query strings), in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl TestHttps {
    /// Serves `pages` (path → body) with a certificate for `names` signed by `ca`.
    pub fn start(ca: &TestCa, names: &[&str], pages: Vec<(&str, String)>) -> TestHttps {
        let dir = tempfile::tempdir().unwrap();
        let cert = ca.issue(dir.path(), names, (-1, 30));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.cert_path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&cert.key_path).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let pages: Arc<HashMap<String, String>> =
            Arc::new(pages.into_iter().map(|(p, b)| (p.to_string(), b)).collect());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, req2) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            let _keep = dir;
            for _ in 0..(3600 * 50) {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                match listener.accept() {
                    Ok((tcp, _)) => {
                        let (config, pages, req) = (config.clone(), pages.clone(), req2.clone());
                        std::thread::spawn(move || {
                            let _ = tcp.set_nonblocking(false);
                            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                            let Ok(conn) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            let mut tls = rustls::StreamOwned::new(conn, tcp);
                            let mut head = Vec::new();
                            let mut b = [0u8; 1024];
                            while !head.windows(4).any(|w| w == b"\r\n\r\n")
                                && head.len() < 16 * 1024
                            {
                                match tls.read(&mut b) {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => head.extend_from_slice(&b[..n]),
                                }
                            }
                            let text = String::from_utf8_lossy(&head);
                            let target = text
                                .lines()
                                .next()
                                .and_then(|l| l.split_whitespace().nth(1))
                                .unwrap_or("/")
                                .to_string();
                            if let Ok(mut r) = req.lock() {
                                r.push(target.clone());
                            }
                            let path = target.split('?').next().unwrap_or("/");
                            let resp = match pages.get(path) {
                                Some(body) => format!("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
                                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                            };
                            let _ = tls.write_all(resp.as_bytes());
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // A non-blocking accept loop (it checks for shutdown in between),
                        // not a wait before an assertion.
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => return,
                }
            }
        });
        TestHttps {
            addr,
            requests,
            stop,
        }
    }
}

impl Drop for TestHttps {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
