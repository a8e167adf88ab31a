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
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
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
    let local = to_local_line_ends(msg);
    store_maildir_from(dir, tag, &mut local.as_slice())
}

/// Streams a message (LF line ends) from `reader` into a Maildir under its tag: `tmp/`,
/// fsync, rename into `new/`, fsync `new/`. Memory stays bounded whatever the size; if
/// `reader` fails, nothing appears in `new/`.
pub fn store_maildir_from(dir: &Path, tag: &str, reader: &mut dyn Read) -> Result<Outcome> {
    let md = buzon_store::Maildir::create(dir).map_err(|e| ClientError::delivery(dir, e))?;
    let d = md
        .deliver_tagged(reader, None, tag)
        .map_err(|e| ClientError::delivery(dir, e))?;
    Ok(Outcome::Stored(format!("maildir:new/{}", d.file_name)))
}

/// A private temporary copy of one message, for destinations that need the whole message
/// before they start (an mbox entry's length and hash go to the ledger first; a delivery
/// program must never see a message cut short by a broken connection).
pub struct Spool {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Spool {
    /// Copies `reader` into a new file at `path` (mode 0600, replacing a leftover of an
    /// interrupted run).
    pub fn fill(path: &Path, reader: &mut dyn Read) -> Result<Spool> {
        let _ = std::fs::remove_file(path);
        let mut file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                ClientError::delivery(path, format!("cannot create the spool file: {e}"))
            })?;
        let copied = (|| -> std::io::Result<u64> {
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, &mut file);
            let n = std::io::copy(reader, &mut w)?;
            w.flush()?;
            Ok(n)
        })();
        let len = match copied {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(ClientError::delivery(
                    path,
                    format!("the message could not be received whole: {e}"),
                ));
            }
        };
        Ok(Spool {
            path: path.to_path_buf(),
            file,
            len,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A buffered reader from the start of the message.
    pub fn reader(&mut self) -> Result<std::io::BufReader<&mut File>> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| ClientError::delivery(&self.path, e))?;
        Ok(std::io::BufReader::with_capacity(
            256 * 1024,
            &mut self.file,
        ))
    }

    /// The file itself, from the start (e.g. as a delivery program's stdin).
    pub fn file(&mut self) -> Result<File> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| ClientError::delivery(&self.path, e))?;
        self.file
            .try_clone()
            .map_err(|e| ClientError::delivery(&self.path, e))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
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
    let mut out = Vec::with_capacity(local.len() + 64);
    // Writing into a Vec cannot fail.
    let _ = write_mbox_entry(&mut local.as_slice(), &sender, now, &mut out);
    out
}

/// The envelope sender for the mbox "From " line: the Return-Path of a message (LF line
/// ends) read from `src`, or MAILER-DAEMON. Reads the header only (at most 1 MiB).
pub fn mbox_sender(src: &mut dyn BufRead) -> String {
    let mut head = Vec::new();
    let mut line = Vec::new();
    while head.len() < 1024 * 1024 {
        line.clear();
        match src.take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line == b"\n" {
            break;
        }
        head.extend_from_slice(&line);
    }
    return_path(&head).unwrap_or_else(|| "MAILER-DAEMON".into())
}

/// Streams the mboxrd entry of a message (LF line ends) from `src` to `out`: the "From "
/// line, each line with mboxrd quoting, a final newline and the blank separator line.
/// Returns the octets written. Memory is bounded by the longest line.
pub fn write_mbox_entry(
    src: &mut dyn BufRead,
    sender: &str,
    now: SystemTime,
    out: &mut dyn Write,
) -> std::io::Result<u64> {
    let from = format!("From {sender} {}\n", asctime(now));
    out.write_all(from.as_bytes())?;
    let mut written = from.len() as u64;
    let mut line = Vec::new();
    let mut last = b'\n';
    loop {
        line.clear();
        if src.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        // mboxrd: a line of zero or more '>' followed by "From " gets one more '>'.
        let after = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
        if line[after..].starts_with(b"From ") {
            out.write_all(b">")?;
            written += 1;
        }
        out.write_all(&line)?;
        written += line.len() as u64;
        last = line.last().copied().unwrap_or(b'\n');
    }
    if last != b'\n' {
        out.write_all(b"\n")?;
        written += 1;
    }
    out.write_all(b"\n")?;
    Ok(written + 1)
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
    /// Takes both locks, waiting at most 30 s for each.
    pub fn acquire(path: &Path) -> Result<MboxLock> {
        Self::acquire_within(path, DOTLOCK_WAIT)
    }

    /// Takes both locks, waiting at most `wait` for each; a lock still held then is an
    /// error naming the file and, where the system tells, the program holding it.
    pub fn acquire_within(path: &Path, wait: Duration) -> Result<MboxLock> {
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
        let deadline = Instant::now() + wait;
        let mut took_over_own_stale = false;
        loop {
            match create_dotlock(&dotlock) {
                Ok(()) => {
                    remove_dead_lock_drafts(&dotlock);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let content = std::fs::read_to_string(&dotlock).unwrap_or_default();
                    let mut words = content.split_whitespace();
                    let pid = words.next().and_then(|p| p.parse::<i32>().ok());
                    let ours = words.next() == Some("buzon");
                    let dead = pid.is_some_and(|p| !buzon_process_alive(p));
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
                        let holder = pid
                            .map(|p| format!(" (by {})", process_words(p as u32)))
                            .unwrap_or_default();
                        return Err(ClientError::delivery(path, format!("its lock file {} is held{holder} for more than {} s — wait for that program to finish; if none is running, remove the lock file", dotlock.display(), wait.as_secs())));
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
        // Mail readers hold the fcntl lock while they rewrite the file; wait for them, but
        // not for ever.
        let deadline = Instant::now() + wait;
        loop {
            match rustix::fs::fcntl_lock(
                &file,
                rustix::fs::FlockOperation::NonBlockingLockExclusive,
            ) {
                Ok(()) => break,
                Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => {
                    if Instant::now() > deadline {
                        let _ = std::fs::remove_file(&dotlock);
                        let holder = fcntl_holder(&file)
                            .map(|p| format!(" by {}", process_words(p)))
                            .unwrap_or_default();
                        return Err(ClientError::delivery(
                            path,
                            format!("it is locked (fcntl){holder} for more than {} s — close the mail program that has it open, or wait and run again", wait.as_secs()),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&dotlock);
                    return Err(ClientError::delivery(
                        path,
                        format!("cannot lock (fcntl): {e}"),
                    ));
                }
            }
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

    /// Appends one entry written by `write` (into a buffered writer at the end of the
    /// file) and fsyncs; returns the offset. On failure the file is cut back to where it
    /// was.
    pub fn append_with(
        &mut self,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<u64>,
    ) -> Result<u64> {
        let offset = self.len()?;
        let r = (|| -> std::io::Result<()> {
            self.file.seek(SeekFrom::Start(offset))?;
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, &mut self.file);
            write(&mut w)?;
            w.flush()?;
            drop(w);
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

/// Creates the dotlock with its content already in it (`<pid> buzon`): the line is
/// written and synced into a draft of this attempt's own (`<lock>.<pid>.<n>.buzon`), which
/// is then hard-linked to the lock's name, as liblockfile and Dovecot do. A process killed
/// at any moment thus leaves either no lock or a lock naming it, never an empty one that
/// nobody could tell stale for minutes. Where the file system has no hard links (FAT,
/// some network shares) the lock is created exclusively and written, as before.
/// `AlreadyExists` means another process holds the lock.
fn create_dotlock(dotlock: &Path) -> std::io::Result<()> {
    static ATTEMPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let pid = std::process::id();
    let attempt = ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = dotlock.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{pid}.{attempt}.buzon"));
    let draft = dotlock.with_file_name(name);
    let write_line = |f: &mut File| -> std::io::Result<()> {
        writeln!(f, "{pid} buzon")?;
        f.sync_all()
    };
    // Attempts are numbered within the process, so a file of this name can only be the
    // leftover of a dead process that had the same pid; it is overwritten.
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&draft)?;
    let linked = write_line(&mut f).and_then(|()| std::fs::hard_link(&draft, dotlock));
    let _ = std::fs::remove_file(&draft);
    match linked {
        Err(e)
            if matches!(
                rustix::io::Errno::from_io_error(&e),
                Some(
                    rustix::io::Errno::PERM
                        | rustix::io::Errno::OPNOTSUPP
                        | rustix::io::Errno::MLINK
                )
            ) =>
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dotlock)?;
            write_line(&mut f)
        }
        other => other,
    }
}

/// Removes the drafts that `buzon` processes killed between writing a draft and removing
/// it left next to the lock (see [`create_dotlock`]); the drafts of live processes,
/// this one's included, stay.
/// Looked for once per lock and process, while holding the lock.
fn remove_dead_lock_drafts(dotlock: &Path) {
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
        if swept.iter().any(|p| p == dotlock) {
            return;
        }
        swept.push(dotlock.to_path_buf());
    }
    let (Some(dir), Some(lock_name)) = (dotlock.parent(), dotlock.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{}.", lock_name.to_string_lossy());
    for entry in entries.map_while(|e| e.ok()) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix.as_str()))
            .and_then(|rest| rest.strip_suffix(".buzon"))
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(pid, _attempt)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 != std::process::id() && !buzon_process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `pid` is a live `buzon` process. `/proc/<n>` also exists for any *thread*
/// whose id is `n`, and for a zombie, so neither is taken for the lock's holder: the
/// entry must be a thread-group leader (Tgid equal to `pid`), not a zombie, named buzon.
fn buzon_process_alive(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    field("Tgid:") == pid.to_string()
        && !field("State:").starts_with('Z')
        && field("Name:").starts_with("buzon")
}

/// "process 1234 (mutt)", or "process 1234".
fn process_words(pid: u32) -> String {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(name) if !name.trim().is_empty() => format!("process {pid} ({})", name.trim()),
        _ => format!("process {pid}"),
    }
}

/// The process holding a POSIX (fcntl) lock on `file`, from /proc/locks (Linux).
fn fcntl_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let ino = file.metadata().ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|l| {
        // "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
        let f: Vec<&str> = l.split_whitespace().collect();
        let (kind, pid, dev_ino) = (f.get(1)?, f.get(4)?, f.get(5)?);
        let lock_ino: u64 = dev_ino.rsplit(':').next()?.parse().ok()?;
        (*kind == "POSIX" && lock_ino == ino)
            .then(|| pid.parse().ok())
            .flatten()
    })
}

impl Drop for MboxLock {
    fn drop(&mut self) {
        let _ = rustix::fs::fcntl_lock(&self.file, rustix::fs::FlockOperation::Unlock);
        let _ = std::fs::remove_file(&self.dotlock);
    }
}

/// Runs the delivery program with `input` (the whole message, LF line ends) as its stdin.
/// Exit 0 is delivered, 75 is deferred, anything else (or no exit within `timeout`) is a
/// failure.
pub fn run_mda_from(
    program: &str,
    args: &[String],
    input: File,
    timeout: Duration,
) -> Result<Outcome> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::from(input))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ClientError::Mda {
            program: program.into(),
            reason: format!(
                "cannot start it: {e} — check the mda setting (program and arguments, no shell)"
            ),
        })?;
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
    fn a_dotlock_is_never_seen_without_its_holder() {
        // A reader racing 3,000 lock creations must never find the lock empty: a process
        // killed at that moment would leave a lock nobody could tell stale for minutes.
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("inbox.lock");
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (lock, done) = (lock.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut seen, mut empty) = (0u32, 0u32);
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(text) = std::fs::read_to_string(&lock) {
                        seen += 1;
                        empty += u32::from(text.is_empty());
                    }
                }
                (seen, empty)
            })
        };
        for _ in 0..3000 {
            create_dotlock(&lock).unwrap();
            std::fs::remove_file(&lock).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let (seen, empty) = reader.join().unwrap();
        assert!(seen > 0, "the reader never saw the lock");
        assert_eq!(empty, 0, "seen empty {empty} times out of {seen}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "drafts left behind: {left:?}");
    }

    #[test]
    fn two_threads_of_one_process_take_turns_with_the_lock() {
        // Both write drafts at once: each must write its own, not truncate or remove the
        // other's, so neither fails nor links an empty lock.
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("inbox");
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let mbox = mbox.clone();
                std::thread::spawn(move || {
                    for _ in 0..300 {
                        let lock = MboxLock::acquire_within(&mbox, Duration::from_secs(10))
                            .map_err(|e| e.to_string())?;
                        drop(lock);
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for t in takers {
            t.join().unwrap().unwrap();
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the mbox stays: {left:?}");
    }

    #[test]
    fn a_lock_taken_and_released_leaves_nothing_and_sweeps_dead_drafts() {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("inbox");
        // A draft of a process that is gone (no pid reaches this number) and an unrelated
        // file of a similar name.
        let dead = dir.path().join("inbox.lock.999999999.0.buzon");
        let other = dir.path().join("inbox.lock.12.other");
        for p in [&dead, &other] {
            std::fs::write(p, "x").unwrap();
        }
        let lock = MboxLock::acquire_within(&mbox, Duration::from_secs(1)).unwrap();
        let text = std::fs::read_to_string(dir.path().join("inbox.lock")).unwrap();
        assert_eq!(text, format!("{} buzon\n", std::process::id()));
        assert!(!dead.exists(), "a dead process's draft is removed");
        assert!(other.exists(), "only drafts are removed");
        drop(lock);
        assert!(!dir.path().join("inbox.lock").exists());
    }

    #[test]
    fn an_empty_lock_of_another_program_is_waited_for_then_named() {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("inbox");
        std::fs::write(dir.path().join("inbox.lock"), "").unwrap();
        let err = MboxLock::acquire_within(&mbox, Duration::from_millis(300))
            .err()
            .expect("held");
        let text = err.to_string();
        assert!(
            text.contains("inbox.lock is held for more than 0 s"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn line_ends() {
        assert_eq!(to_local_line_ends(b"a\r\nb\rc\n\r\n"), b"a\nb\rc\n\n");
    }
}
