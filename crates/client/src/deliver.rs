//! Local destinations for fetched mail: a Maildir, an mboxrd file, or a delivery program
//! (MDA). Each store is durable before it returns, and each leaves a trace that maps back
//! to (account, UIDL), so an interrupted fetch is recognised on the next run:
//!
//! - **Maildir**: [`buzon_store::Maildir::deliver_tagged`] (tmp → fsync → rename into
//!   `new/` → fsync dir) with the tag `SHA-256(account NUL uidl)` (32 hex digits) in the
//!   file name. A message found under its tag is stored, whatever the ledger says.
//! - **mbox**: the ledger records offset, length and SHA-256 of the entry *before* the
//!   append (under an `fcntl` lock and a `.lock` dotlock); the next run compares the bytes
//!   at that offset. A torn append is cut off if our own stale dotlock shows no other
//!   program wrote since.
//! - **MDA**: nothing to look at afterwards. The ledger records "started" before the
//!   program runs; if the run is interrupted before the program's exit is recorded, the
//!   message is delivered again (at-least-once), and the fetch says so.
//!
//! Messages are stored as received, except that CRLF line ends become LF, the local
//! convention for Unix mail files and delivery programs. No header is added.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::error::{ClientError, Result};

/// Where fetched messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Maildir(PathBuf),
    Mbox(PathBuf),
    /// A delivery program and its arguments, run without a shell; the message on stdin.
    Mda {
        program: String,
        args: Vec<String>,
    },
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Maildir(p) => write!(f, "Maildir {}", p.display()),
            Destination::Mbox(p) => write!(f, "mbox {}", p.display()),
            Destination::Mda { program, .. } => write!(f, "delivery program {program}"),
        }
    }
}

/// The result of handing one message to the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Durably stored; the text says where (for the ledger).
    Stored(String),
    /// The delivery program exited 75 (EX_TEMPFAIL): leave the message for the next run.
    Deferred(String),
}

/// The Maildir tag for a message: first 32 hex digits of SHA-256(account NUL uidl).
pub fn maildir_tag(account: &str, uidl: &str) -> String {
    let mut h = Sha256::new();
    h.update(account.as_bytes());
    h.update([0]);
    h.update(uidl.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// CRLF → LF, everything else unchanged.
pub fn to_local_line_ends(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut i = 0;
    while i < msg.len() {
        if msg[i] == b'\r' && msg.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(msg[i]);
        i += 1;
    }
    out
}

/// Stores a message in a Maildir under its tag.
pub fn store_maildir(dir: &Path, tag: &str, msg: &[u8]) -> Result<Outcome> {
    let md = buzon_store::Maildir::create(dir).map_err(|e| ClientError::delivery(dir, e))?;
    let local = to_local_line_ends(msg);
    let d = md
        .deliver_tagged(&mut local.as_slice(), None, tag)
        .map_err(|e| ClientError::delivery(dir, e))?;
    Ok(Outcome::Stored(format!("maildir:new/{}", d.file_name)))
}

/// The tags present in a Maildir (empty if it does not exist yet).
pub fn maildir_tags(dir: &Path) -> Result<std::collections::HashMap<String, PathBuf>> {
    match buzon_store::Maildir::open(dir) {
        Ok(md) => md.tagged().map_err(|e| ClientError::delivery(dir, e)),
        Err(buzon_store::StoreError::NotFound) => Ok(Default::default()),
        Err(e) => Err(ClientError::delivery(dir, e)),
    }
}

/// One mboxrd entry (the "From " line, the quoted message, a blank line).
pub fn mbox_entry(msg: &[u8], now: SystemTime) -> Vec<u8> {
    let local = to_local_line_ends(msg);
    let sender = return_path(&local).unwrap_or_else(|| "MAILER-DAEMON".into());
    let mut out = format!("From {sender} {}\n", asctime(now)).into_bytes();
    let mut rest: &[u8] = &local;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(rest.len());
        let line = &rest[..end];
        // mboxrd: a line of zero or more '>' followed by "From " gets one more '>'.
        let after = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
        if line[after..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        rest = &rest[end..];
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

fn return_path(msg: &[u8]) -> Option<String> {
    for line in msg.split(|&b| b == b'\n') {
        if line.is_empty() {
            break;
        }
        if line.len() > 12 && line[..12].eq_ignore_ascii_case(b"return-path:") {
            let v = String::from_utf8_lossy(&line[12..]);
            let v = v
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim();
            if !v.is_empty() && !v.contains(char::is_whitespace) {
                return Some(v.to_string());
            }
            return None;
        }
    }
    None
}

fn asctime(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    buzon_store::date::asctime(secs)
}

/// An mbox held locked (fcntl and dotlock) for appending.
pub struct MboxLock {
    file: File,
    path: PathBuf,
    dotlock: PathBuf,
    /// A stale dotlock of a dead `buzon` was found and taken over: nobody else wrote
    /// since it was left behind.
    pub took_over_own_stale: bool,
}

const DOTLOCK_STALE: Duration = Duration::from_secs(300);
const DOTLOCK_WAIT: Duration = Duration::from_secs(30);

impl MboxLock {
    pub fn acquire(path: &Path) -> Result<MboxLock> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                ClientError::delivery(parent, format!("cannot create the folder: {e}"))
            })?;
        }
        let mut name = path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".lock");
        let dotlock = path.with_file_name(name);
        let deadline = Instant::now() + DOTLOCK_WAIT;
        let mut took_over_own_stale = false;
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&dotlock)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{} buzon", std::process::id());
                    let _ = f.sync_all();
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let content = std::fs::read_to_string(&dotlock).unwrap_or_default();
                    let mut words = content.split_whitespace();
                    let pid = words.next().and_then(|p| p.parse::<i32>().ok());
                    let ours = words.next() == Some("buzon");
                    let dead = pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
                    let old = std::fs::metadata(&dotlock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|m| m.elapsed().ok())
                        .is_some_and(|age| age > DOTLOCK_STALE);
                    if (ours && dead) || old {
                        took_over_own_stale = ours && dead;
                        let _ = std::fs::remove_file(&dotlock);
                        continue;
                    }
                    if Instant::now() > deadline {
                        return Err(ClientError::delivery(path, format!("{} is held by another program for more than {} s; if none is running, remove it", dotlock.display(), DOTLOCK_WAIT.as_secs())));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(ClientError::delivery(
                        &dotlock,
                        format!("cannot create the lock file: {e}"),
                    ))
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                let _ = std::fs::remove_file(&dotlock);
                ClientError::delivery(path, format!("cannot open: {e}"))
            })?;
        if let Err(e) = rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::LockExclusive) {
            let _ = std::fs::remove_file(&dotlock);
            return Err(ClientError::delivery(
                path,
                format!("cannot lock (fcntl): {e}"),
            ));
        }
        Ok(MboxLock {
            file,
            path: path.to_path_buf(),
            dotlock,
            took_over_own_stale,
        })
    }

    pub fn len(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| ClientError::delivery(&self.path, e))
    }

    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|l| l == 0)
    }

    /// Appends one entry and fsyncs. On failure the file is cut back to where it was.
    pub fn append(&mut self, entry: &[u8]) -> Result<u64> {
        let offset = self.len()?;
        let r = (|| -> std::io::Result<()> {
            self.file.seek(SeekFrom::Start(offset))?;
            self.file.write_all(entry)?;
            self.file.sync_data()
        })();
        if let Err(e) = r {
            let _ = self.file.set_len(offset);
            let _ = self.file.sync_data();
            return Err(ClientError::delivery(
                &self.path,
                format!("cannot append: {e}"),
            ));
        }
        Ok(offset)
    }

    /// Whether the bytes at `offset..offset+len` hash to `sha` (hex).
    pub fn holds(&mut self, offset: u64, len: u64, sha: &str) -> Result<bool> {
        if self.len()? < offset.saturating_add(len) {
            return Ok(false);
        }
        let mut h = Sha256::new();
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| ClientError::delivery(&self.path, e))?;
        let mut left = len;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
            let n = self
                .file
                .read(&mut buf[..want])
                .map_err(|e| ClientError::delivery(&self.path, e))?;
            if n == 0 {
                return Ok(false);
            }
            h.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(hex::encode(h.finalize()) == sha)
    }

    /// Cuts the file back to `len` bytes (removing a torn entry of our own).
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| {
                ClientError::delivery(&self.path, format!("cannot cut off a torn entry: {e}"))
            })
    }
}

impl Drop for MboxLock {
    fn drop(&mut self) {
        let _ = rustix::fs::fcntl_lock(&self.file, rustix::fs::FlockOperation::Unlock);
        let _ = std::fs::remove_file(&self.dotlock);
    }
}

/// Runs the delivery program with the message on stdin. Exit 0 is delivered, 75 is
/// deferred, anything else (or no exit within `timeout`) is a failure.
pub fn run_mda(program: &str, args: &[String], msg: &[u8], timeout: Duration) -> Result<Outcome> {
    let local = to_local_line_ends(msg);
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ClientError::Mda {
            program: program.into(),
            reason: format!(
                "cannot start it: {e} — check the mda setting (program and arguments, no shell)"
            ),
        })?;
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(&local);
        }
    });
    let mut stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(4096).read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ClientError::Mda {
                    program: program.into(),
                    reason: format!(
                        "it did not finish within {} s and was stopped",
                        timeout.as_secs()
                    ),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(ClientError::Mda {
                    program: program.into(),
                    reason: e.to_string(),
                })
            }
        }
    };
    let _ = writer.join();
    let err = err_reader.join().unwrap_or_default();
    let err = err.trim();
    match status.code() {
        Some(0) => Ok(Outcome::Stored(format!("mda:{program}"))),
        Some(75) => Ok(Outcome::Deferred(format!(
            "{program} asked to try again later (exit 75){}",
            if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            }
        ))),
        Some(c) => Err(ClientError::Mda {
            program: program.into(),
            reason: format!(
                "exit status {c}{}",
                if err.is_empty() {
                    String::new()
                } else {
                    format!(": {err}")
                }
            ),
        }),
        None => Err(ClientError::Mda {
            program: program.into(),
            reason: "killed by a signal".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quoting_and_from_line() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let e = mbox_entry(
            b"Return-Path: <a@b.example>\r\nSubject: x\r\n\r\nFrom here\r\n>From there\r\nplain",
            t,
        );
        assert_eq!(
            String::from_utf8_lossy(&e),
            "From a@b.example Tue Nov 14 22:13:20 2023\nReturn-Path: <a@b.example>\nSubject: x\n\n>From here\n>>From there\nplain\n\n"
        );
        let e = mbox_entry(b"Subject: y\r\n\r\nbody\r\n", t);
        assert!(e.starts_with(b"From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n"));
        assert!(e.ends_with(b"body\n\n"));
    }

    #[test]
    fn tags_are_stable_and_distinct() {
        assert_eq!(maildir_tag("a", "1"), maildir_tag("a", "1"));
        assert_ne!(maildir_tag("a", "1"), maildir_tag("a", "2"));
        assert_ne!(maildir_tag("a1", ""), maildir_tag("a", "1"));
        assert_eq!(maildir_tag("a", "1").len(), 32);
    }

    #[test]
    fn line_ends() {
        assert_eq!(to_local_line_ends(b"a\r\nb\rc\n\r\n"), b"a\nb\rc\n\n");
    }
}
