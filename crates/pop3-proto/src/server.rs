//! The server side of a POP3 session as a state machine (RFC 1939 §3–6).
//!
//! It owns its input: the driver [`feed`](ServerSession::feed)s whatever bytes arrive and
//! asks for the [`next_step`](ServerSession::next_step); the session cuts them into lines
//! with the limits of its state and appends replies to an output buffer. Because the
//! input is the session's, an accepted STLS discards everything the client sent after it
//! (RFC 2595 §4, the STLS injection attack) here, whatever the driver does. Whenever a command
//! needs the outside world — checking a password, reading a message file, applying
//! deletions, a TLS handshake — it returns a [`Step`] that tells the driver what to do, and
//! the driver reports back through one of the `*_done`/`login_*` methods. The state enum
//! owns exactly what is valid in each state: the maildrop exists only in `Transaction`.
//! This module must never touch a socket, a file or a clock.

use buzon_i18n::{tl, Arg, Lang};

use crate::command::{parse_command, reason_key, Command, CommandError, InitialResponse};
use crate::line::{LineError, LineLimits, LineReader};
use crate::response::Response;
use crate::sasl::{self, LOGIN_PASS_PROMPT, LOGIN_USER_PROMPT};
use crate::types::{MsgNum, RespCode, Secret, Uidl};
use crate::wire::Extent;

/// Server policy that is the same for every session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Text after "+OK " in the greeting (the APOP timestamp is appended when offered).
    pub greeting: String,
    /// The language of the greeting and of every response before LANG (RFC 6856 §3).
    pub language: Lang,
    /// RFC 2449 §6.9 IMPLEMENTATION capability; `None` keeps the software private.
    pub implementation: Option<String>,
    /// RFC 2449 §6.7 EXPIRE capability value (`"NEVER"`, `"30"`…); `None` omits it.
    pub expire: Option<String>,
    /// RFC 2449 §6.5 LOGIN-DELAY capability, seconds; `None` omits it.
    pub login_delay: Option<u32>,
    /// Unknown or malformed commands tolerated before the connection is closed.
    pub max_bad_commands: u32,
    /// Failed authentications tolerated on one connection before it is closed.
    pub max_auth_failures: u32,
    /// Accept lines ended by a bare LF from broken clients (off by default: RFC 1939
    /// wants CRLF).
    pub lenient_bare_lf: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            greeting: "Buzon ready.".into(),
            language: Lang::En,
            implementation: None,
            expire: None,
            login_delay: None,
            max_bad_commands: 20,
            max_auth_failures: 3,
            lenient_bare_lf: false,
        }
    }
}

/// What is true of this one connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The connection is encrypted (implicit TLS, or STLS completed).
    pub tls_active: bool,
    /// STLS can be offered (a certificate is configured and TLS is not active yet).
    pub stls_available: bool,
    /// Plaintext mechanisms (USER/PASS, AUTH PLAIN/LOGIN) may be used without TLS here
    /// (trusted network such as loopback, or an explicit admin override).
    pub plaintext_without_tls: bool,
    /// The unique `<...@host>` timestamp for APOP, when APOP is possible for some user.
    /// It is offered only where APOP can be accepted (see [`ConnectionInfo::apop_without_tls`]).
    pub apop_timestamp: Option<String>,
    /// APOP is accepted on unencrypted connections from anywhere (`auth.apop = true`).
    /// Otherwise APOP is treated like a plaintext login: a listener who sees the greeting's
    /// timestamp and the digest can guess the password offline, so the digest is accepted
    /// only over TLS or where plaintext logins are allowed, and the timestamp is in the
    /// greeting only when that is, or becomes after STLS, the case.
    pub apop_without_tls: bool,
    /// SCRAM-SHA-256 can succeed for some user (someone has a `{SCRAM-SHA-256}` stored
    /// password). It is offered where PLAIN is: a listener who sees an exchange can guess
    /// the password offline, so it is treated like a plaintext login.
    pub scram: bool,
    /// The TLS session's `tls-exporter` channel binding (RFC 9266), when TLS is active
    /// and can give one: SCRAM-SHA-256-PLUS is offered only then. Set by the driver with
    /// [`ServerSession::set_channel_binding`] after STLS.
    pub channel_binding: Option<Vec<u8>>,
    /// OAuth 2.0 bearer tokens are checked here (`[oauth]`): OAUTHBEARER and XOAUTH2 are
    /// offered where PLAIN is (a token is as good as a password to whoever sees it).
    pub oauth: bool,
}

/// One message as the session sees it: exact wire size and unique-id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    pub size: u64,
    pub uidl: Uidl,
}

/// The credentials a client presented.
#[derive(Debug, Clone)]
pub enum Credential {
    /// USER/PASS, AUTH PLAIN, AUTH LOGIN.
    Password(Secret),
    /// APOP (RFC 1939 §7): the digest of `timestamp` + shared secret.
    Apop { timestamp: String, digest: String },
    /// SCRAM-SHA-256(-PLUS) (RFC 5802): the client's proof over `auth_message`.
    /// `binding_ok` is false when the channel binding the client sent is not this
    /// connection's (a relay in between), which fails the login like a wrong proof.
    Scram {
        auth_message: String,
        proof: Vec<u8>,
        binding_ok: bool,
    },
    /// OAUTHBEARER or XOAUTH2: a token, and the user the client named (if any). A token
    /// the driver refuses is answered with [`ServerSession::bearer_refused`].
    Bearer { token: Secret, user: Option<String> },
}

/// A login attempt for the driver to check.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub user: String,
    pub credential: Credential,
    /// "USER", "APOP", "PLAIN", "LOGIN", "SCRAM-SHA-256" or "SCRAM-SHA-256-PLUS" (for
    /// logs).
    pub mechanism: &'static str,
}

/// What the driver must do after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Replies (if any) are in the output; read the next line.
    Continue,
    /// Send the output, then close the connection.
    Close,
    /// Check the credentials, open the maildrop, then call [`ServerSession::login_succeeded`]
    /// or [`ServerSession::login_failed`]. For SCRAM, a valid proof is answered with
    /// [`ServerSession::scram_verified`] first, and the maildrop opened at
    /// [`Step::Authorized`].
    Authenticate,
    /// SCRAM: find the user's salt and iteration count (made-up but stable ones for a
    /// user who has none, so the reply does not tell), then call
    /// [`ServerSession::scram_server_first`] with them and a fresh random nonce.
    ScramParams { user: String },
    /// The credentials were verified earlier in this exchange (SCRAM, after the client
    /// accepted the server's signature): open the maildrop, then call
    /// [`ServerSession::login_succeeded`] or [`ServerSession::login_failed`].
    Authorized {
        user: String,
        mechanism: &'static str,
    },
    /// Send `status`, then message `index` encoded with `extent`, then ".\r\n". If the file
    /// cannot be opened, call [`ServerSession::message_unavailable`] instead.
    SendMessage {
        index: usize,
        extent: Extent,
        status: Response,
    },
    /// Send the output (the +OK to STLS), run the TLS handshake, then call
    /// [`ServerSession::tls_started`]. Discard any bytes the client sent before it.
    StartTls,
    /// RFC 1939 §6 UPDATE: remove these messages (0-based indices) from the maildrop, then
    /// call [`ServerSession::update_done`]. Nothing is to be removed in any other case.
    Update(Vec<usize>),
}

#[derive(Debug)]
enum Sasl {
    Plain,
    LoginUser,
    LoginPass {
        user: String,
    },
    /// Waiting for the client-first message.
    ScramFirst {
        plus: bool,
    },
    /// Waiting for the client-final message.
    ScramFinal(Box<ScramExchange>),
    /// The server signature was sent; waiting for the client's empty response.
    ScramDone {
        user: String,
        mechanism: &'static str,
    },
    /// Waiting for an OAUTHBEARER or XOAUTH2 response.
    Bearer {
        mechanism: &'static str,
    },
    /// The RFC 7628 error challenge was sent; the client's dummy response ends the
    /// exchange with `-ERR [AUTH]`.
    BearerRefused,
}

/// A SCRAM exchange under way.
#[derive(Debug)]
struct ScramExchange {
    plus: bool,
    first: sasl::ScramClientFirst,
    /// The server-first message, once sent.
    server_first: String,
    /// The client's nonce followed by the server's.
    nonce: String,
}

#[derive(Debug)]
struct Maildrop {
    user: String,
    messages: Vec<MessageInfo>,
    deleted: Vec<bool>,
    deleted_count: usize,
    deleted_octets: u64,
    total_octets: u64,
}

impl Maildrop {
    /// The live message for a number, or the exact `-ERR` for why not.
    fn live(&self, n: MsgNum, lang: Lang) -> Result<(usize, &MessageInfo), Response> {
        let i = n.index();
        match self.messages.get(i) {
            None => Err(Response::err(tl!(
                lang,
                "pop3-no-such-message",
                msg = n.get(),
                count = self.messages.len()
            ))),
            Some(_) if self.deleted[i] => Err(Response::err(tl!(
                lang,
                "pop3-message-deleted",
                msg = n.get()
            ))),
            Some(m) => Ok((i, m)),
        }
    }
    /// Writes a multi-line listing (LIST, UIDL): "n value" for every live message, then
    /// the terminator. `value` appends the message's value to the line.
    fn listing(&self, out: &mut Vec<u8>, value: impl Fn(&MessageInfo, &mut Vec<u8>)) {
        out.reserve(self.live_count() * 24 + 3);
        for (i, msg) in self.messages.iter().enumerate() {
            if !self.deleted[i] {
                push_num(out, i as u64 + 1);
                out.push(b' ');
                value(msg, out);
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b".\r\n");
    }

    fn live_count(&self) -> usize {
        self.messages.len() - self.deleted_count
    }
    fn live_octets(&self) -> u64 {
        self.total_octets - self.deleted_octets
    }
}

#[derive(Debug)]
enum State {
    /// RFC 1939 §4; `user` is the name given by USER, waiting for PASS.
    Authorization { user: Option<String> },
    /// Inside an AUTH exchange (RFC 5034): the next line is a SASL response.
    SaslExchange(Sasl),
    /// Waiting for the driver to check credentials.
    Authenticating,
    /// Waiting for the driver's SCRAM parameters ([`Step::ScramParams`]).
    ScramLookup(Box<ScramExchange>),
    /// RFC 1939 §5.
    Transaction(Maildrop),
    /// QUIT received in TRANSACTION; waiting for the driver to apply deletions.
    Update { user: String },
    /// Nothing more will be read.
    Closed,
}

/// The session state machine. See the module documentation.
#[derive(Debug)]
pub struct ServerSession {
    config: std::sync::Arc<SessionConfig>,
    conn: ConnectionInfo,
    state: State,
    pending: Option<AuthRequest>,
    bad_commands: u32,
    auth_failures: u32,
    utf8: bool,
    /// The language of response texts: the configured default until LANG changes it.
    lang: Lang,
    /// What the client sent that is not yet a complete line.
    input: LineReader,
    /// STLS was accepted and the handshake has not finished: input is not taken.
    awaiting_tls: bool,
    /// The keyword of the command handled last (see [`ServerSession::last_command`]).
    last_command: Option<&'static str>,
}

/// The SCRAM mechanisms (RFC 7677; -PLUS with RFC 9266 `tls-exporter`).
const SCRAM: &str = "SCRAM-SHA-256";
const SCRAM_PLUS: &str = "SCRAM-SHA-256-PLUS";
/// Bearer token mechanisms (RFC 7628; Google's and Microsoft's XOAUTH2).
const OAUTHBEARER: &str = "OAUTHBEARER";
const XOAUTH2: &str = "XOAUTH2";

/// Why APOP is refused on an unencrypted connection (catalog key).
const APOP_NEEDS_TLS: &str = "pop3-apop-needs-tls";

/// Dovecot's wording in English, which users search for (catalog key).
const PLAINTEXT_DISALLOWED: &str = "pop3-plaintext-disallowed";

impl ServerSession {
    pub fn new(config: std::sync::Arc<SessionConfig>, conn: ConnectionInfo) -> Self {
        let lang = config.language;
        Self {
            config,
            conn,
            state: State::Authorization { user: None },
            pending: None,
            bad_commands: 0,
            auth_failures: 0,
            utf8: false,
            lang,
            input: LineReader::new(LineLimits::COMMAND),
            awaiting_tls: false,
            last_command: None,
        }
    }

    /// Bytes from the client, in any pieces. Ignored between an accepted STLS and
    /// [`tls_started`](Self::tls_started): nothing sent in the clear then may become a
    /// command inside TLS.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.awaiting_tls {
            self.input.feed(bytes);
        }
    }

    /// Handles the next complete line of input, if there is one (RFC 2449 §6.6
    /// PIPELINING: lines are answered one by one, in order). `None`: more input is
    /// needed; also while a step that needs the driver (a login check, a TLS handshake)
    /// is outstanding.
    pub fn next_step(&mut self, out: &mut Vec<u8>) -> Option<Step> {
        if self.awaiting_tls || self.pending.is_some() || self.is_closed() {
            return None;
        }
        let limits = self.line_limits(self.command_limits());
        self.input.set_limits(limits);
        let step = match self.input.next_line()? {
            Ok(line) => self.handle_line(&line, out),
            Err(e) => self.line_error(e, out),
        };
        Some(step)
    }

    /// The keyword of the command the last [`ServerSession::next_step`] handled
    /// (`"(invalid)"` for a line that was not a command; `None` for a SASL response or
    /// before any), for counting commands by name.
    pub fn last_command(&self) -> Option<&'static str> {
        self.last_command
    }

    /// The language of this session's response texts (RFC 6856 §3).
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Catalog text `key` in this session's language, for replies the driver builds.
    pub fn text(&self, key: &str, args: &[(&str, Arg)]) -> String {
        buzon_i18n::text(self.lang, key, args)
    }

    fn say(&self, key: &str) -> String {
        buzon_i18n::text(self.lang, key, &[])
    }

    /// Gives back memory an idle session does not need.
    pub fn shrink_input(&mut self) {
        self.input.shrink();
    }

    fn command_limits(&self) -> LineLimits {
        LineLimits {
            allow_bare_lf: self.config.lenient_bare_lf,
            ..LineLimits::COMMAND
        }
    }

    /// Appends the greeting (RFC 1939 §4), with the APOP timestamp when APOP is offered.
    pub fn greeting(&self, out: &mut Vec<u8>) {
        let text = match self.apop_offered() {
            Some(ts) => format!("{} {ts}", self.config.greeting),
            None => self.config.greeting.clone(),
        };
        Response::ok(text).encode(out);
    }

    /// The authenticated user, once in TRANSACTION or UPDATE.
    pub fn user(&self) -> Option<&str> {
        match &self.state {
            State::Transaction(m) => Some(&m.user),
            State::Update { user } => Some(user),
            _ => None,
        }
    }

    /// The user name of the login under way (between [`Step::Authenticate`] and its result).
    pub fn pending_auth(&self) -> Option<&AuthRequest> {
        self.pending.as_ref()
    }

    /// Takes the login under way (the driver may move its secret into a worker thread).
    pub fn take_pending_auth(&mut self) -> Option<AuthRequest> {
        self.pending.take()
    }

    pub fn is_transaction(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The next line is a SASL response, which may be longer than a command line.
    pub fn expects_sasl_response(&self) -> bool {
        matches!(self.state, State::SaslExchange(_))
    }

    /// The limits for the next line: `commands` normally, the SASL limits inside an AUTH
    /// exchange (keeping the command limits' bare-LF leniency).
    pub fn line_limits(&self, commands: LineLimits) -> LineLimits {
        if self.expects_sasl_response() {
            LineLimits {
                allow_bare_lf: commands.allow_bare_lf,
                ..LineLimits::SASL_RESPONSE
            }
        } else {
            commands
        }
    }

    pub fn tls_active(&self) -> bool {
        self.conn.tls_active
    }

    fn plaintext_ok(&self) -> bool {
        self.conn.tls_active || self.conn.plaintext_without_tls
    }

    /// The SASL mechanisms that can succeed here, strongest last as Dovecot lists them;
    /// empty where no password may be sent ([`Self::plaintext_ok`]).
    fn mechanisms(&self) -> Vec<&'static str> {
        if !self.plaintext_ok() {
            return Vec::new();
        }
        let mut m = vec!["PLAIN", "LOGIN"];
        if self.conn.oauth {
            m.push(OAUTHBEARER);
            m.push(XOAUTH2);
        }
        if self.conn.scram {
            m.push(SCRAM);
            if self.scram_plus_possible() {
                m.push(SCRAM_PLUS);
            }
        }
        m
    }

    /// -PLUS needs TLS and its exporter.
    fn scram_plus_possible(&self) -> bool {
        self.conn.tls_active && self.conn.channel_binding.is_some()
    }

    /// The driver's channel binding for the TLS session just started (RFC 9266
    /// `tls-exporter`), or `None` when it cannot give one.
    pub fn set_channel_binding(&mut self, binding: Option<Vec<u8>>) {
        self.conn.channel_binding = binding;
    }

    /// The APOP timestamp, when APOP can be accepted on this connection as it stands or
    /// after STLS. The greeting goes out before STLS, so on a port with STLS it shows the
    /// timestamp to a passive listener too; that is harmless, as the digest that goes
    /// with it is accepted only inside TLS ([`Self::apop_accepted`]).
    fn apop_offered(&self) -> Option<&String> {
        self.conn.apop_timestamp.as_ref().filter(|_| {
            self.conn.apop_without_tls || self.plaintext_ok() || self.conn.stls_available
        })
    }

    /// An APOP digest may be checked here now.
    fn apop_accepted(&self) -> bool {
        self.conn.apop_without_tls || self.plaintext_ok()
    }

    /// Writes the CAPA list (RFC 2449 §5) truthful for this connection and state.
    fn capabilities(&self, out: &mut Vec<u8>) {
        Response::ok(self.say("pop3-capa")).encode(out);
        let mut caps: Vec<String> = vec![
            "CAPA".into(),
            "TOP".into(),
            "UIDL".into(),
            "RESP-CODES".into(),
            "AUTH-RESP-CODE".into(),
            "PIPELINING".into(),
        ];
        let authorization = !matches!(self.state, State::Transaction(_));
        // RFC 2449 §5: capabilities of the AUTHORIZATION state are announced in both
        // states; STLS is left out once it can no longer be used (RFC 2595 §4).
        if self.plaintext_ok() {
            caps.push("USER".into());
            caps.push(format!("SASL {}", self.mechanisms().join(" ")));
        }
        if authorization && self.conn.stls_available && !self.conn.tls_active {
            caps.push("STLS".into());
        }
        caps.push("UTF8".into());
        caps.push("LANG".into());
        if let Some(e) = &self.config.expire {
            caps.push(format!("EXPIRE {e}"));
        }
        if let Some(d) = self.config.login_delay {
            caps.push(format!("LOGIN-DELAY {d}"));
        }
        if let Some(i) = &self.config.implementation {
            caps.push(format!("IMPLEMENTATION {i}"));
        }
        for c in caps {
            out.extend_from_slice(c.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }

    /// Handles a line-level problem reported by the line reader.
    fn line_error(&mut self, err: LineError, out: &mut Vec<u8>) -> Step {
        match err {
            LineError::Runaway => {
                Response::err(self.say("pop3-line-runaway")).encode(out);
                self.state = State::Closed;
                Step::Close
            }
            LineError::TooLong => {
                if matches!(self.state, State::SaslExchange(_)) {
                    self.state = State::Authorization { user: None };
                    Response::err(self.say("pop3-sasl-too-long")).encode(out);
                    return Step::Continue;
                }
                self.bad(Response::err(self.say("pop3-line-too-long")), out)
            }
            LineError::BareLf => {
                // The -ERR ends an AUTH exchange too (RFC 5034 §4): the next line is a command.
                if matches!(self.state, State::SaslExchange(_)) {
                    self.state = State::Authorization { user: None };
                }
                self.bad(Response::err(self.say("pop3-bare-lf")), out)
            }
        }
    }

    fn bad(&mut self, resp: Response, out: &mut Vec<u8>) -> Step {
        self.bad_commands += 1;
        if self.bad_commands >= self.config.max_bad_commands {
            Response::err(self.say("pop3-too-many-bad")).encode(out);
            self.state = State::Closed;
            return Step::Close;
        }
        resp.encode(out);
        Step::Continue
    }

    /// Handles one complete line (without CRLF).
    fn handle_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Step {
        if let State::SaslExchange(_) = self.state {
            self.last_command = None;
            return self.sasl_response(line, out);
        }
        match parse_command(line) {
            Ok(cmd) => {
                self.last_command = Some(cmd.keyword());
                self.handle_command(cmd, out)
            }
            Err(e) => {
                self.last_command = Some("(invalid)");
                let text = self.command_error_text(&e);
                self.bad(Response::err(text), out)
            }
        }
    }

    fn handle_command(&mut self, cmd: Command, out: &mut Vec<u8>) -> Step {
        // Commands valid in every state that takes commands.
        match &cmd {
            Command::Capa => {
                self.capabilities(out);
                return Step::Continue;
            }
            Command::Quit => return self.quit(out),
            _ => {}
        }
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Authorization { user } => self.authorization(user, cmd, out),
            State::Transaction(mut m) => {
                let step = self.transaction(&mut m, cmd, out);
                // Meanwhile `self.state` holds the placeholder `Closed`: put the maildrop
                // back unless the command ended the session (too many bad commands).
                if step != Step::Close && !matches!(self.state, State::Update { .. }) {
                    self.state = State::Transaction(m);
                }
                step
            }
            other => {
                // Lines are not fed while the driver works on a step; if they are, refuse.
                self.state = other;
                Response::err(self.say("pop3-not-allowed-now")).encode(out);
                Step::Continue
            }
        }
    }

    fn quit(&mut self, out: &mut Vec<u8>) -> Step {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Transaction(m) => {
                let doomed: Vec<usize> = m
                    .deleted
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| **d)
                    .map(|(i, _)| i)
                    .collect();
                self.state = State::Update { user: m.user };
                Step::Update(doomed)
            }
            _ => {
                // RFC 1939 §4: QUIT in AUTHORIZATION ends the session without UPDATE.
                Response::ok(self.say("pop3-logout")).encode(out);
                Step::Close
            }
        }
    }

    fn authorization(&mut self, user: Option<String>, cmd: Command, out: &mut Vec<u8>) -> Step {
        self.state = State::Authorization { user: None };
        match cmd {
            Command::User(name) => {
                if !self.plaintext_ok() {
                    Response::err_code(RespCode::Auth, self.say(PLAINTEXT_DISALLOWED)).encode(out);
                    return Step::Continue;
                }
                // RFC 1939 §7: the reply must not reveal whether the user exists.
                self.state = State::Authorization { user: Some(name) };
                Response::ok("").encode(out);
                Step::Continue
            }
            Command::Pass(secret) => {
                if !self.plaintext_ok() {
                    Response::err_code(RespCode::Auth, self.say(PLAINTEXT_DISALLOWED)).encode(out);
                    return Step::Continue;
                }
                match user {
                    None => self.bad(Response::err(self.say("pop3-no-username")), out),
                    Some(u) => self.begin_auth(u, Credential::Password(secret), "USER"),
                }
            }
            Command::Apop { user, digest } => match self.apop_offered() {
                Some(_) if !self.apop_accepted() => {
                    Response::err_code(RespCode::Auth, self.say(APOP_NEEDS_TLS)).encode(out);
                    Step::Continue
                }
                Some(ts) => {
                    let credential = Credential::Apop {
                        timestamp: ts.clone(),
                        digest,
                    };
                    self.begin_auth(user, credential, "APOP")
                }
                None => self.bad(Response::err(self.say("pop3-apop-unavailable")), out),
            },
            Command::Auth {
                mechanism: None, ..
            } => {
                // RFC 1734 style listing, which Outlook sends before choosing.
                Response::ok("").encode(out);
                if self.plaintext_ok() {
                    for m in self.mechanisms() {
                        out.extend_from_slice(m.as_bytes());
                        out.extend_from_slice(b"\r\n");
                    }
                }
                out.extend_from_slice(b".\r\n");
                Step::Continue
            }
            Command::Auth {
                mechanism: Some(mech),
                initial,
            } => self.auth(mech, initial, out),
            Command::Stls => {
                if self.conn.tls_active {
                    self.bad(Response::err(self.say("pop3-tls-already")), out)
                } else if !self.conn.stls_available {
                    self.bad(Response::err(self.say("pop3-stls-unavailable")), out)
                } else {
                    Response::ok(self.say("pop3-stls-begin")).encode(out);
                    // RFC 2595 §4: whatever follows STLS in the clear is dropped, now and
                    // until the handshake is done.
                    self.input.clear();
                    self.awaiting_tls = true;
                    Step::StartTls
                }
            }
            Command::Utf8 => {
                self.utf8 = true;
                self.state = State::Authorization { user };
                Response::ok(self.say("pop3-utf8-enabled")).encode(out);
                Step::Continue
            }
            Command::Lang(range) => {
                self.state = State::Authorization { user };
                self.lang_command(range, out)
            }
            other => {
                self.state = State::Authorization { user };
                let text = tl!(self.lang, "pop3-login-first", command = other.keyword());
                self.bad(Response::err(text), out)
            }
        }
    }

    fn auth(&mut self, mech: String, initial: Option<InitialResponse>, out: &mut Vec<u8>) -> Step {
        let scram = mech == SCRAM || mech == SCRAM_PLUS;
        let bearer = mech == OAUTHBEARER || mech == XOAUTH2;
        let known = mech == "PLAIN" || mech == "LOGIN" || scram || bearer;
        if !known {
            return self.bad(Response::err(self.say("pop3-unsupported-mechanism")), out);
        }
        if !self.plaintext_ok() {
            Response::err_code(RespCode::Auth, self.say(PLAINTEXT_DISALLOWED)).encode(out);
            return Step::Continue;
        }
        if (scram || bearer) && !self.mechanisms().contains(&mech.as_str()) {
            return self.bad(Response::err(self.say("pop3-unsupported-mechanism")), out);
        }
        let decoded = match &initial {
            None => None,
            Some(InitialResponse::Empty) => Some(Secret::default()),
            Some(InitialResponse::Base64(b64)) => match sasl::decode_base64(b64.expose()) {
                Ok(d) => Some(d),
                Err(e) => return self.bad(Response::err(self.sasl_error_text(&e)), out),
            },
        };
        let bearer_mech = if mech == OAUTHBEARER {
            OAUTHBEARER
        } else {
            XOAUTH2
        };
        match (mech.as_str(), decoded) {
            (OAUTHBEARER | XOAUTH2, None) => {
                self.state = State::SaslExchange(Sasl::Bearer {
                    mechanism: bearer_mech,
                });
                out.extend_from_slice(b"+ \r\n");
                Step::Continue
            }
            (OAUTHBEARER | XOAUTH2, Some(msg)) => self.bearer(bearer_mech, msg.expose(), out),
            (SCRAM | SCRAM_PLUS, None) => {
                self.state = State::SaslExchange(Sasl::ScramFirst {
                    plus: mech == SCRAM_PLUS,
                });
                out.extend_from_slice(b"+ \r\n");
                Step::Continue
            }
            (SCRAM | SCRAM_PLUS, Some(msg)) => {
                self.scram_first(mech == SCRAM_PLUS, msg.expose(), out)
            }
            ("PLAIN", None) => {
                self.state = State::SaslExchange(Sasl::Plain);
                out.extend_from_slice(b"+ \r\n");
                Step::Continue
            }
            ("PLAIN", Some(msg)) => self.plain(msg.expose(), out),
            (_, Some(user)) => self.login_user(user.expose(), out),
            (_, None) => {
                self.state = State::SaslExchange(Sasl::LoginUser);
                out.extend_from_slice(format!("+ {LOGIN_USER_PROMPT}\r\n").as_bytes());
                Step::Continue
            }
        }
    }

    fn plain(&mut self, msg: &[u8], out: &mut Vec<u8>) -> Step {
        match sasl::parse_plain(msg) {
            Ok(c) => {
                if c.authzid.as_deref().is_some_and(|z| z != c.authcid) {
                    // No proxy authorization: acting as another user is never allowed.
                    self.state = State::Authorization { user: None };
                    return self.login_failed_inner(
                        Response::err_code(RespCode::Auth, self.say("pop3-auth-failed")),
                        out,
                    );
                }
                self.begin_auth(c.authcid, Credential::Password(c.password), "PLAIN")
            }
            Err(e) => {
                self.state = State::Authorization { user: None };
                self.bad(Response::err(self.sasl_error_text(&e)), out)
            }
        }
    }

    fn login_user(&mut self, user: &[u8], out: &mut Vec<u8>) -> Step {
        match std::str::from_utf8(user) {
            Ok(u) if !u.is_empty() => {
                self.state = State::SaslExchange(Sasl::LoginPass {
                    user: u.to_string(),
                });
                out.extend_from_slice(format!("+ {LOGIN_PASS_PROMPT}\r\n").as_bytes());
                Step::Continue
            }
            _ => {
                self.state = State::Authorization { user: None };
                self.bad(Response::err(self.say("pop3-login-bad-user")), out)
            }
        }
    }

    fn sasl_response(&mut self, line: &[u8], out: &mut Vec<u8>) -> Step {
        let State::SaslExchange(exchange) =
            std::mem::replace(&mut self.state, State::Authorization { user: None })
        else {
            return Step::Continue;
        };
        if line == b"*" {
            // RFC 5034 §4: the client cancels; the server must reject the AUTH command.
            Response::err(self.say("pop3-auth-aborted")).encode(out);
            return Step::Continue;
        }
        let data = match sasl::decode_base64(line) {
            Ok(d) => d,
            Err(e) => return self.bad(Response::err(self.sasl_error_text(&e)), out),
        };
        match exchange {
            Sasl::Plain => self.plain(data.expose(), out),
            Sasl::LoginUser => self.login_user(data.expose(), out),
            Sasl::LoginPass { user } => self.begin_auth(user, Credential::Password(data), "LOGIN"),
            Sasl::ScramFirst { plus } => self.scram_first(plus, data.expose(), out),
            Sasl::ScramFinal(x) => self.scram_final(*x, data.expose(), out),
            Sasl::Bearer { mechanism } => self.bearer(mechanism, data.expose(), out),
            Sasl::BearerRefused => self.login_failed_inner(
                Response::err_code(RespCode::Auth, self.say("pop3-auth-failed")),
                out,
            ),
            Sasl::ScramDone { user, mechanism } => {
                if !data.expose().is_empty() {
                    return self.bad(Response::err(self.say("sasl-scram-malformed")), out);
                }
                Step::Authorized { user, mechanism }
            }
        }
    }

    /// An OAUTHBEARER or XOAUTH2 message: the token goes to the driver.
    fn bearer(&mut self, mechanism: &'static str, msg: &[u8], out: &mut Vec<u8>) -> Step {
        let parsed = if mechanism == OAUTHBEARER {
            sasl::parse_oauthbearer(msg)
        } else {
            sasl::parse_xoauth2(msg)
        };
        match parsed {
            Ok(c) => self.begin_auth(
                c.user.clone().unwrap_or_default(),
                Credential::Bearer {
                    token: c.token,
                    user: c.user,
                },
                mechanism,
            ),
            Err(e) => {
                self.state = State::Authorization { user: None };
                self.bad(Response::err(self.sasl_error_text(&e)), out)
            }
        }
    }

    /// The driver refused a bearer token: RFC 7628 §3.2.2 sends the JSON error as a
    /// challenge, the client answers with a dummy response (`\x01`), and the exchange
    /// ends with `-ERR [AUTH]`. XOAUTH2 clients answer the same way (with an empty line).
    pub fn bearer_refused(&mut self, challenge_json: &str, out: &mut Vec<u8>) -> Step {
        self.pending = None;
        out.extend_from_slice(b"+ ");
        out.extend_from_slice(sasl::encode_base64(challenge_json.as_bytes()).as_bytes());
        out.extend_from_slice(b"\r\n");
        self.state = State::SaslExchange(Sasl::BearerRefused);
        Step::Continue
    }

    /// The client-first message: checks the GS2 header against the mechanism and this
    /// connection (RFC 5802 §6), then asks the driver for the user's parameters.
    fn scram_first(&mut self, plus: bool, msg: &[u8], out: &mut Vec<u8>) -> Step {
        let first = match sasl::parse_scram_client_first(msg) {
            Ok(f) => f,
            Err(e) => {
                self.state = State::Authorization { user: None };
                return self.bad(Response::err(self.sasl_error_text(&e)), out);
            }
        };
        let binding_fits = match (&first.binding, plus) {
            (sasl::ScramBinding::Uses(t), true) => t == sasl::TLS_EXPORTER,
            (sasl::ScramBinding::NotSupported, false) => true,
            // "y": the client could bind but believes the server cannot. If this server
            // offers -PLUS here, someone removed it from the list on the way: refuse.
            (sasl::ScramBinding::ClientOnly, false) => !self.scram_plus_possible(),
            _ => false,
        };
        let other_user = first.authzid.as_deref().is_some_and(|z| z != first.user);
        if !binding_fits || other_user {
            self.state = State::Authorization { user: None };
            return self.login_failed_inner(
                Response::err_code(RespCode::Auth, self.say("pop3-auth-failed")),
                out,
            );
        }
        let user = first.user.clone();
        self.state = State::ScramLookup(Box::new(ScramExchange {
            plus,
            first,
            server_first: String::new(),
            nonce: String::new(),
        }));
        Step::ScramParams { user }
    }

    /// The driver's answer to [`Step::ScramParams`]: the user's salt and iteration count
    /// and a fresh server nonce (printable ASCII without ','). Sends the server-first
    /// message.
    pub fn scram_server_first(
        &mut self,
        salt: &[u8],
        iterations: u32,
        server_nonce: &str,
        out: &mut Vec<u8>,
    ) -> Step {
        let State::ScramLookup(mut x) =
            std::mem::replace(&mut self.state, State::Authorization { user: None })
        else {
            return Step::Continue;
        };
        x.nonce = format!("{}{server_nonce}", x.first.nonce);
        x.server_first = format!(
            "r={},s={},i={iterations}",
            x.nonce,
            sasl::encode_base64(salt)
        );
        out.extend_from_slice(b"+ ");
        out.extend_from_slice(sasl::encode_base64(x.server_first.as_bytes()).as_bytes());
        out.extend_from_slice(b"\r\n");
        self.state = State::SaslExchange(Sasl::ScramFinal(x));
        Step::Continue
    }

    /// The client-final message: the nonce and channel binding are checked here, the
    /// proof by the driver ([`Credential::Scram`]).
    fn scram_final(&mut self, x: ScramExchange, msg: &[u8], out: &mut Vec<u8>) -> Step {
        let fin = match sasl::parse_scram_client_final(msg) {
            Ok(f) => f,
            Err(e) => return self.bad(Response::err(self.sasl_error_text(&e)), out),
        };
        if fin.nonce != x.nonce {
            return self.login_failed_inner(
                Response::err_code(RespCode::Auth, self.say("pop3-auth-failed")),
                out,
            );
        }
        let mut expected = x.first.gs2_header.as_bytes().to_vec();
        if x.plus {
            match &self.conn.channel_binding {
                Some(b) => expected.extend_from_slice(b),
                None => expected.clear(),
            }
        }
        let binding_ok =
            !expected.is_empty() && sasl::constant_time_eq(&expected, &fin.binding_data);
        let auth_message = format!("{},{},{}", x.first.bare, x.server_first, fin.without_proof);
        self.begin_auth(
            x.first.user,
            Credential::Scram {
                auth_message,
                proof: fin.proof,
                binding_ok,
            },
            if x.plus { SCRAM_PLUS } else { SCRAM },
        )
    }

    /// The driver verified a SCRAM proof: sends the server's signature as the final
    /// challenge (RFC 5034 §4: no additional data with success); the client answers with
    /// an empty line, and then [`Step::Authorized`] asks the driver to open the maildrop.
    /// `user` is the canonical name the driver verified, `mechanism` the request's.
    pub fn scram_verified(
        &mut self,
        user: String,
        mechanism: &'static str,
        server_final: &str,
        out: &mut Vec<u8>,
    ) -> Step {
        self.pending = None;
        out.extend_from_slice(b"+ ");
        out.extend_from_slice(sasl::encode_base64(server_final.as_bytes()).as_bytes());
        out.extend_from_slice(b"\r\n");
        self.state = State::SaslExchange(Sasl::ScramDone { user, mechanism });
        Step::Continue
    }

    fn begin_auth(
        &mut self,
        user: String,
        credential: Credential,
        mechanism: &'static str,
    ) -> Step {
        self.pending = Some(AuthRequest {
            user,
            credential,
            mechanism,
        });
        self.state = State::Authenticating;
        Step::Authenticate
    }

    /// RFC 6856 §3 LANG, valid in AUTHORIZATION and TRANSACTION. Without an argument:
    /// the multi-line listing "tag description". With a language range: the language the
    /// range matches (RFC 4647 lookup; `*` is the server's default), answered in the new
    /// language as "+OK tag text"; an unsupported one is refused and changes nothing.
    fn lang_command(&mut self, range: Option<String>, out: &mut Vec<u8>) -> Step {
        let Some(range) = range else {
            Response::ok(self.say("pop3-lang-list")).encode(out);
            for l in Lang::ALL {
                out.extend_from_slice(l.tag().as_bytes());
                out.push(b' ');
                out.extend_from_slice(l.native_name().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b".\r\n");
            return Step::Continue;
        };
        let chosen = if range == "*" {
            Some(self.config.language)
        } else {
            Lang::from_tag(&range)
        };
        match chosen {
            Some(lang) => {
                self.lang = lang;
                let text = format!("{} {}", lang.tag(), self.say("pop3-lang-changed"));
                Response::ok(text).encode(out);
                Step::Continue
            }
            None => {
                let text = tl!(self.lang, "pop3-lang-unsupported", range = range);
                self.bad(Response::err(text), out)
            }
        }
    }

    /// The `-ERR` text of a command line that did not parse.
    fn command_error_text(&self, e: &CommandError) -> String {
        let (key, args) = e.message();
        let args: Vec<(&str, Arg)> = args
            .into_iter()
            .map(|(name, value)| {
                let value = match (name, reason_key(&value)) {
                    ("reason", Some(k)) => self.say(k),
                    _ => value,
                };
                (name, Arg::from(value))
            })
            .collect();
        buzon_i18n::text(self.lang, key, &args)
    }

    fn sasl_error_text(&self, e: &sasl::SaslError) -> String {
        match e.message_key() {
            Some(key) => self.say(key),
            None => e.to_string(),
        }
    }

    /// The driver verified the credentials and opened the maildrop: enter TRANSACTION.
    pub fn login_succeeded(
        &mut self,
        user: String,
        messages: Vec<MessageInfo>,
        out: &mut Vec<u8>,
    ) -> Step {
        self.pending = None;
        let total_octets = messages.iter().map(|m| m.size).sum();
        let n = messages.len();
        self.state = State::Transaction(Maildrop {
            user,
            deleted: vec![false; n],
            messages,
            deleted_count: 0,
            deleted_octets: 0,
            total_octets,
        });
        Response::ok(self.say("pop3-logged-in")).encode(out);
        Step::Continue
    }

    /// The login did not succeed; `reply` carries the code (`[AUTH]`, `[IN-USE]`,
    /// `[SYS/TEMP]`, `[LOGIN-DELAY]`…). Too many failures close the connection.
    pub fn login_failed(&mut self, reply: Response, out: &mut Vec<u8>) -> Step {
        self.pending = None;
        self.state = State::Authorization { user: None };
        self.login_failed_inner(reply, out)
    }

    fn login_failed_inner(&mut self, reply: Response, out: &mut Vec<u8>) -> Step {
        reply.encode(out);
        if reply.code == Some(RespCode::Auth) {
            self.auth_failures += 1;
            if self.auth_failures >= self.config.max_auth_failures {
                self.state = State::Closed;
                return Step::Close;
            }
        }
        Step::Continue
    }

    /// The TLS handshake after STLS succeeded. RFC 2595 §4: forget everything learned
    /// from the client before it.
    pub fn tls_started(&mut self) {
        self.input.clear();
        self.awaiting_tls = false;
        self.conn.tls_active = true;
        self.state = State::Authorization { user: None };
        self.utf8 = false;
        // The language is part of what the client set in the clear: back to the default.
        self.lang = self.config.language;
    }

    fn transaction(&mut self, m: &mut Maildrop, cmd: Command, out: &mut Vec<u8>) -> Step {
        match cmd {
            Command::Stat => {
                Response::ok(format!("{} {}", m.live_count(), m.live_octets())).encode(out);
            }
            Command::List(None) => {
                Response::ok(tl!(
                    self.lang,
                    "pop3-list",
                    count = m.live_count(),
                    octets = m.live_octets()
                ))
                .encode(out);
                m.listing(out, |msg, line| push_num(line, msg.size));
            }
            Command::List(Some(n)) => match m.live(n, self.lang) {
                Ok((_, msg)) => Response::ok(format!("{n} {}", msg.size)).encode(out),
                Err(e) => e.encode(out),
            },
            Command::Uidl(None) => {
                Response::ok("").encode(out);
                m.listing(out, |msg, line| {
                    line.extend_from_slice(msg.uidl.as_str().as_bytes())
                });
            }
            Command::Uidl(Some(n)) => match m.live(n, self.lang) {
                Ok((_, msg)) => Response::ok(format!("{n} {}", msg.uidl)).encode(out),
                Err(e) => e.encode(out),
            },
            Command::Retr(n) => match m.live(n, self.lang) {
                Ok((index, msg)) => {
                    let status = Response::ok(tl!(self.lang, "pop3-retr", octets = msg.size));
                    return Step::SendMessage {
                        index,
                        extent: Extent::Whole,
                        status,
                    };
                }
                Err(e) => e.encode(out),
            },
            Command::Top(n, k) => match m.live(n, self.lang) {
                Ok((index, _)) => {
                    return Step::SendMessage {
                        index,
                        extent: Extent::Top(k),
                        status: Response::ok(""),
                    };
                }
                Err(e) => e.encode(out),
            },
            Command::Dele(n) => match m.live(n, self.lang) {
                Ok((index, msg)) => {
                    let size = msg.size;
                    m.deleted[index] = true;
                    m.deleted_count += 1;
                    m.deleted_octets += size;
                    Response::ok(self.say("pop3-dele")).encode(out);
                }
                Err(e) => e.encode(out),
            },
            Command::Noop => Response::ok("").encode(out),
            Command::Rset => {
                // RFC 1939 §5: unmark every message marked as deleted.
                m.deleted.iter_mut().for_each(|d| *d = false);
                m.deleted_count = 0;
                m.deleted_octets = 0;
                Response::ok(tl!(
                    self.lang,
                    "pop3-rset",
                    count = m.messages.len(),
                    octets = m.total_octets
                ))
                .encode(out);
            }
            Command::User(_) | Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. } => {
                return self.bad(Response::err(self.say("pop3-already-logged-in")), out);
            }
            Command::Stls => {
                return self.bad(Response::err(self.say("pop3-stls-after-login")), out)
            }
            Command::Utf8 => {
                return self.bad(Response::err(self.say("pop3-utf8-after-login")), out)
            }
            Command::Lang(range) => return self.lang_command(range, out),
            Command::Capa | Command::Quit => {
                Response::err(self.say("pop3-not-allowed-now")).encode(out)
            }
        }
        Step::Continue
    }

    /// The message file of a RETR/TOP could not be opened (it vanished, or an I/O error).
    pub fn message_unavailable(&mut self, out: &mut Vec<u8>) -> Step {
        Response::err_code(RespCode::SysTemp, self.say("pop3-message-unavailable")).encode(out);
        Step::Continue
    }

    /// The deletions of UPDATE were applied (`Ok(count)`) or not all of them could be
    /// (`Err`). Either way the session ends (RFC 1939 §6).
    pub fn update_done(&mut self, result: Result<usize, String>, out: &mut Vec<u8>) -> Step {
        match result {
            Ok(0) => Response::ok(self.say("pop3-logout")),
            Ok(n) => Response::ok(tl!(self.lang, "pop3-logout-deleted", count = n)),
            Err(why) => Response::err_code(
                RespCode::SysTemp,
                tl!(self.lang, "pop3-update-failed", reason = why),
            ),
        }
        .encode(out);
        self.state = State::Closed;
        Step::Close
    }

    /// The final line for a session the server ends on its own (idle timeout, shutdown).
    pub fn abort(&mut self, reason: Abort, out: &mut Vec<u8>) {
        let r = match reason {
            Abort::Idle => Response::err(self.say("pop3-idle")),
            Abort::Shutdown => Response::err_code(RespCode::SysTemp, self.say("pop3-shutdown")),
            Abort::TakenOver => Response::err_code(RespCode::InUse, self.say("pop3-taken-over")),
            // RFC 3206 §4: SYS/TEMP says "try again later", which is right: a new
            // connection that logs in promptly succeeds. AUTH would make clients ask for
            // a new password, SYS/PERM would make them give up.
            Abort::AuthTimeout => {
                Response::err_code(RespCode::SysTemp, self.say("pop3-auth-timeout"))
            }
        };
        r.encode(out);
        self.state = State::Closed;
    }
}

/// Why the server ends a session by itself. None of these applies deletions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    Idle,
    Shutdown,
    TakenOver,
    /// Still in AUTHORIZATION when the login deadline passed.
    AuthTimeout,
}

fn push_num(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every response text of the session comes from the catalogs, and every key it
    /// uses has an English and a Spanish text: no `Response::ok("…")`/`err("…")` with
    /// words in it remains, and no key is missing in either language.
    #[test]
    fn every_response_text_is_a_catalog_key_translated_in_both_languages() {
        let src = include_str!("server.rs");
        let code = &src[..src.find("#[cfg(test)]").unwrap_or(src.len())];
        for literal in ["Response::ok(\"", "Response::err(\"", "RespCode::Auth, \""] {
            for piece in code.split(literal).skip(1) {
                let text = &piece[..piece.find('"').unwrap_or(0)];
                assert!(
                    text.is_empty(),
                    "a response text outside the catalogs: {literal}{text}\""
                );
            }
        }
        let mut keys = std::collections::BTreeSet::new();
        for prefix in ["\"pop3-", "\"sasl-"] {
            for piece in code.split(prefix).skip(1) {
                let end = piece.find('"').unwrap_or(0);
                keys.insert(format!("{}{}", &prefix[1..], &piece[..end]));
            }
        }
        assert!(keys.len() >= 40, "found only {} keys: {keys:?}", keys.len());
        for key in &keys {
            for lang in Lang::ALL {
                assert!(buzon_i18n::has(lang, key), "{lang} has no {key}");
            }
        }
    }

    #[test]
    fn lang_answers_in_the_new_language_and_refuses_without_change() {
        let config = std::sync::Arc::new(SessionConfig::default());
        let conn = ConnectionInfo {
            tls_active: false,
            stls_available: true,
            plaintext_without_tls: true,
            apop_timestamp: None,
            apop_without_tls: false,
            scram: false,
            channel_binding: None,
            oauth: false,
        };
        let mut s = ServerSession::new(config, conn);
        let mut out = Vec::new();
        s.feed(b"LANG es\r\nLANG xx\r\nNOOP\r\n");
        while s.next_step(&mut out).is_some() {}
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            text,
            "+OK es Idioma cambiado\r\n-ERR Idioma no admitido: xx; LANG sin argumento muestra los idiomas.\r\n-ERR NOOP no se permite antes de iniciar sesión: autentícate primero (USER/PASS, APOP o AUTH).\r\n"
        );
        assert_eq!(s.lang(), Lang::Es);
        // STLS forgets what the client chose in the clear (RFC 2595 §4), LANG included.
        out.clear();
        s.feed(b"STLS\r\n");
        assert_eq!(s.next_step(&mut out), Some(Step::StartTls));
        s.tls_started();
        assert_eq!(s.lang(), Lang::En);
    }
}
