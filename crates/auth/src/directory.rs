//! Where the users come from: the users file (reloaded when its [`FileStamp`] changes)
//! or another source (the PostgreSQL store), behind one small interface that the POP3
//! authenticator and the delivery engine share.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::{AuthError, FileStamp, UserDb};

/// A source of users: the list in memory, and a blocking look at the source.
pub trait UserDirectory: Send + Sync {
    /// The users in memory. Never blocks and never touches the file system or the
    /// network, so it may be called on a runtime thread.
    fn current(&self) -> Arc<UserDb>;

    /// Looks at the source and reloads the list when it changed. Blocking (a `stat`, a
    /// read, a database query): call it from a blocking thread only. `Err`: the source
    /// cannot be reached right now (the previous list stays in use); the text says why
    /// and is meant for the log, and the caller answers with a temporary failure.
    fn refresh(&self) -> Result<(), String>;

    /// The file or URL, for messages.
    fn describe(&self) -> String;
}

/// A changed users file is read only once it has been still this long (waiting at most
/// ten times as long), so a file rewritten in place is not caught half written.
const USERS_FILE_SETTLE: Duration = Duration::from_millis(100);

/// What the last look at the users file found, when it differs from the list in use.
#[derive(Debug, Default)]
struct Reload {
    /// The stamp of a version that failed to load: not read again, not logged again,
    /// until the file changes once more.
    broken: Option<Option<FileStamp>>,
    /// The last `stat` error, logged once.
    stat_error: Option<String>,
}

/// The users file (Dovecot passwd-file format), reloaded when it changes.
#[derive(Debug)]
pub struct UsersFile {
    path: PathBuf,
    db: RwLock<Arc<UserDb>>,
    reload: Mutex<Reload>,
}

impl UsersFile {
    /// Loads the file (errors name the file and line).
    pub fn load(path: &Path) -> Result<UsersFile, AuthError> {
        Ok(UsersFile {
            path: path.to_path_buf(),
            db: RwLock::new(Arc::new(UserDb::load(path)?)),
            reload: Mutex::new(Reload::default()),
        })
    }
}

impl UserDirectory for UsersFile {
    fn current(&self) -> Arc<UserDb> {
        match self.db.read() {
            Ok(d) => Arc::clone(&d),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Reloads the file if its [`FileStamp`] changed (a restore that keeps the old mtime
    /// still changes the ctime). A version that cannot be loaded leaves the last good
    /// list in use and is reported once, not at every look. Always `Ok`: a file that
    /// cannot be looked at keeps the version in use (logged once).
    fn refresh(&self) -> Result<(), String> {
        // One look at a time; a second caller waits and then finds nothing to do.
        let mut r = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        let on_disk = match FileStamp::of_path(&self.path) {
            Ok(s) => {
                r.stat_error = None;
                s
            }
            Err(e) => {
                let msg = e.to_string();
                if r.stat_error.as_deref() != Some(msg.as_str()) {
                    tracing::error!(file = %self.path.display(), "cannot check the users file for changes, keeping the version in use: {msg} — check the permissions of its directory");
                    r.stat_error = Some(msg);
                }
                return Ok(());
            }
        };
        let current = self.current();
        if on_disk == current.stamp() || r.broken == Some(on_disk) {
            return Ok(());
        }
        // An editor or `cat >` rewriting the file in place truncates it first: a read in
        // between would take an empty or partial file for the new version.
        let mut on_disk = on_disk;
        for _ in 0..10 {
            let Some(age) = on_disk.map(|s| s.changed_ago()) else {
                break;
            };
            if age >= USERS_FILE_SETTLE {
                break;
            }
            std::thread::sleep(USERS_FILE_SETTLE - age);
            match FileStamp::of_path(&self.path) {
                Ok(s) => on_disk = s,
                Err(_) => return Ok(()),
            }
        }
        let loaded = UserDb::load(&self.path);
        // Changed while being read: not a version to keep or to report; look again next time.
        if FileStamp::of_path(&self.path).ok() != Some(on_disk) {
            return Ok(());
        }
        match loaded {
            Ok(db) => {
                r.broken = None;
                let users = db.len();
                match self.db.write() {
                    Ok(mut w) => *w = Arc::new(db),
                    Err(p) => *p.into_inner() = Arc::new(db),
                }
                tracing::info!(file = %self.path.display(), users, "reloaded the users file");
            }
            Err(e) => {
                r.broken = Some(on_disk);
                // Once per broken version; the previous users keep logging in.
                tracing::error!(
                    file = %self.path.display(),
                    "cannot load the changed users file, keeping the previous version until it is fixed: {e}"
                );
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
