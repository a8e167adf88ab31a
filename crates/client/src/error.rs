//! Errors of the retrieval client. Every variant's text names the cause and, where there
//! is one, the fix, in words a mail user understands; [`ErrorClass`] groups them for exit
//! codes and for `buzon check`.

use std::path::PathBuf;

use buzon_i18n::t;

/// What kind of step failed: DNS, the connection, TLS, authentication, the server, or the
/// local side (delivery, ledger, configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    Config,
    Dns,
    Connection,
    Tls,
    Auth,
    Server,
    Delivery,
}

impl ErrorClass {
    /// The exit code `buzon fetch`, `buzon check` and `buzon setup` use for this class
    /// (documented in docs/client.md). 0 and 1 are "mail fetched" and "nothing new".
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Config => 2,
            ErrorClass::Dns => 3,
            ErrorClass::Connection => 4,
            ErrorClass::Tls => 5,
            ErrorClass::Auth => 6,
            ErrorClass::Server => 7,
            ErrorClass::Delivery => 8,
        }
    }
}

/// What was wrong with a server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertProblem {
    Expired,
    NotYetValid,
    WrongName {
        presented: Vec<String>,
    },
    /// Self-signed or signed by an authority we do not trust.
    UnknownIssuer,
    /// A pinned fingerprint did not match.
    PinMismatch,
    Other(String),
}

/// A failure of the client, with its cause and fix in the text. The text comes from the
/// catalogs in the language of [`buzon_i18n::current`] (English unless the program chose
/// another): `client-*` keys.
#[derive(Debug)]
pub enum ClientError {
    Config(String),

    UnknownHost {
        host: String,
        reason: String,
    },

    Refused {
        addr: String,
    },

    ConnectTimeout {
        addr: String,
        secs: u64,
    },

    Connect {
        addr: String,
        reason: String,
    },

    NoGreeting {
        addr: String,
        secs: u64,
        /// Already in the user's language (a `client-hint-*` text).
        hint: String,
    },

    NotPop3 {
        addr: String,
        got: String,
    },

    Tls {
        host: String,
        detail: String,
        fix: String,
        problem: Option<CertProblem>,
        fingerprint: Option<String>,
    },

    StlsNotOffered {
        host: String,
    },

    PlaintextNotAllowed {
        host: String,
        user: String,
    },

    PlaintextRefusedByServer {
        host: String,
        text: String,
    },

    Auth {
        host: String,
        user: String,
        text: String,
        hint: String,
    },

    AuthUnsupported {
        host: String,
        mechanism: String,
    },

    /// The server refused an OAuth access token (RFC 7628's JSON `status`).
    TokenRefused {
        host: String,
        user: String,
        status: String,
    },

    /// Getting an OAuth token failed: not signed in yet, the sign-in was revoked or
    /// expired, the provider refused or could not be reached.
    OAuth {
        account: String,
        detail: String,
        fix: String,
    },

    InUse {
        host: String,
        text: String,
    },

    LoginDelay {
        host: String,
        text: String,
        policy: String,
    },

    SysTemp {
        host: String,
        text: String,
    },

    Server {
        host: String,
        command: String,
        text: String,
    },

    Protocol {
        host: String,
        command: String,
        detail: String,
    },

    Closed {
        host: String,
        during: String,
    },

    ReadTimeout {
        host: String,
        command: String,
        secs: u64,
    },

    KeepNeedsUidl {
        host: String,
    },

    Delivery {
        path: PathBuf,
        reason: String,
    },

    Mda {
        program: String,
        reason: String,
    },

    Ledger {
        path: PathBuf,
        reason: String,
    },
}

impl std::error::Error for ClientError {}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ClientError as E;
        let text = match self {
            E::Config(text) => text.clone(),
            E::UnknownHost { host, reason } => {
                t!("client-unknown-host", host = host, reason = reason)
            }
            E::Refused { addr } => t!("client-refused", addr = addr),
            E::ConnectTimeout { addr, secs } => {
                t!("client-connect-timeout", addr = addr, secs = *secs)
            }
            E::Connect { addr, reason } => t!("client-connect", addr = addr, reason = reason),
            E::NoGreeting { addr, secs, hint } => {
                t!("client-no-greeting", addr = addr, secs = *secs, hint = hint)
            }
            E::NotPop3 { addr, got } => t!("client-not-pop3", addr = addr, got = got),
            E::Tls {
                host, detail, fix, ..
            } => t!("client-tls", host = host, detail = detail, fix = fix),
            E::StlsNotOffered { host } => t!("client-stls-not-offered", host = host),
            E::PlaintextNotAllowed { host, user } => {
                t!("client-plaintext-not-allowed", host = host, user = user)
            }
            E::PlaintextRefusedByServer { host, text } => {
                t!("client-plaintext-refused", host = host, text = text)
            }
            // The user name quoted and escaped as Rust does, as it always was.
            E::Auth {
                host,
                user,
                text,
                hint,
            } => t!(
                "client-auth",
                host = host,
                user = format!("{user:?}"),
                text = text,
                hint = hint
            ),
            E::TokenRefused { host, user, status } => t!(
                "client-token-refused",
                host = host,
                user = format!("{user:?}"),
                status = status
            ),
            E::OAuth {
                account,
                detail,
                fix,
            } => t!(
                "client-oauth",
                account = account,
                detail = detail,
                fix = fix
            ),
            E::AuthUnsupported { host, mechanism } => {
                t!(
                    "client-auth-unsupported",
                    host = host,
                    mechanism = mechanism
                )
            }
            E::InUse { host, text } => t!("client-in-use", host = host, text = text),
            E::LoginDelay { host, text, policy } => {
                t!(
                    "client-login-delay",
                    host = host,
                    text = text,
                    policy = policy
                )
            }
            E::SysTemp { host, text } => t!("client-sys-temp", host = host, text = text),
            E::Server {
                host,
                command,
                text,
            } => t!("client-server", host = host, command = command, text = text),
            E::Protocol {
                host,
                command,
                detail,
            } => t!(
                "client-protocol",
                host = host,
                command = command,
                detail = detail
            ),
            E::Closed { host, during } => t!("client-closed", host = host, during = during),
            E::ReadTimeout {
                host,
                command,
                secs,
            } => t!(
                "client-read-timeout",
                host = host,
                command = command,
                secs = *secs
            ),
            E::KeepNeedsUidl { host } => t!("client-keep-needs-uidl", host = host),
            E::Delivery { path, reason } => t!(
                "client-delivery",
                path = path.display().to_string(),
                reason = reason
            ),
            E::Mda { program, reason } => t!("client-mda", program = program, reason = reason),
            E::Ledger { path, reason } => t!(
                "client-ledger",
                path = path.display().to_string(),
                reason = reason
            ),
        };
        f.write_str(&text)
    }
}

impl ClientError {
    pub fn class(&self) -> ErrorClass {
        use ClientError as E;
        match self {
            E::Config(_) => ErrorClass::Config,
            E::UnknownHost { .. } => ErrorClass::Dns,
            E::Refused { .. }
            | E::ConnectTimeout { .. }
            | E::Connect { .. }
            | E::NoGreeting { .. }
            | E::NotPop3 { .. }
            | E::Closed { .. }
            | E::ReadTimeout { .. } => ErrorClass::Connection,
            E::Tls { .. } | E::StlsNotOffered { .. } => ErrorClass::Tls,
            E::PlaintextNotAllowed { .. }
            | E::PlaintextRefusedByServer { .. }
            | E::Auth { .. }
            | E::TokenRefused { .. }
            | E::OAuth { .. }
            | E::AuthUnsupported { .. } => ErrorClass::Auth,
            E::InUse { .. }
            | E::LoginDelay { .. }
            | E::SysTemp { .. }
            | E::Server { .. }
            | E::Protocol { .. }
            | E::KeepNeedsUidl { .. } => ErrorClass::Server,
            E::Delivery { .. } | E::Mda { .. } | E::Ledger { .. } => ErrorClass::Delivery,
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.class().exit_code()
    }

    pub(crate) fn delivery(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        ClientError::Delivery {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn ledger(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        ClientError::Ledger {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's text, with representative inputs, reads as words: no Rust `Debug`
    /// rendering (`Other(`, `Error {`, `Kind(`, `Os {`) and no empty cause.
    #[test]
    fn every_error_reads_as_words() {
        let h = || "pop.example.com".to_string();
        let all = vec![
            ClientError::Config("account a: host: missing".into()),
            ClientError::UnknownHost {
                host: h(),
                reason: "no such name".into(),
            },
            ClientError::Refused { addr: h() },
            ClientError::ConnectTimeout {
                addr: h(),
                secs: 20,
            },
            ClientError::Connect {
                addr: h(),
                reason: "network unreachable".into(),
            },
            ClientError::NoGreeting {
                addr: h(),
                secs: 60,
                hint: "try TLS".into(),
            },
            ClientError::NotPop3 {
                addr: h(),
                got: "it sent \"HTTP/1.0 400\"".into(),
            },
            ClientError::Tls {
                host: h(),
                detail: "the server's certificate has expired".into(),
                fix: "renew it".into(),
                problem: Some(CertProblem::Expired),
                fingerprint: None,
            },
            ClientError::StlsNotOffered { host: h() },
            ClientError::PlaintextNotAllowed {
                host: h(),
                user: "me".into(),
            },
            ClientError::PlaintextRefusedByServer {
                host: h(),
                text: "TLS first".into(),
            },
            ClientError::Auth {
                host: h(),
                user: "me".into(),
                text: "no".into(),
                hint: String::new(),
            },
            ClientError::AuthUnsupported {
                host: h(),
                mechanism: "APOP".into(),
            },
            ClientError::InUse {
                host: h(),
                text: "busy".into(),
            },
            ClientError::LoginDelay {
                host: h(),
                text: "wait".into(),
                policy: String::new(),
            },
            ClientError::SysTemp {
                host: h(),
                text: "later".into(),
            },
            ClientError::Server {
                host: h(),
                command: "RETR".into(),
                text: "gone".into(),
            },
            ClientError::Protocol {
                host: h(),
                command: "LIST".into(),
                detail: "bad line".into(),
            },
            ClientError::Closed {
                host: h(),
                during: "during RETR".into(),
            },
            ClientError::ReadTimeout {
                host: h(),
                command: "RETR".into(),
                secs: 60,
            },
            ClientError::KeepNeedsUidl { host: h() },
            ClientError::Delivery {
                path: "/m".into(),
                reason: "disk full".into(),
            },
            ClientError::Mda {
                program: "procmail".into(),
                reason: "exit status 1".into(),
            },
            ClientError::Ledger {
                path: "/l".into(),
                reason: "damaged".into(),
            },
        ];
        for e in all {
            let text = e.to_string();
            for shape in ["Other(", "Error {", "Kind(", "Os {", "Some(", "None"] {
                assert!(!text.contains(shape), "{text}");
            }
            assert!(text.len() > 20, "{text}");
        }
        // Errors built from io::Error keep only its words.
        let io = std::io::Error::from_raw_os_error(28);
        let text = ClientError::delivery("/m", io).to_string();
        assert!(
            !text.contains("Os {") && text.contains("No space left"),
            "{text}"
        );
    }
}
