//! Running with the least rights. `buzon serve` binds its listeners first (ports below
//! 1024 need root) and loads the TLS key (which may be readable by root only); then, when
//! `[server] user` is set, it switches to that account for good before it builds the
//! async runtime, so no client byte is ever read with root's rights. The data folder is
//! checked at start: reachable and writable by the server's account, and not open to
//! everyone.
//!
//! What must never happen here: switching while other threads exist (the switch must
//! cover the whole process), or carrying on when the switch did not fully happen.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User};

use crate::config::RunAs;

/// The account the server switches to, resolved from `[server] user`/`group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub uid: u32,
    pub group: String,
    pub gid: u32,
}

/// A problem with rights or ownership, phrased for the administrator.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("server.user {0:?} does not exist on this machine — create it with `useradd --system --no-create-home --shell /usr/sbin/nologin {0}` or name an existing account")]
    UnknownUser(String),
    #[error("server.group {0:?} does not exist on this machine — create it with `groupadd --system {0}` or name an existing group")]
    UnknownGroup(String),
    #[error("cannot look up {what} {name:?}: {detail} — check /etc/nsswitch.conf and the account databases")]
    Lookup {
        what: &'static str,
        name: String,
        detail: String,
    },
    #[error("server.user {0:?} is the superuser (uid 0) — name an unprivileged account")]
    RootAccount(String),
    #[error("server.user is {user:?} but buzon serve runs as uid {uid}, not root, so it cannot switch accounts — start it as root (it drops to {user:?} after binding) or remove `server.user`")]
    NotRoot { user: String, uid: u32 },
    #[error("cannot switch to {user:?} while {threads} threads run — this is a bug in buzon: the switch must happen before the runtime starts")]
    Threads { user: String, threads: usize },
    #[error("cannot switch to {user:?}: {step} failed: {detail}")]
    Switch {
        user: String,
        step: &'static str,
        detail: String,
    },
    #[error(
        "switching to {user:?} did not take: the process can still regain root — refusing to serve"
    )]
    StillPrivileged { user: String },
    #[error("the data folder {path} {problem} — {fix}")]
    DataDir {
        path: PathBuf,
        problem: String,
        fix: String,
    },
}

/// Resolves the configured account (names through the system's account databases, or
/// numeric ids). The group defaults to the user's primary group.
pub fn resolve(run_as: &RunAs) -> Result<Account, PrivilegeError> {
    let lookup = |what: &'static str, name: &str, e: nix::Error| PrivilegeError::Lookup {
        what,
        name: name.to_string(),
        detail: e.to_string(),
    };
    let user = if let Ok(n) = run_as.user.parse::<u32>() {
        match User::from_uid(Uid::from_raw(n)).map_err(|e| lookup("user", &run_as.user, e))? {
            Some(u) => u,
            None => return Err(PrivilegeError::UnknownUser(run_as.user.clone())),
        }
    } else {
        User::from_name(&run_as.user)
            .map_err(|e| lookup("user", &run_as.user, e))?
            .ok_or_else(|| PrivilegeError::UnknownUser(run_as.user.clone()))?
    };
    if user.uid.is_root() {
        return Err(PrivilegeError::RootAccount(run_as.user.clone()));
    }
    let group = match &run_as.group {
        None => Group::from_gid(user.gid).map_err(|e| lookup("group", &user.gid.to_string(), e))?,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => Group::from_gid(Gid::from_raw(n)).map_err(|e| lookup("group", g, e))?,
            Err(_) => Group::from_name(g).map_err(|e| lookup("group", g, e))?,
        },
    };
    let (group_name, gid) = match group {
        Some(g) => (g.name, g.gid),
        // A primary group id without a name in /etc/group is legal; keep the number.
        None if run_as.group.is_none() => (user.gid.to_string(), user.gid),
        None => {
            return Err(PrivilegeError::UnknownGroup(
                run_as.group.clone().unwrap_or_default(),
            ))
        }
    };
    if gid.as_raw() == 0 {
        return Err(PrivilegeError::Switch {
            user: user.name,
            step: "choosing the group",
            detail: "the group is root's (gid 0); set `server.group` to the account's own group"
                .into(),
        });
    }
    Ok(Account {
        user: user.name,
        uid: user.uid.as_raw(),
        group: group_name,
        gid: gid.as_raw(),
    })
}

/// True when the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Switches the whole process to `account`: supplementary groups, then real, effective
/// and saved group id, then user id; sets no-new-privileges; and checks that root cannot
/// be regained. Must run while the process has one thread. Doing nothing is fine when
/// the process already runs as `account` (started by a service manager with `User=`).
pub fn drop_to(account: &Account) -> Result<(), PrivilegeError> {
    let euid = nix::unistd::geteuid();
    if euid.as_raw() == account.uid && nix::unistd::getuid().as_raw() == account.uid {
        return Ok(());
    }
    if !euid.is_root() {
        return Err(PrivilegeError::NotRoot {
            user: account.user.clone(),
            uid: euid.as_raw(),
        });
    }
    let threads = thread_count();
    if threads != 1 {
        return Err(PrivilegeError::Threads {
            user: account.user.clone(),
            threads,
        });
    }
    let fail = |step: &'static str| {
        let user = account.user.clone();
        move |e: nix::Error| PrivilegeError::Switch {
            user,
            step,
            detail: e.to_string(),
        }
    };
    let gid = Gid::from_raw(account.gid);
    let uid = Uid::from_raw(account.uid);
    nix::unistd::setgroups(&[gid]).map_err(fail("setgroups"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(fail("setresgid"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(fail("setresuid"))?;
    // Neither a setuid program nor file capabilities can give rights back from here on.
    nix::sys::prctl::set_no_new_privs().map_err(fail("prctl(PR_SET_NO_NEW_PRIVS)"))?;
    let now = (
        nix::unistd::getuid(),
        nix::unistd::geteuid(),
        nix::unistd::getgid(),
        nix::unistd::getegid(),
    );
    if now != (uid, uid, gid, gid)
        || nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok()
    {
        return Err(PrivilegeError::StillPrivileged {
            user: account.user.clone(),
        });
    }
    Ok(())
}

/// Threads of this process (from /proc; 0 when it cannot be read, which refuses the switch).
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Creates the data folder (mode 0700) when it is missing. When the server will switch
/// to `owner`, a folder created here is given to that account, so the server can use it.
pub fn create_data_dir(path: &Path, owner: Option<&Account>) -> Result<(), PrivilegeError> {
    if path.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| PrivilegeError::DataDir {
            path: path.to_path_buf(),
            problem: format!("cannot be created: {e}"),
            fix: "check the path and the permissions of its parent folder".into(),
        })?;
    if let Some(a) = owner {
        // On the folder just made, opened without following a link: nothing swapped in
        // since the mkdir is given away.
        crate::safe_fs::open_dir_nofollow(path)
            .map_err(|e| e.to_string())
            .and_then(|fd| {
                std::os::unix::fs::fchown(&fd, Some(a.uid), Some(a.gid)).map_err(|e| e.to_string())
            })
            .map_err(|e| PrivilegeError::DataDir {
                path: path.to_path_buf(),
                problem: format!("cannot be given to {}: {e}", a.user),
                fix: format!("run `chown {}:{} {}`", a.user, a.group, path.display()),
            })?;
    }
    Ok(())
}

/// For a server that keeps root's rights (started as root without `[server] user`): the
/// data folder must belong to root. Everything such a server writes there — the users
/// file and the demo mailbox of a first start, Maildirs, lock files, the intake spool —
/// would otherwise sit in a folder another account controls, where a link it plants
/// makes root write or create any file.
pub fn check_data_dir_owner_for_root(path: &Path) -> Result<(), PrivilegeError> {
    let meta = std::fs::metadata(path).map_err(|e| PrivilegeError::DataDir {
        path: path.to_path_buf(),
        problem: format!("cannot be inspected: {e}"),
        fix: "check the path".into(),
    })?;
    if meta.uid() == 0 {
        return Ok(());
    }
    let owner = User::from_uid(Uid::from_raw(meta.uid()))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| meta.uid().to_string());
    Err(PrivilegeError::DataDir {
        path: path.to_path_buf(),
        problem: format!(
            "belongs to {owner}, but buzon serve runs as root and keeps root's rights (no `[server] user`), so {owner} could plant links there that root would write through"
        ),
        fix: format!(
            "set `[server] user = \"{owner}\"` in the config so the server runs as that account, start buzon as {owner}, or give the folder to root with `chown -R root: {}`",
            path.display()
        ),
    })
}

/// Checks the data folder with the rights the server runs with: it must be a directory
/// the server can enter and write, and nobody else may write it. Returns warnings for
/// what is allowed but unwise (other users can read it).
pub fn check_data_dir(path: &Path) -> Result<Vec<String>, PrivilegeError> {
    let who = || {
        let uid = nix::unistd::geteuid();
        let name = User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| "?".into());
        (name, uid.as_raw())
    };
    let err = |problem: String, fix: String| PrivilegeError::DataDir {
        path: path.to_path_buf(),
        problem,
        fix,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        let (name, uid) = who();
        err(
            format!("cannot be inspected by user {name} (uid {uid}): {e}"),
            "check that every folder on the path can be entered by the server's account".into(),
        )
    })?;
    if !meta.is_dir() {
        return Err(err(
            "is not a folder".into(),
            "point `data_dir` at a folder".into(),
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(err(
            format!("can be written by every user (mode {mode:04o}), so anyone could plant mail or replace the users file"),
            format!("run `chmod o-w {}` (0700 is recommended)", path.display()),
        ));
    }
    if rustix::fs::access(
        path,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_err()
    {
        let (name, uid) = who();
        let owner = User::from_uid(Uid::from_raw(meta.uid()))
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| meta.uid().to_string());
        return Err(err(
            format!("is owned by {owner} (mode {mode:04o}) and not writable by user {name} (uid {uid}), which the server runs as"),
            format!("run `chown -R {name}: {}` (the whole folder: users file, Maildirs, TLS files)", path.display()),
        ));
    }
    let mut warnings = Vec::new();
    if mode & 0o007 != 0 {
        warnings.push(format!(
            "the data folder {} can be read by other users (mode {mode:04o}); run `chmod o-rwx {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_ids_and_refuses_root() {
        let root = RunAs {
            user: "root".into(),
            group: None,
        };
        assert!(matches!(
            resolve(&root),
            Err(PrivilegeError::RootAccount(_))
        ));
        let zero = RunAs {
            user: "0".into(),
            group: None,
        };
        assert!(matches!(
            resolve(&zero),
            Err(PrivilegeError::RootAccount(_))
        ));
        let missing = RunAs {
            user: "no-such-user-buzon".into(),
            group: None,
        };
        let e = resolve(&missing)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("useradd --system"), "{e}");
        // "nobody" exists on every Debian system; its primary group is nogroup.
        if let Ok(Some(nobody)) = User::from_name("nobody") {
            let a = resolve(&RunAs {
                user: "nobody".into(),
                group: None,
            })
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((a.uid, a.gid), (nobody.uid.as_raw(), nobody.gid.as_raw()));
            let by_id = resolve(&RunAs {
                user: nobody.uid.to_string(),
                group: None,
            })
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(by_id, a);
            let e = resolve(&RunAs {
                user: "nobody".into(),
                group: Some("no-such-group-buzon".into()),
            })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(e.contains("groupadd"), "{e}");
            let e = resolve(&RunAs {
                user: "nobody".into(),
                group: Some("root".into()),
            })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(e.contains("gid 0"), "{e}");
        }
    }

    #[test]
    fn data_dir_checks() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = t.path().join("data");
        create_data_dir(&d, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::metadata(&d)
                .map(|m| m.permissions().mode() & 0o777)
                .ok(),
            Some(0o700)
        );
        assert_eq!(check_data_dir(&d).ok().map(|w| w.len()), Some(0));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let w = check_data_dir(&d).unwrap_or_else(|e| panic!("{e}"));
        assert!(w.len() == 1 && w[0].contains("chmod o-rwx"), "{w:?}");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        let e = check_data_dir(&d)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("every user") && e.contains("chmod o-w"), "{e}");
        let f = t.path().join("file");
        std::fs::write(&f, b"").unwrap_or_else(|e| panic!("{e}"));
        assert!(check_data_dir(&f).is_err());
    }

    #[test]
    fn the_test_process_is_not_switched_without_root() {
        if is_root() {
            return;
        }
        let me = Account {
            user: "someone".into(),
            uid: 65534,
            group: "nogroup".into(),
            gid: 65534,
        };
        let e = drop_to(&me)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not root"), "{e}");
    }
}
