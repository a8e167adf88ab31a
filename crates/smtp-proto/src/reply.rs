//! Replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034, RFC 3463).
//!
//! A reply is a three-digit code, an optional enhanced status code `class.subject.detail`
//! and one or more lines of text. RFC 2034 §3: once ENHANCEDSTATUSCODES is offered, every
//! 2xx, 4xx and 5xx reply except the greeting and the reply to EHLO/HELO/LHLO carries the
//! enhanced code, on every line of a multi-line reply. Buzón always offers it.
//!
//! Every fixed reply the server sends is a function here, so each protocol situation maps
//! to exactly one reply, in one place.

use std::fmt;

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the code and CRLF.
pub const MAX_REPLY_LINE: usize = 512;

/// RFC 3463 §2: `class "." subject "." detail`, e.g. 5.1.1 (bad destination mailbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP/LMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    status: Option<EnhancedCode>,
    lines: Vec<String>,
}

impl Reply {
    /// A reply with an enhanced status code. `text` may hold several lines (separated by
    /// LF); each becomes one reply line. Bytes that cannot appear in a reply (controls,
    /// non-ASCII) become `?`, and over-long lines are wrapped so no line exceeds 512
    /// octets (RFC 5321 §4.5.3.1.5).
    ///
    /// A code outside 200–599 is replaced by 451 (a programming error must not produce
    /// bytes a client cannot parse); a status whose class disagrees with the code is
    /// dropped.
    pub fn new(code: u16, status: EnhancedCode, text: impl AsRef<str>) -> Self {
        Self::build(code, Some(status), text.as_ref())
    }

    /// A reply without an enhanced code: the greeting and the EHLO/HELO/LHLO replies
    /// (RFC 2034 §3), and the 354 intermediate reply.
    pub fn plain(code: u16, text: impl AsRef<str>) -> Self {
        Self::build(code, None, text.as_ref())
    }

    /// A multi-line reply without enhanced codes (the EHLO keyword list).
    pub fn plain_lines(code: u16, lines: &[String]) -> Self {
        let mut r = Self::build(code, None, "");
        r.lines = lines
            .iter()
            .flat_map(|l| wrap(&sanitize(l), code_prefix_len(None)))
            .collect();
        if r.lines.is_empty() {
            r.lines.push(String::new());
        }
        r
    }

    fn build(code: u16, status: Option<EnhancedCode>, text: &str) -> Self {
        let code = if (200..600).contains(&code) {
            code
        } else {
            451
        };
        let status = status.filter(|s| u16::from(s.class) == code / 100);
        let prefix = code_prefix_len(status);
        let mut lines: Vec<String> = text
            .split('\n')
            .flat_map(|l| wrap(&sanitize(l.trim_end_matches('\r')), prefix))
            .collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        Self {
            code,
            status,
            lines,
        }
    }

    pub fn code(&self) -> u16 {
        self.code
    }

    pub fn status(&self) -> Option<EnhancedCode> {
        self.status
    }

    /// The text lines, without code or enhanced code.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The text as one string (lines joined by spaces), for logs.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// 4xx: the client may retry later (RFC 5321 §4.2.1).
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: retrying the same request will fail again.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// Appends the wire form: `code-...` lines, then `code ...`, each ending in CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(if i == last { b' ' } else { b'-' });
            if let Some(s) = self.status {
                out.extend_from_slice(s.to_string().as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            String::from_utf8_lossy(&self.to_bytes()).trim_end()
        )
    }
}

/// Octets before the text on each line: "250-" plus "2.1.5 ".
fn code_prefix_len(status: Option<EnhancedCode>) -> usize {
    4 + status.map_or(0, |s| s.to_string().len() + 1)
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (' '..='~').contains(&c) || c == '\t' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Splits `text` so that prefix + line + CRLF fits in [`MAX_REPLY_LINE`], preferring
/// spaces as break points.
fn wrap(text: &str, prefix: usize) -> Vec<String> {
    let room = MAX_REPLY_LINE - prefix - 2;
    if text.len() <= room {
        return vec![text.to_string()];
    }
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > room {
        // Sanitised text is ASCII, so every index is a char boundary.
        let cut = rest[..room]
            .rfind(' ')
            .filter(|&i| i > room / 2)
            .unwrap_or(room);
        out.push(rest[..cut].to_string());
        rest = rest[cut..].trim_start_matches(' ');
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

// --- The fixed replies -------------------------------------------------------------------
//
// Enhanced codes follow RFC 3463: X.0.0 other, X.1.x addressing, X.2.x mailbox,
// X.3.x mail system, X.5.x protocol, X.6.x content, X.7.x security/policy.

const OK: EnhancedCode = EnhancedCode::new(2, 0, 0);

/// RFC 5321 §4.2: 220 greeting (no enhanced code, RFC 2034 §3).
pub fn greeting(hostname: &str, lmtp: bool) -> Reply {
    Reply::plain(
        220,
        format!(
            "{hostname} {} Buzon ready",
            if lmtp { "LMTP" } else { "ESMTP" }
        ),
    )
}

/// RFC 5321 §4.1.1.10: QUIT.
pub fn closing(hostname: &str) -> Reply {
    Reply::new(221, OK, format!("{hostname} closing connection"))
}

/// NOOP, RSET.
pub fn ok() -> Reply {
    Reply::new(250, OK, "OK")
}

/// MAIL FROM accepted (RFC 3463 X.1.0: other address status).
pub fn sender_ok() -> Reply {
    Reply::new(250, EnhancedCode::new(2, 1, 0), "Sender OK")
}

/// RCPT TO accepted (RFC 3463 X.1.5: destination address valid).
pub fn recipient_ok() -> Reply {
    Reply::new(250, EnhancedCode::new(2, 1, 5), "Recipient OK")
}

/// RFC 5321 §4.1.1.4: go ahead with the data.
pub fn start_data() -> Reply {
    Reply::plain(354, "Start mail input; end with <CRLF>.<CRLF>")
}

/// RFC 5321 §3.5.3: VRFY is disabled; 252 says "cannot verify, but will try".
pub fn vrfy_disabled() -> Reply {
    Reply::new(
        252,
        EnhancedCode::new(2, 5, 0),
        "Cannot VRFY user, but will accept message and attempt delivery",
    )
}

/// RFC 5321 §3.5.2, §7.3: EXPN is not offered.
pub fn expn_disabled() -> Reply {
    Reply::new(502, EnhancedCode::new(5, 5, 1), "EXPN is disabled")
}

/// RFC 5321 §4.1.1.8: HELP.
pub fn help() -> Reply {
    Reply::new(214, OK, "Commands: EHLO HELO LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS; see RFC 5321 and RFC 2033")
}

/// RFC 3207 §4: ready to start TLS.
pub fn starttls_ready() -> Reply {
    Reply::new(220, OK, "Ready to start TLS")
}

/// RFC 5321 §4.5.3.1.6: a command line longer than 1000 octets (X.5.2 syntax error).
pub fn line_too_long() -> Reply {
    Reply::new(
        500,
        EnhancedCode::new(5, 5, 2),
        "Line too long; the limit is 1000 octets including CRLF",
    )
}

/// RFC 5321 §2.3.8: lines end in CRLF.
pub fn bare_lf() -> Reply {
    Reply::new(
        500,
        EnhancedCode::new(5, 5, 2),
        "Syntax error: lines must end with CRLF, not a bare LF",
    )
}

/// RFC 5321 §4.2.4: an unknown command.
pub fn unrecognized() -> Reply {
    Reply::new(500, EnhancedCode::new(5, 5, 1), "Command unrecognized")
}

/// A known command this server does not implement (RFC 5321 §4.2.4: 502).
pub fn not_implemented(verb: &str) -> Reply {
    Reply::new(
        502,
        EnhancedCode::new(5, 5, 1),
        format!("{verb} is not implemented"),
    )
}

/// RFC 5321 §4.1.4: commands out of order (X.5.1 invalid command).
pub fn bad_sequence(what: &str) -> Reply {
    Reply::new(
        503,
        EnhancedCode::new(5, 5, 1),
        format!("Bad sequence of commands: {what}"),
    )
}

/// RFC 5321 §3.3: DATA after recipients that were all refused.
pub fn no_valid_recipients(lmtp: bool) -> Reply {
    // RFC 2033 §4.2: in LMTP, DATA without a successful RCPT fails with 503.
    if lmtp {
        Reply::new(503, EnhancedCode::new(5, 5, 1), "No valid recipients")
    } else {
        Reply::new(554, EnhancedCode::new(5, 5, 1), "No valid recipients")
    }
}

/// RFC 5321 §4.5.3.1.10: too many recipients (X.5.3); the client sends the rest in
/// another transaction.
pub fn too_many_recipients(max: usize) -> Reply {
    Reply::new(
        452,
        EnhancedCode::new(4, 5, 3),
        format!("Too many recipients; at most {max} per message"),
    )
}

/// RFC 3463 X.5.3, as Postfix answers: the session has had `max` recipients refused
/// (unknown users, over quota, over the per-message limit), so no more are checked.
pub fn too_many_refused_recipients(max: usize) -> Reply {
    Reply::new(
        452,
        EnhancedCode::new(4, 5, 3),
        format!("Too many recipients; {max} were refused in this session"),
    )
}

/// RFC 1870 §6.1 / RFC 3463 X.3.4: the message is larger than the server accepts.
pub fn message_too_big(max: u64) -> Reply {
    Reply::new(
        552,
        EnhancedCode::new(5, 3, 4),
        format!("Message size exceeds fixed maximum message size of {max} octets"),
    )
}

/// RFC 5321 §4.1.4: a session that kept sending bad commands.
pub fn too_many_errors(hostname: &str) -> Reply {
    Reply::new(
        421,
        EnhancedCode::new(4, 7, 0),
        format!("{hostname} Too many errors; closing connection"),
    )
}

/// RFC 5321 §4.5.3.2.7: the client was silent for too long.
pub fn timeout(hostname: &str) -> Reply {
    Reply::new(
        421,
        EnhancedCode::new(4, 4, 2),
        format!("{hostname} Timeout exceeded; closing connection"),
    )
}

/// The server is stopping (RFC 5321 §3.8: 421 at any time).
pub fn shutting_down(hostname: &str) -> Reply {
    Reply::new(
        421,
        EnhancedCode::new(4, 3, 2),
        format!("{hostname} Service shutting down; try again later"),
    )
}

/// Connection limits (RFC 3463 X.7.0 policy, temporary).
pub fn too_many_connections(hostname: &str, per_ip: bool) -> Reply {
    let why = if per_ip {
        "Too many connections from your address"
    } else {
        "Too many connections to this server"
    };
    Reply::new(
        421,
        EnhancedCode::new(4, 7, 0),
        format!("{hostname} {why}; try again later"),
    )
}

/// RFC 3207 §4: STARTTLS when TLS is not offered here, or already active.
pub fn tls_not_available(active: bool) -> Reply {
    if active {
        Reply::new(503, EnhancedCode::new(5, 5, 1), "TLS is already active")
    } else {
        Reply::new(
            502,
            EnhancedCode::new(5, 5, 1),
            "STARTTLS is not offered on this port",
        )
    }
}

/// RFC 6531 §3.5: a non-ASCII address in a transaction without SMTPUTF8.
pub fn needs_smtputf8() -> Reply {
    Reply::new(
        553,
        EnhancedCode::new(5, 6, 7),
        "Non-ASCII addresses require the SMTPUTF8 parameter on MAIL FROM",
    )
}

/// The recipient is not a user here (RFC 3463 X.1.1 bad destination mailbox address).
pub fn unknown_user() -> Reply {
    Reply::new(550, EnhancedCode::new(5, 1, 1), "No such user here")
}

/// The recipient's domain is not one this server delivers for, and it does not relay
/// (RFC 3463 X.7.1 delivery not authorized).
pub fn relay_denied() -> Reply {
    Reply::new(
        550,
        EnhancedCode::new(5, 7, 1),
        "Relaying denied: this server only accepts mail for its own domains",
    )
}

/// A successful delivery after DATA (`id` names the message in the server's log).
pub fn delivered(id: &str) -> Reply {
    Reply::new(250, OK, format!("OK id={id}"))
}

/// LMTP: a successful delivery for one recipient (RFC 2033 §4.2).
pub fn delivered_to(recipient: &str, id: &str) -> Reply {
    Reply::new(250, OK, format!("<{recipient}> delivered id={id}"))
}

/// RFC 3463 X.2.2: mailbox full, temporary (the default) or permanent.
pub fn over_quota(permanent: bool) -> Reply {
    if permanent {
        Reply::new(
            552,
            EnhancedCode::new(5, 2, 2),
            "Mailbox full: the recipient is over quota",
        )
    } else {
        Reply::new(
            452,
            EnhancedCode::new(4, 2, 2),
            "Mailbox full: the recipient is over quota; try again later",
        )
    }
}

/// RFC 3463 X.3.1: the server's disk is full.
pub fn no_space() -> Reply {
    Reply::new(
        452,
        EnhancedCode::new(4, 3, 1),
        "Insufficient system storage; try again later",
    )
}

/// RFC 3463 X.3.0: a local error while storing (nothing was stored).
/// The greeting of a node whose mail store cannot be reached (a balancer's health check
/// expecting 220 takes the node out of rotation).
pub fn store_unavailable(hostname: &str) -> Reply {
    Reply::new(
        421,
        EnhancedCode::new(4, 3, 0),
        format!("{hostname} Mail store unavailable; try again later"),
    )
}

pub fn local_error() -> Reply {
    Reply::new(
        451,
        EnhancedCode::new(4, 3, 0),
        "Local error in processing; nothing was stored, try again later",
    )
}

/// RFC 3463 X.2.0: the mailbox cannot be created or written, and retrying will not help.
pub fn mailbox_unavailable() -> Reply {
    Reply::new(550, EnhancedCode::new(5, 2, 0), "Mailbox unavailable")
}

/// RFC 5429 §2.1: a Sieve `reject`/`ereject` answered at protocol level (X.7.1).
pub fn rejected_by_filter(reason: &str) -> Reply {
    let reason = if reason.trim().is_empty() {
        "Rejected by the recipient's filter"
    } else {
        reason
    };
    Reply::new(550, EnhancedCode::new(5, 7, 1), reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_single_and_multi_line() {
        assert_eq!(ok().to_bytes(), b"250 2.0.0 OK\r\n");
        assert_eq!(
            greeting("mx.example", false).to_bytes(),
            b"220 mx.example ESMTP Buzon ready\r\n"
        );
        let r = Reply::new(550, EnhancedCode::new(5, 7, 1), "first\nsecond");
        assert_eq!(r.to_bytes(), b"550-5.7.1 first\r\n550 5.7.1 second\r\n");
        let e = Reply::plain_lines(250, &["mx".into(), "PIPELINING".into(), "SIZE 10".into()]);
        assert_eq!(e.to_bytes(), b"250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
    }

    #[test]
    fn text_is_sanitised_and_wrapped() {
        let r = Reply::new(550, EnhancedCode::new(5, 7, 1), "caf\u{e9}\x07 x\r");
        assert_eq!(r.to_bytes(), b"550 5.7.1 caf?? x\r\n");
        let long = "word ".repeat(300);
        let r = Reply::new(550, EnhancedCode::new(5, 7, 1), &long);
        let bytes = r.to_bytes();
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(line.len() < MAX_REPLY_LINE, "{}", line.len());
        }
        assert!(r.lines().len() > 2);
        let joined: String = r.lines().join(" ");
        assert_eq!(joined.split_whitespace().count(), 300);
    }

    #[test]
    fn codes_are_kept_consistent() {
        let r = Reply::new(250, EnhancedCode::new(5, 1, 1), "x");
        assert_eq!(r.status(), None, "class must match the code");
        assert_eq!(Reply::plain(99, "x").code(), 451);
        assert!(over_quota(false).is_transient() && over_quota(true).is_permanent());
        assert_eq!(over_quota(true).status(), Some(EnhancedCode::new(5, 2, 2)));
        assert_eq!(no_valid_recipients(true).code(), 503);
        assert_eq!(no_valid_recipients(false).code(), 554);
    }
}
