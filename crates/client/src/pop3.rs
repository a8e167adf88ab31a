//! A POP3 client session over any byte stream: greeting, CAPA, STLS, login, and the
//! transaction commands, with every read bounded by a timeout.
//!
//! The wire syntax comes only from `buzon-pop3-proto` ([`Command::encode`],
//! [`ReplyReader`], [`Capabilities`], the SASL helpers); this module drives it over a
//! socket. Commands may be pipelined (RFC 2449 §6.6): [`Pop3Client::send`] queues a
//! command and [`Pop3Client::reply`] reads the replies in order. Callers only pipeline
//! when the server announced PIPELINING.

use buzon_i18n::t;
use std::collections::VecDeque;
use std::time::Duration;

use buzon_pop3_proto::client::{
    expects_body, parse_scan_listing, parse_stat, parse_uid_listing, ReplyEvent, ReplyReader,
};
use buzon_pop3_proto::sasl::{
    apop_digest, build_plain, encode_base64, greeting_timestamp, ScramClient, LOGIN_PASS_PROMPT,
    LOGIN_USER_PROMPT,
};
use buzon_pop3_proto::{
    Capabilities, Command, InitialResponse, MsgNum, RespCode, Secret, StatusLine, Uidl,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{ClientError, Result};
use crate::net::{
    connect_tcp, Fingerprint, Io, Resolver, Security, Timeouts, TlsClient, TlsSettings,
};

/// The most entries a LIST or UIDL reply may have (a mailbox of a million messages is far
/// beyond any real POP3 use; a hostile server must not make the client grow without end).
pub const MAX_LISTING_ENTRIES: usize = 1_000_000;

/// RFC 1939 §3: a response line, CRLF included, is at most 512 octets (a UIDL's
/// unique-id is at most 70 characters, §7). Also the limit for CAPA lines.
pub const MAX_LISTING_LINE: usize = 512;

/// Where and how to reach a POP3 server.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub tls: TlsSettings,
    pub timeouts: Timeouts,
}

impl ServerSpec {
    pub fn new(host: impl Into<String>, security: Security) -> Self {
        Self {
            host: host.into(),
            port: security.default_port(),
            security,
            tls: TlsSettings::default(),
            timeouts: Timeouts::default(),
        }
    }

    /// The name checked against the certificate and sent as SNI.
    pub fn tls_name(&self) -> &str {
        self.tls.server_name.as_deref().unwrap_or(&self.host)
    }
}

/// How to log in (RFC 1939 §7, RFC 5034).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// The strongest the server offers: SCRAM-SHA-256, then PLAIN or USER/PASS, then
    /// LOGIN; on an unencrypted link (only with `allow_plaintext`) APOP before those.
    Auto,
    ScramSha256,
    Plain,
    Login,
    Apop,
    User,
    /// OAUTHBEARER (RFC 7628): the "password" is an OAuth 2.0 access token.
    Oauthbearer,
    /// XOAUTH2 (Gmail's and Microsoft's format): the "password" is an access token.
    Xoauth2,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Plain => "plain",
            AuthMethod::Login => "login",
            AuthMethod::Apop => "apop",
            AuthMethod::User => "user",
            AuthMethod::Oauthbearer => "oauthbearer",
            AuthMethod::Xoauth2 => "xoauth2",
        }
    }

    /// The "password" is an OAuth access token.
    pub fn uses_token(self) -> bool {
        matches!(self, AuthMethod::Oauthbearer | AuthMethod::Xoauth2)
    }
    /// Whether the password itself crosses the wire (so TLS or `allow_plaintext` is needed).
    pub fn sends_password(self) -> bool {
        matches!(
            self,
            AuthMethod::Plain | AuthMethod::Login | AuthMethod::User
        )
    }
}

/// A connected POP3 session. Drop closes the connection without QUIT (RFC 1939 §6: the
/// server then deletes nothing).
pub struct Pop3Client {
    io: Box<dyn Io>,
    reader: ReplyReader,
    host: String,
    timeouts: Timeouts,
    greeting: String,
    caps: Option<Capabilities>,
    tls: bool,
    fingerprint: Option<Fingerprint>,
    pending: VecDeque<&'static str>,
    /// The TLS session's `tls-exporter` channel binding (TLS 1.3 only), for
    /// SCRAM-SHA-256-PLUS.
    channel_binding: Option<Vec<u8>>,
}

impl std::fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Client")
            .field("host", &self.host)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// The `tls-exporter` channel binding of a TLS session (RFC 9266), TLS 1.3 only (RFC
/// 9266 does not let TLS 1.2 use it without the extended master secret).
fn channel_binding<S>(s: &tokio_rustls::client::TlsStream<S>) -> Option<Vec<u8>> {
    let conn = s.get_ref().1;
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

/// Map a `-ERR` to the error the user should see (RFC 2449 §8, RFC 3206).
pub(crate) fn server_error(
    host: &str,
    command: &str,
    code: Option<RespCode>,
    text: String,
) -> ClientError {
    let host = host.to_string();
    match code {
        Some(RespCode::InUse) => ClientError::InUse { host, text },
        Some(RespCode::LoginDelay) => ClientError::LoginDelay {
            host,
            text,
            policy: String::new(),
        },
        Some(RespCode::SysTemp) => ClientError::SysTemp { host, text },
        _ => ClientError::Server {
            host,
            command: command.into(),
            text: if text.is_empty() {
                "(no reason given)".into()
            } else {
                text
            },
        },
    }
}

impl Pop3Client {
    /// Resolves, connects, does TLS (implicit, or STLS after the greeting), and reads the
    /// greeting and capabilities. Stops with an error rather than continue unencrypted
    /// when STLS is expected and not offered.
    pub async fn connect(spec: &ServerSpec, resolver: &Resolver) -> Result<Self> {
        let (tcp, _) = connect_tcp(resolver, &spec.host, spec.port, spec.timeouts.connect).await?;
        let tls = match spec.security {
            Security::None => None,
            _ => Some(TlsClient::new(&spec.tls)?),
        };
        let mut client = match (&tls, spec.security) {
            (Some(t), Security::Tls) => {
                let s = t
                    .handshake(tcp, spec.tls_name(), spec.timeouts.handshake)
                    .await?;
                let fp = t.seen_fingerprint();
                let mut c = Self::open_tls(s, &spec.host, spec.timeouts).await?;
                c.fingerprint = fp;
                c
            }
            _ => Self::open(Box::new(tcp), &spec.host, spec.timeouts, false).await?,
        };
        client.capa().await?;
        if let (Some(t), Security::Starttls) = (&tls, spec.security) {
            client = client.stls(t, spec.tls_name()).await?;
            client.capa().await?;
        }
        Ok(client)
    }

    /// [`Pop3Client::open`] over implicit TLS, keeping the session's channel binding for
    /// SCRAM-SHA-256-PLUS.
    pub async fn open_tls<S>(
        s: tokio_rustls::client::TlsStream<S>,
        host: &str,
        timeouts: Timeouts,
    ) -> Result<Self>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let binding = channel_binding(&s);
        let mut c = Self::open(Box::new(s), host, timeouts, true).await?;
        c.channel_binding = binding;
        Ok(c)
    }

    /// Reads the greeting from a fresh connection (RFC 1939 §4).
    pub async fn open(io: Box<dyn Io>, host: &str, timeouts: Timeouts, tls: bool) -> Result<Self> {
        let mut c = Self {
            io,
            reader: ReplyReader::new(),
            host: host.to_string(),
            timeouts,
            greeting: String::new(),
            caps: None,
            tls,
            fingerprint: None,
            pending: VecDeque::new(),
            channel_binding: None,
        };
        c.reader.expect(false);
        let ev = match c.next_event("the greeting").await {
            Err(ClientError::ReadTimeout { .. }) => {
                return Err(ClientError::NoGreeting {
                    addr: host.into(),
                    secs: timeouts.read.as_secs(),
                    hint: if tls {
                        t!("client-hint-not-pop3")
                    } else {
                        t!("client-hint-expects-tls")
                    },
                })
            }
            Err(ClientError::Protocol { detail, .. }) => {
                return Err(ClientError::NotPop3 {
                    addr: host.into(),
                    got: detail,
                })
            }
            Err(e) => return Err(e),
            Ok(ev) => ev,
        };
        match ev {
            ReplyEvent::Status(StatusLine::Ok { text, .. }) => {
                c.greeting = text;
                Ok(c)
            }
            ReplyEvent::Status(StatusLine::Err { code, text }) => {
                Err(server_error(host, "the greeting", code, text))
            }
            other => Err(ClientError::NotPop3 {
                addr: host.into(),
                got: format!("it sent {}", event_words(&other)),
            }),
        }
    }

    pub fn greeting(&self) -> &str {
        &self.greeting
    }
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn is_tls(&self) -> bool {
        self.tls
    }
    /// The SHA-256 fingerprint of the server's certificate, on a TLS connection.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
    }
    /// The last CAPA result; `None` when the server does not implement CAPA.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }
    /// RFC 2449 §6.6: the server accepts several commands at once.
    pub fn pipelining(&self) -> bool {
        self.caps.as_ref().is_some_and(|c| c.has("PIPELINING"))
    }

    async fn fill(&mut self, during: &str) -> Result<()> {
        let mut buf = [0u8; 32 * 1024];
        let n = match tokio::time::timeout(self.timeouts.read, self.io.read(&mut buf)).await {
            Err(_) => {
                return Err(ClientError::ReadTimeout {
                    host: self.host.clone(),
                    command: during.into(),
                    secs: self.timeouts.read.as_secs(),
                })
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Ok(Err(e)) => {
                return Err(ClientError::Closed {
                    host: self.host.clone(),
                    during: format!("while waiting for the reply to {during}: {e}"),
                })
            }
            Ok(Ok(n)) => n,
        };
        if n == 0 {
            return Err(ClientError::Closed {
                host: self.host.clone(),
                during: format!("while waiting for the reply to {during}"),
            });
        }
        self.reader.feed(&buf[..n]);
        Ok(())
    }

    async fn next_event(&mut self, during: &str) -> Result<ReplyEvent> {
        // Each round either yields an event or reads more bytes; the read timeout and the
        // reader's line cap bound it.
        loop {
            match self.reader.next_event() {
                Some(Ok(ev)) => return Ok(ev),
                Some(Err(e)) => {
                    return Err(ClientError::Protocol {
                        host: self.host.clone(),
                        command: during.into(),
                        detail: e.to_string(),
                    })
                }
                None => self.fill(during).await?,
            }
        }
    }

    async fn write(&mut self, bytes: &[u8], during: &str) -> Result<()> {
        let w = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.timeouts.read, w).await {
            Err(_) => Err(ClientError::ReadTimeout {
                host: self.host.clone(),
                command: during.into(),
                secs: self.timeouts.read.as_secs(),
            }),
            Ok(Err(e)) => Err(ClientError::Closed {
                host: self.host.clone(),
                during: format!("while sending {during}: {e}"),
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Sends one command without waiting for its reply; [`Pop3Client::reply`] reads it.
    pub async fn send(&mut self, cmd: &Command) -> Result<()> {
        self.send_all(std::slice::from_ref(cmd)).await
    }

    /// Sends several commands in one write (pipelining, RFC 2449 §6.6).
    pub async fn send_all(&mut self, cmds: &[Command]) -> Result<()> {
        let mut out = Vec::new();
        for c in cmds {
            c.encode(&mut out);
        }
        let during = cmds.first().map(|c| c.keyword()).unwrap_or("a command");
        self.write(&out, during).await?;
        for c in cmds {
            self.pending.push_back(if expects_body(c) {
                body_marker(c.keyword())
            } else {
                c.keyword()
            });
        }
        Ok(())
    }

    /// Reads the status line of the oldest command sent and not yet answered. After a
    /// `+OK` to a multi-line command, read its body with [`Pop3Client::body_line`].
    pub async fn reply(&mut self) -> Result<StatusLine> {
        let Some(kw) = self.pending.pop_front() else {
            return Err(ClientError::Protocol {
                host: self.host.clone(),
                command: "(none)".into(),
                detail: "no command is waiting for a reply".into(),
            });
        };
        let (name, multi) = match kw.strip_suffix('+') {
            Some(k) => (k, true),
            None => (kw, false),
        };
        self.reader.expect(multi);
        match self.next_event(name).await? {
            ReplyEvent::Status(s) => Ok(s),
            other => Err(ClientError::Protocol {
                host: self.host.clone(),
                command: name.into(),
                detail: format!("expected a status line, got {}", event_words(&other)),
            }),
        }
    }

    /// The next line of a multi-line body (unstuffed, with CRLF), or `None` at its end.
    pub async fn body_line(&mut self, during: &str) -> Result<Option<Vec<u8>>> {
        match self.next_event(during).await? {
            ReplyEvent::Line(l) => Ok(Some(l)),
            ReplyEvent::End => Ok(None),
            ReplyEvent::Status(s) => Err(ClientError::Protocol {
                host: self.host.clone(),
                command: during.into(),
                detail: format!(
                    "a status line inside a multi-line reply: {}",
                    event_words(&ReplyEvent::Status(s))
                ),
            }),
        }
    }

    /// Sends `cmd` and returns the text of its `+OK`, or the mapped error.
    pub async fn simple(&mut self, cmd: &Command) -> Result<String> {
        self.send(cmd).await?;
        self.expect_ok(cmd.keyword()).await
    }

    async fn expect_ok(&mut self, kw: &str) -> Result<String> {
        match self.reply().await? {
            StatusLine::Ok { text, .. } => Ok(text),
            StatusLine::Err { code, text } => Err(server_error(&self.host, kw, code, text)),
            StatusLine::Continue(_) => Err(ClientError::Protocol {
                host: self.host.clone(),
                command: kw.into(),
                detail: "unexpected SASL continuation".into(),
            }),
        }
    }

    /// Sends a multi-line command; `Ok(None)` for a `-ERR` (so callers can tell an
    /// unsupported optional command from a failure), else all body lines: at most
    /// `max_lines` of at most [`MAX_LISTING_LINE`] octets each, else an error.
    pub async fn multi(
        &mut self,
        cmd: &Command,
        max_lines: usize,
    ) -> Result<Option<(Option<RespCode>, Vec<Vec<u8>>)>> {
        self.send(cmd).await?;
        match self.reply().await? {
            StatusLine::Ok { code, .. } => {
                let mut lines = Vec::new();
                while let Some(l) = self.body_line(cmd.keyword()).await? {
                    if lines.len() >= max_lines {
                        // A hostile server could list without end: stop (the session is
                        // dropped without QUIT, so nothing is deleted).
                        return Err(self.proto(
                            cmd.keyword(),
                            &format!("the reply has more than {max_lines} lines, more than Buzón accepts — the server is broken or hostile"),
                        ));
                    }
                    if l.len() > MAX_LISTING_LINE {
                        return Err(self.proto(
                            cmd.keyword(),
                            &format!("a line of the reply is {} octets long; RFC 1939 allows at most {MAX_LISTING_LINE} — the server is broken or hostile", l.len()),
                        ));
                    }
                    lines.push(l);
                }
                Ok(Some((code, lines)))
            }
            StatusLine::Err {
                code: Some(c @ (RespCode::InUse | RespCode::SysTemp | RespCode::LoginDelay)),
                text,
            } => Err(server_error(&self.host, cmd.keyword(), Some(c), text)),
            StatusLine::Err { .. } => Ok(None),
            StatusLine::Continue(_) => Err(ClientError::Protocol {
                host: self.host.clone(),
                command: cmd.keyword().into(),
                detail: "unexpected SASL continuation".into(),
            }),
        }
    }

    /// RFC 2449 §5: CAPA. A server without CAPA answers `-ERR`: then `None`.
    pub async fn capa(&mut self) -> Result<Option<&Capabilities>> {
        self.caps = self
            .multi(&Command::Capa, 1000)
            .await?
            .map(|(_, lines)| Capabilities::parse(lines.iter().map(|l| trim_eol(l))));
        Ok(self.caps.as_ref())
    }

    /// RFC 2595 §4: STLS, then the TLS handshake. Fails (never downgrades) when STLS is
    /// not offered or refused. Bytes the server sent after its `+OK` are an injection
    /// attempt and abort the session.
    pub async fn stls(mut self, tls: &TlsClient, name: &str) -> Result<Self> {
        let offered = self.caps.as_ref().is_some_and(|c| c.has("STLS"));
        if !offered {
            return Err(ClientError::StlsNotOffered {
                host: self.host.clone(),
            });
        }
        match self.simple(&Command::Stls).await {
            Ok(_) => {}
            Err(ClientError::Server { .. }) => {
                return Err(ClientError::StlsNotOffered {
                    host: self.host.clone(),
                })
            }
            Err(e) => return Err(e),
        }
        if self.reader.has_buffered() {
            return Err(ClientError::Protocol {
                host: self.host.clone(),
                command: "STLS".into(),
                detail: "the server sent data before the TLS handshake (possible injection attack); refusing to continue".into(),
            });
        }
        let stream = tls
            .handshake(self.io, name, self.timeouts.handshake)
            .await?;
        let binding = channel_binding(&stream);
        Ok(Self {
            io: Box::new(stream),
            reader: ReplyReader::new(),
            host: self.host,
            timeouts: self.timeouts,
            greeting: self.greeting,
            caps: None,
            tls: true,
            fingerprint: tls.seen_fingerprint(),
            pending: VecDeque::new(),
            channel_binding: binding,
        })
    }

    /// Logs in. Password-revealing methods need TLS or `allow_plaintext`. Returns the
    /// method used.
    pub async fn login(
        &mut self,
        user: &str,
        password: &Secret,
        method: AuthMethod,
        allow_plaintext: bool,
    ) -> Result<AuthMethod> {
        // Every method derives what it sends from the password: PLAIN, LOGIN and USER send
        // it, APOP's MD5 and SCRAM's proof let an eavesdropper guess it offline. So none
        // of them runs on an unencrypted connection unless the user allowed it.
        if !self.tls && !allow_plaintext {
            return Err(ClientError::PlaintextNotAllowed {
                host: self.host.clone(),
                user: user.into(),
            });
        }
        let method = self.choose_method(method, allow_plaintext, user)?;
        let result = match method {
            AuthMethod::User => self.login_user(user, password).await,
            AuthMethod::Plain => {
                let msg = build_plain(user, password.expose());
                let ir = Secret::new(encode_base64(msg.expose()));
                self.sasl_simple("PLAIN", Some(ir), user).await
            }
            AuthMethod::Login => self.login_login(user, password).await,
            AuthMethod::Apop => {
                let Some(ts) = greeting_timestamp(&self.greeting).map(str::to_string) else {
                    return Err(ClientError::AuthUnsupported {
                        host: self.host.clone(),
                        mechanism: "APOP".into(),
                    });
                };
                let digest = apop_digest(&ts, password.expose());
                self.send(&Command::Apop {
                    user: user.into(),
                    digest,
                })
                .await?;
                self.auth_reply("APOP", user).await
            }
            AuthMethod::ScramSha256 => self.login_scram(user, password).await,
            AuthMethod::Oauthbearer => self.login_bearer(user, password, false).await,
            AuthMethod::Xoauth2 => self.login_bearer(user, password, true).await,
            AuthMethod::Auto => unreachable_auto(),
        };
        result.map(|()| method)
    }

    fn choose_method(
        &self,
        method: AuthMethod,
        allow_plaintext: bool,
        user: &str,
    ) -> Result<AuthMethod> {
        if method != AuthMethod::Auto {
            return Ok(method);
        }
        let sasl = self.caps.as_ref().map(|c| c.sasl()).unwrap_or_default();
        if sasl
            .iter()
            .any(|m| m == "SCRAM-SHA-256" || m == "SCRAM-SHA-256-PLUS")
        {
            return Ok(AuthMethod::ScramSha256);
        }
        if !self.tls && allow_plaintext && greeting_timestamp(&self.greeting).is_some() {
            // Without TLS, APOP at least keeps the password itself off the wire.
            return Ok(AuthMethod::Apop);
        }
        if self.tls || allow_plaintext {
            if sasl.iter().any(|m| m == "PLAIN") {
                return Ok(AuthMethod::Plain);
            }
            let user_ok = self
                .caps
                .as_ref()
                .is_none_or(|c| c.has("USER") || !c.has("SASL"));
            if user_ok {
                return Ok(AuthMethod::User);
            }
            if sasl.iter().any(|m| m == "LOGIN") {
                return Ok(AuthMethod::Login);
            }
            return Ok(AuthMethod::User);
        }
        Err(ClientError::PlaintextNotAllowed {
            host: self.host.clone(),
            user: user.into(),
        })
    }

    async fn login_user(&mut self, user: &str, password: &Secret) -> Result<()> {
        self.send(&Command::User(user.into())).await?;
        match self.reply().await? {
            StatusLine::Ok { .. } => {}
            StatusLine::Err { code, text } => return Err(self.auth_error(code, text, user, true)),
            StatusLine::Continue(_) => return Err(self.proto("USER", "unexpected continuation")),
        }
        self.send(&Command::Pass(password.clone())).await?;
        self.auth_reply("PASS", user).await
    }

    async fn login_login(&mut self, user: &str, password: &Secret) -> Result<()> {
        self.send(&Command::Auth {
            mechanism: Some("LOGIN".into()),
            initial: None,
        })
        .await?;
        for (prompt, answer) in [
            (LOGIN_USER_PROMPT, user.as_bytes()),
            (LOGIN_PASS_PROMPT, password.expose()),
        ] {
            match self.reply().await? {
                StatusLine::Continue(_) => {
                    // Servers send "Username:"/"Password:" (in base64); the order is what counts.
                    let _ = prompt;
                    let mut line = encode_base64(answer).into_bytes();
                    line.extend_from_slice(b"\r\n");
                    self.write(&line, "AUTH LOGIN").await?;
                    self.pending.push_back("AUTH");
                }
                StatusLine::Err { code, text } => {
                    return Err(self.auth_error(code, text, user, true))
                }
                StatusLine::Ok { .. } => {
                    return Err(
                        self.proto("AUTH LOGIN", "login accepted before the password was sent")
                    )
                }
            }
        }
        self.auth_reply("AUTH LOGIN", user).await
    }

    async fn sasl_simple(&mut self, mech: &str, ir: Option<Secret>, user: &str) -> Result<()> {
        let initial = ir.map(InitialResponse::Base64);
        self.send(&Command::Auth {
            mechanism: Some(mech.into()),
            initial,
        })
        .await?;
        self.auth_reply("AUTH", user).await
    }

    /// OAUTHBEARER (RFC 7628 §3.1) or XOAUTH2 with an access token. A long message goes
    /// after an empty challenge (RFC 5034 §4: the AUTH line stays within 255 octets). A
    /// refused token gets the server's JSON error as a challenge, answered with the dummy
    /// response, then `-ERR`: the error names the status the server gave.
    async fn login_bearer(&mut self, user: &str, token: &Secret, xoauth2: bool) -> Result<()> {
        let mech = if xoauth2 { "XOAUTH2" } else { "OAUTHBEARER" };
        let token = String::from_utf8_lossy(token.expose()).into_owned();
        let msg = if xoauth2 {
            format!("user={user}\x01auth=Bearer {token}\x01\x01")
        } else {
            let name = user.replace('=', "=3D").replace(',', "=2C");
            format!("n,a={name},\x01auth=Bearer {token}\x01\x01")
        };
        let b64 = Secret::new(encode_base64(msg.as_bytes()));
        let fits = "AUTH ".len() + mech.len() + 1 + b64.expose().len() + 2 <= 255;
        if fits {
            self.send(&Command::Auth {
                mechanism: Some(mech.into()),
                initial: Some(InitialResponse::Base64(b64)),
            })
            .await?;
        } else {
            self.send(&Command::Auth {
                mechanism: Some(mech.into()),
                initial: None,
            })
            .await?;
            match self.reply().await? {
                StatusLine::Continue(_) => {}
                StatusLine::Err { code, text } => {
                    return Err(self.auth_error(code, text, user, false))
                }
                StatusLine::Ok { .. } => return Err(self.proto(mech, "accepted without the token")),
            }
            let mut line = b64.expose().to_vec();
            line.extend_from_slice(b"\r\n");
            self.write(&line, "AUTH").await?;
            self.pending.push_back("AUTH");
        }
        match self.reply().await? {
            StatusLine::Ok { .. } => Ok(()),
            StatusLine::Err { code, text } => Err(self.auth_error(code, text, user, false)),
            StatusLine::Continue(challenge) => {
                let status = buzon_pop3_proto::sasl::decode_base64(challenge.as_bytes())
                    .ok()
                    .and_then(|j| {
                        serde_json::from_slice::<serde_json::Value>(j.expose())
                            .ok()
                            .and_then(|v| {
                                v.get("status").and_then(|s| s.as_str()).map(String::from)
                            })
                    })
                    .unwrap_or_else(|| "invalid_token".into());
                // RFC 7628 §3.2.3: the dummy response; XOAUTH2 clients send an empty one.
                let dummy: &[u8] = if xoauth2 { b"\r\n" } else { b"AQ==\r\n" };
                self.write(dummy, "AUTH").await?;
                self.pending.push_back("AUTH");
                let _ = self.reply().await;
                Err(ClientError::TokenRefused {
                    host: self.host.clone(),
                    user: user.to_string(),
                    status,
                })
            }
        }
    }

    async fn login_scram(&mut self, user: &str, password: &Secret) -> Result<()> {
        let cnonce = {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            (0..24)
                .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
                .collect::<String>()
        };
        // -PLUS where the server offers it and this TLS session can bind (TLS 1.3).
        let plus_offered = self
            .caps
            .as_ref()
            .is_some_and(|c| c.sasl().iter().any(|m| m == "SCRAM-SHA-256-PLUS"));
        let (mut scram, mechanism) = match (&self.channel_binding, plus_offered) {
            (Some(b), true) => (
                ScramClient::with_channel_binding(user, password.expose(), &cnonce, b),
                "SCRAM-SHA-256-PLUS",
            ),
            _ => (
                ScramClient::new(user, password.expose(), &cnonce),
                "SCRAM-SHA-256",
            ),
        };
        let first = Secret::new(encode_base64(scram.client_first().as_bytes()));
        self.send(&Command::Auth {
            mechanism: Some(mechanism.into()),
            initial: Some(InitialResponse::Base64(first)),
        })
        .await?;
        let server_first = match self.reply().await? {
            StatusLine::Continue(b64) => buzon_pop3_proto::sasl::decode_base64(b64.as_bytes())
                .map_err(|e| self.proto("AUTH SCRAM-SHA-256", &e.to_string()))?,
            StatusLine::Err { code, text } => return Err(self.auth_error(code, text, user, false)),
            StatusLine::Ok { .. } => {
                return Err(self.proto("AUTH SCRAM-SHA-256", "accepted without a challenge"))
            }
        };
        let fin = match scram.client_final(server_first.expose()) {
            Ok(f) => f,
            Err(e) => {
                // Abort the exchange (RFC 5034 §4): no proof leaves this client.
                let _ = self.write(b"*\r\n", "AUTH").await;
                return Err(self.proto("AUTH SCRAM-SHA-256", &e.to_string()));
            }
        };
        let mut line = encode_base64(fin.as_bytes()).into_bytes();
        line.extend_from_slice(b"\r\n");
        self.write(&line, "AUTH SCRAM-SHA-256").await?;
        self.pending.push_back("AUTH");
        match self.reply().await? {
            StatusLine::Continue(b64) => {
                let sf = buzon_pop3_proto::sasl::decode_base64(b64.as_bytes())
                    .map_err(|e| self.proto("AUTH SCRAM-SHA-256", &e.to_string()))?;
                if let Err(e) = scram.verify_server_final(sf.expose()) {
                    // Abort the exchange (RFC 5034 §4) and refuse this server.
                    let _ = self.write(b"*\r\n", "AUTH").await;
                    return Err(self.proto("AUTH SCRAM-SHA-256", &e.to_string()));
                }
                self.write(b"\r\n", "AUTH SCRAM-SHA-256").await?;
                self.pending.push_back("AUTH");
                self.auth_reply("AUTH SCRAM-SHA-256", user).await
            }
            StatusLine::Ok { .. } => Err(self.proto(
                "AUTH SCRAM-SHA-256",
                "the server did not prove it knows the password (no server signature)",
            )),
            StatusLine::Err { code, text } => Err(self.auth_error(code, text, user, false)),
        }
    }

    async fn auth_reply(&mut self, kw: &str, user: &str) -> Result<()> {
        match self.reply().await? {
            StatusLine::Ok { .. } => Ok(()),
            StatusLine::Err { code, text } => Err(self.auth_error(code, text, user, false)),
            StatusLine::Continue(_) => Err(self.proto(kw, "unexpected SASL continuation")),
        }
    }

    fn auth_error(
        &self,
        code: Option<RespCode>,
        text: String,
        user: &str,
        before_password: bool,
    ) -> ClientError {
        let lower = text.to_ascii_lowercase();
        if !self.tls
            && (lower.contains("plaintext")
                || lower.contains("tls")
                || lower.contains("ssl")
                || lower.contains("stls"))
        {
            return ClientError::PlaintextRefusedByServer {
                host: self.host.clone(),
                text,
            };
        }
        match code {
            Some(RespCode::InUse | RespCode::LoginDelay | RespCode::SysTemp) => {
                server_error(&self.host, "login", code, text)
            }
            _ if before_password && code.is_none() && lower.contains("not supported") => {
                ClientError::AuthUnsupported {
                    host: self.host.clone(),
                    mechanism: "this".into(),
                }
            }
            _ => ClientError::Auth {
                host: self.host.clone(),
                user: user.into(),
                text: if text.is_empty() {
                    "authentication failed".into()
                } else {
                    text
                },
                hint: user_name_hint(user),
            },
        }
    }

    fn proto(&self, command: &str, detail: &str) -> ClientError {
        ClientError::Protocol {
            host: self.host.clone(),
            command: command.into(),
            detail: detail.into(),
        }
    }

    /// RFC 1939 §5: STAT → (messages, octets).
    pub async fn stat(&mut self) -> Result<(u32, u64)> {
        let text = self.simple(&Command::Stat).await?;
        parse_stat(&text).ok_or_else(|| self.proto("STAT", &format!("cannot read {text:?}")))
    }

    /// RFC 1939 §5: LIST → (msg, octets) for every message.
    pub async fn list(&mut self) -> Result<Vec<(MsgNum, u64)>> {
        match self
            .multi(&Command::List(None), MAX_LISTING_ENTRIES)
            .await?
        {
            Some((_, lines)) => lines
                .iter()
                .map(|l| {
                    parse_scan_listing(l).ok_or_else(|| {
                        self.proto(
                            "LIST",
                            &format!("cannot read {:?}", String::from_utf8_lossy(l)),
                        )
                    })
                })
                .collect(),
            None => Err(self.proto("LIST", "the server refused LIST")),
        }
    }

    /// RFC 1939 §7: UIDL → (msg, unique-id); `None` when the server does not implement it.
    pub async fn uidl(&mut self) -> Result<Option<Vec<(MsgNum, Uidl)>>> {
        match self
            .multi(&Command::Uidl(None), MAX_LISTING_ENTRIES)
            .await?
        {
            Some((_, lines)) => lines
                .iter()
                .map(|l| {
                    parse_uid_listing(l).ok_or_else(|| {
                        self.proto(
                            "UIDL",
                            &format!("cannot read {:?}", String::from_utf8_lossy(l)),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            None => Ok(None),
        }
    }

    /// Reads the body of a `+OK` to RETR or TOP into memory, CRLF line ends, at most
    /// `max_bytes` (a longer message is an error naming the limit).
    pub async fn read_body(&mut self, during: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut too_big = false;
        while let Some(l) = self.body_line(during).await? {
            if (out.len() + l.len()) as u64 > max_bytes {
                too_big = true;
                continue;
            }
            out.extend_from_slice(&l);
        }
        if too_big {
            return Err(self.proto(during, &format!("the message is larger than the in-memory limit of {max_bytes} bytes; set max_size to skip such messages")));
        }
        Ok(out)
    }

    /// RFC 1939 §5: RETR msg, the whole message in memory.
    pub async fn retr(&mut self, n: MsgNum, max_bytes: u64) -> Result<Vec<u8>> {
        self.send(&Command::Retr(n)).await?;
        self.expect_ok("RETR").await?;
        self.read_body("RETR", max_bytes).await
    }

    /// Streams a message to `sink` line by line (for programs that do not want it in
    /// memory). Returns the octets passed on.
    pub async fn retr_with(&mut self, n: MsgNum, mut sink: impl FnMut(&[u8])) -> Result<u64> {
        self.send(&Command::Retr(n)).await?;
        self.expect_ok("RETR").await?;
        let mut total = 0u64;
        while let Some(l) = self.body_line("RETR").await? {
            total += l.len() as u64;
            sink(&l);
        }
        Ok(total)
    }

    /// RFC 1939 §7: TOP msg lines (header, blank line, `lines` body lines).
    pub async fn top(&mut self, n: MsgNum, lines: u64) -> Result<Option<Vec<u8>>> {
        self.send(&Command::Top(n, lines)).await?;
        match self.reply().await? {
            StatusLine::Ok { .. } => Ok(Some(self.read_body("TOP", 16 * 1024 * 1024).await?)),
            StatusLine::Err { .. } => Ok(None),
            StatusLine::Continue(_) => Err(self.proto("TOP", "unexpected SASL continuation")),
        }
    }

    /// RFC 1939 §5: DELE msg (marks it; the server deletes at QUIT).
    pub async fn dele(&mut self, n: MsgNum) -> Result<()> {
        self.simple(&Command::Dele(n)).await.map(|_| ())
    }

    pub async fn noop(&mut self) -> Result<()> {
        self.simple(&Command::Noop).await.map(|_| ())
    }

    /// RFC 1939 §6: QUIT; the server commits deletions and its `+OK` confirms them.
    pub async fn quit(mut self) -> Result<()> {
        self.simple(&Command::Quit).await?;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.io.shutdown()).await;
        Ok(())
    }
}

/// `auto` is resolved by `choose_method` before any exchange.
fn unreachable_auto() -> Result<()> {
    Err(ClientError::Config(
        "internal: login method not chosen".into(),
    ))
}

/// A reply event as the user reads it: the line itself (at most 80 characters).
fn event_words(ev: &ReplyEvent) -> String {
    let line = match ev {
        ReplyEvent::Status(StatusLine::Ok { text, .. }) => format!("+OK {text}"),
        ReplyEvent::Status(StatusLine::Err { text, .. }) => format!("-ERR {text}"),
        ReplyEvent::Status(StatusLine::Continue(t)) => format!("+ {t}"),
        ReplyEvent::Line(l) => String::from_utf8_lossy(trim_eol(l)).into_owned(),
        ReplyEvent::End => ".".into(),
    };
    let short: String = line.chars().take(80).collect();
    format!("\"{}\"", short.escape_default())
}

fn body_marker(kw: &'static str) -> &'static str {
    match kw {
        "RETR" => "RETR+",
        "TOP" => "TOP+",
        "LIST" => "LIST+",
        "UIDL" => "UIDL+",
        "CAPA" => "CAPA+",
        "AUTH" => "AUTH+",
        other => other,
    }
}

fn trim_eol(l: &[u8]) -> &[u8] {
    let l = l.strip_suffix(b"\n").unwrap_or(l);
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// The hint about the user-name form that goes with an `[AUTH]` failure.
pub fn user_name_hint(user: &str) -> String {
    match user.split_once('@') {
        Some((local, _)) => t!("client-auth-hint-local-part", local = local),
        None => t!("client-auth-hint-full-address"),
    }
}
