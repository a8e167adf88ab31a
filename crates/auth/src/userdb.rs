//! The user database: a Dovecot passwd-file loaded into memory.
//!
//! Format, one user per line: `user:password:uid:gid:gecos:home:shell:extra_fields`.
//! Only the first two fields are required. Lines starting with `#` and blank
//! lines are comments. `extra_fields` is everything after the seventh `:` (it
//! may itself contain `:`), split on whitespace into `key=value` pairs.
//! uid, gid, gecos and shell are accepted and ignored.
//!
//! Loading never verifies passwords and never logs them.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::AuthError;
use crate::scheme::{self, Scheme};
use crate::username::validate_username;

/// One user of the passwd-file.
#[derive(Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// The user name exactly as written in the file.
    pub name: String,
    /// The stored password, normally `{SCHEME}hash`.
    pub password: String,
    /// `key=value` pairs from the extra fields, in file order (`key` alone gives
    /// an empty value), e.g. `("userdb_quota_rule", "*:storage=1G")`.
    pub extra: Vec<(String, String)>,
    /// The home field, if not empty.
    pub home: Option<String>,
}

/// Extra fields as the users file writes them: `key=value` (or `key` alone for an empty
/// value), separated by spaces.
pub fn format_extra_fields(extra: &[(String, String)]) -> String {
    extra
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl UserEntry {
    /// The value of the first extra field named `key`.
    pub fn extra_field(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for UserEntry {
    /// Shows the scheme but never the password or hash text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = match self
            .password
            .strip_prefix('{')
            .and_then(|r| r.split_once('}'))
        {
            Some((scheme, _)) => format!("{{{scheme}}}***"),
            None => "***".to_string(),
        };
        f.debug_struct("UserEntry")
            .field("name", &self.name)
            .field("password", &password)
            .field("extra", &self.extra)
            .field("home", &self.home)
            .finish()
    }
}

/// What identifies one version of a file on disk: device, inode, size, modification
/// and status-change times (nanoseconds).
///
/// The status-change time (ctime) is what a restore cannot fake: `touch -r`,
/// `cp -p`, `rsync -t` or `tar` can put back an old mtime, but every write, rename or
/// mtime change sets the ctime to now, and only the kernel sets it. A file replaced by
/// rename also has a new inode. Comparing stamps costs one `stat`, not a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The stamp of `meta`.
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// How long ago the file's status last changed (its ctime), by the system clock;
    /// zero for a ctime in the future.
    pub fn changed_ago(&self) -> std::time::Duration {
        let (secs, nanos) = self.ctime;
        let ctime = u64::try_from(secs).ok().and_then(|s| {
            SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::new(
                s,
                u32::try_from(nanos).unwrap_or(0),
            ))
        });
        ctime
            .and_then(|c| SystemTime::now().duration_since(c).ok())
            .unwrap_or_default()
    }

    /// The stamp of the file at `path` (following symbolic links, as loading does);
    /// `Ok(None)` when there is no file.
    pub fn of_path(path: &Path) -> io::Result<Option<FileStamp>> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(Some(FileStamp::of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A loaded passwd-file.
///
/// Names are unique ignoring ASCII case, because [`crate::mailbox_dir_name`]
/// maps `Alice` and `alice` to the same mailbox; a file holding both is
/// rejected at load.
#[derive(Debug, Clone)]
pub struct UserDb {
    path: PathBuf,
    entries: Vec<UserEntry>,
    /// Lowercased name → index into `entries`.
    index: HashMap<String, usize>,
    modified: Option<SystemTime>,
    stamp: Option<FileStamp>,
    any_plaintext: bool,
    any_scram: bool,
}

impl UserDb {
    /// Loads the passwd-file at `path`. A missing file is an empty database
    /// (so a fresh install starts without users); any other read error, and
    /// any malformed line, is an error naming the line.
    pub fn load(path: &Path) -> Result<UserDb, AuthError> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return UserDb::from_bytes(path, b"", None)
            }
            Err(e) => return Err(AuthError::io("open", path, e)),
        };
        // Stamp before content: a change racing the read makes the server reload
        // once more, never miss it.
        let meta = file
            .metadata()
            .map_err(|e| AuthError::io("read the attributes of", path, e))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| AuthError::io("read", path, e))?;
        let mut db = UserDb::from_bytes(path, &data, meta.modified().ok())?;
        db.stamp = Some(FileStamp::of(&meta));
        Ok(db)
    }

    /// Parses passwd-file content; `path` is only used in messages and
    /// returned by [`UserDb::path`].
    pub fn from_bytes(
        path: &Path,
        data: &[u8],
        modified: Option<SystemTime>,
    ) -> Result<UserDb, AuthError> {
        let parsed = parse(path, data)?;
        Ok(UserDb::from_parsed(path, parsed, modified))
    }

    /// A user database from entries kept elsewhere (the PostgreSQL store); `source`
    /// names them in messages (the database URL) and is what [`UserDb::path`] returns.
    /// Names must be unique ignoring ASCII case, as in a file; "line" in an error is
    /// the entry's position, from 1.
    pub fn from_entries(source: &Path, entries: Vec<UserEntry>) -> Result<UserDb, AuthError> {
        let mut parsed = Parsed {
            entries: Vec::with_capacity(entries.len()),
            lines: Vec::with_capacity(entries.len()),
            index: HashMap::with_capacity(entries.len()),
        };
        for (i, entry) in entries.into_iter().enumerate() {
            let key = entry.name.to_ascii_lowercase();
            if parsed.index.contains_key(&key) {
                return Err(AuthError::Parse {
                    path: source.to_path_buf(),
                    line: i + 1,
                    message: format!(
                        "user {:?} is defined twice (names are compared ignoring case)",
                        entry.name
                    ),
                });
            }
            parsed.index.insert(key, parsed.entries.len());
            parsed.entries.push(entry);
            parsed.lines.push(i + 1);
        }
        Ok(UserDb::from_parsed(source, parsed, None))
    }

    fn from_parsed(path: &Path, parsed: Parsed, modified: Option<SystemTime>) -> UserDb {
        let mut any_plaintext = false;
        let mut any_scram = false;
        for (entry, line) in parsed.entries.iter().zip(&parsed.lines) {
            match scheme::check_stored(&entry.password) {
                Ok(()) => {}
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    line,
                    user = %entry.name,
                    "this user cannot log in: {e}"
                ),
            }
            any_plaintext |= matches!(
                scheme::parse_stored(&entry.password),
                Ok((Scheme::Plain, _))
            );
            any_scram |= matches!(
                scheme::parse_stored(&entry.password),
                Ok((Scheme::ScramSha256, _))
            );
        }
        UserDb {
            path: path.to_path_buf(),
            entries: parsed.entries,
            index: parsed.index,
            modified,
            stamp: None,
            any_plaintext,
            any_scram,
        }
    }

    /// Finds a user: the exact name first, then a match ignoring ASCII case
    /// (clients often send `Alice` for `alice`, as Dovecot's `%Lu` username
    /// format allows). Since names are unique ignoring case, at most one entry
    /// can match either way.
    pub fn lookup(&self, user: &str) -> Option<&UserEntry> {
        let i = *self.index.get(&user.to_ascii_lowercase())?;
        self.entries.get(i)
    }

    /// All users in file order.
    pub fn users(&self) -> impl Iterator<Item = &UserEntry> {
        self.entries.iter()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no users.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when some user has a `{PLAIN}`/`{CLEARTEXT}` password, the only
    /// kind APOP (RFC 1939 §7) can use.
    pub fn any_plaintext(&self) -> bool {
        self.any_plaintext
    }

    /// True when some user has a `{SCRAM-SHA-256}` password, so SCRAM-SHA-256 logins
    /// can succeed for someone.
    pub fn any_scram(&self) -> bool {
        self.any_scram
    }

    /// The file this database was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's modification time at load; `None` when it did not exist.
    /// Informational: to decide whether to reload, compare [`UserDb::stamp`], which a
    /// restored mtime cannot fool.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }

    /// The stamp of the file this database was read from, taken before reading;
    /// `None` when there was no file (or the database was not loaded from one).
    pub fn stamp(&self) -> Option<FileStamp> {
        self.stamp
    }
}

pub(crate) struct Parsed {
    pub(crate) entries: Vec<UserEntry>,
    /// 1-based line number of each entry.
    pub(crate) lines: Vec<usize>,
    pub(crate) index: HashMap<String, usize>,
}

pub(crate) fn parse(path: &Path, data: &[u8]) -> Result<Parsed, AuthError> {
    let mut parsed = Parsed {
        entries: Vec::new(),
        lines: Vec::new(),
        index: HashMap::new(),
    };
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let err = |message: String| AuthError::Parse {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw)
            .map_err(|_| err("the line is not valid UTF-8 — save the file as UTF-8".into()))?;
        let Some(entry) = parse_line(line).map_err(err)? else {
            continue;
        };
        let key = entry.name.to_ascii_lowercase();
        if let Some(&first) = parsed.index.get(&key) {
            return Err(err(format!(
                "user {:?} is already defined on line {} (names are compared ignoring \
                 case because they share one mailbox) — remove one of the lines",
                entry.name, parsed.lines[first]
            )));
        }
        parsed.index.insert(key, parsed.entries.len());
        parsed.entries.push(entry);
        parsed.lines.push(line_no);
    }
    Ok(parsed)
}

/// Parses one line (without its terminator); `Ok(None)` for comments and blank lines.
fn parse_line(line: &str) -> Result<Option<UserEntry>, String> {
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.splitn(8, ':');
    let name = fields.next().unwrap_or_default();
    let Some(password) = fields.next() else {
        return Err("expected user:password — check the separator (a colon)".into());
    };
    validate_username(name).map_err(|e| format!("{e} — rename the user"))?;
    let _uid = fields.next();
    let _gid = fields.next();
    let _gecos = fields.next();
    let home = fields.next().filter(|h| !h.is_empty()).map(str::to_string);
    let _shell = fields.next();
    let extra = fields
        .next()
        .map(|x| {
            x.split_whitespace()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.to_string(), String::new()),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(UserEntry {
        name: name.to_string(),
        password: password.to_string(),
        extra,
        home,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(text: &str) -> Result<UserDb, AuthError> {
        UserDb::from_bytes(Path::new("/etc/buzon/users"), text.as_bytes(), None)
    }

    #[test]
    fn from_entries_looks_up_ignoring_case_and_refuses_twins() {
        let entry = |name: &str| UserEntry {
            name: name.to_string(),
            password: "{PLAIN}pw".to_string(),
            extra: vec![("userdb_quota_rule".into(), "*:storage=1M".into())],
            home: None,
        };
        let source = Path::new("postgresql://buzon@db/buzon");
        let db = UserDb::from_entries(source, vec![entry("alice"), entry("bob")]).unwrap();
        assert_eq!(db.len(), 2);
        assert_eq!(db.lookup("ALICE").unwrap().name, "alice");
        assert!(db.any_plaintext());
        assert_eq!(db.path(), source);
        let e = UserDb::from_entries(source, vec![entry("alice"), entry("Alice")]).unwrap_err();
        assert!(e.to_string().contains("defined twice"), "{e}");
    }

    #[test]
    fn parses_fields_comments_and_extra() {
        let text = "# users\n\
                    \n\
                    alice:{PLAIN}secret\n\
                    bob:{ARGON2ID}$argon2id$v=19$m=256,t=1,p=1$c29tZXNhbHQ$aGFzaA:1000:1000:Bob B:/home/bob:/bin/false:userdb_quota_rule=*:storage=1G nopassword allow_nets=10.0.0.0/8\r\n\
                    carol:{SHA512-CRYPT}$6$x$y::::::\n";
        let db = db(text).map_err(|e| e.to_string());
        let db = match db {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(db.len(), 3);
        let alice = db.lookup("alice");
        assert_eq!(alice.map(|u| u.password.as_str()), Some("{PLAIN}secret"));
        assert_eq!(alice.and_then(|u| u.home.clone()), None);
        let bob = db.lookup("bob");
        assert_eq!(bob.and_then(|u| u.home.as_deref()), Some("/home/bob"));
        assert_eq!(
            bob.map(|u| u.extra.clone()),
            Some(vec![
                ("userdb_quota_rule".to_string(), "*:storage=1G".to_string()),
                ("nopassword".to_string(), String::new()),
                ("allow_nets".to_string(), "10.0.0.0/8".to_string()),
            ])
        );
        assert_eq!(
            bob.and_then(|u| u.extra_field("allow_nets")),
            Some("10.0.0.0/8")
        );
        assert!(db.lookup("carol").is_some_and(|u| u.extra.is_empty()));
        assert!(db.any_plaintext());
        let names: Vec<_> = db.users().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
    }

    #[test]
    fn lookup_ignores_case() {
        let db = db("Alice:{PLAIN}x\nbob:{PLAIN}y\n");
        let db = db.ok();
        let name = |u: &str| {
            db.as_ref()
                .and_then(|d| d.lookup(u))
                .map(|e| e.name.clone())
        };
        assert_eq!(name("Alice").as_deref(), Some("Alice"));
        assert_eq!(name("alice").as_deref(), Some("Alice"));
        assert_eq!(name("BOB").as_deref(), Some("bob"));
        assert_eq!(name("carol"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "alice:{PLAIN}x\n# c\nbroken-line\n",
                3,
                "check the separator",
            ),
            ("a/b:{PLAIN}x\n", 1, "'/'"),
            (
                "alice:{PLAIN}x\n\nALICE:{PLAIN}y\n",
                3,
                "already defined on line 1",
            ),
            (":{PLAIN}x\n", 1, "empty"),
        ];
        for (text, line, fragment) in cases {
            match db(text) {
                Err(AuthError::Parse {
                    line: l,
                    ref message,
                    ..
                }) => {
                    assert_eq!(l, line, "{text:?}");
                    assert!(message.contains(fragment), "{text:?}: {message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let bad_utf8 = UserDb::from_bytes(Path::new("u"), b"ok:{PLAIN}x\n\xff:x\n", None);
        assert!(matches!(bad_utf8, Err(AuthError::Parse { line: 2, .. })));
        let msg = db("x").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            msg,
            "line 1 of /etc/buzon/users: expected user:password — check the separator (a colon)"
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let db = db("alice:{PLAIN}hunter2\nbob:hunter3\n").ok();
        let shown = format!("{db:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(shown.contains("{PLAIN}***"), "{shown}");
    }

    #[test]
    fn any_plaintext_false_for_hashes_only() {
        let db = db("a:{SHA512-CRYPT}$6$x$y\nb:{cleartext-not}x\n").ok();
        assert_eq!(db.map(|d| d.any_plaintext()), Some(false));
    }
}
