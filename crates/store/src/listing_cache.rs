//! A per-process cache of large mailboxes' listings, so logging in again to a mailbox of
//! 100,000 messages costs a `stat` of `cur/`, not a directory scan and 100,000 UIDLs.
//!
//! An entry is reused only while `cur/` is provably unchanged: same device, inode, size,
//! modification and change times. Directory times come from a coarse clock, so a listing
//! is only stored when `cur/` was last modified at least [`SETTLED`] before the scan: any
//! later rename or unlink in `cur/` then necessarily moves its times on. Only listings
//! whose every size came from the file name (`,W=`) are stored, because such a size
//! cannot change without a rename. `new/` is emptied into `cur/` before the check, so new
//! mail always changes `cur/`. Small mailboxes are not cached: scanning them is cheap.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::session::Listing;

/// Mailboxes with fewer messages are scanned every time.
pub(crate) const MIN_MESSAGES: usize = 1024;
/// At most this many mailboxes are cached (the oldest entry goes first).
const MAX_MAILBOXES: usize = 64;
/// How long `cur/` must have been quiet before a listing of it may be stored.
const SETTLED: Duration = Duration::from_secs(2);

/// What identifies one state of a `cur/` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl DirStamp {
    pub(crate) fn of(dir: &Path) -> Option<DirStamp> {
        let m = std::fs::metadata(dir).ok()?;
        Some(DirStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// True when nothing has touched the directory for [`SETTLED`]; call it right after
    /// [`DirStamp::of`], before scanning.
    pub(crate) fn settled(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        // The change time moves on every rename, unlink or time change in the directory
        // and, unlike the modification time, cannot be set back.
        now.saturating_sub(self.ctime.0) > SETTLED.as_secs() as i64
    }
}

struct Cached {
    stamp: DirStamp,
    listing: Listing,
    stored: u64,
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Cached>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Cached>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The cached listing of the Maildir at `root` if `cur/` is still in state `stamp`.
pub(crate) fn lookup(root: &Path, stamp: &DirStamp) -> Option<Listing> {
    let map = cache().lock().unwrap_or_else(|p| p.into_inner());
    map.get(root)
        .filter(|c| c.stamp == *stamp)
        .map(|c| c.listing.clone())
}

/// Stores (or drops) the listing of `root` taken while `cur/` was in state `stamp`.
/// `settled` is [`DirStamp::settled`] as it was when the stamp was taken.
pub(crate) fn store(
    root: &Path,
    stamp: DirStamp,
    settled: bool,
    listing: &Listing,
    sizes_from_names: bool,
) {
    let mut map = cache().lock().unwrap_or_else(|p| p.into_inner());
    if listing.metas.len() < MIN_MESSAGES || !sizes_from_names || !settled {
        map.remove(root);
        return;
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let stored = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if map.len() >= MAX_MAILBOXES && !map.contains_key(root) {
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, c)| c.stored)
            .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    map.insert(
        root.to_path_buf(),
        Cached {
            stamp,
            listing: listing.clone(),
            stored,
        },
    );
}
