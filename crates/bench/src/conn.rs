//! One POP3 client connection for the load generator: a socket (plain or TLS), a
//! [`ReplyReader`] and a timeout on every read and write. Commands are encoded with
//! [`Command::encode`]; nothing here knows POP3 syntax of its own.

use std::time::Duration;

use buzon_pop3_proto::client::{ReplyEvent, ReplyReader};
use buzon_pop3_proto::{Command, Secret, StatusLine};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

use crate::target::{Security, Target};
use crate::BenchError;

/// Bytes read from the socket at a time: large, so bulk RETR costs few system calls.
const READ_CHUNK: usize = 64 * 1024;

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Io {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf).await,
            Io::Tls(s) => match s.read(buf).await {
                // A server that closes without close_notify has still closed.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Io::Plain(s) => s.write_all(bytes).await,
            Io::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }
}

/// A POP3 client session used by the scenarios.
pub struct Pop3Conn {
    io: Io,
    reader: ReplyReader,
    out: Vec<u8>,
    buf: Vec<u8>,
    timeout: Duration,
    /// Octets received so far (after TLS decryption).
    pub bytes_in: u64,
}

/// The `+OK` text of a reply, or the command's refusal.
fn ok_text(status: StatusLine, command: &'static str) -> Result<String, BenchError> {
    match status {
        StatusLine::Ok { text, .. } => Ok(text),
        StatusLine::Err { code, text } => Err(BenchError::Refused {
            command,
            text: match code {
                Some(c) => format!("[{c}] {text}"),
                None => text,
            },
        }),
        StatusLine::Continue(_) => Err(BenchError::Protocol(format!(
            "unexpected SASL continuation after {command}"
        ))),
    }
}

async fn with_timeout<T>(
    t: Duration,
    what: &str,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, BenchError> {
    match timeout(t, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(BenchError::io(what.to_string(), e)),
        Err(_) => Err(BenchError::Timeout {
            what: what.to_string(),
            after: t,
        }),
    }
}

async fn tls_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    target: &Target,
    tcp: S,
    t: Duration,
) -> Result<TlsStream<S>, BenchError> {
    let Some(config) = &target.tls else {
        return Err(BenchError::Usage(
            "TLS requested without a TLS client configuration".into(),
        ));
    };
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(config));
    match timeout(t, connector.connect(target.server_name.clone(), tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(BenchError::Tls(format!(
            "handshake with {} failed: {e}",
            target.addr
        ))),
        Err(_) => Err(BenchError::Timeout {
            what: "TLS handshake".into(),
            after: t,
        }),
    }
}

impl Pop3Conn {
    /// Connects, reads the greeting, and (for [`Security::Starttls`]) upgrades with STLS.
    pub async fn connect(target: &Target, t: Duration) -> Result<Self, BenchError> {
        Self::connect_with_buffer(target, t, READ_CHUNK).await
    }

    /// As [`Pop3Conn::connect`] with a read buffer of `buf_size` bytes (small for sessions
    /// that are only held open).
    pub async fn connect_with_buffer(
        target: &Target,
        t: Duration,
        buf_size: usize,
    ) -> Result<Self, BenchError> {
        let tcp = with_timeout(t, "connect", TcpStream::connect(target.addr))
            .await
            .map_err(|e| match e {
                BenchError::Io { source, .. } => {
                    BenchError::io(format!("cannot connect to {}", target.addr), source)
                }
                other => other,
            })?;
        let _ = tcp.set_nodelay(true);
        let io = match target.security {
            Security::Tls => Io::Tls(Box::new(tls_handshake(target, tcp, t).await?)),
            Security::None | Security::Starttls => Io::Plain(tcp),
        };
        let mut c = Pop3Conn {
            io,
            reader: ReplyReader::new(),
            out: Vec::with_capacity(64),
            buf: vec![0; buf_size.max(512)],
            timeout: t,
            bytes_in: 0,
        };
        c.reader.expect(false);
        ok_text(c.status("greeting").await?, "greeting")?;
        if target.security == Security::Starttls {
            c.simple(Command::Stls).await?;
            if c.reader.has_buffered() {
                return Err(BenchError::Protocol(
                    "the server sent data after +OK to STLS".into(),
                ));
            }
            let Io::Plain(tcp) = c.io else {
                return Err(BenchError::Protocol("STLS on a TLS connection".into()));
            };
            c.io = Io::Tls(Box::new(tls_handshake(target, tcp, t).await?));
        }
        Ok(c)
    }

    async fn fill(&mut self, what: &str) -> Result<(), BenchError> {
        let n = with_timeout(self.timeout, what, self.io.read(&mut self.buf)).await?;
        if n == 0 {
            return Err(BenchError::Closed(what.to_string()));
        }
        self.bytes_in += n as u64;
        self.reader.feed(&self.buf[..n]);
        Ok(())
    }

    async fn status(&mut self, what: &str) -> Result<StatusLine, BenchError> {
        // A reply is one status line; the bound only guards against a server that
        // trickles bytes forever.
        for _ in 0..1_000_000 {
            match self.reader.next_event() {
                Some(Ok(ReplyEvent::Status(s))) => return Ok(s),
                Some(Ok(other)) => {
                    return Err(BenchError::Protocol(format!(
                        "expected a status line for {what}, got {other:?}"
                    )))
                }
                Some(Err(e)) => return Err(BenchError::Protocol(format!("{what}: {e}"))),
                None => self.fill(what).await?,
            }
        }
        Err(BenchError::Protocol(format!("{what}: no status line")))
    }

    /// Queues a command without sending it (for pipelining, RFC 2449 §6.6).
    pub fn queue(&mut self, cmd: &Command) {
        cmd.encode(&mut self.out);
    }

    /// Sends everything queued.
    pub async fn send_queued(&mut self) -> Result<(), BenchError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = with_timeout(self.timeout, "write", self.io.write_all(&self.out)).await;
        self.out.clear();
        r
    }

    /// Reads the status of the next reply; `multi` when a body follows a `+OK`.
    pub async fn reply(
        &mut self,
        multi: bool,
        command: &'static str,
    ) -> Result<String, BenchError> {
        self.reader.expect(multi);
        let s = self.status(command).await?;
        ok_text(s, command)
    }

    /// Sends a single-line command and returns its `+OK` text.
    pub async fn simple(&mut self, cmd: Command) -> Result<String, BenchError> {
        let kw = cmd.keyword();
        self.queue(&cmd);
        self.send_queued().await?;
        self.reply(false, kw).await
    }

    /// USER/PASS (RFC 1939 §7).
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), BenchError> {
        self.simple(Command::User(user.to_string())).await?;
        self.simple(Command::Pass(Secret::new(password))).await?;
        Ok(())
    }

    /// STAT: (messages, octets).
    pub async fn stat(&mut self) -> Result<(u64, u64), BenchError> {
        let text = self.simple(Command::Stat).await?;
        let mut w = text.split_ascii_whitespace().map(str::parse::<u64>);
        match (w.next(), w.next()) {
            (Some(Ok(n)), Some(Ok(o))) => Ok((n, o)),
            _ => Err(BenchError::Protocol(format!(
                "STAT reply is not \"count size\": {text:?}"
            ))),
        }
    }

    /// Sends a multi-line command and returns its body lines (LIST, UIDL, CAPA).
    pub async fn lines(&mut self, cmd: Command) -> Result<Vec<Vec<u8>>, BenchError> {
        let kw = cmd.keyword();
        self.queue(&cmd);
        self.send_queued().await?;
        self.reply(true, kw).await?;
        self.body_lines(kw).await
    }

    /// The body lines of a multi-line reply whose status was read, without CRLF.
    pub async fn body_lines(&mut self, what: &'static str) -> Result<Vec<Vec<u8>>, BenchError> {
        let mut out = Vec::new();
        for _ in 0..100_000_000u64 {
            match self.reader.next_event() {
                Some(Ok(ReplyEvent::Line(mut l))) => {
                    l.truncate(l.len().saturating_sub(2));
                    out.push(l);
                }
                Some(Ok(ReplyEvent::End)) => return Ok(out),
                Some(Ok(ReplyEvent::Status(_))) => {
                    return Err(BenchError::Protocol(format!(
                        "{what}: status line inside a body"
                    )))
                }
                Some(Err(e)) => return Err(BenchError::Protocol(format!("{what}: {e}"))),
                None => self.fill(what).await?,
            }
        }
        Err(BenchError::Protocol(format!("{what}: body without end")))
    }

    /// LIST: the size of each message, in order (RFC 1939 §5 scan listings).
    pub async fn list_sizes(&mut self) -> Result<Vec<u64>, BenchError> {
        let lines = self.lines(Command::List(None)).await?;
        lines
            .iter()
            .map(|l| {
                let s = String::from_utf8_lossy(l);
                s.split_ascii_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| {
                        BenchError::Protocol(format!("LIST line is not \"msg size\": {s:?}"))
                    })
            })
            .collect()
    }

    /// Reads (and discards) the body of a multi-line reply whose status was read; returns
    /// its size after dot-unstuffing, which for RETR equals the LIST size.
    pub async fn skip_body(&mut self, what: &'static str) -> Result<u64, BenchError> {
        let mut octets = 0;
        for _ in 0..100_000_000u64 {
            let p = self
                .reader
                .skip_body()
                .map_err(|e| BenchError::Protocol(format!("{what}: {e}")))?;
            octets += p.octets;
            if p.ended {
                return Ok(octets);
            }
            self.fill(what).await?;
        }
        Err(BenchError::Protocol(format!("{what}: body without end")))
    }

    /// QUIT, then wait (briefly) for the server to close, so the server side ends the TCP
    /// connection and the client's ports do not pile up in TIME_WAIT.
    pub async fn quit(mut self) -> Result<(), BenchError> {
        self.simple(Command::Quit).await?;
        let mut sink = [0u8; 256];
        let _ = timeout(Duration::from_secs(2), async {
            for _ in 0..64 {
                match self.io.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        Ok(())
    }
}
