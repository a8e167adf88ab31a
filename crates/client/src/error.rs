//! Errors of the retrieval client. Every variant's text names the cause and, where there
//! is one, the fix, in words a mail user understands; [`ErrorClass`] groups them for exit
//! codes and for `buzon check`.

use std::path::PathBuf;

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

/// A failure of the client, with its cause and fix in the text.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Config(String),

    #[error("cannot find the address of {host}: {reason} — check the host name for typos; if it is right, the DNS server may be unreachable")]
    UnknownHost { host: String, reason: String },

    #[error("cannot connect to {addr}: connection refused — the port is wrong or the server is down; POP3 uses 995 (TLS) and 110 (STLS)")]
    Refused { addr: String },

    #[error("cannot connect to {addr}: no answer within {secs} s — a firewall or antivirus is probably blocking the port; try the other of 995 (TLS) and 110 (STLS)")]
    ConnectTimeout { addr: String, secs: u64 },

    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },

    #[error("{addr} accepted the connection but sent no greeting within {secs} s — {hint}")]
    NoGreeting {
        addr: String,
        secs: u64,
        hint: &'static str,
    },

    #[error("{addr} does not speak POP3: {got} — check the port (POP3 uses 995 for TLS and 110 for STLS)")]
    NotPop3 { addr: String, got: String },

    #[error("TLS with {host} failed: {detail} — {fix}")]
    Tls {
        host: String,
        detail: String,
        fix: String,
        problem: Option<CertProblem>,
        fingerprint: Option<String>,
    },

    #[error("{host} does not offer STLS, so the password would travel unencrypted — use security = \"tls\" on port 995, or ask the provider to enable TLS (no silent downgrade)")]
    StlsNotOffered { host: String },

    #[error("refusing to log in as {user} to {host} over an unencrypted connection: the password (or, with APOP and SCRAM, a value it can be guessed from offline) would travel readable by anyone on the way — use security = \"tls\" or \"starttls\"; set allow_plaintext = true only for a trusted local network")]
    PlaintextNotAllowed { host: String, user: String },

    #[error("{host} refuses plaintext logins on an unencrypted connection ({text}) — use security = \"tls\" (port 995) or \"starttls\" (port 110)")]
    PlaintextRefusedByServer { host: String, text: String },

    #[error("{host} rejected the login for {user:?}: {text} — check the password{hint}")]
    Auth {
        host: String,
        user: String,
        text: String,
        hint: String,
    },

    #[error("{host} does not support the {mechanism} login method — use auth = \"auto\" to let Buzón pick one the server offers")]
    AuthUnsupported { host: String, mechanism: String },

    #[error("{host} says the mailbox is in use by another session ([IN-USE] {text}) — another mail program is probably fetching right now; Buzón will not retry in a loop, run it again later")]
    InUse { host: String, text: String },

    #[error("{host} asks to wait before logging in again ([LOGIN-DELAY] {text}){policy} — fetch less often (see --every)")]
    LoginDelay {
        host: String,
        text: String,
        policy: String,
    },

    #[error("{host} has a temporary problem ([SYS/TEMP] {text}) — try again later")]
    SysTemp { host: String, text: String },

    #[error("{host} answered {command} with an error: {text}")]
    Server {
        host: String,
        command: String,
        text: String,
    },

    #[error("{host} sent a reply Buzón cannot use after {command}: {detail}")]
    Protocol {
        host: String,
        command: String,
        detail: String,
    },

    #[error("{host} closed the connection {during}")]
    Closed { host: String, during: String },

    #[error("{host} did not answer {command} within {secs} s — the connection may have stalled; run again")]
    ReadTimeout {
        host: String,
        command: String,
        secs: u64,
    },

    #[error("{host} does not support UIDL, so Buzón cannot tell new messages from ones already downloaded — `keep` and `delete_after_days` need UIDL; use the default policy (delete after download) for this server")]
    KeepNeedsUidl { host: String },

    #[error("cannot store a message in {}: {reason}", path.display())]
    Delivery { path: PathBuf, reason: String },

    #[error("the delivery program {program} failed: {reason}")]
    Mda { program: String, reason: String },

    #[error("the download ledger {} is unusable: {reason}", path.display())]
    Ledger { path: PathBuf, reason: String },
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
                hint: "try TLS",
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
