//! Drives one POP3 connection: the socket, TLS, timeouts and the store on one side, the
//! sans-IO [`ServerSession`] on the other. Per-command logic lives in the protocol crate;
//! this module only performs the steps it asks for.
//!
//! What must never happen here: a deletion outside UPDATE (a dropped connection, a
//! timeout, a shutdown or a takeover drops the store session, which deletes nothing), a
//! blocking call on the runtime, or a byte read before STLS reaching the TLS session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use buzon_auth::Admission;
use buzon_pop3_proto::server::{
    Abort, AuthRequest, ConnectionInfo, Credential, MessageInfo, ServerSession, Step,
};
use buzon_pop3_proto::wire::{Extent, MessageEncoder};
use buzon_pop3_proto::{RespCode, Response, Uidl};
use buzon_store::{Pop3Mailbox, StoreError};

use crate::login::Verdict;
use crate::registry::SlotGuard;
use crate::stream::{Connection, Input, Stream};
use crate::Shared;

/// The most one read from the client takes: commands are short lines.
const READ_SIZE: usize = 4096;
/// Flush the output once this much is buffered (large writes fill TLS records).
const FLUSH_AT: usize = 64 * 1024;
/// Size of one read from the store while a message streams.
const MESSAGE_CHUNK: usize = buzon_store::MESSAGE_CHUNK;
/// The first read for TOP: one page, where most headers fit (the encoder stops at the
/// end of what TOP asked for). Later reads grow fourfold up to [`MESSAGE_CHUNK`].
const TOP_FIRST_CHUNK: usize = 4 * 1024;
/// After a stale session was ended, how long a new login waits for the store to let go
/// of its lock (a shared store deletes the lease row just after the session ends).
const TAKEOVER_WAIT: Duration = Duration::from_secs(3);

/// How the session ended, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Quit,
    QuitUpdateFailed,
    ClientClosed,
    Idle,
    AuthTimeout,
    Shutdown,
    TakenOver,
    Protocol,
    WriteFailed,
    ReadFailed,
    TlsFailed,
}

impl End {
    fn as_str(self) -> &'static str {
        match self {
            End::Quit => "quit",
            End::QuitUpdateFailed => "quit-update-failed",
            End::ClientClosed => "client-closed",
            End::Idle => "idle-timeout",
            End::AuthTimeout => "auth-timeout",
            End::Shutdown => "shutdown",
            End::TakenOver => "taken-over",
            End::Protocol => "protocol-error",
            End::WriteFailed => "write-failed",
            End::ReadFailed => "read-failed",
            End::TlsFailed => "tls-failed",
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    retr: u64,
    retr_bytes: u64,
    top: u64,
    deleted: usize,
    commands: u64,
}

/// The mailbox of an authenticated session and its registry entry.
struct Mailbox {
    store: Box<dyn Pop3Mailbox>,
    _slot: SlotGuard,
}

struct Conn {
    shared: Arc<Shared>,
    conn: Connection,
    peer: SocketAddr,
    /// See [`Client::known`].
    client_known: bool,
    /// See [`Client::proxied_tls`].
    proxied_tls: bool,
    session: ServerSession,
    mailbox: Option<Mailbox>,
    user_slot: Option<Arc<crate::registry::UserSlot>>,
    /// The authenticated user, kept for the log line after the session state is gone.
    user: Option<String>,
    /// How the user logged in ("USER", "PLAIN", "SCRAM-SHA-256-PLUS", …), for the log.
    mechanism: &'static str,
    counters: Counters,
    /// This session in `buzon status`'s list.
    tracked: crate::status::Tracked,
    /// The last complete command, or the last output the client accepted: the
    /// inactivity limit counts from here, so a byte now and then without a complete
    /// command (slowloris) does not keep a session open.
    last_activity: tokio::time::Instant,
    /// `limits.auth_timeout` after the connection was accepted: a session still not
    /// logged in then is closed, however busy it keeps (CAPA, NOOP-like commands, bytes).
    auth_deadline: tokio::time::Instant,
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    /// The client's address, or the proxy's when `known` is false.
    pub addr: SocketAddr,
    /// False when a trusted proxy sent PROXY `LOCAL`/`UNKNOWN`: the client's own address is
    /// unknown, so no network it might be in is trusted (plaintext logins, throttle
    /// exemption); failures are counted against the proxy's address.
    pub known: bool,
    /// A trusted proxy's PROXY v2 header said the client spoke TLS to it (HAProxy
    /// terminating TLS, `send-proxy-v2-ssl`): the session counts as TLS for the login
    /// policy and offers no STLS, as Dovecot does for its trusted HAProxy networks.
    pub proxied_tls: bool,
}

/// Runs a POP3 session on an accepted connection whose TLS (for POP3S) is already up.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: Stream,
    client: Client,
    stls_available: bool,
    connected: tokio::time::Instant,
    listener: &'static str,
) {
    let peer = client.addr;
    let open = crate::metrics::OpenSession::new(&shared.metrics, listener);
    let tracked = shared.sessions.track(
        listener,
        client.addr,
        match stream.tls_version() {
            "none" if client.proxied_tls => "at-proxy",
            v => v,
        },
    );
    let tls_active = stream.is_tls() || client.proxied_tls;
    let plaintext_without_tls = shared.config.auth.allow_plaintext_without_tls
        || (client.known
            && shared
                .config
                .auth
                .plaintext_networks
                .iter()
                .any(|n| n.contains(peer.ip())));
    let apop_timestamp = shared
        .auth
        .apop_possible()
        .then(|| apop_timestamp(&shared.config.hostname));
    let info = ConnectionInfo {
        tls_active,
        stls_available: stls_available && !tls_active,
        plaintext_without_tls,
        apop_timestamp,
        apop_without_tls: shared.config.auth.apop,
        scram: shared.auth.scram_possible(),
        oauth: shared.auth.oauth_enabled(),
        channel_binding: stream.channel_binding(),
    };
    let auth_deadline = connected + shared.config.limits.auth_timeout;
    let mut conn = Conn {
        session: ServerSession::new(Arc::clone(&shared.session_config), info),
        conn: Connection::new(
            stream,
            &shared.config.limits,
            shared.shutdown.clone(),
            READ_SIZE,
        ),
        shared,
        peer,
        client_known: client.known,
        proxied_tls: client.proxied_tls,
        mailbox: None,
        user_slot: None,
        user: None,
        mechanism: "-",
        counters: Counters::default(),
        tracked,
        last_activity: tokio::time::Instant::now(),
        auth_deadline,
    };
    let end = conn.run().await;
    conn.log_end(end);
    conn.count_end(end, listener);
    drop(open);
    conn.conn.linger_close().await;
}

/// A fresh SCRAM server nonce: 24 random letters and digits (143 bits).
fn scram_nonce() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..24)
        .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
        .collect()
}

fn apop_timestamp(host: &str) -> String {
    // RFC 1939 §7: unique per greeting; process id, clock and randomness make it so.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "<{}.{}.{:08x}@{}>",
        std::process::id(),
        nanos,
        rand::random::<u32>(),
        host
    )
}

impl Conn {
    async fn run(&mut self) -> End {
        self.session.greeting(&mut self.conn.out);
        if self.flush().await.is_err() {
            return End::WriteFailed;
        }
        loop {
            // Answer every complete line already received, in order (RFC 2449 §6.6
            // PIPELINING), then flush once.
            while let Some(step) = self.session.next_step(&mut self.conn.out) {
                self.counters.commands += 1;
                if let Some(command) = self.session.last_command() {
                    self.shared
                        .metrics
                        .commands
                        .get_or_create(&crate::metrics::CommandLabels { command })
                        .inc();
                }
                self.last_activity = tokio::time::Instant::now();
                if let Some(slot) = &self.user_slot {
                    slot.touch();
                }
                // A shared store's lease lives while the session shows activity.
                if let Some(m) = &self.mailbox {
                    m.store.touch();
                }
                if let Some(end) = self.perform(step).await {
                    return end;
                }
                if self.conn.out.len() >= FLUSH_AT && self.flush().await.is_err() {
                    return End::WriteFailed;
                }
            }
            if self.flush().await.is_err() {
                return End::WriteFailed;
            }
            // Idle sessions hold no buffers: they come back with the next command.
            self.session.shrink_input();
            self.conn.release_output();

            // RFC 1939 §3 autologout: measured from the last activity, not the last byte.
            let idle_deadline = self.last_activity + self.shared.config.limits.idle_timeout;
            // Before login, the login deadline applies too, checked before every read so
            // a client that always has bytes on the way still meets it.
            let logging_in = self.mailbox.is_none();
            let deadline = if logging_in {
                idle_deadline.min(self.auth_deadline)
            } else {
                idle_deadline
            };
            let kick = self.user_slot.as_ref().map(|s| &s.kick);
            match self.conn.read_before(deadline, kick).await {
                Input::Data(bytes) => self.session.feed(bytes),
                Input::Deadline if logging_in && deadline == self.auth_deadline => {
                    return self.abort(Abort::AuthTimeout, End::AuthTimeout).await
                }
                Input::Deadline => return self.abort(Abort::Idle, End::Idle).await,
                Input::Shutdown => return self.abort(Abort::Shutdown, End::Shutdown).await,
                Input::Kicked => return self.abort(Abort::TakenOver, End::TakenOver).await,
                Input::Closed => return End::ClientClosed,
                Input::Failed => return End::ReadFailed,
            }
        }
    }

    async fn abort(&mut self, why: Abort, end: End) -> End {
        self.session.abort(why, &mut self.conn.out);
        let _ = self.flush().await;
        end
    }

    /// Flushes the replies; output the client accepted counts as activity.
    async fn flush(&mut self) -> std::io::Result<()> {
        if self.conn.flush().await? {
            self.last_activity = tokio::time::Instant::now();
        }
        Ok(())
    }

    /// Performs one step; `Some(end)` when the session is over.
    async fn perform(&mut self, step: Step) -> Option<End> {
        match step {
            Step::Continue => None,
            Step::Close => {
                let _ = self.flush().await;
                Some(if self.session.is_closed() {
                    End::Protocol
                } else {
                    End::Quit
                })
            }
            Step::Authenticate => {
                let Some(req) = self.session.take_pending_auth() else {
                    return Some(End::Protocol);
                };
                let step = self.authenticate(req).await;
                Box::pin(self.perform(step)).await
            }
            Step::ScramParams { user } => {
                let (salt, iterations) = self.shared.auth.scram_params(&user);
                let nonce = scram_nonce();
                let step =
                    self.session
                        .scram_server_first(&salt, iterations, &nonce, &mut self.conn.out);
                Box::pin(self.perform(step)).await
            }
            Step::Authorized { user, mechanism } => {
                let step = self.enter(user, mechanism).await;
                Box::pin(self.perform(step)).await
            }
            Step::SendMessage {
                index,
                extent,
                status,
            } => self.send_message(index, extent, status).await,
            Step::StartTls => self.start_tls().await,
            Step::Update(indices) => Some(self.update(indices).await),
        }
    }

    async fn authenticate(&mut self, req: AuthRequest) -> Step {
        let shared = Arc::clone(&self.shared);
        let ip = self.peer.ip();
        match shared.auth.admit(ip, self.client_known, &req.user) {
            Admission::After(delay) if !delay.is_zero() => {
                shared.metrics.login_delays.inc();
                tokio::time::sleep(delay).await
            }
            Admission::After(_) => {}
            Admission::Refused => {
                self.count_login(req.mechanism, "refused");
                tracing::info!(remote = %self.peer, user = ?req.user, "login refused unchecked: too many failed logins queued for this address or name");
                tokio::time::sleep(shared.auth.failure_delay()).await;
                return self.session.login_failed(
                    Response::err_code(
                        RespCode::SysTemp,
                        self.session.text("pop3-too-many-failed-logins", &[]),
                    ),
                    &mut self.conn.out,
                );
            }
        }
        // A failure is answered failure_delay after its check began, whatever the scheme
        // and whether the user exists (right after, if the check took longer).
        let checked_at = tokio::time::Instant::now();
        let scram_message = match &req.credential {
            Credential::Scram { auth_message, .. } => Some(auth_message.clone()),
            _ => None,
        };
        let bearer = matches!(req.credential, Credential::Bearer { .. });
        let verdict = shared
            .auth
            .verify(req.user.clone(), req.credential, Some(ip))
            .await;
        let user = match verdict {
            Verdict::Valid(user) => {
                shared.auth.record(ip, self.client_known, &user, true);
                if let Some(m) = scram_message {
                    // The server proves it knows the password too; the maildrop is
                    // opened once the client accepts that (Step::Authorized).
                    if let Some(server_final) = shared.auth.scram_server_final(&user, &m) {
                        return self.session.scram_verified(
                            user,
                            req.mechanism,
                            &server_final,
                            &mut self.conn.out,
                        );
                    }
                }
                user
            }
            Verdict::Invalid => {
                self.count_login(req.mechanism, "failure");
                let wait = shared.auth.record(ip, self.client_known, &req.user, false);
                // Debug formatting: a name from the wire never writes control bytes into the log.
                tracing::info!(remote = %self.peer, user = ?req.user, mechanism = req.mechanism, "authentication failed");
                tokio::time::sleep_until(checked_at + wait).await;
                if bearer {
                    // RFC 7628 §3.2.2: the JSON error first; -ERR after the client's reply.
                    return self
                        .session
                        .bearer_refused(&shared.auth.oauth_challenge(), &mut self.conn.out);
                }
                return self.session.login_failed(
                    Response::err_code(RespCode::Auth, self.session.text("pop3-auth-failed", &[])),
                    &mut self.conn.out,
                );
            }
            Verdict::TwoStepRequired => {
                // Counted as a failure: the main password alone must not be a way to
                // probe the account without the throttle.
                self.count_login(req.mechanism, "two_step_required");
                let wait = shared.auth.record(ip, self.client_known, &req.user, false);
                tracing::info!(remote = %self.peer, user = ?req.user, mechanism = req.mechanism, "main password of an account with two-step verification refused");
                tokio::time::sleep_until(checked_at + wait).await;
                return self.session.login_failed(
                    Response::err_code(
                        RespCode::Auth,
                        self.session.text(
                            "pop3-two-step-required",
                            &[("user", req.user.as_str().into())],
                        ),
                    ),
                    &mut self.conn.out,
                );
            }
            Verdict::Unavailable(why) => {
                self.count_login(req.mechanism, "unavailable");
                tracing::error!(remote = %self.peer, "cannot check credentials: {why}");
                return self.session.login_failed(
                    Response::err_code(
                        RespCode::SysTemp,
                        self.session.text("pop3-auth-unavailable", &[]),
                    ),
                    &mut self.conn.out,
                );
            }
        };
        self.enter(user, req.mechanism).await
    }

    /// Opens the maildrop of a verified user and enters TRANSACTION, or answers why not.
    async fn enter(&mut self, user: String, mechanism: &'static str) -> Step {
        match self.open_mailbox(&user).await {
            Ok(messages) => {
                self.count_login(mechanism, "success");
                self.mechanism = mechanism;
                self.shared
                    .auth
                    .record_login(&user, self.peer.ip(), mechanism);
                self.tracked.set_user(&user);
                self.user = Some(user.clone());
                self.session
                    .login_succeeded(user, messages, &mut self.conn.out)
            }
            Err(reply) => {
                self.count_login(mechanism, "mailbox_refused");
                self.session.login_failed(reply, &mut self.conn.out)
            }
        }
    }

    async fn open_mailbox(&mut self, user: &str) -> Result<Vec<MessageInfo>, Response> {
        let shared = Arc::clone(&self.shared);
        let limits = &shared.config.limits;
        let Some(slot) = shared
            .registry
            .enter_user(user, limits.max_connections_per_user)
        else {
            return Err(Response::err_code(
                RespCode::InUse,
                self.session.text("pop3-too-many-sessions", &[]),
            ));
        };
        if let Some(d) = shared.config.pop3.login_delay {
            if let Some(left) = shared
                .registry
                .login_delay(user, Duration::from_secs(u64::from(d)))
            {
                return Err(Response::err_code(
                    RespCode::LoginDelay,
                    self.session.text(
                        "pop3-login-delay",
                        &[("delay", d.into()), ("wait", left.as_secs().max(1).into())],
                    ),
                ));
            }
        }
        let mut took_over = false;
        let mut takeover_until: Option<tokio::time::Instant> = None;
        loop {
            match shared.store.open_pop3(user).await {
                Ok(store) => {
                    let messages = to_message_infos(store.messages(), self.session.lang())?;
                    self.user_slot = Some(Arc::clone(&slot.slot));
                    self.mailbox = Some(Mailbox { store, _slot: slot });
                    return Ok(messages);
                }
                Err(StoreError::InUse) if !took_over => {
                    // The lock is a lease: a holder silent for longer than `lock_lease`
                    // (a dead client, a lost connection) is ended without deleting anything.
                    let stale = shared
                        .registry
                        .stale_holders(user, &slot.slot, limits.lock_lease);
                    if stale.is_empty() {
                        return Err(Response::err_code(
                            RespCode::InUse,
                            self.session.text("pop3-mailbox-locked", &[]),
                        ));
                    }
                    shared.metrics.lock_takeovers.inc();
                    for s in &stale {
                        tracing::info!(
                            user,
                            "taking over the mailbox from a session idle for {:?}",
                            s.idle_for()
                        );
                        s.kick.notify_one();
                    }
                    took_over = true;
                    // Give the old session a moment to release the lock.
                    for _ in 0..50 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        if shared
                            .registry
                            .stale_holders(user, &slot.slot, Duration::ZERO)
                            .is_empty()
                        {
                            break;
                        }
                    }
                }
                Err(StoreError::InUse) => {
                    // The old session has ended, but a shared store releases its lock
                    // (the lease row) a moment later: try again for a bounded time.
                    let until = *takeover_until
                        .get_or_insert_with(|| tokio::time::Instant::now() + TAKEOVER_WAIT);
                    if tokio::time::Instant::now() < until {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    return Err(Response::err_code(
                        RespCode::InUse,
                        self.session.text("pop3-mailbox-locked", &[]),
                    ));
                }
                Err(e) => {
                    tracing::error!(user, "cannot open mailbox: {e}");
                    self.shared.metrics.store_error("open");
                    let code = if e.is_temporary() {
                        RespCode::SysTemp
                    } else {
                        RespCode::SysPerm
                    };
                    return Err(Response::err_code(
                        code,
                        self.session.text("pop3-mailbox-unavailable", &[]),
                    ));
                }
            }
        }
    }

    async fn send_message(
        &mut self,
        index: usize,
        extent: Extent,
        status: Response,
    ) -> Option<End> {
        let Some(mb) = &self.mailbox else {
            return Some(End::Protocol);
        };
        let mut chunk = if matches!(extent, Extent::Top(_)) {
            TOP_FIRST_CHUNK
        } else {
            MESSAGE_CHUNK
        };
        // The first chunk is read before the +OK, so a message that cannot be read still
        // gets an -ERR.
        let mut reader = match mb.store.open_message(index, chunk).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(remote = %self.peer, "message {} unavailable: {e}", index + 1);
                self.shared.metrics.store_error("read");
                self.session.message_unavailable(&mut self.conn.out);
                return None;
            }
        };
        status.encode(&mut self.conn.out);
        let mut enc = MessageEncoder::new(extent);
        let mut sent: u64 = 0;
        // Bounded: every turn consumes a chunk of the message, and a message ends.
        loop {
            let data = match reader.next_chunk(chunk).await {
                Ok(d) => d,
                Err(e) => {
                    // The +OK is already out: the only honest signal left is to close, so
                    // the client sees a truncated reply and retries.
                    tracing::error!(remote = %self.peer, "read error in message {}: {e}", index + 1);
                    self.shared.metrics.store_error("read");
                    let _ = self.flush().await;
                    return Some(End::Protocol);
                }
            };
            if data.is_empty() {
                break;
            }
            let before = self.conn.out.len();
            enc.encode(data, &mut self.conn.out);
            sent += (self.conn.out.len() - before) as u64;
            if enc.is_done() {
                break;
            }
            if self.conn.out.len() >= FLUSH_AT {
                if self.flush().await.is_err() {
                    return Some(End::WriteFailed);
                }
                if let Some(s) = &self.user_slot {
                    s.touch();
                }
            }
            chunk = (chunk * 4).min(MESSAGE_CHUNK);
        }
        enc.finish(&mut self.conn.out);
        match extent {
            Extent::Whole => {
                self.counters.retr += 1;
                self.counters.retr_bytes += sent;
            }
            Extent::Top(_) => self.counters.top += 1,
        }
        None
    }

    async fn start_tls(&mut self) -> Option<End> {
        if self.flush().await.is_err() {
            return Some(End::WriteFailed);
        }
        match self.conn.start_tls(self.shared.tls.server_config()).await {
            Ok(()) => {
                self.session.tls_started();
                self.session
                    .set_channel_binding(self.conn.channel_binding());
                self.tracked.set_tls(self.conn.tls_version());
                None
            }
            Err(e) => {
                tracing::info!(remote = %self.peer, "STLS handshake failed: {e}");
                self.shared
                    .metrics
                    .tls_handshake_failures
                    .get_or_create(&crate::metrics::ListenerLabel { listener: "pop3" })
                    .inc();
                Some(End::TlsFailed)
            }
        }
    }

    async fn update(&mut self, indices: Vec<usize>) -> End {
        let Some(mb) = self.mailbox.take() else {
            return End::Protocol;
        };
        let result = match mb.store.expunge(indices).await {
            Ok(report) => Ok(report.deleted + report.already_gone),
            Err(e) => {
                tracing::error!(remote = %self.peer, "UPDATE incomplete: {e}");
                self.shared.metrics.store_error("update");
                Err(match &e {
                    StoreError::PartialExpunge {
                        deleted, failed, ..
                    } => format!(
                        "{deleted} deleted, {failed} kept; they will be listed again next time."
                    ),
                    _ => "they will be listed again next time.".to_string(),
                })
            }
        };
        let failed = result.is_err();
        if let Ok(d) = &result {
            self.counters.deleted = *d;
        }
        // Release the lock before answering, so a client that reconnects at once finds
        // the mailbox free (a shared store's lease row included).
        mb.store.release().await;
        drop(mb);
        self.session.update_done(result, &mut self.conn.out);
        let _ = self.flush().await;
        if failed {
            End::QuitUpdateFailed
        } else {
            End::Quit
        }
    }

    /// Adds this session's figures to the server's metrics.
    fn count_end(&self, end: End, listener: &'static str) {
        let m = &self.shared.metrics;
        let c = &self.counters;
        m.sessions
            .get_or_create(&crate::metrics::EndLabels {
                listener,
                tls: match self.conn.tls_version() {
                    "none" if self.proxied_tls => "at-proxy",
                    v => v,
                },
                end: end.as_str(),
            })
            .inc();
        m.retrieved.inc_by(c.retr);
        m.retrieved_bytes.inc_by(c.retr_bytes);
        m.deleted.inc_by(c.deleted as u64);
        let t = &self.shared.totals;
        use std::sync::atomic::Ordering::Relaxed;
        t.retrieved.fetch_add(c.retr, Relaxed);
        t.retrieved_bytes.fetch_add(c.retr_bytes, Relaxed);
        t.deleted.fetch_add(c.deleted as u64, Relaxed);
    }

    /// Counts one login attempt.
    fn count_login(&self, mechanism: &str, result: &'static str) {
        let t = &self.shared.totals;
        match result {
            "success" => t
                .logins_ok
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            _ => t
                .logins_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        self.shared
            .metrics
            .logins
            .get_or_create(&crate::metrics::LoginLabels {
                mechanism: mechanism.to_ascii_uppercase(),
                result,
            })
            .inc();
    }

    fn log_end(&self, end: End) {
        let c = &self.counters;
        tracing::info!(
            target: "buzon::session",
            user = self.user.as_deref().unwrap_or("-"),
            mechanism = self.mechanism,
            remote = %self.peer,
            tls = match self.conn.tls_version() {
                "none" if self.proxied_tls => "at-proxy",
                v => v,
            },
            commands = c.commands,
            retr = c.retr,
            retr_bytes = c.retr_bytes,
            top = c.top,
            deleted = c.deleted,
            end = end.as_str(),
            "pop3 session ended"
        );
    }
}

fn to_message_infos(
    messages: &[buzon_store::MessageMeta],
    lang: buzon_i18n::Lang,
) -> Result<Vec<MessageInfo>, Response> {
    messages
        .iter()
        .map(|m| {
            Uidl::new(m.uidl.clone())
                .map(|uidl| MessageInfo { size: m.size, uidl })
                .ok_or_else(|| {
                    tracing::error!(uidl = %m.uidl, "store produced an invalid UIDL");
                    Response::err_code(
                        RespCode::SysTemp,
                        buzon_i18n::text(lang, "pop3-index-problem", &[]),
                    )
                })
        })
        .collect()
}
