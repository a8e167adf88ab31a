//! The one connection driver of every protocol: [`Stream`] is a client connection, plain
//! or TLS; [`Connection`] owns it with the output buffer and does what POP3 and SMTP/LMTP
//! sessions alike need: flush under the write timeout, read before a deadline (never a
//! per-read timer) while watching for shutdown and takeover, the STLS/STARTTLS upgrade
//! under the handshake timeout, the lingering close, and the refusal of a connection at
//! accept time. Per-command logic never touches it: the protocol sessions own their
//! input (so the bytes pipelined behind STLS/STARTTLS die in the protocol crate).
//!
//! The upgrade turns a `Plain` into a `Tls` by value: the plaintext stream is consumed by
//! it, and this module never buffers a byte of it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{watch, Notify};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::server::TlsStream;

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// A local connection on a UNIX socket (LMTP).
    Unix(UnixStream),
    /// The plain stream was handed to the TLS acceptor and nothing replaced it (the
    /// handshake failed): every operation fails.
    Upgrading,
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection is being upgraded to TLS",
    )
}

impl Stream {
    /// "TLSv1.3", "TLSv1.2" or "none", for the session log line.
    pub fn tls_version(&self) -> &'static str {
        match self {
            Stream::Plain(_) | Stream::Unix(_) | Stream::Upgrading => "none",
            Stream::Tls(t) => match t.get_ref().1.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
                _ => "TLS",
            },
        }
    }

    /// Ends the connection so the peer reads our last reply: send FIN (or TLS
    /// close_notify), then discard what the peer still sends for a moment (at most 1 s and
    /// 1 MiB). Closing with unread input makes the kernel send RST, which can destroy the
    /// final reply before the peer reads it.
    pub async fn linger_close(&mut self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), self.shutdown()).await;
        let mut sink = [0u8; 4096];
        let mut budget: usize = 1 << 20;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        while budget > 0 {
            match tokio::time::timeout_at(deadline, self.read(&mut sink)).await {
                Ok(Ok(n)) if n > 0 => budget = budget.saturating_sub(n),
                _ => break,
            }
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The `tls-exporter` channel binding of this TLS session (RFC 9266): 32 bytes
    /// exported with the label `EXPORTER-Channel-Binding`. TLS 1.3 only: RFC 9266 does
    /// not let TLS 1.2 use it without the extended master secret, so SCRAM-…-PLUS is not
    /// offered there.
    pub fn channel_binding(&self) -> Option<Vec<u8>> {
        let Stream::Tls(t) = self else { return None };
        let conn = t.get_ref().1;
        if conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
            return None;
        }
        conn.export_keying_material(
            vec![0u8; 32],
            buzon_pop3_proto::sasl::TLS_EXPORTER_LABEL,
            None,
        )
        .ok()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

/// What waiting for input gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input<'a> {
    /// Bytes from the client.
    Data(&'a [u8]),
    /// The client closed its side.
    Closed,
    /// The deadline passed first (it is checked before reading too, so a client that
    /// always has a byte on the way cannot outrun it).
    Deadline,
    /// The server is shutting down.
    Shutdown,
    /// Another session took this one's place (a lease takeover).
    Kicked,
    /// The read failed.
    Failed,
}

/// A client connection with its output buffer. See the module documentation.
pub(crate) struct Connection {
    stream: Stream,
    /// Replies not yet written.
    pub out: Vec<u8>,
    input: Box<[u8]>,
    write_timeout: Duration,
    handshake_timeout: Duration,
    shutdown: watch::Receiver<bool>,
}

/// Output kept allocated between flushes at most; more is given back.
const KEEP_OUTPUT: usize = 256 * 1024;

impl Connection {
    /// `read_size` is the most one read takes (small for line protocols, larger where
    /// messages stream in).
    pub fn new(
        stream: Stream,
        limits: &crate::config::Limits,
        shutdown: watch::Receiver<bool>,
        read_size: usize,
    ) -> Connection {
        Connection {
            stream,
            out: Vec::new(),
            input: vec![0; read_size].into_boxed_slice(),
            write_timeout: limits.write_timeout,
            handshake_timeout: limits.handshake_timeout,
            shutdown,
        }
    }

    /// "TLSv1.3", "TLSv1.2" or "none", for the session log line.
    pub fn tls_version(&self) -> &'static str {
        self.stream.tls_version()
    }

    /// See [`Stream::channel_binding`].
    pub fn channel_binding(&self) -> Option<Vec<u8>> {
        self.stream.channel_binding()
    }

    /// Writes the pending output and waits until it is sent, within the write timeout (a
    /// client that does not read cannot hold the session's memory). Gives whether there
    /// was anything to write. The buffer is emptied either way.
    pub async fn flush(&mut self) -> io::Result<bool> {
        if self.out.is_empty() {
            return Ok(false);
        }
        let r = timeout(self.write_timeout, async {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await
        })
        .await;
        self.out.clear();
        if self.out.capacity() > KEEP_OUTPUT {
            self.out = Vec::new();
        }
        match r {
            Ok(Ok(())) => Ok(true),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
        }
    }

    /// Gives back the output buffer's memory while the session waits.
    pub fn release_output(&mut self) {
        if self.out.capacity() > 1024 {
            self.out = Vec::new();
        }
    }

    /// Waits for bytes from the client until `deadline`, a shutdown, or (with `kick`) a
    /// takeover, whichever comes first.
    pub async fn read_before(&mut self, deadline: Instant, kick: Option<&Notify>) -> Input<'_> {
        if Instant::now() >= deadline {
            return Input::Deadline;
        }
        let kicked = async {
            match kick {
                Some(k) => k.notified().await,
                None => std::future::pending().await,
            }
        };
        let read = tokio::select! {
            r = timeout_at(deadline, self.stream.read(&mut self.input)) => r,
            _ = self.shutdown.changed() => return Input::Shutdown,
            () = kicked => return Input::Kicked,
        };
        match read {
            Err(_) => Input::Deadline,
            Ok(Ok(0)) => Input::Closed,
            Ok(Ok(n)) => Input::Data(&self.input[..n]),
            Ok(Err(_)) => Input::Failed,
        }
    }

    /// STLS (RFC 2595 §4) or STARTTLS (RFC 3207): the TLS handshake on the plain stream,
    /// within the handshake timeout. The reply that invited it must be flushed first.
    /// On failure the connection is unusable (the reason is for the log).
    pub async fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> Result<(), String> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Upgrading) else {
            return Err("not a plain TCP connection".into());
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        match timeout(self.handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                self.stream = Stream::Tls(Box::new(tls));
                Ok(())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("handshake timed out".into()),
        }
    }

    /// Ends the connection so the client reads the last reply (see
    /// [`Stream::linger_close`]).
    pub async fn linger_close(&mut self) {
        self.stream.linger_close().await;
    }
}

/// Refuses a connection at accept time (too many connections): one reply, then close,
/// both within `write_timeout`.
pub(crate) async fn refuse(mut stream: Stream, reply: &[u8], write_timeout: Duration) {
    let _ = timeout(write_timeout, stream.write_all(reply)).await;
    let _ = timeout(write_timeout, stream.shutdown()).await;
}
