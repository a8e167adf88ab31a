//! The command parser (RFC 5321 §4.1, RFC 2033 §4.1) and its error replies.
//!
//! Verbs and the `FROM:`/`TO:` keywords are case-insensitive (RFC 5321 §2.4). Accepted
//! beyond the grammar: spaces between `FROM:`/`TO:` and the path, which deployed
//! clients send and which cannot be mistaken for anything else. Every [`CommandError`]
//! maps to exactly one reply ([`CommandError::reply`]).

use crate::address::{parse_path, AddressError, ForwardPath, Mailbox, ReversePath};
use crate::reply::{self, EnhancedCode, Reply};

/// RFC 1652 / RFC 6152 `BODY=` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    #[default]
    SevenBit,
    EightBitMime,
}

/// The MAIL FROM parameters Buzón supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// RFC 1870 §3: the size the client declares; `u64::MAX` if the number overflowed.
    pub size: Option<u64>,
    /// RFC 6152 §2.
    pub body: Body,
    /// RFC 6531 §3.4: the transaction may carry UTF-8 addresses and headers.
    pub smtputf8: bool,
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RFC 5321 §4.1.1.1.
    Ehlo(String),
    Helo(String),
    /// RFC 2033 §4.1: LMTP's EHLO.
    Lhlo(String),
    /// RFC 5321 §4.1.1.2.
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    /// RFC 5321 §4.1.1.3. RCPT parameters are never supported, so there are none here.
    Rcpt {
        to: ForwardPath,
    },
    /// RFC 5321 §4.1.1.4.
    Data,
    /// RFC 5321 §4.1.1.5.
    Rset,
    /// RFC 5321 §4.1.1.9 (an argument is allowed and ignored).
    Noop,
    /// RFC 5321 §4.1.1.10.
    Quit,
    /// RFC 5321 §4.1.1.6; answered with 252, never revealing users.
    Vrfy(String),
    /// RFC 5321 §4.1.1.7; disabled.
    Expn,
    /// RFC 5321 §4.1.1.8.
    Help,
    /// RFC 3207 §4.
    StartTls,
}

/// Why a line is not a command we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Not a command at all.
    Unrecognized,
    /// A command this server knows but does not offer (BDAT, AUTH, ETRN, TURN, …).
    NotImplemented(String),
    /// Wrong arguments for the verb (RFC 5321 §4.2.4: 501).
    Syntax(&'static str),
    /// The reverse-path is malformed (RFC 3463 X.1.7).
    BadSender,
    /// The forward-path is malformed (RFC 3463 X.1.3).
    BadRecipient,
    /// A MAIL parameter we do not support (RFC 5321 §4.1.1.11: 555).
    UnknownParameter(String),
    /// The line is not valid UTF-8.
    NotUtf8,
}

impl CommandError {
    /// The one reply for this error.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Unrecognized => reply::unrecognized(),
            CommandError::NotImplemented(verb) => reply::not_implemented(verb),
            CommandError::Syntax(what) => Reply::new(
                501,
                EnhancedCode::new(5, 5, 4),
                format!("Syntax error in parameters: {what}"),
            ),
            CommandError::BadSender => {
                Reply::new(501, EnhancedCode::new(5, 1, 7), "Bad sender address syntax")
            }
            CommandError::BadRecipient => Reply::new(
                501,
                EnhancedCode::new(5, 1, 3),
                "Bad recipient address syntax",
            ),
            CommandError::UnknownParameter(p) => Reply::new(
                555,
                EnhancedCode::new(5, 5, 4),
                format!("Parameter {p} is not supported"),
            ),
            CommandError::NotUtf8 => Reply::new(
                500,
                EnhancedCode::new(5, 5, 2),
                "Syntax error: the command is not valid UTF-8",
            ),
        }
    }
}

/// Parses one command line (without its CRLF).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let upper = verb.to_ascii_uppercase();
    match upper.as_str() {
        "EHLO" => Ok(Command::Ehlo(hello_name(rest)?)),
        "HELO" => Ok(Command::Helo(hello_name(rest)?)),
        "LHLO" => Ok(Command::Lhlo(hello_name(rest)?)),
        "MAIL" => parse_mail(rest),
        "RCPT" => parse_rcpt(rest),
        "DATA" => no_args(rest, Command::Data),
        "RSET" => no_args(rest, Command::Rset),
        "QUIT" => no_args(rest, Command::Quit),
        "STARTTLS" => no_args(rest, Command::StartTls),
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" => {
            if rest.trim().is_empty() {
                Err(CommandError::Syntax("VRFY needs an argument"))
            } else {
                Ok(Command::Vrfy(rest.trim().to_string()))
            }
        }
        "EXPN" => Ok(Command::Expn),
        "BDAT" | "AUTH" | "ETRN" | "ATRN" | "TURN" | "SEND" | "SOML" | "SAML" | "XCLIENT"
        | "XFORWARD" | "BURL" => Err(CommandError::NotImplemented(upper)),
        _ => Err(CommandError::Unrecognized),
    }
}

fn no_args(rest: &str, c: Command) -> Result<Command, CommandError> {
    if rest.trim().is_empty() {
        Ok(c)
    } else {
        Err(CommandError::Syntax("this command takes no arguments"))
    }
}

/// RFC 5321 §4.1.1.1: `EHLO SP ( Domain / address-literal )`. Any printable ASCII token
/// is taken: many clients announce names that are not valid domains, and the name is
/// only recorded in the Received header.
fn hello_name(rest: &str) -> Result<String, CommandError> {
    let name = rest.trim();
    if name.is_empty() {
        return Err(CommandError::Syntax(
            "a domain name or address literal is required",
        ));
    }
    if name.contains(' ') || !name.chars().all(|c| c.is_ascii_graphic()) {
        return Err(CommandError::Syntax(
            "the name must be one word of printable ASCII",
        ));
    }
    Ok(name.to_string())
}

/// Splits `"<keyword>:"` (case-insensitive) off `rest`, then optional spaces.
fn after_keyword<'a>(rest: &'a str, keyword: &str) -> Option<&'a str> {
    let head = rest.get(..keyword.len())?;
    if head.eq_ignore_ascii_case(keyword) {
        Some(rest[keyword.len()..].trim_start_matches(' '))
    } else {
        None
    }
}

fn parse_mail(rest: &str) -> Result<Command, CommandError> {
    let path =
        after_keyword(rest, "FROM:").ok_or(CommandError::Syntax("use MAIL FROM:<address>"))?;
    let (mailbox, params) = parse_path(path).map_err(|e| match e {
        AddressError::Syntax | AddressError::TooLong => CommandError::BadSender,
    })?;
    let from = match mailbox {
        None => ReversePath::Null,
        Some(m) => ReversePath::Mailbox(m),
    };
    Ok(Command::Mail {
        from,
        params: parse_mail_params(params)?,
    })
}

fn parse_rcpt(rest: &str) -> Result<Command, CommandError> {
    let path = after_keyword(rest, "TO:").ok_or(CommandError::Syntax("use RCPT TO:<address>"))?;
    let (to, params) = if path
        .get(..12)
        .is_some_and(|p| p.eq_ignore_ascii_case("<postmaster>"))
    {
        (ForwardPath::Postmaster, &path[12..])
    } else {
        match parse_path(path) {
            Ok((Some(m), params)) => (ForwardPath::Mailbox(m), params),
            Ok((None, _)) | Err(_) => return Err(CommandError::BadRecipient),
        }
    };
    if let Some(p) = params.split(' ').find(|p| !p.is_empty()) {
        if !params.starts_with(' ') {
            return Err(CommandError::BadRecipient);
        }
        let keyword = p.split('=').next().unwrap_or(p).to_ascii_uppercase();
        return Err(CommandError::UnknownParameter(keyword));
    }
    Ok(Command::Rcpt { to })
}

/// RFC 5321 §4.1.2 `Mail-parameters = esmtp-param *(SP esmtp-param)`.
fn parse_mail_params(s: &str) -> Result<MailParams, CommandError> {
    let mut params = MailParams::default();
    if s.is_empty() {
        return Ok(params);
    }
    if !s.starts_with(' ') {
        return Err(CommandError::BadSender);
    }
    let (mut seen_size, mut seen_body) = (false, false);
    for p in s.split(' ').filter(|p| !p.is_empty()) {
        let (key, value) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        let key_upper = key.to_ascii_uppercase();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(CommandError::Syntax("malformed parameter"));
        }
        match (key_upper.as_str(), value) {
            ("SIZE", Some(v)) if !seen_size => {
                seen_size = true;
                // RFC 1870 §3: size-value = 1*20DIGIT. A number too large for u64 is
                // certainly over any limit.
                if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CommandError::Syntax("SIZE must be a decimal number"));
                }
                params.size = Some(v.parse::<u64>().unwrap_or(u64::MAX));
            }
            ("BODY", Some(v)) if !seen_body => {
                seen_body = true;
                params.body = if v.eq_ignore_ascii_case("7BIT") {
                    Body::SevenBit
                } else if v.eq_ignore_ascii_case("8BITMIME") {
                    Body::EightBitMime
                } else {
                    return Err(CommandError::Syntax("BODY must be 7BIT or 8BITMIME"));
                };
            }
            ("SMTPUTF8", None) if !params.smtputf8 => params.smtputf8 = true,
            ("SIZE" | "BODY" | "SMTPUTF8", _) => {
                return Err(CommandError::Syntax(
                    "a parameter is repeated or has a wrong value",
                ))
            }
            _ => return Err(CommandError::UnknownParameter(key_upper)),
        }
    }
    Ok(params)
}

impl Command {
    /// The wire form, for clients and tests (CRLF included).
    pub fn to_bytes(&self) -> Vec<u8> {
        let text = match self {
            Command::Ehlo(d) => format!("EHLO {d}"),
            Command::Helo(d) => format!("HELO {d}"),
            Command::Lhlo(d) => format!("LHLO {d}"),
            Command::Mail { from, params } => {
                let mut s = format!("MAIL FROM:<{from}>");
                if let Some(n) = params.size {
                    s.push_str(&format!(" SIZE={n}"));
                }
                if params.body == Body::EightBitMime {
                    s.push_str(" BODY=8BITMIME");
                }
                if params.smtputf8 {
                    s.push_str(" SMTPUTF8");
                }
                s
            }
            Command::Rcpt { to } => format!("RCPT TO:<{to}>"),
            Command::Data => "DATA".into(),
            Command::Rset => "RSET".into(),
            Command::Noop => "NOOP".into(),
            Command::Quit => "QUIT".into(),
            Command::Vrfy(s) => format!("VRFY {s}"),
            Command::Expn => "EXPN".into(),
            Command::Help => "HELP".into(),
            Command::StartTls => "STARTTLS".into(),
        };
        let mut v = text.into_bytes();
        v.extend_from_slice(b"\r\n");
        v
    }
}

/// Convenience for tests: a mailbox from `local@domain` text.
pub fn mailbox(s: &str) -> Option<Mailbox> {
    parse_path(&format!("<{s}>"))
        .ok()
        .and_then(|(m, rest)| if rest.is_empty() { m } else { None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse_command(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e:?}"))
    }

    fn err(line: &str) -> CommandError {
        match parse_command(line.as_bytes()) {
            Ok(c) => panic!("{line}: parsed as {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            ok("EHLO client.example"),
            Command::Ehlo("client.example".into())
        );
        assert_eq!(ok("ehlo [192.0.2.1]"), Command::Ehlo("[192.0.2.1]".into()));
        assert_eq!(ok("LHLO foo.edu"), Command::Lhlo("foo.edu".into()));
        assert_eq!(ok("HELO x"), Command::Helo("x".into()));
        assert_eq!(
            err("EHLO"),
            CommandError::Syntax("a domain name or address literal is required")
        );
        assert!(matches!(err("EHLO a b"), CommandError::Syntax(_)));

        let Command::Mail { from, params } =
            ok("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8")
        else {
            panic!()
        };
        assert_eq!(from.to_string(), "a@b.example");
        assert_eq!(
            params,
            MailParams {
                size: Some(1000),
                body: Body::EightBitMime,
                smtputf8: true
            }
        );
        assert_eq!(
            ok("mail from:<>"),
            Command::Mail {
                from: ReversePath::Null,
                params: MailParams::default()
            }
        );
        assert!(matches!(
            ok("MAIL FROM: <a@b.example>"),
            Command::Mail { .. }
        ));
        let Command::Mail { params, .. } = ok("MAIL FROM:<a@b.example> SIZE=99999999999999999999")
        else {
            panic!()
        };
        assert_eq!(params.size, Some(u64::MAX));
        assert_eq!(
            err("MAIL FROM:<a@b.example> SIZE=12x"),
            CommandError::Syntax("SIZE must be a decimal number")
        );
        assert_eq!(
            err("MAIL FROM:<a@b.example> BODY=BINARYMIME"),
            CommandError::Syntax("BODY must be 7BIT or 8BITMIME")
        );
        assert_eq!(
            err("MAIL FROM:<a@b.example> RET=HDRS"),
            CommandError::UnknownParameter("RET".into())
        );
        assert!(matches!(
            err("MAIL FROM:<a@b.example> SIZE=1 SIZE=2"),
            CommandError::Syntax(_)
        ));
        assert!(matches!(
            err("MAIL FROM:<a@b.example> SMTPUTF8=yes"),
            CommandError::Syntax(_)
        ));
        assert_eq!(err("MAIL FROM:a@b.example"), CommandError::BadSender);
        assert_eq!(
            err("MAIL FROM:<a@b.example>SIZE=1"),
            CommandError::BadSender
        );
        assert!(matches!(
            err("MAIL TO:<a@b.example>"),
            CommandError::Syntax(_)
        ));

        assert_eq!(
            ok("RCPT TO:<Postmaster>"),
            Command::Rcpt {
                to: ForwardPath::Postmaster
            }
        );
        assert_eq!(
            ok("rcpt to:<postmaster>"),
            Command::Rcpt {
                to: ForwardPath::Postmaster
            }
        );
        let Command::Rcpt { to } = ok("RCPT TO:<Pat@Foo.EDU>") else {
            panic!()
        };
        assert_eq!((to.local_part(), to.domain()), ("Pat", Some("Foo.EDU")));
        assert_eq!(
            err("RCPT TO:<a@b.example> NOTIFY=NEVER"),
            CommandError::UnknownParameter("NOTIFY".into())
        );
        assert_eq!(err("RCPT TO:<>"), CommandError::BadRecipient);
        assert_eq!(err("RCPT TO:<nodomain>"), CommandError::BadRecipient);

        assert_eq!(ok("DATA"), Command::Data);
        assert!(matches!(err("DATA now"), CommandError::Syntax(_)));
        assert_eq!(ok("NOOP anything"), Command::Noop);
        assert_eq!(ok("VRFY root"), Command::Vrfy("root".into()));
        assert_eq!(ok("STARTTLS"), Command::StartTls);
        assert_eq!(
            err("BDAT 100 LAST"),
            CommandError::NotImplemented("BDAT".into())
        );
        assert_eq!(err("FOO"), CommandError::Unrecognized);
        assert_eq!(err(""), CommandError::Unrecognized);
        assert_eq!(parse_command(b"NOOP \xff"), Err(CommandError::NotUtf8));
    }

    #[test]
    fn every_error_has_one_reply() {
        let cases = [
            (CommandError::Unrecognized, 500, "5.5.1"),
            (CommandError::NotImplemented("BDAT".into()), 502, "5.5.1"),
            (CommandError::Syntax("x"), 501, "5.5.4"),
            (CommandError::BadSender, 501, "5.1.7"),
            (CommandError::BadRecipient, 501, "5.1.3"),
            (CommandError::UnknownParameter("RET".into()), 555, "5.5.4"),
            (CommandError::NotUtf8, 500, "5.5.2"),
        ];
        for (e, code, status) in cases {
            let r = e.reply();
            assert_eq!(r.code(), code, "{e:?}");
            assert_eq!(
                r.status().map(|s| s.to_string()).as_deref(),
                Some(status),
                "{e:?}"
            );
        }
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let commands = [
            Command::Lhlo("x.example".into()),
            Command::Mail {
                from: ReversePath::Null,
                params: MailParams {
                    size: Some(5),
                    body: Body::EightBitMime,
                    smtputf8: true,
                },
            },
            Command::Rcpt {
                to: ForwardPath::Mailbox(mailbox("a.b+c@x.example").unwrap_or_else(|| panic!())),
            },
            Command::Rcpt {
                to: ForwardPath::Postmaster,
            },
            Command::Data,
            Command::Quit,
        ];
        for c in commands {
            let bytes = c.to_bytes();
            assert_eq!(parse_command(&bytes[..bytes.len() - 2]), Ok(c));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let _ = parse_command(&line);
        }

        #[test]
        fn never_panics_on_mail_and_rcpt(rest in "\\PC{0,60}") {
            let _ = parse_command(format!("MAIL FROM:{rest}").as_bytes());
            let _ = parse_command(format!("RCPT TO:{rest}").as_bytes());
        }
    }
}
