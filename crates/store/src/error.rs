//! The one error type of the store, shaped so the server can pick a POP3 or LMTP reply
//! from the variant alone (RFC 1939 §8 `[IN-USE]`, RFC 3206 `[SYS/TEMP]`/`[SYS/PERM]`).

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RFC 1939 §8: another session holds the exclusive-access lock on this mailbox
    /// (RFC 2449 `[IN-USE]`).
    #[error("{}", buzon_i18n::t!("store-in-use"))]
    InUse,

    /// A filesystem operation failed. `op` says what was being done.
    #[error("{}", buzon_i18n::t!("io-cannot", action = buzon_i18n::io_action(op), path = path.display().to_string(), reason = source.to_string()))]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The filesystem is full or the user's disk quota is exhausted (ENOSPC, EDQUOT).
    #[error("{}", buzon_i18n::t!("store-no-space", action = buzon_i18n::io_action(op), path = path.display().to_string(), reason = source.to_string()))]
    NoSpace {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The store cannot do it right now: a worker task failed, or (for a store reached
    /// over the network) the store is unreachable. Retrying later may succeed.
    #[error("{}", buzon_i18n::t!("store-unavailable", reason = .0.as_str()))]
    Unavailable(String),

    /// The Maildir, folder or message does not exist (any more).
    #[error("{}", buzon_i18n::t!("store-not-found"))]
    NotFound,

    /// A name or argument was refused (bad folder name, message index out of range,
    /// a message file that turned into a symbolic link, a directory that is not a Maildir).
    #[error("{0}")]
    Invalid(String),

    /// A delivered message was larger than the limit the caller set.
    #[error("{}", buzon_i18n::t!("store-too-big", limit = limit.to_string()))]
    TooBig { limit: u64 },

    /// RFC 1939 §6 UPDATE state: some deletions failed. Every other listed message was
    /// deleted; no message was half-deleted.
    #[error("{}", buzon_i18n::t!("store-partial-expunge", deleted = *deleted, failed = *failed))]
    PartialExpunge {
        deleted: usize,
        failed: usize,
        #[source]
        first_error: Box<StoreError>,
    },
}

impl StoreError {
    /// True if retrying later may succeed (POP3 `[SYS/TEMP]`, LMTP 4xx); false if the same
    /// request will fail again (`[SYS/PERM]`, LMTP 5xx).
    pub fn is_temporary(&self) -> bool {
        match self {
            StoreError::InUse
            | StoreError::Io { .. }
            | StoreError::NoSpace { .. }
            | StoreError::Unavailable(_)
            | StoreError::PartialExpunge { .. } => true,
            StoreError::NotFound | StoreError::Invalid(_) | StoreError::TooBig { .. } => false,
        }
    }

    /// Wraps an I/O error with context, recognising "no space" conditions.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if is_no_space(&source) {
            StoreError::NoSpace { op, path, source }
        } else {
            StoreError::Io { op, path, source }
        }
    }
}

fn is_no_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(
        rustix::io::Errno::from_io_error(e),
        Some(rustix::io::Errno::NOSPC) | Some(rustix::io::Errno::DQUOT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_and_edquot_become_no_space() {
        for errno in [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT] {
            let e = StoreError::io(
                "write",
                "/x",
                io::Error::from_raw_os_error(errno.raw_os_error()),
            );
            assert!(matches!(e, StoreError::NoSpace { .. }), "{e:?}");
            assert!(e.is_temporary());
        }
        let e = StoreError::io(
            "write",
            "/x",
            io::Error::from_raw_os_error(rustix::io::Errno::ACCESS.raw_os_error()),
        );
        assert!(matches!(e, StoreError::Io { .. }));
    }

    #[test]
    fn temporary_classification() {
        assert!(StoreError::InUse.is_temporary());
        assert!(!StoreError::NotFound.is_temporary());
        assert!(!StoreError::Invalid("x".into()).is_temporary());
        assert!(!StoreError::TooBig { limit: 1 }.is_temporary());
    }

    #[test]
    fn messages_name_the_path() {
        let e = StoreError::io(
            "open",
            "/mail/cur/x",
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(e.to_string().contains("/mail/cur/x"), "{e}");
    }
}
