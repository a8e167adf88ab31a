//! The size cache `<root>/buzon-index` for messages whose names carry no `,W=` size.
//!
//! Computing an RFC 1939 "exact size" means reading the whole message once; this file
//! remembers the answer so later sessions do not read it again. It is only a cache: a
//! missing, unreadable or corrupt index is rebuilt, and an entry is trusted only while the
//! file's length and modification time still match. Format, one record per line after the
//! header line `buzon-index 1`:
//!
//! ```text
//! <base name, %XX-escaped><TAB><wire size><TAB><file length><TAB><mtime seconds>
//! ```
//!
//! Bytes outside 0x21–0x7E and `%` itself are escaped in the base name, so any file name
//! (including non-UTF-8 ones) fits on one line. The file is replaced atomically (write a
//! unique temporary file, fsync, rename) and only when its content would change. This
//! module must never make a session fail: write errors are logged and ignored.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::open::nofollow_nonblock;

pub(crate) const INDEX_FILE: &str = "buzon-index";
const HEADER: &str = "buzon-index 1";
/// An index larger than this is not ours (about 10 MB per 100,000 entries).
const MAX_INDEX_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    base: String,
    len: u64,
    mtime: i64,
}

#[derive(Debug)]
pub(crate) struct SizeIndex {
    path: PathBuf,
    loaded: HashMap<Key, u64>,
    /// Entries confirmed or added by the current scan; becomes the new index.
    seen: HashMap<Key, u64>,
}

impl SizeIndex {
    /// Loads the index of the Maildir at `root`. Never fails: problems mean an empty cache.
    pub(crate) fn load(root: &Path) -> SizeIndex {
        let path = root.join(INDEX_FILE);
        let loaded = match read_index(&path) {
            Ok(Some(map)) => map,
            Ok(None) => HashMap::new(),
            Err(why) => {
                tracing::warn!(path = %path.display(), %why, "ignoring size index; it will be rebuilt");
                HashMap::new()
            }
        };
        SizeIndex {
            path,
            loaded,
            seen: HashMap::new(),
        }
    }

    /// The cached wire size of the file with this base name, length and mtime.
    pub(crate) fn lookup(&mut self, base: &[u8], len: u64, mtime: i64) -> Option<u64> {
        let key = Key {
            base: escape(base),
            len,
            mtime,
        };
        let wire = *self.loaded.get(&key)?;
        self.seen.insert(key, wire);
        Some(wire)
    }

    pub(crate) fn insert(&mut self, base: &[u8], len: u64, mtime: i64, wire: u64) {
        let key = Key {
            base: escape(base),
            len,
            mtime,
        };
        self.seen.insert(key, wire);
    }

    /// Writes the entries seen by this scan if they differ from what was loaded; entries
    /// of files that are gone are thereby dropped.
    pub(crate) fn save_if_changed(self) {
        if self.seen == self.loaded {
            return;
        }
        if let Err(why) = write_index(&self.path, &self.seen) {
            tracing::warn!(path = %self.path.display(), %why, "cannot update size index");
        }
    }
}

fn escape(base: &[u8]) -> String {
    let mut s = String::with_capacity(base.len());
    for &b in base {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// `Ok(None)`: there is no index yet. `Err(reason)`: present but unusable.
fn read_index(path: &Path) -> Result<Option<HashMap<Key, u64>>, String> {
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

fn parse(text: &str) -> Result<HashMap<Key, u64>, String> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err("missing header".into());
    }
    let mut map = HashMap::new();
    for (n, line) in lines.enumerate() {
        let bad = || format!("line {} is malformed", n + 2);
        let mut f = line.split('\t');
        let (Some(base), Some(wire), Some(len), Some(mtime), None) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err(bad());
        };
        if base.is_empty() || !base.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(bad());
        }
        let wire: u64 = wire.parse().map_err(|_| bad())?;
        let len: u64 = len.parse().map_err(|_| bad())?;
        let mtime: i64 = mtime.parse().map_err(|_| bad())?;
        // A wire size is never below the stored length and at most twice it plus CRLF.
        if wire < len || wire > len.saturating_mul(2).saturating_add(2) {
            return Err(bad());
        }
        map.insert(
            Key {
                base: base.to_owned(),
                len,
                mtime,
            },
            wire,
        );
    }
    Ok(map)
}

fn write_index(path: &Path, entries: &HashMap<Key, u64>) -> io::Result<()> {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.base.cmp(&b.0.base).then(a.0.len.cmp(&b.0.len)));
    let mut text = String::with_capacity(32 + sorted.len() * 64);
    text.push_str(HEADER);
    text.push('\n');
    for (k, wire) in sorted {
        let _ = writeln!(text, "{}\t{}\t{}\t{}", k.base, wire, k.len, k.mtime);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
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

    #[test]
    fn escaping_is_one_line_and_printable() {
        assert_eq!(escape(b"a%b c\t\n\xff"), "a%25b%20c%09%0A%FF");
    }

    #[test]
    fn parse_round_trip_and_corruption() {
        let mut m = HashMap::new();
        m.insert(
            Key {
                base: "a%20b".into(),
                len: 10,
                mtime: -5,
            },
            12,
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(INDEX_FILE);
        write_index(&p, &m).unwrap();
        assert_eq!(read_index(&p), Ok(Some(m)));
        for bad in [
            "",
            "garbage\n",
            "buzon-index 1\nx\t1\t1\n",
            "buzon-index 1\nx\t1\t1\t1\textra\n",
            "buzon-index 1\nx y\t1\t1\t1\n",
            "buzon-index 1\nx\tone\t1\t1\n",
            "buzon-index 1\nx\t1\t5\t1\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse("buzon-index 1\n").map(|m| m.len()), Ok(0));
    }
}
