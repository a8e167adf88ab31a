//! The size index `<root>/buzon-index` for messages whose names carry no `,W=` size.
//!
//! Computing an RFC 1939 "exact size" means reading the whole message once; this file
//! remembers the answer so that a process that never saw the mailbox (after a restart,
//! another node) does not read it again. It is only a cache: a missing, unreadable,
//! corrupt, truncated or unknown-version index is ignored and rebuilt, and an entry is
//! trusted only while the file it describes still has the same inode, length and
//! modification time (one `stat` each, no read). Within a running process the listing
//! cache (`listing_cache`) goes further and trusts the sizes it already knows for as long
//! as a name keeps its inode. Format, one record per line after the header line
//! `buzon-index 2`:
//!
//! ```text
//! <base name, %XX-escaped><TAB><wire size><TAB><file length><TAB><mtime seconds><TAB><inode>
//! ```
//!
//! Bytes outside 0x21–0x7E and `%` itself are escaped in the base name, so any file name
//! (including non-UTF-8 ones) fits on one line. Version 1 files (the same without the
//! inode) are still read, their entries checked by length and time only, and rewritten as
//! version 2. The file is replaced atomically (write a unique temporary file, fsync,
//! rename). This module must never make a session fail: write errors are logged and
//! ignored.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::open::nofollow_nonblock;

pub(crate) const INDEX_FILE: &str = "buzon-index";
const HEADER_V1: &str = "buzon-index 1";
const HEADER: &str = "buzon-index 2";
/// An index larger than this is not ours (about 10 MB per 100,000 entries).
const MAX_INDEX_BYTES: u64 = 256 << 20;
/// A temporary index file this old was left by a writer that died.
const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);
/// Version 1 entries carry no inode: any inode matches them.
const ANY_INODE: u64 = 0;

/// What identifies one version of a message file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    pub ino: u64,
    pub len: u64,
    pub mtime: i64,
}

/// One message's entry: the file it was measured on and its wire size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub id: FileId,
    pub wire: u64,
}

/// The index as read from disk, keyed by base name (raw bytes).
#[derive(Debug, Default)]
pub(crate) struct SizeIndex {
    entries: HashMap<Vec<u8>, Entry>,
    /// Read from a version 1 file: worth rewriting with inodes.
    old_version: bool,
}

impl SizeIndex {
    /// Loads the index of the Maildir at `root`. Never fails: problems mean an empty cache.
    pub(crate) fn load(root: &Path) -> SizeIndex {
        let path = root.join(INDEX_FILE);
        match read_index(&path) {
            Ok(Some(index)) => index,
            Ok(None) => SizeIndex::default(),
            Err(why) => {
                tracing::warn!(path = %path.display(), %why, "ignoring size index; it will be rebuilt");
                SizeIndex::default()
            }
        }
    }

    /// The cached wire size of the file with this base name, if the entry describes the
    /// file as it is (`id`, from a `stat` of it).
    pub(crate) fn lookup(&self, base: &[u8], id: FileId) -> Option<u64> {
        let e = self.entries.get(base)?;
        let same = e.id.len == id.len
            && e.id.mtime == id.mtime
            && (e.id.ino == ANY_INODE || e.id.ino == id.ino);
        same.then_some(e.wire)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_old_version(&self) -> bool {
        self.old_version
    }
}

/// Replaces the index of the Maildir at `root` with `entries` (base name, entry). Logs
/// and ignores failures: the index is only a cache.
pub(crate) fn save<'a>(root: &Path, entries: impl Iterator<Item = (&'a [u8], Entry)>) {
    let path = root.join(INDEX_FILE);
    if let Err(why) = write_index(&path, entries) {
        tracing::warn!(path = %path.display(), %why, "cannot update size index");
    }
    remove_leftovers(root);
}

/// Removes temporary index files that a writer killed before its rename left behind
/// (older than [`LEFTOVER_AGE`], so no writer still at work loses its file).
fn remove_leftovers(root: &Path) {
    let Ok(rd) = fs::read_dir(root) else {
        return;
    };
    let prefix = format!("{INDEX_FILE}.");
    for entry in rd.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !(name.starts_with(&prefix) && name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= LEFTOVER_AGE);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn escape_into(s: &mut String, base: &[u8]) {
    for &b in base {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
}

fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// `Ok(None)`: there is no index yet. `Err(reason)`: present but unusable.
fn read_index(path: &Path) -> Result<Option<SizeIndex>, String> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nofollow_nonblock())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut text = String::new();
    file.take(MAX_INDEX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_INDEX_BYTES {
        return Err("too large".into());
    }
    parse(&text).map(Some)
}

fn parse(text: &str) -> Result<SizeIndex, String> {
    let mut lines = text.split_inclusive('\n');
    let header = lines.next().unwrap_or("");
    let old_version = match header.trim_end_matches('\n') {
        HEADER => false,
        HEADER_V1 => true,
        h if h.starts_with("buzon-index ") => return Err(format!("unknown version ({h})")),
        _ => return Err("missing header".into()),
    };
    let fields = if old_version { 4 } else { 5 };
    let mut entries = HashMap::new();
    for (n, line) in lines.enumerate() {
        let bad = || format!("line {} is malformed", n + 2);
        // A line without its newline is what a writer cut short leaves.
        let line = line.strip_suffix('\n').ok_or_else(bad)?;
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != fields {
            return Err(bad());
        }
        if f[0].is_empty() || !f[0].bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(bad());
        }
        let base = unescape(f[0]).ok_or_else(bad)?;
        let wire: u64 = f[1].parse().map_err(|_| bad())?;
        let len: u64 = f[2].parse().map_err(|_| bad())?;
        let mtime: i64 = f[3].parse().map_err(|_| bad())?;
        let ino: u64 = match f.get(4) {
            Some(i) => i.parse().map_err(|_| bad())?,
            None => ANY_INODE,
        };
        // A wire size is never below the stored length and at most twice it plus CRLF.
        if wire < len || wire > len.saturating_mul(2).saturating_add(2) {
            return Err(bad());
        }
        entries.insert(
            base,
            Entry {
                id: FileId { ino, len, mtime },
                wire,
            },
        );
    }
    Ok(SizeIndex {
        entries,
        old_version,
    })
}

fn write_index<'a>(
    path: &Path,
    entries: impl Iterator<Item = (&'a [u8], Entry)>,
) -> io::Result<()> {
    let mut sorted: Vec<_> = entries.collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut text = String::with_capacity(32 + sorted.len() * 80);
    text.push_str(HEADER);
    text.push('\n');
    for (base, e) in sorted {
        escape_into(&mut text, base);
        let _ = writeln!(
            text,
            "\t{}\t{}\t{}\t{}",
            e.wire, e.id.len, e.id.mtime, e.id.ino
        );
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp: PathBuf = dir.join(format!(
        "{INDEX_FILE}.{}.{}.tmp",
        std::process::id(),
        crate::maildir::next_counter()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn escape(base: &[u8]) -> String {
        let mut s = String::new();
        escape_into(&mut s, base);
        s
    }

    #[test]
    fn escaping_is_one_line_printable_and_reversible() {
        let raw = b"a%b c\t\n\xff";
        assert_eq!(escape(raw), "a%25b%20c%09%0A%FF");
        assert_eq!(unescape(&escape(raw)).unwrap(), raw);
    }

    #[test]
    fn round_trip_version_1_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let e = Entry {
            id: FileId {
                ino: 77,
                len: 10,
                mtime: -5,
            },
            wire: 12,
        };
        save(dir.path(), [(&b"a b"[..], e)].into_iter());
        let idx = SizeIndex::load(dir.path());
        assert_eq!(idx.lookup(b"a b", e.id), Some(12));
        assert!(!idx.is_old_version());
        // Another inode, length or time: the entry does not describe the file.
        for other in [
            FileId { ino: 78, ..e.id },
            FileId { len: 11, ..e.id },
            FileId { mtime: 0, ..e.id },
        ] {
            assert_eq!(idx.lookup(b"a b", other), None);
        }
        // Version 1: no inode, any inode matches, and it is marked for a rewrite.
        let v1 = parse("buzon-index 1\nx%20y\t12\t10\t3\n").unwrap();
        assert!(v1.is_old_version());
        let id = FileId {
            ino: 5,
            len: 10,
            mtime: 3,
        };
        assert_eq!(v1.lookup(b"x y", id), Some(12));
        for bad in [
            "",
            "garbage\n",
            "buzon-index 3\n",
            "buzon-index 2\nx\t1\t1\t1\n",
            "buzon-index 2\nx\t1\t1\t1\t1\textra\n",
            "buzon-index 2\nx y\t1\t1\t1\t1\n",
            "buzon-index 2\nx\tone\t1\t1\t1\n",
            "buzon-index 2\nx\t1\t5\t1\t1\n",
            "buzon-index 2\nx%2\t1\t1\t1\t1\n",
            // Cut short in the middle of a line.
            "buzon-index 2\nx\t1\t1\t1\t1\ny\t2\t1",
            "buzon-index 1\nx\t1\t1\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse("buzon-index 2\n").map(|m| m.len()), Ok(0));
    }
}
