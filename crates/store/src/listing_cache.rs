//! A per-process memory of large mailboxes' listings, so logging in again to a mailbox of
//! 100,000 messages costs a `stat` of `cur/` — or, when it changed, one directory listing
//! and the difference — not a scan that sizes 100,000 messages and makes their UIDLs.
//!
//! What is kept per Maildir ([`Known`]): the last listing (sizes, UIDLs, paths), each
//! message's inode (and, for names without `,W=`, the length and time it was measured
//! at), the state of `cur/` before it was read, and whether `cur/` was quiet then.
//!
//! - **Unchanged**: a listing is reused without reading `cur/` only while `cur/` is
//!   provably unchanged — same device, inode, size, modification and change times — and
//!   was [settled](DirStamp::settled) when it was read. Directory times come from a coarse
//!   clock, so only a directory quiet for [`SETTLED`] before the read guarantees that any
//!   later rename or unlink moved its times on. `new/` is emptied into `cur/` first, so
//!   new mail always changes `cur/`.
//! - **Changed** (new mail, expunges, other programs' renames, or a directory that was
//!   not quiet): `cur/` is listed again, and every name still there with the **same
//!   inode** keeps its size and UIDL; only the others are sized (from the name, the
//!   on-disk index, or by reading them). When nothing was renamed and the new messages
//!   all sort after the old ones — the usual case: mail arrives, the client deletes some
//!   — the new listing is the old one minus what is gone plus what came, with the very
//!   UIDLs a full scan would give; otherwise the full ordering and UIDL rules run over
//!   the known sizes. The difference is found by walking the new listing alongside the
//!   previous one in directory order (a directory hands back its unchanged entries in the
//!   same order), comparing name and inode; only entries out of step are looked up by
//!   name.
//!
//! Maildir message files are never rewritten in place (writers create a new file and
//! rename it), which is what lets an inode stand for its content here, as Dovecot's
//! index does; a file replaced under the same name has a new inode and is measured again.
//! Small mailboxes are not kept: listing them is cheap.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::MessageMeta;
use crate::index::FileId;
use crate::name::{base_of, is_primary_uidl, looks_like_digest_uidl, uidl_of_base};
use crate::scan::{self, Found};
use crate::session::{Listing, Place};

/// Mailboxes with fewer messages are scanned every time (a handful in unit tests, so
/// they can exercise the cache on small Maildirs).
pub(crate) const MIN_MESSAGES: usize = if cfg!(test) { 8 } else { 1024 };
/// At most this many mailboxes are kept (the least recently stored go first)…
const MAX_MAILBOXES: usize = 64;
/// …and at most this many messages over all of them (about 370 bytes each, a fifth of it
/// the directory order).
const MAX_MESSAGES: usize = 2_000_000;
/// How long `cur/` must have been quiet before a listing of it may be reused unread.
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
    /// [`DirStamp::of`], before reading the directory.
    pub(crate) fn settled(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        // The change time moves on every rename, unlink or time change in the directory
        // and, unlike the modification time, cannot be set back.
        now.saturating_sub(self.ctime.0) > SETTLED.as_secs() as i64
    }
}

/// What this process knows of one Maildir's `cur/` (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub stamp: DirStamp,
    /// `cur/` was quiet when the stamp was taken: the listing holds while the stamp does.
    pub settled: bool,
    pub listing: Listing,
    /// Index for index with the listing: the file each entry was listed from.
    pub ids: Arc<[FileId]>,
    /// Position in the listing by base name.
    pub by_base: HashMap<Box<[u8]>, u32>,
    /// Every UIDL is its message's primary UIDL (unique base names, nothing adopted or
    /// recorded): the condition for updating the listing by difference.
    pub plain: bool,
    /// The last listing of `cur/` in directory order, when the last session found the
    /// listing by difference: what lets the next difference be checked by walking both in
    /// step instead of looking every name up.
    order: Option<Arc<DirOrder>>,
    stored: u64,
}

/// `cur/` as one `readdir` returned it: each name (bytes in one buffer), its inode and
/// its position in the listing. A directory returns its unchanged entries in the same
/// order every time (ext4 and XFS by name hash, tmpfs by age), so the next listing is
/// mostly this one with entries left out and put in.
#[derive(Debug, Default)]
struct DirOrder {
    names: Vec<u8>,
    ends: Vec<u32>,
    inos: Vec<u64>,
    at: Vec<u32>,
    /// Position in this order by position in the listing ([`ABSENT`] when not listed).
    pos: Vec<u32>,
}

const ABSENT: u32 = u32::MAX;

impl DirOrder {
    fn len(&self) -> usize {
        self.at.len()
    }

    fn name(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.names[start..self.ends[k] as usize]
    }

    /// The listing position of entry `k` if `name` with inode `ino` is what it holds.
    fn matches(&self, k: usize, name: &[u8], ino: u64) -> Option<usize> {
        (k < self.len() && self.inos[k] == ino && self.name(k) == name).then(|| self.at[k] as usize)
    }

    /// `found` in directory order, each with its position in a listing of `listed`
    /// messages (`None`: not listed).
    fn of(found: &[Found], slots: impl Iterator<Item = Option<usize>>, listed: usize) -> DirOrder {
        let mut o = DirOrder {
            names: Vec::with_capacity(found.iter().map(|f| f.name.len()).sum()),
            ends: Vec::with_capacity(found.len()),
            inos: Vec::with_capacity(found.len()),
            at: Vec::with_capacity(found.len()),
            pos: vec![ABSENT; listed],
        };
        for (f, slot) in found.iter().zip(slots) {
            let Some(i) = slot else { continue };
            o.pos[i] = o.at.len() as u32;
            o.names.extend_from_slice(f.name.as_bytes());
            o.ends.push(o.names.len() as u32);
            o.inos.push(f.ino);
            o.at.push(i as u32);
        }
        o
    }
}

impl Known {
    /// `adopted`: some UIDLs came from a record or another server (`adopt`).
    pub(crate) fn new(
        stamp: DirStamp,
        settled: bool,
        listing: Listing,
        ids: Arc<[FileId]>,
        adopted: bool,
    ) -> Known {
        let mut by_base = HashMap::with_capacity(listing.places.len());
        let mut plain = !adopted;
        for (i, place) in listing.places.iter().enumerate() {
            let name = file_name_bytes(&place.path);
            let base = base_of(name);
            if by_base.insert(base.into(), i as u32).is_some() {
                plain = false;
            }
            if plain && !is_primary_uidl(&listing.metas[i].uidl, base) {
                plain = false;
            }
        }
        Known {
            stamp,
            settled,
            listing,
            ids,
            by_base,
            plain,
            order: None,
            stored: 0,
        }
    }

    /// The size and file of the message listed under `base` if it is still the file with
    /// inode `ino`.
    pub(crate) fn size_of(&self, base: &[u8], ino: u64) -> Option<(u64, FileId)> {
        let &i = self.by_base.get(base)?;
        let id = *self.ids.get(i as usize)?;
        (id.ino == ino).then(|| (self.listing.metas[i as usize].size, id))
    }

    pub(crate) fn messages(&self) -> usize {
        self.listing.metas.len()
    }

    /// The listing of `cur/` now that it holds `found` (listed after `stamp` was taken),
    /// worked out from this one by difference (module documentation), or gives itself back when
    /// the full ordering and UIDL rules must run instead. `root` is the Maildir.
    pub(crate) fn advance(
        mut self,
        root: &Path,
        found: &[Found],
        stamp: DirStamp,
        settled: bool,
    ) -> Result<Known, Box<Known>> {
        if !self.plain {
            return Err(Box::new(self));
        }
        let old = self.messages();
        let order = self.order.take();
        let mut kept = vec![false; old];
        // Per entry of `found`: its listing position (`None`: new).
        let mut slot: Vec<Option<usize>> = Vec::with_capacity(found.len());
        let mut fresh = Vec::new();
        let mut fresh_bases = HashSet::new();
        let mut missed = order.is_none();
        // Where `found` is expected to go on in the last order.
        let mut next = 0;
        for f in found {
            let name = f.name.as_bytes();
            let i = match order.as_ref().and_then(|o| o.matches(next, name, f.ino)) {
                Some(i) => {
                    next += 1;
                    i
                }
                None => {
                    missed = true;
                    let base = base_of(name);
                    let Some(&i) = self.by_base.get(base) else {
                        // New mail: its base name once, and a UIDL of its own.
                        if !fresh_bases.insert(base.to_vec())
                            || looks_like_digest_uidl(&uidl_of_base(base))
                        {
                            return Err(Box::new(self.with_order(order)));
                        }
                        fresh.push(Found {
                            dir: f.dir.clone(),
                            name: f.name.clone(),
                            ino: f.ino,
                        });
                        slot.push(None);
                        continue;
                    };
                    let i = i as usize;
                    // Replaced (another inode) or renamed (flags): the full rules decide.
                    // Listed paths are all `cur/` + name.
                    if self.ids[i].ino != f.ino || self.listing.places[i].path != f.path() {
                        return Err(Box::new(self.with_order(order)));
                    }
                    // Back in step after it.
                    if let Some(p) = order.as_ref().map(|o| o.pos[i]).filter(|&p| p != ABSENT) {
                        next = p as usize + 1;
                    }
                    i
                }
            };
            // Listed twice: the full rules decide.
            if kept[i] {
                return Err(Box::new(self.with_order(order)));
            }
            kept[i] = true;
            slot.push(Some(i));
        }
        let (fresh, read_any) = scan::size_all(root, fresh, None, false);
        let fresh = scan::sorted(fresh);
        let last_kept = (0..old).rev().find(|&i| kept[i]);
        if let (Some(last), Some(first)) = (last_kept, fresh.first()) {
            let last_name = file_name_bytes(&self.listing.places[last].path);
            if scan::sort_key(first.name.as_bytes()) <= scan::sort_key(last_name) {
                return Err(Box::new(self.with_order(order)));
            }
        }
        let removed = kept.iter().any(|k| !k);
        if fresh.is_empty() && !removed {
            self.stamp = stamp;
            self.settled = settled;
            self.order = match order {
                Some(o) if !missed => Some(o),
                _ => Some(Arc::new(DirOrder::of(found, slot.iter().copied(), old))),
            };
            return Ok(self);
        }
        // Listing positions after the difference: the kept ones closed up, then the new.
        let mut renumber = vec![ABSENT; old];
        let mut n = 0u32;
        for (i, k) in kept.iter().enumerate() {
            if *k {
                renumber[i] = n;
                n += 1;
            }
        }
        let kept_count = n as usize;
        let fresh_at: HashMap<&[u8], usize> = fresh
            .iter()
            .enumerate()
            .map(|(k, m)| (m.name.as_bytes(), kept_count + k))
            .collect();
        let listed = kept_count + fresh.len();
        let new_order = DirOrder::of(
            found,
            found.iter().zip(&slot).map(|(f, &i)| match i {
                Some(i) => Some(renumber[i] as usize),
                None => fresh_at.get(f.name.as_bytes()).copied(),
            }),
            listed,
        );
        // The old entries move over; they are copied only when a session still shares them.
        let mut metas = kept_of(&mut self.listing.metas, &kept, listed, |m| MessageMeta {
            uidl: std::mem::take(&mut m.uidl),
            size: m.size,
        });
        let mut places = kept_of(&mut self.listing.places, &kept, listed, |p| Place {
            path: std::mem::take(&mut p.path),
            folder: p.folder.take(),
        });
        let mut ids = kept_of(&mut self.ids, &kept, listed, |id| *id);
        for m in &fresh {
            metas.push(MessageMeta {
                uidl: uidl_of_base(base_of(m.name.as_bytes())),
                size: m.size,
            });
            ids.push(m.id);
        }
        let mut by_base = std::mem::take(&mut self.by_base);
        if removed {
            by_base.retain(|_, i| {
                let r = renumber[*i as usize];
                *i = r;
                r != ABSENT
            });
        }
        for (k, m) in fresh.iter().enumerate() {
            by_base.insert(base_of(m.name.as_bytes()).into(), (kept_count + k) as u32);
        }
        places.extend(fresh.into_iter().map(|m| Place {
            path: m.path,
            folder: None,
        }));
        let next = Known {
            stamp,
            settled,
            listing: Listing {
                metas: metas.into(),
                places: places.into(),
            },
            ids: ids.into(),
            by_base,
            plain: true,
            order: Some(Arc::new(new_order)),
            stored: 0,
        };
        if read_any {
            scan::save_index(
                root,
                next.listing
                    .places
                    .iter()
                    .zip(next.ids.iter())
                    .zip(next.listing.metas.iter())
                    .map(|((p, id), m)| (file_name_bytes(&p.path), *id, m.size)),
            );
        }
        Ok(next)
    }

    /// Gives back the order taken out of `self` (the caller keeps `self` on an error).
    fn with_order(mut self, order: Option<Arc<DirOrder>>) -> Known {
        self.order = order;
        self
    }
}

/// The entries of `all` whose `kept` flag is set, in order, with room for `capacity`:
/// moved out with `take` when nothing else holds `all`, cloned otherwise.
fn kept_of<T: Clone>(
    all: &mut Arc<[T]>,
    kept: &[bool],
    capacity: usize,
    take: impl Fn(&mut T) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(capacity);
    match Arc::get_mut(all) {
        Some(only) => out.extend(
            only.iter_mut()
                .zip(kept)
                .filter(|(_, k)| **k)
                .map(|(t, _)| take(t)),
        ),
        None => out.extend(
            all.iter()
                .zip(kept)
                .filter(|(_, k)| **k)
                .map(|(t, _)| t.clone()),
        ),
    }
    out
}

pub(crate) fn file_name_bytes(path: &Path) -> &[u8] {
    path.file_name().map_or(&[][..], |n| n.as_bytes())
}

struct Cache {
    map: HashMap<PathBuf, Arc<Known>>,
    seq: u64,
}

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            Mutex::new(Cache {
                map: HashMap::new(),
                seq: 0,
            })
        })
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// What is known of the Maildir at `root`, taken out of the cache: the caller holds the
/// mailbox lock and puts back what it learns with [`put`].
pub(crate) fn take(root: &Path) -> Option<Known> {
    let known = cache().map.remove(root)?;
    Some(Arc::try_unwrap(known).unwrap_or_else(|shared| (*shared).clone()))
}

/// What is known of `root`, left in the cache (for readers without the mailbox lock).
pub(crate) fn peek(root: &Path) -> Option<Arc<Known>> {
    cache().map.get(root).cloned()
}

/// Keeps `known` for the next session of `root` (mailboxes below [`MIN_MESSAGES`] are
/// dropped instead).
pub(crate) fn put(root: &Path, mut known: Known) {
    let mut c = cache();
    if known.messages() < MIN_MESSAGES {
        c.map.remove(root);
        return;
    }
    c.seq += 1;
    known.stored = c.seq;
    c.map.insert(root.to_path_buf(), Arc::new(known));
    // Bounded: every turn removes one entry.
    while c.map.len() > MAX_MAILBOXES
        || c.map.values().map(|k| k.messages()).sum::<usize>() > MAX_MESSAGES
    {
        let Some(oldest) = c
            .map
            .iter()
            .min_by_key(|(_, k)| k.stored)
            .map(|(p, _)| p.clone())
        else {
            break;
        };
        c.map.remove(&oldest);
    }
}
