//! Edits of the passwd-file for `buzon user`: add, change password, remove.
//!
//! Every edit holds an exclusive `flock` on the sidecar `<file>.lock` (never
//! deleted, so every process locks the same inode), re-reads the file under
//! that lock, writes the new content to a temporary file in the same
//! directory, fsyncs it, renames it over the original and fsyncs the
//! directory. Readers therefore see the old file or the new one, never a
//! mix, and two concurrent edits cannot lose each other's change. All lines
//! other than the edited one are kept byte for byte.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::error::AuthError;
use crate::scheme;
use crate::userdb::{self, Parsed};
use crate::username::validate_username;

/// Adds `user` with the stored password `stored_password` (e.g. from
/// [`crate::hash_password`]) as a new last line. Creates the file (mode 0600)
/// if missing. [`AuthError::UserExists`] if the name is present, ignoring case.
pub fn add_user(path: &Path, user: &str, stored_password: &str) -> Result<(), AuthError> {
    add_user_entry(path, user, stored_password, None, &[])
}

/// [`add_user`] with a home field and extra fields (`key=value`, e.g. a quota rule), as
/// `user:password::::home::key=value …`; for users moved from another user database.
pub fn add_user_entry(
    path: &Path,
    user: &str,
    stored_password: &str,
    home: Option<&str>,
    extra: &[(String, String)],
) -> Result<(), AuthError> {
    validate_username(user)?;
    check_password_field(stored_password)?;
    // Extra fields come after the seventh ':' and may hold ':' themselves (`*:storage=1G`);
    // they are separated by spaces.
    let breaks = |s: &str| s.contains(['\n', '\r']);
    if home.is_some_and(|h| breaks(h) || h.contains(':'))
        || extra.iter().any(|(k, v)| {
            breaks(k) || breaks(v) || k.is_empty() || k.contains([' ', '=', ':']) || v.contains(' ')
        })
    {
        return Err(AuthError::UnwritableEntry(format!(
            "the home or extra fields of {user} hold a character the users file cannot keep (a line break, ':' in the home or a name, a space in a value)"
        )));
    }
    let mut tail = String::new();
    if home.is_some() || !extra.is_empty() {
        tail = format!(
            "::::{}::{}",
            home.unwrap_or(""),
            crate::userdb::format_extra_fields(extra)
        );
    }
    edit(path, |data, parsed| {
        if let Some(&i) = parsed.index.get(&user.to_ascii_lowercase()) {
            let existing = parsed.entries.get(i).map_or(user, |e| e.name.as_str());
            return Err(AuthError::UserExists(existing.to_string()));
        }
        let eol: &[u8] = if uses_crlf(data) { b"\r\n" } else { b"\n" };
        let mut out = Vec::with_capacity(data.len() + user.len() + stored_password.len() + 3);
        out.extend_from_slice(data);
        if !data.is_empty() && !data.ends_with(b"\n") {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(user.as_bytes());
        out.push(b':');
        out.extend_from_slice(stored_password.as_bytes());
        out.extend_from_slice(tail.as_bytes());
        out.extend_from_slice(eol);
        Ok(out)
    })
}

/// Replaces the password field of `user` (matched ignoring case), keeping
/// every other field of the line. [`AuthError::NoSuchUser`] if absent.
pub fn set_password(path: &Path, user: &str, stored_password: &str) -> Result<(), AuthError> {
    check_password_field(stored_password)?;
    edit(path, |data, parsed| {
        let line_no = user_line(parsed, user)?;
        let mut out = Vec::with_capacity(data.len() + stored_password.len());
        for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
            if i + 1 != line_no {
                out.extend_from_slice(line);
                continue;
            }
            // The parser accepted this line, so it has a name and a ':'.
            let Some(name_end) = line.iter().position(|&b| b == b':') else {
                return Err(AuthError::NoSuchUser(user.to_string()));
            };
            let body_end = line.len() - eol_len(line);
            let pw_end = line[name_end + 1..body_end]
                .iter()
                .position(|&b| b == b':')
                .map_or(body_end, |p| name_end + 1 + p);
            out.extend_from_slice(&line[..=name_end]);
            out.extend_from_slice(stored_password.as_bytes());
            out.extend_from_slice(&line[pw_end..]);
        }
        Ok(out)
    })
}

/// Sets (`Some`) or removes (`None`) the extra field `key` of `user` (matched ignoring
/// case), keeping the other fields and extra fields of the line as they are; a line with
/// fewer than eight fields gets the empty ones it needs.
pub fn set_extra_field(
    path: &Path,
    user: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), AuthError> {
    if key.is_empty()
        || key.contains([' ', '=', ':', '\n', '\r'])
        || value.is_some_and(|v| v.contains([' ', '\n', '\r']))
    {
        return Err(AuthError::UnwritableEntry(format!(
            "the extra field {key:?} of {user} holds a character the users file cannot keep"
        )));
    }
    edit(path, |data, parsed| {
        let line_no = user_line(parsed, user)?;
        let mut out = Vec::with_capacity(data.len() + key.len() + 16);
        for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
            if i + 1 != line_no {
                out.extend_from_slice(line);
                continue;
            }
            let body_end = line.len() - eol_len(line);
            let body = String::from_utf8_lossy(&line[..body_end]).into_owned();
            let mut fields: Vec<&str> = body.splitn(8, ':').collect();
            while fields.len() < 8 {
                fields.push("");
            }
            let mut extra: Vec<String> = fields[7]
                .split_whitespace()
                .filter(|t| *t != key && !t.starts_with(&format!("{key}=")))
                .map(str::to_string)
                .collect();
            if let Some(v) = value {
                extra.push(if v.is_empty() {
                    key.to_string()
                } else {
                    format!("{key}={v}")
                });
            }
            let joined = extra.join(" ");
            fields[7] = &joined;
            while fields.len() > 2 && fields.last() == Some(&"") {
                fields.pop();
            }
            out.extend_from_slice(fields.join(":").as_bytes());
            out.extend_from_slice(&line[body_end..]);
        }
        Ok(out)
    })
}

/// Removes the line of `user` (matched ignoring case).
/// [`AuthError::NoSuchUser`] if absent. The mailbox is not touched.
pub fn remove_user(path: &Path, user: &str) -> Result<(), AuthError> {
    edit(path, |data, parsed| {
        let line_no = user_line(parsed, user)?;
        Ok(data
            .split_inclusive(|&b| b == b'\n')
            .enumerate()
            .filter(|&(i, _)| i + 1 != line_no)
            .flat_map(|(_, line)| line.iter().copied())
            .collect())
    })
}

fn user_line(parsed: &Parsed, user: &str) -> Result<usize, AuthError> {
    parsed
        .index
        .get(&user.to_ascii_lowercase())
        .and_then(|&i| parsed.lines.get(i).copied())
        .ok_or_else(|| AuthError::NoSuchUser(user.to_string()))
}

/// A stored password must fit in one passwd-file field and be usable.
fn check_password_field(stored: &str) -> Result<(), AuthError> {
    if let Some(c) = stored
        .chars()
        .find(|c| matches!(c, ':' | '\n' | '\r' | '\0'))
    {
        return Err(AuthError::BadHash(format!(
            "the stored password contains {c:?}, which cannot appear in a passwd-file field"
        )));
    }
    scheme::check_stored(stored)
}

fn eol_len(line: &[u8]) -> usize {
    if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    }
}

/// Follows the file's own convention, judged by its first line ending.
fn uses_crlf(data: &[u8]) -> bool {
    data.iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && data[i - 1] == b'\r')
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `O_NOFOLLOW`: opening a symbolic link fails with `ELOOP`.
fn nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

fn is_eloop(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

fn users_file_link(path: &Path) -> AuthError {
    AuthError::Link {
        path: path.to_path_buf(),
        fix: "point `auth.users_file` (or --data-dir) at the real file, or run `buzon user` \
              as the account that owns it (e.g. `runuser -u buzon -- buzon user ...`)"
            .into(),
    }
}

/// Refuses a users file that is a symbolic link when running as root: its folder
/// usually belongs to the server's account, which could point the link at any file for
/// root to read or rewrite. Other users edit (and read) what the link points to.
pub fn check_users_file_as_root(path: &Path) -> Result<(), AuthError> {
    if !running_as_root() {
        return Ok(());
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(users_file_link(path)),
        _ => Ok(()),
    }
}

/// Opens (creating it if needed, mode 0600) the lock file, never through a symbolic
/// link: root would otherwise create or open whatever file a link names. A lock file
/// that root creates is given to the folder's owner, so that account can still edit.
fn open_lock(lock_path: &Path) -> Result<File, AuthError> {
    let link = || AuthError::Link {
        path: lock_path.to_path_buf(),
        fix: format!(
            "remove it (`rm {}`); a new lock file is created",
            lock_path.display()
        ),
    };
    let fail = |e: io::Error| {
        if is_eloop(&e) {
            link()
        } else {
            AuthError::io("open lock file", lock_path, e)
        }
    };
    // Bounded: the file either exists or is created; a second miss is a real error.
    for _ in 0..2 {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nofollow())
            .open(lock_path)
        {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(e)),
        }
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(nofollow())
            .mode(0o600)
            .open(lock_path)
        {
            Ok(f) => {
                if running_as_root() {
                    give_to_folder_owner(&f, lock_path);
                }
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(e)),
        }
    }
    Err(link())
}

fn give_to_folder_owner(f: &File, path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(m) = fs::metadata(dir) {
        if m.uid() != 0 {
            if let Err(e) = std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid())) {
                tracing::warn!(file = %path.display(), "cannot give the file to the folder's owner ({e}); fix with chown");
            }
        }
    }
}

/// Runs one locked read-modify-write cycle.
fn edit(
    path: &Path,
    change: impl FnOnce(&[u8], &Parsed) -> Result<Vec<u8>, AuthError>,
) -> Result<(), AuthError> {
    let root = running_as_root();
    // Edit the real file, not a symlink to it: renaming over a symlink would
    // replace the link with a regular file. As root, a link is refused instead
    // (see `check_users_file_as_root`).
    let path = if root {
        check_users_file_as_root(path)?;
        path.to_path_buf()
    } else {
        match fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
            Err(e) => return Err(AuthError::io("resolve", path, e)),
        }
    };
    let lock_path = with_suffix(&path, ".lock");
    let lock = open_lock(&lock_path)?;
    lock.lock()
        .map_err(|e| AuthError::io("lock", &lock_path, e))?;

    // O_NOFOLLOW: a link swapped in since the check above is refused, not followed.
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(if root { nofollow() } else { 0 })
        .open(&path);
    let (data, meta) = match opened {
        Ok(mut f) => {
            let meta = f.metadata().map_err(|e| AuthError::io("stat", &path, e))?;
            let mut data = Vec::new();
            f.read_to_end(&mut data)
                .map_err(|e| AuthError::io("read", &path, e))?;
            (data, Some(meta))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), None),
        Err(e) if root && is_eloop(&e) => return Err(users_file_link(&path)),
        Err(e) => return Err(AuthError::io("open", &path, e)),
    };
    let parsed = userdb::parse(&path, &data)?;
    let new = change(&data, &parsed)?;
    replace_file(&path, &new, meta.as_ref())?;
    // Dropping `lock` closes it, which releases the flock.
    drop(lock);
    Ok(())
}

/// Atomically replaces `path` with `content`, keeping the old owner and
/// group and the old mode minus any world access (new files get 0600).
fn replace_file(path: &Path, content: &[u8], old: Option<&fs::Metadata>) -> Result<(), AuthError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "users".to_string());
    let tmp = dir.join(format!(
        ".{file_name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::rngs::OsRng.next_u64()
    ));
    let result = write_tmp(&tmp, content, old).and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| AuthError::io("rename into place", path, e))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuthError::io("fsync directory", &dir, e))
}

fn write_tmp(tmp: &Path, content: &[u8], old: Option<&fs::Metadata>) -> Result<(), AuthError> {
    // create_new: never follow a planted symlink or reuse someone else's file.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .map_err(|e| AuthError::io("create temporary file", tmp, e))?;
    if let Some(old) = old {
        let mine = f.metadata().map_err(|e| AuthError::io("stat", tmp, e))?;
        if (mine.uid(), mine.gid()) != (old.uid(), old.gid()) {
            if let Err(e) = std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid())) {
                tracing::warn!(
                    file = %tmp.display(),
                    "cannot keep the passwd-file's owner {}:{} ({e}); the server may no \
                     longer be able to read it — fix with chown",
                    old.uid(),
                    old.gid()
                );
            }
        }
        let mode = (old.permissions().mode() & 0o660) | 0o600;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| AuthError::io("set mode of", tmp, e))?;
    } else if running_as_root() {
        // A new users file made by root (`buzon user add` as root on a packaged server)
        // belongs to the data folder's owner, the server's account, as the lock file does;
        // root's 0600 file would lock the server out.
        give_to_folder_owner(&f, tmp);
    }
    f.write_all(content)
        .map_err(|e| AuthError::io("write", tmp, e))?;
    f.sync_all().map_err(|e| AuthError::io("fsync", tmp, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_are_set_and_removed_keeping_the_rest_of_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        fs::write(
            &path,
            "alice:{PLAIN}a\nbob:{PLAIN}b::::/home/bob::userdb_quota_rule=*:storage=1G\r\n",
        )
        .unwrap();
        set_extra_field(&path, "ALICE", "two_step", Some("totp")).unwrap();
        set_extra_field(&path, "bob", "two_step", Some("totp")).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "alice:{PLAIN}a::::::two_step=totp\nbob:{PLAIN}b::::/home/bob::userdb_quota_rule=*:storage=1G two_step=totp\r\n"
        );
        set_extra_field(&path, "bob", "two_step", None).unwrap();
        set_extra_field(&path, "alice", "two_step", Some("off")).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "alice:{PLAIN}a::::::two_step=off\nbob:{PLAIN}b::::/home/bob::userdb_quota_rule=*:storage=1G\r\n"
        );
        let db = crate::UserDb::load(&path).unwrap();
        assert_eq!(db.lookup("bob").unwrap().home.as_deref(), Some("/home/bob"));
        assert!(matches!(
            set_extra_field(&path, "carol", "two_step", None),
            Err(AuthError::NoSuchUser(_))
        ));
        assert!(set_extra_field(&path, "alice", "a b", None).is_err());
    }

    #[test]
    fn crlf_detection() {
        assert!(uses_crlf(b"a:b\r\nc:d\n"));
        assert!(!uses_crlf(b"a:b\nc:d\r\n"));
        assert!(!uses_crlf(b""));
        assert!(!uses_crlf(b"\n"));
    }

    #[test]
    fn password_field_rules() {
        assert!(check_password_field("{PLAIN}a:b").is_err());
        assert!(check_password_field("{PLAIN}a\nb").is_err());
        assert!(check_password_field("{PLAIN}ok").is_ok());
        assert!(check_password_field("{NOPE}x").is_err());
        assert!(check_password_field("{SHA512-CRYPT}$6$short").is_err());
        assert!(check_password_field("").is_err());
    }
}
