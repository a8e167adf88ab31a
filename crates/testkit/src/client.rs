//! A raw line client over plain TCP or real TLS with timeouts on every read, for tests
//! that must see exactly what the server sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

/// Default per-read timeout: a test that waits longer has found a hang.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

/// A blocking client that reads and writes whole lines.
pub struct LineClient {
    conn: Conn,
    buf: Vec<u8>,
    /// Start of unread data in `buf` (kept instead of draining, so long replies stay linear).
    pos: usize,
}

impl LineClient {
    pub fn connect(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        Self {
            conn: Conn::Plain(tcp),
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Connects from a chosen local address (e.g. 127.0.0.2, to act as a second client
    /// machine on loopback).
    pub fn connect_from(local: std::net::IpAddr, addr: SocketAddr) -> Self {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .expect("socket");
        sock.bind(&SocketAddr::new(local, 0).into())
            .unwrap_or_else(|e| panic!("bind {local}: {e}"));
        sock.connect_timeout(&addr.into(), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {addr} from {local}: {e}"));
        let tcp: TcpStream = sock.into();
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        Self {
            conn: Conn::Plain(tcp),
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// This end's address (what a server, or a balancer in front of it, sees as the
    /// client's); `None` once the connection is gone.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.conn {
            Conn::Plain(t) => t.local_addr().ok(),
            Conn::Tls(t) => t.get_ref().local_addr().ok(),
            Conn::Gone => None,
        }
    }

    /// Connects and performs a TLS handshake at once (POP3S).
    pub fn connect_tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>, name: &str) -> Self {
        let mut c = Self::connect(addr);
        c.start_tls(config, name);
        c
    }

    /// Upgrades the connection to TLS (after STLS's +OK). Panics if the handshake fails.
    pub fn start_tls(&mut self, config: Arc<rustls::ClientConfig>, name: &str) {
        self.try_start_tls(config, name).expect("TLS handshake");
    }

    pub fn try_start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: &str,
    ) -> Result<(), String> {
        let Conn::Plain(tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            return Err("not a plain connection".into());
        };
        let pending = &self.buf[self.pos..];
        assert!(
            pending.is_empty(),
            "bytes buffered before TLS: {:?}",
            String::from_utf8_lossy(pending)
        );
        let server_name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
        let conn = rustls::ClientConnection::new(config, server_name).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| e.to_string())?;
        }
        self.conn = Conn::Tls(Box::new(tls));
        Ok(())
    }

    /// SHA-256 fingerprint (`AA:BB:…`) of the server's certificate on a TLS connection.
    pub fn peer_fingerprint(&self) -> Option<String> {
        let Conn::Tls(t) = &self.conn else {
            return None;
        };
        let cert = t.conn.peer_certificates()?.first()?;
        Some(buzon_server::tls::fingerprint_of(cert.as_ref()))
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.conn, Conn::Tls(_))
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.conn {
            Conn::Plain(s) => s.write_all(bytes),
            Conn::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Conn::Gone => Err(std::io::Error::other("closed")),
        }
    }

    /// Sends one line with CRLF.
    pub fn send(&mut self, line: &str) {
        let mut b = line.as_bytes().to_vec();
        b.extend_from_slice(b"\r\n");
        self.send_raw(&b)
            .unwrap_or_else(|e| panic!("send {line:?}: {e}"));
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 1 << 20 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 65536];
        // A read interrupted by a signal (EINTR, also seen on a loaded machine when the
        // process is stopped and continued) is tried again, as `Read::read_exact` does.
        let mut attempts = 0;
        let n = loop {
            let got = match &mut self.conn {
                Conn::Plain(s) => s.read(&mut chunk),
                Conn::Tls(s) => match s.read(&mut chunk) {
                    // A peer that closes without close_notify ends the stream all the same.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                    other => other,
                },
                Conn::Gone => Ok(0),
            };
            match got {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted && attempts < 100 => {
                    attempts += 1;
                }
                other => break other?,
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one line (without CRLF); `None` at end of stream.
    pub fn try_read_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut searched = 0;
        loop {
            let data = &self.buf[self.pos..];
            if let Some(i) = find(&data[searched..], b"\r\n").map(|i| i + searched) {
                let line = data[..i].to_vec();
                self.pos += i + 2;
                return Ok(Some(line));
            }
            searched = data.len().saturating_sub(1);
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }

    /// Reads one line as text; panics on timeout or end of stream.
    pub fn line(&mut self) -> String {
        match self.try_read_line() {
            Ok(Some(l)) => String::from_utf8_lossy(&l).into_owned(),
            Ok(None) => panic!("connection closed while waiting for a line"),
            Err(e) => panic!("reading a line: {e}"),
        }
    }

    /// Sends a command and returns the status line.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.line()
    }

    /// Reads a multi-line body up to ".", undoing dot-stuffing; returns the raw lines.
    pub fn body_lines(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..10_000_000 {
            let l = match self.try_read_line() {
                Ok(Some(l)) => l,
                Ok(None) => panic!("connection closed inside a multi-line reply"),
                Err(e) => panic!("reading a multi-line reply: {e}"),
            };
            if l == b"." {
                return out;
            }
            out.push(buzon_pop3_proto::wire::unstuff_line(&l).to_vec());
        }
        panic!("multi-line reply without end");
    }

    /// A multi-line body as bytes with CRLF line ends (what the client stores).
    pub fn body(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        for l in self.body_lines() {
            v.extend_from_slice(&l);
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    /// The raw bytes of a multi-line reply up to and including ".\r\n" (not unstuffed).
    pub fn raw_body(&mut self) -> Vec<u8> {
        let mut searched = 0;
        for _ in 0..1_000_000 {
            let data = &self.buf[self.pos..];
            if data.starts_with(b".\r\n") {
                self.pos += 3;
                return b".\r\n".to_vec();
            }
            if let Some(i) = find(&data[searched..], b"\r\n.\r\n").map(|i| i + searched) {
                let v = data[..i + 5].to_vec();
                self.pos += i + 5;
                return v;
            }
            searched = data.len().saturating_sub(4);
            match self.fill() {
                Ok(0) => panic!("connection closed inside a multi-line reply"),
                Ok(_) => {}
                Err(e) => panic!("reading: {e}"),
            }
        }
        panic!("multi-line reply without end");
    }

    /// Logs in with USER/PASS and asserts success.
    pub fn login(&mut self, user: &str, pass: &str) {
        let r = self.cmd(&format!("USER {user}"));
        assert!(r.starts_with("+OK"), "USER: {r}");
        let r = self.cmd(&format!("PASS {pass}"));
        assert!(r.starts_with("+OK"), "PASS: {r}");
    }

    /// True if the server closed the connection (reads end of stream within the timeout).
    pub fn is_closed(&mut self) -> bool {
        matches!(self.try_read_line(), Ok(None) | Err(_))
    }

    /// Half-closes the sending side.
    pub fn shutdown_write(&mut self) {
        if let Conn::Plain(s) = &self.conn {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }

    pub fn set_read_timeout(&mut self, t: Duration) {
        let tcp = match &self.conn {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
            Conn::Gone => return,
        };
        let _ = tcp.set_read_timeout(Some(t));
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
