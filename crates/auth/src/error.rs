//! The one error type of this crate. Every message names the cause and, where
//! there is one, the fix; none ever contains a password.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in user, password and throttling handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The `{SCHEME}` prefix of a stored password names a scheme Buzón does not implement.
    #[error("{}", buzon_i18n::t!("auth-unknown-scheme", scheme = format!("{:?}", .0)))]
    UnknownScheme(String),

    /// A stored password has a known scheme but its hash text is malformed.
    #[error("{}", buzon_i18n::t!("auth-bad-hash", detail = .0.as_str()))]
    BadHash(String),

    /// A line of the passwd-file could not be parsed.
    #[error("{}", buzon_i18n::t!("auth-parse", line = *line, path = path.display().to_string(), message = message.as_str()))]
    Parse {
        /// The passwd-file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Reading, writing or locking a file failed.
    #[error("{}", buzon_i18n::t!("io-cannot", action = buzon_i18n::io_action(action), path = path.display().to_string(), reason = format!("{source}{}", io_hint(source))))]
    Io {
        /// What was being done, e.g. "read", "lock", "rename into place".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A file that must not be a symbolic link is one (the lock file; the users file
    /// when running as root): whoever can change its folder could make this program
    /// rewrite, create or read another file through it.
    #[error("{}", buzon_i18n::t!("auth-link", path = path.display().to_string(), fix = fix.as_str()))]
    Link {
        /// The link.
        path: PathBuf,
        /// What to do instead.
        fix: String,
    },

    /// `add_user` was asked to add a name that is already present.
    #[error("{}", buzon_i18n::t!("auth-user-exists", user = format!("{:?}", .0)))]
    UserExists(String),

    /// An edit named a user that is not in the file.
    #[error("{}", buzon_i18n::t!("auth-no-such-user", user = format!("{:?}", .0)))]
    NoSuchUser(String),

    /// A user name breaks the rules in [`crate::validate_username`].
    #[error("{}", buzon_i18n::t!("auth-bad-username", name = format!("{name:?}"), reason = reason.as_str()))]
    InvalidUsername {
        /// The rejected name (Debug-escaped when shown).
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A network given for the throttle's trusted list does not parse.
    #[error("{}", buzon_i18n::t!("auth-bad-network", input = format!("{input:?}"), reason = reason.as_str()))]
    InvalidNet {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A field of a user entry that the users file cannot hold.
    #[error("{0}")]
    UnwritableEntry(String),

    /// App passwords or two-step verification: a refused change, or a credentials
    /// record that cannot be read (the text names it and the fix).
    #[error("{0}")]
    Credentials(String),

    /// Argon2 cost parameters out of range.
    #[error("{}", buzon_i18n::t!("auth-bad-params", detail = .0.as_str()))]
    InvalidParams(String),
}

fn io_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::PermissionDenied => {
            " — check the owner and mode of the file and its directory, or run as the \
             user that owns them"
        }
        io::ErrorKind::NotFound => " — check that the directory exists",
        _ => "",
    }
}

impl AuthError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        AuthError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
