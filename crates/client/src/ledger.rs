//! The download ledger: per account, which server messages (by UIDL) were stored locally,
//! when they were first seen, and where they went.
//!
//! # Format
//!
//! One text file per account, `<ledger_dir>/<account>.ledger`, append-only, one record
//! per line, each line fsynced before the fetch goes on:
//!
//! ```text
//! buzon-ledger 1
//! <8 hex check> S <uidl> <first-seen unix secs> <kind> <where>     stored
//! <8 hex check> P <uidl> <mbox offset> <entry length> <sha256>     mbox append begun
//! <8 hex check> M <uidl>                                           delivery program started
//! <8 hex check> F <uidl>                                           forgotten (pruned)
//! ```
//!
//! The check is the first 8 hex digits of SHA-256 of the rest of the line, so a line torn
//! by a crash or power loss is recognised. Only the last line can be torn (every earlier
//! one was fsynced before the next was written); it is cut off when the ledger is opened.
//! `<where>` is percent-encoded (spaces, `%` and control bytes), `<kind>` is `full` or
//! `headers` (only the header was stored, per `max_size`). When the log holds more than
//! twice as many lines as live entries it is rewritten to a temporary file, fsynced, and
//! renamed over the old one (then the directory is fsynced): a crash leaves either the
//! old or the new file, both complete.
//!
//! A lock file (`<account>.lock`, `flock`) keeps two fetches of one account apart.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ClientError, Result};

const HEADER: &str = "buzon-ledger 1\n";

/// What is known about one server message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Stored durably in the destination.
    Stored {
        first_seen: u64,
        headers_only: bool,
        location: String,
    },
    /// An mbox append was begun at `offset` with an entry of `len` bytes hashing to `sha`.
    MboxPending { offset: u64, len: u64, sha: String },
    /// The delivery program was started and did not confirm.
    MdaPending,
}

/// An open ledger, locked for this process.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: File,
    _lock: File,
    entries: BTreeMap<String, Entry>,
    lines: usize,
}

fn check(rest: &str) -> String {
    hex::encode(&Sha256::digest(rest.as_bytes())[..4])
}

/// Percent-encodes spaces, `%`, and bytes outside printable ASCII.
pub(crate) fn encode_field(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b <= b' ' || b == b'%' || b >= 0x7f {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    if out.is_empty() {
        out.push('-');
    }
    out
}

pub(crate) fn decode_field(s: &str) -> String {
    if s == "-" {
        return String::new();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `create_dir_all`, then fsync of each folder it created and of the parent of the
/// topmost one, so the new folders survive a power loss.
fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut p = Some(dir);
    while let Some(d) = p {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        p = d.parent();
    }
    fs::create_dir_all(dir)?;
    if let Some(top) = missing.last() {
        for d in &missing {
            fsync_dir(d)?;
        }
        if let Some(parent) = top.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsync_dir(parent)?;
        }
    }
    Ok(())
}

impl Ledger {
    /// Opens (creating if needed) the ledger of `account` in `dir`, takes its lock, reads
    /// it, and cuts off a torn last line. Fails if another fetch of the account runs.
    pub fn open(dir: &Path, account: &str) -> Result<Ledger> {
        let safe = encode_field(account).replace('/', "%2F");
        create_dir_durably(dir)
            .map_err(|e| ClientError::ledger(dir, format!("cannot create the folder: {e}")))?;
        let path = dir.join(format!("{safe}.ledger"));
        let lock_path = dir.join(format!("{safe}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| {
                ClientError::ledger(&lock_path, format!("cannot open the lock file: {e}"))
            })?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(ClientError::ledger(
                &path,
                "another `buzon fetch` is fetching this account right now; wait for it to finish",
            )),
            Err(e) => return Err(ClientError::ledger(&lock_path, format!("cannot lock: {e}"))),
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| ClientError::ledger(&path, format!("cannot open: {e}")))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| ClientError::ledger(&path, format!("cannot read: {e}")))?;
        let mut ledger = Ledger {
            path: path.clone(),
            file,
            _lock: lock,
            entries: BTreeMap::new(),
            lines: 0,
        };
        if text.is_empty() {
            ledger.append_raw(HEADER)?;
            // A new file's name is durable only once its folder is fsynced: otherwise a
            // power loss could take the ledger (and every record in it) away whole.
            fsync_dir(dir).map_err(|e| {
                ClientError::ledger(dir, format!("fsync of the folder failed: {e}"))
            })?;
            return Ok(ledger);
        }
        if !text.starts_with(HEADER.as_bytes()) {
            return Err(ClientError::ledger(
                &path,
                "it is not a Buzón ledger (wrong first line); move it away",
            ));
        }
        let mut good_end = HEADER.len();
        let body = &text[HEADER.len()..];
        let mut pos = 0;
        let mut torn = false;
        while pos < body.len() {
            let Some(nl) = body[pos..].iter().position(|&b| b == b'\n') else {
                torn = true;
                break;
            };
            let line = &body[pos..pos + nl];
            let is_last = pos + nl + 1 == body.len();
            match std::str::from_utf8(line).ok().and_then(|l| ledger.apply_line(l)) {
                Some(()) => {
                    ledger.lines += 1;
                    pos += nl + 1;
                    good_end = HEADER.len() + pos;
                }
                None if is_last => {
                    torn = true;
                    break;
                }
                None => {
                    return Err(ClientError::ledger(
                        &path,
                        format!("line {} is damaged (not a torn last line) — restore it from a backup, or remove it to re-download what it lists", ledger.lines + 2),
                    ))
                }
            }
        }
        if torn {
            ledger.file.set_len(good_end as u64).map_err(|e| {
                ClientError::ledger(&path, format!("cannot cut off a torn last line: {e}"))
            })?;
            ledger
                .file
                .sync_all()
                .map_err(|e| ClientError::ledger(&path, format!("fsync: {e}")))?;
            ledger
                .file
                .seek(SeekFrom::End(0))
                .map_err(|e| ClientError::ledger(&path, format!("seek: {e}")))?;
        }
        Ok(ledger)
    }

    fn apply_line(&mut self, line: &str) -> Option<()> {
        let (sum, rest) = line.split_once(' ')?;
        if sum != check(rest) {
            return None;
        }
        let f: Vec<&str> = rest.split(' ').collect();
        match f.as_slice() {
            ["S", uidl, seen, kind, loc] => {
                let headers_only = match *kind {
                    "full" => false,
                    "headers" => true,
                    _ => return None,
                };
                self.entries.insert(
                    (*uidl).to_string(),
                    Entry::Stored {
                        first_seen: seen.parse().ok()?,
                        headers_only,
                        location: decode_field(loc),
                    },
                );
            }
            ["P", uidl, off, len, sha] => {
                self.entries.insert(
                    (*uidl).to_string(),
                    Entry::MboxPending {
                        offset: off.parse().ok()?,
                        len: len.parse().ok()?,
                        sha: (*sha).to_string(),
                    },
                );
            }
            ["M", uidl] => {
                self.entries.insert((*uidl).to_string(), Entry::MdaPending);
            }
            ["F", uidl] => {
                self.entries.remove(*uidl);
            }
            _ => return None,
        }
        Some(())
    }

    fn append_raw(&mut self, text: &str) -> Result<()> {
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| ClientError::ledger(&self.path, format!("cannot write: {e}")))?;
        self.file
            .sync_data()
            .map_err(|e| ClientError::ledger(&self.path, format!("fsync failed: {e}")))
    }

    fn append(&mut self, rest: String) -> Result<()> {
        let line = format!("{} {rest}\n", check(&rest));
        self.append_raw(&line)?;
        self.lines += 1;
        let apply = self.apply_line(line.trim_end_matches('\n'));
        debug_assert!(apply.is_some());
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a message waits while it is stored (mbox and delivery programs): next to
    /// the ledger, private to the account's run (the ledger's lock keeps others out).
    pub fn spool_path(&self) -> PathBuf {
        self.path.with_extension("spool")
    }

    pub fn get(&self, uidl: &str) -> Option<&Entry> {
        self.entries.get(uidl)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records, durably, that `uidl` is stored at `location`. Keeps an earlier first-seen
    /// time if there is one.
    pub fn record_stored(
        &mut self,
        uidl: &str,
        now: u64,
        headers_only: bool,
        location: &str,
    ) -> Result<()> {
        let first_seen = match self.entries.get(uidl) {
            Some(Entry::Stored { first_seen, .. }) => *first_seen,
            _ => now,
        };
        let kind = if headers_only { "headers" } else { "full" };
        self.append(format!(
            "S {uidl} {first_seen} {kind} {}",
            encode_field(location)
        ))
    }

    /// Records, durably, that an mbox append for `uidl` is about to begin.
    pub fn record_mbox_pending(
        &mut self,
        uidl: &str,
        offset: u64,
        len: u64,
        sha: &str,
    ) -> Result<()> {
        self.append(format!("P {uidl} {offset} {len} {sha}"))
    }

    /// Records, durably, that the delivery program is about to be started for `uidl`.
    pub fn record_mda_pending(&mut self, uidl: &str) -> Result<()> {
        self.append(format!("M {uidl}"))
    }

    /// Drops `uidl` (a pending record whose delivery did not happen).
    pub fn forget(&mut self, uidl: &str) -> Result<()> {
        if self.entries.contains_key(uidl) {
            self.append(format!("F {uidl}"))?;
        }
        Ok(())
    }

    /// Forgets stored entries whose UIDL is no longer on the server (RFC 1939 §7: a
    /// unique-id is never reused, so they cannot come back) and compacts when worthwhile.
    pub fn prune(&mut self, on_server: &std::collections::HashSet<&str>) -> Result<()> {
        let gone: Vec<String> = self
            .entries
            .iter()
            .filter(|(k, v)| matches!(v, Entry::Stored { .. }) && !on_server.contains(k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            self.entries.remove(k);
        }
        if !gone.is_empty() || self.lines > 2 * self.entries.len() + 64 {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the ledger with only live entries, atomically (tmp, fsync, rename, fsync dir).
    pub fn compact(&mut self) -> Result<()> {
        let tmp = self.path.with_extension("ledger.tmp");
        let mut text = String::from(HEADER);
        let mut lines = 0;
        for (uidl, e) in &self.entries {
            let rest = match e {
                Entry::Stored {
                    first_seen,
                    headers_only,
                    location,
                } => {
                    format!(
                        "S {uidl} {first_seen} {} {}",
                        if *headers_only { "headers" } else { "full" },
                        encode_field(location)
                    )
                }
                Entry::MboxPending { offset, len, sha } => format!("P {uidl} {offset} {len} {sha}"),
                Entry::MdaPending => format!("M {uidl}"),
            };
            text.push_str(&format!("{} {rest}\n", check(&rest)));
            lines += 1;
        }
        let write = || -> std::io::Result<File> {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .read(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                File::open(dir)?.sync_all()?;
            }
            let mut f2 = OpenOptions::new()
                .append(true)
                .read(true)
                .open(&self.path)?;
            f2.seek(SeekFrom::End(0))?;
            drop(f);
            Ok(f2)
        };
        self.file =
            write().map_err(|e| ClientError::ledger(&self.path, format!("cannot compact: {e}")))?;
        self.lines = lines;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut l =
                Ledger::open(dir.path(), "me@example.com").unwrap_or_else(|e| panic!("{e}"));
            l.record_stored("u1", 100, false, "maildir:new/a b")
                .unwrap_or_else(|e| panic!("{e}"));
            l.record_mbox_pending("u2", 10, 20, "ab")
                .unwrap_or_else(|e| panic!("{e}"));
            l.record_mda_pending("u3").unwrap_or_else(|e| panic!("{e}"));
            // A second open of the same account is refused while this one holds the lock.
            assert!(Ledger::open(dir.path(), "me@example.com").is_err());
        }
        let path = dir.path().join("me@example.com.ledger");
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"deadbeef S u9 1 full x")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let mut l = Ledger::open(dir.path(), "me@example.com").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            l.get("u1"),
            Some(&Entry::Stored {
                first_seen: 100,
                headers_only: false,
                location: "maildir:new/a b".into()
            })
        );
        assert_eq!(
            l.get("u2"),
            Some(&Entry::MboxPending {
                offset: 10,
                len: 20,
                sha: "ab".into()
            })
        );
        assert_eq!(l.get("u3"), Some(&Entry::MdaPending));
        assert_eq!(l.get("u9"), None);
        l.record_stored("u1", 500, false, "x")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            l.get("u1"),
            Some(Entry::Stored {
                first_seen: 100,
                ..
            })
        ));
        l.forget("u3").unwrap_or_else(|e| panic!("{e}"));
        let keep: std::collections::HashSet<&str> = ["u1"].into_iter().collect();
        l.prune(&keep).unwrap_or_else(|e| panic!("{e}"));
        l.compact().unwrap_or_else(|e| panic!("{e}"));
        drop(l);
        let l = Ledger::open(dir.path(), "me@example.com").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.len(), 2, "{:?}", l.entries().collect::<Vec<_>>());
        let text = fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn a_damaged_middle_line_is_an_error_not_silently_dropped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut l = Ledger::open(dir.path(), "a").unwrap_or_else(|e| panic!("{e}"));
            l.record_stored("u1", 1, false, "x")
                .unwrap_or_else(|e| panic!("{e}"));
            l.record_stored("u2", 1, false, "y")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let path = dir.path().join("a.ledger");
        let text = fs::read_to_string(&path)
            .unwrap_or_default()
            .replacen("u1", "uX", 1);
        fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let err = Ledger::open(dir.path(), "a")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("line 2 is damaged"), "{err}");
    }

    #[test]
    fn fields_round_trip() {
        for s in ["", "a b", "100%", "ü/x\ty"] {
            assert_eq!(decode_field(&encode_field(s)), s);
            assert!(!encode_field(s).contains(' '));
        }
    }
}
