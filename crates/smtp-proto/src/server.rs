//! The server side of an SMTP (RFC 5321) or LMTP (RFC 2033) session, as a state machine.
//!
//! The driver feeds received bytes ([`Session::feed`]) and pulls [`Event`]s
//! ([`Session::next_event`]), which append replies to an output buffer. Replies to
//! pipelined commands (RFC 2920) accumulate until [`Event::NeedInput`]: the driver then
//! flushes the output once and reads again. Decisions that need the outside world — is
//! this recipient deliverable, did the delivery work — come out as events that the driver
//! answers ([`Session::accept_recipient`], [`Session::reject_recipient`],
//! [`Session::finish_message`]) before pulling the next event.
//!
//! LMTP differs from SMTP in three places only: the greeting command is LHLO (EHLO and
//! HELO are refused), DATA without accepted recipients is 503, and after the message
//! there is one reply per accepted recipient, in RCPT order (RFC 2033 §4.2).
//!
//! What must never happen here: a byte received before STARTTLS read as a command after
//! it (RFC 3207 §4.2, the command injection attack), a message handed on after it passed
//! the size limit, or a transaction surviving RSET, EHLO or STARTTLS.

use crate::address::ForwardPath;
use crate::command::{parse_command, Command, CommandError, MailParams};
use crate::data::{DataReceiver, DataStatus};
use crate::line::{LineBuffer, LineError, LIMITS};
use crate::reply::{self, Reply};
use crate::ReversePath;

/// Which protocol the session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Smtp,
    Lmtp,
}

/// Settings for sessions of one listener.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub mode: Mode,
    /// Our name, in the greeting, the EHLO reply and 221/421 replies.
    pub hostname: String,
    /// RFC 1870: advertised with SIZE and enforced on DATA.
    pub max_message_size: u64,
    /// RFC 5321 §4.5.3.1.8: at least 100 must be accepted.
    pub max_recipients: usize,
    /// Protocol errors (bad syntax, bad sequence, unknown commands) before the session
    /// is closed with 421.
    pub max_errors: u32,
    /// Whether STARTTLS can be offered at all on this listener.
    pub starttls: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Smtp,
            hostname: "localhost".into(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 20,
            starttls: false,
        }
    }
}

/// How the client greeted us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeloKind {
    Ehlo,
    Helo,
    Lhlo,
}

/// The greeting command and the name the client gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helo {
    pub kind: HeloKind,
    pub name: String,
}

/// One mail transaction. `R` is what the driver attached to each accepted recipient
/// (where it routes to).
#[derive(Debug, Clone)]
pub struct Envelope<R> {
    pub helo: Helo,
    pub from: ReversePath,
    pub params: MailParams,
    /// Accepted recipients in RCPT order.
    pub recipients: Vec<(ForwardPath, R)>,
    /// Size of the message after unstuffing, once DATA is complete.
    pub size: u64,
    /// TLS was active for this transaction.
    pub tls: bool,
}

impl<R> Envelope<R> {
    /// RFC 5321 §4.4 / RFC 3848 / RFC 6531 §4.3: the `with` keyword of the Received header.
    pub fn received_protocol(&self) -> &'static str {
        match (self.helo.kind, self.params.smtputf8, self.tls) {
            (HeloKind::Lhlo, false, false) => "LMTP",
            (HeloKind::Lhlo, false, true) => "LMTPS",
            (HeloKind::Lhlo, true, false) => "UTF8LMTP",
            (HeloKind::Lhlo, true, true) => "UTF8LMTPS",
            (HeloKind::Helo, _, _) => "SMTP",
            (HeloKind::Ehlo, false, false) => "ESMTP",
            (HeloKind::Ehlo, false, true) => "ESMTPS",
            (HeloKind::Ehlo, true, false) => "UTF8SMTP",
            (HeloKind::Ehlo, true, true) => "UTF8SMTPS",
        }
    }
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Every buffered command is answered: flush the output, then read and
    /// [`Session::feed`] more.
    NeedInput,
    /// RCPT TO for this address passed the protocol checks. Answer with
    /// [`Session::accept_recipient`] or [`Session::reject_recipient`].
    Recipient(ForwardPath),
    /// DATA was accepted (354 is in the output): start collecting the message.
    DataStart,
    /// The next unstuffed message bytes.
    Data(Vec<u8>),
    /// The message is complete and within the size limit: deliver it to
    /// [`Session::envelope`]'s recipients, then call [`Session::finish_message`].
    Message,
    /// The message exceeded the size limit; 552 is in the output. Discard what was
    /// collected. The transaction is over.
    MessageTooBig,
    /// STARTTLS was accepted (220 is in the output, unread input discarded): flush the
    /// output, run the TLS handshake, then call [`Session::tls_established`].
    StartTls,
    /// Flush the output and close the connection.
    Close,
}

enum State<R> {
    /// Waiting for EHLO/HELO/LHLO.
    Connected,
    Ready(Helo),
    Mail(Helo, Envelope<R>),
    AwaitRecipient(Helo, Envelope<R>, ForwardPath),
    Data(Helo, Envelope<R>, DataReceiver),
    AwaitDelivery(Helo, Envelope<R>),
    AwaitTls,
    Closed,
}

/// One server session.
pub struct Session<R> {
    config: SessionConfig,
    state: State<R>,
    input: LineBuffer,
    tls_active: bool,
    errors: u32,
    /// RCPT commands in this transaction, accepted or not (for the DATA reply and the
    /// per-message limit).
    rcpt_attempts: usize,
    /// Recipients refused in this session, by the driver or by a limit. Once there were
    /// `max_recipients`, every further RCPT is refused unchecked and counts as an error,
    /// so a session cannot make the server look up recipients without end.
    refused_rcpts: usize,
}

impl<R> std::fmt::Debug for Session<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.config.mode)
            .field("tls_active", &self.tls_active)
            .finish_non_exhaustive()
    }
}

impl<R: Clone> Session<R> {
    /// A new session; `tls_active` for connections that are already encrypted.
    pub fn new(config: SessionConfig, tls_active: bool) -> Self {
        Self {
            config,
            state: State::Connected,
            input: LineBuffer::new(LIMITS),
            tls_active,
            errors: 0,
            rcpt_attempts: 0,
            refused_rcpts: 0,
        }
    }

    fn lmtp(&self) -> bool {
        self.config.mode == Mode::Lmtp
    }

    /// RFC 5321 §3.1: the 220 greeting.
    pub fn greeting(&self, out: &mut Vec<u8>) {
        reply::greeting(&self.config.hostname, self.lmtp()).encode(out);
    }

    /// Adds received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.feed(bytes);
    }

    /// Releases the input buffer's memory while idle.
    pub fn shrink(&mut self) {
        self.input.shrink();
    }

    /// True while the message body is being received (the driver uses the DATA timeout).
    pub fn in_data(&self) -> bool {
        matches!(self.state, State::Data(..))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    pub fn tls_active(&self) -> bool {
        self.tls_active
    }

    /// The current transaction (complete after [`Event::Message`]).
    pub fn envelope(&self) -> Option<&Envelope<R>> {
        match &self.state {
            State::Mail(_, e)
            | State::AwaitRecipient(_, e, _)
            | State::Data(_, e, _)
            | State::AwaitDelivery(_, e) => Some(e),
            _ => None,
        }
    }

    /// RFC 5321 §4.5.3.2.7: the client was silent too long: 421 and close.
    pub fn timeout(&mut self, out: &mut Vec<u8>) {
        reply::timeout(&self.config.hostname).encode(out);
        self.state = State::Closed;
    }

    /// The server is stopping: 421 and close.
    pub fn shutdown(&mut self, out: &mut Vec<u8>) {
        reply::shutting_down(&self.config.hostname).encode(out);
        self.state = State::Closed;
    }

    /// Answers the pending [`Event::Recipient`]: accepted, with the driver's data.
    pub fn accept_recipient(&mut self, data: R, out: &mut Vec<u8>) {
        if let State::AwaitRecipient(helo, mut env, to) =
            std::mem::replace(&mut self.state, State::Closed)
        {
            env.recipients.push((to, data));
            reply::recipient_ok().encode(out);
            self.state = State::Mail(helo, env);
        }
    }

    /// Answers the pending [`Event::Recipient`]: refused with `reply` (4xx or 5xx).
    pub fn reject_recipient(&mut self, reply: Reply, out: &mut Vec<u8>) {
        if let State::AwaitRecipient(helo, env, _) =
            std::mem::replace(&mut self.state, State::Closed)
        {
            reply.encode(out);
            self.refused_rcpts += 1;
            self.state = State::Mail(helo, env);
        }
    }

    /// Answers [`Event::Message`]. SMTP: one reply for the message (`replies[0]`). LMTP:
    /// one reply per accepted recipient, in order (RFC 2033 §4.2); missing replies become
    /// 451 so the client never waits for a line that will not come.
    pub fn finish_message(&mut self, replies: Vec<Reply>, out: &mut Vec<u8>) {
        let State::AwaitDelivery(helo, env) = std::mem::replace(&mut self.state, State::Closed)
        else {
            return;
        };
        let wanted = if self.lmtp() { env.recipients.len() } else { 1 };
        let mut replies = replies.into_iter();
        for _ in 0..wanted {
            replies
                .next()
                .unwrap_or_else(reply::local_error)
                .encode(out);
        }
        self.state = State::Ready(helo);
    }

    /// Answers [`Event::StartTls`] once the handshake succeeded: the session starts
    /// afresh (RFC 3207 §4.2), the client must greet again.
    pub fn tls_established(&mut self) {
        self.input.clear();
        self.tls_active = true;
        self.state = State::Connected;
    }

    /// The next thing to do.
    pub fn next_event(&mut self, out: &mut Vec<u8>) -> Event {
        loop {
            match &mut self.state {
                State::Closed => return Event::Close,
                State::AwaitRecipient(_, _, to) => return Event::Recipient(to.clone()),
                State::AwaitDelivery(..) => return Event::Message,
                State::AwaitTls => return Event::StartTls,
                State::Data(_, _, receiver) => {
                    if receiver.is_done() {
                        return self.end_of_data(out);
                    }
                    if self.input.is_empty() {
                        return Event::NeedInput;
                    }
                    let mut chunk = Vec::new();
                    match receiver.feed(self.input.unread(), &mut chunk) {
                        DataStatus::NeedMore => {
                            let n = self.input.unread().len();
                            self.input.consume(n);
                        }
                        DataStatus::Done { consumed } => self.input.consume(consumed),
                    }
                    if !chunk.is_empty() {
                        return Event::Data(chunk);
                    }
                }
                _ => {
                    let Some(line) = self.input.next_line() else {
                        return Event::NeedInput;
                    };
                    let event = match line {
                        Ok(line) => self.handle_line(&line, out),
                        // No hard cap is set, so a runaway line is only ever too long.
                        Err(LineError::TooLong | LineError::Runaway) => {
                            self.error(reply::line_too_long(), out)
                        }
                        Err(LineError::BareLf) => self.error(reply::bare_lf(), out),
                    };
                    if let Some(e) = event {
                        return e;
                    }
                }
            }
        }
    }

    fn end_of_data(&mut self, out: &mut Vec<u8>) -> Event {
        let State::Data(helo, mut env, receiver) =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            return Event::Close;
        };
        env.size = receiver.size();
        if receiver.is_over_limit() {
            reply::message_too_big(self.config.max_message_size).encode(out);
            self.state = State::Ready(helo);
            Event::MessageTooBig
        } else {
            self.state = State::AwaitDelivery(helo, env);
            Event::Message
        }
    }

    /// A protocol error: the reply, and 421 once there were too many.
    fn error(&mut self, r: Reply, out: &mut Vec<u8>) -> Option<Event> {
        r.encode(out);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            reply::too_many_errors(&self.config.hostname).encode(out);
            self.state = State::Closed;
            return Some(Event::Close);
        }
        None
    }

    fn helo(&self) -> Option<Helo> {
        match &self.state {
            State::Ready(h) | State::Mail(h, _) => Some(h.clone()),
            _ => None,
        }
    }

    fn handle_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Option<Event> {
        let command = match parse_command(line) {
            Ok(c) => c,
            Err(
                e @ (CommandError::Unrecognized
                | CommandError::NotImplemented(_)
                | CommandError::NotUtf8
                | CommandError::Syntax(_)),
            ) => return self.error(e.reply(), out),
            // Address and parameter problems are the sender's data, not protocol abuse.
            Err(e) => {
                e.reply().encode(out);
                return None;
            }
        };
        match command {
            Command::Ehlo(name) | Command::Helo(name) if self.lmtp() => {
                let _ = name;
                self.error(
                    reply::bad_sequence("this is LMTP; greet with LHLO (RFC 2033)"),
                    out,
                )
            }
            Command::Lhlo(_) if !self.lmtp() => self.error(reply::unrecognized(), out),
            Command::Ehlo(name) => self.greet(HeloKind::Ehlo, name, out),
            Command::Lhlo(name) => self.greet(HeloKind::Lhlo, name, out),
            Command::Helo(name) => {
                reply::Reply::plain(250, &self.config.hostname).encode(out);
                self.reset_to(Helo {
                    kind: HeloKind::Helo,
                    name,
                });
                None
            }
            Command::Mail { from, params } => self.mail(from, params, out),
            Command::Rcpt { to } => self.rcpt(to, out),
            Command::Data => self.data(out),
            Command::Rset => {
                reply::ok().encode(out);
                if let Some(h) = self.helo() {
                    self.reset_to(h);
                }
                None
            }
            Command::Noop => {
                reply::ok().encode(out);
                None
            }
            Command::Quit => {
                reply::closing(&self.config.hostname).encode(out);
                self.state = State::Closed;
                Some(Event::Close)
            }
            Command::Vrfy(_) => {
                reply::vrfy_disabled().encode(out);
                None
            }
            Command::Expn => {
                reply::expn_disabled().encode(out);
                None
            }
            Command::Help => {
                reply::help().encode(out);
                None
            }
            Command::StartTls => {
                if self.tls_active || !self.config.starttls {
                    return self.error(reply::tls_not_available(self.tls_active), out);
                }
                reply::starttls_ready().encode(out);
                // RFC 3207 §4.2: the client must not pipeline past STARTTLS; whatever
                // it did send is dropped, never read as a command after the handshake.
                self.input.clear();
                self.state = State::AwaitTls;
                Some(Event::StartTls)
            }
        }
    }

    fn reset_to(&mut self, helo: Helo) {
        self.rcpt_attempts = 0;
        self.state = State::Ready(helo);
    }

    /// RFC 5321 §4.1.1.1 / RFC 2033 §4.1: the extension list.
    fn greet(&mut self, kind: HeloKind, name: String, out: &mut Vec<u8>) -> Option<Event> {
        let mut lines = vec![
            self.config.hostname.clone(),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.config.max_message_size),
            "8BITMIME".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
            "SMTPUTF8".to_string(),
        ];
        if self.config.starttls && !self.tls_active {
            lines.push("STARTTLS".to_string());
        }
        Reply::plain_lines(250, &lines).encode(out);
        // EHLO also resets any transaction (RFC 5321 §4.1.4).
        self.reset_to(Helo { kind, name });
        None
    }

    fn mail(&mut self, from: ReversePath, params: MailParams, out: &mut Vec<u8>) -> Option<Event> {
        let helo = match &self.state {
            State::Ready(h) => h.clone(),
            State::Connected => {
                let what = if self.lmtp() {
                    "send LHLO first"
                } else {
                    "send EHLO or HELO first"
                };
                return self.error(reply::bad_sequence(what), out);
            }
            _ => {
                return self.error(
                    reply::bad_sequence("a transaction is already open; send RSET to start over"),
                    out,
                )
            }
        };
        if from.mailbox().is_some_and(|m| !m.is_ascii()) && !params.smtputf8 {
            reply::needs_smtputf8().encode(out);
            return None;
        }
        // RFC 1870 §6.1: refuse a declared size over the limit before any data is sent.
        if params
            .size
            .is_some_and(|s| s > self.config.max_message_size)
        {
            reply::message_too_big(self.config.max_message_size).encode(out);
            return None;
        }
        reply::sender_ok().encode(out);
        self.rcpt_attempts = 0;
        let env = Envelope {
            helo: helo.clone(),
            from,
            params,
            recipients: Vec::new(),
            size: 0,
            tls: self.tls_active,
        };
        self.state = State::Mail(helo, env);
        None
    }

    fn rcpt(&mut self, to: ForwardPath, out: &mut Vec<u8>) -> Option<Event> {
        let State::Mail(_, env) = &self.state else {
            return self.error(reply::bad_sequence("send MAIL FROM first"), out);
        };
        if self.refused_rcpts >= self.config.max_recipients {
            return self.error(
                reply::too_many_refused_recipients(self.config.max_recipients),
                out,
            );
        }
        self.rcpt_attempts += 1;
        if !to.is_ascii() && !env.params.smtputf8 {
            reply::needs_smtputf8().encode(out);
            self.refused_rcpts += 1;
            return None;
        }
        // Refused recipients count too: the limit bounds the lookups per message.
        if self.rcpt_attempts > self.config.max_recipients {
            reply::too_many_recipients(self.config.max_recipients).encode(out);
            self.refused_rcpts += 1;
            return None;
        }
        let State::Mail(helo, env) = std::mem::replace(&mut self.state, State::Closed) else {
            return Some(Event::Close);
        };
        self.state = State::AwaitRecipient(helo, env, to.clone());
        Some(Event::Recipient(to))
    }

    fn data(&mut self, out: &mut Vec<u8>) -> Option<Event> {
        let State::Mail(_, env) = &self.state else {
            let what = if matches!(self.state, State::Ready(_)) {
                "send MAIL FROM and RCPT TO first"
            } else {
                "not now"
            };
            return self.error(reply::bad_sequence(what), out);
        };
        if env.recipients.is_empty() {
            if self.rcpt_attempts == 0 {
                return self.error(reply::bad_sequence("send RCPT TO first"), out);
            }
            reply::no_valid_recipients(self.lmtp()).encode(out);
            return None;
        }
        let State::Mail(helo, env) = std::mem::replace(&mut self.state, State::Closed) else {
            return Some(Event::Close);
        };
        reply::start_data().encode(out);
        self.state = State::Data(helo, env, DataReceiver::new(self.config.max_message_size));
        Some(Event::DataStart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted driver: recipients whose local part starts with "bad" are refused,
    /// every message is delivered. Returns the output and the messages received.
    fn run(mode: Mode, input: &[u8], chunk: usize) -> (String, Vec<Vec<u8>>) {
        let config = SessionConfig {
            mode,
            hostname: "mx.test".into(),
            max_message_size: 100,
            max_recipients: 3,
            max_errors: 8,
            starttls: true,
        };
        let mut s: Session<()> = Session::new(config, false);
        let mut out = Vec::new();
        s.greeting(&mut out);
        let mut messages = Vec::new();
        let mut current = Vec::new();
        let mut chunks = input.chunks(chunk.max(1));
        for _ in 0..100_000 {
            match s.next_event(&mut out) {
                Event::NeedInput => match chunks.next() {
                    Some(c) => s.feed(c),
                    None => break,
                },
                Event::Recipient(to) => {
                    if to.local_part().starts_with("bad") {
                        s.reject_recipient(reply::unknown_user(), &mut out)
                    } else {
                        s.accept_recipient((), &mut out)
                    }
                }
                Event::DataStart => current.clear(),
                Event::Data(d) => current.extend_from_slice(&d),
                Event::Message => {
                    messages.push(std::mem::take(&mut current));
                    let n = s.envelope().map_or(0, |e| e.recipients.len());
                    let replies = (0..n).map(|i| reply::delivered(&format!("m{i}"))).collect();
                    s.finish_message(replies, &mut out);
                }
                Event::MessageTooBig => current.clear(),
                Event::StartTls => {
                    out.extend_from_slice(b"<TLS>\r\n");
                    s.tls_established();
                }
                Event::Close => break,
            }
        }
        (String::from_utf8_lossy(&out).into_owned(), messages)
    }

    /// Runs `input` whole and in every chunk size up to 64; all must agree.
    fn run_all_chunkings(mode: Mode, input: &[u8]) -> (String, Vec<Vec<u8>>) {
        let whole = run(mode, input, input.len().max(1));
        for chunk in 1..=input.len().min(64) {
            assert_eq!(run(mode, input, chunk), whole, "chunk size {chunk}");
        }
        whole
    }

    #[test]
    fn smtp_pipelined_transaction() {
        let input = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@mx.test>\r\nRCPT TO:<bad@mx.test>\r\nDATA\r\nSubject: hi\r\n\r\n..x\r\n.\r\nQUIT\r\n";
        let (out, msgs) = run_all_chunkings(Mode::Smtp, input);
        assert_eq!(
            out,
            "220 mx.test ESMTP Buzon ready\r\n250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n\
             250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n550 5.1.1 No such user here\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n\
             250 2.0.0 OK id=m0\r\n221 2.0.0 mx.test closing connection\r\n"
        );
        assert_eq!(msgs, vec![b"Subject: hi\r\n\r\n.x\r\n".to_vec()]);
    }

    #[test]
    fn lmtp_one_reply_per_recipient() {
        let input = b"LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@mx.test>\r\nRCPT TO:<bad@mx.test>\r\nRCPT TO:<c@mx.test>\r\nDATA\r\nhello\r\n.\r\n";
        let (out, msgs) = run_all_chunkings(Mode::Lmtp, input);
        assert!(
            out.starts_with("220 mx.test LMTP Buzon ready\r\n250-mx.test\r\n"),
            "{out}"
        );
        assert!(out.ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n250 2.0.0 OK id=m0\r\n250 2.0.0 OK id=m1\r\n"), "{out}");
        assert_eq!(msgs, vec![b"hello\r\n".to_vec()]);
        let (out, _) = run(Mode::Lmtp, b"EHLO c\r\nHELO c\r\n", 100);
        assert_eq!(out.matches("503 5.5.1").count(), 2, "{out}");
        let (out, _) = run(Mode::Smtp, b"LHLO c\r\n", 100);
        assert!(out.contains("500 5.5.1"), "{out}");
    }

    #[test]
    fn sequence_errors() {
        let input = b"MAIL FROM:<a@x>\r\nEHLO c\r\nRCPT TO:<b@y>\r\nDATA\r\nMAIL FROM:<a@x>\r\nMAIL FROM:<a@x>\r\nDATA\r\nRCPT TO:<bad@y>\r\nDATA\r\nRSET\r\nDATA\r\n";
        let (out, _) = run_all_chunkings(Mode::Smtp, input);
        let codes: Vec<&str> = out
            .lines()
            .map(|l| &l[..4])
            .filter(|c| !c.starts_with("250-"))
            .collect();
        assert_eq!(
            codes,
            [
                "220 ", "503 ", "250 ", "503 ", "503 ", "250 ", "503 ", "503 ", "550 ", "554 ",
                "250 ", "503 "
            ],
            "{out}"
        );
    }

    #[test]
    fn refused_recipients_are_capped_per_message_and_per_session() {
        // Refused recipients count towards the per-message limit (max 3): after two
        // refused and one accepted, the fourth is not even looked up.
        let input = b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<bad1@y>\r\nRCPT TO:<bad2@y>\r\nRCPT TO:<a@y>\r\nRCPT TO:<b@y>\r\nQUIT\r\n";
        let (out, _) = run_all_chunkings(Mode::Smtp, input);
        assert!(
            out.contains("550 5.1.1 No such user here\r\n550 5.1.1 No such user here\r\n250 2.1.5 Recipient OK\r\n452 4.5.3 Too many recipients; at most 3 per message\r\n221"),
            "{out}"
        );
        // Per session: RSET does not reset the count of refused recipients. After 3
        // refused, every RCPT gets 452 4.5.3 unchecked and counts as an error; after
        // max_errors (8) errors, 421 and close.
        let mut input = b"EHLO c\r\n".to_vec();
        for i in 0..3 {
            input.extend_from_slice(
                format!("MAIL FROM:<a@x>\r\nRCPT TO:<bad{i}@y>\r\nRSET\r\n").as_bytes(),
            );
        }
        input.extend_from_slice(b"MAIL FROM:<a@x>\r\n");
        for _ in 0..20 {
            input.extend_from_slice(b"RCPT TO:<good@y>\r\n");
        }
        let (out, _) = run_all_chunkings(Mode::Smtp, &input);
        let refused = "452 4.5.3 Too many recipients; 3 were refused in this session\r\n";
        assert_eq!(out.matches(refused).count(), 8, "{out}");
        assert!(!out.contains("Recipient OK"), "{out}");
        assert!(
            out.ends_with(&format!(
                "{refused}421 4.7.0 mx.test Too many errors; closing connection\r\n"
            )),
            "{out}"
        );
    }

    #[test]
    fn limits() {
        // Recipients: the fourth is refused with 452 (max 3).
        let input = b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<a@y>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nRCPT TO:<d@y>\r\nQUIT\r\n";
        let (out, _) = run_all_chunkings(Mode::Smtp, input);
        assert!(
            out.contains("452 4.5.3 Too many recipients; at most 3 per message\r\n221"),
            "{out}"
        );
        // Declared size over the limit: 552 at MAIL.
        let (out, _) = run(
            Mode::Smtp,
            b"EHLO c\r\nMAIL FROM:<a@x> SIZE=101\r\nMAIL FROM:<a@x> SIZE=100\r\n",
            100,
        );
        assert!(
            out.contains("552 5.3.4") && out.ends_with("250 2.1.0 Sender OK\r\n"),
            "{out}"
        );
        // Actual size over the limit: 552 after the data, nothing delivered, session goes on.
        let mut big = b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<a@y>\r\nDATA\r\n".to_vec();
        big.extend_from_slice(&[b'x'; 150]);
        big.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
        let (out, msgs) = run_all_chunkings(Mode::Smtp, &big);
        assert!(msgs.is_empty());
        assert!(out.ends_with("552 5.3.4 Message size exceeds fixed maximum message size of 100 octets\r\n250 2.0.0 OK\r\n"), "{out}");
        // Over-long command line.
        let mut long = b"EHLO ".to_vec();
        long.extend_from_slice(&[b'a'; 1000]);
        long.extend_from_slice(b"\r\nNOOP\r\n");
        let (out, _) = run_all_chunkings(Mode::Smtp, &long);
        assert!(out.ends_with("500 5.5.2 Line too long; the limit is 1000 octets including CRLF\r\n250 2.0.0 OK\r\n"), "{out}");
        // Too many errors: 421 and close.
        let (out, _) = run(Mode::Smtp, &b"X\r\n".repeat(8), 100);
        assert!(out.ends_with("500 5.5.1 Command unrecognized\r\n421 4.7.0 mx.test Too many errors; closing connection\r\n"), "{out}");
    }

    #[test]
    fn starttls_discards_pipelined_input_and_starts_afresh() {
        let input = b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\n";
        let (out, _) = run(Mode::Smtp, input, input.len());
        assert!(
            out.ends_with("220 2.0.0 Ready to start TLS\r\n<TLS>\r\n"),
            "{out}"
        );
        // After TLS: the old EHLO is forgotten, STARTTLS is gone from the list.
        let (out, _) = run(Mode::Smtp, b"EHLO c\r\nSTARTTLS\r\n", 100);
        assert!(out.ends_with("<TLS>\r\n"));
        let config = SessionConfig {
            hostname: "mx.test".into(),
            starttls: true,
            ..SessionConfig::default()
        };
        let mut s: Session<()> = Session::new(config, true);
        let mut out = Vec::new();
        s.feed(b"MAIL FROM:<a@x>\r\nEHLO c\r\nSTARTTLS\r\n");
        assert_eq!(s.next_event(&mut out), Event::NeedInput);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("503 5.5.1"), "{text}");
        assert!(!text.contains("STARTTLS\r\n"), "{text}");
        assert!(
            text.ends_with("503 5.5.1 TLS is already active\r\n"),
            "{text}"
        );
    }

    #[test]
    fn smtputf8() {
        let input = "EHLO c\r\nMAIL FROM:<jos\u{e9}@x>\r\nMAIL FROM:<a@x>\r\nRCPT TO:<\u{f1}@y>\r\nRSET\r\nMAIL FROM:<jos\u{e9}@x> SMTPUTF8\r\nRCPT TO:<\u{f1}@y>\r\n";
        let (out, _) = run_all_chunkings(Mode::Smtp, input.as_bytes());
        assert_eq!(out.matches("553 5.6.7").count(), 2, "{out}");
        assert!(
            out.ends_with("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"),
            "{out}"
        );
    }

    #[test]
    fn misc_commands() {
        let (out, _) = run(
            Mode::Smtp,
            b"HELO c\r\nVRFY root\r\nEXPN list\r\nHELP\r\nNOOP\r\nBDAT 1\r\nSTARTTLS x\r\n",
            3,
        );
        for want in [
            "250 mx.test\r\n",
            "252 2.5.0",
            "502 5.5.1 EXPN",
            "214 2.0.0",
            "250 2.0.0 OK",
            "502 5.5.1 BDAT",
            "501 5.5.4",
        ] {
            assert!(out.contains(want), "{want}: {out}");
        }
    }

    #[test]
    fn received_protocol_keywords() {
        let env = |kind, utf8, tls| Envelope::<()> {
            helo: Helo {
                kind,
                name: "c".into(),
            },
            from: ReversePath::Null,
            params: MailParams {
                smtputf8: utf8,
                ..MailParams::default()
            },
            recipients: vec![],
            size: 0,
            tls,
        };
        assert_eq!(
            env(HeloKind::Lhlo, false, false).received_protocol(),
            "LMTP"
        );
        assert_eq!(
            env(HeloKind::Ehlo, false, true).received_protocol(),
            "ESMTPS"
        );
        assert_eq!(
            env(HeloKind::Ehlo, true, true).received_protocol(),
            "UTF8SMTPS"
        );
        assert_eq!(
            env(HeloKind::Helo, false, false).received_protocol(),
            "SMTP"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_chunking_never_matters(input in proptest::collection::vec(proptest::sample::select(
            b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n.\r\nRSET\r\nQUIT\r\n\n\r.x".to_vec()), 0..200), chunk in 1usize..13) {
            let a = run(Mode::Smtp, &input, chunk);
            let b = run(Mode::Smtp, &input, input.len().max(1));
            proptest::prop_assert_eq!(a, b);
            let _ = run(Mode::Lmtp, &input, chunk);
        }
    }
}
