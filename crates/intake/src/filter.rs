//! Per-user Sieve filtering (RFC 5228) at delivery time.
//!
//! A user's script is `<sieve_dir>/<user>.sieve` (the user name in lower case). It is
//! compiled on first use and kept until the file's modification time or size changes. A
//! script that does not compile, or fails while running, never loses mail: the message
//! goes to INBOX and the reason is logged (RFC 5228 §2.10.6).
//!
//! Folder names from `fileinto` map to Maildir++ folders: `INBOX` is the main mailbox,
//! an `INBOX.` or `INBOX/` prefix is dropped, `/` separates levels like `.` does. A name
//! the store refuses keeps the message in INBOX (logged).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use buzon_sieve::{Action, Header, Script};

/// Scripts larger than this are refused (the Sieve crate's own limit).
const MAX_SCRIPT: u64 = buzon_sieve::MAX_SCRIPT_BYTES as u64;

/// Where one user's copy of a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Store in these folders (`None` is INBOX); never empty.
    Deliver(Vec<Option<String>>),
    /// Store nowhere (Sieve `discard`).
    Discard,
    /// Refuse with this reason (Sieve `reject` / `ereject`, RFC 5429).
    Reject(String),
}

struct Cached {
    stamp: (Option<SystemTime>, u64),
    script: Result<Arc<Script>, String>,
}

/// The compiled scripts of all users, reloaded when their files change.
pub struct Filters {
    dir: PathBuf,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Filters {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The script file of `user`.
    pub fn script_path(&self, user: &str) -> PathBuf {
        self.dir
            .join(format!("{}.sieve", buzon_auth::mailbox_dir_name(user)))
    }

    /// The compiled script of `user`: `None` without a script file, `Some(Err)` when it
    /// cannot be read or compiled.
    fn script(&self, user: &str) -> Option<Result<Arc<Script>, String>> {
        let path = self.script_path(user);
        let key = buzon_auth::mailbox_dir_name(user);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.lock().remove(&key);
                return None;
            }
            Err(e) => return Some(Err(format!("cannot read {}: {e}", path.display()))),
        };
        let stamp = (meta.modified().ok(), meta.len());
        if let Some(c) = self.lock().get(&key) {
            if c.stamp == stamp {
                return Some(c.script.clone());
            }
        }
        let script = if meta.len() > MAX_SCRIPT {
            Err(format!(
                "{} is {} bytes; the limit is {MAX_SCRIPT}",
                path.display(),
                meta.len()
            ))
        } else {
            match std::fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => buzon_sieve::compile(&text).map(Arc::new).map_err(|e| {
                        format!("{}:{}:{}: {}", path.display(), e.line, e.column, e.message)
                    }),
                    Err(_) => Err(format!(
                        "{} is not UTF-8 text (RFC 5228 §2.2)",
                        path.display()
                    )),
                },
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        };
        match &script {
            Ok(_) => tracing::info!(user, script = %path.display(), "compiled Sieve script"),
            Err(e) => tracing::error!(
                user,
                "Sieve script does not compile, mail goes to INBOX until it is fixed: {e}"
            ),
        }
        self.lock().insert(
            key,
            Cached {
                stamp,
                script: script.clone(),
            },
        );
        Some(script)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // The cache holds no invariant a panic could break; recover it.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `user`'s script on a message; without a script the message goes to INBOX.
    /// `from` is the reverse-path, `to` the recipient address as given in RCPT TO.
    pub fn decide(
        &self,
        user: &str,
        from: &str,
        to: &str,
        headers: &[Header],
        size: u64,
    ) -> Decision {
        let script = match self.script(user) {
            None => return Decision::Deliver(vec![None]),
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                tracing::warn!(user, "Sieve script unusable, delivering to INBOX: {e}");
                return Decision::Deliver(vec![None]);
            }
        };
        let outcome = script.evaluate(
            &buzon_sieve::Envelope { from, to },
            &buzon_sieve::Message { headers, size },
        );
        if !outcome.errors.is_empty() {
            tracing::warn!(user, errors = ?outcome.errors, "Sieve script failed while running; delivering to INBOX");
            return Decision::Deliver(vec![None]);
        }
        let mut folders: Vec<Option<String>> = Vec::new();
        for action in outcome.actions {
            match action {
                Action::Keep => push_unique(&mut folders, None),
                Action::FileInto { folder } => push_unique(&mut folders, map_folder(user, &folder)),
                Action::Discard => return Decision::Discard,
                Action::Reject { reason } | Action::Ereject { reason } => {
                    return Decision::Reject(reason)
                }
            }
        }
        if folders.is_empty() {
            folders.push(None);
        }
        Decision::Deliver(folders)
    }
}

fn push_unique(v: &mut Vec<Option<String>>, f: Option<String>) {
    if !v.contains(&f) {
        v.push(f);
    }
}

/// A Sieve folder name as a Maildir++ folder (`None`: INBOX).
pub fn map_folder(user: &str, name: &str) -> Option<String> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("INBOX") {
        return None;
    }
    let rest = match trimmed.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("INBOX.") || p.eq_ignore_ascii_case("INBOX/") => {
            &trimmed[6..]
        }
        _ => trimmed,
    };
    let folder = rest.replace('/', ".");
    match buzon_store::name::validate_folder_name(&folder) {
        Ok(()) => Some(folder),
        Err(e) => {
            tracing::warn!(user, folder = %name, "fileinto refused, keeping in INBOX: {e}");
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert_eq!(map_folder("u", "INBOX"), None);
        assert_eq!(map_folder("u", "inbox"), None);
        assert_eq!(map_folder("u", "Junk"), Some("Junk".into()));
        assert_eq!(
            map_folder("u", "INBOX.Lists.rust"),
            Some("Lists.rust".into())
        );
        assert_eq!(map_folder("u", "INBOX/Work"), Some("Work".into()));
        assert_eq!(
            map_folder("u", "Work/Projects"),
            Some("Work.Projects".into())
        );
        assert_eq!(map_folder("u", "../etc"), None);
        assert_eq!(map_folder("u", ""), None);
    }

    #[test]
    fn scripts_are_cached_until_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let f = Filters::new(dir.path());
        let h = buzon_sieve::parse_headers(b"Subject: hello\n\n");
        assert_eq!(
            f.decide("Alice", "a@x", "alice@y", &h, 10),
            Decision::Deliver(vec![None])
        );
        std::fs::write(
            dir.path().join("alice.sieve"),
            "require \"fileinto\"; fileinto \"Junk\";",
        )
        .unwrap();
        assert_eq!(
            f.decide("Alice", "a@x", "alice@y", &h, 10),
            Decision::Deliver(vec![Some("Junk".into())])
        );
        // A broken script: INBOX.
        std::fs::write(dir.path().join("alice.sieve"), "if header :bogus \"x\" {").unwrap();
        assert_eq!(
            f.decide("Alice", "a@x", "alice@y", &h, 10),
            Decision::Deliver(vec![None])
        );
        std::fs::write(
            dir.path().join("alice.sieve"),
            "require \"reject\"; reject \"no thanks\";",
        )
        .unwrap();
        assert_eq!(
            f.decide("alice", "a@x", "alice@y", &h, 10),
            Decision::Reject("no thanks".into())
        );
        std::fs::write(dir.path().join("alice.sieve"), "discard;").unwrap();
        assert_eq!(
            f.decide("alice", "a@x", "alice@y", &h, 10),
            Decision::Discard
        );
        std::fs::remove_file(dir.path().join("alice.sieve")).unwrap();
        assert_eq!(
            f.decide("alice", "a@x", "alice@y", &h, 10),
            Decision::Deliver(vec![None])
        );
    }
}
