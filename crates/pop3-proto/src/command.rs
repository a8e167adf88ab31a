//! POP3 commands (RFC 1939 §4–7, RFC 2449 §5, RFC 2595 §4, RFC 5034 §4, RFC 6856 §2) and
//! their parser.
//!
//! The parser takes one command line without its CRLF and never panics; it knows nothing
//! of session state (which command is allowed when is the state machine's business).

use crate::types::{parse_decimal, MsgNum, Secret};

/// A parsed client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RFC 1939 §7: USER name
    User(String),
    /// RFC 1939 §7: PASS string (the rest of the line; it may contain spaces)
    Pass(Secret),
    /// RFC 1939 §7: APOP name digest
    Apop { user: String, digest: String },
    /// RFC 5034 §4: AUTH [mechanism [initial-response]]; bare AUTH lists mechanisms.
    Auth {
        mechanism: Option<String>,
        initial: Option<InitialResponse>,
    },
    /// RFC 1939 §5
    Stat,
    /// RFC 1939 §5: LIST [msg]
    List(Option<MsgNum>),
    /// RFC 1939 §5: RETR msg
    Retr(MsgNum),
    /// RFC 1939 §5: DELE msg
    Dele(MsgNum),
    /// RFC 1939 §5
    Noop,
    /// RFC 1939 §5
    Rset,
    /// RFC 1939 §4 and §6
    Quit,
    /// RFC 1939 §7: TOP msg n
    Top(MsgNum, u64),
    /// RFC 1939 §7: UIDL [msg]
    Uidl(Option<MsgNum>),
    /// RFC 2449 §5
    Capa,
    /// RFC 2595 §4
    Stls,
    /// RFC 6856 §2
    Utf8,
    /// RFC 6856 §3: LANG [language-range]; without an argument it lists the languages.
    /// The range is checked against RFC 4647 §2.1 syntax (`*` included).
    Lang(Option<String>),
}

/// The initial response of AUTH (RFC 5034 §4): "=" stands for an empty one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialResponse {
    Empty,
    Base64(Secret),
}

impl Command {
    /// The command keyword as it appears on the wire (for logs and error messages).
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top(..) => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Utf8 => "UTF8",
            Command::Lang(_) => "LANG",
        }
    }

    /// Encodes the command as a client sends it, with CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let line = match self {
            Command::User(u) => format!("USER {u}"),
            Command::Pass(p) => {
                out.extend_from_slice(b"PASS ");
                out.extend_from_slice(p.expose());
                out.extend_from_slice(b"\r\n");
                return;
            }
            Command::Apop { user, digest } => format!("APOP {user} {digest}"),
            Command::Auth { mechanism, initial } => {
                out.extend_from_slice(b"AUTH");
                if let Some(m) = mechanism {
                    out.push(b' ');
                    out.extend_from_slice(m.as_bytes());
                }
                match initial {
                    Some(InitialResponse::Empty) => out.extend_from_slice(b" ="),
                    Some(InitialResponse::Base64(s)) => {
                        out.push(b' ');
                        out.extend_from_slice(s.expose());
                    }
                    None => {}
                }
                out.extend_from_slice(b"\r\n");
                return;
            }
            Command::List(Some(n)) => format!("LIST {n}"),
            Command::Retr(n) => format!("RETR {n}"),
            Command::Dele(n) => format!("DELE {n}"),
            Command::Top(n, k) => format!("TOP {n} {k}"),
            Command::Uidl(Some(n)) => format!("UIDL {n}"),
            Command::Lang(Some(r)) => format!("LANG {r}"),
            other => other.keyword().to_string(),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Why a command line could not be parsed. Each maps to one `-ERR` line in the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Empty line or only spaces.
    Empty,
    /// The keyword is not a POP3 command we know.
    Unknown,
    /// Arguments missing, extra or malformed; the text says which.
    BadArguments {
        command: &'static str,
        reason: &'static str,
    },
    /// A message number that is not 1..=4294967295.
    BadMsgNum { command: &'static str },
    /// An argument that must be UTF-8 text is not.
    NotUtf8 { command: &'static str },
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Empty => f.write_str("Empty command"),
            CommandError::Unknown => f.write_str("Unknown command"),
            CommandError::BadArguments { command, reason } => write!(f, "{command}: {reason}"),
            CommandError::BadMsgNum { command } => {
                write!(f, "{command}: invalid message number")
            }
            CommandError::NotUtf8 { command } => write!(f, "{command}: argument is not UTF-8"),
        }
    }
}

impl CommandError {
    /// The catalog key and arguments of this error's `-ERR` text; the English catalog
    /// text is this error's `Display`.
    pub fn message(&self) -> (&'static str, Vec<(&'static str, String)>) {
        match self {
            CommandError::Empty => ("pop3-empty-command", vec![]),
            CommandError::Unknown => ("pop3-unknown-command", vec![]),
            CommandError::BadArguments { command, reason } => (
                "pop3-bad-arguments",
                vec![
                    ("command", (*command).to_string()),
                    ("reason", (*reason).to_string()),
                ],
            ),
            CommandError::BadMsgNum { command } => {
                ("pop3-bad-msgnum", vec![("command", (*command).to_string())])
            }
            CommandError::NotUtf8 { command } => {
                ("pop3-not-utf8", vec![("command", (*command).to_string())])
            }
        }
    }
}

/// The catalog key of a [`CommandError::BadArguments`] reason.
pub fn reason_key(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "password missing" => "pop3-arg-password-missing",
        "user name missing" => "pop3-arg-user-missing",
        "too many arguments" => "pop3-arg-too-many",
        "digest must be 32 hexadecimal digits" => "pop3-arg-bad-digest",
        "expected: APOP name digest" => "pop3-arg-apop-usage",
        "line count must be a non-negative number" => "pop3-arg-bad-line-count",
        "expected: TOP msg lines" => "pop3-arg-top-usage",
        "control character in the user name" => "pop3-arg-control-in-user",
        "invalid mechanism name" => "pop3-arg-bad-mechanism",
        "takes no arguments" => "pop3-arg-no-arguments",
        "message number missing" => "pop3-arg-msgnum-missing",
        "invalid language range" => "pop3-arg-bad-lang-range",
        _ => return None,
    })
}

/// Parses one command line (without CRLF). Keywords are case-insensitive (RFC 1939 §3);
/// arguments are separated by single spaces, and we accept runs of spaces as Dovecot does.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let (kw, rest) = split_word(line);
    if kw.is_empty() {
        return Err(CommandError::Empty);
    }
    if kw.len() > 4 {
        return Err(CommandError::Unknown);
    }
    let mut upper = [0u8; 4];
    upper[..kw.len()].copy_from_slice(kw);
    upper.make_ascii_uppercase();
    let kw = &upper[..kw.len()];

    match kw {
        b"PASS" => {
            // RFC 1939 §7 note: the password may contain spaces, so PASS takes the whole
            // rest of the line after exactly one separating space.
            let arg = line.get(5..).unwrap_or_default();
            if arg.is_empty() {
                return Err(CommandError::BadArguments {
                    command: "PASS",
                    reason: "password missing",
                });
            }
            Ok(Command::Pass(Secret::new(arg)))
        }
        b"USER" => {
            let args = words(rest);
            match args.as_slice() {
                [name] => Ok(Command::User(user_name(name, "USER")?)),
                [] => Err(CommandError::BadArguments {
                    command: "USER",
                    reason: "user name missing",
                }),
                _ => Err(CommandError::BadArguments {
                    command: "USER",
                    reason: "too many arguments",
                }),
            }
        }
        b"APOP" => match words(rest).as_slice() {
            [name, digest] => {
                let digest = utf8(digest, "APOP")?;
                if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(CommandError::BadArguments {
                        command: "APOP",
                        reason: "digest must be 32 hexadecimal digits",
                    });
                }
                Ok(Command::Apop {
                    user: user_name(name, "APOP")?,
                    digest: digest.to_ascii_lowercase(),
                })
            }
            _ => Err(CommandError::BadArguments {
                command: "APOP",
                reason: "expected: APOP name digest",
            }),
        },
        b"AUTH" => match words(rest).as_slice() {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [mech] => Ok(Command::Auth {
                mechanism: Some(mechanism(mech)?),
                initial: None,
            }),
            [mech, ir] => {
                let initial = if *ir == b"=" {
                    InitialResponse::Empty
                } else {
                    InitialResponse::Base64(Secret::new(*ir))
                };
                Ok(Command::Auth {
                    mechanism: Some(mechanism(mech)?),
                    initial: Some(initial),
                })
            }
            _ => Err(CommandError::BadArguments {
                command: "AUTH",
                reason: "too many arguments",
            }),
        },
        b"STAT" => no_args(rest, "STAT", Command::Stat),
        b"NOOP" => no_args(rest, "NOOP", Command::Noop),
        b"RSET" => no_args(rest, "RSET", Command::Rset),
        b"QUIT" => no_args(rest, "QUIT", Command::Quit),
        b"CAPA" => no_args(rest, "CAPA", Command::Capa),
        b"STLS" => no_args(rest, "STLS", Command::Stls),
        b"UTF8" => no_args(rest, "UTF8", Command::Utf8),
        b"LANG" => match words(rest).as_slice() {
            [] => Ok(Command::Lang(None)),
            [range] if is_language_range(range) => Ok(Command::Lang(Some(
                String::from_utf8_lossy(range).into_owned(),
            ))),
            [_] => Err(CommandError::BadArguments {
                command: "LANG",
                reason: "invalid language range",
            }),
            _ => Err(CommandError::BadArguments {
                command: "LANG",
                reason: "too many arguments",
            }),
        },
        b"LIST" => optional_msg(rest, "LIST").map(Command::List),
        b"UIDL" => optional_msg(rest, "UIDL").map(Command::Uidl),
        b"RETR" => one_msg(rest, "RETR").map(Command::Retr),
        b"DELE" => one_msg(rest, "DELE").map(Command::Dele),
        b"TOP" => match words(rest).as_slice() {
            [n, k] => {
                let n = MsgNum::parse(n).ok_or(CommandError::BadMsgNum { command: "TOP" })?;
                let k = parse_decimal(k).ok_or(CommandError::BadArguments {
                    command: "TOP",
                    reason: "line count must be a non-negative number",
                })?;
                Ok(Command::Top(n, k))
            }
            _ => Err(CommandError::BadArguments {
                command: "TOP",
                reason: "expected: TOP msg lines",
            }),
        },
        _ => Err(CommandError::Unknown),
    }
}

/// RFC 4647 §2.1: `language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"`.
fn is_language_range(s: &[u8]) -> bool {
    if s == b"*" {
        return true;
    }
    let mut parts = s.split(|&b| b == b'-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.iter().all(u8::is_ascii_alphabetic));
    first_ok && parts.all(|p| (1..=8).contains(&p.len()) && p.iter().all(u8::is_ascii_alphanumeric))
}

fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

fn words(s: &[u8]) -> Vec<&[u8]> {
    s.split(|&b| b == b' ').filter(|w| !w.is_empty()).collect()
}

fn utf8(s: &[u8], command: &'static str) -> Result<String, CommandError> {
    String::from_utf8(s.to_vec()).map_err(|_| CommandError::NotUtf8 { command })
}

/// A user name argument (USER, APOP): UTF-8 (RFC 6856) without control characters, which
/// no account name contains and which must never reach a log line.
fn user_name(s: &[u8], command: &'static str) -> Result<String, CommandError> {
    if s.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(CommandError::BadArguments {
            command,
            reason: "control character in the user name",
        });
    }
    utf8(s, command)
}

fn mechanism(s: &[u8]) -> Result<String, CommandError> {
    // RFC 4422 §3.1: 1–20 characters from A–Z, 0–9, "-" and "_".
    let valid = !s.is_empty()
        && s.len() <= 20
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if !valid {
        return Err(CommandError::BadArguments {
            command: "AUTH",
            reason: "invalid mechanism name",
        });
    }
    Ok(String::from_utf8_lossy(s).to_ascii_uppercase())
}

fn no_args(rest: &[u8], command: &'static str, c: Command) -> Result<Command, CommandError> {
    if words(rest).is_empty() {
        Ok(c)
    } else {
        Err(CommandError::BadArguments {
            command,
            reason: "takes no arguments",
        })
    }
}

fn optional_msg(rest: &[u8], command: &'static str) -> Result<Option<MsgNum>, CommandError> {
    match words(rest).as_slice() {
        [] => Ok(None),
        [n] => MsgNum::parse(n)
            .map(Some)
            .ok_or(CommandError::BadMsgNum { command }),
        _ => Err(CommandError::BadArguments {
            command,
            reason: "too many arguments",
        }),
    }
}

fn one_msg(rest: &[u8], command: &'static str) -> Result<MsgNum, CommandError> {
    match words(rest).as_slice() {
        [n] => MsgNum::parse(n).ok_or(CommandError::BadMsgNum { command }),
        [] => Err(CommandError::BadArguments {
            command,
            reason: "message number missing",
        }),
        _ => Err(CommandError::BadArguments {
            command,
            reason: "too many arguments",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u32) -> MsgNum {
        MsgNum::new(i).unwrap_or_else(|| panic!("bad test number {i}"))
    }

    #[test]
    fn user_names_with_control_characters_are_refused() {
        for bad in [
            &b"USER al\0ice"[..],
            b"USER a\x1b[31mb",
            b"USER a\x7fb",
            b"USER a\tb",
            b"APOP a\x01b 0123456789abcdef0123456789abcdef",
        ] {
            assert!(
                matches!(parse_command(bad), Err(CommandError::BadArguments { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_command("USER usuário".as_bytes()),
            Ok(Command::User("usuário".into()))
        );
    }

    #[test]
    fn every_bad_argument_reason_has_a_catalog_key_in_both_languages() {
        // The parser's reasons are string literals; read them from this file so a new
        // one cannot be added without its translation.
        let src = include_str!("command.rs");
        let parser = &src[..src.find("#[cfg(test)]").unwrap_or(src.len())];
        let mut n = 0;
        for piece in parser.split("reason: \"").skip(1) {
            let reason = &piece[..piece.find('"').unwrap_or(0)];
            let key = reason_key(reason).unwrap_or_else(|| panic!("no key for {reason:?}"));
            for lang in buzon_i18n::Lang::ALL {
                assert!(buzon_i18n::has(lang, key), "{lang}: {key}");
            }
            assert_eq!(buzon_i18n::text(buzon_i18n::Lang::En, key, &[]), reason);
            n += 1;
        }
        assert!(n >= 12, "found only {n} reasons");
    }

    #[test]
    fn known_answers() {
        let table: &[(&[u8], Result<Command, CommandError>)] = &[
            (b"STAT", Ok(Command::Stat)),
            (b"stat", Ok(Command::Stat)),
            (b"StAt", Ok(Command::Stat)),
            (b"LIST", Ok(Command::List(None))),
            (b"LIST 2", Ok(Command::List(Some(n(2))))),
            (b"LIST 0", Err(CommandError::BadMsgNum { command: "LIST" })),
            (b"LIST x", Err(CommandError::BadMsgNum { command: "LIST" })),
            (b"RETR 1", Ok(Command::Retr(n(1)))),
            (
                b"RETR",
                Err(CommandError::BadArguments {
                    command: "RETR",
                    reason: "message number missing",
                }),
            ),
            (b"DELE 7", Ok(Command::Dele(n(7)))),
            (b"TOP 1 0", Ok(Command::Top(n(1), 0))),
            (b"TOP 1 10", Ok(Command::Top(n(1), 10))),
            (
                b"TOP 1 -1",
                Err(CommandError::BadArguments {
                    command: "TOP",
                    reason: "line count must be a non-negative number",
                }),
            ),
            (
                b"TOP 1",
                Err(CommandError::BadArguments {
                    command: "TOP",
                    reason: "expected: TOP msg lines",
                }),
            ),
            (b"UIDL", Ok(Command::Uidl(None))),
            (b"UIDL 3", Ok(Command::Uidl(Some(n(3))))),
            (b"USER mrose", Ok(Command::User("mrose".into()))),
            (
                b"USER",
                Err(CommandError::BadArguments {
                    command: "USER",
                    reason: "user name missing",
                }),
            ),
            (
                b"PASS secret pass",
                Ok(Command::Pass(Secret::new("secret pass"))),
            ),
            (
                b"PASS",
                Err(CommandError::BadArguments {
                    command: "PASS",
                    reason: "password missing",
                }),
            ),
            (
                b"APOP mrose c4c9334bac560ecc979e58001b3e22fb",
                Ok(Command::Apop {
                    user: "mrose".into(),
                    digest: "c4c9334bac560ecc979e58001b3e22fb".into(),
                }),
            ),
            (
                b"APOP mrose xyz",
                Err(CommandError::BadArguments {
                    command: "APOP",
                    reason: "digest must be 32 hexadecimal digits",
                }),
            ),
            (
                b"AUTH",
                Ok(Command::Auth {
                    mechanism: None,
                    initial: None,
                }),
            ),
            (
                b"AUTH plain",
                Ok(Command::Auth {
                    mechanism: Some("PLAIN".into()),
                    initial: None,
                }),
            ),
            (
                b"AUTH PLAIN =",
                Ok(Command::Auth {
                    mechanism: Some("PLAIN".into()),
                    initial: Some(InitialResponse::Empty),
                }),
            ),
            (
                b"AUTH PLAIN AGZvbwBiYXI=",
                Ok(Command::Auth {
                    mechanism: Some("PLAIN".into()),
                    initial: Some(InitialResponse::Base64(Secret::new("AGZvbwBiYXI="))),
                }),
            ),
            (
                b"AUTH PL/AIN",
                Err(CommandError::BadArguments {
                    command: "AUTH",
                    reason: "invalid mechanism name",
                }),
            ),
            (b"CAPA", Ok(Command::Capa)),
            (b"STLS", Ok(Command::Stls)),
            (
                b"STLS now",
                Err(CommandError::BadArguments {
                    command: "STLS",
                    reason: "takes no arguments",
                }),
            ),
            (b"UTF8", Ok(Command::Utf8)),
            (b"LANG", Ok(Command::Lang(None))),
            (b"lang es", Ok(Command::Lang(Some("es".into())))),
            (b"LANG es-MX", Ok(Command::Lang(Some("es-MX".into())))),
            (b"LANG *", Ok(Command::Lang(Some("*".into())))),
            (
                b"LANG es_ES",
                Err(CommandError::BadArguments {
                    command: "LANG",
                    reason: "invalid language range",
                }),
            ),
            (
                b"LANG es en",
                Err(CommandError::BadArguments {
                    command: "LANG",
                    reason: "too many arguments",
                }),
            ),
            (b"QUIT", Ok(Command::Quit)),
            (b"NOOP", Ok(Command::Noop)),
            (b"RSET", Ok(Command::Rset)),
            (b"", Err(CommandError::Empty)),
            (b"XTND", Err(CommandError::Unknown)),
            (b"RETRIEVE 1", Err(CommandError::Unknown)),
            (b"\x00\xff", Err(CommandError::Unknown)),
            (b"USER \xff", Err(CommandError::NotUtf8 { command: "USER" })),
        ];
        for (line, want) in table {
            assert_eq!(
                &parse_command(line),
                want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn encode_parse_round_trip() {
        let cmds = [
            Command::Stat,
            Command::List(Some(n(3))),
            Command::Top(n(2), 5),
            Command::User("a@b".into()),
            Command::Pass(Secret::new("p w")),
            Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some(InitialResponse::Empty),
            },
            Command::Uidl(None),
            Command::Quit,
        ];
        for c in cmds {
            let mut out = Vec::new();
            c.encode(&mut out);
            assert!(out.ends_with(b"\r\n"));
            assert_eq!(parse_command(&out[..out.len() - 2]), Ok(c));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_command(&line);
        }
    }
}
