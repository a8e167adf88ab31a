//! Drives one SMTP or LMTP connection: the socket, TLS and timeouts on one side, the
//! sans-IO [`Session`] on the other, and the delivery engine (on blocking threads) for
//! recipient checks and deliveries.
//!
//! What must never happen here: a success reply before every copy is fsynced into
//! `new/`, a blocking file operation on the runtime, or a byte read before STARTTLS
//! reaching the TLS session.

use std::net::SocketAddr;
use std::sync::Arc;

use buzon_smtp_proto::reply::{self, Reply};
use buzon_smtp_proto::{Envelope, Event, Mode, Session};
use tokio::time::Instant;

use super::Intake;
use crate::stream::{Connection, Input, Stream};
use crate::Shared;
use buzon_intake::spool::Spool;
use buzon_intake::trace::{new_id, ReceivedFrom};
use buzon_intake::{Failure, Grouping, Incoming, Outcome, Recipient};

/// How the session ended, for the log line.
#[derive(Debug, Clone, Copy)]
enum End {
    /// QUIT, or 421 after too many protocol errors.
    Closed,
    ClientClosed,
    Timeout,
    Shutdown,
    WriteFailed,
    ReadFailed,
    TlsFailed,
}

impl End {
    /// The metrics label.
    fn as_str(self) -> &'static str {
        match self {
            End::Closed => "quit",
            End::ClientClosed => "client-closed",
            End::Timeout => "timeout",
            End::Shutdown => "shutdown",
            End::WriteFailed => "write-failed",
            End::ReadFailed => "read-failed",
            End::TlsFailed => "tls-failed",
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    messages: u64,
    delivered: u64,
    refused_rcpts: u64,
}

/// The most one read takes: messages stream in through here.
const READ_SIZE: usize = 64 * 1024;

struct Conn {
    shared: Arc<Shared>,
    intake: Arc<Intake>,
    conn: Connection,
    /// `None` over a UNIX socket.
    peer: Option<SocketAddr>,
    mode: Mode,
    session: Session<Vec<String>>,
    spool: Option<Spool>,
    /// A spool write failed: the message cannot be delivered.
    spool_error: Option<std::io::Error>,
    counters: Counters,
}

/// Runs a session on an accepted connection.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    intake: Arc<Intake>,
    stream: Stream,
    peer: Option<SocketAddr>,
    mode: Mode,
    starttls: bool,
) {
    let mut config = match mode {
        Mode::Smtp => intake.smtp.clone(),
        Mode::Lmtp => intake.lmtp.clone(),
    };
    config.starttls = starttls;
    let listener = if mode == Mode::Lmtp { "lmtp" } else { "smtp" };
    let open = crate::metrics::OpenSession::intake(&shared.metrics, listener);
    let session = Session::new(config, stream.is_tls());
    let mut conn = Conn {
        conn: Connection::new(
            stream,
            &shared.config.limits,
            shared.shutdown.clone(),
            READ_SIZE,
        ),
        shared,
        intake,
        peer,
        mode,
        session,
        spool: None,
        spool_error: None,
        counters: Counters::default(),
    };
    let end = conn.run().await;
    let c = &conn.counters;
    tracing::info!(
        target: "buzon::session",
        protocol = if mode == Mode::Lmtp { "lmtp" } else { "smtp" },
        remote = %conn.peer_text(),
        tls = conn.conn.tls_version(),
        messages = c.messages,
        delivered = c.delivered,
        refused_rcpts = c.refused_rcpts,
        end = ?end,
        "intake session ended"
    );
    conn.shared
        .metrics
        .intake_sessions
        .get_or_create(&crate::metrics::EndLabels {
            listener,
            tls: conn.conn.tls_version(),
            end: end.as_str(),
        })
        .inc();
    drop(open);
    conn.conn.linger_close().await;
}

impl Conn {
    fn peer_text(&self) -> String {
        self.peer
            .map_or_else(|| "unix".to_string(), |p| p.to_string())
    }

    async fn run(&mut self) -> End {
        self.session.greeting(&mut self.conn.out);
        // Deadlines, not per-read timers, so a byte now and then extends nothing: each
        // command line must arrive within `command_timeout` of the server starting to
        // wait for it (RFC 5321 §4.5.3.2.7), a whole message within `data_deadline` of
        // the 354 reply, with at most `data_timeout` of silence inside it.
        let mut command_started = Instant::now();
        let mut data_started = Instant::now();
        // Something happened since the last wait (a reply, an event): a new wait starts.
        let mut progressed = true;
        for _ in 0..u64::MAX {
            let event = self.session.next_event(&mut self.conn.out);
            if event != Event::NeedInput {
                progressed = true;
            }
            match event {
                Event::NeedInput => {
                    match self.conn.flush().await {
                        Ok(wrote) => progressed |= wrote,
                        Err(_) => return End::WriteFailed,
                    }
                    self.session.shrink();
                    let now = Instant::now();
                    let deadline = if self.session.in_data() {
                        (now + self.intake.data_timeout)
                            .min(data_started + self.intake.data_deadline)
                    } else {
                        if std::mem::take(&mut progressed) {
                            command_started = now;
                        }
                        command_started + self.intake.command_timeout
                    };
                    progressed = false;
                    match self.conn.read_before(deadline, None).await {
                        Input::Data(bytes) => self.session.feed(bytes),
                        Input::Deadline => {
                            self.session.timeout(&mut self.conn.out);
                            let _ = self.conn.flush().await;
                            return End::Timeout;
                        }
                        Input::Shutdown => {
                            self.session.shutdown(&mut self.conn.out);
                            let _ = self.conn.flush().await;
                            return End::Shutdown;
                        }
                        Input::Closed => return End::ClientClosed,
                        Input::Kicked | Input::Failed => return End::ReadFailed,
                    }
                }
                Event::Recipient(to) => self.recipient(to).await,
                Event::DataStart => {
                    data_started = Instant::now();
                    self.spool = Some(Spool::new(self.intake.deliverer.spool_dir()));
                    self.spool_error = None;
                }
                Event::Data(chunk) => self.spool_write(chunk).await,
                Event::Message => self.message().await,
                Event::MessageTooBig => {
                    self.spool = None;
                    tracing::info!(remote = %self.peer_text(), max = self.intake.deliverer.max_message_size(), "message refused: too big");
                }
                Event::StartTls => {
                    if self.conn.flush().await.is_err() {
                        return End::WriteFailed;
                    }
                    match self.conn.start_tls(self.shared.tls.server_config()).await {
                        Ok(()) => self.session.tls_established(),
                        Err(e) => {
                            tracing::info!(remote = %self.peer_text(), "STARTTLS handshake failed: {e}");
                            return End::TlsFailed;
                        }
                    }
                }
                Event::Close => {
                    let _ = self.conn.flush().await;
                    return End::Closed;
                }
            }
        }
        End::Closed
    }

    async fn recipient(&mut self, to: buzon_smtp_proto::ForwardPath) {
        let declared = self.session.envelope().and_then(|e| e.params.size);
        let deliverer = Arc::clone(&self.intake.deliverer);
        let local = to.local_part().to_string();
        let domain = to.domain().map(str::to_string);
        let checked = tokio::task::spawn_blocking(move || {
            deliverer.check_recipient(&local, domain.as_deref(), declared)
        })
        .await;
        match checked {
            Ok(Ok(users)) => self.session.accept_recipient(users, &mut self.conn.out),
            Ok(Err(f)) => {
                self.counters.refused_rcpts += 1;
                tracing::info!(remote = %self.peer_text(), to = %to, "recipient refused: {f}");
                self.session.reject_recipient(f.reply(), &mut self.conn.out);
            }
            Err(e) => {
                tracing::error!("recipient check task failed: {e}");
                self.session
                    .reject_recipient(reply::local_error(), &mut self.conn.out);
            }
        }
    }

    async fn spool_write(&mut self, chunk: Vec<u8>) {
        if self.spool_error.is_some() {
            return;
        }
        let Some(mut spool) = self.spool.take() else {
            return;
        };
        let result = if spool.needs_disk(chunk.len()) {
            match tokio::task::spawn_blocking(move || {
                let r = spool.write(&chunk);
                (spool, r)
            })
            .await
            {
                Ok((s, r)) => {
                    spool = s;
                    r
                }
                Err(e) => {
                    self.spool_error = Some(std::io::Error::other(e.to_string()));
                    return;
                }
            }
        } else {
            spool.write(&chunk)
        };
        if let Err(e) = result {
            tracing::error!(remote = %self.peer_text(), "cannot spool the incoming message: {e}");
            self.spool_error = Some(e);
        }
        self.spool = Some(spool);
    }

    async fn message(&mut self) {
        self.counters.messages += 1;
        let Some(env) = self.session.envelope().cloned() else {
            return;
        };
        let recipients: Vec<Recipient> = env
            .recipients
            .iter()
            .map(|(to, users)| Recipient {
                address: to.to_string(),
                users: users.clone(),
            })
            .collect();
        let outcomes = match (self.spool.take(), self.spool_error.take()) {
            (Some(spool), None) => self.deliver(spool, &env, recipients.clone()).await,
            (_, err) => {
                let f = match err {
                    Some(e) if is_no_space(&e) => Failure::NoSpace(e.to_string()),
                    Some(e) => Failure::Temporary(e.to_string()),
                    None => Failure::Temporary("no spooled message".into()),
                };
                vec![(String::new(), Outcome::Failed(f)); recipients.len().max(1)]
            }
        };
        let id_replies = self.replies(&recipients, outcomes);
        self.session.finish_message(id_replies, &mut self.conn.out);
    }

    async fn deliver(
        &mut self,
        spool: Spool,
        env: &Envelope<Vec<String>>,
        recipients: Vec<Recipient>,
    ) -> Vec<(String, Outcome)> {
        let deliverer = Arc::clone(&self.intake.deliverer);
        let id = new_id();
        let return_path = env.from.to_string();
        let received = ReceivedFrom {
            helo: env.helo.name.clone(),
            peer: self.peer.map(|p| p.ip()),
            protocol: env.received_protocol(),
        };
        let grouping = if self.mode == Mode::Lmtp {
            Grouping::PerRecipient
        } else {
            Grouping::Together
        };
        let id2 = id.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut spool = spool;
            if let Err(e) = spool.finish() {
                let f = if is_no_space(&e) {
                    Failure::NoSpace(e.to_string())
                } else {
                    Failure::Temporary(e.to_string())
                };
                return vec![Outcome::Failed(f)];
            }
            let msg = Incoming {
                spool: &spool,
                id: &id2,
                return_path: &return_path,
                received: Some(&received),
            };
            deliverer.deliver(&msg, &recipients, grouping)
        });
        let started = std::time::Instant::now();
        let outcomes = match task.await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!("delivery task failed: {e}");
                vec![Outcome::Failed(Failure::Temporary(
                    "delivery task failed".into(),
                ))]
            }
        };
        self.shared
            .metrics
            .delivery_seconds
            .observe(started.elapsed().as_secs_f64());
        outcomes.into_iter().map(|o| (id.clone(), o)).collect()
    }

    /// Adds one outcome to the server's metrics.
    fn count_outcome(&self, outcome: &Outcome) {
        let m = &self.shared.metrics;
        let t = &self.shared.totals;
        let total = match outcome {
            Outcome::Delivered { .. } => &t.delivered,
            Outcome::Failed(_) => &t.delivery_failures,
        };
        total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = match outcome {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Failed(f) => {
                if matches!(f, Failure::OverQuota { .. }) {
                    m.quota_refusals.inc();
                }
                if f.reply().code() >= 500 {
                    "permanent_failure"
                } else {
                    "temporary_failure"
                }
            }
        };
        m.deliveries
            .get_or_create(&crate::metrics::DeliveryLabels {
                protocol: if self.mode == Mode::Lmtp {
                    "lmtp"
                } else {
                    "smtp"
                },
                result,
            })
            .inc();
    }

    /// One reply per recipient (LMTP) or one for the message (SMTP).
    fn replies(
        &mut self,
        recipients: &[Recipient],
        outcomes: Vec<(String, Outcome)>,
    ) -> Vec<Reply> {
        let mut out = Vec::new();
        let n = if self.mode == Mode::Lmtp {
            recipients.len()
        } else {
            1
        };
        let mut outcomes = outcomes.into_iter();
        let mut last = None;
        for i in 0..n {
            // A single failure outcome (spooling failed) answers for every recipient.
            let (id, outcome) = match outcomes.next() {
                Some(o) => {
                    last = Some(o.clone());
                    o
                }
                None => last.clone().unwrap_or_else(|| {
                    (
                        String::new(),
                        Outcome::Failed(Failure::Temporary("no outcome".into())),
                    )
                }),
            };
            self.count_outcome(&outcome);
            let r = match outcome {
                Outcome::Delivered { copies } => {
                    self.counters.delivered += 1;
                    let _ = copies;
                    match (self.mode, recipients.get(i)) {
                        (Mode::Lmtp, Some(rcpt)) => reply::delivered_to(&rcpt.address, &id),
                        _ => reply::delivered(&id),
                    }
                }
                Outcome::Failed(f) => f.reply(),
            };
            out.push(r);
        }
        out
    }
}

fn is_no_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}
