//! Buzón's load generator: the scenarios behind `buzon bench`, the corpus they run on, and
//! a probe of a server's memory.
//!
//! Every scenario speaks POP3 through `buzon-pop3-proto` (commands encoded with
//! [`buzon_pop3_proto::Command::encode`], replies read with
//! [`buzon_pop3_proto::client::ReplyReader`]), so the benchmark has no protocol code of its
//! own and works against any POP3 server, Dovecot included. Runs are bounded in time and
//! count, every network read and write has a timeout, and targets off the loopback
//! interface are refused unless explicitly allowed. The figures are measurements, never
//! pass/fail verdicts: nothing here asserts a speed.
#![forbid(unsafe_code)]

pub mod conn;
pub mod corpus;
pub mod lmtp;
pub mod procmem;
pub mod report;
pub mod scenario;
pub mod target;
pub mod users;

pub use conn::Pop3Conn;
pub use report::{Latencies, Report};
pub use scenario::{BigboxOptions, IdleOptions, RetrOptions, RunOptions};
pub use target::{Security, Target};
pub use users::UserPattern;

use std::time::Duration;

/// Why a benchmark (or one operation of it) failed. The text names the cause and, where
/// there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} timed out after {after:?} — the server is overloaded or stuck; raise --timeout or lower --clients")]
    Timeout { what: String, after: Duration },
    #[error("the server closed the connection during {0}")]
    Closed(String),
    #[error("{command} refused: {text}")]
    Refused { command: &'static str, text: String },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Usage(String),
}

impl BenchError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }

    /// A short category for error counts in reports ("timeout", "refused: USER", …).
    pub fn kind(&self) -> String {
        match self {
            BenchError::Io { source, .. } => format!("io: {}", source.kind()),
            BenchError::Timeout { .. } => "timeout".into(),
            BenchError::Closed(_) => "closed".into(),
            BenchError::Refused { command, .. } => format!("refused: {command}"),
            BenchError::Protocol(_) => "protocol".into(),
            BenchError::Tls(_) => "tls".into(),
            BenchError::Usage(_) => "usage".into(),
        }
    }
}

/// Raises this process's open-file limit to its hard limit, so thousands of sessions can
/// be held; returns the limit now in force.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let cur = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: cur.maximum,
        maximum: cur.maximum,
    };
    if setrlimit(Resource::Nofile, raised).is_ok() {
        cur.maximum
    } else {
        cur.current
    }
}
