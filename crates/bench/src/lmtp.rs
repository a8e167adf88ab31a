//! The `deliver` scenario: messages handed to a server over LMTP (RFC 2033), one
//! recipient each, as an MTA would. Commands are built and checked by
//! `buzon-smtp-proto` (`parse_command`, `Command::to_bytes`), replies read with its
//! `ReplyCollector`, and message data encoded with its `encode_data`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use buzon_smtp_proto::client::{ParsedReply, ReplyCollector};
use buzon_smtp_proto::data::encode_data;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::report::Report;
use crate::scenario::{run_workers, RunOptions, Tally};
use crate::BenchError;

/// Options of the `deliver` scenario.
#[derive(Debug, Clone)]
pub struct DeliverOptions {
    /// Size of each message, bytes.
    pub size: usize,
    /// Domain appended to each user name to form the recipient address.
    pub domain: String,
}

struct Lmtp {
    tcp: TcpStream,
    buf: Vec<u8>,
    pending: Vec<u8>,
    replies: ReplyCollector,
    timeout: Duration,
}

impl Lmtp {
    async fn connect(run: &RunOptions) -> Result<Self, BenchError> {
        Lmtp::connect_to(run.target.addr, run.timeout).await
    }

    async fn connect_to(addr: SocketAddr, after: Duration) -> Result<Self, BenchError> {
        let tcp = match timeout(after, TcpStream::connect(addr)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(BenchError::io(format!("cannot connect to {addr}"), e)),
            Err(_) => {
                return Err(BenchError::Timeout {
                    what: "connect".into(),
                    after,
                })
            }
        };
        let _ = tcp.set_nodelay(true);
        let mut c = Lmtp {
            tcp,
            buf: vec![0; 4096],
            pending: Vec::new(),
            replies: ReplyCollector::new(),
            timeout: after,
        };
        c.expect("greeting", 220).await?;
        c.command("LHLO bench.localhost", 250).await?;
        Ok(c)
    }

    async fn reply(&mut self, what: &str) -> Result<ParsedReply, BenchError> {
        // A reply is a few lines; the bound guards against an endless multi-line reply.
        for _ in 0..10_000 {
            if let Some(i) = memchr_lf(&self.pending) {
                let mut line: Vec<u8> = self.pending.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                match self.replies.push(&line) {
                    Ok(Some(r)) => return Ok(r),
                    Ok(None) => continue,
                    Err(_) => {
                        return Err(BenchError::Protocol(format!(
                            "{what}: not an LMTP reply: {:?}",
                            String::from_utf8_lossy(&line)
                        )))
                    }
                }
            }
            let n = match timeout(self.timeout, self.tcp.read(&mut self.buf)).await {
                Ok(Ok(0)) => return Err(BenchError::Closed(what.to_string())),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(BenchError::io(what.to_string(), e)),
                Err(_) => {
                    return Err(BenchError::Timeout {
                        what: what.to_string(),
                        after: self.timeout,
                    })
                }
            };
            if self.pending.len() + n > 64 * 1024 {
                return Err(BenchError::Protocol(format!(
                    "{what}: reply line longer than 64 KiB"
                )));
            }
            self.pending.extend_from_slice(&self.buf[..n]);
        }
        Err(BenchError::Protocol(format!("{what}: reply without end")))
    }

    async fn expect(&mut self, what: &'static str, code: u16) -> Result<(), BenchError> {
        let r = self.reply(what).await?;
        if r.code == code {
            Ok(())
        } else {
            Err(BenchError::Refused {
                command: what,
                text: format!("{} {}", r.code, r.lines.join(" / ")),
            })
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), BenchError> {
        match timeout(self.timeout, self.tcp.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(BenchError::io("write", e)),
            Err(_) => Err(BenchError::Timeout {
                what: "write".into(),
                after: self.timeout,
            }),
        }
    }

    /// Sends one command line (validated by the SMTP/LMTP parser) and checks the code.
    async fn command(&mut self, line: &str, code: u16) -> Result<(), BenchError> {
        let cmd = buzon_smtp_proto::parse_command(line.as_bytes()).map_err(|e| {
            BenchError::Usage(format!(
                "{line:?} is not a valid LMTP command: {}",
                e.reply().text()
            ))
        })?;
        self.send(&cmd.to_bytes()).await?;
        let what: &'static str = match line.split(' ').next().unwrap_or("") {
            "LHLO" => "LHLO",
            "MAIL" => "MAIL",
            "RCPT" => "RCPT",
            "DATA" => "DATA",
            _ => "command",
        };
        self.expect(what, code).await
    }

    async fn deliver(&mut self, rcpt: &str, data: &[u8]) -> Result<(), BenchError> {
        self.command("MAIL FROM:<bench@bench.invalid>", 250).await?;
        self.command(&format!("RCPT TO:<{rcpt}>"), 250).await?;
        self.command("DATA", 354).await?;
        self.send(data).await?;
        // RFC 2033 §4.2: one reply per accepted recipient after the final dot.
        self.expect("end of data", 250).await
    }
}

fn memchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// `deliver`: LMTP deliveries per second, one recipient per message, a connection per
/// client kept open (reconnecting after a failure).
pub async fn deliver(run: &RunOptions, o: &DeliverOptions) -> Result<Report, BenchError> {
    if o.size == 0 || o.size > 64 << 20 {
        return Err(BenchError::Usage(
            "--size must be between 1 byte and 64 MiB".into(),
        ));
    }
    let data = encode_data(&crate::corpus::message(0, o.size, 3));
    let (run2, domain) = (run.clone(), o.domain.clone());
    let mut report = run_workers(run, "deliver", "messages", move |budget| {
        let (run, data, domain) = (run2.clone(), data.clone(), domain.clone());
        async move {
            let mut t = Tally::default();
            let mut conn: Option<Lmtp> = None;
            while budget.take() {
                let rcpt = format!("{}@{domain}", budget.users.next_name());
                let t0 = Instant::now();
                let r = async {
                    if conn.is_none() {
                        conn = Some(Lmtp::connect(&run).await?);
                    }
                    match conn.as_mut() {
                        Some(c) => c.deliver(&rcpt, &data).await,
                        None => Err(BenchError::Protocol("no connection".into())),
                    }
                }
                .await;
                match r {
                    Ok(()) => {
                        t.latency.record(t0.elapsed());
                        t.ops += 1;
                        t.bytes += data.len() as u64;
                    }
                    Err(e) => {
                        t.fail(&e);
                        conn = None;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            if let Some(mut c) = conn {
                let _ = c.send(b"QUIT\r\n").await;
            }
            t
        }
    })
    .await;
    report.security = "none".into();
    Ok(report)
}

/// Delivers one `size`-byte message to `rcpt` over LMTP every `every` until `stop` is
/// set: mail arriving in a mailbox while it is being measured. Gives the deliveries made
/// and the failures met.
pub async fn trickle(
    addr: SocketAddr,
    rcpt: String,
    size: usize,
    every: Duration,
    after: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (u64, u64) {
    use std::sync::atomic::Ordering;
    let data = encode_data(&crate::corpus::message(1, size, 3));
    let (mut done, mut failed) = (0, 0);
    let mut conn: Option<Lmtp> = None;
    let mut next = tokio::time::Instant::now() + every;
    while !stop.load(Ordering::Relaxed) {
        // Short sleeps, so a stop is seen within 50 ms.
        if tokio::time::Instant::now() < next {
            tokio::time::sleep(Duration::from_millis(50).min(every)).await;
            continue;
        }
        next += every;
        if conn.is_none() {
            conn = Lmtp::connect_to(addr, after).await.ok();
        }
        let ok = match conn.as_mut() {
            Some(c) => c.deliver(&rcpt, &data).await.is_ok(),
            None => false,
        };
        if ok {
            done += 1;
        } else {
            failed += 1;
            conn = None;
        }
    }
    if let Some(mut c) = conn {
        let _ = c.send(b"QUIT\r\n").await;
    }
    (done, failed)
}
