//! Runs a real OpenID provider for the OAuth tests: the npm package `oidc-provider`
//! (`crates/testkit/oidc/provider.mjs`, installed from its lock file with
//! `npm ci --prefix crates/testkit/oidc`) under Node.js, over HTTPS on a 127.0.0.1 port
//! with a certificate from a [`TestCa`]. Tokens are asked for over HTTPS like any client
//! would ([`OidcProvider::client_credentials`]); dropping the value stops the provider.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::certs::TestCa;

/// The folder of the provider's script and lock file.
pub fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// A running provider.
pub struct OidcProvider {
    child: Child,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    _dir: tempfile::TempDir,
}

impl OidcProvider {
    /// Starts the provider; `Err` says what is missing (Node.js, or the npm packages).
    pub fn start(ca: &TestCa) -> Result<OidcProvider, String> {
        Self::start_with_ttl(ca, 300)
    }

    /// [`OidcProvider::start`] with access tokens for `urn:buzon` living `ttl` seconds.
    pub fn start_with_ttl(ca: &TestCa, ttl: u32) -> Result<OidcProvider, String> {
        let dir = oidc_dir();
        if !dir.join("node_modules/oidc-provider").exists() {
            return Err(format!(
                "oidc-provider is not installed: run `npm ci --prefix {}`",
                dir.display()
            ));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let cert = ca.issue(tmp.path(), &["127.0.0.1"], (-1, 30));
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(port.to_string())
            .arg(&cert.cert_path)
            .arg(&cert.key_path)
            .arg(ttl.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run node (Node.js, Debian package nodejs): {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ready = lines.any(|l| l.map(|l| l == "ready").unwrap_or(false));
            let _ = tx.send(ready);
            // Keep reading so the provider never blocks on a full pipe.
            for _ in lines {}
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(true) => {}
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("oidc-provider did not start within 30 s".into());
            }
        }
        Ok(OidcProvider {
            child,
            port,
            tls: ca.client_config(),
            _dir: tmp,
        })
    }

    /// `https://127.0.0.1:PORT`, the `iss` of its tokens.
    pub fn issuer(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// An access token from the client credentials grant of `client` (secret "secret")
    /// for `resource` (`urn:buzon`, `urn:buzon:short`, `urn:other`, `urn:buzon:opaque`).
    pub fn client_credentials(&self, client: &str, resource: &str) -> String {
        let form = format!("grant_type=client_credentials&scope=pop3&resource={resource}");
        let (status, body) = self.post("/token", client, &form);
        assert_eq!(status, 200, "token endpoint: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("token JSON");
        v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// POSTs a form with `client`'s Basic credentials: (status, body).
    pub fn post(&self, path: &str, client: &str, form: &str) -> (u16, String) {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:secret"));
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            self.port,
            form.len()
        );
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the provider");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).ok();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let conn = rustls::ClientConnection::new(Arc::clone(&self.tls), name).expect("tls");
        let mut s = rustls::StreamOwned::new(conn, tcp);
        s.write_all(req.as_bytes()).expect("write");
        let mut raw = Vec::new();
        // The provider closes after the answer; a TLS close without close_notify is fine.
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, body)
    }

    /// Approves a device sign-in as `account` through the provider's own pages
    /// (`approve.mjs`: confirm the code, log in, consent), trusting `ca_file`.
    pub fn approve(&self, verification_uri_complete: &str, account: &str, ca_file: &Path) {
        let out = crate::run_bounded(
            Command::new("node")
                .arg(oidc_dir().join("approve.mjs"))
                .arg(verification_uri_complete)
                .arg(account)
                .env("NODE_EXTRA_CA_CERTS", ca_file)
                .current_dir(oidc_dir()),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "approving the device sign-in: {out:?}"
        );
    }

    /// Stops the provider (the issuer goes down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}
