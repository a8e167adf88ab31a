//! The one error type of this crate. Every message names the cause and, where
//! there is one, the fix; none ever contains a password.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in user, password and throttling handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The `{SCHEME}` prefix of a stored password names a scheme Buzón does not implement.
    #[error(
        "unknown password scheme {0:?} — supported: ARGON2ID, ARGON2I, SHA512-CRYPT, \
         SHA256-CRYPT, BLF-CRYPT, PLAIN, CLEARTEXT; reset the password with `buzon user passwd`"
    )]
    UnknownScheme(String),

    /// A stored password has a known scheme but its hash text is malformed.
    #[error("malformed password hash: {0} — reset the password with `buzon user passwd`")]
    BadHash(String),

    /// A line of the passwd-file could not be parsed.
    #[error("line {line} of {}: {message}", path.display())]
    Parse {
        /// The passwd-file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Reading, writing or locking a file failed.
    #[error("cannot {action} {}: {source}{}", path.display(), io_hint(source))]
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
    #[error(
        "{} is a symbolic link, which is not followed: whoever can change its folder could \
         point it at another file (/etc/shadow, say) for this program to open or rewrite — \
         {fix}",
        path.display()
    )]
    Link {
        /// The link.
        path: PathBuf,
        /// What to do instead.
        fix: String,
    },

    /// `add_user` was asked to add a name that is already present.
    #[error("user {0:?} already exists — use `buzon user passwd` to change the password")]
    UserExists(String),

    /// An edit named a user that is not in the file.
    #[error("no such user {0:?} — list users with `buzon user list`")]
    NoSuchUser(String),

    /// A user name breaks the rules in [`crate::validate_username`].
    #[error("user name {name:?} is not allowed: {reason}")]
    InvalidUsername {
        /// The rejected name (Debug-escaped when shown).
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A network given for the throttle's trusted list does not parse.
    #[error(
        "invalid network {input:?}: {reason} — write an address (10.0.0.1) or a CIDR \
         block (10.0.0.0/8, fd00::/8)"
    )]
    InvalidNet {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A field of a user entry that the users file cannot hold.
    #[error("{0}")]
    UnwritableEntry(String),

    /// Argon2 cost parameters out of range.
    #[error("invalid password hashing parameters: {0}")]
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
