//! Replays the example sessions in `tests/transcripts/*.txt` against [`ServerSession`].
//!
//! A small in-memory driver plays the server around the state machine: maildrops live in
//! a map, passwords and APOP digests are checked here, messages go out through the wire
//! encoder, UPDATE removes messages from the map, and a TLS handshake "succeeds" once the
//! whole `C:` item that asked for it has been handed over (as a network delivers
//! pipelined bytes before the handshake can start), so the session itself must drop what
//! followed STLS. Every transcript is run twice: once handing each `C:` item to the
//! session in one piece, once byte by byte, so buffer boundaries can never change what
//! the server says.
//!
//! Directives understood by this runner (the file format itself is in `transcript.rs`):
//!
//! | directive | meaning |
//! |---|---|
//! | `@user NAME PASSWORD` | an account; PASSWORD is escaped text, also the APOP secret |
//! | `@message NAME CONTENT` | appends a stored message (escaped) to NAME's maildrop, unique-id `uid-N` |
//! | `@uidl NAME N UIDL` | gives message N of NAME another unique-id |
//! | `@inuse NAME` | right credentials for NAME get `-ERR [IN-USE]` (maildrop locked) |
//! | `@login-delay NAME` | right credentials for NAME get `-ERR [LOGIN-DELAY]` |
//! | `@unavailable NAME N` | message N of NAME cannot be opened when RETR/TOP asks for it |
//! | `@update-fails [on\|off]` | UPDATE cannot remove anything: `update_done(Err(..))` |
//! | `@tls`, `@stls`, `@plaintext` `on\|off` | `ConnectionInfo` of the next connection |
//! | `@apop TIMESTAMP\|off` | the APOP timestamp of the next connection (offered where APOP can be accepted) |
//! | `@apop-without-tls on\|off` | `auth.apop`: APOP accepted on unencrypted connections too |
//! | `@scram on\|off` | some user has a SCRAM-SHA-256 verifier (the runner derives it from the password) |
//! | `@channel-binding BYTES\|off` | the `tls-exporter` data of TLS sessions of the next connection (escaped) |
//! | `@oauth on\|off` | bearer tokens are checked (OAUTHBEARER, XOAUTH2); the token `token-NAME` is NAME's |
//! | `@scram-nonce TEXT` | the server nonce of SCRAM exchanges (salt: RFC 7677 §3's, 4096 iterations) |
//! | `@config KEY VALUE` | `SessionConfig`: greeting, implementation, expire, login_delay, max_bad_commands, max_auth_failures (`none` clears an option) |
//! | `@send BYTES` | the client sends escaped bytes as they are, no CRLF added |
//! | `@expect-deleted 1,2\|none` | the message numbers the last UPDATE of this connection removed |
//! | `@expect-no-update` | this connection never reached UPDATE |
//! | `@closed` | the server has closed the connection (and said everything it had to say) |
//! | `@drop` | the client drops the connection without QUIT |
//! | `@connect` | a new connection after `@closed`/`@drop`; maildrops keep their state |
//!
//! Defaults: no TLS, no STLS, plaintext logins allowed, no APOP, `SessionConfig::default()`.
//! Settings can only change while no connection is open. All server output must be
//! matched by `S:` lines before the client speaks again and before the transcript ends.

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use buzon_i18n::Lang;
use buzon_pop3_proto::sasl;
use buzon_pop3_proto::server::{
    ConnectionInfo, Credential, MessageInfo, ServerSession, SessionConfig, Step,
};
use buzon_pop3_proto::wire::{encode_message, Extent, WireSize};
use buzon_pop3_proto::{RespCode, Response, Uidl};
use buzon_testkit::transcript::{self, Expect, Item};

/// How client bytes reach the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// Each `C:`/`@send` item in one piece (pipelined lines arrive together).
    Whole,
    /// One byte at a time.
    Bytes,
}

#[derive(Debug, Clone)]
struct Stored {
    bytes: Vec<u8>,
    uidl: Uidl,
}

#[derive(Debug, Default)]
struct Account {
    password: Vec<u8>,
    messages: Vec<Stored>,
    /// Why a login with the right credentials is refused anyway.
    refuse: Option<RespCode>,
    /// 1-based numbers of messages whose file cannot be opened.
    unavailable: BTreeSet<usize>,
    /// Next number for `uid-N`, so unique-ids are never reused after deletions.
    next_uid: u64,
}

/// What outlives a connection: the accounts and the store's behaviour.
#[derive(Debug)]
struct World {
    accounts: BTreeMap<String, Account>,
    update_fails: bool,
    /// The salt and server nonce of SCRAM exchanges (RFC 7677 §3's by default).
    scram_salt: Vec<u8>,
    scram_nonce: String,
}

impl Default for World {
    fn default() -> Self {
        World {
            accounts: BTreeMap::new(),
            update_fails: false,
            scram_salt: sasl::decode_base64(b"W22ZaJ0SNY7soEsUEjb6gQ==")
                .map(|s| s.expose().to_vec())
                .unwrap(),
            scram_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// The state machine said `Step::Close`; `acknowledged` once `@closed` was seen.
    ClosedByServer {
        acknowledged: bool,
    },
    Dropped,
}

/// After a step: go on reading, or forget the rest of what the client sent.
enum Flow {
    Go,
    Discard,
}

/// One connection: the session and the server bytes not yet matched.
struct Connection {
    session: ServerSession,
    output: Vec<u8>,
    /// STLS was accepted: the handshake completes once the current item is delivered.
    handshake_due: bool,
    phase: Phase,
    apop_timestamp: Option<String>,
    /// The maildrop as opened at login.
    user: Option<String>,
    snapshot: Vec<Stored>,
    unavailable: BTreeSet<usize>,
    /// The indices (0-based) the last UPDATE asked to remove.
    update: Option<Vec<usize>>,
    /// The channel binding a TLS session of this connection gives (`@channel-binding`).
    binding: Option<Vec<u8>>,
}

impl Connection {
    fn open(config: &SessionConfig, info: &ConnectionInfo) -> Self {
        let session = ServerSession::new(Arc::new(config.clone()), info.clone());
        let mut output = Vec::new();
        session.greeting(&mut output);
        Self {
            session,
            output,
            handshake_due: false,
            phase: Phase::Open,
            apop_timestamp: info.apop_timestamp.clone(),
            user: None,
            snapshot: Vec::new(),
            unavailable: BTreeSet::new(),
            update: None,
            binding: info.channel_binding.clone(),
        }
    }

    /// Client bytes arrive; replies accumulate in `output`.
    fn send(&mut self, bytes: &[u8], feed: Feed, world: &mut World) -> Result<(), String> {
        match feed {
            Feed::Whole => {
                self.feed_chunk(bytes, world)?;
            }
            Feed::Bytes => {
                for b in bytes.chunks(1) {
                    if let Flow::Discard = self.feed_chunk(b, world)? {
                        break;
                    }
                }
            }
        }
        if std::mem::take(&mut self.handshake_due) {
            self.session.tls_started();
            self.session.set_channel_binding(self.binding.clone());
            if !self.session.tls_active() || self.session.is_closed() {
                return Err("after tls_started() TLS must be active and the session open".into());
            }
            // Only the client's bytes after the handshake count from here on.
            if let Some(step) = self.session.next_step(&mut self.output) {
                return Err(format!(
                    "the session still had input right after the handshake: {step:?}"
                ));
            }
        }
        Ok(())
    }

    fn feed_chunk(&mut self, chunk: &[u8], world: &mut World) -> Result<Flow, String> {
        self.session.feed(chunk);
        while let Some(step) = self.session.next_step(&mut self.output) {
            if let Flow::Discard = self.drive(step, world)? {
                return Ok(Flow::Discard);
            }
        }
        Ok(Flow::Go)
    }

    /// Carries out steps until the state machine wants the next line.
    fn drive(&mut self, mut step: Step, world: &mut World) -> Result<Flow, String> {
        loop {
            step = match step {
                Step::Continue => {
                    if self.session.is_closed() {
                        return Err("Step::Continue, but the session says it is closed".into());
                    }
                    return Ok(Flow::Go);
                }
                Step::Close => {
                    if !self.session.is_closed() {
                        return Err(format!(
                            "Step::Close, but the session is not closed (user {:?}, transaction {})",
                            self.session.user(),
                            self.session.is_transaction()
                        ));
                    }
                    self.phase = Phase::ClosedByServer {
                        acknowledged: false,
                    };
                    return Ok(Flow::Discard);
                }
                Step::Authenticate => self.authenticate(world)?,
                Step::ScramParams { .. } => self.session.scram_server_first(
                    &world.scram_salt,
                    4096,
                    &world.scram_nonce,
                    &mut self.output,
                ),
                Step::Authorized { user, .. } => self.enter(user, world)?,
                Step::SendMessage {
                    index,
                    extent,
                    status,
                } => self.send_message(index, extent, status)?,
                Step::StartTls => {
                    // The rest of this item is still handed to the session, which must
                    // drop it (RFC 2595 §4); the handshake follows the item.
                    self.handshake_due = true;
                    return Ok(Flow::Go);
                }
                Step::Update(doomed) => self.update(doomed, world)?,
            };
        }
    }

    fn authenticate(&mut self, world: &World) -> Result<Step, String> {
        let req = self
            .session
            .take_pending_auth()
            .ok_or("Step::Authenticate without a pending login")?;
        if self.session.pending_auth().is_some() {
            return Err("take_pending_auth() left the login pending".into());
        }
        if let Credential::Apop { timestamp, .. } = &req.credential {
            if Some(timestamp) != self.apop_timestamp.as_ref() {
                return Err(format!(
                    "APOP digest checked against {timestamp:?}, not the greeting's timestamp"
                ));
            }
            if req.mechanism != "APOP" {
                return Err(format!("APOP credential from mechanism {}", req.mechanism));
            }
        }
        if let Credential::Bearer { token, user } = &req.credential {
            // A token "token-NAME" is NAME's; the client may name that user or nobody.
            let owner = std::str::from_utf8(token.expose())
                .ok()
                .and_then(|t| t.strip_prefix("token-"))
                .filter(|o| world.accounts.contains_key(*o))
                .filter(|o| user.as_deref().is_none_or(|u| u == *o))
                .map(str::to_string);
            return match owner {
                Some(o) => self.enter(o, world),
                None => Ok(self.session.bearer_refused(
                    r#"{"status":"invalid_token","schemes":"bearer","scope":"email"}"#,
                    &mut self.output,
                )),
            };
        }
        let right = match world.accounts.get(&req.user) {
            None => false,
            Some(account) => match &req.credential {
                Credential::Password(p) => p.expose() == account.password.as_slice(),
                Credential::Apop { timestamp, digest } => {
                    sasl::apop_digest(timestamp, &account.password) == *digest
                }
                Credential::Scram {
                    auth_message,
                    proof,
                    binding_ok,
                } => {
                    let (stored, server) =
                        sasl::scram_keys(&account.password, &world.scram_salt, 4096);
                    if *binding_ok && sasl::scram_proof_ok(&stored, auth_message, proof) {
                        // The server's signature first; the maildrop at Step::Authorized.
                        let fin = sasl::scram_server_final(&server, auth_message);
                        return Ok(self.session.scram_verified(
                            req.user.clone(),
                            req.mechanism,
                            &fin,
                            &mut self.output,
                        ));
                    }
                    false
                }
                Credential::Bearer { .. } => false,
            },
        };
        if !right {
            let reply =
                Response::err_code(RespCode::Auth, self.session.text("pop3-auth-failed", &[]));
            return Ok(self.session.login_failed(reply, &mut self.output));
        }
        self.enter(req.user, world)
    }

    /// Opens the maildrop of a user whose credentials were right.
    fn enter(&mut self, user: String, world: &World) -> Result<Step, String> {
        // The replies a real driver sends, in the session's language.
        let failed =
            |code: RespCode, key: &str| Err(Response::err_code(code, self.session.text(key, &[])));
        let verdict = match world.accounts.get(&user) {
            None => return Err(format!("login for {user}, who has no account")),
            Some(account) => match (&account.refuse, true) {
                (_, false) => failed(RespCode::Auth, "pop3-auth-failed"),
                (Some(RespCode::InUse), true) => failed(RespCode::InUse, "pop3-mailbox-locked"),
                (Some(RespCode::LoginDelay), true) => Err(Response::err_code(
                    RespCode::LoginDelay,
                    self.session.text(
                        "pop3-login-delay",
                        &[("delay", 900u32.into()), ("wait", 600u32.into())],
                    ),
                )),
                (Some(other), true) => failed(other.clone(), "pop3-auth-unavailable"),
                (None, true) => Ok(account),
            },
        };
        match verdict {
            Err(reply) => Ok(self.session.login_failed(reply, &mut self.output)),
            Ok(account) => {
                self.snapshot = account.messages.clone();
                self.unavailable = account.unavailable.clone();
                self.user = Some(user.clone());
                let infos = self
                    .snapshot
                    .iter()
                    .map(|m| MessageInfo {
                        size: WireSize::of(&m.bytes),
                        uidl: m.uidl.clone(),
                    })
                    .collect();
                let step = self
                    .session
                    .login_succeeded(user.clone(), infos, &mut self.output);
                if !self.session.is_transaction() || self.session.user() != Some(user.as_str()) {
                    return Err("login_succeeded() did not enter TRANSACTION for the user".into());
                }
                Ok(step)
            }
        }
    }

    fn send_message(
        &mut self,
        index: usize,
        extent: Extent,
        status: Response,
    ) -> Result<Step, String> {
        let message = self.snapshot.get(index).ok_or_else(|| {
            format!(
                "Step::SendMessage for index {index}, maildrop has {}",
                self.snapshot.len()
            )
        })?;
        if !status.ok {
            return Err(format!(
                "Step::SendMessage with a negative status {status:?}"
            ));
        }
        if self.unavailable.contains(&(index + 1)) {
            return Ok(self.session.message_unavailable(&mut self.output));
        }
        status.encode(&mut self.output);
        self.output.extend(encode_message(&message.bytes, extent));
        Ok(Step::Continue)
    }

    fn update(&mut self, doomed: Vec<usize>, world: &mut World) -> Result<Step, String> {
        if !doomed.windows(2).all(|w| w[0] < w[1])
            || doomed.iter().any(|&i| i >= self.snapshot.len())
        {
            return Err(format!(
                "Step::Update with bad indices {doomed:?} for {} messages",
                self.snapshot.len()
            ));
        }
        self.update = Some(doomed.clone());
        if world.update_fails {
            return Ok(self
                .session
                .update_done(Err("the maildrop is read-only".into()), &mut self.output));
        }
        let user = self.user.as_deref().ok_or("Step::Update without a login")?;
        let account = world
            .accounts
            .get_mut(user)
            .ok_or("UPDATE for an unknown user")?;
        let gone: BTreeSet<&Uidl> = doomed.iter().map(|&i| &self.snapshot[i].uidl).collect();
        account.messages.retain(|m| !gone.contains(&m.uidl));
        Ok(self.session.update_done(Ok(doomed.len()), &mut self.output))
    }

    /// The next complete line of server output, `None` if there is none.
    fn next_output_line(&mut self) -> Result<Option<Vec<u8>>, String> {
        if self.output.is_empty() {
            return Ok(None);
        }
        let Some(end) = self.output.windows(2).position(|w| w == b"\r\n") else {
            return Err(format!(
                "server output does not end with CRLF: {}",
                show(&self.output)
            ));
        };
        let line: Vec<u8> = self.output.drain(..end + 2).take(end).collect();
        if line.contains(&b'\n') {
            return Err(format!("bare LF in server line {}", show(&line)));
        }
        Ok(Some(line))
    }

    fn unmatched(&self) -> Result<(), String> {
        if self.output.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected server output {}", show(&self.output)))
        }
    }
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// One transcript being replayed.
struct Runner {
    feed: Feed,
    /// Replaying an English transcript with the session in Spanish (see
    /// [`every_transcript_speaks_spanish_where_it_speaks_to_people`]).
    mirror: bool,
    /// A greeting set by `@config greeting`: the admin's words, in no catalog.
    admin_greeting: Option<String>,
    config: SessionConfig,
    info: ConnectionInfo,
    world: World,
    conn: Option<Connection>,
}

impl Runner {
    fn new(feed: Feed, mirror: bool) -> Self {
        let mut config = SessionConfig::default();
        if mirror {
            config.language = Lang::Es;
            config.greeting = buzon_i18n::text(Lang::Es, "pop3-greeting", &[]);
        }
        Self {
            feed,
            mirror,
            admin_greeting: None,
            config,
            info: ConnectionInfo {
                tls_active: false,
                stls_available: false,
                plaintext_without_tls: true,
                apop_timestamp: None,
                apop_without_tls: false,
                scram: false,
                channel_binding: None,
                oauth: false,
            },
            world: World::default(),
            conn: None,
        }
    }

    fn client(&mut self, bytes: &[u8]) -> Result<(), String> {
        let conn = self
            .conn
            .get_or_insert_with(|| Connection::open(&self.config, &self.info));
        if conn.phase != Phase::Open {
            return Err(format!(
                "the client speaks on a connection that has ended ({:?})",
                conn.phase
            ));
        }
        conn.unmatched()?;
        conn.send(bytes, self.feed, &mut self.world)
    }

    fn server(&mut self, expect: &Expect) -> Result<(), String> {
        let conn = self
            .conn
            .get_or_insert_with(|| Connection::open(&self.config, &self.info));
        if conn.phase == Phase::Dropped {
            return Err("the client dropped this connection".into());
        }
        match conn.next_output_line()? {
            None => Err(format!("expected {expect}, the server sent nothing")),
            Some(line) if self.mirror => {
                let admin = self
                    .admin_greeting
                    .as_ref()
                    .is_some_and(|g| line.starts_with(format!("+OK {g}").as_bytes()));
                if admin {
                    Ok(())
                } else {
                    mirror_matches(expect, &line)
                }
            }
            Some(line) if expect.matches(&line) => Ok(()),
            Some(line) => Err(format!(
                "expected {expect}, the server sent {}",
                show(&line)
            )),
        }
    }

    fn settings_may_change(&self) -> Result<(), String> {
        match &self.conn {
            Some(c) if c.phase == Phase::Open => {
                Err("settings can only change between connections (after @closed or @drop)".into())
            }
            _ => Ok(()),
        }
    }

    fn account(&mut self, name: &str) -> Result<&mut Account, String> {
        self.world
            .accounts
            .get_mut(name)
            .ok_or_else(|| format!("no @user {name}"))
    }

    fn directive(&mut self, key: &str, value: &str) -> Result<(), String> {
        let words: Vec<&str> = value.split_whitespace().collect();
        match key {
            "user" => {
                let (name, password) = value.split_once(' ').ok_or("@user NAME PASSWORD")?;
                let password = transcript::unescape(password)?;
                let account = self.world.accounts.entry(name.to_string()).or_default();
                account.password = password;
            }
            "message" => {
                let (name, content) = value.split_once(' ').unwrap_or((value, ""));
                let bytes = transcript::unescape(content)?;
                let account = self.account(name)?;
                account.next_uid += 1;
                let uidl = Uidl::new(format!("uid-{}", account.next_uid))
                    .ok_or("bad generated unique-id")?;
                account.messages.push(Stored { bytes, uidl });
            }
            "uidl" => {
                let [name, n, uidl] = words[..] else {
                    return Err("@uidl NAME N UIDL".into());
                };
                let n: usize = n.parse().map_err(|_| "@uidl: bad message number")?;
                let uidl = Uidl::new(uidl).ok_or("@uidl: not a valid unique-id")?;
                let account = self.account(name)?;
                let m = account
                    .messages
                    .get_mut(n.wrapping_sub(1))
                    .ok_or("@uidl: no such message")?;
                m.uidl = uidl;
            }
            "inuse" | "login-delay" => {
                let code = if key == "inuse" {
                    RespCode::InUse
                } else {
                    RespCode::LoginDelay
                };
                self.account(value)?.refuse = Some(code);
            }
            "unavailable" => {
                let [name, n] = words[..] else {
                    return Err("@unavailable NAME N".into());
                };
                let n: usize = n.parse().map_err(|_| "@unavailable: bad message number")?;
                self.account(name)?.unavailable.insert(n);
            }
            "update-fails" => {
                self.world.update_fails = match value {
                    "" | "on" => true,
                    "off" => false,
                    _ => return Err("@update-fails [on|off]".into()),
                }
            }
            "tls" | "stls" | "plaintext" => {
                self.settings_may_change()?;
                let on = match value {
                    "on" => true,
                    "off" => false,
                    _ => return Err(format!("@{key} on|off")),
                };
                match key {
                    "tls" => self.info.tls_active = on,
                    "stls" => self.info.stls_available = on,
                    _ => self.info.plaintext_without_tls = on,
                }
            }
            "apop" => {
                self.settings_may_change()?;
                self.info.apop_timestamp = (value != "off").then(|| value.to_string());
            }
            "scram" => {
                self.settings_may_change()?;
                self.info.scram = match value {
                    "on" => true,
                    "off" => false,
                    _ => return Err("@scram on|off".into()),
                };
            }
            "oauth" => {
                self.settings_may_change()?;
                self.info.oauth = match value {
                    "on" => true,
                    "off" => false,
                    _ => return Err("@oauth on|off".into()),
                };
            }
            "channel-binding" => {
                self.settings_may_change()?;
                self.info.channel_binding = match value {
                    "off" => None,
                    v => Some(transcript::unescape(v)?),
                };
            }
            "scram-nonce" => self.world.scram_nonce = value.to_string(),
            "apop-without-tls" => {
                self.settings_may_change()?;
                self.info.apop_without_tls = match value {
                    "on" => true,
                    "off" => false,
                    _ => return Err("@apop-without-tls on|off".into()),
                };
            }
            "config" => {
                self.settings_may_change()?;
                let (k, v) = value.split_once(' ').ok_or("@config KEY VALUE")?;
                let opt = (v != "none").then(|| v.to_string());
                let num = |v: &str| {
                    v.parse::<u32>()
                        .map_err(|_| format!("@config {k}: not a number"))
                };
                match k {
                    "greeting" => {
                        self.config.greeting = v.to_string();
                        self.admin_greeting = Some(v.to_string());
                    }
                    "language" => {
                        self.config.language =
                            Lang::from_tag(v).ok_or(format!("@config language {v}: en or es"))?
                    }
                    "implementation" => self.config.implementation = opt,
                    "expire" => self.config.expire = opt,
                    "login_delay" => {
                        self.config.login_delay = opt.as_deref().map(num).transpose()?
                    }
                    "max_bad_commands" => self.config.max_bad_commands = num(v)?,
                    "max_auth_failures" => self.config.max_auth_failures = num(v)?,
                    _ => return Err(format!("unknown @config key {k}")),
                }
            }
            "send" => self.client(&transcript::unescape(value)?)?,
            "expect-deleted" => {
                let conn = self
                    .conn
                    .as_ref()
                    .ok_or("@expect-deleted before any connection")?;
                let got: Vec<usize> = conn.update.iter().flatten().map(|i| i + 1).collect();
                let want: Vec<usize> = if value == "none" {
                    Vec::new()
                } else {
                    if conn.update.is_none() {
                        return Err(format!(
                            "expected UPDATE to remove {value}, but there was no UPDATE"
                        ));
                    }
                    value
                        .split(',')
                        .map(|n| {
                            n.trim()
                                .parse()
                                .map_err(|_| format!("@expect-deleted: bad number {n:?}"))
                        })
                        .collect::<Result<_, _>>()?
                };
                if got != want {
                    return Err(format!(
                        "UPDATE removed messages {got:?}, expected {want:?}"
                    ));
                }
            }
            "expect-no-update" => {
                let conn = self
                    .conn
                    .as_ref()
                    .ok_or("@expect-no-update before any connection")?;
                if let Some(doomed) = &conn.update {
                    return Err(format!("expected no UPDATE, got Step::Update({doomed:?})"));
                }
            }
            "closed" => {
                let conn = self.conn.as_mut().ok_or("@closed before any connection")?;
                conn.unmatched()?;
                match conn.phase {
                    Phase::ClosedByServer { .. } => {
                        conn.phase = Phase::ClosedByServer { acknowledged: true }
                    }
                    other => {
                        return Err(format!(
                            "expected the server to close the connection; it is {other:?}"
                        ))
                    }
                }
            }
            "drop" => {
                let conn = self.conn.as_mut().ok_or("@drop before any connection")?;
                conn.unmatched()?;
                if conn.phase != Phase::Open {
                    return Err(format!(
                        "@drop on a connection that has ended ({:?})",
                        conn.phase
                    ));
                }
                conn.phase = Phase::Dropped;
            }
            "connect" => {
                if let Some(conn) = &self.conn {
                    conn.unmatched()?;
                    match conn.phase {
                        Phase::ClosedByServer { acknowledged: true } | Phase::Dropped => {}
                        other => {
                            return Err(format!(
                                "@connect needs @closed or @drop first; connection is {other:?}"
                            ))
                        }
                    }
                }
                self.conn = None;
            }
            _ => return Err(format!("unknown directive @{key}")),
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), String> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        conn.unmatched()?;
        if conn.phase
            == (Phase::ClosedByServer {
                acknowledged: false,
            })
        {
            return Err(
                "the server closed the connection, but the transcript does not say @closed".into(),
            );
        }
        Ok(())
    }
}

/// Replays one transcript; the error names the file, the line and the feeding mode.
fn run(name: &str, text: &str, feed: Feed) -> Result<(), String> {
    run_with(name, text, feed, false)
}

/// In a Spanish replay of an English transcript a server line must keep what machines
/// read — the status indicator, the response code, every line of a multi-line body — and
/// the human text after them must be Spanish: it may equal the English only where it
/// has no words (an empty text) or starts with a number (STAT's "2 320", "LIST 1"'s
/// "1 41", "UIDL 2"'s "2 uid-2": machine-read).
fn mirror_matches(expect: &Expect, line: &[u8]) -> Result<(), String> {
    let (want, prefix_only) = match expect {
        Expect::Exact(e) => (e.as_slice(), false),
        Expect::Prefix(p) => (p.as_slice(), true),
    };
    let status = |l: &[u8]| -> Option<(&'static str, Option<String>, String)> {
        let s = std::str::from_utf8(l).ok()?;
        let (kw, rest) = if let Some(r) = s.strip_prefix("+OK") {
            ("+OK", r)
        } else if let Some(r) = s.strip_prefix("-ERR") {
            ("-ERR", r)
        } else {
            return None;
        };
        let rest = rest.trim_start();
        match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((code, text)) => Some((kw, Some(code.to_string()), text.trim_start().to_string())),
            None => Some((kw, None, rest.to_string())),
        }
    };
    let fail = || {
        Err(format!(
            "in Spanish, expected the counterpart of {expect}, the server sent {}",
            show(line)
        ))
    };
    match (status(want), status(line)) {
        (Some((wk, wcode, wtext)), Some((k, code, text))) => {
            if wk != k || (!prefix_only && wcode != code) || (wcode.is_some() && wcode != code) {
                return fail();
            }
            if line.len() > 512 {
                return Err(format!(
                    "status line over 512 octets (RFC 2449 §4): {}",
                    show(line)
                ));
            }
            let has_words = |t: &str| {
                t.split(|c: char| !c.is_ascii_lowercase())
                    .any(|w| w.len() >= 3)
            };
            let machine = wtext.starts_with(|c: char| c.is_ascii_digit())
                && wtext
                    .split(' ')
                    .nth(1)
                    .is_some_and(|w| !has_words(w) || w.contains('-'));
            if !prefix_only && text == wtext && has_words(&wtext) && !machine {
                return Err(format!("English text in a Spanish session: {}", show(line)));
            }
            if !prefix_only && text.is_empty() != wtext.is_empty() {
                return fail();
            }
            Ok(())
        }
        (None, None) if expect.matches(line) => Ok(()),
        _ => fail(),
    }
}

fn run_with(name: &str, text: &str, feed: Feed, mirror: bool) -> Result<(), String> {
    let items = transcript::parse(text).map_err(|e| format!("{name}: {e}"))?;
    // `parse` yields one item per line that is neither blank nor a comment.
    let line_numbers: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_end();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|(n, _)| n + 1)
        .collect();
    let mut runner = Runner::new(feed, mirror);
    for (item, line) in items.iter().zip(&line_numbers) {
        let result = match item {
            Item::Client(bytes) => {
                let mut b = bytes.clone();
                b.extend_from_slice(b"\r\n");
                runner.client(&b)
            }
            Item::Server(expect) => runner.server(expect),
            Item::Directive { key, value } => runner.directive(key, value),
        };
        result.map_err(|e| format!("{name}:{line} ({feed:?}): {e}"))?;
    }
    runner
        .finish()
        .map_err(|e| format!("{name}: at the end ({feed:?}): {e}"))
}

fn transcript_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_transcript_passes_in_every_feeding() {
    let files = transcript_files();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for feed in [Feed::Whole, Feed::Bytes] {
            if let Err(e) = run(&name, &text, feed) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} transcript failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        files.len() >= 7,
        "expected the RFC transcripts in tests/transcripts, found {files:?}"
    );
}

/// Every English transcript replayed with the server's language set to Spanish: the
/// same conversation, the same codes and bodies, and every text a person reads in
/// Spanish. Transcripts that switch languages themselves (LANG) are their own spec.
#[test]
fn every_transcript_speaks_spanish_where_it_speaks_to_people() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for path in transcript_files() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if name.starts_with("rfc6856-lang") {
            continue;
        }
        replayed += 1;
        if let Err(e) = run_with(&name, &text, Feed::Whole, true) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(replayed >= 7, "replayed only {replayed} transcripts");
}

#[test]
fn the_spanish_replay_rejects_english_text_and_changed_codes() {
    let base = "@user u p\nS: +OK...\nC: USER u\nS: +OK\n";
    let english = format!("{base}C: PASS x\nS: -ERR [AUTH] Authentication failed.\n");
    assert!(run_with("inline", &english, Feed::Whole, true).is_ok());
    let e = mirror_matches(
        &Expect::Exact(b"-ERR [AUTH] Authentication failed.".to_vec()),
        b"-ERR [AUTH] Authentication failed.",
    );
    assert!(e.is_err_and(|e| e.contains("English text")));
    let e = mirror_matches(
        &Expect::Exact(b"-ERR [AUTH] Authentication failed.".to_vec()),
        b"-ERR [SYS/TEMP] Error de autenticaci\xc3\xb3n.",
    );
    assert!(e.is_err());
    assert!(mirror_matches(&Expect::Exact(b"+OK 2 320".to_vec()), b"+OK 2 320").is_ok());
    assert!(mirror_matches(&Expect::Exact(b"1 41".to_vec()), b"1 42").is_err());
}

// The runner must be able to fail: each of these transcripts is wrong on purpose.

const BASE: &str = "@user u p\n@message u Subject: x\\n\\nbody\\n\nS: +OK Buzon ready.\nC: USER u\nS: +OK\nC: PASS p\nS: +OK Logged in.\n";

fn fails(text: &str, why: &str) {
    for feed in [Feed::Whole, Feed::Bytes] {
        match run("inline", text, feed) {
            Ok(()) => panic!("the runner accepted a transcript that is wrong: {why}\n{text}"),
            Err(e) => assert!(e.contains(why), "wanted an error about {why:?}, got {e:?}"),
        }
    }
}

#[test]
fn runner_accepts_the_base_transcript() {
    let text = format!("{BASE}C: DELE 1\nS: +OK...\nC: QUIT\nS: +OK Logging out, 1 messages deleted.\n@closed\n@expect-deleted 1\n");
    for feed in [Feed::Whole, Feed::Bytes] {
        run("inline", &text, feed).unwrap();
    }
}

#[test]
fn runner_rejects_a_wrong_reply() {
    fails(
        &format!("{BASE}C: STAT\nS: +OK 2 20\n"),
        "expected \"+OK 2 20\"",
    );
}

#[test]
fn runner_rejects_missing_and_unmatched_output() {
    fails(
        &format!("{BASE}C: NOOP\nS: +OK\nS: +OK\n"),
        "the server sent nothing",
    );
    fails(
        &format!("{BASE}C: LIST\nS: +OK...\nC: NOOP\n"),
        "unexpected server output",
    );
    fails(&format!("{BASE}C: NOOP\n"), "unexpected server output");
}

#[test]
fn runner_rejects_unannounced_and_missing_closes() {
    fails(
        &format!("{BASE}C: QUIT\nS: +OK...\n"),
        "does not say @closed",
    );
    fails(
        &format!("{BASE}C: NOOP\nS: +OK\n@closed\n"),
        "expected the server to close",
    );
    fails(
        &format!("{BASE}C: QUIT\nS: +OK...\n@closed\nC: NOOP\n"),
        "connection that has ended",
    );
}

#[test]
fn runner_checks_deletions_and_settings() {
    fails(
        &format!("{BASE}C: QUIT\nS: +OK...\n@closed\n@expect-deleted 1\n"),
        "UPDATE removed messages []",
    );
    fails(
        &format!("{BASE}C: DELE 1\nS: +OK...\nC: QUIT\nS: +OK...\n@closed\n@expect-deleted none\n"),
        "UPDATE removed messages [1]",
    );
    fails(
        &format!("{BASE}C: QUIT\nS: +OK...\n@closed\n@expect-no-update\n"),
        "expected no UPDATE",
    );
    fails(
        &format!("{BASE}@tls on\n"),
        "settings can only change between connections",
    );
    fails(&format!("{BASE}@bogus 1\n"), "unknown directive");
}

#[test]
fn deletions_persist_across_connections_only_after_quit() {
    let text = format!(
        "{BASE}C: DELE 1\nS: +OK...\n@drop\n@expect-no-update\n@connect\nS: +OK...\nC: USER u\nS: +OK\nC: PASS p\nS: +OK...\nC: STAT\nS: +OK 1 20\n\
         C: DELE 1\nS: +OK...\nC: QUIT\nS: +OK...\n@closed\n@connect\nS: +OK...\nC: USER u\nS: +OK\nC: PASS p\nS: +OK...\nC: STAT\nS: +OK 0 0\n"
    );
    for feed in [Feed::Whole, Feed::Bytes] {
        run("inline", &text, feed).unwrap();
    }
}
