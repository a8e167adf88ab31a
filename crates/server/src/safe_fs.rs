//! File access for the steps `buzon serve` takes as root before it switches to its
//! account: reading the TLS files and writing the self-signed pair into `<data_dir>/tls/`,
//! a folder the account owns.
//!
//! What must never happen here: root following a symbolic link that someone else could
//! have planted or changed (it would make root truncate, overwrite or create any file, or
//! read a key meant for root alone), or root writing a file in someone else's folder
//! without `O_NOFOLLOW` and `O_EXCL`. Every step works on an open folder (`openat`,
//! `renameat`), so nothing can be swapped between a check and its use.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// Files read here (PEM certificates and keys) are small; this bounds a hostile one.
pub const MAX_READ: u64 = 1024 * 1024;

/// Symbolic links followed in one path before giving up (as the kernel's `ELOOP`).
const MAX_LINKS: usize = 40;

/// Why a path was not opened.
#[derive(Debug, thiserror::Error)]
pub enum SafeFsError {
    /// A symbolic link that someone other than root could have planted or changed.
    #[error("{link} is a symbolic link in a folder that {owner} can change")]
    ForeignLink { link: PathBuf, owner: String },
    /// A symbolic link where none may be (a file Buzón made itself, or its folder).
    #[error("{0} is a symbolic link")]
    Link(PathBuf),
    #[error("{path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SafeFsError {
    fn io(path: &Path, e: impl Into<std::io::Error>) -> Self {
        SafeFsError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }
    }
}

/// True when the process runs with root's rights (effective uid 0).
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Opens the folder `path`, refusing it when its last component is a symbolic link.
pub fn open_dir_nofollow(path: &Path) -> Result<OwnedFd, SafeFsError> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| link_or_io(path, e))
}

/// Creates the folder `path` (mode 0700) unless it exists, then opens it like
/// [`open_dir_nofollow`]. `mkdir` never follows a link, so a planted one is refused.
pub fn create_dir_nofollow(path: &Path) -> Result<OwnedFd, SafeFsError> {
    match rustix::fs::mkdir(path, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => open_dir_nofollow(path),
        Err(e) => Err(SafeFsError::io(path, e)),
    }
}

/// ELOOP from `O_NOFOLLOW` (and ENOTDIR for a link with `O_DIRECTORY`) means a link.
fn link_or_io(path: &Path, e: rustix::io::Errno) -> SafeFsError {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && matches!(e, rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) {
        SafeFsError::Link(path.to_path_buf())
    } else {
        SafeFsError::io(path, e)
    }
}

/// Whether `name` exists in `dir` as anything at all (a link counts; it is not followed).
pub fn exists_at(dir: &OwnedFd, name: &str) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// Reads the regular file `name` in `dir` (at most [`MAX_READ`] bytes), refusing a
/// symbolic link, and opening without blocking so a planted FIFO cannot stall the start.
pub fn read_at(dir: &OwnedFd, dir_path: &Path, name: &str) -> Result<Vec<u8>, SafeFsError> {
    let path = dir_path.join(name);
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| link_or_io(&path, e))?;
    read_regular(File::from(fd), &path)
}

fn read_regular(file: File, path: &Path) -> Result<Vec<u8>, SafeFsError> {
    let meta = file.metadata().map_err(|e| SafeFsError::io(path, e))?;
    if !meta.is_file() {
        return Err(SafeFsError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mut data = Vec::new();
    file.take(MAX_READ)
        .read_to_end(&mut data)
        .map_err(|e| SafeFsError::io(path, e))?;
    Ok(data)
}

/// Writes `data` as `name` in `dir` (mode `mode`, given to `owner` (uid, gid) when set):
/// a new temporary file created with `O_CREAT | O_EXCL | O_NOFOLLOW` under a name nobody
/// can guess, fsynced, then renamed over `name` (which replaces a link instead of
/// following it), then the folder fsynced.
pub fn write_new_at(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    data: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), SafeFsError> {
    let tmp = format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    );
    let tmp_path = dir_path.join(&tmp);
    let fd = rustix::fs::openat(
        dir,
        tmp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map_err(|e| SafeFsError::io(&tmp_path, e))?;
    let mut f = File::from(fd);
    let written = owner
        .map_or(Ok(()), |(uid, gid)| {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
        })
        .and_then(|()| f.write_all(data))
        .and_then(|()| f.sync_all())
        .map_err(|e| SafeFsError::io(&tmp_path, e))
        .and_then(|()| {
            rustix::fs::renameat(dir, tmp.as_str(), dir, name)
                .map_err(|e| SafeFsError::io(&dir_path.join(name), e))
        });
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        return written;
    }
    rustix::fs::fsync(dir).map_err(|e| SafeFsError::io(dir_path, e))
}

/// Opens `path` for reading as root without following a symbolic link that anyone but
/// root could have planted or changed: the path is walked one component at a time on open
/// folders, and a link is followed only when the folder that holds it belongs to root and
/// nobody else may write it (as certbot's `live/` folder), since only root could have put
/// it there. The file itself must be a regular file (at most [`MAX_READ`] bytes are read).
pub fn read_without_foreign_links(path: &Path) -> Result<Vec<u8>, SafeFsError> {
    let (mut dir, mut here) = if path.is_absolute() {
        (
            open_path(rustix::fs::CWD, "/", Path::new("/"))?,
            PathBuf::from("/"),
        )
    } else {
        let cwd = std::env::current_dir().map_err(|e| SafeFsError::io(path, e))?;
        (open_path(rustix::fs::CWD, ".", &cwd)?, cwd)
    };
    // Components still to walk, last first.
    let mut todo: Vec<OsString> = components(path.as_os_str());
    todo.reverse();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            dir = open_path(&dir, "..", &here)?;
            here.pop();
            continue;
        }
        let at = here.join(&name);
        let st = rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| SafeFsError::io(&at, e))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            let holder = rustix::fs::fstat(&dir).map_err(|e| SafeFsError::io(&here, e))?;
            if holder.st_uid != 0 || holder.st_mode & 0o022 != 0 {
                return Err(SafeFsError::ForeignLink {
                    link: at,
                    owner: folder_writers(holder.st_uid, holder.st_mode),
                });
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(SafeFsError::io(&at, rustix::io::Errno::LOOP));
            }
            let target = rustix::fs::readlinkat(&dir, name.as_os_str(), Vec::new())
                .map_err(|e| SafeFsError::io(&at, e))?;
            let target = OsStr::from_bytes(target.as_bytes()).to_os_string();
            if Path::new(&target).is_absolute() {
                dir = open_path(rustix::fs::CWD, "/", Path::new("/"))?;
                here = PathBuf::from("/");
            }
            let mut more = components(&target);
            more.reverse();
            todo.extend(more);
            continue;
        }
        if todo.is_empty() {
            // NOFOLLOW: an entry swapped for a link since the check above is refused.
            let fd = rustix::fs::openat(
                &dir,
                name.as_os_str(),
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| SafeFsError::io(&at, e))?;
            return read_regular(File::from(fd), &at);
        }
        dir = open_path(&dir, name.as_os_str(), &at)?;
        here = at;
    }
    Err(SafeFsError::NotAFile {
        path: path.to_path_buf(),
    })
}

/// The normal components of `path` (`.` dropped, `..` kept as such).
fn components(path: &OsStr) -> Vec<OsString> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// An `O_PATH` handle on the folder `name` in `dir`, never through a link.
fn open_path<Fd: std::os::fd::AsFd, P: rustix::path::Arg>(
    dir: Fd,
    name: P,
    shown: &Path,
) -> Result<OwnedFd, SafeFsError> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SafeFsError::io(shown, e))
}

/// Who, besides root, can change a folder with this owner and mode.
fn folder_writers(uid: u32, mode: u32) -> String {
    if mode & 0o002 != 0 {
        return "every user".into();
    }
    let owner = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| format!("user {}", u.name))
        .unwrap_or_else(|| format!("uid {uid}"));
    if uid != 0 {
        owner
    } else {
        "its group".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn write_new_at_never_writes_through_a_link_and_replaces_one() {
        let t = tmp();
        let outside = t.path().join("victim");
        std::fs::write(&outside, b"precious").unwrap_or_else(|e| panic!("{e}"));
        let d = t.path().join("d");
        let dir = create_dir_nofollow(&d).unwrap_or_else(|e| panic!("{e}"));
        symlink(&outside, d.join("key.pem")).unwrap_or_else(|e| panic!("{e}"));
        write_new_at(&dir, &d, "key.pem", b"new", 0o600, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read(&outside).ok().as_deref(),
            Some(&b"precious"[..])
        );
        let m = std::fs::symlink_metadata(d.join("key.pem")).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            read_at(&dir, &d, "key.pem").ok().as_deref(),
            Some(&b"new"[..])
        );
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&d).map(|r| r.count()).ok(), Some(1));
    }

    #[test]
    fn links_are_refused_where_none_may_be() {
        let t = tmp();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(real.join("f"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let link = t.path().join("link");
        symlink(&real, &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(open_dir_nofollow(&link), Err(SafeFsError::Link(p)) if p == link));
        assert!(matches!(
            create_dir_nofollow(&link),
            Err(SafeFsError::Link(_))
        ));
        let dir = open_dir_nofollow(&real).unwrap_or_else(|e| panic!("{e}"));
        symlink(real.join("f"), real.join("g")).unwrap_or_else(|e| panic!("{e}"));
        assert!(exists_at(&dir, "g") && !exists_at(&dir, "h"));
        let e = read_at(&dir, &real, "g").err().map(|e| e.to_string());
        assert_eq!(
            e,
            Some(format!("{} is a symbolic link", real.join("g").display()))
        );
        // A FIFO does not block the reader.
        nix_mkfifo(&real.join("fifo"));
        assert!(matches!(
            read_at(&dir, &real, "fifo"),
            Err(SafeFsError::NotAFile { .. })
        ));
    }

    fn nix_mkfifo(path: &Path) {
        let st = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap_or_else(|e| panic!("mkfifo: {e}"));
        assert!(st.success());
    }

    #[test]
    fn only_links_in_folders_nobody_but_root_can_change_are_followed() {
        let t = tmp();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let file = t.path().join("key.pem");
        std::fs::write(&file, b"key").unwrap_or_else(|e| panic!("{e}"));
        // A plain path, with `.` and `..` in it.
        let odd = t.path().join("./sub/../key.pem");
        std::fs::create_dir(t.path().join("sub")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read_without_foreign_links(&odd).ok().as_deref(),
            Some(&b"key"[..])
        );
        let rel = t.path().join("rel.pem");
        symlink("key.pem", &rel).unwrap_or_else(|e| panic!("{e}"));
        let abs = t.path().join("abs.pem");
        symlink(&rel, &abs).unwrap_or_else(|e| panic!("{e}"));
        let owned_by_root = rustix::process::geteuid().is_root();
        for l in [&rel, &abs] {
            let got = read_without_foreign_links(l);
            if owned_by_root {
                // The temporary folder is root's and 0755: its links are root's doing.
                assert_eq!(got.ok().as_deref(), Some(&b"key"[..]), "{}", l.display());
            } else {
                assert!(
                    matches!(&got, Err(SafeFsError::ForeignLink { link, .. }) if link == l),
                    "{got:?}"
                );
            }
        }
        // A folder others may write: its links are never followed, whoever owns it.
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        let got = read_without_foreign_links(&rel);
        assert!(
            matches!(&got, Err(SafeFsError::ForeignLink { owner, .. }) if owner == "every user"),
            "{got:?}"
        );
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        // A loop ends.
        let a = t.path().join("a");
        symlink("b", &a).unwrap_or_else(|e| panic!("{e}"));
        symlink("a", t.path().join("b")).unwrap_or_else(|e| panic!("{e}"));
        assert!(read_without_foreign_links(&a).is_err());
        assert!(matches!(
            read_without_foreign_links(t.path()),
            Err(SafeFsError::NotAFile { .. })
        ));
    }
}
