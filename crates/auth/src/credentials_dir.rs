//! [`CredentialStore`] on one machine: a folder (`<data_dir>/credentials`, mode 0700)
//! with one file per user, `<mailbox name>.toml` (mode 0600).
//!
//! Every change holds an exclusive `flock` on the folder's `.lock`, re-reads the file,
//! writes a temporary file, fsyncs it, renames it into place and fsyncs the folder, so
//! readers see the old or the new version and two changes never lose each other.
//!
//! The folder belongs to the server's account. Everything in it is reached relative to
//! the folder, opened once without following links, and never through a link (`openat`
//! with `O_NOFOLLOW`, temporary files `O_CREAT|O_EXCL`, `renameat`): `buzon user` run as
//! root cannot be made to read or write another file. What root creates is given to the
//! folder's owner.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rustix::fs::{Mode, OFlags};

use crate::credentials::{CredentialStore, UserCredentials};
use crate::error::AuthError;
use crate::username::mailbox_dir_name;

/// The folder of per-user credential files.
#[derive(Debug, Clone)]
pub struct CredentialsDir {
    dir: PathBuf,
}

fn io_err(action: &'static str, path: &Path, e: impl Into<io::Error>) -> AuthError {
    let e: io::Error = e.into();
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return AuthError::Link {
            path: path.to_path_buf(),
            fix: buzon_i18n::t!("credentials-link-fix", path = path.display().to_string()),
        };
    }
    AuthError::io(action, path, e)
}

impl CredentialsDir {
    /// The folder (created on the first change).
    pub fn new(dir: PathBuf) -> CredentialsDir {
        CredentialsDir { dir }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file_name(user: &str) -> String {
        format!("{}.toml", mailbox_dir_name(user))
    }

    /// Opens the folder without following a link; `create` makes it (0700) if missing.
    fn open_dir(&self, create: bool) -> Result<Option<OwnedFd>, AuthError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::open(&self.dir, flags, Mode::empty()) {
            Ok(fd) => return Ok(Some(fd)),
            Err(rustix::io::Errno::NOENT) if create => {}
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(io_err("open", &self.dir, e)),
        }
        match rustix::fs::mkdir(&self.dir, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io_err("create", &self.dir, e)),
        }
        let fd = rustix::fs::open(&self.dir, flags, Mode::empty())
            .map_err(|e| io_err("open", &self.dir, e))?;
        if rustix::process::geteuid().is_root() {
            give_to_parent_owner(&fd, &self.dir);
        }
        Ok(Some(fd))
    }

    fn read_at(&self, dir: &OwnedFd, user: &str) -> Result<UserCredentials, AuthError> {
        let name = Self::file_name(user);
        let path = self.dir.join(&name);
        let fd = match rustix::fs::openat(
            dir,
            name.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(UserCredentials::default()),
            Err(e) => return Err(io_err("open", &path, e)),
        };
        let mut f = File::from(fd);
        let meta = f.metadata().map_err(|e| io_err("stat", &path, e))?;
        if !meta.is_file() || meta.len() > 1 << 20 {
            return Err(AuthError::Credentials(buzon_i18n::t!(
                "credentials-not-a-file",
                path = path.display().to_string()
            )));
        }
        let mut text = String::new();
        f.read_to_string(&mut text)
            .map_err(|e| io_err("read", &path, e))?;
        UserCredentials::from_text(&text).map_err(|why| {
            AuthError::Credentials(buzon_i18n::t!(
                "credentials-damaged",
                path = path.display().to_string(),
                reason = why
            ))
        })
    }

    fn write_at(
        &self,
        dir: &OwnedFd,
        user: &str,
        creds: &UserCredentials,
    ) -> Result<(), AuthError> {
        let name = Self::file_name(user);
        let path = self.dir.join(&name);
        if creds.is_empty() {
            return match rustix::fs::unlinkat(dir, name.as_str(), rustix::fs::AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {
                    rustix::fs::fsync(dir).map_err(|e| io_err("fsync", &self.dir, e))
                }
                Err(e) => Err(io_err("remove", &path, e)),
            };
        }
        let tmp = format!(
            ".{name}.{}.{:016x}.tmp",
            std::process::id(),
            rand::rngs::OsRng.next_u64()
        );
        let fd = rustix::fs::openat(
            dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| io_err("create temporary file", &self.dir.join(&tmp), e))?;
        if rustix::process::geteuid().is_root() {
            give_to_dir_owner(&fd, dir, &path);
        }
        let mut f = File::from(fd);
        let written = f
            .write_all(creds.to_text(user).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err("write", &path, e))
            .and_then(|()| {
                rustix::fs::renameat(dir, tmp.as_str(), dir, name.as_str())
                    .map_err(|e| io_err("rename into place", &path, e))
            });
        if written.is_err() {
            let _ = rustix::fs::unlinkat(dir, tmp.as_str(), rustix::fs::AtFlags::empty());
            return written;
        }
        rustix::fs::fsync(dir).map_err(|e| io_err("fsync", &self.dir, e))
    }

    fn lock(&self, dir: &OwnedFd) -> Result<File, AuthError> {
        let path = self.dir.join(".lock");
        let fd = rustix::fs::openat(
            dir,
            ".lock",
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| io_err("open lock file", &path, e))?;
        if rustix::process::geteuid().is_root() {
            give_to_dir_owner(&fd, dir, &path);
        }
        let f = File::from(fd);
        f.lock().map_err(|e| io_err("lock", &path, e))?;
        Ok(f)
    }
}

/// As root: the folder just made belongs to the owner of the folder it is in.
fn give_to_parent_owner(fd: &OwnedFd, path: &Path) {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(m) = std::fs::metadata(parent) {
        chown_to(fd, m.uid(), m.gid(), path);
    }
}

/// As root: a file made in the folder belongs to the folder's owner.
fn give_to_dir_owner(fd: &OwnedFd, dir: &OwnedFd, path: &Path) {
    if let Ok(st) = rustix::fs::fstat(dir) {
        chown_to(fd, st.st_uid, st.st_gid, path);
    }
}

fn chown_to(fd: &OwnedFd, uid: u32, gid: u32, path: &Path) {
    if uid == 0 {
        return;
    }
    if let Err(e) = std::os::unix::fs::fchown(fd.as_fd(), Some(uid), Some(gid)) {
        tracing::warn!(file = %path.display(), "cannot give the file to the folder's owner ({e}); fix with chown");
    }
}

impl CredentialStore for CredentialsDir {
    fn load(&self, user: &str) -> Result<UserCredentials, String> {
        let Some(dir) = self.open_dir(false).map_err(|e| e.to_string())? else {
            return Ok(UserCredentials::default());
        };
        self.read_at(&dir, user).map_err(|e| e.to_string())
    }

    fn modify(
        &self,
        user: &str,
        change: &mut dyn FnMut(&mut UserCredentials) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        let dir = match self.open_dir(false)? {
            Some(dir) => dir,
            None => {
                // Nothing stored yet: make the folder only for a change that stores something.
                let mut creds = UserCredentials::default();
                change(&mut creds)?;
                if creds.is_empty() {
                    return Ok(());
                }
                self.open_dir(true)?.ok_or_else(|| {
                    AuthError::io("open", &self.dir, io::ErrorKind::NotFound.into())
                })?
            }
        };
        let lock = self.lock(&dir)?;
        let mut creds = self.read_at(&dir, user)?;
        let before = creds.clone();
        change(&mut creds)?;
        if creds != before {
            self.write_at(&dir, user, &creds)?;
        }
        drop(lock);
        Ok(())
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{generate_app_password, AppScope};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn changes_are_kept_per_user_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CredentialsDir::new(tmp.path().join("credentials"));
        assert!(store.load("alice").unwrap().is_empty());
        store
            .modify("Alice", &mut |c| {
                c.app_passwords
                    .push(generate_app_password("laptop", AppScope::Pop3, 1, &[]).entry);
                Ok(())
            })
            .unwrap();
        let back = store.load("alice").unwrap();
        assert_eq!(back.app_passwords.len(), 1);
        assert!(store.load("bob").unwrap().is_empty());
        let dir_mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let file = store
            .path()
            .join(format!("{}.toml", mailbox_dir_name("alice")));
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A refused change writes nothing.
        let e = store.modify("alice", &mut |c| {
            c.app_passwords.clear();
            Err(AuthError::Credentials("no".into()))
        });
        assert!(e.is_err());
        assert_eq!(store.load("alice").unwrap().app_passwords.len(), 1);
        // Emptied: the file goes.
        store
            .modify("alice", &mut |c| {
                c.app_passwords.clear();
                Ok(())
            })
            .unwrap();
        assert!(!file.exists());
    }

    #[test]
    fn links_in_the_folder_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CredentialsDir::new(tmp.path().join("credentials"));
        std::fs::create_dir(store.path()).unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let file = store
            .path()
            .join(format!("{}.toml", mailbox_dir_name("alice")));
        std::os::unix::fs::symlink(&target, &file).unwrap();
        let e = store.load("alice").unwrap_err();
        assert!(e.contains("link"), "{e}");
        // A change replaces the link by rename (never writes through it).
        store
            .modify("bob", &mut |c| {
                c.app_passwords
                    .push(generate_app_password("x", AppScope::All, 1, &[]).entry);
                Ok(())
            })
            .unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        // A linked folder is refused.
        let linked = tmp.path().join("linked");
        std::os::unix::fs::symlink(store.path(), &linked).unwrap();
        let e = CredentialsDir::new(linked).load("bob").unwrap_err();
        assert!(e.contains("link"), "{e}");
    }

    #[test]
    fn a_damaged_file_is_named_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CredentialsDir::new(tmp.path().to_path_buf());
        let file = tmp
            .path()
            .join(format!("{}.toml", mailbox_dir_name("alice")));
        std::fs::write(&file, "app_password = 3\n").unwrap();
        let e = store.load("alice").unwrap_err();
        assert!(e.contains(&file.display().to_string()), "{e}");
        assert!(e.contains("restore it from a backup"), "{e}");
    }
}
