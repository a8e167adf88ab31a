//! RFC 1939 §8 exclusive-access lock: one POP3 session per Maildir at a time.
//!
//! The lock is `flock(LOCK_EX | LOCK_NB)` on `<root>/buzon-pop3.lock`. flock belongs to
//! the open file description, so a second session in the same process is refused just
//! like one in another process, and the kernel drops the lock when the holder exits or
//! crashes: a dead server never locks a user out. The file's content (pid and time) is
//! for people diagnosing a stuck mailbox only; nothing reads it. Delivery never takes
//! this lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{flock, FlockOperation};

use crate::StoreError;

pub(crate) const LOCK_FILE: &str = "buzon-pop3.lock";

/// Held for the lifetime of a session; dropping it closes the file and so releases the lock.
#[derive(Debug)]
pub(crate) struct MailboxLock {
    _file: File,
    path: PathBuf,
}

impl MailboxLock {
    pub(crate) fn acquire(root: &Path) -> Result<MailboxLock, StoreError> {
        let path = root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| StoreError::io("open lock file", &path, e))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(StoreError::InUse),
            Err(e) => return Err(StoreError::io("lock", &path, e.into())),
        }
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Diagnostics only: failing to write them (e.g. disk full) must not stop the session.
        let _ = file.set_len(0);
        let _ =
            (&file).write_all(format!("pid {}\nlocked-at {secs}\n", std::process::id()).as_bytes());
        tracing::debug!(path = %path.display(), "mailbox locked");
        Ok(MailboxLock { _file: file, path })
    }
}

impl Drop for MailboxLock {
    fn drop(&mut self) {
        tracing::debug!(path = %self.path.display(), "mailbox unlocked");
    }
}
