//! A per-process cache of whole-mailbox usage (INBOX and every Maildir++ folder), so a
//! quota check costs a few `stat` calls instead of reading every directory of the
//! mailbox: an SMTP client may send a hundred RCPTs for one user, each checked.
//!
//! An entry is reused only while every directory it was computed from (the mailbox root,
//! whose times move when a folder appears or goes, and `cur/` and `new/` of INBOX and of
//! each folder) is in the same state ([`DirStamp`]: device, inode, size, modification
//! and change times). Directory times come from a coarse clock, so a change in the same
//! tick as the scan could leave them as they were: an entry whose directories had all been
//! quiet for [`DirStamp::settled`]'s interval when it was scanned is trusted for as long
//! as they stay unchanged; any other entry only for [`UNSETTLED_TTL`]. Deliveries
//! ([`crate::Prepared::commit`]) and POP3 expunges ([`crate::Session::expunge`]) of this
//! process drop the entry at once, so the server never trusts a figure it made stale
//! itself; other programs' changes are caught by the stamps (or the TTL).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::listing_cache::DirStamp;
use crate::maildir::{Maildir, Usage};
use crate::StoreError;

/// How long a figure scanned while its directories were still changing is reused.
pub const UNSETTLED_TTL: Duration = Duration::from_secs(1);
/// At most this many mailboxes are remembered (the least recently scanned go first).
const MAX_MAILBOXES: usize = 10_000;

struct Figure {
    /// The directories the figure was computed from, and their state then.
    stamps: Vec<(PathBuf, Option<DirStamp>)>,
    usage: Usage,
    scanned_at: Instant,
    settled: bool,
}

#[derive(Default)]
struct Entry {
    figure: Option<Figure>,
    /// Full scans of this mailbox since the process started (diagnostics and tests).
    scans: u64,
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Entry>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Entry>> {
    cache().lock().unwrap_or_else(|p| p.into_inner())
}

fn stamps_of(dirs: &[PathBuf]) -> Vec<(PathBuf, Option<DirStamp>)> {
    dirs.iter().map(|d| (d.clone(), DirStamp::of(d))).collect()
}

/// `cur/` and `new/` of a Maildir.
fn message_dirs(md: &Maildir) -> [PathBuf; 2] {
    [md.root().join("cur"), md.root().join("new")]
}

/// Usage of the mailbox whose INBOX is `inbox`, from the cache when it is provably (or,
/// within [`UNSETTLED_TTL`], recently) current, else by scanning.
pub(crate) fn mailbox_usage(inbox: &Maildir) -> Result<Usage, StoreError> {
    let root = inbox.root().to_path_buf();
    let cached = lock()
        .get(&root)
        .and_then(|e| e.figure.as_ref())
        .filter(|f| f.settled || f.scanned_at.elapsed() < UNSETTLED_TTL)
        .map(|f| (f.stamps.clone(), f.usage));
    if let Some((stamps, usage)) = cached {
        let dirs: Vec<PathBuf> = stamps.iter().map(|(d, _)| d.clone()).collect();
        if stamps_of(&dirs) == stamps {
            return Ok(usage);
        }
    }
    // Stamps before the scan: a change during it then shows at the next check.
    let mut dirs = vec![root.clone()];
    dirs.extend(message_dirs(inbox));
    let folders: Vec<Maildir> = inbox
        .list_folders()?
        .iter()
        .filter_map(|name| inbox.folder(name).ok())
        .collect();
    for f in &folders {
        dirs.extend(message_dirs(f));
    }
    let stamps = stamps_of(&dirs);
    let settled = stamps
        .iter()
        .all(|(_, s)| s.as_ref().is_some_and(DirStamp::settled));
    let mut usage = inbox.usage()?;
    for f in &folders {
        let u = f.usage()?;
        usage.bytes = usage.bytes.saturating_add(u.bytes);
        usage.messages = usage.messages.saturating_add(u.messages);
    }
    let mut map = lock();
    if map.len() >= MAX_MAILBOXES && !map.contains_key(&root) {
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, e)| e.figure.as_ref().map(|f| f.scanned_at))
            .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    let entry = map.entry(root).or_default();
    entry.scans += 1;
    entry.figure = Some(Figure {
        stamps,
        usage,
        scanned_at: Instant::now(),
        settled,
    });
    Ok(usage)
}

/// Drops the cached figure of the mailbox that the message directory `dir` (a `cur/` or
/// `new/`, of INBOX or of a folder) belongs to: this process just changed it.
pub(crate) fn forget(dir: &Path) {
    let Some(maildir) = dir.parent() else {
        return;
    };
    let mut map = lock();
    for key in [Some(maildir), maildir.parent()].into_iter().flatten() {
        if let Some(e) = map.get_mut(key) {
            e.figure = None;
        }
    }
}

/// How many times this process scanned the mailbox at `inbox_root` in full for its usage.
pub fn usage_scans(inbox_root: &Path) -> u64 {
    lock().get(inbox_root).map_or(0, |e| e.scans)
}
