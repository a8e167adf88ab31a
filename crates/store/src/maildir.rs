//! The Maildir itself: layout, durable delivery, Maildir++ folders, scanning for sizes.
//!
//! Delivery follows the Maildir protocol (write under `tmp/`, fsync, rename into `new/`,
//! fsync `new/`), so readers never see a partial message and a crash loses at most a
//! delivery that was never acknowledged. Scanning reads directories, not messages: a
//! name carrying `,W=<n>` gives the RFC 1939 size directly, and only files without it are
//! read, once, with their size cached in the index (see `index`). Entries that are hidden
//! (`.`-prefixed), symbolic links, directories or other non-regular files are skipped with
//! a warning, never followed.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::adopt::{Adoption, UidlSource};
use crate::listing_cache::{self, DirStamp, Known};
use crate::lock::MailboxLock;
use crate::name::{before_info, escape_host, validate_folder_name};
use crate::scan::{self, list_messages, Found, Scanned};
use crate::session::{Part, Session};
use crate::StoreError;

/// Chunk size for streaming message bytes; memory use never grows with message size.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Marker file Maildir++ places in every sub-folder.
const FOLDER_MARKER: &str = "maildirfolder";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Process-wide counter making delivery and temporary names unique within this process.
pub(crate) fn next_counter() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A Maildir on disk: `<root>/cur`, `<root>/new`, `<root>/tmp`, with optional Maildir++
/// sub-folders `<root>/.Name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildir {
    root: PathBuf,
}

/// The result of a successful [`Maildir::deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// File name under `new/`: `<base>,S=<file bytes>,W=<wire size>`.
    pub file_name: String,
    /// The RFC 1939 §7 unique-id the message will be listed under.
    pub uidl: String,
    /// The RFC 1939 "exact size" (CRLF line ends, last line terminated).
    pub size: u64,
}

/// Space used by a Maildir (messages in `cur/` and `new/`), for quota checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Sum of the messages' wire sizes.
    pub bytes: u64,
    pub messages: u64,
}

impl Maildir {
    /// Opens an existing Maildir. [`StoreError::NotFound`] if the root or one of `cur/`,
    /// `new/`, `tmp/` is missing ([`Maildir::create`] repairs that), [`StoreError::Invalid`]
    /// if one of them is not a directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Maildir, StoreError> {
        let root = root.into();
        for dir in [
            root.clone(),
            root.join("cur"),
            root.join("new"),
            root.join("tmp"),
        ] {
            match fs::metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(StoreError::Invalid(format!(
                        "{} is not a directory, so {} is not a Maildir",
                        dir.display(),
                        root.display()
                    )))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
                Err(e) => return Err(StoreError::io("inspect", dir, e)),
            }
        }
        Ok(Maildir { root })
    }

    /// Creates the root and `cur/`, `new/`, `tmp/` (mode 0700) where missing, fsyncing each
    /// parent directory so the new entries survive a crash. An existing Maildir is fine.
    pub fn create(root: impl Into<PathBuf>) -> Result<Maildir, StoreError> {
        let root = root.into();
        ensure_dir(&root)?;
        for sub in ["cur", "new", "tmp"] {
            ensure_dir(&root.join(sub))?;
        }
        Maildir::open(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn folder_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        validate_folder_name(name)?;
        let mut dir = OsString::from(".");
        dir.push(name);
        Ok(self.root.join(dir))
    }

    /// Opens the Maildir++ folder `name` (directory `.name` under this root; nested levels
    /// separated by '.', e.g. `Work.Projects`). Call it on the top-level Maildir.
    pub fn folder(&self, name: &str) -> Result<Maildir, StoreError> {
        Maildir::open(self.folder_path(name)?)
    }

    /// Creates the Maildir++ folder `name` if missing, with its `maildirfolder` marker.
    pub fn create_folder(&self, name: &str) -> Result<Maildir, StoreError> {
        let path = self.folder_path(name)?;
        let md = Maildir::create(&path)?;
        let marker = path.join(FOLDER_MARKER);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&marker)
        {
            Ok(_) => fsync_dir(&path)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io("create", marker, e)),
        }
        Ok(md)
    }

    /// Names of the Maildir++ folders under this root (without the leading '.'), sorted.
    /// Entries with invalid or non-UTF-8 names, symbolic links and directories lacking
    /// `cur/` are left out.
    pub fn list_folders(&self) -> Result<Vec<String>, StoreError> {
        let rd = fs::read_dir(&self.root).map_err(|e| StoreError::io("list", &self.root, e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io("list", &self.root, e))?;
            let raw = entry.file_name();
            let Some(rest) = raw.as_bytes().strip_prefix(b".") else {
                continue;
            };
            let Ok(name) = std::str::from_utf8(rest) else {
                tracing::warn!(path = %entry.path().display(), "skipping folder with a non-UTF-8 name");
                continue;
            };
            if name.is_empty() || name == "." || validate_folder_name(name).is_err() {
                continue;
            }
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if fs::metadata(entry.path().join("cur")).is_ok_and(|m| m.is_dir()) {
                out.push(name.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Delivers one message durably: streams `reader` into a uniquely named file in `tmp/`
    /// (bounded memory), fsyncs it, renames it into `new/` as
    /// `<secs>.M<usecs>P<pid>Q<counter>R<8 random hex>.<host>,S=<file bytes>,W=<wire size>`
    /// and fsyncs `new/`. Only then does it return `Ok`. On any error the temporary file is
    /// removed and nothing appears in `new/` or `cur/`. With `max_bytes`, a stream longer
    /// than that many bytes fails with [`StoreError::TooBig`]. Takes no lock.
    pub fn deliver(
        &self,
        reader: &mut dyn Read,
        max_bytes: Option<u64>,
    ) -> Result<Delivered, StoreError> {
        self.deliver_inner(reader, max_bytes, None)
    }

    /// Like [`Maildir::deliver`], with `,T=<tag>` appended to the file name's attributes,
    /// so the delivering program can later find the message again by a key of its own
    /// (the retrieval client derives it from account and server UIDL, which lets it notice
    /// a message that was stored but not yet recorded when it was interrupted). The tag is
    /// 1–64 ASCII letters and digits; it sits before the `:2,` info, so flag changes by
    /// mail readers keep it, and after the base, so the UIDL does not depend on it.
    pub fn deliver_tagged(
        &self,
        reader: &mut dyn Read,
        max_bytes: Option<u64>,
        tag: &str,
    ) -> Result<Delivered, StoreError> {
        if tag.is_empty() || tag.len() > 64 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::Invalid(format!(
                "delivery tag {tag:?} must be 1 to 64 ASCII letters and digits"
            )));
        }
        self.deliver_inner(reader, max_bytes, Some(tag))
    }

    /// The delivery tags (see [`Maildir::deliver_tagged`]) of the messages in `new/` and
    /// `cur/`, with each message's path. Reads directories only.
    pub fn tagged(&self) -> Result<std::collections::HashMap<String, PathBuf>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for sub in ["new", "cur"] {
            for f in list_messages(&self.root.join(sub))? {
                let tag = before_info(f.name.as_bytes())
                    .split(|&b| b == b',')
                    .skip(1)
                    .find_map(|attr| attr.strip_prefix(b"T="))
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .map(str::to_owned);
                if let Some(tag) = tag {
                    out.insert(tag, f.path());
                }
            }
        }
        Ok(out)
    }

    /// One-step delivery is the two steps back to back: write and fsync under `tmp/`,
    /// then move into `new/` and fsync it.
    fn deliver_inner(
        &self,
        reader: &mut dyn Read,
        max_bytes: Option<u64>,
        tag: Option<&str>,
    ) -> Result<Delivered, StoreError> {
        let mut prepared = self.prepare(reader, max_bytes)?;
        if let Some(tag) = tag {
            prepared.add_tag(tag);
        }
        prepared.commit()
    }

    /// RFC 1939 §8: takes the exclusive-access lock, moves every message from `new/` to
    /// `cur/` (adding the `:2,` info), and returns a snapshot of `cur/` with sizes and
    /// UIDLs. Fails with [`StoreError::InUse`] if another session holds the lock.
    /// Deliveries after this call are not part of the snapshot.
    ///
    /// A large mailbox whose `cur/` has not changed since this process last listed it is
    /// not scanned again (see `listing_cache`).
    pub fn open_session(&self) -> Result<Session, StoreError> {
        self.open_session_with(&UidlSource::Buzon)
    }

    /// [`Maildir::open_session`] serving the UIDLs `source` gives (see `adopt`): those
    /// first served are recorded in the Maildir before the session is returned.
    pub fn open_session_with(&self, source: &UidlSource) -> Result<Session, StoreError> {
        let lock = MailboxLock::acquire(&self.root)?;
        let leftovers = self.move_new_to_cur()?;
        let cur = self.root.join("cur");
        // Messages that had to stay in new/ are listed from there: no reuse then.
        let stamp = if leftovers.is_empty() {
            DirStamp::of(&cur).map(|s| (s, s.settled()))
        } else {
            None
        };
        let known = listing_cache::take(&self.root);
        let known = match (known, stamp) {
            (Some(k), Some((s, _))) if k.settled && k.stamp == s => {
                let listing = k.listing.clone();
                listing_cache::put(&self.root, k);
                return Ok(Session::from_listing(vec![lock], listing));
            }
            (k, _) => k,
        };
        let mut found =
            scan::list_messages_about(&cur, known.as_ref().map_or(0, |k| k.messages() + 64))?;
        let nothing_to_adopt = Adoption::nothing_to_adopt(&self.root, source)?;
        let known = match (known, stamp) {
            (Some(k), Some((s, settled))) if nothing_to_adopt => {
                match k.advance(&self.root, &found, s, settled) {
                    Ok(next) => {
                        let listing = next.listing.clone();
                        listing_cache::put(&self.root, next);
                        return Ok(Session::from_listing(vec![lock], listing));
                    }
                    // The difference does not apply: the full rules, with every size
                    // this process knows.
                    Err(k) => Some(*k),
                }
            }
            (k, _) => k,
        };
        found.extend(leftovers);
        let (messages, _) = scan::size_all(&self.root, found, known.as_ref(), true);
        drop(known);
        let messages = scan::sorted(messages);
        let adoption = Adoption::prepare(&self.root, source, &messages)?;
        let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
        let session = Session::new(
            vec![lock],
            vec![Part {
                folder: None,
                messages,
                given: adoption
                    .as_ref()
                    .map(|a| a.fixed.clone())
                    .unwrap_or_default(),
            }],
        );
        if let Some(a) = &adoption {
            a.record(session.messages())?;
        }
        if let Some((s, settled)) = stamp {
            let listing = session.listing().clone();
            let known = Known::new(s, settled, listing, ids.into(), adoption.is_some());
            listing_cache::put(&self.root, known);
        }
        Ok(session)
    }

    /// Like [`Maildir::open_session`] over `inbox` and then each folder in the given order,
    /// merged into one POP3 mailbox. Locks every Maildir (all or none). UIDLs stay unique
    /// across the merge (see the `name` module documentation).
    pub fn open_merged_session(
        inbox: &Maildir,
        folders: &[(String, Maildir)],
    ) -> Result<Session, StoreError> {
        Maildir::open_merged_session_with(inbox, folders, &UidlSource::Buzon)
    }

    /// [`Maildir::open_merged_session`] serving the UIDLs `source` gives, each Maildir
    /// with its own record (see `adopt`).
    pub fn open_merged_session_with(
        inbox: &Maildir,
        folders: &[(String, Maildir)],
        source: &UidlSource,
    ) -> Result<Session, StoreError> {
        let mut locks = Vec::with_capacity(folders.len() + 1);
        locks.push(MailboxLock::acquire(&inbox.root)?);
        for (_, md) in folders {
            locks.push(MailboxLock::acquire(&md.root)?);
        }
        let mut parts = Vec::with_capacity(folders.len() + 1);
        let mut adoptions = Vec::with_capacity(folders.len() + 1);
        let all = std::iter::once((None, inbox)).chain(folders.iter().map(|(n, md)| (Some(n), md)));
        for (name, md) in all {
            let messages = md.snapshot()?;
            let adoption = Adoption::prepare(&md.root, source, &messages)?;
            adoptions.push((messages.len(), adoption));
            parts.push(Part {
                folder: name.cloned(),
                given: adoptions
                    .last()
                    .and_then(|(_, a)| a.as_ref())
                    .map(|a| a.fixed.clone())
                    .unwrap_or_default(),
                messages,
            });
        }
        let session = Session::new(locks, parts);
        // Each Maildir records its own part of the merged listing.
        let mut start = 0;
        for (len, adoption) in &adoptions {
            if let Some(a) = adoption {
                a.record(&session.messages()[start..start + len])?;
            }
            start += len;
        }
        Ok(session)
    }

    /// Total wire size and count of the messages in `cur/` and `new/`, for quotas. Reads
    /// no message whose size is in its name or in the index. Takes no lock; a message
    /// moving from `new/` to `cur/` during the scan is counted once.
    pub fn usage(&self) -> Result<Usage, StoreError> {
        let new = list_messages(&self.root.join("new"))?;
        let new_names: HashSet<Vec<u8>> = new
            .iter()
            .map(|f| before_info(f.name.as_bytes()).to_vec())
            .collect();
        let mut found = list_messages(&self.root.join("cur"))?;
        found.retain(|f| !new_names.contains(before_info(f.name.as_bytes())));
        found.extend(new);
        let known = listing_cache::peek(&self.root);
        let (scanned, _) = scan::size_all(&self.root, found, known.as_deref(), true);
        Ok(Usage {
            bytes: scanned.iter().map(|s| s.size).sum(),
            messages: scanned.len() as u64,
        })
    }

    /// Usage of the whole mailbox this Maildir is the INBOX of: INBOX and every Maildir++
    /// folder together, for quotas. Cached per process while the directories are
    /// unchanged (see `usage_cache`), so repeated checks cost a few `stat` calls.
    pub fn mailbox_usage(&self) -> Result<Usage, StoreError> {
        crate::usage_cache::mailbox_usage(self)
    }

    /// Removes regular files in `tmp/` not modified for `older_than` (Maildir suggests 36
    /// hours): leftovers of deliveries interrupted by a crash. Returns how many went.
    pub fn clean_tmp(&self, older_than: Duration) -> Result<usize, StoreError> {
        let tmp = self.root.join("tmp");
        let now = SystemTime::now();
        let mut removed = 0;
        for f in list_messages(&tmp)? {
            let path = f.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= older_than);
            if old && meta.is_file() {
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("remove", path, e)),
                }
            }
        }
        Ok(removed)
    }

    /// Moves `new/` into `cur/`, then lists `cur/` with sizes, sorted by delivery time.
    fn snapshot(&self) -> Result<Vec<Scanned>, StoreError> {
        let leftovers = self.move_new_to_cur()?;
        self.scan(leftovers)
    }

    /// Lists `cur/` (plus `leftovers` still in `new/`) with sizes, sorted by delivery time.
    fn scan(&self, leftovers: Vec<Found>) -> Result<Vec<Scanned>, StoreError> {
        let mut found = list_messages(&self.root.join("cur"))?;
        found.extend(leftovers);
        let known = listing_cache::peek(&self.root);
        let (scanned, _) = scan::size_all(&self.root, found, known.as_deref(), true);
        Ok(scan::sorted(scanned))
    }

    /// Returns the messages that had to stay in `new/`. The moves are not fsynced: after a
    /// crash a message may be back in `new/`, which changes neither its size nor its UIDL.
    fn move_new_to_cur(&self) -> Result<Vec<Found>, StoreError> {
        let cur = self.root.join("cur");
        let mut leftovers = Vec::new();
        for f in list_messages(&self.root.join("new"))? {
            let mut target = f.name.clone();
            if !f.name.as_bytes().contains(&b':') {
                target.push(":2,");
            }
            let to = cur.join(&target);
            match rename_noreplace(&f.path(), &to) {
                Ok(()) => {}
                // Moved by someone else meanwhile; the listing of cur/ will find it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(from = %f.path().display(), to = %to.display(), error = %e,
                        "cannot move message to cur/; listing it from new/");
                    leftovers.push(f);
                }
            }
        }
        Ok(leftovers)
    }
}

/// Removes the temporary file on drop unless disarmed (delivery succeeded).
pub(crate) struct TmpGuard {
    pub(crate) path: PathBuf,
    armed: bool,
}

impl TmpGuard {
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove temporary file");
                }
            }
        }
    }
}

pub(crate) fn create_tmp(tmp_dir: &Path) -> Result<(String, File, TmpGuard), StoreError> {
    let mut attempts = 0;
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let unique = format!(
            "{}.M{}P{}Q{}R{:08x}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            next_counter(),
            random_u32(),
            host()
        );
        let path = tmp_dir.join(&unique);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => {
                let guard = TmpGuard { path, armed: true };
                return Ok((unique, file, guard));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
            Err(e) => return Err(StoreError::io("create", path, e)),
        }
    }
}

fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let uname = rustix::system::uname();
        escape_host(&String::from_utf8_lossy(uname.nodename().to_bytes()))
    })
}

fn random_u32() -> u32 {
    let mut buf = [0u8; 4];
    if let Ok(mut f) = File::open("/dev/urandom") {
        if f.read_exact(&mut buf).is_ok() {
            return u32::from_ne_bytes(buf);
        }
    }
    // RandomState is seeded from the OS; hashing the counter keeps values distinct.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(next_counter());
    h.finish() as u32
}

/// Renames without ever replacing an existing file where the filesystem supports it.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // Filesystems without RENAME_NOREPLACE: names are unique, plain rename is fine.
        Err(Errno::INVAL) | Err(Errno::NOSYS) => fs::rename(from, to),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}

/// Creates `dir` and missing ancestors (mode 0700), fsyncing each parent after creating
/// an entry in it.
fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(StoreError::Invalid(format!(
                "{} exists but is not a directory",
                dir.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io("inspect", dir, e)),
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    ensure_dir(parent)?;
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => fsync_dir(parent),
        // Created concurrently by someone else.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(StoreError::io("create directory", dir, e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::name::{base_of, delivery_time, wire_size_attr};
    use std::sync::Arc;

    #[test]
    fn delivery_name_has_the_documented_shape() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(dir.path().join("m")).unwrap();
        let d = md.deliver(&mut &b"a\nb"[..], None).unwrap();
        let n = d.file_name.as_bytes();
        assert_eq!(wire_size_attr(n), Some(6));
        assert!(d.file_name.contains(",S=3,W=6"), "{}", d.file_name);
        let (secs, _) = delivery_time(n);
        assert!(secs > 1_600_000_000 && secs != u64::MAX);
        let base = std::str::from_utf8(base_of(n)).unwrap();
        let re_ok =
            base.contains(".M") && base.contains('P') && base.contains('Q') && base.contains('R');
        assert!(re_ok, "{base}");
        assert!(!base.contains(':') && !base.contains('/'));
    }

    #[test]
    fn a_settled_large_mailbox_is_listed_once_and_any_change_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(dir.path().join("m")).unwrap();
        let n = listing_cache::MIN_MESSAGES + 3;
        for i in 0..n {
            let name = format!("{}.M1P1Q{i}.host,S=3,W=4:2,S", 1_700_000_000 + i);
            fs::write(md.root().join("cur").join(name), b"a\nb").unwrap();
        }
        // Fresh changes are never cached: the coarse directory clock could hide the next.
        let first = md.open_session().unwrap();
        let again = {
            drop(first);
            md.open_session().unwrap()
        };
        assert_eq!(again.messages().len(), n);
        drop(again);
        std::thread::sleep(Duration::from_millis(3100));
        let a = md.open_session().unwrap();
        let listing = Arc::clone(&a.listing().metas);
        drop(a);
        let b = md.open_session().unwrap();
        assert!(
            Arc::ptr_eq(&listing, &b.listing().metas),
            "an unchanged, settled cur/ is not scanned again"
        );
        drop(b);
        // New mail moves into cur/, which changes it: the listing is taken afresh.
        md.deliver(&mut &b"new\n"[..], None).unwrap();
        let c = md.open_session().unwrap();
        assert_eq!(c.messages().len(), n + 1);
        assert!(!Arc::ptr_eq(&listing, &c.listing().metas));
        // A deletion is seen too.
        c.expunge(&[0]).unwrap();
        drop(c);
        let d = md.open_session().unwrap();
        assert_eq!(d.messages().len(), n);
    }

    #[test]
    fn nested_roots_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(dir.path().join("a/b/c")).unwrap();
        assert!(md.root().join("tmp").is_dir());
        // Idempotent.
        Maildir::create(md.root()).unwrap();
    }
}
